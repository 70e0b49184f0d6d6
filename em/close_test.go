package em_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/em"
)

// The package promise ("every bag's weights within 1e-8 of the exact maximum")
// is for every bag, also those whose components are close to each other. The
// tests below use bags whose exact maximum is known in closed form.
//
// For two Bernoulli components the log-likelihood's curvature per
// observation is (p1-p2)^2 / (q (1-q)), about 4 (p1-p2)^2; a gradient within
// Tol = 1e-10 alone only bounds the weight's error by about Tol divided by
// that curvature, so with |p1-p2| below about 0.05 the gradient rule alone
// does not give 1e-8. These tests pin down the Newton certification that
// closes that gap.

// TestBernoulliCloseComponents: fixed bags with true and maximum-likelihood
// weight exactly 0.2: the red counts are n (0.2 p1 + 0.8 p2), so the sample
// mean is reached by the mixture (bernoulliMLE; tolerance 1e-8, the promise).
func TestBernoulliCloseComponents(t *testing.T) {
	for _, test := range []struct {
		p1, p2 float64
		n1, n0 float64
	}{
		{0.5, 0.7, 6600, 3400},
		{0.5, 0.6, 5800, 4200},
		{0.5, 0.55, 5400, 4600},
		{0.5, 0.53, 5240, 4760},
		{0.5, 0.52, 5160, 4840},
		{0.5, 0.51, 5080, 4920},
		{0.5, 0.51, 50800, 49200},
		{0.5, 0.501, 50080, 49920},
	} {
		tab := em.Table(nil, []float64{1, 0}, []em.LogProber{distuv.Bernoulli{P: test.p1}, distuv.Bernoulli{P: test.p2}})
		res := fitOK(t, nil, "close", tab, []float64{test.n1, test.n0}, 2, em.Settings{})
		want := bernoulliMLE(test.n1, test.n0, test.p1, test.p2)
		if math.Abs(want-0.2) > 1e-12 {
			t.Fatalf("p %v/%v: closed form %v, want 0.2", test.p1, test.p2, want)
		}
		if !res.Converged || math.Abs(res.Weights[0]-want) > 1e-8 {
			t.Errorf("p %v/%v, %v/%v red: w1 = %.15g (converged %v, gap %.3g), closed form %.15g: off by %.3g",
				test.p1, test.p2, test.n1, test.n1+test.n0, res.Weights[0], res.Converged, res.Gap, want, res.Weights[0]-want)
		}
	}
}

// TestBernoulliCloseRandom is TestBernoulliClosedForm's check on 300 random
// bags whose components are closer: |p1-p2| log-uniform in [0.001, 0.1].
func TestBernoulliCloseRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(12, 12))
	var f em.Fitter
	var tab []float64
	bad, worst := 0, 0.0
	const count = 300
	for range count {
		d := math.Pow(10, -3+2*rnd.Float64())
		p1 := 0.05 + 0.8*rnd.Float64()
		p2 := p1 + d
		n := 1 + rnd.IntN(100000)
		w := rnd.Float64()
		q := w*p1 + (1-w)*p2
		n1 := 0
		for range n {
			if rnd.Float64() < q {
				n1++
			}
		}
		tab = em.Table(tab, []float64{1, 0}, []em.LogProber{distuv.Bernoulli{P: p1}, distuv.Bernoulli{P: p2}})
		res := fitOK(t, &f, "close", tab, []float64{float64(n1), float64(n - n1)}, 2, em.Settings{})
		want := bernoulliMLE(float64(n1), float64(n-n1), p1, p2)
		if e := math.Abs(res.Weights[0] - want); e > 1e-8 || !res.Converged {
			bad++
			worst = math.Max(worst, e)
			if bad <= 5 {
				t.Errorf("p %.6g/%.6g, %d/%d red: w1 = %.15g (converged %v), closed form %.15g: off by %.3g",
					p1, p2, n1, n, res.Weights[0], res.Converged, want, e)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d bags missed the closed form by more than 1e-8 (worst %.3g)", bad, count, worst)
	}
}

// TestCategoricalCloseComponents: three categorical components that differ
// by 0.005 in two categories, and a bag of 10000 whose category counts are
// exactly 10000 (0.2 c1 + 0.5 c2 + 0.3 c3). The sample frequencies are the
// unrestricted multinomial maximum and the mixture reaches them with weights
// (0.2, 0.5, 0.3), which are therefore the exact maximum (unique: the
// components are linearly independent). Cross-check: R 4.2.2 mixsqp 0.3.48
// with the control list of mixsqpGolden returned
// 0.20000000000006043, 0.50000000000065437, 0.29999999999928517
// ("converged to optimal solution"; curvature on the face 6.7e-5 per
// observation, relative gradient below 3e-16). Tolerance 1e-8, the promise.
func TestCategoricalCloseComponents(t *testing.T) {
	comps := []em.LogProber{
		categorical{0.25, 0.25, 0.25, 0.25},
		categorical{0.255, 0.245, 0.25, 0.25},
		categorical{0.25, 0.25, 0.255, 0.245},
	}
	tab := em.Table(nil, goldenCategories, comps)
	counts := []float64{2525, 2475, 2515, 2485}
	want := []float64{0.2, 0.5, 0.3}
	res := fitOK(t, nil, "close categorical", tab, counts, 3, em.Settings{})
	if !res.Converged {
		t.Errorf("not converged after %d iterations", res.Iterations)
	}
	for j := range want {
		if d := math.Abs(res.Weights[j] - want[j]); d > 1e-8 {
			t.Errorf("weight %d = %.15g, exact %v: off by %.3g", j, res.Weights[j], want[j], d)
		}
	}
}
