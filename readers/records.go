package readers

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// parquetRecords streams columns of some row groups of a Parquet file, in
// the order given. It reads each distinct requested top-level field with
// its own pqarrow column reader, made for this stream and reading only
// those row groups, in the calling goroutine, so that a panicking decoder
// can be recovered, and assembles the output columns in the requested
// order. Streams share nothing but the file.Reader (its footer, its
// io.ReaderAt and its pool of page buffers, all safe for concurrent use),
// so any number may run at the same time.
//
// Batches never span row groups. In arrow v17 a dictionary column read
// across a row-group boundary (where the dictionary changes) comes back in
// several chunks: pqarrow's own record reader then fails with "not
// implemented", and array.Concatenate of those chunks gave wrong values
// (and leaked). Stopping each batch at the end of its row group avoids both.
//
// A row group with an INT64 column chunk in DELTA_BINARY_PACKED encoding
// is read whole, then sliced into batches: arrow v17's decoder for it
// loses its place when a read of a nullable column stops inside a
// miniblock (DecodeSpaced has a value receiver), and panics on the next
// read; reading each page in one call never stops inside one.
type parquetRecords struct {
	ctx     context.Context
	path    string
	mem     memory.Allocator
	schema  *arrow.Schema
	readers []columnReader // one per distinct field
	outCols []int          // output column k comes from readers[outCols[k]]
	batch   int64
	rgRows  []int64       // rows left in each row group; the current one is first
	rgIdx   []int         // the row groups, like rgRows
	leaves  [][]int       // the Parquet columns of each reader
	guard   *pageGuard    // the file's, to ask why a read failed
	rgWhole []bool        // per row group, like rgRows: read it whole (see above)
	held    []arrow.Array // rgWhole: the current row group's columns, one per reader
	heldOff int64         // rows of held already returned
	// Batches of variable-width (BYTE_ARRAY) columns are bounded in bytes
	// as well as rows (see BatchBytes): rgWidth is, per row group like
	// rgRows, the bytes per row its column chunks take uncompressed, from
	// the footer (0 when no column read is variable-width), and width the
	// bytes per row the last batch took decoded (0 before the first).
	rgWidth []float64
	rgDict  []bool // per row group: a BYTE_ARRAY chunk read has a dictionary page
	width   float64
	cur     arrow.Record
	err     error
	done    bool
}

func (r *Reader) parquetRecords(ctx context.Context, idx []int, batch int64, rowGroups []int) (_ RecordReader, err error) {
	p := &parquetRecords{ctx: ctx, path: r.file.Path, mem: r.mem, batch: batch, outCols: make([]int, len(idx)), guard: r.guard}
	defer func() {
		if v := recover(); v != nil {
			err = corrupt(p.path, v)
		}
		if err != nil {
			p.Release()
		}
	}()
	if err := r.unreadable(idx, rowGroups); err != nil {
		return nil, err
	}
	var leaves []int // the Parquet columns read
	for _, i := range idx {
		leaves = appendLeaves(leaves, &r.pq.Manifest.Fields[i])
	}
	for _, i := range rowGroups {
		rg := r.meta.RowGroup(i)
		p.rgRows = append(p.rgRows, rg.NumRows())
		p.rgIdx = append(p.rgIdx, i)
		p.rgWhole = append(p.rgWhole, hasDeltaInt64(rg, leaves))
		w, dict := varWidth(rg, leaves)
		p.rgWidth, p.rgDict = append(p.rgWidth, w), append(p.rgDict, dict)
	}
	pos := make(map[int]int) // field index -> position in p.readers
	var fields []arrow.Field
	for k, i := range idx {
		j, ok := pos[i]
		if !ok {
			own := make(map[int]bool)
			for _, c := range appendLeaves(nil, &r.pq.Manifest.Fields[i]) {
				own[c] = true
			}
			// All the field's leaves, of these row groups only. Each
			// leaf gets a read buffer (see streamBufferSize).
			var cr columnReader
			if sc, err := newSplitColumn(r, &r.pq.Manifest.Fields[i], rowGroups); err != nil {
				return nil, fmt.Errorf("%s: column %q: %w", p.path, r.schema.Field(i).Name, err)
			} else if sc != nil {
				cr = sc // BYTE_STREAM_SPLIT, which arrow cannot decode
			} else if bc := newBoolColumn(r, &r.pq.Manifest.Fields[i], rowGroups); bc != nil {
				cr = bc
			} else if fc, err := newFixedColumn(r, &r.pq.Manifest.Fields[i], rowGroups); err != nil || fc != nil {
				if err != nil {
					return nil, fmt.Errorf("%s: column %q: %w", p.path, r.schema.Field(i).Name, err)
				}
				cr = fc
			} else {
				pcr, err := r.pq.GetFieldReader(ctx, i, own, rowGroups)
				if err == nil && pcr == nil {
					err = errors.New("no Parquet leaf columns")
				}
				if err != nil {
					return nil, fmt.Errorf("%s: column %q: %w", p.path, r.schema.Field(i).Name, err)
				}
				cr = pcr
			}
			j = len(p.readers)
			pos[i] = j
			p.readers = append(p.readers, cr)
			p.leaves = append(p.leaves, appendLeaves(nil, &r.pq.Manifest.Fields[i]))
		}
		p.outCols[k] = j
		fields = append(fields, dropNoFieldID(*p.readers[j].Field()))
	}
	p.schema = projectSchema(r.schema, fields)
	return p, nil
}

// appendLeaves appends the Parquet column indices of the leaves of f.
// (A field with children is not a leaf, though in arrow v17 its ColIndex
// is 0, not -1, so that IsLeaf says it is.)
func appendLeaves(cols []int, f *pqarrow.SchemaField) []int {
	if len(f.Children) == 0 {
		if f.IsLeaf() {
			cols = append(cols, f.ColIndex)
		}
		return cols
	}
	for i := range f.Children {
		cols = appendLeaves(cols, &f.Children[i])
	}
	return cols
}

// BatchBytes bounds the bytes that a batch of a Parquet stream with a
// variable-width (BYTE_ARRAY: string or binary) column materialises: such
// a batch has fewer rows than asked for when its columns would otherwise
// take more. The values of such a column are decoded into one buffer per
// batch, so that a batch of a row group of 100k rows of 10 kB strings took
// 1 GB (and twice that while the buffer grew), for a dictionary-encoded
// column chunk of 10 MB. Batches of fixed-width columns only are not
// bounded: 1<<20 rows of an int64 column take 8 MiB.
//
// A batch has at most BatchBytes over the bytes per row that the footer
// gives the column chunks uncompressed, or that the batch before it took
// decoded, whichever is more. A dictionary-encoded chunk's footer size
// counts each distinct value once (one key of 100 kB in a million rows
// takes 100 kB there), so the first batch of a stream with such a chunk
// has at most probeRows rows, to measure. A variable so that tests can
// lower it.
var BatchBytes int64 = 32 << 20

const probeRows = 256

// varWidth returns the uncompressed bytes per row of the column chunks
// cols in rg (at least 1) if one of them is BYTE_ARRAY, else 0, and
// whether one of those has a dictionary page. A
// dictionary-encoded chunk's size counts its dictionary once, so decoded
// it can take many times more; a plain one's is about its decoded size.
func varWidth(rg *metadata.RowGroupMetaData, cols []int) (width float64, dict bool) {
	var bytes int64
	found := false
	for _, c := range cols {
		cc, err := rg.ColumnChunk(c)
		if err != nil {
			continue
		}
		bytes += max(cc.TotalUncompressedSize(), 0)
		if cc.Type() == parquet.Types.ByteArray {
			found = true
			dict = dict || cc.HasDictionaryPage()
		}
	}
	if !found {
		return 0, false
	}
	return max(float64(bytes)/float64(max(rg.NumRows(), 1)), 1), dict
}

// batchRows returns the rows of the next batch of the current row group
// (see BatchBytes).
func (p *parquetRecords) batchRows() int64 {
	n := min(p.batch, p.rgRows[0])
	fw := p.rgWidth[0]
	if fw == 0 || p.rgWhole[0] {
		return n
	}
	if p.width == 0 && p.rgDict[0] {
		n = min(n, probeRows)
	}
	return max(1, min(n, int64(float64(BatchBytes)/max(p.width, fw))))
}

// arrayBytes returns the bytes of the buffers of a, its children and its
// dictionary.
func arrayBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += arrayBytes(c)
	}
	if dict, ok := d.Dictionary().(*array.Data); ok && dict != nil {
		n += arrayBytes(dict)
	}
	return n
}

// hasDeltaInt64 reports whether any of the columns of rg is INT64 in
// DELTA_BINARY_PACKED encoding, by the column chunk metadata.
func hasDeltaInt64(rg *metadata.RowGroupMetaData, cols []int) bool {
	for _, c := range cols {
		cc, err := rg.ColumnChunk(c)
		if err != nil {
			continue // reading the column reports it
		}
		if cc.Type() == parquet.Types.Int64 && slices.Contains(cc.Encodings(), parquet.Encodings.DeltaBinaryPacked) {
			return true
		}
	}
	return false
}

func (p *parquetRecords) fail(err error) {
	p.err = fmt.Errorf("%s: reading Parquet: %w", p.path, err)
}

// Next implements RecordReader.
func (p *parquetRecords) Next() (ok bool) {
	if p.cur != nil {
		p.cur.Release()
		p.cur = nil
	}
	if p.done || p.err != nil {
		return false
	}
	if err := p.ctx.Err(); err != nil {
		p.fail(err)
		return false
	}
	cols := make([]arrow.Array, len(p.readers))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	defer func() {
		if v := recover(); v != nil {
			p.err = corrupt(p.path, v)
			ok = false
		}
	}()
	for len(p.rgRows) > 0 && p.rgRows[0] <= 0 {
		p.rgRows, p.rgWhole, p.rgIdx = p.rgRows[1:], p.rgWhole[1:], p.rgIdx[1:]
		p.rgWidth, p.rgDict = p.rgWidth[1:], p.rgDict[1:]
	}
	if len(p.rgRows) == 0 {
		p.done = true
		return false
	}
	n := p.batchRows()
	if !p.rgWhole[0] {
		if !p.read(cols, n) {
			return false
		}
		if p.rgWidth[0] > 0 {
			var bytes int64
			for _, c := range cols {
				bytes += arrayBytes(c.Data())
			}
			p.width = max(float64(bytes)/float64(n), 1)
		}
	} else {
		if p.held == nil {
			p.held = make([]arrow.Array, len(p.readers))
			if !p.read(p.held, p.rgRows[0]) {
				return false
			}
			p.heldOff = 0
		}
		for i, h := range p.held {
			cols[i] = array.NewSlice(h, p.heldOff, p.heldOff+n)
		}
		p.heldOff += n
		if p.rgRows[0] == n {
			p.releaseHeld()
		}
	}
	p.rgRows[0] -= n
	out := make([]arrow.Array, len(p.outCols))
	for k, j := range p.outCols {
		out[k] = cols[j]
	}
	p.cur = array.NewRecord(p.schema, out, n)
	return true
}

// read reads the next n rows of every column into cols (which the caller
// releases), or records the error and returns false.
func (p *parquetRecords) read(cols []arrow.Array, n int64) bool {
	for i, cr := range p.readers {
		chunked, err := cr.NextBatch(n)
		if err != nil {
			p.fail(fmt.Errorf("column %q: %w", cr.Field().Name, p.cause(i, err)))
			return false
		}
		cols[i], err = single(chunked, p.mem)
		chunked.Release()
		if err != nil {
			p.fail(fmt.Errorf("column %q: %w", cr.Field().Name, err))
			return false
		}
		// A column chunk that the guard failed mid-way has come back short,
		// or, in pqarrow's readers, which go on to the next row group's
		// chunk, with rows of that row group: either way, its verdict
		// says so.
		if verr := p.cause(i, nil); verr != nil {
			p.fail(fmt.Errorf("column %q: %w", cr.Field().Name, verr))
			return false
		}
		if int64(cols[i].Len()) != n {
			if ioErr := p.guard.readErr(); ioErr != nil {
				// Not corrupt: reading failed, and pqarrow dropped the error.
				p.fail(fmt.Errorf("column %q: reading the file: %w", cr.Field().Name, ioErr))
				return false
			}
			p.err = fmt.Errorf("%s: corrupt file: column %q gave %d rows, want %d", p.path, cr.Field().Name, cols[i].Len(), n)
			return false
		}
	}
	return true
}

// cause returns why reader i failed with err in the current row group,
// or, with a nil err, why its batch there must be refused: the corrupt
// column chunk that the file's pageGuard found there, if it found one,
// else err.
func (p *parquetRecords) cause(i int, err error) error {
	if p.guard == nil {
		return err
	}
	var verr error
	if len(p.rgIdx) > 0 {
		verr = p.guard.verdict(p.rgIdx[0], p.leaves[i])
	}
	if verr == nil && err == nil {
		return nil
	}
	// A failed read of the file (the disk, the network, the store) comes
	// first: what the readers made of the bytes they did not get would
	// read as a corrupt file.
	if ioErr := p.guard.readErr(); ioErr != nil {
		return fmt.Errorf("reading the file: %w", ioErr)
	}
	if verr != nil {
		return verr
	}
	return err
}

// releaseHeld releases the columns of a row group read whole.
func (p *parquetRecords) releaseHeld() {
	for _, h := range p.held {
		if h != nil {
			h.Release()
		}
	}
	p.held = nil
}

// single returns the chunks of c as one array, which the caller must release.
func single(c *arrow.Chunked, mem memory.Allocator) (arrow.Array, error) {
	switch chunks := c.Chunks(); len(chunks) {
	case 0:
		return array.MakeArrayOfNull(mem, c.DataType(), 0), nil
	case 1:
		chunks[0].Retain()
		return chunks[0], nil
	default:
		if c.DataType().ID() == arrow.DICTIONARY {
			// Chunks with different dictionaries; array.Concatenate gives
			// wrong values for the ones pqarrow returns.
			return nil, fmt.Errorf("dictionary column in %d chunks within one row group: %w", len(chunks), arrow.ErrNotImplemented)
		}
		return array.Concatenate(chunks, mem)
	}
}

// Record implements RecordReader.
func (p *parquetRecords) Record() arrow.Record { return p.cur }

// Err implements RecordReader.
func (p *parquetRecords) Err() error { return p.err }

// Release implements RecordReader.
func (p *parquetRecords) Release() {
	if p.cur != nil {
		p.cur.Release()
		p.cur = nil
	}
	p.releaseHeld()
	for _, cr := range p.readers {
		cr.Release()
	}
	p.readers = nil
	p.done = true
}

// ipcRecords streams columns of an Arrow IPC file or stream, slicing
// batches longer than the batch size. Each has its own stream reader.
type ipcRecords struct {
	ctx    context.Context
	path   string
	schema *arrow.Schema
	idx    []int // output column k is column idx[k] of the file
	batch  int64

	stream *ipcStream

	src  arrow.Record // projected source batch being sliced
	off  int64        // rows of src already returned
	cur  arrow.Record
	err  error
	done bool
}

func (r *Reader) ipcRecords(ctx context.Context, idx []int, batch int64) (RecordReader, error) {
	fields := make([]arrow.Field, len(idx))
	for k, i := range idx {
		fields[k] = r.schema.Field(i)
	}
	sr, err := r.newStream()
	if err != nil {
		return nil, err
	}
	return &ipcRecords{ctx: ctx, path: r.file.Path, schema: projectSchema(r.schema, fields), idx: idx, batch: batch, stream: sr}, nil
}

func (p *ipcRecords) fail(err error) {
	p.err = fmt.Errorf("%s: reading Arrow IPC: %w", p.path, err)
}

// Next implements RecordReader.
func (p *ipcRecords) Next() (ok bool) {
	if p.cur != nil {
		p.cur.Release()
		p.cur = nil
	}
	if p.done || p.err != nil {
		return false
	}
	if err := p.ctx.Err(); err != nil {
		p.fail(err)
		return false
	}
	defer func() {
		if v := recover(); v != nil {
			p.err = corrupt(p.path, v)
			ok = false
			p.stream.release()
		}
	}()
	for p.src == nil || p.off >= p.src.NumRows() {
		if p.src != nil {
			p.src.Release()
			p.src = nil
		}
		rec, err := p.read()
		if err != nil {
			p.fail(err)
			return false
		}
		if rec == nil {
			p.done = true
			return false
		}
		p.src, p.off = rec, 0
	}
	n := p.src.NumRows()
	if p.off == 0 && n <= p.batch {
		p.src.Retain()
		p.cur = p.src
		p.off = n
		return true
	}
	end := min(p.off+p.batch, n)
	p.cur = p.src.NewSlice(p.off, end)
	p.off = end
	return true
}

// read returns the next source batch projected to the output columns, or
// nil at the end. The caller releases it.
func (p *ipcRecords) read() (arrow.Record, error) {
	if !p.stream.next() {
		return nil, p.stream.Err()
	}
	rec := p.stream.Record() // owned by the stream reader
	cols := make([]arrow.Array, len(p.idx))
	for k, i := range p.idx {
		cols[k] = rec.Column(i)
		if err := validData(cols[k].Data()); err != nil {
			return nil, fmt.Errorf("corrupt file: column %q: %w", p.schema.Field(k).Name, err)
		}
	}
	return array.NewRecord(p.schema, cols, rec.NumRows()), nil
}

// Record implements RecordReader.
func (p *ipcRecords) Record() arrow.Record { return p.cur }

// Err implements RecordReader.
func (p *ipcRecords) Err() error { return p.err }

// Release implements RecordReader.
func (p *ipcRecords) Release() {
	if p.cur != nil {
		p.cur.Release()
		p.cur = nil
	}
	if p.src != nil {
		p.src.Release()
		p.src = nil
	}
	if p.stream != nil {
		p.stream.release()
		p.stream = nil
	}
	p.done = true
}
