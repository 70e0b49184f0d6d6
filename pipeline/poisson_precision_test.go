package pipeline

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// poissonDeviance returns log f(x; λ) for x >= 1 in the deviance form
// x·log1p((λ−x)/x) − (λ−x) − ½·log(2πx) − stirlerr(x), with Stirling's
// series 1/(12x) − 1/(360x³) for stirlerr (exact to rounding for x above
// 10⁴): an independent reference with no cancellation between large
// terms. It comes from the audit that found the defect (its
// reproduction, which kept the 1/(12x) term only).
func poissonDeviance(x, l float64) float64 {
	return x*math.Log1p((l-x)/x) - (l - x) - 0.5*math.Log(2*math.Pi*x) - (1/(12*x) - 1/(360*x*x*x))
}

// TestPoissonHugeRates: with fixed Poisson rates near 1e12 (page views,
// bytes), the fitted weight must be within the README's 1e-8 of the
// maximum, and the log-likelihood exact. From an audit: gonum's
// distuv.Poisson.LogProb forms x·log(λ) − λ − lgamma(x+1), whose terms
// (~3e13) cancel to ~−15 and keep only ~1e-3 of absolute precision, so the
// difference between two components' log-densities was noise: on this
// bag mixbatch reported weight 0.297123647 (converged) where the maximum
// is 0.297213297, 9e-5 off, and a log-likelihood 2.6 off. The reference maximises the likelihood of the deviance-form
// densities above by 5000 plain EM steps.
func TestPoissonHugeRates(t *testing.T) {
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	lam := []float64{1e12, 1e12 + 3e6}
	var bag, x []int64
	for range 2000 {
		l := lam[1]
		if rng.Float64() < 0.3 {
			l = lam[0]
		}
		bag = append(bag, 1)
		x = append(x, int64(math.Round(l+math.Sqrt(l)*rng.NormFloat64())))
	}
	in := filepath.Join(root, "in")
	writeParquet(t, filepath.Join(in, "part-0.parquet"), column("bag", bag), column("x", x))
	out := filepath.Join(root, "out")
	mustRun(t, mustLoad(t, `
input: {paths: ["`+in+`"], bag: bag, value: x}
model:
  family: poisson
  components: [{name: a, rate: 1000000000000}, {name: b, rate: 1000003000000}]
output: {dir: "`+out+`"}
`), Options{})
	w := readTable(t, out, WeightsTable)
	got := w.cols["weight"][0].(float64)
	gotLL := readTable(t, out, FitsTable).cols["log_likelihood"][0].(float64)

	mixLL := func(w float64) float64 {
		s := 0.0
		for _, xi := range x {
			a, b := math.Log(w)+poissonDeviance(float64(xi), lam[0]), math.Log(1-w)+poissonDeviance(float64(xi), lam[1])
			m := max(a, b)
			s += m + math.Log(math.Exp(a-m)+math.Exp(b-m))
		}
		return s
	}
	want := 0.5
	for range 5000 {
		s := 0.0
		for _, xi := range x {
			a, b := math.Log(want)+poissonDeviance(float64(xi), lam[0]), math.Log(1-want)+poissonDeviance(float64(xi), lam[1])
			m := max(a, b)
			s += math.Exp(a-m) / (math.Exp(a-m) + math.Exp(b-m))
		}
		want = s / float64(len(x))
	}
	t.Logf("weight %.12f, reference %.12f (off by %.2g)", got, want, got-want)
	if math.Abs(got-want) > 1e-8 {
		t.Errorf("weight of component a = %.12f, want %.12f (off by %.2g; the README promises 1e-8)", got, want, got-want)
	}
	// The log-likelihood at the reported weight: about -3.1e4, the sum of
	// 2000 terms each exact to ~1e-15 relative.
	ref := mixLL(got)
	t.Logf("log_likelihood %.10f, reference %.10f (off by %.2g)", gotLL, ref, gotLL-ref)
	if math.Abs(gotLL-ref) > 1e-12*math.Abs(ref) {
		t.Errorf("log_likelihood = %.10f, want %.10f (off by %.2g)", gotLL, ref, gotLL-ref)
	}
}

// TestPoissonHugeRatesLogLikelihood: one bag of the values 1e12, 1e12+1
// and 1e12+2, with count 1e6 each, fitted with one fixed component of rate
// 1e12 and with the rate learned (the maximum is the mean, 1e12+1). Both
// fits' log_likelihood must match R's. Before the fix the fixed fit gave
// -44,199,218.75 (4,128 off) and the learned one -44,204,032 (685 off).
//
// The references are R 4.2.2's dpois (Loader's algorithm, exact here to a
// few ulps):
//
//	Rscript -e 'x <- 1e12 + 0:2; for (l in c(1e12, 1e12+1)) cat(sprintf("%.17g\n", sum(1e6*dpois(x, l, log=TRUE))))'
//
// Tolerance 1e-13 relative (4.4e-6): three terms of ~1.5e7 each.
func TestPoissonHugeRatesLogLikelihood(t *testing.T) {
	root := t.TempDir()
	in := filepath.Join(root, "in")
	writeParquet(t, filepath.Join(in, "part-0.parquet"),
		column("bag", []int64{1, 1, 1}),
		column("x", []int64{1e12, 1e12 + 1, 1e12 + 2}),
		column("n", []int64{1e6, 1e6, 1e6}))
	for _, tc := range []struct {
		name, model string
		want        float64
	}{
		{"fixed", `{family: poisson, components: [{name: a, rate: 1000000000000}]}`, -44203347.273511089},
		{"learned", `{family: poisson, learn: [weights, rate], components: [{name: a}]}`, -44203347.273509592},
	} {
		out := filepath.Join(root, tc.name)
		mustRun(t, mustLoad(t, `
input: {paths: ["`+in+`"], bag: bag, value: x, count: n}
model: `+tc.model+`
output: {dir: "`+out+`"}
`), Options{})
		got := readTable(t, out, FitsTable).cols["log_likelihood"][0].(float64)
		t.Logf("%s: log_likelihood %.6f, R %.6f (off by %.3g)", tc.name, got, tc.want, got-tc.want)
		if math.Abs(got-tc.want) > 1e-13*math.Abs(tc.want) {
			t.Errorf("%s: log_likelihood = %.6f, want %.6f (R; off by %.3g)", tc.name, got, tc.want, got-tc.want)
		}
	}
}
