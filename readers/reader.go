package readers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/mixbatch/mixbatch/store"
)

// maxRowGroupRows is the most rows a Parquet row group may have: an Arrow
// array holds at most 2^31-1 values of some types, and writers cut row
// groups far smaller (1M rows is common, 128 MiB the usual target).
const maxRowGroupRows = 1<<31 - 1

// DefaultBatchSize is the number of rows per record batch that Records uses
// when it is given a batch size of zero or less.
const DefaultBatchSize = 64 * 1024

var (
	parquetMagic  = []byte("PAR1")
	parquetMagicE = []byte("PARE") // encrypted footer
	arrowMagic    = []byte("ARROW1")
	featherV1     = []byte("FEA1")
)

// Reader reads one data file. Several RecordReaders may stream from one
// Reader, one after another or at the same time; the Reader must outlive
// them. Close must not be called concurrently with other methods.
type Reader struct {
	file    File
	mem     memory.Allocator
	schema  *arrow.Schema
	numRows int64
	src     store.File // the file or object: ReadAt with range reads
	size    int64      // at Open
	closed  bool

	// Parquet: the arrow reader, and the footer (which outlives Close:
	// NumUnits, UnitRows and IntRange read only it).
	pq       *pqarrow.FileReader
	meta     *metadata.FileMetaData
	manifest *pqarrow.SchemaManifest
	rgRows   []int64                   // rows of each row group
	props    *parquet.ReaderProperties // which fixedColumn's own file.Readers copy
	guard    *pageGuard                // r.src, as every file.Reader of the file reads it

	// IPC: the byte range of the stream (all of a stream file; the part
	// between header and footer of an IPC file), and whether any batch in
	// it is compressed (which bounds allocations: see ipcAllocator).
	streamOff, streamLen int64
	ipcCompressed        bool

	// utf8 names the string columns whose values record readers check
	// (see CheckUTF8).
	utf8 map[string]bool
}

// RecordReader streams record batches; the record returned by Record is
// valid until the next call to Next (callers Retain to keep it).
type RecordReader interface {
	// Next advances to the next record batch and reports whether there is one.
	Next() bool
	// Record returns the current record batch.
	Record() arrow.Record
	// Err returns the error that stopped Next, wrapped with the file path;
	// nil at a clean end.
	Err() error
	// Release releases the current record and the reader's resources.
	Release()
}

// corrupt turns a value recovered from a panicking decoder into an error
// naming the file.
func corrupt(path string, v any) error {
	if err, ok := v.(error); ok {
		return fmt.Errorf("%s: corrupt file: panic: %w", path, err)
	}
	return fmt.Errorf("%s: corrupt file: panic: %v", path, v)
}

// Open opens a data file for reading. The caller must Close it.
//
// A zero f.Format is taken from the file's extension. A zero f.Size is
// filled in from the file system; File returns the completed File. Arrow
// buffers are allocated from mem (memory.DefaultAllocator when nil).
func Open(ctx context.Context, f File, mem memory.Allocator) (_ *Reader, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	if f.Format == 0 {
		format, ok := formatOf(f.Path)
		if !ok {
			return nil, fmt.Errorf("%s: unsupported file extension (want %s)", f.Path, extList())
		}
		f.Format = format
	}
	src, err := store.Open(ctx, f.Path)
	if err != nil {
		return nil, fmt.Errorf("opening data file: %w", err)
	}
	r := &Reader{file: f, mem: mem, src: src}
	defer func() {
		if v := recover(); v != nil {
			err = corrupt(f.Path, v)
		}
		if err != nil {
			if cerr := r.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
	}()
	r.size = src.Size()
	if r.file.Size == 0 {
		r.file.Size = r.size
	}
	if f.Format == Parquet && store.IsURL(f.Path) && r.size > 0 {
		tail, err := newTailCache(src, r.size)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		defer tail.release()
		r.src = tail
	}
	head := make([]byte, 8)
	n, err := r.src.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	head = head[:n]
	switch f.Format {
	case Parquet:
		err = r.openParquet(head)
	case IPC:
		err = r.openIPC(head)
	default:
		err = fmt.Errorf("%s: unknown format %v", f.Path, f.Format)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reader) openParquet(head []byte) error {
	path := r.file.Path
	if !bytes.HasPrefix(head, parquetMagic) && !bytes.HasPrefix(head, parquetMagicE) {
		return fmt.Errorf("%s: not a Parquet file (no PAR1 magic at start)%s", path, lookalike(head))
	}
	// Page buffers come from the Go allocator: file.Reader pools them and
	// frees them by finalizer, which a checked allocator would see as leaks.
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	// Column chunks are read through a buffer (see streamBuffer), not
	// each whole into a new slice.
	props.BufferedStreamEnabled = true
	// Every column chunk is read through r.guard (see pageGuard), which
	// indexes the chunks once the footer is read.
	r.guard = newPageGuard(r.src, r.size)
	pf, err := file.NewParquetReader(r.guard, file.WithReadProps(props))
	if err != nil {
		return fmt.Errorf("%s: not a Parquet file: %w", path, err)
	}
	r.guard.index(pf.MetaData())
	props.BufferSize = streamBufferSize(pf.MetaData(), store.IsURL(r.file.Path))
	// pf is not closed: it would close nothing (r.guard is no io.Closer);
	// Close closes r.src.
	if err := checkStoredSchema(pf.MetaData().KeyValueMetadata()); err != nil {
		return fmt.Errorf("%s: corrupt Parquet file: %w", path, err)
	}
	// Decoder scratch that arrow never frees comes from the Go allocator
	// too (see scratchAlloc); the arrays come from r.mem.
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{Parallel: false}, scratchAlloc{r.mem})
	if err != nil {
		return fmt.Errorf("%s: reading Parquet schema: %w", path, err)
	}
	sc, err := fr.Schema()
	if err != nil {
		return fmt.Errorf("%s: converting Parquet schema to Arrow: %w", path, err)
	}
	fields := make([]arrow.Field, sc.NumFields())
	for i, f := range sc.Fields() {
		fields[i] = dropNoFieldID(f)
	}
	// The footer's row count must be its row groups' (which Records reads).
	var rows int64
	rgRows := make([]int64, pf.NumRowGroups())
	for i := range rgRows {
		n := pf.MetaData().RowGroup(i).NumRows()
		if n < 0 || rows+n < rows {
			return fmt.Errorf("%s: corrupt Parquet file: row group %d has %d rows", path, i, n)
		}
		// A row group is read in batches, but one with a delta-encoded
		// int64 column whole (see parquetRecords), into arrays of at
		// most 2^31-1 values: a count above that, which a few bytes of
		// run-length or delta encoding can claim, would be allocated.
		if n > maxRowGroupRows {
			return fmt.Errorf("%s: row group %d claims %d rows, more than the %d this reader takes in one row group", path, i, n, maxRowGroupRows)
		}
		rgRows[i] = n
		rows += n
	}
	if rows != pf.NumRows() {
		return fmt.Errorf("%s: corrupt Parquet file: the footer says %d rows, its row groups hold %d", path, pf.NumRows(), rows)
	}
	r.pq, r.meta, r.manifest, r.rgRows, r.props = fr, pf.MetaData(), fr.Manifest, rgRows, props
	r.schema, r.numRows = projectSchema(sc, fields), rows
	return nil
}

// fieldIDKey is the field metadata key under which pqarrow reports a
// Parquet field_id; "-1" means the file has none.
const fieldIDKey = "PARQUET:field_id"

// dropNoFieldID removes the "PARQUET:field_id": "-1" metadata that pqarrow
// puts on every field of a file without field ids, so that a schema read
// back equals the one written.
func dropNoFieldID(f arrow.Field) arrow.Field {
	i := f.Metadata.FindKey(fieldIDKey)
	if i < 0 || f.Metadata.Values()[i] != "-1" {
		return f
	}
	var keys, values []string
	for j, k := range f.Metadata.Keys() {
		if j != i {
			keys = append(keys, k)
			values = append(values, f.Metadata.Values()[j])
		}
	}
	f.Metadata = arrow.Metadata{}
	if len(keys) > 0 {
		f.Metadata = arrow.NewMetadata(keys, values)
	}
	return f
}

// lookalike names the format a file header suggests, for error messages.
func lookalike(head []byte) string {
	switch {
	case bytes.HasPrefix(head, arrowMagic):
		return " (it looks like an Arrow IPC file)"
	case bytes.HasPrefix(head, parquetMagic):
		return " (it looks like a Parquet file)"
	case bytes.HasPrefix(head, featherV1):
		return " (it looks like a Feather v1 file)"
	}
	return ""
}

// openIPC opens an Arrow IPC file or stream. Both are read with the
// stream reader: the IPC file format is a stream (from byte 8) followed by
// a footer. ipc.FileReader is not used because in arrow v17 its Close
// never releases the dictionaries it decoded (leaking them from mem).
func (r *Reader) openIPC(head []byte) error {
	path := r.file.Path
	r.streamOff, r.streamLen = 0, r.size
	switch {
	case bytes.HasPrefix(head, arrowMagic):
		// "ARROW1", padding to 8, stream, footer, int32 footer length, "ARROW1".
		tail := make([]byte, 10)
		if r.size < 8+10 {
			return fmt.Errorf("%s: truncated Arrow IPC file (%d bytes)", path, r.size)
		}
		if _, err := r.src.ReadAt(tail, r.size-10); err != nil {
			return fmt.Errorf("%s: reading Arrow IPC footer: %w", path, err)
		}
		if !bytes.Equal(tail[4:], arrowMagic) {
			return fmt.Errorf("%s: truncated Arrow IPC file (no ARROW1 magic at end)", path)
		}
		footer := int64(binary.LittleEndian.Uint32(tail[:4]))
		r.streamOff = 8
		r.streamLen = r.size - 10 - footer - r.streamOff
		if footer <= 0 || r.streamLen < 0 {
			return fmt.Errorf("%s: corrupt Arrow IPC file (footer length %d in %d bytes)", path, footer, r.size)
		}
		if err := checkStreamHead(head8(r.src, r.streamOff), r.streamLen); err != nil {
			return fmt.Errorf("%s: corrupt Arrow IPC file: %w", path, err)
		}
	case bytes.HasPrefix(head, featherV1):
		return fmt.Errorf("%s: Feather v1 files are not supported (rewrite as Feather v2 / Arrow IPC)", path)
	default:
		if err := checkStreamHead(head, r.size); err != nil {
			return fmt.Errorf("%s: not an Arrow IPC file or stream%s: %w", path, lookalike(head), err)
		}
	}
	compressed, err := checkMessages(r.src, r.streamOff, r.streamLen)
	if err != nil {
		return fmt.Errorf("%s: corrupt Arrow IPC file: %w", path, err)
	}
	r.ipcCompressed = compressed
	sr, err := r.newStream()
	if err != nil {
		return err
	}
	defer sr.release()
	r.schema = sr.Schema()
	for sr.next() {
		r.numRows += sr.Record().NumRows()
	}
	if err := sr.Err(); err != nil {
		return fmt.Errorf("%s: reading Arrow IPC: %w", path, err)
	}
	return nil
}

// head8 returns up to 8 bytes of f at off.
func head8(f io.ReaderAt, off int64) []byte {
	b := make([]byte, 8)
	n, _ := f.ReadAt(b, off) // a short read is reported by checkStreamHead
	return b[:n]
}

// checkStreamHead checks that the first message of an IPC stream is no
// longer than the file, before the decoder allocates a buffer of that size.
func checkStreamHead(head []byte, size int64) error {
	if len(head) < 8 {
		return fmt.Errorf("file too small (%d bytes)", size)
	}
	n := int64(binary.LittleEndian.Uint32(head[:4]))
	prefix := int64(4)
	if n == 0xFFFFFFFF { // continuation token, then the length
		n = int64(binary.LittleEndian.Uint32(head[4:8]))
		prefix = 8
	}
	if n == 0 || prefix+n > size {
		return fmt.Errorf("first message length %d does not fit in %d bytes", n, size)
	}
	return nil
}

// newStream starts an IPC stream reader at the start of the stream. Its
// allocations are bounded by the stream's size (see ipcAllocator) and
// freed if a read fails (see streamAlloc).
func (r *Reader) newStream() (_ *ipcStream, err error) {
	alloc := newStreamAlloc(ipcAllocator(r.mem, r.streamLen, r.ipcCompressed))
	alloc.arm()
	defer func() {
		if v := recover(); v != nil {
			err = corrupt(r.file.Path, v)
		}
		if err != nil {
			alloc.freeLive()
		} else {
			alloc.disarm()
		}
	}()
	// One buffer fill is one ranged GET on an object store: fill it in
	// large ranges there (see objectBuffer).
	size := 1 << 16
	if store.IsURL(r.file.Path) {
		size = int(min(objectBuffer, max(r.streamLen, 1<<16)))
	}
	src := bufio.NewReaderSize(io.NewSectionReader(r.src, r.streamOff, r.streamLen), size)
	sr, err := ipc.NewReader(src, ipc.WithAllocator(alloc))
	if err != nil {
		return nil, fmt.Errorf("%s: not an Arrow IPC file or stream: %w", r.file.Path, err)
	}
	return &ipcStream{Reader: sr, alloc: alloc}, nil
}

// File returns the file being read.
func (r *Reader) File() File { return r.file }

// Schema returns the file's Arrow schema (top-level fields).
func (r *Reader) Schema() *arrow.Schema { return r.schema }

// NumRows returns the number of rows in the file.
func (r *Reader) NumRows() int64 { return r.numRows }

// ModTime returns the file's modification time when it was opened, as
// store.Stat gives it.
func (r *Reader) ModTime() time.Time { return r.src.ModTime() }

// Records streams the named top-level columns, in file order, as record batches of at most batchSize rows
// (batchSize <= 0 means a default of 64*1024). The returned records have exactly those columns in that order.
// An unknown column name is an error naming the file and column, listing the available columns.
//
// A name may be given more than once; a name that more than one column of
// the file has is an error. At least one column must be named. Batches
// have at least one row, and never span two units (see NumUnits): Records
// is UnitRecords of every unit in turn.
func (r *Reader) Records(ctx context.Context, columns []string, batchSize int) (RecordReader, error) {
	return r.records(ctx, columns, batchSize, -1)
}

// records is Records of unit u, or of every unit if u < 0.
func (r *Reader) records(ctx context.Context, columns []string, batchSize int, u int) (RecordReader, error) {
	path := r.file.Path
	if r.closed {
		return nil, fmt.Errorf("%s: reader is closed", path)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(columns) == 0 {
		return nil, fmt.Errorf("%s: no columns requested", path)
	}
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	idx := make([]int, len(columns))
	for k, name := range columns {
		found := r.schema.FieldIndices(name)
		switch len(found) {
		case 0:
			return nil, fmt.Errorf("%s: no column %q (available: %s)", path, name, r.columnNames())
		case 1:
			idx[k] = found[0]
		default:
			return nil, fmt.Errorf("%s: column name %q is ambiguous: %d columns have it", path, name, len(found))
		}
	}
	var rr RecordReader
	var err error
	var row0 int64 // the file's row number of the first row read
	if r.pq != nil {
		var rowGroups []int
		if u >= 0 {
			rowGroups = []int{u}
			for _, n := range r.rgRows[:u] {
				row0 += n
			}
		} else {
			rowGroups = make([]int, len(r.rgRows))
			for i := range rowGroups {
				rowGroups[i] = i
			}
		}
		rr, err = r.parquetRecords(ctx, idx, int64(batchSize), rowGroups)
	} else {
		rr, err = r.ipcRecords(ctx, idx, int64(batchSize))
	}
	if err != nil {
		return nil, err
	}
	if cols := r.textColumns(columns, idx); len(cols) > 0 {
		rr = &utf8Records{RecordReader: rr, path: path, cols: cols, row: row0}
	}
	return rr, nil
}

// columnNames lists the top-level column names, for error messages.
func (r *Reader) columnNames() string {
	names := make([]string, r.schema.NumFields())
	for i, f := range r.schema.Fields() {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// projectSchema returns the schema of the given fields of sc, keeping its metadata.
func projectSchema(sc *arrow.Schema, fields []arrow.Field) *arrow.Schema {
	md := sc.Metadata()
	return arrow.NewSchema(fields, &md)
}

// Close closes the file. Record readers still open fail on their next read.
// Close is safe to call more than once.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.pq = nil
	if err := r.src.Close(); err != nil {
		return fmt.Errorf("%s: closing: %w", r.file.Path, err)
	}
	return nil
}

// checkStoredSchema checks the Arrow schema that Arrow writers store in a
// Parquet footer (key ARROW:schema: an IPC schema message, base64), as
// checkMessages checks an IPC stream's, before pqarrow reads it: arrow
// v17 makes slices of the lengths its vectors claim, and a corrupt one
// made it ask for 173 GB, which the Go runtime does not survive.
func checkStoredSchema(meta metadata.KeyValueMetadata) error {
	const key = "ARROW:schema" // as pqarrow names it
	v := meta.FindValue(key)
	if v == nil {
		return nil
	}
	// Decoded as pqarrow decodes it: padded, else unpadded.
	var ser []byte
	var err error
	if len(*v)%4 == 0 {
		ser, err = base64.StdEncoding.DecodeString(*v)
	}
	if len(ser) == 0 || err != nil {
		ser, err = base64.RawStdEncoding.DecodeString(*v)
	}
	if err != nil {
		return nil // pqarrow fails on it too, with its own error
	}
	if _, err := checkMessages(bytes.NewReader(ser), 0, int64(len(ser))); err != nil {
		return fmt.Errorf("the stored Arrow schema (%s): %w", key, err)
	}
	return nil
}
