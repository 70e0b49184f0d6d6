package readers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/thrift/lib/go/thrift"
)

// pageGuard is the file under every arrow file.Reader of a Parquet
// Reader (pqarrow's, and fixedColumn's own): it checks the page headers of
// each column chunk, as arrow v17 will walk them, in the bytes arrow reads,
// and fails a read before arrow sees a page header that it could not walk
// past without leaving the chunk.
//
// Arrow's page reader reads a page header by peeking 16 KiB (then 32 KiB,
// up to 4 MiB, while the header does not decode) and decoding the view.
// Near the end of a column chunk its read buffer holds fewer bytes than
// that, but Peek returns the whole view anyway, with io.EOF, which the
// page reader ignores: past the chunk's last byte, the view holds whatever
// the buffer held before (zeros when new). A header that runs past the
// chunk is decoded from those bytes, and arrow skips a page of a type it
// does not know without skipping its body or counting its values, so it
// peeks again at the chunk's end, gets the same stale bytes, and decodes
// the same header again, forever (a 353-byte file made it spin for
// minutes, its memory growing by the page buffer each turn defers
// freeing). Pages in the middle of a chunk are read from the chunk's own
// bytes: arrow fails on them, or moves on.
//
// So a chunk is refused when a page header or page runs past the chunk's
// end (or the file's), when the chunk ends before the values its metadata
// counts, or when a page is of a type arrow v17 cannot skip (anything but
// a data page, v1 or v2, or a dictionary page: arrow would read an index
// page's body as the next header). Headers are decoded as arrow decodes
// them (see readPageHeader), from the chunk's real bytes only.
//
// Arrow reads a chunk through a buffered stream: ReadAt calls at
// increasing offsets from the chunk's start, each starting where the last
// ended. The guard follows each such stream with a pageCursor, decoding
// the headers in the bytes of each read as it passes, and so reads nothing
// of its own. A header cut by the end of a read is completed from the next
// read, which arrow must make before it can decode it. When a read brings
// a header the chunk fails on, the read returns the bytes before that
// header and the error: arrow keeps the pages before it, and fails as it
// peeks for the header (Peek returns the error, and the page reader
// stops). Once a chunk has been followed to its last value, or failed, the
// verdict is kept: later reads of a good chunk cost nothing, and reads of
// a failed chunk's start, or of the bytes from its bad header on, fail the
// same way. A read in a chunk not yet judged that no stream's cursor
// expects (which arrow does not make) has the chunk walked from its start
// instead, reading each header with a small read of its own, once.
//
// A data page whose values are in a delta encoding (DELTA_BINARY_PACKED,
// DELTA_LENGTH_BYTE_ARRAY or DELTA_BYTE_ARRAY) is checked whole too:
// arrow v17's delta decoders trust the headers of their streams, and
// allocate without bound from a few corrupt bytes (see checkDeltaValues).
// Arrow decodes a page once it has read all of it, so the cursor gathers
// the page's bytes (only such pages', at most the page's size) from the
// reads that bring them, and fails the read that completes a bad page
// as it would that page's header: arrow sees none of that read, and the
// chunk's verdict is bad from the page's header on.
//
// Encrypted column chunks are not checked: their headers are encrypted.
type pageGuard struct {
	sizedReader

	// The column chunks, by the offset at which arrow starts reading
	// each, and maxEnd[i], the largest end of chunks[:i+1]; set once, by
	// index, before any chunk is read.
	chunks []*guardChunk
	maxEnd []int64
	byKey  map[[2]int32]*guardChunk // the chunks, by row group and column

	mu sync.Mutex // guards the verdicts and cursors of the chunks, and ioErr

	// ioErr is the first error of a read of the file other than io.EOF (a
	// network or disk failure). pqarrow's column readers drop such errors
	// and come back short, which would read as a corrupt file.
	ioErr error
}

// readErr returns the first failed read of the file, or nil.
func (g *pageGuard) readErr() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ioErr
}

// guardChunk is a column chunk as arrow reads it, and what is known of it.
type guardChunk struct {
	start, end int64 // the bytes arrow reads of the chunk
	rg, col    int32
	name       string // the column's path
	values     int64  // the values its metadata counts

	// What the values of its pages in a delta encoding are checked with
	// (see checkDeltaValues): its codec, and its column's maximum
	// repetition and definition levels, if the schema has the column.
	codec          compress.Compression
	maxRep, maxDef int16
	levelsKnown    bool

	// Under pageGuard.mu.
	state   chunkState
	err     error         // chunkBad: why
	badAt   int64         // chunkBad: the offset of the header arrow must not see
	cursors []*pageCursor // chunkUnchecked: the streams being followed
}

// chunkState is what is known of a column chunk.
type chunkState uint8

// The chunk states.
const (
	chunkUnchecked chunkState = iota // not yet followed to its end
	chunkGood                        // arrow can walk all its pages
	chunkBad                         // arrow cannot: see guardChunk.err
)

// Arrow v17's page reader's limits (parquet/file: defaultMaxPageHeaderSize,
// maxDictHeaderSize).
const (
	maxPageHeaderSize = 4 << 20 // the largest page header arrow decodes
	maxDictHeaderSize = 100     // arrow's padding of chunks from writers with PARQUET-816
)

// guardHeaderRead is how many bytes the walk (see pageGuard.walk) first
// reads at a page header: more than almost every header needs.
const guardHeaderRead = 4 << 10

// maxCursors is the most streams of one chunk that are followed at once;
// a stream that starts beyond them has the chunk walked instead. A stream
// that is dropped before the chunk's end leaves its cursor behind.
const maxCursors = 8

// newPageGuard returns a pageGuard over src, of size bytes, whose chunk
// index is empty until index is called.
func newPageGuard(src io.ReaderAt, size int64) *pageGuard {
	return &pageGuard{sizedReader: sizedReader{src, size}}
}

// index records the column chunks of md. It must be called before any
// column chunk is read, and only once.
func (g *pageGuard) index(md *metadata.FileMetaData) {
	old816 := md.WriterVersion().LessThan(metadata.Parquet816FixedVersion)
	g.byKey = make(map[[2]int32]*guardChunk)
	for i, rg := range md.GetRowGroups() {
		if rg == nil {
			continue
		}
		for j, c := range rg.GetColumns() {
			if c == nil || c.GetMetaData() == nil || c.IsSetCryptoMetadata() {
				continue
			}
			cm := c.GetMetaData()
			// As arrow's RowGroupReader.GetColumnPageReader starts it.
			start := cm.GetDataPageOffset()
			if cm.IsSetDictionaryPageOffset() && cm.GetDictionaryPageOffset() > 0 && start > cm.GetDictionaryPageOffset() {
				start = cm.GetDictionaryPageOffset()
			}
			length := cm.GetTotalCompressedSize()
			if start < 0 || length < 0 || start >= g.size {
				continue // arrow reads nothing of it, or refuses it
			}
			if old816 {
				if length > g.size {
					continue // arrow refuses it
				}
				length += max(0, min(maxDictHeaderSize, g.size-(start+length)))
			}
			// The chunk's bytes end at its end or the file's.
			end := g.size
			if length < g.size-start {
				end = start + length
			}
			gc := &guardChunk{start: start, end: end, rg: int32(i), col: int32(j),
				name: strings.Join(cm.GetPathInSchema(), "."), values: cm.GetNumValues(),
				codec: compress.Compression(cm.GetCodec())}
			if md.Schema != nil && j < md.Schema.NumColumns() {
				col := md.Schema.Column(j)
				gc.maxRep, gc.maxDef, gc.levelsKnown = col.MaxRepetitionLevel(), col.MaxDefinitionLevel(), true
			}
			g.chunks = append(g.chunks, gc)
			g.byKey[[2]int32{gc.rg, gc.col}] = gc
		}
	}
	slices.SortStableFunc(g.chunks, func(a, b *guardChunk) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	g.maxEnd = make([]int64, len(g.chunks))
	for i, c := range g.chunks {
		g.maxEnd[i] = c.end
		if i > 0 {
			g.maxEnd[i] = max(g.maxEnd[i], g.maxEnd[i-1])
		}
	}
}

// ReadAt implements io.ReaderAt: it reads src, and checks the page
// headers in the bytes read of each column chunk they belong to, before
// arrow sees them. If a chunk fails, ReadAt returns the bytes before the
// header it fails at (none, if the read starts at the chunk's start) and
// the error.
func (g *pageGuard) ReadAt(p []byte, off int64) (int, error) {
	n, err := g.ReaderAt.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		g.mu.Lock()
		if g.ioErr == nil {
			g.ioErr = err
		}
		g.mu.Unlock()
	}
	if n <= 0 || len(g.chunks) == 0 {
		return n, err
	}
	if keep, cerr := g.check(p[:n], off); cerr != nil {
		return keep, cerr
	}
	return n, err
}

// check checks b, the bytes of the file at off that a stream read, in
// every column chunk that holds off, and returns how many of them arrow
// may see, and why not all if not.
func (g *pageGuard) check(b []byte, off int64) (keep int, err error) {
	keep = len(b)
	i, _ := slices.BinarySearchFunc(g.chunks, off+1, func(c *guardChunk, t int64) int {
		if c.start < t {
			return -1
		}
		return 1
	})
	g.mu.Lock()
	defer g.mu.Unlock()
	// Chunks j < i start at or before off; those that end after it hold it.
	for j := i - 1; j >= 0 && g.maxEnd[j] > off; j-- {
		c := g.chunks[j]
		if off >= c.end {
			continue
		}
		if c.state == chunkUnchecked {
			g.follow(c, b, off)
		}
		if c.state != chunkBad {
			continue
		}
		k := 0 // a stream must not start on a bad chunk
		if off != c.start {
			k = int(min(int64(len(b)), max(0, c.badAt-off)))
		}
		if k < keep {
			keep, err = k, c.err
		}
	}
	return keep, err
}

// follow advances the cursor of c's stream that expects a read at off by
// the bytes b read there, starting a cursor if off is c's start, and sets
// c's verdict when a cursor reaches one. A read that no cursor expects
// has c walked. g.mu is held; the walk releases it while it reads.
func (g *pageGuard) follow(c *guardChunk, b []byte, off int64) {
	var cur *pageCursor
	if k := slices.IndexFunc(c.cursors, func(cur *pageCursor) bool { return cur.next == off }); k >= 0 {
		cur = c.cursors[k]
	} else if off == c.start && len(c.cursors) < maxCursors {
		cur = &pageCursor{next: off, hdr: off}
		c.cursors = append(c.cursors, cur)
	} else {
		g.mu.Unlock()
		v := g.walk(c)
		g.mu.Lock()
		if c.state == chunkUnchecked && v.state != chunkUnchecked {
			g.judge(c, v)
		}
		return
	}
	if v := cur.advance(c, b, off); v.state != chunkUnchecked {
		g.judge(c, v)
	}
}

// judge records verdict v on c. g.mu is held.
func (g *pageGuard) judge(c *guardChunk, v cursorVerdict) {
	c.state, c.err, c.badAt, c.cursors = v.state, v.err, v.badAt, nil
}

// verdict returns the error found in a column chunk of row group rg of
// one of cols, if one of them was checked and found wanting. Arrow's
// column readers do not all pass on the error a read returned (pqarrow's
// come back short instead), so a stream that fails asks for the cause here.
func (g *pageGuard) verdict(rg int, cols []int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, col := range cols {
		if c := g.byKey[[2]int32{int32(rg), int32(col)}]; c != nil && c.state == chunkBad {
			return c.err
		}
	}
	return nil
}

// walk follows the pages of c from its start, reading each page header
// (guardHeaderRead bytes, more for a longer header) and skipping the pages'
// bodies. A read error is no verdict: the chunk stays unchecked (arrow's
// own read will fail or not).
func (g *pageGuard) walk(c *guardChunk) cursorVerdict {
	cur := &pageCursor{next: c.start, hdr: c.start}
	buf := make([]byte, guardHeaderRead)
	for {
		if cur.pending == nil && cur.body == nil {
			cur.next = cur.hdr // skip the page bodies, but those to check
		}
		size := min(max(guardHeaderRead, int64(len(cur.pending))), c.end-cur.next)
		if cur.body != nil {
			size = min(int64(cap(cur.body)-len(cur.body))+guardHeaderRead, c.end-cur.next)
		}
		if int64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		if n, _ := g.ReaderAt.ReadAt(buf[:size], cur.next); n < int(size) {
			return cursorVerdict{}
		}
		if v := cur.advance(c, buf[:size], cur.next); v.state != chunkUnchecked {
			return v
		}
	}
}

// pageCursor follows a stream of a column chunk's bytes as arrow v17's
// page reader (serializedPageReader.Next) walks its pages.
type pageCursor struct {
	next    int64  // where the stream's next read starts
	hdr     int64  // where the next page header starts: at or after next, unless pending
	values  int64  // the values of the pages before hdr
	pending []byte // the bytes from hdr to next, if a header starts there and did not decode in them

	// A data page in a delta encoding whose body the stream has not
	// all read yet: its header, where that starts, and the body's bytes
	// read so far (nil if none is being read; cap: the body's length).
	// Its body ends at hdr.
	bodyHdr pageHeader
	bodyAt  int64
	body    []byte
}

// cursorVerdict is what a cursor found of its chunk: chunkUnchecked while
// it has not reached the chunk's last value.
type cursorVerdict struct {
	state chunkState
	err   error
	badAt int64
}

// advance follows the bytes b, which the stream read at off (cur.next),
// through the page headers they hold.
func (cur *pageCursor) advance(c *guardChunk, b []byte, off int64) cursorVerdict {
	bad := func(at int64, format string, args ...any) cursorVerdict {
		err := fmt.Errorf("corrupt column chunk %q of row group %d: "+format, append([]any{c.name, c.rg}, args...)...)
		return cursorVerdict{state: chunkBad, err: err, badAt: at}
	}
	end := off + int64(len(b))
	cur.next = end
	if cur.body != nil { // b continues the body of a delta page
		k := min(len(b), cap(cur.body)-len(cur.body))
		cur.body = append(cur.body, b[:k]...)
		if len(cur.body) < cap(cur.body) {
			return cursorVerdict{}
		}
		body, at := cur.body, cur.bodyAt
		cur.body = nil
		if err := checkDeltaPage(c, cur.bodyHdr, body); err != nil {
			return bad(at, "page at byte %d: %w", at, err)
		}
	}
	for {
		if cur.body != nil {
			return cursorVerdict{} // the body runs past b: see above
		}
		if cur.values >= c.values {
			return cursorVerdict{state: chunkGood}
		}
		if cur.hdr >= c.end {
			return bad(cur.hdr, "its pages end at byte %d after %d of its %d values", c.end, cur.values, c.values)
		}
		if cur.hdr >= end {
			return cursorVerdict{}
		}
		var hb []byte
		if cur.pending != nil {
			hb = append(cur.pending, b...)
		} else {
			hb = b[cur.hdr-off:]
		}
		full := hb // the bytes read from hdr on
		limit := min(c.end-cur.hdr, maxPageHeaderSize)
		hb = hb[:min(int64(len(hb)), limit)]
		h, n, err := decodePageHeader(hb)
		if err != nil {
			switch {
			case int64(len(hb)) < limit:
				// More bytes may complete it: arrow must read them
				// before it can decode it.
				cur.pending = append(cur.pending[:0:0], hb...)
				return cursorVerdict{}
			case limit < c.end-cur.hdr:
				return bad(cur.hdr, "page header at byte %d does not decode in %d bytes: %w", cur.hdr, limit, err)
			default:
				return bad(cur.hdr, "page header at byte %d does not decode before the end of the chunk at byte %d: %w", cur.hdr, c.end, err)
			}
		}
		cur.pending = nil
		if h.compressed < 0 || h.uncompressed < 0 || h.values < 0 {
			return bad(cur.hdr, "page header at byte %d: negative page size or value count", cur.hdr)
		}
		body := int64(h.compressed)
		switch h.typ {
		case pageData, pageDataV2:
			if !h.hasData {
				return bad(cur.hdr, "data page at byte %d has no data page header", cur.hdr)
			}
			if h.typ == pageDataV2 {
				levels := int64(h.defLevels) + int64(h.repLevels)
				if h.defLevels < 0 || h.repLevels < 0 || levels > int64(h.uncompressed) || h.v2Compressed && levels > int64(h.compressed) {
					return bad(cur.hdr, "data page at byte %d: %d and %d bytes of levels in a page of %d", cur.hdr, h.defLevels, h.repLevels, h.compressed)
				}
				if !h.v2Compressed {
					body = int64(h.uncompressed) // what arrow reads of an uncompressed v2 page
				}
			}
		case pageDictionary:
			if !h.hasData {
				return bad(cur.hdr, "dictionary page at byte %d has no dictionary page header", cur.hdr)
			}
		default:
			return bad(cur.hdr, "page at byte %d is of type %d, which is not a data or dictionary page", cur.hdr, h.typ)
		}
		if body > c.end-cur.hdr-n {
			return bad(cur.hdr, "page at byte %d (%d bytes of header, %d of data) runs past the end of the chunk at byte %d", cur.hdr, n, body, c.end)
		}
		if h.typ != pageDictionary && isDeltaEncoding(h.encoding) && c.levelsKnown {
			// Arrow decodes the page once it has read all of it.
			if rest := full[n:]; int64(len(rest)) >= body {
				if err := checkDeltaPage(c, h, rest[:body]); err != nil {
					return bad(cur.hdr, "page at byte %d: %w", cur.hdr, err)
				}
			} else {
				cur.bodyHdr, cur.bodyAt = h, cur.hdr
				cur.body = append(make([]byte, 0, body), rest...)
			}
		}
		values := cur.values
		if h.typ != pageDictionary {
			values += int64(h.values)
		}
		if values < c.values && cur.hdr+n+body >= c.end {
			// Arrow would peek for the next header at the chunk's end.
			return bad(cur.hdr, "its pages end at byte %d after %d of its %d values", c.end, values, c.values)
		}
		cur.hdr, cur.values = cur.hdr+n+body, values
	}
}

// Page types (parquet.thrift PageType) that arrow v17 reads.
const (
	pageData       = 0
	pageDictionary = 2
	pageDataV2     = 3
)

// pageHeader is what the guard needs of a Parquet PageHeader.
type pageHeader struct {
	typ                      int32
	uncompressed, compressed int32
	hasData                  bool  // the header of its type (data, v2 or dictionary) is there
	values                   int32 // its num_values
	defLevels, repLevels     int32 // v2: bytes of definition and repetition levels
	v2Compressed             bool  // v2: is_compressed (true unless set false)
	encoding                 int32 // data pages: the values' encoding
	defEnc, repEnc           int32 // v1: the levels' encodings
}

// thriftConf is the configuration arrow v17 decodes page headers with
// (parquet/internal/thrift: the defaults). Its limits, and the bytes left
// in the buffer, bound what a garbage header can make thrift allocate:
// a string or container longer than the bytes left is refused before it
// is allocated.
var thriftConf = &thrift.TConfiguration{}

// decodePageHeader decodes a PageHeader at the start of b as arrow v17's
// page reader does (thrift.DeserializeThrift into the generated
// format.PageHeader), and returns it and its length in bytes.
func decodePageHeader(b []byte) (pageHeader, int64, error) {
	buf := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(b)}
	h, err := readPageHeader(context.Background(), thrift.NewTCompactProtocolConf(buf, thriftConf))
	return h, int64(len(b)) - int64(buf.RemainingBytes()), err
}

// readPageHeader reads a PageHeader (parquet.thrift) as arrow v17's
// generated code (PageHeader.Read) does, failing where it fails: a field
// of an unexpected type is skipped, a later field replaces an earlier one
// with the same id, the required fields of the header and of each page
// type's header read must be there, and of the data_page_header,
// dictionary_page_header and data_page_header_v2, the one that goes with
// the page's type is used.
func readPageHeader(ctx context.Context, p thrift.TProtocol) (pageHeader, error) {
	var h pageHeader
	var subs [3]pageHeader // fields 5, 7 and 8
	var set uint8          // bit i: required field i+1 was read
	err := readStruct(ctx, p, func(id int16, t thrift.TType) (read bool, err error) {
		switch {
		case id >= 1 && id <= 3 && t == thrift.I32:
			var v int32
			v, err = p.ReadI32(ctx)
			switch id {
			case 1:
				h.typ = v
			case 2:
				h.uncompressed = v
			case 3:
				h.compressed = v
			}
			set |= 1 << (id - 1)
		case id == 5 && t == thrift.STRUCT:
			subs[0], err = readTypeHeader(ctx, p, 4, 5, 0)
		case id == 6 && t == thrift.STRUCT:
			err = readStruct(ctx, p, nil) // IndexPageHeader has no fields
		case id == 7 && t == thrift.STRUCT:
			subs[1], err = readTypeHeader(ctx, p, 2, 0, 3)
		case id == 8 && t == thrift.STRUCT:
			subs[2], err = readTypeHeader(ctx, p, 6, 8, 7)
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return h, err
	}
	if set != 0b111 {
		return h, errors.New("a required field (type, uncompressed_page_size or compressed_page_size) is missing")
	}
	var sub pageHeader
	switch h.typ {
	case pageData:
		sub = subs[0]
	case pageDictionary:
		sub = subs[1]
	case pageDataV2:
		sub = subs[2]
	}
	h.hasData, h.values, h.defLevels, h.repLevels, h.v2Compressed = sub.hasData, sub.values, sub.defLevels, sub.repLevels, sub.v2Compressed
	h.encoding, h.defEnc, h.repEnc = sub.encoding, sub.defEnc, sub.repEnc
	return h, nil
}

// readTypeHeader reads a DataPageHeader, DictionaryPageHeader or
// DataPageHeaderV2 as its generated Read does: fields 1 to required are
// required i32s (num_values first; of a data page header, 2 to 4 are the
// encodings of the values, definition and repetition levels; of a v2
// header, 4 is the values' encoding and 5 and 6 are the level lengths),
// field stats (if not 0) is a Statistics struct, and field flag (if not
// 0) a bool (is_sorted; a v2 header's is_compressed).
func readTypeHeader(ctx context.Context, p thrift.TProtocol, required, stats, flag int16) (pageHeader, error) {
	h := pageHeader{hasData: true, v2Compressed: true}
	var set uint8
	err := readStruct(ctx, p, func(id int16, t thrift.TType) (read bool, err error) {
		switch {
		case id >= 1 && id <= required && t == thrift.I32:
			var v int32
			v, err = p.ReadI32(ctx)
			switch v2 := required == 6; {
			case id == 1:
				h.values = v
			case id == 2 && !v2:
				h.encoding = v
			case id == 3 && !v2:
				h.defEnc = v
			case id == 4 && !v2:
				h.repEnc = v
			case id == 4:
				h.encoding = v
			case id == 5:
				h.defLevels = v
			case id == 6:
				h.repLevels = v
			}
			set |= 1 << (id - 1)
		case id == stats && stats != 0 && t == thrift.STRUCT:
			err = readStruct(ctx, p, nil) // Statistics: optional fields only
		case id == flag && flag != 0 && t == thrift.BOOL:
			h.v2Compressed, err = p.ReadBool(ctx)
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return h, err
	}
	if set != 1<<required-1 {
		return h, errors.New("a required field of the page's type header is missing")
	}
	return h, nil
}

// readStruct reads a Thrift struct as its generated Read does: each field
// is read by field, which is given its id and type and reports whether it
// read the value, or skipped if field did not (or is nil). A struct whose
// fields are all optional and of basic types is read by skipping them.
func readStruct(ctx context.Context, p thrift.TProtocol, field func(id int16, t thrift.TType) (bool, error)) error {
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return err
	}
	for {
		_, t, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return err
		}
		if t == thrift.STOP {
			return p.ReadStructEnd(ctx)
		}
		read := false
		if field != nil {
			if read, err = field(id, t); err != nil {
				return err
			}
		}
		if !read {
			if err := p.Skip(ctx, t); err != nil {
				return err
			}
		}
		if err := p.ReadFieldEnd(ctx); err != nil {
			return err
		}
	}
}
