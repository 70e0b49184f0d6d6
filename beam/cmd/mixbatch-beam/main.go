// Command mixbatch-beam runs a mixbatch config on Apache Beam: the same
// YAML file as `mixbatch run`, the same output tables, with the reading
// and the fits spread over a Beam runner's workers.
//
//	mixbatch-beam --config configs/marbles.yaml                       # Prism, in-process
//	mixbatch-beam --config run.yaml --runner=flink --endpoint=localhost:8099 --environment_type=DOCKER
//	mixbatch-beam --config run.yaml --runner=dataflow --project=P --region=R --staging_location=gs://B/staging
//
// Besides its own flags it takes Beam's standard ones (--runner, --endpoint,
// --environment_type, --environment_config, --job_name, --parallelism and
// the Dataflow flags). See beam/README.md and beam/scripts/submit.sh.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"

	// The runners --runner may name (prism comes with beamrun), and the
	// reflection-free execution of registered functions.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec/optimized"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"

	"github.com/mixbatch/mixbatch/beam/beamrun"
	"github.com/mixbatch/mixbatch/internal/interrupt"
	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/store"
)

// Exit statuses, as mixbatch run's.
const (
	exitOK      = 0
	exitFailure = 1 // the run failed: bad input, I/O, the job failed
	exitUsage   = 2 // bad command line or config, or one this runner refuses
	// 128 + the signal's number (130, 143) when interrupted by SIGINT or
	// SIGTERM.
)

// Flag usages must not hold back-quoted words: package flag shows the
// first as the flag's argument name.
var (
	configPath   = flag.String("config", "", "the run config (YAML), the same file as for mixbatch run (required)")
	shards       = flag.Int("shards", beamrun.DefaultShards, "shards the bags are hashed into: the parallelism of the fits")
	shardWorkers = flag.Int("shard_workers", 0, "parallel fits within a shard (0: run.workers of the config)")
	verbose      = flag.Bool("v", false, "log the launcher's progress to stderr")
)

// dryRunners are the runners whose --dry_run shows the job without
// running it.
var dryRunners = map[string]bool{"dataflow": true, "dataflowrunner": true}

func main() {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: mixbatch-beam --config FILE [--shards N] [--shard_workers N] [-v] [Beam flags: --runner, --endpoint, ...]

Runs a mixbatch config on Apache Beam (Prism in-process by default); see beam/README.md.
Exit status: 0 success, 1 run failure, 2 usage or config error,
130, 143 and 129 interrupted by SIGINT, SIGTERM or SIGHUP.

Flags:
`)
		flag.PrintDefaults()
	}
	flag.Parse()
	// On a worker, Init runs the Beam harness and never returns: it must
	// come before anything the launcher alone does.
	beam.Init()
	ctx, stop := interrupt.Notify(context.Background(), "mixbatch-beam")
	code := run(ctx, os.Stdout, os.Stderr)
	stop()
	os.Exit(interrupt.ExitCode(ctx, code))
}

// run loads the config, runs it on the runner the flags name, prints the
// summary line on stdout and returns the exit status.
func run(ctx context.Context, stdout, stderr io.Writer) int {
	usage := func(msg string, args ...any) int {
		fmt.Fprintf(stderr, "mixbatch-beam: "+msg+"\n", args...)
		return exitUsage
	}
	if flag.NArg() > 0 {
		return usage("unexpected argument %q", flag.Arg(0))
	}
	if *configPath == "" {
		return usage("--config is required")
	}
	if *jobopts.Async {
		return usage("--async is not supported: the launcher publishes the output when the job has finished")
	}
	runner := *runners.Runner
	if runner == "" {
		runner = "prism"
	}
	dry := false
	if f := flag.Lookup("dry_run"); f != nil && f.Value.String() == "true" {
		if !dryRunners[strings.ToLower(runner)] {
			return usage("--dry_run only shows the job on Dataflow (--runner=dataflow); the %s runner would run it", runner)
		}
		dry = true
	}
	// As mixbatch run, a run ends with a line on stdout however its
	// config is.
	invalid := func(msg string, args ...any) int {
		code := usage(msg, args...)
		fmt.Fprintf(stdout, "mixbatch-beam: invalid config %s; nothing run, nothing written\n", *configPath)
		return code
	}
	cfg, err := pipeline.LoadFile(*configPath)
	if err != nil {
		return invalid("invalid config: %v", err)
	}
	level := slog.LevelWarn
	if *verbose || dry {
		// A dry run's job description is logged by the runner.
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// Beam and Prism log through the default logger: only with -v (or for
	// a dry run's job description). Without, their account of a failed
	// job (its plan, once per failed bundle) is left out: the launcher
	// reports the shard's own error, or Beam's error if it has none.
	beamLevel := level
	if !*verbose && !dry {
		beamLevel = slog.LevelError + 4
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: beamLevel})))
	sum, err := beamrun.Run(ctx, cfg, beamrun.Options{Shards: *shards, Workers: *shardWorkers, Logger: log, DryRun: dry})
	if err != nil {
		if errors.Is(err, beamrun.ErrSharedScope) {
			return invalid("%v", err)
		}
		if beamrun.IsUsageError(err) {
			return usage("%v", err)
		}
		what := "run failed"
		if ctx.Err() != nil {
			what = "interrupted"
			if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
				what = cause.Error()
			}
			if errors.Is(err, context.Cause(ctx)) || errors.Is(err, context.Canceled) {
				// The error says no more than what.
				fmt.Fprintf(stderr, "mixbatch-beam: %s; the output folder was left as it was\n", what)
				err = nil
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "mixbatch-beam: %s; %s: %v\n", what, pipeline.LeftAsItWas(err), err)
		}
		fmt.Fprintf(stdout, "mixbatch-beam: %s\n", sum.StoppedLine(what, store.Redact(cfg.Output.Dir), err))
		return exitFailure
	}
	if dry {
		fmt.Fprintln(stdout, "mixbatch-beam: dry run: the job was shown, not run; nothing was written")
		return exitOK
	}
	fmt.Fprintf(stdout, "mixbatch-beam: %s\n", sum.Line())
	return exitOK
}
