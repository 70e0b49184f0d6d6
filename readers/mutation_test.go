package readers

import (
	"context"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
)

// TestIntRangeUint64AboveInt64: the statistics of a required uint64
// column whose values are all above 2^63 − 1 (so that min and max, read
// as int64, would wrap to two negative numbers in order) give no range:
// IntRange documents ok false for a uint64 above the int64 range. A
// second row group of small values keeps its own range (UnitIntRange).
func TestIntRangeUint64AboveInt64(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{{Name: "u", Type: arrow.PrimitiveTypes.Uint64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	b.Field(0).(*array.Uint64Builder).AppendValues([]uint64{1<<63 + 1, 1<<63 + 5, 7, 9}, nil)
	rec := b.NewRecord()
	defer rec.Release()
	path := writeTestParquet(t, rec, parquet.WithMaxRowGroupLength(2))
	r, err := Open(context.Background(), File{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.NumUnits() != 2 {
		t.Fatalf("%d row groups, want 2", r.NumUnits())
	}
	if lo, hi, ok := r.IntRange("u"); ok {
		t.Errorf("IntRange(u) = %d, %d, true; want false (values above 2^63 − 1)", lo, hi)
	}
	if lo, hi, ok := r.UnitIntRange("u", 0); ok {
		t.Errorf("UnitIntRange(u, 0) = %d, %d, true; want false", lo, hi)
	}
	if lo, hi, ok := r.UnitIntRange("u", 1); lo != 7 || hi != 9 || !ok {
		t.Errorf("UnitIntRange(u, 1) = %d, %d, %v; want 7, 9, true (as written)", lo, hi, ok)
	}
}
