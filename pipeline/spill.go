package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/internal/flock"
)

// spillPrefix starts the name of every spill folder under run.temp_dir.
const spillPrefix = "mixbatch-spill-"

// spiller holds rows that do not fit run.memory_limit: while the input is
// read, each unit's rows are partitioned by a hash of the bag key and
// written, one Arrow IPC stream per (unit, partition), to the reading
// worker's spill file; the fit then loads one partition at a time.
//
// A spill file is a sequence of complete IPC streams (schema, one record
// batch, end of stream), found by the segments kept in memory. The rows
// are the worker's bag id (int32), the coded values (float64 each) and the
// count (float64) when there is a count column.
type spiller struct {
	dir   string
	lock  *os.File // held while the run lives: see cleanSpills
	parts int
	// flushRows is how many of a unit's rows a worker gathers before it
	// spills them (flush): spillFlushRows but in tests.
	flushRows int
	mem       memory.Allocator
	schema    *arrow.Schema
	files     []*spillFile // per worker
	remap     [][]int32    // per worker: bag id -> bag index, after merge
	mu        sync.Mutex
	segs      []segment
	bytes     atomic.Int64
}

// spillFile is one worker's spill file and scratch space.
type spillFile struct {
	f       *os.File
	w       *bufio.Writer
	off     int64
	scratch rowChunk // the unit's rows, sorted by partition
	buf     rowChunk // the unit's rows as read
}

// segment is where one IPC stream of one unit's rows of one partition is.
type segment struct {
	part, unit, worker int
	off, len           int64
}

// newSpiller makes a spill folder under tempDir (the system's temporary
// folder when "") with one spill file per worker, after removing the
// folders of earlier runs that died.
func newSpiller(tempDir string, parts, workers, dim int, counts bool, mem memory.Allocator, log *slog.Logger) (sp *spiller, err error) {
	if tempDir == "" {
		tempDir = os.TempDir()
	}
	cleanSpills(tempDir, log)
	dir, err := os.MkdirTemp(tempDir, spillPrefix)
	if err != nil {
		return nil, fmt.Errorf("run.temp_dir: making the spill folder: %w", err)
	}
	sp = &spiller{dir: dir, parts: parts, flushRows: spillFlushRows, mem: mem}
	defer func() {
		if err != nil {
			err = errors.Join(err, sp.remove())
		}
	}()
	if sp.lock, err = flock.Create(filepath.Join(dir, lockName)); err != nil {
		return nil, fmt.Errorf("run.temp_dir: %w", err)
	}
	fields := []arrow.Field{{Name: "bag", Type: arrow.PrimitiveTypes.Int32}}
	for j := range dim {
		fields = append(fields, arrow.Field{Name: "v" + strconv.Itoa(j), Type: arrow.PrimitiveTypes.Float64})
	}
	if counts {
		fields = append(fields, arrow.Field{Name: "count", Type: arrow.PrimitiveTypes.Float64})
	}
	sp.schema = arrow.NewSchema(fields, nil)
	for w := range workers {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("worker-%03d.arrows", w)))
		if err != nil {
			return nil, fmt.Errorf("run.temp_dir: %w", err)
		}
		sp.files = append(sp.files, &spillFile{f: f, w: bufio.NewWriterSize(f, 1<<20)})
	}
	return sp, nil
}

// partition returns the partition of a bag key's hash.
func (sp *spiller) partition(h uint64) uint16 { return uint16(h % uint64(sp.parts)) }

// spillFlushRows is how many rows of a unit a worker gathers before it
// spills them (flush): a unit (a Parquet row group, a whole Arrow IPC
// file) can hold any number of rows, and gathering all of them first held
// them twice (as read, and sorted by partition) outside run.memory_limit:
// 329 MiB under 64MiB for two row groups of 3M readings.
const spillFlushRows = 1 << 18

// buffers returns worker w's row buffers, emptied, with room for n rows
// (at most flushRows: flush spills them as they fill).
func (sp *spiller) buffers(w, n, dim int, counts bool) ([]int32, []float64, []float64) {
	n = min(n, sp.flushRows)
	b := &sp.files[w].buf
	b.ids = slices.Grow(b.ids[:0], n)
	b.vals = slices.Grow(b.vals[:0], n*dim)
	if counts {
		b.counts = slices.Grow(b.counts[:0], n)
	}
	return b.ids, b.vals, b.counts
}

// flush spills the rows that scanner s has read from its unit so far, if
// there are at least atLeast of them, and empties s.cur for the unit's next
// rows. The scanner calls it after each batch with sp.flushRows and at
// the unit's end with 1, so that a worker holds at most flushRows rows
// and one batch however large its units are.
func (sp *spiller) flush(s *scanner, atLeast int) error {
	if n := len(s.cur.ids); n == 0 || n < atLeast {
		return nil
	}
	if err := sp.write(s, s.cur); err != nil {
		return err
	}
	s.cur.ids, s.cur.vals = s.cur.ids[:0], s.cur.vals[:0]
	if s.cur.counts != nil {
		s.cur.counts = s.cur.counts[:0]
	}
	return nil
}

// write spills the rows c that scanner s read from one unit: all of them,
// or (see flush) the next of them, after the unit's rows it wrote before.
func (sp *spiller) write(s *scanner, c rowChunk) error {
	sf := sp.files[s.worker]
	sf.buf = c // keep the grown buffers for the next unit
	// Counting sort of the rows by partition.
	start := make([]int, sp.parts+1)
	for _, id := range c.ids {
		start[s.part[id]+1]++
	}
	for q := range sp.parts {
		start[q+1] += start[q]
	}
	n, d := len(c.ids), s.dim
	out := &sf.scratch
	out.ids = slices.Grow(out.ids[:0], n)[:n]
	out.vals = slices.Grow(out.vals[:0], n*d)[:n*d]
	if c.counts != nil {
		out.counts = slices.Grow(out.counts[:0], n)[:n]
	}
	next := slices.Clone(start[:sp.parts])
	for r, id := range c.ids {
		q := s.part[id]
		at := next[q]
		next[q]++
		out.ids[at] = id
		copy(out.vals[at*d:(at+1)*d], c.vals[r*d:(r+1)*d])
		if c.counts != nil {
			out.counts[at] = c.counts[r]
		}
	}
	for q := range sp.parts {
		lo, hi := start[q], start[q+1]
		if lo == hi {
			continue
		}
		seg := rowChunk{ids: out.ids[lo:hi], vals: out.vals[lo*d : hi*d]}
		if c.counts != nil {
			seg.counts = out.counts[lo:hi]
		}
		off := sf.off
		if err := sp.writeSegment(sf, seg, d); err != nil {
			return fmt.Errorf("run.temp_dir: writing spill file %s: %w", sf.f.Name(), err)
		}
		sp.bytes.Add(sf.off - off)
		sp.mu.Lock()
		sp.segs = append(sp.segs, segment{part: q, unit: c.unit, worker: s.worker, off: off, len: sf.off - off})
		sp.mu.Unlock()
	}
	return nil
}

// writeSegment appends one IPC stream holding rows c to sf.
func (sp *spiller) writeSegment(sf *spillFile, c rowChunk, dim int) error {
	cols := []arrow.Array{int32Array(c.ids)}
	for j := range dim {
		v := c.vals
		if dim > 1 {
			v = make([]float64, len(c.ids))
			for r := range v {
				v[r] = c.vals[r*dim+j]
			}
		}
		cols = append(cols, float64Array(v))
	}
	if c.counts != nil {
		cols = append(cols, float64Array(c.counts))
	}
	rec := array.NewRecord(sp.schema, cols, int64(len(c.ids)))
	for _, col := range cols {
		col.Release()
	}
	defer rec.Release()
	cw := &countingWriter{w: sf.w}
	w := ipc.NewWriter(cw, ipc.WithSchema(sp.schema), ipc.WithAllocator(sp.mem))
	err := w.Write(rec)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	sf.off += cw.n
	return err
}

// int32Array and float64Array wrap Go slices as Arrow arrays, without
// copying; the slices must outlive the arrays.
func int32Array(v []int32) arrow.Array {
	data := array.NewData(arrow.PrimitiveTypes.Int32, len(v),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(v))}, nil, 0, 0)
	defer data.Release()
	return array.NewInt32Data(data)
}

func float64Array(v []float64) arrow.Array {
	data := array.NewData(arrow.PrimitiveTypes.Float64, len(v),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(v))}, nil, 0, 0)
	defer data.Release()
	return array.NewFloat64Data(data)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// finish flushes the spill files, which are then only read, and orders
// the segments by partition, then unit, then as written: a unit's rows of
// a partition may be in several segments (flush), whose order is the
// rows' order, which a bag's fit must see as read to give the same
// results bit for bit.
func (sp *spiller) finish() error {
	for _, sf := range sp.files {
		if err := sf.w.Flush(); err != nil {
			return fmt.Errorf("run.temp_dir: writing spill file %s: %w", sf.f.Name(), err)
		}
		sf.buf, sf.scratch = rowChunk{}, rowChunk{}
	}
	slices.SortStableFunc(sp.segs, func(a, b segment) int {
		if a.part != b.part {
			return a.part - b.part
		}
		return a.unit - b.unit
	})
	return nil
}

// load reads partition q's rows into b, grouped by bag, and returns the
// bags of the partition (every bag whose key hashes to q, with rows or
// not), in index order.
func (sp *spiller) load(ctx context.Context, q int, b *bags) ([]int32, error) {
	lo, _ := slices.BinarySearchFunc(sp.segs, q, func(s segment, q int) int { return s.part - q })
	var recs []arrow.Record
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	var pieces []piece
	withCounts := sp.schema.NumFields() > 1+b.stride()
	for _, seg := range sp.segs[lo:] {
		if seg.part != q {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := sp.readSegment(seg)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
		pc := piece{ids: rec.Column(0).(*array.Int32).Int32Values(), remap: sp.remap[seg.worker]}
		d := b.stride()
		if d == 1 {
			pc.vals = rec.Column(1).(*array.Float64).Float64Values()
		} else {
			pc.vals = make([]float64, len(pc.ids)*d)
			for j := range d {
				for r, v := range rec.Column(1 + j).(*array.Float64).Float64Values() {
					pc.vals[r*d+j] = v
				}
			}
		}
		if withCounts {
			pc.counts = rec.Column(1 + d).(*array.Float64).Float64Values()
		}
		pieces = append(pieces, pc)
	}
	b.fill(pieces, withCounts)
	var todo []int32
	for g, p := range b.part {
		if int(p) == q {
			todo = append(todo, int32(g))
		}
	}
	return todo, nil
}

// readSegment reads the record batch of one segment.
func (sp *spiller) readSegment(seg segment) (arrow.Record, error) {
	f := sp.files[seg.worker].f
	r, err := ipc.NewReader(io.NewSectionReader(f, seg.off, seg.len), ipc.WithAllocator(sp.mem), ipc.WithSchema(sp.schema))
	if err != nil {
		return nil, fmt.Errorf("run.temp_dir: reading spill file %s at %d: %w", f.Name(), seg.off, err)
	}
	defer r.Release()
	if !r.Next() {
		err := r.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("run.temp_dir: reading spill file %s at %d: %w", f.Name(), seg.off, err)
	}
	rec := r.Record()
	rec.Retain()
	return rec, nil
}

// remove closes and removes the spill files and folder.
func (sp *spiller) remove() error {
	var errs []error
	for _, sf := range sp.files {
		if err := sf.f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	sp.files = nil
	if sp.lock != nil {
		if err := sp.lock.Close(); err != nil {
			errs = append(errs, err)
		}
		sp.lock = nil
	}
	if err := os.RemoveAll(sp.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// cleanSpills removes the spill folders in dir of runs that are no longer
// running: their lock file is not locked (a live run holds its lock until
// it ends; the kernel lets go of a killed one's), or they have none and
// were last changed more than staleGrace ago (a run killed between making
// its folder and its lock, or a lock file that a cleaner of old temporary
// files removed: a run makes its lock right after its folder).
func cleanSpills(dir string, log *slog.Logger) {
	old, _ := filepath.Glob(filepath.Join(dir, spillPrefix+"*"))
	for _, d := range old {
		lf, err := flock.Open(filepath.Join(d, lockName), false)
		switch {
		case err == nil:
			if err := lf.Close(); err != nil {
				continue
			}
		case errors.Is(err, fs.ErrNotExist):
			if fi, err := os.Lstat(d); err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < staleGrace {
				continue // maybe a run just starting; or not a folder
			}
		default:
			continue // locked by a live run, or not ours
		}
		if err := os.RemoveAll(d); err != nil {
			log.Warn("removing the spill folder of an earlier run", "path", d, "err", err)
			continue
		}
		log.Info("removed the spill folder of an earlier run that did not finish", "path", d)
	}
}
