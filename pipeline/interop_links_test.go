package pipeline

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPlanRecordsSkippedLinks: a symbolic link to a folder inside an
// input folder is not followed (its rows are not read) and the plan
// names it, for the run to warn about (plan.skippedLinks).
func TestPlanRecordsSkippedLinks(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 1, 2}), column("x", []int64{1, 0, 1}))
	other := filepath.Join(t.TempDir(), "other")
	writeParquet(t, filepath.Join(other, "b.parquet"), column("bag", []int64{3}), column("x", []int64{1}))
	link := j.file("more")
	if err := os.Symlink(other, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	p, err := makePlan(t.Context(), j.config(t, bernoulliModel), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.files) != 1 || filepath.Base(p.files[0].Path) != "a.parquet" {
		t.Errorf("files %v, want only a.parquet", p.files)
	}
	if !slices.Equal(p.skippedLinks, []string{link}) {
		t.Errorf("skippedLinks %q, want [%q]", p.skippedLinks, link)
	}
	// The run logs a warning naming the link.
	var logs bytes.Buffer
	if _, err := Check(t.Context(), j.config(t, bernoulliModel), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), link) {
		t.Errorf("no warning naming %s in the log:\n%s", link, logs.String())
	}
}
