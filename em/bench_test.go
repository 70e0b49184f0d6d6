package em_test

import (
	"fmt"
	"math"
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

// BenchmarkPosteriors computes the posteriors of a table of 100,000
// Gaussian readings under K = 3 components, as the posteriors pass does
// for every row of the input.
func BenchmarkPosteriors(b *testing.B) {
	xs, comps := gaussianBenchBag(3, 100000)
	tab := em.Table(nil, xs, comps)
	weights := []float64{0.2, 0.3, 0.5}
	var dst []float64
	for b.Loop() {
		dst = em.Posteriors(dst, tab, weights)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/row")
}

// tinyBags returns nb bags of n draws over the codes 0..levels-1 from
// random mixtures of the K components with code probabilities probs
// (row-major K×levels), aggregated as the pipeline aggregates them: one
// table row per code with a positive count, in ascending code order, with
// its log-density under every component (from em.Table) and its count.
func tinyBags(nb, n int, probs [][]float64) (tabs, counts [][]float64) {
	rnd := rand.New(rand.NewPCG(uint64(nb), uint64(n)))
	k, levels := len(probs), len(probs[0])
	comps := make([]em.LogProber, k)
	for j, p := range probs {
		comps[j] = codeProber(p)
	}
	for range nb {
		w := make([]float64, k)
		sum := 0.0
		for j := range w {
			w[j] = rnd.Float64()
			sum += w[j]
		}
		dense := make([]float64, levels)
		for range n {
			j, u := 0, rnd.Float64()*sum
			for j < k-1 && u >= w[j] {
				u -= w[j]
				j++
			}
			c, v := 0, rnd.Float64()
			for c < levels-1 && v >= probs[j][c] {
				v -= probs[j][c]
				c++
			}
			dense[c]++
		}
		var xs, cs []float64
		for c, v := range dense {
			if v > 0 {
				xs = append(xs, float64(c))
				cs = append(cs, v)
			}
		}
		tabs = append(tabs, em.Table(nil, xs, comps))
		counts = append(counts, cs)
	}
	return tabs, counts
}

// codeProber is a categorical distribution over codes 0..len-1.
type codeProber []float64

func (p codeProber) LogProb(x float64) float64 { return math.Log(p[int(x)]) }

// benchTiny fits bag after bag of tinyBags with a reused Fitter and
// Uncertainty, as a pipeline worker does (Fit, then WeightStdErrors into
// the caller's row), one bag per op, and reports ns/bag.
func benchTiny(b *testing.B, n int, probs [][]float64) {
	const nb = 1024
	tabs, counts := tinyBags(nb, n, probs)
	k := len(probs)
	var f em.Fitter
	var u em.Uncertainty
	se := make([]float64, k)
	i := 0
	for b.Loop() {
		tab, cs := tabs[i%nb], counts[i%nb]
		res, err := f.Fit(tab, cs, k, em.Settings{})
		if err != nil {
			b.Fatal(err)
		}
		if se, err = u.WeightStdErrors(se, tab, cs, k, res.Weights); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i), "ns/bag")
}

// BenchmarkFitTinyBernoulli: bags of 100 marbles, aggregated to the two
// rows (red, count) and (not red, count), K = 2 fixed components (the
// textbook factories, p = 0.8 and 0.3).
func BenchmarkFitTinyBernoulli(b *testing.B) {
	benchTiny(b, 100, [][]float64{{0.2, 0.8}, {0.7, 0.3}})
}

// BenchmarkFitTinyCategorical: bags of 50 rows with 5 labels, aggregated
// to at most 5 (label, count) rows, K = 3 fixed components.
func BenchmarkFitTinyCategorical(b *testing.B) {
	benchTiny(b, 50, [][]float64{
		{0.5, 0.2, 0.1, 0.1, 0.1},
		{0.1, 0.1, 0.5, 0.2, 0.1},
		{0.1, 0.1, 0.1, 0.2, 0.5},
	})
}

// gaussianBag100Bags returns nb bags as the pipeline's readings benchmark
// (issue 4) fits them: 100 distinct readings each from a mixture of the
// fixed components N(20,2), N(35,3) and N(60,8) with weights drawn from a
// flat Dirichlet, as log-density tables (from em.Table).
func gaussianBag100Bags(nb int) (tabs [][]float64, comps []em.LogProber) {
	rnd := rand.New(rand.NewPCG(4, 100))
	norms := []distuv.Normal{{Mu: 20, Sigma: 2}, {Mu: 35, Sigma: 3}, {Mu: 60, Sigma: 8}}
	for _, c := range norms {
		comps = append(comps, c)
	}
	k := len(norms)
	w := make([]float64, k)
	xs := make([]float64, 100)
	for range nb {
		sum := 0.0
		for j := range w {
			w[j] = rnd.ExpFloat64() // flat Dirichlet: normalised Gamma(1)s
			sum += w[j]
		}
		for i := range xs {
			j, u := 0, rnd.Float64()*sum
			for j < k-1 && u >= w[j] {
				u -= w[j]
				j++
			}
			xs[i] = norms[j].Mu + norms[j].Sigma*rnd.NormFloat64()
		}
		tabs = append(tabs, em.Table(nil, xs, comps))
	}
	return tabs, comps
}

// BenchmarkFitGaussianBag100 fits bag after bag of gaussianBag100Bags with
// a reused Fitter and Uncertainty and the pipeline's settings (default tol,
// SQUAREM), one bag per op: Fit, then the weights' standard errors, by
// WeightStdErrors from the table, or by WeightStdErrorsFrom with the
// Fitter's densities. It reports ns/bag.
func BenchmarkFitGaussianBag100(b *testing.B) {
	const nb = 1024
	tabs, comps := gaussianBag100Bags(nb)
	k := len(comps)
	for _, from := range []bool{false, true} {
		name := "WeightStdErrors"
		if from {
			name = "WeightStdErrorsFrom"
		}
		b.Run(name, func(b *testing.B) {
			var f em.Fitter
			var u em.Uncertainty
			se := make([]float64, k)
			i := 0
			for b.Loop() {
				tab := tabs[i%nb]
				res, err := f.Fit(tab, nil, k, em.Settings{})
				if err != nil {
					b.Fatal(err)
				}
				if from {
					se, err = u.WeightStdErrorsFrom(&f, se, tab, nil, k, res.Weights)
				} else {
					se, err = u.WeightStdErrors(se, tab, nil, k, res.Weights)
				}
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i), "ns/bag")
		})
	}
}
