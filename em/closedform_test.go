package em_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/em"
)

// bernoulliBag is a random two-factory bag for the closed-form property test.
type bernoulliBag struct {
	p1, p2 float64 // success probabilities of the two components
	n1, n0 int     // numbers of successes and failures
}

// randomBernoulliBags draws the bags of TestBernoulliClosedForm: sizes from 1
// to 5000 (a tenth of them of size 1..5, a twentieth of size 5000), true
// weights of exactly 0 and 1 for two fifths of them, and success
// probabilities with |p1-p2| >= 0.1, the fixed pair 0.8/0.3 for a seventh.
func randomBernoulliBags(rnd *rand.Rand, count int) []bernoulliBag {
	bags := make([]bernoulliBag, count)
	for i := range bags {
		var n int
		switch {
		case i%10 == 0:
			n = 1 + rnd.IntN(5)
		case i%20 == 1:
			n = 5000
		default:
			n = 1 + rnd.IntN(5000)
		}
		var w float64
		switch i % 5 {
		case 0:
			w = 0
		case 1:
			w = 1
		default:
			w = rnd.Float64()
		}
		p1, p2 := 0.8, 0.3
		if i%7 != 0 {
			for {
				p1, p2 = 0.01+0.98*rnd.Float64(), 0.01+0.98*rnd.Float64()
				if math.Abs(p1-p2) >= 0.1 {
					break
				}
			}
		}
		q := w*p1 + (1-w)*p2
		b := bernoulliBag{p1: p1, p2: p2}
		for j := 0; j < n; j++ {
			if rnd.Float64() < q {
				b.n1++
			} else {
				b.n0++
			}
		}
		bags[i] = b
	}
	return bags
}

// TestBernoulliClosedForm checks Fit against the closed-form maximum of a
// two-component Bernoulli mixture (see bernoulliMLE) on 1200 random bags,
// given as (value, count) pairs and, for every tenth bag, as shuffled rows.
func TestBernoulliClosedForm(t *testing.T) {
	rnd := rand.New(rand.NewPCG(20240601, 1))
	bags := randomBernoulliBags(rnd, 1200)
	var f em.Fitter
	var tab []float64
	var failures int
	for i, b := range bags {
		comps := []em.LogProber{distuv.Bernoulli{P: b.p1}, distuv.Bernoulli{P: b.p2}}
		tab = em.Table(tab, []float64{1, 0}, comps)
		n1, n0 := float64(b.n1), float64(b.n0)
		res := fitOK(t, &f, "aggregated", tab, []float64{n1, n0}, 2, em.Settings{})
		checkSimplex(t, "aggregated", res.Weights)

		// Closed form; tolerance 1e-8 from the package promise.
		want := bernoulliMLE(n1, n0, b.p1, b.p2)
		// Log-likelihood at the closed form; tolerance: see equalLogLik.
		wantLL := bernoulliLogLik(n1, n0, b.p1, b.p2, want)
		bad := false
		if !res.Converged {
			t.Errorf("bag %d (p %.4g/%.4g, %d/%d): not converged after %d iterations (gap %.3g)",
				i, b.p1, b.p2, b.n1, b.n1+b.n0, res.Iterations, res.Gap)
			bad = true
		}
		if d := math.Abs(res.Weights[0] - want); d > 1e-8 {
			t.Errorf("bag %d (p %.4g/%.4g, %d/%d): w1 = %.15g, closed form %.15g (off by %.3g)",
				i, b.p1, b.p2, b.n1, b.n1+b.n0, res.Weights[0], want, d)
			bad = true
		}
		if !equalLogLik(res.LogLikelihood, wantLL, n1+n0) {
			t.Errorf("bag %d: LogLikelihood = %.15g, closed form %.15g", i, res.LogLikelihood, wantLL)
			bad = true
		}
		// Gap's certificate: the maximum is at most N log1p(Gap) above
		// LogLikelihood (slack 1e-12 relative for rounding).
		if bound := (n1 + n0) * math.Log1p(math.Max(res.Gap, 0)); wantLL-res.LogLikelihood > bound+1e-12*math.Abs(wantLL) {
			t.Errorf("bag %d: closed-form log-likelihood is %.3g above Fit's, more than N log1p(Gap) = %.3g",
				i, wantLL-res.LogLikelihood, bound)
			bad = true
		}
		if bad {
			failures++
			if failures > 20 {
				t.Fatalf("too many failures; stopping at bag %d of %d", i, len(bags))
			}
		}

		if i%10 != 0 {
			continue
		}
		// The same bag as individual rows, in random order.
		xs := candyBag(b.n1, b.n0)
		rnd.Shuffle(len(xs), func(a, b int) { xs[a], xs[b] = xs[b], xs[a] })
		rows := em.Table(nil, xs, comps)
		exp := fitOK(t, &f, "expanded", rows, nil, 2, em.Settings{})
		if !exp.Converged {
			t.Errorf("bag %d as rows: not converged after %d iterations", i, exp.Iterations)
		}
		if d := math.Abs(exp.Weights[0] - want); d > 1e-8 {
			t.Errorf("bag %d as rows: w1 = %.15g, closed form %.15g (off by %.3g)", i, exp.Weights[0], want, d)
		}
		if !equalLogLik(exp.LogLikelihood, wantLL, n1+n0) {
			t.Errorf("bag %d as rows: LogLikelihood = %.15g, closed form %.15g", i, exp.LogLikelihood, wantLL)
		}
		// Rows and counts agree to rounding for a fixed number of EM steps.
		// (The converged results agree only to about Tol: rounding-level
		// differences in the gradient can move the stopping decision by an
		// iteration.)
		s := em.Settings{MaxIter: 5, Accelerate: em.None}
		short := fitOK(t, &f, "aggregated", tab, []float64{n1, n0}, 2, s)
		shortExp := fitOK(t, &f, "expanded", rows, nil, 2, s)
		for k := range short.Weights {
			if !scalar.EqualWithinAbsOrRel(shortExp.Weights[k], short.Weights[k], 1e-12, 1e-12) {
				t.Errorf("bag %d after 5 EM steps: weight %d is %.17g from rows, %.17g from counts", i, k, shortExp.Weights[k], short.Weights[k])
			}
		}
		if !scalar.EqualWithinRel(shortExp.LogLikelihood, short.LogLikelihood, 1e-12) {
			t.Errorf("bag %d after 5 EM steps: LogLikelihood is %.17g from rows, %.17g from counts", i, shortExp.LogLikelihood, short.LogLikelihood)
		}
	}
}

// equalLogLik reports whether the log-likelihood got of a bag of n
// observations matches want within 1e-9 relative, with n*1e-9 as the floor
// for bags whose log-likelihood is near zero (at convergence the package's
// stopping rule bounds the shortfall by about n*Tol = n*1e-10).
func equalLogLik(got, want, n float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(math.Abs(want), n)
}
