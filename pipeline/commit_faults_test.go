package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mixbatch/mixbatch/store"
	"github.com/mixbatch/mixbatch/store/storetest"
)

// TestSpillWithoutLockCleaned: a spill folder without a lock file (a
// run killed between making its folder and its lock, or a lock removed by
// a cleaner of old temporary files) is removed by the next spilling run
// once it is older than staleGrace; a fresh one is left alone, as for
// staging folders.
func TestSpillWithoutLockCleaned(t *testing.T) {
	tmp := t.TempDir()
	mk := func(name string, age time.Duration) string {
		d := filepath.Join(tmp, spillPrefix+name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "worker-000.arrows"), []byte("rows"), 0o644); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
		return d
	}
	stale, fresh := mk("stale", time.Hour), mk("fresh", 0)
	cleanSpills(tmp, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a spill folder without a lock, an hour old, was not removed (%v)", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh spill folder without a lock (maybe a run starting) was removed: %v", err)
	}
}

// commitFaultS3 starts an S3 server whose handling of PUTs of keys ending
// in manifest.json can be interfered with by fault, which runs after the
// object is stored and before the response is sent. It returns the
// output URL for prefix under bucket "outputs".
func commitFaultS3(t *testing.T, prefix string, fault func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	srv := storetest.NewS3Wrapped(t, func(faker http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/"+ManifestFile) {
				faker.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			faker.ServeHTTP(rec, r) // stored
			if fault(w, r) {
				return
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	}, "outputs")
	return srv.URL("outputs", prefix)
}

// publishedConsistent checks the object-store output at dir as a reader
// sees it: _SUCCESS is there, and every file manifest.json lists exists.
// It returns the manifest's run id.
func publishedConsistent(t *testing.T, dir string) string {
	t.Helper()
	ctx := context.Background()
	if ok, err := store.Exists(ctx, store.Join(dir, SuccessFile)); err != nil || !ok {
		t.Errorf("_SUCCESS: %v, %v; want it there", ok, err)
	}
	b, err := store.ReadFile(ctx, store.Join(dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for table, tb := range m.Tables {
		for _, f := range tb.Files {
			if ok, err := store.Exists(ctx, store.Join(dir, f)); err != nil || !ok {
				t.Errorf("manifest.json (run %s) lists %s of %s, which does not exist (%v): readers of the output fail", m.RunID, f, table, err)
			}
		}
	}
	return m.RunID
}

// stageParts writes one part of a run under o's staging prefix.
func stageParts(t *testing.T, o *Output, data string) {
	t.Helper()
	if err := store.WriteFile(context.Background(), store.Join(o.Staging(), WeightsTable, "part-00000.parquet"), []byte(data)); err != nil {
		t.Fatal(err)
	}
}

// TestObjectCommitInterrupted: an interrupt (the run's context
// cancelled) while manifest.json, the commit, is being uploaded must not
// leave a manifest that lists deleted parts. Here the store has the new
// manifest when the cancellation reaches the client: the run then removed
// its parts in Abort, and readers, who find the earlier run's _SUCCESS,
// read a manifest whose files are gone.
func TestObjectCommitInterrupted(t *testing.T) {
	var cancel context.CancelFunc
	var once sync.Once
	dir := commitFaultS3(t, "interrupted", func(w http.ResponseWriter, r *http.Request) bool {
		if cancel == nil {
			return false // the first run publishes normally
		}
		once.Do(cancel)
		select { // let the client see its context end first
		case <-r.Context().Done():
		case <-time.After(500 * time.Millisecond):
		}
		return false
	})
	ctx := context.Background()
	first, err := CreateOutput(ctx, dir, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	stageParts(t, first, "first")
	if err := first.Publish(ctx, &Manifest{Runner: "test"}); err != nil {
		t.Fatal(err)
	}

	rctx, c := context.WithCancel(ctx)
	defer c()
	second, err := CreateOutput(rctx, dir, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	stageParts(t, second, "second")
	cancel = c
	err = second.Publish(rctx, &Manifest{Runner: "test"})
	t.Logf("Publish: %v", err)
	if err != nil {
		// As runner.write does on an error.
		if aerr := second.Abort(rctx); aerr != nil {
			t.Fatal(aerr)
		}
	}
	id := publishedConsistent(t, dir)
	if err == nil && id != second.RunID() {
		t.Errorf("Publish succeeded, but manifest.json names run %s, not %s", id, second.RunID())
	}
}

// TestObjectCommitAmbiguous: the store keeps manifest.json but its
// replies are lost (every attempt), so the upload fails although the
// commit happened. The run must not then delete the parts that the stored
// manifest lists.
func TestObjectCommitAmbiguous(t *testing.T) {
	var failing bool
	dir := commitFaultS3(t, "ambiguous", func(w http.ResponseWriter, r *http.Request) bool {
		if !failing {
			return false
		}
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>`))
		return true
	})
	ctx := context.Background()
	first, err := CreateOutput(ctx, dir, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	stageParts(t, first, "first")
	if err := first.Publish(ctx, &Manifest{Runner: "test"}); err != nil {
		t.Fatal(err)
	}
	second, err := CreateOutput(ctx, dir, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	stageParts(t, second, "second")
	failing = true
	err = second.Publish(ctx, &Manifest{Runner: "test"})
	t.Logf("Publish: %v", err)
	if err != nil {
		if aerr := second.Abort(ctx); aerr != nil {
			t.Fatal(aerr)
		}
	}
	publishedConsistent(t, dir)
}

// TestPublishErrorNamesOutput: a folder that cannot be replaced by a
// rename (a mount point) is refused as output.dir before the run (by
// CreateOutput, which validate calls too); one that becomes a mount point
// while the run writes fails at publishing, and the error must name
// output.dir and say why, not only the system's "device or resource busy"
// (renameat2 names no path). The earlier output stays and no staging
// folder is left.
func TestPublishErrorNamesOutput(t *testing.T) {
	ctx := context.Background()
	mounted := mountTmpfs(t, 1<<20)
	if err := os.WriteFile(filepath.Join(mounted, SuccessFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateOutput(ctx, mounted, true, nil); err == nil {
		t.Error("a mount point was accepted as output.dir")
	} else {
		wantText(t, err, mounted, "mount point")
	}

	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	o, err := CreateOutput(ctx, dir, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	stageParts(t, o, "parts")
	mountTmpfsOn(t, dir, 1<<20)
	for _, name := range []string{"keep", SuccessFile} { // an earlier output
		if err := os.WriteFile(filepath.Join(dir, name), []byte("earlier"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err = o.Publish(ctx, &Manifest{Runner: "test"})
	if err == nil {
		t.Fatal("published over a mount point")
	}
	if aerr := o.Abort(ctx); aerr != nil {
		t.Fatal(aerr)
	}
	if !errors.Is(err, syscall.EBUSY) {
		t.Errorf("error %v, want EBUSY", err)
	}
	wantText(t, err, dir, "mount point")
	if b, rerr := os.ReadFile(filepath.Join(dir, "keep")); rerr != nil || string(b) != "earlier" {
		t.Errorf("the earlier output changed: %q, %v", b, rerr)
	}
	noStaging(t, filepath.Dir(dir))
}
