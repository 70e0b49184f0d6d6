package report

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/gonum/mathext"

	"github.com/mixbatch/mixbatch/pipeline"
)

// series is what a bag plot draws, in data units.
//
// Discrete families: one bar per value at x = 0, 1, ... (categorical: the
// position of the label in Ticks; bernoulli and poisson: the value itself),
// and each component's expected count N·w_k·f_k(x) at the same x.
// Gaussian: a histogram of bins of width H and each component's curve
// N·H·w_k·f_k(x) on a fine grid X, which is the expected count in a bin
// of width H around x. Poisson values spanning more than maxPoissonBars
// integers: a histogram of bins of H integers (Discrete is false), X the
// bins' centres and each component's expected count in bin [a, b]
// N·w_k·P_k(a <= x <= b). N is the bag's total count. Sum is Σ_k Comps[k].
type series struct {
	Discrete bool
	X        []float64   // bar positions (discrete) or curve grid (gaussian)
	Ticks    []string    // discrete: the label of each X
	Observed []float64   // discrete: the observed count at each X
	Bins     []bin       // gaussian: the histogram
	H        float64     // gaussian: bin width; 1 for discrete families
	Comps    [][]float64 // Comps[k][i]: component k's contribution at X[i]
	Sum      []float64
}

// bin is a histogram bin [Lo, Hi) holding Count.
type bin struct {
	Lo, Hi, Count float64
}

// curvePoints is the number of points on each gaussian curve.
const curvePoints = 400

// minShownWeight is the weight below which a component does not widen
// the plotted range (its curve is flat there anyway).
const minShownWeight = 0.005

// computeSeries computes the plotted series of a bag, with mixture mix
// (its K components and their parameters) and weights w (NaN when unknown:
// the bag failed), from its observations. A component without parameters
// contributes NaN (nothing is drawn), and the mixture is NaN when some
// weight is unknown.
func computeSeries(mix *pipeline.Mixture, w []float64, obs *observations) *series {
	n := obs.total
	s := &series{H: 1, Discrete: mix.Family() != pipeline.Gaussian}
	switch mix.Family() {
	case pipeline.Gaussian:
		s.Bins, s.H = histogramBins(obs, mix, w)
		lo, hi := s.Bins[0].Lo, s.Bins[len(s.Bins)-1].Hi
		s.X = make([]float64, curvePoints)
		for i := range s.X {
			s.X[i] = lo + (hi-lo)*float64(i)/float64(curvePoints-1)
		}
	case pipeline.Categorical:
		labels := mix.Labels()
		order := displayOrder(labels)
		for _, j := range order {
			s.Ticks = append(s.Ticks, labels[j])
			s.X = append(s.X, float64(j)) // the code, replaced by the position below
			s.Observed = append(s.Observed, obs.counts[float64(j)])
		}
	case pipeline.Bernoulli:
		s.X = []float64{0, 1}
		s.Ticks = []string{"0", "1"}
		s.Observed = []float64{obs.counts[0], obs.counts[1]}
	case pipeline.Poisson:
		lo, hi := math.Inf(1), math.Inf(-1)
		for v := range obs.counts {
			lo, hi = min(lo, v), max(hi, v)
		}
		for k := range mix.K() {
			if mix.Complete(k) && k < len(w) && w[k] >= minShownWeight {
				rate := mix.Params(k).Scalars["rate"]
				sd := math.Sqrt(rate)
				lo = min(lo, math.Max(0, math.Floor(rate-4*sd)))
				hi = max(hi, math.Ceil(rate+4*sd))
			}
		}
		if lo > hi {
			lo, hi = 0, 0
		}
		if hi-lo+1 > maxPoissonBars {
			// Too many values for a bar each (rates in the thousands, or
			// far-apart counts): bins of a round integer width, drawn as
			// a histogram like gaussian values.
			s.Discrete = false
			s.H = niceCeil((hi - lo + 1) / poissonBins)
			start := math.Floor(lo/s.H) * s.H
			m := int(math.Floor((hi-start)/s.H)) + 1
			s.Bins = make([]bin, m)
			for i := range s.Bins {
				a := start + float64(i)*s.H
				// Bin i holds the integers a to a+H-1.
				s.Bins[i] = bin{Lo: a - 0.5, Hi: a + s.H - 0.5}
				s.X = append(s.X, a+(s.H-1)/2)
			}
			for v, c := range obs.counts {
				s.Bins[int(math.Floor((v-start)/s.H))].Count += c
			}
			break
		}
		for v := lo; v <= hi; v++ {
			s.X = append(s.X, v)
			s.Ticks = append(s.Ticks, strconv.FormatFloat(v, 'f', -1, 64))
			s.Observed = append(s.Observed, obs.counts[v])
		}
	}
	// Contributions at the codes (X), then categorical X become positions.
	s.Comps = make([][]float64, mix.K())
	s.Sum = make([]float64, len(s.X))
	if len(w) == 0 {
		for i := range s.Sum {
			s.Sum[i] = math.NaN() // a failed bag of unknown K
		}
	}
	for k := range s.Comps {
		s.Comps[k] = make([]float64, len(s.X))
		wk := math.NaN()
		if k < len(w) {
			wk = w[k]
		}
		for i, x := range s.X {
			if !mix.Complete(k) {
				// Nothing to draw; of weight 0 (else the bag is refused),
				// or of unknown weight, which leaves the mixture unknown.
				s.Comps[k][i] = math.NaN()
				if math.IsNaN(wk) {
					s.Sum[i] = math.NaN()
				}
				continue
			}
			var v float64
			switch {
			case mix.Family() == pipeline.Gaussian:
				v = n * s.H * wk * mix.Prob(k, x)
			case s.Bins != nil: // binned poisson
				b := s.Bins[i]
				v = n * wk * poissonMass(mix.Params(k).Scalars["rate"], b.Lo+0.5, b.Hi-0.5)
			default:
				v = n * wk * mix.Prob(k, x)
			}
			s.Comps[k][i] = v
			s.Sum[i] += v
		}
	}
	if mix.Family() == pipeline.Categorical {
		for i := range s.X {
			s.X[i] = float64(i)
		}
	}
	return s
}

// A poisson plot draws a bar per value up to maxPoissonBars values; a
// wider range is binned into about poissonBins bins (one more when the
// first bin starts before the smallest value).
const (
	maxPoissonBars = 150
	poissonBins    = 100
)

// poissonMass returns P(a <= X <= b) for X Poisson with the given rate and
// integers a <= b, from the regularized incomplete gamma function:
// P(X <= k) = Q(k+1, rate) and P(X > k) = P(k+1, rate). The tail on the
// far side of the rate is taken, which is small and keeps its precision.
func poissonMass(rate, a, b float64) float64 {
	cdf := func(k float64) float64 { // P(X <= k)
		if k < 0 {
			return 0
		}
		return mathext.GammaIncRegComp(k+1, rate)
	}
	sf := func(k float64) float64 { // P(X > k)
		if k < 0 {
			return 1
		}
		return mathext.GammaIncReg(k+1, rate)
	}
	if b < rate {
		return max(0, cdf(b)-cdf(a-1))
	}
	return max(0, sf(a-1)-sf(b))
}

// niceCeil returns the smallest of 1, 2 and 5 times a power of ten that
// is at least h, and at least 1.
func niceCeil(h float64) float64 {
	if !(h > 1) || math.IsInf(h, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(h)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= h {
			return m * p
		}
	}
	return 10 * p
}

// displayOrder returns the order to show categorical labels in: numeric
// order when every label is an integer, else as sorted (code order).
func displayOrder(labels []string) []int {
	order := make([]int, len(labels))
	nums := make([]int64, len(labels))
	numeric := true
	for i, l := range labels {
		order[i] = i
		v, err := strconv.ParseInt(l, 10, 64)
		numeric = numeric && err == nil
		nums[i] = v
	}
	if numeric {
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(nums[a], nums[b]) })
	}
	return order
}

// histogramBins bins gaussian observations: the bin width follows the Rice
// rule on the observed range (10 to 60 bins) but is at most the smallest sd
// of a component with weight above minShownWeight, rounded to 1, 2 or 5
// times a power of ten; the bins extend over the
// observed range and ±3 sd around each component mean with weight above
// minShownWeight, so that the curves' tails show. Components without
// parameters are left out.
func histogramBins(obs *observations, mix *pipeline.Mixture, w []float64) ([]bin, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range obs.values {
		lo, hi = min(lo, v), max(hi, v)
	}
	minSD, shownSD := math.Inf(1), math.Inf(1)
	plo, phi := lo, hi
	for k := range mix.K() {
		if !mix.Complete(k) {
			continue
		}
		c := mix.Params(k).Scalars
		mean, sd := c["mean"], c["sd"]
		minSD = min(minSD, sd)
		if k < len(w) && w[k] >= minShownWeight {
			plo = min(plo, mean-3*sd)
			phi = max(phi, mean+3*sd)
			shownSD = min(shownSD, sd)
		}
	}
	if len(obs.values) == 0 {
		lo, hi = plo, phi
		if math.IsInf(lo, 0) {
			lo, hi = -1, 1
		}
	}
	nb := int(math.Ceil(2 * math.Cbrt(float64(len(obs.values)))))
	nb = min(max(nb, 10), 60)
	h := (hi - lo) / float64(nb)
	if !(h > 0) {
		h = minSD / 2
	}
	// Bins no wider than the narrowest component shown, whose peak a wide
	// bin would flatten below its curve.
	h = min(h, shownSD)
	h = niceWidth(h)
	start := math.Floor(plo/h) * h
	end := math.Ceil(phi/h) * h
	if end <= start {
		end = start + h
	}
	m := int(math.Round((end - start) / h))
	if m > 400 { // components far apart from the data: keep the bins few
		h = niceWidth((end - start) / 400)
		start = math.Floor(plo/h) * h
		m = int(math.Ceil((phi - start) / h))
	}
	bins := make([]bin, m)
	for i := range bins {
		bins[i] = bin{Lo: start + float64(i)*h, Hi: start + float64(i+1)*h}
	}
	for i, v := range obs.values {
		j := int(math.Floor((v - start) / h))
		j = min(max(j, 0), m-1)
		bins[j].Count += obs.weight[i]
	}
	return bins, h
}

// niceWidth rounds a bin width to the nearest (on a log scale) 1, 2 or 5
// times a power of ten, so that bin edges fall on round numbers.
func niceWidth(h float64) float64 {
	if !(h > 0) || math.IsInf(h, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(h)))
	best := p
	for _, m := range []float64{2, 5, 10} {
		if math.Abs(math.Log(m*p/h)) < math.Abs(math.Log(best/h)) {
			best = m * p
		}
	}
	return best
}
