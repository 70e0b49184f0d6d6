package em_test

import (
	"math"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestLearnTextbookRuleReachesMaximum: with Accelerate None, Learn's
// converged means the textbook rule (an EM step gained at most
// Tol·|ll|), and at the default Tol of 1e-10 that stops plain EM close to
// the maximum. The reference is the maximum likelihood estimate of the
// two-component Gaussian mixture of goldenG4 (means and sds learned) that
// testdata/stderr_golden.R computes in R with its own EM loop run until no
// parameter moves by 1e-15 (150 iterations; printed with %.17g in
// testdata/stderr_golden.out, "gaussian K=2 learned means and sds"); its
// log-likelihood is computed here from those parameters.
//
// Tolerances. Plain EM on this bag converges linearly at a rate of about
// 0.85 per step (R's 150 iterations to 1e-15), so stopping once a step
// gains at most 1e-10·|ll| (|ll| ≈ 156) leaves the log-likelihood within
// about 1.6e-8·0.85/0.15 ≈ 1e-7 of the maximum; 1e-6 allows for that. A
// rule ten thousand times looser (gain 1.6e-4) leaves it about 1e-3 below.
// The variance floor (reg_covar 1e-6, which R's loop does not have) moves
// the fixed point by about 1e-6 in the variances and the log-likelihood by
// far less than 1e-6 (the gradient vanishes at the maximum). Parameters:
// within 1e-3 (a log-likelihood 1e-7 below the maximum, with curvatures
// per parameter of order N = 80, allows about sqrt(2·1e-7/80) ≈ 5e-5).
func TestLearnTextbookRuleReachesMaximum(t *testing.T) {
	wantW := []float64{0.65094569062132257, 0.34905430937867743}
	wantMean := []float64{-0.87678426507135854, 2.5973434923825249}
	wantSD := []float64{1.4676204843271667, 0.48017318455055263}
	llAt := func(w, mu, sd []float64) float64 {
		s := 0.0
		for _, x := range goldenG4 {
			d := 0.0
			for j := range w {
				d += w[j] * math.Exp(normalLogPDF(x, mu[j], sd[j]))
			}
			s += math.Log(d)
		}
		return s
	}
	wantLL := llAt(wantW, wantMean, wantSD)
	m := em.Model{Family: em.Gaussian, K: 2, Learn: em.LearnWeights | em.LearnMean | em.LearnSD}
	for _, acc := range []em.Acceleration{em.None, em.SQUAREM} {
		r, err := em.Learn(em.Bag{X: goldenG4}, m, em.LearnSettings{Seed: 3, Accelerate: acc})
		if err != nil {
			t.Fatalf("%v: %v", acc, err)
		}
		if !r.Converged {
			t.Errorf("%v: not converged after %d E-steps", acc, r.Iterations)
		}
		p := r.Params
		if got := llAt(p.Weights, p.Mean, p.SD); math.Abs(got-r.LogLikelihood) > 1e-9 {
			t.Errorf("%v: reported log-likelihood %.12f, that of the reported parameters %.12f", acc, r.LogLikelihood, got)
		}
		if d := wantLL - r.LogLikelihood; d > 1e-6 {
			t.Errorf("%v: log-likelihood %.12f is %.3g below the maximum %.12f (R)", acc, r.LogLikelihood, d, wantLL)
		}
		for j := range 2 {
			if math.Abs(p.Weights[j]-wantW[j]) > 1e-3 || math.Abs(p.Mean[j]-wantMean[j]) > 1e-3 || math.Abs(p.SD[j]-wantSD[j]) > 1e-3 {
				t.Errorf("%v: component %d: w %v mean %v sd %v, R's MLE w %v mean %v sd %v", acc, j,
					p.Weights[j], p.Mean[j], p.SD[j], wantW[j], wantMean[j], wantSD[j])
			}
		}
	}
}
