package readers

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// columnReader reads one top-level field batch by batch: a
// *pqarrow.ColumnReader, or a boolColumn.
type columnReader interface {
	NextBatch(n int64) (*arrow.Chunked, error)
	Field() *arrow.Field
	Release()
}

// boolColumn reads a required (non-null, not nested) BOOLEAN column of
// some row groups. pqarrow v17 decodes such a column to one byte per value
// and then sets the bits of the Arrow bitmap one by one (its own TODO says
// so), which took a sixth of the time to read the textbook marbles. A
// PLAIN page of a required BOOLEAN column is already a bitmap, LSB first
// as Arrow's: boolColumn copies its bits. Pages in another encoding (RLE,
// in version 2 files) are read with arrow's column chunk reader, from that
// page to the end of the chunk, and packed eight values at a time.
type boolColumn struct {
	field arrow.Field
	mem   memory.Allocator
	pf    *file.Reader
	col   int   // the leaf column
	rgs   []int // row groups still to read; the current one first
	left  int64 // values left in the current chunk
	pages file.PageReader
	// The current PLAIN page: its bits, the first not read yet, and how
	// many are left.
	plain     []byte
	plainOff  int64
	plainLeft int64
	cur       *file.BooleanColumnChunkReader // the rest of the chunk, after a page that is not PLAIN
	buf       []bool
	plainRead int // PLAIN pages copied (for tests)
}

// newBoolColumn returns a boolColumn for field f of r if it is a required
// top-level BOOLEAN column, else nil.
func newBoolColumn(r *Reader, f *pqarrow.SchemaField, rowGroups []int) *boolColumn {
	if len(f.Children) != 0 || !f.IsLeaf() || f.Field == nil || f.Field.Type.ID() != arrow.BOOL {
		return nil
	}
	c := r.meta.Schema.Column(f.ColIndex)
	if c.PhysicalType() != parquet.Types.Boolean || c.MaxDefinitionLevel() != 0 || c.MaxRepetitionLevel() != 0 {
		return nil
	}
	return &boolColumn{field: *f.Field, mem: r.mem, pf: r.pq.ParquetReader(), col: f.ColIndex, rgs: rowGroups}
}

// Field implements columnReader.
func (b *boolColumn) Field() *arrow.Field { return &b.field }

// Release implements columnReader.
func (b *boolColumn) Release() { b.cur, b.pages, b.plain, b.rgs, b.buf = nil, nil, nil, nil, nil }

// boolChunk is the most values NextBatch decodes at a time: its memory
// grows with the values a file really holds, not with the count its
// footer claims.
const boolChunk = 1 << 16

// NextBatch implements columnReader: the next n values, as one array.
func (b *boolColumn) NextBatch(n int64) (*arrow.Chunked, error) {
	out := memory.NewResizableBuffer(b.mem)
	defer out.Release()
	out.Reserve(int(bitutil.BytesForBits(min(n, 1<<20)))) // more only as values come
	for got := int64(0); got < n; {
		if b.left == 0 {
			if len(b.rgs) == 0 {
				return nil, fmt.Errorf("column %q: %d values asked for, %d left", b.field.Name, n, got)
			}
			pr, err := b.pf.RowGroup(b.rgs[0]).GetColumnPageReader(b.col)
			if err != nil {
				return nil, err
			}
			b.pages, b.cur, b.plainLeft = pr, nil, 0
			b.left = b.pf.MetaData().RowGroup(b.rgs[0]).NumRows()
			b.rgs = b.rgs[1:]
		}
		if b.cur == nil && b.plainLeft == 0 {
			if err := b.nextPage(); err != nil {
				return nil, err
			}
			continue
		}
		want := min(n-got, b.left)
		var m int64
		if b.cur == nil {
			m = min(want, b.plainLeft)
			out.Resize(int(bitutil.BytesForBits(got + m)))
			bitutil.CopyBitmap(b.plain, int(b.plainOff), int(m), out.Bytes(), int(got))
			b.plainOff += m
			b.plainLeft -= m
		} else {
			if b.buf == nil {
				b.buf = make([]bool, boolChunk)
			}
			want = min(want, boolChunk)
			_, read, err := b.cur.ReadBatch(want, b.buf[:want], nil, nil)
			if err != nil {
				return nil, err
			}
			if read == 0 {
				return nil, fmt.Errorf("the row group ended %d values early", b.left)
			}
			m = int64(read)
			out.Resize(int(bitutil.BytesForBits(got + m)))
			packBoolsAt(out.Bytes(), got, b.buf[:m])
		}
		got += m
		b.left -= m
	}
	if n == 0 {
		out.Resize(0)
	}
	data := array.NewData(arrow.FixedWidthTypes.Boolean, int(n), []*memory.Buffer{nil, out}, nil, 0, 0)
	arr := array.NewBooleanData(data)
	data.Release()
	ch := arrow.NewChunked(arrow.FixedWidthTypes.Boolean, []arrow.Array{arr})
	arr.Release()
	return ch, nil
}

// nextPage moves to the chunk's next page: a PLAIN data page's bits are
// read from b.plain; from any other page on, the chunk is read by b.cur.
func (b *boolColumn) nextPage() error {
	if !b.pages.Next() {
		if err := b.pages.Err(); err != nil {
			return err
		}
		return fmt.Errorf("the row group ended %d values early", b.left)
	}
	pg := b.pages.Page()
	var data []byte
	switch p := pg.(type) {
	case *file.DataPageV1:
		data = p.Data()
	case *file.DataPageV2:
		levels := int64(p.RepetitionLevelByteLen()) + int64(p.DefinitionLevelByteLen())
		if levels < 0 || levels > int64(len(p.Data())) {
			return fmt.Errorf("column %q: corrupt data page: %d bytes of levels in %d", b.field.Name, levels, len(p.Data()))
		}
		data = p.Data()[levels:]
	}
	nv := int64(pg.NumValues())
	if data == nil || parquet.Encoding(pg.Encoding()) != parquet.Encodings.Plain || nv < 0 || nv > b.left {
		// Anything else (RLE, or a page that claims too many values, which
		// the chunk reader reports) is arrow's to read.
		// Decoder scratch from the Go allocator, as the chunk reader of
		// b.pf would have it (see openParquet).
		cr := file.NewColumnReader(b.pf.MetaData().Schema.Column(b.col), &firstPage{first: pg, rest: b.pages}, memory.DefaultAllocator, b.pf.BufferPool())
		bcr, ok := cr.(*file.BooleanColumnChunkReader)
		if !ok {
			return fmt.Errorf("column %q: not a BOOLEAN column chunk", b.field.Name)
		}
		b.cur = bcr
		return nil
	}
	if int64(len(data))*8 < nv {
		return fmt.Errorf("column %q: corrupt PLAIN page: %d values in %d bytes", b.field.Name, nv, len(data))
	}
	b.plain, b.plainOff, b.plainLeft = data, 0, nv
	b.plainRead++
	return nil
}

// firstPage is a page reader that returns first, which its caller has
// read already from rest, and then rest's other pages.
type firstPage struct {
	first   file.Page
	started bool
	rest    file.PageReader
}

func (f *firstPage) SetMaxPageHeaderSize(n int) { f.rest.SetMaxPageHeaderSize(n) }

func (f *firstPage) Page() file.Page {
	if !f.started {
		return nil
	}
	if f.first != nil {
		return f.first
	}
	return f.rest.Page()
}

func (f *firstPage) Next() bool {
	if !f.started {
		f.started = true
		return true
	}
	f.first = nil
	return f.rest.Next()
}

func (f *firstPage) Err() error { return f.rest.Err() }

func (f *firstPage) Reset(r parquet.BufferedReader, nrows int64, codec compress.Compression, ctx *file.CryptoContext) {
	f.first, f.started = nil, true
	f.rest.Reset(r, nrows, codec, ctx)
}

// packBoolsAt sets bits off, off+1, ... of bits to vals: bit by bit up to
// a byte boundary, then with packBools.
func packBoolsAt(bits []byte, off int64, vals []bool) {
	for len(vals) > 0 && off%8 != 0 {
		if vals[0] {
			bits[off>>3] |= 1 << (off & 7)
		} else {
			bits[off>>3] &^= 1 << (off & 7)
		}
		vals, off = vals[1:], off+1
	}
	packBools(bits[off>>3:], vals)
}

// packBools sets bit i of bits (LSB first) to vals[i], eight at a time:
// the eight 0/1 bytes of a little-endian word times 0x0102040810204080
// land on bits 56 to 63, in order, without carries.
func packBools(bits []byte, vals []bool) {
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals))
	i := 0
	for ; i+8 <= len(raw); i += 8 {
		bits[i>>3] = byte(binary.LittleEndian.Uint64(raw[i:]) * 0x0102040810204080 >> 56)
	}
	if i < len(raw) {
		var last byte
		for j, v := range raw[i:] {
			last |= (v & 1) << j
		}
		bits[i>>3] = last
	}
}
