package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheckSaysWhatRunDecides: mixbatch validate (Check) tells, from the
// footers alone, how a run would hold its rows, and it is what the run
// then does: the windows of a sorted input, the spill partitions of a
// shuffled one larger than run.memory_limit, none for one that fits, and
// the refusal of a shared-scope run whose rows would not fit the limit,
// with run's message.
func TestCheckSaysWhatRunDecides(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 1.5M readings twice")
	}
	ctx := context.Background()
	root := t.TempDir()
	in := filepath.Join(root, "in")
	// 1.5M readings of one double: 2 × 12 bytes a row as grouped is 36 MB,
	// more than a quarter of 64MiB (16 MiB), so the rows are spilled.
	if err := GenReadings(ctx, in, Readings{Bags: 3000, RowsPerBag: 500, Seed: 5, Files: 2, Shuffle: true}); err != nil {
		t.Fatal(err)
	}
	config := func(out, extra string) *Config {
		return readingsConfig(t, in, out, extra, fmt.Sprintf("{memory_limit: 64MiB, temp_dir: %q}", root))
	}

	t.Run("spilled", func(t *testing.T) {
		cfg := config(filepath.Join(root, "out-spill"), "")
		check, err := Check(ctx, cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		sum := mustRun(t, cfg, Options{})
		if sum.SpillPartitions < 2 || sum.Spilled == 0 {
			t.Fatalf("the run spilled %d bytes in %d partitions: the test needs a spilled run", sum.Spilled, sum.SpillPartitions)
		}
		if check.SpillPartitions != sum.SpillPartitions || check.Windows != 0 {
			t.Errorf("validate says %d partitions and %d windows, the run spilled in %d", check.SpillPartitions, check.Windows, sum.SpillPartitions)
		}
	})

	t.Run("fits", func(t *testing.T) {
		cfg := config(filepath.Join(root, "out-fits"), "")
		cfg.Run.MemoryLimit = 1 << 30
		check, err := Check(ctx, cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if check.SpillPartitions != 0 || check.Windows != 0 {
			t.Errorf("validate says %d partitions and %d windows under 1GiB, want neither", check.SpillPartitions, check.Windows)
		}
	})

	t.Run("shared", func(t *testing.T) {
		cfg := config(filepath.Join(root, "out-shared"), "  scope: shared\n  learn: [weights, mean]")
		_, checkErr := Check(ctx, cfg, Options{})
		_, runErr := Run(ctx, cfg, Options{})
		if checkErr == nil || runErr == nil {
			t.Fatalf("validate said %v and run %v; want both to refuse a shared fit of 1.5M rows under 64MiB", checkErr, runErr)
		}
		if checkErr.Error() != runErr.Error() || !strings.Contains(checkErr.Error(), "model.scope: shared") {
			t.Errorf("validate: %v\nrun:      %v\nwant the same refusal of model.scope: shared", checkErr, runErr)
		}
	})
}

// TestCheckCountsWindows: for a sorted input, validate gives the windows
// the run then reads.
func TestCheckCountsWindows(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		sc := genScaleCase(seed)
		if sc.name == "learned" {
			continue
		}
		slices.SortStableFunc(sc.rows, func(a, b scaleRow) int { return cmp.Compare(a.bag, b.bag) })
		t.Run(fmt.Sprintf("seed%d_%s", seed, sc.name), func(t *testing.T) {
			root := t.TempDir()
			in := filepath.Join(root, "in")
			sc.write(t, in, 1, 3+int(seed%9), false)
			cfg := sc.config(t, in, filepath.Join(root, "out"), false, 1, "")
			opts := Options{windowRows: int64(10 + seed*13)}
			check, err := Check(context.Background(), cfg, opts)
			if err != nil {
				t.Fatal(err)
			}
			sum := mustRun(t, cfg, opts)
			if sum.Windows < 2 || check.Windows != sum.Windows || check.SpillPartitions != 0 {
				t.Errorf("validate says %d windows (%d partitions), the run read %d; want several", check.Windows, check.SpillPartitions, sum.Windows)
			}
		})
	}
}
