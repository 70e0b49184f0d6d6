// Package writers writes Arrow records to output files. It knows file
// formats and Arrow, and nothing about the statistics that made the data.
package writers

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/apache/arrow/go/v17/parquet/schema"
)

// DefaultRowGroupRows is the number of rows per row group when
// Options.RowGroupRows is zero.
const DefaultRowGroupRows = 1 << 20

// DefaultRowGroupBytes is the most Arrow bytes of a row group's rows when
// Options.RowGroupBytes is zero: 64 MiB, which bounds the memory a Parquet
// holds (it keeps a row group's records until the group is full). Rows
// narrower than 64 bytes fill DefaultRowGroupRows first.
const DefaultRowGroupBytes = 64 << 20

// DefaultZstdLevel is the zstd level when Options.CompressionLevel is zero:
// the fastest. On the pipeline's tables (BenchmarkWrite) level 3 takes up
// to 40% more time for files within 1.5% of the size (larger for fits),
// level 7 twice the time for files 1-4% smaller.
const DefaultZstdLevel = 1

// bufferSize is the size of the buffer between the Parquet encoder and the file.
const bufferSize = 1 << 20

// Compression names a Parquet compression codec.
type Compression string

// The codecs Options.Compression accepts; DuckDB, Spark, Trino and pyarrow
// read all three. On the pipeline's tables Snappy takes 25-40% less time
// than zstd level 1 and makes files 13-32% larger. (arrow-go v17 has no LZ4
// writer.)
const (
	Zstd         Compression = "zstd"
	Snappy       Compression = "snappy"
	Uncompressed Compression = "none"
)

// codec returns the arrow codec of c ("" is Zstd).
func (c Compression) codec() (compress.Compression, error) {
	switch c {
	case "", Zstd:
		return compress.Codecs.Zstd, nil
	case Snappy:
		return compress.Codecs.Snappy, nil
	case Uncompressed:
		return compress.Codecs.Uncompressed, nil
	}
	return 0, fmt.Errorf("unknown compression %q (want %q, %q or %q)", string(c), Zstd, Snappy, Uncompressed)
}

// Options control how a Parquet file is written. The zero value is the
// best measured choice for the pipeline's tables (BenchmarkWrite).
type Options struct {
	// RowGroupRows is the most rows in a row group; 0 means
	// DefaultRowGroupRows.
	RowGroupRows int64
	// RowGroupBytes is the most Arrow (in-memory, uncompressed) bytes of
	// the rows of a row group: 8 per int64 or double, 4 plus the bytes of
	// each string, a bit per row for a validity bitmap. A row group ends
	// at RowGroupRows or RowGroupBytes, whichever comes first, and holds at
	// least one row; records are split at their average row size, so row
	// groups of strings of varied length hold about RowGroupBytes. 0 means
	// DefaultRowGroupBytes.
	RowGroupBytes int64
	// Compression is the codec of every column; "" means Zstd.
	Compression Compression
	// CompressionLevel is the zstd level, 1 to 22 as for the zstd command
	// (the Go encoder has four speeds: 1-2, 3-5, 6-9 and 10 up); 0 means
	// DefaultZstdLevel. Other codecs have no levels: it must be 0 for them.
	CompressionLevel int
}

// check returns an error for options out of range.
func (o Options) check() error {
	switch {
	case o.RowGroupRows < 0:
		return fmt.Errorf("negative RowGroupRows %d", o.RowGroupRows)
	case o.RowGroupBytes < 0:
		return fmt.Errorf("negative RowGroupBytes %d", o.RowGroupBytes)
	}
	c, err := o.Compression.codec()
	if err != nil {
		return err
	}
	if o.CompressionLevel != 0 && (c != compress.Codecs.Zstd || o.CompressionLevel < 1 || o.CompressionLevel > 22) {
		return fmt.Errorf("CompressionLevel %d for compression %q (zstd levels are 1 to 22)", o.CompressionLevel, c)
	}
	return nil
}

// rowGroupRows and rowGroupBytes return the limits with the defaults filled in.
func (o Options) rowGroupRows() int64 {
	if o.RowGroupRows == 0 {
		return DefaultRowGroupRows
	}
	return o.RowGroupRows
}

func (o Options) rowGroupBytes() int64 {
	if o.RowGroupBytes == 0 {
		return DefaultRowGroupBytes
	}
	return o.RowGroupBytes
}

// Parquet writes Arrow records to one Parquet file, compressed with
// Options.Compression (zstd level 1 by default).
//
// Records are gathered into row groups of Options.RowGroupRows rows or
// Options.RowGroupBytes bytes, so many small records still make few row
// groups; the last row group holds the remainder. A Parquet keeps
// (retains) the records of the current row group until the group is full,
// and writes it then, column by column.
//
// Encodings and statistics are chosen per column from the first row group,
// for SQL engines to read fast and prune on the bag key:
//   - Floating-point columns (high-entropy doubles) are written plain.
//   - Integer, string and binary columns get a dictionary if at most one
//     value in four is distinct, the dictionary page stays within 1 MiB
//     and the values do not come in long runs (four runs or more per
//     distinct value): labels such as component and status, small counts.
//     Unique or sorted keys are written plain, which zstd compresses as
//     well. (Parquet builds these dictionaries itself: see dictionary.go.)
//     Other columns get a dictionary, booleans excepted.
//   - Statistics (min, max, null count) are written for columns sorted
//     either way, such as the bag key, for integer columns and for the
//     types not checked (booleans, nested and other types), except where
//     arrow v17 would write wrong ones: dictionary-encoded columns,
//     nullable unsigned integers, and floating-point columns unless the
//     file is one row group in which they are sorted and finite. See
//     stats.go.
//
// The Arrow schema is stored in the file so that types such as
// large_string, uint32 and dictionaries read back as written.
// A Parquet is not safe for concurrent use.
type Parquet struct {
	path   string
	schema *arrow.Schema
	file   io.Closer     // the *os.File under buf
	sink   *stickyWriter // between buf and file: remembers the first write error
	buf    *bufio.Writer
	props  []parquet.WriterProperty // for fw, without the per-column dictionary choices
	limits rowGroupLimits
	fw     *pqarrow.FileWriter // made by the first flush, which chooses the dictionaries
	dict   []dictChoice        // per field, chosen with fw

	pending []arrow.Record // the current row group (retained slices)
	rows    int64          // rows in pending
	bytes   float64        // their Arrow size

	err    error // first Write error; Close returns it too
	closed bool
	cerr   error // result of the first Close
	serr   error // closing or discarding the sink failed (part of cerr)
}

// Create creates path (which must not exist: use O_EXCL) for records of the given schema.
func Create(path string, schema *arrow.Schema, opts Options) (*Parquet, error) {
	if schema == nil {
		return nil, fmt.Errorf("%s: nil schema", path)
	}
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := writerProps(schema, opts); err != nil {
		return nil, fmt.Errorf("%s: schema cannot be written as Parquet: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, fmt.Errorf("creating Parquet file: %w", err)
	}
	w, err := newParquet(path, f, schema, opts)
	if err != nil {
		if cerr := f.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("%s: closing: %w", path, cerr))
		}
		if rerr := os.Remove(path); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing partial file: %w", rerr))
		}
		return nil, err
	}
	return w, nil
}

// New starts a Parquet file of records of the given schema on sink, such
// as a writer from store.Create; name (a path or URL) is for messages.
// Close closes sink, syncing it first if it has a Sync method; when a
// Write or Close failed and sink has an Abort method (as store.Create's
// writers do), Close calls Abort instead, so that a spoilt object is never
// committed. On error, New leaves sink to the caller.
func New(name string, sink io.WriteCloser, schema *arrow.Schema, opts Options) (*Parquet, error) {
	if schema == nil {
		return nil, fmt.Errorf("%s: nil schema", name)
	}
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return newParquet(name, sink, schema, opts)
}

// newParquet starts a Parquet file on sink, which is closed by Close.
func newParquet(path string, sink io.WriteCloser, sc *arrow.Schema, opts Options) (*Parquet, error) {
	props, err := writerProps(sc, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: schema cannot be written as Parquet: %w", path, err)
	}
	sw := &stickyWriter{w: sink}
	return &Parquet{
		path: path, schema: sc, file: sink, sink: sw,
		buf:   bufio.NewWriterSize(sw, bufferSize),
		props: props, limits: opts.limits(),
	}, nil
}

// start makes the pqarrow writer, with the dictionary and statistics
// choices for the columns of the first row group (none for an empty file);
// only says that it is the file's only row group. It returns the
// dictionary-encoded columns of that row group, nil for the others.
func (w *Parquet) start(first []arrow.Record, only bool) ([][]arrow.Array, error) {
	props := slices.Clip(w.props) // appending copies
	w.dict = make([]dictChoice, w.schema.NumFields())
	encoded := make([][]arrow.Array, w.schema.NumFields())
	for i, f := range w.schema.Fields() {
		if len(first) == 0 {
			break
		}
		col, path := column(first, i), parquet.ColumnPath{f.Name}
		if dictCandidate(f.Type) {
			w.dict[i], encoded[i] = chooseDictionary(col)
			if w.dict[i] == dictOff {
				props = append(props, parquet.WithDictionaryPath(path, false))
			}
			if w.dict[i] == dictOn && arrow.IsInteger(f.Type.ID()) {
				// arrow v17 writes wrong statistics for dictionary
				// arrays (stats.go), which integer columns keep: let
				// arrow build their dictionary from the values.
				releaseAll(encoded[i])
				w.dict[i], encoded[i] = dictDefault, nil
			}
		}
		switch keepStats(f, col, w.dict[i], only) {
		case statsOff:
			props = append(props, parquet.WithStatsPath(path, false))
		case statsOn:
			props = append(props, parquet.WithStatsPath(path, true))
		}
	}
	// w.buf is not an io.Closer, so the FileWriter's Close does not close the file.
	fw, err := pqarrow.NewFileWriter(withoutStoredSchema(w.schema), w.buf, parquet.NewWriterProperties(props...),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		for _, enc := range encoded {
			releaseAll(enc)
		}
		return nil, fmt.Errorf("%s: starting Parquet file: %w", w.path, err)
	}
	w.fw = fw
	return encoded, nil
}

// column returns column i of recs.
func column(recs []arrow.Record, i int) []arrow.Array {
	cols := make([]arrow.Array, len(recs))
	for j, rec := range recs {
		cols[j] = rec.Column(i)
	}
	return cols
}

// flush writes the pending records as one row group (the first one also
// starts the file) and releases them; last says that no row group follows.
func (w *Parquet) flush(last bool) (err error) {
	defer func() {
		releaseAll(w.pending)
		w.pending, w.rows, w.bytes = w.pending[:0], 0, 0
	}()
	var encoded [][]arrow.Array // dictionary-encoded columns
	if w.fw == nil {
		if encoded, err = w.start(w.pending, last); err != nil {
			return err
		}
	} else {
		encoded = make([][]arrow.Array, w.schema.NumFields())
		for i, c := range w.dict {
			if c == dictOn {
				encoded[i], _ = dictionaryEncode(column(w.pending, i))
			}
		}
	}
	defer func() {
		for _, enc := range encoded {
			releaseAll(enc)
		}
	}()
	w.fw.NewRowGroup()
	for i, f := range w.schema.Fields() {
		chunks, dt := column(w.pending, i), f.Type
		if enc := encoded[i]; enc != nil && (f.Nullable || !hasNulls(chunks)) {
			// (arrow writes the values under the nulls of a field declared
			// not nullable: so must the indices.)
			chunks, dt = enc, enc[0].DataType()
		}
		col := arrow.NewChunked(dt, chunks)
		err := w.fw.WriteColumnChunked(col, 0, int64(col.Len()))
		col.Release()
		if err != nil {
			return w.writeErr(err)
		}
		// The sink fails quietly (see stickyWriter): stop at the first
		// column after it did. The column chunk left open is closed,
		// releasing what it holds, by Close.
		if w.sink.err != nil {
			return fmt.Errorf("%s: writing: %w", w.path, w.sink.err)
		}
	}
	return nil
}

// writeErr is the error of a failed pqarrow call: the sink's own error
// when the sink failed (a full disk), rather than pqarrow's report of it
// ("unknown error type: ...", as it recovers the panic a failed page write
// raises), else pqarrow's.
func (w *Parquet) writeErr(err error) error {
	if w.sink.err != nil {
		return fmt.Errorf("%s: writing: %w", w.path, w.sink.err)
	}
	return fmt.Errorf("%s: writing Parquet: %w", w.path, err)
}

// hasNulls reports whether any of chunks has a null.
func hasNulls(chunks []arrow.Array) bool {
	for _, c := range chunks {
		if c.NullN() > 0 {
			return true
		}
	}
	return false
}

func releaseAll[T interface{ Release() }](xs []T) {
	for _, x := range xs {
		x.Release()
	}
}

// stickyWriter passes writes to w until one fails, and from then on
// drops them; err is the first failure. It reports success to its caller
// every time: Parquet checks err after each column chunk and at Close
// instead. In arrow v17 a write error that reaches pqarrow while it
// closes a column chunk (whose last pages, or dictionary page, are written
// when the next column starts) leaks: the column's encoder, with the
// dictionary array it retains, is never released, nor is the next
// column's slice of the caller's record, whose buffers stayed allocated
// for good. pqarrow also ignores some write errors (it drops the error of
// closing a full row group).
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err == nil {
		n, err := s.w.Write(p)
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
		s.err = err
	}
	return len(p), nil
}

// arrowSchemaKey is the Parquet key-value metadata entry in which pqarrow
// stores the Arrow schema.
const arrowSchemaKey = "ARROW:schema"

// withoutStoredSchema returns sc without an "ARROW:schema" metadata entry
// (carried over from some file that was read), which pqarrow would copy
// into the file next to the one it adds, so a reader could take the stale one.
func withoutStoredSchema(sc *arrow.Schema) *arrow.Schema {
	md := sc.Metadata()
	i := md.FindKey(arrowSchemaKey)
	if i < 0 {
		return sc
	}
	var keys, values []string
	for j, k := range md.Keys() {
		if j != i {
			keys = append(keys, k)
			values = append(values, md.Values()[j])
		}
	}
	clean := arrow.NewMetadata(keys, values)
	return arrow.NewSchema(sc.Fields(), &clean)
}

// writerProps returns the Parquet writer properties for schema and opts
// (checked): the codec and level, statistics (not for the leaf columns of
// which arrow v17 writes unsound ones: see statsSound), no dictionary for
// floating-point leaf columns. Parquet.start adds the other dictionary
// and statistics choices.
func writerProps(sc *arrow.Schema, opts Options) ([]parquet.WriterProperty, error) {
	codec, err := opts.Compression.codec()
	if err != nil {
		return nil, err
	}
	level := compress.DefaultCompressionLevel
	if codec == compress.Codecs.Zstd {
		level = cmp.Or(opts.CompressionLevel, DefaultZstdLevel)
	}
	props := []parquet.WriterProperty{
		parquet.WithCompression(codec),
		parquet.WithCompressionLevel(level),
		parquet.WithDictionaryDefault(true),
		parquet.WithStats(true),
		// Write splits records into row groups itself.
		parquet.WithMaxRowGroupLength(opts.rowGroupRows()),
	}
	// Find the floating-point leaves by converting the schema, so that
	// floats nested in structs and lists are found by their full path.
	pq, err := pqarrow.ToParquet(sc, parquet.NewWriterProperties(props...), pqarrow.DefaultWriterProps())
	if err != nil {
		return nil, err
	}
	for i := 0; i < pq.NumColumns(); i++ {
		c := pq.Column(i)
		if isFloat(c) {
			props = append(props, parquet.WithDictionaryPath(c.ColumnPath(), false))
		}
		if !statsSound(c) {
			props = append(props, parquet.WithStatsPath(c.ColumnPath(), false))
		}
	}
	return props, nil
}

// isFloat reports whether a Parquet leaf column holds floating-point numbers.
func isFloat(c *schema.Column) bool {
	switch c.PhysicalType() {
	case parquet.Types.Float, parquet.Types.Double:
		return true
	}
	_, f16 := c.LogicalType().(*schema.Float16LogicalType)
	return f16
}

// Write appends a record (schema must equal the writer's; error otherwise).
// It keeps (retains) rec until its rows are written, when their row group
// is full or at Close; the caller may release rec at once.
// After an error the file is unusable: later Writes fail, and Close still
// closes the file and returns the error.
func (w *Parquet) Write(rec arrow.Record) (err error) {
	switch {
	case w.closed:
		return fmt.Errorf("%s: write after Close", w.path)
	case w.err != nil:
		return w.err
	case !rec.Schema().Equal(w.schema):
		return fmt.Errorf("%s: record schema does not match the file's:\nrecord: %s\nfile: %s", w.path, rec.Schema(), w.schema)
	case rec.NumRows() == 0:
		return nil
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%s: writing Parquet: panic: %v", w.path, v)
		}
		if err != nil {
			w.err = err
		}
	}()
	n := rec.NumRows()
	rowSize := float64(recordSize(rec)) / float64(n) // Arrow bytes per row, on average
	for off := int64(0); off < n; {
		take := min(n-off, w.limits.rows-w.rows, max(w.rowsThatFit(rowSize), 1))
		w.pending = append(w.pending, rec.NewSlice(off, off+take))
		w.rows += take
		w.bytes += float64(take) * rowSize
		off += take
		if w.rows >= w.limits.rows || w.rowsThatFit(rowSize) == 0 {
			if err := w.flush(false); err != nil {
				return err
			}
		}
	}
	return nil
}

// rowsThatFit returns how many rows of rowSize bytes the current row
// group has room for.
func (w *Parquet) rowsThatFit(rowSize float64) int64 {
	room := float64(w.limits.bytes) - w.bytes
	if rowSize <= 0 {
		return w.limits.rows
	}
	return int64(max(0, min(room/rowSize, float64(w.limits.rows))))
}

// rowGroupLimits are the most rows and Arrow bytes of a row group.
type rowGroupLimits struct {
	rows, bytes int64
}

func (o Options) limits() rowGroupLimits {
	return rowGroupLimits{rows: o.rowGroupRows(), bytes: o.rowGroupBytes()}
}

// recordSize returns the Arrow size of the rows of rec.
func recordSize(rec arrow.Record) int64 {
	var n int64
	for _, col := range rec.Columns() {
		n += arraySize(col)
	}
	return n
}

// arraySize returns the Arrow size of the values of a, slices included:
// exact for fixed-width, binary, string, list, map and struct arrays of
// them; for other types (views, unions, dictionaries' values), the size of
// all the buffers a references, an upper bound.
func arraySize(a arrow.Array) int64 {
	n := int64(a.Len())
	var size int64
	if a.NullN() > 0 {
		size = (n + 7) / 8 // validity bitmap
	}
	switch a := a.(type) {
	case interface {
		ValueOffsets() []int32
		ValueBytes() []byte
	}: // string, binary
		o := a.ValueOffsets()
		return size + 4*n + int64(o[len(o)-1]-o[0])
	case interface {
		ValueOffsets() []int64
		ValueBytes() []byte
	}: // large string, large binary
		o := a.ValueOffsets()
		return size + 8*n + o[len(o)-1] - o[0]
	case *array.Struct:
		for i := 0; i < a.NumField(); i++ {
			size += arraySize(a.Field(i))
		}
		return size
	case *array.Dictionary:
		return size + arraySize(a.Indices())
	case array.ListLike:
		var width int64 // of an offset
		switch a.DataType().ID() {
		case arrow.LIST, arrow.MAP:
			width = 4
		case arrow.LARGE_LIST:
			width = 8
		case arrow.FIXED_SIZE_LIST:
		default:
			return dataSize(a.Data())
		}
		if n == 0 {
			return size
		}
		start, _ := a.ValueOffsets(0)
		_, end := a.ValueOffsets(int(n) - 1)
		values := array.NewSlice(a.ListValues(), start, end)
		defer values.Release()
		return size + width*n + arraySize(values)
	}
	if fw, ok := a.DataType().(arrow.FixedWidthDataType); ok {
		return size + (n*int64(fw.BitWidth())+7)/8
	}
	return dataSize(a.Data())
}

// dataSize returns the size of all the buffers of d, its children and dictionary.
func dataSize(d arrow.ArrayData) int64 {
	var size int64
	for _, b := range d.Buffers() {
		if b != nil {
			size += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		size += dataSize(c)
	}
	if d.DataType().ID() == arrow.DICTIONARY { // else Dictionary is a typed nil
		size += dataSize(d.Dictionary())
	}
	return size
}

// Close writes the last row group and the footer, syncs (fsync) and
// closes the file; its error is a write error (file path in it). Safe to
// call twice.
// Later calls return the result of the first.
func (w *Parquet) Close() error {
	if w.closed {
		return w.cerr
	}
	w.closed = true
	var errs []error
	if w.err != nil {
		// The file is spoilt: write nothing more.
		releaseAll(w.pending)
		w.pending = nil
		if w.fw != nil {
			_ = w.closeWriter() // frees its buffers; its error follows from w.err
		}
		errs = []error{w.err}
	} else {
		if err := w.closeWriter(); err != nil {
			errs = append(errs, err)
		} else if err := w.buf.Flush(); err != nil || w.sink.err != nil {
			errs = append(errs, fmt.Errorf("%s: writing: %w", w.path, cmp.Or(w.sink.err, err)))
		}
	}
	if len(errs) == 0 {
		// A file that is complete is on disk before anyone publishes it.
		if f, ok := w.file.(interface{ Sync() error }); ok {
			if err := f.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("%s: syncing: %w", w.path, err))
			}
		}
	}
	if a, ok := w.file.(interface{ Abort() error }); ok && len(errs) > 0 {
		if err := a.Abort(); err != nil {
			w.serr = fmt.Errorf("%s: discarding: %w", w.path, err)
		}
	} else if err := w.file.Close(); err != nil {
		w.serr = fmt.Errorf("%s: closing: %w", w.path, err)
	}
	if w.serr != nil {
		errs = append(errs, w.serr)
	}
	w.cerr = errors.Join(errs...)
	return w.cerr
}

// errAborted is the error of a file closed by Abort.
var errAborted = errors.New("aborted")

// Abort gives up the file: it releases the buffered rows and closes the
// sink, through its Abort method if it has one (see New), so that nothing
// more is written. It returns nil unless discarding fails; the file is
// incomplete. After Close, Abort does nothing. (A Write error that spoilt
// the file is not returned again: the caller has it, and would otherwise
// report it twice.)
func (w *Parquet) Abort() error {
	if w.closed {
		return nil
	}
	if w.err == nil {
		w.err = errAborted
	}
	_ = w.Close() // w.err, which the caller has, then w.serr
	return w.serr
}

// closeWriter writes the last row group, then the footer into w.buf
// (starting the file if no row was written), and closes the pqarrow writer.
func (w *Parquet) closeWriter() (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%s: writing Parquet: panic: %v", w.path, v)
		}
	}()
	if w.err == nil {
		if w.rows > 0 {
			if err := w.flush(true); err != nil {
				return err
			}
		}
		if w.fw == nil {
			if _, err := w.start(nil, true); err != nil {
				return err
			}
		}
	}
	err = w.fw.Close()
	if w.sink.err != nil {
		return fmt.Errorf("%s: writing: %w", w.path, w.sink.err)
	}
	if err != nil {
		return fmt.Errorf("%s: writing Parquet footer: %w", w.path, err)
	}
	return nil
}

// WriteFile is Create + Write(each) + Close; on any error removes the partial file.
func WriteFile(path string, schema *arrow.Schema, recs []arrow.Record, opts Options) error {
	w, err := Create(path, schema, opts)
	if err != nil {
		return err
	}
	if err := w.writeAll(recs); err != nil {
		if rerr := os.Remove(path); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing partial file: %w", rerr))
		}
		return err
	}
	return nil
}

// WriteTo is New + Write(each) + Close: it writes recs as one Parquet file
// on sink and closes it. On any error sink is aborted if it has an Abort
// method (see New), so that a store.Create object never appears.
func WriteTo(name string, sink io.WriteCloser, schema *arrow.Schema, recs []arrow.Record, opts Options) error {
	w, err := New(name, sink, schema, opts)
	if err != nil {
		if a, ok := sink.(interface{ Abort() error }); ok {
			err = errors.Join(err, a.Abort())
		} else {
			err = errors.Join(err, sink.Close())
		}
		return err
	}
	return w.writeAll(recs)
}

// writeAll writes recs and closes w; the first error wins.
func (w *Parquet) writeAll(recs []arrow.Record) (err error) {
	for _, rec := range recs {
		if err = w.Write(rec); err != nil {
			break
		}
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}
