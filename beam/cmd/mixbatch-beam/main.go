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
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"

	// The runners --runner may name (prism comes with beamrun), and the
	// reflection-free execution of registered functions.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec/optimized"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"

	"github.com/mixbatch/mixbatch/beam/beamrun"
	"github.com/mixbatch/mixbatch/pipeline"
)

var (
	configPath   = flag.String("config", "", "the run config (YAML), as for `mixbatch run` (required)")
	shards       = flag.Int("shards", beamrun.DefaultShards, "shards the bags are hashed into: the parallelism of the fits")
	shardWorkers = flag.Int("shard_workers", 0, "parallel fits within a shard (0: run.workers of the config)")
	verbose      = flag.Bool("v", false, "log the launcher's progress to stderr")
)

func main() {
	flag.Parse()
	// On a worker, Init runs the Beam harness and never returns: it must
	// come before anything the launcher alone does.
	beam.Init()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mixbatch-beam:", err)
		os.Exit(1)
	}
}

// run loads the config, runs it on the runner the flags name, and prints
// the summary.
func run(ctx context.Context) error {
	if *configPath == "" {
		return errors.New("--config is required")
	}
	if *jobopts.Async {
		return errors.New("--async is not supported: the launcher publishes the output when the job has finished")
	}
	cfg, err := pipeline.LoadFile(*configPath)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// Beam and Prism log through the default logger.
	slog.SetDefault(log)
	dry := false
	if f := flag.Lookup("dry_run"); f != nil {
		dry = f.Value.String() == "true"
	}
	sum, err := beamrun.Run(ctx, cfg, beamrun.Options{Shards: *shards, Workers: *shardWorkers, Logger: log, DryRun: dry})
	if err != nil {
		return err
	}
	if dry {
		fmt.Println("mixbatch-beam: dry run: the job was shown, not run; nothing was written")
		return nil
	}
	fmt.Printf("mixbatch-beam: %d bags ok, %d failed, %d not converged; %d rows in %s -> %s\n",
		sum.BagsOK, sum.BagsFailed, sum.BagsNotConverged, sum.Rows, sum.Elapsed.Round(1e6), sum.Output)
	return nil
}
