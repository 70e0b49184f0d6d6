package readers_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/readers"
)

func columnNames(sc *arrow.Schema) []string {
	names := make([]string, sc.NumFields())
	for i, f := range sc.Fields() {
		names[i] = f.Name
	}
	return names
}

// TestParquetRoundTrip writes every flat type with nulls in several row
// groups (with the Arrow schema stored, as pqarrow, pyarrow and package
// writers do) and reads it back exactly: same types, same values.
func TestParquetRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	recs := makeRecords(mem, 1, 250, 1, 180)
	defer releaseAll(recs)
	path := tempPath(t, "all.parquet")
	writeParquet(t, path, allTypes, recs, 100, true) // row groups 100,100,50,1,100,80

	r := open(t, path, mem)
	if got, want := r.NumRows(), int64(431); got != want {
		t.Errorf("NumRows = %d, want %d", got, want)
	}
	if !r.Schema().Equal(allTypes) {
		t.Errorf("Schema =\n%v\nwant\n%v", r.Schema(), allTypes)
	}
	if f := r.File(); f.Format != readers.Parquet || f.Size == 0 || f.Path != path {
		t.Errorf("File = %+v", f)
	}
	got := readAll(t, r, columnNames(allTypes), 64)
	defer releaseAll(got)
	rows := int64(0)
	for _, rec := range got {
		if rec.NumRows() > 64 || rec.NumRows() == 0 {
			t.Errorf("batch of %d rows, want 1..64", rec.NumRows())
		}
		if !rec.Schema().Equal(allTypes) {
			t.Fatalf("batch schema =\n%v\nwant\n%v", rec.Schema(), allTypes)
		}
		rows += rec.NumRows()
	}
	if rows != 431 {
		t.Fatalf("read %d rows, want 431", rows)
	}
	for i, f := range allTypes.Fields() {
		sameValues(t, f.Name, got, i, recs, i)
	}
}

// TestParquetDictionaryAcrossRowGroups reads a dictionary column whose
// dictionary differs between row groups with batches larger than a row
// group. (pqarrow's own record reader fails here with "not implemented",
// and concatenating the chunks it returns gives wrong values.)
func TestParquetDictionaryAcrossRowGroups(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sc := arrow.NewSchema([]arrow.Field{{Name: "d", Type: dictStringType, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	db := b.Field(0).(*array.BinaryDictionaryBuilder)
	want := []string{"a", "b", "a", "", "c", "a", "c", "z", "y", "x"} // row groups of 3
	for _, v := range want {
		if v == "" {
			db.AppendNull()
		} else if err := db.AppendString(v); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	path := tempPath(t, "dict.parquet")
	writeParquet(t, path, sc, []arrow.Record{rec}, 3, true)

	r := open(t, path, mem)
	got := readAll(t, r, []string{"d"}, 1000)
	defer releaseAll(got)
	if len(got) != 4 {
		t.Errorf("%d batches, want 4 (batches end at row groups)", len(got))
	}
	sameValues(t, "d", got, 0, []arrow.Record{rec}, 0)
	if typ := got[0].Column(0).DataType(); !arrow.TypeEqual(typ, dictStringType) {
		t.Errorf("type %v, want %v", typ, dictStringType)
	}
}

// TestParquetWithoutStoredSchema reads a file written without the Arrow
// schema, as other Parquet writers make them: types follow the Parquet
// logical types (large_string and dictionary come back as string), and
// values are unchanged.
func TestParquetWithoutStoredSchema(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	recs := makeRecords(mem, 2, 300)
	defer releaseAll(recs)
	path := tempPath(t, "plain.parquet")
	writeParquet(t, path, allTypes, recs, 128, false)

	r := open(t, path, mem)
	wantType := map[string]arrow.DataType{"ls": arrow.BinaryTypes.String, "d": arrow.BinaryTypes.String}
	got := readAll(t, r, columnNames(allTypes), 0)
	defer releaseAll(got)
	if len(got) != 3 {
		t.Errorf("%d batches with the default batch size, want 3 (one per row group)", len(got))
	}
	for i, f := range allTypes.Fields() {
		want := f.Type
		if w, ok := wantType[f.Name]; ok {
			want = w
		}
		if typ := r.Schema().Field(i).Type; !arrow.TypeEqual(typ, want) {
			t.Errorf("column %s: type %v, want %v", f.Name, typ, want)
		}
		sameValues(t, f.Name, got, i, recs, i)
	}
}

// TestParquetColumnSelection checks that Records returns exactly the named
// columns in the order asked, including a repeated one.
func TestParquetColumnSelection(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	recs := makeRecords(mem, 3, 200)
	defer releaseAll(recs)
	path := tempPath(t, "sel.parquet")
	writeParquet(t, path, allTypes, recs, 64, true)
	r := open(t, path, mem)

	for _, cols := range [][]string{
		{"f64"},
		{"d", "i8", "f64"},
		{"u64", "s", "s", "b"},
		{"ls", "i64"},
	} {
		got := readAll(t, r, cols, 50)
		for _, rec := range got {
			if names := columnNames(rec.Schema()); strings.Join(names, ",") != strings.Join(cols, ",") {
				t.Fatalf("columns %v, want %v", names, cols)
			}
			if rec.NumCols() != int64(len(cols)) {
				t.Fatalf("%d columns, want %d", rec.NumCols(), len(cols))
			}
		}
		for k, name := range cols {
			sameValues(t, name, got, k, recs, allTypes.FieldIndices(name)[0])
		}
		releaseAll(got)
	}
}

// TestParquetNestedColumns selects a struct column and a list column: a
// top-level field with several Parquet leaves must come back whole.
func TestParquetNestedColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	keep := arrow.StructOf(
		arrow.Field{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: "tag", Type: arrow.BinaryTypes.String, Nullable: true},
	)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Float64},
		{Name: "keep", Type: keep, Nullable: true},
		{Name: "xs", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64), Nullable: true},
		{Name: "y", Type: arrow.PrimitiveTypes.Int32},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	rng := rand.New(rand.NewPCG(4, 1))
	for i := 0; i < 150; i++ {
		b.Field(0).(*array.Float64Builder).Append(rng.NormFloat64())
		kb := b.Field(1).(*array.StructBuilder)
		if i%13 == 0 {
			kb.AppendNull()
		} else {
			kb.Append(true)
			kb.FieldBuilder(0).(*array.Int64Builder).Append(int64(i))
			if i%5 == 0 {
				kb.FieldBuilder(1).(*array.StringBuilder).AppendNull()
			} else {
				kb.FieldBuilder(1).(*array.StringBuilder).Append("t" + string(rune('a'+i%26)))
			}
		}
		lb := b.Field(2).(*array.ListBuilder)
		if i%11 == 0 {
			lb.AppendNull()
		} else {
			lb.Append(true)
			for j := 0; j < i%4; j++ {
				lb.ValueBuilder().(*array.Float64Builder).Append(float64(i*10 + j))
			}
		}
		b.Field(3).(*array.Int32Builder).Append(int32(i))
	}
	rec := b.NewRecord()
	defer rec.Release()
	path := tempPath(t, "nested.parquet")
	writeParquet(t, path, sc, []arrow.Record{rec}, 40, true)

	r := open(t, path, mem)
	got := readAll(t, r, []string{"xs", "y", "keep"}, 32)
	defer releaseAll(got)
	for k, i := range []int{2, 3, 1} {
		g := column(t, mem, got, k)
		if !array.Equal(g, rec.Column(i)) {
			t.Errorf("column %s:\ngot  %v\nwant %v", sc.Field(i).Name, g, rec.Column(i))
		}
		g.Release()
	}
}

// TestParquetEmpty reads a file with a schema and no rows.
func TestParquetEmpty(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	path := tempPath(t, "empty.parquet")
	writeParquet(t, path, allTypes, nil, 10, true)
	r := open(t, path, mem)
	if r.NumRows() != 0 {
		t.Errorf("NumRows = %d, want 0", r.NumRows())
	}
	got := readAll(t, r, []string{"f64", "d"}, 10)
	if len(got) != 0 {
		t.Errorf("%d batches from an empty file", len(got))
	}
	releaseAll(got)
}

// TestUnknownColumn checks the error for a column the file lacks.
func TestUnknownColumn(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	recs := makeRecords(mem, 5, 10)
	defer releaseAll(recs)
	for _, name := range []string{"t.parquet", "t.arrow"} {
		path := tempPath(t, name)
		if strings.HasSuffix(name, ".parquet") {
			writeParquet(t, path, allTypes, recs, 10, true)
		} else {
			writeIPCStream(t, path, allTypes, recs)
		}
		r := open(t, path, mem)
		rr, err := r.Records(context.Background(), []string{"f64", "weight"}, 0)
		if err == nil {
			rr.Release()
			t.Fatalf("%s: Records with an unknown column succeeded", name)
		}
		for _, want := range []string{path, `"weight"`, "i8, i16, i32", "ls, d"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if rr, err := r.Records(context.Background(), nil, 0); err == nil {
			rr.Release()
			t.Errorf("%s: Records with no columns succeeded", name)
		}
	}
}

// TestNotParquet opens a CSV file named .parquet.
func TestNotParquet(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	path := tempPath(t, "data.parquet")
	if err := os.WriteFile(path, []byte("bag_id,x\n1,2.5\n1,3.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := readers.Open(context.Background(), readers.File{Path: path, Format: readers.Parquet}, mem)
	if err == nil {
		r.Close()
		t.Fatal("Open of a CSV file succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "not a Parquet file") {
		t.Errorf("error %q should name %s and say it is not a Parquet file", msg, path)
	}
}

// TestOpenMissing opens a file that does not exist.
func TestOpenMissing(t *testing.T) {
	path := tempPath(t, "missing.parquet")
	_, err := readers.Open(context.Background(), readers.File{Path: path}, memory.DefaultAllocator)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v should be ErrNotExist naming %s", err, path)
	}
}

// readFile opens path and reads all columns, returning the first error.
func readFile(path string, mem memory.Allocator) (err error) {
	r, err := readers.Open(context.Background(), readers.File{Path: path}, mem)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := r.Close(); err == nil {
			err = cerr
		}
	}()
	rr, err := r.Records(context.Background(), columnNames(r.Schema()), 37)
	if err != nil {
		return err
	}
	defer rr.Release()
	for rr.Next() {
	}
	return rr.Err()
}

// TestTruncatedParquet cuts a file at many lengths: every one must give an
// error naming the file, never a panic or a silent success.
func TestTruncatedParquet(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	recs := makeRecords(mem, 6, 300)
	defer releaseAll(recs)
	src := tempPath(t, "full.parquet")
	writeParquet(t, src, allTypes, recs, 100, true)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := readFile(src, mem); err != nil {
		t.Fatalf("reading the whole file: %v", err)
	}
	path := tempPath(t, "cut.parquet")
	for _, n := range []int{0, 3, 4, 8, 12, len(data) / 3, len(data) / 2, len(data) - 9, len(data) - 8, len(data) - 4, len(data) - 1} {
		if err := os.WriteFile(path, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		err := readFile(path, mem)
		if err == nil {
			t.Errorf("file cut to %d of %d bytes read without error", n, len(data))
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("cut to %d bytes: error %q does not name the file", n, err)
		}
	}
}

// TestCorruptParquetNoPanic overwrites random bytes in the data pages of a
// file (seeded): reading may fail or, rarely, succeed, but must not panic,
// and an error must name the file.
func TestCorruptParquetNoPanic(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	recs := makeRecords(mem, 7, 200)
	defer releaseAll(recs)
	src := tempPath(t, "full.parquet")
	writeParquet(t, src, allTypes, recs, 64, false)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 1))
	path := tempPath(t, "corrupt.parquet")
	failed, panicked := 0, 0
	for trial := 0; trial < 200; trial++ {
		bad := append([]byte(nil), data...)
		for k := 0; k < 1+rng.IntN(8); k++ {
			bad[4+rng.IntN(len(bad)/2)] = byte(rng.IntN(256))
		}
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := readFile(path, mem); err != nil {
			failed++
			if strings.Contains(err.Error(), "panic") {
				panicked++
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("trial %d: error %q does not name the file", trial, err)
			}
		}
	}
	if failed == 0 {
		t.Error("no corruption was detected in 200 trials")
	}
	t.Logf("%d of 200 corrupted files failed to read, %d of them by a recovered panic", failed, panicked)
}

// TestRecordsCancelled checks that a cancelled context stops a stream.
func TestRecordsCancelled(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	recs := makeRecords(mem, 9, 100)
	defer releaseAll(recs)
	path := tempPath(t, "c.parquet")
	writeParquet(t, path, allTypes, recs, 100, true)
	r := open(t, path, mem)
	ctx, cancel := context.WithCancel(context.Background())
	rr, err := r.Records(ctx, []string{"i64"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatalf("first Next: %v", rr.Err())
	}
	cancel()
	if rr.Next() {
		t.Fatal("Next after cancel succeeded")
	}
	if err := rr.Err(); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), path) {
		t.Errorf("Err = %v, want context.Canceled naming %s", err, path)
	}
}

// TestConcurrentRecords streams from one Reader in several goroutines at
// once (run with -race): each stream sees all rows.
func TestConcurrentRecords(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	recs := ipcInput(10, 500)
	defer releaseAll(recs)
	pq := tempPath(t, "c.parquet")
	writeParquet(t, pq, allTypes, recs, 128, true)
	ar := tempPath(t, "c.arrow")
	writeIPCFile(t, ar, allTypes, recs)
	for _, path := range []string{pq, ar} {
		r := open(t, path, mem)
		errs := make(chan error, 4)
		for g := 0; g < 4; g++ {
			go func() {
				// Send only after Release has run: the test's allocator
				// check must not race with a stream still releasing.
				errs <- func() error {
					rr, err := r.Records(context.Background(), []string{"s", "f64", "d"}, 50+g)
					if err != nil {
						return err
					}
					defer rr.Release()
					n := int64(0)
					for rr.Next() {
						n += rr.Record().NumRows()
					}
					if err := rr.Err(); err != nil {
						return err
					}
					if n != 500 {
						return fmt.Errorf("%s: goroutine %d read %d rows, want 500", path, g, n)
					}
					return nil
				}()
			}()
		}
		for g := 0; g < 4; g++ {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}
}

// TestCorruptStoredSchema opens a Parquet file (found by FuzzParquet)
// whose stored Arrow schema (footer key ARROW:schema) claims vectors far
// longer than itself: arrow v17 allocated 173 GB for it and the process
// died. Open must refuse it with an error naming the file and the schema.
func TestCorruptStoredSchema(t *testing.T) {
	path := filepath.Join("testdata", "corrupt-stored-schema.parquet")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := readers.Open(context.Background(), readers.File{Path: path, Size: st.Size()}, memory.DefaultAllocator)
	if err == nil {
		_ = r.Close()
		t.Fatal("opened a file with a corrupt stored schema")
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "stored Arrow schema") {
		t.Errorf("error %q does not name the file and the stored schema", err)
	}
}

// TestCorruptPageHeaders reads Parquet files (found by FuzzParquet) whose
// page headers made arrow v17 hang; the read must end at once, with an
// error naming the file and the column. A hang fails the test after a
// while instead of at go test's timeout (its goroutine keeps spinning).
//
//   - corrupt-page-header.parquet: with thrift v0.20, which arrow v17
//     requires, decoding one header looped for minutes (thrift's Skip
//     walked containers of sizes nothing bounded); thrift v0.24 and later
//     refuse it at once.
//   - corrupt-index-page-header.parquet (353 bytes): the first page header
//     of column s claims an unknown page type and a 14837-byte string in a
//     59-byte column chunk. Arrow decoded it from the zeros its read buffer
//     holds past the chunk's end, took it for a page to skip, and decoded
//     the same bytes again, forever, its memory growing by the page buffer
//     it defers freeing each time: the read ran for minutes at 2 GB before
//     it was killed. pageGuard refuses the chunk before arrow sees it.
//   - corrupt-delta-header.parquet (368 bytes): the DELTA_BYTE_ARRAY page
//     of column s has DELTA_BINARY_PACKED headers that arrow v17's
//     decoder takes on trust; the read reached 12 GB of heap in ten
//     seconds. pageGuard refuses the page before arrow decodes it (see
//     checkDeltaValues).
//
// The heap is watched too: past 1 GiB the test binary panics (the
// runaway read cannot be stopped, and would take the machine's memory).
func TestCorruptPageHeaders(t *testing.T) {
	for _, tc := range []struct{ file, column string }{
		{"corrupt-page-header.parquet", "i"},
		{"corrupt-index-page-header.parquet", "s"},
		{"corrupt-delta-header.parquet", "s"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			defer readers.WatchHeap(1<<30, tc.file)()
			path := filepath.Join("testdata", tc.file)
			done := make(chan error, 1)
			go func() {
				_, _, err := fuzzReadAll(path, memory.DefaultAllocator)
				done <- err
			}()
			select {
			case err := <-done:
				if col := fmt.Sprintf("column %q", tc.column); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), col) {
					t.Errorf("error %v, want one naming %s and %s", err, path, col)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("reading the file did not end in 30 seconds")
			}
		})
	}
}
