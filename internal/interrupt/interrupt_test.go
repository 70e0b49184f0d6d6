package interrupt

import (
	"context"
	"errors"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// TestNotify sends the process a SIGINT: the context is cancelled with a
// Signal cause, which names the signal and gives status 130 for a run
// that failed (and 0 for one that finished); SIGTERM's status is 143.
func TestNotify(t *testing.T) {
	ctx, stop := Notify(context.Background(), "test")
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGINT did not cancel the context")
	}
	var sig Signal
	if !errors.As(context.Cause(ctx), &sig) || sig.Sig != syscall.SIGINT || sig.Error() != "interrupted by SIGINT" {
		t.Fatalf("cause %v, want interrupted by SIGINT", context.Cause(ctx))
	}
	if got := ExitCode(ctx, 1); got != 130 {
		t.Errorf("ExitCode(failed run) = %d, want 130", got)
	}
	if got := ExitCode(ctx, 0); got != 0 {
		t.Errorf("ExitCode(finished run) = %d, want 0", got)
	}
	if got := ExitCode(context.Background(), 2); got != 2 {
		t.Errorf("ExitCode without a signal = %d, want 2", got)
	}
	if got := (Signal{syscall.SIGTERM}).ExitCode(); got != 143 {
		t.Errorf("SIGTERM's status %d, want 143", got)
	}
}

// TestNotifyHangup: SIGHUP (a closed terminal or SSH session) stops a run
// as SIGTERM does, with status 129; before, it killed the process on the
// spot, leaving staging and spill folders for the next run to remove.
// Under nohup (SIGHUP ignored) it must stay ignored, which this test
// cannot change for itself: it skips.
func TestNotifyHangup(t *testing.T) {
	if signal.Ignored(syscall.SIGHUP) {
		t.Skip("SIGHUP is ignored here (nohup)")
	}
	ctx, stop := Notify(context.Background(), "test")
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGHUP did not cancel the context")
	}
	var sig Signal
	if !errors.As(context.Cause(ctx), &sig) || sig.Error() != "interrupted by SIGHUP" || ExitCode(ctx, 1) != 129 {
		t.Fatalf("cause %v, exit code %d; want interrupted by SIGHUP, 129", context.Cause(ctx), ExitCode(ctx, 1))
	}
}
