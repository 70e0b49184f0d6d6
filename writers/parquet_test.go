package writers_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"

	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/writers"
)

var dictStringType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// outSchema is shaped like the pipeline's outputs, plus the other types a
// table may carry through.
var outSchema = arrow.NewSchema([]arrow.Field{
	{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "component", Type: arrow.BinaryTypes.String},
	{Name: "weight", Type: arrow.PrimitiveTypes.Float64},
	{Name: "converged", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "error", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "mean32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "label", Type: dictStringType, Nullable: true},
	{Name: "note", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Uint32},
	{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "params", Type: arrow.StructOf(
		arrow.Field{Name: "mu", Type: arrow.PrimitiveTypes.Float64},
		arrow.Field{Name: "k", Type: arrow.PrimitiveTypes.Int32},
	)},
}, nil)

// makeOut returns n rows of outSchema starting at bag id first, drawn from rng.
func makeOut(mem memory.Allocator, rng *rand.Rand, first, n int) arrow.Record {
	b := array.NewRecordBuilder(mem, outSchema)
	defer b.Release()
	for i := 0; i < n; i++ {
		id := int64(first + i)
		b.Field(0).(*array.Int64Builder).Append(id / 3)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("c%d", id%3))
		b.Field(2).(*array.Float64Builder).Append(rng.Float64())
		b.Field(3).(*array.BooleanBuilder).Append(rng.IntN(4) != 0)
		if rng.IntN(5) == 0 {
			b.Field(4).(*array.StringBuilder).Append("did not converge")
		} else {
			b.Field(4).AppendNull()
		}
		if rng.IntN(7) == 0 {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.Float32Builder).Append(float32(rng.NormFloat64()))
		}
		if rng.IntN(9) == 0 {
			b.Field(6).AppendNull()
		} else if err := b.Field(6).(*array.BinaryDictionaryBuilder).AppendString([]string{"lo", "mid", "hi"}[rng.IntN(3)]); err != nil {
			panic(err)
		}
		b.Field(7).(*array.LargeStringBuilder).Append(fmt.Sprintf("note %d", rng.IntN(100)))
		b.Field(8).(*array.Uint32Builder).Append(uint32(rng.Uint64()))
		b.Field(9).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000_000 + id))
		sb := b.Field(10).(*array.StructBuilder)
		sb.Append(true)
		sb.FieldBuilder(0).(*array.Float64Builder).Append(rng.NormFloat64())
		sb.FieldBuilder(1).(*array.Int32Builder).Append(int32(id % 5))
	}
	return b.NewRecord()
}

func releaseAll[T interface{ Release() }](xs []T) {
	for _, x := range xs {
		x.Release()
	}
}

// readBack reads every column of path with package readers; the caller
// releases the records.
func readBack(t *testing.T, path string, mem memory.Allocator) (*arrow.Schema, []arrow.Record) {
	t.Helper()
	r, err := readers.Open(context.Background(), readers.File{Path: path}, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	}()
	names := make([]string, r.Schema().NumFields())
	for i, f := range r.Schema().Fields() {
		names[i] = f.Name
	}
	rr, err := r.Records(context.Background(), names, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var out []arrow.Record
	for rr.Next() {
		rr.Record().Retain()
		out = append(out, rr.Record())
	}
	if err := rr.Err(); err != nil {
		releaseAll(out)
		t.Fatal(err)
	}
	return r.Schema(), out
}

// rowStrings renders every row of recs, for comparing tables batched differently.
func rowStrings(recs []arrow.Record) []string {
	var rows []string
	for _, rec := range recs {
		for i := 0; i < int(rec.NumRows()); i++ {
			var sb strings.Builder
			for c := 0; c < int(rec.NumCols()); c++ {
				fmt.Fprintf(&sb, "%v|", rec.Column(c).GetOneForMarshal(i))
			}
			rows = append(rows, sb.String())
		}
	}
	return rows
}

// TestRoundTrip writes many small records through WriteFile and reads them
// back with package readers: same schema (types stored), same values, rows
// gathered into row groups of RowGroupRows.
func TestRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rng := rand.New(rand.NewPCG(1, 1))
	var recs []arrow.Record
	for i := 0; i < 7; i++ {
		recs = append(recs, makeOut(mem, rng, i*37, 37))
	}
	empty := makeOut(mem, rng, 0, 0)
	recs = append(recs, empty)
	defer releaseAll(recs)

	path := filepath.Join(t.TempDir(), "out.parquet")
	if err := writers.WriteFile(path, outSchema, recs, writers.Options{RowGroupRows: 100}); err != nil {
		t.Fatal(err)
	}
	sc, got := readBack(t, path, mem)
	defer releaseAll(got)
	// Types are compared without metadata: pqarrow marks nested fields
	// (here params.mu, params.k) with "PARQUET:field_id": "-1".
	for i, f := range outSchema.Fields() {
		g := sc.Field(i)
		if g.Name != f.Name || g.Nullable != f.Nullable || !arrow.TypeEqual(g.Type, f.Type) {
			t.Errorf("field %d read back as %v, want %v", i, g, f)
		}
	}
	g, w := rowStrings(got), rowStrings(recs)
	if len(g) != 259 || len(g) != len(w) {
		t.Fatalf("%d rows read, %d written, want 259", len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("row %d: got %s want %s", i, g[i], w[i])
		}
	}

	pf := openParquet(t, path)
	var sizes []int64
	for i := 0; i < pf.NumRowGroups(); i++ {
		sizes = append(sizes, pf.MetaData().RowGroup(i).NumRows())
	}
	if fmt.Sprint(sizes) != "[100 100 59]" {
		t.Errorf("row groups of %v rows, want [100 100 59]", sizes)
	}
}

// TestColumnChunkEncodings inspects the written column chunks of the
// default Options: zstd everywhere; no dictionary for floating-point
// columns (including one nested in a struct), nor for bag_id (a third of
// its values distinct) or error (one value in long runs); a dictionary for
// labels and for the types the writer leaves to arrow; statistics for the
// sorted columns (bag_id, error, at), integers (n) and the types not
// checked (booleans, nested), but none for dictionary types or
// floating-point leaves (see stats.go).
func TestColumnChunkEncodings(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rec := makeOut(mem, rand.New(rand.NewPCG(2, 1)), 0, 500)
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "enc.parquet")
	if err := writers.WriteFile(path, outSchema, []arrow.Record{rec}, writers.Options{}); err != nil {
		t.Fatal(err)
	}
	type layout struct{ dict, stats bool }
	want := map[string]layout{
		"bag_id":    {false, true},
		"component": {true, false},
		"weight":    {false, false},
		"converged": {false, true},
		"error":     {false, true},
		"mean32":    {false, false},
		"label":     {true, false}, // a dictionary type: arrow v17's statistics are wrong (stats.go)
		"note":      {true, false},
		"n":         {true, true}, // an integer: statistics kept
		"at":        {true, true},
		"params.mu": {false, false}, // floating point, nested
		"params.k":  {true, true},
	}
	got := columnLayouts(t, path)
	if len(got) != 1 {
		t.Fatalf("%d row groups, want 1", len(got))
	}
	for name, w := range want {
		g, ok := got[0][name]
		switch {
		case !ok:
			t.Errorf("%s: no column chunk", name)
		case g.codec != compress.Codecs.Zstd:
			t.Errorf("%s: compression %v, want zstd", name, g.codec)
		case g.dict != w.dict:
			t.Errorf("%s: dictionary %v (encodings %v), want %v", name, g.dict, g.encodings, w.dict)
		case g.stats != w.stats:
			t.Errorf("%s: statistics %v, want %v", name, g.stats, w.stats)
		}
	}
	if len(got[0]) != len(want) {
		t.Errorf("%d column chunks, want %d", len(got[0]), len(want))
	}
}

// chunkLayout is what the footer says of a column chunk.
type chunkLayout struct {
	codec     compress.Compression
	encodings []parquet.Encoding
	dict      bool // dictionary-encoded data pages
	stats     bool
}

// columnLayouts returns the column chunks of path by row group and column path.
func columnLayouts(t *testing.T, path string) []map[string]chunkLayout {
	t.Helper()
	pf := openParquet(t, path)
	var out []map[string]chunkLayout
	for r := 0; r < pf.NumRowGroups(); r++ {
		rg := pf.MetaData().RowGroup(r)
		m := map[string]chunkLayout{}
		for i := 0; i < rg.NumColumns(); i++ {
			cc, err := rg.ColumnChunk(i)
			if err != nil {
				t.Fatal(err)
			}
			l := chunkLayout{codec: cc.Compression(), encodings: cc.Encodings(), dict: cc.HasDictionaryPage()}
			for _, e := range cc.Encodings() {
				if e == parquet.Encodings.RLEDict || e == parquet.Encodings.PlainDict {
					l.dict = true
				}
			}
			if l.stats, err = cc.StatsSet(); err != nil {
				t.Fatal(err)
			}
			m[cc.PathInSchema().String()] = l
		}
		out = append(out, m)
	}
	return out
}

// TestCreateExisting checks that Create refuses to overwrite a file.
func TestCreateExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "exists.parquet")
	if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := writers.Create(path, outSchema, writers.Options{})
	if err == nil {
		w.Close()
		t.Fatal("Create over an existing file succeeded")
	}
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v should be ErrExist naming %s", err, path)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "keep me" {
		t.Errorf("existing file changed: %q, %v", data, err)
	}
	if err := writers.WriteFile(path, outSchema, nil, writers.Options{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WriteFile over an existing file: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("WriteFile removed a file it did not create: %v", err)
	}
}

// TestCreateMissingDirectory checks the error when the directory is gone.
func TestCreateMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone", "x.parquet")
	if _, err := writers.Create(path, outSchema, writers.Options{}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v should be ErrNotExist naming %s", err, path)
	}
}

// TestWriteErrors checks a schema mismatch, Write after Close, a second
// Close, and that WriteFile removes its partial file on error.
func TestWriteErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rng := rand.New(rand.NewPCG(3, 1))
	good := makeOut(mem, rng, 0, 10)
	defer good.Release()
	otherSchema := arrow.NewSchema([]arrow.Field{{Name: "bag_id", Type: arrow.PrimitiveTypes.Int32}}, nil)
	bb := array.NewInt32Builder(mem)
	bb.AppendValues([]int32{1, 2}, nil)
	col := bb.NewArray()
	bb.Release()
	bad := array.NewRecord(otherSchema, []arrow.Array{col}, 2)
	col.Release()
	defer bad.Release()

	dir := t.TempDir()
	path := filepath.Join(dir, "w.parquet")
	w, err := writers.Create(path, outSchema, writers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(good); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(bad); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "schema") {
		t.Errorf("Write with another schema: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after a rejected record: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Write(good); err == nil {
		t.Error("Write after Close succeeded")
	}
	// The rejected record did not spoil the file.
	_, got := readBack(t, path, mem)
	if n := len(rowStrings(got)); n != 10 {
		t.Errorf("%d rows in file, want 10", n)
	}
	releaseAll(got)

	partial := filepath.Join(dir, "partial.parquet")
	err = writers.WriteFile(partial, outSchema, []arrow.Record{good, bad}, writers.Options{})
	if err == nil || !strings.Contains(err.Error(), partial) {
		t.Errorf("WriteFile with a bad record: %v", err)
	}
	if _, err := os.Stat(partial); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial file left behind: %v", err)
	}
}

// TestSchemaMetadata keeps schema metadata but drops a stale stored Arrow
// schema carried over from an input file, which would otherwise sit next
// to the one the writer stores.
func TestSchemaMetadata(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	md := arrow.NewMetadata([]string{"ARROW:schema", "mixbatch.run"}, []string{"c3RhbGU=", "42"})
	sc := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Uint16}}, &md)
	b := array.NewRecordBuilder(mem, sc)
	b.Field(0).(*array.Uint16Builder).AppendValues([]uint16{1, 65535}, nil)
	rec := b.NewRecord()
	b.Release()
	defer rec.Release()

	path := filepath.Join(t.TempDir(), "md.parquet")
	if err := writers.WriteFile(path, sc, []arrow.Record{rec}, writers.Options{}); err != nil {
		t.Fatal(err)
	}
	got, recs := readBack(t, path, mem)
	defer releaseAll(recs)
	if !arrow.TypeEqual(got.Field(0).Type, arrow.PrimitiveTypes.Uint16) {
		t.Errorf("type read back %v, want uint16", got.Field(0).Type)
	}
	if v, ok := got.Metadata().GetValue("mixbatch.run"); !ok || v != "42" {
		t.Errorf("metadata read back %v, want mixbatch.run=42", got.Metadata())
	}
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range pf.MetaData().KeyValueMetadata().Keys() {
		if k == "ARROW:schema" {
			n++
		}
	}
	if err := pf.Close(); err != nil {
		t.Error(err)
	}
	if n != 1 {
		t.Errorf("%d ARROW:schema entries in the file, want 1", n)
	}
}

// openParquet opens the Parquet file at path for the rest of the test.
func openParquet(t *testing.T, path string) *file.Reader {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pf.Close(); err != nil {
			t.Error(err)
		}
	})
	return pf
}
