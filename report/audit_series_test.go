package report

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/mixbatch/mixbatch/pipeline"
)

// testMixture loads a mixture of the given model (a YAML flow mapping
// for model:).
func testMixture(t *testing.T, model string) *pipeline.Mixture {
	t.Helper()
	cfg, err := pipeline.Load([]byte(fmt.Sprintf("input: {paths: [in.parquet], bag: b, value: v}\noutput: {dir: out}\nmodel: %s\n", model)))
	if err != nil {
		t.Fatal(err)
	}
	mix, err := pipeline.NewMixture(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mix
}

// poissonMixture is a one-component poisson mixture of the given rate.
func poissonMixture(t *testing.T, rate float64) *pipeline.Mixture {
	t.Helper()
	return testMixture(t, fmt.Sprintf("{family: poisson, components: [{name: c, rate: %v}]}", rate))
}

// TestPoissonSeriesBinning: a poisson bag is drawn as a bar per integer
// while its values (and each component's rate ± 4 sd) span at most 150
// integers, and beyond that (README: "poisson values spanning more than
// 150 integers are grouped into about 100 bins of 1, 2 or 5 × 10^k
// integers") in bins of H integers, H the smallest of 1, 2, 5 × 10^k at
// least span/100, starting at a multiple of H, each bin holding the
// observed count of its integers and the component's expected count
// n·Σ_{x in bin} f(x).
//
// Expectations computed here independently: the span from the values
// (every component's rate ± 4 sd lies inside them: rate = the middle,
// 4·√rate below half the span), H by enumerating 1, 2, 5 × 10^k, the
// counts by summing the observations whose integer lies in each bin, the
// masses by summing the poisson pmf (lgamma) over the bin's integers,
// to 1e-9·n (the series uses the incomplete gamma function).
func TestPoissonSeriesBinning(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64 // smallest and largest value
		binned bool
		h      float64
	}{
		{0, 149, false, 1},  // 150 integers: a bar each
		{0, 150, true, 2},   // 151: bins of 2 (1.51 ≤ 2)
		{100, 300, true, 5}, // 201: 2.01 → 5
		{0, 1299, true, 20}, // 1300: 13 → 20 (not 10, the nearer)
		{3, 1002, true, 10}, // 1000: 10 → 10
	} {
		name := fmt.Sprintf("%v..%v", tc.lo, tc.hi)
		rate := math.Round((tc.lo + tc.hi) / 2)
		if 4*math.Sqrt(rate) >= (tc.hi-tc.lo)/2 {
			t.Fatalf("%s: rate %v ± 4 sd leaves the values' range", name, rate)
		}
		obs := &observations{counts: map[float64]float64{}}
		for v, i := tc.lo, 0; v <= tc.hi; v, i = v+1, i+1 {
			if v == tc.lo || v == tc.hi || i%7 == 3 {
				c := float64(1 + i%4)
				obs.counts[v] = c
				obs.total += c
			}
		}
		s := computeSeries(poissonMixture(t, rate), []float64{1}, obs)
		if s.Discrete == tc.binned {
			t.Errorf("%s: discrete %v, want %v", name, s.Discrete, !tc.binned)
			continue
		}
		if !tc.binned {
			if len(s.X) != int(tc.hi-tc.lo+1) || s.X[0] != tc.lo || s.Observed[len(s.Observed)-1] != obs.counts[tc.hi] {
				t.Errorf("%s: %d bars from %v, want %v from %v", name, len(s.X), s.X[0], tc.hi-tc.lo+1, tc.lo)
			}
			continue
		}
		// H from the README's rule, by enumeration.
		h := 0.0
		for p := 1.0; h == 0; p *= 10 {
			for _, m := range []float64{1, 2, 5} {
				if m*p >= (tc.hi-tc.lo+1)/poissonBins {
					h = m * p
					break
				}
			}
		}
		if h != tc.h || s.H != h {
			t.Errorf("%s: bin width %v, rule %v, table %v", name, s.H, h, tc.h)
		}
		start := math.Floor(tc.lo/h) * h
		if want := int(math.Floor((tc.hi-start)/h)) + 1; len(s.Bins) != want {
			t.Errorf("%s: %d bins, want %d", name, len(s.Bins), want)
		}
		total := 0.0
		for i, b := range s.Bins {
			a := start + float64(i)*h
			if b.Lo != a-0.5 || b.Hi != a+h-0.5 {
				t.Errorf("%s: bin %d is [%v, %v), want [%v, %v)", name, i, b.Lo, b.Hi, a-0.5, a+h-0.5)
			}
			count, mass := 0.0, 0.0
			for x := a; x < a+h; x++ {
				count += obs.counts[x]
				mass += poissonPMF(x, rate)
			}
			if b.Count != count {
				t.Errorf("%s: bin %d holds %v, want %v", name, i, b.Count, count)
			}
			if want := obs.total * mass; math.Abs(s.Comps[0][i]-want) > 1e-9*obs.total {
				t.Errorf("%s: bin %d: expected count %v, want n·Σf = %v", name, i, s.Comps[0][i], want)
			}
			total += b.Count
		}
		if total != obs.total {
			t.Errorf("%s: bins hold %v of %v", name, total, obs.total)
		}
	}
}

// TestReportInputsListed: the summary lists the first 20 input files the
// manifest records and says how many more there are. Expectations by
// construction: 3 inputs are all listed; 25 give the first 20 and 5
// more.
func TestReportInputsListed(t *testing.T) {
	for _, n := range []int{3, 25} {
		dir := copyRun(t, exampleOf(t, pipeline.Bernoulli).dir)
		editManifest(t, dir, func(m *pipeline.Manifest) {
			m.Inputs = nil
			for i := range n {
				m.Inputs = append(m.Inputs, pipeline.ManifestInput{Path: filepath.Join("in", fmt.Sprintf("f%02d.parquet", i)), Size: 1, Rows: 1})
			}
		})
		p := buildPage(t, dir, "")
		listed := min(n, 20)
		if len(p.Inputs) != listed || p.InputCount != int64(n) || p.InputsMore != int64(n-listed) {
			t.Errorf("%d inputs: %d listed, count %d, %d more; want %d, %d, %d", n, len(p.Inputs), p.InputCount, p.InputsMore, listed, n, n-listed)
			continue
		}
		if p.Inputs[listed-1].Path != filepath.Join("in", fmt.Sprintf("f%02d.parquet", listed-1)) {
			t.Errorf("%d inputs: last listed %s", n, p.Inputs[listed-1].Path)
		}
	}
}
