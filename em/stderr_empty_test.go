package em_test

import (
	"math"
	"slices"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestStdErrorsEmptiedComponent: when a learned fit empties a component
// (weight 0, its parameters NaN, as Learn leaves them), the standard
// errors of the others hold it at weight 0: they must equal those of the
// same estimate with the component removed (computed by the same
// StdErrors on K - 1 components, whose values are checked against numpy
// and closed forms elsewhere; tolerance 1e-12 relative), and its own
// weight's error is NaN. The Gaussian bag's weights are 1/2 each, so
// their error is also the binomial share's sqrt(w(1-w)/N) = sqrt(0.025),
// checked to 1e-12. StdErrors used to refuse the NaN parameters
// ("component 2 has rate = NaN"), and the pipeline then left every
// standard error of the bag null.
func TestStdErrorsEmptiedComponent(t *testing.T) {
	cases := []struct {
		name string
		fam  em.Family
		xs   []float64
		with func(p em.Params, keep []int) em.ScalarComponents
	}{
		{"poisson", em.Poisson, append(slices.Repeat([]float64{3}, 10), slices.Repeat([]float64{8}, 10)...),
			func(p em.Params, keep []int) em.ScalarComponents {
				c := em.ScalarComponents{}
				for _, j := range keep {
					c.Rate = append(c.Rate, p.Rate[j])
					c.LearnedRate = append(c.LearnedRate, true)
				}
				return c
			}},
		{"gaussian", em.Gaussian, []float64{0, 0, 0, 1, 1, 1, 1, 0, 1, 0},
			func(p em.Params, keep []int) em.ScalarComponents {
				c := em.ScalarComponents{SDFloor: math.Sqrt(em.DefaultRegCovar)}
				for _, j := range keep {
					c.Mean = append(c.Mean, p.Mean[j])
					c.SD = append(c.SD, p.SD[j])
					c.LearnedMean = append(c.LearnedMean, true)
					c.LearnedSD = append(c.LearnedSD, true)
				}
				return c
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			learn := em.LearnWeights | em.LearnRate
			if tc.fam == em.Gaussian {
				learn = em.LearnWeights | em.LearnMean | em.LearnSD
			}
			res, err := em.Learn(em.Bag{X: tc.xs}, em.Model{Family: tc.fam, K: 3, Learn: learn}, em.LearnSettings{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			p := res.Params
			var keep []int
			empty := -1
			for j, w := range p.Weights {
				if w == 0 {
					empty = j
				} else {
					keep = append(keep, j)
				}
			}
			if empty < 0 || len(keep) != 2 {
				t.Fatalf("weights %v: the test needs a fit with one emptied component", p.Weights)
			}
			all := make([]int, 3)
			for j := range all {
				all[j] = j
			}
			full, err := em.StdErrors(tc.fam, tc.xs, nil, p.Weights, tc.with(p, all))
			if err != nil {
				t.Fatalf("weights %v, params %+v: %v", p.Weights, p, err)
			}
			w2 := []float64{p.Weights[keep[0]], p.Weights[keep[1]]}
			ref, err := em.StdErrors(tc.fam, tc.xs, nil, w2, tc.with(p, keep))
			if err != nil {
				t.Fatal(err)
			}
			if tc.fam == em.Gaussian {
				for _, j := range keep {
					if want := math.Sqrt(0.025); !(math.Abs(full.Weights[j]-want) <= 1e-12) {
						t.Errorf("weight %d: error %v, want sqrt(0.025) = %v", j, full.Weights[j], want)
					}
				}
			}
			if !math.IsNaN(full.Weights[empty]) {
				t.Errorf("emptied component's weight error %v, want NaN", full.Weights[empty])
			}
			// Parameters on a bound (the Gaussian bag's components collapse
			// onto 0 and 1, their sds on the floor) are NaN in both.
			near := func(what string, got, want float64) {
				t.Helper()
				if math.IsNaN(want) && math.IsNaN(got) {
					return
				}
				if math.IsNaN(want) || math.IsInf(want, 0) || !(math.Abs(got-want) <= 1e-12*math.Abs(want)) {
					t.Errorf("%s: %v, without the emptied component %v", what, got, want)
				}
			}
			for a, j := range keep {
				if math.IsNaN(ref.Weights[a]) {
					t.Fatalf("weight errors without the emptied component %v: the test needs finite ones", ref.Weights)
				}
				near("weight", full.Weights[j], ref.Weights[a])
				if tc.fam == em.Poisson {
					near("rate", full.Rate[j], ref.Rate[a])
				} else {
					near("mean", full.Mean[j], ref.Mean[a])
					near("sd", full.SD[j], ref.SD[a])
				}
			}
		})
	}
}
