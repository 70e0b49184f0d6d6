package readers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Sanity bounds for Arrow IPC input. arrow v17's IPC reader allocates what
// a file's framing and metadata claim before reading it: a message's
// metadata length (up to 2 GiB), its body length and every buffer's
// length (any int64), and, in compressed files, every buffer's
// uncompressed length. One flipped bit made it ask for 16 TiB, and the
// process died of "fatal error: runtime: out of memory", which no recover
// catches. checkMessages refuses framing that does not fit in the file,
// before the reader sees it, and boundedAlloc refuses any single buffer
// larger than the file could hold, by panicking with an error that the
// reader recovers (see corrupt).

// maxCompressionRatio bounds how much larger than its compressed form an
// IPC buffer can be: a zstd block of 4 bytes (an RLE block) makes at most
// 128 KiB; an LZ4 frame expands less.
const maxCompressionRatio = 32 << 10

// allocSlack is allowed beyond the bound (rounding, small files).
const allocSlack = 1 << 20

// boundedAlloc passes allocations of at most max bytes to mem.
type boundedAlloc struct {
	mem memory.Allocator
	max int
}

// ipcAllocator returns mem bounded for an IPC stream of size bytes.
func ipcAllocator(mem memory.Allocator, size int64, compressed bool) memory.Allocator {
	limit := size
	if compressed {
		limit = min(size, (1<<62)/maxCompressionRatio) * maxCompressionRatio
	}
	return boundedAlloc{mem: mem, max: int(min(limit, 1<<62) + allocSlack)}
}

// check refuses a size above the bound, and a negative one (which a
// corrupt length becomes, and which would upset the accounting of mem
// before failing).
func (a boundedAlloc) check(size int) {
	if size < 0 {
		panic(fmt.Errorf("a buffer of negative size %d", size))
	}
	if size > a.max {
		panic(fmt.Errorf("a buffer of %d bytes is more than the file could hold (at most %d)", size, a.max))
	}
}

// Allocate implements memory.Allocator.
func (a boundedAlloc) Allocate(size int) []byte {
	a.check(size)
	return a.mem.Allocate(size)
}

// Reallocate implements memory.Allocator.
func (a boundedAlloc) Reallocate(size int, b []byte) []byte {
	a.check(size)
	return a.mem.Reallocate(size, b)
}

// Free implements memory.Allocator.
func (a boundedAlloc) Free(b []byte) { a.mem.Free(b) }

// IPC message framing, as arrow v17's message reader reads it.
const (
	ipcContinuation = 0xFFFFFFFF
	headerSchema    = 1 // MessageHeader Schema
	headerRecord    = 3 // MessageHeader RecordBatch
	headerDict      = 2 // MessageHeader DictionaryBatch
)

// checkMessages walks the messages of the IPC stream in f[off, off+size) as
// the IPC reader will: each is a length prefix, that many bytes of
// flatbuffer metadata, and a body of the length the metadata gives. It
// returns an error if a metadata or body length does not fit in what is
// left of the stream, or the stream ends inside a message's prefix (a
// continuation marker at the end of the file, which arrow's reader takes
// for a clean end), and reports whether any batch is compressed. Where
// it cannot follow the stream (bad metadata), it stops and leaves the
// error to the IPC reader, which then allocates no more than boundedAlloc
// allows.
func checkMessages(f io.ReaderAt, off, size int64) (compressed bool, err error) {
	pos, end := off, off+size
	var prefix [8]byte
	for i := 0; ; i++ {
		start := pos
		if end == pos {
			return compressed, nil // cut between messages: see the README
		}
		if end-pos < 4 {
			return compressed, fmt.Errorf("truncated stream: it ends %d bytes into the prefix of message %d at byte %d", end-pos, i, start)
		}
		if _, err := f.ReadAt(prefix[:4], pos); err != nil {
			return compressed, nil
		}
		n := int64(binary.LittleEndian.Uint32(prefix[:4]))
		pos += 4
		if n == ipcContinuation {
			// A marker at the end of the file, without the length after
			// it, is a cut, which arrow's reader takes for a clean end.
			if end-pos < 4 {
				return compressed, fmt.Errorf("truncated stream: message %d at byte %d has its continuation marker but %d of the 4 bytes of its length", i, start, end-pos)
			}
			if _, err := f.ReadAt(prefix[4:], pos); err != nil {
				return compressed, nil
			}
			n = int64(binary.LittleEndian.Uint32(prefix[4:]))
			pos += 4
		}
		n = int64(int32(n)) // the reader takes it as an int32
		if n == 0 {
			return compressed, nil // end of stream
		}
		if n < 0 || n > end-pos {
			return compressed, fmt.Errorf("message %d at byte %d: metadata length %d does not fit in the file (%d bytes left)", i, start, n, end-pos)
		}
		meta := make([]byte, n)
		if _, err := f.ReadAt(meta, pos); err != nil {
			return compressed, nil
		}
		pos += n
		m, ok := fbRoot(meta)
		if !ok {
			return compressed, nil
		}
		if i == 0 {
			if err := checkSchema(m); err != nil {
				return compressed, fmt.Errorf("schema: %w", err)
			}
		}
		body, ok := m.int64Field(10) // Message.bodyLength
		if !ok {
			return compressed, nil
		}
		if body < 0 || body > end-pos {
			return compressed, fmt.Errorf("message %d at byte %d: body length %d does not fit in the file (%d bytes left)", i, start, body, end-pos)
		}
		pos += body
		if c, ok := batchCompressed(m); ok && c {
			compressed = true
		}
	}
}

// maxSchemaDepth bounds how deeply the fields of a schema nest.
const maxSchemaDepth = 100

// checkSchema checks the vectors of a schema message's fields, recursively,
// before arrow's IPC reader makes slices of the lengths they claim (a
// length is any uint32: one flipped bit made a reader allocate gigabytes)
// and recurses into the children (which could nest without end).
func checkSchema(m fbTable) error {
	kind, ok := m.uint8Field(6) // Message.header_type
	if !ok || kind != headerSchema {
		return nil
	}
	sc, ok := m.tableField(8) // Message.header
	if !ok {
		return nil
	}
	budget := len(m.buf) / 4 // tables a message of this size can hold
	return checkFields(sc, 6, 8, 0, &budget)
}

// checkFields checks table t (a Schema or a Field) whose vector of Field
// tables is at vtable offset fieldsVO and of key-value pairs at metaVO.
func checkFields(t fbTable, fieldsVO, metaVO uint16, depth int, budget *int) error {
	if *budget--; *budget < 0 {
		return errors.New("more fields than the message can hold")
	}
	if depth > maxSchemaDepth {
		return fmt.Errorf("fields nested more than %d deep", maxSchemaDepth)
	}
	if _, _, err := t.vector(metaVO); err != nil {
		return fmt.Errorf("custom metadata: %w", err)
	}
	start, n, err := t.vector(fieldsVO)
	if err != nil {
		return fmt.Errorf("fields: %w", err)
	}
	for i := uint32(0); i < n; i++ {
		at := start + 4*i
		off, _ := fbUint32(t.buf, at) // within the vector, checked above
		f := fbTable{t.buf, at + off}
		if err := checkFields(f, 14, 16, depth+1, budget); err != nil { // Field.children, Field.custom_metadata
			return err
		}
	}
	return nil
}

// vector returns where the elements of the vector of offsets in field vo
// start and how many there are (0 when it is absent or unreadable), or an
// error if they do not fit in the buffer.
func (t fbTable) vector(vo uint16) (start, n uint32, err error) {
	p, ok := t.field(vo)
	if !ok || p == 0 {
		return 0, 0, nil // absent, or unreadable: left to the reader
	}
	off, ok := fbUint32(t.buf, p)
	if !ok {
		return 0, 0, nil
	}
	v := p + off
	count, ok := fbUint32(t.buf, v)
	if !ok {
		return 0, 0, nil
	}
	if uint64(v)+4+4*uint64(count) > uint64(len(t.buf)) {
		return 0, 0, fmt.Errorf("a vector of %d entries in %d bytes", count, len(t.buf))
	}
	return v + 4, count, nil
}

// batchCompressed reports whether message m is a record or dictionary
// batch with body compression.
func batchCompressed(m fbTable) (compressed, ok bool) {
	kind, ok := m.uint8Field(6) // Message.header_type
	if !ok || (kind != headerRecord && kind != headerDict) {
		return false, ok
	}
	h, ok := m.tableField(8) // Message.header
	if !ok {
		return false, false
	}
	if kind == headerDict {
		if h, ok = h.tableField(6); !ok { // DictionaryBatch.data
			return false, false
		}
	}
	p, ok := h.field(10) // RecordBatch.compression
	return p != 0, ok
}

// fbTable is a flatbuffer table: buf holds the buffer, pos the table. Its
// methods do the arithmetic of the flatbuffers Go runtime that arrow's
// generated code uses (in uint32, wrapping around), so that they find
// what arrow will find, and report false where arrow would index outside
// buf (and panic, which the reader recovers).
type fbTable struct {
	buf []byte
	pos uint32
}

func fbUint32(buf []byte, at uint32) (uint32, bool) {
	if uint64(at)+4 > uint64(len(buf)) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(buf[at:]), true
}

func fbUint16(buf []byte, at uint32) (uint16, bool) {
	if uint64(at)+2 > uint64(len(buf)) {
		return 0, false
	}
	return binary.LittleEndian.Uint16(buf[at:]), true
}

// fbRoot returns the root table of buf.
func fbRoot(buf []byte) (fbTable, bool) {
	n, ok := fbUint32(buf, 0)
	return fbTable{buf, n}, ok
}

// field returns the position of the field at vtable offset vo, or 0 when
// the table does not have it.
func (t fbTable) field(vo uint16) (uint32, bool) {
	so, ok := fbUint32(t.buf, t.pos)
	if !ok {
		return 0, false
	}
	vt := uint32(int32(t.pos) - int32(so))
	size, ok := fbUint16(t.buf, vt)
	if !ok {
		return 0, false
	}
	if vo >= size {
		return 0, true
	}
	off, ok := fbUint16(t.buf, vt+uint32(vo))
	if !ok || off == 0 {
		return 0, ok
	}
	return uint32(off) + t.pos, true
}

func (t fbTable) int64Field(vo uint16) (int64, bool) {
	p, ok := t.field(vo)
	if !ok || p == 0 {
		return 0, ok
	}
	if uint64(p)+8 > uint64(len(t.buf)) {
		return 0, false
	}
	return int64(binary.LittleEndian.Uint64(t.buf[p:])), true
}

func (t fbTable) uint8Field(vo uint16) (byte, bool) {
	p, ok := t.field(vo)
	if !ok || p == 0 {
		return 0, ok
	}
	if uint64(p) >= uint64(len(t.buf)) {
		return 0, false
	}
	return t.buf[p], true
}

// tableField follows the offset in field vo to a table; false when the
// field is absent too.
func (t fbTable) tableField(vo uint16) (fbTable, bool) {
	p, ok := t.field(vo)
	if !ok || p == 0 {
		return fbTable{}, false
	}
	n, ok := fbUint32(t.buf, p)
	return fbTable{t.buf, p + n}, ok
}

// streamAlloc is the allocator of one IPC stream reader. While armed (for
// the duration of one read), it remembers what it allocates and is not
// freed yet, so that when the read fails, what the reader left allocated
// can be freed: arrow v17's IPC reader turns a failure while loading a
// batch (a panic in a decoder, or boundedAlloc's) into an error, and the
// buffers already loaded for that batch are never released.
type streamAlloc struct {
	mem memory.Allocator

	mu    sync.Mutex
	armed bool
	live  map[*byte][]byte
}

func newStreamAlloc(mem memory.Allocator) *streamAlloc {
	return &streamAlloc{mem: mem, live: map[*byte][]byte{}}
}

// arm starts remembering allocations.
func (a *streamAlloc) arm() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.armed = true
	clear(a.live)
}

// disarm forgets them: the read succeeded, and they belong to its batch.
func (a *streamAlloc) disarm() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.armed = false
	clear(a.live)
}

// freeLive frees what the failed read allocated and nothing released, and
// disarms. The stream reader must have been released first, so that what
// it held (dictionaries, the current message) is not freed twice.
func (a *streamAlloc) freeLive() {
	a.mu.Lock()
	live := a.live
	a.live = map[*byte][]byte{}
	a.armed = false
	a.mu.Unlock()
	for _, b := range live {
		a.mem.Free(b)
	}
}

// Allocate implements memory.Allocator.
func (a *streamAlloc) Allocate(size int) []byte {
	b := a.mem.Allocate(size)
	if p := unsafe.SliceData(b); p != nil && len(b) > 0 {
		a.mu.Lock()
		if a.armed {
			a.live[p] = b
		}
		a.mu.Unlock()
	}
	return b
}

// Reallocate implements memory.Allocator.
func (a *streamAlloc) Reallocate(size int, b []byte) []byte {
	nb := a.mem.Reallocate(size, b)
	if p := unsafe.SliceData(b); p != nil && len(b) > 0 {
		a.mu.Lock()
		if _, ok := a.live[p]; ok {
			delete(a.live, p)
			a.live[unsafe.SliceData(nb)] = nb
		}
		a.mu.Unlock()
	}
	return nb
}

// Free implements memory.Allocator.
func (a *streamAlloc) Free(b []byte) {
	if p := unsafe.SliceData(b); p != nil && len(b) > 0 {
		a.mu.Lock()
		delete(a.live, p)
		a.mu.Unlock()
	}
	a.mem.Free(b)
}

// ipcStream is an IPC stream reader and its allocator.
type ipcStream struct {
	*ipc.Reader
	alloc    *streamAlloc
	released bool
}

// next reads the next batch, like ipc.Reader.Next. When there is none (at
// the end, or after an error, which Err returns), or when it panics, the
// stream is released, with whatever the failed read left allocated.
func (s *ipcStream) next() (ok bool) {
	s.alloc.arm()
	defer func() {
		if ok {
			s.alloc.disarm()
		} else {
			s.release()
		}
	}()
	return s.Reader.Next()
}

// release releases the stream reader; it may be called more than once.
func (s *ipcStream) release() {
	if s.released {
		return
	}
	s.released = true
	s.Reader.Release()
	s.alloc.freeLive()
}

// validData checks what reading the values of an array from an IPC file
// relies on and arrow v17 does not check when it loads one: buffers long
// enough, offsets in order and within their values, and dictionary
// indices within their dictionary. Without it, a corrupt file makes
// slicing a batch, or reading a value, panic. Types it does not know
// (unions, views, run-end encoded) pass unchecked.
func validData(d arrow.ArrayData) error {
	off, n := int64(d.Offset()), int64(d.Len())
	if off < 0 || n < 0 {
		return fmt.Errorf("offset %d, length %d", off, n)
	}
	end := off + n
	bufs := d.Buffers()
	buf := func(i int) []byte {
		if i < len(bufs) && bufs[i] != nil {
			return bufs[i].Bytes()
		}
		return nil
	}
	if len(bufs) > 0 && bufs[0] != nil && int64(len(buf(0))) < bitutil.BytesForBits(end) {
		return fmt.Errorf("validity bitmap of %d bytes for %d values", len(buf(0)), end)
	}
	children := d.Children()
	child := func() (arrow.ArrayData, error) {
		if len(children) != 1 {
			return nil, fmt.Errorf("%d child arrays, want 1", len(children))
		}
		return children[0], nil
	}
	switch t := d.DataType(); t.ID() {
	case arrow.STRING, arrow.BINARY:
		return checkOffsets(buf(1), 4, off, n, int64(len(buf(2))))
	case arrow.LARGE_STRING, arrow.LARGE_BINARY:
		return checkOffsets(buf(1), 8, off, n, int64(len(buf(2))))
	case arrow.LIST, arrow.MAP, arrow.LARGE_LIST:
		c, err := child()
		if err != nil {
			return err
		}
		width := 4
		if t.ID() == arrow.LARGE_LIST {
			width = 8
		}
		if err := checkOffsets(buf(1), width, off, n, int64(c.Len())); err != nil {
			return err
		}
		return validData(c)
	case arrow.FIXED_SIZE_LIST:
		c, err := child()
		if err != nil {
			return err
		}
		if size := int64(t.(*arrow.FixedSizeListType).Len()); size < 0 || int64(c.Len()) < end*size {
			return fmt.Errorf("%d list values for %d lists of %d", c.Len(), end, size)
		}
		return validData(c)
	case arrow.STRUCT:
		for _, c := range children {
			if int64(c.Len()) < end {
				return fmt.Errorf("struct field of %d values for %d structs", c.Len(), end)
			}
			if err := validData(c); err != nil {
				return err
			}
		}
		return nil
	case arrow.DICTIONARY:
		dict := d.Dictionary()
		if dict == nil {
			return fmt.Errorf("dictionary array without a dictionary")
		}
		if err := validData(dict); err != nil {
			return err
		}
		return checkIndices(buf(0), buf(1), t.(*arrow.DictionaryType).IndexType, off, n, int64(dict.Len()))
	}
	if fw, ok := d.DataType().(arrow.FixedWidthDataType); ok && len(bufs) >= 2 {
		if need := bitutil.BytesForBits(end * int64(fw.BitWidth())); int64(len(buf(1))) < need {
			return fmt.Errorf("value buffer of %d bytes for %d values of %s", len(buf(1)), end, d.DataType())
		}
	}
	return nil
}

// checkOffsets checks the n+1 offsets (of width 4 or 8 bytes) from index
// off: in order, and from 0 to at most size.
func checkOffsets(b []byte, width int, off, n, size int64) error {
	if n == 0 {
		return nil
	}
	if int64(len(b)) < (off+n+1)*int64(width) {
		return fmt.Errorf("offset buffer of %d bytes for %d values", len(b), off+n)
	}
	at := func(i int64) int64 {
		if width == 4 {
			return int64(int32(binary.LittleEndian.Uint32(b[i*4:])))
		}
		return int64(binary.LittleEndian.Uint64(b[i*8:]))
	}
	prev := at(off)
	if prev < 0 || prev > size {
		return fmt.Errorf("offset %d outside values 0 to %d", prev, size)
	}
	for i := off + 1; i <= off+n; i++ {
		o := at(i)
		if o < prev || o > size {
			return fmt.Errorf("offset %d after %d: out of order or beyond the values (%d)", o, prev, size)
		}
		prev = o
	}
	return nil
}

// checkIndices checks that the non-null dictionary indices of n values
// from off are within a dictionary of size entries.
func checkIndices(valid, b []byte, it arrow.DataType, off, n, size int64) error {
	fw, ok := it.(arrow.FixedWidthDataType)
	if !ok {
		return fmt.Errorf("dictionary index type %s", it)
	}
	width := int64(fw.BitWidth() / 8)
	if width < 1 || int64(len(b)) < (off+n)*width {
		return fmt.Errorf("index buffer of %d bytes for %d indices of %s", len(b), off+n, it)
	}
	signed := it.ID() == arrow.INT8 || it.ID() == arrow.INT16 || it.ID() == arrow.INT32 || it.ID() == arrow.INT64
	for i := off; i < off+n; i++ {
		if valid != nil && !bitutil.BitIsSet(valid, int(i)) {
			continue
		}
		var u uint64
		switch width {
		case 1:
			u = uint64(b[i])
			if signed {
				u = uint64(int64(int8(b[i])))
			}
		case 2:
			v := binary.LittleEndian.Uint16(b[i*2:])
			u = uint64(v)
			if signed {
				u = uint64(int64(int16(v)))
			}
		case 4:
			v := binary.LittleEndian.Uint32(b[i*4:])
			u = uint64(v)
			if signed {
				u = uint64(int64(int32(v)))
			}
		case 8:
			u = binary.LittleEndian.Uint64(b[i*8:])
		default:
			return fmt.Errorf("dictionary index type %s", it)
		}
		if u >= uint64(size) { // negative signed indices are huge here
			return fmt.Errorf("dictionary index %d outside a dictionary of %d values", int64(u), size)
		}
	}
	return nil
}
