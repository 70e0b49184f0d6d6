package beamrun

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/store"
)

// shardsDir is the folder of the staging location where every shard
// leaves its result for the launcher, removed before publishing.
const shardsDir = "_shards"

// shardResult is what one shard's fit reports to the launcher.
type shardResult struct {
	Shard   int              `json:"shard"`
	Summary pipeline.Summary `json:"summary"`
	// Parts lists the part files written, by table.
	Parts map[string][]string `json:"parts"`
	// Seconds are the shard's read, fit and write times.
	Seconds map[string]float64 `json:"seconds"`
	// First is the error of the shard's first failed bag in key order,
	// with its key (for run.max_failed_bags).
	First *failedBag `json:"first_failed,omitempty"`
}

// failedBag is a failed bag's key and error.
type failedBag struct {
	Str   string `json:"str,omitempty"`
	Int   int64  `json:"int,omitempty"`
	Error string `json:"error"`
}

// before orders failed bags by key, as the local run does.
func (b *failedBag) before(o *failedBag) bool {
	if b.Str != o.Str {
		return b.Str < o.Str
	}
	return b.Int < o.Int
}

// fitShardFn fits the bags of one shard: it writes the shard's rows, in
// input order, to local Arrow IPC files, runs pipeline.Run on them (the
// local run's code: the same fits by construction), copies the output's
// part files to the staging location as part-<shard>-<i>.parquet and
// leaves its summary under _shards/.
type fitShardFn struct {
	// Config is the run's config as JSON.
	Config []byte
	// Staging is the staging location of the output.
	Staging string
	// Files are the input files' paths, by index, for error messages.
	Files []string
	// Workers bounds a shard's parallel fits (run.workers when 0).
	Workers int
}

// ProcessElement fits one shard.
func (f *fitShardFn) ProcessElement(ctx context.Context, shard int, blobs func(*[]byte) bool) (err error) {
	var cfg pipeline.Config
	if err := json.Unmarshal(f.Config, &cfg); err != nil {
		return fmt.Errorf("shard %d: decoding the config: %w", shard, err)
	}
	tmp, err := os.MkdirTemp("", fmt.Sprintf("mixbatch-beam-shard-%05d-", shard))
	if err != nil {
		return fmt.Errorf("shard %d: %w", shard, err)
	}
	defer func() {
		if rerr := os.RemoveAll(tmp); rerr != nil && err == nil {
			err = fmt.Errorf("shard %d: removing %s: %w", shard, tmp, rerr)
		}
	}()
	in := filepath.Join(tmp, "in")
	if err := stageRows(blobs, filepath.Join(tmp, "blobs"), in); err != nil {
		return fmt.Errorf("shard %d: %w", shard, err)
	}
	cfg.Input.Paths = []string{in}
	return f.fit(ctx, shard, &cfg, &locator{dir: in, files: f.Files})
}

// fit runs pipeline.Run on cfg's inputs (a shard's staged rows, located
// by loc) and copies its output to the staging location as the shard's.
func (f *fitShardFn) fit(ctx context.Context, shard int, cfg *pipeline.Config, loc *locator) (err error) {
	tmp, err := os.MkdirTemp("", fmt.Sprintf("mixbatch-beam-out-%05d-", shard))
	if err != nil {
		return fmt.Errorf("shard %d: %w", shard, err)
	}
	defer func() {
		if rerr := os.RemoveAll(tmp); rerr != nil && err == nil {
			err = fmt.Errorf("shard %d: removing %s: %w", shard, tmp, rerr)
		}
	}()
	if loc == nil {
		loc = &locator{}
	}
	out := filepath.Join(tmp, "out")
	cfg.Output.Dir = out
	cfg.Output.Overwrite = true
	// Applied to the whole run by the launcher.
	cfg.Run.MaxFailedBags = nil
	// The worker's memory is the runner's business; the limit is
	// process-wide and bundles run side by side.
	cfg.Run.MemoryLimit = 0
	cfg.Run.TempDir = ""
	sum, err := pipeline.Run(ctx, cfg, pipeline.Options{Workers: f.Workers})
	if err != nil {
		var ie *pipeline.InputError
		if errors.As(err, &ie) {
			loc.fix(ie)
		}
		return fmt.Errorf("shard %d: %w", shard, &relocatedError{loc.relocate(err.Error()), err})
	}
	res := shardResult{Shard: shard, Summary: *sum, Parts: map[string][]string{}, Seconds: map[string]float64{
		"read": sum.Read.Seconds(), "fit": sum.Fit.Seconds(), "write": sum.Write.Seconds(),
	}}
	res.Summary.Output = ""
	for _, table := range []string{pipeline.WeightsTable, pipeline.FitsTable, pipeline.PosteriorsTable, pipeline.ComponentsTable} {
		names, err := parquetFiles(filepath.Join(out, table))
		if err != nil {
			return fmt.Errorf("shard %d: %w", shard, err)
		}
		for i, name := range names {
			src := filepath.Join(out, table, name)
			if table == pipeline.FitsTable && sum.BagsFailed > 0 {
				first, err := relocateFits(ctx, src, cfg, loc)
				if err != nil {
					return fmt.Errorf("shard %d: %w", shard, err)
				}
				if first != nil && (res.First == nil || first.before(res.First)) {
					res.First = first
				}
			}
			part := fmt.Sprintf("part-%05d-%05d.parquet", shard, i)
			if err := copyTo(ctx, src, joinLocation(f.Staging, table, part)); err != nil {
				return fmt.Errorf("shard %d: %w", shard, err)
			}
			res.Parts[table] = append(res.Parts[table], part)
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("shard %d: %w", shard, err)
	}
	if err := writeAll(ctx, joinLocation(f.Staging, shardsDir, fmt.Sprintf("shard-%05d.json", shard)), bytes.NewReader(b)); err != nil {
		return fmt.Errorf("shard %d: %w", shard, err)
	}
	return nil
}

// stageRows writes every blob to its own file under blobDir, then copies
// them, in input order (file, unit, batch), into Arrow IPC files under
// in: one file while the schema stays the same, a new one when it changes
// or has dictionary columns (whose dictionaries differ between blobs).
// Memory holds one record batch at a time.
func stageRows(blobs func(*[]byte) bool, blobDir, in string) error {
	for _, d := range []string{blobDir, in} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	var names []string
	var b []byte
	for blobs(&b) {
		if len(b) < blobHeader {
			return errors.New("a blob without its header")
		}
		name := fmt.Sprintf("%010d-%010d-%010d.arrows",
			binary.BigEndian.Uint32(b[0:]), binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:]))
		if err := os.WriteFile(filepath.Join(blobDir, name), b[blobHeader:], 0o644); err != nil {
			return err
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var (
		w     *ipc.FileWriter
		wf    *os.File
		cur   *arrow.Schema
		path  string
		files int
	)
	closeCur := func() error {
		if w == nil {
			return nil
		}
		err := errors.Join(w.Close(), wf.Close())
		w, wf = nil, nil
		if err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		return nil
	}
	for _, name := range names {
		err := func() (err error) {
			bf, err := os.Open(filepath.Join(blobDir, name))
			if err != nil {
				return err
			}
			defer func() {
				if cerr := bf.Close(); cerr != nil && err == nil {
					err = cerr
				}
			}()
			r, err := ipc.NewReader(bf)
			if err != nil {
				return fmt.Errorf("reading blob %s: %w", name, err)
			}
			defer r.Release()
			sc := r.Schema()
			if w == nil || !sc.Equal(cur) || hasDictionary(sc) {
				if err := closeCur(); err != nil {
					return err
				}
				path = filepath.Join(in, fmt.Sprintf("part-%05d.arrow", files))
				files++
				if wf, err = os.Create(path); err != nil {
					return err
				}
				if w, err = ipc.NewFileWriter(wf, ipc.WithSchema(sc)); err != nil {
					err = errors.Join(err, wf.Close())
					w, wf = nil, nil
					return err
				}
				cur = sc
			}
			for r.Next() {
				if err := w.Write(r.Record()); err != nil {
					return fmt.Errorf("writing %s: %w", path, err)
				}
			}
			if err := r.Err(); err != nil {
				return fmt.Errorf("reading blob %s: %w", name, err)
			}
			return os.Remove(filepath.Join(blobDir, name))
		}()
		if err != nil {
			return errors.Join(err, closeCur())
		}
	}
	return closeCur()
}

func hasDictionary(sc *arrow.Schema) bool {
	for _, f := range sc.Fields() {
		if f.Type.ID() == arrow.DICTIONARY {
			return true
		}
	}
	return false
}

// locator maps locations in a shard's staged files back to the input,
// through their RowColumn (read when an error needs it).
type locator struct {
	dir   string // the staged files' folder
	files []string
	rows  map[string][]int64 // RowColumn of the staged files read so far
}

// fix points an input error at the input file and row.
func (l *locator) fix(e *pipeline.InputError) {
	if f, row, ok := l.lookup(e.File, e.Row); ok {
		e.File, e.Row = f, row
	}
}

// lookup returns the input file and row of row of the staged file path.
func (l *locator) lookup(path string, row int64) (string, int64, bool) {
	if l.dir == "" || filepath.Dir(path) != l.dir {
		return "", 0, false
	}
	rows, ok := l.rows[path]
	if !ok {
		var err error
		if rows, err = readRowColumn(path); err != nil {
			return "", 0, false
		}
		if l.rows == nil {
			l.rows = map[string][]int64{}
		}
		l.rows[path] = rows
	}
	if row < 0 || row >= int64(len(rows)) {
		return "", 0, false
	}
	file, r := splitRowRef(rows[row])
	if file >= len(l.files) {
		return "", 0, false
	}
	return l.files[file], r, true
}

// readRowColumn reads the RowColumn of a staged Arrow IPC file.
func readRowColumn(path string) (_ []int64, err error) {
	ctx := context.Background()
	r, err := readers.Open(ctx, readers.File{Path: path}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := r.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	rr, err := r.Records(ctx, []string{RowColumn}, 0)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	var rows []int64
	for rr.Next() {
		rows = append(rows, rr.Record().Column(0).(*array.Int64).Int64Values()...)
	}
	return rows, rr.Err()
}

// relocatedError is an error whose message names input files and rows
// where the original named a shard's staged files.
type relocatedError struct {
	msg string
	err error
}

func (e *relocatedError) Error() string { return e.msg }
func (e *relocatedError) Unwrap() error { return e.err }

// relocate rewrites "<staged file>: column "c", row N" in a message into
// the input file and row.
func (l *locator) relocate(msg string) string {
	if l.dir == "" {
		return msg
	}
	// A path, a column maybe, and a row: InputError's form.
	re := regexp.MustCompile(regexp.QuoteMeta(l.dir+string(filepath.Separator)) + `(part-\d+\.arrow)((?:: column "(?:[^"\\]|\\.)*")?, row )(\d+)`)
	return re.ReplaceAllStringFunc(msg, func(m string) string {
		g := re.FindStringSubmatch(m)
		row, err := strconv.ParseInt(g[3], 10, 64)
		if err != nil {
			return m
		}
		f, r, ok := l.lookup(filepath.Join(l.dir, g[1]), row)
		if !ok {
			return m
		}
		return f + g[2] + strconv.FormatInt(r, 10)
	})
}

// relocateFits rewrites the error column of a fits part file so that it
// names input files and rows, and returns its first failed bag.
func relocateFits(ctx context.Context, path string, cfg *pipeline.Config, loc *locator) (*failedBag, error) {
	tbl, err := readParquet(ctx, path)
	if err != nil {
		return nil, err
	}
	defer tbl.Release()
	sc := tbl.Schema()
	errIdx := sc.FieldIndices("error")
	if len(errIdx) == 0 {
		return nil, fmt.Errorf("%s: no error column", path)
	}
	mem := memory.DefaultAllocator
	cols := make([]arrow.Array, sc.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for j := range cols {
		chunks := tbl.Column(j).Data().Chunks()
		c, err := array.Concatenate(chunks, mem)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		cols[j] = c
	}
	var first *failedBag
	errs := cols[errIdx[0]].(*array.String)
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for i := range errs.Len() {
		if errs.IsNull(i) {
			b.AppendNull()
			continue
		}
		msg := loc.relocate(errs.Value(i))
		b.Append(msg)
		fb := &failedBag{Error: msg}
		if bag := cols[0]; isString(bag.DataType()) {
			fb.Str = readers.String(bag, i)
		} else {
			fb.Int, _ = readers.Int(bag, i)
		}
		if first == nil || fb.before(first) {
			first = fb
		}
	}
	cols[errIdx[0]].Release()
	cols[errIdx[0]] = b.NewArray()
	rec := array.NewRecord(sc, cols, tbl.NumRows())
	defer rec.Release()
	if err := writeParquet(path, sc, rec, cfg); err != nil {
		return nil, err
	}
	return first, nil
}

// parquetFiles lists the Parquet files of a table folder, sorted; a
// missing folder has none.
func parquetFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".parquet" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// copyTo copies a local file to a location.
func copyTo(ctx context.Context, src, dst string) (err error) {
	r, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := r.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	return writeAll(ctx, dst, r)
}

// writeAll writes everything r holds to a location.
func writeAll(ctx context.Context, dst string, r io.Reader) error {
	w, err := createFile(ctx, dst)
	if err != nil {
		return fmt.Errorf("creating %s: %w", store.Redact(dst), err)
	}
	if _, err := io.Copy(w, r); err != nil {
		// Abort, not Close: a partial object must never be committed.
		return errors.Join(fmt.Errorf("writing %s: %w", store.Redact(dst), err), w.(store.Aborter).Abort())
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", store.Redact(dst), err)
	}
	return nil
}
