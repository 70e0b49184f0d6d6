package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/em"
)

// emFamily maps model.family to em's families.
var emFamily = map[string]em.Family{
	Bernoulli: em.Bernoulli, Categorical: em.Categorical, Gaussian: em.Gaussian, Poisson: em.Poisson,
	MultivariateGaussian: em.MultiGaussian,
}

// learning is what a model with learned component parameters needs: em's
// model for each K it fits, and what the output tables report.
type learning struct {
	// models[k] is em's model with k components (k in kmin..kmax).
	models     map[int]em.Model
	kmin, kmax int
	settings   em.LearnSettings
	// scalars are the family's learned scalar parameters (p, mean, sd,
	// rate), in output order; probs reports learned categorical probs;
	// mvn learned multivariate_gaussian mean vectors and covariances.
	scalars []string
	probs   bool
	mvn     bool
	dim     int // values per row
	seed    uint64
	// selectBIC picks K by BIC (else AIC) with components_range.
	selectBIC bool
}

// newLearning returns nil when no component parameter is learned.
func newLearning(cfg *Config, m *model) (*learning, error) {
	mc := &cfg.Model
	if !mc.LearnsParams() {
		return nil, nil
	}
	set, err := em.ParseLearnSet(mc.Learn)
	if err != nil {
		return nil, err
	}
	l := &learning{models: map[int]em.Model{}, seed: cfg.EM.Seed, selectBIC: mc.Select != SelectAIC, dim: m.dim}
	var cov em.Covariance
	if mc.Family == MultivariateGaussian {
		// Validate requires mean and cov learned, and a covariance name.
		l.mvn = true
		if cov, err = em.ParseCovariance(mc.Covariance); err != nil {
			return nil, err
		}
	}
	for _, q := range familyParams[mc.Family] {
		switch {
		case !mc.Learns(q) || l.mvn:
		case q == "probs":
			l.probs = true
		default:
			l.scalars = append(l.scalars, q)
		}
	}
	l.settings = em.LearnSettings{MaxIter: cfg.EM.MaxIter, Tol: cfg.EM.Tol, Restarts: cfg.EM.Restarts}
	if cfg.EM.Accelerate == "none" {
		l.settings.Accelerate = em.None
	}
	l.kmin, l.kmax = len(m.names), len(m.names)
	if r := mc.ComponentsRange; len(r) == 2 {
		l.kmin, l.kmax = r[0], r[1]
	}
	for k := l.kmin; k <= l.kmax; k++ {
		em := em.Model{Family: emFamily[mc.Family], K: k, Levels: len(m.labels), Learn: set, RegCovar: mc.RegCovar}
		if l.mvn {
			em.Dim, em.Covariance = m.dim, cov
		}
		em.Init = initParams(cfg, m, k)
		l.models[k] = em
	}
	return l, nil
}

// initParams returns the given values of the components (all of a
// parameter's or none, as Validate checks) for a model of k components.
func initParams(cfg *Config, m *model, k int) em.Params {
	var p em.Params
	if w := cfg.EM.Init.Weights; w != nil && len(w) == k {
		p.Weights = append([]float64(nil), w...)
	}
	comps := cfg.Model.Components
	if len(comps) != k {
		return p // components_range: nothing is given
	}
	all := func(get func(c ComponentConfig) *float64) []float64 {
		out := make([]float64, k)
		for i, c := range comps {
			v := get(c)
			if v == nil {
				return nil
			}
			out[i] = *v
		}
		return out
	}
	p.P = all(func(c ComponentConfig) *float64 { return c.P })
	p.Mean = all(func(c ComponentConfig) *float64 { return c.Mean })
	p.SD = all(func(c ComponentConfig) *float64 { return c.SD })
	p.Rate = all(func(c ComponentConfig) *float64 { return c.Rate })
	if cfg.Model.Family == Categorical && comps[0].Probs != nil {
		p.Probs = make([]float64, k*len(m.labels))
		for i, c := range comps {
			for label, v := range c.Probs {
				p.Probs[i*len(m.labels)+m.labelIndex[label]] = v
			}
		}
	}
	return p
}

// learned holds the learned parameters of every bag, indexed like fits'
// weights (bag b's component j at b*k+j; probs at (b*k+j)*levels+code;
// multivariate means at (b*k+j)*dim+a, covariances at
// ((b*k+j)*dim+a)*dim+c).
type learned struct {
	scalars map[string][]float64 // p, mean, sd, rate
	se      map[string][]float64 // their standard errors
	probs   []float64
	// mean and cov are multivariate_gaussian's mean vectors and
	// covariance matrices (row-major, both triangles).
	mean, cov []float64
}

func newLearned(l *learning, nb, k, levels int) *learned {
	out := &learned{scalars: map[string][]float64{}, se: map[string][]float64{}}
	for _, q := range l.scalars {
		out.scalars[q] = make([]float64, nb*k)
		out.se[q] = make([]float64, nb*k)
	}
	if l.probs {
		out.probs = make([]float64, nb*k*levels)
	}
	if l.mvn {
		out.mean = make([]float64, nb*k*l.dim)
		out.cov = make([]float64, nb*k*l.dim*l.dim)
	}
	return out
}

// bagSeed derives bag i's random stream from em.seed and its key alone.
func (b *bags) seed(run uint64, i int) uint64 {
	if b.strs != nil {
		return em.BagSeed(run, b.strs[i])
	}
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], uint64(b.ints[i]))
	return em.BagSeed(run, key[:])
}

// learn fits bag i's aggregated values w.xs, w.cs with learned components,
// for each K of the range, keeping the best by the criterion. A K whose
// fit has a singular covariance matrix is no candidate; the bag fails
// with a *SingularError only if every K's fit does.
func (w *worker) learn(b *bags, m *model, f *fits, i int) error {
	l := m.learn
	if w.learners == nil {
		w.learners = map[int]*em.Learner{}
	}
	s := l.settings
	s.Seed = b.seed(l.seed, i)
	s.Done = w.settings.Done // a long fit stops on interrupt
	var best em.LearnResult
	var singular error
	bestK, bestScore := 0, math.Inf(1)
	for k := l.kmin; k <= l.kmax; k++ {
		ln := w.learners[k]
		if ln == nil {
			var err error
			if ln, err = em.NewLearner(l.models[k]); err != nil {
				return err
			}
			w.learners[k] = ln
		}
		res, err := ln.Learn(em.Bag{X: w.xs, Counts: w.cs}, s)
		if err != nil {
			var oe *em.ObservationError
			var sc *em.SingularCovarianceError
			switch {
			case errors.As(err, &oe):
				return fmt.Errorf("value %s: %w", m.describe(oe.Value), err)
			case errors.As(err, &sc):
				if singular == nil {
					singular = &SingularError{K: k, RegCovar: sc.RegCovar, Err: err}
				}
				continue
			}
			return err
		}
		np := l.models[k].FreeParams()
		score := em.AIC(res.LogLikelihood, np)
		if l.selectBIC {
			score = em.BIC(res.LogLikelihood, np, f.total[i])
		}
		if score < bestScore || bestK == 0 {
			best, bestK, bestScore = res, k, score
		}
	}
	if bestK == 0 {
		return singular
	}
	k, p := f.k, best.Params
	f.ncomp[i] = int64(bestK)
	f.iters[i] = int64(best.Iterations)
	f.converged[i] = best.Converged
	f.ll[i] = best.LogLikelihood
	f.gap[i] = math.NaN() // the Newton certificate is for fixed components
	np := l.models[bestK].FreeParams()
	f.bic[i] = em.BIC(best.LogLikelihood, np, f.total[i])
	f.aic[i] = em.AIC(best.LogLikelihood, np)
	for j := range k {
		f.weights[i*k+j], f.se[i*k+j] = 0, math.NaN() // components beyond bestK
	}
	copy(f.weights[i*k:], p.Weights)
	get := scalarParams(p)
	for _, q := range l.scalars {
		dst := f.learned.scalars[q][i*k : i*k+k]
		for j := range dst {
			dst[j] = math.NaN()
		}
		copy(dst, get[q])
	}
	if l.probs {
		levels := len(m.labels)
		copy(f.learned.probs[i*k*levels:], p.Probs)
	}
	if l.mvn {
		d := l.dim
		mean, cov := f.learned.mean[i*k*d:(i+1)*k*d], f.learned.cov[i*k*d*d:(i+1)*k*d*d]
		for j := range mean {
			mean[j] = math.NaN() // components beyond bestK
		}
		for j := range cov {
			cov[j] = math.NaN()
		}
		copy(mean, p.Mean)
		copy(cov, p.Cov)
	}
	w.stdErrors(m, f, i, bestK, p)
	return nil
}

// SingularError is a bag whose learned covariance matrix is singular even
// with model.reg_covar added to its diagonal (a per-bag error: under
// run.on_error: skip the bag fails). It wraps em's
// *em.SingularCovarianceError.
type SingularError struct {
	K        int // the number of components fitted (the smallest, with components_range)
	RegCovar float64
	Err      error
}

func (e *SingularError) Error() string {
	return fmt.Sprintf("the learned covariance matrix of a component is singular even with model.reg_covar %g added to its diagonal "+
		"(fitting %d components: a component collapsed onto too few distinct points, such as points on a line, or the values are so large that reg_covar is lost in rounding); "+
		"use fewer components, covariance: diag or spherical, or a larger model.reg_covar", e.RegCovar, e.K)
}

func (e *SingularError) Unwrap() error { return e.Err }

// stdErrors fills the standard errors of bag i's weights and learned
// scalar parameters from the observed information. Learned categorical
// probabilities and multivariate_gaussian means and covariances have none
// in this release, and neither do the weights of such models: the weights'
// errors would have to account for the learned probabilities or
// covariances, so they are left NaN (null) rather than understated.
func (w *worker) stdErrors(m *model, f *fits, i, kused int, p em.Params) {
	l, k := m.learn, f.k
	for _, q := range l.scalars {
		se := f.learned.se[q][i*k : i*k+k]
		for j := range se {
			se[j] = math.NaN()
		}
	}
	if l.probs || l.mvn {
		return
	}
	model := l.models[kused]
	learned := func(q string) []bool {
		if !m.learnsParam(q) {
			return nil
		}
		out := make([]bool, kused)
		for j := range out {
			out[j] = true
		}
		return out
	}
	comps := em.ScalarComponents{P: p.P, Rate: p.Rate, Mean: p.Mean, SD: p.SD,
		LearnedP: learned("p"), LearnedRate: learned("rate"), LearnedMean: learned("mean"), LearnedSD: learned("sd"),
		SDFloor: math.Sqrt(model.VarianceFloor())} // a learned sd on the variance floor is on its boundary
	res, err := w.unc.StdErrors(model.Family, w.xs, w.cs, p.Weights, comps)
	if err != nil {
		return // left NaN: the estimate stands, its error is unknown
	}
	copy(f.se[i*k:], res.Weights)
	got := map[string][]float64{"p": res.P, "mean": res.Mean, "sd": res.SD, "rate": res.Rate}
	for _, q := range l.scalars {
		copy(f.learned.se[q][i*k:], got[q])
	}
}

// scalarParams maps the names of the scalar parameters to their slices in p.
func scalarParams(p em.Params) map[string][]float64 {
	return map[string][]float64{"p": p.P, "mean": p.Mean, "sd": p.SD, "rate": p.Rate}
}

// learnsParam reports whether component parameter q is learned.
func (m *model) learnsParam(q string) bool {
	if m.learn == nil {
		return false
	}
	for _, s := range m.learn.scalars {
		if s == q {
			return true
		}
	}
	return q == "probs" && m.learn.probs
}

// bagComps returns bag b's components as log-densities: the configured
// ones, or for learned models the bag's learned parameters over the given
// ones. Components a bag does not use (beyond its K, or with weight 0 and
// no parameters) get a density of zero.
func (m *model) bagComps(dst []em.LogProber, f *fits, b int) []em.LogProber {
	if m.learn == nil {
		return m.comps
	}
	k := f.k
	dst = dst[:0]
	for j := range k {
		if int64(j) >= f.ncomp[b] {
			dst = append(dst, zero{})
			continue
		}
		param := func(q string, fixed float64) float64 {
			if v, ok := f.learned.scalars[q]; ok {
				return v[b*k+j]
			}
			return fixed
		}
		var c em.LogProber
		switch m.family {
		case Bernoulli:
			c = distuv.Bernoulli{P: param("p", m.fixed("p", j))}
		case Gaussian:
			c = newNormal(param("mean", m.fixed("mean", j)), param("sd", m.fixed("sd", j)))
		case Poisson:
			c = poissonDist{param("rate", m.fixed("rate", j))}
		case MultivariateGaussian:
			c = zero{} // no univariate density: see mvnComps
		case Categorical:
			if f.learned.probs != nil {
				levels := len(m.labels)
				c = categorical(f.learned.probs[(b*k+j)*levels : (b*k+j+1)*levels])
			} else {
				c = m.comps[j]
			}
		}
		if !(f.weights[b*k+j] > 0) {
			c = zero{} // no observations: its parameters are NaN
		}
		dst = append(dst, c)
	}
	return dst
}

// fixed returns component j's given value of parameter q (NaN if none).
func (m *model) fixed(q string, j int) float64 {
	if j >= len(m.given) {
		return math.NaN()
	}
	if v, ok := m.given[j][q]; ok {
		return v
	}
	return math.NaN()
}

// zero is a component that gives every value density zero.
type zero struct{}

// LogProb returns -Inf.
func (zero) LogProb(float64) float64 { return math.Inf(-1) }
