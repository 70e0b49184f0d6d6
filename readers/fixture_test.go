package readers_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/mixbatch/mixbatch/readers"
)

var dictStringType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// allTypes is a schema with one nullable column of each flat type the
// pipeline may meet.
var allTypes = arrow.NewSchema([]arrow.Field{
	{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
	{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
	{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
	{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
	{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "d", Type: dictStringType, Nullable: true},
}, nil)

// makeRecord returns n rows of allTypes with about 10% nulls in every
// column, drawn from rng. Values are extreme at times (min/max integers).
func makeRecord(mem memory.Allocator, rng *rand.Rand, n int) arrow.Record {
	b := array.NewRecordBuilder(mem, allTypes)
	defer b.Release()
	labels := []string{"red", "green", "blue", "", "ünïcödé"}
	for i := 0; i < n; i++ {
		for c, fb := range b.Fields() {
			if rng.IntN(10) == 0 {
				fb.AppendNull()
				continue
			}
			x := rng.Int64()
			switch c % 3 { // sometimes extreme values
			case 0:
				if rng.IntN(20) == 0 {
					x = -1 << 63
				}
			case 1:
				if rng.IntN(20) == 0 {
					x = 1<<63 - 1
				}
			}
			switch fb := fb.(type) {
			case *array.Int8Builder:
				fb.Append(int8(x))
			case *array.Int16Builder:
				fb.Append(int16(x))
			case *array.Int32Builder:
				fb.Append(int32(x))
			case *array.Int64Builder:
				fb.Append(x)
			case *array.Uint8Builder:
				fb.Append(uint8(x))
			case *array.Uint16Builder:
				fb.Append(uint16(x))
			case *array.Uint32Builder:
				fb.Append(uint32(x))
			case *array.Uint64Builder:
				fb.Append(uint64(x))
			case *array.BooleanBuilder:
				fb.Append(x&1 == 1)
			case *array.Float32Builder:
				fb.Append(float32(rng.NormFloat64()))
			case *array.Float64Builder:
				fb.Append(rng.NormFloat64() * 1e6)
			case *array.StringBuilder:
				fb.Append(fmt.Sprintf("s%d", rng.IntN(1000)))
			case *array.LargeStringBuilder:
				fb.Append(fmt.Sprintf("large-%x", x))
			case *array.BinaryDictionaryBuilder:
				if err := fb.AppendString(labels[rng.IntN(len(labels))]); err != nil {
					panic(err)
				}
			default:
				panic(fmt.Sprintf("unexpected builder %T", fb))
			}
		}
	}
	return b.NewRecord()
}

// makeRecords returns len(sizes) records of allTypes.
func makeRecords(mem memory.Allocator, seed uint64, sizes ...int) []arrow.Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	recs := make([]arrow.Record, len(sizes))
	for i, n := range sizes {
		recs[i] = makeRecord(mem, rng, n)
	}
	return recs
}

func releaseAll[T interface{ Release() }](xs []T) {
	for _, x := range xs {
		x.Release()
	}
}

// writeParquet writes recs with pqarrow (independently of package writers)
// in row groups of at most rowGroup rows, storing the Arrow schema if store.
func writeParquet(t *testing.T, path string, sc *arrow.Schema, recs []arrow.Record, rowGroup int64, store bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	props := parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(rowGroup), parquet.WithCompression(compress.Codecs.Snappy))
	aprops := pqarrow.DefaultWriterProps()
	if store {
		aprops = pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
	}
	w, err := pqarrow.NewFileWriter(sc, f, props, aprops)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil { // closes f too
		t.Fatal(err)
	}
}

// writeIPCFile writes recs in the Arrow IPC file format.
func writeIPCFile(t *testing.T, path string, sc *arrow.Schema, recs []arrow.Record, opts ...ipc.Option) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ipc.NewFileWriter(f, append([]ipc.Option{ipc.WithSchema(sc)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeIPCStream writes recs in the Arrow IPC stream format.
func writeIPCStream(t *testing.T, path string, sc *arrow.Schema, recs []arrow.Record, opts ...ipc.Option) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := ipc.NewWriter(f, append([]ipc.Option{ipc.WithSchema(sc)}, opts...)...)
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// open opens path with readers.Open, failing the test on error; the
// reader is closed (and the Close error checked) at cleanup.
func open(t *testing.T, path string, mem memory.Allocator) *readers.Reader {
	t.Helper()
	r, err := readers.Open(context.Background(), readers.File{Path: path}, mem)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// readAll reads the named columns in batches of batch rows and returns the
// batches, retained; the caller releases them.
func readAll(t *testing.T, r *readers.Reader, columns []string, batch int) []arrow.Record {
	t.Helper()
	rr, err := r.Records(context.Background(), columns, batch)
	if err != nil {
		t.Fatal(err)
	}
	return collect(t, rr)
}

// collect returns the batches of rr, retained (the caller releases them),
// and releases rr.
func collect(t *testing.T, rr readers.RecordReader) []arrow.Record {
	t.Helper()
	defer rr.Release()
	var out []arrow.Record
	for rr.Next() {
		rec := rr.Record()
		rec.Retain()
		out = append(out, rec)
	}
	if err := rr.Err(); err != nil {
		releaseAll(out)
		t.Fatal(err)
	}
	return out
}

// column concatenates column i of recs; the caller releases it.
func column(t *testing.T, mem memory.Allocator, recs []arrow.Record, i int) arrow.Array {
	t.Helper()
	chunks := make([]arrow.Array, len(recs))
	for k, rec := range recs {
		chunks[k] = rec.Column(i)
	}
	arr, err := array.Concatenate(chunks, mem)
	if err != nil {
		t.Fatal(err)
	}
	return arr
}

// values returns the logical values of column i of recs (dictionary
// entries decoded, nulls as nil), so that columns can be compared across
// physical types. (array.Concatenate is avoided: in arrow v17 it leaks
// when concatenating dictionary arrays with different dictionaries.)
func values(recs []arrow.Record, i int) []any {
	var out []any
	for _, rec := range recs {
		arr := rec.Column(i)
		for j := 0; j < arr.Len(); j++ {
			out = append(out, arr.GetOneForMarshal(j))
		}
	}
	return out
}

// sameValues reports the first row where column gi of got and column wi of
// want differ.
func sameValues(t *testing.T, name string, got []arrow.Record, gi int, want []arrow.Record, wi int) {
	t.Helper()
	g, w := values(got, gi), values(want, wi)
	if len(g) != len(w) {
		t.Fatalf("column %s: %d rows, want %d", name, len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("column %s row %d: got %v (%T), want %v (%T)", name, i, g[i], g[i], w[i], w[i])
		}
	}
}

// tempPath returns the path of name in a fresh temporary directory.
func tempPath(t *testing.T, name string) string {
	return filepath.Join(t.TempDir(), name)
}
