// Package beamrun runs a mixbatch config on Apache Beam: the same config
// file and the same output tables as pipeline.Run, with the reading and
// the fits spread over a Beam runner's workers (Prism in-process, Flink,
// Spark or Dataflow).
//
// The pipeline lists the input files and their units (Parquet row groups,
// Arrow IPC files), reads each unit with the readers package (arrow's
// pqarrow) in a DoFn, hashes every row's bag key into one of Options.Shards
// shards and ships each batch's rows of a shard as one Arrow IPC blob
// keyed by the shard. After a GroupByKey, a DoFn per shard stages the
// shard's rows, in input order, in local Arrow IPC files and fits them
// with pipeline.Run, the local run's code: a bag's fit depends only on its
// rows and its key, so the numbers are the local run's. The shard's part
// files go to the output's staging location; the launcher then adds up
// the shards' summaries, applies run.max_failed_bags to the whole run and
// publishes manifest.json and _SUCCESS.
package beamrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism" // the default runner

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/store"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*FileRef)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*UnitRef)(nil)).Elem())
	register.Function2x0(expandUnits)
	register.Emitter1[UnitRef]()
	register.DoFn3x1[context.Context, UnitRef, func(int, []byte), error](&readUnitFn{})
	register.Emitter2[int, []byte]()
	register.DoFn3x1[context.Context, int, func(*[]byte) bool, error](&fitShardFn{})
	register.Iter1[[]byte]()
}

// DefaultShards is the number of shards bags are hashed into when
// Options.Shards is 0.
const DefaultShards = 16

// ErrSharedScope is returned for a config with model.scope: shared, which
// the Beam runner does not run (see the package README). IsUsageError
// reports it.
var ErrSharedScope = errors.New("model.scope: shared is local-only for now: its EM pools every bag's statistics once per iteration, which on Beam would be one pipeline (or one global combine and a new read of the input) per iteration; run it with `mixbatch run`")

// optionsError is an Options value Run refuses.
type optionsError struct{ msg string }

func (e *optionsError) Error() string { return e.msg }

// IsUsageError reports whether err is Run's refusal of a config or
// options that no run could carry out (model.scope: shared, a shard count
// below 1), rather than a failure of the run: a command's usage error.
func IsUsageError(err error) bool {
	var oe *optionsError
	return errors.Is(err, ErrSharedScope) || errors.As(err, &oe)
}

// waitShards bounds how long Run waits, after the job stopped, for the
// shards fitted in its own process (Prism's) to stop and clean up.
var waitShards = 30 * time.Second

// Options adjust a Beam run beyond its config.
type Options struct {
	// Shards is the number of shards bags are hashed into: the
	// parallelism of the fits, and the number of part-file groups per
	// table. 0 means DefaultShards.
	Shards int
	// Workers bounds the parallel fits within a shard; 0 means run.workers.
	Workers int
	// Logger receives the launcher's logs; nil discards them.
	Logger *slog.Logger
	// Execute runs the pipeline and waits for it to finish; nil means
	// beam.Run with the runner of Beam's --runner flag (prism when unset),
	// which must be registered: this package registers prism, and
	// cmd/mixbatch-beam the others.
	Execute func(context.Context, *beam.Pipeline) error
	// DryRun says the runner only shows the job (Dataflow's --dry_run):
	// Run then publishes nothing and returns a nil summary.
	DryRun bool
}

// Run runs cfg on Beam. On success output.dir holds the complete output,
// the tables in part files part-<shard>-<i>.parquet; on failure it is
// left as it was. The summary adds up the shards'; it is returned on
// failure too (never nil), saying how far the run got, as pipeline.Run's.
func Run(ctx context.Context, cfg *pipeline.Config, opts Options) (*pipeline.Summary, error) {
	started := time.Now()
	sum := &pipeline.Summary{}
	res, err := run(ctx, cfg, opts, started, sum)
	if res != nil {
		sum = res
	}
	sum.Elapsed = time.Since(started)
	return sum, err
}

func run(ctx context.Context, cfg *pipeline.Config, opts Options, started time.Time, planned *pipeline.Summary) (*pipeline.Summary, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Shards == 0 {
		opts.Shards = DefaultShards
	}
	if opts.Shards < 1 {
		return nil, &optionsError{fmt.Sprintf("shards must be positive, got %d", opts.Shards)}
	}
	exec := opts.Execute
	if exec == nil {
		exec = runFlagRunner
	}
	if cfg.Model.Scope == pipeline.ScopeShared {
		return nil, ErrSharedScope
	}
	if ignored := localOnly(cfg); len(ignored) > 0 {
		log.Warn("set in the config but not applied on Beam: a shard's rows are fitted in one worker's memory, unspilled; more --shards make shards smaller", "keys", strings.Join(ignored, ", "))
	}
	// The local run's checks of the config against every input schema,
	// and its warnings (links not followed).
	if _, err := pipeline.Check(ctx, cfg, pipeline.Options{Logger: log}); err != nil {
		return nil, err
	}
	p, err := makePlan(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var rows int64
	for _, n := range p.rows {
		rows += n
	}
	planned.Files, planned.Rows = len(p.files), rows
	log.Info("planned", "files", len(p.files), "units", p.units, "rows", rows, "shards", opts.Shards)

	// Workers get the config with absolute input paths.
	wcfg := *cfg
	wcfg.Input.Paths = make([]string, len(p.files))
	for i, f := range p.files {
		wcfg.Input.Paths[i] = f.Path
	}
	cfgJSON, err := json.Marshal(&wcfg)
	if err != nil {
		return nil, fmt.Errorf("encoding the config: %w", err)
	}
	out, err := createOutput(ctx, cfg.Output.Dir, cfg.Output.Overwrite, log)
	if err != nil {
		return nil, err
	}
	published := false
	defer func() {
		if !published {
			if aerr := out.Abort(ctx); aerr != nil {
				log.Error("removing the staging location", "location", store.Redact(out.Staging()), "err", aerr)
			}
		}
	}()
	// Shards fitted in this process (Prism's) stop with ctx, and the job
	// ends, failed or interrupted, only when they have cleaned up.
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	launchID, launch := newLaunch(lctx)
	defer func() {
		cancel(context.Canceled)
		if !launch.end(waitShards) {
			log.Warn("shards of the job still running in this process; a later run removes their folders", "waited", waitShards)
		}
	}()
	cleanStaleWork(os.TempDir())
	fit := &fitShardFn{Config: cfgJSON, Staging: out.Staging(), Files: p.listed, Workers: opts.Workers, Launch: launchID}

	t := time.Now()
	if rows == 0 {
		// No rows, no shards: the local run writes the empty tables.
		if err := fitEmpty(ctx, fit, &wcfg); err != nil {
			return nil, err
		}
	} else {
		schema, err := encodeSchema(p.schema)
		if err != nil {
			return nil, err
		}
		bp, s := beam.NewPipelineWithRoot()
		units := beam.Reshuffle(s, beam.ParDo(s, expandUnits, beam.CreateList(s, p.refs)))
		keyed := beam.ParDo(s, &readUnitFn{Schema: schema, Shards: opts.Shards, BatchRows: readBatchRows, Count: cfg.Input.Count, Staging: out.Staging()}, units)
		beam.ParDo0(s, fit, beam.GroupByKey(s, keyed))
		if err := exec(lctx, bp); err != nil {
			if cause := context.Cause(ctx); cause != nil {
				// Interrupted: the runner's account is of a cancelled
				// RPC. Stop the shards running here before the staging
				// location goes.
				log.Info("the Beam job was stopped", "err", err)
				cancel(cause)
				launch.end(waitShards)
				return nil, cause
			}
			log.Info("the Beam job failed", "err", err)
			cancel(errors.New("the Beam job failed"))
			launch.end(waitShards)
			if msg := shardFailure(ctx, out.Staging()); msg != "" {
				return nil, errors.New(msg)
			}
			return nil, fmt.Errorf("beam pipeline: %w", err)
		}
	}
	beamTime := time.Since(t)
	log.Info("pipeline done", "seconds", beamTime.Seconds())
	if opts.DryRun {
		return nil, nil
	}

	sum, fails, err := collect(ctx, out.Staging())
	if err != nil {
		return nil, err
	}
	sum.Files = len(p.files)
	first := fails.first
	// The run's error, if any, is the one a local run would meet first
	// (see failedBag.earlier).
	if stop := fails.fatal; stop != nil {
		// A stopped local run counts no fits and no dropped rows (it never
		// gets to count them), whatever the shards that finished counted.
		sum.Bags, sum.BagsOK, sum.BagsFailed, sum.BagsNotConverged, sum.Rows, sum.RowsDropped = 0, 0, 0, 0, rows, 0
		return sum, errors.New(stop.Error)
	}
	if sum.Rows != rows {
		return sum, fmt.Errorf("the shards fitted %d rows, the input has %d", sum.Rows, rows)
	}
	if sum.BagsFailed > 0 {
		log.Warn("bags failed; recorded in fits/ with status failed", "failed", sum.BagsFailed, "first", first.Error)
	}
	if lim := cfg.Run.MaxFailedBags; lim.Exceeded(sum.BagsFailed, sum.Bags) {
		sum.BagsOK = 0
		return sum, &pipeline.TooManyFailuresError{Failed: sum.BagsFailed, Bags: sum.Bags, Limit: *lim, First: first.Error}
	}
	// The local run's warnings, from the shards' summaries (the shards
	// log nowhere).
	if sum.RowsDropped > 0 {
		log.Warn("rows with a null value or count were dropped (input.nulls: drop); fits.n_dropped counts them per bag", "rows", sum.RowsDropped)
	}
	if sum.Bags == 0 {
		log.Warn("the input has no rows; writing empty tables")
	}
	m := &pipeline.Manifest{
		Version:      pipeline.Version,
		ConfigPath:   cfg.Path,
		ConfigDigest: cfg.Digest,
		Runner:       "beam",
		Config:       cfg,
		Started:      started.UTC(),
		Finished:     time.Now().UTC(),
		Summary:      *sum,
		Timings: map[string]float64{
			// read, fit and write add up the shards' times; beam is the
			// pipeline's wall time.
			"read": sum.Read.Seconds(), "fit": sum.Fit.Seconds(), "write": sum.Write.Seconds(),
			"beam": beamTime.Seconds(), "total": time.Since(started).Seconds(),
		},
	}
	for i, f := range p.files {
		m.Inputs = append(m.Inputs, pipeline.ManifestInput{Path: p.listed[i], Size: f.Size, Rows: p.rows[i]})
	}
	// Publish redacts the manifest's locations; the summary line too.
	sum.Output = store.Redact(cfg.Output.Dir)
	m.Summary.Output = sum.Output
	sum.Elapsed = time.Since(started)
	if err := out.Publish(ctx, m); err != nil {
		return sum, err
	}
	published = true
	return sum, nil
}

// localOnly lists the keys of cfg that are set but do not apply on Beam
// (see the package README): the launcher warns about them rather than
// refusing the config, so that one config file runs both ways.
func localOnly(cfg *pipeline.Config) []string {
	var keys []string
	if cfg.Run.MemoryLimit > 0 {
		keys = append(keys, "run.memory_limit")
	}
	if cfg.Run.TempDir != "" {
		keys = append(keys, "run.temp_dir")
	}
	return keys
}

// runFlagRunner runs p on the runner that --runner names, Prism when it
// is unset, and waits for it to finish.
func runFlagRunner(ctx context.Context, p *beam.Pipeline) error {
	name := *runners.Runner
	if name == "" {
		name = "prism"
	}
	_, err := beam.Run(ctx, name, p)
	return err
}

// fitEmpty writes the empty tables of an input without rows, in the
// launcher.
func fitEmpty(ctx context.Context, fit *fitShardFn, cfg *pipeline.Config) (err error) {
	work, err := newWorkDir(0)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := work.remove(); rerr != nil && err == nil {
			err = fmt.Errorf("removing %s: %w", work.dir, rerr)
		}
	}()
	return fit.fit(ctx, 0, cfg, work.dir, nil)
}

// shardFailure returns the error that failed the job as the workers
// recorded it, or "": the first unit's that failed to be read (by file
// and unit), else the first shard's (by number).
func shardFailure(ctx context.Context, staging string) string {
	names, err := listFiles(ctx, joinLocation(staging, shardsDir))
	if err != nil {
		return ""
	}
	sort.Strings(names)
	for _, name := range names {
		b, err := readFile(ctx, joinLocation(staging, shardsDir, name))
		if err != nil {
			continue
		}
		var r shardResult
		if json.Unmarshal(b, &r) == nil && r.Failed != "" {
			return r.Failed
		}
	}
	return ""
}

// failures are the failed bags and errors the shards reported.
type failures struct {
	first *failedBag // the first failed bag by key (never nil)
	fatal *failedBag // the earliest input error that stopped a shard, or nil
}

// collect reads and removes the shards' results, removes part files that
// no result lists (left by retried bundles), and adds up the summaries.
func collect(ctx context.Context, staging string) (*pipeline.Summary, *failures, error) {
	names, err := listFiles(ctx, joinLocation(staging, shardsDir))
	if err != nil {
		return nil, nil, fmt.Errorf("listing the shards' results: %w", err)
	}
	sort.Strings(names)
	sum := &pipeline.Summary{}
	var first *failedBag
	fails := &failures{}
	keep := map[string]bool{}
	for _, name := range names {
		loc := joinLocation(staging, shardsDir, name)
		if strings.HasPrefix(name, readFailurePrefix) {
			continue // a read that a retry redid
		}
		b, err := readFile(ctx, loc)
		if err != nil {
			return nil, nil, fmt.Errorf("reading a shard's result: %w", err)
		}
		var r shardResult
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", store.Redact(loc), err)
		}
		s := r.Summary
		sum.Workers = max(sum.Workers, s.Workers)
		sum.Rows += s.Rows
		sum.Bags += s.Bags
		sum.BagsOK += s.BagsOK
		sum.BagsFailed += s.BagsFailed
		sum.BagsNotConverged += s.BagsNotConverged
		sum.RowsDropped += s.RowsDropped
		sum.PeakMemory = max(sum.PeakMemory, s.PeakMemory)
		sum.Spilled += s.Spilled
		sum.Read += time.Duration(r.Seconds["read"] * float64(time.Second))
		sum.Fit += time.Duration(r.Seconds["fit"] * float64(time.Second))
		sum.Write += time.Duration(r.Seconds["write"] * float64(time.Second))
		if r.Failed != "" {
			return nil, nil, errors.New(r.Failed)
		}
		if r.First != nil && (first == nil || r.First.before(first)) {
			first = r.First
		}
		if r.Fatal != nil && (fails.fatal == nil || r.Fatal.earlier(fails.fatal)) {
			fails.fatal = r.Fatal
		}
		for table, parts := range r.Parts {
			for _, p := range parts {
				keep[table+"/"+p] = true
			}
		}
		if err := removeFile(ctx, loc); err != nil {
			return nil, nil, fmt.Errorf("removing %s: %w", store.Redact(loc), err)
		}
	}
	if err := removeAll(ctx, joinLocation(staging, shardsDir)); err != nil {
		return nil, nil, fmt.Errorf("removing the shards' results: %w", err)
	}
	for _, table := range []string{pipeline.WeightsTable, pipeline.FitsTable, pipeline.PosteriorsTable, pipeline.ComponentsTable} {
		parts, err := listFiles(ctx, joinLocation(staging, table))
		if err != nil {
			return nil, nil, err
		}
		for _, p := range parts {
			if !keep[table+"/"+p] && strings.HasPrefix(p, "part-") {
				if err := removeFile(ctx, joinLocation(staging, table, p)); err != nil {
					return nil, nil, fmt.Errorf("removing a stale part file: %w", err)
				}
			}
		}
	}
	if first == nil {
		first = &failedBag{}
	}
	fails.first = first
	return sum, fails, nil
}
