package pipeline

import (
	"fmt"
	"testing"
	"time"
)

// TestFormatBytes: the sizes of the summary line, at each unit's edges.
func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "2 KiB", 1<<20 - 1: "1024 KiB",
		1 << 20: "1 MiB", 374 << 20: "374 MiB", 1 << 30: "1.0 GiB", 5<<30 + 1<<29: "5.5 GiB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestSummaryLines: the lines the commands print, with and without a
// peak memory, and for a run that stopped.
func TestSummaryLines(t *testing.T) {
	s := Summary{Output: "out/marbles", Files: 1, Rows: 20000, Bags: 200, BagsOK: 199, BagsFailed: 1, BagsNotConverged: 2,
		PeakMemory: 73 << 20, Spilled: 1536, Elapsed: 15*time.Millisecond + 300*time.Microsecond}
	for _, c := range []struct{ got, want string }{
		{s.Line(), "199 bags ok, 1 failed, 2 not converged; 20000 rows in 15ms (1307190 rows/s); peak memory 73 MiB, spilled 2 KiB -> out/marbles"},
		{s.StoppedLine("run failed", "out/x", nil), "run failed after 15ms: 1 input file, 20000 rows, 200 bags; nothing written to out/x"},
		// Stopped while reading the footers: the rows are not known.
		{(&Summary{Files: 16, Elapsed: s.Elapsed}).StoppedLine("run failed", "out/x", nil), "run failed after 15ms: 16 input files; nothing written to out/x"},
		// Stopped before the inputs were listed.
		{(&Summary{Elapsed: s.Elapsed}).StoppedLine("interrupted", "out/x", nil), "interrupted after 15ms; nothing written to out/x"},
		// Failed while publishing, after changing the output.
		{s.StoppedLine("run failed", "out/x", fmt.Errorf("publishing: %w", ErrOutputChanged)), "run failed after 15ms: 1 input file, 20000 rows, 200 bags; out/x was changed: see the error"},
	} {
		if c.got != c.want {
			t.Errorf("got  %q\nwant %q", c.got, c.want)
		}
	}
	s.PeakMemory, s.Elapsed = 0, 0
	if got, want := s.Line(), "199 bags ok, 1 failed, 2 not converged; 20000 rows in 0s (0 rows/s); spilled 2 KiB -> out/marbles"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
