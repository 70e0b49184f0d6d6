package beamrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mixbatch/mixbatch/internal/flock"
)

// Shard folders: a shard stages its rows and runs its fit in a folder of
// the worker's temporary folder ($TMPDIR), removed when the fit ends. A
// worker that dies first (kill -9, a launcher that exits while Prism's
// in-process workers run, a lost machine) leaves it behind, so every
// shard, and the launcher, first removes the shard folders of earlier
// runs, as the local run removes stale mixbatch-spill-* folders: a live
// shard holds an exclusive flock on the lock file in its folder.

// workPrefix starts the name of every shard folder.
const workPrefix = "mixbatch-beam-shard-"

// stalePrefixes are the names of folders that earlier versions left
// without a lock file: removed once they are staleAge old.
var stalePrefixes = []string{workPrefix, "mixbatch-beam-out-"}

// workLock is the lock file of a shard folder, as pipeline's.
const workLock = ".mixbatch-lock"

// staleAge is how old a shard folder without a lock file must be before
// it counts as stale: a shard puts its lock file, locked, in place right after
// making the folder (flock.Create).
const staleAge = time.Minute

// workDir is a shard's folder, locked while the shard lives.
type workDir struct {
	dir  string
	lock *os.File
}

// newWorkDir removes stale shard folders and makes a new one for shard.
func newWorkDir(shard int) (*workDir, error) {
	tmp := os.TempDir()
	cleanStaleWork(tmp)
	dir, err := os.MkdirTemp(tmp, fmt.Sprintf("%s%05d-", workPrefix, shard))
	if err != nil {
		return nil, err
	}
	// Created locked (flock.Create): another shard's cleanStaleWork,
	// running side by side in one process on Prism, never sees it unlocked.
	lock, err := flock.Create(filepath.Join(dir, workLock))
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return &workDir{dir: dir, lock: lock}, nil
}

// remove removes the folder, then drops the lock.
func (w *workDir) remove() error {
	err := os.RemoveAll(w.dir)
	return errors.Join(err, w.lock.Close())
}

// cleanStaleWork removes the shard folders under tmp that no live shard
// holds.
func cleanStaleWork(tmp string) {
	for _, prefix := range stalePrefixes {
		old, _ := filepath.Glob(filepath.Join(tmp, prefix+"*"))
		for _, d := range old {
			fi, err := os.Lstat(d)
			if err != nil || !fi.IsDir() {
				continue
			}
			lf, err := flock.Open(filepath.Join(d, workLock), false)
			switch {
			case err == nil:
				if lf.Close() != nil {
					continue
				}
			case errors.Is(err, os.ErrNotExist):
				// No lock file: an old version's folder, or one being
				// made this instant.
				if time.Since(fi.ModTime()) < staleAge {
					continue
				}
			default:
				continue // locked by a live shard, or not ours
			}
			if err := os.RemoveAll(d); err != nil {
				slog.Warn("removing the shard folder of an earlier run", "path", d, "err", err)
				continue
			}
			slog.Info("removed the shard folder of an earlier run that did not finish", "path", d)
		}
	}
}

// launches are the runs of this process, by Options' launch id. A shard
// fitted in the launcher's own process (Prism's loopback workers) joins
// its launch: an interrupt of the launcher stops it, and the launcher
// waits for it to remove its folder before returning. A launch that has
// ended stays registered, so that a shard whose bundle Prism delivers only
// then (after the job was cancelled, or failed) stops before it makes a
// folder, rather than fitting on unwatched after Run returned. On a remote
// worker the id is unknown and joining does nothing.
var launches sync.Map // string -> *launch

// errLaunchEnded stops a shard that joins a launch that has ended.
var errLaunchEnded = errors.New("the run this shard belongs to has ended")

// launch is one Run's context and the shards of it running in this
// process.
type launch struct {
	ctx   context.Context
	mu    sync.Mutex
	n     int
	ended bool
}

// newLaunch registers a launch under a new id.
func newLaunch(ctx context.Context) (string, *launch) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	l := &launch{ctx: ctx}
	launches.Store(id, l)
	return id, l
}

// joinLaunch returns ctx, cancelled also when launch id's context is (and
// at once if the launch has ended), and the function to call when the
// shard is done.
func joinLaunch(ctx context.Context, id string) (context.Context, func()) {
	v, ok := launches.Load(id)
	if !ok || id == "" {
		return ctx, func() {}
	}
	l := v.(*launch)
	ctx, cancel := context.WithCancelCause(ctx)
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		cancel(errLaunchEnded)
		return ctx, func() {}
	}
	l.n++
	lctx := l.ctx
	l.mu.Unlock()
	stop := context.AfterFunc(lctx, func() { cancel(context.Cause(lctx)) })
	return ctx, func() {
		stop()
		cancel(nil)
		l.mu.Lock()
		l.n--
		l.mu.Unlock()
	}
}

// end marks the launch ended, so that no shard joins it any more, and
// waits, at most timeout, for the shards that joined it to finish. It
// reports whether they did.
func (l *launch) end(timeout time.Duration) bool {
	l.mu.Lock()
	l.ended = true
	l.ctx = context.Background() // let the run's context go
	l.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		n := l.n
		l.mu.Unlock()
		if n == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
