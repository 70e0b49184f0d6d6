package em_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/mixbatch/mixbatch/em"
)

var gaussAll = em.LearnWeights | em.LearnMean | em.LearnSD

// K = 1: the maximum-likelihood estimates are the sample moments (the
// variance floored at reg_covar, far below it here), computed here
// directly.
func TestLearnClosedFormK1(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 1))
	xs := make([]float64, 300)
	cs := make([]float64, len(xs))
	for i := range xs {
		xs[i] = 5 + 2*rnd.NormFloat64()
		cs[i] = float64(1 + rnd.IntN(3))
	}
	mean, sd := meanSD(xs, cs)
	r, err := em.Learn(em.Bag{X: xs, Counts: cs}, em.Model{Family: em.Gaussian, K: 1, Learn: gaussAll}, em.LearnSettings{})
	if err != nil {
		t.Fatal(err)
	}
	wantSD := math.Sqrt(math.Max(sd*sd, em.DefaultRegCovar))
	if !scalar.EqualWithinAbsOrRel(r.Params.Mean[0], mean, 1e-12, 1e-12) || !scalar.EqualWithinAbsOrRel(r.Params.SD[0], wantSD, 1e-12, 1e-12) {
		t.Errorf("gaussian K=1: mean %v sd %v, want %v %v", r.Params.Mean[0], r.Params.SD[0], mean, wantSD)
	}
	if want := gaussMixLogLik(xs, cs, []float64{1}, []float64{mean}, []float64{wantSD}); !scalar.EqualWithinAbsOrRel(r.LogLikelihood, want, 1e-9, 1e-12) {
		t.Errorf("gaussian K=1: ll %v, want %v", r.LogLikelihood, want)
	}
	if r.Params.Weights[0] != 1 || !r.Converged {
		t.Errorf("gaussian K=1: weight %v converged %v", r.Params.Weights[0], r.Converged)
	}

	// Poisson: the rate is the mean.
	ps := []float64{0, 1, 2, 3, 7, 12}
	pc := []float64{5, 9, 4, 2, 1, 1}
	pm, _ := meanSD(ps, pc)
	r, err = em.Learn(em.Bag{X: ps, Counts: pc}, em.Model{Family: em.Poisson, K: 1, Learn: em.LearnRate}, em.LearnSettings{})
	if err != nil {
		t.Fatal(err)
	}
	wantLL := 0.0
	for i, x := range ps {
		wantLL += pc[i] * poissonLogPMF(x, pm)
	}
	if !scalar.EqualWithinAbsOrRel(r.Params.Rate[0], pm, 1e-14, 1e-14) || !scalar.EqualWithinAbsOrRel(r.LogLikelihood, wantLL, 1e-10, 1e-12) {
		t.Errorf("poisson K=1: rate %v ll %v, want %v %v", r.Params.Rate[0], r.LogLikelihood, pm, wantLL)
	}

	// Bernoulli: p is the share of ones.
	r, err = em.Learn(em.Bag{X: []float64{1, 0, 1}, Counts: []float64{30, 70, 7}}, em.Model{Family: em.Bernoulli, K: 1, Learn: em.LearnP}, em.LearnSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if want := 37.0 / 107; !scalar.EqualWithinAbsOrRel(r.Params.P[0], want, 1e-15, 1e-15) {
		t.Errorf("bernoulli K=1: p %v, want %v", r.Params.P[0], want)
	}
	if want := 37*math.Log(37.0/107) + 70*math.Log(70.0/107); !scalar.EqualWithinAbsOrRel(r.LogLikelihood, want, 1e-12, 1e-12) {
		t.Errorf("bernoulli K=1: ll %v, want %v", r.LogLikelihood, want)
	}

	// Categorical: the frequencies; an unseen code gets probability 0.
	r, err = em.Learn(em.Bag{X: []float64{2, 0, 2, 3}, Counts: []float64{1, 2, 3, 4}}, em.Model{Family: em.Categorical, K: 1, Levels: 5, Learn: em.LearnProbs}, em.LearnSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0.2, 0, 0.4, 0.4, 0}; !floatsNear(r.Params.Probs, want, 1e-15) {
		t.Errorf("categorical K=1: probs %v, want %v", r.Params.Probs, want)
	}
}

// MultiGaussian K = 1: the sample mean and covariance (plus reg_covar on
// the diagonal; diag keeps the variances, spherical their average).
func TestLearnMultiGaussianK1(t *testing.T) {
	const d = 3
	xs := mvnBag(7, 200, d, 1)
	n := float64(len(xs) / d)
	mean := make([]float64, d)
	for i := 0; i < len(xs); i += d {
		for a := range d {
			mean[a] += xs[i+a] / n
		}
	}
	cov := make([]float64, d*d)
	for i := 0; i < len(xs); i += d {
		for a := range d {
			for b := range d {
				cov[a*d+b] += (xs[i+a] - mean[a]) * (xs[i+b] - mean[b]) / n
			}
		}
	}
	for _, typ := range []em.Covariance{em.CovFull, em.CovDiag, em.CovSpherical} {
		m := em.Model{Family: em.MultiGaussian, K: 1, Dim: d, Covariance: typ, Learn: em.LearnWeights | em.LearnMean | em.LearnCov}
		r, err := em.Learn(em.Bag{X: xs}, m, em.LearnSettings{})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, d*d)
		avg := 0.0
		for a := range d {
			avg += (cov[a*d+a] + em.DefaultRegCovar) / d
		}
		for a := range d {
			for b := range d {
				switch {
				case typ == em.CovFull:
					want[a*d+b] = cov[a*d+b]
				case a == b && typ == em.CovDiag:
					want[a*d+b] = cov[a*d+b]
				}
			}
			if typ == em.CovSpherical {
				want[a*d+a] = avg
			} else {
				want[a*d+a] += em.DefaultRegCovar
			}
		}
		if !floatsNear(r.Params.Mean, mean, 1e-12) || !floatsNear(r.Params.Cov, want, 1e-12) {
			t.Errorf("%v: mean %v cov %v, want %v %v", typ, r.Params.Mean, r.Params.Cov, mean, want)
		}
		if m.FreeParams() != map[em.Covariance]int{em.CovFull: 9, em.CovDiag: 6, em.CovSpherical: 4}[typ] {
			t.Errorf("%v: FreeParams %d", typ, m.FreeParams())
		}
	}
}

func floatsNear(got, want []float64, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !scalar.EqualWithinAbsOrRel(got[i], want[i], tol, tol) {
			return false
		}
	}
	return true
}

// A well-separated mixture: the estimates are close to the truth, the
// components come out sorted by mean, and the log-likelihood is the one
// computed independently at the estimates.
func TestLearnGaussianSeparated(t *testing.T) {
	g := splitmix{s: 42}
	var xs []float64
	for _, c := range []struct{ m, s float64 }{{10, 1}, {-10, 0.5}, {0, 2}} {
		for range 400 {
			xs = append(xs, c.m+c.s*g.norm())
		}
	}
	r, err := em.Learn(em.Bag{X: xs}, em.Model{Family: em.Gaussian, K: 3, Learn: gaussAll}, em.LearnSettings{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Params
	if !slices.IsSorted(p.Mean) {
		t.Errorf("means not in canonical order: %v", p.Mean)
	}
	for j, want := range []struct{ m, s float64 }{{-10, 0.5}, {0, 2}, {10, 1}} {
		if math.Abs(p.Mean[j]-want.m) > 0.2 || math.Abs(p.SD[j]-want.s) > 0.2 || math.Abs(p.Weights[j]-1.0/3) > 0.01 {
			t.Errorf("component %d: w %v mean %v sd %v", j, p.Weights[j], p.Mean[j], p.SD[j])
		}
	}
	if want := gaussMixLogLik(xs, nil, p.Weights, p.Mean, p.SD); !scalar.EqualWithinAbsOrRel(r.LogLikelihood, want, 1e-9, 1e-12) {
		t.Errorf("ll %v, want %v", r.LogLikelihood, want)
	}
	if !r.Converged || r.Starts < 1 || r.TotalIterations < r.Iterations {
		t.Errorf("converged %v starts %d iterations %d/%d", r.Converged, r.Starts, r.Iterations, r.TotalIterations)
	}
}

// Degenerate bags have the documented results.
func TestLearnDegenerate(t *testing.T) {
	m := em.Model{Family: em.Gaussian, K: 3, Learn: gaussAll}
	floorSD := math.Sqrt(em.DefaultRegCovar)

	// One observation (of count 5): one component at it with the floor sd,
	// the two others empty (weight 0, NaN parameters, sorted last).
	r, err := em.Learn(em.Bag{X: []float64{2.5}, Counts: []float64{5}}, m, em.LearnSettings{})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Params
	if p.Weights[0] != 1 || p.Mean[0] != 2.5 || p.SD[0] != floorSD || p.Weights[1] != 0 || p.Weights[2] != 0 ||
		!math.IsNaN(p.Mean[1]) || !math.IsNaN(p.SD[2]) {
		t.Errorf("one observation: %+v", p)
	}
	if want := 5 * normalLogPDF(2.5, 2.5, floorSD); !scalar.EqualWithinAbsOrRel(r.LogLikelihood, want, 1e-12, 1e-12) {
		t.Errorf("one observation: ll %v, want %v", r.LogLikelihood, want)
	}

	// All values equal: the same.
	r, err = em.Learn(em.Bag{X: []float64{-1, -1, -1, -1}}, m, em.LearnSettings{})
	if err != nil || r.Params.Weights[0] != 1 || r.Params.Mean[0] != -1 || r.Params.SD[0] != floorSD || !math.IsNaN(r.Params.Mean[2]) {
		t.Errorf("all equal: %+v, %v", r.Params, err)
	}

	// Two distinct values, K = 3: two components, one on each value.
	r, err = em.Learn(em.Bag{X: []float64{4, 1, 4}}, m, em.LearnSettings{})
	if err != nil {
		t.Fatal(err)
	}
	p = r.Params
	if !floatsNear(p.Weights, []float64{1.0 / 3, 2.0 / 3, 0}, 1e-12) || p.Mean[0] != 1 || p.Mean[1] != 4 ||
		p.SD[0] != floorSD || p.SD[1] != floorSD || !math.IsNaN(p.Mean[2]) {
		t.Errorf("two values: %+v", p)
	}

	// Fixed weights: no component may be empty; the spare one starts at
	// the whole bag and shares the data.
	mf := em.Model{Family: em.Gaussian, K: 2, Learn: em.LearnMean | em.LearnSD}
	r, err = em.Learn(em.Bag{X: []float64{3, 3}}, mf, em.LearnSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Params.Weights[0] != 0.5 || r.Params.Mean[0] != 3 || r.Params.Mean[1] != 3 || r.Params.SD[1] != floorSD {
		t.Errorf("fixed weights, one value: %+v", r.Params)
	}

	// A collapsing component stops at the variance floor: a tight pair of
	// points far from a broad cluster.
	g := splitmix{s: 3}
	xs := []float64{100, 100 + 1e-9}
	for range 200 {
		xs = append(xs, g.norm())
	}
	r, err = em.Learn(em.Bag{X: xs}, em.Model{Family: em.Gaussian, K: 2, Learn: gaussAll}, em.LearnSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if sd := r.Params.SD[1]; !(sd >= floorSD) || sd > 1.0001*floorSD {
		t.Errorf("collapsing component: sd %v, want the floor %v", sd, floorSD)
	}

	// Counts of zero are ignored; all zero is no data.
	if _, err := em.Learn(em.Bag{X: []float64{1, 2}, Counts: []float64{0, 0}}, m, em.LearnSettings{}); !errors.Is(err, em.ErrNoData) {
		t.Errorf("zero counts: %v", err)
	}
}

// A component whose weight goes to zero during EM: data from one Gaussian
// fitted with a fixed second component far away. Its weight tends to 0 and
// the other component takes everything.
func TestLearnWeightToZero(t *testing.T) {
	g := splitmix{s: 9}
	xs := make([]float64, 500)
	for i := range xs {
		xs[i] = g.norm()
	}
	m := em.Model{Family: em.Gaussian, K: 2, Learn: em.LearnWeights | em.LearnMean | em.LearnSD,
		Init: em.Params{Mean: []float64{0, 60}, SD: []float64{1, 0.1}}}
	r, err := em.Learn(em.Bag{X: xs}, m, em.LearnSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Params.Weights[1] != 0 || !math.IsNaN(r.Params.Mean[1]) || math.Abs(r.Params.Mean[0]) > 0.2 {
		t.Errorf("got %+v", r.Params)
	}
}

// Every value of a bag and every count split are equivalent: rows in any
// order, a count split over several rows, give the same result bit for
// bit.
func TestLearnPermutationInvariant(t *testing.T) {
	for _, m := range []em.Model{
		{Family: em.Gaussian, K: 3, Learn: gaussAll},
		{Family: em.Poisson, K: 2, Learn: em.LearnWeights | em.LearnRate},
		{Family: em.MultiGaussian, K: 2, Dim: 2, Learn: em.LearnWeights | em.LearnMean | em.LearnCov},
	} {
		d := max(1, m.Dim)
		var xs, cs []float64
		g := splitmix{s: 5}
		for i := range 300 {
			for range d {
				v := g.norm() + float64(i%3)*3
				if m.Family == em.Poisson {
					v = math.Floor(math.Abs(v) * 3)
				}
				xs = append(xs, v)
			}
			cs = append(cs, float64(1+i%4))
		}
		want, err := em.Learn(em.Bag{X: xs, Counts: cs}, m, em.LearnSettings{Seed: 77})
		if err != nil {
			t.Fatal(err)
		}
		// Shuffle the rows and split every count of 4 into 1 + 3.
		rnd := rand.New(rand.NewPCG(2, 3))
		perm := rnd.Perm(len(cs))
		var xs2, cs2 []float64
		for _, i := range perm {
			row := xs[i*d : (i+1)*d]
			if cs[i] == 4 {
				xs2 = append(xs2, row...)
				cs2 = append(cs2, 1)
				xs2 = append(xs2, row...)
				cs2 = append(cs2, 3)
				continue
			}
			xs2 = append(xs2, row...)
			cs2 = append(cs2, cs[i])
		}
		got, err := em.Learn(em.Bag{X: xs2, Counts: cs2}, m, em.LearnSettings{Seed: 77})
		if err != nil {
			t.Fatal(err)
		}
		if got.LogLikelihood != want.LogLikelihood || !slices.Equal(got.Params.Weights, want.Params.Weights) ||
			!slices.Equal(got.Params.Mean, want.Params.Mean) || !slices.Equal(got.Params.Rate, want.Params.Rate) {
			t.Errorf("%v: permuted rows give %+v, want %+v", m.Family, got, want)
		}
	}
}

// The log-likelihood never decreases along the iterations: with MaxIter
// t = 1, 2, ... from a fixed start, for SQUAREM and plain EM, and along a
// hand-written loop of the exported EStep and MStep.
func TestLearnMonotone(t *testing.T) {
	for b := range 6 {
		xs := gaussBag(b, 300)
		m := em.Model{Family: em.Gaussian, K: 3, Learn: gaussAll,
			Init: em.Params{Mean: []float64{-1, 0, 1}, SD: []float64{3, 3, 3}}}
		for _, acc := range []em.Acceleration{em.SQUAREM, em.None} {
			prev := math.Inf(-1)
			for it := 1; it <= 60; it++ {
				r, err := em.Learn(em.Bag{X: xs}, m, em.LearnSettings{MaxIter: it, Accelerate: acc})
				if err != nil {
					t.Fatal(err)
				}
				if r.LogLikelihood < prev-1e-9*math.Abs(prev) {
					t.Errorf("bag %d %v: ll %v at MaxIter %d after %v", b, acc, r.LogLikelihood, it, prev)
				}
				prev = r.LogLikelihood
			}
		}
		l, err := em.NewLearner(m)
		if err != nil {
			t.Fatal(err)
		}
		p := l.Model().Init.Clone()
		p.Weights = []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}
		st := l.NewStats()
		prev := math.Inf(-1)
		for range 200 {
			ll, err := l.EStep(st, em.Bag{X: xs}, p)
			if err != nil {
				t.Fatal(err)
			}
			if ll < prev-1e-9*math.Abs(prev) {
				t.Errorf("bag %d: EStep/MStep loop: ll %v after %v", b, ll, prev)
			}
			if want := gaussMixLogLik(xs, nil, p.Weights, p.Mean, p.SD); !scalar.EqualWithinAbsOrRel(ll, want, 1e-9, 1e-12) {
				t.Errorf("bag %d: EStep ll %v, want %v", b, ll, want)
			}
			prev = ll
			if err := l.MStep(&p, st); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Fixed parameters stay fixed and given starting values are used; with
// given starting values the components keep their identity (no sorting).
func TestLearnFixedAndGiven(t *testing.T) {
	g := splitmix{s: 11}
	var xs []float64
	for range 300 {
		xs = append(xs, -3+g.norm())
		xs = append(xs, 4+0.5*g.norm())
	}
	// Means fixed (in reverse order), sds learned.
	m := em.Model{Family: em.Gaussian, K: 2, Learn: em.LearnWeights | em.LearnSD, Init: em.Params{Mean: []float64{4, -3}}}
	r, err := em.Learn(em.Bag{X: xs}, m, em.LearnSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Params.Mean, []float64{4, -3}) || math.Abs(r.Params.SD[0]-0.5) > 0.05 || math.Abs(r.Params.SD[1]-1) > 0.1 {
		t.Errorf("fixed means: %+v", r.Params)
	}
	// Starting values in reverse order: component 0 stays the upper one.
	m = em.Model{Family: em.Gaussian, K: 2, Learn: gaussAll, Init: em.Params{Mean: []float64{3, -2}, SD: []float64{1, 1}}}
	r, err = em.Learn(em.Bag{X: xs}, m, em.LearnSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Params.Mean[0]-4) > 0.1 || math.Abs(r.Params.Mean[1]+3) > 0.1 || r.Starts != 1 {
		t.Errorf("given starts: %+v, %d starts", r.Params, r.Starts)
	}
}

// The same seed gives the same result; BagSeed depends on the run seed and
// the key only, and string and []byte keys agree.
func TestLearnSeeds(t *testing.T) {
	if em.BagSeed(1, "bag-7") != em.BagSeed(1, []byte("bag-7")) {
		t.Error("BagSeed: string and []byte keys differ")
	}
	if em.BagSeed(1, "bag-7") == em.BagSeed(2, "bag-7") || em.BagSeed(1, "bag-7") == em.BagSeed(1, "bag-8") ||
		em.BagSeed(1, "") == em.BagSeed(0, "") {
		t.Error("BagSeed: collisions")
	}
	// Values computed independently (FNV-1a then SplitMix64's finaliser, in
	// Python 3 with integers masked to 64 bits) guard against accidental
	// changes of the derivation, which would change every learned result.
	if got := em.BagSeed(0, ""); got != 0x813f0174a2367c13 {
		t.Errorf("BagSeed(0, \"\") = %#x, want 0x813f0174a2367c13", got)
	}
	if got := em.BagSeed(12345, "shop-17"); got != 0x41640e153d0bd4b2 {
		t.Errorf("BagSeed(12345, \"shop-17\") = %#x, want 0x41640e153d0bd4b2", got)
	}
	xs := gaussBag(3, 500)
	m := em.Model{Family: em.Gaussian, K: 3, Learn: gaussAll}
	a, _ := em.Learn(em.Bag{X: xs}, m, em.LearnSettings{Seed: em.BagSeed(9, "x")})
	b, _ := em.Learn(em.Bag{X: xs}, m, em.LearnSettings{Seed: em.BagSeed(9, "x")})
	if a.LogLikelihood != b.LogLikelihood || !slices.Equal(a.Params.Mean, b.Params.Mean) {
		t.Error("same seed, different results")
	}
}

func TestLearnValidation(t *testing.T) {
	for _, c := range []struct {
		m   em.Model
		bag em.Bag
	}{
		{em.Model{Family: em.Gaussian, K: 0, Learn: gaussAll}, em.Bag{X: []float64{1}}},
		{em.Model{Family: em.Gaussian, K: 2, Learn: em.LearnRate}, em.Bag{X: []float64{1}}},
		{em.Model{Family: em.Gaussian, K: 2, Learn: em.LearnMean}, em.Bag{X: []float64{1}}}, // sd neither learned nor given
		{em.Model{Family: em.Gaussian, K: 2, Learn: gaussAll, Init: em.Params{SD: []float64{1, -1}}}, em.Bag{X: []float64{1}}},
		{em.Model{Family: em.MultiGaussian, K: 1, Learn: em.LearnMean | em.LearnCov}, em.Bag{X: []float64{1}}},
		{em.Model{Family: em.MultiGaussian, K: 1, Dim: 2, Covariance: em.CovDiag, Learn: em.LearnMean,
			Init: em.Params{Cov: []float64{1, 0.5, 0.5, 1}}}, em.Bag{X: []float64{1, 2}}},
		{em.Model{Family: em.Categorical, K: 1, Learn: em.LearnProbs}, em.Bag{X: []float64{0}}},
		{em.Model{Family: em.Gaussian, K: 1, Learn: gaussAll, RegCovar: -1}, em.Bag{X: []float64{1}}},
	} {
		if _, err := em.Learn(c.bag, c.m, em.LearnSettings{}); err == nil {
			t.Errorf("%+v: no error", c.m)
		}
	}
	var oe *em.ObservationError
	for _, c := range []struct {
		m  em.Model
		xs []float64
	}{
		{em.Model{Family: em.Bernoulli, K: 1, Learn: em.LearnP}, []float64{0, 2}},
		{em.Model{Family: em.Categorical, K: 1, Levels: 3, Learn: em.LearnProbs}, []float64{0, 3}},
		{em.Model{Family: em.Poisson, K: 1, Learn: em.LearnRate}, []float64{1, 1.5}},
		{em.Model{Family: em.Gaussian, K: 1, Learn: gaussAll}, []float64{1, math.NaN()}},
	} {
		if _, err := em.Learn(em.Bag{X: c.xs}, c.m, em.LearnSettings{}); !errors.As(err, &oe) || oe.Row != 1 {
			t.Errorf("%v %v: %v", c.m.Family, c.xs, err)
		}
	}
	var ve *em.ValueError
	if _, err := em.Learn(em.Bag{X: []float64{1}, Counts: []float64{-1}}, em.Model{Family: em.Gaussian, K: 1, Learn: gaussAll}, em.LearnSettings{}); !errors.As(err, &ve) {
		t.Errorf("negative count: %v", err)
	}
	if s, err := em.ParseLearnSet([]string{"weights", "mean", "sd"}); err != nil || s != gaussAll || s.String() != "[weights mean sd]" {
		t.Errorf("ParseLearnSet: %v %v", s, err)
	}
	if _, err := em.ParseLearnSet([]string{"mean", "mean"}); err == nil {
		t.Error("ParseLearnSet: duplicate accepted")
	}
	if c, err := em.ParseCovariance("diag"); err != nil || c != em.CovDiag {
		t.Errorf("ParseCovariance: %v %v", c, err)
	}
}

// A singular covariance even after reg_covar: two points on the diagonal,
// with a reg_covar lost in rounding next to their variance 0.25.
func TestLearnSingularCovariance(t *testing.T) {
	xs := []float64{0, 0, 1, 1}
	m := em.Model{Family: em.MultiGaussian, K: 1, Dim: 2, Learn: em.LearnMean | em.LearnCov, RegCovar: 1e-20}
	_, err := em.Learn(em.Bag{X: xs}, m, em.LearnSettings{})
	var se *em.SingularCovarianceError
	if !errors.As(err, &se) || se.Component != 0 {
		t.Fatalf("got %v, want a SingularCovarianceError", err)
	}
	// With the default reg_covar it fits: variances 0.25 + 1e-6.
	m.RegCovar = 0
	r, err := em.Learn(em.Bag{X: xs}, m, em.LearnSettings{})
	if err != nil || r.Params.Cov[0] != 0.25+1e-6 || r.Params.Cov[1] != 0.25 {
		t.Errorf("default reg_covar: %+v, %v", r.Params, err)
	}
}

func TestModelSelection(t *testing.T) {
	m := em.Model{Family: em.Gaussian, K: 3, Learn: gaussAll}
	if p := m.FreeParams(); p != 8 {
		t.Errorf("gaussian K=3: %d free parameters, want 8", p)
	}
	if p := m.SharedFreeParams(10); p != 6+20 {
		t.Errorf("shared gaussian K=3, 10 bags: %d, want 26", p)
	}
	c := em.Model{Family: em.Categorical, K: 2, Levels: 5, Learn: em.LearnProbs}
	if p := c.FreeParams(); p != 8 {
		t.Errorf("categorical K=2 L=5, probs only: %d, want 8", p)
	}
	if got, want := em.BIC(-100, 8, 1000), 200+8*math.Log(1000); got != want {
		t.Errorf("BIC %v, want %v", got, want)
	}
	if got := em.AIC(-100, 8); got != 216 {
		t.Errorf("AIC %v, want 216", got)
	}
}

// Identifiability: per bag, mixtures of Bernoullis or categoricals with
// learned components are refused; weights-only models are checked for
// linear independence.
func TestIdentifiability(t *testing.T) {
	for _, c := range []struct {
		m     em.Model
		scope em.Scope
		want  em.Identifiability
	}{
		{em.Model{Family: em.Bernoulli, K: 2, Learn: em.LearnWeights | em.LearnP}, em.PerBag, em.NotIdentifiable},
		{em.Model{Family: em.Bernoulli, K: 2, Learn: em.LearnWeights | em.LearnP}, em.Shared, em.NotIdentifiable},
		{em.Model{Family: em.Bernoulli, K: 1, Learn: em.LearnP}, em.PerBag, em.Identifiable},
		{em.Model{Family: em.Bernoulli, K: 2, Learn: em.LearnWeights, Init: em.Params{P: []float64{0.8, 0.3}}}, em.PerBag, em.Identifiable},
		{em.Model{Family: em.Bernoulli, K: 3, Learn: em.LearnWeights, Init: em.Params{P: []float64{0.8, 0.3, 0.5}}}, em.PerBag, em.NotIdentifiable},
		{em.Model{Family: em.Categorical, K: 2, Levels: 4, Learn: em.LearnWeights | em.LearnProbs}, em.PerBag, em.NotIdentifiable},
		{em.Model{Family: em.Categorical, K: 2, Levels: 4, Learn: em.LearnWeights | em.LearnProbs}, em.Shared, em.Conditional},
		{em.Model{Family: em.Categorical, K: 5, Levels: 4, Learn: em.LearnWeights | em.LearnProbs}, em.Shared, em.NotIdentifiable},
		{em.Model{Family: em.Categorical, K: 2, Levels: 4, Learn: em.LearnProbs}, em.Shared, em.NotIdentifiable},
		{em.Model{Family: em.Gaussian, K: 3, Learn: gaussAll}, em.PerBag, em.Identifiable},
		{em.Model{Family: em.Poisson, K: 3, Learn: em.LearnWeights | em.LearnRate}, em.Shared, em.Identifiable},
		{em.Model{Family: em.Poisson, K: 2, Learn: em.LearnWeights, Init: em.Params{Rate: []float64{2, 2}}}, em.PerBag, em.NotIdentifiable},
	} {
		got, why := em.CheckIdentifiable(c.m, c.scope)
		if got != c.want || (got != em.Identifiable) != (why != "") {
			t.Errorf("%v K=%d %v %v: %v (%q), want %v", c.m.Family, c.m.K, c.m.Learn, c.scope, got, why, c.want)
		}
	}
	var ie *em.IdentifiabilityError
	_, err := em.Learn(em.Bag{X: []float64{0, 1}}, em.Model{Family: em.Bernoulli, K: 2, Learn: em.LearnWeights | em.LearnP}, em.LearnSettings{})
	if !errors.As(err, &ie) {
		t.Errorf("per-bag bernoulli mixture: %v", err)
	}
}
