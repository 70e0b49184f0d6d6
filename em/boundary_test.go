package em_test

import (
	"math"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestExactFitBoundary: categorical bags whose category counts are exactly
// N times a mixture of the components with some weights zero. As in
// TestCategoricalCloseComponents, the sample frequencies are then the
// unrestricted multinomial maximum, so those weights are the exact maximum
// (unique: the components are linearly independent). The maxima are on the
// boundary with a zero gradient there (e_k = sum_c c_k(c) - 1 = 0 for every
// k), the case where EM is sublinear. Tolerance 1e-8, the package promise.
func TestExactFitBoundary(t *testing.T) {
	probs := []categorical{
		{0.4, 0.3, 0.2, 0.1, 0},
		{0.1, 0.2, 0.3, 0.2, 0.2},
		{0.2, 0.2, 0.2, 0.2, 0.2},
		{0.05, 0.05, 0.1, 0.3, 0.5},
	}
	comps := make([]em.LogProber, len(probs))
	for k, p := range probs {
		comps[k] = p
	}
	tab := em.Table(nil, []float64{0, 1, 2, 3, 4}, comps)
	for _, test := range []struct {
		n    float64
		want []float64
	}{
		{1000, []float64{1, 0, 0, 0}},
		{1000, []float64{0, 1, 0, 0}},
		{1000, []float64{0, 0, 0, 1}},
		{1000, []float64{0.5, 0.5, 0, 0}},
		{1000, []float64{0.25, 0, 0, 0.75}},
		{20, []float64{0, 0.5, 0, 0.5}},
		{1000, []float64{0.2, 0, 0.5, 0.3}},
		{1e6, []float64{0.7, 0.1, 0, 0.2}},
	} {
		counts := make([]float64, 5)
		for c := range counts {
			for k, w := range test.want {
				counts[c] += test.n * w * probs[k][c]
			}
		}
		res := fitOK(t, nil, "exact fit", tab, counts, 4, em.Settings{})
		if !res.Converged {
			t.Errorf("want %v (counts %v): not converged after %d iterations (gap %.3g), weights %v",
				test.want, counts, res.Iterations, res.Gap, res.Weights)
		}
		for j := range test.want {
			if d := math.Abs(res.Weights[j] - test.want[j]); d > 1e-8 {
				t.Errorf("want %v (counts %v): weight %d = %.15g, off by %.3g", test.want, counts, j, res.Weights[j], d)
			}
		}
	}
}
