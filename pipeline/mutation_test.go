package pipeline

// Tests added after a hand mutation-testing pass over scan.go, fit.go,
// spill.go, posteriors.go and output.go: each checks a run's tables
// against values computed here, from the rows the test wrote, by first
// principles (closed forms, sums), not against another run of the
// program. Expected values and their tolerances say where they come from.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/writers"
)

// mutRow is one input row of the bernoulli property test.
type mutRow struct {
	id    int64
	bag   int64
	red   int64 // 0 or 1, or 2 for a bad row
	count int64
	// nullRed and nullCount make the value or the count null.
	nullRed, nullCount bool
}

// writeMutRows writes rows as a Parquet file of row groups of rg rows,
// with int64 or string bag keys, and values as int64 (nullable).
func writeMutRows(t *testing.T, path string, rows []mutRow, rg int64, strKeys bool) {
	t.Helper()
	mem := memory.NewGoAllocator()
	id := array.NewInt64Builder(mem)
	red := array.NewInt64Builder(mem)
	cnt := array.NewInt64Builder(mem)
	var bagArr arrow.Array
	if strKeys {
		b := array.NewStringBuilder(mem)
		for _, r := range rows {
			b.Append(mutKey(r.bag))
		}
		bagArr = b.NewArray()
	} else {
		b := array.NewInt64Builder(mem)
		for _, r := range rows {
			b.Append(r.bag)
		}
		bagArr = b.NewArray()
	}
	for _, r := range rows {
		id.Append(r.id)
		if r.nullRed {
			red.AppendNull()
		} else {
			red.Append(r.red)
		}
		if r.nullCount {
			cnt.AppendNull()
		} else {
			cnt.Append(r.count)
		}
	}
	rec := record([]col{{"row_id", id.NewArray()}, {"bag", bagArr}, {"red", red.NewArray()}, {"n", cnt.NewArray()}})
	defer rec.Release()
	if err := writers.WriteFile(path, rec.Schema(), []arrow.Record{rec}, writers.Options{RowGroupRows: rg}); err != nil {
		t.Fatal(err)
	}
}

func mutKey(b int64) string { return fmt.Sprintf("k%03d", b) }

// TestMutationBernoulliProperty: seeded random bags of the textbook
// bernoulli model (p = 0.8 and 0.3), with whole counts, null values and
// counts (nulls: drop), zero counts and one bad bag (on_error: skip),
// shuffled over three Parquet files of small row groups and read by one to
// three workers, with integer or string keys. Every table is checked
// against values computed here from the rows:
//
//   - weight: the closed form w = clip((m − 0.3)/(0.8 − 0.3), 0, 1), m the
//     count-weighted share of ones (README "The model"); tolerance 1e-8,
//     the accuracy README states for the default tol 1e-10;
//   - n_obs, n_dropped, total_count: counts and sums of the rows (exact);
//   - log_likelihood: Σ c log(w·f₁ + (1−w)·f₂) at the reported weight,
//     relative 1e-12 (the same sum in another order);
//   - std_error: 1/√(observed information) of the closed form, null on
//     the boundary (see the check);
//   - bic and aic: −2ll + (K−1)·log N and −2ll + 2(K−1), K = 2, from the
//     reported ll (relative 1e-12);
//   - the failed bag: status, no weights rows, and an error naming the
//     file, column, row and bag of its first bad row in file order;
//   - posteriors: by the kept row_id, in input order (files by name, rows
//     in order), w·f_k/p(x) at the closed-form weight (1e-8, as the
//     weights), null for dropped rows and rows of the failed bag, and
//     component the larger one.
func TestMutationBernoulliProperty(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4}
	if testing.Short() {
		seeds = seeds[:2]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			testMutationBernoulli(t, seed)
		})
	}
}

func testMutationBernoulli(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	strKeys := seed%2 == 0
	const p1, p2 = 0.8, 0.3
	nb := 20 + rng.IntN(20)
	// Keys spread out (every third) so that dense indexing meets gaps;
	// starting at 0 so that key 0 leads a file.
	keys := make([]int64, nb)
	for i := range keys {
		keys[i] = int64(3 * i)
	}
	badBag := keys[1+rng.IntN(nb-1)]
	var rows []mutRow
	for _, k := range keys {
		share := rng.Float64()
		n := 1 + rng.IntN(40)
		for range n {
			r := mutRow{bag: k, count: int64(rng.IntN(4))}
			if rng.Float64() < share {
				r.red = 1
			}
			switch u := rng.Float64(); {
			case u < 0.05:
				r.nullRed = true
			case u < 0.10:
				r.nullCount = true
			}
			rows = append(rows, r)
		}
		// Every good bag keeps at least one row of positive count.
		rows = append(rows, mutRow{bag: k, red: int64(rng.IntN(2)), count: 1 + int64(rng.IntN(3))})
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	for i := range rows {
		rows[i].id = int64(1000 + i)
	}
	// Three files; the bad bag gets a bad value (2) in the second and
	// third file, so its first bad row is the second file's.
	cut1, cut2 := len(rows)/3, 2*len(rows)/3
	parts := [][]mutRow{rows[:cut1], rows[cut1:cut2], rows[cut2:]}
	var badRow int64 = -1
	for f := 1; f < 3; f++ {
		for i := range parts[f] {
			r := &parts[f][i]
			if r.bag == badBag && !r.nullRed && !r.nullCount {
				r.red = 2
				if f == 1 && badRow < 0 {
					badRow = int64(i)
					// A second bad row right after it, most likely in
					// the same row group: the first one is reported.
					parts[1] = slices.Insert(parts[1], i+1, mutRow{id: 99998, bag: badBag, red: 2, count: 1})
				}
				break
			}
		}
	}
	if badRow < 0 { // no usable row of the bad bag in file b: add one
		parts[1] = append(parts[1], mutRow{id: 99999, bag: badBag, red: 2, count: 1})
		badRow = int64(len(parts[1]) - 1)
	}
	// Key 0 leads the first file (the posteriors' key cache starts there).
	for i, r := range parts[0] {
		if r.bag == 0 {
			parts[0][0], parts[0][i] = parts[0][i], parts[0][0]
			break
		}
	}
	in := t.TempDir()
	names := []string{"a.parquet", "b.parquet", "c.parquet"}
	for f, name := range names {
		writeMutRows(t, filepath.Join(in, name), parts[f], int64(5+rng.IntN(30)), strKeys)
	}

	// Expected, from the rows.
	type want struct {
		nobs, dropped int64
		total, ones   float64
	}
	exp := map[int64]*want{}
	for _, k := range keys {
		exp[k] = &want{}
	}
	for _, part := range parts {
		for _, r := range part {
			e := exp[r.bag]
			if r.nullRed || r.nullCount {
				e.dropped++
				continue
			}
			e.nobs++
			e.total += float64(r.count)
			if r.red == 1 {
				e.ones += float64(r.count)
			}
		}
	}
	weight := func(k int64) float64 {
		e := exp[k]
		return min(1, max(0, (e.ones/e.total-p2)/(p1-p2)))
	}

	out := filepath.Join(t.TempDir(), "out")
	cfg := mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: red, count: n, keep: [row_id], nulls: drop}
model:
  family: bernoulli
  components: [{name: f1, p: 0.8}, {name: f2, p: 0.3}]
output: {dir: %q, posteriors: true}
run: {workers: %d, on_error: skip}
`, in, out, 1+int(seed%3)))
	sum := mustRun(t, cfg, Options{})
	// Every bag but the failed one converges (checked in fits below), and
	// the failed one is counted as failed, not as not converged.
	if sum.Bags != nb || sum.BagsFailed != 1 || sum.BagsOK != nb-1 || sum.BagsNotConverged != 0 {
		t.Fatalf("summary: %d bags, %d ok, %d failed, %d not converged; want %d, %d, 1 and 0",
			sum.Bags, sum.BagsOK, sum.BagsFailed, sum.BagsNotConverged, nb, nb-1)
	}
	var dropped int64
	for _, e := range exp {
		dropped += e.dropped
	}
	if sum.RowsDropped != dropped {
		t.Errorf("summary: %d rows dropped, want %d", sum.RowsDropped, dropped)
	}

	bagOf := func(v any) int64 {
		if s, ok := v.(string); ok {
			var k int64
			if _, err := fmt.Sscanf(s, "k%d", &k); err != nil {
				t.Fatalf("bag key %q", s)
			}
			return k
		}
		return v.(int64)
	}
	fits := readTable(t, out, FitsTable)
	if fits.len() != nb {
		t.Fatalf("fits has %d rows, want one per bag (%d)", fits.len(), nb)
	}
	ll := map[int64]float64{}
	for i := range fits.len() {
		k := bagOf(fits.cols["bag"][i])
		if want := keys[i]; k != want {
			t.Errorf("fits row %d: bag %d, want %d (bags sorted by key)", i, k, want)
		}
		e := exp[k]
		if got := fits.cols["n_obs"][i].(int64); got != e.nobs {
			t.Errorf("bag %d: n_obs %d, want %d", k, got, e.nobs)
		}
		if got := fits.cols["n_dropped"][i].(int64); got != e.dropped {
			t.Errorf("bag %d: n_dropped %d, want %d", k, got, e.dropped)
		}
		if k == badBag {
			if st := fits.cols["status"][i]; st != StatusFailed {
				t.Errorf("bad bag %d: status %v", k, st)
			}
			msg, _ := fits.cols["error"][i].(string)
			bagText := fmt.Sprint(k)
			if strKeys {
				bagText = fmt.Sprintf("%q", mutKey(k))
			}
			for _, want := range []string{"b.parquet", `column "red"`, fmt.Sprintf(", row %d,", badRow), ", bag " + bagText + ":", "value 2"} {
				if !strings.Contains(msg, want) {
					t.Errorf("bad bag %d: error %q does not say %q", k, msg, want)
				}
			}
			if fits.cols["log_likelihood"][i] != nil || fits.cols["total_count"][i] != nil {
				t.Errorf("bad bag %d: fit columns not null", k)
			}
			continue
		}
		if st := fits.cols["status"][i]; st != StatusOK {
			t.Errorf("bag %d: status %v, error %v", k, st, fits.cols["error"][i])
			continue
		}
		if fits.cols["converged"][i] != true {
			t.Errorf("bag %d: not converged", k)
		}
		if got := fits.cols["total_count"][i].(float64); got != e.total {
			t.Errorf("bag %d: total_count %v, want %v", k, got, e.total)
		}
		ll[k] = fits.cols["log_likelihood"][i].(float64)
		w := weight(k)
		wantLL := e.ones*math.Log(w*p1+(1-w)*p2) + (e.total-e.ones)*math.Log(w*(1-p1)+(1-w)*(1-p2))
		if !closeRel(ll[k], wantLL, 1e-8) {
			t.Errorf("bag %d: log_likelihood %v, want %v", k, ll[k], wantLL)
		}
		bic, aic := fits.cols["bic"][i].(float64), fits.cols["aic"][i].(float64)
		if want := -2*ll[k] + math.Log(e.total); !closeRel(bic, want, 1e-12) {
			t.Errorf("bag %d: bic %v, want −2ll + 1·log(%v) = %v", k, bic, e.total, want)
		}
		if want := -2*ll[k] + 2; !closeRel(aic, want, 1e-12) {
			t.Errorf("bag %d: aic %v, want −2ll + 2 = %v", k, aic, want)
		}
	}

	weights := readTable(t, out, WeightsTable)
	if weights.len() != 2*(nb-1) {
		t.Errorf("weights has %d rows, want 2 per fitted bag (%d)", weights.len(), 2*(nb-1))
	}
	seen := map[int64]int{}
	for i := range weights.len() {
		k := bagOf(weights.cols["bag"][i])
		if k == badBag {
			t.Errorf("weights has a row of failed bag %d", k)
			continue
		}
		comp := weights.cols["component"][i].(string)
		w := weight(k)
		want := map[string]float64{"f1": w, "f2": 1 - w}[comp]
		if got := weights.cols["weight"][i].(float64); math.Abs(got-want) > 1e-8 {
			t.Errorf("bag %d %s: weight %v, closed form %v", k, comp, got, want)
		}
		// The standard error from the observed information of the one
		// free weight (README "Standard errors"): I(w) = Σ c (f₁ − f₂)²/p²
		// = (p₁ − p₂)²·(ones/q² + zeros/(1 − q)²), q = w·p₁ + (1 − w)·p₂,
		// and se = 1/√I for both weights (w₂ = 1 − w₁); null when w is
		// on the boundary 0 or 1. Relative 1e-6: the weight's 1e-8 error
		// moves I by about that much.
		se := weights.cols["std_error"][i]
		if e := exp[k]; w == 0 || w == 1 {
			if se != nil {
				t.Errorf("bag %d %s: std_error %v at weight %v; want null (boundary)", k, comp, se, w)
			}
		} else {
			q := w*p1 + (1-w)*p2
			info := (p1 - p2) * (p1 - p2) * (e.ones/(q*q) + (e.total-e.ones)/((1-q)*(1-q)))
			if want := 1 / math.Sqrt(info); se == nil || !closeRel(se.(float64), want, 1e-6) {
				t.Errorf("bag %d %s: std_error %v, want 1/√I = %v", k, comp, se, want)
			}
		}
		seen[k]++
	}
	for _, k := range keys {
		if k != badBag && seen[k] != 2 {
			t.Errorf("bag %d: %d weights rows, want 2", k, seen[k])
		}
	}

	post := readTable(t, out, PosteriorsTable)
	var order []mutRow
	for _, part := range parts {
		order = append(order, part...)
	}
	if post.len() != len(order) {
		t.Fatalf("posteriors has %d rows, want one per input row (%d)", post.len(), len(order))
	}
	for i, r := range order {
		if got := post.cols["row_id"][i].(int64); got != r.id {
			t.Fatalf("posteriors row %d: row_id %d, want %d (input order)", i, got, r.id)
		}
		if got := bagOf(post.cols["bag"][i]); got != r.bag {
			t.Errorf("row_id %d: bag %d, want %d", r.id, got, r.bag)
		}
		p, c := post.cols["posterior_f1"][i], post.cols["component"][i]
		if r.nullRed || r.nullCount || r.bag == badBag {
			if p != nil || c != nil {
				t.Errorf("row_id %d (dropped or of the failed bag): posterior %v, component %v; want nulls", r.id, p, c)
			}
			continue
		}
		w := weight(r.bag)
		f1, f2 := p1, p2
		if r.red == 0 {
			f1, f2 = 1-p1, 1-p2
		}
		want := w * f1 / (w*f1 + (1-w)*f2)
		if p == nil || math.Abs(p.(float64)-want) > 1e-8 {
			t.Errorf("row_id %d (bag %d, red %d): posterior_f1 %v, want %v", r.id, r.bag, r.red, p, want)
			continue
		}
		wantComp := "f1"
		if want < 0.5 {
			wantComp = "f2"
		}
		if math.Abs(want-0.5) > 1e-6 && c != wantComp {
			t.Errorf("row_id %d: component %v, want %s (posterior_f1 %v)", r.id, c, wantComp, want)
		}
	}
}

// closeRel reports whether a and b agree within rel relative to the
// larger magnitude (or absolutely, near 0).
func closeRel(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*max(1, math.Abs(a), math.Abs(b))
}

// TestMutationGaussianRowsReachTheFit: the rows each bag is fitted on are
// exactly its input rows, however the input is read: in memory, spilled
// into partitions a few rows at a time, or window by window of a sorted
// input. Each run is checked against the input itself: n_obs is the
// bag's row count, the reported log-likelihood is Σ log Σ_k w_k φ(x; μ_k,
// σ_k) recomputed here from the reported weights (relative 1e-10: the same
// sum in another order), and the reported weights satisfy the optimality
// condition of README "Accuracy": g_k/N = (1/N) Σ φ_k(x)/p(x) is 1 for
// every component with weight above 1e-6 and at most 1 for the others
// (within 1e-6: the default tol is 1e-10, and the curvature of these
// well-separated components keeps the gradient's error far below that).
// A row lost, repeated or given to another bag moves ll by about a row's
// log-density and the gradient by about 1/N.
func TestMutationGaussianRowsReachTheFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	type comp struct{ mu, sd float64 }
	comps := []comp{{0, 1}, {4, 1.5}, {9, 2}}
	nb := 24
	if testing.Short() {
		nb = 12
	}
	type row struct {
		bag int64
		x   float64
	}
	var rows []row
	for b := range nb {
		n := 1 + rng.IntN(80)
		w := []float64{rng.Float64(), rng.Float64(), rng.Float64()}
		for range n {
			u := rng.Float64() * (w[0] + w[1] + w[2])
			j := 0
			for j < 2 && u > w[j] {
				u -= w[j]
				j++
			}
			rows = append(rows, row{int64(b), comps[j].mu + comps[j].sd*rng.NormFloat64()})
		}
	}
	perBag := map[int64][]float64{}
	for _, r := range rows {
		perBag[r.bag] = append(perBag[r.bag], r.x)
	}
	write := func(dir string, rows []row, rg int64) {
		keys := make([]int64, len(rows))
		xs := make([]float64, len(rows))
		for i, r := range rows {
			keys[i], xs[i] = r.bag, r.x
		}
		// Two files, so that a bag can span them.
		h := len(rows) / 2
		for f, lo, hi := 0, 0, h; f < 2; f, lo, hi = f+1, h, len(rows) {
			path := filepath.Join(dir, fmt.Sprintf("part-%d.parquet", f))
			rec := record([]col{column("bag", keys[lo:hi]), column("x", xs[lo:hi])})
			if err := writers.WriteFile(path, rec.Schema(), []arrow.Record{rec}, writers.Options{RowGroupRows: rg}); err != nil {
				t.Fatal(err)
			}
			rec.Release()
		}
	}
	sorted := t.TempDir()
	write(sorted, rows, 37) // rows are in bag order: a sorted input
	shuffled := t.TempDir()
	sh := slices.Clone(rows)
	rng.Shuffle(len(sh), func(i, j int) { sh[i], sh[j] = sh[j], sh[i] })
	// Row groups of 25 rows, spilled 4 at a time (below): a unit ends
	// with one row left to spill after its last flush.
	write(shuffled, sh, 25)

	config := func(in, out string, workers int) *Config {
		return mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: x}
model:
  family: gaussian
  components: [{name: a, mean: 0, sd: 1}, {name: b, mean: 4, sd: 1.5}, {name: c, mean: 9, sd: 2}]
output: {dir: %q}
run: {workers: %d, temp_dir: %q}
`, in, out, workers, t.TempDir()))
	}
	check := func(t *testing.T, out string) {
		fits := readTable(t, out, FitsTable)
		weights := readTable(t, out, WeightsTable)
		if fits.len() != nb || weights.len() != 3*nb {
			t.Fatalf("fits %d rows, weights %d; want %d and %d", fits.len(), weights.len(), nb, 3*nb)
		}
		for i := range nb {
			k := fits.cols["bag"][i].(int64)
			xs := perBag[k]
			if got := fits.cols["n_obs"][i].(int64); got != int64(len(xs)) {
				t.Errorf("bag %d: n_obs %d, want %d", k, got, len(xs))
			}
			var w [3]float64
			for j := range 3 {
				if b := weights.cols["bag"][3*i+j].(int64); b != k {
					t.Fatalf("weights row %d: bag %d, want %d", 3*i+j, b, k)
				}
				w[j] = weights.cols["weight"][3*i+j].(float64)
			}
			var ll float64
			var g [3]float64
			for _, x := range xs {
				var f [3]float64
				p := 0.0
				for j, c := range comps {
					z := (x - c.mu) / c.sd
					f[j] = math.Exp(-z*z/2) / (c.sd * math.Sqrt(2*math.Pi))
					p += w[j] * f[j]
				}
				ll += math.Log(p)
				for j := range g {
					g[j] += f[j] / p
				}
			}
			if got := fits.cols["log_likelihood"][i].(float64); !closeRel(got, ll, 1e-10) {
				t.Errorf("bag %d: log_likelihood %v, recomputed from its %d rows %v", k, got, len(xs), ll)
			}
			for j := range g {
				gj := g[j]/float64(len(xs)) - 1
				if gj > 1e-6 || w[j] > 1e-6 && gj < -1e-6 {
					t.Errorf("bag %d: component %d (weight %v): g/N − 1 = %v, not a maximum of its rows' likelihood", k, j, w[j], gj)
				}
			}
		}
	}
	cases := []struct {
		name    string
		in      string
		workers int
		opts    Options
	}{
		{"memory", shuffled, 2, Options{}},
		{"spilled", shuffled, 3, Options{spillPartitions: 3, spillFlushRows: 4}},
		{"windows", sorted, 2, Options{windowRows: 60}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			sum := mustRun(t, config(c.in, out, c.workers), c.opts)
			switch c.name {
			case "spilled":
				if sum.Spilled == 0 {
					t.Fatal("nothing was spilled")
				}
			case "windows":
				if sum.Windows < 2 {
					t.Fatalf("%d windows, want several", sum.Windows)
				}
			}
			check(t, out)
		})
	}
}

// TestMutationPosteriorTies: two identical components leave every
// posterior at exactly 1/2 (w·f/(w·f + w·f) with the uniform start, which
// EM cannot move: every weight is a maximum), and README's posteriors
// table says component is then the first one.
func TestMutationPosteriorTies(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 1, 1, 2}), column("x", []int64{1, 0, 1, 0}))
	mustRun(t, j.config(t, `{family: bernoulli, components: [{name: a, p: 0.6}, {name: b, p: 0.6}]}`), Options{})
	post := readTable(t, j.out, PosteriorsTable)
	if post.len() != 4 {
		t.Fatalf("posteriors has %d rows, want 4", post.len())
	}
	for i := range post.len() {
		pa, pb := post.cols["posterior_a"][i], post.cols["posterior_b"][i]
		if pa != 0.5 || pb != 0.5 || post.cols["component"][i] != "a" {
			t.Errorf("row %d: posteriors %v, %v, component %v; want 0.5, 0.5 and the first, a", i, pa, pb, post.cols["component"][i])
		}
	}
}

// TestMutationFirstBadRowInPlanOrder: with run.on_error: skip a failed
// bag's error names its first bad row in plan order (files by name, then
// rows), whichever worker read it: here every one of eight files holds a
// bad row of bag 7, at row f+1 of file f, and four workers read them in
// whatever order they take them. The answer, file 0's row 1, follows
// from how the files were written. Several runs, as the workers' order
// varies from run to run.
func TestMutationFirstBadRowInPlanOrder(t *testing.T) {
	j := newJob(t)
	for f := range 8 {
		bags := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
		xs := []int64{1, 0, 1, 0, 1, 0, 1, 0, 1, 0}
		bags[f+1], xs[f+1] = 7, 2 // the bad row
		writeParquet(t, j.file(fmt.Sprintf("f%d.parquet", f)), column("bag", bags), column("x", xs))
	}
	runs := 6
	if testing.Short() {
		runs = 3
	}
	for run := range runs {
		out := filepath.Join(t.TempDir(), "out")
		cfg := j.config(t, bernoulliModel, func(c *Config) {
			c.Run.OnError, c.Run.Workers, c.Output.Dir, c.Output.Posteriors = OnErrorSkip, 4, out, false
		})
		mustRun(t, cfg, Options{})
		fits := readTable(t, out, FitsTable)
		i := slices.Index(fits.cols["bag"], any(int64(7)))
		if i < 0 {
			t.Fatal("bag 7 is not in fits")
		}
		msg, _ := fits.cols["error"][i].(string)
		if !strings.Contains(msg, "f0.parquet") || !strings.Contains(msg, ", row 1,") {
			t.Fatalf("run %d: bag 7's error %q; want its first bad row, f0.parquet row 1", run, msg)
		}
	}
}

// TestMutationSpilledRowNumbers: a spilling run reads a unit a batch of
// spillFlushRows rows at a time; a bad value's message still gives its row
// within the file. The file is written here with its one NaN at row 53
// (0-based) of a single row group of 100 rows, read in batches of 16.
func TestMutationSpilledRowNumbers(t *testing.T) {
	j := newJob(t)
	bags, xs := make([]int64, 100), make([]float64, 100)
	for i := range bags {
		bags[i], xs[i] = int64(i%7), float64(i%5)
	}
	xs[53] = math.NaN()
	writeParquet(t, j.file("a.parquet"), column("bag", bags), column("x", xs))
	cfg := j.config(t, gaussianModel, func(c *Config) { c.Run.TempDir = t.TempDir() })
	_, err := Run(t.Context(), cfg, Options{spillPartitions: 2, spillFlushRows: 16})
	wantInputError(t, err, "a.parquet", "x", 53, "4", "NaN", "a gaussian value must be finite")
}

// TestMutationNoDataNamesFirstFile: a bag whose counts sum to zero fails
// naming the count column and the first file (by name) that has rows of
// it, whichever worker read that file: bag 5 has a row of count 0 in each
// of eight files. Several runs, as the workers' order varies.
func TestMutationNoDataNamesFirstFile(t *testing.T) {
	j := newJob(t)
	// Files long enough that the workers read them at the same time.
	const rows = 4000
	for f := range 8 {
		bags, xs, ns := make([]int64, rows), make([]int64, rows), make([]int64, rows)
		for i := range bags {
			bags[i], xs[i], ns[i] = int64(1+i%4), int64(i%2), 1
		}
		bags[rows/2], ns[rows/2] = 5, 0
		writeParquet(t, j.file(fmt.Sprintf("f%d.parquet", f)), column("bag", bags), column("x", xs), column("n", ns))
	}
	runs := 6
	if testing.Short() {
		runs = 3
	}
	for run := range runs {
		out := filepath.Join(t.TempDir(), "out")
		cfg := j.config(t, bernoulliModel, func(c *Config) {
			c.Input.Count, c.Run.OnError, c.Run.Workers, c.Output.Dir, c.Output.Posteriors = "n", OnErrorSkip, 4, out, false
		})
		mustRun(t, cfg, Options{})
		fits := readTable(t, out, FitsTable)
		i := slices.Index(fits.cols["bag"], any(int64(5)))
		if i < 0 {
			t.Fatal("bag 5 is not in fits")
		}
		msg, _ := fits.cols["error"][i].(string)
		if !strings.Contains(msg, "f0.parquet") || !strings.Contains(msg, `column "n"`) || !strings.Contains(msg, "counts sum to zero") {
			t.Fatalf("run %d: bag 5's error %q; want f0.parquet, column \"n\" and the zero sum", run, msg)
		}
	}
}

// TestMutationPoissonAboveTwoTo53: a poisson value above 2^53 has no
// exact float64, so it is a bad row (README's bad-input table) naming its
// row and value, also where the row-by-row check reads it (a null in the
// batch sends the batch there); 2^53 itself is fine.
func TestMutationPoissonAboveTwoTo53(t *testing.T) {
	const big = int64(1) << 53
	model := `{family: poisson, components: [{name: a, rate: 9.0e15}, {name: b, rate: 1}]}`
	for _, nulls := range []bool{false, true} {
		j := newJob(t)
		xs := []any{big, big - 1, big + 1, int64(3)}
		if nulls {
			xs = append(xs, nil)
		}
		bags := make([]int64, len(xs))
		writeParquet(t, j.file("a.parquet"), column("bag", bags), column("x", xs))
		err := runBad(t, j.config(t, model, func(c *Config) { c.Input.Nulls = NullsDrop }))
		wantInputError(t, err, "a.parquet", "x", 2, "0", fmt.Sprint(big+1), "a poisson value above 2^53 cannot be represented exactly")
	}
}

// TestMutationSubnormalCounts: every positive count below 2^-1022, the
// smallest normal float64, is a bad row (README's bad-input table), the
// largest subnormals too; 2^-1022 itself is a count like any other.
func TestMutationSubnormalCounts(t *testing.T) {
	smallest := math.Float64frombits(1 << 52) // 2^-1022
	if smallest != 0x1p-1022 {
		t.Fatal("2^-1022")
	}
	for _, c := range []struct {
		count float64
		bad   bool
	}{{smallest, false}, {math.Nextafter(smallest, 0), true}, {smallest * 0.75, true}, {5e-324, true}} {
		j := newJob(t)
		writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 1, 1}), column("x", []float64{0.5, 1, 4}),
			column("n", []float64{1, c.count, 2}))
		cfg := j.config(t, gaussianModel, func(cfg *Config) { cfg.Input.Count = "n" })
		if !c.bad {
			mustRun(t, cfg, Options{})
			continue
		}
		err := runBad(t, cfg)
		wantInputError(t, err, "a.parquet", "n", 1, "1", fmt.Sprint(c.count), "subnormal")
	}
}

// TestMutationZeroCountRowsChangeNothing: rows of count 0 add nothing to
// a bag's likelihood, so a learned fit (whose k-means++ starts draw from
// the bag's values) of rows with some of count 0, far from the others,
// is the fit of the rows without them, bit for bit: the same seed, the
// same bag key and the same data.
func TestMutationZeroCountRowsChangeNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	var xs, ns []float64
	for i := range 60 {
		xs = append(xs, float64(5*(i%2))+rng.NormFloat64())
		ns = append(ns, float64(1+rng.IntN(3)))
	}
	base := len(xs)
	for i := range 6 {
		xs = append(xs, 1000+float64(i))
		ns = append(ns, 0)
	}
	run := func(n int) (*table, *table) {
		j := newJob(t)
		bags := make([]int64, n)
		writeParquet(t, j.file("a.parquet"), column("bag", bags), column("x", xs[:n]), column("n", ns[:n]))
		cfg := j.config(t, `{family: gaussian, learn: [weights, mean, sd], components: [{name: a}, {name: b}]}`,
			func(c *Config) { c.Input.Count, c.Output.Posteriors = "n", false })
		mustRun(t, cfg, Options{})
		return readTable(t, j.out, WeightsTable), readTable(t, j.out, FitsTable)
	}
	w0, f0 := run(base)
	w1, f1 := run(len(xs))
	for _, c := range []string{"weight", "mean", "sd"} {
		if !slices.Equal(w0.cols[c], w1.cols[c]) {
			t.Errorf("%s: %v with the rows of count 0, %v without", c, w1.cols[c], w0.cols[c])
		}
	}
	if f0.cols["log_likelihood"][0] != f1.cols["log_likelihood"][0] || f0.cols["total_count"][0] != f1.cols["total_count"][0] {
		t.Errorf("fits: ll %v, total %v with the rows of count 0; %v, %v without",
			f1.cols["log_likelihood"][0], f1.cols["total_count"][0], f0.cols["log_likelihood"][0], f0.cols["total_count"][0])
	}
	if got := f1.cols["n_obs"][0]; got != int64(len(xs)) {
		t.Errorf("n_obs %v, want every row, %d", got, len(xs))
	}
}

// TestMutationConfigBoundaries: the edges of the documented ranges, on
// both sides: probs sum to 1 within ±1e-9 (README's families table),
// run.workers at most 1024 (README's run config).
func TestMutationConfigBoundaries(t *testing.T) {
	cfg := func(probA, workers string) string {
		return fmt.Sprintf(`
input: {paths: [in/], bag: b, value: x}
model:
  family: categorical
  components: [{name: a, probs: {u: %s, v: 0.5}}, {name: b, probs: {u: 0.25, v: 0.75}}]
output: {dir: out}
run: {workers: %s}
`, probA, workers)
	}
	for _, c := range []struct {
		probA, workers, err string
	}{
		{"0.5", "1024", ""},
		{"0.5000000009", "1", ""}, // off by 9e-10
		{"0.4999999991", "1", ""},
		{"0.500000002", "1", "model.components[0].probs must sum to 1, got 1.000000002"},
		{"0.499999998", "1", "model.components[0].probs must sum to 1"},
		{"0.5", "1025", "run.workers must be at most 1024 (0 means one per CPU), got 1025"},
	} {
		_, err := Load([]byte(strings.TrimLeft(cfg(c.probA, c.workers), "\n")))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("probs u: %s, workers %s: %v; want it accepted", c.probA, c.workers, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("probs u: %s, workers %s: error %v; want %q", c.probA, c.workers, err, c.err)
		}
	}
}

// TestMutationOverwriteManifestOnly: README's output.overwrite replaces
// an earlier output, "a folder holding _SUCCESS or manifest.json": one
// whose _SUCCESS is gone (a reader deleted it, a copy left it out) is
// still one, and is replaced.
func TestMutationOverwriteManifestOnly(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 1}), column("x", []int64{1, 0}))
	cfg := j.config(t, bernoulliModel, func(c *Config) { c.Output.Overwrite = true })
	mustRun(t, cfg, Options{})
	if err := os.Remove(filepath.Join(j.out, SuccessFile)); err != nil {
		t.Fatal(err)
	}
	mustRun(t, cfg, Options{})
	if _, err := os.Stat(filepath.Join(j.out, SuccessFile)); err != nil {
		t.Errorf("the new output has no %s: %v", SuccessFile, err)
	}
}

// TestMutationOutputAppearsDuringRun: without output.overwrite, a folder
// that appears at output.dir while the run writes is not replaced: the run
// fails saying so, and the folder keeps its file.
func TestMutationOutputAppearsDuringRun(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 1}), column("x", []int64{1, 0}))
	cfg := j.config(t, bernoulliModel)
	mine := filepath.Join(j.out, "mine.txt")
	var once sync.Once
	made := false
	_, err := Run(t.Context(), cfg, Options{Progress: func(stage string, _, _ int64) {
		if stage != "posteriors" {
			return
		}
		once.Do(func() {
			made = true
			if err := os.MkdirAll(j.out, 0o755); err != nil {
				t.Error(err)
			}
			if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
				t.Error(err)
			}
		})
	}})
	if !made {
		t.Fatal("no posteriors progress: the folder was not made")
	}
	if err == nil || !strings.Contains(err.Error(), "appeared while the run was writing; not replacing it") {
		t.Errorf("error %v; want the output.dir that appeared refused", err)
	}
	if b, rerr := os.ReadFile(mine); rerr != nil || string(b) != "mine" {
		t.Errorf("the folder that appeared was changed: %q, %v", b, rerr)
	}
}

// TestMutationPosteriorsBeyondK: with model.components_range a bag keeps
// the K that fits.n_components gives, and its rows' posterior_cj for j
// above that K are null (README's posteriors table: only the bag's model
// has posteriors); those up to K are probabilities summing to 1 (within
// 1e-12, rounding). Bag 1 is one tight cluster (BIC picks K = 1 for it),
// bag 2 three well-separated ones, so both cases occur (checked).
func TestMutationPosteriorsBeyondK(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var bags []int64
	var xs []float64
	for range 40 {
		bags, xs = append(bags, 1), append(xs, rng.NormFloat64())
	}
	for i := range 90 {
		bags, xs = append(bags, 2), append(xs, float64(20*(i%3))+rng.NormFloat64())
	}
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", bags), column("x", xs))
	mustRun(t, j.config(t, `{family: gaussian, learn: [weights, mean, sd], components_range: [1, 3]}`), Options{})
	fits := readTable(t, j.out, FitsTable)
	k := map[int64]int64{}
	for i := range fits.len() {
		k[fits.cols["bag"][i].(int64)] = fits.cols["n_components"][i].(int64)
	}
	if k[1] != 1 || k[2] != 3 {
		t.Fatalf("n_components %v; the test wants bag 1 at K = 1 and bag 2 at K = 3", k)
	}
	post := readTable(t, j.out, PosteriorsTable)
	if post.len() != len(xs) {
		t.Fatalf("posteriors has %d rows, want %d", post.len(), len(xs))
	}
	for i := range post.len() {
		b := post.cols["bag"][i].(int64)
		sum := 0.0
		for c := int64(1); c <= 3; c++ {
			v := post.cols[fmt.Sprintf("posterior_c%d", c)][i]
			switch {
			case c > k[b] && v != nil:
				t.Errorf("row %d (bag %d, K = %d): posterior_c%d = %v, want null", i, b, k[b], c, v)
			case c <= k[b] && v == nil:
				t.Errorf("row %d (bag %d, K = %d): posterior_c%d is null", i, b, k[b], c)
			case c <= k[b]:
				sum += v.(float64)
			}
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Errorf("row %d: posteriors sum to %v", i, sum)
		}
	}
}
