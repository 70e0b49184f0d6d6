package em_test

import (
	"math"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// learned Poisson mixtures (weights and rates) against an
// independent maximiser, on bags where the maximum is well determined.
//
// Provenance. The bags are numbers 0, 6, 14, 18, 24 (K = 2) and 9, 15, 26
// (K = 3) of 200 drawn once in Go (math/rand/v2 PCG(3, 4): K uniform in
// 2..3, rates exp(U(-1, 3)), 20..319 draws with a uniformly chosen
// component each, Knuth's Poisson sampler), as (value, count) pairs. The
// references were computed with Python 3.11, numpy 1.24.2 and scipy 1.10.1
// (Debian python3-numpy, python3-scipy): plain EM on the (value, count)
// pairs with log-densities x log λ - λ - gammaln(x + 1), from 30 random
// starts (rates: data values plus U(0, 0.5) + 0.01; weights uniform) of up
// to 3000 steps each, the best then run on until an EM step gained at most
// 1e-15 of |ll| (at most 200000 steps), components sorted by rate; values
// printed with Python's repr (shortest round trip). On these bags the
// maximum is sharp: mixbatch (default settings, Seed = bag number) agrees
// to 1e-9 relative in log-likelihood, 1e-4 in weights and rates.
// (On other bags of the same draw it does not: see LearnResult.Converged. Flat
// ridges and duplicated components let the Tol rule stop EM far from the
// maximum; those bags are not pinned here.)
//
// Tolerances: log-likelihood not below the reference by more than 1e-9 of
// its size (Tol is 1e-10 relative per EM step, and EM's remaining gain on
// these bags is within 10 steps' worth); weights within 1e-4 absolute and
// rates within 1e-4 relative (EM stopped by a relative log-likelihood rule
// of 1e-10 places parameters to about its square root); components in
// increasing order of rate (the README's label order).
func TestLearnPoissonReference(t *testing.T) {
	cases := []struct {
		name            string
		seed            uint64
		k               int
		x, c            []float64
		wantLL          float64
		wantW, wantRate []float64
	}{
		{name: "bag 0", seed: 0, k: 2,
			x:      []float64{15.0, 9.0, 16.0, 3.0, 12.0, 22.0, 2.0, 30.0, 21.0, 19.0, 14.0, 1.0, 6.0, 13.0, 11.0, 8.0, 17.0, 24.0, 26.0, 23.0, 7.0, 4.0, 0.0, 10.0, 20.0, 18.0, 25.0, 5.0, 29.0},
			c:      []float64{14.0, 6.0, 10.0, 20.0, 4.0, 3.0, 13.0, 1.0, 13.0, 10.0, 8.0, 7.0, 26.0, 5.0, 3.0, 11.0, 13.0, 6.0, 1.0, 9.0, 15.0, 28.0, 3.0, 2.0, 15.0, 17.0, 4.0, 25.0, 2.0},
			wantLL: -923.8317367736018, wantW: []float64{0.5254349246932518, 0.4745650753067483}, wantRate: []float64{4.810966755676378, 18.33982948789592}},
		{name: "bag 6", seed: 6, k: 2,
			x:      []float64{23.0, 14.0, 18.0, 3.0, 12.0, 13.0, 19.0, 2.0, 5.0, 11.0, 16.0, 20.0, 17.0, 0.0, 15.0, 10.0, 22.0, 1.0, 8.0, 4.0},
			c:      []float64{1.0, 1.0, 5.0, 3.0, 1.0, 3.0, 4.0, 6.0, 2.0, 3.0, 3.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0, 6.0, 2.0, 6.0},
			wantLL: -172.2237559031976, wantW: []float64{0.4275517437376768, 0.5724482562623235}, wantRate: []float64{2.6330010142138867, 16.023284792646113}},
		{name: "bag 14", seed: 14, k: 2,
			x:      []float64{0.0, 2.0, 9.0, 12.0, 5.0, 4.0, 3.0, 1.0, 13.0, 6.0, 11.0, 7.0, 10.0, 8.0},
			c:      []float64{25.0, 22.0, 8.0, 3.0, 13.0, 7.0, 11.0, 34.0, 3.0, 13.0, 7.0, 15.0, 9.0, 14.0},
			wantLL: -453.86648105979043, wantW: []float64{0.481571310418491, 0.5184286895815089}, wantRate: []float64{1.2077200947912639, 7.400969485889045}},
		{name: "bag 18", seed: 18, k: 2,
			x:      []float64{14.0, 0.0, 1.0, 10.0, 13.0, 8.0, 2.0, 23.0, 7.0, 9.0, 17.0},
			c:      []float64{1.0, 9.0, 10.0, 3.0, 3.0, 1.0, 3.0, 1.0, 2.0, 3.0, 1.0},
			wantLL: -89.88956526903394, wantW: []float64{0.5942433815555997, 0.4057566184444004}, wantRate: []float64{0.7267714944344122, 11.458104980355916}},
		{name: "bag 24", seed: 24, k: 2,
			x:      []float64{1.0, 14.0, 15.0, 10.0, 17.0, 23.0, 22.0, 12.0, 13.0, 3.0, 11.0, 8.0, 20.0, 21.0, 4.0, 9.0, 0.0, 2.0, 16.0, 18.0, 7.0, 19.0, 6.0},
			c:      []float64{44.0, 11.0, 14.0, 12.0, 7.0, 2.0, 2.0, 9.0, 12.0, 4.0, 11.0, 4.0, 1.0, 2.0, 1.0, 9.0, 60.0, 9.0, 6.0, 6.0, 2.0, 2.0, 1.0},
			wantLL: -590.926829675252, wantW: []float64{0.5088806521834904, 0.4911193478165098}, wantRate: []float64{0.6494617012054001, 13.368655564511197}},
		{name: "bag 9", seed: 9, k: 3,
			x:      []float64{17.0, 22.0, 28.0, 3.0, 1.0, 12.0, 14.0, 0.0, 23.0, 19.0, 8.0, 5.0, 7.0, 18.0, 16.0, 10.0, 24.0, 15.0, 20.0, 9.0, 6.0, 2.0, 4.0, 11.0, 13.0},
			c:      []float64{4.0, 1.0, 1.0, 9.0, 4.0, 5.0, 5.0, 2.0, 2.0, 3.0, 2.0, 7.0, 3.0, 2.0, 2.0, 1.0, 1.0, 6.0, 3.0, 3.0, 9.0, 10.0, 13.0, 3.0, 3.0},
			wantLL: -317.6594028943395, wantW: []float64{0.5629933395129437, 0.3635360867962699, 0.07347057369078644}, wantRate: []float64{3.9055702304099205, 14.504870403952602, 20.145061481232275}},
		{name: "bag 15", seed: 15, k: 3,
			x:      []float64{24.0, 19.0, 17.0, 1.0, 16.0, 15.0, 18.0, 14.0, 0.0, 2.0, 12.0, 13.0, 10.0, 9.0, 7.0, 25.0, 8.0, 20.0, 21.0, 11.0},
			c:      []float64{1.0, 2.0, 1.0, 6.0, 3.0, 2.0, 1.0, 4.0, 15.0, 5.0, 8.0, 6.0, 2.0, 2.0, 1.0, 2.0, 2.0, 1.0, 2.0, 4.0},
			wantLL: -197.505069578482, wantW: []float64{0.37121758824681206, 0.5327428065639179, 0.0960396051892701}, wantRate: []float64{0.6146541603369453, 12.948960593426381, 20.696145790425273}},
		{name: "bag 26", seed: 26, k: 3,
			x:      []float64{19.0, 13.0, 6.0, 16.0, 9.0, 15.0, 12.0, 21.0, 3.0, 4.0, 5.0, 11.0, 18.0, 10.0, 14.0, 2.0, 7.0, 0.0, 17.0, 1.0, 8.0},
			c:      []float64{3.0, 9.0, 7.0, 7.0, 12.0, 5.0, 9.0, 1.0, 10.0, 6.0, 11.0, 10.0, 6.0, 4.0, 6.0, 14.0, 12.0, 18.0, 3.0, 19.0, 13.0},
			wantLL: -544.7190863142013, wantW: []float64{0.30405904380307147, 0.33195657387323824, 0.36398438232369024}, wantRate: []float64{1.2029265722118314, 6.793249252358406, 13.248971732976198}},
	}
	for _, tc := range cases {
		m := em.Model{Family: em.Poisson, K: tc.k, Learn: em.LearnWeights | em.LearnRate}
		res, err := em.Learn(em.Bag{X: tc.x, Counts: tc.c}, m, em.LearnSettings{Seed: tc.seed})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !res.Converged {
			t.Errorf("%s: not converged", tc.name)
		}
		if res.LogLikelihood < tc.wantLL-1e-9*math.Abs(tc.wantLL) {
			t.Errorf("%s: log-likelihood %.17g below the reference %.17g", tc.name, res.LogLikelihood, tc.wantLL)
		}
		p := res.Params
		for j := range tc.wantW {
			if math.Abs(p.Weights[j]-tc.wantW[j]) > 1e-4 {
				t.Errorf("%s: weight %d = %.10g, reference %.10g", tc.name, j, p.Weights[j], tc.wantW[j])
			}
			if math.Abs(p.Rate[j]-tc.wantRate[j]) > 1e-4*tc.wantRate[j] {
				t.Errorf("%s: rate %d = %.10g, reference %.10g", tc.name, j, p.Rate[j], tc.wantRate[j])
			}
			if j > 0 && !(p.Rate[j] > p.Rate[j-1]) {
				t.Errorf("%s: rates %v not in increasing order", tc.name, p.Rate)
			}
		}
	}
}
