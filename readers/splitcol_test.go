package readers_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/xitongsys/parquet-go-source/local"
	xparquet "github.com/xitongsys/parquet-go/parquet"
	xwriter "github.com/xitongsys/parquet-go/writer"

	"github.com/mixbatch/mixbatch/readers"
)

// The arrowrs-bss-*.parquet fixtures in testdata were written by arrow-rs
// (parquet-rs 59.3.0, through the npm package parquet-wasm 0.8.0, from
// apache-arrow 21.2.0 tables; scripts/fixtures/arrowrs-bss), since DuckDB writes BYTE_STREAM_SPLIT only
// for FLOAT and DOUBLE, in one data page v1 a chunk. For i from 0 to 1199:
//
//	row int32   i                                          PLAIN
//	d   float64 null if i%5 == 0, else i/7                 BYTE_STREAM_SPLIT
//	f   float32 null if i%3 == 1, else Math.fround(i/3)    BYTE_STREAM_SPLIT
//	i32 int32   i*7919 - 1000000 (not nullable)            BYTE_STREAM_SPLIT
//	i64 int64   null if i%4 == 2, else i*1000000007 - 5    BYTE_STREAM_SPLIT
//	h   float64 i < 600 ? (i%4)/2 : i/11                   dictionary, falling back to BYTE_STREAM_SPLIT
//	u   fixed_size_binary(3) null if i%6 == 5, else [i&255, i>>8, (i*7)&255]  BYTE_STREAM_SPLIT
//	ts  timestamp[ms] 1700000000000 + i*1000003 (not nullable)                 BYTE_STREAM_SPLIT
//
// with WriterPropertiesBuilder setMaxRowGroupSize(400), setDataPageSizeLimit(256),
// setWriteBatchSize(32), setDictionaryPageSizeLimit(64), setStatisticsEnabled(Chunk),
// setDictionaryEnabled(false), setColumnEncoding as above, setColumnDictionaryEnabled('h', true),
// and per column codecs: in arrowrs-bss-v2.parquet (setWriterVersion(V2):
// data pages v2) row, d and u UNCOMPRESSED (is_compressed false), f and ts
// SNAPPY, i32 and h ZSTD, i64 LZ4_RAW; in arrowrs-bss-v1.parquet (V1: data
// pages v1) f UNCOMPRESSED, i32 and h SNAPPY, u LZ4_RAW, the others ZSTD.
// So each file has 3 row groups, chunks of 4 to 13 pages, and h is a
// dictionary page and RLE_DICTIONARY pages in row group 0, and those then
// BYTE_STREAM_SPLIT pages in row groups 1 and 2 (arrow's page reader
// lists them so). DuckDB 1.5.6 reads d, f and h of both files as the
// table above says, and hyparquet 1.31.5 every column (DuckDB reads no
// integer BYTE_STREAM_SPLIT).
//
// arrowrs-bss-types.parquet has, with every column BYTE_STREAM_SPLIT
// (setEncoding), data pages v2 and ZSTD, for i from 0 to 99: u32 uint32
// 4000000000 + 7i, u64 uint64 18000000000000000000 + 1000003i, day date32
// 2024-01-01 + i days, ms time32[ms] 1000003i, us time64[us]
// 1000000007i, h float16 i/8, null if i%7 == 3 (hyparquet reads those).
//
// arrowrs-bss-refused.parquet has, with every column BYTE_STREAM_SPLIT
// (setEncoding), data pages v2 and no compression, 20 rows of d float64
// i/4, s int8 i-10 (INT32 with the INT(8) logical type) and l
// list<float64> [i/2, i/8].

// TestArrowRSByteStreamSplit reads the arrow-rs files (see above): INT32,
// INT64, FIXED_LEN_BYTE_ARRAY and timestamp columns, required and
// nullable, in data pages v1 and v2 (compressed, and not), several pages a
// chunk, and a chunk that falls back from its dictionary to
// BYTE_STREAM_SPLIT, in batches that end inside pages, with Records and
// UnitRecords; the values expected restate the table above.
func TestArrowRSByteStreamSplit(t *testing.T) {
	cols := []string{"row", "d", "f", "i32", "i64", "h", "u", "ts"}
	want := func(i int, name string) any {
		switch name {
		case "row":
			return int32(i)
		case "d":
			if i%5 == 0 {
				return nil
			}
			return float64(i) / 7
		case "f":
			if i%3 == 1 {
				return nil
			}
			return float32(float64(i) / 3)
		case "i32":
			return int32(i*7919 - 1000000)
		case "i64":
			if i%4 == 2 {
				return nil
			}
			return int64(i)*1000000007 - 5
		case "h":
			if i < 600 {
				return float64(i%4) / 2
			}
			return float64(i) / 11
		case "u":
			if i%6 == 5 {
				return nil
			}
			return string([]byte{byte(i), byte(i >> 8), byte(i * 7)})
		}
		return int64(1700000000000 + i*1000003)
	}
	for _, name := range []string{"arrowrs-bss-v1.parquet", "arrowrs-bss-v2.parquet"} {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r := open(t, "testdata/"+name, mem)
			if err := r.Unreadable(cols); err != nil {
				t.Fatalf("Unreadable: %v", err)
			}
			if r.NumUnits() != 3 {
				t.Fatalf("%d row groups, want the 3 the file was written with", r.NumUnits())
			}
			checkTypes(t, r, map[string]arrow.DataType{
				"d": arrow.PrimitiveTypes.Float64, "f": arrow.PrimitiveTypes.Float32,
				"i32": arrow.PrimitiveTypes.Int32, "i64": arrow.PrimitiveTypes.Int64,
				"u": &arrow.FixedSizeBinaryType{ByteWidth: 3}, "ts": &arrow.TimestampType{Unit: arrow.Millisecond},
			})
			for _, batch := range []int{0, 7, 50} {
				checkBSSReads(t, r, cols, batch, 1200, want)
			}
			// Each column alone, so that no other column's reader sets
			// the batches (a row group with a DELTA_BINARY_PACKED column
			// is read whole).
			for _, c := range cols {
				checkBSSReads(t, r, []string{c}, 13, 1200, want)
			}
		})
	}
}

// TestArrowRSByteStreamSplitTypes reads the other Arrow types that
// splitColumn takes (see splitWidth): unsigned integers, dates, times
// and float16, from arrowrs-bss-types.parquet (see above, which the values
// expected restate).
func TestArrowRSByteStreamSplitTypes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := open(t, "testdata/arrowrs-bss-types.parquet", mem)
	cols := []string{"u32", "u64", "day", "ms", "us", "h"}
	if err := r.Unreadable(cols); err != nil {
		t.Fatalf("Unreadable: %v", err)
	}
	checkTypes(t, r, map[string]arrow.DataType{
		"u32": arrow.PrimitiveTypes.Uint32, "u64": arrow.PrimitiveTypes.Uint64, "day": arrow.FixedWidthTypes.Date32,
		"ms": arrow.FixedWidthTypes.Time32ms, "us": arrow.FixedWidthTypes.Time64us, "h": arrow.FixedWidthTypes.Float16,
	})
	day0 := int32(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	want := func(i int, name string) any {
		switch name {
		case "u32":
			return uint32(4000000000 + 7*i)
		case "u64":
			return uint64(18000000000000000000 + 1000003*uint64(i))
		case "day":
			return day0 + int32(i)
		case "ms":
			return int32(1000003 * i)
		case "us":
			return int64(1000000007 * i)
		}
		if i%7 == 3 {
			return nil
		}
		return float32(i) / 8
	}
	for _, batch := range []int{0, 7} {
		checkBSSReads(t, r, cols, batch, 100, want)
	}
}

// TestXitongsysByteStreamSplit reads BYTE_STREAM_SPLIT columns, required
// and nullable, written by xitongsys/parquet-go (data pages v1, several a
// chunk, several row groups), whose footers list RLE, BIT_PACKED and PLAIN
// for every chunk whatever its pages are in, and a dictionary-encoded
// DOUBLE column of the same file, which splitColumn reads as well. The
// values expected are those written.
func TestXitongsysByteStreamSplit(t *testing.T) {
	type row struct {
		Row int64    `parquet:"name=row, type=INT64"`
		V   float64  `parquet:"name=v, type=DOUBLE, encoding=BYTE_STREAM_SPLIT"`
		N   *float64 `parquet:"name=n, type=DOUBLE, repetitiontype=OPTIONAL, encoding=BYTE_STREAM_SPLIT"`
		F   float32  `parquet:"name=f, type=FLOAT, encoding=BYTE_STREAM_SPLIT"`
		K   float64  `parquet:"name=k, type=DOUBLE, encoding=PLAIN_DICTIONARY"`
	}
	const n = 3000
	want := func(i int, name string) any {
		switch name {
		case "row":
			return int64(i)
		case "v":
			return float64(i)/7 - 100
		case "n":
			if i%4 == 1 {
				return nil
			}
			return float64(i) * 1.5e-3
		case "f":
			return float32(i) / 3
		}
		return float64(i%5) / 4
	}
	path := tempPath(t, "x.parquet")
	fw, err := local.NewLocalFileWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := xwriter.NewParquetWriter(fw, new(row), 1)
	if err != nil {
		t.Fatal(err)
	}
	pw.RowGroupSize, pw.PageSize, pw.CompressionType = 32<<10, 512, xparquet.CompressionCodec_SNAPPY
	for i := range n {
		r := row{Row: int64(i), V: want(i, "v").(float64), F: want(i, "f").(float32), K: want(i, "k").(float64)}
		if v, ok := want(i, "n").(float64); ok {
			r.N = &v
		}
		if err := pw.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.WriteStop(); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"v", "n", "f"} {
		if pageEncodings(t, path, c)[byteStreamSplit] == 0 {
			t.Fatalf("column %s has no BYTE_STREAM_SPLIT page", c)
		}
	}
	if pageEncodings(t, path, "k")[parquet.Encodings.PlainDict] == 0 {
		t.Fatal("column k has no dictionary-encoded page")
	}

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := open(t, path, mem)
	if r.NumUnits() < 2 {
		t.Fatalf("%d row groups, want several", r.NumUnits())
	}
	cols := []string{"row", "v", "n", "f", "k"}
	if err := r.Unreadable(cols); err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{0, 7} {
		checkBSSReads(t, r, cols, batch, n, want)
	}
}

// byteStreamSplit is the BYTE_STREAM_SPLIT encoding (9 in parquet.thrift).
const byteStreamSplit = parquet.Encoding(9)

// pageEncodings counts the data pages of col in the Parquet file at path
// by encoding, as arrow's page reader reads their headers.
func pageEncodings(t *testing.T, path, col string) map[parquet.Encoding]int {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	c := pf.MetaData().Schema.ColumnIndexByName(col)
	n := make(map[parquet.Encoding]int)
	for g := range pf.NumRowGroups() {
		pr, err := pf.RowGroup(g).GetColumnPageReader(c)
		if err != nil {
			t.Fatal(err)
		}
		for pr.Next() {
			if _, ok := pr.Page().(file.DataPage); ok {
				n[parquet.Encoding(pr.Page().Encoding())]++
			}
		}
		if err := pr.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestByteStreamSplitRefused: BYTE_STREAM_SPLIT columns that splitColumn
// does not read (an int8 column, INT32 in the file, and a list) are still
// refused by name before any page is read, saying which are read and what
// to write instead; the file's other BYTE_STREAM_SPLIT column reads.
func TestByteStreamSplitRefused(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := "testdata/arrowrs-bss-refused.parquet"
	r := open(t, path, mem)
	for col, kind := range map[string]string{"s": "this one is INT32, read as int8", "l": "this one is DOUBLE, read as list<"} {
		err := r.Unreadable([]string{"d", col})
		if err == nil {
			t.Fatalf("Unreadable(%s): nil", col)
		}
		rr, rerr := r.Records(context.Background(), []string{"d", col}, 0)
		if rerr == nil {
			rr.Release()
			t.Fatalf("Records(%s): no error", col)
		}
		_, uerr := r.UnitRecords(context.Background(), []string{col}, 0, 0)
		if uerr == nil {
			t.Fatalf("UnitRecords(%s): no error", col)
		}
		for _, e := range []error{err, rerr, uerr} {
			for _, part := range []string{path, fmt.Sprintf("column %q, row group 0", col), "BYTE_STREAM_SPLIT",
				"FLOAT, DOUBLE, INT32, INT64 and FIXED_LEN_BYTE_ARRAY", kind, "PARQUET_VERSION v1"} {
				if !strings.Contains(e.Error(), part) {
					t.Errorf("error %q does not contain %q", e, part)
				}
			}
		}
	}
	checkBSSReads(t, r, []string{"d"}, 3, 20, func(i int, _ string) any { return float64(i) / 4 })
}

// TestByteStreamSplitFlips flips each byte of BYTE_STREAM_SPLIT column
// chunks in turn (uncompressed, or LZ4_RAW, whose decoder checks sizes: a
// flipped snappy length can make arrow's codec allocate gigabytes), and
// reads the column: a read must not panic or leak, and must fail with an
// error naming the file and the column, or read every row. Some flips
// must be noticed.
func TestByteStreamSplitFlips(t *testing.T) {
	if testing.Short() {
		t.Skip("reads each file a few thousand times")
	}
	for _, c := range []struct {
		file, col string
		rows      int64
	}{
		{"duckdb-bss-uncompressed.parquet", "g", 300}, // data page v1
		{"duckdb-bss-lz4raw.parquet", "g", 300},
		{"arrowrs-bss-v2.parquet", "u", 1200}, // data pages v2, FIXED_LEN_BYTE_ARRAY
	} {
		t.Run(c.file, func(t *testing.T) {
			orig, err := os.ReadFile("testdata/" + c.file)
			if err != nil {
				t.Fatal(err)
			}
			start, end := chunkBytes(t, "testdata/"+c.file, c.col)
			path := tempPath(t, c.file)
			noticed := 0
			for off := start; off < end; off++ {
				data := bytes.Clone(orig)
				data[off] ^= 0xff
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				rows, err := readColumn(path, c.col, mem)
				if n := mem.CurrentAlloc(); n != 0 {
					t.Fatalf("byte %d: %d bytes not released (error %v)", off, n, err)
				}
				switch {
				case err != nil:
					noticed++
					if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprintf("column %q", c.col)) {
						t.Fatalf("byte %d: error %q does not name the file and column", off, err)
					}
				case rows != c.rows:
					t.Fatalf("byte %d: read %d rows, no error", off, rows)
				}
			}
			if noticed == 0 {
				t.Errorf("no flip of bytes %d to %d was noticed", start, end)
			}
			t.Logf("%d of %d flips failed the read", noticed, end-start)
		})
	}
}

// chunkBytes returns the byte range of the first row group's column
// chunk of col, from the footer.
func chunkBytes(t *testing.T, path, col string) (start, end int64) {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	md := pf.MetaData()
	cc, err := md.RowGroup(0).ColumnChunk(md.Schema.ColumnIndexByName(col))
	if err != nil {
		t.Fatal(err)
	}
	start = cc.DataPageOffset()
	if cc.HasDictionaryPage() {
		start = min(start, cc.DictionaryPageOffset())
	}
	return start, start + cc.TotalCompressedSize()
}

// readColumn reads column col of path in batches of 7 rows, and returns
// the rows read and the first error.
func readColumn(path, col string, mem memory.Allocator) (int64, error) {
	r, err := readers.Open(context.Background(), readers.File{Path: path}, mem)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	rr, err := r.Records(context.Background(), []string{col}, 7)
	return drainBatches(rr, err, 1)
}

// BenchmarkByteStreamSplit reads a required DOUBLE column of 1<<20 rows
// in BYTE_STREAM_SPLIT (written by xitongsys/parquet-go, in pages of 1
// MiB, uncompressed) in the pipeline's batches, and reports rows/s.
func BenchmarkByteStreamSplit(b *testing.B) {
	const n = 1 << 20
	path := b.TempDir() + "/bss.parquet"
	type row struct {
		V float64 `parquet:"name=v, type=DOUBLE, encoding=BYTE_STREAM_SPLIT"`
	}
	fw, err := local.NewLocalFileWriter(path)
	if err != nil {
		b.Fatal(err)
	}
	pw, err := xwriter.NewParquetWriter(fw, new(row), 1)
	if err != nil {
		b.Fatal(err)
	}
	pw.PageSize, pw.CompressionType = 1<<20, xparquet.CompressionCodec_UNCOMPRESSED
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		if err := pw.Write(row{10 + 3*rng.NormFloat64()}); err != nil {
			b.Fatal(err)
		}
	}
	if err := pw.WriteStop(); err != nil {
		b.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		b.Fatal(err)
	}
	r, err := readers.Open(context.Background(), readers.File{Path: path}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ResetTimer()
	for range b.N {
		rr, err := r.Records(context.Background(), []string{"v"}, readers.DefaultBatchSize)
		rows, err := drainBatches(rr, err, 1)
		if err != nil || rows != n {
			b.Fatalf("%d rows, error %v", rows, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
