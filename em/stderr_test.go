package em_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/em"
)

// Tests of the standard errors (stderr.go). The references are computed
// here without package em: closed forms, a finite-difference Hessian of the
// log-likelihood written in the test, R's numDeriv, and simulation.

// seWithin reports whether got is within rel (relative) of want; NaN and
// infinities must match exactly.
func seWithin(got, want, rel float64) bool {
	if math.IsNaN(want) || math.IsInf(want, 0) {
		return math.IsNaN(got) && math.IsNaN(want) || got == want
	}
	return math.Abs(got-want) <= rel*math.Abs(want)
}

func seCheck(t *testing.T, name string, got, want []float64, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d standard errors, want %d", name, len(got), len(want))
	}
	for j := range want {
		if !seWithin(got[j], want[j], rel) {
			t.Errorf("%s: SE %d = %.15g, want %.15g (rel diff %.3g, tolerance %.0e)",
				name, j, got[j], want[j], math.Abs(got[j]-want[j])/math.Abs(want[j]), rel)
		}
	}
}

// seBernoulliTable is the aggregated table of two Bernoulli components:
// row 0 is x = 1 (count n1), row 1 is x = 0 (count n0).
func seBernoulliTable(p1, p2 float64) []float64 {
	return []float64{math.Log(p1), math.Log(p2), math.Log1p(-p1), math.Log1p(-p2)}
}

// TestWeightStdErrorsBernoulliClosedForm: for two Bernoulli components the
// likelihood depends on w1 only through q = w1 p1 + (1-w1) p2, so the
// observed information of w1 is
//
//	I(w1) = (p1-p2)² (n1/q² + n0/(1-q)²)
//
// and SE(w1) = SE(w2) = 1/sqrt(I), at any interior w1. Tolerance 1e-10
// relative.
func TestWeightStdErrorsBernoulliClosedForm(t *testing.T) {
	var u em.Uncertainty
	for _, tc := range []struct {
		p1, p2, n1, n0 float64
	}{
		{0.8, 0.3, 57, 43}, // the textbook bag
		{0.8, 0.3, 300, 200},
		{0.3, 0.8, 300, 200},
		{0.9, 0.1, 1, 1},
		{0.5, 0.501, 5e8, 5e8 - 1}, // nearly alike, large counts
		{0.999, 0.001, 12345, 678},
	} {
		tab := seBernoulliTable(tc.p1, tc.p2)
		counts := []float64{tc.n1, tc.n0}
		mle := bernoulliMLE(tc.n1, tc.n0, tc.p1, tc.p2)
		for _, w1 := range []float64{mle, 0.05, 0.5, 0.93} {
			if !(w1 > 0 && w1 < 1) {
				continue
			}
			q := w1*tc.p1 + (1-w1)*tc.p2
			info := (tc.p1 - tc.p2) * (tc.p1 - tc.p2) * (tc.n1/(q*q) + tc.n0/((1-q)*(1-q)))
			want := 1 / math.Sqrt(info)
			name := fmt.Sprintf("p=%v,%v n1=%v n0=%v w1=%.6g", tc.p1, tc.p2, tc.n1, tc.n0, w1)
			got, err := u.WeightStdErrors(nil, tab, counts, 2, []float64{w1, 1 - w1})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			seCheck(t, name, got, []float64{want, want}, 1e-10)
		}
	}
	// The same bag one marble per row gives the same answer.
	n1, n0 := 57, 43
	var rows, aggr []float64
	for i := 0; i < n1+n0; i++ {
		if i < n1 {
			rows = append(rows, math.Log(0.8), math.Log(0.3))
		} else {
			rows = append(rows, math.Log(0.2), math.Log(0.7))
		}
	}
	w := []float64{0.54, 0.46}
	got, err := em.WeightStdErrors(nil, rows, nil, 2, w)
	if err != nil {
		t.Fatal(err)
	}
	aggr, _ = em.WeightStdErrors(aggr, seBernoulliTable(0.8, 0.3), []float64{57, 43}, 2, w)
	seCheck(t, "one row per marble", got, aggr, 1e-12)
	// The textbook bag: SE(w) = sqrt(0.57*0.43/100)/0.5 at the maximum.
	seCheck(t, "textbook", got, []float64{math.Sqrt(0.57*0.43/100) / 0.5, math.Sqrt(0.57*0.43/100) / 0.5}, 1e-12)
}

// TestStdErrorsSingleComponent checks the closed forms of one component at
// the maximum likelihood estimate: Gaussian SE(mean) = sd/sqrt(n) and
// SE(sd) = sd/sqrt(2n); Poisson SE(rate) = sqrt(rate/n); Bernoulli SE(p) =
// sqrt(p(1-p)/n). The weight's standard error is 0 (K = 1). Tolerance 1e-10
// relative.
func TestStdErrorsSingleComponent(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 5))
	// Gaussian, with counts: n = sum of counts.
	xs := make([]float64, 200)
	counts := make([]float64, len(xs))
	for i := range xs {
		xs[i] = 3 + 2*rnd.NormFloat64()
		counts[i] = float64(1 + rnd.IntN(3))
	}
	counts[7] = 0 // ignored
	var n, sx float64
	for i, x := range xs {
		n += counts[i]
		sx += counts[i] * x
	}
	mean := sx / n
	ss := 0.0
	for i, x := range xs {
		ss += counts[i] * (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / n)
	one := []float64{1}
	se, err := em.StdErrors(em.Gaussian, xs, counts, one, em.ScalarComponents{
		Mean: []float64{mean}, SD: []float64{sd},
		LearnedMean: []bool{true}, LearnedSD: []bool{true},
	})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "gaussian weight", se.Weights, []float64{0}, 0)
	seCheck(t, "gaussian mean", se.Mean, []float64{sd / math.Sqrt(n)}, 1e-10)
	seCheck(t, "gaussian sd", se.SD, []float64{sd / math.Sqrt(2*n)}, 1e-10)
	if se.P != nil || se.Rate != nil {
		t.Errorf("gaussian: other families' slices are set: %+v", se)
	}
	// Only the mean learned: the sd is a constant (SE 0), and SE(mean) is
	// sd/sqrt(n) at any sd.
	se, err = em.StdErrors(em.Gaussian, xs, counts, one, em.ScalarComponents{
		Mean: []float64{mean}, SD: []float64{1.7}, LearnedMean: []bool{true},
	})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "gaussian mean only", se.Mean, []float64{1.7 / math.Sqrt(n)}, 1e-10)
	seCheck(t, "gaussian mean only, sd", se.SD, []float64{0}, 0)
	// Only the sd learned, the mean fixed at 3: the MLE of the sd is the
	// root mean square deviation from 3, and SE(sd) = sd/sqrt(2n) there.
	ss = 0
	for i, x := range xs {
		ss += counts[i] * (x - 3) * (x - 3)
	}
	sd3 := math.Sqrt(ss / n)
	se, err = em.StdErrors(em.Gaussian, xs, counts, one, em.ScalarComponents{
		Mean: []float64{3}, SD: []float64{sd3}, LearnedSD: []bool{true},
	})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "gaussian sd only", se.SD, []float64{sd3 / math.Sqrt(2*n)}, 1e-10)

	// Poisson as (value, count) pairs.
	pv := []float64{0, 1, 2, 3, 4, 5, 7, 9}
	pc := []float64{13, 30, 28, 17, 8, 3, 1, 1}
	n, sx = 0, 0
	for i, x := range pv {
		n += pc[i]
		sx += pc[i] * x
	}
	rate := sx / n
	se, err = em.StdErrors(em.Poisson, pv, pc, one, em.ScalarComponents{Rate: []float64{rate}, LearnedRate: []bool{true}})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "poisson rate", se.Rate, []float64{math.Sqrt(rate / n)}, 1e-10)

	// Bernoulli: 37 ones and 63 zeros.
	bv := []float64{1, 0}
	bc := []float64{37, 63}
	se, err = em.StdErrors(em.Bernoulli, bv, bc, one, em.ScalarComponents{P: []float64{0.37}, LearnedP: []bool{true}})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "bernoulli p", se.P, []float64{math.Sqrt(0.37 * 0.63 / 100)}, 1e-10)
	// A learned p on the boundary of [0, 1] has no Wald interval.
	se, err = em.StdErrors(em.Bernoulli, bv, []float64{0, 63}, one, em.ScalarComponents{P: []float64{0}, LearnedP: []bool{true}})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "bernoulli p = 0", se.P, []float64{math.NaN()}, 0)
	// So has a learned Poisson rate of 0 (a bag of zeros).
	se, err = em.StdErrors(em.Poisson, []float64{0}, []float64{40}, one, em.ScalarComponents{Rate: []float64{0}, LearnedRate: []bool{true}})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "poisson rate = 0", se.Rate, []float64{math.NaN()}, 0)
}

// seModel is a bag and a point (weights and parameters) of a scalar
// family's mixture, for the finite-difference reference. Its
// log-likelihood is written here, independently of package em.
type seModel struct {
	fam     em.Family
	xs, cs  []float64
	w       []float64 // weights (K)
	par     [2][]float64
	learned [2][]bool // nil: weights only
	logLik  []float64 // weights-only: the n×K table instead of xs
}

func (m seModel) k() int { return len(m.w) }

// coords returns the point as coordinates, the index of each learned
// parameter (component, parameter) in them, and each coordinate's natural
// scale: 1 for a weight, the sd for a Gaussian mean or sd, max(1, θ)
// otherwise.
func (m seModel) coords() (th []float64, idx [][2]int, scale []float64) {
	for j := 0; j < m.k()-1; j++ {
		th = append(th, m.w[j])
		scale = append(scale, 1)
	}
	for j := 0; j < m.k(); j++ {
		for p := 0; p < 2; p++ {
			if m.learned[p] != nil && m.learned[p][j] {
				th = append(th, m.par[p][j])
				idx = append(idx, [2]int{j, p})
				if m.fam == em.Gaussian {
					scale = append(scale, m.par[1][j])
				} else {
					scale = append(scale, math.Max(1, m.par[p][j]))
				}
			}
		}
	}
	return th, idx, scale
}

// eval returns the log-likelihood sum_i c_i log sum_k w_k f_k(x_i) at the
// coordinates th: the first K-1 weights (the last is one minus their sum),
// then the learned parameters named by idx (from coords).
func (m seModel) eval(th []float64, idx [][2]int) float64 {
	k := m.k()
	w := make([]float64, k)
	copy(w, th[:k-1])
	w[k-1] = 1
	for _, v := range th[:k-1] {
		w[k-1] -= v
	}
	par := [2][]float64{append([]float64(nil), m.par[0]...), append([]float64(nil), m.par[1]...)}
	for a, ij := range idx {
		par[ij[1]][ij[0]] = th[k-1+a]
	}
	n := len(m.xs)
	if m.logLik != nil {
		n = len(m.logLik) / k
	}
	ll := 0.0
	lf := make([]float64, k)
	for i := 0; i < n; i++ {
		c := 1.0
		if m.cs != nil {
			c = m.cs[i]
		}
		if c == 0 {
			continue
		}
		mx := math.Inf(-1)
		for j := 0; j < k; j++ {
			if m.logLik != nil {
				lf[j] = m.logLik[i*k+j]
			} else {
				x := m.xs[i]
				switch m.fam {
				case em.Gaussian:
					lf[j] = normalLogPDF(x, par[0][j], par[1][j])
				case em.Poisson:
					lf[j] = poissonLogPMF(x, par[0][j])
				case em.Bernoulli:
					lf[j] = math.Log(1 - par[0][j])
					if x == 1 {
						lf[j] = math.Log(par[0][j])
					}
				}
			}
			mx = math.Max(mx, lf[j])
		}
		p := 0.0
		for j := 0; j < k; j++ {
			p += w[j] * math.Exp(lf[j]-mx)
		}
		ll += c * (mx + math.Log(p))
	}
	return ll
}

// numericalSE returns the standard errors of the K weights and the learned
// parameters from the inverse of minus the Hessian of m.eval by central
// differences with Richardson extrapolation: with steps h_a = e times the
// coordinate's scale (see coords), the off-diagonal entries come from the
// four points (±h_a, ±h_b) and the diagonal ones from θ ± h_a; the Hessians
// for e = 2e-3 and 1e-3 are combined as (4 H(h/2) - H(h))/3, which leaves
// a truncation error of O(h⁴) ~ 1e-12 relative. Rounding error is about
// 1e-16 |l| / h² ~ 1e-10 |l| on entries of size n. Both are amplified by
// the condition number of the information in the standard errors (up to
// ~100 in these bags, whose components overlap). The inverse is gonum's
// LU-based mat.Dense.Inverse (StdErrors uses an eigendecomposition).
func (m seModel) numericalSE(t *testing.T) (wse []float64, pse [2][]float64) {
	th, idx, scale := m.coords()
	cov := numericalCov(t, func(p []float64) float64 { return m.eval(p, idx) }, th, scale)
	k := m.k()
	wse = weightSEs(cov, k)
	for p := range pse {
		if m.par[p] != nil {
			pse[p] = make([]float64, k)
		}
	}
	for a, ij := range idx {
		pse[ij[1]][ij[0]] = math.Sqrt(cov.At(k-1+a, k-1+a))
	}
	return wse, pse
}

// numericalCov returns the inverse of minus the Hessian of f at th, by
// central differences of steps 2e-3 and 1e-3 times scale (per
// coordinate), Richardson-extrapolated (error O(h⁴)). The inverse is
// gonum's LU-based mat.Dense.Inverse (StdErrors uses an
// eigendecomposition).
func numericalCov(t *testing.T, f func([]float64) float64, th, scale []float64) *mat.Dense {
	t.Helper()
	d := len(th)
	hessian := func(e float64) *mat.Dense {
		h := make([]float64, d)
		for a := range th {
			h[a] = e * scale[a]
		}
		at := func(a, b int, sa, sb float64) float64 {
			p := append([]float64(nil), th...)
			if a >= 0 {
				p[a] += sa * h[a]
			}
			if b >= 0 {
				p[b] += sb * h[b]
			}
			return f(p)
		}
		l0 := at(-1, -1, 0, 0)
		hm := mat.NewDense(d, d, nil)
		for a := 0; a < d; a++ {
			hm.Set(a, a, (at(a, -1, 1, 0)-2*l0+at(a, -1, -1, 0))/(h[a]*h[a]))
			for b := a + 1; b < d; b++ {
				v := (at(a, b, 1, 1) - at(a, b, 1, -1) - at(a, b, -1, 1) + at(a, b, -1, -1)) / (4 * h[a] * h[b])
				hm.Set(a, b, v)
				hm.Set(b, a, v)
			}
		}
		return hm
	}
	coarse, fine := hessian(2e-3), hessian(1e-3)
	neg := mat.NewDense(d, d, nil)
	for a := 0; a < d; a++ {
		for b := 0; b < d; b++ {
			neg.Set(a, b, -(4*fine.At(a, b)-coarse.At(a, b))/3)
		}
	}
	var cov mat.Dense
	if err := cov.Inverse(neg); err != nil {
		t.Fatalf("numerical Hessian: %v", err)
	}
	return &cov
}

// weightSEs returns the K weights' standard errors from cov, whose first
// K-1 coordinates are the free weights (the last weight is 1 minus their
// sum, so its variance is the sum of their covariances).
func weightSEs(cov *mat.Dense, k int) []float64 {
	wse := make([]float64, k)
	last := 0.0
	for a := 0; a < k-1; a++ {
		wse[a] = math.Sqrt(cov.At(a, a))
		for b := 0; b < k-1; b++ {
			last += cov.At(a, b)
		}
	}
	if k > 1 {
		wse[k-1] = math.Sqrt(last)
	}
	return wse
}

// seDraw draws n values from the mixture of fam with weights w and
// parameters par, and returns them with unit counts or, for discrete
// families, as (value, count) pairs.
func seDraw(rnd *rand.Rand, fam em.Family, n int, w []float64, par [2][]float64) (xs, cs []float64) {
	agg := map[float64]float64{}
	for i := 0; i < n; i++ {
		u, j := rnd.Float64(), 0
		for j < len(w)-1 && u >= w[j] {
			u -= w[j]
			j++
		}
		var x float64
		switch fam {
		case em.Gaussian:
			x = par[0][j] + par[1][j]*rnd.NormFloat64()
			xs = append(xs, x)
			continue
		case em.Poisson:
			x = distuv.Poisson{Lambda: par[0][j], Src: rnd}.Rand()
		case em.Bernoulli:
			if rnd.Float64() < par[0][j] {
				x = 1
			}
		}
		agg[x]++
	}
	if fam == em.Gaussian {
		return xs, nil
	}
	for x := 0.0; len(xs) < len(agg); x++ {
		if c, ok := agg[x]; ok {
			xs = append(xs, x)
			cs = append(cs, c)
		}
	}
	return xs, cs
}

// seComponents returns the parameters par (and flags learned) of fam as
// em.ScalarComponents.
func seComponents(fam em.Family, par [2][]float64, learned [2][]bool) em.ScalarComponents {
	switch fam {
	case em.Gaussian:
		return em.ScalarComponents{Mean: par[0], SD: par[1], LearnedMean: learned[0], LearnedSD: learned[1]}
	case em.Poisson:
		return em.ScalarComponents{Rate: par[0], LearnedRate: learned[0]}
	}
	return em.ScalarComponents{P: par[0], LearnedP: learned[0]}
}

// TestStdErrorsNumericalHessian compares the standard errors with those of
// a finite-difference Hessian (numericalSE) on seeded random bags, weights
// only and with learned parameters, at the true parameters (where the
// information is positive definite for these sample sizes) and, for
// weights only, at Fit's maximum. Tolerance 1e-6 relative: the largest
// difference is 1e-7, on the bag with large means and sds (rounding in the
// finite differences, see numericalSE); 3e-8 on the others.
func TestStdErrorsNumericalHessian(t *testing.T) {
	rnd := rand.New(rand.NewPCG(17, 29))
	type tcase struct {
		name    string
		fam     em.Family
		n       int
		w       []float64
		par     [2][]float64
		learned [2][]bool
	}
	tt, ff := true, false
	cases := []tcase{
		{name: "gaussian K=2 weights only", fam: em.Gaussian, n: 300, w: []float64{0.3, 0.7},
			par: [2][]float64{{0, 1.5}, {1, 1}}},
		{name: "gaussian K=3 weights only", fam: em.Gaussian, n: 400, w: []float64{0.2, 0.5, 0.3},
			par: [2][]float64{{-2, 0, 2.5}, {1, 0.5, 1.5}}},
		{name: "gaussian K=4 weights only", fam: em.Gaussian, n: 600, w: []float64{0.1, 0.2, 0.3, 0.4},
			par: [2][]float64{{-3, -1, 1, 3}, {1, 1, 1, 1}}},
		{name: "poisson K=3 weights only", fam: em.Poisson, n: 500, w: []float64{0.25, 0.35, 0.4},
			par: [2][]float64{{1, 4, 10}, nil}},
		{name: "gaussian K=2 learned all", fam: em.Gaussian, n: 400, w: []float64{0.4, 0.6},
			par: [2][]float64{{0, 4}, {1, 1.5}}, learned: [2][]bool{{tt, tt}, {tt, tt}}},
		{name: "gaussian K=3 learned some", fam: em.Gaussian, n: 600, w: []float64{0.3, 0.3, 0.4},
			par:     [2][]float64{{-3, 0, 3}, {1, 0.7, 1.2}},
			learned: [2][]bool{{tt, ff, tt}, {ff, tt, tt}}},
		{name: "gaussian K=2 large scale", fam: em.Gaussian, n: 300, w: []float64{0.5, 0.5},
			par: [2][]float64{{1e4, 1.2e4}, {500, 800}}, learned: [2][]bool{{tt, tt}, {tt, tt}}},
		{name: "poisson K=2 learned", fam: em.Poisson, n: 800, w: []float64{0.45, 0.55},
			par: [2][]float64{{2, 7}, nil}, learned: [2][]bool{{tt, tt}, nil}},
		{name: "poisson K=3 learned one", fam: em.Poisson, n: 800, w: []float64{0.3, 0.3, 0.4},
			par: [2][]float64{{1, 5, 12}, nil}, learned: [2][]bool{{ff, tt, ff}, nil}},
		{name: "bernoulli K=1 learned", fam: em.Bernoulli, n: 300, w: []float64{1},
			par: [2][]float64{{0.35}, nil}, learned: [2][]bool{{tt}, nil}},
	}
	var u em.Uncertainty
	for _, tc := range cases {
		for rep := 0; rep < 3; rep++ {
			name := fmt.Sprintf("%s #%d", tc.name, rep)
			xs, cs := seDraw(rnd, tc.fam, tc.n, tc.w, tc.par)
			comps := seComponents(tc.fam, tc.par, tc.learned)
			m := seModel{fam: tc.fam, xs: xs, cs: cs, w: tc.w, par: tc.par, learned: tc.learned}
			wantW, wantP := m.numericalSE(t)
			got, err := u.StdErrors(tc.fam, xs, cs, tc.w, comps)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			seCheck(t, name+" weights", got.Weights, wantW, 1e-6)
			gotP := [2][]float64{got.Mean, got.SD}
			switch tc.fam {
			case em.Poisson:
				gotP = [2][]float64{got.Rate, nil}
			case em.Bernoulli:
				gotP = [2][]float64{got.P, nil}
			}
			for p := range gotP {
				if wantP[p] != nil {
					seCheck(t, fmt.Sprintf("%s param %d", name, p), gotP[p], wantP[p], 1e-6)
				}
			}
			if tc.learned[0] != nil || tc.learned[1] != nil || tc.fam == em.Bernoulli {
				continue
			}
			// Weights only: the same through the table, at the truth and at
			// Fit's maximum.
			var lps []em.LogProber
			for j := range tc.w {
				if tc.fam == em.Gaussian {
					lps = append(lps, distuv.Normal{Mu: tc.par[0][j], Sigma: tc.par[1][j]})
				} else {
					lps = append(lps, distuv.Poisson{Lambda: tc.par[0][j]})
				}
			}
			tab := em.Table(nil, xs, lps)
			k := len(tc.w)
			ws, err := u.WeightStdErrors(nil, tab, cs, k, tc.w)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			seCheck(t, name+" table at truth", ws, wantW, 1e-6)
			res := fitOK(t, nil, name, tab, cs, k, em.Settings{})
			ws, err = u.WeightStdErrors(ws, tab, cs, k, res.Weights)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			mm := seModel{logLik: tab, cs: cs, w: res.Weights}
			wantW, _ = mm.numericalSE(t)
			seCheck(t, name+" table at Fit's maximum", ws, wantW, 1e-6)
		}
	}
}

// TestStdErrorsGolden compares with standard errors computed in R from the
// exact Hessian of the log-likelihood, differentiated symbolically by
// deriv(hessian = TRUE), at the same points (for learned parameters, the
// maximum found by an EM loop in R). The script is
// testdata/stderr_golden.R (R 4.2.2, numDeriv 2016.8-1.1), its output
// testdata/stderr_golden.out; numDeriv's Richardson-extrapolated Hessian
// agrees with the symbolic one to 2e-10. Tolerance 1e-12 relative
// (rounding in two different summation orders).
func TestStdErrorsGolden(t *testing.T) {
	g3 := em.Table(nil, goldenG3, normals([]float64{-2, 0, 2.5}, []float64{1, 0.5, 1.5}))
	got, err := em.WeightStdErrors(nil, g3, nil, 3, []float64{0.21249313104807629, 0.34847854374982057, 0.43902832520210316})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "gaussian K=3 weights only", got, []float64{0.064393596164466785, 0.080473541015070787, 0.074571659051871769}, 1e-12)

	p3 := em.Table(nil, goldenP3Values, poissons(1, 4, 10))
	got, err = em.WeightStdErrors(nil, p3, goldenP3Counts, 3, []float64{0.20225026464800347, 0.39757966857696958, 0.40017006677502692})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "poisson K=3 weights only", got, []float64{0.050787153675941853, 0.069024350237171891, 0.054334091519263772}, 1e-12)

	both := []bool{true, true}
	se, err := em.StdErrors(em.Gaussian, goldenG4, nil, []float64{0.65094569062132257, 0.34905430937867743}, em.ScalarComponents{
		Mean: []float64{-0.87678426507135854, 2.5973434923825249}, SD: []float64{1.4676204843271667, 0.48017318455055263},
		LearnedMean: both, LearnedSD: both,
	})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "gaussian K=2 learned, weights", se.Weights, []float64{0.066851062512496048, 0.066851062512496048}, 1e-12)
	seCheck(t, "gaussian K=2 learned, mean", se.Mean, []float64{0.27165586835798744, 0.11974967100188913}, 1e-12)
	seCheck(t, "gaussian K=2 learned, sd", se.SD, []float64{0.20404417494010726, 0.095946650910022607}, 1e-12)

	se, err = em.StdErrors(em.Gaussian, goldenG4, nil, []float64{0.41829186286884512, 0.58170813713115488}, em.ScalarComponents{
		Mean: []float64{-1.6579204875279745, 1.7695637786555727}, SD: []float64{1, 1.5}, LearnedMean: both,
	})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "gaussian K=2 learned means, weights", se.Weights, []float64{0.07068562984765199, 0.07068562984765199}, 1e-12)
	seCheck(t, "gaussian K=2 learned means, mean", se.Mean, []float64{0.21174862797916619, 0.2895629583431667}, 1e-12)
	seCheck(t, "gaussian K=2 learned means, sd", se.SD, []float64{0, 0}, 0)

	se, err = em.StdErrors(em.Poisson, goldenP3bValues, goldenP3bCounts, []float64{0.45764754832088245, 0.5423524516791175}, em.ScalarComponents{
		Rate: []float64{1.7069094100180073, 5.8489095362466639}, LearnedRate: both,
	})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "poisson K=2 learned, weights", se.Weights, []float64{0.069236735633972549, 0.069236735633972549}, 1e-12)
	seCheck(t, "poisson K=2 learned, rate", se.Rate, []float64{0.25766242204809942, 0.38970243371985053}, 1e-12)
}

// TestWeightStdErrorsBoundary: weights at (or within BoundaryWeight of)
// zero get NaN, and the others are those of the model without them; a
// weight of one (K > 1) gets NaN with all the others.
func TestWeightStdErrorsBoundary(t *testing.T) {
	// The mixsqp bag whose fourth weight is 0 at the maximum.
	tab4 := em.Table(nil, goldenG4, normals([]float64{-2, 0, 2, 0}, []float64{1, 1, 1, 3}))
	res := fitOK(t, nil, "gaussian K=4 boundary", tab4, nil, 4, em.Settings{})
	if res.Weights[3] != 0 {
		t.Fatalf("Fit's fourth weight is %g, want 0", res.Weights[3])
	}
	got, err := em.WeightStdErrors(nil, tab4, nil, 4, res.Weights)
	if err != nil {
		t.Fatal(err)
	}
	tab3 := em.Table(nil, goldenG4, normals([]float64{-2, 0, 2}, []float64{1, 1, 1}))
	want, err := em.WeightStdErrors(nil, tab3, nil, 3, res.Weights[:3])
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "K=4 with a zero weight", got, append(want, math.NaN()), 1e-12)
	for _, tiny := range []float64{1e-9, em.BoundaryWeight} {
		w := append([]float64(nil), res.Weights...)
		w[3] = tiny
		got, err := em.WeightStdErrors(nil, tab4, nil, 4, w)
		if err != nil {
			t.Fatal(err)
		}
		seCheck(t, fmt.Sprintf("K=4 with weight %g", tiny), got, append(want, math.NaN()), 1e-8)
	}
	// Just above the threshold the weight is interior: finite.
	w := append([]float64(nil), res.Weights...)
	w[3] = 1e-7
	got, _ = em.WeightStdErrors(nil, tab4, nil, 4, w)
	if math.IsNaN(got[3]) || math.IsInf(got[3], 0) {
		t.Errorf("weight 1e-7: SE %v, want finite", got[3])
	}

	// The 30-red bag: the maximum is w1 = 0 exactly, so w2 = 1.
	tab := seBernoulliTable(0.8, 0.3)
	res = fitOK(t, nil, "30 red", tab, []float64{30, 70}, 2, em.Settings{})
	got, err = em.WeightStdErrors(nil, tab, []float64{30, 70}, 2, res.Weights)
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "30 red of 100", got, []float64{math.NaN(), math.NaN()}, 0)
	got, _ = em.WeightStdErrors(nil, tab4, nil, 4, []float64{0, 1, 0, 0})
	seCheck(t, "a weight of one", got, []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()}, 0)

	// Learned parameters of a boundary component are NaN; the others are
	// those of the model without it.
	both := []bool{true, true, true}
	comps := em.ScalarComponents{Mean: []float64{-2, 2, 0}, SD: []float64{1, 1, 3}, LearnedMean: both, LearnedSD: []bool{false, true, true}}
	se, err := em.StdErrors(em.Gaussian, goldenG4, nil, []float64{0.5, 0.5, 0}, comps)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := em.StdErrors(em.Gaussian, goldenG4, nil, []float64{0.5, 0.5}, em.ScalarComponents{
		Mean: []float64{-2, 2}, SD: []float64{1, 1}, LearnedMean: both[:2], LearnedSD: []bool{false, true},
	})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "learned with a zero weight: weights", se.Weights, append(ref.Weights, math.NaN()), 1e-12)
	seCheck(t, "learned with a zero weight: mean", se.Mean, append(ref.Mean, math.NaN()), 1e-12)
	seCheck(t, "learned with a zero weight: sd", se.SD, append(ref.SD, math.NaN()), 1e-12)
}

// TestWeightStdErrorsSingular: components identical on the data leave the
// weights along the flat direction undetermined (+Inf); a weight unaffected
// by it keeps the standard error of the model with the identical components
// merged.
func TestWeightStdErrorsSingular(t *testing.T) {
	comps := normals([]float64{-2, 2}, []float64{1, 1})
	tab2 := em.Table(nil, goldenG4, comps)
	tab3 := em.Table(nil, goldenG4, []em.LogProber{comps[0], comps[1], comps[1]})
	res := fitOK(t, nil, "K=2", tab2, nil, 2, em.Settings{})
	want, err := em.WeightStdErrors(nil, tab2, nil, 2, res.Weights)
	if err != nil {
		t.Fatal(err)
	}
	inf := math.Inf(1)
	for _, split := range []float64{0.5, 0.1, 0.9} {
		// Any split of the second weight, whichever is the reference.
		w := []float64{res.Weights[0], split * res.Weights[1], (1 - split) * res.Weights[1]}
		got, err := em.WeightStdErrors(nil, tab3, nil, 3, w)
		if err != nil {
			t.Fatal(err)
		}
		seCheck(t, fmt.Sprintf("duplicated component, split %v", split), got, []float64{want[0], inf, inf}, 1e-10)
	}
	// All components identical: nothing is determined.
	same := em.Table(nil, goldenG4, []em.LogProber{comps[0], comps[0]})
	got, err := em.WeightStdErrors(nil, same, nil, 2, []float64{0.3, 0.7})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "identical components", got, []float64{inf, inf}, 0)
	// Nearly identical: finite, and large.
	near := em.Table(nil, goldenG4, []em.LogProber{comps[0], distuv.Normal{Mu: -2 + 1e-3, Sigma: 1}})
	got, err = em.WeightStdErrors(nil, near, nil, 2, []float64{0.3, 0.7})
	if err != nil {
		t.Fatal(err)
	}
	if !(got[0] > 10 && !math.IsInf(got[0], 1)) {
		t.Errorf("nearly identical components: SE %v, want finite and large", got)
	}
	// Bernoulli components with learned p: a bag of 0s and 1s determines
	// only P(x = 1), so everything is undetermined.
	se, err := em.StdErrors(em.Bernoulli, []float64{1, 0}, []float64{60, 40}, []float64{0.5, 0.5},
		em.ScalarComponents{P: []float64{0.8, 0.4}, LearnedP: []bool{true, true}})
	if err != nil {
		t.Fatal(err)
	}
	seCheck(t, "bernoulli learned K=2, weights", se.Weights, []float64{inf, inf}, 0)
	seCheck(t, "bernoulli learned K=2, p", se.P, []float64{inf, inf}, 0)
}

// TestWeightStdErrorsInvariance: the standard errors do not depend on the
// order of the components (nor so on which is the reference), and a reused
// Uncertainty gives what a fresh one does.
func TestWeightStdErrorsInvariance(t *testing.T) {
	comps := normals([]float64{-2, 0, 2.5}, []float64{1, 0.5, 1.5})
	w := []float64{0.21249313104807629, 0.34847854374982057, 0.43902832520210316}
	want, err := em.WeightStdErrors(nil, em.Table(nil, goldenG3, comps), nil, 3, w)
	if err != nil {
		t.Fatal(err)
	}
	var u em.Uncertainty
	var dst []float64
	for _, perm := range [][]int{{0, 1, 2}, {2, 0, 1}, {1, 2, 0}, {2, 1, 0}} {
		pc := make([]em.LogProber, 3)
		pw := make([]float64, 3)
		for a, b := range perm {
			pc[a], pw[a] = comps[b], w[b]
		}
		// Something else in between, to exercise reuse.
		if _, err := u.WeightStdErrors(dst, seBernoulliTable(0.8, 0.3), []float64{57, 43}, 2, []float64{0.54, 0.46}); err != nil {
			t.Fatal(err)
		}
		dst, err = u.WeightStdErrors(dst, em.Table(nil, goldenG3, pc), nil, 3, pw)
		if err != nil {
			t.Fatal(err)
		}
		pwant := make([]float64, 3)
		for a, b := range perm {
			pwant[a] = want[b]
		}
		seCheck(t, fmt.Sprintf("permutation %v", perm), dst, pwant, 1e-12)
	}
}

// TestStdErrorsErrors checks the data errors and the misuse panics.
func TestStdErrorsErrors(t *testing.T) {
	tab := seBernoulliTable(0.8, 0.3)
	w := []float64{0.5, 0.5}
	var ve *em.ValueError
	if _, err := em.WeightStdErrors(nil, []float64{math.NaN(), 0, -1, -2}, nil, 2, w); !errors.As(err, &ve) || ve.Row != 0 || ve.Component != 0 {
		t.Errorf("NaN log-density: err = %v, want *ValueError at row 0 component 0", err)
	}
	if _, err := em.WeightStdErrors(nil, tab, []float64{1, -1}, 2, w); !errors.As(err, &ve) || ve.Component != -1 {
		t.Errorf("negative count: err = %v, want *ValueError for a count", err)
	}
	var se *em.SupportError
	if _, err := em.WeightStdErrors(nil, []float64{math.Inf(-1), math.Inf(-1)}, nil, 2, w); !errors.As(err, &se) {
		t.Errorf("zero density: err = %v, want *SupportError", err)
	}
	if _, err := em.WeightStdErrors(nil, tab, []float64{0, 0}, 2, w); !errors.Is(err, em.ErrNoData) {
		t.Errorf("zero counts: err = %v, want ErrNoData", err)
	}
	for _, bad := range [][]float64{{-0.1, 1.1}, {math.NaN(), 1}, {0, 0}} {
		if _, err := em.WeightStdErrors(nil, tab, nil, 2, bad); err == nil {
			t.Errorf("weights %v: no error", bad)
		}
	}
	// An observation only a zero-weight component explains.
	if _, err := em.WeightStdErrors(nil, []float64{0, math.Inf(-1), -1, -1}, nil, 2, []float64{0, 1}); err == nil {
		t.Error("zero density under the weighted mixture: no error")
	}
	one := []float64{1}
	for _, tc := range []struct {
		fam   em.Family
		xs    []float64
		comps em.ScalarComponents
	}{
		{em.Bernoulli, []float64{2}, em.ScalarComponents{P: []float64{0.5}}},
		{em.Poisson, []float64{1.5}, em.ScalarComponents{Rate: []float64{1}}},
		{em.Poisson, []float64{-1}, em.ScalarComponents{Rate: []float64{1}}},
		{em.Gaussian, []float64{math.Inf(1)}, em.ScalarComponents{Mean: []float64{0}, SD: []float64{1}}},
		{em.Bernoulli, []float64{1}, em.ScalarComponents{P: []float64{1.5}}},
		{em.Poisson, []float64{1}, em.ScalarComponents{Rate: []float64{-1}}},
		{em.Gaussian, []float64{0}, em.ScalarComponents{Mean: []float64{0}, SD: []float64{0}}},
		{em.Gaussian, []float64{0}, em.ScalarComponents{Mean: []float64{math.NaN()}, SD: []float64{1}}},
	} {
		if _, err := em.StdErrors(tc.fam, tc.xs, nil, one, tc.comps); err == nil {
			t.Errorf("%v %v %+v: no error", tc.fam, tc.xs, tc.comps)
		}
	}
	// A value with count 0 is ignored, like a row of Fit.
	if _, err := em.StdErrors(em.Poisson, []float64{1.5, 2}, []float64{0, 3}, one, em.ScalarComponents{Rate: []float64{2}}); err != nil {
		t.Errorf("invalid value with count 0: %v", err)
	}
	panics := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	panics("table length", func() { em.WeightStdErrors(nil, []float64{0, 0, 0}, nil, 2, w) })
	panics("weights length", func() { em.WeightStdErrors(nil, tab, nil, 2, one) })
	panics("counts length", func() { em.WeightStdErrors(nil, tab, one, 2, w) })
	panics("categorical", func() { em.StdErrors(em.Categorical, []float64{0}, nil, one, em.ScalarComponents{}) })
	panics("param length", func() { em.StdErrors(em.Gaussian, []float64{0}, nil, w, em.ScalarComponents{Mean: one, SD: one}) })
	panics("flag length", func() {
		em.StdErrors(em.Poisson, []float64{0}, nil, one, em.ScalarComponents{Rate: one, LearnedRate: []bool{true, true}})
	})
}

// Coverage by simulation. Each test draws seeded bags from a known
// mixture, estimates, and counts how often the nominal 95% Wald interval
// estimate ± 1.959964 SE covers the truth; the rate must be within
// [0.93, 0.97]. With 2000 bags the Monte Carlo standard error of a rate
// near 0.95 is 0.005, so the band is ±4 standard errors.

const seZ95 = 1.959963984540054

type seCoverage struct {
	name       string
	hits, bags int
}

func (c *seCoverage) add(est, se, truth float64) {
	c.bags++
	if math.Abs(est-truth) <= seZ95*se {
		c.hits++
	}
}

func (c *seCoverage) check(t *testing.T) {
	t.Helper()
	rate := float64(c.hits) / float64(c.bags)
	t.Logf("%s: coverage %.4f (%d of %d bags)", c.name, rate, c.hits, c.bags)
	if rate < 0.93 || rate > 0.97 {
		t.Errorf("%s: 95%% intervals cover the truth in %.4f of %d bags, want [0.93, 0.97]", c.name, rate, c.bags)
	}
}

// TestStdErrorsCoverageBernoulli: the textbook factories, p = 0.8 and 0.3,
// w1 = 0.6, n = 500 marbles per bag, 4000 bags, weights by Fit.
func TestStdErrorsCoverageBernoulli(t *testing.T) {
	rnd := rand.New(rand.NewPCG(2024, 1))
	tab := seBernoulliTable(0.8, 0.3)
	var u em.Uncertainty
	var f em.Fitter
	var se []float64
	cov := [2]seCoverage{{name: "bernoulli w1"}, {name: "bernoulli w2"}}
	for bag := 0; bag < 4000; bag++ {
		red := 0.0
		for i := 0; i < 500; i++ {
			p := 0.3
			if rnd.Float64() < 0.6 {
				p = 0.8
			}
			if rnd.Float64() < p {
				red++
			}
		}
		counts := []float64{red, 500 - red}
		res := fitOK(t, &f, "bernoulli", tab, counts, 2, em.Settings{})
		var err error
		se, err = u.WeightStdErrors(se, tab, counts, 2, res.Weights)
		if err != nil {
			t.Fatal(err)
		}
		cov[0].add(res.Weights[0], se[0], 0.6)
		cov[1].add(res.Weights[1], se[1], 0.4)
	}
	for i := range cov {
		cov[i].check(t)
	}
}

// TestStdErrorsCoverageGaussian: fixed components N(-2, 1), N(0, 0.5),
// N(2.5, 1.5) with weights 0.3, 0.3, 0.4, n = 300 values per bag, 2000
// bags, weights by Fit.
func TestStdErrorsCoverageGaussian(t *testing.T) {
	rnd := rand.New(rand.NewPCG(2024, 2))
	truth := []float64{0.3, 0.3, 0.4}
	par := [2][]float64{{-2, 0, 2.5}, {1, 0.5, 1.5}}
	comps := normals(par[0], par[1])
	var u em.Uncertainty
	var f em.Fitter
	var se, tab []float64
	cov := []seCoverage{{name: "gaussian K=3 w1"}, {name: "gaussian K=3 w2"}, {name: "gaussian K=3 w3"}}
	for bag := 0; bag < 2000; bag++ {
		xs, _ := seDraw(rnd, em.Gaussian, 300, truth, par)
		tab = em.Table(tab, xs, comps)
		res := fitOK(t, &f, "gaussian", tab, nil, 3, em.Settings{})
		var err error
		se, err = u.WeightStdErrors(se, tab, nil, 3, res.Weights)
		if err != nil {
			t.Fatal(err)
		}
		for j := range cov {
			cov[j].add(res.Weights[j], se[j], truth[j])
		}
	}
	for i := range cov {
		cov[i].check(t)
	}
}

// seGaussianEM runs EM for a K=2 Gaussian mixture with every parameter
// learned, from the given start, until no parameter moves by more than
// 1e-10 (at most 5000 iterations); written here, independently of em. One
// pass per iteration sums, per component, the posteriors r and r·y, r·y²
// for y = x - (the current mean).
func seGaussianEM(xs []float64, w, mu, sd []float64) bool {
	for it := 0; it < 5000; it++ {
		// r0 = d0/(d0+d1) = 1/(1 + d1/d0), the ratio formed in logs.
		ratio := w[1] / sd[1] * sd[0] / w[0]
		var s0, s1, s2 [2]float64
		for _, x := range xs {
			y0, y1 := x-mu[0], x-mu[1]
			z0, z1 := y0/sd[0], y1/sd[1]
			r0 := 1 / (1 + ratio*math.Exp((z0*z0-z1*z1)/2))
			r1 := 1 - r0
			s0[0] += r0
			s1[0] += r0 * y0
			s2[0] += r0 * y0 * y0
			s0[1] += r1
			s1[1] += r1 * y1
			s2[1] += r1 * y1 * y1
		}
		move := 0.0
		for j := 0; j < 2; j++ {
			shift := s1[j] / s0[j]
			m := mu[j] + shift
			s := math.Sqrt(s2[j]/s0[j] - shift*shift)
			nw := s0[j] / float64(len(xs))
			move = math.Max(move, math.Max(math.Abs(nw-w[j]), math.Max(math.Abs(m-mu[j]), math.Abs(s-sd[j]))))
			w[j], mu[j], sd[j] = nw, m, s
		}
		if move < 1e-10 {
			return true
		}
	}
	return false
}

// TestStdErrorsCoverageLearned: a well-separated K=2 Gaussian mixture,
// 0.4 N(0, 1) + 0.6 N(5, 1.5), n = 800 values per bag, 4000 bags, weights,
// means and sds learned by the EM loop above started at the truth. (Wald
// intervals for a scale parameter undercover in small samples: with means
// 0 and 4 and n = 400, 8000 bags gave 0.937 to 0.945; here 6000 bags of
// another seed gave 0.945 to 0.950.)
func TestStdErrorsCoverageLearned(t *testing.T) {
	if testing.Short() {
		t.Skip("about 3 s, 30 s under -race; go test without -short runs it")
	}
	rnd := rand.New(rand.NewPCG(2024, 3))
	truthW := []float64{0.4, 0.6}
	par := [2][]float64{{0, 5}, {1, 1.5}}
	both := []bool{true, true}
	var u em.Uncertainty
	cov := []seCoverage{{name: "learned w1"}, {name: "learned mean1"}, {name: "learned mean2"}, {name: "learned sd1"}, {name: "learned sd2"}}
	for bag := 0; bag < 4000; bag++ {
		xs, _ := seDraw(rnd, em.Gaussian, 800, truthW, par)
		w := append([]float64(nil), truthW...)
		mu := append([]float64(nil), par[0]...)
		sd := append([]float64(nil), par[1]...)
		if !seGaussianEM(xs, w, mu, sd) {
			t.Fatalf("bag %d: EM did not converge", bag)
		}
		se, err := u.StdErrors(em.Gaussian, xs, nil, w, em.ScalarComponents{Mean: mu, SD: sd, LearnedMean: both, LearnedSD: both})
		if err != nil {
			t.Fatal(err)
		}
		if se.Weights[0] != se.Weights[1] && !seWithin(se.Weights[0], se.Weights[1], 1e-12) {
			t.Fatalf("bag %d: SE(w1) = %v, SE(w2) = %v differ", bag, se.Weights[0], se.Weights[1])
		}
		cov[0].add(w[0], se.Weights[0], truthW[0])
		cov[1].add(mu[0], se.Mean[0], par[0][0])
		cov[2].add(mu[1], se.Mean[1], par[0][1])
		cov[3].add(sd[0], se.SD[0], par[1][0])
		cov[4].add(sd[1], se.SD[1], par[1][1])
	}
	for i := range cov {
		cov[i].check(t)
	}
}

// BenchmarkWeightStdErrors: a K=3 Gaussian bag of 1000 distinct values at
// Fit's weights, with a reused Uncertainty and dst.
func BenchmarkWeightStdErrors(b *testing.B) {
	xs, comps := gaussianBenchBag(3, 1000)
	tab := em.Table(nil, xs, comps)
	res, err := em.Fit(tab, nil, 3, em.Settings{})
	if err != nil {
		b.Fatal(err)
	}
	var u em.Uncertainty
	var dst []float64
	for b.Loop() {
		dst, err = u.WeightStdErrors(dst, tab, nil, 3, res.Weights)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStdErrors: the same bag with every mean and sd learned (an
// 8×8 information matrix), at the generating parameters.
func BenchmarkStdErrors(b *testing.B) {
	xs, _ := gaussianBenchBag(3, 1000)
	all := []bool{true, true, true}
	comps := em.ScalarComponents{Mean: []float64{0, 2, 4}, SD: []float64{1, 1, 1}, LearnedMean: all, LearnedSD: all}
	w := []float64{1. / 3, 1. / 3, 1. / 3}
	var u em.Uncertainty
	for b.Loop() {
		if _, err := u.StdErrors(em.Gaussian, xs, nil, w, comps); err != nil {
			b.Fatal(err)
		}
	}
}
