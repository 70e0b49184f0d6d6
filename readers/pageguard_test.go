package readers

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
)

// countingReaderAt counts the reads of a file and the bytes they ask for.
type countingReaderAt struct {
	io.ReaderAt
	mu           sync.Mutex
	reads, bytes int64
}

// ReadAt implements io.ReaderAt.
func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.reads++
	c.bytes += int64(len(p))
	c.mu.Unlock()
	return c.ReaderAt.ReadAt(p, off)
}

// take returns the counts and zeroes them.
func (c *countingReaderAt) take() (reads, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	reads, bytes = c.reads, c.bytes
	c.reads, c.bytes = 0, 0
	return reads, bytes
}

// guardTestBuffer is the read buffer the guard tests give arrow: each
// column chunk of guardTestFile is many times larger.
const guardTestBuffer = 16 << 10

// guardTestColumns are the columns of guardTestFile: i (int64, required:
// read by fixedColumn), n (int64, nullable), s (string) and f (float64,
// required: fixedColumn).
var guardTestColumns = []string{"i", "n", "s", "f"}

// guardTestFile writes a Parquet file of 3 row groups of 40000 random
// rows of guardTestColumns, in data pages of about 4 KiB, without
// dictionaries or compression: a few hundred KiB per column chunk.
func guardTestFile(t *testing.T) string {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	rng := rand.New(rand.NewPCG(1, 1))
	const rows = 3 * 40000
	for range rows {
		b.Field(0).(*array.Int64Builder).Append(rng.Int64())
		if rng.IntN(10) == 0 {
			b.Field(1).(*array.Int64Builder).AppendNull()
		} else {
			b.Field(1).(*array.Int64Builder).Append(rng.Int64())
		}
		b.Field(2).(*array.StringBuilder).Append(strings.Repeat("x", rng.IntN(8)) + string(rune('a'+rng.IntN(26))))
		b.Field(3).(*array.Float64Builder).Append(rng.Float64())
	}
	rec := b.NewRecord()
	defer rec.Release()
	return writeTestParquet(t, rec, parquet.WithMaxRowGroupLength(rows/3), parquet.WithDataPageSize(4<<10),
		parquet.WithDictionaryDefault(false))
}

// openGuardTest opens path with a read buffer of guardTestBuffer and a
// counter under its pageGuard.
func openGuardTest(t *testing.T, path string) (*Reader, *countingReaderAt) {
	t.Helper()
	r := openTestFile(t, path, memory.DefaultAllocator)
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	r.props.BufferSize = guardTestBuffer
	c := &countingReaderAt{ReaderAt: r.guard.ReaderAt}
	r.guard.ReaderAt = c
	return r, c
}

// drainRecords reads rr to the end and returns the rows and rr's error.
func drainRecords(rr RecordReader, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	defer rr.Release()
	var n int64
	for rr.Next() {
		n += rr.Record().NumRows()
	}
	return n, rr.Err()
}

// TestPageGuardNoExtraReads reads every column of a file of several row
// groups, each column chunk many times larger than the read buffer and of
// many pages, twice: the first time the guard checks every chunk, the
// second every chunk is known good, so the second read makes arrow's own
// reads only. The first must make no more (the guard decodes the headers
// from the bytes arrow reads), and every chunk must have been judged.
func TestPageGuardNoExtraReads(t *testing.T) {
	r, c := openGuardTest(t, guardTestFile(t))
	for _, gc := range r.guard.chunks {
		if size := gc.end - gc.start; size < 8*guardTestBuffer {
			t.Fatalf("column chunk %q of row group %d has %d bytes, want at least %d", gc.name, gc.rg, size, 8*guardTestBuffer)
		}
	}
	ctx := context.Background()
	var reads, bytes [2]int64
	for pass := range 2 {
		n, err := drainRecords(r.Records(ctx, guardTestColumns, 10000))
		if err != nil || n != r.NumRows() {
			t.Fatalf("pass %d: read %d rows (%v), want %d", pass, n, err, r.NumRows())
		}
		reads[pass], bytes[pass] = c.take()
		if pass == 0 {
			checkAllJudged(t, r.guard)
		}
	}
	t.Logf("first read: %d reads, %d bytes; second: %d reads, %d bytes", reads[0], bytes[0], reads[1], bytes[1])
	if reads[1] < 4*int64(len(r.guard.chunks)) {
		t.Fatalf("the second read made %d reads of %d column chunks: the chunks are not many times the buffer", reads[1], len(r.guard.chunks))
	}
	if reads[0] != reads[1] || bytes[0] != bytes[1] {
		t.Errorf("checking the chunks took %d reads of %d bytes beyond arrow's own %d reads of %d bytes",
			reads[0]-reads[1], bytes[0]-bytes[1], reads[1], bytes[1])
	}
}

// TestPageGuardInterleavedStreams reads one unit with two streams at
// once, a batch of each in turn, so that two streams of each column chunk
// are checked together: it must take no reads beyond arrow's own either.
func TestPageGuardInterleavedStreams(t *testing.T) {
	r, c := openGuardTest(t, guardTestFile(t))
	ctx := context.Background()
	var reads [2]int64
	for pass := range 2 {
		var rrs [2]RecordReader
		for k := range rrs {
			rr, err := r.UnitRecords(ctx, guardTestColumns, 1000, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Release()
			rrs[k] = rr
		}
		var rows [2]int64
		for more := true; more; {
			more = false
			for k, rr := range rrs {
				if rr.Next() {
					rows[k] += rr.Record().NumRows()
					more = true
				}
			}
		}
		for k, rr := range rrs {
			if rr.Err() != nil || rows[k] != r.UnitRows(1) {
				t.Fatalf("pass %d, stream %d: read %d rows (%v), want %d", pass, k, rows[k], rr.Err(), r.UnitRows(1))
			}
		}
		reads[pass], _ = c.take()
	}
	if reads[0] != reads[1] {
		t.Errorf("checking took %d reads beyond arrow's own %d", reads[0]-reads[1], reads[1])
	}
}

// checkAllJudged fails t if a column chunk of g is not known good.
func checkAllJudged(t *testing.T, g *pageGuard) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.chunks {
		if c.state != chunkGood {
			t.Errorf("column chunk %q of row group %d: state %d (%v), want good", c.name, c.rg, c.state, c.err)
		}
	}
}

// pageStarts returns the offsets of the page headers of column chunk c
// of the file data, found as the guard finds them.
func pageStarts(t *testing.T, data []byte, c *guardChunk) []int64 {
	t.Helper()
	var starts []int64
	var values int64
	for pos := c.start; values < c.values; {
		h, n, err := decodePageHeader(data[pos:c.end])
		if err != nil {
			t.Fatalf("page header at %d: %v", pos, err)
		}
		starts = append(starts, pos)
		if h.typ != pageDictionary {
			values += int64(h.values)
		}
		pos += n + int64(h.compressed)
	}
	return starts
}

// corruptMidChunk writes a copy of the file at path in which the type of
// a data page in the middle of the chunk of column name in row group 1 is
// INDEX_PAGE, which arrow v17 would take the page's body for the next
// header of; it returns the copy's path and the page's offset.
func corruptMidChunk(t *testing.T, path, name string) (string, int64) {
	t.Helper()
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
	var c *guardChunk
	for _, gc := range r.guard.chunks {
		if gc.name == name && gc.rg == 1 {
			c = gc
		}
	}
	starts := pageStarts(t, data, c)
	pos := starts[len(starts)/2]
	// type: field 1, i32 (0x15), then zigzag DATA_PAGE (0); INDEX_PAGE is 1.
	if data[pos] != 0x15 || data[pos+1] != 0 {
		t.Fatalf("page header at %d starts % x, want 15 00", pos, data[pos:pos+2])
	}
	data[pos+1] = 2
	out := filepath.Join(t.TempDir(), "corrupt-"+name+".parquet")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out, pos
}

// TestPageGuardMidChunk reads files with an index page in the middle of a
// column chunk, of a column pqarrow reads (n) and one fixedColumn reads
// (i): the read must fail at once with an error naming the file and the
// column, arrow having read the chunk's bytes before that page only.
func TestPageGuardMidChunk(t *testing.T) {
	good := guardTestFile(t)
	for _, name := range []string{"n", "i"} {
		t.Run(name, func(t *testing.T) {
			path, pos := corruptMidChunk(t, good, name)
			r, _ := openGuardTest(t, path)
			done := make(chan error, 1)
			go func() {
				rr, err := r.Records(context.Background(), guardTestColumns, 1000)
				if err != nil {
					done <- err
					return
				}
				defer rr.Release()
				for rr.Next() {
				}
				done <- rr.Err()
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `column "`+name+`"`) || !strings.Contains(err.Error(), "INDEX_PAGE") && !strings.Contains(err.Error(), "of type 1") {
					t.Errorf("error %v, want one naming %s, column %q and the page type", err, path, name)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("reading the file did not end in ten seconds")
			}
			// A read of the chunk's bytes from the bad page on fails too.
			p := make([]byte, 64)
			if n, err := r.guard.ReadAt(p, pos-8); n != 8 || err == nil {
				t.Errorf("ReadAt 8 bytes before the bad page: %d bytes, error %v; want 8 bytes and an error", n, err)
			}
		})
	}
}

// TestPageGuardWalk checks the fallback for a read of a column chunk
// that no stream's cursor expects: the chunk is walked from its start
// (one read per page header), and judged; the bytes before a bad page
// header pass, the read that reaches it fails.
func TestPageGuardWalk(t *testing.T) {
	good := guardTestFile(t)
	bad, pos := corruptMidChunk(t, good, "s")
	goodData, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		ok   bool
	}{{good, true}, {bad, false}} {
		r, c := openGuardTest(t, tc.path)
		var gc *guardChunk
		for _, x := range r.guard.chunks {
			if x.name == "s" && x.rg == 1 {
				gc = x
			}
		}
		headers := 0 // the headers the walk reads
		for _, start := range pageStarts(t, goodData, gc) {
			if tc.ok || start <= pos {
				headers++
			}
		}
		p := make([]byte, 100)
		n, err := r.guard.ReadAt(p, gc.start+10)
		reads, _ := c.take()
		if n != len(p) || err != nil { // bytes before the bad page pass
			t.Errorf("%s: ReadAt in the chunk: %d bytes, error %v", tc.path, n, err)
		}
		// The read itself, and one per page header up to the verdict.
		if reads != int64(1+headers) {
			t.Errorf("%s: %d reads, want %d: 1 + 1 per page header", tc.path, reads, 1+headers)
		}
		want := chunkGood
		if !tc.ok {
			want = chunkBad
		}
		checkJudged(t, r.guard, gc, want)
		if !tc.ok {
			if n, err := r.guard.ReadAt(p, pos-8); n != 8 || err == nil {
				t.Errorf("ReadAt 8 bytes before the bad page: %d bytes, error %v; want 8 bytes and an error", n, err)
			}
		}
	}
}

// checkJudged fails t if c's state in g is not want.
func checkJudged(t *testing.T, g *pageGuard, c *guardChunk, want chunkState) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.state != want {
		t.Errorf("column chunk %q of row group %d: state %d (%v), want %d", c.name, c.rg, c.state, c.err, want)
	}
}
