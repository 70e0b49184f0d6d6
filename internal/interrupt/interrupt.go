// Package interrupt turns SIGINT, SIGTERM and SIGHUP into the cancellation
// of a context, for the commands (mixbatch, mixbatch-beam): the first signal
// cancels the context, so that the run stops, cleans up and exits with the
// shell's status for the signal; a second exits at once.
package interrupt

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Signal is the cause of a context that a signal cancelled.
type Signal struct{ Sig syscall.Signal }

func (s Signal) Error() string { return "interrupted by " + Name(s.Sig) }

// ExitCode is the shell's convention for death by a signal: 128 + its
// number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
func (s Signal) ExitCode() int { return 128 + int(s.Sig) }

// Name returns a signal's name as the shell spells it: SIGINT, SIGTERM,
// SIGHUP.
func Name(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// Notify returns a context cancelled, with a Signal as its cause, by the
// first SIGINT, SIGTERM or SIGHUP (a closed terminal or SSH session).
// SIGHUP is watched only if it is not ignored: under nohup it stays
// ignored, as nohup means (Notify would otherwise restore it). A second
// signal makes the process write
// "COMMAND: second SIGINT; exiting now" to stderr and exit at once with
// that signal's status (what the run leaves behind, a later run removes).
// stop releases the signals and the context.
func Notify(parent context.Context, command string) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	if !signal.Ignored(syscall.SIGHUP) {
		signal.Notify(sigs, syscall.SIGHUP)
	}
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(Signal{s.(syscall.Signal)})
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			sig := Signal{s.(syscall.Signal)}
			fmt.Fprintf(os.Stderr, "%s: second %s; exiting now\n", command, Name(sig.Sig))
			os.Exit(sig.ExitCode())
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// ExitCode returns code, or the status of the signal that cancelled ctx
// if one did and code is not 0 (a run that finished despite the signal
// exits 0).
func ExitCode(ctx context.Context, code int) int {
	if sig, ok := context.Cause(ctx).(Signal); ok && code != 0 {
		return sig.ExitCode()
	}
	return code
}
