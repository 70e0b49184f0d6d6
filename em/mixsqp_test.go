package em_test

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/em"
)

// categorical is a LogProber over the categories 0, 1, ..., len-1.
type categorical []float64

func (c categorical) LogProb(x float64) float64 { return math.Log(c[int(x)]) }

// Data of the mixsqp golden bags. The Gaussian values were drawn once from
// the mixtures named below (Go, math/rand/v2 PCG(7, 11)) and rounded to two
// decimals; the Poisson bags are (value, count) pairs.
var (
	// 60 draws from 0.3 N(-2,1) + 0.3 N(0,0.5) + 0.4 N(2.5,1.5).
	goldenG3 = []float64{-0.28, 4.12, 3.48, -0.04, 0.65, 2.73, 0.06, 2.42, 1.18, -1.05, -1.17, 0.56, -0.17, 0.97, 0.02, -1.01, 0.22, -0.74, 3.84, 3.55, -1.17, 2.86, -0.61, -1.88, 0.21, -2.16, 4.34, -0.86, -1.56, 0.13, 3.45, 0.28, 3.78, -1.69, 3.86, 1.08, 2.08, 0.12, 3.80, -0.94, -3.63, 2.95, -1.09, 2.80, 4.46, -0.20, -2.05, -0.14, 0.32, 0.54, -0.63, -1.18, 0.37, 1.09, 0.32, -1.43, 3.18, 4.02, 4.96, 3.71}
	// 80 draws from 0.5 N(-2,1) + 0.5 N(2,1).
	goldenG4 = []float64{-2.56, 3.08, 2.66, -2.09, 0.77, 2.15, 2.12, 1.95, 0.36, -1.05, -0.45, 0.56, -2.35, 0.98, 2.03, -1.01, 0.48, -0.74, 2.89, 2.70, -1.17, 2.24, 0.77, -1.88, 2.42, -2.16, 3.23, -3.71, -1.56, -1.74, 2.64, 2.57, 2.85, -1.69, 2.91, 0.15, 1.72, -1.75, 2.87, -0.94, -3.63, 2.30, -0.40, 2.20, 3.31, 1.59, -2.05, 0.24, -1.36, 3.08, -3.25, -1.18, -1.25, 1.06, -1.35, -1.43, 2.45, 3.01, 3.64, 2.81, -0.73, -0.63, -1.55, -1.19, 2.24, -4.36, -0.58, 2.58, 0.63, -2.12, -1.44, -1.48, 2.08, 2.97, 1.49, -2.28, 1.31, -1.24, -0.03, 1.16}
	// 200 draws from 0.3 N(-4,1) + 0.4 N(0,1) + 0.3 N(4,1).
	goldenG5 = []float64{-0.56, 1.08, 0.66, -0.09, 2.77, 4.15, 0.12, -0.05, 2.36, -3.05, -2.45, -1.44, -0.35, 2.98, 0.03, -3.01, 2.48, -2.74, 0.89, 4.70, -3.17, 0.24, -1.23, -3.88, 0.42, -4.16, 1.23, -1.71, -3.56, 0.26, 0.64, 0.57, 4.85, -3.69, 4.91, 2.15, 3.72, 0.25, 0.87, -2.94, -5.63, 0.30, -2.40, 4.20, 5.31, -0.41, -4.05, 2.24, 0.64, 1.08, -1.25, -3.18, 0.75, -0.94, 0.65, -3.43, 4.45, 5.01, 5.64, 4.81, 1.27, -2.63, -3.55, 0.81, 0.24, -2.36, -2.58, 4.58, 2.63, -4.12, 0.56, -3.48, 4.08, 0.97, -0.51, -4.28, 3.31, -3.24, -2.03, 3.16, 5.35, 5.58, 1.04, -0.65, -1.80, 5.32, 3.49, -2.16, 0.33, 0.67, 0.28, -4.82, -3.78, -0.70, -3.08, -0.13, -2.80, 5.99, 4.00, 1.24, 0.29, -2.72, -3.98, -4.72, -3.29, -1.25, -3.95, 3.71, -0.66, -3.77, 4.60, 4.22, -3.41, 4.85, 0.73, -3.11, 0.55, 0.67, -4.97, 1.11, 3.22, 4.71, -2.08, 0.77, -2.59, -5.48, 0.26, 4.09, -3.28, 4.32, -3.26, 0.17, 0.61, -4.07, -2.04, -3.49, 4.42, 0.19, 2.64, -0.43, -0.59, 1.49, 1.07, -3.09, 3.70, 4.20, -1.55, -4.12, 0.12, -3.85, 0.35, 0.47, -5.72, 0.22, -4.52, -5.95, -3.00, -3.60, 0.03, -3.51, -2.39, 0.83, -4.32, -1.91, 3.21, -4.35, 4.07, -3.40, -3.76, 3.80, 0.56, -0.16, 3.53, 0.88, -1.02, -3.31, 3.39, -3.66, -5.12, -4.10, 0.00, -3.31, -4.64, -3.03, 0.10, 5.67, -3.73, -4.82, -4.26, -2.83, 0.63, 3.23, -4.61, 0.67, 4.14, 5.05, 4.89, -0.31, 5.15, -3.66}
	// 120 draws from 0.3 Poisson(1) + 0.3 Poisson(4) + 0.4 Poisson(10).
	goldenP3Values = []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 18}
	goldenP3Counts = []float64{8, 15, 10, 15, 8, 9, 7, 8, 7, 7, 6, 6, 3, 4, 3, 3, 1}
	// 150 draws from 0.5 Poisson(2) + 0.5 Poisson(6).
	goldenP3bValues = []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12}
	goldenP3bCounts = []float64{9, 27, 25, 14, 14, 15, 14, 13, 12, 2, 3, 2}

	goldenCategories = []float64{0, 1, 2, 3}
	goldenCatComps   = []em.LogProber{
		categorical{0.5, 0.2, 0.2, 0.1},
		categorical{0.1, 0.5, 0.2, 0.2},
		categorical{0.1, 0.1, 0.3, 0.5},
	}
)

func normals(mu, sigma []float64) []em.LogProber {
	comps := make([]em.LogProber, len(mu))
	for k := range mu {
		comps[k] = distuv.Normal{Mu: mu[k], Sigma: sigma[k]}
	}
	return comps
}

func poissons(lambda ...float64) []em.LogProber {
	comps := make([]em.LogProber, len(lambda))
	for k, l := range lambda {
		comps[k] = distuv.Poisson{Lambda: l}
	}
	return comps
}

// mixsqpGolden are maximum-likelihood weights computed with R 4.2.2 and the
// mixsqp package 0.3.48 (Kim, Carbonetto, Stephens; Debian r-cran-mixsqp) by
//
//	mixsqp(logL, w = counts, log = TRUE, control = list(tol.svd = 0, eps = 0,
//	  convtol.sqp = 1e-12, convtol.activeset = 1e-14,
//	  zero.threshold.solution = 1e-14, zero.threshold.searchdir = 1e-16,
//	  maxiter.sqp = 10000, numiter.em = 10))
//
// with logL[i, k] = dnorm(x_i, mu_k, sigma_k, log = TRUE), dpois(x_i,
// lambda_k, log = TRUE) or log(p_k[x_i]) on the data above. eps = 0 and
// tol.svd = 0 make mixsqp solve max sum_i c_i log sum_k L_ik w_k over the
// simplex exactly, without its default offset and low-rank approximation.
// Every fit reported "converged to optimal solution", and at its weights the
// relative gradient e_k = g_k/N - 1 recomputed in R was below 6e-15 in
// absolute value on the support, which puts the weights within about 1e-13
// of the maximum; on the zero weights e_k was clearly negative (listed as
// zeroGap), so those maxima are on the boundary. wantLL is
// sum_i c_i log sum_k w_k exp(logL[i, k]) at mixsqp's weights, computed in
// R and printed with %.17g. The R script is abridged in the comment of
// TestMixsqpGolden.
var mixsqpGolden = []struct {
	name    string
	xs      []float64
	counts  []float64
	comps   []em.LogProber
	want    []float64 // mixsqp's x
	wantLL  float64   // R, at want
	zeroGap []float64 // e_k from R at each zero weight
}{
	{
		name:   "categorical K=3 interior",
		xs:     goldenCategories,
		counts: []float64{31, 27, 22, 20},
		comps:  goldenCatComps,
		want:   []float64{0.52678410922221064, 0.29423545590461786, 0.1789804348731715},
		wantLL: -137.15961576971284,
	},
	{
		name:    "categorical K=3 boundary",
		xs:      goldenCategories,
		counts:  []float64{40, 35, 15, 10},
		comps:   goldenCatComps,
		want:    []float64{0.67956815637712653, 0.32043184362287358, 0},
		wantLL:  -126.55440490149215,
		zeroGap: []float64{-0.171},
	},
	{
		name:   "gaussian K=3 interior",
		xs:     goldenG3,
		comps:  normals([]float64{-2, 0, 2.5}, []float64{1, 0.5, 1.5}),
		want:   []float64{0.21249313104807629, 0.34847854374982057, 0.43902832520210316},
		wantLL: -125.14825608558579,
	},
	{
		name:    "gaussian K=4 boundary",
		xs:      goldenG4,
		comps:   normals([]float64{-2, 0, 2, 0}, []float64{1, 1, 1, 3}),
		want:    []float64{0.38681280204688312, 0.12866035803466108, 0.4845268399184558, 0},
		wantLL:  -162.78250522751185,
		zeroGap: []float64{-0.129},
	},
	{
		name:    "gaussian K=5 boundary",
		xs:      goldenG5,
		comps:   normals([]float64{-4, -2, 0, 2, 4}, []float64{1, 1, 1, 1, 1}),
		want:    []float64{0.32791402605651132, 0.043250079591469807, 0.38038512204683345, 0, 0.24845077230518545},
		wantLL:  -475.59760467645742,
		zeroGap: []float64{-0.115},
	},
	{
		name:   "poisson K=3 interior",
		xs:     goldenP3Values,
		counts: goldenP3Counts,
		comps:  poissons(1, 4, 10),
		want:   []float64{0.20225026464800347, 0.39757966857696958, 0.40017006677502692},
		wantLL: -329.02940410011496,
	},
	{
		name:    "poisson K=3 boundary",
		xs:      goldenP3bValues,
		counts:  goldenP3bCounts,
		comps:   poissons(2, 5, 6),
		want:    []float64{0.50054693509634995, 0, 0.4994530649036501},
		wantLL:  -349.25430830343123,
		zeroGap: []float64{-0.0141},
	},
}

// TestMixsqpGolden compares Fit with the mixsqp golden weights above.
//
// Tolerances: weights within 1e-8 of mixsqp's (the package promise; mixsqp's
// own error is about 1e-13, see mixsqpGolden, well inside the 1e-6 floor
// that a less certain reference would need). Independently of mixsqp's
// accuracy, Fit's log-likelihood must be at least mixsqp's less 1e-9, and
// Fit's weights must pass the KKT conditions recomputed in the test:
// e_k <= 1e-9 for every k and |e_k| <= 1e-9 where w_k > 1e-9.
//
// R script, abridged: with ctl the control list above, for each bag,
//
//	fit <- mixsqp(logL, w = counts, log = TRUE, control = ctl)
//	m <- apply(logL, 1, max); F <- exp(logL - m); p <- F %*% fit$x
//	ll <- sum(counts * (m + log(p)))
//	e <- t(F) %*% (counts / p) / sum(counts) - 1
//	cat(sprintf("%.17g", fit$x), sprintf("%.17g", ll), sprintf("%.3g", e))
func TestMixsqpGolden(t *testing.T) {
	for _, test := range mixsqpGolden {
		k := len(test.comps)
		tab := em.Table(nil, test.xs, test.comps)
		res := fitOK(t, nil, test.name, tab, test.counts, k, em.Settings{})
		checkSimplex(t, test.name, res.Weights)
		if !res.Converged {
			t.Errorf("%s: not converged after %d iterations (gap %.3g)", test.name, res.Iterations, res.Gap)
		}
		for j, w := range test.want {
			if d := math.Abs(res.Weights[j] - w); d > 1e-8 {
				t.Errorf("%s: weight %d = %.15g, mixsqp %.15g (off by %.3g)", test.name, j, res.Weights[j], w, d)
			}
		}
		if res.LogLikelihood < test.wantLL-1e-9 {
			t.Errorf("%s: LogLikelihood %.15g is below mixsqp's %.15g", test.name, res.LogLikelihood, test.wantLL)
		}
		// Gap's certificate: the maximum is at most N log1p(Gap) above
		// LogLikelihood (slack 1e-12 relative for rounding).
		n := float64(len(test.xs))
		if test.counts != nil {
			n = floatsSum(test.counts)
		}
		if bound := n * math.Log1p(math.Max(res.Gap, 0)); test.wantLL-res.LogLikelihood > bound+1e-12*math.Abs(test.wantLL) {
			t.Errorf("%s: mixsqp's log-likelihood is %.3g above Fit's, more than N log1p(Gap) = %.3g",
				test.name, test.wantLL-res.LogLikelihood, bound)
		}
		// The reference values themselves are consistent with the test's
		// own computation (tolerance 1e-12 relative: log-densities from
		// gonum vs R's dnorm/dpois).
		if ll := logLikelihood(tab, test.counts, test.want); math.Abs(ll-test.wantLL) > 1e-12*math.Abs(ll) {
			t.Errorf("%s: log-likelihood at mixsqp's weights is %.17g in Go, %.17g in R", test.name, ll, test.wantLL)
		}
		e := relGradient(tab, test.counts, res.Weights)
		for j, ej := range e {
			if ej > 1e-9 || (res.Weights[j] > 1e-9 && ej < -1e-9) {
				t.Errorf("%s: KKT fails at component %d: w = %.3g, g/N - 1 = %.3g", test.name, j, res.Weights[j], ej)
			}
		}
		// The boundary maxima are strict: recompute e_k at mixsqp's zero
		// weights (tolerance 1e-3 on R's 3-digit print).
		eRef := relGradient(tab, test.counts, test.want)
		z := 0
		for j, w := range test.want {
			if w != 0 {
				continue
			}
			if z >= len(test.zeroGap) || math.Abs(eRef[j]-test.zeroGap[z]) > 1e-3 {
				t.Errorf("%s: e_%d = %.3g at mixsqp's weights, R says %v", test.name, j, eRef[j], test.zeroGap)
			}
			z++
		}
	}
}
