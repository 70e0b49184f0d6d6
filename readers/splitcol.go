package readers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// splitColumn reads a top-level, non-repeated column of fixed-width
// values (FLOAT, DOUBLE, INT32, INT64 or FIXED_LEN_BYTE_ARRAY; see
// splitWidth) some of whose column chunks are in the BYTE_STREAM_SPLIT
// encoding, which arrow-go v17 cannot decode (see byteStreamSplit and
// usesSplit). It decodes every page of the column in the row groups it
// reads itself, from the decompressed pages of arrow's page reader (which
// knows the codecs, LZ4_RAW included, and v2 pages whose is_compressed is
// false): the definition levels of a nullable column (RLE/bit-packed
// hybrid; a data page v1 has them after a 4-byte length, a v2 page before
// its values, their length in its header), and values that are
// BYTE_STREAM_SPLIT, PLAIN, or indices into the chunk's dictionary page.
// A writer that falls back from a dictionary does so page by page, so one
// chunk may hold all three.
//
// A page that does not add up is an error naming the row group and the
// page: levels that end early or exceed the maximum, values that are more
// or fewer than its levels say, a null count that its levels do not give,
// more values than the row group has rows left are found as the page is
// started, before any of its values is returned; an index past the
// dictionary as it is read. A panic of arrow's codecs on a corrupt page is
// such an error too.
//
// Like fixedColumn, it reads through a file.Reader of its own on the
// Reader's pageGuard, with page buffers reused through pageBuffers: every
// value is copied out of its page before the next page is read. Its
// arrays are allocated from the Reader's allocator, a batch at a time;
// it allocates nothing of its own per value or per page.
type splitColumn struct {
	field  arrow.Field
	mem    memory.Allocator
	pages  *pageBuffers
	pf     *file.Reader
	col    int   // the leaf column
	width  int   // bytes per value
	maxDef int16 // 0 for a required column, 1 for an optional one
	rgs    []int // row groups still to open
	rg     int   // the row group being read
	left   int64 // its rows not read yet
	pr     file.PageReader
	page   int // the chunk's pages read, the current one included (for errors)

	dict  []byte // the chunk's dictionary, width bytes a value
	dictN int64  // its values; -1 before the chunk's dictionary page

	pg splitPage // the current data page

	levels, idx []uint32 // scratch of splitChunk levels and indices
}

// splitPage is what is left to read of a data page.
type splitPage struct {
	left   int64            // its rows (levels) not read yet
	enc    parquet.Encoding // its values' encoding
	values []byte           // its values (dictionary-encoded: the indices, after their bit width)
	nn     int64            // its non-null values
	pos    int64            // its non-null values read
	def    hybrid           // its definition levels, where the column has them
	idx    hybrid           // its dictionary indices
}

// splitChunk is the most rows decoded at a time, the size of the level
// and index scratch.
const splitChunk = 4096

// splitReserve is the most bytes of values a batch's buffer is first
// made for (a million doubles, as fixedChunk): it grows with the values a
// file really holds, not with the count its footer claims.
const splitReserve = 8 << 20

// splitWidth returns the bytes a value of field f of a Parquet file with
// schema md takes, if splitColumn can read it: a top-level, non-repeated
// leaf whose physical type and the Arrow type pqarrow reads it as store
// the same little-endian bytes a value (pqarrow's transferZeroCopy,
// same-width transferInt, and transferBinary of fixed-length values).
// Else it returns 0.
func splitWidth(md *metadata.FileMetaData, f *pqarrow.SchemaField) int {
	if len(f.Children) != 0 || !f.IsLeaf() || f.Field == nil || f.ColIndex >= md.Schema.NumColumns() {
		return 0
	}
	c := md.Schema.Column(f.ColIndex)
	if c.MaxRepetitionLevel() != 0 || c.MaxDefinitionLevel() > 1 {
		return 0
	}
	id := f.Field.Type.ID()
	switch c.PhysicalType() {
	case parquet.Types.Float:
		if id == arrow.FLOAT32 {
			return 4
		}
	case parquet.Types.Double:
		if id == arrow.FLOAT64 {
			return 8
		}
	case parquet.Types.Int32:
		switch id {
		case arrow.INT32, arrow.UINT32, arrow.DATE32, arrow.TIME32:
			return 4
		}
	case parquet.Types.Int64:
		switch id {
		case arrow.INT64, arrow.UINT64, arrow.TIME64:
			return 8
		case arrow.TIMESTAMP:
			if f.Field.Type.(*arrow.TimestampType).Unit != arrow.Second { // pqarrow refuses seconds
				return 8
			}
		}
	case parquet.Types.FixedLenByteArray:
		n := c.TypeLength()
		switch {
		case n <= 0:
		case id == arrow.FIXED_SIZE_BINARY && f.Field.Type.(*arrow.FixedSizeBinaryType).ByteWidth == n,
			id == arrow.FLOAT16 && n == arrow.Float16SizeBytes:
			return n
		}
	}
	return 0
}

// splitTypes says which columns splitColumn reads, for error messages.
const splitTypes = "top-level, non-repeated FLOAT, DOUBLE, INT32, INT64 and FIXED_LEN_BYTE_ARRAY columns " +
	"read as float32, float64, int32, uint32, date32, time32, int64, uint64, time64, timestamp, fixed_size_binary or float16"

// splitEncodings are the encodings a column chunk read by splitColumn may
// list: of its values, and RLE and BIT_PACKED for its levels.
var splitEncodings = []parquet.Encoding{
	parquet.Encodings.Plain, parquet.Encodings.PlainDict, parquet.Encodings.RLEDict,
	parquet.Encodings.RLE, parquet.Encodings.BitPacked, byteStreamSplit,
}

// usesSplit reports whether splitColumn reads leaf col of a file with
// footer md in rowGroups: whether a column chunk of it there lists the
// BYTE_STREAM_SPLIT encoding, or the file is xitongsys/parquet-go's and
// the column FLOAT or DOUBLE.
func usesSplit(md *metadata.FileMetaData, col int, rowGroups []int) bool {
	if strings.HasPrefix(md.GetCreatedBy(), xitongsysCreatedBy) {
		switch md.Schema.Column(col).PhysicalType() {
		case parquet.Types.Float, parquet.Types.Double:
			return true
		}
	}
	for _, g := range rowGroups {
		cc, err := md.RowGroup(g).ColumnChunk(col)
		if err == nil && slices.Contains(cc.Encodings(), byteStreamSplit) {
			return true
		}
	}
	return false
}

// xitongsysCreatedBy begins the created_by of the files that
// xitongsys/parquet-go writes. Its footers list the encodings RLE,
// BIT_PACKED and PLAIN for every column chunk, whatever its pages are in:
// FLOAT and DOUBLE columns that it writes in BYTE_STREAM_SPLIT (on
// request) do not say so. splitColumn reads all its FLOAT and DOUBLE
// columns, whose pages it can write only PLAIN, dictionary-encoded or
// BYTE_STREAM_SPLIT.
const xitongsysCreatedBy = "parquet-go version "

// newSplitColumn returns a splitColumn for field f of r if splitColumn
// reads it (see splitWidth) and, in rowGroups, must (see usesSplit), else
// nil. (Other columns are read by arrow; the
// chunks of the columns it returns one for were checked by unreadable.)
func newSplitColumn(r *Reader, f *pqarrow.SchemaField, rowGroups []int) (columnReader, error) {
	w := splitWidth(r.meta, f)
	if w == 0 || !usesSplit(r.meta, f.ColIndex, rowGroups) {
		return nil, nil
	}
	pf, pages, err := r.ownFile()
	if err != nil {
		return nil, err
	}
	return &splitColumn{
		field: *f.Field, mem: r.mem, pages: pages, pf: pf, col: f.ColIndex, width: w,
		maxDef: r.meta.Schema.Column(f.ColIndex).MaxDefinitionLevel(), rgs: slices.Clone(rowGroups),
		levels: make([]uint32, splitChunk), idx: make([]uint32, splitChunk),
	}, nil
}

// Field implements columnReader.
func (c *splitColumn) Field() *arrow.Field { return &c.field }

// Release implements columnReader.
func (c *splitColumn) Release() {
	c.pr, c.rgs, c.dict, c.pg = nil, nil, nil, splitPage{}
}

// NextBatch implements columnReader: the next n values, as one array.
func (c *splitColumn) NextBatch(n int64) (_ *arrow.Chunked, err error) {
	defer func() {
		// Arrow's codecs panic on some corrupt pages.
		if v := recover(); v != nil {
			err = fmt.Errorf("row group %d, page %d: corrupt page: %v", c.rg, c.page, v)
		}
	}()
	w := int64(c.width)
	vals := memory.NewResizableBuffer(c.mem)
	defer vals.Release()
	// Room for the batch, up to splitReserve bytes; more only as values come.
	first := min(n, max(splitReserve/w, 1))
	vals.Reserve(int(first * w))
	var valid *memory.Buffer
	if c.maxDef > 0 {
		valid = memory.NewResizableBuffer(c.mem)
		defer valid.Release()
		valid.Reserve(int(bitutil.BytesForBits(first)))
	}
	var nulls int64
	for got := int64(0); got < n; {
		if c.left == 0 {
			if err := c.nextRowGroup(n, got); err != nil {
				return nil, err
			}
			continue
		}
		if c.pg.left == 0 {
			if err := c.nextPage(); err != nil {
				return nil, err
			}
			continue
		}
		m := min(n-got, c.pg.left, splitChunk)
		grow(vals, int((got+m)*w))
		var bits []byte
		if valid != nil {
			grow(valid, int(bitutil.BytesForBits(got+m)))
			bits = valid.Bytes()
		}
		k, err := c.read(vals.Bytes()[got*w:(got+m)*w], bits, got)
		if err != nil {
			return nil, err
		}
		nulls += m - k
		got += m
		c.left -= m
		c.pg.left -= m
	}
	vals.ResizeNoShrink(int(n * w))
	bufs := []*memory.Buffer{nil, vals}
	if nulls > 0 {
		valid.ResizeNoShrink(int(bitutil.BytesForBits(n)))
		bufs[0] = valid
	}
	data := array.NewData(c.field.Type, int(n), bufs, nil, int(nulls), 0)
	arr := array.MakeFromData(data)
	data.Release()
	ch := arrow.NewChunked(c.field.Type, []arrow.Array{arr})
	arr.Release()
	return ch, nil
}

// grow makes buf size bytes long, at least doubling its capacity when it
// must grow.
func grow(buf *memory.Buffer, size int) {
	if size > buf.Cap() {
		buf.Reserve(max(size, 2*buf.Cap()))
	}
	buf.ResizeNoShrink(size)
}

// nextRowGroup opens the column chunk of the next row group; n and got
// are the values asked for and read so far, for the error when none is
// left.
func (c *splitColumn) nextRowGroup(n, got int64) error {
	if len(c.rgs) == 0 {
		return fmt.Errorf("%d values asked for, %d left", n, got)
	}
	g := c.rgs[0]
	c.rgs = c.rgs[1:]
	rg := c.pf.MetaData().RowGroup(g)
	cc, err := rg.ColumnChunk(c.col)
	if err != nil {
		return fmt.Errorf("row group %d: %w", g, err)
	}
	if cc.NumValues() != rg.NumRows() {
		return fmt.Errorf("row group %d: corrupt column chunk: %d values in %d rows", g, cc.NumValues(), rg.NumRows())
	}
	c.rg, c.left, c.page, c.dictN, c.pg, c.pr = g, rg.NumRows(), 0, -1, splitPage{}, nil
	if c.left == 0 {
		return nil
	}
	pr, err := c.pf.RowGroup(g).GetColumnPageReader(c.col)
	if err != nil {
		return fmt.Errorf("row group %d: %w", g, err)
	}
	c.pr = &pageSource{pr, c.pages}
	return nil
}

// corrupt returns an error about the current page of the current row
// group.
func (c *splitColumn) corrupt(format string, args ...any) error {
	return fmt.Errorf("row group %d, page %d: corrupt page: "+format, append([]any{c.rg, c.page}, args...)...)
}

// unsupported returns an error about the current page: what it holds is
// valid Parquet that splitColumn does not read.
func (c *splitColumn) unsupported(format string, args ...any) error {
	return fmt.Errorf("row group %d, page %d: "+format+" (this reader reads BYTE_STREAM_SPLIT, PLAIN and dictionary-encoded values, and RLE definition levels)",
		append([]any{c.rg, c.page}, args...)...)
}

// nextPage reads the next page of the chunk: a dictionary page into
// c.dict, a data page into c.pg.
func (c *splitColumn) nextPage() error {
	c.page++
	if !c.pr.Next() {
		if err := c.pr.Err(); err != nil {
			return fmt.Errorf("row group %d, page %d: %w", c.rg, c.page, err)
		}
		return fmt.Errorf("row group %d: corrupt column chunk: its pages end %d values early", c.rg, c.left)
	}
	switch p := c.pr.Page().(type) {
	case *file.DictionaryPage:
		return c.setDictionary(p)
	case *file.DataPageV1:
		if c.maxDef == 0 {
			return c.startPage(p, nil, p.Data(), -1)
		}
		if e := p.DefinitionLevelEncoding(); e != parquet.Encodings.RLE {
			return c.unsupported("definition levels in the %s encoding", e)
		}
		data := p.Data()
		if len(data) < 4 {
			return c.corrupt("%d bytes, too few for the length of its definition levels", len(data))
		}
		n := binary.LittleEndian.Uint32(data)
		if uint64(n) > uint64(len(data)-4) {
			return c.corrupt("%d bytes of definition levels in %d", n, len(data)-4)
		}
		return c.startPage(p, data[4:4+n], data[4+n:], -1)
	case *file.DataPageV2:
		data := p.Data()
		rep, def := int64(p.RepetitionLevelByteLen()), int64(p.DefinitionLevelByteLen())
		if rep < 0 || def < 0 || rep+def > int64(len(data)) {
			return c.corrupt("%d and %d bytes of levels in %d", rep, def, len(data))
		}
		if p.NumNulls() < 0 {
			return c.corrupt("%d nulls", p.NumNulls())
		}
		return c.startPage(p, data[rep:rep+def], data[rep+def:], int64(p.NumNulls()))
	}
	return nil // arrow's page reader returns no other page
}

// setDictionary decodes the chunk's dictionary page.
func (c *splitColumn) setDictionary(p *file.DictionaryPage) error {
	if c.dictN >= 0 || c.page > 1 {
		return c.corrupt("a dictionary page that is not the chunk's first page")
	}
	switch e := parquet.Encoding(p.Encoding()); e {
	case parquet.Encodings.Plain, parquet.Encodings.PlainDict:
	default:
		return c.unsupported("a dictionary page in the %s encoding", e)
	}
	n, data := int64(p.NumValues()), p.Data()
	if n < 0 || int64(len(data)) != n*int64(c.width) {
		return c.corrupt("%d bytes of dictionary for %d values of %d bytes", len(data), n, c.width)
	}
	c.dict, c.dictN = append(c.dict[:0], data...), n
	return nil
}

// startPage starts reading data page p, whose definition levels (of an
// optional column) and values are levels and values; nulls is the null
// count of a v2 page's header, or -1.
func (c *splitColumn) startPage(p file.Page, levels, values []byte, nulls int64) error {
	nv := int64(p.NumValues())
	if nv < 0 || nv > c.left {
		return c.corrupt("%d values, where the row group has %d rows left", nv, c.left)
	}
	nn := nv
	var def hybrid
	if c.maxDef > 0 {
		def = hybrid{data: levels, width: 1}
		count := def // a copy, to count the non-null values
		var err error
		if nn, err = c.defined(&count, nv); err != nil {
			return c.corrupt("definition levels: %w", err)
		}
	}
	if nulls >= 0 && nv-nulls != nn {
		return c.corrupt("its header says %d nulls in %d values, its definition levels %d", nulls, nv, nv-nn)
	}
	pg := splitPage{left: nv, enc: parquet.Encoding(p.Encoding()), values: values, nn: nn, def: def}
	w := int64(c.width)
	switch pg.enc {
	case parquet.Encodings.Plain, byteStreamSplit:
		if int64(len(values)) != nn*w {
			return c.corrupt("%d bytes of %s values for %d values of %d bytes", len(values), pg.enc, nn, w)
		}
	case parquet.Encodings.PlainDict, parquet.Encodings.RLEDict:
		if c.dictN < 0 {
			return c.corrupt("dictionary indices in a column chunk without a dictionary page")
		}
		if len(values) < 1 && nn > 0 {
			return c.corrupt("no bit width for its dictionary indices")
		}
		if len(values) > 0 {
			if bw := values[0]; bw > 32 {
				return c.corrupt("dictionary indices of %d bits", bw)
			}
			pg.idx = hybrid{data: values[1:], width: uint(values[0])}
		}
	default:
		return c.unsupported("values in the %s encoding", pg.enc)
	}
	c.pg = pg
	return nil
}

// defined returns how many of the next n levels of h (of an optional
// column: 0 or 1) are 1.
func (c *splitColumn) defined(h *hybrid, n int64) (int64, error) {
	var ones int64
	for n > 0 {
		lv := c.levels[:min(n, splitChunk)]
		if err := h.next(lv); err != nil {
			return 0, err
		}
		for _, l := range lv {
			ones += int64(l)
		}
		n -= int64(len(lv))
	}
	return ones, nil
}

// read reads the next len(dst)/width rows of the current page (at most
// splitChunk) into dst, and their validity into bits (nil for a
// required column) from bit at, and returns how many were not null.
// Null values are zeros.
func (c *splitColumn) read(dst, bits []byte, at int64) (int64, error) {
	w := c.width
	m := len(dst) / w
	if c.maxDef == 0 {
		return int64(m), c.dense(dst, m)
	}
	lv := c.levels[:m]
	if err := c.pg.def.next(lv); err != nil {
		return 0, c.corrupt("definition levels: %w", err)
	}
	k := 0
	for i, l := range lv {
		bitutil.SetBitTo(bits, int(at)+i, l != 0)
		k += int(l)
	}
	// The k values go first, then each to its row, from the last.
	if err := c.dense(dst[:k*w], k); err != nil {
		return 0, err
	}
	for i, j := m-1, k-1; i > j; i-- {
		if lv[i] != 0 {
			copy(dst[i*w:(i+1)*w], dst[j*w:(j+1)*w])
			j--
		} else {
			clear(dst[i*w : (i+1)*w])
		}
	}
	return int64(k), nil
}

// dense decodes the next k non-null values of the current page into dst.
func (c *splitColumn) dense(dst []byte, k int) error {
	pg := &c.pg
	if pg.pos+int64(k) > pg.nn {
		return c.corrupt("more than its %d values", pg.nn)
	}
	w := c.width
	switch pg.enc {
	case parquet.Encodings.Plain:
		copy(dst, pg.values[pg.pos*int64(w):])
	case byteStreamSplit:
		// Byte b of value i is byte i of stream b; the w streams of nn
		// bytes follow each other.
		for b := range w {
			s := pg.values[int64(b)*pg.nn+pg.pos:][:k]
			for i, v := range s {
				dst[i*w+b] = v
			}
		}
	default: // dictionary indices
		ix := c.idx[:k]
		if err := pg.idx.next(ix); err != nil {
			return c.corrupt("dictionary indices: %w", err)
		}
		for i, x := range ix {
			if int64(x) >= c.dictN {
				return c.corrupt("dictionary index %d, where the dictionary has %d values", x, c.dictN)
			}
			copy(dst[i*w:(i+1)*w], c.dict[int(x)*w:])
		}
	}
	pg.pos += int64(k)
	return nil
}

// hybrid decodes Parquet's RLE/bit-packed hybrid encoding of values of
// width bits (0 to 32), without a length prefix: runs, each a ULEB128
// header whose low bit says whether a run of one value repeated (header>>1
// times, the value in the next (width+7)/8 bytes) or of header>>1 groups
// of 8 values bit-packed, LSB first, follows. A bit-packed run cut short
// by the end of the data has the values its bytes hold.
type hybrid struct {
	data  []byte // the runs after the current one
	width uint
	rle   int64  // values left in the current repeated run
	val   uint32 // its value
	bp    int64  // values left in the current bit-packed run
	bits  []byte // its bytes
	bit   int    // the offset in bits of its next value
}

// errRunsEnd is the error of a hybrid decoder asked for more values than
// its runs hold.
var errRunsEnd = errors.New("the runs end early")

// next decodes len(dst) values into dst.
func (h *hybrid) next(dst []uint32) error {
	for i := 0; i < len(dst); {
		switch {
		case h.rle > 0:
			k := int(min(h.rle, int64(len(dst)-i)))
			for j := range dst[i : i+k] {
				dst[i+j] = h.val
			}
			i += k
			h.rle -= int64(k)
		case h.bp > 0:
			k := int(min(h.bp, int64(len(dst)-i)))
			mask := uint64(1)<<h.width - 1
			for j := range dst[i : i+k] {
				off := h.bit >> 3
				var x uint64
				if off+8 <= len(h.bits) {
					x = binary.LittleEndian.Uint64(h.bits[off:])
				} else {
					for b, v := range h.bits[off:] {
						x |= uint64(v) << (8 * b)
					}
				}
				dst[i+j] = uint32(x >> (h.bit & 7) & mask)
				h.bit += int(h.width)
			}
			i += k
			h.bp -= int64(k)
		default:
			if err := h.run(); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxRun bounds the values counted of one run: more than any page holds.
const maxRun = 1 << 40

// run starts the next run.
func (h *hybrid) run() error {
	if len(h.data) == 0 {
		return errRunsEnd
	}
	hdr, n := binary.Uvarint(h.data)
	if n <= 0 {
		return errors.New("a run header does not decode")
	}
	h.data = h.data[n:]
	count := min(hdr>>1, maxRun)
	if hdr&1 == 0 {
		nb := int((h.width + 7) / 8)
		if len(h.data) < nb {
			return errors.New("a repeated run is cut short")
		}
		var v uint32
		for b, x := range h.data[:nb] {
			v |= uint32(x) << (8 * b)
		}
		if h.width < 32 && v>>h.width != 0 {
			return fmt.Errorf("a repeated value of %d, wider than %d bits", v, h.width)
		}
		h.data = h.data[nb:]
		h.rle, h.val = int64(count), v
		return nil
	}
	values := count * 8
	if h.width > 0 {
		size := min(count*uint64(h.width), uint64(len(h.data)))
		h.bits, h.data = h.data[:size], h.data[size:]
		values = min(values, size*8/uint64(h.width))
	}
	h.bp, h.bit = int64(values), 0
	return nil
}
