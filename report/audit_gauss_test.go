package report

import (
	"fmt"
	"math"
	"testing"

	"github.com/mixbatch/mixbatch/pipeline"
)

// gaussianMixture is a gaussian mixture of the given means and sds.
func gaussianMixture(t *testing.T, means, sds []float64) *pipeline.Mixture {
	t.Helper()
	comps := ""
	for k := range means {
		comps += fmt.Sprintf("{name: c%d, mean: %v, sd: %v}, ", k, means[k], sds[k])
	}
	return testMixture(t, fmt.Sprintf("{family: gaussian, components: [%s]}", comps))
}

// TestGaussianHistogramWidth: a gaussian bag's histogram takes the Rice
// rule's number of bins over the observed range, 2·∛n, kept within 10 to
// 60, with the width rounded to 1, 2 or 5 × 10^k and at most the sd of
// the narrowest component shown (weight at least 0.005).
//
// Expectations by hand. 216,000 values evenly over [0, 1): Rice gives
// 120 bins, capped to 60, width 1/60 = 0.0167, which rounds (on a log
// scale) to 0.02: 50 bins from 0 to 1, 4,320 values each. 1,000 values
// over [0, 100): 20 bins of width 5, but a shown component of sd 0.5
// narrows them to 0.5: 200 bins; with that component's weight at 0.001
// (not shown) the width stays 5: 20 bins.
func TestGaussianHistogramWidth(t *testing.T) {
	even := func(n int, hi float64) *observations {
		obs := &observations{}
		for i := range n {
			obs.values = append(obs.values, (float64(i)+0.5)*hi/float64(n))
			obs.weight = append(obs.weight, 1)
			obs.total++
		}
		return obs
	}
	for _, tc := range []struct {
		name      string
		obs       *observations
		mean, sd  float64
		w         float64
		h         float64
		bins      int
		eachCount float64
	}{
		{"many values", even(216000, 1), 0.5, 0.3, 0.001, 0.02, 50, 4320},
		{"narrow component", even(1000, 100), 50, 0.5, 0.5, 0.5, 200, 5},
		{"narrow component not shown", even(1000, 100), 50, 0.5, 0.001, 5, 20, 50},
	} {
		bins, h := histogramBins(tc.obs, gaussianMixture(t, []float64{tc.mean}, []float64{tc.sd}), []float64{tc.w})
		if math.Abs(h-tc.h) > 1e-12*tc.h || len(bins) != tc.bins {
			t.Errorf("%s: %d bins of width %v, want %d of %v", tc.name, len(bins), h, tc.bins, tc.h)
			continue
		}
		for i, b := range bins {
			if math.Abs(b.Lo-float64(i)*tc.h) > 1e-9 || math.Abs(b.Count-tc.eachCount) > 0 {
				t.Errorf("%s: bin %d [%v, %v) of %v, want from %v, %v values", tc.name, i, b.Lo, b.Hi, b.Count, float64(i)*tc.h, tc.eachCount)
				break
			}
		}
	}
}
