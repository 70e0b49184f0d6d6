package beamrun

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/store"
)

// blobHeader is the size of the header before a blob's Arrow IPC stream:
// the file index, the unit and the batch, big-endian uint32 each, so that
// a shard puts its blobs back in the input's order whatever order the
// shuffle delivers them in.
const blobHeader = 12

// readBatchRows is the batch size units are read in: a blob holds one
// batch's rows of one shard. Tests make it small.
var readBatchRows = 64 << 10

// readUnitFn reads one unit of an input file with the readers package
// (pqarrow for Parquet), keeps only the columns the run needs, casts them
// to the types the whole input has (Schema), and emits, for every batch
// and shard, the batch's rows whose bag hashes to that shard as one Arrow
// IPC stream, keyed by the shard.
type readUnitFn struct {
	// Schema is the shipped columns and their types (encodeSchema).
	Schema []byte
	// Shards is the number of shards bags are hashed into.
	Shards int
	// BatchRows is the most rows of a batch read.
	BatchRows int
	// Count is input.count: a count column is shipped with each file's own
	// type, as the local run reads each file's counts as numbers.
	Count string
	// Staging is the output's staging location, where a unit that fails
	// the job records its error for the launcher ("" for none).
	Staging string

	schema *arrow.Schema
}

// Setup decodes the schema.
func (f *readUnitFn) Setup() error {
	sc, err := decodeSchema(f.Schema)
	if err != nil {
		return err
	}
	f.schema = sc
	return nil
}

// ProcessElement reads unit u and emits its blobs. An error fails the
// job; it is recorded under _shards/ as failed-read-<file>-<unit>.json,
// which the launcher reports instead of the runner's account of the job
// (and ignores if a retry succeeds).
func (f *readUnitFn) ProcessElement(ctx context.Context, u UnitRef, emit func(int, []byte)) (err error) {
	defer func() {
		if err != nil && ctx.Err() == nil && f.Staging != "" {
			recordFailure(ctx, f.Staging, fmt.Sprintf("%s%010d-%010d.json", readFailurePrefix, u.File, u.Unit), -1, err)
		}
	}()
	return u.named(f.read(ctx, u, emit))
}

// named returns err naming the file as listed (a relative path stays
// relative, as in a local run's errors) where it names the path the
// workers read it by.
func (u UnitRef) named(err error) error {
	if err == nil || u.Name == "" {
		return err
	}
	if path := store.Redact(u.Path); path != u.Name && strings.Contains(err.Error(), path) {
		return &relocatedError{strings.ReplaceAll(err.Error(), path, u.Name), err}
	}
	return err
}

// readFailurePrefix starts the names of the read failures under _shards/.
const readFailurePrefix = "failed-read-"

func (f *readUnitFn) read(ctx context.Context, u UnitRef, emit func(int, []byte)) (err error) {
	mem := memory.DefaultAllocator
	r, err := readers.Open(ctx, readers.File{Path: u.Path, Size: u.Size, Format: readers.Format(u.Format)}, mem)
	if err != nil {
		return fmt.Errorf("unit %d: %w", u.Unit, err)
	}
	defer func() {
		if cerr := r.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: %w", store.Redact(u.Path), cerr)
		}
	}()
	ncols := f.schema.NumFields() - 1 // all but RowColumn
	names := make([]string, ncols)
	for j := range names {
		names[j] = f.schema.Field(j).Name
	}
	var row0 int64
	for k := range u.Unit {
		row0 += r.UnitRows(k)
	}
	rr, err := r.UnitRecords(ctx, names, f.BatchRows, u.Unit)
	if err != nil {
		return err
	}
	defer rr.Release()
	for batch := 0; rr.Next(); batch++ {
		rec := rr.Record()
		if err := f.split(mem, u, batch, rec, row0, emit); err != nil {
			return fmt.Errorf("%s: unit %d: %w", store.Redact(u.Path), u.Unit, err)
		}
		row0 += rec.NumRows()
	}
	return rr.Err()
}

// split casts a batch to the shipped types and emits its rows shard by
// shard.
func (f *readUnitFn) split(mem memory.Allocator, u UnitRef, batch int, rec arrow.Record, row0 int64, emit func(int, []byte)) error {
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	ncols := f.schema.NumFields() - 1
	cols := make([]arrow.Array, 0, ncols+1)
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	fields := f.schema.Fields()
	for j := range ncols {
		fld := fields[j]
		idx := rec.Schema().FieldIndices(fld.Name)
		if len(idx) == 0 {
			return fmt.Errorf("no column %q", fld.Name)
		}
		src := rec.Column(idx[0])
		if fld.Name == f.Count {
			fields[j].Type = src.DataType()
			src.Retain()
			cols = append(cols, src)
			continue
		}
		c, err := castTo(mem, src, fld.Type)
		if err != nil {
			return fmt.Errorf("column %q: %w", fld.Name, err)
		}
		cols = append(cols, c)
	}
	// Rows of each shard, in input order.
	byShard := make([][]int, f.Shards)
	for i := range n {
		s := shardOf(cols[0], i, f.Shards)
		byShard[s] = append(byShard[s], i)
	}
	rowNo := array.NewInt64Builder(mem)
	defer rowNo.Release()
	for i := range n {
		rowNo.Append(rowRef(u.File, row0+int64(i)))
	}
	cols = append(cols, rowNo.NewArray())
	whole := array.NewRecord(arrow.NewSchema(fields, nil), cols, int64(n))
	defer whole.Release()
	for s, rows := range byShard {
		if len(rows) == 0 {
			continue
		}
		b, err := encodeRows(mem, whole, rows, u, batch)
		if err != nil {
			return fmt.Errorf("shard %d: %w", s, err)
		}
		emit(s, b)
	}
	return nil
}

// encodeRows writes the given rows of rec as a blob: the header, then an
// Arrow IPC stream of one record batch.
func encodeRows(mem memory.Allocator, rec arrow.Record, rows []int, u UnitRef, batch int) ([]byte, error) {
	sub, err := take(mem, rec, rows)
	if err != nil {
		return nil, err
	}
	defer sub.Release()
	var buf bytes.Buffer
	var h [blobHeader]byte
	binary.BigEndian.PutUint32(h[0:], uint32(u.File))
	binary.BigEndian.PutUint32(h[4:], uint32(u.Unit))
	binary.BigEndian.PutUint32(h[8:], uint32(batch))
	buf.Write(h[:])
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(mem))
	if err := w.Write(sub); err != nil {
		return nil, errors.Join(fmt.Errorf("encoding rows: %w", err), w.Close())
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encoding rows: %w", err)
	}
	return buf.Bytes(), nil
}

// take returns the rows of rec at the given indices, in that order, with
// arrow's take kernel (dictionary columns keep their dictionary).
func take(mem memory.Allocator, rec arrow.Record, rows []int) (arrow.Record, error) {
	if len(rows) == int(rec.NumRows()) {
		rec.Retain()
		return rec, nil
	}
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.Reserve(len(rows))
	for _, i := range rows {
		ib.Append(int64(i))
	}
	indices := ib.NewArray()
	defer indices.Release()
	ctx := compute.WithAllocator(context.Background(), mem)
	cols := make([]arrow.Array, 0, rec.NumCols())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for j := range int(rec.NumCols()) {
		src := rec.Column(j)
		if d, ok := src.(*array.Dictionary); ok {
			idx, err := compute.TakeArray(ctx, d.Indices(), indices)
			if err != nil {
				return nil, fmt.Errorf("column %q: %w", rec.ColumnName(j), err)
			}
			cols = append(cols, array.NewDictionaryArray(d.DataType(), idx, d.Dictionary()))
			idx.Release()
			continue
		}
		c, err := compute.TakeArray(ctx, src, indices)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", rec.ColumnName(j), err)
		}
		cols = append(cols, c)
	}
	return array.NewRecord(rec.Schema(), cols, int64(len(rows))), nil
}
