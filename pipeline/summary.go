package pipeline

import (
	"errors"
	"fmt"
	"time"
)

// Line is the summary of a finished run as the commands print it last on
// stdout, after their name: "200 bags ok, 0 failed, 0 not converged;
// 20000 rows in 15ms (1334343 rows/s); peak memory 73 MiB, spilled 0 B ->
// out/marbles". Peak memory is left out when it is 0 (not reported by the
// system).
func (s *Summary) Line() string {
	rate := 0.0
	if sec := s.Elapsed.Seconds(); sec > 0 {
		rate = float64(s.Rows) / sec
	}
	peak := "peak memory " + formatBytes(s.PeakMemory) + ", "
	if s.PeakMemory == 0 {
		peak = ""
	}
	return fmt.Sprintf("%d bags ok, %d failed, %d not converged; %d rows in %s (%.0f rows/s); %sspilled %s -> %s",
		s.BagsOK, s.BagsFailed, s.BagsNotConverged, s.Rows, s.Elapsed.Round(time.Millisecond), rate,
		peak, formatBytes(s.Spilled), s.Output)
}

// LeftAsItWas returns the words the commands add to a failed run's error:
// that the output folder was left as it was, unless err says otherwise
// (ErrOutputChanged).
func LeftAsItWas(err error) string {
	if errors.Is(err, ErrOutputChanged) {
		return "the output folder was changed before the run failed: see the error"
	}
	return "the output folder was left as it was"
}

// StoppedLine is the line the commands print on stdout for a run that
// failed or was interrupted (what says which, such as "run failed") with
// error err, naming the output folder dir, which was left as it was
// unless err is ErrOutputChanged. It gives as much as the run had
// learned: nothing before the inputs were listed, the number of files if
// it stopped while reading their footers, and the rows and bags after
// that.
func (s *Summary) StoppedLine(what, dir string, err error) string {
	got := ""
	switch {
	case s.Files == 0 && s.Rows == 0:
	case s.Rows == 0 && s.Bags == 0:
		got = ": " + plural(s.Files, "input file")
	default:
		got = fmt.Sprintf(": %s, %s, %s", plural(s.Files, "input file"), plural(s.Rows, "row"), plural(s.Bags, "bag"))
	}
	tail := "nothing written to " + dir
	if errors.Is(err, ErrOutputChanged) {
		tail = dir + " was changed: see the error"
	}
	return fmt.Sprintf("%s after %s%s; %s", what, s.Elapsed.Round(time.Millisecond), got, tail)
}

// plural renders a count of things: "1 row", "2 rows".
func plural[T int | int64](n T, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// formatBytes renders a byte count for people: 0 B, 812 KiB, 374 MiB, 1.2 GiB.
func formatBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}
