package em_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// floorHalfULP is half the spacing of the float64 values at |x|.
func floorHalfULP(x float64) float64 {
	x = math.Abs(x)
	return 0.5 * (math.Nextafter(x, math.Inf(1)) - x)
}

// floorAllowance is the floating-point allowance of a learned univariate
// Gaussian fit p of N observations (see roundingFloor in learnnewton.go):
// 2·½(Σ_j halfULP(μ_j)·√(N w_j)/σ_j)², the gain a point whose means are
// rounded to representable values may leave, twice over, with the mean's
// curvature bounded by the complete-data information N w_j/σ_j² (the
// observed one, which the code uses, is at most that). The sds' and the
// weights' rounding (relative 2^-53) adds about N·2^-104: nothing.
func floorAllowance(p em.Params, n float64) float64 {
	s := 0.0
	for j, w := range p.Weights {
		if w > 0 {
			s += floorHalfULP(p.Mean[j]) * math.Sqrt(n*w) / p.SD[j]
		}
	}
	return s * s
}

// TestLearnLocationFloor: learned univariate Gaussian fits of values far
// from 0 relative to their spread, y = a·x + b with the ratio |b|/(a·sd)
// from 2^20 (1e6) to 2^44 (1.8e13), where a mean is representable only to
// halfULP(b), up to 2e-3 of a sd, and Newton's certificate without its
// floating-point floor never held (the fits ran to their Newton phases'
// failures, Converged false). Every fit must be Converged, with its
// log-likelihood within the allowance below of an independent reference:
//
//   - K = 1: the closed-form maximum, computed in centered coordinates:
//     the MLE is the weighted mean and sd of the values, and with
//     y - b = a·x exact (x on a grid of 2^-8, a a power of 2, b a multiple
//     of a·2^-8 below 2^52·a·2^-8) the mean m and variance v of a·x are
//     accurate to rounding, ll* = -N/2·(log(2π v) + 1).
//   - K = 2, 3 (clusters 12 to 20 sds apart, so that the maximum is
//     unique): Learn's fit of the same bag with b subtracted exactly (a·x,
//     means near 0, no representation limit; same seed, same RegCovar),
//     itself Converged. A shift leaves the log-likelihood unchanged (no
//     change-of-variables term).
//
// Tolerance: ll_ref - ll at most Tol·|ll| (the certificate, for each of
// the two fits: 2·Tol·|ll| for K > 1) plus floorAllowance of the fit (the
// floating-point floor of the certificate: the gain left by rounding the
// means to representable values, twice the bound of the best
// representable point's) plus 1e-13·|ll| for the log-likelihoods'
// rounding; and ll at most 1e-13·|ll| above ll_ref (no point beats the
// maximum but by rounding). The means must map back, (μ - b) against the
// reference's, within 1e-4 sd plus 2·halfULP(b) (a mean at 2^44 sds is
// representable only to 2e-3 sd); the sds within 1e-4 relative.
func TestLearnLocationFloor(t *testing.T) {
	rnd := rand.New(rand.NewPCG(2024, 7))
	const grid = 0x1p-8
	failed := 0
	for it := range 36 {
		k := 1 + it%3
		e := 20 + rnd.IntN(25)              // |b|/(a·sd) about 2^e
		a := math.Ldexp(1, rnd.IntN(41)-20) // 2^-20 .. 2^20
		b := math.Ldexp(1+float64(rnd.IntN(16))/16, e) * a
		if rnd.IntN(2) == 0 {
			b = -b
		}
		n := 40 + rnd.IntN(120)
		var x, c []float64
		for i := range n {
			j := i % k
			sd := 0.7 + 0.6*rnd.Float64()
			v := 16*float64(j) + sd*rnd.NormFloat64()
			x = append(x, math.Round(v/grid)*grid)
			c = append(c, []float64{1, 2, 0.5 + 2*rnd.Float64()}[rnd.IntN(3)])
		}
		ax := make([]float64, n) // the values centered: a·x, exact
		y := make([]float64, n)
		for i, v := range x {
			ax[i] = a * v
			y[i] = ax[i] + b
			if y[i]-b != ax[i] {
				t.Fatalf("case %d: a·x + b is not exact", it)
			}
		}
		m := em.Model{Family: em.Gaussian, K: k, Learn: em.LearnWeights | em.LearnMean | em.LearnSD, RegCovar: 1e-6 * a * a}
		name := fmt.Sprintf("case %d: K=%d a=2^%d |b|/a=2^%d", it, k, math.Ilogb(a), math.Ilogb(math.Abs(b)/a))
		got, err := em.Learn(em.Bag{X: y, Counts: c}, m, em.LearnSettings{Seed: uint64(it)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		N := 0.0
		for _, v := range c {
			N += v
		}
		var refLL float64
		var refMean, refSD []float64
		tol := em.DefaultTol
		if k == 1 {
			s := 0.0
			for i, v := range ax {
				s += c[i] * v
			}
			mu := s / N
			s2 := 0.0
			for i, v := range ax {
				s2 += c[i] * (v - mu) * (v - mu)
			}
			v := s2 / N
			refLL = -N / 2 * (math.Log(2*math.Pi*v) + 1)
			refMean, refSD = []float64{mu}, []float64{math.Sqrt(v)}
		} else {
			ref, err := em.Learn(em.Bag{X: ax, Counts: c}, m, em.LearnSettings{Seed: uint64(it)})
			if err != nil {
				t.Fatalf("%s, centered: %v", name, err)
			}
			if !ref.Converged {
				t.Fatalf("%s: the centered reference fit is not converged", name)
			}
			refLL, refMean, refSD = ref.LogLikelihood, ref.Params.Mean, ref.Params.SD
			tol *= 2
		}
		allow := floorAllowance(got.Params, N)
		ll := got.LogLikelihood
		below := refLL - ll
		ok := got.Converged && below <= tol*math.Abs(ll)+allow+1e-13*math.Abs(ll) && -below <= 1e-13*math.Abs(ll)
		for j := range refMean {
			sd := refSD[j]
			if !(math.Abs(got.Params.Mean[j]-b-refMean[j]) <= 1e-4*sd+2*floorHalfULP(b)) || !(math.Abs(got.Params.SD[j]-sd) <= 1e-4*sd) {
				ok = false
			}
		}
		if !ok {
			failed++
			t.Errorf("%s: converged %v after %d E-steps, ll %.15g, reference %.15g: %.3g below (allowed %.3g + %.3g); means - b %v, reference %v; sds %v, reference %v",
				name, got.Converged, got.Iterations, ll, refLL, below, tol*math.Abs(ll), allow,
				shifted(got.Params.Mean, b), refMean, got.Params.SD, refSD)
		}
	}
	if failed > 0 {
		t.Logf("%d of 36 cases failed", failed)
	}
}

// shifted returns v with b subtracted from each element.
func shifted(v []float64, b float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x - b
	}
	return out
}
