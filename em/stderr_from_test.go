package em_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// Tests of Uncertainty.WeightStdErrorsFrom: it must return what
// WeightStdErrors returns, bit for bit.

// sameBits reports whether a and b hold the same float64s, bit for bit.
func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for j := range a {
		if math.Float64bits(a[j]) != math.Float64bits(b[j]) {
			return false
		}
	}
	return true
}

// randomFromBag returns a random bag for the WeightStdErrorsFrom property
// test: K Gaussian components (some nearly alike, so that the differences
// take the expm1 branch), n values from a mixture whose weights are often
// exactly 0 (so that Fit puts components on the boundary, and some rows
// have a boundary component as their largest density), and counts that are
// nil, or 0 to 3 per row.
func randomFromBag(rnd *rand.Rand, k, n int) (tab, counts []float64) {
	means, sds := make([]float64, k), make([]float64, k)
	alike := rnd.IntN(6) == 0
	for j := range means {
		means[j], sds[j] = 6*rnd.NormFloat64(), 0.5+3*rnd.Float64()
		if alike && j > 0 {
			means[j], sds[j] = means[0]+1e-5*rnd.NormFloat64(), sds[0]
		}
	}
	w := make([]float64, k)
	sum := 0.0
	for j := range w {
		if rnd.IntN(3) > 0 {
			w[j] = rnd.ExpFloat64()
		}
		sum += w[j]
	}
	if sum == 0 {
		w[rnd.IntN(k)], sum = 1, 1
	}
	tab = make([]float64, n*k)
	if rnd.IntN(2) == 0 {
		counts = make([]float64, n)
		for i := range counts {
			counts[i] = float64(rnd.IntN(4))
		}
	}
	for i := 0; i < n; i++ {
		j, u := 0, rnd.Float64()*sum
		for j < k-1 && u >= w[j] {
			u -= w[j]
			j++
		}
		x := means[j] + sds[j]*rnd.NormFloat64()
		for l := range k {
			tab[i*k+l] = normalLogPDF(x, means[l], sds[l])
		}
	}
	return tab, counts
}

// TestWeightStdErrorsFromProperty: over seeded random bags (K 2..5, n
// 1..2000, weights on the boundary included), WeightStdErrorsFrom after Fit
// returns exactly what WeightStdErrors returns: the same standard errors
// bit for bit, or the same error. Besides Fit's weights it tries weights
// whose largest is another component (so the Fitter's differences are for
// another reference) and weights with one more component on the boundary.
func TestWeightStdErrorsFromProperty(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4, 2))
	var f em.Fitter
	var u, v em.Uncertainty
	bags := 1500
	if testing.Short() {
		bags = 300
	}
	var boundary, checked int
	for bag := range bags {
		k := 2 + rnd.IntN(4)
		n := 1 + rnd.IntN(200)
		if bag%8 == 0 {
			n = 1 + rnd.IntN(2000)
		}
		tab, counts := randomFromBag(rnd, k, n)
		res, err := f.Fit(tab, counts, k, em.Settings{})
		if errors.Is(err, em.ErrNoData) {
			continue
		}
		if err != nil {
			t.Fatalf("bag %d: %v", bag, err)
		}
		// Fit's weights, then others.
		others := [][]float64{res.Weights}
		alt := append([]float64(nil), res.Weights...)
		lo := 0
		for j := range alt {
			if alt[j] < alt[lo] {
				lo = j
			}
		}
		alt[lo] += 2 // the smallest becomes the largest (reference)
		others = append(others, alt)
		cut := append([]float64(nil), res.Weights...)
		cut[rnd.IntN(k)] = 0
		others = append(others, cut)
		for wi, w := range others {
			name := fmt.Sprintf("bag %d (K=%d, n=%d, weights %d: %v)", bag, k, n, wi, w)
			want, werr := u.WeightStdErrors(nil, tab, counts, k, w)
			got, gerr := v.WeightStdErrorsFrom(&f, nil, tab, counts, k, w)
			if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
				t.Fatalf("%s: error %v, WeightStdErrors %v", name, gerr, werr)
			}
			if werr != nil {
				continue
			}
			checked++
			for _, x := range w {
				if x <= em.BoundaryWeight {
					boundary++
					break
				}
			}
			if !sameBits(got, want) {
				t.Fatalf("%s: WeightStdErrorsFrom %v, WeightStdErrors %v", name, got, want)
			}
		}
	}
	if boundary < checked/10 {
		t.Errorf("only %d of %d cases with weights on the boundary", boundary, checked)
	}
}

// TestWeightStdErrorsFromFallback: without usable densities from the
// Fitter (none, a failed fit, another table's shape) WeightStdErrorsFrom
// is WeightStdErrors; data errors are those of WeightStdErrors.
func TestWeightStdErrorsFromFallback(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4, 3))
	tab, _ := randomFromBag(rnd, 3, 50)
	w := []float64{0.5, 0.3, 0.2}
	var u em.Uncertainty
	want, err := u.WeightStdErrors(nil, tab, nil, 3, w)
	if err != nil {
		t.Fatal(err)
	}
	var f em.Fitter
	check := func(name string, f *em.Fitter) {
		t.Helper()
		var v em.Uncertainty
		got, err := v.WeightStdErrorsFrom(f, nil, tab, nil, 3, w)
		if err != nil || !sameBits(got, want) {
			t.Errorf("%s: %v, %v; want %v", name, got, err, want)
		}
	}
	check("nil Fitter", nil)
	check("unused Fitter", &f)
	bad := append([]float64(nil), tab...)
	bad[4] = math.NaN()
	if _, err := f.Fit(bad, nil, 3, em.Settings{}); err == nil {
		t.Fatal("Fit of a NaN: no error")
	}
	check("failed Fit", &f)
	if _, err := f.Fit(tab[:30], nil, 3, em.Settings{}); err != nil {
		t.Fatal(err)
	}
	check("other table", &f)
	if _, err := f.Fit(tab[:30], nil, 2, em.Settings{}); err != nil {
		t.Fatal(err)
	}
	check("other K", &f)

	// A row with zero density under the only free component: the error
	// names the table row, counting zero-count rows.
	tab2 := []float64{0, -1, -2, -1, math.Inf(-1), 0}
	counts := []float64{1, 0, 2}
	if _, err := f.Fit(tab2, counts, 2, em.Settings{}); err != nil {
		t.Fatal(err)
	}
	_, werr := u.WeightStdErrors(nil, tab2, counts, 2, []float64{1, 0})
	_, gerr := u.WeightStdErrorsFrom(&f, nil, tab2, counts, 2, []float64{1, 0})
	if werr == nil || gerr == nil || werr.Error() != gerr.Error() {
		t.Errorf("errors %v and %v, want the same", gerr, werr)
	}
}

// TestWeightStdErrorsFromAllocs: with dst given, WeightStdErrorsFrom makes
// no allocation, as WeightStdErrors.
func TestWeightStdErrorsFromAllocs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4, 4))
	var f em.Fitter
	var u em.Uncertainty
	for _, k := range []int{2, 3, 4} {
		tab, counts := randomFromBag(rnd, k, 300)
		res, err := f.Fit(tab, counts, k, em.Settings{})
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float64, k)
		if _, err := u.WeightStdErrorsFrom(&f, dst, tab, counts, k, res.Weights); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(10, func() {
			if _, err := u.WeightStdErrorsFrom(&f, dst, tab, counts, k, res.Weights); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("K=%d: %v allocations per WeightStdErrorsFrom, want 0", k, allocs)
		}
	}
}
