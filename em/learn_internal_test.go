package em

import (
	"math"
	"math/rand/v2"
	"testing"
)

// expNeg is within 2 ulp of math.Exp on [-745, 0], and equal to it at the
// ends of its range.
func TestExpNeg(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range 1000000 {
		x := -rnd.Float64() * 745
		if i%2 == 0 {
			x = -rnd.Float64() * 3
		}
		got, want := expNeg(x), math.Exp(x)
		ulp := math.Nextafter(want, math.Inf(1)) - want
		if math.Abs(got-want) > 2*ulp {
			t.Fatalf("expNeg(%v) = %v, math.Exp %v", x, got, want)
		}
	}
	for _, x := range []float64{0, math.Copysign(0, -1), -700, -745.2, math.Inf(-1)} {
		if got, want := expNeg(x), math.Exp(x); got != want {
			t.Errorf("expNeg(%v) = %v, want %v", x, got, want)
		}
	}
}

// expNegs is expNeg written out: the same bits for every x <= 0, the ends
// of its range included, and into dst's storage when it is large enough.
func TestExpNegs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	xs := []float64{0, math.Copysign(0, -1), -700, -700.5, -745.2, -746, math.Inf(-1), -1e-300}
	for range 100000 {
		x := -rnd.Float64() * 760
		if rnd.IntN(2) == 0 {
			x = -rnd.ExpFloat64()
		}
		xs = append(xs, x)
	}
	dst := make([]float64, len(xs)+5)
	got := expNegs(dst, xs)
	if &got[0] != &dst[0] || len(got) != len(xs) {
		t.Fatalf("expNegs returned a new slice or length %d, want dst's storage and %d", len(got), len(xs))
	}
	if short := expNegs(dst[:3:3], xs); len(short) != len(xs) || short[len(xs)-1] != got[len(xs)-1] {
		t.Fatalf("expNegs into a short dst: length %d, want %d", len(short), len(xs))
	}
	for i, x := range xs {
		if want := expNeg(x); math.Float64bits(got[i]) != math.Float64bits(want) {
			t.Fatalf("expNegs(%v) = %v, expNeg %v", x, got[i], want)
		}
	}
}

// At the end of a Newton-finished fit the gradient of the log-likelihood
// (by an independent central difference in the means and log sds) is
// zero to the accuracy the stopping rule allows.
func TestNewtonStationary(t *testing.T) {
	g := rand.New(rand.NewPCG(8, 8))
	xs := make([]float64, 800)
	for i := range xs {
		// Heavily overlapping components: a ridge where EM crawls.
		xs[i] = g.NormFloat64() * []float64{1, 1.4, 0.6}[i%3]
		xs[i] += []float64{0, 0.8, 1.5}[i%3]
	}
	for _, m := range []Model{
		{Family: Gaussian, K: 3, Learn: LearnWeights | LearnMean | LearnSD},
		{Family: Gaussian, K: 3, Learn: LearnMean | LearnSD, Init: Params{Weights: []float64{0.2, 0.3, 0.5}}},
		{Family: Gaussian, K: 3, Learn: LearnWeights | LearnSD, Init: Params{Mean: []float64{0, 0.8, 1.5}}},
	} {
		testStationary(t, xs, m)
	}
}

func testStationary(t *testing.T, xs []float64, m Model) {
	l, err := NewLearner(m)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Learn(Bag{X: xs}, LearnSettings{Seed: 5})
	if err != nil || !r.Converged {
		t.Fatalf("%+v %v", r, err)
	}
	ll := func(p Params) float64 {
		s := 0.0
		for _, x := range xs {
			d := 0.0
			for j := range 3 {
				z := (x - p.Mean[j]) / p.SD[j]
				d += p.Weights[j] * math.Exp(-0.5*z*z) / (p.SD[j] * math.Sqrt(2*math.Pi))
			}
			s += math.Log(d)
		}
		return s
	}
	t.Logf("%v: %d E-steps, ll %.10f", m.Learn, r.Iterations, r.LogLikelihood)
	const h = 1e-5
	for j := range 3 {
		for _, sd := range []bool{false, true} {
			if !m.Learn.Has(LearnMean) && !sd {
				continue
			}
			up, down := r.Params.Clone(), r.Params.Clone()
			if sd {
				up.SD[j] *= math.Exp(h)
				down.SD[j] *= math.Exp(-h)
			} else {
				up.Mean[j] += h
				down.Mean[j] -= h
			}
			if grad := (ll(up) - ll(down)) / (2 * h); math.Abs(grad) > 1e-3 {
				t.Errorf("%v: component %d (sd %v): gradient %v at the fit (%d E-steps)", m.Learn, j, sd, grad, r.Iterations)
			}
		}
	}
}
