package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// marblesConfig is the textbook run over in, writing to out.
func marblesConfig(in, out, extra string) string {
	return fmt.Sprintf(`
input:
  paths: [%q]
  bag: bag_id
  value: red
%s
model:
  family: bernoulli
  components:
    - {name: factory1, p: 0.8}
    - {name: factory2, p: 0.3}
output:
  dir: %q
  posteriors: true
`, in, extra, out)
}

// genMarbles writes textbook data and returns its folder.
func genMarbles(t *testing.T, g Marbles) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "marbles")
	if err := GenMarbles(context.Background(), dir, g); err != nil {
		t.Fatal(err)
	}
	return dir
}

// redCounts returns, per bag key, the number of marbles and of red ones,
// read straight from the input files.
func redCounts(t *testing.T, dir string) map[int64][2]float64 {
	in := readTable(t, dir, "")
	out := map[int64][2]float64{}
	for i := 0; i < in.len(); i++ {
		b := in.cols["bag_id"][i].(int64)
		n := 1.0
		if c, ok := in.cols["n"]; ok {
			n = float64(c[i].(int64))
		}
		c := out[b]
		c[0] += n
		if in.cols["red"][i].(bool) {
			c[1] += n
		}
		out[b] = c
	}
	return out
}

// weightsByBag indexes a weights table: bag key (rendered) -> component -> weight.
func weightsByBag(tb *table, bag string) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for i := 0; i < tb.len(); i++ {
		k := fmt.Sprint(tb.cols[bag][i])
		if out[k] == nil {
			out[k] = map[string]float64{}
		}
		out[k][tb.cols["component"][i].(string)] = tb.cols["weight"][i].(float64)
	}
	return out
}

// TestTextbookClosedForm runs the textbook example end to end and checks
// every bag against the closed form of the two-Bernoulli MLE,
// w1 = clip((mean - p2)/(p1 - p2), 0, 1), and its log-likelihood
// n1 log q + n0 log(1 - q), q = w1 p1 + (1 - w1) p2. Tolerances: 1e-8 on
// weights (the accuracy promise), 1e-9 relative on log-likelihoods.
func TestTextbookClosedForm(t *testing.T) {
	in := genMarbles(t, Marbles{Bags: 300, RowsPerBag: 40, Seed: 7})
	out := filepath.Join(t.TempDir(), "out")
	sum := mustRun(t, mustLoad(t, marblesConfig(in, out, "  keep: [marble_id]")), Options{})
	if sum.Bags != 300 || sum.Rows != 300*40 || sum.BagsNotConverged != 0 {
		t.Fatalf("summary %+v", sum)
	}
	counts := redCounts(t, in)
	w := weightsByBag(readTable(t, out, WeightsTable), "bag_id")
	fits := readTable(t, out, FitsTable)
	if fits.len() != 300 {
		t.Fatalf("fits has %d rows, want one per bag", fits.len())
	}
	boundary := 0
	for i := 0; i < fits.len(); i++ {
		bag := fits.cols["bag_id"][i].(int64)
		c := counts[bag]
		n, n1 := c[0], c[1]
		want := math.Min(1, math.Max(0, (n1/n-0.3)/(0.8-0.3)))
		if want == 0 || want == 1 {
			boundary++
		}
		got := w[fmt.Sprint(bag)]
		if math.Abs(got["factory1"]-want) > 1e-8 || math.Abs(got["factory2"]-(1-want)) > 1e-8 {
			t.Errorf("bag %d (%v of %v red): weights %v, closed form %v", bag, n1, n, got, want)
		}
		q := want*0.8 + (1-want)*0.3
		ll := n1*math.Log(q) + (n-n1)*math.Log(1-q)
		if got := fits.cols["log_likelihood"][i].(float64); math.Abs(got-ll) > 1e-9*math.Abs(ll) {
			t.Errorf("bag %d: log-likelihood %v, closed form %v", bag, got, ll)
		}
		if fits.cols["converged"][i] != true || fits.cols["status"][i] != "ok" || fits.cols["error"][i] != nil {
			t.Errorf("bag %d: fits row %v %v %v", bag, fits.cols["converged"][i], fits.cols["status"][i], fits.cols["error"][i])
		}
		if fits.cols["n_obs"][i].(int64) != int64(n) {
			t.Errorf("bag %d: n_obs %v, want %v", bag, fits.cols["n_obs"][i], n)
		}
	}
	if boundary < 20 {
		t.Fatalf("only %d bags with a maximum on the boundary; the test should cover them", boundary)
	}

	// Posteriors: one row per marble, keep column carried, Bayes' rule.
	post := readTable(t, out, PosteriorsTable)
	if post.len() != 300*40 {
		t.Fatalf("posteriors has %d rows", post.len())
	}
	wantCols := []string{"bag_id", "marble_id", "red", "posterior_factory1", "posterior_factory2", "component"}
	if !slices.Equal(post.names, wantCols) {
		t.Fatalf("posteriors columns %v, want %v", post.names, wantCols)
	}
	for i := 0; i < post.len(); i++ {
		wb := w[fmt.Sprint(post.cols["bag_id"][i])]
		f1, f2 := 0.8, 0.3
		if post.cols["red"][i] == false {
			f1, f2 = 0.2, 0.7
		}
		want := wb["factory1"] * f1 / (wb["factory1"]*f1 + wb["factory2"]*f2)
		p1, p2 := post.cols["posterior_factory1"][i].(float64), post.cols["posterior_factory2"][i].(float64)
		if math.Abs(p1-want) > 1e-12 || math.Abs(p1+p2-1) > 1e-12 {
			t.Fatalf("row %d: posteriors %v %v, Bayes' rule gives %v", i, p1, p2, want)
		}
		best := "factory1"
		if p2 > p1 {
			best = "factory2"
		}
		if post.cols["component"][i] != best {
			t.Fatalf("row %d: component %v, want %v", i, post.cols["component"][i], best)
		}
	}
	for _, f := range []string{SuccessFile, ManifestFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// The manifest records the peak memory, as the summary line does,
	// where the system reports it (it was 0 in every local run).
	m, err := ReadManifest(filepath.Join(out, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if peakRSS() > 0 && !(m.Summary.PeakMemory > 0 && m.Summary.PeakMemory <= peakRSS()) {
		t.Errorf("manifest peak_memory_bytes %d, want in (0, %d]", m.Summary.PeakMemory, peakRSS())
	}
}

// TestCountsEqualRows checks that (bag, colour, count) rows fit exactly as
// the expanded marbles do.
func TestCountsEqualRows(t *testing.T) {
	g := Marbles{Bags: 150, RowsPerBag: 30, Seed: 11}
	rows := genMarbles(t, g)
	g.Counts = true
	agg := genMarbles(t, g)
	outRows := filepath.Join(t.TempDir(), "rows")
	outAgg := filepath.Join(t.TempDir(), "agg")
	mustRun(t, mustLoad(t, marblesConfig(rows, outRows, "")), Options{})
	mustRun(t, mustLoad(t, marblesConfig(agg, outAgg, "  count: n")), Options{})
	a, b := readTable(t, outRows, WeightsTable), readTable(t, outAgg, WeightsTable)
	assertSameTable(t, a, b, []string{"bag_id", "component"}, []string{"weight"}, 1e-12)
	fa, fb := readTable(t, outRows, FitsTable), readTable(t, outAgg, FitsTable)
	assertSameTable(t, fa, fb, []string{"bag_id", "total_count", "converged"}, []string{"log_likelihood"}, 1e-12)
	// n_obs counts rows: 30 marbles, or two (colour, count) rows.
	for i := 0; i < fb.len(); i++ {
		if fa.cols["n_obs"][i].(int64) != 30 || fb.cols["n_obs"][i].(int64) > 2 {
			t.Fatalf("bag %v: n_obs %v and %v", fa.cols["bag_id"][i], fa.cols["n_obs"][i], fb.cols["n_obs"][i])
		}
	}
}

// assertSameTable compares two tables row by row: exact columns must be
// equal, approximate ones within tol (relative to max(1, |value|)).
func assertSameTable(t *testing.T, a, b *table, exact, approx []string, tol float64) {
	t.Helper()
	if a.len() != b.len() {
		t.Fatalf("tables have %d and %d rows", a.len(), b.len())
	}
	for i := 0; i < a.len(); i++ {
		for _, c := range exact {
			if fmt.Sprint(a.cols[c][i]) != fmt.Sprint(b.cols[c][i]) {
				t.Fatalf("row %d column %s: %v vs %v", i, c, a.cols[c][i], b.cols[c][i])
			}
		}
		for _, c := range approx {
			x, y := a.cols[c][i].(float64), b.cols[c][i].(float64)
			if math.Abs(x-y) > tol*math.Max(1, math.Abs(x)) {
				t.Fatalf("row %d column %s: %v vs %v (diff %g)", i, c, x, y, x-y)
			}
		}
	}
}

// gaussRows makes seeded Gaussian-mixture bags: bag keys, values.
func gaussRows(seed uint64, bags, maxRows int) ([]int64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var keys []int64
	var vals []float64
	for b := 0; b < bags; b++ {
		n := 1 + rng.IntN(maxRows)
		w := rng.Float64()
		for i := 0; i < n; i++ {
			x := rng.NormFloat64()*1.5 - 2
			if rng.Float64() < w {
				x = rng.NormFloat64() + 3
			}
			keys = append(keys, int64(b*7+3))
			vals = append(vals, x)
		}
	}
	return keys, vals
}

const gaussModel = `
model:
  family: gaussian
  components:
    - {name: low, mean: -2, sd: 1.5}
    - {name: high, mean: 3, sd: 1}
    - {name: mid, mean: 0.5, sd: 2}
`

// TestShuffledSplitTypedInputs checks that a bag's rows may be anywhere:
// shuffled, split over Parquet and Arrow IPC files of different key widths,
// or keyed by strings, the weights and fits equal those of one clustered
// file within 1e-12.
func TestShuffledSplitTypedInputs(t *testing.T) {
	keys, vals := gaussRows(5, 120, 60)
	run := func(name string, write func(dir string)) (*table, *table) {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		write(dir)
		out := filepath.Join(t.TempDir(), name+"-out")
		cfg := mustLoad(t, fmt.Sprintf("input: {paths: [%q], bag: bag, value: x}\n%soutput: {dir: %q}\n", dir, gaussModel, out))
		mustRun(t, cfg, Options{})
		return readTable(t, out, WeightsTable), readTable(t, out, FitsTable)
	}
	refW, refF := run("clustered", func(dir string) {
		writeParquet(t, filepath.Join(dir, "a.parquet"), column("bag", keys), column("x", vals))
	})

	perm := rand.New(rand.NewPCG(9, 9)).Perm(len(keys))
	sk, sv := make([]int64, len(keys)), make([]float64, len(keys))
	for i, p := range perm {
		sk[i], sv[i] = keys[p], vals[p]
	}
	third := len(sk) / 3
	k32 := make([]int32, len(sk)-2*third)
	for i := range k32 {
		k32[i] = int32(sk[2*third+i])
	}
	w, f := run("shuffled-split", func(dir string) {
		writeParquet(t, filepath.Join(dir, "part=1", "a.parquet"), column("bag", sk[:third]), column("x", sv[:third]))
		writeIPC(t, filepath.Join(dir, "b.arrow"), column("bag", sk[third:2*third]), column("x", sv[third:2*third]))
		writeParquet(t, filepath.Join(dir, "c.parquet"), column("bag", k32), column("x", sv[2*third:]))
	})
	assertSameTable(t, refW, w, []string{"bag", "component"}, []string{"weight"}, 1e-12)
	assertSameTable(t, refF, f, []string{"bag", "n_obs", "converged"}, []string{"log_likelihood"}, 1e-12)

	// String keys, dictionary-encoded in one file: the bags are the same, so
	// with keys that sort like the integers the tables line up row by row.
	skeys := make([]string, len(sk))
	for i, k := range sk {
		skeys[i] = fmt.Sprintf("bag-%06d", k)
	}
	w, f = run("strings", func(dir string) {
		writeParquet(t, filepath.Join(dir, "a.parquet"), column("bag", skeys[:third]), column("x", sv[:third]))
		writeIPC(t, filepath.Join(dir, "b.arrow"), dictColumn("bag", skeys[third:]), column("x", sv[third:]))
	})
	if w.types["bag"].ID().String() != "STRING" {
		t.Fatalf("string bags written as %s", w.types["bag"])
	}
	for i := range w.cols["bag"] {
		var k int64
		if _, err := fmt.Sscanf(w.cols["bag"][i].(string), "bag-%d", &k); err != nil {
			t.Fatal(err)
		}
		w.cols["bag"][i] = k
	}
	for i := range f.cols["bag"] {
		f.cols["bag"][i] = refF.cols["bag"][i]
	}
	assertSameTable(t, refW, w, []string{"bag", "component"}, []string{"weight"}, 1e-12)
	assertSameTable(t, refF, f, []string{"n_obs", "converged"}, []string{"log_likelihood"}, 1e-12)
}

// TestWorkersBitIdentical checks that the worker count changes nothing, to
// the last bit.
func TestWorkersBitIdentical(t *testing.T) {
	keys, vals := gaussRows(21, 700, 40)
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "in", "a.parquet"), column("bag", keys[:len(keys)/2]), column("x", vals[:len(keys)/2]))
	writeParquet(t, filepath.Join(dir, "in", "b.parquet"), column("bag", keys[len(keys)/2:]), column("x", vals[len(keys)/2:]))
	var tables [][]*table
	for _, workers := range []int{1, 8} {
		out := filepath.Join(dir, fmt.Sprint("out", workers))
		cfg := mustLoad(t, fmt.Sprintf("input: {paths: [%q], bag: bag, value: x}\n%soutput: {dir: %q, posteriors: true}\n", filepath.Join(dir, "in"), gaussModel, out))
		mustRun(t, cfg, Options{Workers: workers})
		tables = append(tables, []*table{readTable(t, out, WeightsTable), readTable(t, out, FitsTable), readTable(t, out, PosteriorsTable)})
	}
	for j, name := range []string{WeightsTable, FitsTable, PosteriorsTable} {
		a, b := tables[0][j], tables[1][j]
		if a.len() == 0 || a.len() != b.len() {
			t.Fatalf("%s: %d vs %d rows", name, a.len(), b.len())
		}
		for c, va := range a.cols {
			for i := range va {
				x, y := va[i], b.cols[c][i]
				if fx, ok := x.(float64); ok {
					if math.Float64bits(fx) != math.Float64bits(y.(float64)) {
						t.Fatalf("%s row %d column %s: %v vs %v", name, i, c, x, y)
					}
				} else if x != y {
					t.Fatalf("%s row %d column %s: %v vs %v", name, i, c, x, y)
				}
			}
		}
	}
}

// TestFamiliesMatchDirectFit checks grouping, value coding and aggregation
// for each family: the pipeline's weights equal em.Fit run by hand on each
// bag's raw rows (one table row per observation, no aggregation, densities
// written out here), within 1e-9. em's own accuracy is tested in package em.
func TestFamiliesMatchDirectFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type fam struct {
		name, model string
		value       func() any // one observation, as a Go value for column()
		logp        []func(x float64) float64
		code        func(v any) float64
		col         func(name string, vs []any) col
	}
	labels := []string{"blue", "green", "red"}
	catP := [][]float64{{0.5, 0.3, 0.2}, {0.1, 0.1, 0.8}, {0.3, 0.6, 0.1}} // by sorted label
	fams := []fam{
		{
			name:  Categorical,
			model: "model: {family: categorical, components: [{name: a, probs: {red: 0.2, blue: 0.5, green: 0.3}}, {name: b, probs: {red: 0.8, blue: 0.1, green: 0.1}}, {name: c, probs: {blue: 0.3, green: 0.6, red: 0.1}}]}\n",
			value: func() any { return labels[rng.IntN(3)] },
			logp: []func(float64) float64{
				func(x float64) float64 { return math.Log(catP[0][int(x)]) },
				func(x float64) float64 { return math.Log(catP[1][int(x)]) },
				func(x float64) float64 { return math.Log(catP[2][int(x)]) },
			},
			code: func(v any) float64 { return float64(slices.Index(labels, v.(string))) },
			col: func(name string, vs []any) col {
				s := make([]string, len(vs))
				for i, v := range vs {
					s[i] = v.(string)
				}
				return column(name, s)
			},
		},
		{
			name:  Poisson,
			model: "model: {family: poisson, components: [{name: a, rate: 1}, {name: b, rate: 4}, {name: c, rate: 9}]}\n",
			value: func() any { return int64(rng.IntN(12)) },
			logp: []func(float64) float64{
				func(x float64) float64 { lg, _ := math.Lgamma(x + 1); return x*math.Log(1) - 1 - lg },
				func(x float64) float64 { lg, _ := math.Lgamma(x + 1); return x*math.Log(4) - 4 - lg },
				func(x float64) float64 { lg, _ := math.Lgamma(x + 1); return x*math.Log(9) - 9 - lg },
			},
			code: func(v any) float64 { return float64(v.(int64)) },
			col: func(name string, vs []any) col {
				s := make([]int64, len(vs))
				for i, v := range vs {
					s[i] = v.(int64)
				}
				return column(name, s)
			},
		},
		{
			name:  Gaussian,
			model: gaussModel,
			value: func() any { return float32(rng.NormFloat64()*2 + 0.5) },
			logp: []func(float64) float64{
				func(x float64) float64 { return -0.5*math.Log(2*math.Pi) - math.Log(1.5) - (x+2)*(x+2)/(2*1.5*1.5) },
				func(x float64) float64 { return -0.5*math.Log(2*math.Pi) - (x-3)*(x-3)/2 },
				func(x float64) float64 { return -0.5*math.Log(2*math.Pi) - math.Log(2) - (x-0.5)*(x-0.5)/8 },
			},
			code: func(v any) float64 { return float64(v.(float32)) },
			col: func(name string, vs []any) col {
				s := make([]float32, len(vs))
				for i, v := range vs {
					s[i] = v.(float32)
				}
				return column(name, s)
			},
		},
	}
	for _, f := range fams {
		t.Run(f.name, func(t *testing.T) {
			var keys []int64
			var vals []any
			byBag := map[int64][]float64{}
			for b := int64(0); b < 60; b++ {
				n := 1 + rng.IntN(80)
				for i := 0; i < n; i++ {
					v := f.value()
					keys = append(keys, b)
					vals = append(vals, v)
					byBag[b] = append(byBag[b], f.code(v))
				}
			}
			dir := t.TempDir()
			writeParquet(t, filepath.Join(dir, "in", "a.parquet"), column("bag", keys), f.col("v", vals))
			out := filepath.Join(dir, "out")
			mustRun(t, mustLoad(t, fmt.Sprintf("input: {paths: [%q], bag: bag, value: v}\n%soutput: {dir: %q}\n", filepath.Join(dir, "in"), f.model, out)), Options{})
			got := weightsByBag(readTable(t, out, WeightsTable), "bag")
			names := []string{"a", "b", "c"}
			if f.name == Gaussian {
				names = []string{"low", "high", "mid"}
			}
			for b, xs := range byBag {
				table := make([]float64, 0, len(xs)*3)
				for _, x := range xs {
					for _, lp := range f.logp {
						table = append(table, lp(x))
					}
				}
				res, err := em.Fit(table, nil, 3, em.Settings{})
				if err != nil {
					t.Fatal(err)
				}
				for j, name := range names {
					if g := got[fmt.Sprint(b)][name]; math.Abs(g-res.Weights[j]) > 1e-9 {
						t.Errorf("bag %d component %s: pipeline %v, direct fit %v", b, name, g, res.Weights[j])
					}
				}
			}
		})
	}
}

// TestOverwriteReplacesAtomically checks that a second run replaces the
// output folder whole and leaves no staging folder behind.
func TestOverwriteReplacesAtomically(t *testing.T) {
	in := genMarbles(t, Marbles{Bags: 20, RowsPerBag: 10, Seed: 1})
	out := filepath.Join(t.TempDir(), "out")
	mustRun(t, mustLoad(t, marblesConfig(in, out, "")), Options{})
	stray := filepath.Join(out, "weights", "stray.txt")
	if err := os.WriteFile(stray, []byte("from before"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Without overwrite: refused, untouched.
	if _, err := Run(context.Background(), mustLoad(t, marblesConfig(in, out, "")), Options{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second run without overwrite: %v", err)
	}
	if _, err := os.Stat(stray); err != nil {
		t.Fatal("refused run touched the output:", err)
	}
	cfg := mustLoad(t, strings.Replace(marblesConfig(in, out, ""), "posteriors: true", "posteriors: true\n  overwrite: true", 1))
	mustRun(t, cfg, Options{})
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Fatal("overwrite kept a file of the old output")
	}
	entries, err := os.ReadDir(filepath.Dir(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), tmpMarker) {
			t.Fatalf("staging folder left behind: %s", e.Name())
		}
	}
}

// TestOverwriteRefusesForeignFolder: overwrite: true replaces an earlier
// output of mixbatch (it holds _SUCCESS or manifest.json) or an empty
// folder, and refuses a folder of other files, which a mistyped
// output.dir would otherwise have deleted; validate refuses it too.
func TestOverwriteRefusesForeignFolder(t *testing.T) {
	in := genMarbles(t, Marbles{Bags: 20, RowsPerBag: 10, Seed: 1})
	root := t.TempDir()
	cfgFor := func(out string) *Config {
		return mustLoad(t, strings.Replace(marblesConfig(in, out, ""), "posteriors: true", "posteriors: true\n  overwrite: true", 1))
	}
	foreign := filepath.Join(root, "data")
	notes := filepath.Join(foreign, "notes.txt")
	if err := os.MkdirAll(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notes, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), cfgFor(foreign), Options{})
	if err == nil || !strings.Contains(err.Error(), foreign) || !strings.Contains(err.Error(), "not an output of mixbatch") {
		t.Fatalf("overwrite of a folder of other files: %v", err)
	}
	if _, verr := Check(context.Background(), cfgFor(foreign), Options{}); verr == nil || !strings.Contains(verr.Error(), "not an output of mixbatch") {
		t.Errorf("validate: %v", verr)
	}
	if b, rerr := os.ReadFile(notes); rerr != nil || string(b) != "keep me" {
		t.Fatalf("the folder was touched: %q, %v", b, rerr)
	}
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	mustRun(t, cfgFor(empty), Options{})
	mustRun(t, cfgFor(empty), Options{}) // now an earlier output
}

// TestFailedRunLeavesNoParents: a first run whose output.dir's parent
// folders do not exist creates them; if it then fails (here, interrupted
// while writing posteriors/), it removes them again, as it removes its
// staging folder, but not a folder that was there before.
func TestFailedRunLeavesNoParents(t *testing.T) {
	in := genMarbles(t, Marbles{Bags: 20, RowsPerBag: 10, Seed: 1})
	root := t.TempDir()
	out := filepath.Join(root, "a", "b", "out")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Run(ctx, mustLoad(t, marblesConfig(in, out, "")), Options{Progress: func(stage string, _, _ int64) {
		if stage == "posteriors" {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v, want it cancelled while writing", err)
	}
	assertOnly(t, root)
}

// TestOverwriteWithoutExchange: on a file system without renameat2's
// RENAME_EXCHANGE (EINVAL), commit moves the previous output aside and
// the new one in. When the second rename fails, the previous output is
// moved back; when that fails too, the error says where the previous
// output is and is ErrOutputChanged, so that the commands do not say the
// output was left as it was (they did, while output.dir was missing).
func TestOverwriteWithoutExchange(t *testing.T) {
	in := genMarbles(t, Marbles{Bags: 20, RowsPerBag: 10, Seed: 1})
	out := filepath.Join(t.TempDir(), "out")
	mustRun(t, mustLoad(t, marblesConfig(in, out, "")), Options{})
	mark := filepath.Join(out, "weights", "earlier.txt")
	if err := os.WriteFile(mark, []byte("from before"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, strings.Replace(marblesConfig(in, out, ""), "posteriors: true", "posteriors: true\n  overwrite: true", 1))
	realExchange := exchange
	defer func() { rename, exchange = os.Rename, realExchange }()
	exchange = func(string, string) error { return syscall.EINVAL }
	// failing makes the renames numbered in fail fail (1: tmp to dir, 2:
	// dir aside, 3: tmp to dir, 4: back).
	failing := func(fail ...int) {
		n := 0
		rename = func(a, b string) error {
			n++
			if slices.Contains(fail, n) {
				return &os.LinkError{Op: "rename", Old: a, New: b, Err: syscall.EIO}
			}
			return os.Rename(a, b)
		}
	}

	failing(3)
	_, err := Run(context.Background(), cfg, Options{})
	if err == nil || errors.Is(err, ErrOutputChanged) {
		t.Fatalf("second rename failing: %v, want an error that is not ErrOutputChanged", err)
	}
	if _, serr := os.Stat(mark); serr != nil {
		t.Fatalf("the previous output was not moved back: %v", serr)
	}

	failing(3, 4)
	_, err = Run(context.Background(), cfg, Options{})
	if !errors.Is(err, ErrOutputChanged) {
		t.Fatalf("both renames failing: %v, want ErrOutputChanged", err)
	}
	olds, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+tmpMarker+"*-old"))
	if len(olds) != 1 || !strings.Contains(err.Error(), olds[0]) {
		t.Fatalf("error %q: want it to name the folder holding the previous output (%v)", err, olds)
	}
	if _, serr := os.Stat(filepath.Join(olds[0], "weights", "earlier.txt")); serr != nil {
		t.Errorf("the previous output is not in %s: %v", olds[0], serr)
	}
	if got := LeftAsItWas(err); strings.Contains(got, "left as it was") {
		t.Errorf("LeftAsItWas = %q", got)
	}

	// Recovery: with the renames working, a run publishes again (the
	// missing output.dir is created) and the earlier output stays aside.
	rename = os.Rename
	mustRun(t, cfg, Options{})
	if _, serr := os.Stat(filepath.Join(out, "weights")); serr != nil {
		t.Errorf("the next run did not publish: %v", serr)
	}
}
