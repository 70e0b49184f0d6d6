package beamrun

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mixbatch/mixbatch/pipeline"
)

// TestCollectIgnoresRedoneReads: a read unit's failure record
// (failed-read-*.json, written before Beam retried the read) is not a
// shard's result: collect skips it, and among the shards' fatal input
// errors it keeps the earliest row. Expectations by construction: the
// two shards' results sum as written, the fatal error is file 1 row 2's,
// and the failed read's message does not become the run's error.
func TestCollectIgnoresRedoneReads(t *testing.T) {
	staging := t.TempDir()
	results := []shardResult{
		{Shard: 0, Summary: pipeline.Summary{Rows: 4}, Fatal: &failedBag{HasRow: true, File: 1, Row: 5, Error: "row 5"}},
		{Shard: 1, Summary: pipeline.Summary{Rows: 6}, Fatal: &failedBag{HasRow: true, File: 1, Row: 2, Error: "row 2"}},
	}
	for _, r := range results {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(staging, shardsDir, fmt.Sprintf("shard-%05d.json", r.Shard)), b)
	}
	b, err := json.Marshal(shardResult{Shard: -1, Failed: "a read that Beam retried"})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(staging, shardsDir, readFailurePrefix+"0000000001-0000000000.json"), b)
	sum, fails, err := collect(context.Background(), staging)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	if sum.Rows != 10 {
		t.Errorf("rows %d, want 10", sum.Rows)
	}
	if fails.fatal == nil || fails.fatal.Error != "row 2" {
		t.Errorf("fatal %+v, want file 1 row 2's", fails.fatal)
	}
}
