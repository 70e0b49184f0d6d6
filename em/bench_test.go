package em_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/em"
)

// gaussianBenchBag returns n distinct values drawn from an equal mixture of
// the K unit-variance Gaussians with means 0, 2, 4, ..., and the components.
func gaussianBenchBag(k, n int) ([]float64, []em.LogProber) {
	rnd := rand.New(rand.NewPCG(uint64(k), uint64(n)))
	comps := make([]em.LogProber, k)
	for j := range comps {
		comps[j] = distuv.Normal{Mu: 2 * float64(j), Sigma: 1}
	}
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 2*float64(rnd.IntN(k)) + rnd.NormFloat64()
	}
	return xs, comps
}

// BenchmarkFit fits one bag per op with a reused Fitter and reports
// ns/obs-iter: the time per table row per E-step (Iterations+1 of them).
// For the aggregated Bernoulli bag a row is a (value, count) pair.
func BenchmarkFit(b *testing.B) {
	type bench struct {
		name   string
		k      int
		logLik []float64
		counts []float64
	}
	var benches []bench
	for _, k := range []int{2, 3} {
		for _, n := range []int{1000, 100000} {
			xs, comps := gaussianBenchBag(k, n)
			benches = append(benches, bench{
				name:   fmt.Sprintf("gaussian/K=%d/n=%d", k, n),
				k:      k,
				logLik: em.Table(nil, xs, comps),
			})
		}
	}
	benches = append(benches, bench{
		name:   "bernoulli/aggregated/n=100000",
		k:      2,
		logLik: em.Table(nil, []float64{1, 0}, []em.LogProber{distuv.Bernoulli{P: 0.8}, distuv.Bernoulli{P: 0.3}}),
		counts: []float64{61234, 38766},
	})
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			var f em.Fitter
			rows := len(bb.logLik) / bb.k
			steps := 0
			for b.Loop() {
				res, err := f.Fit(bb.logLik, bb.counts, bb.k, em.Settings{})
				if err != nil {
					b.Fatal(err)
				}
				steps += res.Iterations + 1
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows*steps), "ns/obs-iter")
			b.ReportMetric(float64(steps)/float64(b.N), "E-steps/op")
		})
	}
}

// BenchmarkTable fills the log-density table of a Gaussian K=3 bag into a
// reused buffer.
func BenchmarkTable(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("gaussian/K=3/n=%d", n), func(b *testing.B) {
			xs, comps := gaussianBenchBag(3, n)
			dst := em.Table(nil, xs, comps)
			for b.Loop() {
				dst = em.Table(dst, xs, comps)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*len(comps)), "ns/entry")
		})
	}
}
