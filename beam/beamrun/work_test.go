package beamrun

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mixbatch/mixbatch/internal/flock"
)

// Shards run side by side (on Prism, in one process), and each first
// removes the shard folders no live shard holds: a shard making its folder
// must never look dead to another's cleanStaleWork, which removed live
// folders, or held their lock so that newWorkDir failed, about one time
// in ten with eight shards on two cores.
func TestNewWorkDirConcurrent(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for shard := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 150 {
				w, err := newWorkDir(shard)
				if err != nil {
					fail(err)
					continue
				}
				// Another shard's cleaning has had every chance to run.
				cleanStaleWork(os.TempDir())
				if _, err := os.Stat(w.dir); err != nil {
					fail(err)
				} else if lf, err := flock.Open(filepath.Join(w.dir, workLock), false); err == nil {
					fail(errors.New(w.dir + ": the lock is not held"))
					_ = lf.Close()
				} else if errors.Is(err, os.ErrNotExist) {
					fail(err)
				}
				if err := w.remove(); err != nil {
					fail(err)
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == 5 {
			t.Errorf("and %d more", len(errs)-5)
			break
		}
		t.Error(err)
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), workPrefix+"*")); len(left) > 0 {
		t.Errorf("shard folders left: %v", left)
	}
}

// A shard whose bundle arrives after its launcher stopped waiting (Prism
// may deliver one after the job was cancelled or failed) stops at once,
// before it makes a folder, instead of fitting unwatched after Run has
// returned; a shard that joined in time is waited for.
func TestLaunchEnded(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithCancelCause(context.Background())
	id, l := newLaunch(ctx)
	jctx, leave := joinLaunch(context.Background(), id)
	stop := errors.New("interrupted")
	cancel(stop)
	select {
	case <-jctx.Done():
	case <-time.After(10 * time.Second):
	}
	if !errors.Is(context.Cause(jctx), stop) {
		t.Errorf("a joined shard's context: %v, want the launch's cause", context.Cause(jctx))
	}
	done := make(chan bool)
	go func() { done <- l.end(time.Minute) }()
	select {
	case <-done:
		t.Fatal("end returned while a joined shard ran")
	case <-time.After(50 * time.Millisecond):
	}
	leave()
	if !<-done {
		t.Error("end timed out")
	}

	late, leaveLate := joinLaunch(context.Background(), id)
	defer leaveLate()
	if !errors.Is(context.Cause(late), errLaunchEnded) {
		t.Errorf("a shard joining an ended launch: %v, want errLaunchEnded", context.Cause(late))
	}
	f := &fitShardFn{Staging: t.TempDir(), Launch: id}
	err := f.ProcessElement(context.Background(), 3, func(*[]byte) bool { return false })
	if !errors.Is(err, errLaunchEnded) {
		t.Errorf("ProcessElement of a late shard: %v, want errLaunchEnded", err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, workPrefix+"*")); len(left) > 0 {
		t.Errorf("a late shard made a folder: %v", left)
	}
}
