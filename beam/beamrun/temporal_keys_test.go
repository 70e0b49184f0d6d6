package beamrun

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/pipeline"
)

// writeDays writes two Parquet files of 30 bags keyed by a column day of
// type typ (the keys first, first+step, ...), rows shuffled over both, with
// a Gaussian value and a count w. Bag 4 has a NaN value (a bad row, in
// b.parquet); bag zeroB, only in b.parquet, and bag zeroA, only in
// a.parquet, have counts that sum to zero (errors of whole bags, without a
// row); zeroB is the earlier of the two by key, and a.parquet the earlier
// by name.
func writeDays(t *testing.T, in string, typ arrow.DataType, first, step int64, zeroA, zeroB int64) {
	t.Helper()
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "day", Type: typ},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64},
		{Name: "w", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	for fi, name := range []string{"a.parquet", "b.parquet"} {
		b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
		for i := range 450 {
			bag := int64((i*13 + fi*5) % 30)
			if bag == zeroA && fi == 1 || bag == zeroB && fi == 0 {
				continue
			}
			k := first + bag*step
			switch kb := b.Field(0).(type) {
			case *array.Date32Builder:
				kb.Append(arrow.Date32(k))
			case *array.TimestampBuilder:
				kb.Append(arrow.Timestamp(k))
			}
			v := 20 + 15*float64((i+int(bag))%3) + float64(i%11)/5
			if fi == 1 && bag == 4 && i > 300 && i < 320 {
				v = math.NaN()
			}
			b.Field(1).(*array.Float64Builder).Append(v)
			w := 1 + float64(i%2)
			if bag == zeroA || bag == zeroB {
				w = 0
			}
			b.Field(2).(*array.Float64Builder).Append(w)
		}
		rec := b.NewRecord()
		b.Release()
		writeRecord(t, filepath.Join(in, name), rec, 100)
		rec.Release()
	}
}

const daysYAML = `
input: {paths: [IN], bag: day, value: value, count: w}
model:
  family: gaussian
  components:
    - {name: idle, mean: 20, sd: 2}
    - {name: working, mean: 35, sd: 3}
    - {name: faulty, mean: 50, sd: 8}
output: {dir: OUT, posteriors: true}
run: RUN
`

// TestTemporalKeys runs date32 and timestamp bag keys on Beam and locally:
// the same tables (the key column of the input's type), the same errors
// naming the input files and the bags by date or timestamp, the same
// failure when the bags' errors stop the run.
func TestTemporalKeys(t *testing.T) {
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name        string
		typ         arrow.DataType
		first, step int64
		zeroA       string // bag 9, as errors show it
		zeroB       string // bag 2
	}{
		{"date32", arrow.FixedWidthTypes.Date32, day.Unix() / 86400, 1, "2026-12-04", "2026-11-27"},
		{"timestamp_us_utc", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, day.UnixMicro(), 3600e6,
			"2026-11-25T09:00:00Z", "2026-11-25T02:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in")
			writeDays(t, in, tc.typ, tc.first, tc.step, 9, 2)
			yaml := strings.NewReplacer("IN", in, "RUN", "{on_error: skip}").Replace(daysYAML)
			local, onBeam, lerr, berr := both(t, yaml, filepath.Join(dir, "skip"), 3)
			if lerr != nil || berr != nil {
				t.Fatalf("local: %v; beam: %v", lerr, berr)
			}
			same(t, local, onBeam, pipeline.WeightsTable, pipeline.FitsTable, pipeline.PosteriorsTable)
			sc, fits := table(t, onBeam, pipeline.FitsTable)
			if got := sc.Field(0).Type; !arrow.TypeEqual(got, tc.typ) {
				t.Errorf("the key column of fits is of type %s, want %s", got, tc.typ)
			}
			for _, want := range []string{
				filepath.Join(in, "a.parquet") + `: column "w", bag ` + tc.zeroA + `: the bag's counts sum to zero`,
				filepath.Join(in, "b.parquet") + `: column "w", bag ` + tc.zeroB + `: the bag's counts sum to zero`,
			} {
				if !strings.Contains(strings.Join(fits, "\n"), want) {
					t.Errorf("fits has no error %q:\n%s", want, strings.Join(fits, "\n"))
				}
			}

			// With on_error: fail, the bags' errors stop both runs
			// alike: the first bad row, then the bags by key.
			yaml = strings.NewReplacer("IN", in, "RUN", "{on_error: fail}").Replace(daysYAML)
			local, onBeam, lerr, berr = both(t, yaml, filepath.Join(dir, "fail"), 3)
			if lerr == nil || berr == nil || lerr.Error() != berr.Error() {
				t.Errorf("errors differ:\nbeam  %v\nlocal %v", berr, lerr)
			}
			noOutput(t, local, onBeam)
		})
	}
}

// TestTemporalKeysBagErrorsByKey: with run.max_failed_bags exceeded, the
// Beam run names the first failed bag by key as the local run does, also
// when its date sorts after the other's as text of the error.
func TestTemporalKeysBagErrorsByKey(t *testing.T) {
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeDays(t, in, arrow.FixedWidthTypes.Date32, day.Unix()/86400, 1, 9, 2)
	yaml := strings.NewReplacer("IN", in, "RUN", "{on_error: skip, max_failed_bags: 1}").Replace(daysYAML)
	for _, shards := range []int{1, 3} {
		local, onBeam, lerr, berr := both(t, yaml, filepath.Join(dir, fmt.Sprint(shards)), shards)
		var lt, bt *pipeline.TooManyFailuresError
		if !errors.As(lerr, &lt) || !errors.As(berr, &bt) {
			t.Fatalf("want TooManyFailuresError; local: %v; beam: %v", lerr, berr)
		}
		if lerr.Error() != berr.Error() {
			t.Errorf("%d shards: errors differ:\nbeam  %v\nlocal %v", shards, berr, lerr)
		}
		if !strings.Contains(lerr.Error(), "2026-11-27") {
			t.Errorf("the local error does not name the first failed bag, 2026-11-27: %v", lerr)
		}
		noOutput(t, local, onBeam)
	}
}

// TestTemporalKeysShardsAndText: date and timestamp keys hash by their
// stored integers, as integer keys of the same values do (so they spread
// over the shards), and a key rendered in an error reads back as the
// output tables hold it.
func TestTemporalKeysShardsAndText(t *testing.T) {
	keys := make([]int64, 30)
	for i := range keys {
		keys[i] = 20417 + int64(i)
	}
	b := array.NewDate32Builder(memory.DefaultAllocator)
	defer b.Release()
	for _, k := range keys {
		b.Append(arrow.Date32(k))
	}
	dates := b.NewArray()
	defer dates.Release()
	want := shardsOf(keys, 3)
	used := map[int]bool{}
	for i := range keys {
		if got := shardOf(dates, i, 3); got != want[i] {
			t.Errorf("date key %d: shard %d, the integer key's %d", keys[i], got, want[i])
		}
		used[want[i]] = true
	}
	if len(used) < 2 {
		t.Errorf("30 keys in %d shards of 3", len(used))
	}

	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		typ  arrow.DataType
		text string
		want int64
	}{
		{arrow.FixedWidthTypes.Date32, "2026-11-25", day.Unix() / 86400},
		{arrow.FixedWidthTypes.Date64, "2026-11-25", day.Unix() / 86400}, // days, as in the output's date32
		{&arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}, "2026-11-25T13:00:00Z", day.Add(13 * time.Hour).UnixMilli()},
		{&arrow.TimestampType{Unit: arrow.Microsecond}, "2026-11-25T13:00:00", day.Add(13 * time.Hour).UnixMicro()},
		{arrow.PrimitiveTypes.Int32, "-7", -7},
	} {
		l := &locator{bagType: tc.typ}
		if got, err := l.parseKey(tc.text); err != nil || got != tc.want {
			t.Errorf("%s: parseKey(%q) = %d, %v; want %d", tc.typ, tc.text, got, err, tc.want)
		}
	}
}
