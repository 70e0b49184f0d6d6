package em_test

import (
	"math"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestAitkenFixedPointCycle: multivariate Gaussian bags of n rows
// from N(0, I₂) (values rounded to 1e-6) plus one far row (1e4, -2e4),
// K = 2. The maximum puts one component on the far row (covariance
// reg_covar·I, weight 1/(n+1)) and the other on the rest (their mean and
// covariance, plus reg_covar on the diagonal, weight n/(n+1)). EM reaches
// it, and there the computed log-likelihood alternated by one ulp from
// step to step; aitken refused every such triple (d1 < 0), so these fits
// ran to MaxIter and were reported not converged (9 of 900 such bags;
// these three were). Seen to fail before aitken certified two steps that
// gain nothing.
//
// Reference: the closed form above, evaluated here with gonum-free
// arithmetic (2×2 determinant and inverse written out); no other maximum
// comes near (a component on one row gains log(1/(2π·1e-6)) ≈ 11.97).
// Tolerance 1e-9 relative (the fit's own tolerance is 1e-10).
func TestAitkenFixedPointCycle(t *testing.T) {
	for _, c := range []struct {
		seed uint64
		cov  em.Covariance
	}{{65*3 + 0, em.CovFull}, {124*3 + 1, em.CovDiag}, {233*3 + 2, em.CovSpherical}} {
		g := splitmix{s: c.seed}
		n := 20 + int(g.unif()*60)
		var xs []float64
		for range n {
			xs = append(xs, quantise(g.norm()), quantise(g.norm()))
		}
		xs = append(xs, 1e4, -2e4)
		const reg = 1e-6
		m := em.Model{Family: em.MultiGaussian, K: 2, Dim: 2, Covariance: c.cov, Learn: em.LearnWeights | em.LearnMean | em.LearnCov}
		r, err := em.Learn(em.Bag{X: xs}, m, em.LearnSettings{Seed: 1, MaxIter: 1000})
		if err != nil {
			t.Fatal(err)
		}
		// Closed form: the bulk's mean and scatter.
		var mx, my float64
		for i := range n {
			mx += xs[2*i]
			my += xs[2*i+1]
		}
		mx /= float64(n)
		my /= float64(n)
		var sxx, syy, sxy float64
		for i := range n {
			dx, dy := xs[2*i]-mx, xs[2*i+1]-my
			sxx += dx * dx
			syy += dy * dy
			sxy += dx * dy
		}
		sxx, syy, sxy = sxx/float64(n), syy/float64(n), sxy/float64(n)
		switch c.cov {
		case em.CovDiag:
			sxy = 0
		case em.CovSpherical:
			sxx, syy, sxy = (sxx+syy)/2, (sxx+syy)/2, 0
		}
		sxx, syy = sxx+reg, syy+reg
		det := sxx*syy - sxy*sxy
		w1 := float64(n) / float64(n+1)
		ll := math.Log(1/float64(n+1)) - math.Log(2*math.Pi) - 0.5*math.Log(reg*reg)
		for i := range n {
			dx, dy := xs[2*i]-mx, xs[2*i+1]-my
			q := (syy*dx*dx - 2*sxy*dx*dy + sxx*dy*dy) / det
			ll += math.Log(w1) - math.Log(2*math.Pi) - 0.5*math.Log(det) - 0.5*q
		}
		t.Logf("%v n %d: ll %.12f (closed form %.12f), converged %v after %d E-steps", c.cov, n, r.LogLikelihood, ll, r.Converged, r.Iterations)
		if math.Abs(r.LogLikelihood-ll) > 1e-9*math.Abs(ll) {
			t.Errorf("%v: ll %.12f, closed form %.12f", c.cov, r.LogLikelihood, ll)
		}
		if !r.Converged {
			t.Errorf("%v: not certified after %d E-steps at the maximum", c.cov, r.Iterations)
		}
	}
}
