package em_test

import (
	"math"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// poissonBag returns bag b of n draws from a K = 3 Poisson mixture with
// rates scale·(1, 2, 4)·(1 + U(0, 0.5)) and weights ∝ 0.15 + U(0, 1):
// exact draws (Knuth) below rate 30, normal approximations rounded to
// integers above.
func poissonBag(b, n int, scale float64) []float64 {
	g := &splitmix{s: uint64(b)*0x9e3779b97f4a7c15 + 17}
	var rate, w [3]float64
	sum := 0.0
	for j := range rate {
		rate[j] = scale * float64(int(1)<<j) * (1 + 0.5*g.unif())
		w[j] = 0.15 + g.unif()
		sum += w[j]
	}
	xs := make([]float64, n)
	for i := range xs {
		u, j := g.unif()*sum, 0
		for j < 2 && u >= w[j] {
			u -= w[j]
			j++
		}
		l := rate[j]
		if l < 30 {
			k, p := 0.0, g.unif()
			for e := math.Exp(-l); p > e; p *= g.unif() {
				k++
			}
			xs[i] = k
			continue
		}
		xs[i] = math.Max(0, math.Round(l+math.Sqrt(l)*g.norm()))
	}
	return xs
}

// BenchmarkLearnPoisson fits per-bag Poisson mixtures, K = 3, n = 1000,
// weights and rates learned, 10 restarts: rates about 5 to 30 (few
// distinct values) and about 1e9 (every value distinct).
func BenchmarkLearnPoisson(b *testing.B) {
	m := em.Model{Family: em.Poisson, K: 3, Learn: em.LearnWeights | em.LearnRate}
	b.Run("small", func(b *testing.B) { benchLearn(b, m, func(i int) []float64 { return poissonBag(i, 1000, 5) }) })
	b.Run("huge", func(b *testing.B) { benchLearn(b, m, func(i int) []float64 { return poissonBag(i, 1000, 1e9) }) })
}
