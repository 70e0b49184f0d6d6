package em_test

import (
	"math"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestFitSharedPooledWeights: a shared fit's Params.Weights is the
// count-weighted average of the bags' weights (SharedResult's doc), Σ_b N_b
// W_bk / Σ_b N_b with N_b the bag's total count, computed here from
// BagWeights. The bags differ in size (20, 200 and 60 values, one with
// counts) and in weights, so an unweighted average differs by about 0.1.
func TestFitSharedPooledWeights(t *testing.T) {
	g := splitmix{s: 9}
	var bags []em.Bag
	var totals []float64
	for b, n := range []int{20, 200, 60} {
		share := []float64{0.1, 0.5, 0.9}[b]
		var xs, cs []float64
		tot := 0.0
		for i := range n {
			rate := 8.0
			if g.unif() < share {
				rate = 1
			}
			// A Poisson draw by inversion.
			u, p, x := g.unif(), math.Exp(-rate), 0
			for cdf := p; u > cdf && x < 100; cdf += p {
				x++
				p *= rate / float64(x)
			}
			xs = append(xs, float64(x))
			c := 1.0
			if b == 2 {
				c = float64(1 + i%3)
			}
			cs = append(cs, c)
			tot += c
		}
		bags = append(bags, em.Bag{X: xs, Counts: cs})
		totals = append(totals, tot)
	}
	m := em.Model{Family: em.Poisson, K: 2, Learn: em.LearnWeights | em.LearnRate}
	res, err := em.FitShared(bags, m, em.LearnSettings{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	sumN := 0.0
	for _, n := range totals {
		sumN += n
	}
	for j := range 2 {
		want, unweighted := 0.0, 0.0
		for b, n := range totals {
			want += n * res.BagWeights[b*2+j] / sumN
			unweighted += res.BagWeights[b*2+j] / 3
		}
		if math.Abs(res.Params.Weights[j]-want) > 1e-12 {
			t.Errorf("pooled weight %d = %.15g, count-weighted average of the bags' %.15g (unweighted %.15g)", j, res.Params.Weights[j], want, unweighted)
		}
	}
}

// TestPosteriorsZeroWeightDominates: a component of weight 0 takes no
// part in a posterior, however much larger its density (Bayes' rule:
// P(k | x) = w_k f_k(x) / Σ_j w_j f_j(x), and w_k f_k = 0). Rows whose
// zero-weight density exceeds the others by a factor e^800 (which no
// float64 scaling by the largest density of all components survives)
// get the posteriors of the weighted components alone, by hand: (0, 1)
// and (0, 0.25, 0.75) for weights (0, 0.5, 0.5) and log-densities
// (0, -800 + log 1, -800 + log 3). Tolerance 1e-12: -800 + log 3 is
// rounded to the ulp of 800, 1.1e-13, which moves the ratio by as much.
func TestPosteriorsZeroWeightDominates(t *testing.T) {
	got := em.Posteriors(nil, []float64{0, -800}, []float64{0, 1})
	if got[0] != 0 || math.Abs(got[1]-1) > 1e-15 {
		t.Errorf("K=2: posteriors %v, want [0 1]", got)
	}
	got = em.Posteriors(nil, []float64{0, -800, -800 + math.Log(3)}, []float64{0, 0.5, 0.5})
	if got[0] != 0 || math.Abs(got[1]-0.25) > 1e-12 || math.Abs(got[2]-0.75) > 1e-12 {
		t.Errorf("K=3: posteriors %v, want [0 0.25 0.75]", got)
	}
}
