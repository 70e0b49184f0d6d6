package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/em"
	"github.com/mixbatch/mixbatch/internal/flock"
	"github.com/mixbatch/mixbatch/writers"
)

// scaleCase is a random input for the tests of how a run reads: files split
// into many row groups, bags spread over all of them.
type scaleCase struct {
	name, model, value string
	rows               []scaleRow
}

type scaleRow struct {
	id, bag int64
	x, y    float64 // y: second value column (multivariate)
	n       float64 // count
	null    bool    // x is null
}

// genScaleCase makes 30 to 80 bags of 1 to 60 rows, shuffled, for one of
// the row families (the ones that can spill), with a few null values.
func genScaleCase(seed uint64) scaleCase {
	rng := rand.New(rand.NewPCG(seed, 0x5ca1e))
	cases := []scaleCase{
		{name: "gaussian", model: gaussianModel, value: "x"},
		{name: "poisson", model: poissonModel, value: "x"},
		{name: "learned", value: "x", model: `{family: gaussian, learn: [weights, mean, sd], components: [{name: a}, {name: b}]}`},
		{name: "mvn", value: "[x, y]", model: `{family: multivariate_gaussian, covariance: diag, learn: [weights, mean, cov], components: [{name: a}, {name: b}]}`},
	}
	sc := cases[int(seed)%len(cases)]
	nb := 30 + rng.IntN(51)
	var id int64
	for b := range nb {
		bag := int64(b*7 - 100) // negative keys too
		for range 1 + rng.IntN(60) {
			r := scaleRow{id: id, bag: bag, x: rng.NormFloat64()*2 + float64(rng.IntN(2))*4, y: rng.NormFloat64(), n: float64(1 + rng.IntN(3))}
			if sc.name == "poisson" {
				r.x = float64(poissonDraw(rng, 1+float64(rng.IntN(2))*5))
			}
			r.null = rng.IntN(40) == 0
			sc.rows = append(sc.rows, r)
			id++
		}
	}
	rng.Shuffle(len(sc.rows), func(i, j int) { sc.rows[i], sc.rows[j] = sc.rows[j], sc.rows[i] })
	return sc
}

// write writes the rows as files Parquet files of row groups of rg rows
// (or Arrow IPC files when ipc is set: no statistics, one unit per file).
func (sc scaleCase) write(t *testing.T, dir string, files, rg int, ipc bool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	for f := range files {
		ids, bags := array.NewInt64Builder(mem), array.NewInt64Builder(mem)
		var xs, ys, ns array.Builder = array.NewFloat64Builder(mem), array.NewFloat64Builder(mem), array.NewFloat64Builder(mem)
		if sc.name == "poisson" {
			xs = array.NewInt64Builder(mem)
		}
		for i := f; i < len(sc.rows); i += files {
			r := sc.rows[i]
			ids.Append(r.id)
			bags.Append(r.bag)
			switch b := xs.(type) {
			case *array.Int64Builder:
				if r.null {
					b.AppendNull()
				} else {
					b.Append(int64(r.x))
				}
			case *array.Float64Builder:
				if r.null {
					b.AppendNull()
				} else {
					b.Append(r.x)
				}
			}
			ys.(*array.Float64Builder).Append(r.y)
			ns.(*array.Float64Builder).Append(r.n)
		}
		cols := []arrow.Array{ids.NewArray(), bags.NewArray(), xs.NewArray(), ys.NewArray(), ns.NewArray()}
		var fields []arrow.Field
		for i, name := range []string{"id", "bag", "x", "y", "n"} {
			fields = append(fields, arrow.Field{Name: name, Type: cols[i].DataType(), Nullable: true})
		}
		rec := array.NewRecord(arrow.NewSchema(fields, nil), cols, int64(cols[0].Len()))
		for _, c := range cols {
			c.Release()
		}
		path := filepath.Join(dir, fmt.Sprintf("part-%d.parquet", f))
		var err error
		if ipc {
			path = filepath.Join(dir, fmt.Sprintf("part-%d.arrow", f))
			err = writeArrowFile(path, rec)
		} else {
			err = writers.WriteFile(path, rec.Schema(), []arrow.Record{rec}, writers.Options{RowGroupRows: int64(rg)})
		}
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// config is the case's run over in, writing out; counts adds the count
// column (fractional counts: their sums depend on the order of the rows).
func (sc scaleCase) config(t *testing.T, in, out string, counts bool, workers int, extra string) *Config {
	t.Helper()
	count := ""
	if counts {
		count = ", count: n"
	}
	return mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: %s%s, keep: [id], nulls: drop}
model: %s
output: {dir: %q, posteriors: true}
run: {workers: %d, on_error: skip%s}
em: {restarts: 2, seed: 3}
`, in, sc.value, count, sc.model, out, workers, extra))
}

// TestSpillMatchesInMemory: a run whose rows are spilled to partitions and
// fitted partition by partition writes exactly (bit for bit) the tables of
// a run that holds every row in memory, for every row family, with and
// without (fractional) counts, for any number of partitions and workers;
// and it leaves nothing in run.temp_dir.
func TestSpillMatchesInMemory(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		sc := genScaleCase(seed)
		counts := seed%3 == 0 && sc.name != "learned"
		t.Run(fmt.Sprintf("seed%d_%s_counts=%v", seed, sc.name, counts), func(t *testing.T) {
			root := t.TempDir()
			in := filepath.Join(root, "in")
			sc.write(t, in, 1+int(seed%3), 5+int(seed*7%50), false)
			ref := filepath.Join(root, "ref")
			refSum := mustRun(t, sc.config(t, in, ref, counts, 1, ""), Options{})
			if refSum.Spilled != 0 || refSum.SpillPartitions != 0 {
				t.Fatalf("the reference run spilled %d bytes", refSum.Spilled)
			}
			tmp := filepath.Join(root, "tmp")
			if err := os.Mkdir(tmp, 0o755); err != nil {
				t.Fatal(err)
			}
			parts := 1 + int(seed%5)
			out := filepath.Join(root, "out")
			sum := mustRun(t, sc.config(t, in, out, counts, 1+int(seed%3), fmt.Sprintf(", temp_dir: %q", tmp)), Options{spillPartitions: parts})
			if sum.SpillPartitions != parts || sum.Spilled <= 0 {
				t.Errorf("spilled %d bytes in %d partitions, want > 0 in %d", sum.Spilled, sum.SpillPartitions, parts)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("run.temp_dir holds %d entries after the run, want none", len(left))
			}
			for _, tb := range []string{WeightsTable, FitsTable, PosteriorsTable} {
				assertSameTables(t, tb, readTable(t, ref, tb), readTable(t, out, tb))
			}
			if refSum.Bags != sum.Bags || refSum.BagsFailed != sum.BagsFailed || refSum.RowsDropped != sum.RowsDropped {
				t.Errorf("summaries differ: %+v vs %+v", refSum, sum)
			}
		})
	}
}

// assertSameTables checks that two tables are equal cell for cell, NaN
// equal to NaN.
func assertSameTables(t *testing.T, name string, want, got *table) {
	t.Helper()
	if want.len() != got.len() || len(want.cols) != len(got.cols) {
		t.Fatalf("%s: %d rows and %d columns, want %d and %d", name, got.len(), len(got.cols), want.len(), len(want.cols))
	}
	for c, wv := range want.cols {
		gv := got.cols[c]
		for i := range wv {
			if !sameCell(wv[i], gv[i]) {
				t.Errorf("%s: column %s row %d = %v, want %v", name, c, i, gv[i], wv[i])
				break
			}
		}
	}
}

func sameCell(a, b any) bool {
	if x, ok := a.(float64); ok {
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	}
	return reflect.DeepEqual(a, b)
}

// TestUnitsDoNotChangeResults: how the input is cut (one row group per
// file, row groups of a few rows, Arrow IPC files without statistics, so
// that bag keys go through the hash maps instead of the dense index) and
// how many workers read it change nothing in the output.
func TestUnitsDoNotChangeResults(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		sc := genScaleCase(seed)
		t.Run(fmt.Sprintf("seed%d_%s", seed, sc.name), func(t *testing.T) {
			root := t.TempDir()
			whole, cut, ipc := filepath.Join(root, "whole"), filepath.Join(root, "cut"), filepath.Join(root, "ipc")
			sc.write(t, whole, 2, 1<<20, false)
			sc.write(t, cut, 2, 3, false)
			sc.write(t, ipc, 2, 0, true)
			ref := filepath.Join(root, "ref")
			mustRun(t, sc.config(t, whole, ref, false, 1, ""), Options{})
			for _, c := range []struct {
				in      string
				workers int
			}{{cut, 1}, {cut, 3}, {ipc, 2}, {whole, 2}} {
				out := filepath.Join(root, fmt.Sprintf("out-%s-%d", filepath.Base(c.in), c.workers))
				mustRun(t, sc.config(t, c.in, out, false, c.workers, ""), Options{})
				for _, tb := range []string{WeightsTable, FitsTable} {
					assertSameTables(t, tb, readTable(t, ref, tb), readTable(t, out, tb))
				}
			}
		})
	}
}

// TestSpillRemovedOnFailure: spill files go when a run fails on a bad row
// or is cancelled while it reads, and a spill folder left by a run that
// died (its lock free) is removed by the next run, while a live run's
// (lock held) is left alone.
func TestSpillRemovedOnFailure(t *testing.T) {
	sc := genScaleCase(1)
	root := t.TempDir()
	in := filepath.Join(root, "in")
	sc.write(t, in, 2, 10, false)
	tmp := filepath.Join(root, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	dead, live := filepath.Join(tmp, spillPrefix+"dead"), filepath.Join(tmp, spillPrefix+"live")
	for _, d := range []string{dead, live} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		lf, err := flock.Open(filepath.Join(d, lockName), true)
		if err != nil {
			t.Fatal(err)
		}
		if d == dead {
			if err := lf.Close(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		defer lf.Close()
	}

	// A run that fails on the null values (input.nulls: error, on_error: fail).
	cfg := sc.config(t, in, filepath.Join(root, "out"), false, 2, fmt.Sprintf(", temp_dir: %q", tmp))
	cfg.Input.Nulls, cfg.Run.OnError = NullsError, OnErrorFail
	if _, err := Run(context.Background(), cfg, Options{spillPartitions: 3}); err == nil {
		t.Fatal("the run with null values succeeded")
	}
	assertOnly(t, tmp, filepath.Base(live))

	// A run cancelled while it reads.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg = sc.config(t, in, filepath.Join(root, "out"), false, 2, fmt.Sprintf(", temp_dir: %q", tmp))
	_, err := Run(ctx, cfg, Options{spillPartitions: 3, Progress: func(stage string, _, _ int64) {
		if stage == "read" {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v, want context.Canceled", err)
	}
	assertOnly(t, tmp, filepath.Base(live))
	if _, err := os.Stat(filepath.Join(root, "out")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed run wrote output.dir: %v", err)
	}
}

// TestSpillRemovedBeforeWriting: the spill folder is removed as soon as
// the fit has read it, before the output is written (posteriors/ is the
// largest table), so that the two need not fit on one disk at once. It
// used to stay until the run ended: 69 MiB of spill next to 202 MiB of
// output failed a run on a 240 MiB filesystem.
func TestSpillRemovedBeforeWriting(t *testing.T) {
	sc := genScaleCase(1)
	root := t.TempDir()
	in := filepath.Join(root, "in")
	sc.write(t, in, 2, 10, false)
	tmp := filepath.Join(root, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := sc.config(t, in, filepath.Join(root, "out"), false, 2, fmt.Sprintf(", temp_dir: %q", tmp))
	var mu sync.Mutex
	spilledAtWrite, writes := -1, 0
	sum, err := Run(context.Background(), cfg, Options{spillPartitions: 3, Progress: func(stage string, _, _ int64) {
		if stage != "posteriors" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		writes++
		if spilledAtWrite < 0 {
			left, _ := filepath.Glob(filepath.Join(tmp, spillPrefix+"*"))
			spilledAtWrite = len(left)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Spilled == 0 || writes == 0 {
		t.Fatalf("spilled %d bytes, %d posteriors progress calls: the test needs both", sum.Spilled, writes)
	}
	if spilledAtWrite != 0 {
		t.Errorf("%d spill folders while writing posteriors/, want 0", spilledAtWrite)
	}
	assertOnly(t, tmp)
}

// assertOnly checks that dir holds exactly the entries names.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

// TestMemoMatchesFreshFit: a worker remembers the fits of discrete bags by
// their aggregated data; every bag's numbers must be those of a fresh
// em.Fitter and em.Uncertainty on that bag alone.
func TestMemoMatchesFreshFit(t *testing.T) {
	root := t.TempDir()
	in := filepath.Join(root, "in")
	rng := rand.New(rand.NewPCG(7, 7))
	var bags, reds []int64
	for b := range 3000 {
		n := 1 + rng.IntN(12) // few distinct (red, n) pairs: many repeats
		for range n {
			bags = append(bags, int64(b))
			reds = append(reds, int64(rng.IntN(2)))
		}
	}
	writeParquet(t, filepath.Join(in, "a.parquet"), column("bag", bags), column("red", reds))
	cfg := mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: red}
model: {family: bernoulli, components: [{name: f1, p: 0.8}, {name: f2, p: 0.3}, {name: f3, p: 0.55}]}
output: {dir: %q}
`, in, filepath.Join(root, "out")))
	mustRun(t, cfg, Options{})
	fits, weights := readTable(t, filepath.Join(root, "out"), FitsTable), readTable(t, filepath.Join(root, "out"), WeightsTable)
	comps := []em.LogProber{distuv.Bernoulli{P: 0.8}, distuv.Bernoulli{P: 0.3}, distuv.Bernoulli{P: 0.55}}
	m := newModel(cfg)
	counts := map[int64][2]float64{}
	for i, b := range bags {
		c := counts[b]
		c[reds[i]]++
		counts[b] = c
	}
	for i, bv := range fits.cols["bag"] {
		c := counts[bv.(int64)]
		var xs, cs []float64
		for code, n := range c {
			if n > 0 {
				xs, cs = append(xs, float64(code)), append(cs, n)
			}
		}
		var fitter em.Fitter
		res, err := fitter.Fit(em.Table(nil, xs, comps), cs, 3, m.settings)
		if err != nil {
			t.Fatal(err)
		}
		var unc em.Uncertainty
		se, err := unc.WeightStdErrors(nil, em.Table(nil, xs, comps), cs, 3, res.Weights)
		if err != nil {
			t.Fatal(err)
		}
		if fits.cols["log_likelihood"][i] != res.LogLikelihood || fits.cols["iterations"][i] != int64(res.Iterations) {
			t.Fatalf("bag %v: log-likelihood %v, iterations %v; a fresh fit gives %v, %d", bv, fits.cols["log_likelihood"][i], fits.cols["iterations"][i], res.LogLikelihood, res.Iterations)
		}
		for k := range 3 {
			if w := weights.cols["weight"][3*i+k]; w != res.Weights[k] {
				t.Fatalf("bag %v component %d: weight %v, a fresh fit %v", bv, k, w, res.Weights[k])
			}
			if s := weights.cols["std_error"][3*i+k]; !sameCell(s, se[k]) && !(s == nil && math.IsNaN(se[k])) {
				t.Fatalf("bag %v component %d: std_error %v, a fresh fit %v", bv, k, s, se[k])
			}
		}
	}
}

// TestWindowsMatchInMemory: an input sorted by bag is read and fitted
// window by window (a few rows each here, so that bags span row groups and
// windows cut through units), and the tables are exactly those of a run
// that holds every row at once.
func TestWindowsMatchInMemory(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		sc := genScaleCase(seed)
		slices.SortStableFunc(sc.rows, func(a, b scaleRow) int { return cmp.Compare(a.bag, b.bag) })
		counts := seed%2 == 0 && sc.name != "learned"
		t.Run(fmt.Sprintf("seed%d_%s_counts=%v", seed, sc.name, counts), func(t *testing.T) {
			root := t.TempDir()
			in := filepath.Join(root, "in")
			// One file: rows sorted across files would need the files
			// to hold consecutive bags.
			sc.write(t, in, 1, 3+int(seed%9), false)
			ref := filepath.Join(root, "ref")
			refSum := mustRun(t, sc.config(t, in, ref, counts, 2, ""), Options{windowRows: 1 << 40})
			if refSum.Windows != 0 {
				t.Fatalf("the reference run read %d windows", refSum.Windows)
			}
			out := filepath.Join(root, "out")
			sum := mustRun(t, sc.config(t, in, out, counts, 1+int(seed%3), ""), Options{windowRows: int64(10 + seed*13)})
			if sum.Windows < 2 {
				t.Errorf("read in %d windows, want several", sum.Windows)
			}
			for _, tb := range []string{WeightsTable, FitsTable, PosteriorsTable} {
				assertSameTables(t, tb, readTable(t, ref, tb), readTable(t, out, tb))
			}
			if refSum.Bags != sum.Bags || refSum.BagsFailed != sum.BagsFailed || refSum.RowsDropped != sum.RowsDropped {
				t.Errorf("summaries differ: %+v vs %+v", refSum, sum)
			}
		})
	}
}

// TestOutputCompression: output.compression is the codec of every column
// chunk of every output table (snappy when unset).
func TestOutputCompression(t *testing.T) {
	sc := genScaleCase(1)
	root := t.TempDir()
	in := filepath.Join(root, "in")
	sc.write(t, in, 1, 100, false)
	for codec, want := range map[string]compress.Compression{"": compress.Codecs.Snappy, "zstd": compress.Codecs.Zstd, "none": compress.Codecs.Uncompressed} {
		out := filepath.Join(root, "out-"+codec)
		cfg := sc.config(t, in, out, false, 2, "")
		if codec != "" {
			cfg.Output.Compression = codec
		}
		mustRun(t, cfg, Options{})
		for _, tb := range []string{WeightsTable, FitsTable, PosteriorsTable} {
			parts, err := filepath.Glob(filepath.Join(out, tb, "*.parquet"))
			if err != nil || len(parts) == 0 {
				t.Fatalf("%s: no part files (%v)", tb, err)
			}
			for _, part := range parts {
				f, err := file.OpenParquetFile(part, false)
				if err != nil {
					t.Fatal(err)
				}
				md := f.MetaData()
				for g := range f.NumRowGroups() {
					for c := range md.Schema.NumColumns() {
						cc, err := md.RowGroup(g).ColumnChunk(c)
						if err != nil {
							t.Fatal(err)
						}
						if cc.Compression() != want {
							t.Errorf("compression %q: %s column %d is %v, want %v", codec, part, c, cc.Compression(), want)
						}
					}
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestOnesIn checks the bitmap population count against counting bit by
// bit, over every range of a random bitmap.
func TestOnesIn(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 40)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for lo := 0; lo <= 8*len(b); lo++ {
		want := 0
		for hi := lo; hi <= 8*len(b); hi++ {
			if got := onesIn(b, lo, hi); got != want {
				t.Fatalf("onesIn(%d, %d) = %d, want %d", lo, hi, got, want)
			}
			if hi < 8*len(b) {
				want += int(b[hi>>3] >> (hi & 7) & 1)
			}
		}
	}
}

// TestBoolBitsMatchRows: bernoulli values counted straight from a bool
// column's bitmap (countsBits) give the tables that the same values as
// integers (the row-by-row coding) give, on clustered and shuffled rows
// cut into row groups that split bags.
func TestBoolBitsMatchRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var bags []int64
	var reds []bool
	for b := range 400 {
		for range 1 + rng.IntN(30) {
			bags = append(bags, int64(b))
			reds = append(reds, rng.IntN(3) == 0)
		}
	}
	for _, shuffle := range []bool{false, true} {
		if shuffle {
			rng.Shuffle(len(bags), func(i, j int) { bags[i], bags[j] = bags[j], bags[i]; reds[i], reds[j] = reds[j], reds[i] })
		}
		root := t.TempDir()
		ints := make([]int64, len(reds))
		for i, r := range reds {
			if r {
				ints[i] = 1
			}
		}
		writeParquet(t, filepath.Join(root, "bool", "a.parquet"), column("bag", bags), column("red", reds))
		writeParquet(t, filepath.Join(root, "int", "a.parquet"), column("bag", bags), column("red", ints))
		for _, in := range []string{"bool", "int"} {
			mustRun(t, mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: red}
model: {family: bernoulli, components: [{name: f1, p: 0.8}, {name: f2, p: 0.3}]}
output: {dir: %q}
run: {workers: 3}
`, filepath.Join(root, in), filepath.Join(root, "out-"+in))), Options{})
		}
		for _, tb := range []string{WeightsTable, FitsTable} {
			assertSameTables(t, tb, readTable(t, filepath.Join(root, "out-int"), tb), readTable(t, filepath.Join(root, "out-bool"), tb))
		}
	}
}

// TestSortFloats checks the sort by bits against slices.Sort on random
// finite values of every sign and scale, zeros of both signs included
// (which may come in either order: the float order calls them equal).
func TestSortFloats(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	var w worker
	for trial := range 500 {
		n := rng.IntN(300)
		xs := make([]float64, n)
		for i := range xs {
			switch rng.IntN(6) {
			case 0:
				xs[i] = math.Copysign(0, float64(rng.IntN(2)*2-1))
			case 1:
				xs[i] = math.Float64frombits(rng.Uint64() & (1<<52 - 1)) // subnormal
			case 2:
				xs[i] = (rng.Float64() - 0.5) * 1e300
			default:
				xs[i] = rng.NormFloat64() * 10
			}
		}
		want := slices.Clone(xs)
		slices.Sort(want)
		w.xs = append(w.xs[:0], xs...)
		w.sortFloats()
		for i := range want {
			if w.xs[i] != want[i] || (w.xs[i] != 0 && math.Signbit(w.xs[i]) != math.Signbit(want[i])) {
				t.Fatalf("trial %d: sorted[%d] = %v, want %v", trial, i, w.xs[i], want[i])
			}
		}
	}
}

// TestWrongStatistics: an input read window by window relies on each row
// group's key statistics; when a row group holds a key outside them (here
// the plan is told a narrower range than the file's), the run notices,
// reads the input whole instead, and writes the tables of a run that never
// used windows.
func TestWrongStatistics(t *testing.T) {
	sc := genScaleCase(1)
	slices.SortStableFunc(sc.rows, func(a, b scaleRow) int { return cmp.Compare(a.bag, b.bag) })
	root := t.TempDir()
	in := filepath.Join(root, "in")
	sc.write(t, in, 1, 50, false)
	ref := filepath.Join(root, "ref")
	mustRun(t, sc.config(t, in, ref, false, 2, ""), Options{windowRows: 1 << 40})
	out := filepath.Join(root, "out")
	lied := false
	sum := mustRun(t, sc.config(t, in, out, false, 2, ""), Options{windowRows: 200, replan: func(p *plan) {
		if !p.sorted || len(p.units) < 4 {
			t.Fatalf("the input is not planned as sorted in several row groups (%d)", len(p.units))
		}
		u := &p.units[len(p.units)/2]
		if u.hi > u.lo {
			u.hi-- // its largest key is now outside its statistics
			lied = true
		}
	}})
	if !lied {
		t.Fatal("no row group to tamper with")
	}
	if sum.Windows != 0 {
		t.Errorf("the run kept its %d windows", sum.Windows)
	}
	for _, tb := range []string{WeightsTable, FitsTable, PosteriorsTable} {
		assertSameTables(t, tb, readTable(t, ref, tb), readTable(t, out, tb))
	}
}

// TestWindowFailure: a bag that cannot be fitted in the first window of a
// sorted input (the next window being read meanwhile, which must stop) or
// in the last (read while the windows before were fitted) stops the run
// with an error that names its file, column, row and bag, and leaves the
// earlier output as it was; with on_error: skip the same input gives
// exactly the tables of a run without windows.
func TestWindowFailure(t *testing.T) {
	base := genScaleCase(4)
	if base.name != "gaussian" {
		t.Fatalf("case %s, want gaussian", base.name)
	}
	slices.SortStableFunc(base.rows, func(a, b scaleRow) int { return cmp.Compare(a.bag, b.bag) })
	for _, where := range []string{"first", "last"} {
		t.Run(where, func(t *testing.T) {
			sc := base
			sc.rows = slices.Clone(base.rows)
			root := t.TempDir()
			good, bad := filepath.Join(root, "good"), filepath.Join(root, "bad")
			sc.write(t, good, 1, 7, false)
			// A row of zero density under both components.
			row := 0
			if where == "last" {
				row = len(sc.rows) - 1
			}
			r := &sc.rows[row]
			r.x, r.null = -1e300, false
			sc.write(t, bad, 1, 7, false)
			out := filepath.Join(root, "out")
			conf := func(in, policy string) *Config {
				return mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: x, keep: [id], nulls: drop}
model: %s
output: {dir: %q, posteriors: true, overwrite: true}
run: {workers: 2, on_error: %s}
`, in, sc.model, out, policy))
			}
			mustRun(t, conf(good, "fail"), Options{windowRows: 40})
			before := snapshot(t, out)
			_, err := Run(context.Background(), conf(bad, "fail"), Options{windowRows: 40})
			wantInputError(t, err, "part-0.parquet", "x", int64(row), strconv.FormatInt(r.bag, 10), "-1e+300", "zero density under every component")
			if after := snapshot(t, out); !maps.EqualFunc(before, after, bytes.Equal) {
				t.Error("the failed run changed the earlier output")
			}

			ref := filepath.Join(root, "ref")
			refConf := conf(bad, "skip")
			refConf.Output.Dir = ref
			refSum := mustRun(t, refConf, Options{windowRows: 1 << 40})
			sum := mustRun(t, conf(bad, "skip"), Options{windowRows: 40})
			if sum.Windows < 3 || refSum.Windows != 0 || sum.BagsFailed != 1 || refSum.BagsFailed != 1 {
				t.Fatalf("windows %d and %d, failed bags %d and %d; want several and 0, 1 and 1", sum.Windows, refSum.Windows, sum.BagsFailed, refSum.BagsFailed)
			}
			for _, tb := range []string{WeightsTable, FitsTable, PosteriorsTable} {
				assertSameTables(t, tb, readTable(t, ref, tb), readTable(t, out, tb))
			}
		})
	}
}
