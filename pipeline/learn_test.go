package pipeline

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// learnCase is a family whose parameters a run learns, with a generator
// of bags drawn from a known mixture.
type learnCase struct {
	name   string
	model  string // the model: section
	family em.Family
	learn  em.LearnSet
	draw   func(rng *rand.Rand) float64 // one coded value
	column func(name string, xs []float64) col
}

func learnCases() []learnCase {
	floats := func(name string, xs []float64) col { return column(name, xs) }
	ints := func(name string, xs []float64) col {
		v := make([]int64, len(xs))
		for i, x := range xs {
			v[i] = int64(x)
		}
		return column(name, v)
	}
	return []learnCase{
		{
			name:   "gaussian",
			model:  `{family: gaussian, learn: [weights, mean, sd], components: [{name: a}, {name: b}, {name: c}]}`,
			family: em.Gaussian, learn: em.LearnWeights | em.LearnMean | em.LearnSD,
			draw: func(rng *rand.Rand) float64 {
				switch u := rng.Float64(); {
				case u < 0.3:
					return rng.NormFloat64()*1 - 4
				case u < 0.7:
					return rng.NormFloat64()*0.5 + 1
				default:
					return rng.NormFloat64()*2 + 7
				}
			},
			column: floats,
		},
		{
			name:   "poisson",
			model:  `{family: poisson, learn: [weights, rate], components: [{name: a}, {name: b}]}`,
			family: em.Poisson, learn: em.LearnWeights | em.LearnRate,
			draw: func(rng *rand.Rand) float64 {
				if rng.Float64() < 0.4 {
					return float64(poissonDraw(rng, 2))
				}
				return float64(poissonDraw(rng, 12))
			},
			column: ints,
		},
		{
			name:   "gaussian means only",
			model:  `{family: gaussian, learn: [weights, mean], components: [{name: a, sd: 1}, {name: b, sd: 2}]}`,
			family: em.Gaussian, learn: em.LearnWeights | em.LearnMean,
			draw: func(rng *rand.Rand) float64 {
				if rng.Float64() < 0.5 {
					return rng.NormFloat64()
				}
				return rng.NormFloat64()*2 + 6
			},
			column: floats,
		},
	}
}

// aggregate returns a bag's distinct values, ascending, with their counts,
// as the pipeline hands them to em.
func aggregate(xs []float64) ([]float64, []float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	var vals, counts []float64
	for _, x := range s {
		if n := len(vals); n > 0 && vals[n-1] == x {
			counts[n-1]++
			continue
		}
		vals = append(vals, x)
		counts = append(counts, 1)
	}
	return vals, counts
}

// TestLearnedMatchesDirectLearn runs each learning family through the
// pipeline and checks every bag against em.Learn called directly on the
// same values with the seed derived from (em.seed, bag key): the pipeline
// must pass the data, seeds and settings through and put every estimate
// (weights, parameters, log-likelihood, iterations, BIC, AIC) in the right
// row and column. Tolerance: bit-identical for the weights table and the
// integer and boolean columns (both sides run the same code on the same
// input); 1e-9 relative for log_likelihood, bic and aic, which the test
// recomputes by its own formula.
func TestLearnedMatchesDirectLearn(t *testing.T) {
	for ci, lc := range learnCases() {
		t.Run(lc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci), 77))
			byBag := map[int64][]float64{}
			var keys []int64
			var xs []float64
			for b := int64(0); b < 25; b++ {
				n := 1 + rng.IntN(120)
				if b == 3 {
					n = 1 // a bag of one observation
				}
				for range n {
					x := lc.draw(rng)
					keys = append(keys, b*7)
					xs = append(xs, x)
					byBag[b*7] = append(byBag[b*7], x)
				}
			}
			dir := t.TempDir()
			writeParquet(t, filepath.Join(dir, "in", "a.parquet"), column("bag", keys), lc.column("v", xs))
			out := filepath.Join(dir, "out")
			cfg := mustLoad(t, fmt.Sprintf("input: {paths: [%q], bag: bag, value: v}\nmodel: %s\nem: {seed: 99, restarts: 4}\noutput: {dir: %q, posteriors: true}\n",
				filepath.Join(dir, "in"), lc.model, out))
			mustRun(t, cfg, Options{Workers: 3})
			weights, fits := readTable(t, out, WeightsTable), readTable(t, out, FitsTable)
			if fits.len() != len(byBag) {
				t.Fatalf("fits has %d rows, want one per bag (%d)", fits.len(), len(byBag))
			}
			k := len(cfg.Model.Components)
			m := newModel(cfg).learn.models[k]
			row := 0
			for fi := 0; fi < fits.len(); fi++ {
				key := fits.cols["bag"][fi].(int64)
				vals, counts := aggregate(byBag[key])
				var kb [8]byte
				binary.BigEndian.PutUint64(kb[:], uint64(key))
				res, err := em.Learn(em.Bag{X: vals, Counts: counts}, m, em.LearnSettings{
					MaxIter: cfg.EM.MaxIter, Tol: cfg.EM.Tol, Restarts: 4, Seed: em.BagSeed(99, kb[:])})
				if err != nil {
					t.Fatalf("bag %d: direct Learn: %v", key, err)
				}
				n := float64(len(byBag[key]))
				np := m.FreeParams()
				for col, want := range map[string]any{
					"log_likelihood": res.LogLikelihood, "iterations": int64(res.Iterations),
					"converged": res.Converged, "n_components": int64(k),
					"bic": -2*res.LogLikelihood + float64(np)*math.Log(n), "aic": -2*res.LogLikelihood + 2*float64(np),
				} {
					if got := fits.cols[col][fi]; fmt.Sprint(got) != fmt.Sprint(want) {
						if g, ok := got.(float64); !ok || math.Abs(g-want.(float64)) > 1e-9*math.Abs(g) {
							t.Errorf("bag %d: fits.%s = %v, direct %v", key, col, got, want)
						}
					}
				}
				for j := range k {
					if weights.cols["bag"][row] != key {
						t.Fatalf("weights row %d is bag %v, want %d", row, weights.cols["bag"][row], key)
					}
					check := func(col string, want float64) {
						got := weights.cols[col][row]
						if math.IsNaN(want) {
							if got != nil {
								t.Errorf("bag %d component %d: %s = %v, want null (NaN)", key, j, col, got)
							}
							return
						}
						if got != want {
							t.Errorf("bag %d component %d: %s = %v, direct %v", key, j, col, got, want)
						}
					}
					check("weight", res.Params.Weights[j])
					if lc.learn.Has(em.LearnMean) {
						check("mean", res.Params.Mean[j])
					}
					if lc.learn.Has(em.LearnSD) {
						check("sd", res.Params.SD[j])
					}
					if lc.learn.Has(em.LearnRate) {
						check("rate", res.Params.Rate[j])
					}
					if lc.learn.Has(em.LearnProbs) {
						got, _ := weights.cols["probs"][row].(string)
						want := "null"
						if !math.IsNaN(res.Params.Probs[j*3]) {
							want = fmt.Sprintf("{blue=%v, green=%v, red=%v}", res.Params.Probs[j*3], res.Params.Probs[j*3+1], res.Params.Probs[j*3+2])
						}
						if got != want && !(got == "" && want == "null") {
							t.Errorf("bag %d component %d: probs %q, direct %q", key, j, got, want)
						}
					}
					row++
				}
			}
			if row != weights.len() {
				t.Errorf("weights has %d rows, expected %d", weights.len(), row)
			}
			checkLearnedPosteriors(t, out, lc)
		})
	}
}

// checkLearnedPosteriors recomputes each row's posteriors by Bayes' rule
// from the bag's learned parameters read from weights/ (for the
// continuous and count families), within 1e-12.
func checkLearnedPosteriors(t *testing.T, out string, lc learnCase) {
	t.Helper()
	if lc.family == em.Categorical {
		return // probs are read back as a map rendering; covered above
	}
	weights, post := readTable(t, out, WeightsTable), readTable(t, out, PosteriorsTable)
	type comp struct{ w, a, b float64 }
	params := map[int64][]comp{}
	for i := 0; i < weights.len(); i++ {
		key := weights.cols["bag"][i].(int64)
		c := comp{w: weights.cols["weight"][i].(float64)}
		get := func(col string, fixed float64) float64 {
			if v, ok := weights.cols[col]; ok {
				if f, ok := v[i].(float64); ok {
					return f
				}
				return math.NaN()
			}
			return fixed
		}
		switch lc.family {
		case em.Gaussian:
			j := len(params[key])
			c.a, c.b = get("mean", 0), get("sd", []float64{1, 2}[min(j, 1)])
		case em.Poisson:
			c.a = get("rate", 0)
		}
		params[key] = append(params[key], c)
	}
	if post.len() == 0 || len(params) == 0 {
		t.Fatalf("posteriors has %d rows and weights %d bags: nothing to check", post.len(), len(params))
	}
	names := []string{"posterior_a", "posterior_b", "posterior_c"}
	for i := 0; i < post.len(); i++ {
		cs := params[post.cols["bag"][i].(int64)]
		x := cmp.Or(asFloat(post.cols["v"][i]), 0)
		dens := make([]float64, len(cs))
		sum := 0.0
		for j, c := range cs {
			if c.w == 0 {
				continue
			}
			switch lc.family {
			case em.Gaussian:
				z := (x - c.a) / c.b
				dens[j] = c.w * math.Exp(-z*z/2) / (c.b * math.Sqrt(2*math.Pi))
			case em.Poisson:
				lg, _ := math.Lgamma(x + 1)
				dens[j] = c.w * math.Exp(x*math.Log(c.a)-c.a-lg)
			}
			sum += dens[j]
		}
		for j := range cs {
			got := post.cols[names[j]][i].(float64)
			if want := dens[j] / sum; math.Abs(got-want) > 1e-12 {
				t.Errorf("posteriors row %d, component %d: %v, Bayes' rule %v", i, j, got, want)
				return
			}
		}
	}
}

func asFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	}
	return math.NaN()
}

// TestLearnedIndependentOfRunShape: a bag's learned fit depends only on
// its own rows and the seed: not on the worker count, and not on which
// other bags are in the run.
func TestLearnedIndependentOfRunShape(t *testing.T) {
	lc := learnCases()[0]
	rng := rand.New(rand.NewPCG(5, 5))
	var keys []int64
	var xs []float64
	for b := int64(0); b < 40; b++ {
		for range 30 + rng.IntN(50) {
			keys = append(keys, b)
			xs = append(xs, lc.draw(rng))
		}
	}
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "all", "a.parquet"), column("bag", keys), lc.column("v", xs))
	// The odd bags alone.
	var oddK []int64
	var oddX []float64
	for i, k := range keys {
		if k%2 == 1 {
			oddK, oddX = append(oddK, k), append(oddX, xs[i])
		}
	}
	writeParquet(t, filepath.Join(dir, "odd", "a.parquet"), column("bag", oddK), lc.column("v", oddX))
	run := func(in, out string, workers int) *table {
		cfg := mustLoad(t, fmt.Sprintf("input: {paths: [%q], bag: bag, value: v}\nmodel: %s\nem: {seed: 3}\noutput: {dir: %q}\n",
			filepath.Join(dir, in), lc.model, filepath.Join(dir, out)))
		mustRun(t, cfg, Options{Workers: workers})
		return readTable(t, filepath.Join(dir, out), WeightsTable)
	}
	one, three, odd := run("all", "w1", 1), run("all", "w3", 3), run("odd", "oddout", 2)
	assertSameTable(t, one, three, []string{"bag", "component", "weight", "mean", "sd", "std_error"}, nil, 0)
	j := 0
	for i := 0; i < one.len(); i++ {
		if one.cols["bag"][i].(int64)%2 == 0 {
			continue
		}
		for _, c := range []string{"bag", "component", "weight", "mean", "sd"} {
			if one.cols[c][i] != odd.cols[c][j] {
				t.Fatalf("bag %v %s: %v in the full run, %v with the odd bags alone", one.cols["bag"][i], c, one.cols[c][i], odd.cols[c][j])
			}
		}
		j++
	}
}

// TestComponentsRangeSelects: with components_range the pipeline keeps,
// per bag, the K whose direct em.Learn fit has the lowest BIC (or AIC).
func TestComponentsRangeSelects(t *testing.T) {
	for _, crit := range []string{SelectBIC, SelectAIC} {
		rng := rand.New(rand.NewPCG(8, 8))
		var keys []int64
		var xs []float64
		byBag := map[int64][]float64{}
		for b := int64(0); b < 30; b++ {
			kTrue := 1 + int(b%3) // 1, 2 or 3 well-separated components
			for range 150 {
				x := float64(poissonDraw(rng, []float64{3, 15, 40}[rng.IntN(kTrue)]))
				keys, xs = append(keys, b), append(xs, x)
				byBag[b] = append(byBag[b], x)
			}
		}
		dir := t.TempDir()
		writeParquet(t, filepath.Join(dir, "in", "a.parquet"), column("bag", keys), learnCases()[1].column("v", xs))
		out := filepath.Join(dir, "out")
		cfg := mustLoad(t, fmt.Sprintf("input: {paths: [%q], bag: bag, value: v}\nmodel: {family: poisson, learn: [weights, rate], components_range: [1, 4], select: %s}\nem: {seed: 1}\noutput: {dir: %q, posteriors: true}\n",
			filepath.Join(dir, "in"), crit, out))
		mustRun(t, cfg, Options{})
		fits, weights := readTable(t, out, FitsTable), readTable(t, out, WeightsTable)
		lrn := newModel(cfg).learn
		hits := 0
		wrows := 0
		for i := 0; i < fits.len(); i++ {
			key := fits.cols["bag"][i].(int64)
			vals, counts := aggregate(byBag[key])
			var kb [8]byte
			binary.BigEndian.PutUint64(kb[:], uint64(key))
			bestK, best := 0, math.Inf(1)
			for k := 1; k <= 4; k++ {
				res, err := em.Learn(em.Bag{X: vals, Counts: counts}, lrn.models[k], em.LearnSettings{MaxIter: cfg.EM.MaxIter, Tol: cfg.EM.Tol, Seed: em.BagSeed(1, kb[:])})
				if err != nil {
					t.Fatal(err)
				}
				np := float64(2*k - 1)
				score := -2*res.LogLikelihood + 2*np
				if crit == SelectBIC {
					score = -2*res.LogLikelihood + np*math.Log(150)
				}
				if score < best {
					bestK, best = k, score
				}
			}
			if got := fits.cols["n_components"][i].(int64); got != int64(bestK) {
				t.Errorf("%s: bag %d: n_components %d, direct selection %d", crit, key, got, bestK)
			}
			if int64(bestK) == 1+key%3 {
				hits++
			}
			wrows += bestK
		}
		if weights.len() != wrows {
			t.Errorf("%s: weights has %d rows, want one per selected component (%d)", crit, weights.len(), wrows)
		}
		t.Logf("%s picked the true K in %d of %d bags", crit, hits, fits.len())
		if crit == SelectBIC && hits < 27 {
			t.Errorf("BIC picked the true K in only %d of 30 well-separated bags", hits)
		}
	}
}

// TestComponentsRangeGaussian: components_range with a gaussian family,
// where no component is configured (it once indexed the first configured
// component and failed every run). On well-separated bags of 1, 2 or 3
// components, BIC must find the true K in nearly every bag, and weights/
// must hold one row per selected component.
func TestComponentsRangeGaussian(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	var keys []int64
	var xs []float64
	for b := int64(0); b < 30; b++ {
		kTrue := 1 + int(b%3)
		for range 200 {
			j := rng.IntN(kTrue)
			keys, xs = append(keys, b), append(xs, []float64{0, 20, 45}[j]+rng.NormFloat64()*[]float64{1, 2, 1.5}[j])
		}
	}
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "in", "a.parquet"), column("bag", keys), column("v", xs))
	out := filepath.Join(dir, "out")
	cfg := mustLoad(t, fmt.Sprintf("input: {paths: [%q], bag: bag, value: v}\nmodel: {family: gaussian, learn: [weights, mean, sd], components_range: [1, 4]}\nem: {seed: 1}\noutput: {dir: %q, posteriors: true}\n",
		filepath.Join(dir, "in"), out))
	sum := mustRun(t, cfg, Options{})
	if sum.BagsOK != 30 {
		t.Fatalf("%d of 30 bags ok", sum.BagsOK)
	}
	fits, weights := readTable(t, out, FitsTable), readTable(t, out, WeightsTable)
	hits, wrows := 0, 0
	for i := 0; i < fits.len(); i++ {
		k := fits.cols["n_components"][i].(int64)
		if k == 1+fits.cols["bag"][i].(int64)%3 {
			hits++
		}
		wrows += int(k)
	}
	if weights.len() != wrows {
		t.Errorf("weights has %d rows, want one per selected component (%d)", weights.len(), wrows)
	}
	if hits < 27 {
		t.Errorf("BIC picked the true K in only %d of 30 well-separated bags", hits)
	}
	if n := readTable(t, out, PosteriorsTable).len(); n != len(xs) {
		t.Errorf("posteriors has %d rows, want %d", n, len(xs))
	}
}

// TestEmptiedComponentKeepsStdErrors: the audit's bag, ten 3s and ten 8s,
// learned with three Poisson components: the fit empties one (weight 0,
// rate null), and the other two must keep the standard errors that a
// K = 2 run of the same bag writes (em.StdErrors holds the emptied one at
// weight 0; TestStdErrorsEmptiedComponent checks that against K - 1
// components). They used to be null for the whole bag.
func TestEmptiedComponentKeepsStdErrors(t *testing.T) {
	dir := t.TempDir()
	xs := append(slices.Repeat([]int64{3}, 10), slices.Repeat([]int64{8}, 10)...)
	writeParquet(t, filepath.Join(dir, "in", "a.parquet"), column("bag", slices.Repeat([]int64{1}, 20)), column("x", xs))
	run := func(comps string) *table {
		out := filepath.Join(dir, "out"+comps)
		cfg := mustLoad(t, fmt.Sprintf("input: {paths: [%q], bag: bag, value: x}\nmodel: {family: poisson, learn: [weights, rate], components: [%s]}\nem: {seed: 1}\noutput: {dir: %q}\n",
			filepath.Join(dir, "in"), comps, out))
		mustRun(t, cfg, Options{})
		return readTable(t, out, WeightsTable)
	}
	w3 := run("{name: a}, {name: b}, {name: c}")
	w2 := run("{name: a}, {name: b}")
	type est struct{ w, se, rate, rateSE any }
	rows := func(w *table) []est {
		var out []est
		for i := range w.len() {
			out = append(out, est{w.cols["weight"][i], w.cols["std_error"][i], w.cols["rate"][i], w.cols["rate_std_error"][i]})
		}
		return out
	}
	var got []est
	empty := 0
	for _, r := range rows(w3) {
		if r.w == 0.0 {
			empty++
			continue
		}
		got = append(got, r)
	}
	want := rows(w2)
	if empty != 1 || len(got) != 2 {
		t.Fatalf("K = 3 rows %v: the test needs one emptied component", rows(w3))
	}
	sortEst := func(e []est) {
		slices.SortFunc(e, func(a, b est) int { return cmp.Compare(a.rate.(float64), b.rate.(float64)) })
	}
	sortEst(got)
	sortEst(want)
	for i := range got {
		for _, pair := range [][2]any{{got[i].w, want[i].w}, {got[i].se, want[i].se}, {got[i].rate, want[i].rate}, {got[i].rateSE, want[i].rateSE}} {
			g, ok1 := pair[0].(float64)
			w, ok2 := pair[1].(float64)
			if !ok1 || !ok2 || !(math.Abs(g-w) <= 1e-6*math.Abs(w)) {
				t.Errorf("component %d: K = 3 gives %+v, K = 2 %+v", i, got[i], want[i])
				break
			}
		}
	}
}
