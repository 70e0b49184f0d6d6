package readers

import (
	"context"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
)

// TestIntRangeDatesAndTimestamps: a date32 column (a Parquet DATE) and
// timestamp columns (Parquet TIMESTAMPs of their unit) have the ranges of
// the integers they hold, by row group; a timestamp[s] column is written
// in milliseconds, and read back as such, so its range is in
// milliseconds too.
func TestIntRangeDatesAndTimestamps(t *testing.T) {
	us := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	sec := &arrow.TimestampType{Unit: arrow.Second}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "d", Type: arrow.FixedWidthTypes.Date32},
		{Name: "us", Type: us},
		{Name: "s", Type: sec},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	vals := []int64{20417, 20418, 20420, 20425}
	for _, v := range vals {
		b.Field(0).(*array.Date32Builder).Append(arrow.Date32(v))
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(v * 3600e6))
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(v * 60))
	}
	rec := b.NewRecord()
	defer rec.Release()
	path := writeTestParquet(t, rec, parquet.WithMaxRowGroupLength(2))
	r, err := Open(context.Background(), File{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Schema().Field(2).Type; !arrow.TypeEqual(got, &arrow.TimestampType{Unit: arrow.Millisecond}) {
		t.Fatalf("a timestamp[s] column reads back as %s, want timestamp[ms]", got)
	}
	for _, c := range []struct {
		col   string
		scale int64
	}{{"d", 1}, {"us", 3600e6}, {"s", 60e3}} {
		if lo, hi, ok := r.IntRange(c.col); !ok || lo != vals[0]*c.scale || hi != vals[3]*c.scale {
			t.Errorf("IntRange(%s) = %d, %d, %v; want %d, %d, true", c.col, lo, hi, ok, vals[0]*c.scale, vals[3]*c.scale)
		}
		if lo, hi, ok := r.UnitIntRange(c.col, 1); !ok || lo != vals[2]*c.scale || hi != vals[3]*c.scale {
			t.Errorf("UnitIntRange(%s, 1) = %d, %d, %v; want %d, %d, true", c.col, lo, hi, ok, vals[2]*c.scale, vals[3]*c.scale)
		}
	}
}
