package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixbatch/mixbatch/pipeline"
)

// partFiles returns the names of dir's part files.
func partFiles(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "part-*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	return names
}

func TestGenMarblesFilesShuffle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "marbles")
	stdout, _ := wantExit(t, exitOK, "gen", "marbles", "--bags", "40", "--rows-per-bag", "25", "--files", "3", "--shuffle", "--seed", "4", "--out", dir)
	wantContains(t, "stdout", stdout, "40 bags of 25 marbles")
	if got := strings.Join(partFiles(t, dir), " "); got != "part-00000.parquet part-00001.parquet part-00002.parquet" {
		t.Errorf("part files %s, want 3", got)
	}
	if _, err := os.Stat(filepath.Join(dir, pipeline.TruthFile)); err != nil {
		t.Error(err)
	}
	path, _ := writeConfig(t, dir, "red", "{name: factory2, p: 0.3}")
	stdout, _ = wantExit(t, exitOK, "run", "--config", path)
	wantContains(t, "stdout", stdout, "40 bags ok", " 1000 rows")
}

// TestGenReadingsThenRun fits the generated readings with the components
// gen drew them from.
func TestGenReadingsThenRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "readings")
	stdout, _ := wantExit(t, exitOK, "gen", "readings", "--bags", "30", "--rows-per-bag", "200", "--files", "2", "--shuffle", "--out", dir)
	wantContains(t, "stdout", stdout, "30 bags of 200 readings")
	if n := len(partFiles(t, dir)); n != 2 {
		t.Errorf("%d part files, want 2", n)
	}
	var comps []string
	for _, c := range pipeline.ReadingComponents() {
		comps = append(comps, fmt.Sprintf("{name: %s, mean: %v, sd: %v}", c.Name, c.Mean, c.SD))
	}
	out := filepath.Join(t.TempDir(), "out")
	cfg := filepath.Join(t.TempDir(), "run.yaml")
	yml := fmt.Sprintf("input: {paths: [%q], bag: sensor_id, value: value, keep: [reading_id]}\nmodel: {family: gaussian, components: [%s]}\noutput: {dir: %q, posteriors: true}\n",
		dir, strings.Join(comps, ", "), out)
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _ = wantExit(t, exitOK, "run", "--config", cfg)
	wantContains(t, "stdout", stdout, "30 bags ok", " 6000 rows")
}

func TestGenUsage(t *testing.T) {
	stdout, stderr := wantExit(t, exitOK, "gen", "readings", "--help")
	wantContains(t, "gen readings --help", stdout+stderr, "--bags", "--rows-per-bag", "--files", "--shuffle", "--seed", "--out")
	if strings.Contains(stdout+stderr, "-counts") {
		t.Error("gen readings offers --counts")
	}
	stdout, stderr = wantExit(t, exitOK, "gen", "marbles", "--help")
	wantContains(t, "gen marbles --help", stdout+stderr, "--files", "--shuffle", "--counts")
	stdout, _ = wantExit(t, exitOK, "gen", "--help")
	wantContains(t, "gen --help", stdout, "gen marbles", "gen readings")
	stdout, _ = wantExit(t, exitOK, "help")
	wantContains(t, "usage", stdout, "gen readings", "--files N", "--shuffle", "--cpuprofile FILE", "--memprofile FILE")

	for _, args := range [][]string{
		{"gen", "readings", "--bags", "3"}, // no --out
		{"gen", "readings", "--counts", "--out", t.TempDir()},
		{"gen", "marbles", "--files", "-1", "--out", filepath.Join(t.TempDir(), "x")},
		{"gen", "readings", "--rows-per-bag", "0", "--out", filepath.Join(t.TempDir(), "x")},
		{"gen", "marbles", "--p1", "0.5", "--p2", "0.5", "--out", filepath.Join(t.TempDir(), "x")},
	} {
		wantExit(t, exitUsage, args...)
	}
	_, stderr = wantExit(t, exitUsage, "gen", "marbles", "--files", "-1", "--out", filepath.Join(t.TempDir(), "x"))
	wantContains(t, "stderr", stderr, "--files must be >= 0")
}

// TestRunProfiles checks that --cpuprofile and --memprofile write pprof
// files: gzip-compressed protocol buffers, so they start with gzip's magic
// number.
func TestRunProfiles(t *testing.T) {
	path, _, out := goodConfig(t)
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "mem.pprof")
	wantExit(t, exitOK, "run", "--config", path, "--cpuprofile", cpu, "--memprofile", mem)
	for _, p := range []string{cpu, mem} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 20 || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Errorf("%s: %d bytes starting %x, want a gzip-compressed profile", filepath.Base(p), len(b), b[:min(len(b), 4)])
		}
	}
	if _, err := os.Stat(filepath.Join(out, pipeline.SuccessFile)); err != nil {
		t.Error(err)
	}
}

// TestRunProfileCannotStart: a profile that cannot be created stops the
// command before the run, and leaves no profile file behind.
func TestRunProfileCannotStart(t *testing.T) {
	path, _, out := goodConfig(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "dir", "cpu.pprof")
	mem := filepath.Join(dir, "mem.pprof")
	_, stderr := wantExit(t, exitFailure, "run", "--config", path, "--cpuprofile", missing, "--memprofile", mem)
	wantContains(t, "stderr", stderr, "--cpuprofile")
	wantNoDir(t, out)
	wantNoDir(t, mem)

	_, stderr = wantExit(t, exitFailure, "run", "--config", path, "--memprofile", missing)
	wantContains(t, "stderr", stderr, "--memprofile")
	wantNoDir(t, out)

	// A second run may profile again: the first stopped the CPU profile.
	cpu := filepath.Join(dir, "cpu.pprof")
	wantExit(t, exitOK, "run", "--config", path, "--cpuprofile", cpu)
	again, _, _ := goodConfig(t)
	wantExit(t, exitOK, "run", "--config", again, "--cpuprofile", cpu)
}
