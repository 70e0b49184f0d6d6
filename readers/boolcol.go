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
// so), which took a sixth of the time to read the textbook marbles; this
// reads the bytes with the column chunk reader and packs them eight at a
// time.
type boolColumn struct {
	field arrow.Field
	mem   memory.Allocator
	pf    *file.Reader
	col   int   // the leaf column
	rgs   []int // row groups still to read; the current one first
	cur   *file.BooleanColumnChunkReader
	left  int64 // values left in cur
	buf   []bool
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
func (b *boolColumn) Release() { b.cur, b.rgs, b.buf = nil, nil, nil }

// boolChunk is the most values NextBatch decodes at a time: its memory
// grows with the values a file really holds, not with the count its
// footer claims.
const boolChunk = 1 << 16

// NextBatch implements columnReader: the next n values, as one array.
func (b *boolColumn) NextBatch(n int64) (*arrow.Chunked, error) {
	if b.buf == nil {
		b.buf = make([]bool, boolChunk)
	}
	out := memory.NewResizableBuffer(b.mem)
	defer out.Release()
	out.Reserve(int(bitutil.BytesForBits(min(n, 1<<20)))) // more only as values come
	for got := int64(0); got < n; {
		if b.left == 0 {
			if len(b.rgs) == 0 {
				return nil, fmt.Errorf("column %q: %d values asked for, %d left", b.field.Name, n, got)
			}
			cr, err := b.pf.RowGroup(b.rgs[0]).Column(b.col)
			if err != nil {
				return nil, err
			}
			bcr, ok := cr.(*file.BooleanColumnChunkReader)
			if !ok {
				return nil, fmt.Errorf("column %q: not a BOOLEAN column chunk", b.field.Name)
			}
			b.cur, b.left = bcr, b.pf.MetaData().RowGroup(b.rgs[0]).NumRows()
			b.rgs = b.rgs[1:]
		}
		want := min(n-got, b.left, boolChunk)
		_, m, err := b.cur.ReadBatch(want, b.buf[:want], nil, nil)
		if err != nil {
			return nil, err
		}
		if m == 0 {
			return nil, fmt.Errorf("column %q: the row group ended %d values early", b.field.Name, b.left)
		}
		out.Resize(int(bitutil.BytesForBits(got + int64(m))))
		packBoolsAt(out.Bytes(), got, b.buf[:m])
		got += int64(m)
		b.left -= int64(m)
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
