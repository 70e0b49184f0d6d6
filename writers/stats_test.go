package writers_test

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/metadata"

	"github.com/mixbatch/mixbatch/writers"
)

// statCol is a test column: its values as Go values (nil for a null), by row.
type statCol struct {
	name string
	typ  arrow.DataType
	null bool // declared nullable
	vals []any
}

// statsRows is the number of rows of the test table; statsGroup the rows
// per row group of its multi-group file.
const (
	statsRows  = 96
	statsGroup = 32
)

// statCols are columns on which arrow v17 wrote wrong statistics (before
// writers chose to write none there), next to columns whose statistics
// must stay (sorted keys).
func statCols() []statCol {
	gen := func(name string, typ arrow.DataType, null bool, f func(i int) any) statCol {
		c := statCol{name: name, typ: typ, null: null}
		for i := range statsRows {
			c.vals = append(c.vals, f(i))
		}
		return c
	}
	nth := func(every int, v any, i int) any {
		if i%every == 0 {
			return nil
		}
		return v
	}
	return []statCol{
		// A sorted key from int64's minimum to its maximum: statistics kept.
		gen("key", arrow.PrimitiveTypes.Int64, false, func(i int) any {
			switch i {
			case 0:
				return int64(math.MinInt64)
			case statsRows - 1:
				return int64(math.MaxInt64)
			}
			return int64(i - 50)
		}),
		// Sorted strings starting with the empty one: statistics kept.
		gen("name", arrow.BinaryTypes.String, false, func(i int) any { return fmt.Sprintf("%.*s", i/8, "abcdefghijklmnop") }),
		// Few values in no order, as fits.iterations (dictionary-encoded):
		// arrow counted -32 nulls per row group.
		gen("iters", arrow.PrimitiveTypes.Int64, false, func(i int) any { return int64(5 + i*7%3) }),
		// The same with nulls, as fits.iterations under on_error: skip:
		// arrow took the null slot's 0 for the minimum.
		gen("iters_null", arrow.PrimitiveTypes.Int64, true, func(i int) any { return nth(4, int64(5+i*7%3), i) }),
		gen("neg_null", arrow.PrimitiveTypes.Int32, true, func(i int) any { return nth(4, int32(-5-i*7%3), i) }),
		// Nullable unsigned integers: arrow's min was the unsigned maximum.
		gen("u32", arrow.PrimitiveTypes.Uint32, true, func(i int) any { return nth(5, uint32(100+i), i) }),
		gen("u64", arrow.PrimitiveTypes.Uint64, true, func(i int) any { return nth(5, uint64(1<<63)+uint64(i), i) }),
		// Sorted doubles in the first row group, a NaN in the second:
		// its max left the NaN out, and DuckDB skipped it for x > 1.
		gen("x", arrow.PrimitiveTypes.Float64, false, func(i int) any {
			if i == 40 {
				return math.NaN()
			}
			return float64(i) / 100
		}),
		// +Inf alone: arrow's min was 1.8e308.
		gen("inf", arrow.PrimitiveTypes.Float64, true, func(i int) any { return nth(2, math.Inf(1), i) }),
		// A dictionary-typed string column with "": arrow's min left it out.
		gen("label", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, true,
			func(i int) any { return []string{"", "m", "x"}[i%3] }),
	}
}

// statsRecord builds the record of cols.
func statsRecord(mem memory.Allocator, cols []statCol) arrow.Record {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.typ, Nullable: c.null}
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer b.Release()
	for j, c := range cols {
		fb := b.Field(j)
		for _, v := range c.vals {
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int64Builder:
				fb.Append(v.(int64))
			case *array.Int32Builder:
				fb.Append(v.(int32))
			case *array.Uint32Builder:
				fb.Append(v.(uint32))
			case *array.Uint64Builder:
				fb.Append(v.(uint64))
			case *array.Float64Builder:
				fb.Append(v.(float64))
			case *array.StringBuilder:
				fb.Append(v.(string))
			case *array.BinaryDictionaryBuilder:
				if err := fb.AppendString(v.(string)); err != nil {
					panic(err)
				}
			default:
				panic(fmt.Sprintf("statsRecord: %T", fb))
			}
		}
	}
	return b.NewRecord()
}

// less orders two non-null values of a column as Parquet does for its
// type: signed integers, unsigned integers, floats, strings bytewise.
func less(a, b any) bool {
	switch a := a.(type) {
	case int64:
		return a < b.(int64)
	case int32:
		return a < b.(int32)
	case uint32:
		return a < b.(uint32)
	case uint64:
		return a < b.(uint64)
	case float64:
		return a < b.(float64)
	case string:
		return a < b.(string)
	}
	panic(fmt.Sprintf("less: %T", a))
}

// exact returns the null count, min and max of vals, computed here from
// the values written; hasNaN says whether a NaN is among them.
func exact(vals []any) (nulls int64, lo, hi any, hasNaN bool) {
	for _, v := range vals {
		switch {
		case v == nil:
			nulls++
			continue
		case fmt.Sprint(v) == "NaN":
			hasNaN = true
			continue
		}
		if lo == nil || less(v, lo) {
			lo = v
		}
		if hi == nil || less(hi, v) {
			hi = v
		}
	}
	return nulls, lo, hi, hasNaN
}

// statValues returns the min and max of st as values of the type of
// template (a non-null value of the column).
func statValues(st metadata.TypedStatistics, template any) (lo, hi any) {
	switch s := st.(type) {
	case *metadata.Int64Statistics:
		if _, ok := template.(uint64); ok {
			return uint64(s.Min()), uint64(s.Max())
		}
		return s.Min(), s.Max()
	case *metadata.Int32Statistics:
		if _, ok := template.(uint32); ok {
			return uint32(s.Min()), uint32(s.Max())
		}
		return s.Min(), s.Max()
	case *metadata.Float64Statistics:
		return s.Min(), s.Max()
	case *metadata.ByteArrayStatistics:
		return string(bytes.Clone(s.Min())), string(bytes.Clone(s.Max()))
	}
	panic(fmt.Sprintf("statValues: %T", st))
}

// checkExactStats checks every statistic in the footer of path against
// the values written (cols, row groups of group rows): a null count must
// be the number of nulls, a min and max the exact extremes of the row
// group's values, and none may be written for a row group holding a NaN
// (engines order NaN above every number, and the Parquet spec leaves it
// out of min and max). It returns, by column, whether every row group
// has a min and max.
func checkExactStats(t *testing.T, path string, cols []statCol, group int) map[string]bool {
	t.Helper()
	pf := openParquet(t, path)
	have := map[string]bool{}
	for j, c := range cols {
		have[c.name] = true
		for r := 0; r < pf.NumRowGroups(); r++ {
			cc, err := pf.MetaData().RowGroup(r).ColumnChunk(j)
			if err != nil {
				t.Fatal(err)
			}
			vals := c.vals[r*group : min((r+1)*group, len(c.vals))]
			nulls, lo, hi, hasNaN := exact(vals)
			set, err := cc.StatsSet()
			if err != nil {
				t.Fatal(err)
			}
			if !set {
				have[c.name] = false
				continue
			}
			st, err := cc.Statistics()
			if err != nil {
				t.Fatal(err)
			}
			if st.HasNullCount() && st.NullCount() != nulls {
				t.Errorf("%s, row group %d: null count %d, want %d", c.name, r, st.NullCount(), nulls)
			}
			if !st.HasMinMax() {
				have[c.name] = false
				continue
			}
			gotLo, gotHi := statValues(st, lo)
			switch {
			case hasNaN:
				t.Errorf("%s, row group %d: min %v and max %v written for values with a NaN", c.name, r, gotLo, gotHi)
			case lo == nil:
				t.Errorf("%s, row group %d: min %v and max %v written for nulls alone", c.name, r, gotLo, gotHi)
			case gotLo != lo || gotHi != hi:
				t.Errorf("%s, row group %d: min %v, max %v; want %v, %v", c.name, r, gotLo, gotHi, lo, hi)
			}
		}
	}
	return have
}

// TestStatisticsExact writes columns on which arrow v17's statistics were
// wrong (negative null counts, null slots and the unsigned maximum taken
// for minimums, NaN left out of the max of a later row group, "" left out
// of a dictionary's min) in one row group and in three, and checks every
// statistic written against the values themselves: a wrong min or max
// makes SQL engines skip row groups that hold matching rows. Sorted keys
// keep their statistics.
func TestStatisticsExact(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	cols := statCols()
	rec := statsRecord(mem, cols)
	defer rec.Release()
	for _, group := range []int{statsRows, statsGroup} {
		t.Run(fmt.Sprintf("groups of %d", group), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stats.parquet")
			if err := writers.WriteFile(path, rec.Schema(), []arrow.Record{rec}, writers.Options{RowGroupRows: int64(group)}); err != nil {
				t.Fatal(err)
			}
			have := checkExactStats(t, path, cols, group)
			for _, name := range []string{"key", "name"} {
				if !have[name] {
					t.Errorf("%s: no min and max; a sorted key keeps them", name)
				}
			}
		})
	}
}

// TestFloatStatisticsOneRowGroup checks that a file of one row group keeps
// exact statistics for a sorted, finite floating-point column (-0 and +0
// included), which no later row group can contradict, and writes none
// for one with ±Inf or an unsorted one.
func TestFloatStatisticsOneRowGroup(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	negZero := math.Copysign(0, -1)
	cols := []statCol{
		{name: "sorted", typ: arrow.PrimitiveTypes.Float64, vals: []any{-2.5, negZero, 0.0, 0.0, 1e300}},
		{name: "zeros", typ: arrow.PrimitiveTypes.Float64, null: true, vals: []any{negZero, nil, 0.0, negZero, nil}},
		{name: "inf", typ: arrow.PrimitiveTypes.Float64, vals: []any{1.0, 2.0, 3.0, 4.0, math.Inf(1)}},
		{name: "unsorted", typ: arrow.PrimitiveTypes.Float64, vals: []any{3.0, 1.0, 2.0, 5.0, 4.0}},
	}
	rec := statsRecord(mem, cols)
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "floats.parquet")
	if err := writers.WriteFile(path, rec.Schema(), []arrow.Record{rec}, writers.Options{}); err != nil {
		t.Fatal(err)
	}
	have := checkExactStats(t, path, cols, len(cols[0].vals))
	want := map[string]bool{"sorted": true, "zeros": true, "inf": false, "unsorted": false}
	for name, w := range want {
		if have[name] != w {
			t.Errorf("%s: min and max written %v, want %v", name, have[name], w)
		}
	}
}
