package pipeline

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mixbatch/mixbatch/em"
	"github.com/mixbatch/mixbatch/internal/flock"
	"github.com/mixbatch/mixbatch/readers"
)

// mountTmpfs mounts a tmpfs of size bytes at a new folder and returns it;
// the test is skipped where that is not allowed (it needs root).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	mountTmpfsOn(t, dir, size)
	return dir
}

// mountTmpfsOn mounts a tmpfs of size bytes on the folder dir until the
// test ends (it skips the test where it cannot).
func mountTmpfsOn(t *testing.T, dir string, size int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// faultJob writes a small input outside dir and returns a config that
// writes dir/out with posteriors and overwrite, after a first good run.
func faultJob(t *testing.T, dir string, bags, rows int) *Config {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in")
	if err := GenMarbles(t.Context(), in, Marbles{Bags: bags, RowsPerBag: rows, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, marblesConfig(in, filepath.Join(dir, "out"), ""))
	cfg.Output.Overwrite = true
	return cfg
}

// TestDiskFull fills a small file system while writing: the run fails with
// the system's "no space left" error, the earlier output stays as it was
// and no staging folder is left to take the space.
func TestDiskFull(t *testing.T) {
	dir := mountTmpfs(t, 256<<10)
	small := faultJob(t, dir, 20, 50)
	mustRun(t, small, Options{})
	before := snapshot(t, small.Output.Dir)

	big := faultJob(t, dir, 400, 2000) // 800k rows: several MB of posteriors
	big.Output.Dir = small.Output.Dir
	_, err := Run(t.Context(), big, Options{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("run on a full disk: %v, want ENOSPC", err)
	}
	t.Log(err)
	wantText(t, err, "no space left on device", "posteriors")
	sameFiles(t, snapshot(t, small.Output.Dir), before)
	noStaging(t, dir)
}

// TestReadOnlyOutput runs into a folder that cannot be written: a clear
// error, the earlier output untouched.
func TestReadOnlyOutput(t *testing.T) {
	var dir string
	if os.Geteuid() == 0 {
		// Root writes through permission bits: make the file system itself
		// read-only.
		dir = mountTmpfs(t, 8<<20)
	} else {
		dir = t.TempDir()
	}
	cfg := faultJob(t, dir, 20, 50)
	mustRun(t, cfg, Options{})
	before := snapshot(t, cfg.Output.Dir)
	if os.Geteuid() == 0 {
		if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot remount read-only: %v: %s", err, out)
		}
	} else {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	}
	_, err := Run(t.Context(), cfg, Options{})
	if err == nil {
		t.Fatal("run into a read-only folder succeeded")
	}
	t.Log(err)
	if !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.EACCES) {
		t.Errorf("error %v, want EROFS or EACCES", err)
	}
	wantText(t, err, "output.dir", "creating staging folder")
	sameFiles(t, snapshot(t, cfg.Output.Dir), before)
}

// TestStaleStagingCleaned: staging folders of dead runs are removed before
// a run stages its own; a live run's folder (its lock held) and one too new
// to judge are left alone.
func TestStaleStagingCleaned(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2}), column("x", []int64{1, 0}))
	parent := filepath.Dir(j.out)
	mk := func(name string, lock bool, age time.Duration) string {
		p := filepath.Join(parent, ".out"+tmpMarker+name)
		if err := os.MkdirAll(filepath.Join(p, "weights"), 0o755); err != nil {
			t.Fatal(err)
		}
		if lock {
			if err := os.WriteFile(filepath.Join(p, lockName), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dead := mk("dead", true, 0)                // lock file, nobody holds it
	swapped := mk("swapped", false, time.Hour) // an old output swapped out, not removed
	fresh := mk("fresh", false, 0)             // no lock yet: maybe a run just starting
	live := mk("live", true, 0)
	held, err := flock.Open(filepath.Join(live, lockName), false)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	other := filepath.Join(parent, ".other"+tmpMarker+"x") // another output's
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}

	mustRun(t, j.config(t, bernoulliModel), Options{})
	for _, p := range []string{dead, swapped} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s not removed (%v)", filepath.Base(p), err)
		}
	}
	for _, p := range []string{fresh, live, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
	// The published output holds no lock file.
	if _, err := os.Stat(filepath.Join(j.out, lockName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the output holds %s", lockName)
	}
	entries, _ := os.ReadDir(parent)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	t.Log(strings.Join(names, " "))
}

// panicky is a component whose density panics at x = 3, as a bug or a
// corrupt input might make code panic.
type panicky struct{}

func (panicky) LogProb(x float64) float64 {
	if x == 3 {
		panic("boom")
	}
	return -1
}

// TestFitPanicIsBagError: a panic inside one bag's fit is recovered at the
// bag: with on_error: skip the bag fails with the reason and the others are
// fitted; with fail the run stops with an error naming the bag, not a crash.
func TestFitPanicIsBagError(t *testing.T) {
	j := newJob(t)
	b := &bags{ints: []int64{10, 20, 30}, start: []int{0, 2, 4, 5}, vals: []float64{1, 2, 3, 4, 5}, nobs: []int64{2, 2, 1}, first: []int32{0, 0, 0}}
	p := &plan{files: []readers.File{{Path: "a.parquet"}}}
	for _, onError := range []string{OnErrorSkip, OnErrorFail} {
		cfg := j.config(t, gaussianModel, func(c *Config) { c.Run.OnError = onError })
		m := newModel(cfg)
		m.comps = []em.LogProber{panicky{}, panicky{}}
		f, err := fitAll(t.Context(), cfg, p, b, m, nil, 2, nil)
		if onError == OnErrorFail {
			var be *BagError
			if !errors.As(err, &be) || be.Bag != "20" || !strings.Contains(err.Error(), "internal error: boom") {
				t.Errorf("fail: error %v (%T), want a BagError for bag 20 with the panic", err, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("skip: %v", err)
		}
		if f.failed != 1 || !f.ok(0) || f.ok(1) || !f.ok(2) || !strings.Contains(f.errs[1], "bag 20: internal error: boom") {
			t.Errorf("skip: failed %d, errs %q; want bag 20 alone failed with the panic", f.failed, f.errs)
		}
	}
}
