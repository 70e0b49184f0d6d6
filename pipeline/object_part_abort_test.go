package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mixbatch/mixbatch/store"
	"github.com/mixbatch/mixbatch/store/storetest"
)

// TestObjectPartFailureLeavesNoParts: when the upload of one posteriors
// part fails while another part is being committed, the run fails and its
// run prefix holds nothing afterwards: no staged part outlives Abort.
//
// It caught a leak, and failed before the fix: the failure cancelled the
// context under the other part's upload while its PUT was with the
// store. The store kept that object although the client had given up
// (as S3 may, once it has the whole body), but only after Abort had
// listed and emptied the run prefix, so part-00000.parquet stayed under
// run=<id>/ for good, listed by no manifest. The server here stores the
// abandoned PUT once Abort has listed the prefix. Now an upload whose
// Close has begun is not cut short by the end of its context (see
// store.Create), so Close says whether the object exists before Abort
// lists.
func TestObjectPartFailureLeavesNoParts(t *testing.T) {
	var (
		part0Arrived = make(chan struct{}) // the PUT of part-00000 is with the server
		part1Failed  = make(chan struct{}) // the PUT of part-00001 was refused
		listed       = make(chan struct{}) // the run prefix was listed after that
		part0Done    = make(chan struct{}) // part-00000's PUT handler is done
		listOnce     sync.Once
	)
	srv := storetest.NewS3Wrapped(t, func(faker http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			put := r.Method == http.MethodPut
			switch {
			case put && strings.HasSuffix(r.URL.Path, "/posteriors/part-00000.parquet"):
				defer close(part0Done)
				body, err := io.ReadAll(r.Body)
				if err != nil {
					return
				}
				close(part0Arrived)
				// The client either waits for the answer, or gives up; a
				// store that has the body may store it all the same, after
				// a while.
				select {
				case <-r.Context().Done():
					select {
					case <-listed:
					case <-time.After(5 * time.Second):
					}
				case <-time.After(300 * time.Millisecond):
				}
				r2 := r.Clone(context.Background())
				r2.Body = io.NopCloser(bytes.NewReader(body))
				faker.ServeHTTP(w, r2)
				return
			case put && strings.HasSuffix(r.URL.Path, "/posteriors/part-00001.parquet"):
				select {
				case <-part0Arrived:
				case <-time.After(5 * time.Second):
				}
				http.Error(w, "injected: access denied", http.StatusForbidden)
				close(part1Failed)
				return
			}
			faker.ServeHTTP(w, r)
			if r.Method == http.MethodGet && r.URL.Query().Has("list-type") {
				select {
				case <-part1Failed:
					listOnce.Do(func() { close(listed) })
				default:
				}
			}
		})
	}, "outputs")
	out := srv.URL("outputs", "job")

	in := filepath.Join(t.TempDir(), "in")
	if err := GenReadings(context.Background(), in, Readings{Bags: 40, RowsPerBag: 50, Files: 1, RowGroupRows: 500}); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: sensor_id, value: value}
model: {family: gaussian, components: [{name: idle, mean: 20, sd: 2}, {name: working, mean: 35, sd: 3}, {name: faulty, mean: 60, sd: 8}]}
output: {dir: %q, posteriors: true}
run: {workers: 2}
`, filepath.Join(in, "part-00000.parquet"), out))
	_, err := Run(context.Background(), cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), "part-00001.parquet") {
		t.Fatalf("run = %v, want the refused upload of part-00001", err)
	}
	select {
	case <-part0Done:
	case <-time.After(10 * time.Second):
		t.Fatal("part-00000 was never uploaded: the test did not set up the race")
	}
	entries, err := store.List(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("the failed run left %s", e.Rel)
	}
}
