package readers

import (
	"context"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/arrow/go/v17/parquet/schema"
)

// statsFile writes a Parquet file of two row groups, a (int64, nullable)
// 1..5 then -7..-3, u (uint32, required) 10..14 then 3e9..3e9+4, and n
// (uint32, nullable) like u.
func statsFile(t *testing.T) string {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "n", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := int64(0); i < 5; i++ {
		b.Field(0).(*array.Int64Builder).Append(1 + i)
		b.Field(1).(*array.Uint32Builder).Append(uint32(10 + i))
		b.Field(2).(*array.Uint32Builder).Append(uint32(10 + i))
	}
	for i := int64(0); i < 5; i++ {
		b.Field(0).(*array.Int64Builder).Append(-7 + i)
		b.Field(1).(*array.Uint32Builder).Append(uint32(3e9 + i))
		b.Field(2).(*array.Uint32Builder).Append(uint32(3e9 + i))
	}
	rec := b.NewRecord()
	defer rec.Release()
	return writeTestParquet(t, rec, parquet.WithMaxRowGroupLength(5))
}

// TestIntRangeStatistics edits the statistics of row group 1 in the
// footer that Open read, to reach the cases writers rarely make.
func TestIntRangeStatistics(t *testing.T) {
	path := statsFile(t)
	cases := []struct {
		name   string
		column string
		edit   func(r *Reader)
		lo, hi int64
		ok     bool
	}{
		{"as written", "a", nil, -7, 5, true},
		{"as written", "u", nil, 10, 3e9 + 4, true},
		{"no statistics", "a", func(r *Reader) { r.meta.RowGroups[1].Columns[0].MetaData.Statistics = nil }, 0, 0, false},
		{"deprecated only, signed", "a", func(r *Reader) {
			st := r.meta.RowGroups[1].Columns[0].MetaData.Statistics
			st.MinValue, st.MaxValue = nil, nil
		}, -7, 5, true},
		{"deprecated only, unsigned", "u", func(r *Reader) {
			st := r.meta.RowGroups[1].Columns[1].MetaData.Statistics
			st.MinValue, st.MaxValue = nil, nil
			st.Min, st.Max = []byte{0x00, 0x5e, 0xd0, 0xb2}, []byte{0x04, 0x5e, 0xd0, 0xb2} // 3e9, 3e9+4
		}, 0, 0, false},
		{"max only", "a", func(r *Reader) {
			st := r.meta.RowGroups[1].Columns[0].MetaData.Statistics
			st.MinValue, st.Min = nil, nil
		}, 0, 0, false},
		{"short min", "a", func(r *Reader) {
			st := r.meta.RowGroups[1].Columns[0].MetaData.Statistics
			st.MinValue = st.MinValue[:3]
		}, 0, 0, false},
		{"min above max", "a", func(r *Reader) {
			st := r.meta.RowGroups[1].Columns[0].MetaData.Statistics
			st.MinValue, st.MaxValue = st.MaxValue, st.MinValue
		}, 0, 0, false},
		{"only nulls", "a", func(r *Reader) {
			st := r.meta.RowGroups[1].Columns[0].MetaData.Statistics
			st.MinValue, st.MaxValue, st.Min, st.Max = nil, nil, nil, nil
			n := r.meta.RowGroups[1].Columns[0].MetaData.NumValues
			st.NullCount = &n
		}, 1, 5, true},
		{"no min or max, some values", "a", func(r *Reader) {
			st := r.meta.RowGroups[1].Columns[0].MetaData.Statistics
			st.MinValue, st.MaxValue, st.Min, st.Max = nil, nil, nil, nil
			n := r.meta.RowGroups[1].Columns[0].MetaData.NumValues - 1
			st.NullCount = &n
		}, 0, 0, false},
		{"row group without rows", "a", func(r *Reader) {
			r.rgRows[1] = 0
			r.meta.RowGroups[1].Columns[0].MetaData.Statistics = nil
		}, 1, 5, true},
		// Plausible statistics (10 to 14 in both row groups): trusted for
		// a required column, not for a nullable one that arrow v17 wrote.
		{"plausible, required", "u", func(r *Reader) { plausible(r, 1) }, 10, 14, true},
		{"plausible, nullable by arrow v17", "n", func(r *Reader) { plausible(r, 2) }, 0, 0, false},
		{"encrypted column metadata", "a", func(r *Reader) { r.meta.RowGroups[1].Columns[0].MetaData = nil }, 0, 0, false},
		{"missing column chunk", "u", func(r *Reader) {
			r.meta.RowGroups[1].Columns = r.meta.RowGroups[1].Columns[:1]
		}, 0, 0, false},
	}
	for _, c := range cases {
		r, err := Open(context.Background(), File{Path: path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.edit != nil {
			c.edit(r)
		}
		lo, hi, ok := r.IntRange(c.column)
		if lo != c.lo || hi != c.hi || ok != c.ok {
			t.Errorf("%s: IntRange(%s) = %d, %d, %v; want %d, %d, %v", c.name, c.column, lo, hi, ok, c.lo, c.hi, c.ok)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUnitIntRange checks the range of each row group alone.
func TestUnitIntRange(t *testing.T) {
	r, err := Open(context.Background(), File{Path: statsFile(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, c := range []struct {
		column string
		u      int
		lo, hi int64
		ok     bool
	}{
		{"a", 0, 1, 5, true},
		{"a", 1, -7, -3, true},
		{"u", 0, 10, 14, true},
		{"u", 1, 3e9, 3e9 + 4, true},
		{"n", 0, 0, 0, false}, // arrow v17's statistics of a nullable uint32
		{"a", -1, 0, 0, false},
		{"a", 2, 0, 0, false},
		{"nope", 0, 0, 0, false},
	} {
		lo, hi, ok := r.UnitIntRange(c.column, c.u)
		if lo != c.lo || hi != c.hi || ok != c.ok {
			t.Errorf("UnitIntRange(%s, %d) = %d, %d, %v; want %d, %d, %v", c.column, c.u, lo, hi, ok, c.lo, c.hi, c.ok)
		}
	}
	// A unit holding only nulls has no range, though the file has one.
	st := r.meta.RowGroups[1].Columns[0].MetaData.Statistics
	st.MinValue, st.MaxValue, st.Min, st.Max = nil, nil, nil, nil
	n := r.meta.RowGroups[1].Columns[0].MetaData.NumValues
	st.NullCount = &n
	if _, _, ok := r.UnitIntRange("a", 1); ok {
		t.Error("UnitIntRange of a unit of nulls is ok")
	}
	if lo, hi, ok := r.IntRange("a"); lo != 1 || hi != 5 || !ok {
		t.Errorf("IntRange with a unit of nulls = %d, %d, %v; want 1, 5, true", lo, hi, ok)
	}
}

// plausible sets the statistics of column c in every row group to
// min 10, max 14.
func plausible(r *Reader, c int) {
	for _, rg := range r.meta.RowGroups {
		st := rg.Columns[c].MetaData.Statistics
		st.MinValue, st.MaxValue = []byte{10, 0, 0, 0}, []byte{14, 0, 0, 0}
	}
}

// TestBrokenUnsignedStats checks which writers' statistics are distrusted.
func TestBrokenUnsignedStats(t *testing.T) {
	r, err := Open(context.Background(), File{Path: statsFile(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	signed, required, nullable := r.meta.Schema.Column(0), r.meta.Schema.Column(1), r.meta.Schema.Column(2)
	for _, c := range []struct {
		createdBy string
		col       string
		broken    bool
	}{
		{"parquet-go version 17.0.0", "nullable", true},
		{"parquet-go version 18.0.0", "nullable", true},
		{"parquet-go version 18.1.0", "nullable", false},
		{"parquet-go version 19.0.0", "nullable", false},
		{"parquet-go version 17.0.0", "required", false},
		{"parquet-go version 17.0.0", "signed", false},
		{"parquet-cpp-arrow version 15.0.0", "nullable", false},
		{"parquet-mr version 1.13.1 (build 1)", "nullable", false},
	} {
		col := map[string]*schema.Column{"nullable": nullable, "required": required, "signed": signed}[c.col]
		if got := brokenUnsignedStats(metadata.NewAppVersion(c.createdBy), col); got != c.broken {
			t.Errorf("%s, %s column: broken = %v, want %v", c.createdBy, c.col, got, c.broken)
		}
	}
	if v := r.meta.WriterVersion(); !brokenUnsignedStats(v, nullable) {
		t.Errorf("this module's own writer (%s %v) is not distrusted", v.App, v.Version)
	}
}
