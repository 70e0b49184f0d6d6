package readers_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"

	"github.com/mixbatch/mixbatch/readers"
)

// The fuzz targets read arbitrary bytes as a data file. Their seed corpora
// are in testdata/fuzz/<target>/: small files written by pqarrow and the
// Arrow IPC writers, with truncated and bit-flipped variants (made by
// fuzz_corpus_gen.go), and the crashers the fuzz engine found (named by
// hash), kept as regression cases. `go test` runs every corpus entry once;
//
//	go test ./readers/ -run '^$' -fuzz '^FuzzParquet$' -fuzztime 10m -fuzzminimizetime 5s -parallel 1
//
// fuzzes (without -fuzzminimizetime, shrinking each new input for up to
// 60s takes most of the time).

// FuzzParquet reads arbitrary bytes as x.parquet: Open, IntRange of every
// column, then every column to the end, with Records and again unit by
// unit. It must never panic or hang; an error must name the file; every
// Arrow buffer must be released whether or not it errors; the units must
// hold the rows Records reads.
func FuzzParquet(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("PAR1"))
	f.Add([]byte("PAR1PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	// BYTE_STREAM_SPLIT columns, which splitColumn decodes page by page
	// (see duckdb_files_test.go and splitcol_test.go): data pages v1 and
	// v2, nulls, integers and FIXED_LEN_BYTE_ARRAY, and a chunk falling
	// back from its dictionary.
	for _, name := range []string{"duckdb-byte-stream-split.parquet", "duckdb-bss-uncompressed.parquet", "arrowrs-bss-v2.parquet"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, "x.parquet", data)
	})
}

// FuzzIPC is FuzzParquet for Arrow IPC files and streams (x.arrow).
func FuzzIPC(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("ARROW1\x00\x00ARROW1"))
	f.Add([]byte("\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, "x.arrow", data)
	})
}

// fuzzRead writes data to a file called name and reads all of it.
func fuzzRead(t *testing.T, name string, data []byte) {
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	rows, numRows, err := fuzzReadAll(path, mem)
	mem.AssertSize(t, 0)
	if err != nil && !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file %s", err, path)
	}
	if err == nil && rows >= 0 && rows != numRows {
		t.Errorf("read %d rows, but NumRows says %d", rows, numRows)
	}
}

// fuzzReadAll opens path and reads every top-level column to the end in
// small batches, with Records and then with UnitRecords of every unit,
// releasing everything. It returns the rows Records read (-1 when the file
// has no columns to read), what NumRows said, and the first error.
func fuzzReadAll(path string, mem memory.Allocator) (rows, numRows int64, err error) {
	ctx := context.Background()
	r, err := readers.Open(ctx, readers.File{Path: path}, mem)
	if err != nil {
		return 0, 0, err
	}
	numRows = r.NumRows()
	defer func() {
		if cerr := r.Close(); err == nil {
			err = cerr
		}
	}()
	sc := r.Schema()
	if sc.NumFields() == 0 {
		return -1, numRows, nil
	}
	names := make([]string, sc.NumFields())
	for i, fl := range sc.Fields() {
		names[i] = fl.Name
	}
	for _, name := range names {
		r.IntRange(name) // must not panic
	}
	drain := func(rr readers.RecordReader, err error) (int64, error) {
		return drainBatches(rr, err, len(names))
	}
	rows, err = drain(r.Records(ctx, names, 5))
	if err != nil {
		return rows, numRows, err
	}
	// The units, read one by one, are the file.
	var unitRows int64
	for u := 0; u < r.NumUnits(); u++ {
		n, err := drain(r.UnitRecords(ctx, names, 7, u))
		if err != nil {
			return rows, numRows, err
		}
		if n != r.UnitRows(u) {
			panic("unit rows differ from UnitRows") // reported by the fuzz engine as a failure
		}
		unitRows += n
	}
	if unitRows != rows {
		panic("units differ from Records")
	}
	return rows, numRows, nil
}

// drainBatches reads rr to the end, checking that every batch has rows
// and ncols columns, and returns the rows read and rr's error.
func drainBatches(rr readers.RecordReader, err error, ncols int) (rows int64, _ error) {
	if err != nil {
		return 0, err
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.Record()
		if rec.NumRows() < 1 || int(rec.NumCols()) != ncols {
			panic("bad batch") // reported by the fuzz engine as a failure
		}
		rows += rec.NumRows()
	}
	return rows, rr.Err()
}

// Regression cases found by fuzzing, by name.

// TestParquetDeltaEncodings reads DELTA_BINARY_PACKED, DELTA_BYTE_ARRAY and
// DELTA_LENGTH_BYTE_ARRAY columns (Spark's v2 writer makes them), in
// batches that end inside row groups, pages and miniblocks. FuzzParquet's
// first seeds with such columns failed the allocator check (arrow v17's
// delta decoder never frees its scratch buffer: see scratchAlloc); and a
// nullable INT64 delta column read in batches that stop inside a miniblock
// failed as "corrupt file: panic: slice bounds out of range", which is
// arrow's decoder losing its place (see parquetRecords). Both are fixed.
func TestParquetDeltaEncodings(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	recs := makeRecords(mem, 11, 150, 90)
	defer releaseAll(recs)
	path := tempPath(t, "delta.parquet")
	writeDelta(t, path, allTypes, recs, 70)
	cols := []string{"i64", "i32", "u64", "s", "ls"}
	for _, batch := range []int{1, 7, 40, 0} {
		r := open(t, path, mem)
		got := readAll(t, r, cols, batch)
		for k, name := range cols {
			sameValues(t, name, got, k, recs, allTypes.FieldIndices(name)[0])
		}
		releaseAll(got)
	}

	// The pipeline's case: a row group longer than one default batch.
	big := makeRecords(mem, 12, readers.DefaultBatchSize+1000)
	defer releaseAll(big)
	path = tempPath(t, "big.parquet")
	writeDelta(t, path, allTypes, big, 1<<20)
	r := open(t, path, mem)
	got := readAll(t, r, []string{"i64"}, 0)
	defer releaseAll(got)
	if len(got) != 2 {
		t.Errorf("%d batches, want 2", len(got))
	}
	sameValues(t, "i64", got, 0, big, allTypes.FieldIndices("i64")[0])
}

// writeDelta writes recs with the integer and string columns of allTypes
// in delta encodings, in row groups of rowGroup rows and small pages.
func writeDelta(t *testing.T, path string, sc *arrow.Schema, recs []arrow.Record, rowGroup int64) {
	t.Helper()
	writeParquetProps(t, path, sc, recs, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(rowGroup), parquet.WithDataPageSize(256),
		parquet.WithDictionaryDefault(false),
		parquet.WithEncodingFor("i64", parquet.Encodings.DeltaBinaryPacked),
		parquet.WithEncodingFor("i32", parquet.Encodings.DeltaBinaryPacked),
		parquet.WithEncodingFor("u64", parquet.Encodings.DeltaBinaryPacked),
		parquet.WithEncodingFor("s", parquet.Encodings.DeltaByteArray),
		parquet.WithEncodingFor("ls", parquet.Encodings.DeltaLengthByteArray)))
}

// TestIPCHugeLengths: FuzzIPC found Arrow IPC files (kept in
// testdata/fuzz/FuzzIPC/) whose second message claims a 16 TiB body
// (0e3cbcf9c33c4c74), and whose schema claims 2^32-1 fields
// (9d32cada84101e14); arrow's reader allocated that much and the process
// died of "fatal error: runtime: out of memory", which no recover catches.
// A third (c53c0f7293f597e5) gave a compressed buffer a negative length,
// which the checked allocator counted before failing. Here every aligned
// 8 bytes of an IPC file and stream, plain and compressed, in turn claim
// 16 TiB and -2^60, and every aligned 4 bytes of the schema message
// 2^32-16: each read must end in an error naming the file or succeed,
// with every buffer released.
func TestIPCHugeLengths(t *testing.T) {
	// Written from another allocator: arrow v17's IPC file writer leaks
	// 128 bytes of dictionary.
	recs := makeRecords(memory.NewGoAllocator(), 13, 6)
	src := tempPath(t, "src.arrow")
	path := tempPath(t, "x.arrow")
	for _, w := range []func(){
		func() { writeIPCFile(t, src, allTypes, recs) },
		func() { writeIPCStream(t, src, allTypes, recs) },
		func() { writeIPCFile(t, src, allTypes, recs, ipc.WithZstd()) },
		func() { writeIPCStream(t, src, allTypes, recs, ipc.WithLZ4()) },
	} {
		w()
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		var bad [][]byte
		for off := 0; off+8 <= len(data); off += 8 {
			for _, v := range []int64{1 << 44, -1 << 60} {
				b := bytes.Clone(data)
				binary.LittleEndian.PutUint64(b[off:], uint64(v))
				bad = append(bad, b)
			}
		}
		schemaLen := int(binary.LittleEndian.Uint32(data[4:])) // a stream's first message
		if bytes.HasPrefix(data, []byte("ARROW1")) {
			schemaLen = int(binary.LittleEndian.Uint32(data[12:]))
		}
		for off := 0; off+4 <= min(len(data), schemaLen+16); off += 4 {
			b := bytes.Clone(data)
			binary.LittleEndian.PutUint32(b[off:], 1<<32-16)
			bad = append(bad, b)
		}
		failed := 0
		for i, b := range bad {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			_, _, err := fuzzReadAll(path, mem)
			if n := mem.CurrentAlloc(); n != 0 {
				t.Errorf("variant %d: %d bytes not released (error %v)", i, n, err)
			}
			if err != nil {
				failed++
				if !strings.Contains(err.Error(), path) {
					t.Errorf("variant %d: error %q does not name the file", i, err)
				}
			}
		}
		if failed == 0 {
			t.Errorf("no corruption of %d bytes was noticed", len(data))
		}
	}
}

// TestIPCCompressedHighRatio: the allocation bound of compressed IPC files
// leaves room for what compression really achieves (a column of zeros
// shrinks about 500-fold with zstd here).
func TestIPCCompressedHighRatio(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sc := arrow.NewSchema([]arrow.Field{{Name: "z", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(make([]int64, 1<<20), nil)
	arr := b.NewArray()
	defer arr.Release()
	rec := array.NewRecord(sc, []arrow.Array{arr}, int64(arr.Len()))
	defer rec.Release()
	path := tempPath(t, "zeros.arrow")
	writeIPCFile(t, path, sc, []arrow.Record{rec}, ipc.WithZstd())
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := fuzzReadAll(path, mem)
	if err != nil || rows != 1<<20 {
		t.Fatalf("%d-byte file: %d rows, error %v", fi.Size(), rows, err)
	}
	if fi.Size() > 8<<20/100 {
		t.Errorf("the file is %d bytes: not the high compression ratio this test is for", fi.Size())
	}
}

// TestParquetFooterRowCount: a footer whose row count is not the sum of
// its row groups' is refused (Records reads the row groups; the pipeline
// plans with NumRows), instead of reading fewer or more rows than NumRows
// says. FuzzParquet checks that a file that reads reads NumRows rows.
func TestParquetFooterRowCount(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sc := arrow.NewSchema([]arrow.Field{{Name: "i", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues([]int64{1, 2, 3, 4, 5, 6, 7, 8}, nil)
	arr := b.NewArray()
	defer arr.Release()
	rec := array.NewRecord(sc, []arrow.Array{arr}, 8)
	defer rec.Release()
	path := tempPath(t, "x.parquet")
	writeParquet(t, path, sc, []arrow.Record{rec}, 4, false)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// FileMetaData.num_rows, field 3 after field 2: compact header 0x16,
	// then zigzag(8) = 0x10. The row groups' say zigzag(4) = 0x08.
	i := bytes.LastIndex(data, []byte{0x16, 0x10})
	if i < 0 {
		t.Fatal("no num_rows = 8 in the footer")
	}
	data[i+1] = 0x12 // 9 rows
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = readers.Open(context.Background(), readers.File{Path: path}, mem)
	if err == nil || !strings.Contains(err.Error(), path+": corrupt Parquet file: the footer says 9 rows, its row groups hold 8") {
		t.Errorf("error %v", err)
	}
}
