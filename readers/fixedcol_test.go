package readers

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// fixedFile writes n rows of a required int64 column "k" (values from a
// few hundred, so that a dictionary pays), a required float64 column "x"
// and a nullable int64 column "maybe" (null every fifth row) to a Parquet
// file with props, and returns its path and the values.
func fixedFile(t *testing.T, n int, props ...parquet.WriterProperty) (string, []int64, []float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	ks, xs := make([]int64, n), make([]float64, n)
	kb, xb, mb := array.NewInt64Builder(memory.DefaultAllocator), array.NewFloat64Builder(memory.DefaultAllocator), array.NewInt64Builder(memory.DefaultAllocator)
	defer kb.Release()
	defer xb.Release()
	defer mb.Release()
	for i := range n {
		ks[i], xs[i] = int64(rng.IntN(700))-300, rng.NormFloat64()*1e3
		kb.Append(ks[i])
		xb.Append(xs[i])
		if i%5 == 0 {
			mb.AppendNull()
		} else {
			mb.Append(ks[i])
		}
	}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64},
		{Name: "maybe", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	cols := []arrow.Array{kb.NewArray(), xb.NewArray(), mb.NewArray()}
	rec := array.NewRecord(sc, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	defer rec.Release()
	path := writeTestParquet(t, rec, props...)
	return path, ks, xs
}

// TestFixedColumn reads required int64 and float64 columns through
// fixedColumn, from files with several pages per column chunk and row
// groups of odd sizes, PLAIN and dictionary encoded, Parquet v1 and v2
// pages, compressed or not, in batches of several sizes, whole and a row
// group at a time, and compares every value with what was written; a
// nullable int64 column takes pqarrow's path and must agree too. In the
// multi-page files page buffers are reused, and the dictionary pages must
// not be (their decoders read them until the chunk ends).
func TestFixedColumn(t *testing.T) {
	const n = 10007
	type variant struct {
		name  string
		props []parquet.WriterProperty
	}
	var variants []variant
	for _, v := range []parquet.Version{parquet.V1_0, parquet.V2_LATEST} {
		for _, dict := range []bool{false, true} {
			for _, codec := range []compress.Compression{compress.Codecs.Uncompressed, compress.Codecs.Zstd} {
				variants = append(variants, variant{
					name: v.String() + map[bool]string{false: "/plain", true: "/dict"}[dict] + "/" + codec.String(),
					props: []parquet.WriterProperty{parquet.WithVersion(v), parquet.WithDictionaryDefault(dict),
						parquet.WithCompression(codec), parquet.WithMaxRowGroupLength(3001),
						// Pages of about 1 KiB: 10 or more per chunk, smaller
						// than a chunk's dictionary page (700 values, 5.6 KiB).
						parquet.WithDataPageSize(1 << 10), parquet.WithBatchSize(128)},
				})
			}
		}
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			path, ks, xs := fixedFile(t, n, v.props...)
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r := openTestFile(t, path, mem)
			defer func() {
				if err := r.Close(); err != nil {
					t.Fatal(err)
				}
			}()
			for i, want := range []bool{true, true, false} {
				fc, err := newFixedColumn(r, &r.pq.Manifest.Fields[i], []int{0})
				if err != nil || (fc != nil) != want {
					t.Fatalf("column %d: fixedColumn %v (err %v), want one: %v", i, fc, err, want)
				}
			}
			reused := 0
			check := func(what string, rr RecordReader, err error, from, to int) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				defer rr.Release()
				i := from
				for rr.Next() {
					rec := rr.Record()
					k, x, maybe := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Float64), rec.Column(2).(*array.Int64)
					for j := range k.Len() {
						if k.Value(j) != ks[i] || x.Value(j) != xs[i] || maybe.IsNull(j) != (i%5 == 0) || !maybe.IsNull(j) && maybe.Value(j) != ks[i] {
							t.Fatalf("%s: row %d: k %d x %v maybe %s; want %d %v", what, i, k.Value(j), x.Value(j), maybe.ValueStr(j), ks[i], xs[i])
						}
						i++
					}
				}
				if err := rr.Err(); err != nil {
					t.Fatal(err)
				}
				if i != to {
					t.Fatalf("%s: read to row %d, want %d", what, i, to)
				}
				if p, ok := rr.(*parquetRecords); ok {
					for _, c := range p.readers {
						if fc, ok := c.(*fixedColumn[int64]); ok {
							reused += fc.pages.reused
						}
					}
				}
			}
			for _, batch := range []int{1, 7, 1000, 1 << 20} {
				rr, err := r.Records(context.Background(), []string{"k", "x", "maybe"}, batch)
				check("records", rr, err, 0, n)
			}
			from := 0
			for u := range r.NumUnits() {
				rr, err := r.UnitRecords(context.Background(), []string{"k", "x", "maybe"}, 333, u)
				check("unit", rr, err, from, from+int(r.UnitRows(u)))
				from += int(r.UnitRows(u))
			}
			if reused == 0 {
				t.Error("no page buffer was reused: the test does not test the reuse")
			}
		})
	}
}

// TestFixedColumnRetained keeps every record of a read and checks them all
// at the end: value buffers are reused only once released, so the batches
// kept are unchanged by the ones read after them. Then it reads again,
// releasing each record, and checks that buffers are reused.
func TestFixedColumnRetained(t *testing.T) {
	const n = 50000
	path, ks, xs := fixedFile(t, n, parquet.WithMaxRowGroupLength(10000))
	r := openTestFile(t, path, memory.DefaultAllocator)
	defer func() {
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	// Batches of 10000 values (80,000 bytes) are in a size class that
	// valueBuffers recycles.
	rr, err := r.Records(context.Background(), []string{"k", "x"}, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var kept []arrow.Record
	for rr.Next() {
		rec := rr.Record()
		rec.Retain()
		kept = append(kept, rec)
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	rr.Release()
	i := 0
	for _, rec := range kept {
		k, x := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Float64)
		for j := range k.Len() {
			if k.Value(j) != ks[i] || x.Value(j) != xs[i] {
				t.Fatalf("row %d of a kept record: %d %v, want %d %v", i, k.Value(j), x.Value(j), ks[i], xs[i])
			}
			i++
		}
		rec.Release()
	}
	if i != n {
		t.Fatalf("%d rows, want %d", i, n)
	}
}

// TestValuePoolClasses checks the size classes: every size from minPooled
// to maxPooled comes back in a buffer of a class, and only those.
func TestValuePoolClasses(t *testing.T) {
	if maxPooled != fixedChunk*8 {
		t.Fatalf("the largest pooled buffer holds %d bytes, a full batch %d", maxPooled, fixedChunk*8)
	}
	var p valuePool
	for _, size := range []int{0, 1, minPooled/2 + 1, minPooled - 1, minPooled, minPooled + 1, 3 << 20, maxPooled - 1, maxPooled, maxPooled + 1} {
		b := p.Allocate(size)
		_, pooled := p.class(cap(b))
		if len(b) != size || pooled != (size > minPooled/2 && size <= maxPooled) {
			t.Errorf("Allocate(%d): len %d cap %d, pooled %v", size, len(b), cap(b), pooled)
		}
		p.Free(b)
	}
}

// writeTestParquet writes rec to a new Parquet file with props, and its
// Arrow schema stored, and returns its path.
func writeTestParquet(t *testing.T, rec arrow.Record, props ...parquet.WriterProperty) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, parquet.NewWriterProperties(props...), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// openTestFile opens the file at path with mem.
func openTestFile(t *testing.T, path string, mem memory.Allocator) *Reader {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), File{Path: path, Size: st.Size()}, mem)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
