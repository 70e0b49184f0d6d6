package em_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// poissonGolden holds {x, λ, log f(x; λ)} from R 4.2.2 (2022-11-10
// r83330), dpois(x, lambda, log = TRUE), on a grid of rates from 1e-10 to
// 1e15 and, for each, values 0, small ones, values at, near (±3 sd, +30
// sd) and far from the rate (λ/2, 2λ, 10λ, 1e6). Made by
//
//	lams <- c(1e-10, 0.001, 0.5, 1, 3.7, 10, 100, 1234.5, 1e5, 1e7, 1e9, 1e12, 1e12+3e6, 1e15)
//	out <- NULL
//	for (l in lams) {
//	  s <- sqrt(l)
//	  xs <- c(0, 1, 2, 7, 15, 16, 40, floor(l), floor(l)+1, round(l - 3*s), round(l + 3*s),
//	          round(l + 30*s), round(l/2), round(2*l), round(10*l), 1e6)
//	  xs <- sort(unique(xs[xs >= 0]))
//	  for (x in xs) out <- rbind(out, c(x, l, dpois(x, l, log = TRUE)))
//	}
//	cat(sprintf("{%.17g, %.17g, %.17g},\n", out[,1], out[,2], out[,3]), sep = "")
//
// R is exact on this grid: against x log λ − λ − log Γ(x+1) in 60-digit
// arithmetic (Python mpmath 1.3.0) its largest relative error is 2.7e-16
// (at x = 1e16, λ = 1e15). The test's tolerance, 1e-14 relative, leaves
// room for the last bits of log and of the series' order of summation.
var poissonGolden = [][3]float64{
	{0, 1e-10, -1e-10},
	{1, 1e-10, -23.025850930040459},
	{2, 1e-10, -46.744849040540863},
	{7, 1e-10, -169.70611787074861},
	{15, 1e-10, -373.2870353330477},
	{16, 1e-10, -399.08547498522796},
	{40, 1e-10, -1031.3546769124755},
	{1000000, 1e-10, -35841369.314598627},
	{0, 0.001, -0.001},
	{1, 0.001, -6.9087552789821363},
	{2, 0.001, -14.50965773852422},
	{7, 0.001, -56.88044831394037},
	{15, 0.001, -131.51660056857295},
	{16, 0.001, -141.19694456979488},
	{40, 0.001, -386.63185087404287},
	{1000000, 0.001, -19723273.664640304},
	{0, 0.5, -0.5},
	{1, 0.5, -1.1931471805599452},
	{2, 0.5, -2.5794415416798357},
	{3, 0.5, -4.3712010109078907},
	{5, 0.5, -8.7532276455817737},
	{7, 0.5, -13.877191624985032},
	{15, 0.5, -38.79647909224007},
	{16, 0.5, -42.262214995039798},
	{22, 0.5, -64.220419324154022},
	{40, 0.5, -138.54652693715522},
	{1000000, 0.5, -13508666.065218115},
	{0, 1, -1},
	{1, 1, -0.99999999999999989},
	{2, 1, -1.6931471805599454},
	{4, 1, -4.1780538303479453},
	{7, 1, -9.5251613610654147},
	{10, 1, -16.104412573075514},
	{15, 1, -28.899271383840894},
	{16, 1, -31.671860106080675},
	{31, 1, -79.092223553315307},
	{40, 1, -111.32063971475741},
	{1000000, 1, -12815519.384658169},
	{0, 3.7000000000000002, -3.7000000000000002},
	{1, 3.7000000000000002, -2.3916671803498213},
	{2, 3.7000000000000002, -1.7764815412595878},
	{3, 3.7000000000000002, -1.5667610102775189},
	{4, 3.7000000000000002, -1.6447225517472306},
	{7, 3.7000000000000002, -3.0668316235141626},
	{9, 3.7000000000000002, -4.7268321032298601},
	{15, 3.7000000000000002, -11.97427908908821},
	{16, 3.7000000000000002, -13.438534991677811},
	{37, 3.7000000000000002, -54.622298127730815},
	{40, 3.7000000000000002, -61.687326928750238},
	{61, 3.7000000000000002, -116.63074528918401},
	{1000000, 3.7000000000000002, -11507189.265007991},
	{0, 10, -10},
	{1, 10, -7.6974149070059532},
	{2, 10, -6.0879769945718536},
	{5, 10, -3.2745662778118176},
	{7, 10, -2.4070657101070942},
	{10, 10, -2.0785616431350586},
	{11, 10, -2.1738718229393834},
	{15, 10, -3.3604949889302063},
	{16, 10, -3.8304986181759419},
	{19, 10, -5.5907674203126261},
	{20, 10, -6.2839146008725715},
	{40, 10, -28.217235994995569},
	{100, 10, -143.48086625615892},
	{105, 10, -155.14111435884274},
	{1000000, 10, -10512943.291664124},
	{0, 100, -100},
	{1, 100, -95.394829814011899},
	{2, 100, -91.48280680858376},
	{7, 100, -76.288970059148767},
	{15, 100, -58.821718594019522},
	{16, 100, -56.98913713027121},
	{40, 100, -26.11383227523374},
	{50, 100, -18.219257652368466},
	{70, 100, -8.0771305466105581},
	{100, 100, -3.2223569567543535},
	{101, 100, -3.2323072876075214},
	{130, 100, -7.4607011635829972},
	{200, 100, -42.197949994787201},
	{400, 100, -258.43262358800484},
	{1000, 100, -1406.9579925000721},
	{1000000, 100, -8210448.1986700781},
	{0, 1234.5, -1234.5},
	{1, 1234.5, -1227.3815786912148},
	{2, 1234.5, -1220.9563045629893},
	{7, 1234.5, -1193.1962121995687},
	{15, 1234.5, -1155.6229517520624},
	{16, 1234.5, -1151.2771191655168},
	{40, 1234.5, -1060.0837873633479},
	{617, 1234.5, -193.70974833640892},
	{1129, 1234.5, -9.0757584333493},
	{1234, 1234.5, -4.4781154357422297},
	{1235, 1234.5, -4.4785203760190724},
	{1340, 1234.5, -8.9040159427593544},
	{2289, 1234.5, -363.62769666120454},
	{2469, 1234.5, -481.70514533223837},
	{12345, 1234.5, -17320.54242149596},
	{1000000, 1234.5, -5698331.5758729354},
	{0, 100000, -100000},
	{1, 100000, -99988.48707453502},
	{2, 100000, -99977.667296250627},
	{7, 100000, -99927.934683106287},
	{15, 100000, -99855.205389409297},
	{16, 100000, -99846.465052666565},
	{40, 100000, -99649.803621115949},
	{50000, 100000, -15348.969801344811},
	{99051, 100000, -11.187951931822301},
	{100000, 100000, -6.6754020990231195},
	{100001, 100000, -6.67541209897312},
	{100949, 100000, -11.168952419526406},
	{109487, 100000, -443.14446273856669},
	{200000, 100000, -38636.458087261693},
	{1000000, 100000, -1402592.9196879412},
	{0, 10000000, -10000000},
	{1, 10000000, -9999983.8819043487},
	{2, 10000000, -9999968.4569558781},
	{7, 10000000, -9999895.6984918043},
	{15, 10000000, -9999786.1278366186},
	{16, 10000000, -9999772.7823296897},
	{40, 10000000, -9999465.5968136769},
	{1000000, 10000000, -6697422.7336998498},
	{5000000, 10000000, -1534272.7286130586},
	{9990513, 10000000, -13.479094017413948},
	{10000000, 10000000, -8.9779863670171665},
	{10000001, 10000000, -8.9779864670171605},
	{10009487, 10000000, -13.477196516699911},
	{10094868, 10000000, -457.56328022898191},
	{20000000, 10000000, -3862952.9357588594},
	{100000000, 10000000, -140258519.42868346},
	{0, 1000000000, -1000000000},
	{1, 1000000000, -999999979.27673411},
	{2, 1000000000, -999999959.24661553},
	{7, 1000000000, -999999863.46230054},
	{15, 1000000000, -999999717.05028379},
	{16, 1000000000, -999999699.09960675},
	{40, 1000000000, -999999281.39000618},
	{1000000, 1000000000, -992092252.54771173},
	{500000000, 1000000000, -153426420.65402523},
	{999905132, 1000000000, -15.780635035271974},
	{1000000000, 1000000000, -11.28057145176121},
	{1000000001, 1000000000, -11.28057145276121},
	{1000094868, 1000000000, -15.780445301250294},
	{1000948683, 1000000000, -461.13852791383653},
	{2000000000, 1000000000, -386294372.74703568},
	{10000000000, 1000000000, -14025850942.37232},
	{0, 1000000000000, -1000000000000},
	{1, 1000000000000, -999999999972.36902},
	{2, 1000000000000, -999999999945.43115},
	{7, 1000000000000, -999999999815.10791},
	{15, 1000000000000, -999999999613.43396},
	{16, 1000000000000, -999999999588.57544},
	{40, 1000000000000, -999999999005.07983},
	{1000000, 1000000000000, -999985184497.26868},
	{500000000000, 1000000000000, -153426409734.41522},
	{999997000000, 1000000000000, -19.23445209117353},
	{1000000000000, 1000000000000, -14.734449091169031},
	{1000000000001, 1000000000000, -14.734449091170029},
	{1000003000000, 1000000000000, -19.234446091173531},
	{1000030000000, 1000000000000, -464.72996415844284},
	{2000000000000, 1000000000000, -386294361134.97162},
	{10000000000000, 1000000000000, -14025850929956.342},
	{0, 1000003000000, -1000003000000},
	{1, 1000003000000, -1000002999972.369},
	{2, 1000003000000, -1000002999945.431},
	{7, 1000003000000, -1000002999815.1079},
	{15, 1000003000000, -1000002999613.4338},
	{16, 1000003000000, -1000002999588.5754},
	{40, 1000003000000, -1000002999005.0797},
	{1000000, 1000003000000, -999988184494.26868},
	{500001500000, 1000003000000, -153426870013.64441},
	{999999999996, 1000003000000, -19.234452091177282},
	{1000003000000, 1000003000000, -14.73445059116678},
	{1000003000001, 1000003000000, -14.73445059116778},
	{1000006000004, 1000003000000, -19.234446091190279},
	{1000033000045, 1000003000000, -464.72996566618036},
	{2000006000000, 1000003000000, -386295520018.05499},
	{10000030000000, 1000003000000, -14025893007509.133},
	{0, 1000000000000000, -1000000000000000},
	{1, 1000000000000000, -999999999999965.38},
	{2, 1000000000000000, -999999999999931.62},
	{7, 1000000000000000, -999999999999766.75},
	{15, 1000000000000000, -999999999999509.75},
	{16, 1000000000000000, -999999999999478},
	{40, 1000000000000000, -999999999998728.75},
	{1000000, 1000000000000000, -999999978276742},
	{500000000000000, 1000000000000000, -153426409720045.19},
	{999999905131670, 1000000000000000, -22.6883268440228},
	{1000000000000000, 1000000000000000, -18.188326730660016},
	{1000000000000001, 1000000000000000, -18.188326730660016},
	{1000000094868330, 1000000000000000, -22.68832665428614},
	{1000000948683298, 1000000000000000, -468.18818485465266},
	{2000000000000000, 1000000000000000, -386294361119909.19},
	{10000000000000000, 1000000000000000, -14025850929940480},
}

func TestPoissonLogProbR(t *testing.T) {
	worst := 0.0
	for _, g := range poissonGolden {
		x, l, want := g[0], g[1], g[2]
		got := em.PoissonLogProb(x, l)
		rel := math.Abs(got-want) / math.Abs(want)
		worst = max(worst, rel)
		if !(rel <= 1e-14) {
			t.Errorf("PoissonLogProb(%.17g, %.17g) = %.17g, R %.17g (relative error %.2g)", x, l, got, want, rel)
		}
	}
	t.Logf("largest relative error against R: %.2g over %d points", worst, len(poissonGolden))
}

func TestPoissonLogProbSpecial(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	for _, tc := range []struct{ x, l, want float64 }{
		{0, 0, 0}, {1, 0, -inf}, {0, 3.5, -3.5}, {0, 1e300, -1e300},
		{-1, 2, -inf}, {1.5, 2, -inf}, {inf, 2, -inf}, {3, inf, -inf},
		{nan, 2, nan}, {2, nan, nan}, {2, -1, nan},
		{1, 1, -1}, // e^-1 exactly: stirlerr(1) from the table
		{5, 1e-300, -1e-300 + 5*math.Log(1e-300) - math.Log(120)},
	} {
		got := em.PoissonLogProb(tc.x, tc.l)
		ok := got == tc.want || math.IsNaN(got) && math.IsNaN(tc.want) || math.Abs(got-tc.want) <= 1e-15*math.Abs(tc.want)
		if !ok {
			t.Errorf("PoissonLogProb(%v, %v) = %v, want %v", tc.x, tc.l, got, tc.want)
		}
	}
}

// hugeBag returns the 300 values 1e9 + ((i·7919) mod 100003) − 50000, i =
// 0..299, of TestLearnPoissonHugeRates.
func hugeBag() []float64 {
	xs := make([]float64, 300)
	for i := range xs {
		xs[i] = 1e9 + float64((i*7919)%100003) - 50000
	}
	return xs
}

// TestLearnPoissonHugeRates: the learned Poisson log-likelihood at rates
// near 1e9 must be exact. It used to add -Σ log x! (about -6e12 here) to
// a sum of x log λ − λ of the opposite sign, which left it quantised to
// 1/1024 and 0.013 off. References from R 4.2.2:
//
//	x <- 1e9 + ((0:299)*7919) %% 100003 - 50000
//	lse <- function(a, b) { m <- pmax(a, b); m + log(exp(a - m) + exp(b - m)) }
//	sum(dpois(x, mean(x), log = TRUE))                     # -3508.6031125870641
//	sum(lse(log(0.3) + dpois(x, 1e9 - 2e4, log = TRUE),
//	        log(0.7) + dpois(x, 1e9 + 1.5e4, log = TRUE))) # -3520.8060067640981
//
// (printed with %.17g). Tolerance 1e-12 relative (3.5e-9): 300 terms of
// about -12 each, exact to a few ulps.
func TestLearnPoissonHugeRates(t *testing.T) {
	xs := hugeBag()
	check := func(name string, got, want float64) {
		t.Helper()
		t.Logf("%s: %.10f, R %.10f (off by %.2g)", name, got, want, got-want)
		if !(math.Abs(got-want) <= 1e-12*math.Abs(want)) {
			t.Errorf("%s: log-likelihood %.10f, R %.10f (off by %.2g)", name, got, want, got-want)
		}
	}
	// The E-step at given parameters (as a shared fit's bags use it).
	m := em.Model{Family: em.Poisson, K: 2, Learn: em.LearnWeights | em.LearnRate}
	l, err := em.NewLearner(m)
	if err != nil {
		t.Fatal(err)
	}
	st := l.NewStats()
	ll, err := l.EStep(st, em.Bag{X: xs}, em.Params{Weights: []float64{0.3, 0.7}, Rate: []float64{1e9 - 2e4, 1e9 + 1.5e4}})
	if err != nil {
		t.Fatal(err)
	}
	check("E-step, K = 2", ll, -3520.8060067640981)
	// A learned fit, K = 1: the rate is the mean.
	res, err := em.Learn(em.Bag{X: xs}, em.Model{Family: em.Poisson, K: 1, Learn: em.LearnWeights | em.LearnRate}, em.LearnSettings{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Converged {
		t.Error("K = 1 not converged")
	}
	check("learned, K = 1", res.LogLikelihood, -3508.6031125870641)
}

// TestLearnPoissonHugeRatesCertified: learned K = 2 Poisson fits of bags
// drawn near rates 1e12 and 1e12 + 3e6 (page views) must be certified
// maxima. Newton's derivatives formed x log λ − λ, whose rounding there
// (about 1e-2 a value) made the certificate fail on every such bag
// (converged = false on 10 of 10 before the fix), though the answers were
// right to 4e-7 in log-likelihood.
//
// The check of the answer is independent of the fit: the log-likelihood,
// from em.PoissonLogProb (within 1e-15 of R's dpois, TestPoissonLogProb)
// and a log-sum-exp, must not rise by more than 1e-9 when any parameter
// moves either way by amounts that lower it at a maximum: rates by 100 and
// 1000 (the curvature, about 1.5e-10 a squared unit, makes those lose
// 1e-6 and 1e-4), weights by 1e-4 and 1e-3.
func TestLearnPoissonHugeRatesCertified(t *testing.T) {
	loglik := func(xs, w, rate []float64) float64 {
		ll := 0.0
		for _, x := range xs {
			a, b := math.Log(w[0])+em.PoissonLogProb(x, rate[0]), math.Log(w[1])+em.PoissonLogProb(x, rate[1])
			m := max(a, b)
			ll += m + math.Log(math.Exp(a-m)+math.Exp(b-m))
		}
		return ll
	}
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		xs := make([]float64, 400)
		for i := range xs {
			lam := 1e12
			if rng.Float64() < 0.6 {
				lam += 3e6
			}
			// Poisson(λ) is Normal(λ, √λ) to within 1e-6 here; the bag
			// only needs integers near the rates.
			xs[i] = math.Round(lam + rng.NormFloat64()*math.Sqrt(lam))
		}
		res, err := em.Learn(em.Bag{X: xs}, em.Model{Family: em.Poisson, K: 2, Learn: em.LearnWeights | em.LearnRate}, em.LearnSettings{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Converged {
			t.Errorf("seed %d: not converged (log-likelihood %.10f, weights %v, rates %v)", seed, res.LogLikelihood, res.Params.Weights, res.Params.Rate)
		}
		w, rate := res.Params.Weights, res.Params.Rate
		ll := loglik(xs, w, rate)
		if math.Abs(ll-res.LogLikelihood) > 1e-9 {
			t.Errorf("seed %d: log-likelihood %.12f, recomputed %.12f", seed, res.LogLikelihood, ll)
		}
		for j := range 2 {
			for _, d := range []float64{-1000, -100, 100, 1000} {
				r := slices.Clone(rate)
				r[j] += d
				if got := loglik(xs, w, r); got > ll+1e-9 {
					t.Errorf("seed %d: rate %d moved by %g raises the log-likelihood by %.3g", seed, j, d, got-ll)
				}
			}
			for _, d := range []float64{-1e-3, -1e-4, 1e-4, 1e-3} {
				v := []float64{w[0] + d, w[1] - d}
				if got := loglik(xs, v, rate); got > ll+1e-9 {
					t.Errorf("seed %d: weight moved by %g raises the log-likelihood by %.3g", seed, d, got-ll)
				}
			}
		}
	}
}

// TestStdErrorsPoissonHugeRates: with fixed rates near 1e12, the weights'
// standard errors from StdErrors (which computes the densities itself)
// must match those of WeightStdErrors on a table of log-densities in the
// deviance form, which has no cancellation (see poissonDeviance). With
// x log λ − λ − log x! the densities, and so the information, were noise.
func TestStdErrorsPoissonHugeRates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lam := []float64{1e12, 1e12 + 3e6}
	var xs, tab []float64
	for range 2000 {
		l := lam[1]
		if rng.Float64() < 0.3 {
			l = lam[0]
		}
		x := math.Round(l + math.Sqrt(l)*rng.NormFloat64())
		xs = append(xs, x)
		tab = append(tab, poissonDeviance(x, lam[0]), poissonDeviance(x, lam[1]))
	}
	w := []float64{0.3, 0.7}
	want, err := em.WeightStdErrors(nil, tab, nil, 2, w)
	if err != nil {
		t.Fatal(err)
	}
	got, err := em.StdErrors(em.Poisson, xs, nil, w, em.ScalarComponents{Rate: lam})
	if err != nil {
		t.Fatal(err)
	}
	for j := range w {
		if math.Abs(got.Weights[j]-want[j]) > 1e-9*want[j] {
			t.Errorf("std_error of weight %d = %.12g, want %.12g", j, got.Weights[j], want[j])
		}
	}
}

// poissonDeviance returns log f(x; λ) for x >= 1 in the deviance form
// x·log1p((λ−x)/x) − (λ−x) − ½·log(2πx) − (1/(12x) − 1/(360x³)), exact to
// rounding for x above 1e4 and free of cancellation between large terms.
func poissonDeviance(x, l float64) float64 {
	return x*math.Log1p((l-x)/x) - (l - x) - 0.5*math.Log(2*math.Pi*x) - (1/(12*x) - 1/(360*x*x*x))
}
