package em_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// twoComponentBag is a random bag of a two-component family: the n×2
// log-density table (computed with the test's own formulas, not em.Table),
// the counts (nil for one row per observation) and a description.
type twoComponentBag struct {
	desc   string
	logLik []float64
	counts []float64
}

// bagSize draws the size of the i-th random bag: 1 for every 25th, up to
// 20 for every 5th, otherwise up to 2000.
func bagSize(rnd *rand.Rand, i int) int {
	switch {
	case i%25 == 0:
		return 1
	case i%5 == 0:
		return 1 + rnd.IntN(20)
	}
	return 1 + rnd.IntN(2000)
}

// trueWeight draws the first component's weight of the i-th random bag:
// exactly 0 or 1 for a third of the bags each.
func trueWeight(rnd *rand.Rand, i int) float64 {
	switch i % 3 {
	case 0:
		return 0
	case 1:
		return 1
	}
	return rnd.Float64()
}

func gaussianBags(rnd *rand.Rand, count int) []twoComponentBag {
	bags := make([]twoComponentBag, count)
	for i := range bags {
		var mu, sigma [2]float64
		for k := range mu {
			mu[k] = -3 + 6*rnd.Float64()
			sigma[k] = 0.5 + 1.5*rnd.Float64()
		}
		if i%10 == 0 {
			sigma[1] = sigma[0] // equal variances
		}
		w := trueWeight(rnd, i)
		n := bagSize(rnd, i)
		b := twoComponentBag{desc: "gaussian"}
		for range n {
			k := 1
			if rnd.Float64() < w {
				k = 0
			}
			x := mu[k] + sigma[k]*rnd.NormFloat64()
			b.logLik = append(b.logLik, normalLogPDF(x, mu[0], sigma[0]), normalLogPDF(x, mu[1], sigma[1]))
		}
		bags[i] = b
	}
	return bags
}

// poissonDraw draws a Poisson variate by inversion (lambda <= 30).
func poissonDraw(rnd *rand.Rand, lambda float64) float64 {
	u := rnd.Float64()
	p := math.Exp(-lambda)
	x := 0.0
	for cdf := p; u > cdf && p > 0; cdf += p {
		x++
		p *= lambda / x
	}
	return x
}

func poissonBags(rnd *rand.Rand, count int) []twoComponentBag {
	bags := make([]twoComponentBag, count)
	for i := range bags {
		var lambda [2]float64
		for {
			lambda[0], lambda[1] = 0.5+19.5*rnd.Float64(), 0.5+19.5*rnd.Float64()
			if math.Abs(lambda[0]-lambda[1]) >= 0.25 {
				break
			}
		}
		w := trueWeight(rnd, i)
		n := bagSize(rnd, i)
		hist := map[float64]float64{}
		for range n {
			k := 1
			if rnd.Float64() < w {
				k = 0
			}
			hist[poissonDraw(rnd, lambda[k])]++
		}
		// Aggregate as (value, count) rows in increasing value order.
		b := twoComponentBag{desc: "poisson"}
		xs := make([]float64, 0, len(hist))
		for x := range hist {
			xs = append(xs, x)
		}
		slices.Sort(xs)
		for _, x := range xs {
			b.logLik = append(b.logLik, poissonLogPMF(x, lambda[0]), poissonLogPMF(x, lambda[1]))
			b.counts = append(b.counts, hist[x])
		}
		bags[i] = b
	}
	return bags
}

func categoricalBags(rnd *rand.Rand, count int) []twoComponentBag {
	bags := make([]twoComponentBag, count)
	for i := range bags {
		m := 2 + rnd.IntN(5) // categories
		var probs [2][]float64
		for k := range probs {
			probs[k] = make([]float64, m)
			sum := 0.0
			for c := range probs[k] {
				probs[k][c] = rnd.Float64()
				if i%4 == 0 && k == 1 && c == 0 {
					probs[k][c] = 0 // category 0 impossible under component 2
				}
				sum += probs[k][c]
			}
			for c := range probs[k] {
				probs[k][c] /= sum
			}
		}
		w := trueWeight(rnd, i)
		n := bagSize(rnd, i)
		counts := make([]float64, m)
		for range n {
			k := 1
			if rnd.Float64() < w {
				k = 0
			}
			u, c := rnd.Float64(), 0
			for ; c < m-1 && u >= probs[k][c]; c++ {
				u -= probs[k][c]
			}
			counts[c]++
		}
		// One row per category, unobserved categories with count 0.
		b := twoComponentBag{desc: "categorical", counts: counts}
		for c := range counts {
			b.logLik = append(b.logLik, math.Log(probs[0][c]), math.Log(probs[1][c]))
		}
		bags[i] = b
	}
	return bags
}

// TestTwoComponentFamilies checks Fit's weights against the bisection
// maximiser of twoComponentMLE (tolerance 1e-8, the package promise) on 200
// random bags of each family.
func TestTwoComponentFamilies(t *testing.T) {
	for _, family := range []struct {
		name string
		gen  func(*rand.Rand, int) []twoComponentBag
		seed uint64
	}{
		{"gaussian", gaussianBags, 1},
		{"poisson", poissonBags, 2},
		{"categorical", categoricalBags, 3},
	} {
		t.Run(family.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(family.seed, 20240601))
			var f em.Fitter
			failures := 0
			for i, b := range family.gen(rnd, 200) {
				n := len(b.logLik) / 2
				lf1, lf2 := make([]float64, n), make([]float64, n)
				c := make([]float64, n)
				for r := range n {
					lf1[r], lf2[r] = b.logLik[2*r], b.logLik[2*r+1]
					c[r] = 1
					if b.counts != nil {
						c[r] = b.counts[r]
					}
				}
				want := twoComponentMLE(lf1, lf2, c)
				res := fitOK(t, &f, b.desc, b.logLik, b.counts, 2, em.Settings{})
				checkSimplex(t, b.desc, res.Weights)
				bad := false
				if !res.Converged {
					t.Errorf("bag %d (%d rows): not converged after %d iterations (gap %.3g)", i, n, res.Iterations, res.Gap)
					bad = true
				}
				if d := math.Abs(res.Weights[0] - want); d > 1e-8 {
					t.Errorf("bag %d (%d rows): w1 = %.15g, bisection %.15g (off by %.3g)", i, n, res.Weights[0], want, d)
					bad = true
				}
				// The log-likelihood is that of the returned weights.
				if ll := logLikelihood(b.logLik, b.counts, res.Weights); math.Abs(res.LogLikelihood-ll) > 1e-12*math.Max(1, math.Abs(ll)) {
					t.Errorf("bag %d: LogLikelihood = %.17g, recomputed %.17g", i, res.LogLikelihood, ll)
					bad = true
				}
				if bad {
					failures++
					if failures > 10 {
						t.Fatalf("too many failures; stopping at bag %d", i)
					}
				}
			}
		})
	}
}
