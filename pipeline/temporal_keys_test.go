package pipeline

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/schema"

	"github.com/mixbatch/mixbatch/readers"
)

// day is the date32 of 2026-11-25, the day the tests' keys start from.
var day = int64(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).Unix() / 86400)

// temporalColumn builds a column of type t (date32, date64 or a
// timestamp) holding the stored integers keys.
func temporalColumn(name string, t arrow.DataType, keys []int64) col {
	b := array.NewBuilder(memory.NewGoAllocator(), t)
	defer b.Release()
	for _, k := range keys {
		switch b := b.(type) {
		case *array.Date32Builder:
			b.Append(arrow.Date32(k))
		case *array.Date64Builder:
			b.Append(arrow.Date64(k))
		case *array.TimestampBuilder:
			b.Append(arrow.Timestamp(k))
		default:
			panic(fmt.Sprintf("temporalColumn of type %s", t))
		}
	}
	return col{name, b.NewArray()}
}

// int32s converts keys to int32s.
func int32s(keys []int64) []int32 {
	out := make([]int32, len(keys))
	for i, k := range keys {
		out[i] = int32(k)
	}
	return out
}

// temporalCase is a date or timestamp bag column and the integer column
// of the same stored values that it must fit as.
type temporalCase struct {
	name string
	typ  arrow.DataType
	step int64 // between bags' keys, in the type's unit
	// ints is the integer column of the same keys.
	ints func(keys []int64) any
	// logical checks the Parquet logical type of the output key column.
	logical func(schema.LogicalType) bool
}

var temporalCases = []temporalCase{
	{
		name: "date32", typ: arrow.FixedWidthTypes.Date32, step: 1,
		ints:    func(k []int64) any { return int32s(k) },
		logical: func(l schema.LogicalType) bool { _, ok := l.(schema.DateLogicalType); return ok },
	},
	{
		name: "timestamp_us_utc", typ: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, step: 3600e6,
		ints: func(k []int64) any { return k },
		logical: func(l schema.LogicalType) bool {
			ts, ok := l.(*schema.TimestampLogicalType)
			return ok && ts.TimeUnit() == schema.TimeUnitMicros && ts.IsAdjustedToUTC()
		},
	},
	{
		name: "timestamp_ms", typ: &arrow.TimestampType{Unit: arrow.Millisecond}, step: 3600e3,
		ints: func(k []int64) any { return k },
		logical: func(l schema.LogicalType) bool {
			ts, ok := l.(*schema.TimestampLogicalType)
			return ok && ts.TimeUnit() == schema.TimeUnitMillis && !ts.IsAdjustedToUTC()
		},
	},
}

// temporalRows makes seeded Gaussian-mixture bags keyed first, first+step,
// ...: keys and values, in bag order or shuffled.
func temporalRows(seed uint64, bags int, first, step int64, shuffle bool) ([]int64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	var keys []int64
	var vals []float64
	for b := range bags {
		n := 5 + rng.IntN(60)
		w := rng.Float64()
		for range n {
			x := rng.NormFloat64()*1.5 - 2
			if rng.Float64() < w {
				x = rng.NormFloat64() + 3
			}
			keys = append(keys, first+int64(b)*step)
			vals = append(vals, x)
		}
	}
	if shuffle {
		rng.Shuffle(len(keys), func(i, j int) {
			keys[i], keys[j] = keys[j], keys[i]
			vals[i], vals[j] = vals[j], vals[i]
		})
	}
	return keys, vals
}

// temporalModel learns its components, so that each bag's restarts draw
// from its random stream (seed, bag key).
const temporalModel = `{family: gaussian, learn: [weights, mean, sd], components: [{name: low}, {name: high}]}`

// temporalConfig reads in with bag column day and value x, and writes out.
func temporalConfig(t *testing.T, in, out string) *Config {
	return mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: day, value: x}
model: %s
em: {seed: 7, restarts: 3}
output: {dir: %q, posteriors: true}
`, in, temporalModel, out))
}

// TestTemporalKeysFitAsIntegers runs each date and timestamp bag column
// against an integer column of the same stored values, sorted (read window
// by window, from the row groups' statistics), shuffled, and spilled: the
// tables must be equal value for value, and the key column must keep the
// input's type, in Arrow and as the Parquet logical type.
func TestTemporalKeysFitAsIntegers(t *testing.T) {
	modes := []struct {
		name    string
		shuffle bool
		opts    Options
	}{
		{"sorted_windows", false, Options{windowRows: 300}},
		{"shuffled", true, Options{}},
		{"spilled", true, Options{spillPartitions: 3}},
	}
	for ci, tc := range temporalCases {
		for mi, mode := range modes {
			t.Run(tc.name+"/"+mode.name, func(t *testing.T) {
				first := day
				if tc.typ.ID() == arrow.TIMESTAMP {
					first = day * 86400 * 1000 * tc.step / 3600e3 // the day's midnight, in the unit
				}
				keys, vals := temporalRows(uint64(10*ci+mi+1), 40, first, tc.step, mode.shuffle)
				root := t.TempDir()
				intIn, tempIn := filepath.Join(root, "int"), filepath.Join(root, "temporal")
				writeParquet(t, filepath.Join(intIn, "a.parquet"), column("day", tc.ints(keys)), column("x", vals))
				writeParquet(t, filepath.Join(tempIn, "a.parquet"), temporalColumn("day", tc.typ, keys), column("x", vals))
				intOut, tempOut := filepath.Join(root, "int-out"), filepath.Join(root, "temporal-out")
				intSum := mustRun(t, temporalConfig(t, intIn, intOut), mode.opts)
				tempSum := mustRun(t, temporalConfig(t, tempIn, tempOut), mode.opts)
				if intSum.Bags != 40 || tempSum.Bags != 40 || tempSum.BagsOK != intSum.BagsOK {
					t.Fatalf("bags: integer keys %d (%d ok), temporal %d (%d ok), want 40", intSum.Bags, intSum.BagsOK, tempSum.Bags, tempSum.BagsOK)
				}
				if tempSum.Windows != intSum.Windows || tempSum.SpillPartitions != intSum.SpillPartitions {
					t.Errorf("temporal keys read in %d windows, %d spill partitions; integer keys %d, %d",
						tempSum.Windows, tempSum.SpillPartitions, intSum.Windows, intSum.SpillPartitions)
				}
				if mode.name == "sorted_windows" && tempSum.Windows < 2 {
					t.Errorf("the sorted input was read in %d windows, want several (from its statistics)", tempSum.Windows)
				}
				if mode.name == "spilled" && tempSum.Spilled <= 0 {
					t.Errorf("spilled %d bytes, want some", tempSum.Spilled)
				}
				for _, name := range []string{WeightsTable, FitsTable, PosteriorsTable} {
					sameApartFromKey(t, name, readTable(t, intOut, name), readTable(t, tempOut, name), tc.typ)
					checkKeyColumn(t, filepath.Join(intOut, name), filepath.Join(tempOut, name), tc.typ, tc.logical)
				}
			})
		}
	}
}

// sameApartFromKey checks that two tables are equal cell for cell but for
// the key column day, whose type in got is typ.
func sameApartFromKey(t *testing.T, name string, want, got *table, typ arrow.DataType) {
	t.Helper()
	if !arrow.TypeEqual(got.types["day"], typ) {
		t.Errorf("%s: key column of type %s, want %s", name, got.types["day"], typ)
	}
	if want.len() != got.len() || len(want.cols) != len(got.cols) {
		t.Fatalf("%s: %d rows and %d columns, want %d and %d", name, got.len(), len(got.cols), want.len(), len(want.cols))
	}
	for c, wv := range want.cols {
		if c == "day" {
			continue
		}
		gv := got.cols[c]
		for i := range wv {
			if !sameCell(wv[i], gv[i]) {
				t.Errorf("%s: column %s row %d = %v, want %v", name, c, i, gv[i], wv[i])
				break
			}
		}
	}
}

// checkKeyColumn checks, part file by part file, that the key column of
// the temporal run's table (folder got) holds the same integers as the
// integer run's (folder want), as Arrow type typ and with a Parquet
// logical type that logical accepts.
func checkKeyColumn(t *testing.T, want, got string, typ arrow.DataType, logical func(schema.LogicalType) bool) {
	t.Helper()
	wk, _ := keysOf(t, want)
	gk, parts := keysOf(t, got)
	if fmt.Sprint(wk) != fmt.Sprint(gk) {
		t.Errorf("%s: keys %v, want %v", got, gk, wk)
	}
	for _, p := range parts {
		pf, err := file.OpenParquetFile(p, false)
		if err != nil {
			t.Fatal(err)
		}
		c := pf.MetaData().Schema.Column(pf.MetaData().Schema.ColumnIndexByName("day"))
		if !logical(c.LogicalType()) {
			t.Errorf("%s: Parquet logical type of the key column %s, physical %s, not the %s one", p, c.LogicalType(), c.PhysicalType(), typ)
		}
		if err := pf.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// keysOf reads the key column day of every part file of a table folder as
// integers (BagKey), and returns them and the part files.
func keysOf(t *testing.T, dir string) ([]int64, []string) {
	t.Helper()
	files, err := readers.List([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var keys []int64
	var parts []string
	for _, f := range files {
		parts = append(parts, f.Path)
		r, err := readers.Open(t.Context(), f, memory.NewGoAllocator())
		if err != nil {
			t.Fatal(err)
		}
		rr, err := r.Records(t.Context(), []string{"day"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for rr.Next() {
			arr := rr.Record().Column(0)
			for i := range arr.Len() {
				k, ok := BagKey(arr, i)
				if !ok {
					t.Fatalf("%s: row %d: key %s is not an integer key", f.Path, i, arr.ValueStr(i))
				}
				keys = append(keys, k)
			}
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		rr.Release()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return keys, parts
}

// TestTemporalKeysDate64AndSeconds checks the two types Parquet cannot
// hold as they are, from Arrow IPC input: date64 keys are written as a
// date32 (DATE, in days), timestamp[s] keys as timestamp[ms] of the same
// zone, and otherwise fit as the integer keys they store do.
func TestTemporalKeysDate64AndSeconds(t *testing.T) {
	cases := []struct {
		name     string
		in, out  arrow.DataType
		first    int64 // the first key, in the input's unit
		step     int64
		outScale int64 // output key = input key * outScale / outDiv
		outDiv   int64
	}{
		{"date64", arrow.FixedWidthTypes.Date64, nil, day * msPerDay, msPerDay, 1, msPerDay},
		{"timestamp_s_offset", &arrow.TimestampType{Unit: arrow.Second, TimeZone: "+01:00"},
			&arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "+01:00"}, day * 86400, 3600, 1000, 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.out
			if out == nil {
				out = arrow.FixedWidthTypes.Date32
			}
			keys, vals := temporalRows(uint64(i+50), 25, tc.first, tc.step, true)
			root := t.TempDir()
			intIn, tempIn := filepath.Join(root, "int"), filepath.Join(root, "temporal")
			if err := os.MkdirAll(intIn, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(tempIn, 0o755); err != nil {
				t.Fatal(err)
			}
			writeIPC(t, filepath.Join(intIn, "a.arrow"), column("day", keys), column("x", vals))
			writeIPC(t, filepath.Join(tempIn, "a.arrow"), temporalColumn("day", tc.in, keys), column("x", vals))
			intOut, tempOut := filepath.Join(root, "int-out"), filepath.Join(root, "temporal-out")
			mustRun(t, temporalConfig(t, intIn, intOut), Options{})
			mustRun(t, temporalConfig(t, tempIn, tempOut), Options{})
			for _, name := range []string{WeightsTable, FitsTable, PosteriorsTable} {
				want, got := readTable(t, intOut, name), readTable(t, tempOut, name)
				sameApartFromKey(t, name, want, got, out)
				wk, _ := keysOf(t, filepath.Join(intOut, name))
				gk, _ := keysOf(t, filepath.Join(tempOut, name))
				for j := range wk {
					if w := wk[j] * tc.outScale / tc.outDiv; gk[j] != w {
						t.Fatalf("%s: row %d: key %d, want %d", name, j, gk[j], w)
					}
				}
			}
		})
	}
}

// TestTemporalKeyDate64NotWholeDay: a date64 key that is not a whole day
// is a bad row, shown as the instant it is.
func TestTemporalKeyDate64NotWholeDay(t *testing.T) {
	j := newJob(t)
	if err := os.MkdirAll(j.in, 0o755); err != nil {
		t.Fatal(err)
	}
	keys := []int64{day * msPerDay, day*msPerDay + 3600e3}
	writeIPC(t, j.file("a.arrow"), temporalColumn("bag", arrow.FixedWidthTypes.Date64, keys), column("x", []float64{1, 2}))
	err := runBad(t, j.config(t, gaussianModel))
	wantInputError(t, err, "a.arrow", "bag", 1, "2026-11-25T01:00:00Z", "2026-11-25T01:00:00Z", "a date64 bag key must be a whole day")
}

// TestTemporalKeysBadBagShowsDate: errors name a bag by its date or
// timestamp, whether found in a row or in a whole bag.
func TestTemporalKeysBadBagShowsDate(t *testing.T) {
	t.Run("row", func(t *testing.T) {
		j := newJob(t)
		writeParquet(t, j.file("a.parquet"), temporalColumn("bag", arrow.FixedWidthTypes.Date32, []int64{day - 1, day, day}),
			column("x", []float64{1, 2, math.NaN()}))
		err := runBad(t, j.config(t, gaussianModel))
		wantInputError(t, err, "a.parquet", "x", 2, "2026-11-25", "NaN", "a gaussian value must be finite")
		wantText(t, err, "row 2, bag 2026-11-25: value NaN")
	})
	t.Run("bag", func(t *testing.T) {
		j := newJob(t)
		writeParquet(t, j.file("a.parquet"), temporalColumn("bag", arrow.FixedWidthTypes.Date32, []int64{day - 1, day, day}),
			column("x", []bool{true, true, false}), column("n", []int64{2, 0, 0}))
		err := runBad(t, j.config(t, bernoulliModel, withCount))
		wantText(t, err, "bag 2026-11-25", "sum to zero")
	})
	t.Run("timestamp", func(t *testing.T) {
		j := newJob(t)
		ts := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "+01:00"}
		at := day*86400e6 + 13*3600e6 // 2026-11-25T13:00:00Z
		writeParquet(t, j.file("a.parquet"), temporalColumn("bag", ts, []int64{at, at}),
			column("x", []bool{true, false}), column("n", []int64{0, 0}))
		err := runBad(t, j.config(t, bernoulliModel, withCount))
		wantText(t, err, "bag 2026-11-25T14:00:00+01:00", "sum to zero")
	})
	t.Run("skip", func(t *testing.T) {
		j := newJob(t)
		writeParquet(t, j.file("a.parquet"), temporalColumn("bag", arrow.FixedWidthTypes.Date32, []int64{day - 1, day, day}),
			column("x", []float64{1, 2, math.NaN()}))
		mustRun(t, j.config(t, gaussianModel, func(c *Config) { c.Run.OnError = OnErrorSkip }), Options{})
		fits := readTable(t, j.out, FitsTable)
		if got, _ := fits.cols["error"][1].(string); !strings.Contains(got, "bag 2026-11-25") {
			t.Errorf("fits.error of the failed bag = %v, want it to name bag 2026-11-25", got)
		}
	})
}

// TestTemporalKeysTypesDisagree: files whose bag columns are of different
// date, timestamp or integer types are an error naming both files.
func TestTemporalKeysTypesDisagree(t *testing.T) {
	us := &arrow.TimestampType{Unit: arrow.Microsecond}
	cases := []struct {
		name string
		a, b col
		want string
	}{
		{"date32_int64", temporalColumn("bag", arrow.FixedWidthTypes.Date32, []int64{day, day + 1}), column("bag", []int64{day, day + 1}),
			"type int64 does not match type date32"},
		{"int64_date32", column("bag", []int64{day, day + 1}), temporalColumn("bag", arrow.FixedWidthTypes.Date32, []int64{day, day + 1}),
			"type date32 does not match type int64"},
		{"date32_timestamp", temporalColumn("bag", arrow.FixedWidthTypes.Date32, []int64{day}), temporalColumn("bag", us, []int64{day * 86400e6}),
			"type timestamp[us] does not match type date32"},
		{"units", temporalColumn("bag", us, []int64{1e6}), temporalColumn("bag", &arrow.TimestampType{Unit: arrow.Millisecond}, []int64{1e3}),
			"type timestamp[ms] does not match type timestamp[us]"},
		{"zones", temporalColumn("bag", us, []int64{1e6}), temporalColumn("bag", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, []int64{1e6}),
			"type timestamp[us, tz=UTC] does not match type timestamp[us]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := newJob(t)
			n := tc.a.arr.Len()
			writeParquet(t, j.file("a.parquet"), tc.a, column("x", make([]float64, n)))
			writeParquet(t, j.file("b.parquet"), tc.b, column("x", make([]float64, tc.b.arr.Len())))
			err := runBad(t, j.config(t, gaussianModel))
			wantInputError(t, err, "b.parquet", "bag", -1, "", "", tc.want)
			wantText(t, err, "a.parquet", "dates and timestamps are not converted")
		})
	}
}

// TestBagKeyText checks FormatBagKey and ParseBagKey: dates and timestamps
// as a person reads them, read back to the same key.
func TestBagKeyText(t *testing.T) {
	noon := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)
	cases := []struct {
		typ  arrow.DataType
		key  int64
		text string
		alt  []string // other texts of the same key
	}{
		{arrow.PrimitiveTypes.Int32, -7, "-7", nil},
		{arrow.FixedWidthTypes.Date32, day, "2026-11-25", nil},
		{arrow.FixedWidthTypes.Date64, day * msPerDay, "2026-11-25", nil},
		{&arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}, noon.Unix(), "2026-11-25T13:00:00Z",
			[]string{"2026-11-25 13:00:00Z", "2026-11-25T14:00:00+01:00", "2026-11-25 14:00:00+01", "2026-11-25T13:00:00", "2026-11-25T13:00"}},
		{&arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "+01:00"}, noon.UnixMilli(), "2026-11-25T14:00:00+01:00",
			[]string{"2026-11-25T13:00:00Z", "2026-11-25 14:00:00"}},
		{&arrow.TimestampType{Unit: arrow.Microsecond}, noon.UnixMicro() + 250000, "2026-11-25T13:00:00.25",
			[]string{"2026-11-25 13:00:00.250"}},
		{&arrow.TimestampType{Unit: arrow.Nanosecond}, noon.UnixNano() + 1, "2026-11-25T13:00:00.000000001", nil},
		{&arrow.TimestampType{Unit: arrow.Nanosecond}, 0, "1970-01-01T00:00:00", []string{"1970-01-01"}},
	}
	for _, tc := range cases {
		if got := FormatBagKey(tc.typ, tc.key); got != tc.text {
			t.Errorf("FormatBagKey(%s, %d) = %q, want %q", tc.typ, tc.key, got, tc.text)
		}
		for _, text := range append([]string{tc.text}, tc.alt...) {
			if got, err := ParseBagKey(tc.typ, "day", text); err != nil || got != tc.key {
				t.Errorf("ParseBagKey(%s, %q) = %d, %v; want %d", tc.typ, text, got, err, tc.key)
			}
		}
	}
	bad := []struct {
		typ  arrow.DataType
		text string
	}{
		{arrow.FixedWidthTypes.Date32, "20261125"},
		{arrow.FixedWidthTypes.Date32, "2026-11-25T00:00:00"},
		{&arrow.TimestampType{Unit: arrow.Microsecond}, "2026-11-25T13:00:00Z"},               // no zone: no offset
		{&arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}, "2026-11-25T13:00:00.5Z"}, // finer than the unit
		{arrow.PrimitiveTypes.Int64, "2026-11-25"},
	}
	for _, tc := range bad {
		if got, err := ParseBagKey(tc.typ, "day", tc.text); err == nil {
			t.Errorf("ParseBagKey(%s, %q) = %d, want an error", tc.typ, tc.text, got)
		}
	}
}

// dictionaryOf returns c dictionary-encoded: int16 indices into its
// distinct values.
func dictionaryOf(t *testing.T, c col) col {
	t.Helper()
	mem := memory.NewGoAllocator()
	first := map[string]int{}
	var idx []int16
	var pick []int
	for i := range c.arr.Len() {
		k := c.arr.ValueStr(i)
		j, ok := first[k]
		if !ok {
			j = len(pick)
			first[k] = j
			pick = append(pick, i)
		}
		idx = append(idx, int16(j))
	}
	ib := array.NewInt16Builder(mem)
	defer ib.Release()
	ib.AppendValues(idx, nil)
	indices := ib.NewArray()
	defer indices.Release()
	vb := array.NewBuilder(mem, c.arr.DataType())
	defer vb.Release()
	for _, i := range pick {
		if err := vb.AppendValueFromString(c.arr.ValueStr(i)); err != nil {
			t.Fatal(err)
		}
	}
	dict := vb.NewArray()
	defer dict.Release()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: c.arr.DataType()}
	return col{c.name, array.NewDictionaryArray(dt, indices, dict)}
}

// TestTemporalKeysDictionary: a dictionary-encoded date32 bag column (as
// Arrow IPC may hold), in one file, and a plain one in another, fit as
// the integer keys they store, and are written as a plain date32.
func TestTemporalKeysDictionary(t *testing.T) {
	keys, vals := temporalRows(77, 20, day, 1, true)
	half := len(keys) / 2
	root := t.TempDir()
	intIn, tempIn := filepath.Join(root, "int"), filepath.Join(root, "temporal")
	for _, d := range []string{intIn, tempIn} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeIPC(t, filepath.Join(intIn, "a.arrow"), column("day", int32s(keys[:half])), column("x", vals[:half]))
	writeIPC(t, filepath.Join(intIn, "b.arrow"), column("day", int32s(keys[half:])), column("x", vals[half:]))
	dates := dictionaryOf(t, temporalColumn("day", arrow.FixedWidthTypes.Date32, keys[:half]))
	if dates.arr.DataType().ID() != arrow.DICTIONARY {
		t.Fatalf("the bag column is of type %s, want a dictionary", dates.arr.DataType())
	}
	writeIPC(t, filepath.Join(tempIn, "a.arrow"), dates, column("x", vals[:half]))
	writeIPC(t, filepath.Join(tempIn, "b.arrow"), temporalColumn("day", arrow.FixedWidthTypes.Date32, keys[half:]), column("x", vals[half:]))
	intOut, tempOut := filepath.Join(root, "int-out"), filepath.Join(root, "temporal-out")
	mustRun(t, temporalConfig(t, intIn, intOut), Options{})
	mustRun(t, temporalConfig(t, tempIn, tempOut), Options{})
	for _, name := range []string{WeightsTable, FitsTable, PosteriorsTable} {
		sameApartFromKey(t, name, readTable(t, intOut, name), readTable(t, tempOut, name), arrow.FixedWidthTypes.Date32)
		checkKeyColumn(t, filepath.Join(intOut, name), filepath.Join(tempOut, name), arrow.FixedWidthTypes.Date32, temporalCases[0].logical)
	}
}
