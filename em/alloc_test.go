package em_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/em"
)

// Allocation bounds of the per-bag paths the pipeline runs for millions of
// bags: a reused Fitter, Uncertainty or Learner allocates only what it
// returns, a fixed number of objects per call, however many E-steps,
// restarts or rows the bag takes. Each count is testing.AllocsPerRun's
// average over repeated calls on the same bag after a first call (which
// may grow the reused buffers to the bag's size): the cost of fitting a
// bag "a second time", or a bag no larger than one fitted before.

// allocBag is a log-density table with counts.
type allocBag struct {
	name        string
	tab, counts []float64
	k           int
}

// allocBags returns bags for Fit and WeightStdErrors: tiny aggregated
// Bernoulli and categorical bags (K = 2 and 3), the R golden bags (K = 3
// to 5, maxima inside the simplex and on its boundary, some that SQUAREM
// leaves to Newton's method), a bag whose first two components are
// identical (a flat direction), and Gaussian bags of 1,000 and 20,000
// rows.
func allocBags() []allocBag {
	var bags []allocBag
	for _, tiny := range []struct {
		name  string
		n     int
		probs [][]float64
	}{
		{"bernoulli", 100, [][]float64{{0.2, 0.8}, {0.7, 0.3}}},
		{"categorical", 50, [][]float64{{0.5, 0.2, 0.1, 0.1, 0.1}, {0.1, 0.1, 0.5, 0.2, 0.1}, {0.1, 0.1, 0.1, 0.2, 0.5}}},
	} {
		tabs, counts := tinyBags(16, tiny.n, tiny.probs)
		for i := range tabs {
			bags = append(bags, allocBag{fmt.Sprintf("tiny %s %d", tiny.name, i), tabs[i], counts[i], len(tiny.probs)})
		}
	}
	for _, g := range mixsqpGolden {
		bags = append(bags, allocBag{g.name, em.Table(nil, g.xs, g.comps), g.counts, len(g.comps)})
	}
	same := []em.LogProber{distuv.Bernoulli{P: 0.4}, distuv.Bernoulli{P: 0.4}, distuv.Bernoulli{P: 0.9}}
	bags = append(bags, allocBag{"identical components", em.Table(nil, []float64{0, 1}, same), []float64{30, 50}, 3})
	for _, n := range []int{1000, 20000} {
		xs, comps := gaussianBenchBag(3, n)
		bags = append(bags, allocBag{fmt.Sprintf("gaussian n=%d", n), em.Table(nil, xs, comps), nil, 3})
	}
	return bags
}

// TestFitterAllocBound: a reused Fitter fitting a bag a second time makes
// exactly one allocation, Result.Weights: the K weights are returned in a
// new slice that the caller owns (it may keep results across fits), and
// everything else (the scaled table, the EM points, Newton's gradient,
// Hessian and eigendecomposition) lives in the Fitter's reused buffers.
// The bound holds whatever the number of E-steps (MaxIter 1, 10 and the
// default, with both accelerations; bags certified by SQUAREM and bags
// that Newton's method finishes), K, or the number of rows, once the
// Fitter has seen a bag as large.
func TestFitterAllocBound(t *testing.T) {
	bags := allocBags()
	var f em.Fitter
	// The largest bag first: the buffers then fit every other one.
	last := bags[len(bags)-1]
	if _, err := f.Fit(last.tab, last.counts, last.k, em.Settings{}); err != nil {
		t.Fatal(err)
	}
	maxIter := 0
	for _, b := range bags {
		for _, acc := range []em.Acceleration{em.SQUAREM, em.None} {
			for _, mi := range []int{1, 10, 0} {
				s := em.Settings{Accelerate: acc, MaxIter: mi}
				res := fitOK(t, &f, b.name, b.tab, b.counts, b.k, s)
				maxIter = max(maxIter, res.Iterations)
				allocs := testing.AllocsPerRun(10, func() {
					if _, err := f.Fit(b.tab, b.counts, b.k, s); err != nil {
						t.Fatal(err)
					}
				})
				if allocs != 1 {
					t.Errorf("%s, %v, MaxIter %d (%d E-steps): %v allocations per Fit, want 1 (Result.Weights)",
						b.name, acc, mi, res.Iterations+1, allocs)
				}
			}
		}
	}
	if maxIter <= 30 {
		t.Errorf("no bag took more than %d E-steps: Newton's method after SQUAREM was not exercised", maxIter)
	}
}

// TestUncertaintyAllocBound: a reused Uncertainty makes no allocation at
// all in WeightStdErrors when dst has room for the K standard errors (the
// pipeline passes its output row), and exactly one, the returned slice,
// when dst is nil. The observed information, its scaling and its
// eigendecomposition (dimension 1, 2 or more; flat directions and weights
// on the boundary included) reuse the Uncertainty's buffers.
func TestUncertaintyAllocBound(t *testing.T) {
	bags := allocBags()
	var f em.Fitter
	var u em.Uncertainty
	for _, b := range bags {
		res := fitOK(t, &f, b.name, b.tab, b.counts, b.k, em.Settings{})
		dst := make([]float64, b.k)
		if _, err := u.WeightStdErrors(dst, b.tab, b.counts, b.k, res.Weights); err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		for _, withDst := range []bool{true, false} {
			want := 0.0
			if !withDst {
				want = 1
			}
			allocs := testing.AllocsPerRun(10, func() {
				var d []float64
				if withDst {
					d = dst
				}
				if _, err := u.WeightStdErrors(d, b.tab, b.counts, b.k, res.Weights); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != want {
				t.Errorf("%s (dst given: %v): %v allocations per WeightStdErrors, want %v", b.name, withDst, allocs, want)
			}
		}
	}
}

// TestStdErrorsAllocBound: StdErrors, with learned parameters, makes one
// allocation, the array behind the returned slices.
func TestStdErrorsAllocBound(t *testing.T) {
	var u em.Uncertainty
	xs := gaussBag(3, 200)
	w := []float64{0.3, 0.3, 0.4}
	comps := em.ScalarComponents{Mean: []float64{-2, 0, 2}, SD: []float64{1, 1.5, 1},
		LearnedMean: []bool{true, true, true}, LearnedSD: []bool{true, false, true}}
	if _, err := u.StdErrors(em.Gaussian, xs, nil, w, comps); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := u.StdErrors(em.Gaussian, xs, nil, w, comps); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 {
		t.Errorf("%v allocations per StdErrors, want 1", allocs)
	}
}

// TestTinyBagAllocBound: the pipeline's per-bag sequence for fixed
// components, Fit and then WeightStdErrors into the caller's row, makes
// exactly one allocation per bag (Result.Weights) with a reused Fitter and
// Uncertainty, bag after bag.
func TestTinyBagAllocBound(t *testing.T) {
	probs := [][]float64{{0.5, 0.2, 0.1, 0.1, 0.1}, {0.1, 0.1, 0.5, 0.2, 0.1}, {0.1, 0.1, 0.1, 0.2, 0.5}}
	tabs, counts := tinyBags(64, 50, probs)
	var f em.Fitter
	var u em.Uncertainty
	se := make([]float64, 3)
	i := 0
	bag := func() {
		tab, cs := tabs[i%len(tabs)], counts[i%len(tabs)]
		res, err := f.Fit(tab, cs, 3, em.Settings{})
		if err != nil {
			t.Fatal(err)
		}
		if se, err = u.WeightStdErrors(se, tab, cs, 3, res.Weights); err != nil {
			t.Fatal(err)
		}
		i++
	}
	for range tabs {
		bag()
	}
	if allocs := testing.AllocsPerRun(len(tabs), bag); allocs != 1 {
		t.Errorf("%v allocations per bag, want 1", allocs)
	}
}

// TestLearnerAllocBound: a reused Learner makes exactly one allocation per
// successful Learn, the backing array of the returned LearnResult.Params
// (Params.Clone puts all of its slices in one array): none per start and
// none per E-step. The test compares MaxIter 10 with 1000 and one start
// with ten, on small and large bags, for every family: the count stays 1
// while the E-steps and starts taken grow. (Starting points, k-means++,
// SQUAREM's packed points, Newton's method for Gaussians, MultiGaussian
// Cholesky factors and the canonical component order all use the
// Learner's buffers.)
func TestLearnerAllocBound(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4, 4))
	normal := func(n, d int) []float64 {
		xs := make([]float64, n*d)
		for i := range xs {
			xs[i] = rnd.NormFloat64() + float64(i%3)
		}
		return xs
	}
	poisson := func(n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(rnd.IntN(4) + (i%2)*rnd.IntN(15))
		}
		return xs
	}
	cats := em.Params{Probs: []float64{.5, .2, .1, .1, .1, .1, .5, .2, .1, .1, .1, .1, .1, .2, .5}}
	models := []struct {
		name string
		m    em.Model
		bags []em.Bag // smallest first
	}{
		{"gaussian", em.Model{Family: em.Gaussian, K: 3, Learn: gaussAll},
			[]em.Bag{{X: normal(60, 1)}, {X: gaussBag(2, 1000)}, {X: normal(3000, 1)}}},
		{"poisson", em.Model{Family: em.Poisson, K: 2, Learn: em.LearnWeights | em.LearnRate},
			[]em.Bag{{X: poisson(40)}, {X: poisson(2000)}}},
		{"bernoulli weights", em.Model{Family: em.Bernoulli, K: 2, Learn: em.LearnWeights, Init: em.Params{P: []float64{0.8, 0.3}}},
			[]em.Bag{{X: []float64{0, 1}, Counts: []float64{43, 57}}, {X: []float64{1, 0}, Counts: []float64{70000, 30000}}}},
		{"categorical weights", em.Model{Family: em.Categorical, K: 3, Levels: 5, Learn: em.LearnWeights, Init: cats},
			[]em.Bag{{X: []float64{0, 1, 2, 3, 4}, Counts: []float64{9, 4, 6, 3, 8}}}},
		{"multivariate full", em.Model{Family: em.MultiGaussian, K: 3, Dim: 3, Learn: em.LearnWeights | em.LearnMean | em.LearnCov},
			[]em.Bag{{X: normal(50, 3)}, {X: mvnBag(3, 600, 3, 3)}}},
		{"multivariate diag", em.Model{Family: em.MultiGaussian, K: 2, Dim: 2, Covariance: em.CovDiag, Learn: em.LearnWeights | em.LearnMean | em.LearnCov},
			[]em.Bag{{X: normal(50, 2)}, {X: normal(800, 2)}}},
		{"multivariate spherical", em.Model{Family: em.MultiGaussian, K: 2, Dim: 2, Covariance: em.CovSpherical, Learn: em.LearnWeights | em.LearnMean | em.LearnCov},
			[]em.Bag{{X: normal(800, 2)}}},
	}
	for _, mm := range models {
		l, err := em.NewLearner(mm.m)
		if err != nil {
			t.Fatal(err)
		}
		// The largest bag first, with every start.
		if _, err := l.Learn(mm.bags[len(mm.bags)-1], em.LearnSettings{Restarts: 10, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		var steps [2]int // E-steps with MaxIter 10 and 1000
		starts := 0
		for _, bag := range mm.bags {
			for mi, maxIter := range []int{10, 1000} {
				for _, restarts := range []int{1, 10} {
					s := em.LearnSettings{MaxIter: maxIter, Restarts: restarts, Seed: 7}
					res, err := l.Learn(bag, s)
					if err != nil {
						t.Fatalf("%s: %v", mm.name, err)
					}
					steps[mi] += res.TotalIterations
					starts = max(starts, res.Starts)
					allocs := testing.AllocsPerRun(5, func() {
						if _, err := l.Learn(bag, s); err != nil {
							t.Fatal(err)
						}
					})
					if allocs != 1 {
						t.Errorf("%s, %d rows, MaxIter %d, %d restarts (%d starts, %d E-steps): %v allocations per Learn, want 1 (LearnResult.Params)",
							mm.name, len(bag.X), maxIter, restarts, res.Starts, res.TotalIterations, allocs)
					}
				}
			}
		}
		if mm.m.Family == em.Gaussian || mm.m.Family == em.MultiGaussian && mm.m.Covariance == em.CovFull {
			// The comparisons must have exercised more E-steps and starts.
			if steps[1] <= steps[0] || starts < 2 {
				t.Errorf("%s: %d E-steps with MaxIter 1000, %d with 10, at most %d starts: the test does not exercise iterations and restarts",
					mm.name, steps[1], steps[0], starts)
			}
		}
	}
}

// TestFitSharedAllocsPerIteration: FitShared allocates its work space per
// call (a Learner per part of the bags, the points of SQUAREM, the
// result), but nothing per iteration: a run allowed 1000 iterations
// allocates no more than one stopped after 3.
func TestFitSharedAllocsPerIteration(t *testing.T) {
	var bags []em.Bag
	for i := range 80 {
		bags = append(bags, em.Bag{X: gaussBag(i, 40)})
	}
	m := em.Model{Family: em.Gaussian, K: 2, Learn: gaussAll}
	var allocs, iters [2]float64
	for i, maxIter := range []int{3, 1000} {
		s := em.LearnSettings{MaxIter: maxIter, Restarts: 2, Seed: 1}
		res, err := em.FitShared(bags, m, s)
		if err != nil {
			t.Fatal(err)
		}
		iters[i] = float64(res.Iterations)
		allocs[i] = testing.AllocsPerRun(3, func() {
			if _, err := em.FitShared(bags, m, s); err != nil {
				t.Fatal(err)
			}
		})
	}
	if iters[1] < iters[0]+10 {
		t.Fatalf("iterations %v: the test needs a run of many more iterations", iters)
	}
	if allocs[1] > allocs[0] {
		t.Errorf("%v allocations with %v iterations, %v with %v: FitShared allocates per iteration", allocs[1], iters[1], allocs[0], iters[0])
	}
}

// TestMultiNormalAllocs: as its documentation says, a MultiNormal
// allocates nothing after the first Set of a dimension, in Set (the
// Cholesky factorisation) and LogProb.
func TestMultiNormalAllocs(t *testing.T) {
	var mn em.MultiNormal
	mean := []float64{1, -1, 0.5}
	cov := []float64{2, 0.3, 0.1, 0.3, 1, 0.2, 0.1, 0.2, 0.5}
	x := []float64{0.3, 0.2, -0.1}
	if !mn.Set(mean, cov) {
		t.Fatal("covariance not positive definite")
	}
	allocs := testing.AllocsPerRun(10, func() {
		if !mn.Set(mean, cov) {
			t.Fatal("covariance not positive definite")
		}
		_ = mn.LogProb(x)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Set and LogProb, want 0", allocs)
	}
}
