package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"github.com/mixbatch/mixbatch/internal/interrupt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mixbatch/mixbatch/pipeline"
)

// The tests run the command as a child process: this test binary, which
// runs main when mainEnv is set.
const mainEnv = "MIXBATCH_BEAM_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// command returns the command running mixbatch-beam with args, with its
// temporary folder tmp.
func command(t *testing.T, tmp string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1", "TMPDIR="+tmp)
	return cmd
}

// runMain runs mixbatch-beam with args and returns its stdout, stderr and
// exit status.
func runMain(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := command(t, t.TempDir(), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "run.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func marbles(t *testing.T, dir string, counts bool) string {
	t.Helper()
	in := filepath.Join(dir, "in")
	if err := pipeline.GenMarbles(context.Background(), in, pipeline.Marbles{Bags: 20, RowsPerBag: 30, Seed: 1, Files: 2, Counts: counts}); err != nil {
		t.Fatal(err)
	}
	return in
}

const marblesYAML = `
input: {paths: ["IN"], bag: bag_id, value: VALUE}
model:
  family: bernoulli
  components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]
output: {dir: "OUT"}
`

// Usage and config errors exit with 2, and say why on stderr.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	out := filepath.Join(dir, "out")
	good := strings.NewReplacer("IN", in, "VALUE", "red", "OUT", out).Replace(marblesYAML)
	unknownKey := writeConfig(t, t.TempDir(), good+"bogus: 1\n")
	shared := writeConfig(t, t.TempDir(), `
input: {paths: ["`+in+`"], bag: b, value: v}
model: {family: gaussian, scope: shared, learn: [weights, mean, sd], components: [{name: a}, {name: b}]}
output: {dir: "`+out+`"}
`)
	goodPath := writeConfig(t, t.TempDir(), good)
	missing := filepath.Join(dir, "none.yaml")
	// A config that cannot run ends with mixbatch run's line on stdout;
	// a command line that names none, with nothing there.
	invalid := func(path string) string {
		return "mixbatch-beam: invalid config " + path + "; nothing run, nothing written\n"
	}
	for name, c := range map[string]struct {
		args   []string
		want   string
		stdout string
	}{
		"no config":      {nil, "--config is required", ""},
		"missing file":   {[]string{"--config", missing}, "no such file", invalid(missing)},
		"unknown key":    {[]string{"--config", unknownKey}, `unknown key "bogus"`, invalid(unknownKey)},
		"shared scope":   {[]string{"--config", shared}, "model.scope: shared is local-only", invalid(shared)},
		"dry run prism":  {[]string{"--config", goodPath, "--dry_run"}, "--dry_run only shows the job on Dataflow", ""},
		"bad shards":     {[]string{"--config", goodPath, "--shards=-1"}, "shards must be positive", ""},
		"async":          {[]string{"--config", goodPath, "--async"}, "--async is not supported", ""},
		"unknown flag":   {[]string{"--config", goodPath, "--no_such_flag"}, "flag provided but not defined", ""},
		"extra argument": {[]string{"--config", goodPath, "extra"}, `unexpected argument "extra"`, ""},
	} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := runMain(t, c.args...)
			if code != exitUsage {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr does not say %q:\n%s", c.want, stderr)
			}
			if stdout != c.stdout {
				t.Errorf("stdout %q, want %q", stdout, c.stdout)
			}
		})
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output written: %v", err)
	}
}

// A run prints pipeline.Summary's line, as mixbatch run does; a failed
// one its stopped line on stdout, the input error (not Beam's account of
// the job) on stderr, and exits with 1.
func TestSummaryLines(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	in := marbles(t, dir, true)
	ok := writeConfig(t, t.TempDir(), strings.NewReplacer("IN", in, "VALUE", "red", "OUT", out).Replace(marblesYAML))
	stdout, stderr, code := runMain(t, "--config", ok, "--shards=3")
	if code != exitOK {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "mixbatch-beam: 20 bags ok, 0 failed, 0 not converged; ") ||
		!strings.Contains(stdout, "rows/s); peak memory ") || !strings.HasSuffix(stdout, "spilled 0 B -> "+out+"\n") {
		t.Errorf("summary line %q", stdout)
	}

	// Counts as Bernoulli values: every row is bad.
	bad := writeConfig(t, t.TempDir(), strings.NewReplacer("IN", in, "VALUE", "n", "OUT", filepath.Join(dir, "bad")).Replace(marblesYAML))
	stdout, stderr, code = runMain(t, "--config", bad, "--shards=3")
	if code != exitFailure {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", code, exitFailure, stderr)
	}
	if !strings.HasPrefix(stdout, "mixbatch-beam: run failed after ") ||
		!strings.HasSuffix(stdout, ": 2 input files, 40 rows, 0 bags; nothing written to "+filepath.Join(dir, "bad")+"\n") {
		t.Errorf("stopped line %q", stdout)
	}
	want := filepath.Join(in, "part-00000.parquet") + `: column "n", row 0`
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr does not name %s:\n%s", want, stderr)
	}
	for _, beam := range []string{"DoFn", "caused by", "beam pipeline", "stage-"} {
		if strings.Contains(stderr, beam) {
			t.Errorf("stderr has Beam's account of the job (%q):\n%s", beam, stderr)
		}
	}
	if n := strings.Count(stderr, "\n"); n != 1 {
		t.Errorf("stderr has %d lines, want 1:\n%s", n, stderr)
	}
}

// SIGINT and SIGTERM stop the run: exit status 128+signal, the stopped
// line, no output and no shard folders left.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a job of a few seconds")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := pipeline.GenReadings(context.Background(), in, pipeline.Readings{Bags: 100, RowsPerBag: 1000, Seed: 2, Files: 2}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cfg := writeConfig(t, dir, `
input: {paths: ["`+in+`"], bag: sensor_id, value: value}
model: {family: gaussian, learn: [weights, mean, sd], components: [{name: a}, {name: b}, {name: c}]}
em: {restarts: 200, seed: 1}
output: {dir: "`+out+`"}
`)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(interrupt.Name(sig), func(t *testing.T) {
			tmp := t.TempDir()
			cmd := command(t, tmp, "--config", cfg, "--shards=4", "-v")
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Signal once the shards fit (their folders exist).
			go func() {
				for range 400 {
					if d, _ := filepath.Glob(filepath.Join(tmp, "mixbatch-beam-shard-*")); len(d) > 0 {
						break
					}
					time.Sleep(25 * time.Millisecond)
				}
				_ = cmd.Process.Signal(sig)
			}()
			var log strings.Builder
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				log.WriteString(sc.Text() + "\n")
			}
			_ = cmd.Wait()
			if code, want := cmd.ProcessState.ExitCode(), 128+int(sig); code != want {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, want, log.String())
			}
			what := "interrupted by " + interrupt.Name(sig)
			if !strings.HasPrefix(stdout.String(), "mixbatch-beam: "+what+" after ") {
				t.Errorf("stdout %q", stdout.String())
			}
			if !strings.Contains(log.String(), "mixbatch-beam: "+what+"; the output folder was left as it was\n") {
				t.Errorf("stderr:\n%s", log.String())
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "mixbatch-beam-*")); len(left) > 0 {
				t.Errorf("shard folders left: %v", left)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output written: %v", err)
			}
		})
	}
}

// Package flag shows a back-quoted word of a usage as the flag's argument.
func TestFlagUsages(t *testing.T) {
	for _, name := range []string{"config", "shards", "shard_workers", "v"} {
		f := flag.Lookup(name)
		if f == nil {
			t.Fatalf("no flag %s", name)
		}
		if strings.Contains(f.Usage, "`") {
			t.Errorf("-%s: back quotes in %q", name, f.Usage)
		}
	}
}
