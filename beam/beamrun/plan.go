package beamrun

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/store"
)

// RowColumn is the column that carries each row's input file and 0-based
// row number within it through the shuffle (see rowRef), so that errors
// name the input file and row as a local run does. An input column of that
// name is refused.
const RowColumn = "__mixbatch_row"

// rowBits is the bits of a rowRef that hold the row: files of up to 2^40
// rows, and 2^23 files.
const (
	rowBits  = 40
	maxFiles = 1 << (63 - rowBits)
)

// rowRef packs an input file's index and a row number into one int64.
func rowRef(file int, row int64) int64 { return int64(file)<<rowBits | row }

// splitRowRef unpacks a rowRef.
func splitRowRef(v int64) (file int, row int64) { return int(v >> rowBits), v & (1<<rowBits - 1) }

// FileRef is an input file with its number of units: the element of the
// first PCollection, one per file, so that the job's graph does not grow
// with the row groups.
type FileRef struct {
	File   int    // index of the file in the sorted input listing
	Path   string // the file's path (absolute for local files) or URL
	Name   string // the file's path as listed, redacted: errors name it, as a local run's do
	Size   int64  // the file's size when listed
	Format int    // the file's readers.Format
	Units  int    // the file's units
}

// UnitRef names one independently readable unit of an input file: a
// Parquet row group, or a whole Arrow IPC file.
type UnitRef struct {
	FileRef
	Unit int // the unit's index within the file
}

// expandUnits emits a file's units.
func expandUnits(f FileRef, emit func(UnitRef)) {
	for u := range f.Units {
		emit(UnitRef{FileRef: f, Unit: u})
	}
}

// plan is what the launcher learns from the inputs before the pipeline
// starts.
type plan struct {
	files  []readers.File // with absolute paths for local files
	listed []string       // the files' paths as listed, redacted (store.Redact): for the manifest and messages
	rows   []int64        // per file
	refs   []FileRef
	units  int
	schema *arrow.Schema // columns shipped per row, with their output types
}

// columns lists the input columns a row needs: the bag, the values, the
// count and the keep columns, each once, in that order.
func columns(cfg *pipeline.Config) []string {
	var cols []string
	seen := map[string]bool{}
	add := func(c string) {
		if c != "" && !seen[c] {
			seen[c] = true
			cols = append(cols, c)
		}
	}
	add(cfg.Input.Bag)
	for _, v := range cfg.Input.Value {
		add(v)
	}
	add(cfg.Input.Count)
	for _, k := range cfg.Input.Keep {
		add(k)
	}
	return cols
}

// makePlan lists the input files and their units and works out the type
// each shipped column has, as the local run would write it.
func makePlan(ctx context.Context, cfg *pipeline.Config) (*plan, error) {
	files, err := readers.ListContext(ctx, cfg.Input.Paths)
	if err != nil {
		return nil, err
	}
	if len(files) >= maxFiles {
		return nil, fmt.Errorf("%d input files: the Beam runner takes at most %d", len(files), maxFiles-1)
	}
	cols := columns(cfg)
	types := make([]arrow.DataType, len(cols))
	p := &plan{files: files, rows: make([]int64, len(files))}
	for i, f := range files {
		name := store.Redact(f.Path)
		p.listed = append(p.listed, name)
		// The launcher reads the file by its listed path, so that errors
		// name it as a local run's do.
		r, err := readers.Open(ctx, f, memory.DefaultAllocator)
		if err != nil {
			return nil, err
		}
		sc, units := r.Schema(), r.NumUnits()
		p.rows[i] = r.NumRows()
		if err := r.Close(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if p.rows[i] >= 1<<rowBits {
			return nil, fmt.Errorf("%s: %d rows: the Beam runner takes at most %d per file", name, p.rows[i], int64(1<<rowBits-1))
		}
		// Object URLs are the same for every worker; local paths are
		// made absolute.
		if !store.IsURL(f.Path) {
			if abs, err := filepath.Abs(f.Path); err == nil {
				p.files[i].Path = abs
			}
		}
		p.refs = append(p.refs, FileRef{File: i, Path: p.files[i].Path, Name: name, Size: f.Size, Format: int(f.Format), Units: units})
		p.units += units
		if sc.HasField(RowColumn) {
			return nil, fmt.Errorf("%s: the column name %s is reserved by the Beam runner", name, RowColumn)
		}
		for j, c := range cols {
			idx := sc.FieldIndices(c)
			if len(idx) == 0 {
				// pipeline.Check, run first, names the missing column.
				return nil, fmt.Errorf("%s: no column %q", name, c)
			}
			t := sc.Field(idx[0]).Type
			if i == 0 || c == cfg.Input.Count {
				// Counts are read as numbers whatever their type: each
				// file's are shipped as they are (readUnitFn.Count).
				types[j] = t
				continue
			}
			u, ok := pipeline.UnifyTypes(types[j], t)
			if !ok {
				return nil, fmt.Errorf("%s: column %q: type %s does not match type %s of the other files", name, c, t, types[j])
			}
			types[j] = u
		}
	}
	fields := make([]arrow.Field, 0, len(cols)+1)
	for j, c := range cols {
		t := types[j]
		if t == nil {
			continue // no files
		}
		if j < 1+len(cfg.Input.Value) && c != cfg.Input.Count {
			// The bag and value columns are written as their values.
			t = pipeline.LogicalType(t)
		}
		fields = append(fields, arrow.Field{Name: c, Type: t, Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: RowColumn, Type: arrow.PrimitiveTypes.Int64})
	p.schema = arrow.NewSchema(fields, nil)
	return p, nil
}

// isString reports whether a column of type t holds strings (plain,
// large or dictionary-encoded).
func isString(t arrow.DataType) bool {
	id := pipeline.LogicalType(t).ID()
	return id == arrow.STRING || id == arrow.LARGE_STRING
}

// castTo converts arr to type t, one that pipeline.UnifyTypes or LogicalType produced from
// arr's type. The result must be released.
func castTo(mem memory.Allocator, arr arrow.Array, t arrow.DataType) (arrow.Array, error) {
	if arrow.TypeEqual(arr.DataType(), t) {
		arr.Retain()
		return arr, nil
	}
	src, idx := arr, func(i int) int { return i }
	if d, ok := arr.(*array.Dictionary); ok {
		src, idx = d.Dictionary(), d.GetValueIndex
	}
	b := array.NewBuilder(mem, t)
	defer b.Release()
	b.Reserve(arr.Len())
	for i := range arr.Len() {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		j := idx(i)
		switch bb := b.(type) {
		case *array.StringBuilder:
			bb.Append(readers.String(src, j))
		case *array.Int64Builder:
			v, _ := readers.Int(src, j)
			bb.Append(v)
		case *array.Date32Builder, *array.Date64Builder, *array.TimestampBuilder:
			// A dictionary of dates or timestamps: its value, as it
			// is stored.
			if !arrow.TypeEqual(src.DataType(), t) {
				return nil, fmt.Errorf("cannot write a %s column as %s", arr.DataType(), t)
			}
			v, _ := pipeline.BagKey(src, j)
			pipeline.AppendBagKey(b, v)
		default:
			// A dictionary of any other type: its value, as it is.
			if arrow.TypeEqual(src.DataType(), t) {
				if err := b.AppendValueFromString(src.ValueStr(j)); err != nil {
					return nil, fmt.Errorf("cannot write a %s column as %s: %w", arr.DataType(), t, err)
				}
				continue
			}
			return nil, fmt.Errorf("cannot write a %s column as %s", arr.DataType(), t)
		}
	}
	return b.NewArray(), nil
}

// shardOf returns the shard of row i's bag key: a hash of the key's value
// (the integer, a date's or timestamp's stored integer (pipeline.BagKey),
// or the string's bytes) modulo shards, so that every row of a bag meets
// in one shard whatever file, type or encoding it came in. A null key
// goes to shard 0, where the fit reports it as a local run does.
func shardOf(bag arrow.Array, i, shards int) int {
	if bag.IsNull(i) {
		return 0
	}
	h := fnv.New64a()
	if isString(bag.DataType()) {
		h.Write([]byte(readers.String(bag, i)))
	} else {
		v, ok := pipeline.BagKey(bag, i)
		if !ok { // a key the output cannot hold: the fit refuses it
			return 0
		}
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	return int(h.Sum64() % uint64(shards))
}

// encodeSchema serializes a schema as an empty Arrow IPC stream, for a
// DoFn field.
func encodeSchema(sc *arrow.Schema) ([]byte, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(sc))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encoding the shipped schema: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeSchema reads what encodeSchema wrote.
func decodeSchema(b []byte) (*arrow.Schema, error) {
	r, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decoding the shipped schema: %w", err)
	}
	defer r.Release()
	sc := r.Schema()
	if sc == nil {
		return nil, errors.New("decoding the shipped schema: none")
	}
	return sc, nil
}
