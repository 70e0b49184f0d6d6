package pipeline

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// sharedData writes bags whose rows come from components shared by every
// bag, with weights drawn per bag, and returns the input folder and the
// rows by bag.
func sharedData(t *testing.T, seed uint64, nb int, draw func(rng *rand.Rand, comp int) float64, k int, ints bool) (string, map[int64][]float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var keys []int64
	var xs []float64
	byBag := map[int64][]float64{}
	for b := range int64(nb) {
		w := make([]float64, k)
		sum := 0.0
		for j := range w {
			w[j] = rng.ExpFloat64()
			sum += w[j]
		}
		n := 20 + rng.IntN(200)
		for range n {
			u, j := rng.Float64()*sum, 0
			for ; j < k-1 && u > w[j]; j++ {
				u -= w[j]
			}
			x := draw(rng, j)
			keys, xs = append(keys, b), append(xs, x)
			byBag[b] = append(byBag[b], x)
		}
	}
	dir := filepath.Join(t.TempDir(), "in")
	c := column("x", xs)
	if ints {
		v := make([]int64, len(xs))
		for i, x := range xs {
			v[i] = int64(x)
		}
		c = column("x", v)
	}
	writeParquet(t, filepath.Join(dir, "a.parquet"), column("bag", keys), c)
	return dir, byBag
}

// TestSharedStationary fits shared Gaussian regimes and shared Poisson
// rates over many bags and checks that the result is the joint maximum
// likelihood's fixed point, computed independently in the test from the
// run's own posteriors table: each bag's weights are its rows' mean
// posteriors, and each shared parameter is the posterior-weighted mean
// (and variance) over all rows of all bags. Tolerance 1e-4 relative, as
// the em package's check against a BFGS maximisation of the joint
// log-likelihood: the fit stops when an iteration gains less than 1e-10 of
// the log-likelihood, which leaves the parameters about 1e-6 from the
// maximum here (the test logs the largest distance). It also checks
// components/, the manifest, and that 1 and 3 workers give identical
// tables.
func TestSharedStationary(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		draw        func(rng *rand.Rand, comp int) float64
		ints        bool
		params      []string
	}{
		{"gaussian", `{family: gaussian, learn: [weights, mean, sd], scope: shared, components: [{name: calm}, {name: storm}]}`,
			func(rng *rand.Rand, j int) float64 {
				return []float64{0, 5}[j] + []float64{1, 1.5}[j]*rng.NormFloat64()
			}, false, []string{"mean", "sd"}},
		{"poisson", `{family: poisson, learn: [weights, rate], scope: shared, components: [{name: quiet}, {name: busy}, {name: peak}]}`,
			func(rng *rand.Rand, j int) float64 { return float64(poissonDraw(rng, []float64{2, 9, 25}[j])) }, true, []string{"rate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := strings.Count(tc.model, "name:")
			in, _ := sharedData(t, 21, 150, tc.draw, k, tc.ints)
			outs := map[int]string{}
			for _, workers := range []int{1, 3} {
				out := filepath.Join(t.TempDir(), "out")
				cfg := mustLoad(t, fmt.Sprintf("input: {paths: [%q], bag: bag, value: x}\nmodel: %s\nem: {seed: 4}\noutput: {dir: %q, posteriors: true}\n", in, tc.model, out))
				mustRun(t, cfg, Options{Workers: workers})
				outs[workers] = out
			}
			for _, tab := range []string{WeightsTable, FitsTable, ComponentsTable, PosteriorsTable} {
				a, b := readTable(t, outs[1], tab), readTable(t, outs[3], tab)
				assertSameTable(t, a, b, a.names, nil, 0)
			}
			out := outs[3]
			comps, post, weights := readTable(t, out, ComponentsTable), readTable(t, out, PosteriorsTable), readTable(t, out, WeightsTable)
			if comps.len() != k {
				t.Fatalf("components/ has %d rows, want %d", comps.len(), k)
			}
			names := make([]string, k)
			for j := range k {
				names[j] = comps.cols["component"][j].(string)
			}
			// Fixed point, from the posteriors.
			sumR := make([]float64, k)
			sumX := make([]float64, k)
			bagR := map[int64][]float64{}
			bagN := map[int64]float64{}
			for i := 0; i < post.len(); i++ {
				bag, x := post.cols["bag"][i].(int64), asFloat(post.cols["x"][i])
				if bagR[bag] == nil {
					bagR[bag] = make([]float64, k)
				}
				bagN[bag]++
				for j, name := range names {
					r := post.cols[PosteriorPrefix+name][i].(float64)
					sumR[j] += r
					sumX[j] += r * x
					bagR[bag][j] += r
				}
			}
			mean := make([]float64, k)
			for j := range k {
				mean[j] = sumX[j] / sumR[j]
			}
			worst := 0.0
			close := func(what string, got, want float64) {
				d := math.Abs(got-want) / math.Max(1, math.Abs(want))
				worst = math.Max(worst, d)
				if d > 1e-4 {
					t.Errorf("%s = %v, fixed point %v", what, got, want)
				}
			}
			defer func() { t.Logf("largest distance from the EM fixed point: %.2g", worst) }()
			for j, name := range names {
				switch tc.name {
				case "gaussian":
					ss := 0.0
					for i := 0; i < post.len(); i++ {
						d := asFloat(post.cols["x"][i]) - mean[j]
						ss += post.cols[PosteriorPrefix+name][i].(float64) * d * d
					}
					close(name+" mean", comps.cols["mean"][j].(float64), mean[j])
					close(name+" sd", comps.cols["sd"][j].(float64), math.Sqrt(ss/sumR[j]+1e-6))
				case "poisson":
					close(name+" rate", comps.cols["rate"][j].(float64), mean[j])
				}
			}
			for i := 0; i < weights.len(); i++ {
				bag := weights.cols["bag"][i].(int64)
				j := i % k
				close(fmt.Sprintf("bag %d weight %d", bag, j), weights.cols["weight"][i].(float64), bagR[bag][j]/bagN[bag])
				for _, q := range tc.params {
					if weights.cols[q][i] != comps.cols[q][j] {
						t.Errorf("bag %d: weights.%s = %v, components/ %v", bag, q, weights.cols[q][i], comps.cols[q][j])
					}
				}
			}
			m, err := ReadManifest(filepath.Join(out, ManifestFile))
			if err != nil {
				t.Fatal(err)
			}
			if m.Shared == nil || !m.Shared.Converged || m.Shared.Bags != 150 || len(m.Tables[ComponentsTable].Files) != 1 {
				t.Errorf("manifest shared = %+v, tables %v", m.Shared, m.Tables)
			}
		})
	}
}

// TestSharedMatchesFitShared: the pipeline's parallel shared fit equals
// em.FitShared run sequentially on the same aggregated bags (bit-identical:
// the statistics are added in the same block order).
func TestSharedMatchesFitShared(t *testing.T) {
	draw := func(rng *rand.Rand, j int) float64 { return []float64{-3, 0, 4}[j] + rng.NormFloat64() }
	in, byBag := sharedData(t, 5, 200, draw, 3, false)
	out := filepath.Join(t.TempDir(), "out")
	cfg := mustLoad(t, fmt.Sprintf("input: {paths: [%q], bag: bag, value: x}\nmodel: {family: gaussian, learn: [weights, mean, sd], scope: shared, components: [{name: a}, {name: b}, {name: c}]}\nem: {seed: 9, restarts: 3}\noutput: {dir: %q}\n", in, out))
	mustRun(t, cfg, Options{Workers: 2})
	var data []em.Bag
	for b := range int64(200) {
		x, c := aggregate(byBag[b])
		data = append(data, em.Bag{X: x, Counts: c})
	}
	res, err := em.FitShared(data, newModel(cfg).learn.models[3], em.LearnSettings{MaxIter: cfg.EM.MaxIter, Tol: cfg.EM.Tol, Restarts: 3, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	comps, weights := readTable(t, out, ComponentsTable), readTable(t, out, WeightsTable)
	for j := range 3 {
		if comps.cols["mean"][j] != res.Params.Mean[j] || comps.cols["sd"][j] != res.Params.SD[j] || comps.cols["weight"][j] != res.Params.Weights[j] {
			t.Errorf("component %d: pipeline %v %v %v, em.FitShared %v %v %v", j, comps.cols["weight"][j], comps.cols["mean"][j], comps.cols["sd"][j],
				res.Params.Weights[j], res.Params.Mean[j], res.Params.SD[j])
		}
	}
	if weights.len() == 0 || weights.len() != len(res.BagWeights) {
		t.Fatalf("weights has %d rows, em.FitShared %d bag weights", weights.len(), len(res.BagWeights))
	}
	for i := 0; i < weights.len(); i++ {
		if weights.cols["weight"][i] != res.BagWeights[i] {
			t.Fatalf("weights row %d: %v, em.FitShared %v", i, weights.cols["weight"][i], res.BagWeights[i])
		}
	}
}

// TestSharedCategoricalRidge: shared categorical components are a
// non-negative matrix factorisation. With anchor labels (each component has
// a label the other never gives) and bags dominated by each, the solution
// is unique and is reported; without anchors it lies on a flat ridge and the
// run refuses, saying why, rather than report an arbitrary point.
func TestSharedCategoricalRidge(t *testing.T) {
	labels := []string{"blue", "green", "red"}
	for _, tc := range []struct {
		name  string
		probs [2][3]float64 // by label blue, green, red
		ok    bool
	}{
		{"anchored", [2][3]float64{{0.7, 0.3, 0}, {0, 0.3, 0.7}}, true},
		{"no anchors", [2][3]float64{{0.5, 0.3, 0.2}, {0.2, 0.3, 0.5}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, 2))
			var keys []int64
			var xs []string
			for b := range int64(80) {
				w := rng.Float64()
				if b%10 == 0 {
					w = 0
				} else if b%10 == 1 {
					w = 1
				}
				for range 300 {
					p := tc.probs[1]
					if rng.Float64() < w {
						p = tc.probs[0]
					}
					u, l := rng.Float64(), 0
					for ; l < 2 && u > p[l]; l++ {
						u -= p[l]
					}
					keys, xs = append(keys, b), append(xs, labels[l])
				}
			}
			j := newJob(t)
			writeParquet(t, j.file("a.parquet"), column("bag", keys), column("x", xs))
			cfg := j.config(t, `{family: categorical, learn: [weights, probs], scope: shared, labels: [blue, green, red], components: [{name: a}, {name: b}]}`)
			if tc.ok {
				mustRun(t, cfg, Options{})
				// Each fitted component is one of the true ones, within
				// 0.03 (24,000 observations; the sampling error is ~0.005).
				comps := readTable(t, j.out, ComponentsTable)
				for c, v := range comps.cols["probs"] {
					got := fmt.Sprint(v)
					match := false
					for _, truth := range tc.probs {
						ok := true
						for l, label := range labels {
							var p float64
							if _, err := fmt.Sscanf(got[strings.Index(got, label+"\""):], label+"\",\"value\":%g", &p); err != nil {
								ok = false
								break
							}
							ok = ok && math.Abs(p-truth[l]) < 0.03
						}
						match = match || ok
					}
					if !match {
						t.Errorf("component %d: probs %s match no true component %v", c, got, tc.probs)
					}
				}
				return
			}
			err := runBad(t, cfg)
			wantText(t, err, "model.scope: shared", "not identified")
		})
	}
}

// TestSharedMultivariate: shared two-dimensional Gaussian components over
// many bags, in the pipeline (parallel blocks) and in em.FitShared
// (sequential), give the same components/ and weights/ bit for bit; the
// components come out near the truth.
func TestSharedMultivariate(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	var keys []int64
	var x1, x2 []float64
	byBag := map[int64][]float64{}
	for b := range int64(90) {
		w := rng.Float64()
		for range 60 {
			a, c := rng.NormFloat64(), rng.NormFloat64()
			if rng.Float64() < w {
				a, c = 10+2*a, 5+0.5*a+c // correlated
			} else {
				c -= 3
			}
			keys, x1, x2 = append(keys, b), append(x1, a), append(x2, c)
			byBag[b] = append(byBag[b], a, c)
		}
	}
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", keys), column("x1", x1), column("x2", x2))
	cfg := mustLoad(t, fmt.Sprintf("input: {paths: [%q], bag: bag, value: [x1, x2]}\nmodel: {family: multivariate_gaussian, learn: [weights, mean, cov], scope: shared, components: [{name: a}, {name: b}]}\nem: {seed: 2, restarts: 3}\noutput: {dir: %q, posteriors: true}\n", j.in, j.out))
	mustRun(t, cfg, Options{Workers: 2})
	var data []em.Bag
	for b := range int64(90) {
		data = append(data, em.Bag{X: aggregateRows2(byBag[b])})
	}
	res, err := em.FitShared(data, newModel(cfg).learn.models[2], em.LearnSettings{MaxIter: cfg.EM.MaxIter, Tol: cfg.EM.Tol, Restarts: 3, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	comps := readTable(t, j.out, ComponentsTable)
	for c := range 2 {
		mean := comps.cols["mean"][c].([]any)
		cov := comps.cols["cov"][c].([]any)
		for a := range 2 {
			if mean[a] != res.Params.Mean[2*c+a] {
				t.Errorf("component %d mean[%d] = %v, em.FitShared %v", c, a, mean[a], res.Params.Mean[2*c+a])
			}
			for d := range 2 {
				if got := cov[a].([]any)[d]; got != res.Params.Cov[4*c+2*a+d] {
					t.Errorf("component %d cov[%d][%d] = %v, em.FitShared %v", c, a, d, got, res.Params.Cov[4*c+2*a+d])
				}
			}
		}
	}
	if math.Abs(res.Params.Mean[0]) > 0.3 || math.Abs(res.Params.Mean[1]+3) > 0.3 || math.Abs(res.Params.Mean[2]-10) > 0.5 {
		t.Errorf("shared means %v, want about (0, -3) and (10, 5)", res.Params.Mean)
	}
	weights := readTable(t, j.out, WeightsTable)
	if weights.len() == 0 || weights.len() != len(res.BagWeights) {
		t.Fatalf("weights has %d rows, em.FitShared %d bag weights", weights.len(), len(res.BagWeights))
	}
	for i := 0; i < weights.len(); i++ {
		if weights.cols["weight"][i] != res.BagWeights[i] {
			t.Fatalf("weights row %d: %v, em.FitShared %v", i, weights.cols["weight"][i], res.BagWeights[i])
		}
	}
}

// aggregateRows2 sorts 2-D rows lexicographically, as the pipeline hands
// them to em (all distinct here, so counts are nil).
func aggregateRows2(xy []float64) []float64 {
	n := len(xy) / 2
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(xy[2*a], xy[2*b]); c != 0 {
			return c
		}
		return cmp.Compare(xy[2*a+1], xy[2*b+1])
	})
	out := make([]float64, 0, len(xy))
	for _, i := range idx {
		out = append(out, xy[2*i], xy[2*i+1])
	}
	return out
}
