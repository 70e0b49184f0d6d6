package em_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestFitHugeCountsOverflow: counts whose sum is below the largest
// float64 but whose gradient, Σ c_i f_k(x_i)/p(x_i), is above it (here
// 1e308 / 0.5 at the uniform start) are ErrOverflow, not a result. Before
// ErrOverflow, SQUAREM returned NaN weights and plain EM [0.5 0.5] with a
// log-likelihood of -6.9e307, without an error (found by a mutation
// audit).
//
// Over random counts from 1 to 1e308 (seeded), the fit is either the
// closed form or ErrOverflow, never another number: row 0 has density
// only under component 0 (log-density -Inf under 1), row 1 e^800 times
// more under component 1 than under 0, which float64 scaling makes
// exactly 0 (e^-800 underflows), so each row is explained by one
// component alone and the maximum is w_1 = c_1 / (c_0 + c_1) (the
// binomial proportion). Tolerance 1e-9 relative: the fit stops at the
// stopping rule's 1e-10 relative gradient. The gradient is about N at
// the weights the fit visits (c_k / w_k with w_k near c_k / N), so where
// N = c_0 + c_1 <= 1e307 the fit must succeed. (Newton's Hessian, about
// N / w_1², may overflow on the way without harm: the line search takes
// only steps that gain.)
func TestFitHugeCountsOverflow(t *testing.T) {
	logLik := []float64{0, math.Inf(-1), -800, 0}
	rnd := rand.New(rand.NewPCG(5, 8))
	for _, acc := range []em.Acceleration{em.SQUAREM, em.None} {
		res, err := em.Fit(logLik, []float64{1e308, 1}, 2, em.Settings{Accelerate: acc})
		if !errors.Is(err, em.ErrOverflow) {
			t.Errorf("%v, counts [1e308 1]: weights %v, log-likelihood %g, error %v; want ErrOverflow", acc, res.Weights, res.LogLikelihood, err)
		}
		overflows, fits := 0, 0
		for range 300 {
			c := []float64{math.Pow(10, 308*rnd.Float64()), math.Pow(10, 308*rnd.Float64())}
			if c[0]+c[1] > math.MaxFloat64 {
				continue
			}
			want := c[1] / (c[0] + c[1])
			res, err := em.Fit(logLik, c, 2, em.Settings{Accelerate: acc})
			if errors.Is(err, em.ErrOverflow) {
				overflows++
				if c[0]+c[1] <= 1e307 {
					t.Errorf("%v, counts %v: %v", acc, c, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%v, counts %v: %v", acc, c, err)
				continue
			}
			fits++
			if got := res.Weights[1]; math.Abs(got-want) > 1e-9*want || math.Abs(res.Weights[0]+got-1) > 1e-15 {
				t.Errorf("%v, counts %v: weights %v, want w_1 = %g", acc, c, res.Weights, want)
			}
		}
		if fits < 100 {
			t.Errorf("%v: %d fits and %d overflows of 300", acc, fits, overflows)
		}
	}
}

// TestLearnScaledCounts: multiplying every count by s leaves the maximum
// likelihood parameters as they are and multiplies the log-likelihood by
// s, so Learn must return the unscaled fit's parameters, log-likelihood
// (divided by s) and Converged for s up to 1e300. Seeded random bags of
// Gaussian and Poisson rows, and one with a closed form: two clusters 5
// apart with sds near 0.45, whose densities across are e^-60 of their
// own, so each component is its cluster's weighted mean and sd (to about
// 1e-25): weights (4/3, 9/14)/(4/3 + 9/14), means 1/4 and 52/9, sds
// √(3/16) and √(14/81), within 1e-9 relative (seen: 7e-12).
//
// Tolerances: the log-likelihood per unit of count within 1e-12 relative
// of the unscaled one; parameters within 1e-6 relative, or 1e-9 absolute
// for a rate at 0 (flat there). The stop certifies the log-likelihood
// within 1e-10 relative, not the parameters, and rounding, which differs
// with the scale, may let a fit certify a step earlier (one Gaussian here
// does at 1e200, 5e-9 relative from the unscaled point).
//
// Before the fix, Newton's predicted gain summed proj², which overflows
// once the counts pass about 1e150: learned Gaussians with counts of 1e200
// never certified and ran to the iteration limit, not converged.
func TestLearnScaledCounts(t *testing.T) {
	type tcase struct {
		m   em.Model
		bag em.Bag
	}
	gauss := em.Model{Family: em.Gaussian, K: 2, Learn: em.LearnWeights | em.LearnMean | em.LearnSD}
	pois := em.Model{Family: em.Poisson, K: 2, Learn: em.LearnWeights | em.LearnRate}
	cases := []tcase{{gauss, em.Bag{X: []float64{0, 1, 5, 6}, Counts: []float64{1, 1.0 / 3, 1.0 / 7, 1.0 / 2}}}}
	rnd := rand.New(rand.NewPCG(11, 4))
	for range 20 {
		n := 5 + rnd.IntN(20)
		g, p := em.Bag{}, em.Bag{}
		for range n {
			g.X = append(g.X, 10*rnd.Float64())
			g.Counts = append(g.Counts, 0.1+rnd.Float64())
			p.X = append(p.X, float64(rnd.IntN(12)))
			p.Counts = append(p.Counts, 0.1+rnd.Float64())
		}
		cases = append(cases, tcase{gauss, g}, tcase{pois, p})
	}
	near := func(got, want, rel float64) bool {
		return math.Abs(got-want) <= max(rel*math.Abs(want), 1e-9)
	}
	for ci, c := range cases {
		ref, err := em.Learn(c.bag, c.m, em.LearnSettings{Seed: 3})
		if err != nil {
			t.Fatalf("case %d: %v", ci, err)
		}
		if ci == 0 {
			w0 := (4.0 / 3) / (4.0/3 + 9.0/14)
			closed := [][2][]float64{{ref.Params.Weights, {w0, 1 - w0}}, {ref.Params.Mean, {0.25, 52.0 / 9}},
				{ref.Params.SD, {math.Sqrt(3.0 / 16), math.Sqrt(14.0 / 81)}}}
			for _, pair := range closed {
				for j := range pair[1] {
					if !near(pair[0][j], pair[1][j], 1e-9) {
						t.Errorf("closed form: got %v, want %v", pair[0], pair[1])
					}
				}
			}
		}
		for _, s := range []float64{1e100, 1e200, 1e250, 1e300} {
			b := em.Bag{X: c.bag.X}
			for _, v := range c.bag.Counts {
				b.Counts = append(b.Counts, v*s)
			}
			got, err := em.Learn(b, c.m, em.LearnSettings{Seed: 3})
			if err != nil {
				t.Errorf("case %d (%v), counts ×%g: %v", ci, c.m.Family, s, err)
				continue
			}
			if got.Converged != ref.Converged {
				t.Errorf("case %d (%v), counts ×%g: converged %v after %d E-steps, unscaled %v after %d", ci, c.m.Family, s, got.Converged, got.Iterations, ref.Converged, ref.Iterations)
			}
			if ll := got.LogLikelihood / s; !near(ll, ref.LogLikelihood, 1e-12) {
				t.Errorf("case %d (%v), counts ×%g: log-likelihood / %g = %.15g, unscaled %.15g", ci, c.m.Family, s, s, ll, ref.LogLikelihood)
			}
			for _, pair := range [][2][]float64{{got.Params.Weights, ref.Params.Weights}, {got.Params.Mean, ref.Params.Mean}, {got.Params.SD, ref.Params.SD}, {got.Params.Rate, ref.Params.Rate}} {
				for j := range pair[1] {
					if !near(pair[0][j], pair[1][j], 1e-6) {
						t.Errorf("case %d (%v), counts ×%g: got %v, unscaled %v", ci, c.m.Family, s, pair[0], pair[1])
						break
					}
				}
			}
		}
	}
}

// TestLearnOverflowError: where a learned fit's sums overflow, Learn and
// FitShared say so (ErrOverflow), not that an observation has zero
// density, which is what they said before: the overflowing sum made a
// parameter or the log-likelihood infinite, and the E-step took that for
// a row without density. The counts here sum below the largest float64
// (each bag's to 1.2e308 at most, the shared fit's pooled ones to 7.6e307
// and 1.5e308); the values of 1e200 have squares beyond it. A row with
// no density under the fixed components is still ErrZeroDensity.
func TestLearnOverflowError(t *testing.T) {
	gauss := em.Model{Family: em.Gaussian, K: 2, Learn: em.LearnWeights | em.LearnMean | em.LearnSD}
	pois := em.Model{Family: em.Poisson, K: 2, Learn: em.LearnWeights | em.LearnRate}
	huge := func(c float64) em.Bag {
		return em.Bag{X: []float64{0, 1, 5, 6}, Counts: []float64{c, c / 3, c / 7, c / 2}}
	}
	for _, c := range []struct {
		name string
		m    em.Model
		bag  em.Bag
	}{
		{"gaussian, counts 6e307", gauss, huge(6e307)},
		{"poisson, counts 6e307", pois, huge(6e307)},
		{"gaussian, values 1e200", gauss, em.Bag{X: []float64{1e200, 2e200, 5e200, 6e200}}},
		{"gaussian, values ±1e308", gauss, em.Bag{X: []float64{1e308, 1.5e308, -1e308, 0}}},
	} {
		if res, err := em.Learn(c.bag, c.m, em.LearnSettings{Seed: 1}); !errors.Is(err, em.ErrOverflow) {
			t.Errorf("Learn, %s: %v, %v; want ErrOverflow", c.name, res.Params, err)
		}
	}
	for _, c := range []float64{2e307, 4e307} {
		bags := []em.Bag{huge(c), {X: []float64{0.5, 1, 5, 6.5}, Counts: []float64{c / 5, c / 2, c / 9, c}}}
		if res, err := em.FitShared(bags, gauss, em.LearnSettings{Seed: 1}); !errors.Is(err, em.ErrOverflow) {
			t.Errorf("FitShared, gaussian, counts %g: %v, %v; want ErrOverflow", c, res.Params, err)
		}
	}
	// Fixed categorical components that never draw code 2: a row of code 2
	// has no density.
	fixed := em.Model{Family: em.Categorical, K: 2, Levels: 3, Learn: em.LearnWeights,
		Init: em.Params{Probs: []float64{0.5, 0.5, 0, 0.2, 0.8, 0}}}
	if res, err := em.Learn(em.Bag{X: []float64{0, 1, 2}}, fixed, em.LearnSettings{Seed: 1}); !errors.Is(err, em.ErrZeroDensity) {
		t.Errorf("Learn, a row without density: %v, %v; want ErrZeroDensity", res.Params, err)
	}
}

// TestEStepNonFiniteParams: parameters given to EStep that are infinite or
// NaN are an error saying so, not ErrOverflow (which says the counts or
// values are too large) nor ErrZeroDensity, the two an E-step at
// non-finite parameters returns inside Learn.
func TestEStepNonFiniteParams(t *testing.T) {
	m := em.Model{Family: em.Gaussian, K: 2, Learn: em.LearnWeights | em.LearnMean | em.LearnSD}
	l, err := em.NewLearner(m)
	if err != nil {
		t.Fatal(err)
	}
	bag := em.Bag{X: []float64{0, 1, 5, 6}}
	for _, p := range []em.Params{
		{Weights: []float64{0.5, 0.5}, Mean: []float64{math.NaN(), 5}, SD: []float64{1, 1}},
		{Weights: []float64{0.5, 0.5}, Mean: []float64{0, 5}, SD: []float64{1, math.Inf(1)}},
	} {
		_, err := l.EStep(l.NewStats(), bag, p)
		if err == nil || errors.Is(err, em.ErrOverflow) || errors.Is(err, em.ErrZeroDensity) || !strings.Contains(err.Error(), "infinite or NaN") {
			t.Errorf("EStep at %v: %v, want an error naming a non-finite parameter", p, err)
		}
	}
	ll, err := l.EStep(l.NewStats(), bag, em.Params{Weights: []float64{0.5, 0.5}, Mean: []float64{0, 5}, SD: []float64{1, 1}})
	if err != nil || !(ll < 0) {
		t.Errorf("EStep at finite parameters: %v, %v", ll, err)
	}
}
