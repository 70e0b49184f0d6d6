package readers

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
)

// WatchHeap checks the heap every 100 ms until stop is called, and panics
// (ending the test binary: a read that allocates without bound cannot be
// stopped otherwise) if it passes limit bytes. what names the check.
func WatchHeap(limit uint64, what string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > limit {
				panic(fmt.Sprintf("%s: the heap reached %d bytes, more than %d", what, ms.HeapAlloc, limit))
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// deltaColumns are the columns of deltaTestFile and their encodings: of
// each type, a required and a nullable one.
var deltaColumns = []struct {
	name     string
	typ      arrow.DataType
	nullable bool
	enc      parquet.Encoding
}{
	{"i32", arrow.PrimitiveTypes.Int32, false, parquet.Encodings.DeltaBinaryPacked},
	{"i32n", arrow.PrimitiveTypes.Int32, true, parquet.Encodings.DeltaBinaryPacked},
	{"i64", arrow.PrimitiveTypes.Int64, false, parquet.Encodings.DeltaBinaryPacked},
	{"i64n", arrow.PrimitiveTypes.Int64, true, parquet.Encodings.DeltaBinaryPacked},
	{"s", arrow.BinaryTypes.String, false, parquet.Encodings.DeltaByteArray},
	{"sn", arrow.BinaryTypes.String, true, parquet.Encodings.DeltaByteArray},
	{"ls", arrow.BinaryTypes.String, false, parquet.Encodings.DeltaLengthByteArray},
	{"lsn", arrow.BinaryTypes.String, true, parquet.Encodings.DeltaLengthByteArray},
}

// deltaColumnNames are the names of deltaColumns.
func deltaColumnNames() []string {
	var names []string
	for _, c := range deltaColumns {
		names = append(names, c.name)
	}
	return names
}

// deltaRecord returns n random rows of deltaColumns: integers that walk
// by small steps with a few jumps (miniblocks of many bit widths, some
// 0), strings with shared prefixes, and a null in about every seventh
// row of the nullable columns.
func deltaRecord(n int, seed uint64) arrow.Record {
	var fields []arrow.Field
	for _, c := range deltaColumns {
		fields = append(fields, arrow.Field{Name: c.name, Type: c.typ, Nullable: c.nullable})
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	rng := rand.New(rand.NewPCG(seed, 2))
	var walk int64
	prefix := "p"
	for row := range n {
		switch {
		case row%500 < 40:
			// A constant run: deltas of bit width 0.
		case rng.IntN(50) == 0:
			walk += rng.Int64N(1<<40) - 1<<39
		default:
			walk += rng.Int64N(200) - 100
		}
		if rng.IntN(20) == 0 {
			prefix = fmt.Sprintf("prefix-%d-", rng.IntN(1000))
		}
		str := prefix + strings.Repeat("x", rng.IntN(6)) + fmt.Sprint(rng.IntN(100))
		for k, c := range deltaColumns {
			fb := b.Field(k)
			if c.nullable && rng.IntN(7) == 0 {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int32Builder:
				fb.Append(int32(walk))
			case *array.Int64Builder:
				fb.Append(walk)
			case *array.StringBuilder:
				fb.Append(str)
			}
		}
	}
	return b.NewRecord()
}

// deltaProps returns writer properties for deltaColumns in their delta
// encodings, without dictionaries, in pages of about 1 KiB and row
// groups of rowGroup rows, and the extra props.
func deltaProps(rowGroup int64, extra ...parquet.WriterProperty) []parquet.WriterProperty {
	props := []parquet.WriterProperty{parquet.WithDictionaryDefault(false), parquet.WithDataPageSize(1 << 10),
		parquet.WithMaxRowGroupLength(rowGroup), parquet.WithBatchSize(200)}
	for _, c := range deltaColumns {
		props = append(props, parquet.WithEncodingFor(c.name, c.enc))
	}
	return append(props, extra...)
}

// columnStrings returns the values of column i of recs as strings, "<nil>"
// for nulls.
func columnStrings(recs []arrow.Record, i int) []string {
	var out []string
	for _, rec := range recs {
		col := rec.Column(i)
		for k := range col.Len() {
			if col.IsNull(k) {
				out = append(out, "<nil>")
			} else {
				out = append(out, col.ValueStr(k))
			}
		}
	}
	return out
}

// readRecords reads rr to the end, retaining its batches, and returns
// them and rr's error.
func readRecords(rr RecordReader, err error) ([]arrow.Record, error) {
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	var recs []arrow.Record
	for rr.Next() {
		rec := rr.Record()
		rec.Retain()
		recs = append(recs, rec)
	}
	return recs, rr.Err()
}

// TestDeltaGuardValidFiles writes deltaColumns with arrow's writer in
// data pages v1 and v2, uncompressed, snappy and zstd, several pages per
// column chunk, and reads them back through the guard, with Records and
// unit by unit: every value must read as written, every column chunk be
// judged good, and so must a walk of every chunk (the guard's fallback).
func TestDeltaGuardValidFiles(t *testing.T) {
	defer WatchHeap(1<<30, "TestDeltaGuardValidFiles")()
	const rows = 6000
	want := deltaRecord(rows, 1)
	defer want.Release()
	names := deltaColumnNames()
	for _, version := range []parquet.DataPageVersion{parquet.DataPageV1, parquet.DataPageV2} {
		for _, codec := range []compress.Compression{compress.Codecs.Uncompressed, compress.Codecs.Snappy, compress.Codecs.Zstd} {
			t.Run(fmt.Sprintf("v%d-%s", version+1, codec), func(t *testing.T) {
				path := writeTestParquet(t, want, deltaProps(rows/2, parquet.WithDataPageVersion(version), parquet.WithCompression(codec))...)
				r := openTestFile(t, path, memory.DefaultAllocator)
				defer func() {
					if err := r.Close(); err != nil {
						t.Error(err)
					}
				}()
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				for _, gc := range r.guard.chunks {
					if n := checkDeltaPages(t, data, gc); n < 4 {
						t.Fatalf("column chunk %q of row group %d has %d pages, want several", gc.name, gc.rg, n)
					}
				}
				ctx := context.Background()
				got, err := readRecords(r.Records(ctx, names, 777))
				defer releaseRecords(got)
				if err != nil {
					t.Fatal(err)
				}
				checkAllJudged(t, r.guard)
				for u := range r.NumUnits() {
					unit, err := readRecords(r.UnitRecords(ctx, names, 500, u))
					defer releaseRecords(unit)
					if err != nil {
						t.Fatalf("unit %d: %v", u, err)
					}
					got = append(got[:len(got):len(got)], unit...)
				}
				for k, name := range names {
					w := columnStrings([]arrow.Record{want}, k)
					g := columnStrings(got, k)
					if len(g) != 2*len(w) {
						t.Fatalf("column %s: %d values, want %d twice", name, len(g), len(w))
					}
					for i := range g {
						if g[i] != w[i%len(w)] {
							t.Fatalf("column %s: value %d is %q, want %q", name, i, g[i], w[i%len(w)])
						}
					}
				}
				// The walk judges each chunk good too.
				r2 := openTestFile(t, path, memory.DefaultAllocator)
				defer func() {
					if err := r2.Close(); err != nil {
						t.Error(err)
					}
				}()
				for _, gc := range r2.guard.chunks {
					if v := r2.guard.walk(gc); v.state != chunkGood {
						t.Errorf("walk of column chunk %q of row group %d: state %d (%v)", gc.name, gc.rg, v.state, v.err)
					}
				}
			})
		}
	}
}

// releaseRecords releases recs.
func releaseRecords(recs []arrow.Record) {
	for _, rec := range recs {
		rec.Release()
	}
}

// checkDeltaPages checks the data pages of column chunk c of the file
// data with checkDeltaPage directly: each must be in a delta encoding,
// its values section found (not errArrowFails) and judged good. It
// returns the number of data pages.
func checkDeltaPages(t *testing.T, data []byte, c *guardChunk) int {
	t.Helper()
	pages := 0
	for _, pos := range pageStarts(t, data, c) {
		h, n, err := decodePageHeader(data[pos:c.end])
		if err != nil {
			t.Fatal(err)
		}
		if h.typ == pageDictionary {
			continue
		}
		pages++
		body := int64(h.compressed)
		if h.typ == pageDataV2 && !h.v2Compressed {
			body = int64(h.uncompressed)
		}
		b := data[pos+n : pos+n+body]
		if !isDeltaEncoding(h.encoding) {
			t.Fatalf("column chunk %q: page at byte %d has encoding %d", c.name, pos, h.encoding)
		}
		if _, err := pageValues(c, h, b); err != nil {
			t.Fatalf("column chunk %q: page at byte %d: values: %v", c.name, pos, err)
		}
		if err := checkDeltaPage(c, h, b); err != nil {
			t.Fatalf("column chunk %q: page at byte %d: %v", c.name, pos, err)
		}
	}
	return pages
}

// putUvarintLen writes v as a ULEB128 of exactly n bytes at the start of
// b (padded with continuation bytes, which decoders accept), failing t if
// it does not fit.
func putUvarintLen(t *testing.T, b []byte, v uint64, n int) {
	t.Helper()
	for i := range n {
		c := byte(v & 0x7f)
		v >>= 7
		if i < n-1 {
			c |= 0x80
		}
		b[i] = c
	}
	if v != 0 {
		t.Fatalf("%d does not fit in %d bytes", v, n)
	}
}

// TestDeltaGuardCorruptHeaders corrupts the DELTA_BINARY_PACKED headers
// of the first data page (v1, uncompressed) of required columns in each
// delta encoding: every read of the file must fail at once, naming the
// file, the column, the page and the fault, without a large allocation.
func TestDeltaGuardCorruptHeaders(t *testing.T) {
	want := deltaRecord(3000, 3)
	defer want.Release()
	good := writeTestParquet(t, want, deltaProps(3000)...)
	goodData, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	r := openTestFile(t, good, memory.DefaultAllocator)
	chunks := map[string]*guardChunk{}
	for _, gc := range r.guard.chunks {
		chunks[gc.name] = gc
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// The first data page of a column: its offset, header and values.
	page := func(name string) (int64, pageHeader, int64) {
		gc := chunks[name]
		pos := gc.start
		h, n, err := decodePageHeader(goodData[pos:gc.end])
		if err != nil || h.typ != pageData || !isDeltaEncoding(h.encoding) {
			t.Fatalf("column %s: first page %+v (%v), want a data page in a delta encoding", name, h, err)
		}
		v := pos + n
		if goodData[v] != 0x80 || goodData[v+1] != 0x01 || goodData[v+2] != 0x04 {
			t.Fatalf("column %s: values start % x, want a block size of 128 and 4 miniblocks", name, goodData[v:v+3])
		}
		return pos, h, v
	}
	type corruption struct {
		column, fault string
		edit          func(d []byte, h pageHeader, v int64)
	}
	var cases []corruption
	for _, col := range []string{"i32", "s", "ls"} {
		cases = append(cases,
			corruption{col, "block size 129 is not a positive multiple of 128", func(d []byte, _ pageHeader, v int64) { d[v] = 0x81 }},
			corruption{col, "0 miniblocks do not divide the block size 128", func(d []byte, _ pageHeader, v int64) { d[v+2] = 0 }},
			corruption{col, "16 values per miniblock (block size 128, 8 miniblocks) is not a multiple of 32", func(d []byte, _ pageHeader, v int64) { d[v+2] = 8 }},
			corruption{col, "is more than the page's", func(d []byte, h pageHeader, v int64) {
				_, n := binary.Uvarint(d[v+3:])
				putUvarintLen(t, d[v+3:], uint64(h.values)+1, n)
			}},
		)
	}
	cases = append(cases, corruption{"s", "DELTA_BYTE_ARRAY suffix lengths (at byte ", func(d []byte, h pageHeader, v int64) {
		n, err := deltaStream(d[v:], int64(h.values))
		if err != nil {
			t.Fatal(err)
		}
		if d[v+int64(n)] != 0x80 {
			t.Fatalf("the suffix lengths start % x", d[v+int64(n):v+int64(n)+3])
		}
		d[v+int64(n)] = 0x81
	}})
	names := deltaColumnNames()
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d-%s", i, tc.column), func(t *testing.T) {
			defer WatchHeap(1<<30, t.Name())()
			pos, h, v := page(tc.column)
			d := bytes.Clone(goodData)
			tc.edit(d, h, v)
			path := filepath.Join(t.TempDir(), "bad.parquet")
			if err := os.WriteFile(path, d, 0o644); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := openTestFile(t, path, memory.DefaultAllocator)
			defer func() {
				if err := r.Close(); err != nil {
					t.Error(err)
				}
			}()
			recs, err := readRecords(r.Records(context.Background(), names, 100))
			releaseRecords(recs)
			runtime.ReadMemStats(&after)
			wantErr := []string{path, fmt.Sprintf("column %q", tc.column), fmt.Sprintf("page at byte %d: ", pos), tc.fault}
			for _, w := range wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("error %v, want one containing %q", err, w)
				}
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
				t.Errorf("the read allocated %d bytes", n)
			}
			t.Log(err)
		})
	}
}

// deltaBytes builds a DELTA_BINARY_PACKED stream: a header of block size,
// miniblocks, total count (ULEB128s) and first value (zigzag), then raw
// bytes.
func deltaBytes(block, mini, total uint64, first int64, raw ...[]byte) []byte {
	b := binary.AppendUvarint(nil, block)
	b = binary.AppendUvarint(b, mini)
	b = binary.AppendUvarint(b, total)
	b = binary.AppendVarint(b, first)
	for _, r := range raw {
		b = append(b, r...)
	}
	return b
}

// TestDeltaStream checks deltaStream on hand-made streams: the bytes it
// consumes (as arrow's decoder does: whole needed miniblocks, all the bit
// widths of each block, unused widths unchecked) and each fault.
func TestDeltaStream(t *testing.T) {
	zeros := func(n int) []byte { return make([]byte, n) }
	for _, tc := range []struct {
		name    string
		b       []byte
		nvalues int64
		want    int    // bytes consumed, if fault is ""
		fault   string // in the error
	}{
		{"empty stream", deltaBytes(128, 4, 0, 0, []byte{0xff}), 10, 5, ""},
		{"one value", deltaBytes(128, 4, 1, -3, []byte{0xff}), 10, 5, ""},
		{"one miniblock", deltaBytes(128, 4, 33, 0, []byte{0, 1, 0, 0, 0}, zeros(4), []byte{0xff, 0xff}), 40, 5 + 1 + 4 + 4, ""},
		{"two blocks", deltaBytes(128, 4, 200, 7,
			[]byte{9, 2, 0, 3, 64}, zeros(8+0+12+256), // 4 miniblocks
			[]byte{2, 1, 1, 1, 200}, zeros(12), // 71 values: 3 miniblocks; the 4th's width unused
			[]byte{0xff}), 300, 6 + 5 + 276 + 5 + 12, ""},
		{"one block per page", deltaBytes(1<<20, 4, 1, 0), 1 << 20, 6, ""},
		{"the largest block", deltaBytes(1<<20, 4, 1, 0), 10, 6, ""},
		{"block size 0", deltaBytes(0, 4, 1, 0), 10, 0, "block size 0 is not a positive multiple of 128"},
		{"block size 129", deltaBytes(129, 3, 1, 0), 10, 0, "block size 129 is not a positive multiple of 128"},
		{"huge block", deltaBytes(1<<20+128, 4, 1, 0), 10, 0, "block size 1048704 is more than 1048576"},
		{"huge block, huge page", deltaBytes(1<<40, 1<<35, 1, 0), 1 << 40, 0, "block size 1099511627776 is more than 1048576"},
		{"zero miniblocks", deltaBytes(128, 0, 1, 0), 10, 0, "0 miniblocks do not divide the block size 128"},
		{"3 miniblocks", deltaBytes(128, 3, 1, 0), 10, 0, "3 miniblocks do not divide the block size 128"},
		{"16 per miniblock", deltaBytes(128, 8, 1, 0), 10, 0, "16 values per miniblock (block size 128, 8 miniblocks) is not a multiple of 32"},
		{"too many values", deltaBytes(128, 4, 11, 0), 10, 0, "total value count 11 is more than the page's 10 values"},
		{"truncated header", []byte{0x80}, 10, 0, "the header's block size does not decode in the 1 bytes left"},
		{"no first value", deltaBytes(128, 4, 1, 0)[:4], 10, 0, "the header's first value does not decode in the 0 bytes left"},
		{"overflowing varint", append(deltaBytes(128, 4, 1, 0)[:4], bytes.Repeat([]byte{0xff}, 11)...), 10, 0, "the header's first value does not decode"},
		{"no min delta", deltaBytes(128, 4, 2, 0), 10, 0, "the block at byte 5 of the stream has no minimum delta in the 0 bytes left"},
		{"no bit widths", deltaBytes(128, 4, 2, 0, []byte{0, 1, 1}), 10, 0, "has 4 miniblock bit widths, but 2 bytes are left"},
		{"width 65", deltaBytes(128, 4, 2, 0, []byte{0, 65, 0, 0, 0}, zeros(260)), 10, 0, "miniblock 0 of the block at byte 5 of the stream has a bit width of 65"},
		{"short miniblock", deltaBytes(128, 4, 40, 0, []byte{0, 8, 8, 0, 0}, zeros(32+31)), 40, 0, "miniblock 1 of the block at byte 5 of the stream needs 32 bytes, but 31 are left"},
		{"width 0, no bytes", deltaBytes(128, 4, 1000, 0, []byte{0, 0, 0, 0, 0}), 1000, 0, "the block at byte 11 of the stream has no minimum delta"},
	} {
		n, err := deltaStream(tc.b, tc.nvalues)
		switch {
		case tc.fault == "" && (err != nil || n != tc.want):
			t.Errorf("%s: %d bytes (%v), want %d", tc.name, n, err, tc.want)
		case tc.fault != "" && (err == nil || !strings.Contains(err.Error(), tc.fault)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.fault)
		}
	}
}

// TestCheckDeltaValues checks the streams of each encoding: one of
// DELTA_BINARY_PACKED and DELTA_LENGTH_BYTE_ARRAY (the bytes after are
// not read), two of DELTA_BYTE_ARRAY, the second where the first ends.
func TestCheckDeltaValues(t *testing.T) {
	first := deltaBytes(128, 4, 33, 0, []byte{0, 1, 0, 0, 0}, make([]byte, 4)) // 14 bytes
	good := deltaBytes(128, 4, 1, 5)
	bad := deltaBytes(256, 4, 1, 5) // 64 values per miniblock: valid
	bad[0] = 0x81                   // block size 257
	for _, tc := range []struct {
		enc   int32
		b     []byte
		fault string
	}{
		{encodingDeltaBinaryPacked, slices.Concat(first, bad), ""},
		{encodingDeltaLengthByteArray, slices.Concat(first, bad), ""},
		{encodingDeltaByteArray, slices.Concat(first, good, []byte("abc")), ""},
		{encodingDeltaByteArray, slices.Concat(first, bad), "DELTA_BYTE_ARRAY suffix lengths (at byte 14 of the values): block size 257 is not"},
		{encodingDeltaByteArray, first, "DELTA_BYTE_ARRAY suffix lengths (at byte 14 of the values): the header's block size does not decode in the 0 bytes left"},
		{encodingDeltaByteArray, bad, "DELTA_BYTE_ARRAY prefix lengths: block size 257"},
		{encodingDeltaLengthByteArray, bad, "DELTA_LENGTH_BYTE_ARRAY lengths: block size 257"},
		{encodingDeltaBinaryPacked, bad, "DELTA_BINARY_PACKED values: block size 257"},
	} {
		err := checkDeltaValues(tc.b, tc.enc, 40)
		if tc.fault == "" && err != nil || tc.fault != "" && (err == nil || !strings.Contains(err.Error(), tc.fault)) {
			t.Errorf("%s % x: error %v, want %q", deltaEncodingName(tc.enc), tc.b, err, tc.fault)
		}
	}
}

// TestDeltaGuardSpanningPages reads a DELTA_BINARY_PACKED column whose
// pages are many times the read buffer (16 KiB), so that the guard
// gathers each page from several reads: a good file reads with the
// guard making no reads of its own and judging every chunk good; in a
// copy whose third page has a block size of 129, the read that completes
// that page fails, and the error names the column and the page, as does
// a walk of the chunk.
func TestDeltaGuardSpanningPages(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	rng := rand.New(rand.NewPCG(5, 5))
	for range 60000 {
		if rng.IntN(9) == 0 {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(rng.Int64N(1 << 40))
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	good := writeTestParquet(t, rec, parquet.WithDictionaryDefault(false), parquet.WithDataPageSize(64<<10),
		parquet.WithEncodingFor("i", parquet.Encodings.DeltaBinaryPacked))
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	r, c := openGuardTest(t, good)
	gc := r.guard.chunks[0]
	starts := pageStarts(t, data, gc)
	if len(starts) < 4 || starts[3]-starts[2] < 3*guardTestBuffer {
		t.Fatalf("pages at %v: want several, of more than 3 read buffers", starts)
	}
	var reads [2]int64
	for pass := range 2 {
		if n, err := drainRecords(r.Records(context.Background(), []string{"i"}, 1000)); err != nil || n != 60000 {
			t.Fatalf("pass %d: %d rows, %v", pass, n, err)
		}
		reads[pass], _ = c.take()
		checkAllJudged(t, r.guard)
	}
	if reads[0] != reads[1] {
		t.Errorf("checking took %d reads beyond arrow's own %d", reads[0]-reads[1], reads[1])
	}

	pos := starts[2]
	h, n, err := decodePageHeader(data[pos:])
	if err != nil {
		t.Fatal(err)
	}
	// Required levels: none here; definition levels: RLE, length-prefixed.
	v := pos + n + 4 + int64(binary.LittleEndian.Uint32(data[pos+n:]))
	if data[v] != 0x80 || data[v+1] != 0x01 {
		t.Fatalf("page at %d (%+v): values start % x", pos, h, data[v:v+4])
	}
	bad := bytes.Clone(data)
	bad[v] = 0x81
	path := filepath.Join(t.TempDir(), "bad.parquet")
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`column "i": corrupt column chunk "i" of row group 0: page at byte %d: DELTA_BINARY_PACKED values: block size 129`, pos)
	r, _ = openGuardTest(t, path)
	_, err = drainRecords(r.Records(context.Background(), []string{"i"}, 1000))
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one naming %s and containing %q", err, path, want)
	}
	// The body's last read fails whole; the bytes before the page pass.
	end := pos + n + int64(h.compressed)
	p := make([]byte, 100)
	if k, err := r.guard.ReadAt(p, end-50); k != 0 || err == nil {
		t.Errorf("ReadAt the page's last bytes: %d bytes, error %v; want none and an error", k, err)
	}
	if k, err := r.guard.ReadAt(p, pos-100); k != 100 || err != nil {
		t.Errorf("ReadAt the bytes before the page: %d bytes, error %v; want 100", k, err)
	}
	r, _ = openGuardTest(t, path)
	if v := r.guard.walk(r.guard.chunks[0]); v.state != chunkBad || v.badAt != pos || !strings.Contains(v.err.Error(), "block size 129") {
		t.Errorf("walk: state %d at %d (%v), want bad at %d", v.state, v.badAt, v.err, pos)
	}
}
