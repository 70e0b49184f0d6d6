package em_test

import (
	"math"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestStdErrorsSDOnFloor: the audit's bag, three values at 5 and eight
// spread around 0, K = 2 Gaussian, everything learned. The component on
// the three 5s collapses onto the variance floor (sd √RegCovar = 0.001),
// a bound of its range: its sd and mean get NaN and are held fixed, as a
// Poisson rate of 0 is. The other component's densities at 5 are below
// 1e-11 of the collapsed one's, so the information separates, and the
// remaining standard errors are the closed forms (tolerance 1e-9
// relative): the weights' sqrt(w(1-w)/N) (a binomial share, N = 11), the
// free mean's σ/√n₁ and sd's σ/√(2n₁) (normal MLEs, n₁ = 8, σ the fitted
// sd). Without SDFloor (the old behaviour) sd's error is +Inf and the
// collapsed mean's 0.00058, and this test fails.
func TestStdErrorsSDOnFloor(t *testing.T) {
	xs := []float64{5, 5, 5, 0.1, -0.3, 0.7, 1.2, -1.1, 0.4, 0.0, -0.6}
	m := em.Model{Family: em.Gaussian, K: 2, Learn: em.LearnWeights | em.LearnMean | em.LearnSD}
	res, err := em.Learn(em.Bag{X: xs}, m, em.LearnSettings{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Params
	if p.SD[1] != 1e-3 || p.Mean[1] != 5 {
		t.Fatalf("component 1: mean %v sd %v, want 5 and the floor 0.001", p.Mean[1], p.SD[1])
	}
	tr := []bool{true, true}
	se, err := em.StdErrors(em.Gaussian, xs, nil, p.Weights, em.ScalarComponents{Mean: p.Mean, SD: p.SD,
		LearnedMean: tr, LearnedSD: tr, SDFloor: math.Sqrt(em.DefaultRegCovar)})
	if err != nil {
		t.Fatal(err)
	}
	sigma := p.SD[0]
	want := map[string][2]float64{
		"weight 0": {se.Weights[0], math.Sqrt(8.0 / 11 * 3 / 11 / 11)},
		"weight 1": {se.Weights[1], math.Sqrt(8.0 / 11 * 3 / 11 / 11)},
		"mean 0":   {se.Mean[0], sigma / math.Sqrt(8)},
		"sd 0":     {se.SD[0], sigma / math.Sqrt(16)},
	}
	for name, v := range want {
		if math.Abs(v[0]-v[1]) > 1e-9*v[1] {
			t.Errorf("%s: std error %.12g, want %.12g", name, v[0], v[1])
		}
	}
	if !math.IsNaN(se.SD[1]) || !math.IsNaN(se.Mean[1]) {
		t.Errorf("collapsed component: mean and sd std errors %v %v, want NaN NaN", se.Mean[1], se.SD[1])
	}
}
