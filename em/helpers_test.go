package em_test

import (
	"math"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// Helpers shared by the em tests. None of them calls into package em except
// where noted: the reference values they produce are independent of the code
// under test.

// bernoulliMLE returns the exact maximum-likelihood weight of the first of two
// Bernoulli components with success probabilities p1 != p2, for a bag with n1
// successes and n0 failures: the likelihood depends on w1 only through
// q = w1 p1 + (1-w1) p2, whose unconstrained maximiser is the sample mean, so
// w1 = clip((mean - p2)/(p1 - p2), 0, 1).
func bernoulliMLE(n1, n0, p1, p2 float64) float64 {
	mean := n1 / (n1 + n0)
	w := (mean - p2) / (p1 - p2)
	return math.Min(math.Max(w, 0), 1)
}

// bernoulliLogLik returns n1 log q + n0 log(1-q), q = w1 p1 + (1-w1) p2,
// leaving out a term whose count is zero (0 log 0 = 0).
func bernoulliLogLik(n1, n0, p1, p2, w1 float64) float64 {
	q := w1*p1 + (1-w1)*p2
	ll := 0.0
	if n1 > 0 {
		ll += n1 * math.Log(q)
	}
	if n0 > 0 {
		ll += n0 * math.Log(1-q)
	}
	return ll
}

// Log-densities written out in the tests, independently of em.Table and of
// gonum's distuv.

func normalLogPDF(x, mu, sigma float64) float64 {
	z := (x - mu) / sigma
	return -0.5*math.Log(2*math.Pi) - math.Log(sigma) - 0.5*z*z
}

func poissonLogPMF(x, lambda float64) float64 {
	lg, _ := math.Lgamma(x + 1)
	return x*math.Log(lambda) - lambda - lg
}

// twoComponentMLE returns the maximiser over w1 in [0, 1] of
//
//	l(w1) = sum_i c_i log(w1 f1_i + (1-w1) f2_i)
//
// for the two columns of log-densities lf1, lf2 (one entry per row) and counts
// c. l is concave, so its derivative
//
//	dl/dw1 = sum_i c_i (f1_i - f2_i) / p_i
//
// is non-increasing: the maximum is at 0 if the derivative is <= 0 there, at 1
// if it is >= 0 there, and otherwise at the root found by bisection down to an
// interval of width 1e-15. Each row is scaled by its larger density before
// exponentiating (the scale does not change the sign of the derivative).
func twoComponentMLE(lf1, lf2, c []float64) float64 {
	n := len(c)
	f1 := make([]float64, n)
	f2 := make([]float64, n)
	for i := range c {
		m := math.Max(lf1[i], lf2[i])
		f1[i] = math.Exp(lf1[i] - m)
		f2[i] = math.Exp(lf2[i] - m)
	}
	deriv := func(w float64) float64 {
		// Neumaier-compensated sum: the sign near the root is what matters.
		var s, comp float64
		for i := range c {
			if c[i] == 0 {
				continue
			}
			p := w*f1[i] + (1-w)*f2[i]
			t := c[i] * (f1[i] - f2[i]) / p
			u := s + t
			if math.Abs(s) >= math.Abs(t) {
				comp += (s - u) + t
			} else {
				comp += (t - u) + s
			}
			s = u
		}
		return s + comp
	}
	if deriv(0) <= 0 {
		return 0
	}
	if deriv(1) >= 0 {
		return 1
	}
	lo, hi := 0.0, 1.0
	for hi-lo > 1e-15 {
		mid := lo + (hi-lo)/2
		if mid == lo || mid == hi {
			break
		}
		if deriv(mid) > 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + (hi-lo)/2
}

// relGradient returns e_k = g_k/N - 1 with g_k = sum_i c_i f_k(x_i)/p(x_i), the
// relative gradient of the log-likelihood, computed directly from the n×K
// log-density table (counts nil means 1 per row). It is the test's own KKT
// check: at the maximum e_k = 0 where w_k > 0 and e_k <= 0 where w_k = 0.
func relGradient(logLik, counts, w []float64) []float64 {
	k := len(w)
	n := len(logLik) / k
	g := make([]float64, k)
	total := 0.0
	f := make([]float64, k)
	for i := 0; i < n; i++ {
		c := 1.0
		if counts != nil {
			c = counts[i]
		}
		if c == 0 {
			continue
		}
		row := logLik[i*k : (i+1)*k]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		p := 0.0
		for j, v := range row {
			f[j] = math.Exp(v - m)
			p += w[j] * f[j]
		}
		for j := range g {
			g[j] += c * f[j] / p
		}
		total += c
	}
	for j := range g {
		g[j] = g[j]/total - 1
	}
	return g
}

// logLikelihood returns sum_i c_i log sum_k w_k exp(logLik[i,k]), computed
// directly in the test.
func logLikelihood(logLik, counts, w []float64) float64 {
	k := len(w)
	n := len(logLik) / k
	ll := 0.0
	for i := 0; i < n; i++ {
		c := 1.0
		if counts != nil {
			c = counts[i]
		}
		if c == 0 {
			continue
		}
		row := logLik[i*k : (i+1)*k]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		p := 0.0
		for j, v := range row {
			p += w[j] * math.Exp(v-m)
		}
		ll += c * (m + math.Log(p))
	}
	return ll
}

// checkSimplex reports weights that are negative, not finite, or do not sum
// to one within 1e-12.
func checkSimplex(t *testing.T, name string, w []float64) {
	t.Helper()
	sum := 0.0
	for j, v := range w {
		if !(v >= 0) || math.IsInf(v, 0) {
			t.Errorf("%s: weight %d = %v is not a finite non-negative number", name, j, v)
		}
		sum += v
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("%s: weights %v sum to 1%+.3g", name, w, sum-1)
	}
}

// fitOK runs em.Fit (or f.Fit when f is not nil) and fails the test on an
// error.
func fitOK(t *testing.T, f *em.Fitter, name string, logLik, counts []float64, k int, s em.Settings) em.Result {
	t.Helper()
	var (
		res em.Result
		err error
	)
	if f == nil {
		res, err = em.Fit(logLik, counts, k, s)
	} else {
		res, err = f.Fit(logLik, counts, k, s)
	}
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", name, err)
	}
	return res
}
