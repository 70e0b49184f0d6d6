// Package pipeline runs mixbatch jobs: it loads and validates the run
// config, plans the inputs, reads and groups rows into bags, fans the EM
// fits out over workers and writes the output tables atomically.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/store"
)

// Version is the mixbatch version recorded in every manifest.
const Version = "0.1.0"

// Options adjust a run beyond its config.
type Options struct {
	// Workers overrides run.workers when positive.
	Workers int
	// Logger receives progress and stage logs; nil discards them.
	Logger *slog.Logger
	// Progress, when set, is told about rows as they are read (stage
	// "read"), fitted ("fit") and written ("posteriors"); total is the
	// stage's row count.
	Progress func(stage string, delta, total int64)
	// Allocator for Arrow buffers; nil means the Go allocator.
	Allocator memory.Allocator
	// spillPartitions, when positive, spills rows into that many
	// partitions whatever their size (tests).
	spillPartitions int
	// spillFlushRows, when positive, sets how many of a unit's rows a
	// worker gathers before spilling them (default spillFlushRows;
	// tests).
	spillFlushRows int
	// windowRows, when positive, sets the rows of a window of a sorted
	// input (tests).
	windowRows int64
	// replan, when set, may change the plan before reading (tests).
	replan func(*plan)
}

// Summary is what a run did.
type Summary struct {
	Output           string `json:"output,omitempty"`
	Workers          int    `json:"workers"`
	Files            int    `json:"files"`
	Rows             int64  `json:"rows"`
	Bags             int    `json:"bags"`
	BagsOK           int    `json:"bags_ok"`
	BagsFailed       int    `json:"bags_failed"`
	BagsNotConverged int    `json:"bags_not_converged"`
	RowsDropped      int64  `json:"rows_dropped"`
	// PeakMemory is the largest resident set of the process so far, in
	// bytes, when the run ended (0 where the system does not say).
	PeakMemory int64 `json:"peak_memory_bytes"`
	// Spilled is the bytes of rows written to spill files (run.memory_limit),
	// in SpillPartitions partitions.
	Spilled         int64 `json:"spilled_bytes"`
	SpillPartitions int   `json:"spill_partitions,omitempty"`
	// Windows is how many windows a sorted input was read in (0: all at
	// once).
	Windows int `json:"windows,omitempty"`
	// Read, Fit and Write are the time spent reading, fitting and writing.
	// A windowed run reads the next window while it fits one, so its Read
	// and Fit overlap and may add up to more than Elapsed.
	Read    time.Duration `json:"-"`
	Fit     time.Duration `json:"-"`
	Write   time.Duration `json:"-"`
	Elapsed time.Duration `json:"-"`
}

// runner holds one run's state as it moves through the stages.
type runner struct {
	cfg     *Config
	opts    Options
	log     *slog.Logger
	mem     memory.Allocator
	workers int
	plan    *plan
	model   *model
	bags    *bags
	fits    *fits
	shared  *SharedFit // model.scope: shared
	out     *Output
	sum     Summary
	started time.Time
	// warnedBag is set once warnLargeBag has warned.
	warnedBag bool
}

func newRunner(cfg *Config, opts Options) *runner {
	r := &runner{cfg: cfg, opts: opts, log: opts.Logger, mem: opts.Allocator, started: time.Now()}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.mem == nil {
		r.mem = memory.NewGoAllocator()
	}
	r.workers = cfg.Run.Workers
	if opts.Workers > 0 {
		r.workers = opts.Workers
	}
	if r.workers == 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	r.model = newModel(cfg)
	r.sum.Workers = r.workers
	return r
}

func (r *runner) progress(stage string, total int64) func(int64) {
	if r.opts.Progress == nil {
		return nil
	}
	return func(n int64) { r.opts.Progress(stage, n, total) }
}

// Check lists the inputs and checks the config against every file's
// schema, reading no data and writing nothing. Its summary says what a
// run would decide from the footers alone: the windows a sorted input
// would be read in (Windows), or the partitions rows would be spilled to
// under run.memory_limit (SpillPartitions); and a shared-scope run whose
// rows would not fit the limit is refused, as run refuses it.
func Check(ctx context.Context, cfg *Config, opts Options) (*Summary, error) {
	r := newRunner(cfg, opts)
	if err := checkOutput(ctx, cfg.Output.Dir, cfg.Output.Overwrite); err != nil {
		return nil, err
	}
	if err := r.planInputs(ctx); err != nil {
		return nil, err
	}
	// What run would decide about memory: a sorted input is read window by
	// window, any other whole or, past run.memory_limit, spilled.
	if rows := r.streams(); rows > 0 {
		r.sum.Windows = len(r.plan.windows(rows))
	} else {
		parts, _, err := r.spillPlan()
		if err != nil {
			return nil, err
		}
		r.sum.SpillPartitions = parts
	}
	r.sum.Elapsed = time.Since(r.started)
	return &r.sum, nil
}

func (r *runner) planInputs(ctx context.Context) error {
	p, err := makePlan(ctx, r.cfg, r.mem)
	if err != nil {
		if p != nil {
			r.sum.Files = len(p.files) // for the summary of the failure
		}
		return err
	}
	if r.opts.replan != nil {
		r.opts.replan(p)
	}
	r.plan = p
	for _, l := range p.skippedLinks {
		r.log.Warn("not following a symbolic link to a folder inside an input folder", "path", l)
	}
	r.sum.Files = len(p.files)
	for _, n := range p.rows {
		r.sum.Rows += n
	}
	return nil
}

// Run carries out a run: on success output.dir holds the complete output;
// on failure or cancellation it is left as it was. The summary is returned
// in both cases: after a failure it says how far the run got.
func Run(ctx context.Context, cfg *Config, opts Options) (*Summary, error) {
	r := newRunner(cfg, opts)
	if lim := int64(cfg.Run.MemoryLimit); lim > 0 {
		// The garbage collector works harder as the heap nears the budget.
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(lim))
	}
	err := r.run(ctx)
	r.sum.Elapsed = time.Since(r.started)
	r.sum.PeakMemory = peakRSS()
	return &r.sum, err
}

func (r *runner) run(ctx context.Context) error {
	if err := checkOutput(ctx, r.cfg.Output.Dir, r.cfg.Output.Overwrite); err != nil {
		return err
	}
	if err := r.planInputs(ctx); err != nil {
		return err
	}
	r.log.Info("planned", "files", r.sum.Files, "rows", r.sum.Rows, "workers", r.workers)

	t := time.Now()
	if rows := r.streams(); rows > 0 {
		err := r.stream(ctx, rows)
		var se *statsError
		switch {
		case errors.As(err, &se):
			// Wrong statistics cannot give wrong results: read it all at once.
			r.log.Warn("the input's statistics do not match its bag keys, so it is read whole rather than window by window", "err", err)
			r.bags, r.fits, r.sum.Windows, r.sum.Read, r.sum.Fit = nil, nil, 0, 0, 0
			r.plan.sorted = false
			t = time.Now()
		case err != nil:
			return err
		default:
			r.sum.Bags = r.bags.len()
			r.log.Info("read and fitted", "windows", r.sum.Windows, "bags", r.sum.Bags,
				"read_seconds", r.sum.Read.Seconds(), "fit_seconds", r.sum.Fit.Seconds())
			return r.finish(ctx)
		}
	}
	sp, err := r.spiller()
	if err != nil {
		return err
	}
	// The spill folder goes as soon as the fit has read it (before the
	// write phase, which may need its disk), and on any earlier return.
	dropSpill := func() {
		if sp == nil {
			return
		}
		if err := sp.remove(); err != nil {
			r.log.Warn("removing the spill folder", "path", sp.dir, "err", err)
		}
		sp = nil
	}
	defer dropSpill()
	r.bags, err = scan(ctx, r.cfg, r.plan, r.model, r.mem, r.workers, sp, r.progress("read", r.sum.Rows))
	if sp != nil {
		r.sum.Spilled = sp.bytes.Load()
	}
	if err != nil {
		return err
	}
	r.sum.Bags = r.bags.len()
	r.sum.Read = time.Since(t)
	r.log.Info("read", "bags", r.sum.Bags, "seconds", r.sum.Read.Seconds())
	r.warnKeys(r.bags)
	r.warnCounts(r.bags)
	if r.cfg.Model.Scope != ScopeShared {
		r.warnLargeBag(r.bags)
	}

	t = time.Now()
	if r.cfg.Model.Scope == ScopeShared {
		r.fits, r.shared, err = fitShared(ctx, r.cfg, r.plan, r.bags, r.model, r.workers, r.progress("fit", r.sum.Rows))
	} else {
		r.fits, err = fitAll(ctx, r.cfg, r.plan, r.bags, r.model, sp, r.workers, r.progress("fit", r.sum.Rows))
	}
	dropSpill()
	if err != nil {
		return err
	}
	if r.shared != nil {
		r.log.Info("shared components fitted", "bags", r.shared.Bags, "iterations", r.shared.Iterations,
			"converged", r.shared.Converged, "log_likelihood", r.shared.LogLikelihood)
		if !r.shared.Converged {
			r.log.Warn("the shared fit did not converge within em.max_iter; components/ and every bag's converged column say so")
		}
	}
	r.sum.Fit = time.Since(t)
	r.log.Info("fit", "seconds", r.sum.Fit.Seconds())
	return r.finish(ctx)
}

// finish counts the fits, applies run.max_failed_bags and writes the
// output.
func (r *runner) finish(ctx context.Context) error {
	for i, c := range r.fits.converged {
		if !c && r.fits.ok(i) {
			r.sum.BagsNotConverged++
		}
	}
	r.sum.BagsFailed = r.fits.failed
	r.sum.BagsOK = r.sum.Bags - r.sum.BagsFailed
	for _, n := range r.bags.dropped {
		r.sum.RowsDropped += n
	}
	r.log.Info("fitted", "bags", r.sum.Bags, "failed", r.sum.BagsFailed, "not_converged", r.sum.BagsNotConverged)
	if err := r.reportFailures(); err != nil {
		r.sum.BagsOK = 0
		return err
	}
	if r.sum.RowsDropped > 0 {
		r.log.Warn("rows with a null value or count were dropped (input.nulls: drop); fits.n_dropped counts them per bag", "rows", r.sum.RowsDropped)
	}
	if r.sum.Bags == 0 {
		r.log.Warn("the input has no rows; writing empty tables")
	}

	if err := r.write(ctx, time.Now()); err != nil {
		r.sum.BagsOK = 0
		return err
	}
	r.sum.Output = store.Redact(r.cfg.Output.Dir)
	return nil
}

// write stages every table, then publishes them with the manifest and
// _SUCCESS (see Output).
func (r *runner) write(ctx context.Context, start time.Time) (err error) {
	r.out, err = CreateOutput(ctx, r.cfg.Output.Dir, r.cfg.Output.Overwrite, r.log)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if aerr := r.out.Abort(ctx); aerr != nil {
				r.log.Error("removing the staged output", "path", store.Redact(r.out.Staging()), "err", aerr)
			}
		}
	}()
	if err := r.writeTables(ctx); err != nil {
		return err
	}
	if r.shared != nil {
		if err := r.writeComponents(ctx); err != nil {
			return err
		}
	}
	if r.cfg.Output.Posteriors {
		if err := r.writePosteriors(ctx); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.sum.Write = time.Since(start)
	r.sum.Output = store.Redact(r.cfg.Output.Dir)
	return r.out.Publish(ctx, r.manifest())
}

// spiller returns the spill files for a run whose rows would not fit
// run.memory_limit (spillPlan), or nil when they fit (or are aggregated as
// counts).
func (r *runner) spiller() (*spiller, error) {
	parts, need, err := r.spillPlan()
	if err != nil || parts == 0 {
		return nil, err
	}
	workers := max(1, min(r.workers, len(r.plan.units)))
	sp, err := newSpiller(r.cfg.Run.TempDir, parts, workers, r.model.dim, r.cfg.Input.Count != "", r.mem, r.log)
	if err != nil {
		return nil, err
	}
	if r.opts.spillFlushRows > 0 {
		sp.flushRows = r.opts.spillFlushRows
	}
	r.sum.SpillPartitions = parts
	r.log.Info("spilling rows: they would not fit run.memory_limit", "rows", r.sum.Rows, "partitions", parts, "folder", sp.dir,
		"estimate", formatBytes(need))
	return sp, nil
}

// spillPlan decides, from the plan alone, whether the rows read whole (not
// window by window) must be spilled to fit run.memory_limit, and into how
// many partitions: 0 for none; and the estimate of the rows' and keys'
// memory it decided by. mixbatch validate makes the same decision.
//
// Held in memory, a row costs its bag id (4 bytes), its values and count
// (8 bytes each), twice: as read, and grouped by bag. String bag keys
// cost their bytes besides (see keyBytes), which spilling does not
// reduce: every bag's key is held whatever the budget. When rows and keys
// are more than half the budget, and the rows alone more than a quarter
// (less would not be helped by spilling, whose partitions take a quarter),
// the rows are spilled in partitions of about a quarter of it each, which
// are loaded (and grouped) one at a time. A model.scope: shared run, which
// cannot spill, is refused when its rows alone are more than half the
// budget, and warned about when its estimate (sharedBytes) is more than
// the budget.
func (r *runner) spillPlan() (parts int, need int64, err error) {
	lim := int64(r.cfg.Run.MemoryLimit)
	if lim == 0 && r.opts.spillPartitions == 0 || r.cfg.aggregates(r.model, r.plan) {
		return 0, 0, nil
	}
	rowNeed := 2 * r.rowBytes() * r.sum.Rows
	keys := r.keyBytes()
	parts = int(min(max((rowNeed+lim/4-1)/max(lim/4, 1), 2), maxSpillPartitions))
	switch {
	case r.opts.spillPartitions > 0:
		parts = r.opts.spillPartitions
	case rowNeed <= lim/2 && (rowNeed+keys <= lim/2 || rowNeed <= lim/4 || r.cfg.Model.Scope == ScopeShared):
		if r.cfg.Model.Scope == ScopeShared {
			if fit := r.sharedBytes(); fit+keys > lim {
				r.log.Warn("model.scope: shared fits every bag at once: it needs more than run.memory_limit, which does not bound it",
					"estimate", formatBytes(fit+keys), "rows", formatBytes(rowNeed), "keys", formatBytes(keys),
					"memory_limit", r.cfg.Run.MemoryLimit.String())
			}
		}
		return 0, rowNeed + keys, nil
	}
	if r.cfg.Model.Scope == ScopeShared {
		return 0, 0, fmt.Errorf("model.scope: shared fits every bag at once, so it keeps all rows in memory: about %s here (%s for the rows as read and grouped, %s for the fit's working copies%s; not counting the process's fixed part, about 65 MiB), more than run.memory_limit %s allows; raise the limit or leave it unset",
			formatBytes(r.sharedBytes()+keys), formatBytes(rowNeed), formatBytes(r.sharedBytes()-rowNeed),
			keyNote(keys), r.cfg.Run.MemoryLimit)
	}
	return parts, rowNeed + keys, nil
}

// keyNote describes the key bytes of an estimate, for messages.
func keyNote(keys int64) string {
	if keys == 0 {
		return ""
	}
	return fmt.Sprintf(", up to %s for the bag keys", formatBytes(keys))
}

// keyBytes estimates, before reading, the memory that string bag keys
// take: the bag column's uncompressed bytes in the Parquet footers, over
// every unit. That bounds the keys held (each unit adds at most its own;
// a dictionary-encoded column chunk counts each distinct key of its row
// group once) and is about it for keys that repeat within row groups, and
// many times it when they do not. 0 for integer keys and Arrow IPC input.
func (r *runner) keyBytes() int64 {
	if !r.plan.strKeys {
		return 0
	}
	var n int64
	for _, u := range r.plan.units {
		n += u.keyBytes
	}
	return n
}

// sharedFitRowBytes is what model.scope: shared costs per row and value
// (besides the rows as read and grouped, rowBytes twice): the fit's copy
// of every bag's values and counts, and em's working arrays over all
// rows. Measured: 3000 bags of 2000 Gaussian readings, three components
// learned, peak at 970 MiB, about 65 MiB of it the process's fixed part.
const sharedFitRowBytes = 135

// sharedBytes estimates what model.scope: shared holds at its peak,
// without the bag keys and the process's fixed part.
func (r *runner) sharedBytes() int64 {
	return (2*r.rowBytes() + sharedFitRowBytes*int64(max(1, r.model.dim))) * r.sum.Rows
}

// bagFitRowBytes is what fitting one bag costs per row (em's buffers, the
// bag's values sorted and aggregated), which run.memory_limit does not
// cover: a bag is fitted whole. Measured: one bag of 20M Gaussian
// readings peaked at 3.0 GiB.
const bagFitRowBytes = 140

// warnLargeBag logs, once a run, a warning naming the largest bag of b
// when fitting it is expected to take more than run.memory_limit.
func (r *runner) warnLargeBag(b *bags) {
	lim := int64(r.cfg.Run.MemoryLimit)
	if lim <= 0 || r.warnedBag || b == nil || r.cfg.aggregates(r.model, r.plan) {
		return
	}
	big := -1
	for i, n := range b.nobs {
		if big < 0 || n > b.nobs[big] {
			big = i
		}
	}
	if big < 0 {
		return
	}
	need := b.nobs[big] * bagFitRowBytes * int64(b.stride())
	if need <= lim {
		return
	}
	r.warnedBag = true
	r.log.Warn("a bag is fitted whole, and fitting this one is expected to take more than run.memory_limit, which does not bound it",
		"bag", b.key(big), "rows", b.nobs[big], "estimate", formatBytes(need), "memory_limit", r.cfg.Run.MemoryLimit.String())
}

// warnCounts logs a warning when the counts of discrete values that the
// workers kept while reading took more than half of run.memory_limit:
// each worker keeps a float64 per bag (per key of the range, for dense
// integer keys) and value the family can take (a categorical model's labels), whatever the budget, so a model of
// many labels over many bags outgrows it (500k bags of 100 labels took
// 1.2 GiB under 64MiB). It is said after the fact, for the next run's
// budget: the bags are known only once read.
func (r *runner) warnCounts(b *bags) {
	lim := int64(r.cfg.Run.MemoryLimit)
	if lim <= 0 || b == nil || !r.cfg.aggregates(r.model, r.plan) {
		return
	}
	workers := int64(max(1, min(r.workers, len(r.plan.units))))
	ids := int64(b.len())
	if r.plan.dense {
		ids = r.plan.keyHi - r.plan.keyLo + 1 // a counter for every key of the range
	}
	need := 8 * int64(len(r.model.possible)) * ids * workers
	if need > lim/2 {
		r.log.Warn("the counts of each bag's values took more than half of run.memory_limit, which does not bound them: every worker keeps one per bag and value",
			"bags", b.len(), "values", len(r.model.possible), "workers", workers, "estimate", formatBytes(need),
			"memory_limit", r.cfg.Run.MemoryLimit.String())
	}
}

// keyOverheadBytes is what a string bag key costs besides its bytes: its
// string header in the bags' keys, and while reading, every worker's map
// entry and header for it (and its own copy of a short key). Measured: 1.5M
// keys of 11 bytes took 138 MiB more than integer keys under 64MiB with two
// workers (92 bytes a key besides its bytes), 219 MiB more without a
// limit; this is a lower bound.
const keyOverheadBytes = 64

// warnKeys logs a warning when the string bag keys that b holds take
// more than half of run.memory_limit: they are held whatever the budget.
// A key takes its bytes and keyOverheadBytes, so that a million short
// keys are warned about too.
func (r *runner) warnKeys(b *bags) {
	lim := int64(r.cfg.Run.MemoryLimit)
	if lim <= 0 || b == nil || b.strs == nil {
		return
	}
	var n int64
	for _, k := range b.strs {
		n += int64(len(k))
	}
	if need := n + keyOverheadBytes*int64(len(b.strs)); need > lim/2 {
		r.log.Warn("the bag keys take more than half of run.memory_limit, which does not bound them: every bag's key is held in memory",
			"bags", len(b.strs), "key_bytes", formatBytes(n), "estimate", formatBytes(need), "memory_limit", r.cfg.Run.MemoryLimit.String())
	}
}

// maxSpillPartitions bounds the partitions (a uint16 per bag holds one).
const maxSpillPartitions = 1 << 12

// Manifest describes a finished run; it is written as manifest.json.
type Manifest struct {
	Version      string                   `json:"mixbatch_version"`
	ConfigPath   string                   `json:"config_path,omitempty"`
	ConfigDigest string                   `json:"config_sha256"`
	Config       *Config                  `json:"config"`
	Started      time.Time                `json:"started_at"`
	Finished     time.Time                `json:"finished_at"`
	Inputs       []ManifestInput          `json:"inputs"`
	Summary      Summary                  `json:"summary"`
	Tables       map[string]ManifestTable `json:"tables"`
	// Shared has the joint fit of model.scope: shared.
	Shared  *SharedFit         `json:"shared,omitempty"`
	Timings map[string]float64 `json:"timings_seconds"`
	// RunID is the run's id on an object store, whose tables are under
	// run=<RunID>/ (see Output); empty for a local output.
	RunID string `json:"run_id,omitempty"`
	// Runner is what ran the job: empty (or "local") for mixbatch run,
	// "beam" for the Apache Beam runner.
	Runner string `json:"runner,omitempty"`
}

// ManifestInput is one input file.
type ManifestInput struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Rows int64  `json:"rows"`
}

// ManifestTable lists one output table's part files.
type ManifestTable struct {
	Files []string `json:"files"`
}

// manifest returns the run's manifest, without its tables (which
// Output.Publish lists, redacting its locations).
func (r *runner) manifest() *Manifest {
	// The peak so far: the manifest is published after every table is
	// written. (Run takes the summary's again when the run is over.)
	r.sum.PeakMemory = peakRSS()
	m := &Manifest{
		Version:      Version,
		ConfigPath:   r.cfg.Path,
		ConfigDigest: r.cfg.Digest,
		Config:       r.cfg,
		Started:      r.started.UTC(),
		Finished:     time.Now().UTC(),
		Summary:      r.sum,
		Shared:       r.shared,
		Timings: map[string]float64{
			"read": r.sum.Read.Seconds(), "fit": r.sum.Fit.Seconds(), "write": r.sum.Write.Seconds(),
			"total": time.Since(r.started).Seconds(),
		},
	}
	for i, f := range r.plan.files {
		m.Inputs = append(m.Inputs, ManifestInput{Path: f.Path, Size: f.Size, Rows: r.plan.rows[i]})
	}
	return m
}

// TooManyFailuresError is a run with on_error: skip whose failed bags
// exceed run.max_failed_bags.
type TooManyFailuresError struct {
	Failed, Bags int
	Limit        Limit
	First        string // the first failed bag's error, in key order
}

func (e *TooManyFailuresError) Error() string {
	return fmt.Sprintf("%d of %d bags failed, more than run.max_failed_bags (%s) allows; the first: %s",
		e.Failed, e.Bags, e.Limit, e.First)
}

// reportFailures logs the failed bags (the first few one by one) and turns
// more failures than run.max_failed_bags allows into the run's error.
func (r *runner) reportFailures() error {
	f := r.fits
	if f.failed == 0 {
		return nil
	}
	logged, first := 0, ""
	for i, e := range f.errs {
		if e == "" {
			continue
		}
		if first == "" {
			first = e
		}
		if logged < failedSample {
			r.log.Warn("bag failed; recorded in fits/ with status failed", "bag", r.bags.key(i), "err", e)
			logged++
		}
	}
	if f.failed > logged {
		r.log.Warn("more bags failed; fits/ lists them all with status failed", "more", f.failed-logged, "failed", f.failed)
	}
	if lim := r.cfg.Run.MaxFailedBags; lim.Exceeded(f.failed, r.sum.Bags) {
		return &TooManyFailuresError{Failed: f.failed, Bags: r.sum.Bags, Limit: *lim, First: first}
	}
	return nil
}

// ReadManifest reads a run's manifest.json, a local file or an object
// (see package store).
func ReadManifest(path string) (*Manifest, error) {
	b, err := store.ReadFile(context.Background(), path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}
