package writers

import (
	"cmp"
	"math"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/schema"
)

// Row group statistics (min, max, null count) let SQL engines skip row
// groups, which only works for a column whose values are clustered by row
// group: a sorted one, such as the bag key. For the others (doubles,
// labels, counts in no order) every row group spans about the whole range,
// and computing them took a fifth of the time to write the fits table. So
// Parquet keeps statistics for the columns that are sorted in the first row
// group, for integer columns (whose min and max bound the values, which
// readers use: mixbatch indexes bag keys by them), and for the types it
// does not check.
//
// Engines trust statistics: a min or max that is off makes them skip row
// groups that hold matching rows, or answer from the footer (Spark's
// aggregate pushdown counts a column as rows - null count). So no
// statistics are written where arrow v17 gets them wrong (each case
// found by TestStatisticsExact):
//   - Dictionary arrays (the string columns Parquet encodes itself,
//     dictOn, and dictionary-typed fields; Parquet leaves the dictionary
//     of an integer column to arrow, so that it keeps exact statistics,
//     at some cost in time): arrow takes min and max over the dictionary
//     values a row group references, counting the slot of a null as a
//     value (0 for integers) and leaving out empty strings, and counts
//     nulls as the column's definition levels minus its values, which is
//     negative for a column declared not nullable (iterations, -200 in
//     a fits table of 200 bags).
//   - Nullable unsigned integer columns: a null slot sets min to the
//     unsigned maximum (apache/arrow-go#209, fixed in v18.1).
//   - Floating-point columns, unless the file has one row group and the
//     column is sorted and finite in it. arrow leaves NaN out of min and
//     max, as the Parquet spec says, but DuckDB 1.5 (duckdb/duckdb#25521)
//     and others order NaN above every number and skip the row group for
//     x > 1: the decision is made on the first row group, and a later one
//     may bring a NaN. (And a column of +Inf alone gets min 1.8e308.)

// statsChoice is Parquet.start's decision about a column's statistics.
type statsChoice uint8

const (
	statsAsIs statsChoice = iota // as writerProps set them
	statsOff
	statsOn
)

// keepStats decides whether top-level field f, whose first row group is
// chunks, encoded as dict, gets statistics; only says that row group is
// the file's only one.
func keepStats(f arrow.Field, chunks []arrow.Array, dict dictChoice, only bool) statsChoice {
	id := f.Type.ID()
	switch {
	case dict == dictOn || id == arrow.DICTIONARY:
		return statsOff
	case id == arrow.FLOAT32 || id == arrow.FLOAT64:
		if sorted, _ := sortedColumn(chunks); only && sorted && finite(chunks) {
			return statsOn
		}
		return statsOff // writerProps did already
	case arrow.IsInteger(id) || id == arrow.DATE32 || id == arrow.DATE64 || id == arrow.TIMESTAMP:
		// Integer columns, and dates and timestamps (integers in
		// Parquet), keep their statistics sorted or not: their min and
		// max bound the values for readers that index by them
		// (mixbatch's dense bag keys, engines' joins), and cost little.
		return statsAsIs
	}
	if sorted, checked := sortedColumn(chunks); checked && !sorted {
		return statsOff
	}
	return statsAsIs
}

// statsSound reports whether arrow v17 writes sound statistics for leaf
// column c whatever its values: not for floating-point leaves (NaN), nor
// for nullable unsigned integers (see above).
func statsSound(c *schema.Column) bool {
	if isFloat(c) {
		return false
	}
	return c.SortOrder() != schema.SortUNSIGNED || c.MaxDefinitionLevel() == 0 ||
		c.PhysicalType() == parquet.Types.ByteArray || c.PhysicalType() == parquet.Types.FixedLenByteArray
}

// finite reports whether the non-null values of chunks, float32 or
// float64 arrays, are all finite.
func finite(chunks []arrow.Array) bool {
	for _, c := range chunks {
		nulls := c.NullN() > 0
		for i := 0; i < c.Len(); i++ {
			if nulls && c.IsNull(i) {
				continue
			}
			var v float64
			switch a := c.(type) {
			case *array.Float64:
				v = a.Value(i)
			case *array.Float32:
				v = float64(a.Value(i))
			default:
				return false
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
	}
	return true
}

// sortedness tells whether a column's values, in order, never decrease or
// never increase.
type sortedness[T cmp.Ordered] struct {
	prev     T
	have     bool
	up, down bool // still possibly non-decreasing, non-increasing
}

// push adds the next value and reports whether the values may still be sorted.
func (s *sortedness[T]) push(v T) bool {
	if s.have {
		// NaNs compare false both ways, so they end both.
		s.up = s.up && v >= s.prev
		s.down = s.down && v <= s.prev
	}
	s.prev, s.have = v, true
	return s.up || s.down
}

// checkSorted reports whether the non-null values of chunks, which have
// type A and are read by value, are sorted.
func checkSorted[T cmp.Ordered, A arrow.Array](chunks []arrow.Array, value func(A, int) T) bool {
	s := sortedness[T]{up: true, down: true}
	for _, c := range chunks {
		a, nulls := c.(A), c.NullN() > 0
		for i := 0; i < a.Len(); i++ {
			if nulls && a.IsNull(i) {
				continue
			}
			if !s.push(value(a, i)) {
				return false
			}
		}
	}
	return true
}

// checkSortedValues is checkSorted for arrays whose values are a slice.
func checkSortedValues[T cmp.Ordered, A arrow.Array](chunks []arrow.Array, values func(A) []T) bool {
	s := sortedness[T]{up: true, down: true}
	for _, c := range chunks {
		nulls := c.NullN() > 0
		for i, v := range values(c.(A)) {
			if nulls && c.IsNull(i) {
				continue
			}
			if !s.push(v) {
				return false
			}
		}
	}
	return true
}

// bytesView returns b as a string without a copy: only to compare.
func bytesView(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// sortedColumn reports whether the values of chunks (one column, in
// order) are sorted either way; checked is false for the types it does not
// check: booleans, dictionaries, nested and other types.
func sortedColumn(chunks []arrow.Array) (sorted, checked bool) {
	if len(chunks) == 0 {
		return false, false
	}
	switch chunks[0].DataType().ID() {
	case arrow.INT8:
		return checkSortedValues(chunks, (*array.Int8).Int8Values), true
	case arrow.INT16:
		return checkSortedValues(chunks, (*array.Int16).Int16Values), true
	case arrow.INT32:
		return checkSortedValues(chunks, (*array.Int32).Int32Values), true
	case arrow.INT64:
		return checkSortedValues(chunks, (*array.Int64).Int64Values), true
	case arrow.UINT8:
		return checkSortedValues(chunks, (*array.Uint8).Uint8Values), true
	case arrow.UINT16:
		return checkSortedValues(chunks, (*array.Uint16).Uint16Values), true
	case arrow.UINT32:
		return checkSortedValues(chunks, (*array.Uint32).Uint32Values), true
	case arrow.UINT64:
		return checkSortedValues(chunks, (*array.Uint64).Uint64Values), true
	case arrow.FLOAT32:
		return checkSortedValues(chunks, (*array.Float32).Float32Values), true
	case arrow.FLOAT64:
		return checkSortedValues(chunks, (*array.Float64).Float64Values), true
	case arrow.DATE32:
		return checkSortedValues(chunks, (*array.Date32).Date32Values), true
	case arrow.DATE64:
		return checkSortedValues(chunks, (*array.Date64).Date64Values), true
	case arrow.TIMESTAMP:
		return checkSortedValues(chunks, (*array.Timestamp).TimestampValues), true
	case arrow.STRING:
		return checkSorted(chunks, (*array.String).Value), true
	case arrow.LARGE_STRING:
		return checkSorted(chunks, (*array.LargeString).Value), true
	case arrow.BINARY:
		return checkSorted(chunks, func(a *array.Binary, i int) string { return bytesView(a.Value(i)) }), true
	case arrow.LARGE_BINARY:
		return checkSorted(chunks, func(a *array.LargeBinary, i int) string { return bytesView(a.Value(i)) }), true
	}
	return false, false
}
