package em_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// a bag given as (value, count) pairs and the same bag as expanded
// rows are one likelihood, so Fit, WeightStdErrors and StdErrors must agree
// on them: weights within 2e-8 (each within 1e-8 of the one maximum),
// log-likelihood and gap within rounding, standard errors within 1e-9
// relative (the observed information is the same sum, added in another
// order). Multiplying every count by s scales the log-likelihood by s and
// the standard errors by 1/sqrt(s) and leaves the weights alone (the
// information is per unit count times N). Random Poisson and Gaussian bags,
// fixed components K = 2..5, and learned Gaussian parameters.
func TestAggregatedVsExpanded(t *testing.T) {
	rnd := rand.New(rand.NewPCG(41, 43))
	var f em.Fitter
	var u em.Uncertainty
	for b := 0; b < 40; b++ {
		k := 2 + b%4
		rates := make([]float64, k)
		for j := range rates {
			rates[j] = 0.5 + 3*float64(j) + rnd.Float64()
		}
		comps := poissons(rates...)
		var xs, cs, rows []float64
		for x := 0.0; x < 20; x++ {
			c := float64(rnd.IntN(6))
			if c == 0 {
				continue
			}
			xs = append(xs, x)
			cs = append(cs, c)
			for range int(c) {
				rows = append(rows, x)
			}
		}
		// Rows in another order than the pairs.
		rnd.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		name := fmt.Sprintf("poisson bag %d (K=%d)", b, k)
		agg := em.Table(nil, xs, comps)
		exp := em.Table(nil, rows, comps)
		ra := fitOK(t, &f, name+" pairs", agg, cs, k, em.Settings{})
		sa, err := u.WeightStdErrors(nil, agg, cs, k, ra.Weights)
		if err != nil {
			t.Fatal(err)
		}
		re := fitOK(t, &f, name+" rows", exp, nil, k, em.Settings{})
		se, err := u.WeightStdErrors(nil, exp, nil, k, re.Weights)
		if err != nil {
			t.Fatal(err)
		}
		const scale = 1e6
		big := make([]float64, len(cs))
		for i, c := range cs {
			big[i] = c * scale
		}
		rs := fitOK(t, &f, name+" scaled", agg, big, k, em.Settings{})
		ss, err := u.WeightStdErrors(nil, agg, big, k, rs.Weights)
		if err != nil {
			t.Fatal(err)
		}
		for j := range k {
			if math.Abs(ra.Weights[j]-re.Weights[j]) > 2e-8 || math.Abs(ra.Weights[j]-rs.Weights[j]) > 2e-8 {
				t.Errorf("%s: weight %d: pairs %.12g, rows %.12g, counts×%g %.12g", name, j, ra.Weights[j], re.Weights[j], scale, rs.Weights[j])
			}
			seSame(t, fmt.Sprintf("%s: std error %d (rows)", name, j), se[j], sa[j])
			seSame(t, fmt.Sprintf("%s: std error %d (counts×%g)", name, j, scale), ss[j]*math.Sqrt(scale), sa[j])
		}
		if d := math.Abs(ra.LogLikelihood - re.LogLikelihood); d > 1e-10*math.Abs(ra.LogLikelihood) {
			t.Errorf("%s: log-likelihood pairs %.17g, rows %.17g", name, ra.LogLikelihood, re.LogLikelihood)
		}
		if d := math.Abs(rs.LogLikelihood - scale*ra.LogLikelihood); d > 1e-10*math.Abs(rs.LogLikelihood) {
			t.Errorf("%s: log-likelihood with counts×%g is %.17g, not %g times %.17g", name, scale, rs.LogLikelihood, scale, ra.LogLikelihood)
		}
	}
	// Learned Gaussian parameters: StdErrors on pairs and on rows.
	xs := []float64{-2.1, -1.3, -0.4, 0.2, 1.1, 1.9, 2.6, 3.3, 4.2}
	cs := []float64{3, 7, 4, 2, 5, 8, 6, 3, 1}
	var rows []float64
	for i, c := range cs {
		for range int(c) {
			rows = append(rows, xs[i])
		}
	}
	m := em.Model{Family: em.Gaussian, K: 2, Learn: em.LearnWeights | em.LearnMean | em.LearnSD}
	res, err := em.Learn(em.Bag{X: xs, Counts: cs}, m, em.LearnSettings{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	tt := []bool{true, true}
	comps := em.ScalarComponents{Mean: res.Params.Mean, SD: res.Params.SD, LearnedMean: tt, LearnedSD: tt}
	pa, err := u.StdErrors(em.Gaussian, xs, cs, res.Params.Weights, comps)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := u.StdErrors(em.Gaussian, rows, nil, res.Params.Weights, comps)
	if err != nil {
		t.Fatal(err)
	}
	for j := range 2 {
		seSame(t, fmt.Sprintf("learned gaussian weight %d", j), pr.Weights[j], pa.Weights[j])
		seSame(t, fmt.Sprintf("learned gaussian mean %d", j), pr.Mean[j], pa.Mean[j])
		seSame(t, fmt.Sprintf("learned gaussian sd %d", j), pr.SD[j], pa.SD[j])
	}
	resRows, err := em.Learn(em.Bag{X: rows}, m, em.LearnSettings{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if resRows.LogLikelihood != res.LogLikelihood {
		t.Errorf("learned gaussian: log-likelihood pairs %.17g, rows %.17g (rows are merged first: should be bit-identical)",
			res.LogLikelihood, resRows.LogLikelihood)
	}
}

// seSame checks two standard errors for equality within 1e-9 relative,
// NaN matching NaN and +Inf matching +Inf.
func seSame(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.IsNaN(want) || math.IsInf(want, 0) {
		if !(math.IsNaN(got) && math.IsNaN(want)) && got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
		return
	}
	if !(math.Abs(got-want) <= 1e-9*math.Abs(want)) {
		t.Errorf("%s: %.17g, want %.17g", name, got, want)
	}
}
