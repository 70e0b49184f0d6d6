package pipeline

import (
	"path/filepath"
	"testing"
)

// TestSpillEmptyPartition: when rows are spilled and a spill partition
// holds no bag (few bags, more partitions than bags, or an unlucky hash),
// that partition is skipped. spiller.load returned a nil todo list for it,
// which fitBags took for "every bag": every bag was then fitted against
// the empty partition's (absent) rows and failed with "the bag's counts
// sum to zero", failing the run under on_error: fail and, under skip,
// exiting 0 with every bag falsely failed (seen from the command line: 8
// shuffled bags of 375,000 Gaussian readings under run.memory_limit:
// 64MiB).
func TestSpillEmptyPartition(t *testing.T) {
	root := t.TempDir()
	in := filepath.Join(root, "in")
	var bag []int64
	var val []float64
	for i := range 200 {
		bag = append(bag, int64(i%2))
		val = append(val, 20+float64(i%7))
	}
	writeParquet(t, filepath.Join(in, "part-0.parquet"), column("bag", bag), column("v", val))
	for _, onError := range []string{"fail", "skip"} {
		t.Run(onError, func(t *testing.T) {
			cfg := mustLoad(t, `
input: {paths: ["`+in+`"], bag: bag, value: v}
model:
  family: gaussian
  components: [{name: a, mean: 20, sd: 2}, {name: b, mean: 30, sd: 3}]
output: {dir: "`+filepath.Join(root, "out-"+onError)+`"}
run: {on_error: `+onError+`, temp_dir: "`+root+`"}
`)
			// 8 partitions for 2 bags: at least 6 are empty.
			sum, err := Run(t.Context(), cfg, Options{spillPartitions: 8})
			if err != nil {
				t.Fatalf("run with spill partitions that hold no bag: %v", err)
			}
			if sum.BagsOK != 2 || sum.BagsFailed != 0 {
				t.Fatalf("bags ok %d, failed %d; want 2 and 0", sum.BagsOK, sum.BagsFailed)
			}
		})
	}
}
