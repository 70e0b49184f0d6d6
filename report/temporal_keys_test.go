package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/writers"
)

// temporalRun runs a bernoulli model with run.on_error: skip over 12 bags
// keyed by a date or timestamp column day of type typ, the keys first,
// first+step, ...; bag 3's fifth row has a red value of 2, so it fails.
// The input is Parquet, or Arrow IPC when ipcInput (for the types Parquet
// does not hold). It returns the output folder.
func temporalRun(t *testing.T, typ arrow.DataType, first, step int64, ipcInput bool) string {
	t.Helper()
	dir := t.TempDir()
	mem := memory.NewGoAllocator()
	sc := arrow.NewSchema([]arrow.Field{{Name: "day", Type: typ}, {Name: "red", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	for bag := range int64(12) {
		for i := range 20 {
			v := (bag + int64(i)) % 2
			if i == 4 && bag == 3 {
				v = 2
			}
			k := first + bag*step
			switch kb := b.Field(0).(type) {
			case *array.Date32Builder:
				kb.Append(arrow.Date32(k))
			case *array.Date64Builder:
				kb.Append(arrow.Date64(k))
			case *array.TimestampBuilder:
				kb.Append(arrow.Timestamp(k))
			}
			b.Field(1).(*array.Int64Builder).Append(v)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	data := filepath.Join(dir, "data.parquet")
	if ipcInput {
		data = filepath.Join(dir, "data.arrow")
		writeArrow(t, data, rec)
	} else if err := writers.WriteFile(data, sc, []arrow.Record{rec}, writers.Options{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cfg, err := pipeline.Load([]byte(fmt.Sprintf(`
input: {paths: [%q], bag: day, value: red}
output: {dir: %q}
model:
  family: bernoulli
  components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]
run: {on_error: skip}
`, data, out)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.Run(t.Context(), cfg, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeArrow writes rec as an Arrow IPC file.
func writeArrow(t *testing.T, path string, rec arrow.Record) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(rec.Schema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTemporalKeysPlotAndReport selects bags of date and timestamp keys by
// their text in plot, and checks that plot titles, its errors and the
// report's lists show keys as dates and timestamps.
func TestTemporalKeysPlotAndReport(t *testing.T) {
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	ts := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "+01:00"}
	cases := []struct {
		name        string
		typ         arrow.DataType
		first, step int64
		ipc         bool
		bag         string   // bag 5, as shown
		alt         []string // other texts of bag 5
		failed      string   // bag 3, as shown
		bad         string   // a text that is no key of the column
	}{
		{"date32", arrow.FixedWidthTypes.Date32, day.Unix() / 86400, 1, false,
			"2026-11-30", nil, "2026-11-28", "20261130"},
		{"date64", arrow.FixedWidthTypes.Date64, day.UnixMilli(), 86400000, true,
			"2026-11-30", nil, "2026-11-28", "2026-11-30T00:00:00"},
		{"timestamp_us_offset", ts, day.Add(13 * time.Hour).UnixMicro(), 3600e6, false,
			"2026-11-25T19:00:00+01:00", []string{"2026-11-25T18:00:00Z", "2026-11-25 19:00:00"}, "2026-11-25T17:00:00+01:00", "2026-11-25T19:00:00.0000001+01:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := temporalRun(t, tc.typ, tc.first, tc.step, tc.ipc)
			for _, text := range append([]string{tc.bag}, tc.alt...) {
				var buf bytes.Buffer
				if err := Plot(t.Context(), dir, text, SVG, &buf, PlotOptions{}); err != nil {
					t.Fatalf("plot --bag %s: %v", text, err)
				}
				if want := "day = " + tc.bag + ":"; !strings.Contains(buf.String(), want) {
					t.Errorf("plot --bag %s: the SVG has no title %q", text, want)
				}
			}
			var buf bytes.Buffer
			if err := Plot(t.Context(), dir, tc.failed, SVG, &buf, PlotOptions{}); err != nil {
				t.Fatalf("plot --bag %s: %v", tc.failed, err)
			}
			if want := "day = " + tc.failed + ": failed:"; !strings.Contains(buf.String(), want) {
				t.Errorf("the failed bag's SVG has no title %q", want)
			}
			err := Plot(t.Context(), dir, tc.bad, SVG, &buf, PlotOptions{})
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("bag %q", tc.bad)) {
				t.Errorf("plot --bag %s: error %v, want one naming the text", tc.bad, err)
			}
			page := writeReport(t, dir, Options{})
			// html/template writes + as &#43;.
			fs := strings.ReplaceAll(section(t, page, "failed"), "&#43;", "+")
			if !strings.Contains(fs, `<td class="key">`+tc.failed+`</td>`) {
				t.Errorf("the failed section does not list bag %s:\n%s", tc.failed, fs)
			}
		})
	}
}

// TestTemporalKeysBaselineKind: a run keyed by dates and a baseline keyed
// by integers do not join, and the report says so.
func TestTemporalKeysBaselineKind(t *testing.T) {
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).Unix() / 86400
	dates := temporalRun(t, arrow.FixedWidthTypes.Date32, day, 1, false)
	err := Write(t.Context(), dates, &bytes.Buffer{}, Options{Baseline: skipRun(t)})
	if err == nil || !strings.Contains(err.Error(), "date32 bag keys") || !strings.Contains(err.Error(), "integer ones") {
		t.Errorf("report of a date-keyed run against an integer-keyed baseline: error %v, want keys of different kinds", err)
	}
}
