package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mixbatch/mixbatch/pipeline"
)

// cli runs a command line and returns its exit status, stdout and stderr.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// wantExit fails the test unless the command line exited with want.
func wantExit(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := cli(t, args...)
	if code != want {
		t.Fatalf("mixbatch %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}

func wantContains(t *testing.T, what, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("%s does not contain %q:\n%s", what, p, text)
		}
	}
}

// genMarbles writes 20 bags of 50 marbles with the gen command and returns
// the folder.
func genMarbles(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "marbles")
	wantExit(t, exitOK, "gen", "marbles", "--bags", "20", "--rows-per-bag", "50", "--seed", "3", "--out", dir)
	return dir
}

// writeConfig writes a bernoulli config that reads data with the given
// value column (and extra YAML appended) and returns its path and output.dir.
func writeConfig(t *testing.T, data, value, extra string) (path, out string) {
	t.Helper()
	dir := t.TempDir()
	out = filepath.Join(dir, "out")
	yml := fmt.Sprintf(`input:
  paths: [%q]
  bag: bag_id
  value: %s
model:
  family: bernoulli
  components:
    - {name: factory1, p: 0.8}
    - %s
output:
  dir: %q
  posteriors: true
`, data, value, extra, out)
	path = filepath.Join(dir, "run.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, out
}

// goodConfig is a config over fresh marbles data.
func goodConfig(t *testing.T) (path, data, out string) {
	t.Helper()
	data = genMarbles(t)
	path, out = writeConfig(t, data, "red", "{name: factory2, p: 0.3}")
	return path, data, out
}

func wantNoDir(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: stat error %v, want it not to exist", dir, err)
	}
}

// TestVersion: version prints the version, takes the flags every command
// takes (before or after it), and refuses anything else.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{
		{"version"}, {"--version"}, {"version", "--quiet"}, {"--quiet", "version"},
		{"version", "--log-format", "json"}, {"--log-format=json", "--version"},
	} {
		stdout, _ := wantExit(t, exitOK, args...)
		if want := "mixbatch " + pipeline.Version + "\n"; stdout != want {
			t.Errorf("mixbatch %s printed %q, want %q", strings.Join(args, " "), stdout, want)
		}
	}
	stdout, _ := wantExit(t, exitOK, "version", "--help")
	wantContains(t, "version --help", stdout, "Usage: mixbatch version", "Prints the mixbatch version", "log-format")
	_, stderr := wantExit(t, exitUsage, "version", "now")
	wantContains(t, "version now", stderr, `unexpected argument "now"`)
	wantExit(t, exitUsage, "version", "--log-format", "xml")
}

func TestNoArguments(t *testing.T) {
	_, stderr := wantExit(t, exitUsage)
	wantContains(t, "stderr", stderr, "Usage:", "mixbatch run", "mixbatch validate", "mixbatch gen", "mixbatch version")
}

func TestUnknownCommand(t *testing.T) {
	_, stderr := wantExit(t, exitUsage, "frobnicate")
	wantContains(t, "stderr", stderr, `unknown command "frobnicate"`, "Usage:")
}

func TestCommandHelp(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"run", "--help"}, []string{"--config", "workers", "log-format"}},
		{[]string{"validate", "--help"}, []string{"--config"}},
		{[]string{"gen", "marbles", "--help"}, []string{"--bags", "--rows-per-bag", "--out"}},
	} {
		stdout, stderr := wantExit(t, exitOK, tc.args...)
		wantContains(t, strings.Join(tc.args, " ")+" output", stdout+stderr, tc.flags...)
	}
}

// TestHelpOnStdout: help that was asked for, of mixbatch or of any
// command, with or without global flags before or after the command, is
// the usage text on stdout, exit 0, nothing on stderr (as git, kubectl
// and the GNU standards have it), so that "mixbatch run --help | less"
// shows it.
func TestHelpOnStdout(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "Usage:\n  mixbatch run "},
		{[]string{"-h"}, "Usage:\n  mixbatch run "},
		{[]string{"help"}, "Usage:\n  mixbatch run "},
		{[]string{"--quiet", "--help"}, "Usage:\n  mixbatch run "},
		{[]string{"run", "--help"}, "Usage: mixbatch run --config FILE"},
		{[]string{"run", "-h"}, "Usage: mixbatch run --config FILE"},
		{[]string{"run", "-help"}, "Usage: mixbatch run --config FILE"},
		{[]string{"run", "--config", "x.yaml", "--help"}, "Usage: mixbatch run --config FILE"},
		{[]string{"--quiet", "run", "--help"}, "Usage: mixbatch run --config FILE"},
		{[]string{"run", "--quiet", "--help"}, "Usage: mixbatch run --config FILE"},
		{[]string{"--log-format", "json", "run", "--help"}, "Usage: mixbatch run --config FILE"},
		{[]string{"run", "--log-format=json", "-h"}, "Usage: mixbatch run --config FILE"},
		{[]string{"validate", "--help"}, "Usage: mixbatch validate --config FILE"},
		{[]string{"--quiet", "validate", "-h"}, "Usage: mixbatch validate --config FILE"},
		{[]string{"gen", "--help"}, "mixbatch gen marbles"},
		{[]string{"gen", "-h"}, "mixbatch gen readings"},
		{[]string{"gen", "-help"}, "mixbatch gen marbles"},
		{[]string{"--quiet", "gen", "--help"}, "mixbatch gen marbles"},
		{[]string{"gen", "--quiet", "--help"}, "mixbatch gen marbles"},
		{[]string{"gen", "--log-format", "json", "--help"}, "mixbatch gen marbles"},
		{[]string{"--log-format=json", "gen", "--help"}, "mixbatch gen marbles"},
		{[]string{"gen", "marbles", "--help"}, "Usage: mixbatch gen marbles"},
		{[]string{"gen", "readings", "-h"}, "Usage: mixbatch gen readings"},
		{[]string{"--quiet", "gen", "marbles", "--help"}, "Usage: mixbatch gen marbles"},
		{[]string{"--log-format", "json", "gen", "readings", "--help"}, "Usage: mixbatch gen readings"},
		{[]string{"plot", "--help"}, "Usage: mixbatch plot --run OUT_DIR"},
		{[]string{"--quiet", "plot", "-h"}, "Usage: mixbatch plot --run OUT_DIR"},
		{[]string{"report", "--help"}, "Usage: mixbatch report --run OUT_DIR"},
		{[]string{"report", "--log-format", "json", "--help"}, "Usage: mixbatch report --run OUT_DIR"},
		{[]string{"version", "--help"}, "Usage: mixbatch version"},
		{[]string{"--quiet", "version", "-h"}, "Usage: mixbatch version"},
	} {
		line := "mixbatch " + strings.Join(tc.args, " ")
		code, stdout, stderr := cli(t, tc.args...)
		if code != exitOK || stderr != "" {
			t.Errorf("%s: exit %d, stderr %q; want %d and nothing", line, code, stderr, exitOK)
		}
		wantContains(t, line+" stdout", stdout, tc.want)
	}
}

// TestUsageErrorsOnStderr: usage printed because of an error in the
// command line goes to stderr, exit 2, nothing on stdout.
func TestUsageErrorsOnStderr(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"Usage:\n  mixbatch run "}},
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`, "Usage:"}},
		{[]string{"run", "--bogus"}, []string{"flag provided but not defined: -bogus", "Usage: mixbatch run --config FILE"}},
		{[]string{"--quiet", "run", "--workers", "many"}, []string{`invalid value "many" for flag -workers`, "Usage: mixbatch run"}},
		{[]string{"run", "--config", "x.yaml", "stray"}, []string{`unexpected argument "stray"`}},
		{[]string{"validate", "--config"}, []string{"flag needs an argument: -config", "Usage: mixbatch validate"}},
		{[]string{"gen"}, []string{"mixbatch gen marbles"}},
		{[]string{"gen", "pebbles", "--help"}, []string{"mixbatch gen marbles"}},
		{[]string{"gen", "pebbles"}, []string{`unknown kind of data "pebbles": marbles or readings`, "mixbatch gen marbles"}},
		{[]string{"gen", "--bags", "3"}, []string{"the kind of data first", "mixbatch gen marbles"}},
		{[]string{"--quiet"}, []string{"mixbatch: no command", "Usage:\n  mixbatch run "}},
		{[]string{"--log-format", "text", "--quiet"}, []string{"mixbatch: no command"}},
		{[]string{"gen", "marbles", "--bogus"}, []string{"-bogus", "Usage: mixbatch gen marbles"}},
		{[]string{"plot", "--bogus"}, []string{"-bogus", "Usage: mixbatch plot"}},
		{[]string{"report", "--top", "x"}, []string{"-top", "Usage: mixbatch report"}},
		{[]string{"version", "--bogus"}, []string{"-bogus", "Usage: mixbatch version"}},
	} {
		line := "mixbatch " + strings.Join(tc.args, " ")
		code, stdout, stderr := cli(t, tc.args...)
		if code != exitUsage || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q; want %d and nothing", line, code, stdout, exitUsage)
		}
		wantContains(t, line+" stderr", stderr, tc.want...)
	}
}

func TestRunWithoutConfig(t *testing.T) {
	_, stderr := wantExit(t, exitUsage, "run")
	wantContains(t, "stderr", stderr, "--config is required")
	_, stderr = wantExit(t, exitUsage, "validate")
	wantContains(t, "stderr", stderr, "--config is required")
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--bogus"},
		{"run", "--config", "x.yaml", "stray"},
		{"run", "--config", "x.yaml", "--log-format", "xml"},
		{"gen"},
		{"gen", "pebbles"},
		{"gen", "marbles", "--bags", "3"}, // no --out
	} {
		wantExit(t, exitUsage, args...)
	}
}

func TestRunNegativeWorkers(t *testing.T) {
	path, _, out := goodConfig(t)
	_, stderr := wantExit(t, exitUsage, "run", "--config", path, "--workers", "-1")
	wantContains(t, "stderr", stderr, "--workers")
	wantNoDir(t, out)
}

func TestBadConfig(t *testing.T) {
	data := genMarbles(t)
	path, out := writeConfig(t, data, "red", "{name: factory2, p: 1.3}")
	for _, cmd := range []string{"run", "validate"} {
		_, stderr := wantExit(t, exitUsage, cmd, "--config", path)
		wantContains(t, "stderr", stderr, "model.components[1].p must be in [0, 1], got 1.3", "run.yaml")
	}
	wantNoDir(t, out)

	// A config file that is not there is a config error too.
	_, stderr := wantExit(t, exitUsage, "run", "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	wantContains(t, "stderr", stderr, "nope.yaml")
}

func TestValidate(t *testing.T) {
	path, _, out := goodConfig(t)
	stdout, _ := wantExit(t, exitOK, "validate", "--config", path)
	wantContains(t, "stdout", stdout, " 1 input file", " 1000 rows")
	wantNoDir(t, out)
}

func TestValidateMissingColumn(t *testing.T) {
	data := genMarbles(t)
	path, out := writeConfig(t, data, "colour", "{name: factory2, p: 0.3}")
	_, stderr := wantExit(t, exitFailure, "validate", "--config", path)
	wantContains(t, "stderr", stderr, "colour", "part-00000.parquet", "no such column")
	wantNoDir(t, out)
}

func TestGenThenRun(t *testing.T) {
	path, data, out := goodConfig(t)
	if _, err := os.Stat(filepath.Join(data, pipeline.TruthFile)); err != nil {
		t.Fatalf("gen wrote no truth file: %v", err)
	}
	stdout, _ := wantExit(t, exitOK, "run", "--config", path)
	wantContains(t, "stdout", stdout, "20 bags ok", " 1000 rows", "; peak memory ", " MiB, spilled 0 B -> ", out)
	for _, f := range []string{pipeline.SuccessFile, pipeline.ManifestFile, "weights", "fits", "posteriors"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	// The truth file sits in the input folder but is not input.
	b, err := os.ReadFile(filepath.Join(out, pipeline.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Inputs []pipeline.ManifestInput }
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(data, "part-00000.parquet")
	if len(m.Inputs) != 1 || m.Inputs[0].Path != want || m.Inputs[0].Rows != 1000 {
		t.Errorf("manifest inputs %+v, want only %s with 1000 rows", m.Inputs, want)
	}
}

func TestRunBadData(t *testing.T) {
	data := genMarbles(t)
	// marble_id counts 0, 1, 2, ...: not a bernoulli value from row 2 on.
	path, out := writeConfig(t, data, "marble_id", "{name: factory2, p: 0.3}")
	_, stderr := wantExit(t, exitFailure, "run", "--config", path)
	wantContains(t, "stderr", stderr, "part-00000.parquet", "marble_id", "row 2", "must be 0 or 1")
	wantNoDir(t, out)
}

// jsonLines fails the test unless every line of text is a JSON object with
// a level and a msg, and returns the objects.
func jsonLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Errorf("stderr line is not a JSON object: %v\n%s", err, line)
			continue
		}
		if obj["level"] == nil || obj["msg"] == nil {
			t.Errorf("log line without level or msg: %s", line)
		}
		objs = append(objs, obj)
	}
	return objs
}

func TestLogFormatJSON(t *testing.T) {
	path, data, _ := goodConfig(t)
	_, stderr := wantExit(t, exitOK, "run", "--config", path, "--log-format", "json")
	if objs := jsonLines(t, stderr); len(objs) < 2 {
		t.Errorf("got %d log lines from a run, want progress logs and a summary", len(objs))
	}

	// Failures log JSON too.
	bad, _ := writeConfig(t, data, "marble_id", "{name: factory2, p: 0.3}")
	_, stderr = wantExit(t, exitFailure, "run", "--log-format", "json", "--config", bad)
	objs := jsonLines(t, stderr)
	if len(objs) == 0 || !strings.Contains(fmt.Sprint(objs[len(objs)-1]["err"]), "part-00000.parquet") {
		t.Errorf("last JSON log line %v, want the error naming the file", objs)
	}
	_, stderr = wantExit(t, exitUsage, "validate", "--log-format", "json", "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	jsonLines(t, stderr)
}

// TestGlobalFlagsBeforeCommand checks the usage text's promise that global
// flags go "before or after the command".
func TestGlobalFlagsBeforeCommand(t *testing.T) {
	path, _, _ := goodConfig(t)
	_, stderr := wantExit(t, exitOK, "--log-format", "json", "validate", "--config", path)
	jsonLines(t, stderr)
	_, stderr = wantExit(t, exitOK, "--quiet", "validate", "--config", path)
	if stderr != "" {
		t.Errorf("--quiet validate logged:\n%s", stderr)
	}
}

// TestProgressBarStages: stages told in turn (a window read while another
// is fitted) keep their own counts; the bar shows the stage last told and
// the others under way, and stops at a stage's total when told of more
// rows.
func TestProgressBarStages(t *testing.T) {
	var out bytes.Buffer
	p := &progressBar{w: &out, on: true}
	lastLine := func() string {
		s := out.String()
		return s[strings.LastIndex(s, "\r\033[K")+len("\r\033[K"):]
	}
	p.update("read", 50, 100)
	p.last = time.Time{} // no throttling between the calls below
	p.update("fit", 20, 100)
	if got := lastLine(); !strings.HasPrefix(got, "fit ") || !strings.Contains(got, " 20.0% 20/100 rows") || !strings.HasSuffix(got, " · read 50.0%") {
		t.Fatalf("bar %q, want fit at 20/100 and read at 50%%", got)
	}
	p.last = time.Time{}
	p.update("read", 25, 100)
	if got := lastLine(); !strings.HasPrefix(got, "read ") || !strings.Contains(got, " 75.0% 75/100 rows") || !strings.HasSuffix(got, " · fit 20.0%") {
		t.Fatalf("bar %q, want read at 75/100 and fit at 20%%", got)
	}
	p.update("read", 25, 100) // done: drawn at once
	p.last = time.Time{}
	p.update("read", 10, 100) // more than the total
	if got := lastLine(); !strings.Contains(got, "100.0% 100/100 rows") || strings.Contains(got, "110") {
		t.Fatalf("bar %q, want read at 100/100", got)
	}
	p.last = time.Time{}
	p.update("fit", 30, 100)
	if got := lastLine(); strings.Contains(got, "· read") {
		t.Fatalf("bar %q lists read, which is done", got)
	}
}
