package em_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distmv"

	"github.com/mixbatch/mixbatch/em"
)

// TestMultiNormalMatchesDistmv checks MultiNormal's log-density against
// gonum's stat/distmv Normal (an independent implementation) at random
// points of random positive definite covariances in dimensions 1 to 4,
// reusing one MultiNormal across dimensions, within 1e-12 relative.
func TestMultiNormalMatchesDistmv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var n em.MultiNormal
	for trial := range 200 {
		d := 1 + trial%4
		a := make([]float64, d*d)
		for i := range a {
			a[i] = rng.NormFloat64()
		}
		// cov = A Aᵀ + 0.1 I, positive definite.
		var cov mat.SymDense
		cov.SymOuterK(1, mat.NewDense(d, d, a))
		mean := make([]float64, d)
		for i := range d {
			cov.SetSym(i, i, cov.At(i, i)+0.1)
			mean[i] = 10 * rng.NormFloat64()
		}
		raw := make([]float64, d*d)
		for i := range d {
			for j := range d {
				raw[i*d+j] = cov.At(i, j)
			}
		}
		if !n.Set(mean, raw) || n.Dim() != d {
			t.Fatalf("trial %d: Set refused a positive definite covariance", trial)
		}
		ref, ok := distmv.NewNormal(mean, &cov, nil)
		if !ok {
			t.Fatalf("trial %d: distmv refused the covariance", trial)
		}
		x := make([]float64, d)
		for range 5 {
			for i := range x {
				x[i] = mean[i] + 3*rng.NormFloat64()
			}
			got, want := n.LogProb(x), ref.LogProb(x)
			if math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Fatalf("trial %d (d = %d): LogProb %v, distmv %v", trial, d, got, want)
			}
		}
	}
}

// TestMultiNormalDegenerate: a covariance that is not positive definite
// is refused and leaves no parameters; Reset removes them too; both give
// density zero.
func TestMultiNormalDegenerate(t *testing.T) {
	var n em.MultiNormal
	if n.LogProb([]float64{0}) != math.Inf(-1) {
		t.Error("the zero MultiNormal has a density")
	}
	if n.Set([]float64{0, 0}, []float64{1, 1, 1, 1}) || n.Dim() != 0 {
		t.Error("Set accepted a singular covariance")
	}
	if !n.Set([]float64{0, 0}, []float64{2, 0, 0, 0.5}) {
		t.Fatal("Set refused diag(2, 0.5)")
	}
	// N(0, diag(2, 0.5)) at (1, 1): -log(2π) - log(1)/2 - (1/2 + 2)/2.
	if got, want := n.LogProb([]float64{1, 1}), -math.Log(2*math.Pi)-1.25; math.Abs(got-want) > 1e-15 {
		t.Errorf("LogProb = %v, want %v", got, want)
	}
	n.Reset()
	if n.Dim() != 0 || n.LogProb([]float64{1, 1}) != math.Inf(-1) {
		t.Error("Reset left the parameters")
	}
}
