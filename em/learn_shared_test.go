package em_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/optimize"

	"github.com/mixbatch/mixbatch/em"
)

// sharedBags returns nb bags of n values from two shared regimes, bag b
// drawing from regime 0 with probability (b+0.5)/nb: Gaussian regimes
// N(-2, 1) and N(3, 1.5²), or Poisson rates 2 and 9.
func sharedBags(poisson bool, nb, n int) []em.Bag {
	g := splitmix{s: 2024}
	bags := make([]em.Bag, nb)
	for b := range bags {
		w := (float64(b) + 0.5) / float64(nb)
		xs := make([]float64, n)
		for i := range xs {
			j := 1
			if g.unif() < w {
				j = 0
			}
			if poisson {
				xs[i] = knuthPoisson(&g, []float64{2, 9}[j])
			} else {
				xs[i] = []float64{-2, 3}[j] + []float64{1, 1.5}[j]*g.norm()
			}
		}
		bags[b] = em.Bag{X: xs}
	}
	return bags
}

// knuthPoisson is Knuth's multiplication method.
func knuthPoisson(g *splitmix, rate float64) float64 {
	l, k, p := math.Exp(-rate), 0.0, 1.0
	for {
		p *= g.unif()
		if p <= l {
			return k
		}
		k++
	}
}

// directShared maximises the joint log-likelihood of a two-component
// shared model with BFGS (gonum/optimize) over unconstrained coordinates:
// each bag's logit of w_b0, then the components' (mean, log sd) or
// log rate. It is independent of package em: densities, gradient and
// optimiser are all its own. It returns the optimum's log-likelihood and
// coordinates.
func directShared(t *testing.T, bags []em.Bag, poisson bool, x0 []float64) (float64, []float64) {
	nb := len(bags)
	eval := func(x, grad []float64) float64 {
		if grad != nil {
			clear(grad)
		}
		ll := 0.0
		for b, bag := range bags {
			w := 1 / (1 + math.Exp(-x[b]))
			for _, v := range bag.X {
				var la [2]float64
				var d [2][2]float64 // derivative of log f_k by its coordinates
				for k := range 2 {
					if poisson {
						lam := math.Exp(x[nb+k])
						la[k] = poissonLogPMF(v, lam)
						d[k][0] = v - lam
					} else {
						mu, sd := x[nb+2*k], math.Exp(x[nb+2*k+1])
						z := (v - mu) / sd
						la[k] = normalLogPDF(v, mu, sd)
						d[k][0], d[k][1] = z/sd, z*z-1
					}
				}
				la[0] += math.Log(w)
				la[1] += math.Log1p(-w)
				lp := logSumExp(la[:])
				ll += lp
				if grad == nil {
					continue
				}
				r0 := math.Exp(la[0] - lp)
				r := [2]float64{r0, 1 - r0}
				grad[b] -= r0 - w
				for k := range 2 {
					if poisson {
						grad[nb+k] -= r[k] * d[k][0]
					} else {
						grad[nb+2*k] -= r[k] * d[k][0]
						grad[nb+2*k+1] -= r[k] * d[k][1]
					}
				}
			}
		}
		return -ll
	}
	p := optimize.Problem{
		Func: func(x []float64) float64 { return eval(x, nil) },
		Grad: func(grad, x []float64) { eval(x, grad) },
	}
	// The line search may give up when the function is flat to rounding
	// (an error); restarting BFGS there and checking the gradient shows
	// whether that is at the maximum.
	grad := make([]float64, len(x0))
	x := slices.Clone(x0)
	var res *optimize.Result
	for try := 0; ; try++ {
		var err error
		res, err = optimize.Minimize(p, x, &optimize.Settings{GradientThreshold: 1e-9, MajorIterations: 100000}, &optimize.BFGS{})
		if res == nil {
			t.Fatalf("optimize: %v", err)
		}
		x = res.X
		eval(x, grad)
		gmax := 0.0
		for _, g := range grad {
			gmax = math.Max(gmax, math.Abs(g))
		}
		if gmax < 1e-4 {
			break
		}
		if try == 10 {
			t.Fatalf("optimize: %v, gradient %v", err, gmax)
		}
	}
	return -res.F, res.X
}

// FitShared reaches the joint maximum of the likelihood, found
// independently by BFGS from the true parameters: shared Gaussian regimes
// and shared Poisson rates with free weights per bag.
func TestFitSharedJointMaximum(t *testing.T) {
	for _, poisson := range []bool{false, true} {
		nb, n := 12, 150
		bags := sharedBags(poisson, nb, n)
		m := em.Model{Family: em.Gaussian, K: 2, Learn: gaussAll}
		x0 := make([]float64, nb, nb+4)
		for b := range x0 {
			w := (float64(b) + 0.5) / float64(nb)
			x0[b] = math.Log(w / (1 - w))
		}
		if poisson {
			m = em.Model{Family: em.Poisson, K: 2, Learn: em.LearnWeights | em.LearnRate}
			x0 = append(x0, math.Log(2), math.Log(9))
		} else {
			x0 = append(x0, -2, 0, 3, math.Log(1.5))
		}
		wantLL, x := directShared(t, bags, poisson, x0)
		res, err := em.FitShared(bags, m, em.LearnSettings{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		name := map[bool]string{false: "gaussian", true: "poisson"}[poisson]
		// EM stops at a relative change of 1e-10 per iteration; BFGS at a
		// gradient of 1e-9. Both are within ~1e-8 of the maximum.
		if res.LogLikelihood < wantLL-1e-6 || !res.Converged {
			t.Errorf("%s: joint ll %.10f (converged %v), BFGS %.10f", name, res.LogLikelihood, res.Converged, wantLL)
		} else {
			t.Logf("%s: joint ll %.10f after %d iterations, BFGS %.10f", name, res.LogLikelihood, res.Iterations, wantLL)
		}
		sum := 0.0
		for _, v := range res.BagLogLik {
			sum += v
		}
		if !scalar.EqualWithinAbsOrRel(sum, res.LogLikelihood, 1e-9, 1e-12) {
			t.Errorf("%s: bag log-likelihoods sum to %v, not %v", name, sum, res.LogLikelihood)
		}
		for b := range nb {
			w := 1 / (1 + math.Exp(-x[b]))
			if got := res.BagWeights[b*2]; math.Abs(got-w) > 1e-4 {
				t.Errorf("%s: bag %d weight %v, BFGS %v", name, b, got, w)
			}
		}
		for k := range 2 {
			if poisson {
				if got, want := res.Params.Rate[k], math.Exp(x[nb+k]); math.Abs(got-want) > 1e-4*want {
					t.Errorf("%s: rate %d %v, BFGS %v", name, k, got, want)
				}
				continue
			}
			// reg_covar moves the sd by about 1e-6/(2 sd).
			if got, want := res.Params.Mean[k], x[nb+2*k]; math.Abs(got-want) > 1e-4 {
				t.Errorf("%s: mean %d %v, BFGS %v", name, k, got, want)
			}
			if got, want := res.Params.SD[k], math.Exp(x[nb+2*k+1]); math.Abs(got-want) > 1e-4 {
				t.Errorf("%s: sd %d %v, BFGS %v", name, k, got, want)
			}
		}

		// The bags in reverse order: the same fit, weights reversed.
		rev := slices.Clone(bags)
		slices.Reverse(rev)
		res2, err := em.FitShared(rev, m, em.LearnSettings{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !scalar.EqualWithinAbsOrRel(res2.LogLikelihood, res.LogLikelihood, 1e-9, 1e-12) ||
			!floatsNear(res2.Params.Mean, res.Params.Mean, 1e-9) || !floatsNear(res2.Params.Rate, res.Params.Rate, 1e-9) {
			t.Errorf("%s: reversed bags give %+v, want %+v", name, res2.Params, res.Params)
		}
		for b := range nb {
			if math.Abs(res2.BagWeights[(nb-1-b)*2]-res.BagWeights[b*2]) > 1e-9 {
				t.Errorf("%s: reversed bag %d weight %v, want %v", name, b, res2.BagWeights[(nb-1-b)*2], res.BagWeights[b*2])
			}
		}
	}
}

// Statistics of two bags centred at different points add up to those of
// the union: with K = 1 the M-step gives the union's mean and variance
// (floored at RegCovar).
func TestStatsAddRecentres(t *testing.T) {
	a, b := []float64{1, 2, 4}, []float64{100, 103}
	l, err := em.NewLearner(em.Model{Family: em.Gaussian, K: 1, Learn: gaussAll})
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := l.NewStats(), l.NewStats()
	if _, err := l.EStep(sa, em.Bag{X: a}, em.Params{Weights: []float64{1}, Mean: []float64{0}, SD: []float64{1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.EStep(sb, em.Bag{X: b}, em.Params{Weights: []float64{1}, Mean: []float64{50}, SD: []float64{10}}); err != nil {
		t.Fatal(err)
	}
	sa.Add(sb)
	p := em.Params{Weights: []float64{1}, Mean: []float64{0}, SD: []float64{1}}
	if err := l.MStep(&p, sa); err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(a), b...)
	mean, sd := meanSD(all, ones(len(all)))
	if !scalar.EqualWithinAbsOrRel(p.Mean[0], mean, 1e-13, 1e-13) || !scalar.EqualWithinAbsOrRel(p.SD[0], math.Sqrt(math.Max(sd*sd, em.DefaultRegCovar)), 1e-13, 1e-13) {
		t.Errorf("pooled mean %v sd %v, want %v %v", p.Mean[0], p.SD[0], mean, sd)
	}
	if sa.Total() != 5 {
		t.Errorf("total %v", sa.Total())
	}

	// MultiGaussian, full covariance.
	l, err = em.NewLearner(em.Model{Family: em.MultiGaussian, K: 1, Dim: 2, Learn: em.LearnMean | em.LearnCov})
	if err != nil {
		t.Fatal(err)
	}
	xa, xb := []float64{1, 2, 3, 1, 0, 5}, []float64{10, 12, 14, 9}
	sa, sb = l.NewStats(), l.NewStats()
	pa := em.Params{Weights: []float64{1}, Mean: []float64{0, 0}, Cov: []float64{1, 0, 0, 1}}
	pb := em.Params{Weights: []float64{1}, Mean: []float64{11, 11}, Cov: []float64{4, 1, 1, 4}}
	if _, err := l.EStep(sa, em.Bag{X: xa}, pa); err != nil {
		t.Fatal(err)
	}
	if _, err := l.EStep(sb, em.Bag{X: xb}, pb); err != nil {
		t.Fatal(err)
	}
	sa.Add(sb)
	if err := l.MStep(&pa, sa); err != nil {
		t.Fatal(err)
	}
	x := append(slices.Clone(xa), xb...)
	var mu [2]float64
	for i := 0; i < len(x); i += 2 {
		mu[0] += x[i] / 5
		mu[1] += x[i+1] / 5
	}
	var cov [4]float64
	for i := 0; i < len(x); i += 2 {
		for r := range 2 {
			for c := range 2 {
				cov[r*2+c] += (x[i+r] - mu[r]) * (x[i+c] - mu[c]) / 5
			}
		}
	}
	cov[0] += em.DefaultRegCovar
	cov[3] += em.DefaultRegCovar
	if !floatsNear(pa.Mean, mu[:], 1e-13) || !floatsNear(pa.Cov, cov[:], 1e-13) {
		t.Errorf("pooled mean %v cov %v, want %v %v", pa.Mean, pa.Cov, mu, cov)
	}
}

// Shared categorical components are a nonnegative matrix factorisation.
// With separable components (anchor codes) and pure bags, the factorisation
// is unique and FitShared finds it; with components inside the simplex and
// mixed bags, every solution lies on a ridge, and FitShared says so.
func TestFitSharedCategorical(t *testing.T) {
	m := em.Model{Family: em.Categorical, K: 2, Levels: 4, Learn: em.LearnWeights | em.LearnProbs}
	build := func(p0, p1 []float64, ws []float64) []em.Bag {
		var bags []em.Bag
		for _, w := range ws {
			// Expected counts of 1000 draws: the bag's frequencies are
			// exactly the mixture, so the truth is a maximum.
			var cs []float64
			for c := range 4 {
				cs = append(cs, 1000*(w*p0[c]+(1-w)*p1[c]))
			}
			bags = append(bags, em.Bag{X: []float64{0, 1, 2, 3}, Counts: cs})
		}
		return bags
	}
	p0, p1 := []float64{0.5, 0.3, 0.2, 0}, []float64{0, 0.2, 0.3, 0.5}
	res, err := em.FitShared(build(p0, p1, []float64{1, 0.8, 0.5, 0.3, 0}), m, em.LearnSettings{Seed: 3})
	if err != nil {
		t.Fatalf("separable: %v", err)
	}
	// Canonical order: lexicographic on the probabilities, so p1 first.
	if !floatsNear(res.Params.Probs, append(slices.Clone(p1), p0...), 1e-3) {
		t.Errorf("separable: probs %v", res.Params.Probs)
	}
	r := em.SharedRidge(res.Params.Probs, 4, res.BagWeights)
	if r.Extent > em.DefaultRidgeTol {
		t.Errorf("separable: ridge %+v", r)
	}

	q0, q1 := []float64{0.4, 0.3, 0.2, 0.1}, []float64{0.1, 0.2, 0.3, 0.4}
	_, err = em.FitShared(build(q0, q1, []float64{0.7, 0.6, 0.5, 0.4, 0.3}), m, em.LearnSettings{Seed: 3})
	var ie *em.IdentifiabilityError
	if !errors.As(err, &ie) {
		t.Errorf("interior components: %v, want an IdentifiabilityError", err)
	}

	// Shared Bernoulli components are refused before fitting.
	_, err = em.FitShared(build(p0, p1, []float64{0.5}), em.Model{Family: em.Bernoulli, K: 2, Learn: em.LearnWeights | em.LearnP}, em.LearnSettings{})
	if !errors.As(err, &ie) {
		t.Errorf("shared bernoulli: %v", err)
	}
}

// SharedRidge on hand-made solutions.
func TestSharedRidge(t *testing.T) {
	// Separable with pure bags: no ridge.
	probs := []float64{1, 0, 0, 1}
	if r := em.SharedRidge(probs, 2, []float64{1, 0, 0, 1, 0.5, 0.5}); r.Extent != 0 {
		t.Errorf("separable: %+v", r)
	}
	// No pure bag for component 0: it can mix towards component 1 by
	// δ = min W_b1/W_b0 = 0.25 (bag 0), moving weight 0.25·0.8.
	r := em.SharedRidge([]float64{1, 0, 0, 1}, 2, []float64{0.8, 0.2, 0, 1})
	if !r.Mixing || r.From != 0 || r.Toward != 1 || math.Abs(r.Extent-0.2) > 1e-15 {
		t.Errorf("no pure bag: %+v", r)
	}
	// A component unused by every bag: arbitrary.
	if r := em.SharedRidge(probs, 2, []float64{1, 0, 1, 0}); !math.IsInf(r.Extent, 1) {
		t.Errorf("unused component: %+v", r)
	}
}

// Shared MultiGaussian components: the joint log-likelihood is the sum of
// the bags' and at least that of the shared components at the truth with
// each bag's true weights.
func TestFitSharedMultiGaussian(t *testing.T) {
	g := splitmix{s: 77}
	means := [][]float64{{-3, 0}, {3, 1}}
	var bags []em.Bag
	for b := range 5 {
		w := float64(b) / 4
		var xs []float64
		for range 120 {
			j := 1
			if g.unif() < w {
				j = 0
			}
			xs = append(xs, means[j][0]+g.norm(), means[j][1]+0.5*g.norm())
		}
		bags = append(bags, em.Bag{X: xs})
	}
	m := em.Model{Family: em.MultiGaussian, K: 2, Dim: 2, Learn: em.LearnWeights | em.LearnMean | em.LearnCov}
	res, err := em.FitShared(bags, m, em.LearnSettings{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.Params.Mean[0]+3) > 0.3 || math.Abs(res.Params.Mean[2]-3) > 0.3 || !res.Converged {
		t.Errorf("means %v, converged %v", res.Params.Mean, res.Converged)
	}
	truth := 0.0
	l, _ := em.NewLearner(m)
	st := l.NewStats()
	for b, bag := range bags {
		w := float64(b) / 4
		p := em.Params{Weights: []float64{w, 1 - w}, Mean: []float64{-3, 0, 3, 1}, Cov: []float64{1, 0, 0, 0.25, 1, 0, 0, 0.25}}
		ll, err := l.EStep(st, bag, p)
		if err != nil {
			t.Fatal(err)
		}
		truth += ll
	}
	if res.LogLikelihood < truth {
		t.Errorf("joint ll %v below the truth's %v", res.LogLikelihood, truth)
	}
}
