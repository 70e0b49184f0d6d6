// Command mixbatch fits finite mixture models by EM, bag by bag, over
// Parquet and Arrow tables. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/mixbatch/mixbatch/internal/interrupt"
	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/store"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the run failed: bad input, I/O, interrupted
	exitUsage   = 2 // bad command line or config
)

const usage = `mixbatch fits finite mixture models by EM, bag by bag, over Parquet/Arrow tables.

Usage:
  mixbatch run      --config FILE [--workers N] [--cpuprofile FILE] [--memprofile FILE]
                                                    fit every bag and write the output tables
                                                    (and pprof CPU and heap profiles of the run)
  mixbatch validate --config FILE                   check the config and the input schemas
  mixbatch gen marbles --bags N --rows-per-bag M [--seed S] [--counts] [--p1 P] [--p2 P] [--files N] [--shuffle] --out DIR
                                                    write synthetic textbook data with its truth
  mixbatch gen readings --bags N --rows-per-bag M [--seed S] [--files N] [--shuffle] --out DIR
                                                    write synthetic Gaussian sensor readings with their truth
  mixbatch plot     --run OUT_DIR --bag KEY [--out FILE.png|.svg] [--width PX] [--height PX]
                                                    draw a bag's observations and fitted mixture
  mixbatch report   --run OUT_DIR [--out report.html] [--baseline OUT_DIR] [--top N]
                                                    write a self-contained HTML report of a run
  mixbatch version                                  print the version

Global flags (before or after the command):
  --log-format text|json   format of the logs on stderr (default text)
  --quiet                  only warnings and errors in the logs

Run 'mixbatch COMMAND --help' for a command's flags.
Exit status: 0 success, 1 run failure, 2 usage or config error,
130, 143 and 129 interrupted by SIGINT, SIGTERM or SIGHUP.
`

func main() {
	ctx, stop := interrupt.Notify(context.Background(), "mixbatch")
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(interrupt.ExitCode(ctx, code))
}

// run dispatches a command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	args = moveGlobalFlags(args)
	if len(afterGlobalFlags(args)) == 0 {
		if len(args) > 0 {
			if wantsJSON(args) {
				usageError(stderr, "no command", "mixbatch COMMAND (run 'mixbatch --help' for the commands)")
				return exitUsage
			}
			fmt.Fprint(stderr, "mixbatch: no command\n\n")
		}
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "validate":
		return cmdValidate(ctx, rest, stdout, stderr)
	case "gen":
		return cmdGen(ctx, rest, stdout, stderr)
	case "plot":
		return cmdPlot(ctx, rest, stdout, stderr)
	case "report":
		return cmdReport(ctx, rest, stdout, stderr)
	case "version", "--version":
		return cmdVersion(rest, stdout, stderr)
	case "help", "-h", "-help", "--h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if wantsJSON(rest) {
		usageError(stderr, fmt.Sprintf("unknown command %q", cmd), "mixbatch COMMAND (run 'mixbatch --help' for the commands)")
		return exitUsage
	}
	fmt.Fprintf(stderr, "mixbatch: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

// wantsJSON reports whether a command line asks for JSON logs, so that
// even an error in the command line itself is a JSON line on stderr.
func wantsJSON(args []string) bool {
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "--log-format=json" || a == "-log-format=json":
			return true
		case (a == "--log-format" || a == "-log-format") && i+1 < len(args) && args[i+1] == "json":
			return true
		}
	}
	return false
}

// usageError writes a command-line error as a JSON log line, with the
// command's synopsis, for --log-format json.
func usageError(stderr io.Writer, msg, synopsis string) {
	slog.New(slog.NewJSONHandler(stderr, nil)).Error("usage error", "err", msg, "usage", synopsis)
}

// moveGlobalFlags moves the global flags given before the command to just
// after it (after gen's kind of data), where the command's flag set parses
// them: at the end they would be taken as the value of a last flag that
// lacks one ("--quiet run --config" is not "run --config --quiet").
func moveGlobalFlags(args []string) []string {
	var globals []string
	for len(args) > 0 {
		if n := globalFlagLen(args); n > 0 {
			globals = append(globals, args[:n]...)
			args = args[n:]
			continue
		}
		if len(globals) == 0 {
			return args
		}
		at := 1
		if args[0] == "gen" {
			// After gen's kind of data; without one, last, so that
			// gen still sees what it was given first (--help).
			at = len(args)
			if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
				at = 2
			}
		}
		return slices.Concat(args[:at], globals, args[at:])
	}
	return globals
}

// globalFlagLen returns how many of args a global flag at args[0] takes
// (--quiet 1, --log-format json 2), or 0 if args[0] is not one.
func globalFlagLen(args []string) int {
	switch a := args[0]; {
	case a == "--quiet" || a == "-quiet" || strings.HasPrefix(a, "--log-format=") || strings.HasPrefix(a, "-log-format="):
		return 1
	case (a == "--log-format" || a == "-log-format") && len(args) > 1:
		return 2
	}
	return 0
}

// afterGlobalFlags returns args without the global flags it starts with.
// A command line of global flags and nothing else (no command), as
// moveGlobalFlags leaves it, comes out empty.
func afterGlobalFlags(args []string) []string {
	for len(args) > 0 {
		n := globalFlagLen(args)
		if n == 0 {
			break
		}
		args = args[n:]
	}
	return args
}

// isHelp reports whether a is a request for help, as the flag package
// takes it: -h, -help, --h or --help.
func isHelp(a string) bool {
	switch a {
	case "-h", "-help", "--h", "--help":
		return true
	}
	return false
}

// common holds the flags every command takes.
type common struct {
	logFormat string
	quiet     bool
	synopsis  string    // the command's, for usage errors
	stdout    io.Writer // where help that was asked for goes
}

// newFlags returns a command's flag set with the flags every command
// takes. Its usage text goes to stdout when asked for (--help, -h) and to
// stderr after a usage error (see parse), as do the errors themselves.
func newFlags(name, synopsis string, stdout, stderr io.Writer, c *common) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.BoolVar(&c.quiet, "quiet", false, "log only warnings and errors")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mixbatch %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	c.synopsis, _, _ = strings.Cut(synopsis, "\n")
	c.synopsis = "mixbatch " + c.synopsis
	c.stdout = stdout
	return fs
}

// parse parses flags; it returns the exit status to stop with, or -1.
// Help that was asked for (--help, -h) is the usage text on stdout, exit
// 0; an error in the command line is the error and the usage text on
// stderr, exit 2, or with --log-format json anywhere on the command line
// one JSON line on stderr, like every other message (--help still prints
// the usage text).
func parse(fs *flag.FlagSet, args []string, c *common) int {
	out, usage := fs.Output(), fs.Usage
	jsonLogs := wantsJSON(args)
	if jsonLogs {
		fs.SetOutput(io.Discard)
	}
	// The flag package calls Usage for help and for errors alike; which it
	// was is known only from the error Parse returns.
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(c.stdout)
			usage()
			fs.SetOutput(out)
			return exitOK
		}
		if jsonLogs {
			usageError(out, err.Error(), c.synopsis)
		} else {
			usage()
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		if jsonLogs {
			usageError(out, fmt.Sprintf("unexpected argument %q", fs.Arg(0)), c.synopsis)
			return exitUsage
		}
		fmt.Fprintf(fs.Output(), "mixbatch: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		fmt.Fprintf(fs.Output(), "mixbatch: --log-format must be text or json, got %q\n", c.logFormat)
		return exitUsage
	}
	return -1
}

func (c *common) logger(stderr io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if c.quiet {
		opts.Level = slog.LevelWarn
	}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

func loadConfig(path string, log *slog.Logger) (*pipeline.Config, int) {
	if path == "" {
		log.Error("--config is required")
		return nil, exitUsage
	}
	cfg, err := pipeline.LoadFile(path)
	if err != nil {
		log.Error("invalid config", "err", err)
		return nil, exitUsage
	}
	return cfg, -1
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c common
	fs := newFlags("run", "run --config FILE [--workers N] [--cpuprofile FILE] [--memprofile FILE]", stdout, stderr, &c)
	config := fs.String("config", "", "run config (YAML)")
	workers := fs.Int("workers", 0, "parallel workers; overrides run.workers (0: keep the config's)")
	cpuProfile := fs.String("cpuprofile", "", "write a pprof CPU profile of the run to this file")
	memProfile := fs.String("memprofile", "", "write a pprof heap profile to this file at the end of the run")
	if code := parse(fs, args, &c); code >= 0 {
		return code
	}
	bar := newProgressBar(stderr)
	log := c.logger(bar)
	if *workers < 0 || *workers > pipeline.MaxWorkers {
		log.Error(fmt.Sprintf("--workers must be between 0 and %d", pipeline.MaxWorkers), "workers", *workers)
		return exitUsage
	}
	cfg, code := loadConfig(*config, log)
	if cfg == nil {
		if *config != "" { // a run of a config ends with a line on stdout, however bad the config
			fmt.Fprintf(stdout, "mixbatch: invalid config %s; nothing run, nothing written\n", *config)
		}
		return code
	}
	if err := cfg.CheckTempDir(); err != nil {
		log.Warn("the run cannot spill rows", "err", err)
	}
	prof, err := startProfiles(*cpuProfile, *memProfile)
	if err != nil {
		log.Error("cannot profile the run", "err", err)
		return exitFailure
	}
	sum, err := pipeline.Run(ctx, cfg, pipeline.Options{Workers: *workers, Logger: log, Progress: bar.update})
	perr := prof.stop()
	bar.finish()
	if perr != nil {
		log.Error("writing the profiles failed", "err", perr)
	}
	if err != nil {
		what := "run failed"
		if ctx.Err() != nil {
			what = "interrupted"
			if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
				what = cause.Error()
			}
		}
		log.Error(what+"; "+pipeline.LeftAsItWas(err), append([]any{"err", err}, workingDir(cfg)...)...)
		fmt.Fprintf(stdout, "mixbatch: %s\n", sum.StoppedLine(what, store.Redact(cfg.Output.Dir), err))
		return exitFailure
	}
	rate := float64(sum.Rows) / sum.Elapsed.Seconds()
	log.Info("done", "output", sum.Output, "bags_ok", sum.BagsOK, "bags_failed", sum.BagsFailed,
		"bags_not_converged", sum.BagsNotConverged, "rows", sum.Rows,
		"rows_per_second", int64(rate), "elapsed", sum.Elapsed.Round(time.Millisecond).String(),
		"peak_memory_bytes", sum.PeakMemory, "spilled_bytes", sum.Spilled)
	fmt.Fprintf(stdout, "mixbatch: %s\n", sum.Line())
	if perr != nil {
		return exitFailure
	}
	return exitOK
}

// workingDir returns the log attribute of the working directory when the
// config has relative paths, which are taken from it (not from the config
// file's folder): a run started by cron or a scheduler from another folder
// then says where it looked.
func workingDir(cfg *pipeline.Config) []any {
	if !cfg.RelativePaths() {
		return nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil
	}
	return []any{"working_dir", wd}
}

// profiles are the pprof profiles of a run: CPU from startProfiles to
// stop, and the heap at stop.
type profiles struct {
	cpu, mem *os.File // nil if not asked for
}

// startProfiles creates the profile files that are asked for (paths not
// empty) and starts the CPU profile; on error nothing is left running or
// open.
func startProfiles(cpuPath, memPath string) (p *profiles, err error) {
	p = &profiles{}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.abandon())
			p = nil
		}
	}()
	if memPath != "" {
		if p.mem, err = os.Create(memPath); err != nil {
			return p, fmt.Errorf("--memprofile: %w", err)
		}
	}
	if cpuPath != "" {
		if p.cpu, err = os.Create(cpuPath); err != nil {
			return p, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err = pprof.StartCPUProfile(p.cpu); err != nil {
			return p, fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	return p, nil
}

// abandon closes and removes the files of a start that failed.
func (p *profiles) abandon() error {
	var errs []error
	for _, f := range []*os.File{p.cpu, p.mem} {
		if f != nil {
			errs = append(errs, f.Close(), os.Remove(f.Name()))
		}
	}
	return errors.Join(errs...)
}

// stop ends the CPU profile, writes the heap profile after a garbage
// collection (its alloc_space samples cover the whole run, inuse_space
// what the run still held) and closes both files.
func (p *profiles) stop() error {
	var errs []error
	if p.cpu != nil {
		pprof.StopCPUProfile()
		if err := p.cpu.Close(); err != nil {
			errs = append(errs, fmt.Errorf("--cpuprofile: %w", err))
		}
	}
	if p.mem != nil {
		runtime.GC()
		if err := pprof.WriteHeapProfile(p.mem); err != nil {
			errs = append(errs, fmt.Errorf("--memprofile: %w", err))
		}
		if err := p.mem.Close(); err != nil {
			errs = append(errs, fmt.Errorf("--memprofile: %w", err))
		}
	}
	return errors.Join(errs...)
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c common
	fs := newFlags("validate", "validate --config FILE", stdout, stderr, &c)
	config := fs.String("config", "", "run config (YAML)")
	if code := parse(fs, args, &c); code >= 0 {
		return code
	}
	log := c.logger(stderr)
	cfg, code := loadConfig(*config, log)
	if cfg == nil {
		return code
	}
	sum, err := pipeline.Check(ctx, cfg, pipeline.Options{Logger: log})
	if err == nil {
		err = cfg.CheckTempDir()
	}
	if err != nil {
		log.Error("invalid input", append([]any{"err", err}, workingDir(cfg)...)...)
		return exitFailure
	}
	log.Info("valid", "config", *config, "files", sum.Files, "rows", sum.Rows, "windows", sum.Windows, "spill_partitions", sum.SpillPartitions)
	how := ""
	switch {
	case sum.Windows > 0:
		how = fmt.Sprintf("; sorted by bag, read in %d windows", sum.Windows)
	case sum.SpillPartitions > 0:
		how = fmt.Sprintf("; more than run.memory_limit %s holds: rows would be spilled in %d partitions", cfg.Run.MemoryLimit, sum.SpillPartitions)
	}
	fmt.Fprintf(stdout, "mixbatch: config ok; %d input files, %d rows%s\n", sum.Files, sum.Rows, how)
	return exitOK
}

// cmdVersion prints the version. It takes the flags every command takes,
// which change nothing here, so that a script may pass them to any
// command.
func cmdVersion(args []string, stdout, stderr io.Writer) int {
	var c common
	fs := newFlags("version", "version\n\nPrints the mixbatch version.", stdout, stderr, &c)
	if code := parse(fs, args, &c); code >= 0 {
		return code
	}
	fmt.Fprintf(stdout, "mixbatch %s\n", pipeline.Version)
	return exitOK
}

// genSynopsis is the synopsis of each gen command.
var genSynopsis = map[string]string{
	"marbles":  "gen marbles --bags N --rows-per-bag M [--seed S] [--counts] [--p1 P] [--p2 P] [--files N] [--shuffle] --out DIR",
	"readings": "gen readings --bags N --rows-per-bag M [--seed S] [--files N] [--shuffle] --out DIR",
}

func cmdGen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Without a kind of data first, gen's own usage: asked for (--help,
	// also after global flags) or because of a usage error.
	rest := afterGlobalFlags(args)
	help := len(rest) > 0 && isHelp(rest[0])
	if len(args) > 0 && genSynopsis[args[0]] == "" && !help {
		msg := fmt.Sprintf("unknown kind of data %q: marbles or readings", args[0])
		if strings.HasPrefix(args[0], "-") {
			msg = "gen needs the kind of data first: marbles or readings"
		}
		if wantsJSON(args) {
			usageError(stderr, msg, "mixbatch gen marbles|readings ...")
			return exitUsage
		}
		fmt.Fprintf(stderr, "mixbatch: %s\n\n", msg)
	}
	if len(args) == 0 || genSynopsis[args[0]] == "" {
		w, code := stderr, exitUsage
		if help {
			w, code = stdout, exitOK
		}
		fmt.Fprintf(w, "Usage:\n  mixbatch %s\n  mixbatch %s\n", genSynopsis["marbles"], genSynopsis["readings"])
		return code
	}
	kind := args[0]
	var c common
	fs := newFlags("gen "+kind, genSynopsis[kind], stdout, stderr, &c)
	bags := fs.Int("bags", 100, "number of bags")
	rows := fs.Int("rows-per-bag", 100, "rows per bag")
	seed := fs.Uint64("seed", 1, "random seed")
	files := fs.Int("files", 0, "split the rows over this many part files of about equal size (0: 1<<22 rows per file, in whole bags)")
	shuffle := fs.Bool("shuffle", false, "write the rows in a pseudo-random order (from --seed), not bag by bag")
	out := fs.String("out", "", "output folder")
	var m pipeline.Marbles
	if kind == "marbles" {
		fs.BoolVar(&m.Counts, "counts", false, "write (bag, colour, count) rows instead of one row per marble")
		fs.Float64Var(&m.P1, "p1", 0.8, "P(red) for factory 1")
		fs.Float64Var(&m.P2, "p2", 0.3, "P(red) for factory 2")
	}
	if code := parse(fs, args[1:], &c); code >= 0 {
		return code
	}
	log := c.logger(stderr)
	if *out == "" {
		log.Error("--out is required")
		return exitUsage
	}
	start := time.Now()
	var err error
	switch kind {
	case "marbles":
		m.Bags, m.RowsPerBag, m.Seed, m.Files, m.Shuffle = *bags, *rows, *seed, *files, *shuffle
		err = pipeline.GenMarbles(ctx, *out, m)
	case "readings":
		err = pipeline.GenReadings(ctx, *out, pipeline.Readings{Bags: *bags, RowsPerBag: *rows, Seed: *seed, Files: *files, Shuffle: *shuffle})
	}
	if err != nil {
		if _, ok := errors.AsType[*pipeline.GenOptionsError](err); ok {
			log.Error("invalid options", "err", err)
			return exitUsage
		}
		msg := "gen failed"
		if ctx.Err() != nil {
			msg = "interrupted"
			if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
				msg = cause.Error() // interrupted by SIGTERM
			}
		}
		log.Error(msg+"; the files it wrote were removed", "err", err)
		return exitFailure
	}
	elapsed := time.Since(start)
	total := int64(*bags) * int64(*rows)
	log.Info("generated", "observations", total, "elapsed", elapsed.Round(time.Millisecond).String(),
		"observations_per_second", int64(float64(total)/elapsed.Seconds()))
	fmt.Fprintf(stdout, "mixbatch: wrote %d bags of %d %s to %s\n", *bags, *rows, kind, *out)
	return exitOK
}

// progressBar draws one line on a terminal; elsewhere it does nothing. It
// is also the log writer: a log line clears the bar, and the bar is drawn
// again below it. Stages may run at once (a sorted input's next window is
// read while one is fitted): each keeps its own count, the bar shows the
// stage last told, and the line ends with the others still under way.
type progressBar struct {
	mu     sync.Mutex
	w      io.Writer
	on     bool
	shown  bool // the bar is on the screen
	stage  string
	stages []stageCount // in the order they started
	last   time.Time
}

// stageCount is one stage's progress.
type stageCount struct {
	name        string
	done, total int64
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	return &progressBar{w: w, on: ok && term.IsTerminal(int(f.Fd()))}
}

// Write writes a log line above the bar.
func (p *progressBar) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
	n, err := p.w.Write(b)
	if p.shown {
		p.draw()
	}
	return n, err
}

// update adds delta rows to stage, of total; the bar stops at the total.
func (p *progressBar) update(stage string, delta, total int64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.IndexFunc(p.stages, func(s stageCount) bool { return s.name == stage })
	if i < 0 {
		i = len(p.stages)
		p.stages = append(p.stages, stageCount{name: stage})
	}
	s := &p.stages[i]
	s.done += delta
	s.total = total
	p.stage = stage
	if time.Since(p.last) < 100*time.Millisecond && s.done < total {
		return
	}
	p.last = time.Now()
	p.draw()
}

// frac returns the share of s done, at most 1.
func (s stageCount) frac() float64 {
	if s.total <= 0 {
		return 1
	}
	return min(1, float64(s.done)/float64(s.total))
}

func (p *progressBar) draw() {
	var line strings.Builder
	for _, s := range p.stages {
		if s.name != p.stage {
			continue
		}
		const width = 30
		filled := int(s.frac() * width)
		fmt.Fprintf(&line, "%-10s [%s%s] %5.1f%% %d/%d rows", s.name,
			strings.Repeat("=", filled), strings.Repeat(" ", width-filled), 100*s.frac(), min(s.done, s.total), s.total)
	}
	for _, s := range p.stages {
		if s.name != p.stage && s.done > 0 && s.done < s.total {
			fmt.Fprintf(&line, " · %s %.1f%%", s.name, 100*s.frac())
		}
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line.String())
	p.shown = true
}

// finish removes the bar.
func (p *progressBar) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
