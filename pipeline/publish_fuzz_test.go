package pipeline

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/mixbatch/mixbatch/store"
	"github.com/mixbatch/mixbatch/store/storetest"
)

// fuzzOldRuns are the runs already under the output of
// FuzzPublishOverManifest, in the order they were published.
var fuzzOldRuns = []string{"20000101T000000.000Z-aaaaaa", "20000102T000000.000Z-bbbbbb"}

// FuzzPublishOverManifest publishes a run with overwrite: true to an
// object-store output whose manifest.json, which Publish reads for the
// previous run's id (the runs before it are deleted), is arbitrary bytes:
// anyone who can write the bucket can write it, and a run on a machine
// whose clock is ahead writes an id that sorts after this run's. Publish
// must succeed, every file the new manifest lists must exist, and the run
// the old manifest names, if it is one of the output's runs, must be kept
// for the readers still reading it.
//
//	go test ./pipeline/ -run '^$' -fuzz '^FuzzPublishOverManifest$' -fuzztime 3m -fuzzminimizetime 5s -parallel 1
func FuzzPublishOverManifest(f *testing.F) {
	f.Add([]byte(`{"run_id": "20000102T000000.000Z-bbbbbb", "runner": "local"}`))
	f.Add([]byte(`{"run_id": "20000101T000000.000Z-aaaaaa"}`))
	f.Add([]byte(`{"run_id": ""}`))
	f.Add([]byte(`{"run_id": 7}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, prev []byte) {
		srv := storetest.NewS3(t, "outputs")
		ctx := context.Background()
		dir := srv.URL("outputs", "x")
		for _, id := range fuzzOldRuns {
			srv.Put(t, "outputs", "x/"+RunPrefix+id+"/weights/part-00000.parquet", []byte("p"))
		}
		srv.Put(t, "outputs", "x/"+ManifestFile, prev)
		srv.Put(t, "outputs", "x/"+SuccessFile, nil)
		o, err := CreateOutput(ctx, dir, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.WriteFile(ctx, store.Join(o.Staging(), WeightsTable, "part-00000.parquet"), []byte("p")); err != nil {
			t.Fatal(err)
		}
		m := &Manifest{Runner: "fuzz"}
		if err := o.Publish(ctx, m); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		for table, tf := range m.Tables {
			for _, name := range tf.Files {
				if ok, err := store.Exists(ctx, store.Join(dir, name)); err != nil || !ok {
					t.Errorf("the new manifest lists %s of %s, which does not exist (%v): readers of the output fail", name, table, err)
				}
			}
		}
		var pm struct {
			RunID string `json:"run_id"`
		}
		if json.Unmarshal(prev, &pm) == nil && slices.Contains(fuzzOldRuns, pm.RunID) {
			if !slices.Contains(runIDs(t, dir), pm.RunID) {
				t.Errorf("the previous run %s was deleted", pm.RunID)
			}
		}
	})
}
