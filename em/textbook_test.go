package em_test

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/em"
)

// The textbook example: candies come from two factories; factory 1 makes red
// candies with probability 0.8, factory 2 with probability 0.3. A bag holds
// candies of both, in unknown proportion. A candy is 1 if red, 0 if not.
var (
	factory1 = distuv.Bernoulli{P: 0.8}
	factory2 = distuv.Bernoulli{P: 0.3}
)

// candyBag returns the expanded rows of a bag with the given numbers of red
// and other candies.
func candyBag(red, other int) []float64 {
	xs := make([]float64, 0, red+other)
	for i := 0; i < red; i++ {
		xs = append(xs, 1)
	}
	for i := 0; i < other; i++ {
		xs = append(xs, 0)
	}
	return xs
}

// emUpdate is one EM update of the weight of factory 1 by hand: each red
// candy belongs to factory 1 with responsibility 0.8 w/(0.8 w + 0.3 (1-w)),
// each other candy with 0.2 w/(0.2 w + 0.7 (1-w)), and the new weight is the
// average responsibility.
func emUpdate(w float64, red, other int) float64 {
	rRed := 0.8 * w / (0.8*w + 0.3*(1-w))
	rOther := 0.2 * w / (0.2*w + 0.7*(1-w))
	return (float64(red)*rRed + float64(other)*rOther) / float64(red+other)
}

func TestTextbookEMSteps(t *testing.T) {
	const red, other = 6, 4
	tab := em.Table(nil, candyBag(red, other), []em.LogProber{factory1, factory2})

	// With w = 1/2 the responsibilities are 0.4/0.55 = 8/11 for a red
	// candy and 0.1/0.45 = 2/9 for another one.
	w1 := emUpdate(0.5, red, other)
	if want := (6*8.0/11 + 4*2.0/9) / 10; math.Abs(w1-want) > 1e-15 {
		t.Fatalf("hand computation inconsistent: %v != %v", w1, want)
	}
	w2 := emUpdate(w1, red, other)
	for _, test := range []struct {
		maxIter int
		want    float64 // hand computation above; tolerance 1e-14 (a few roundings)
	}{
		{1, w1},
		{2, w2},
	} {
		res := fitOK(t, nil, "textbook", tab, nil, 2, em.Settings{
			Init:       []float64{0.5, 0.5},
			MaxIter:    test.maxIter,
			Accelerate: em.None,
		})
		if res.Iterations != test.maxIter {
			t.Errorf("MaxIter %d: Iterations = %d", test.maxIter, res.Iterations)
		}
		if res.Converged {
			t.Errorf("MaxIter %d: Converged after %d EM steps", test.maxIter, res.Iterations)
		}
		if math.Abs(res.Weights[0]-test.want) > 1e-14 || math.Abs(res.Weights[1]-(1-test.want)) > 1e-14 {
			t.Errorf("MaxIter %d: weights %v, want [%v %v]", test.maxIter, res.Weights, test.want, 1-test.want)
		}
		// The log-likelihood is that of the returned weights.
		if want := bernoulliLogLik(red, other, 0.8, 0.3, test.want); math.Abs(res.LogLikelihood-want) > 1e-13 {
			t.Errorf("MaxIter %d: LogLikelihood %v, want %v", test.maxIter, res.LogLikelihood, want)
		}
	}
}

func TestTextbookClosedForm(t *testing.T) {
	comps := []em.LogProber{factory1, factory2}
	for _, test := range []struct{ red, other int }{
		{6, 4},   // mean 0.6: w1 = 0.6, interior
		{1, 0},   // one red candy: w1 = 1, boundary
		{0, 1},   // one other candy: w1 = 0, boundary
		{5, 5},   // mean 0.5: w1 = 0.4
		{8, 2},   // mean 0.8 = p1: w1 = 1 with zero gradient (degenerate boundary)
		{3, 7},   // mean 0.3 = p2: w1 = 0 with zero gradient (degenerate boundary)
		{9, 1},   // mean 0.9 > p1: w1 = 1
		{1, 9},   // mean 0.1 < p2: w1 = 0
		{33, 67}, // mean 0.33: w1 = 0.06
	} {
		tab := em.Table(nil, candyBag(test.red, test.other), comps)
		res := fitOK(t, nil, "textbook", tab, nil, 2, em.Settings{})
		want := bernoulliMLE(float64(test.red), float64(test.other), 0.8, 0.3)
		if !res.Converged {
			t.Errorf("%d/%d red: not converged after %d iterations", test.red, test.red+test.other, res.Iterations)
		}
		if math.Abs(res.Weights[0]-want) > 1e-8 {
			t.Errorf("%d/%d red: w1 = %v, closed form %v (diff %.3g)", test.red, test.red+test.other, res.Weights[0], want, res.Weights[0]-want)
		}
		checkSimplex(t, "textbook", res.Weights)
	}
}

// TestTextbookWhyAccelerate documents why Fit accelerates by default: on a
// bag whose maximum is on the boundary with a zero gradient there (8 red
// candies of 10, so the sample mean is exactly factory 1's 0.8 and w1 = 1),
// plain EM converges sublinearly, roughly like 1/t, and is still far from the
// maximum after 100 iterations, while the default Fit gets there.
func TestTextbookWhyAccelerate(t *testing.T) {
	tab := em.Table(nil, candyBag(8, 2), []em.LogProber{factory1, factory2})
	want := bernoulliMLE(8, 2, 0.8, 0.3)
	if want != 1 {
		t.Fatalf("closed form %v, want exactly 1", want)
	}
	plain := fitOK(t, nil, "plain", tab, nil, 2, em.Settings{MaxIter: 100, Accelerate: em.None})
	if plain.Converged {
		t.Errorf("plain EM: converged after %d iterations", plain.Iterations)
	}
	if d := want - plain.Weights[0]; !(d > 1e-4) {
		t.Errorf("plain EM after 100 iterations: w1 = %v is within %.3g of the maximum; the bag no longer shows sublinear convergence", plain.Weights[0], d)
	}
	fast := fitOK(t, nil, "default", tab, nil, 2, em.Settings{})
	if !fast.Converged {
		t.Errorf("default: not converged after %d iterations", fast.Iterations)
	}
	if d := math.Abs(want - fast.Weights[0]); d > 1e-8 {
		t.Errorf("default: w1 = %v is %.3g from the maximum", fast.Weights[0], d)
	}
	t.Logf("plain EM after 100 iterations: 1 - w1 = %.3g; default: 1 - w1 = %.3g after %d iterations",
		want-plain.Weights[0], want-fast.Weights[0], fast.Iterations)
}
