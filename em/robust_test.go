package em_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// randomBag is a bag for the property tests: K Gaussian components with
// random means and spreads, n values drawn from a random mixture of them
// (some true weights zero), and, for half of the bags, integer counts that
// include zeros.
type randomBag struct {
	k      int
	logLik []float64
	counts []float64
}

func newRandomBag(rnd *rand.Rand, k, n int) randomBag {
	mu := make([]float64, k)
	sigma := make([]float64, k)
	w := make([]float64, k)
	for j := range mu {
		mu[j] = -4 + 8*rnd.Float64()
		sigma[j] = 0.3 + 2*rnd.Float64()
		if j == 0 || rnd.IntN(3) > 0 {
			w[j] = rnd.Float64()
		}
	}
	b := randomBag{k: k}
	for range n {
		u := rnd.Float64() * floatsSum(w)
		j := 0
		for ; j < k-1 && u >= w[j]; j++ {
			u -= w[j]
		}
		x := mu[j] + sigma[j]*rnd.NormFloat64()
		for c := range k {
			b.logLik = append(b.logLik, normalLogPDF(x, mu[c], sigma[c]))
		}
	}
	if rnd.IntN(2) == 0 {
		b.counts = make([]float64, n)
		for i := range b.counts {
			b.counts[i] = float64(rnd.IntN(4))
		}
		b.counts[rnd.IntN(n)] = 1 // not all zero
	}
	return b
}

func floatsSum(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s
}

// sameResult reports whether two results are identical bit for bit.
func sameResult(a, b em.Result) bool {
	if a.Iterations != b.Iterations || a.Converged != b.Converged ||
		math.Float64bits(a.LogLikelihood) != math.Float64bits(b.LogLikelihood) ||
		math.Float64bits(a.Gap) != math.Float64bits(b.Gap) || len(a.Weights) != len(b.Weights) {
		return false
	}
	for j := range a.Weights {
		if math.Float64bits(a.Weights[j]) != math.Float64bits(b.Weights[j]) {
			return false
		}
	}
	return true
}

// TestFitterReuse fits bags of varying K and size, with both accelerations
// and random settings, on one reused Fitter and on a fresh one each time;
// the results must be identical bit for bit, earlier results must not change
// when the Fitter is used again, and the inputs must not be modified. Failed
// fits are interleaved to check that an error leaves nothing behind.
func TestFitterReuse(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 5))
	var reused em.Fitter
	type kept struct {
		res     em.Result
		weights []float64
	}
	var history []kept
	bad := []float64{0, math.NaN(), 0, 0} // a ValueError in row 0 of a K=2 table
	for iter := range 400 {
		k := 1 + rnd.IntN(6)
		n := 1 + rnd.IntN(300)
		if iter%50 == 7 {
			n = 3000
		}
		b := newRandomBag(rnd, k, n)
		s := em.Settings{Accelerate: em.Acceleration(rnd.IntN(2))}
		if rnd.IntN(3) == 0 {
			s.MaxIter = 1 + rnd.IntN(40)
		}
		if rnd.IntN(3) == 0 {
			s.Init = make([]float64, k)
			for j := range s.Init {
				s.Init[j] = 0.1 + rnd.Float64()
			}
		}
		if rnd.IntN(4) == 0 {
			s.Tol = 1e-6
		}
		tab0, counts0 := slices.Clone(b.logLik), slices.Clone(b.counts)
		got := fitOK(t, &reused, "reused", b.logLik, b.counts, k, s)
		want := fitOK(t, nil, "fresh", b.logLik, b.counts, k, s)
		if !sameResult(got, want) {
			t.Errorf("bag %d (K=%d, n=%d, %v): reused Fitter gave %+v, fresh %+v", iter, k, n, s.Accelerate, got, want)
		}
		if !slices.Equal(tab0, b.logLik) || !slices.Equal(counts0, b.counts) {
			t.Errorf("bag %d: Fit modified its input", iter)
		}
		checkSimplex(t, "reuse", got.Weights)
		history = append(history, kept{got, slices.Clone(got.Weights)})
		if iter%9 == 0 {
			if _, err := reused.Fit(bad, nil, 2, em.Settings{}); err == nil {
				t.Fatalf("bag %d: no error for a NaN log-density", iter)
			}
		}
	}
	for i, h := range history {
		if !slices.Equal(h.res.Weights, h.weights) {
			t.Fatalf("result %d changed after later fits: %v, was %v", i, h.res.Weights, h.weights)
		}
	}
}

// TestResultConsistent checks, on random bags and both accelerations, that
// the weights are on the simplex, that LogLikelihood and Gap are those of the
// returned weights (recomputed in the test; tolerance 1e-12 relative and
// 1e-12 absolute), that Iterations respects MaxIter, that SQUAREM converges
// within the default MaxIter, and that Converged means the stopping rule
// of the package documentation holds at Tol (recomputed; slack 1e-12 for the
// rounding of both computations).
func TestResultConsistent(t *testing.T) {
	rnd := rand.New(rand.NewPCG(6, 6))
	var f em.Fitter
	for iter := range 300 {
		k := 1 + rnd.IntN(5)
		b := newRandomBag(rnd, k, 1+rnd.IntN(400))
		for _, acc := range []em.Acceleration{em.SQUAREM, em.None} {
			s := em.Settings{Accelerate: acc}
			if iter%3 == 0 {
				s.MaxIter = 1 + rnd.IntN(60)
			}
			if iter%4 == 0 {
				s.Tol = math.Pow(10, -4-4*rnd.Float64())
			}
			res := fitOK(t, &f, "consistent", b.logLik, b.counts, k, s)
			checkSimplex(t, "consistent", res.Weights)
			maxIter, tol := s.MaxIter, s.Tol
			if maxIter == 0 {
				maxIter = em.DefaultMaxIter
			}
			if tol == 0 {
				tol = em.DefaultTol
			}
			if res.Iterations < 0 || res.Iterations > maxIter {
				t.Errorf("bag %d %v: Iterations = %d with MaxIter %d", iter, acc, res.Iterations, maxIter)
			}
			ll := logLikelihood(b.logLik, b.counts, res.Weights)
			if math.Abs(res.LogLikelihood-ll) > 1e-12*math.Max(1, math.Abs(ll)) {
				t.Errorf("bag %d %v: LogLikelihood = %.17g, recomputed %.17g", iter, acc, res.LogLikelihood, ll)
			}
			e := relGradient(b.logLik, b.counts, res.Weights)
			if gap := slices.Max(e); math.Abs(res.Gap-gap) > 1e-12 {
				t.Errorf("bag %d %v: Gap = %.3g, recomputed %.3g", iter, acc, res.Gap, gap)
			}
			if acc == em.SQUAREM && s.MaxIter == 0 && !res.Converged {
				t.Errorf("bag %d %v: not converged after %d iterations (gap %.3g)", iter, acc, res.Iterations, res.Gap)
			}
			if res.Converged {
				for j, ej := range e {
					if ej > tol+1e-12 || (res.Weights[j] > tol && ej < -tol-1e-12) {
						t.Errorf("bag %d %v: converged, but at component %d w = %.3g and g/N - 1 = %.3g (Tol %.3g)",
							iter, acc, j, res.Weights[j], ej, tol)
					}
				}
			}
		}
	}
}

// TestLogLikelihoodMonotone checks that the log-likelihood returned with
// MaxIter m never decreases as m goes from 1 to 50, for both accelerations
// (EM increases it at every step, and SQUAREM's safeguard accepts an
// extrapolation only if it does not lose to plain EM). Near convergence the
// increase is below the rounding of the log-likelihood itself (a sum of N
// logarithms), so a decrease of up to 1e-13 (|l| + N) is allowed.
func TestLogLikelihoodMonotone(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 7))
	var f em.Fitter
	for iter := range 60 {
		k := 2 + rnd.IntN(4)
		b := newRandomBag(rnd, k, 5+rnd.IntN(300))
		for _, acc := range []em.Acceleration{em.SQUAREM, em.None} {
			n := float64(len(b.logLik) / k)
			if b.counts != nil {
				n = floatsSum(b.counts)
			}
			prev := math.Inf(-1)
			for m := 1; m <= 50; m++ {
				res := fitOK(t, &f, "monotone", b.logLik, b.counts, k, em.Settings{MaxIter: m, Accelerate: acc})
				if res.LogLikelihood < prev-1e-13*(math.Abs(prev)+n) {
					t.Errorf("bag %d %v: LogLikelihood %.17g with MaxIter %d, %.17g with %d",
						iter, acc, res.LogLikelihood, m, prev, m-1)
				}
				prev = res.LogLikelihood
			}
		}
	}
}

// TestSQUAREMAccelerates checks that the default acceleration does what the
// package documentation says it is for: on bags where plain EM is slow (two
// heavily overlapping Gaussian components, or a maximum on the boundary),
// SQUAREM needs far fewer E-steps than plain EM to meet the same stopping
// rule. SQUAREM(S3) typically needs 5-20 times fewer; the test asks for 4.
func TestSQUAREMAccelerates(t *testing.T) {
	rnd := rand.New(rand.NewPCG(8, 8))
	overlap := func(mu2 float64, w float64, n int) []float64 {
		var tab []float64
		for range n {
			x := rnd.NormFloat64()
			if rnd.Float64() >= w {
				x += mu2
			}
			tab = append(tab, normalLogPDF(x, 0, 1), normalLogPDF(x, mu2, 1))
		}
		return tab
	}
	for _, test := range []struct {
		name   string
		logLik []float64
		counts []float64
	}{
		{"N(0,1) vs N(1,1), w = 0.3", overlap(1, 0.3, 2000), nil},
		{"N(0,1) vs N(0.5,1), w = 0.5", overlap(0.5, 0.5, 5000), nil},
		// Poisson(2) vs Poisson(5) vs Poisson(6): the mixsqp golden bag with
		// a zero weight.
		{"poisson boundary", poissonTable(goldenP3bValues, 2, 5, 6), goldenP3bCounts},
	} {
		k := 2
		if test.counts != nil {
			k = 3
		}
		plain := fitOK(t, nil, test.name, test.logLik, test.counts, k, em.Settings{Accelerate: em.None})
		fast := fitOK(t, nil, test.name, test.logLik, test.counts, k, em.Settings{})
		if !plain.Converged {
			t.Fatalf("%s: plain EM did not converge in %d iterations; choose another bag", test.name, plain.Iterations)
		}
		if !fast.Converged || 4*fast.Iterations > plain.Iterations {
			t.Errorf("%s: SQUAREM took %d E-steps (converged %v), plain EM %d",
				test.name, fast.Iterations, fast.Converged, plain.Iterations)
		}
	}
}

func poissonTable(xs []float64, lambda ...float64) []float64 {
	var tab []float64
	for _, x := range xs {
		for _, l := range lambda {
			tab = append(tab, poissonLogPMF(x, l))
		}
	}
	return tab
}

func TestSingleComponent(t *testing.T) {
	tab := []float64{-1.5, -0.25, -3, -40}
	counts := []float64{2, 1, 0, 4}
	for _, acc := range []em.Acceleration{em.SQUAREM, em.None} {
		res := fitOK(t, nil, "K=1", tab, counts, 1, em.Settings{Accelerate: acc})
		// Log-likelihood by hand: 2(-1.5) + 1(-0.25) + 4(-40).
		if !res.Converged || res.Iterations != 0 || !slices.Equal(res.Weights, []float64{1}) ||
			res.LogLikelihood != -163.25 || res.Gap != 0 {
			t.Errorf("%v: K=1 gave %+v, want weight 1, converged at the start, LogLikelihood -163.25", acc, res)
		}
	}
}

// TestIdenticalComponents: when every column is the same, every weight
// vector is a maximum, and Fit must stop at the start with the (normalised)
// starting weights.
func TestIdenticalComponents(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 9))
	const k, n = 3, 100
	tab := make([]float64, 0, n*k)
	want := 0.0
	for range n {
		v := -5 * rnd.Float64()
		tab = append(tab, v, v, v)
		want += v
	}
	for _, test := range []struct {
		init, want []float64
	}{
		{nil, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		{[]float64{1, 2, 5}, []float64{0.125, 0.25, 0.625}},
	} {
		for _, acc := range []em.Acceleration{em.SQUAREM, em.None} {
			res := fitOK(t, nil, "identical", tab, nil, k, em.Settings{Init: test.init, Accelerate: acc})
			if !res.Converged || res.Iterations != 0 {
				t.Errorf("init %v %v: Converged %v after %d iterations, want true after 0", test.init, acc, res.Converged, res.Iterations)
			}
			for j := range test.want {
				if math.Abs(res.Weights[j]-test.want[j]) > 1e-15 {
					t.Errorf("init %v %v: weights %v, want %v", test.init, acc, res.Weights, test.want)
					break
				}
			}
			if math.Abs(res.LogLikelihood-want) > 1e-12*math.Abs(want) {
				t.Errorf("init %v %v: LogLikelihood %v, want %v", test.init, acc, res.LogLikelihood, want)
			}
		}
	}
}

// TestInvariances: the weights do not depend on the order of the rows (up to
// rounding), on a per-row constant added to the log-densities, or on scaling
// all counts by a power of two; zero-count rows change nothing at all.
func TestInvariances(t *testing.T) {
	rnd := rand.New(rand.NewPCG(10, 10))
	var f em.Fitter
	for iter := range 100 {
		k := 2 + rnd.IntN(4)
		b := newRandomBag(rnd, k, 2+rnd.IntN(300))
		n := len(b.logLik) / k
		counts := b.counts
		if counts == nil {
			counts = make([]float64, n)
			for i := range counts {
				counts[i] = 1
			}
		}
		base := fitOK(t, &f, "base", b.logLik, counts, k, em.Settings{})

		// Zero-count rows are ignored: dropping them gives the same
		// result bit for bit. Adding rows with count 0 (even with
		// unusable densities, which are never looked at) changes nothing.
		var keptTab, keptCounts, paddedTab, paddedCounts []float64
		for i := range n {
			row := b.logLik[i*k : (i+1)*k]
			if counts[i] != 0 {
				keptTab = append(keptTab, row...)
				keptCounts = append(keptCounts, counts[i])
			}
			paddedTab = append(paddedTab, row...)
			paddedCounts = append(paddedCounts, counts[i])
			if i%7 == 0 {
				for j := range k {
					paddedTab = append(paddedTab, -1e3*float64(j))
				}
				paddedCounts = append(paddedCounts, 0)
			}
		}
		for _, test := range []struct {
			name   string
			tab    []float64
			counts []float64
		}{
			{"zero-count rows dropped", keptTab, keptCounts},
			{"zero-count rows added", paddedTab, paddedCounts},
		} {
			if got := fitOK(t, &f, test.name, test.tab, test.counts, k, em.Settings{}); !sameResult(got, base) {
				t.Errorf("bag %d, %s: %+v, want %+v", iter, test.name, got, base)
			}
		}

		// Per-row offsets in the log-densities: same weights within 2e-8
		// (both within 1e-8 of the same maximum by the package promise;
		// the trajectories agree only to rounding, and SQUAREM's
		// accept/reject decisions can diverge on it), log-likelihood
		// shifted by sum_i c_i offset_i.
		shifted := slices.Clone(b.logLik)
		shift := 0.0
		for i := range n {
			off := -300 + 600*rnd.Float64()
			for j := range k {
				shifted[i*k+j] += off
			}
			shift += counts[i] * off
		}
		got := fitOK(t, &f, "shifted", shifted, counts, k, em.Settings{})
		for j := range got.Weights {
			if math.Abs(got.Weights[j]-base.Weights[j]) > 2e-8 {
				t.Errorf("bag %d, rows shifted: weight %d = %.15g, unshifted %.15g", iter, j, got.Weights[j], base.Weights[j])
			}
		}
		if d := got.LogLikelihood - (base.LogLikelihood + shift); math.Abs(d) > 1e-9*math.Max(1, math.Abs(got.LogLikelihood)) {
			t.Errorf("bag %d, rows shifted: LogLikelihood %.15g, want %.15g", iter, got.LogLikelihood, base.LogLikelihood+shift)
		}

		// Counts times 4: the same maximum, so weights within 2e-8, and
		// four times the log-likelihood.
		four := make([]float64, n)
		for i := range four {
			four[i] = 4 * counts[i]
		}
		got = fitOK(t, &f, "counts×4", b.logLik, four, k, em.Settings{})
		for j := range got.Weights {
			if math.Abs(got.Weights[j]-base.Weights[j]) > 2e-8 {
				t.Errorf("bag %d, counts×4: weight %d = %.15g, want %.15g", iter, j, got.Weights[j], base.Weights[j])
			}
		}
		if math.Abs(got.LogLikelihood-4*base.LogLikelihood) > 1e-12*math.Max(1, math.Abs(got.LogLikelihood)) {
			t.Errorf("bag %d, counts×4: LogLikelihood %.15g, want %.15g", iter, got.LogLikelihood, 4*base.LogLikelihood)
		}

		// Rows in reverse order: weights within 2e-8, as above.
		rev := make([]float64, 0, len(b.logLik))
		revCounts := make([]float64, 0, n)
		for i := n - 1; i >= 0; i-- {
			rev = append(rev, b.logLik[i*k:(i+1)*k]...)
			revCounts = append(revCounts, counts[i])
		}
		got = fitOK(t, &f, "reversed", rev, revCounts, k, em.Settings{})
		for j := range got.Weights {
			if math.Abs(got.Weights[j]-base.Weights[j]) > 2e-8 {
				t.Errorf("bag %d, rows reversed: weight %d = %.15g, want %.15g", iter, j, got.Weights[j], base.Weights[j])
			}
		}
	}
}

// TestLargeBag checks the log-likelihood of a bag of 200000 rows, whose
// density product underflows many times over, against the test's own
// row-by-row sum (tolerance 1e-12 relative), and the weights against the
// two-component bisection maximiser (1e-8).
func TestLargeBag(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 11))
	const n = 200000
	lf1, lf2, ones := make([]float64, n), make([]float64, n), make([]float64, n)
	tab := make([]float64, 0, 2*n)
	for i := range n {
		x := 3 * rnd.NormFloat64()
		if rnd.Float64() < 0.4 {
			x = 2 + 0.5*rnd.NormFloat64()
		}
		lf1[i], lf2[i], ones[i] = normalLogPDF(x, 2, 0.5), normalLogPDF(x, 0, 3), 1
		tab = append(tab, lf1[i], lf2[i])
	}
	res := fitOK(t, nil, "large", tab, nil, 2, em.Settings{})
	if !res.Converged {
		t.Errorf("not converged after %d iterations", res.Iterations)
	}
	if want := twoComponentMLE(lf1, lf2, ones); math.Abs(res.Weights[0]-want) > 1e-8 {
		t.Errorf("w1 = %.15g, bisection %.15g", res.Weights[0], want)
	}
	if ll := logLikelihood(tab, nil, res.Weights); math.Abs(res.LogLikelihood-ll) > 1e-12*math.Abs(ll) {
		t.Errorf("LogLikelihood = %.17g, recomputed %.17g", res.LogLikelihood, ll)
	}
}

func TestFitErrors(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	ninf := math.Inf(-1)
	tab := func(rows ...[]float64) []float64 { return slices.Concat(rows...) }
	ok := []float64{-1, -2}
	for _, test := range []struct {
		name    string
		logLik  []float64
		counts  []float64
		init    []float64
		support int // want *SupportError with this Row, or -1
		value   *em.ValueError
		noData  bool
	}{
		{name: "row of -Inf", logLik: tab(ok, ok, ok, []float64{ninf, ninf}, ok), support: 3},
		{name: "row of -Inf after zero counts", logLik: tab(ok, ok, []float64{ninf, ninf}), counts: []float64{0, 0, 2}, support: 2},
		{name: "first row of -Inf", logLik: tab([]float64{ninf, ninf}, ok), support: 0},
		{name: "NaN density", logLik: tab(ok, ok, []float64{-1, nan}), support: -1, value: &em.ValueError{Row: 2, Component: 1, Value: nan}},
		{name: "+Inf density", logLik: tab(ok, []float64{inf, -1}), support: -1, value: &em.ValueError{Row: 1, Component: 0, Value: inf}},
		{name: "negative count", logLik: tab(ok, ok, ok), counts: []float64{1, 2, -1}, support: -1, value: &em.ValueError{Row: 2, Component: -1, Value: -1}},
		{name: "NaN count", logLik: tab(ok, ok), counts: []float64{nan, 1}, support: -1, value: &em.ValueError{Row: 0, Component: -1, Value: nan}},
		{name: "+Inf count", logLik: tab(ok, ok), counts: []float64{1, inf}, support: -1, value: &em.ValueError{Row: 1, Component: -1, Value: inf}},
		{name: "all counts zero", logLik: tab(ok, ok), counts: []float64{0, 0}, support: -1, noData: true},
		{name: "no rows", logLik: nil, support: -1, noData: true},
		{name: "zero in Init", logLik: tab(ok, ok), init: []float64{0, 1}, support: -1},
		{name: "negative Init", logLik: tab(ok, ok), init: []float64{-0.5, 1.5}, support: -1},
		{name: "NaN in Init", logLik: tab(ok, ok), init: []float64{nan, 1}, support: -1},
		{name: "+Inf in Init", logLik: tab(ok, ok), init: []float64{inf, 1}, support: -1},
	} {
		for _, acc := range []em.Acceleration{em.SQUAREM, em.None} {
			res, err := em.Fit(test.logLik, test.counts, 2, em.Settings{Init: test.init, Accelerate: acc})
			if err == nil {
				t.Errorf("%s: no error, result %+v", test.name, res)
				continue
			}
			if res.Weights != nil {
				t.Errorf("%s: error %v came with weights %v", test.name, err, res.Weights)
			}
			var se *em.SupportError
			var ve *em.ValueError
			switch {
			case test.support >= 0:
				if !errors.As(err, &se) || se.Row != test.support {
					t.Errorf("%s: error %v (%T), want *SupportError for row %d", test.name, err, err, test.support)
				}
			case test.value != nil:
				if !errors.As(err, &ve) || ve.Row != test.value.Row || ve.Component != test.value.Component ||
					math.Float64bits(ve.Value) != math.Float64bits(test.value.Value) && !(math.IsNaN(ve.Value) && math.IsNaN(test.value.Value)) {
					t.Errorf("%s: error %v (%#v), want %#v", test.name, err, err, test.value)
				}
			case test.noData:
				if !errors.Is(err, em.ErrNoData) {
					t.Errorf("%s: error %v, want ErrNoData", test.name, err)
				}
			default:
				if errors.As(err, &se) || errors.As(err, &ve) || errors.Is(err, em.ErrNoData) {
					t.Errorf("%s: error %v is a data error, want an Init error", test.name, err)
				}
			}
		}
	}
}

// TestZeroCountRowsNotChecked documents that a row with count 0 is ignored
// entirely: its densities are never looked at, so it cannot cause an error.
func TestZeroCountRowsNotChecked(t *testing.T) {
	inf := math.Inf(-1)
	logLik := []float64{-1, -2, inf, inf, math.NaN(), 0, -2, -1}
	res := fitOK(t, nil, "zero-count", logLik, []float64{1, 0, 0, 1}, 2, em.Settings{})
	want := fitOK(t, nil, "dropped", []float64{-1, -2, -2, -1}, nil, 2, em.Settings{})
	if !sameResult(res, want) {
		t.Errorf("got %+v, want %+v", res, want)
	}
}

func TestFitPanics(t *testing.T) {
	for _, test := range []struct {
		name   string
		logLik []float64
		counts []float64
		k      int
		init   []float64
	}{
		{"ragged table", []float64{0, 0, 0}, nil, 2, nil},
		{"no components", []float64{0}, nil, 0, nil},
		{"counts too short", []float64{0, 0, 0, 0}, []float64{1}, 2, nil},
		{"init too long", []float64{0, 0}, nil, 2, []float64{1, 1, 1}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Fit did not panic", test.name)
				}
			}()
			em.Fit(test.logLik, test.counts, test.k, em.Settings{Init: test.init})
		}()
	}
}

func TestAccelerationString(t *testing.T) {
	for _, test := range []struct {
		a    em.Acceleration
		want string
	}{
		{em.SQUAREM, "squarem"},
		{em.None, "none"},
		{em.Acceleration(7), "Acceleration(7)"},
	} {
		if got := test.a.String(); got != test.want {
			t.Errorf("Acceleration(%d).String() = %q, want %q", int(test.a), got, test.want)
		}
	}
	var s em.Settings
	if s.Accelerate != em.SQUAREM {
		t.Errorf("zero Settings accelerate with %v, want squarem", s.Accelerate)
	}
}

// TestErrorMessages checks that the error messages carry the package
// prefix and say where the problem is.
func TestErrorMessages(t *testing.T) {
	for _, test := range []struct {
		err  error
		want []string
	}{
		{&em.SupportError{Row: 4}, []string{"em: ", "observation 4"}},
		{&em.ValueError{Row: 2, Component: -1, Value: -1}, []string{"em: ", "count -1", "observation 2"}},
		{&em.ValueError{Row: 3, Component: 1, Value: math.NaN()}, []string{"em: ", "NaN", "observation 3", "component 1"}},
		{em.ErrNoData, []string{"em: "}},
	} {
		msg := test.err.Error()
		for _, w := range test.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%q does not contain %q", msg, w)
			}
		}
	}
}

// TestFitterAllocs: "Fitter fits bag after bag without allocating in the EM
// loop". A reused Fitter should allocate only the returned weights, however
// many iterations a bag takes; the bags include ones that SQUAREM does not
// finish within 30 E-steps.
func TestFitterAllocs(t *testing.T) {
	for _, test := range mixsqpGolden {
		k := len(test.comps)
		tab := em.Table(nil, test.xs, test.comps)
		for _, acc := range []em.Acceleration{em.SQUAREM, em.None} {
			var f em.Fitter
			s := em.Settings{Accelerate: acc}
			res := fitOK(t, &f, test.name, tab, test.counts, k, s)
			allocs := testing.AllocsPerRun(10, func() {
				if _, err := f.Fit(tab, test.counts, k, s); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > 1 {
				t.Errorf("%s %v: %v allocations per Fit (%d iterations), want 1 (the weights)", test.name, acc, allocs, res.Iterations)
			}
		}
	}
}

// TestConcurrentFits runs independent Fitters (and the package-level Fit) on
// several goroutines at once; under -race this finds shared state, and the
// results must equal the sequential ones bit for bit.
func TestConcurrentFits(t *testing.T) {
	type job struct {
		tab, counts []float64
		k           int
	}
	var jobs []job
	for _, test := range mixsqpGolden {
		jobs = append(jobs, job{em.Table(nil, test.xs, test.comps), test.counts, len(test.comps)})
	}
	want := make([]em.Result, len(jobs))
	for i, j := range jobs {
		want[i] = fitOK(t, nil, "sequential", j.tab, j.counts, j.k, em.Settings{})
	}
	const workers = 4
	got := make([][]em.Result, workers)
	var wg sync.WaitGroup
	for w := range workers {
		got[w] = make([]em.Result, len(jobs))
		wg.Go(func() {
			var f em.Fitter
			for round := range 5 {
				for i, j := range jobs {
					var err error
					if (w+round)%2 == 0 {
						got[w][i], err = f.Fit(j.tab, j.counts, j.k, em.Settings{})
					} else {
						got[w][i], err = em.Fit(j.tab, j.counts, j.k, em.Settings{})
					}
					if err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	for w := range workers {
		for i := range jobs {
			if !sameResult(got[w][i], want[i]) {
				t.Errorf("worker %d, bag %d: %+v, sequential %+v", w, i, got[w][i], want[i])
			}
		}
	}
}
