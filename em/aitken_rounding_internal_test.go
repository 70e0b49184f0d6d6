package em

import "testing"

// TestAitkenRounding: three successive EM log-likelihoods recorded
// from the run of TestAitkenNoiseSharedCategorical (the E-step
// passes 14492-14494 of one start), where the EM sequence converges with
// a true rate of about 1 - 1e-6: d1 = 9.718e-10 and d2 = 9.672e-10 differ
// by 4.5e-12, which is 10 ulps of the log-likelihood, its rounding, not
// the sequence's rate (the true difference is about 1e-15). Aitken's
// extrapolation from them, 2.07e-7 (under tol·|ll| = 2.6e-7), is noise;
// the log-likelihood still had 8.5e-4 to go. aitken must not certify
// it. Seen to fail (certified) before the rounding allowance.
func TestAitkenRounding(t *testing.T) {
	const tol = 1e-10
	l0, l1, l2 := -2623.9375187286087, -2623.937518727637, -2623.9375187266696
	if aitken(l0, l1, l2, tol) {
		t.Errorf("aitken certified a rate taken from rounding: d1 %.4g, d2 %.4g", l1-l0, l2-l1)
	}
	// A clean linear sequence with the same gains and a resolvable rate
	// (1 - a = 0.5) is still certified.
	const L = -2623.9
	if !aitken(L-4e-9, L-2e-9, L-1e-9, tol) {
		t.Error("aitken refused a fast linear sequence within tol")
	}
}

// TestAitkenRoundingCycle: at an EM fixed point the computed
// log-likelihood can alternate by one ulp, l0 = A, l1 = A - ulp, l2 = A
// (recorded from a multivariate fit with a component on a single far
// row: TestAitkenFixedPointCycle). d1 < 0 made aitken refuse, and the
// same triple came back every three E-steps until MaxIter: "not
// converged" at a point EM cannot move. Two steps that gain nothing (l2
// <= l0) are EM's fixed point to rounding, as one step that gains nothing
// is. Seen to fail before that rule.
func TestAitkenRoundingCycle(t *testing.T) {
	const tol = 1e-10
	if !aitken(-486.90777996746556, -486.9077799674657, -486.90777996746556, tol) {
		t.Error("a one-ulp two-cycle at a fixed point is not certified")
	}
	// A real decrease followed by a larger gain is no fixed point.
	if aitken(-100, -100-1e-9, -100+1e-6, tol) {
		t.Error("certified a sequence still gaining 1e-6")
	}
}
