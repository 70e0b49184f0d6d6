package readers

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// fixedColumn reads a required (non-null, not nested) INT64 or DOUBLE
// column of some row groups, which pqarrow maps to an Arrow int64 or
// float64 field, with the column chunk reader, into value buffers that are
// recycled once their arrays are released.
//
// pqarrow v17 reserves a new values buffer for every batch, about twice
// the batch's size, and the Go allocator clears it; on 50M marbles in
// batches of 1M rows that was 736 MB allocated, cleared and faulted in for
// 400 MB of keys, a third of the run's page faults. Here a batch's buffer
// is exactly its values, and goes back to a pool (valueBuffers) when the
// last reference to it is released: a consumer that releases each record
// before reading the next one reuses the same few buffers, one that keeps
// records gets new buffers and loses nothing.
//
// It reads through a file.Reader of its own, over the same file and
// footer, whose page buffers come from its own pageBuffers: a page's
// buffer is reused for the next page of the stream.
type fixedColumn[T int64 | float64] struct {
	field arrow.Field
	pages *pageBuffers
	pf    *file.Reader
	col   int   // the leaf column
	rgs   []int // row groups still to read; the current one first
	cur   valueReader[T]
	left  int64 // values left in cur
}

// valueReader is a typed column chunk reader: *file.Int64ColumnChunkReader
// or *file.Float64ColumnChunkReader.
type valueReader[T any] interface {
	ReadBatch(batchSize int64, values []T, defLvls, repLvls []int16) (total int64, valuesRead int, err error)
}

// newFixedColumn returns a column reader for field f of r if it is a
// required top-level INT64 column read as int64 or DOUBLE column read as
// float64, else nil.
func newFixedColumn(r *Reader, f *pqarrow.SchemaField, rowGroups []int) (columnReader, error) {
	if len(f.Children) != 0 || !f.IsLeaf() || f.Field == nil {
		return nil, nil
	}
	c := r.meta.Schema.Column(f.ColIndex)
	if c.MaxDefinitionLevel() != 0 || c.MaxRepetitionLevel() != 0 {
		return nil, nil
	}
	isInt := c.PhysicalType() == parquet.Types.Int64 && arrow.TypeEqual(f.Field.Type, arrow.PrimitiveTypes.Int64)
	isFloat := c.PhysicalType() == parquet.Types.Double && arrow.TypeEqual(f.Field.Type, arrow.PrimitiveTypes.Float64)
	if !isInt && !isFloat {
		return nil, nil
	}
	pf, pages, err := r.ownFile()
	if err != nil {
		return nil, err
	}
	if isInt {
		return &fixedColumn[int64]{field: *f.Field, pages: pages, pf: pf, col: f.ColIndex, rgs: rowGroups}, nil
	}
	return &fixedColumn[float64]{field: *f.Field, pages: pages, pf: pf, col: f.ColIndex, rgs: rowGroups}, nil
}

// ownFile returns a file.Reader of r's file and footer, for a column
// reader of its own (fixedColumn, splitColumn): on r's pageGuard, with r's
// stream buffering, and with page buffers from a pageBuffers of its own
// (also returned), which reuses a page's buffer for the next page.
func (r *Reader) ownFile() (*file.Reader, *pageBuffers, error) {
	pages := &pageBuffers{}
	props := parquet.NewReaderProperties(pages)
	props.BufferSize, props.BufferedStreamEnabled = r.props.BufferSize, r.props.BufferedStreamEnabled
	pf, err := file.NewParquetReader(r.guard, file.WithReadProps(props), file.WithMetadata(r.meta))
	if err != nil {
		return nil, nil, err
	}
	return pf, pages, nil
}

// sizedReader is a file of a known size for file.NewParquetReader, which
// seeks to its end to learn the size: the Reader's file is shared by its
// streams, and a seek would move a position they all have.
type sizedReader struct {
	io.ReaderAt
	size int64
}

// Seek implements io.Seeker without a position: it returns where the
// offset would be, from the start or the end.
func (s sizedReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		return offset, nil
	case io.SeekEnd:
		return s.size + offset, nil
	}
	return 0, errors.New("readers: relative seek on a shared file")
}

// Field implements columnReader.
func (c *fixedColumn[T]) Field() *arrow.Field { return &c.field }

// Release implements columnReader.
func (c *fixedColumn[T]) Release() { c.cur, c.rgs = nil, nil }

// fixedChunk is the most values a buffer is first sized for: it grows
// with the values a file really holds, not with the count its footer
// claims.
const fixedChunk = 1 << 20

// NextBatch implements columnReader: the next n values, as one array.
func (c *fixedColumn[T]) NextBatch(n int64) (*arrow.Chunked, error) {
	const size = 8 // bytes of an int64 or a float64
	buf := memory.NewResizableBuffer(&valueBuffers)
	defer buf.Release()
	buf.Reserve(int(min(n, fixedChunk) * size))
	for got := int64(0); got < n; {
		if c.left == 0 {
			if len(c.rgs) == 0 {
				return nil, fmt.Errorf("column %q: %d values asked for, %d left", c.field.Name, n, got)
			}
			pr, err := c.pf.RowGroup(c.rgs[0]).GetColumnPageReader(c.col)
			if err != nil {
				return nil, err
			}
			cr := file.NewColumnReader(c.pf.MetaData().Schema.Column(c.col), &pageSource{pr, c.pages}, memory.DefaultAllocator, c.pf.BufferPool())
			vr, ok := cr.(valueReader[T])
			if !ok {
				return nil, fmt.Errorf("column %q: not a %s column chunk", c.field.Name, c.field.Type)
			}
			c.cur, c.left = vr, c.pf.MetaData().RowGroup(c.rgs[0]).NumRows()
			c.rgs = c.rgs[1:]
		}
		want := min(n-got, c.left, fixedChunk)
		if need := int((got + want) * size); need > buf.Cap() {
			buf.Reserve(max(need, 2*buf.Cap()))
		}
		buf.ResizeNoShrink(int((got + want) * size))
		vals := arrow.GetData[T](buf.Bytes())
		_, m, err := c.cur.ReadBatch(want, vals[got:got+want], nil, nil)
		if err != nil {
			return nil, err
		}
		if m == 0 {
			return nil, fmt.Errorf("the row group ended %d values early", c.left)
		}
		got += int64(m)
		c.left -= int64(m)
	}
	buf.ResizeNoShrink(int(n * size))
	data := array.NewData(c.field.Type, int(n), []*memory.Buffer{nil, buf}, nil, 0, 0)
	arr := array.MakeFromData(data)
	data.Release()
	ch := arrow.NewChunked(c.field.Type, []arrow.Array{arr})
	arr.Release()
	return ch, nil
}

// valueBuffers is the Allocator of fixedColumn's buffers. A buffer whose
// size rounds up to a power of two from minPooled to maxPooled is made
// that large, and goes back to a sync.Pool of its size when freed, that is when the last reference to
// them is released, so they are reused only when nothing can read them
// any more; the garbage collector empties the pools of buffers nobody
// took. Other sizes come from the Go allocator.
//
// Buffers taken from a pool again are not cleared: fixedColumn writes
// every value of a buffer before an array shows it. They are not counted
// by the Reader's allocator either: that one sees the arrays pqarrow makes.
var valueBuffers valuePool

// The sizes of the buffers valueBuffers recycles: from 8K values to a
// full batch of fixedChunk (TestValuePoolClasses checks it).
const (
	minPooledShift = 16
	maxPooledShift = 23
	minPooled      = 1 << minPooledShift
	maxPooled      = 1 << maxPooledShift
	pooledClasses  = maxPooledShift - minPooledShift + 1
)

type valuePool struct {
	pools [pooledClasses]sync.Pool
}

// class returns the pool of buffers of capacity c (a power of two from
// minPooled to maxPooled), or false.
func (p *valuePool) class(c int) (*sync.Pool, bool) {
	if c < minPooled || c > maxPooled || c&(c-1) != 0 {
		return nil, false
	}
	return &p.pools[bits.Len(uint(c))-1-minPooledShift], true
}

// Allocate implements memory.Allocator.
func (p *valuePool) Allocate(size int) []byte {
	checkSize(size)
	c := 1 << bits.Len(uint(max(size, 1)-1)) // size rounded up to a power of two
	pool, ok := p.class(c)
	if !ok {
		return make([]byte, size)
	}
	if b, ok := pool.Get().(*[]byte); ok {
		return (*b)[:size]
	}
	return make([]byte, size, c)
}

// Reallocate implements memory.Allocator.
func (p *valuePool) Reallocate(size int, b []byte) []byte {
	checkSize(size)
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free implements memory.Allocator.
func (p *valuePool) Free(b []byte) {
	if pool, ok := p.class(cap(b)); ok {
		b = b[:cap(b)]
		pool.Put(&b)
	}
}

// pageBuffers is the Allocator of one fixedColumn's file.Reader, through
// which arrow allocates the buffer of each page it decompresses, in
// serializedPageReader.Next. Arrow frees that buffer at the end of Next,
// while the page it returns still reads it, until the next call of Next;
// so a page buffer freed is kept aside and reused by the next page, when
// the page before is released. A dictionary page is never reused: its
// decoder reads it until the chunk ends. The column's pageSource tells
// where each page read begins and ends and whether the page is a
// dictionary; an allocation outside a page read, or a second one within
// it, comes from the Go allocator and is left to the collector.
//
// A fixedColumn reads one column, in one goroutine, and copies every
// value out of its page (no value of an INT64 or DOUBLE column points
// into one), so a page is dead once the next one is being read.
type pageBuffers struct {
	mu       sync.Mutex // Free may come from a finalizer (file.Reader's scratch pool)
	reading  bool       // within a page read (pageSource.Next)
	handed   *byte      // the buffer of the page being read
	done     []byte     // the page buffer that Next freed: its page is in use until the next Next
	doneKeep bool       // done is a dictionary page's
	free     []byte     // a buffer to reuse
	reused   int        // pages read into a reused buffer (for tests)
}

// startPage says that a page read begins: the page before is released.
func (p *pageBuffers) startPage() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil && !p.doneKeep {
		p.free = p.done
	}
	p.done, p.doneKeep, p.handed, p.reading = nil, false, nil, true
}

// endPage says that the page read has ended; dict is whether it read a
// dictionary page.
func (p *pageBuffers) endPage(dict bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reading, p.handed = false, nil
	p.doneKeep = dict
}

// Allocate implements memory.Allocator.
func (p *pageBuffers) Allocate(size int) []byte {
	checkSize(size)
	p.mu.Lock()
	defer p.mu.Unlock()
	if size == 0 || !p.reading || p.handed != nil {
		return make([]byte, size)
	}
	var b []byte
	if cap(p.free) >= size {
		b, p.free = p.free[:size], nil
		p.reused++
	} else {
		b = make([]byte, size)
	}
	p.handed = &b[0]
	return b
}

// Reallocate implements memory.Allocator.
func (p *pageBuffers) Reallocate(size int, b []byte) []byte {
	checkSize(size)
	if size <= cap(b) {
		return b[:size]
	}
	nb := make([]byte, size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free implements memory.Allocator.
func (p *pageBuffers) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if unsafe.SliceData(b) != p.handed {
		return // not a page buffer: the collector frees it
	}
	p.done, p.handed = b[:cap(b)], nil
}

// pageSource is the page reader of a fixedColumn's column chunk: it tells
// the column's pageBuffers where each page read begins and ends, and
// which pages are dictionaries.
type pageSource struct {
	file.PageReader
	bufs *pageBuffers
}

// Next implements file.PageReader.
func (s *pageSource) Next() bool {
	s.bufs.startPage()
	ok := s.PageReader.Next()
	_, dict := s.PageReader.Page().(*file.DictionaryPage)
	s.bufs.endPage(ok && dict)
	return ok
}
