package em_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestWeightStdErrorsNearlyDependent compares WeightStdErrors, K = 3, with
// the inverse of the observed information written out here, on seeded
// random categorical components of which the third is nearly a mixture of
// the other two (the information is nearly singular: its correlation is
// within 1e-3 to 1e-9 of ±1). With fixed components the log-likelihood is
// l(w) = Σ_x c_x log p_x, p_x = Σ_j w_j f_j(x), linear in w, so in the
// coordinates (w1, w2), w3 = 1 - w1 - w2, the observed information is
// exactly J = Σ_x c_x d_x d_xᵀ / p_x² with d_x = (f1 - f3, f2 - f3)(x), at
// any weights; V = J⁻¹ (2×2, by its adjugate), SE(w1) = √V11, SE(w2) = √V22
// and SE(w3) = √(V11 + 2 V12 + V22) (the delta method).
//
// Such weights are poorly determined but determined: their standard errors
// are finite (and large), not +Inf, which WeightStdErrors reserves for
// directions whose eigenvalue, relative to the largest of the information
// scaled to unit diagonal, is below 1e-12 (here (1-|ρ|)/(1+|ρ|) >= 1e-10).
// Tolerance 1e-6 relative: the adjugate loses about log10 of the
// condition number (up to 10 digits here) of float64's 16.
func TestWeightStdErrorsNearlyDependent(t *testing.T) {
	rnd := rand.New(rand.NewPCG(31, 41))
	const levels = 4
	cases := 0
	for iter := range 200 {
		f := make([][]float64, 3)
		for j := range 2 {
			f[j] = dirichletRow(rnd, levels)
		}
		// The third: a mixture of the first two, moved off their plane by
		// delta along a direction that sums to zero.
		a := 0.2 + 0.6*rnd.Float64()
		delta := math.Pow(10, -1-3*rnd.Float64())
		dir := []float64{1, -1, 1, -1}
		f[2] = make([]float64, levels)
		for x := range levels {
			f[2][x] = a*f[0][x] + (1-a)*f[1][x] + delta*dir[x]*math.Min(f[0][x], f[1][x])
		}
		counts := make([]float64, levels)
		for x := range counts {
			counts[x] = float64(50 + rnd.IntN(500))
		}
		w := dirichletRow(rnd, 3)
		// The information, written out.
		var j11, j12, j22 float64
		tab := make([]float64, levels*3)
		for x := range levels {
			p := 0.0
			for j := range 3 {
				p += w[j] * f[j][x]
				tab[x*3+j] = math.Log(f[j][x])
			}
			d1, d2 := f[0][x]-f[2][x], f[1][x]-f[2][x]
			j11 += counts[x] * d1 * d1 / (p * p)
			j12 += counts[x] * d1 * d2 / (p * p)
			j22 += counts[x] * d2 * d2 / (p * p)
		}
		rho := j12 / math.Sqrt(j11*j22)
		if ratio := (1 - math.Abs(rho)) / (1 + math.Abs(rho)); !(ratio > 1e-10) || ratio > 1e-3 {
			continue // not nearly dependent, or too nearly for the check's tolerance
		}
		det := j11*j22 - j12*j12
		v11, v12, v22 := j22/det, -j12/det, j11/det
		want := []float64{math.Sqrt(v11), math.Sqrt(v22), math.Sqrt(v11 + 2*v12 + v22)}
		got, err := em.WeightStdErrors(nil, tab, counts, 3, w)
		if err != nil {
			t.Fatalf("case %d: %v", iter, err)
		}
		seCheck(t, fmt.Sprintf("case %d (ρ = %.12f)", iter, rho), got, want, 1e-6)
		cases++
	}
	if cases < 20 {
		t.Fatalf("only %d nearly dependent cases of 200", cases)
	}
}

// dirichletRow returns a random probability vector of length n with every
// entry at least 0.05/n.
func dirichletRow(rnd *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	s := 0.0
	for i := range v {
		v[i] = 0.05/float64(n) + rnd.ExpFloat64()
		s += v[i]
	}
	for i := range v {
		v[i] /= s
	}
	return v
}

// TestStdErrorsSDJustAboveFloor: a learned SD counts as collapsed onto
// SDFloor only within a relative 1e-6 of it (ScalarComponents' doc). Just
// above that, at 1.001 and 1.05 times the floor, the standard errors are
// finite and the same as without a floor (SDFloor only decides which SDs
// are on the boundary; it enters no formula).
func TestStdErrorsSDJustAboveFloor(t *testing.T) {
	// A narrow component at 0 among values spread by 1e-3, and a broad one.
	var xs []float64
	for i := range 40 {
		xs = append(xs, float64(i%9-4)*1e-3)
	}
	for i := range 60 {
		xs = append(xs, 3+float64(i%11-5)*0.4)
	}
	const floor = 2e-3
	learned := []bool{true, true}
	for _, factor := range []float64{1.001, 1.05} {
		comps := em.ScalarComponents{
			Mean: []float64{0, 3}, SD: []float64{factor * floor, 1.3},
			LearnedMean: learned, LearnedSD: learned,
		}
		ref, err := em.StdErrors(em.Gaussian, xs, nil, []float64{0.4, 0.6}, comps)
		if err != nil {
			t.Fatal(err)
		}
		comps.SDFloor = floor
		got, err := em.StdErrors(em.Gaussian, xs, nil, []float64{0.4, 0.6}, comps)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("sd %g×floor", factor)
		for _, v := range append(append(append([]float64(nil), got.Weights...), got.Mean...), got.SD...) {
			if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
				t.Errorf("%s: standard errors %+v, want all finite and positive", name, got)
				break
			}
		}
		seCheck(t, name+" weights", got.Weights, ref.Weights, 0)
		seCheck(t, name+" mean", got.Mean, ref.Mean, 0)
		seCheck(t, name+" sd", got.SD, ref.SD, 0)
	}
}
