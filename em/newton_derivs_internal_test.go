package em

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestNewtonDerivativesFiniteDifference checks the gradient and Hessian
// that Learn's Newton phases work with (newtonDerivatives for Gaussian
// components, scalarDerivatives for Poisson and Bernoulli ones) against
// central finite differences of a log-likelihood written out here, in the
// same coordinates (log-weight ratios to the reference component, means,
// log sds, log rates, logit p), at random points of random seeded bags. The
// points are not maxima, so every term of the Hessian matters (at a
// maximum some cancel: Σ r z = 0, for one).
//
// Tolerances: the gradient is compared with (l(v+h) - l(v-h))/2h, h =
// 1e-5, whose truncation error is h²/6 times the third derivative (below 1e-8·N here) and whose
// rounding is about ε|l|/h (1e-8·N); the Hessian with the four-point
// second difference at h = 1e-4, truncation h²/6 times the fourth derivative and rounding
// ε|l|/h² (together measured at most 3e-7·(N + |value|) on these bags of
// total count N <= 900). Both are checked to 1e-5·(N + |value|): a wrong
// term of the Hessian (a dropped variance term, a factor 3 read as 2) is
// of order 0.1·N or more at these points.
func TestNewtonDerivativesFiniteDifference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(20, 26))
	cases := 60
	if testing.Short() {
		cases = 15
	}
	for c := range cases {
		var m Model
		k := 2 + rnd.IntN(2)
		switch c % 5 {
		case 0, 1:
			m = Model{Family: Gaussian, K: k, Learn: LearnWeights | LearnMean | LearnSD}
		case 2:
			m = Model{Family: Gaussian, K: k, Learn: LearnMean | LearnSD}
		case 3:
			m = Model{Family: Poisson, K: k, Learn: LearnWeights | LearnRate}
		default:
			ps := make([]float64, k)
			for j := range ps {
				ps[j] = 0.1 + 0.8*rnd.Float64()
			}
			m = Model{Family: Bernoulli, K: k, Learn: LearnWeights, Init: Params{P: ps}}
		}
		name := fmt.Sprintf("case %d (%v K=%d %v)", c, m.Family, k, m.Learn)
		checkNewtonDerivatives(t, name, m, rnd)
	}
}

func checkNewtonDerivatives(t *testing.T, name string, m Model, rnd *rand.Rand) {
	t.Helper()
	k := m.K
	n := 50 + rnd.IntN(250)
	xs := make([]float64, n)
	counts := make([]float64, n)
	for i := range xs {
		switch m.Family {
		case Gaussian:
			xs[i] = float64(rnd.IntN(3))*2 + rnd.NormFloat64()
		case Poisson:
			xs[i] = float64(poissonDraw(rnd, []float64{1, 4, 9}[rnd.IntN(3)]))
		default:
			xs[i] = float64(rnd.IntN(2))
		}
		counts[i] = float64(1 + rnd.IntN(3))
	}
	l, err := NewLearner(m)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := l.load(Bag{X: xs, Counts: counts}, true); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	// A random point, not a maximum.
	var th Params
	th.Weights = make([]float64, k)
	sum := 0.0
	for j := range th.Weights {
		th.Weights[j] = 0.2 + rnd.Float64()
		sum += th.Weights[j]
	}
	for j := range th.Weights {
		th.Weights[j] /= sum
	}
	switch m.Family {
	case Gaussian:
		th.Mean, th.SD = make([]float64, k), make([]float64, k)
		for j := range k {
			th.Mean[j] = -1 + 6*rnd.Float64()
			th.SD[j] = 0.5 + 1.5*rnd.Float64()
		}
	case Poisson:
		th.Rate = make([]float64, k)
		for j := range k {
			th.Rate[j] = 0.5 + 10*rnd.Float64()
		}
	default:
		th.P = append([]float64(nil), m.Init.P...)
	}

	nw := &l.newton
	var ref int
	if m.Family == Gaussian {
		ref, _ = l.newtonFree(&th)
		for _, b := range []*[]float64{&nw.r0, &nw.r1, &nw.r2, &nw.r3, &nw.r4, &nw.z, &nw.rr, &nw.lw} {
			*b = grow(*b, k)
		}
		l.newtonDerivatives(&th)
	} else {
		for _, b := range []*[]float64{&nw.z, &nw.rr, &nw.lw, &nw.r0, &nw.lr, &nw.lw0} {
			*b = grow(*b, k)
		}
		ref = l.scalarFree(&th)
		l.scalarDerivatives(&th)
	}
	p := len(nw.idx)
	if p == 0 {
		t.Fatalf("%s: no free coordinates", name)
	}
	g := append([]float64(nil), nw.g...)
	h := append([]float64(nil), nw.h[:p*p]...)

	// The point at coordinates v (offsets from th), formed here.
	at := func(v []float64) Params {
		q := th.Clone()
		beta := make([]float64, k)
		for j := range k {
			beta[j] = math.Log(th.Weights[j] / th.Weights[ref])
		}
		for a, co := range nw.idx {
			j := co % k
			switch co / k {
			case coordBeta:
				beta[j] += v[a]
			case coordMean:
				switch m.Family {
				case Gaussian:
					q.Mean[j] += v[a]
				case Poisson:
					q.Rate[j] *= math.Exp(v[a])
				default:
					eta := math.Log(th.P[j]/(1-th.P[j])) + v[a]
					q.P[j] = 1 / (1 + math.Exp(-eta))
				}
			case coordLogSD:
				q.SD[j] *= math.Exp(v[a])
			}
		}
		s := 0.0
		for j := range k {
			q.Weights[j] = math.Exp(beta[j])
			s += q.Weights[j]
		}
		for j := range k {
			q.Weights[j] /= s
		}
		return q
	}
	ll := func(v []float64) float64 {
		q := at(v)
		s := 0.0
		for i, x := range xs {
			d := 0.0
			for j := range k {
				var f float64
				switch m.Family {
				case Gaussian:
					z := (x - q.Mean[j]) / q.SD[j]
					f = math.Exp(-0.5*z*z) / (q.SD[j] * math.Sqrt(2*math.Pi))
				case Poisson:
					lg, _ := math.Lgamma(x + 1)
					f = math.Exp(x*math.Log(q.Rate[j]) - q.Rate[j] - lg)
				default:
					f = q.P[j]
					if x == 0 {
						f = 1 - q.P[j]
					}
				}
				d += q.Weights[j] * f
			}
			s += counts[i] * math.Log(d)
		}
		return s
	}
	total := 0.0
	for _, c := range counts {
		total += c
	}
	v := make([]float64, p)
	shift := func(a int, da float64, b int, db float64) float64 {
		clear(v)
		v[a] += da
		v[b] += db
		return ll(v)
	}
	tol := func(x float64) float64 { return 1e-5 * (total + math.Abs(x)) }
	const hg, hh = 1e-5, 1e-4
	for a := range p {
		fd := (shift(a, hg, a, 0) - shift(a, -hg, a, 0)) / (2 * hg)
		if math.Abs(g[a]-fd) > tol(fd) {
			t.Errorf("%s: gradient[%d] (coordinate %d) = %.10g, finite difference %.10g", name, a, nw.idx[a], g[a], fd)
		}
		for b := a; b < p; b++ {
			fd := (shift(a, hh, b, hh) - shift(a, hh, b, -hh) - shift(a, -hh, b, hh) + shift(a, -hh, b, -hh)) / (4 * hh * hh)
			if got := h[a*p+b]; math.Abs(got-fd) > tol(fd) {
				t.Errorf("%s: Hessian[%d,%d] (coordinates %d, %d) = %.10g, finite difference %.10g", name, a, b, nw.idx[a], nw.idx[b], got, fd)
			}
			if h[a*p+b] != h[b*p+a] {
				t.Errorf("%s: Hessian not symmetric at [%d,%d]", name, a, b)
			}
		}
	}
}

// poissonDraw draws a Poisson variate by inversion (small rates only).
func poissonDraw(rnd *rand.Rand, lambda float64) int {
	u := rnd.Float64()
	p := math.Exp(-lambda)
	cdf := p
	x := 0
	for u > cdf && x < 1000 {
		x++
		p *= lambda / float64(x)
		cdf += p
	}
	return x
}
