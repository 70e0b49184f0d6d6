package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fittedRun runs mixbatch on fresh marbles data (20 bags) and returns the
// output folder.
func fittedRun(t *testing.T) string {
	t.Helper()
	config, _, out := goodConfig(t)
	wantExit(t, exitOK, "run", "--config", config)
	return out
}

func TestPlotCommand(t *testing.T) {
	out := fittedRun(t)
	dir := t.TempDir()

	svg := filepath.Join(dir, "bag3.svg")
	stdout, _ := wantExit(t, exitOK, "plot", "--run", out, "--bag", "3", "--out", svg)
	wantContains(t, "stdout", stdout, "plotted bag 3 of "+out+" -> "+svg)
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, svg, string(b), "<svg", "bag_id = 3:", "n = 50,", "log-likelihood = ", "factory1  w = ", "factory2  w = ", "mixture (sum)")

	// The default file is <bag>.png in the current folder.
	t.Chdir(dir)
	wantExit(t, exitOK, "plot", "--run", out, "--bag", "7", "--width", "500", "--height", "300", "--quiet")
	f, err := os.Open(filepath.Join(dir, "7.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 500 || b.Dy() != 300 {
		t.Errorf("7.png is %dx%d, want 500x300", b.Dx(), b.Dy())
	}
}

func TestPlotCommandErrors(t *testing.T) {
	out := fittedRun(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		code int
		args []string
		want string
	}{
		{exitUsage, []string{"plot", "--bag", "3"}, "--run is required"},
		{exitUsage, []string{"plot", "--run", out}, "--bag is required"},
		{exitUsage, []string{"plot", "--run", out, "--bag", "3", "--out", filepath.Join(dir, "x.gif")}, `unknown extension \".gif\"; want .png or .svg`},
		{exitUsage, []string{"plot", "--run", out, "--bag", "3", "--width", "5"}, "between 100 and 10000"},
		{exitFailure, []string{"plot", "--run", out, "--bag", "99", "--out", filepath.Join(dir, "x.png")}, `bag \"99\" not found in run ` + out + ` (20 bags of bag_id, from \"0\" to \"19\")`},
		{exitFailure, []string{"plot", "--run", filepath.Join(dir, "missing"), "--bag", "3", "--out", filepath.Join(dir, "x.png")}, "run folder " + filepath.Join(dir, "missing") + " does not exist"},
		{exitFailure, []string{"plot", "--run", dir, "--bag", "3", "--out", filepath.Join(dir, "x.png")}, dir + " has no manifest.json"},
	} {
		_, stderr := wantExit(t, tc.code, tc.args...)
		wantContains(t, "stderr of "+strings.Join(tc.args, " "), stderr, tc.want)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.png")); err == nil {
		t.Error("a failed plot wrote its file")
	}
}

func TestReportCommand(t *testing.T) {
	out := fittedRun(t)
	dir := t.TempDir()
	html := filepath.Join(dir, "r.html")
	stdout, _ := wantExit(t, exitOK, "report", "--run", out, "--out", html, "--baseline", out, "--top", "5")
	wantContains(t, "stdout", stdout, "report of "+out+" -> "+html)
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, html, string(b), `<span>bags</span><b class="stat">20</b>`, `<span>ok</span><b class="stat">20</b>`,
		`id="weights"`, `id="convergence"`, `id="failed"`, `id="not-converged"`, `id="baseline"`, "20 bags in both runs",
		"family: bernoulli", "data:image/png;base64,")

	// The default file is report.html in the current folder.
	t.Chdir(dir)
	wantExit(t, exitOK, "report", "--run", out, "--quiet")
	if fi, err := os.Stat(filepath.Join(dir, "report.html")); err != nil || fi.Size() == 0 {
		t.Errorf("report.html: %v", err)
	}
}

func TestReportCommandErrors(t *testing.T) {
	out := fittedRun(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		code int
		args []string
		want string
	}{
		{exitUsage, []string{"report"}, "--run is required"},
		{exitUsage, []string{"report", "--run", out, "--out", filepath.Join(dir, "r.txt")}, `unknown extension \".txt\"`},
		{exitUsage, []string{"report", "--run", out, "--top", "0"}, "--top must be >= 1"},
		{exitFailure, []string{"report", "--run", dir, "--out", filepath.Join(dir, "r.html")}, dir + " has no manifest.json"},
		{exitFailure, []string{"report", "--run", out, "--baseline", filepath.Join(dir, "old"), "--out", filepath.Join(dir, "r.html")}, "baseline: run folder " + filepath.Join(dir, "old") + " does not exist"},
	} {
		_, stderr := wantExit(t, tc.code, tc.args...)
		wantContains(t, "stderr of "+strings.Join(tc.args, " "), stderr, tc.want)
	}
}

func TestPlotReportHelpAndUsage(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"plot", "--help"}, []string{"--run", "--bag", "--out", "--width"}},
		{[]string{"report", "--help"}, []string{"--run", "--out", "--baseline", "--top"}},
	} {
		stdout, stderr := wantExit(t, exitOK, tc.args...)
		wantContains(t, strings.Join(tc.args, " "), stdout+stderr, tc.flags...)
	}
	var buf bytes.Buffer
	run(t.Context(), []string{"help"}, &buf, &buf)
	wantContains(t, "usage", buf.String(), "mixbatch plot", "mixbatch report")
}
