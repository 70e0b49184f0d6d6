package em_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestPosteriorsBayes compares Posteriors with Bayes' rule written out in the
// test, w_k f_k(x) / sum_j w_j f_j(x), on random tables whose densities are
// moderate enough to exponentiate directly. Tolerance 1e-14 absolute (a few
// roundings of numbers in [0, 1]).
func TestPosteriorsBayes(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4, 4))
	var dst []float64
	for iter := range 300 {
		k := 1 + rnd.IntN(6)
		n := 1 + rnd.IntN(50)
		w := make([]float64, k)
		sum := 0.0
		for j := range w {
			if k > 1 && rnd.IntN(4) == 0 {
				continue // zero weight
			}
			w[j] = rnd.Float64()
			sum += w[j]
		}
		if sum == 0 {
			w[0], sum = 1, 1
		}
		for j := range w {
			w[j] /= sum
		}
		tab := make([]float64, n*k)
		for i := range tab {
			tab[i] = -20 * rnd.Float64()
			if rnd.IntN(10) == 0 {
				tab[i] = math.Inf(-1) // impossible under one component
			}
		}
		// Keep every row possible under some weighted component.
		for i := range n {
			for j := range w {
				if w[j] > 0 {
					tab[i*k+j] = math.Max(tab[i*k+j], -30)
					break
				}
			}
		}
		dst = em.Posteriors(dst, tab, w)
		if len(dst) != n*k {
			t.Fatalf("case %d: len(dst) = %d, want %d", iter, len(dst), n*k)
		}
		for i := range n {
			den := 0.0
			for j := range w {
				den += w[j] * math.Exp(tab[i*k+j])
			}
			rowSum := 0.0
			for j := range w {
				got := dst[i*k+j]
				want := w[j] * math.Exp(tab[i*k+j]) / den
				if w[j] == 0 && got != 0 {
					t.Errorf("case %d row %d: zero-weight component %d has posterior %v", iter, i, j, got)
				}
				if math.Abs(got-want) > 1e-14 {
					t.Errorf("case %d row %d component %d: posterior %.17g, Bayes %.17g", iter, i, j, got, want)
				}
				rowSum += got
			}
			if math.Abs(rowSum-1) > 1e-14 {
				t.Errorf("case %d row %d: posteriors sum to 1%+.3g", iter, i, rowSum-1)
			}
		}
	}
}

// TestPosteriorsExtreme checks rows whose densities underflow when
// exponentiated directly, and the NaN row.
func TestPosteriorsExtreme(t *testing.T) {
	inf := math.Inf(-1)
	w := []float64{0.25, 0.5, 0.25, 0}
	tab := []float64{
		-1000, -1001, -2000, 0, // underflows when exponentiated directly
		-5000, inf, inf, 0, // only component 0 possible
		inf, inf, inf, 0, // only the zero-weight component: NaN
		inf, inf, inf, inf, // nothing possible: NaN
		0, 0, 0, 0, // prior
	}
	// Bayes' rule for row 0 after dividing by exp(-1000): 0.25 : 0.5/e : 0.
	r0 := 0.25 / (0.25 + 0.5*math.Exp(-1))
	want := []float64{
		r0, 1 - r0, 0, 0,
		1, 0, 0, 0,
		math.NaN(), math.NaN(), math.NaN(), math.NaN(),
		math.NaN(), math.NaN(), math.NaN(), math.NaN(),
		0.25, 0.5, 0.25, 0,
	}
	// A dst with room is reused.
	buf := make([]float64, 0, 32)
	got := em.Posteriors(buf, tab, w)
	if &got[0] != &buf[:1][0] {
		t.Errorf("Posteriors did not reuse dst with capacity %d for %d entries", cap(buf), len(tab))
	}
	for i := range want {
		row, j := i/len(w), i%len(w)
		switch {
		case math.IsNaN(want[i]):
			if !math.IsNaN(got[i]) {
				t.Errorf("row %d component %d: posterior %v, want NaN", row, j, got[i])
			}
		case math.Abs(got[i]-want[i]) > 1e-15:
			t.Errorf("row %d component %d: posterior %v, want %v", row, j, got[i], want[i])
		}
	}
}

func TestPosteriorsPanics(t *testing.T) {
	for _, test := range []struct {
		name    string
		logLik  []float64
		weights []float64
	}{
		{"no components", []float64{0, 0}, nil},
		{"ragged table", []float64{0, 0, 0}, []float64{0.5, 0.5}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Posteriors did not panic", test.name)
				}
			}()
			em.Posteriors(nil, test.logLik, test.weights)
		}()
	}
}
