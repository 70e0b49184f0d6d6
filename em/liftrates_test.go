package em_test

import (
	"math"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestLearnPoissonLiftedRateReference: learned K = 3 Poisson mixtures on
// bags where some start ends with a rate held at 0 whose KKT condition
// fails (raising it raises the log-likelihood), so the maximum is reached
// only if liftRates moves that rate off 0. Without the lift the same
// seeds report log-likelihoods 0.095, 0.025, 0.024 and 0.006 below the
// maximum (a rate at 0 where the best fit has 0.091, 0.198, 0.049 and
// 0.029), either as converged or as not converged.
//
// Provenance. The bags are numbers 72, 553, 579 and 1411 of a seeded
// draw like TestLearnConvergedCertifiedPoisson's (splitmix seed 777, K
// uniform in 2..3, rates e^U(-4, 2), 20..319 draws), found by comparing
// mixbatch with and without the lift on 1,500 such bags; Seed is the bag
// number. wantLL is the maximum found by scipy.optimize (best of 400
// L-BFGS-B starts, polished by Nelder-Mead), computed once by
// em/testdata/liftrates_scipy.py, output in liftrates_scipy.out (two runs
// of the script agree to 2e-14; the parameters of bags 72, 553 and 1411
// lie on a ridge of two merged components, so only bag 579's are pinned).
//
// Tolerances: the log-likelihood within 1e-9 of its size of the
// reference (mixbatch certifies a maximum to about 1e-13 of |ll|, the
// default Tol times newtonCertTol; the reference agrees with itself to
// 1e-15 relative); bag 579's weights within 1e-4 absolute and rates
// within 1e-4 relative (as TestLearnPoissonReference).
func TestLearnPoissonLiftedRateReference(t *testing.T) {
	cases := []struct {
		seed            uint64
		x, c            []float64
		wantLL          float64
		wantW, wantRate []float64 // nil on a ridge
	}{
		{seed: 72, x: []float64{0, 1, 2, 3, 4}, c: []float64{57, 21, 11, 7, 3},
			wantLL: -118.37203887010685},
		{seed: 553, x: []float64{0, 1, 2, 3}, c: []float64{205, 41, 9, 2},
			wantLL: -161.7586327827164},
		{seed: 579, x: []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13}, c: []float64{51, 11, 2, 2, 3, 1, 4, 6, 6, 1, 1, 2},
			wantLL:   -150.9501239443323,
			wantW:    []float64{0.6843293458875653, 0.023764621125183297, 0.2919060329872512},
			wantRate: []float64{0.1975267820267856, 1.5054996283742226, 6.912970627774952}},
		{seed: 1411, x: []float64{0, 1, 2, 3}, c: []float64{219, 47, 11, 3},
			wantLL: -187.4082943960913},
	}
	for _, tc := range cases {
		m := em.Model{Family: em.Poisson, K: 3, Learn: em.LearnWeights | em.LearnRate}
		res, err := em.Learn(em.Bag{X: tc.x, Counts: tc.c}, m, em.LearnSettings{Seed: tc.seed})
		if err != nil {
			t.Fatalf("bag %d: %v", tc.seed, err)
		}
		if !res.Converged {
			t.Errorf("bag %d: not converged", tc.seed)
		}
		if d := res.LogLikelihood - tc.wantLL; math.Abs(d) > 1e-9*math.Abs(tc.wantLL) {
			t.Errorf("bag %d: log-likelihood %.17g, scipy's maximum %.17g (%+.3g); weights %v, rates %v",
				tc.seed, res.LogLikelihood, tc.wantLL, d, res.Params.Weights, res.Params.Rate)
		}
		for j := range tc.wantW {
			if math.Abs(res.Params.Weights[j]-tc.wantW[j]) > 1e-4 {
				t.Errorf("bag %d: weight %d = %.10g, reference %.10g", tc.seed, j, res.Params.Weights[j], tc.wantW[j])
			}
			if math.Abs(res.Params.Rate[j]-tc.wantRate[j]) > 1e-4*tc.wantRate[j] {
				t.Errorf("bag %d: rate %d = %.10g, reference %.10g", tc.seed, j, res.Params.Rate[j], tc.wantRate[j])
			}
		}
	}
}
