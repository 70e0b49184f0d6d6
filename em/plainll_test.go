package em_test

import (
	"math"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// plainRefLL is sum_i c_i log sum_j w_j e^{logLik_ij}, computed directly
// (every term's logarithm taken on its own, with math.Exp and math.Log),
// independent of Fit's scaling and of its running product of densities.
func plainRefLL(logLik, counts, w []float64) float64 {
	k := len(w)
	ll := 0.0
	for i, c := range counts {
		p := 0.0
		for j, v := range logLik[i*k : i*k+k] {
			p += w[j] * math.Exp(v)
		}
		ll += c * math.Log(p)
	}
	return ll
}

// TestPlainLogLikTinyDensities: plain EM reports the log-likelihood at its
// last point through a running product of the densities of rows with
// count 1, folded into a sum of logarithms before it underflows. These
// bags make that product meet densities just above 1e-20 (the smallest it
// multiplies) when it is near 1e-300, where a product folded too late
// (below 1e-300 rather than 1e-260) becomes subnormal: it loses up to
// 2.5e-4 of its value, and Go's math.Log on amd64 does not handle
// subnormals (golang/go#56600: it returns -709.09 for 1e-320, not
// -736.83), so the mutated threshold reports a log-likelihood 83.2 too
// high here (three such products).
//
// The bags: component 0 is the one with weight (starting weights 1 and
// 1e-200, Settings.Init); each row's density under it is 1 + 1e-7 times
// 1e-20 of its density under component 1, except the first row, which
// only component 0 explains. "converged": that row's count is
// 1e22, so the start is already EM's fixed point (the gradient's share
// of component 1 is 48·1e20/1e22 - 1 < 0 at a weight below Tol) and
// the log-likelihood is that of Init. "one step": counts of 1 and
// MaxIter 1, one EM step, which raises component 1's weight only to
// about 1e-180.
//
// Expectation: plainRefLL at the returned weights, within 1e-12 of its
// size (each term's density is exact to a few ulp, 1e-15 relative, so 48
// terms of about -46 are within 1e-12 of |ll|).
func TestPlainLogLikTinyDensities(t *testing.T) {
	const rows = 48 // three products of 16 densities of 1e-20
	delta := math.Log(1.0000001e-20)
	for _, tc := range []struct {
		name    string
		first   float64
		maxIter int
	}{{"converged", 1e22, 0}, {"one step", 1, 1}} {
		logLik := []float64{0, math.Inf(-1)} // only component 0 explains row 0
		counts := []float64{tc.first}
		for range rows {
			logLik = append(logLik, delta, 0)
			counts = append(counts, 1)
		}
		res, err := em.Fit(logLik, counts, 2, em.Settings{
			Init: []float64{1, 1e-200}, Accelerate: em.None, MaxIter: tc.maxIter,
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !(res.Weights[1] < 1e-150) {
			t.Fatalf("%s: weights %v: component 1 gained weight, the bag no longer tests tiny densities", tc.name, res.Weights)
		}
		want := plainRefLL(logLik, counts, res.Weights)
		if d := res.LogLikelihood - want; !(math.Abs(d) <= 1e-12*math.Abs(want)) {
			t.Errorf("%s: log-likelihood %.17g, direct sum %.17g (%+.3g)", tc.name, res.LogLikelihood, want, d)
		}
		if tc.maxIter == 0 && (!res.Converged || res.Iterations != 0) {
			t.Errorf("%s: converged %v after %d iterations, want the start certified", tc.name, res.Converged, res.Iterations)
		}
	}
}
