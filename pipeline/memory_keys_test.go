package pipeline

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/mixbatch/mixbatch/readers"
)

// memRunner returns a runner of a Gaussian run over rows rows under
// memory_limit lim (a config value such as 128MiB), with string keys
// whose bag column takes keyBytes in the footers (over 4 units), and the
// buffer its logs go to.
func memRunner(t *testing.T, scope, lim string, rows, keyBytes int64) (*runner, *bytes.Buffer) {
	t.Helper()
	learn := "components:\n    - {name: idle, mean: 20, sd: 2}\n    - {name: working, mean: 35, sd: 3}"
	if scope == ScopeShared {
		learn = "learn: [weights, mean, sd]\n  components: [{name: idle}, {name: working}, {name: faulty}]"
	}
	cfg := mustLoad(t, fmt.Sprintf(`
input:
  paths: ["in.parquet"]
  bag: sensor
  value: value
model:
  scope: %s
  family: gaussian
  %s
run:
  memory_limit: %s
  temp_dir: %q
output:
  dir: out
`, scope, learn, lim, t.TempDir()))
	var logs bytes.Buffer
	r := newRunner(cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Workers: 2})
	r.plan = &plan{strKeys: true}
	for u := range 4 {
		r.plan.units = append(r.plan.units, unit{index: u, rows: rows / 4, keyBytes: keyBytes / 4})
	}
	r.sum.Rows = rows
	return r, &logs
}

// TestSpillCountsKeyBytes checks that the spill estimate counts the bytes
// of string bag keys: rows that fit half the budget alone are spilled when
// their keys take the rest, and not without the keys.
func TestSpillCountsKeyBytes(t *testing.T) {
	// 2 × 12 bytes a row: 48 MB of rows, between a quarter and a half
	// of 128 MiB.
	const rows = 2_000_000
	for _, tc := range []struct {
		keys  int64
		spill bool
	}{{0, false}, {1 << 20, false}, {200 << 20, true}} {
		r, logs := memRunner(t, ScopeBag, "128MiB", rows, tc.keys)
		sp, err := r.spiller()
		if err != nil {
			t.Fatal(err)
		}
		if sp != nil {
			if err := sp.remove(); err != nil {
				t.Fatal(err)
			}
		}
		if got := sp != nil; got != tc.spill {
			t.Errorf("keys of %d bytes: spilled %v, want %v (logs: %s)", tc.keys, got, tc.spill, logs)
		}
	}
	// Rows far below a quarter of the budget gain nothing from spilling,
	// whatever the keys.
	r, _ := memRunner(t, ScopeBag, "128MiB", 1000, 1<<30)
	if sp, err := r.spiller(); sp != nil || err != nil {
		t.Errorf("1000 rows with 1 GiB of keys: spiller %v, %v; want neither", sp, err)
	}
}

// TestWarnKeys checks that keys held beyond half the budget are warned
// about, once, with a human size.
func TestWarnKeys(t *testing.T) {
	r, logs := memRunner(t, ScopeBag, "64MiB", 100, 0)
	long := strings.Repeat("k", 1<<20)
	b := &bags{}
	for i := range 40 {
		b.strs = append(b.strs, fmt.Sprintf("%s%03d", long, i))
	}
	r.warnKeys(b)
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), `key_bytes="40 MiB"`) {
		t.Errorf("40 MiB of keys under 64MiB: logs %q, want a warning with key_bytes=\"40 MiB\"", logs)
	}
	logs.Reset()
	r.warnKeys(&bags{strs: b.strs[:20]})
	if logs.Len() != 0 {
		t.Errorf("20 MiB of keys under 64MiB: logs %q, want none", logs)
	}
}

// TestSharedRefusalHuman checks the refusal of a shared run that would
// spill: its estimate in human units, and no lower than the measured peak
// (3000 bags × 2000 readings, three components learned: 970 MiB, about 65
// MiB of it the process's fixed part).
func TestSharedRefusalHuman(t *testing.T) {
	r, _ := memRunner(t, ScopeShared, "128MiB", 6_000_000, 0)
	_, err := r.spiller()
	if err == nil {
		t.Fatal("no refusal")
	}
	msg := err.Error()
	t.Log(msg)
	if strings.Contains(msg, "KiB here") || !strings.Contains(msg, "about "+formatBytes(r.sharedBytes())+" here") {
		t.Errorf("message %q, want the estimate as %s", msg, formatBytes(r.sharedBytes()))
	}
	if !strings.Contains(msg, "run.memory_limit 128MiB allows") || !strings.Contains(msg, "not counting") {
		t.Errorf("message %q: want the limit in MiB and what the estimate leaves out", msg)
	}
	if got, want := r.sharedBytes(), int64(970-65)<<20; got < want*9/10 {
		t.Errorf("shared estimate %s for 6M rows, want about %s or more", formatBytes(got), formatBytes(want))
	}
}

// TestSharedWarnsOverBudget checks that a shared run whose rows fit half
// the budget but whose fit does not is warned about (not refused).
func TestSharedWarnsOverBudget(t *testing.T) {
	r, logs := memRunner(t, ScopeShared, "512MiB", 6_000_000, 0)
	if sp, err := r.spiller(); sp != nil || err != nil {
		t.Fatalf("spiller %v, %v; want neither", sp, err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "model.scope: shared") {
		t.Errorf("logs %q, want a warning about the shared fit", logs)
	}
}

// TestWarnLargeBag checks that a bag whose fit is expected to take more
// than the budget is warned about once, by name.
func TestWarnLargeBag(t *testing.T) {
	r, logs := memRunner(t, ScopeBag, "256MiB", 100, 0)
	small := &bags{ints: []int64{1, 2}, nobs: []int64{10, 1_000_000}}
	r.warnLargeBag(small) // 140 MB
	if logs.Len() != 0 {
		t.Errorf("a bag of 1M rows under 256MiB: logs %q, want none", logs)
	}
	big := &bags{ints: []int64{1, 7, 9}, nobs: []int64{10, 20_000_000, 5}}
	r.warnLargeBag(big)
	r.warnLargeBag(big)
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "bag=7") ||
		!strings.Contains(logs.String(), `estimate="2.6 GiB"`) {
		t.Errorf("a bag of 20M rows under 256MiB: logs %q, want one warning naming bag 7 with its estimate", logs)
	}
}

// TestKeyTableShares checks that long keys are held once for all the
// workers of a scan, and short ones copied.
func TestKeyTableShares(t *testing.T) {
	kt := &keyTable{keys: map[string]string{}}
	long := strings.Repeat("x", longKey)
	a, b := kt.clone(long), kt.clone(strings.Clone(long))
	if a != long || unsafe.StringData(a) != unsafe.StringData(b) || unsafe.StringData(a) == unsafe.StringData(long) {
		t.Errorf("long keys: not one copy of their own")
	}
	short := long[:longKey-1]
	if c := kt.clone(short); c != short || unsafe.StringData(c) == unsafe.StringData(short) || len(kt.keys) != 1 {
		t.Errorf("short keys: shared or not copied")
	}
	var none *keyTable
	if c := none.clone(long); c != long || unsafe.StringData(c) == unsafe.StringData(long) {
		t.Errorf("without a table: not copied")
	}
}

// TestLongKeysSameResults checks that long string keys (shared among
// workers, read in batches bounded in bytes) give the same output with
// one worker, two, and spilled.
func TestLongKeysSameResults(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	const nb, per = 60, 30
	var keys []string
	var vals []float64
	for i := range nb * per {
		keys = append(keys, fmt.Sprintf("%s-%03d", strings.Repeat("k", 3000), (i*37)%nb))
		vals = append(vals, 20+15*float64(rng.IntN(2))+2*rng.NormFloat64())
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.parquet")
	writeParquet(t, in, column("sensor", keys), column("value", vals))
	old := readers.BatchBytes
	readers.BatchBytes = 256 << 10 // batches of about 85 rows
	t.Cleanup(func() { readers.BatchBytes = old })
	var want []byte
	for _, tc := range []struct {
		workers, parts int
	}{{1, 0}, {2, 0}, {2, 3}} {
		out := filepath.Join(dir, fmt.Sprintf("out-%d-%d", tc.workers, tc.parts))
		cfg := mustLoad(t, fmt.Sprintf(`
input:
  paths: [%q]
  bag: sensor
  value: value
model:
  family: gaussian
  components:
    - {name: idle, mean: 20, sd: 2}
    - {name: working, mean: 35, sd: 3}
run:
  temp_dir: %q
output:
  dir: %q
`, in, dir, out))
		sum := mustRun(t, cfg, Options{Workers: tc.workers, spillPartitions: tc.parts})
		if sum.Bags != nb {
			t.Fatalf("%d bags, want %d", sum.Bags, nb)
		}
		var got []byte
		for _, table := range []string{WeightsTable, FitsTable} {
			b, err := os.ReadFile(filepath.Join(out, table, "part-00000.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, b...)
		}
		if want == nil {
			want = got
		} else if !bytes.Equal(got, want) {
			t.Errorf("%d workers, %d spill partitions: output differs from one worker's", tc.workers, tc.parts)
		}
	}
}
