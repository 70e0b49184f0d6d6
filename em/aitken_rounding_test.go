package em_test

import (
	"errors"
	"math"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// auditCatCounts are 21 bags of label counts (6 labels) drawn from three
// shared categorical components with Dirichlet(0.7) probabilities and
// exponential bag weights (numpy default_rng(7), problem 17 of the
// shared-scope audit), aggregated to (label, count) pairs.
var auditCatCounts = [][6]float64{
	{5, 1, 5, 4, 9, 8},
	{17, 0, 4, 7, 5, 12},
	{22, 2, 7, 8, 21, 13},
	{6, 4, 11, 9, 8, 13},
	{28, 3, 9, 12, 36, 22},
	{25, 3, 21, 12, 37, 14},
	{5, 1, 13, 4, 7, 5},
	{14, 5, 6, 9, 35, 15},
	{19, 6, 18, 12, 20, 23},
	{38, 5, 23, 13, 18, 30},
	{4, 2, 5, 4, 39, 9},
	{20, 7, 21, 8, 4, 11},
	{31, 10, 15, 14, 31, 31},
	{23, 2, 0, 11, 59, 19},
	{31, 2, 6, 27, 27, 28},
	{4, 0, 9, 4, 11, 8},
	{8, 5, 6, 4, 2, 5},
	{20, 4, 13, 15, 4, 27},
	{17, 3, 13, 6, 32, 26},
	{8, 5, 14, 4, 2, 15},
	{19, 4, 22, 12, 3, 22},
}

// TestAitkenNoiseSharedCategorical: a shared categorical fit whose EM
// crawls towards a maximum on the boundary of the simplex (a probability
// going to 0) with a linear rate of about 1 - 1e-6, so each EM step gains
// about 1e-9 of a log-likelihood of -2624 while 8.5e-4 remain. Aitken's
// rate a = d2/d1 then rests on d1 - d2 ≈ 1e-15 (true), far below the
// log-likelihood's rounding (about 10 ulps, 5e-12 here): the computed
// rate was noise, 1 - a came out 5e-3 instead of 1e-6, and the fit was
// certified converged after 15210 E-steps with its log-likelihood
// 8.5e-4 (3200 × tol·|ll|) below the maximum and its probabilities 0.1
// from it (so far that the ridge check called the solution
// unidentified; at the maximum the ridge is 1e-4 wide). Seen to fail
// before aitken discounted the rounding of the log-likelihoods.
//
// Reference maximum, -2623.9366668041: scipy 1.10.1 SLSQP (numpy 1.24.2,
// Debian bookworm's python3-scipy) on the joint log-likelihood over the
// K = 3 probability vectors and the 21 bags' weights, simplex
// constraints, analytic gradient, ftol 1e-15, best of 40 Dirichlet(1)
// starts (7 minutes), with COUNTS = auditCatCounts:
//
//	import numpy as np
//	from scipy.optimize import minimize
//	N = np.array(COUNTS, float)  # auditCatCounts, 21 rows of 6
//	K, L, B = 3, 6, len(N)
//	def unpack(v): return v[:K*L].reshape(K, L), v[K*L:].reshape(B, K)
//	def f(v):
//	    P, W = unpack(v); Q = W @ P
//	    with np.errstate(divide="ignore", invalid="ignore"):
//	        ll = np.where(N > 0, N * np.log(np.maximum(Q, 1e-300)), 0).sum()
//	        G = np.where(N > 0, N / np.maximum(Q, 1e-300), 0)
//	    gP = W.T @ G; gW = G @ P.T
//	    return -ll, -np.concatenate([gP.ravel(), gW.ravel()])
//	cons = [{"type": "eq", "fun": (lambda v, j=j: unpack(v)[0][j].sum() - 1)} for j in range(K)] + \
//	       [{"type": "eq", "fun": (lambda v, b=b: unpack(v)[1][b].sum() - 1)} for b in range(B)]
//	rng = np.random.default_rng(1)
//	best = None
//	for s in range(40):
//	    v0 = np.concatenate([rng.dirichlet(np.ones(L), K).ravel(), rng.dirichlet(np.ones(K), B).ravel()])
//	    r = minimize(f, v0, jac=True, method="SLSQP", bounds=[(0, 1)] * len(v0), constraints=cons,
//	                 options={"ftol": 1e-15, "maxiter": 5000})
//	    if best is None or -r.fun > best[0]: best = (-r.fun, r)
//	print("best ll %.10f" % best[0])
//	P, W = unpack(best[1].x); print(np.round(P, 5))
//
// mixbatch itself, run to tol 1e-15 (256k E-steps), reaches
// -2623.93666776, 1e-6 below it.
// Tolerance: a certified point must be within 10·tol·|ll| (2.6e-6) of the
// reference; with MaxIter 20000 the honest outcome is "not converged".
func TestAitkenNoiseSharedCategorical(t *testing.T) {
	if testing.Short() {
		t.Skip("3 s of EM")
	}
	const refLL, tol = -2623.9366668041, 1e-10
	bags := make([]em.Bag, len(auditCatCounts))
	for b, row := range auditCatCounts {
		for code, c := range row {
			if c > 0 {
				bags[b].X = append(bags[b].X, float64(code))
				bags[b].Counts = append(bags[b].Counts, c)
			}
		}
	}
	m := em.Model{Family: em.Categorical, K: 3, Levels: 6, Learn: em.LearnWeights | em.LearnProbs}
	r, err := em.FitShared(bags, m, em.LearnSettings{Seed: 17, Tol: tol, MaxIter: 20000})
	var ie *em.IdentifiabilityError
	if err != nil && !errors.As(err, &ie) {
		t.Fatal(err)
	}
	short := refLL - r.LogLikelihood
	t.Logf("ll %.10f (%.3g below the reference), converged %v after %d E-steps", r.LogLikelihood, short, r.Converged, r.Iterations)
	if short < -1e-6 {
		t.Errorf("ll %.10f above the reference maximum %.10f by more than its accuracy", r.LogLikelihood, refLL)
	}
	if r.Converged && short > 10*tol*math.Abs(refLL) {
		t.Errorf("certified converged %.3g below the maximum (%.0f × tol·|ll|)", short, short/(tol*math.Abs(refLL)))
	}
}
