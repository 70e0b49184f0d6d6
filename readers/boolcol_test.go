package readers

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
)

// TestPackBools checks the eight-at-a-time packing against setting bits one
// by one, for every length up to 70 and random values.
func TestPackBools(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 70 {
		vals := make([]bool, n)
		for i := range vals {
			vals[i] = rng.IntN(2) == 1
		}
		got := make([]byte, (n+7)/8)
		for i := range got {
			got[i] = 0xa5 // packBools must set every byte it covers
		}
		packBools(got, vals)
		for i, v := range vals {
			if bit := got[i>>3]>>(i&7)&1 == 1; bit != v {
				t.Fatalf("n %d: bit %d = %v, want %v", n, i, bit, v)
			}
		}
		if n%8 != 0 && got[n>>3]>>(n&7) != 0 {
			t.Fatalf("n %d: bits past the end set: %08b", n, got[n>>3])
		}
	}
}

// TestPackBoolsAt packs random values at every bit offset, in two calls
// as NextBatch does after a short read, against setting bits one by one.
func TestPackBoolsAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for first := range 20 {
		for n := range 40 {
			vals := make([]bool, n)
			for i := range vals {
				vals[i] = rng.IntN(2) == 1
			}
			bits := make([]byte, 8)
			packBoolsAt(bits, 0, vals[:min(first, n)])
			packBoolsAt(bits, int64(min(first, n)), vals[min(first, n):])
			for i, v := range vals {
				if bit := bits[i>>3]>>(i&7)&1 == 1; bit != v {
					t.Fatalf("first %d, n %d: bit %d = %v, want %v", first, n, i, bit, v)
				}
			}
		}
	}
}

// TestBoolColumn reads required bool columns (PLAIN pages, and RLE in
// data pages v2) of row groups of odd sizes through the bool path, in
// batches of several sizes and one row group at a time, and compares every
// value with what was written; a nullable bool column takes pqarrow's path
// and must agree too.
func TestBoolColumn(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 10007
	want := make([]bool, n)
	b := array.NewBooleanBuilder(mem)
	nb := array.NewBooleanBuilder(mem)
	for i := range want {
		want[i] = rng.IntN(3) == 0
		b.Append(want[i])
		if i%5 == 0 {
			nb.AppendNull()
		} else {
			nb.Append(want[i])
		}
	}
	req, opt := b.NewArray(), nb.NewArray()
	b.Release()
	nb.Release()
	sc := arrow.NewSchema([]arrow.Field{{Name: "red", Type: arrow.FixedWidthTypes.Boolean}, {Name: "maybe", Type: arrow.FixedWidthTypes.Boolean, Nullable: true}}, nil)
	rec := array.NewRecord(sc, []arrow.Array{req, opt}, n)
	req.Release()
	opt.Release()
	defer rec.Release()
	// PLAIN pages (v1 and v2), their bits copied, several per chunk; RLE
	// pages (as pyarrow writes Parquet 2.x), read by arrow's chunk reader,
	// one per chunk: arrow v17's RLE boolean encoder repeats the values of
	// the pages before in every page after the first, so it cannot write a
	// test file of several.
	type variant struct {
		name  string
		plain bool
		props []parquet.WriterProperty
	}
	small := []parquet.WriterProperty{parquet.WithDataPageSize(32), parquet.WithBatchSize(256)} // about 256 values a page
	for _, v := range []variant{
		{"plain v1", true, append([]parquet.WriterProperty{parquet.WithVersion(parquet.V1_0)}, small...)},
		{"plain v2", true, append([]parquet.WriterProperty{parquet.WithVersion(parquet.V2_LATEST), parquet.WithDataPageVersion(parquet.DataPageV2)}, small...)},
		{"rle v2", false, []parquet.WriterProperty{parquet.WithVersion(parquet.V2_LATEST), parquet.WithDataPageVersion(parquet.DataPageV2), parquet.WithEncoding(parquet.Encodings.RLE)}},
	} {
		version := v.name
		path := writeTestParquet(t, rec, append(v.props, parquet.WithMaxRowGroupLength(997), parquet.WithDictionaryDefault(false))...)
		r := openTestFile(t, path, mem)
		if _, ok := r.pq.Manifest.Fields[0].Field.Type.(*arrow.BooleanType); !ok {
			t.Fatalf("red is %s", r.pq.Manifest.Fields[0].Field.Type)
		}
		if newBoolColumn(r, &r.pq.Manifest.Fields[0], []int{0}) == nil || newBoolColumn(r, &r.pq.Manifest.Fields[1], []int{0}) != nil {
			t.Fatal("the bool path is not taken for the required column, or taken for the nullable one")
		}
		// check reads rr through and compares its rows with want[from:].
		check := func(what string, rr RecordReader, err error, from int) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Release()
			i := from
			for rr.Next() {
				rec := rr.Record()
				red, maybe := rec.Column(0).(*array.Boolean), rec.Column(1).(*array.Boolean)
				for j := range red.Len() {
					if red.Value(j) != want[i] || maybe.IsNull(j) != (i%5 == 0) || !maybe.IsNull(j) && maybe.Value(j) != want[i] {
						t.Fatalf("%v %s: row %d: red %v, maybe %v; want %v", version, what, i, red.Value(j), maybe.ValueStr(j), want[i])
					}
					i++
				}
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			bc := rr.(*parquetRecords).readers[0].(*boolColumn)
			if bc == nil {
				t.Fatalf("%v %s: %d PLAIN pages copied", version, what, bc.plainRead)
			}
		}
		for _, batch := range []int{1, 7, 64, 1000, 1 << 20} {
			rr, err := r.Records(context.Background(), []string{"red", "maybe"}, batch)
			check("records", rr, err, 0)
		}
		from := 0
		for u := range r.NumUnits() {
			rr, err := r.UnitRecords(context.Background(), []string{"red", "maybe"}, 333, u)
			check("unit", rr, err, from)
			from += int(r.UnitRows(u))
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
