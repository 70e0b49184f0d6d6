package interrupt

import (
	"context"
	"errors"
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
