package em_test

import (
	"fmt"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// BenchmarkLearnGaussian fits per-bag univariate Gaussian mixtures, K = 3,
// n = 1000 (the scikit-learn comparison's bags, cycling through 50 of
// them), all parameters learned, 10 restarts, tol 1e-10, with one reused
// Learner, and reports bags/s and E-steps per bag (all starts).
func BenchmarkLearnGaussian(b *testing.B) {
	benchLearn(b, em.Model{Family: em.Gaussian, K: 3, Learn: gaussAll}, func(i int) []float64 { return gaussBag(i, 1000) })
}

// BenchmarkLearnMultiGaussian does the same for K = 3, D = 3, n = 1000,
// for each covariance structure.
func BenchmarkLearnMultiGaussian(b *testing.B) {
	for _, typ := range []em.Covariance{em.CovFull, em.CovDiag, em.CovSpherical} {
		b.Run(fmt.Sprint(typ), func(b *testing.B) {
			benchLearn(b, em.Model{Family: em.MultiGaussian, K: 3, Dim: 3, Covariance: typ, Learn: em.LearnWeights | em.LearnMean | em.LearnCov},
				func(i int) []float64 { return mvnBag(i, 1000, 3, 3) })
		})
	}
}

func benchLearn(b *testing.B, m em.Model, bag func(int) []float64) {
	const nb = 50
	bags := make([][]float64, nb)
	for i := range bags {
		bags[i] = bag(i)
	}
	l, err := em.NewLearner(m)
	if err != nil {
		b.Fatal(err)
	}
	i, esteps := 0, 0
	for b.Loop() {
		r, err := l.Learn(em.Bag{X: bags[i%nb]}, em.LearnSettings{Seed: uint64(i % nb), Restarts: 10})
		if err != nil {
			b.Fatal(err)
		}
		esteps += r.TotalIterations
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "bags/s")
	b.ReportMetric(float64(esteps)/float64(i), "E-steps/bag")
}
