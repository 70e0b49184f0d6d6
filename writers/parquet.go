// Package writers writes Arrow records to output files. It knows file
// formats and Arrow, and nothing about the statistics that made the data.
package writers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/apache/arrow/go/v17/parquet/schema"
)

// DefaultRowGroupRows is the number of rows per row group when
// Options.RowGroupRows is zero.
const DefaultRowGroupRows = 1 << 20

// bufferSize is the size of the buffer between the Parquet encoder and the file.
const bufferSize = 1 << 20

// Options control how a Parquet file is written.
type Options struct {
	RowGroupRows int64 // rows per row group; 0 means 1<<20
}

// Parquet writes Arrow records to one Parquet file, zstd-compressed, with dictionary encoding
// disabled for floating-point columns (high-entropy doubles) and enabled for others; statistics on.
//
// Records are buffered into row groups of Options.RowGroupRows rows, so
// many small records still make few row groups; the last row group holds
// the remainder. The Arrow schema is stored in the file so that types such
// as large_string, uint32 and dictionaries read back as written.
// A Parquet is not safe for concurrent use.
type Parquet struct {
	path   string
	schema *arrow.Schema
	file   io.Closer     // the *os.File under buf
	sink   *stickyWriter // between buf and file: remembers the first write error
	buf    *bufio.Writer
	fw     *pqarrow.FileWriter
	err    error // first Write error; Close returns it too
	closed bool
	cerr   error // result of the first Close
}

// Create creates path (which must not exist: use O_EXCL) for records of the given schema.
func Create(path string, schema *arrow.Schema, opts Options) (*Parquet, error) {
	if schema == nil {
		return nil, fmt.Errorf("%s: nil schema", path)
	}
	if opts.RowGroupRows < 0 {
		return nil, fmt.Errorf("%s: negative RowGroupRows %d", path, opts.RowGroupRows)
	}
	props, err := writerProperties(schema, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: schema cannot be written as Parquet: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, fmt.Errorf("creating Parquet file: %w", err)
	}
	w, err := newParquet(path, f, schema, props)
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

// newParquet starts a Parquet file on sink, which is closed by Close.
func newParquet(path string, sink io.WriteCloser, sc *arrow.Schema, props *parquet.WriterProperties) (w *Parquet, err error) {
	defer func() {
		if v := recover(); v != nil {
			w, err = nil, fmt.Errorf("%s: starting Parquet file: panic: %v", path, v)
		}
	}()
	sw := &stickyWriter{w: sink}
	buf := bufio.NewWriterSize(sw, bufferSize)
	// buf is not an io.Closer, so the FileWriter's Close does not close sink.
	fw, err := pqarrow.NewFileWriter(withoutStoredSchema(sc), buf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, fmt.Errorf("%s: starting Parquet file: %w", path, err)
	}
	return &Parquet{path: path, schema: sc, file: sink, sink: sw, buf: buf, fw: fw}, nil
}

// stickyWriter passes writes to w until one fails, then fails them all
// with that error. pqarrow ignores some write errors (it drops the error
// of closing a full row group), so Write checks this one after each record.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
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

// writerProperties returns the Parquet writer properties for schema: zstd,
// statistics, dictionary encoding except for floating-point leaf columns.
func writerProperties(sc *arrow.Schema, opts Options) (*parquet.WriterProperties, error) {
	rows := opts.RowGroupRows
	if rows == 0 {
		rows = DefaultRowGroupRows
	}
	props := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithDictionaryDefault(true),
		parquet.WithStats(true),
		parquet.WithMaxRowGroupLength(rows),
	}
	// Find the floating-point leaves by converting the schema, so that
	// floats nested in structs and lists are found by their full path.
	pq, err := pqarrow.ToParquet(sc, parquet.NewWriterProperties(props...), pqarrow.DefaultWriterProps())
	if err != nil {
		return nil, err
	}
	for i := 0; i < pq.NumColumns(); i++ {
		if isFloat(pq.Column(i)) {
			props = append(props, parquet.WithDictionaryPath(pq.Column(i).ColumnPath(), false))
		}
	}
	return parquet.NewWriterProperties(props...), nil
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
	if err := w.fw.WriteBuffered(rec); err != nil {
		return fmt.Errorf("%s: writing Parquet: %w", w.path, err)
	}
	if w.sink.err != nil {
		return fmt.Errorf("%s: writing: %w", w.path, w.sink.err)
	}
	return nil
}

// Close flushes, syncs (fsync) and closes the file; its error is a write
// error (file path in it). Safe to call twice.
// Later calls return the result of the first.
func (w *Parquet) Close() error {
	if w.closed {
		return w.cerr
	}
	w.closed = true
	var errs []error
	if err := w.closeWriter(); err != nil {
		errs = append(errs, fmt.Errorf("%s: writing Parquet footer: %w", w.path, err))
	}
	if err := w.buf.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("%s: writing: %w", w.path, err))
	}
	if w.err != nil {
		// The footer and flush errors follow from the Write error.
		errs = []error{w.err}
	}
	if len(errs) == 0 {
		// A file that is complete is on disk before anyone publishes it.
		if f, ok := w.file.(interface{ Sync() error }); ok {
			if err := f.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("%s: syncing: %w", w.path, err))
			}
		}
	}
	if err := w.file.Close(); err != nil {
		errs = append(errs, fmt.Errorf("%s: closing: %w", w.path, err))
	}
	w.cerr = errors.Join(errs...)
	return w.cerr
}

// closeWriter closes the pqarrow writer, which writes the last row group
// and the footer into w.buf.
func (w *Parquet) closeWriter() (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return w.fw.Close()
}

// WriteFile is Create + Write(each) + Close; on any error removes the partial file.
func WriteFile(path string, schema *arrow.Schema, recs []arrow.Record, opts Options) error {
	w, err := Create(path, schema, opts)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if err = w.Write(rec); err != nil {
			break
		}
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if rerr := os.Remove(path); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing partial file: %w", rerr))
		}
		return err
	}
	return nil
}
