package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mixbatch/mixbatch/internal/interrupt"
)

// TestWorkersBound: a worker count beyond pipeline.MaxWorkers is a usage
// or config error (exit 2), from the flag or the config. Unbounded, a
// mistyped --workers 100000000 crashed the Go runtime out of memory (also
// with exit status 2, and a stack dump) before the first bag.
func TestWorkersBound(t *testing.T) {
	data := genMarbles(t)
	path, out := writeConfig(t, data, "red", "{name: factory2, p: 0.3}")
	_, stderr := wantExit(t, exitUsage, "run", "--config", path, "--workers", "5000")
	wantContains(t, "stderr", stderr, "--workers must be between 0 and 1024")
	wantNoDir(t, out)
	wantExit(t, exitOK, "run", "--config", path, "--workers", "1024")

	path, out = writeConfig(t, data, "red", "{name: factory2, p: 0.3}\nrun:\n  workers: 5000")
	for _, cmd := range []string{"validate", "run"} {
		_, stderr = wantExit(t, exitUsage, cmd, "--config", path)
		wantContains(t, cmd+" stderr", stderr, "run.workers must be at most 1024", "run.yaml")
	}
	wantNoDir(t, out)
}

// TestValidateTempDir: with run.memory_limit, a run whose rows do not fit
// spills under run.temp_dir and fails if that is not a folder; validate
// says so up front (exit 1), and a run that does not need to spill warns
// and goes on.
func TestValidateTempDir(t *testing.T) {
	data := genMarbles(t)
	missing := filepath.Join(t.TempDir(), "no-such-folder")
	path, out := writeConfig(t, data, "red", "{name: factory2, p: 0.3}\nrun:\n  memory_limit: 64MiB\n  temp_dir: "+missing)
	_, stderr := wantExit(t, exitFailure, "validate", "--config", path)
	wantContains(t, "validate stderr", stderr, "run.temp_dir", "no-such-folder", "no such file or directory")
	_, stderr = wantExit(t, exitOK, "run", "--config", path)
	wantContains(t, "run stderr", stderr, "level=WARN", "run.temp_dir")
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err != nil {
		t.Error(err)
	}

	// Without a memory limit nothing spills, and nothing is said.
	path, _ = writeConfig(t, data, "red", "{name: factory2, p: 0.3}\nrun:\n  temp_dir: "+missing)
	_, stderr = wantExit(t, exitOK, "validate", "--config", path)
	if strings.Contains(stderr, "temp_dir") {
		t.Errorf("validate without a memory limit spoke of temp_dir:\n%s", stderr)
	}
}

// TestRelativePathsNameWorkingDir: relative paths in a config are taken
// from the working directory (README, "The run config"), not from the
// config file's folder; a run started elsewhere (cron's $HOME) fails
// naming the folder it looked in.
func TestRelativePathsNameWorkingDir(t *testing.T) {
	data := genMarbles(t)
	root := filepath.Dir(data)
	cfg := filepath.Join(root, "run.yaml")
	yml := "input: {paths: [marbles/], bag: bag_id, value: red}\n" +
		"model: {family: bernoulli, components: [{name: a, p: 0.8}, {name: b, p: 0.3}]}\n" +
		"output: {dir: out}\n"
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	t.Chdir(elsewhere)
	for _, cmd := range []string{"validate", "run"} {
		_, stderr := wantExit(t, exitFailure, cmd, "--config", cfg)
		wantContains(t, cmd+" stderr", stderr, "marbles/", "working_dir="+elsewhere)
	}
	t.Chdir(root)
	wantExit(t, exitOK, "run", "--config", cfg)
	if _, err := os.Stat(filepath.Join(root, "out", "_SUCCESS")); err != nil {
		t.Errorf("run from the config's folder: %v", err)
	}
}

// TestJSONUsageErrors: with --log-format json, every line on stderr is a
// JSON object with the same keys, command-line errors included (they were
// plain text: "flag provided but not defined: -bogus" and the usage).
func TestJSONUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--log-format", "json", "--bogus"},
		{"run", "--log-format=json", "--config", "x.yaml", "stray"},
		{"--log-format", "json", "frobnicate"},
		{"--log-format", "json", "gen", "pebbles"},
		{"validate", "--log-format", "json", "--config"},
		{"--log-format=json", "run", "--config"},
		{"run", "--log-format", "json", "--workers", "many"},
		{"--log-format", "json"},
		{"--log-format=json", "--quiet"},
	} {
		code, stdout, stderr := cli(t, args...)
		if code != exitUsage || stdout != "" {
			t.Errorf("mixbatch %s: exit %d, stdout %q; want %d and nothing", strings.Join(args, " "), code, stdout, exitUsage)
		}
		lines := jsonLines(t, stderr)
		if len(lines) != 1 {
			t.Errorf("mixbatch %s: %d JSON lines, want 1:\n%s", strings.Join(args, " "), len(lines), stderr)
			continue
		}
		for _, k := range []string{"time", "level", "msg", "err"} {
			if _, ok := lines[0][k]; !ok {
				t.Errorf("mixbatch %s: no %q in %v", strings.Join(args, " "), k, lines[0])
			}
		}
	}
	// --help stays the usage text, for people, on stdout.
	stdout, _ := wantExit(t, exitOK, "run", "--log-format", "json", "--help")
	wantContains(t, "run --help", stdout, "Usage: mixbatch run")
	if json.Valid([]byte(strings.SplitN(stdout, "\n", 2)[0])) {
		t.Errorf("run --help with JSON logs printed JSON:\n%s", stdout)
	}
}

// TestGlobalFlagBeforeCommandWithFlagLast: a global flag before the
// command is not taken as the value of the command's last flag ("--quiet
// run --config" read a config named "--quiet").
func TestGlobalFlagBeforeCommandWithFlagLast(t *testing.T) {
	_, stderr := wantExit(t, exitUsage, "--quiet", "run", "--config")
	wantContains(t, "stderr", stderr, "flag needs an argument: -config")
	path, _, _ := goodConfig(t)
	stdout, stderr := wantExit(t, exitOK, "--quiet", "validate", "--config", path)
	wantContains(t, "stdout", stdout, "config ok")
	if stderr != "" {
		t.Errorf("--quiet validate logged:\n%s", stderr)
	}
}

// TestGlobalFlagsBeforeGen: global flags before gen go after its kind of
// data, or last when there is none, so that gen still sees --help first
// ("--quiet gen --help" exited 2, and "--log-format json gen" said
// unknown kind of data "--log-format").
func TestGlobalFlagsBeforeGen(t *testing.T) {
	stdout, _ := wantExit(t, exitOK, "--quiet", "gen", "--help")
	wantContains(t, "stdout", stdout, "mixbatch gen marbles")
	_, stderr := wantExit(t, exitUsage, "--log-format", "json", "gen", "--bags", "3")
	wantContains(t, "stderr", stderr, "gen needs the kind of data first")
	stdout, _ = wantExit(t, exitOK, "--quiet", "gen", "marbles", "--help")
	wantContains(t, "stdout", stdout, "-rows-per-bag")
}

// TestGenInterruptedNamesSignal: gen, stopped by a signal, says which, as
// run does ("interrupted by SIGTERM", not "context canceled" alone).
func TestGenInterruptedNamesSignal(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(interrupt.Signal{Sig: syscall.SIGTERM})
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"gen", "marbles", "--bags", "1000", "--out", filepath.Join(t.TempDir(), "m")}, &out, &errOut)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailure, errOut.String())
	}
	wantContains(t, "stderr", errOut.String(), "interrupted by SIGTERM")
	if got := interrupt.ExitCode(ctx, code); got != 143 {
		t.Errorf("exit status %d, want 143", got)
	}
}

// TestRunConfigErrorSummaryLine: run ends with a line on stdout however it
// ends (README, "Command line"), an invalid config too, for a wrapper that
// keeps the last line.
func TestRunConfigErrorSummaryLine(t *testing.T) {
	data := genMarbles(t)
	path, _ := writeConfig(t, data, "red", "{name: factory2, p: 1.3}")
	stdout, _ := wantExit(t, exitUsage, "run", "--config", path)
	if want := "mixbatch: invalid config " + path + "; nothing run, nothing written\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
}
