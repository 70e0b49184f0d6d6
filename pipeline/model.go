package pipeline

import (
	"math"
	"strconv"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/em"
)

// PosteriorPrefix starts the name of each per-component column of the
// posteriors table.
const PosteriorPrefix = "posterior_"

// model is the validated mixture in the form the fit needs: the components
// as log-densities over coded values.
//
// Values are coded as float64 for em: bernoulli 0/1, categorical the index
// of the label in labels, gaussian the value, poisson the count,
// multivariate_gaussian the dim values of a row (one per value column).
type model struct {
	family string
	names  []string
	// dim is the number of values per row: the value columns.
	dim   int
	comps []em.LogProber
	// labels are the categorical labels, sorted; labelIndex inverts it.
	labels     []string
	labelIndex map[string]int
	// possible[code] reports whether some component gives a discrete code
	// positive probability (bernoulli and categorical).
	possible []bool
	settings em.Settings
	// given[j] holds component j's configured scalar parameters.
	given []map[string]float64
	// learn is nil unless component parameters are learned.
	learn *learning
}

func newModel(cfg *Config) *model {
	m := &model{family: cfg.Model.Family, names: cfg.Model.Names(), dim: max(1, len(cfg.Input.Value))}
	comps := cfg.Model.Components
	m.given = make([]map[string]float64, len(comps))
	for i, c := range comps {
		g := map[string]float64{}
		for q, v := range map[string]*float64{"p": c.P, "mean": c.Mean, "sd": c.SD, "rate": c.Rate} {
			if v != nil {
				g[q] = *v
			}
		}
		m.given[i] = g
	}
	// A learned parameter that is not given has no value until a bag is
	// fitted: such components get NaN here and are only used per bag
	// (bagComps).
	val := func(v *float64) float64 {
		if v == nil {
			return math.NaN()
		}
		return *v
	}
	switch m.family {
	case Bernoulli:
		m.possible = make([]bool, 2)
		for _, c := range comps {
			p := val(c.P)
			m.comps = append(m.comps, distuv.Bernoulli{P: p})
			m.possible[0] = m.possible[0] || !(p >= 1)
			m.possible[1] = m.possible[1] || !(p <= 0)
		}
		if cfg.Model.Learns("p") {
			m.possible[0], m.possible[1] = true, true
		}
	case Categorical:
		m.labels = cfg.Model.labels()
		m.labelIndex = make(map[string]int, len(m.labels))
		for i, l := range m.labels {
			m.labelIndex[l] = i
		}
		m.possible = make([]bool, len(m.labels))
		if cfg.Model.Learns("probs") {
			for i := range m.possible {
				m.possible[i] = true // learned probs can give any label mass
			}
		}
		for _, c := range comps {
			probs := make(categorical, len(m.labels))
			for label, p := range c.Probs {
				probs[m.labelIndex[label]] = p
				m.possible[m.labelIndex[label]] = m.possible[m.labelIndex[label]] || p > 0
			}
			m.comps = append(m.comps, probs)
		}
	case Gaussian:
		for _, c := range comps {
			m.comps = append(m.comps, newNormal(val(c.Mean), val(c.SD)))
		}
	case Poisson:
		for _, c := range comps {
			m.comps = append(m.comps, poissonDist{val(c.Rate)})
		}
	case MultivariateGaussian:
		// Every component's parameters are learned per bag; the fit and
		// the posteriors use the bag's (mvnComps), never these.
		for range comps {
			m.comps = append(m.comps, zero{})
		}
	}
	m.settings = em.Settings{
		Init:    cfg.EM.Init.Weights,
		MaxIter: cfg.EM.MaxIter,
		Tol:     cfg.EM.Tol,
	}
	if cfg.EM.Accelerate == "none" {
		m.settings.Accelerate = em.None
	}
	m.learn, _ = newLearning(cfg, m) // Validate has checked what can fail
	return m
}

// discrete reports whether values are codes from a small set, fitted as
// (code, count) pairs through a dense counter.
func (m *model) discrete() bool { return m.possible != nil }

// describe renders a coded value as the user wrote it.
func (m *model) describe(code float64) string {
	if m.family == Categorical {
		if i := int(code); float64(i) == code && i >= 0 && i < len(m.labels) {
			return strconv.Quote(m.labels[i])
		}
	}
	return strconv.FormatFloat(code, 'g', -1, 64)
}

// categorical is a probability mass function over label indices.
type categorical []float64

// LogProb returns the log-probability of label index x.
func (c categorical) LogProb(x float64) float64 {
	i := int(x)
	if float64(i) != x || i < 0 || i >= len(c) {
		return math.Inf(-1)
	}
	return math.Log(c[i])
}

// normal is a Gaussian density. Its log is computed through the standard
// score z = (x-mean)/sd, so that it stays finite wherever z*z does: squaring
// x-mean and sd first (as distuv.Normal does) overflows to Inf/Inf = NaN for
// components with means and sds near 1e300. The score multiplies by 1/sd,
// a division's cost saved on every value (one more rounding, at most an
// ulp of z), except for an sd so small that 1/sd overflows.
type normal struct{ mu, sigma, inv, logSigma float64 }

// newNormal returns the normal distribution of mean mu and standard
// deviation sigma.
func newNormal(mu, sigma float64) normal {
	return normal{mu: mu, sigma: sigma, inv: 1 / sigma, logSigma: math.Log(sigma)}
}

// logRoot2Pi is log(sqrt(2*pi)).
var logRoot2Pi = 0.5 * math.Log(2*math.Pi)

// LogProb returns the log-density at x.
func (n normal) LogProb(x float64) float64 {
	var z float64
	if math.IsInf(n.inv, 0) {
		z = (x - n.mu) / n.sigma
	} else {
		z = (x - n.mu) * n.inv
	}
	return -0.5*z*z - n.logSigma - logRoot2Pi
}

// LogProbs sets dst[i*stride] = n.LogProb(xs[i]) for every i (an
// em.ColumnLogProber, so that em.Table fills a Gaussian table without a
// call per value).
func (n normal) LogProbs(dst []float64, stride int, xs []float64) {
	if len(xs) == 0 {
		return
	}
	dst = dst[:(len(xs)-1)*stride+1]
	if math.IsInf(n.inv, 0) {
		for i, x := range xs {
			dst[i*stride] = n.LogProb(x)
		}
		return
	}
	mu, inv, ls, lr := n.mu, n.inv, n.logSigma, logRoot2Pi
	for i, x := range xs {
		z := (x - mu) * inv
		dst[i*stride] = -0.5*z*z - ls - lr
	}
}
