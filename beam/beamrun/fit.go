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
	// Fatal is the input error that stopped the shard's fit (a bad row
	// or bag with run.on_error: fail, a null bag key with either): the
	// run fails with the shards' earliest (failedBag.earlier).
	Fatal *failedBag `json:"fatal,omitempty"`
	// Failed is the error of a shard that failed the job (an I/O error,
	// say), which the launcher reports instead of the runner's account.
	Failed string `json:"failed,omitempty"`
}

// failedBag is a failed bag's key and error, and the input row the error
// names, if any.
type failedBag struct {
	Str   string `json:"str,omitempty"`
	Int   int64  `json:"int,omitempty"`
	Error string `json:"error"`
	// HasRow says that the error names an input row: row Row of the
	// input file of index File.
	HasRow bool  `json:"has_row,omitempty"`
	File   int   `json:"file,omitempty"`
	Row    int64 `json:"row,omitempty"`
}

// before orders failed bags by key, as the local run does.
func (b *failedBag) before(o *failedBag) bool {
	if b.Str != o.Str {
		return b.Str < o.Str
	}
	return b.Int < o.Int
}

// earlier orders errors as a local run with run.on_error: fail meets
// them: errors of input rows (found while reading) in input order, then
// errors of whole bags (found while fitting) by key.
func (b *failedBag) earlier(o *failedBag) bool {
	if b.HasRow != o.HasRow {
		return b.HasRow
	}
	if b.HasRow && (b.File != o.File || b.Row != o.Row) {
		return b.File < o.File || b.File == o.File && b.Row < o.Row
	}
	if b.before(o) != o.before(b) {
		return b.before(o)
	}
	return b.Error < o.Error
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
	// Launch identifies the launcher's run, for shards fitted in its
	// process (see joinLaunch).
	Launch string
}

// ProcessElement fits one shard.
func (f *fitShardFn) ProcessElement(ctx context.Context, shard int, blobs func(*[]byte) bool) (err error) {
	// A shard fitted in the launcher's own process (Prism's loopback
	// workers) stops when the launcher is interrupted, and the launcher
	// waits for it to remove its folder.
	ctx, leave := joinLaunch(ctx, f.Launch)
	defer leave()
	if ctx.Err() != nil {
		// The launcher has stopped waiting for this shard.
		return fmt.Errorf("shard %d: %w", shard, context.Cause(ctx))
	}
	var cfg pipeline.Config
	if err := json.Unmarshal(f.Config, &cfg); err != nil {
		return fmt.Errorf("shard %d: decoding the config: %w", shard, err)
	}
	work, err := newWorkDir(shard)
	if err != nil {
		return fmt.Errorf("shard %d: %w", shard, err)
	}
	defer func() {
		if rerr := work.remove(); rerr != nil && err == nil {
			err = fmt.Errorf("shard %d: removing %s: %w", shard, work.dir, rerr)
		}
	}()
	in := filepath.Join(work.dir, "in")
	bagType, err := stageRows(blobs, filepath.Join(work.dir, "blobs"), in)
	if err != nil {
		return f.failed(ctx, shard, fmt.Errorf("shard %d: %w", shard, err))
	}
	if fitHook != nil {
		fitHook(ctx, shard)
	}
	cfg.Input.Paths = []string{in}
	return f.fit(ctx, shard, &cfg, work.dir, &locator{dir: in, files: f.Files, bagType: bagType})
}

// fitHook, when set (by tests), runs in every shard between staging its
// rows and fitting them.
var fitHook func(ctx context.Context, shard int)

// failed records a shard's error for the launcher, which reports it
// rather than the runner's account of the failed job, and returns it.
func (f *fitShardFn) failed(ctx context.Context, shard int, err error) error {
	if ctx.Err() != nil {
		return err
	}
	recordFailure(ctx, f.Staging, fmt.Sprintf("shard-%05d.json", shard), shard, err)
	return err
}

// recordFailure leaves err, which fails the job, under _shards/ of the
// staging location as name, for the launcher to report rather than the
// runner's account of the failed job. Best effort: the job fails with err
// anyway.
func recordFailure(ctx context.Context, staging, name string, shard int, err error) {
	if b, jerr := json.Marshal(shardResult{Shard: shard, Failed: err.Error()}); jerr == nil {
		_ = writeAll(ctx, joinLocation(staging, shardsDir, name), bytes.NewReader(b))
	}
}

// fit runs pipeline.Run on cfg's inputs (a shard's staged rows, located
// by loc) in the folder work and copies its output to the staging
// location as the shard's.
//
// An error of the input (a bad row or bag) does not fail the job: the
// shard records it as its Fatal error, and the launcher fails the run
// with the earliest of the shards' in input order, as a local run meets
// them, whichever shard ran first (a failed job would name the first
// shard to fail). So that a shard's own error is its earliest too, a
// shard whose fit stopped on an error without a row (found while
// fitting, where bags are fitted in parallel) or in one of several staged
// files (read in parallel) fits again with on_error: skip to find all
// its bad bags, and records the earliest.
func (f *fitShardFn) fit(ctx context.Context, shard int, cfg *pipeline.Config, work string, loc *locator) (err error) {
	if loc == nil {
		loc = &locator{}
	}
	out := filepath.Join(work, "out")
	cfg.Output.Dir = out
	cfg.Output.Overwrite = true
	// Applied to the whole run by the launcher.
	cfg.Run.MaxFailedBags = nil
	// The worker's memory is the runner's business; the limit is
	// process-wide and bundles run side by side.
	cfg.Run.MemoryLimit = 0
	cfg.Run.TempDir = ""
	res := shardResult{Shard: shard, Parts: map[string][]string{}}
	sum, err := pipeline.Run(ctx, cfg, pipeline.Options{Workers: f.Workers})
	if err != nil {
		if ctx.Err() != nil || !isDataError(err) {
			return f.failed(ctx, shard, fmt.Errorf("shard %d: %w", shard, &relocatedError{loc.relocate(err.Error()).msg, err}))
		}
		// The data's fault: the same on every attempt.
		fb := loc.failure(err)
		if cfg.Run.OnError != pipeline.OnErrorSkip && !(fb.HasRow && loc.single()) {
			e, serr := f.earliestSkipping(ctx, cfg, work, loc)
			if ctx.Err() != nil {
				return f.failed(ctx, shard, fmt.Errorf("shard %d: %w", shard, ctx.Err()))
			}
			if serr == nil && e != nil {
				fb = e
			}
		}
		res.Fatal = fb
		res.Parts = nil
		return f.report(ctx, shard, res)
	}
	res.Summary = *sum
	res.Seconds = map[string]float64{"read": sum.Read.Seconds(), "fit": sum.Fit.Seconds(), "write": sum.Write.Seconds()}
	res.Summary.Output = ""
	for _, table := range []string{pipeline.WeightsTable, pipeline.FitsTable, pipeline.PosteriorsTable, pipeline.ComponentsTable} {
		names, err := parquetFiles(filepath.Join(out, table))
		if err != nil {
			return f.failed(ctx, shard, fmt.Errorf("shard %d: %w", shard, err))
		}
		for i, name := range names {
			src := filepath.Join(out, table, name)
			if table == pipeline.FitsTable && sum.BagsFailed > 0 {
				first, _, err := relocateFits(ctx, src, cfg, loc)
				if err != nil {
					return f.failed(ctx, shard, fmt.Errorf("shard %d: %w", shard, err))
				}
				if first != nil && (res.First == nil || first.before(res.First)) {
					res.First = first
				}
			}
			part := fmt.Sprintf("part-%05d-%05d.parquet", shard, i)
			if err := copyTo(ctx, src, joinLocation(f.Staging, table, part)); err != nil {
				return f.failed(ctx, shard, fmt.Errorf("shard %d: %w", shard, err))
			}
			res.Parts[table] = append(res.Parts[table], part)
		}
	}
	return f.report(ctx, shard, res)
}

// isDataError reports whether err is the input's fault: an input error
// or a bag's failed fit, which a retry would meet again.
func isDataError(err error) bool {
	var ie *pipeline.InputError
	var be *pipeline.BagError
	return errors.As(err, &ie) || errors.As(err, &be)
}

// earliestSkipping fits the shard's rows again with run.on_error: skip
// and returns its earliest error (failedBag.earlier): the one a local run
// with on_error: fail meets first.
func (f *fitShardFn) earliestSkipping(ctx context.Context, cfg *pipeline.Config, work string, loc *locator) (*failedBag, error) {
	scfg := *cfg
	scfg.Run.OnError = pipeline.OnErrorSkip
	scfg.Output.Dir = filepath.Join(work, "skip")
	scfg.Output.Posteriors = false
	sum, err := pipeline.Run(ctx, &scfg, pipeline.Options{Workers: f.Workers})
	if err != nil {
		if isDataError(err) {
			return loc.failure(err), nil
		}
		return nil, err
	}
	if sum.BagsFailed == 0 {
		return nil, nil
	}
	names, err := parquetFiles(filepath.Join(scfg.Output.Dir, pipeline.FitsTable))
	if err != nil {
		return nil, err
	}
	var earliest *failedBag
	for _, name := range names {
		_, e, err := relocateFits(ctx, filepath.Join(scfg.Output.Dir, pipeline.FitsTable, name), &scfg, loc)
		if err != nil {
			return nil, err
		}
		if e != nil && (earliest == nil || e.earlier(earliest)) {
			earliest = e
		}
	}
	return earliest, nil
}

// report leaves a shard's result under _shards/ for the launcher.
func (f *fitShardFn) report(ctx context.Context, shard int, res shardResult) error {
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
// Memory holds one record batch at a time. It returns the bag column's
// type (the staged files' first column), nil without blobs.
func stageRows(blobs func(*[]byte) bool, blobDir, in string) (arrow.DataType, error) {
	for _, d := range []string{blobDir, in} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	var names []string
	var b []byte
	for blobs(&b) {
		if len(b) < blobHeader {
			return nil, errors.New("a blob without its header")
		}
		name := fmt.Sprintf("%010d-%010d-%010d.arrows",
			binary.BigEndian.Uint32(b[0:]), binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:]))
		if err := os.WriteFile(filepath.Join(blobDir, name), b[blobHeader:], 0o644); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var (
		w       *ipc.FileWriter
		wf      *os.File
		cur     *arrow.Schema
		path    string
		files   int
		bagType arrow.DataType
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
				if bagType == nil && sc.NumFields() > 0 {
					bagType = sc.Field(0).Type
				}
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
			return nil, errors.Join(err, closeCur())
		}
	}
	return bagType, closeCur()
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
	rows  map[string][]int64          // RowColumn of the staged files read so far
	bags  map[string]map[string]int64 // per staged file: rendered bag key -> RowColumn of its first row
	// bagType is the staged bag column's type, which reads a rendered
	// integer, date or timestamp key back; nil without staged rows.
	bagType arrow.DataType
}

// inputPos is a place in the input: row row of input file file when
// hasRow, else (file >= 0) just the file.
type inputPos struct {
	file   int
	row    int64
	hasRow bool
}

// fix points an input error at the input file (and row), and returns
// where that is.
func (l *locator) fix(e *pipeline.InputError) inputPos {
	if e.Row >= 0 {
		if f, row, ok := l.lookup(e.File, e.Row); ok {
			e.File, e.Row = l.files[f], row
			return inputPos{file: f, row: row, hasRow: true}
		}
		return inputPos{file: -1}
	}
	if e.Bag != "" {
		if f, ok := l.lookupBag(e.File, e.Bag); ok {
			e.File = l.files[f]
			return inputPos{file: f}
		}
	}
	return inputPos{file: -1}
}

// failure returns a shard's data error (isDataError) as a failed bag
// naming the input.
func (l *locator) failure(err error) *failedBag {
	fb := &failedBag{}
	key := ""
	var ie *pipeline.InputError
	var be *pipeline.BagError
	if errors.As(err, &ie) {
		if pos := l.fix(ie); pos.hasRow {
			fb.HasRow, fb.File, fb.Row = true, pos.file, pos.row
		}
		key = ie.Bag
	} else if errors.As(err, &be) {
		key = be.Bag
	}
	r := l.relocate(err.Error())
	fb.Error = r.msg
	if !fb.HasRow && r.pos.hasRow {
		fb.HasRow, fb.File, fb.Row = true, r.pos.file, r.pos.row
	}
	if s, uerr := strconv.Unquote(key); uerr == nil {
		fb.Str = s
	} else if v, perr := l.parseKey(key); perr == nil {
		fb.Int = v
	}
	return fb
}

// parseKey reads a bag key rendered as pipeline.InputError.Bag renders an
// integer, date or timestamp key, as the output tables hold it
// (pipeline.OutputBagKey), as relocateFits reads it from them.
func (l *locator) parseKey(key string) (int64, error) {
	if l.bagType == nil || isString(l.bagType) {
		return strconv.ParseInt(key, 10, 64)
	}
	v, err := pipeline.ParseBagKey(l.bagType, "", key)
	if err != nil {
		return 0, err
	}
	return pipeline.OutputBagKey(l.bagType, v), nil
}

// single reports whether the shard's rows are staged in one file, which
// pipeline.Run reads in order: its first bad row is then the shard's.
func (l *locator) single() bool {
	if l.dir == "" {
		return false
	}
	names, err := filepath.Glob(filepath.Join(l.dir, "part-*.arrow"))
	return err == nil && len(names) == 1
}

// staged reports whether path is one of the shard's staged files.
func (l *locator) staged(path string) bool {
	return l.dir != "" && filepath.Dir(path) == l.dir
}

// lookup returns the input file's index and the row of row of the staged
// file path.
func (l *locator) lookup(path string, row int64) (int, int64, bool) {
	if !l.staged(path) {
		return 0, 0, false
	}
	rows, ok := l.rows[path]
	if !ok {
		var err error
		if rows, _, err = readStaged(path, false); err != nil {
			return 0, 0, false
		}
		if l.rows == nil {
			l.rows = map[string][]int64{}
		}
		l.rows[path] = rows
	}
	if row < 0 || row >= int64(len(rows)) {
		return 0, 0, false
	}
	file, r := splitRowRef(rows[row])
	if file >= len(l.files) {
		return 0, 0, false
	}
	return file, r, true
}

// lookupBag returns the index of the input file of the first row, in the
// staged file path, of the bag whose key renders as key (as
// pipeline.InputError.Bag renders it: a quoted string, an integer, a
// date or a timestamp).
// Staged files hold a shard's rows in input order, and the local run
// names the file of a bag's first row, so the two agree.
func (l *locator) lookupBag(path, key string) (int, bool) {
	if !l.staged(path) {
		return 0, false
	}
	first, ok := l.bags[path]
	if !ok {
		rows, keys, err := readStaged(path, true)
		if err != nil {
			return 0, false
		}
		first = map[string]int64{}
		for i, k := range keys {
			if _, seen := first[k]; !seen {
				first[k] = rows[i]
			}
		}
		if l.bags == nil {
			l.bags = map[string]map[string]int64{}
		}
		l.bags[path] = first
	}
	ref, ok := first[key]
	if !ok {
		return 0, false
	}
	file, _ := splitRowRef(ref)
	if file >= len(l.files) {
		return 0, false
	}
	return file, true
}

// readStaged reads the RowColumn of a staged Arrow IPC file and, if keys,
// its bag keys (the first column) rendered as pipeline.InputError.Bag
// renders them.
func readStaged(path string, keys bool) (_ []int64, _ []string, err error) {
	ctx := context.Background()
	r, err := readers.Open(ctx, readers.File{Path: path}, memory.DefaultAllocator)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if cerr := r.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	cols := []string{RowColumn}
	if keys {
		cols = append(cols, r.Schema().Field(0).Name)
	}
	rr, err := r.Records(ctx, cols, 0)
	if err != nil {
		return nil, nil, err
	}
	defer rr.Release()
	var rows []int64
	var rendered []string
	for rr.Next() {
		rec := rr.Record()
		rows = append(rows, rec.Column(0).(*array.Int64).Int64Values()...)
		if keys {
			bag := rec.Column(1)
			for i := range bag.Len() {
				switch {
				case bag.IsNull(i):
					rendered = append(rendered, "")
				case isString(bag.DataType()):
					rendered = append(rendered, strconv.Quote(readers.String(bag, i)))
				default:
					v, _ := pipeline.BagKey(bag, i)
					rendered = append(rendered, pipeline.FormatBagKey(bag.DataType(), v))
				}
			}
		}
	}
	return rows, rendered, rr.Err()
}

// relocatedError is an error whose message names input files and rows
// where the original named a shard's staged files.
type relocatedError struct {
	msg string
	err error
}

func (e *relocatedError) Error() string { return e.msg }
func (e *relocatedError) Unwrap() error { return e.err }

// relocated is a message relocated, and the input position its first
// relocated location names (file -1 when none).
type relocated struct {
	msg string
	pos inputPos
}

// stagedRef matches InputError's forms of a location in a staged file:
// the file, a column maybe, and a row or (for errors of a whole bag,
// which have no row) a bag key: a quoted string, an integer, a date or a
// timestamp (pipeline.FormatBagKey).
const stagedRef = `(part-\d+\.arrow)((?:: column "(?:[^"\\]|\\.)*")?), (?:row (\d+)|bag ("(?:[^"\\]|\\.)*"|-?\d+(?:-\d\d-\d\d(?:T\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?)?)?))`

// relocate rewrites "<staged file>: column "c", row N" in a message into
// the input file and row, and "<staged file>: column "c", bag K" into the
// input file of the bag's first row.
func (l *locator) relocate(msg string) relocated {
	res := relocated{msg: msg, pos: inputPos{file: -1}}
	if l.dir == "" {
		return res
	}
	re := regexp.MustCompile(regexp.QuoteMeta(l.dir+string(filepath.Separator)) + stagedRef)
	found := false
	res.msg = re.ReplaceAllStringFunc(msg, func(m string) string {
		g := re.FindStringSubmatch(m)
		path := filepath.Join(l.dir, g[1])
		if g[3] != "" {
			row, err := strconv.ParseInt(g[3], 10, 64)
			if err != nil {
				return m
			}
			f, r, ok := l.lookup(path, row)
			if !ok {
				return m
			}
			if !found {
				found, res.pos = true, inputPos{file: f, row: r, hasRow: true}
			}
			return l.files[f] + g[2] + ", row " + strconv.FormatInt(r, 10)
		}
		f, ok := l.lookupBag(path, g[4])
		if !ok {
			return m
		}
		if !found {
			found, res.pos = true, inputPos{file: f}
		}
		return l.files[f] + g[2] + ", bag " + g[4]
	})
	return res
}

// relocateFits rewrites the error column of a fits part file so that it
// names input files and rows, and returns its first failed bag by key and
// its earliest by failedBag.earlier.
func relocateFits(ctx context.Context, path string, cfg *pipeline.Config, loc *locator) (first, earliest *failedBag, err error) {
	tbl, err := readParquet(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	defer tbl.Release()
	sc := tbl.Schema()
	errIdx := sc.FieldIndices("error")
	if len(errIdx) == 0 {
		return nil, nil, fmt.Errorf("%s: no error column", path)
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
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		cols[j] = c
	}
	errs := cols[errIdx[0]].(*array.String)
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for i := range errs.Len() {
		if errs.IsNull(i) {
			b.AppendNull()
			continue
		}
		r := loc.relocate(errs.Value(i))
		b.Append(r.msg)
		fb := &failedBag{Error: r.msg}
		if r.pos.hasRow {
			fb.HasRow, fb.File, fb.Row = true, r.pos.file, r.pos.row
		}
		if bag := cols[0]; isString(bag.DataType()) {
			fb.Str = readers.String(bag, i)
		} else {
			fb.Int, _ = pipeline.BagKey(bag, i)
		}
		if first == nil || fb.before(first) {
			first = fb
		}
		if earliest == nil || fb.earlier(earliest) {
			earliest = fb
		}
	}
	cols[errIdx[0]].Release()
	cols[errIdx[0]] = b.NewArray()
	rec := array.NewRecord(sc, cols, tbl.NumRows())
	defer rec.Release()
	if err := writeParquet(path, sc, rec, cfg); err != nil {
		return nil, nil, err
	}
	return first, earliest, nil
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
