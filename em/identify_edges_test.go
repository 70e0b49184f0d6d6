package em_test

import (
	"errors"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestIdentifiabilityEdges checks CheckIdentifiable at the edges of its
// rules, each decided by hand:
//
//   - Fixed Bernoulli components p1 != p2 are linearly independent (the
//     rows (1-p, p) have determinant p2 - p1 != 0), however close: 0.50 and
//     0.52 have determinant 0.02, singular values about 1.0 and 0.014, well
//     above a rank tolerance of 1e-12 of the largest.
//   - Fixed categorical components are dependent when one is a mixture of
//     the others: (0.35, 0.3, 0.35) = ½(0.6, 0.3, 0.1) + ½(0.1, 0.3, 0.6);
//     moved off that plane by (0.01, -0.02, 0.01) to (0.36, 0.28, 0.36) it
//     is independent (the 3×3 matrix of the three rows has determinant
//     0.01, by cofactor expansion).
//   - Shared categorical components with free weights are a nonnegative
//     matrix factorisation, conditionally unique when K <= Levels (K = Levels
//     included: K linearly independent distributions over K codes exist)
//     and never when K > Levels.
func TestIdentifiabilityEdges(t *testing.T) {
	wc := em.LearnWeights | em.LearnProbs
	for _, c := range []struct {
		name  string
		m     em.Model
		scope em.Scope
		want  em.Identifiability
	}{
		{"bernoulli 0.50, 0.52", em.Model{Family: em.Bernoulli, K: 2, Learn: em.LearnWeights, Init: em.Params{P: []float64{0.5, 0.52}}}, em.PerBag, em.Identifiable},
		{"bernoulli 0.5, 0.5", em.Model{Family: em.Bernoulli, K: 2, Learn: em.LearnWeights, Init: em.Params{P: []float64{0.5, 0.5}}}, em.PerBag, em.NotIdentifiable},
		{"categorical, third the mean of two", em.Model{Family: em.Categorical, K: 3, Levels: 3, Learn: em.LearnWeights,
			Init: em.Params{Probs: []float64{0.6, 0.3, 0.1, 0.1, 0.3, 0.6, 0.35, 0.3, 0.35}}}, em.PerBag, em.NotIdentifiable},
		{"categorical, third off the plane", em.Model{Family: em.Categorical, K: 3, Levels: 3, Learn: em.LearnWeights,
			Init: em.Params{Probs: []float64{0.6, 0.3, 0.1, 0.1, 0.3, 0.6, 0.36, 0.28, 0.36}}}, em.PerBag, em.Identifiable},
		{"shared categorical K = Levels = 2", em.Model{Family: em.Categorical, K: 2, Levels: 2, Learn: wc}, em.Shared, em.Conditional},
		{"shared categorical K = Levels = 3", em.Model{Family: em.Categorical, K: 3, Levels: 3, Learn: wc}, em.Shared, em.Conditional},
		{"shared categorical K = 3 > Levels = 2", em.Model{Family: em.Categorical, K: 3, Levels: 2, Learn: wc}, em.Shared, em.NotIdentifiable},
	} {
		got, why := em.CheckIdentifiable(c.m, c.scope)
		if got != c.want || (got != em.Identifiable) != (why != "") {
			t.Errorf("%s: %v (%q), want %v", c.name, got, why, c.want)
		}
	}
}

// TestCheckSharedSolutionTolerance: CheckSharedSolution reports a ridge
// exactly when its extent exceeds tol. The solution is TestSharedRidge's:
// components (1, 0) and (0, 1), bags (0.8, 0.2) and (0, 1); component 0
// has no pure bag, so it can mix towards component 1 by δ = min_b
// W_b1/W_b0 = 0.25, moving weight δ·W_00 = 0.2 (extent 0.2, by hand from
// SharedRidge's definition).
func TestCheckSharedSolutionTolerance(t *testing.T) {
	m := em.Model{Family: em.Categorical, K: 2, Levels: 2, Learn: em.LearnWeights | em.LearnProbs}
	p := em.Params{Weights: []float64{0.4, 0.6}, Probs: []float64{1, 0, 0, 1}}
	bw := []float64{0.8, 0.2, 0, 1}
	for _, c := range []struct {
		tol  float64
		want bool // an error
	}{
		{0.05, true}, {0.19, true}, {0.21, false}, {1, false},
	} {
		err := em.CheckSharedSolution(m, p, bw, c.tol)
		var ie *em.IdentifiabilityError
		if c.want != (err != nil) || (err != nil && !errors.As(err, &ie)) {
			t.Errorf("tol %g (extent 0.2): error %v, want one: %v", c.tol, err, c.want)
		}
	}
	// A separable solution (a pure bag per component) has extent 0: no
	// error at any positive tolerance.
	if err := em.CheckSharedSolution(m, p, []float64{1, 0, 0, 1}, 1e-12); err != nil {
		t.Errorf("separable solution: %v", err)
	}
}
