package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestDiskFullReleasesBuffers: a run whose disk fills while it writes
// posteriors/ fails with ENOSPC, leaves no staging folder, and releases
// every Arrow buffer it took from Options.Allocator.
//
// It caught a leak, and failed before the fix (in writers.Parquet): when
// the disk filled as a column chunk of a posteriors part was closed,
// which pqarrow does as it starts the next column, arrow v17 kept that
// next column's slice of the record (816 KB of posterior values here),
// never to release it. With one worker the disk fills at the same byte
// on every run.
func TestDiskFullReleasesBuffers(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in")
	if err := GenReadings(context.Background(), in, Readings{Bags: 100, RowsPerBag: 4000, Files: 2, RowGroupRows: 100_000}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(in, TruthFile)); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{4 << 20, 8 << 20, 11 << 20} {
		dir := mountTmpfs(t, size)
		cfg := mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: sensor_id, value: value, keep: [reading_id]}
model: {family: gaussian, components: [{name: idle, mean: 20, sd: 2}, {name: working, mean: 35, sd: 3}, {name: faulty, mean: 60, sd: 8}]}
output: {dir: %q, posteriors: true}
run: {workers: 1}
`, in, filepath.Join(dir, "out")))
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		_, err := Run(context.Background(), cfg, Options{Allocator: mem})
		if !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("%d bytes of disk: run = %v, want ENOSPC", size, err)
		}
		if n := mem.CurrentAlloc(); n != 0 {
			t.Errorf("%d bytes of disk: %d bytes of Arrow buffers still allocated after the run", size, n)
		}
		noStaging(t, dir)
	}
}
