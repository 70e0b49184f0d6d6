package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestLargeUnitNotWindowed: under run.memory_limit, a sorted input whose
// units (row groups) hold more than windowUnits windows' rows is not read
// window by window, since a window holds whole units and could not keep to
// the budget. An input of one row group, sorted or not (one unit is
// always "sorted"), was read as a single window that held every row: 260
// MiB under 64MiB for 6M readings, where spilling is bounded. Row groups of
// a few windows' rows are still read window by window, and the results
// are the same bit for bit every way.
func TestLargeUnitNotWindowed(t *testing.T) {
	root := t.TempDir()
	var bag []int64
	var val []float64
	for i := range 3000 {
		bag = append(bag, int64(i/10)) // sorted: 300 bags of 10
		val = append(val, 20+float64((i*7919)%23))
	}
	in := filepath.Join(root, "in")
	writeParquet(t, filepath.Join(in, "part-0.parquet"), column("bag", bag), column("v", val)) // 3 row groups of 1000
	config := func(name, limit string) *Config {
		return mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: v}
model:
  family: gaussian
  components: [{name: a, mean: 20, sd: 2}, {name: b, mean: 30, sd: 3}]
output: {dir: %q}
run: {temp_dir: %q%s}
`, in, filepath.Join(root, name), root, limit))
	}
	mustRun(t, config("ref", ""), Options{windowRows: 1 << 40})
	ref := readTable(t, filepath.Join(root, "ref"), "weights")
	for _, tc := range []struct {
		name        string
		windowRows  int64
		wantWindows int
	}{
		{"units of 10 windows", 100, 0},     // 1000 > 4*100: not windowed
		{"units of 3.3 windows", 300, 3},    // 1000 <= 4*300: a window a unit
		{"units of half a window", 2000, 2}, // two units a window
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(fmt.Sprint("out-", tc.windowRows), ", memory_limit: 64MiB")
			r := newRunner(cfg, Options{windowRows: tc.windowRows})
			if err := r.planInputs(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !r.plan.sorted {
				t.Fatal("the input is not planned as sorted")
			}
			check, err := Check(t.Context(), cfg, Options{windowRows: tc.windowRows})
			if err != nil {
				t.Fatal(err)
			}
			if check.Windows != tc.wantWindows {
				t.Errorf("validate says %d windows; want %d", check.Windows, tc.wantWindows)
			}
			sum := mustRun(t, cfg, Options{windowRows: tc.windowRows})
			if sum.Windows != tc.wantWindows {
				t.Errorf("read in %d windows; want %d, as validate says", sum.Windows, tc.wantWindows)
			}
			got := readTable(t, cfg.Output.Dir, "weights")
			if !reflect.DeepEqual(got.cols, ref.cols) {
				t.Error("weights differ from the run without a memory limit")
			}
		})
	}
	// Without run.memory_limit there is no budget to keep to: a large unit
	// is windowed as before.
	cfg := config("out-nolimit", "")
	if sum := mustRun(t, cfg, Options{windowRows: 100}); sum.Windows != 3 {
		t.Errorf("without a memory limit: read in %d windows; want 3", sum.Windows)
	}
}

// TestSpillFlushKeepsRowOrder: a worker spills a unit's rows as they
// are read (spiller.flush), so one unit's rows of one partition may be in
// many segments; loading a partition must give each bag's rows in the
// order they were read, whatever order the workers wrote the units in, or
// a bag's sums (and so its fit) would differ in the last bits from a run
// that did not spill. The segments were ordered by an unstable sort on
// (partition, unit), which is only correct with one segment a unit and
// partition.
func TestSpillFlushKeepsRowOrder(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sp, err := newSpiller(t.TempDir(), 2, 1, 1, false, memory.NewGoAllocator(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sp.remove(); err != nil {
			t.Error(err)
		}
	}()
	// Worker 0 has three bags: ids 0 and 1 in partition 0, id 2 in 1.
	s := &scanner{dim: 1, worker: 0, part: []uint16{0, 0, 1}}
	want := map[int32][]float64{}
	// Units in reverse order, as a worker may take them; unit 1 is long
	// and spilled a few rows at a time.
	for _, u := range []int{2, 1, 0} {
		rows := 3
		if u == 1 {
			rows = 200
		}
		s.cur = rowChunk{unit: u}
		for r := range rows {
			id := int32(r % 3)
			v := float64(u*1000 + r)
			s.cur.ids = append(s.cur.ids, id)
			s.cur.vals = append(s.cur.vals, v)
			if err := sp.flush(s, 2); err != nil {
				t.Fatal(err)
			}
		}
		if err := sp.flush(s, 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []int{0, 1, 2} { // plan order
		rows := 3
		if u == 1 {
			rows = 200
		}
		for r := range rows {
			id := int32(r % 3)
			want[id] = append(want[id], float64(u*1000+r))
		}
	}
	if err := sp.finish(); err != nil {
		t.Fatal(err)
	}
	sp.remap = [][]int32{{0, 1, 2}}
	b := &bags{ints: []int64{10, 11, 12}, part: []uint16{0, 0, 1}}
	for id := range want {
		b.nobs = append(b.nobs, int64(len(want[int32(id)])))
	}
	for q := range 2 {
		todo, err := sp.load(t.Context(), q, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range todo {
			got := b.vals[b.start[g]:b.start[g+1]]
			if !reflect.DeepEqual(got, want[g]) {
				t.Errorf("partition %d, bag %d: rows %v; want them in read order %v", q, g, got, want[g])
			}
		}
	}
}

// TestWarnManyShortKeys: many short string keys cost far more than their
// bytes (each key's headers and map entries, about 90 bytes a key with
// two workers: 1.5M keys of 11 bytes took 138 MiB more than integer keys
// under 64MiB), which run.memory_limit does not bound either. warnKeys
// counted only the bytes, so 1.5M such keys (16 MiB of bytes) were not
// warned about under 64MiB.
func TestWarnManyShortKeys(t *testing.T) {
	r, logs := memRunner(t, ScopeBag, "64MiB", 100, 0)
	b := &bags{}
	for i := range 600_000 {
		b.strs = append(b.strs, fmt.Sprintf("k%07d", i)) // 8 bytes: 4.6 MiB
	}
	r.warnKeys(b)
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("600k keys of 8 bytes under 64MiB: logs %q, want a warning", logs)
	}
	logs.Reset()
	r.warnKeys(&bags{strs: b.strs[:100_000]})
	if logs.Len() != 0 {
		t.Errorf("100k keys of 8 bytes under 64MiB: logs %q, want none", logs)
	}
}

// TestSpillLargeUnitMatchesInMemory: a large unit (one row group of 1.5M
// readings) is read and spilled a batch of flushRows at a time, several
// segments of a partition per unit,
// and the tables are those of a run that holds every row, bit for bit.
// Before the scanner flushed batch by batch, a worker gathered the whole
// unit first (329 MiB under 64MiB for two row groups of 3M readings).
func TestSpillLargeUnitMatchesInMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 1.5M readings twice")
	}
	root := t.TempDir()
	in := filepath.Join(root, "in")
	if err := GenReadings(context.Background(), in, Readings{Bags: 3000, RowsPerBag: 500, Seed: 9, Files: 1, Shuffle: true, RowGroupRows: 1 << 21}); err != nil {
		t.Fatal(err)
	}
	config := func(out string) *Config {
		return readingsConfig(t, in, out, "", fmt.Sprintf("{temp_dir: %q}", root))
	}
	ref := filepath.Join(root, "ref")
	if sum := mustRun(t, config(ref), Options{}); sum.Spilled != 0 {
		t.Fatalf("the reference run spilled %d bytes", sum.Spilled)
	}
	out := filepath.Join(root, "out")
	// One unit, read in batches of the flush size and spilled batch by
	// batch: a dozen flushes.
	sum := mustRun(t, config(out), Options{spillPartitions: 3, spillFlushRows: 1 << 17, replan: func(p *plan) {
		if len(p.units) != 1 || p.units[0].rows <= 4<<17 {
			t.Errorf("%d units, the first of %d rows: the test needs one unit of several flushes", len(p.units), p.units[0].rows)
		}
	}})
	if sum.Spilled == 0 || sum.SpillPartitions != 3 {
		t.Fatalf("spilled %d bytes in %d partitions, want some in 3", sum.Spilled, sum.SpillPartitions)
	}
	for _, tb := range []string{WeightsTable, FitsTable} {
		assertSameTables(t, tb, readTable(t, ref, tb), readTable(t, out, tb))
	}
}

// TestWarnCategoricalCounts: a categorical run keeps, in each worker, a
// float64 per bag and label, which run.memory_limit does not bound (500k
// bags of 100 labels took 1.2 GiB under 64MiB, without a word); the run
// warns when they took more than half of the limit: 8 bytes × 100 labels
// × 2 workers is 1,600 bytes a bag, so 30,000 bags (46 MiB) are warned
// about under 64MiB and 10,000 (15 MiB) are not.
func TestWarnCategoricalCounts(t *testing.T) {
	var probs strings.Builder
	for i := range 100 {
		if i > 0 {
			probs.WriteString(", ")
		}
		fmt.Fprintf(&probs, "l%d: 0.01", i)
	}
	cfg := mustLoad(t, fmt.Sprintf(`
input: {paths: ["in.parquet"], bag: shop, value: label}
model:
  family: categorical
  components:
    - {name: a, probs: {%s}}
    - {name: b, probs: {%s}}
run: {memory_limit: 64MiB}
output: {dir: out}
`, probs.String(), probs.String()))
	var logs strings.Builder
	r := newRunner(cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Workers: 2})
	r.plan = &plan{units: []unit{{index: 0}, {index: 1}}}
	if !cfg.aggregates(r.model, r.plan) {
		t.Fatal("a categorical run without counts should keep counts")
	}
	for _, c := range []struct {
		bags int
		warn bool
	}{{30_000, true}, {10_000, false}} {
		logs.Reset()
		b := &bags{ints: make([]int64, c.bags), nobs: make([]int64, c.bags)}
		r.warnCounts(b)
		if got := strings.Contains(logs.String(), "level=WARN"); got != c.warn {
			t.Errorf("%d bags of 100 labels under 64MiB: logs %q, want a warning: %v", c.bags, logs.String(), c.warn)
		}
	}
}
