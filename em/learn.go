package em

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Defaults for Model and LearnSettings fields left at their zero value.
// LearnSettings.MaxIter and Tol default to DefaultMaxIter and DefaultTol.
const (
	// DefaultRegCovar is the default of Model.RegCovar: the floor of a
	// learned Gaussian variance, and what is added to the diagonal of a
	// learned MultiGaussian covariance, as scikit-learn's reg_covar.
	DefaultRegCovar = 1e-6
	// DefaultRestarts is the number of random starts when component
	// parameters are learned.
	DefaultRestarts = 10
)

// LearnSet is a set of quantities to learn: the weights and any of the
// family's component parameters. Combine with |.
type LearnSet uint16

// The quantities. LearnMean is the mean of a Gaussian or the mean vector of
// a MultiGaussian; LearnCov its covariance matrix.
const (
	LearnWeights LearnSet = 1 << iota
	LearnP
	LearnProbs
	LearnMean
	LearnSD
	LearnRate
	LearnCov
)

var learnNames = []struct {
	q    LearnSet
	name string
}{
	{LearnWeights, "weights"}, {LearnP, "p"}, {LearnProbs, "probs"},
	{LearnMean, "mean"}, {LearnSD, "sd"}, {LearnRate, "rate"}, {LearnCov, "cov"},
}

// ParseLearnSet returns the set named by the config names in names
// ("weights", "p", "probs", "mean", "sd", "rate", "cov").
func ParseLearnSet(names []string) (LearnSet, error) {
	var s LearnSet
next:
	for _, n := range names {
		for _, q := range learnNames {
			if q.name == n {
				if s.Has(q.q) {
					return 0, fmt.Errorf("em: %q is listed twice", n)
				}
				s |= q.q
				continue next
			}
		}
		return 0, fmt.Errorf("em: unknown quantity %q (want weights, p, probs, mean, sd, rate or cov)", n)
	}
	return s, nil
}

// Has reports whether s holds every quantity of q.
func (s LearnSet) Has(q LearnSet) bool { return s&q == q }

// String returns the config names of s, as in "[weights mean sd]".
func (s LearnSet) String() string {
	var names []string
	for _, q := range learnNames {
		if s.Has(q.q) {
			names = append(names, q.name)
		}
	}
	return "[" + strings.Join(names, " ") + "]"
}

// Params returns the set of fam's component parameters.
func (fam Family) Params() LearnSet {
	switch fam {
	case Bernoulli:
		return LearnP
	case Categorical:
		return LearnProbs
	case Gaussian:
		return LearnMean | LearnSD
	case Poisson:
		return LearnRate
	case MultiGaussian:
		return LearnMean | LearnCov
	}
	return 0
}

// Covariance is the structure of MultiGaussian covariance matrices.
type Covariance int

const (
	// CovFull matrices are any symmetric positive definite matrices.
	CovFull Covariance = iota
	// CovDiag matrices are diagonal.
	CovDiag
	// CovSpherical matrices are multiples of the identity.
	CovSpherical
)

// String returns the config name of c.
func (c Covariance) String() string {
	switch c {
	case CovFull:
		return "full"
	case CovDiag:
		return "diag"
	case CovSpherical:
		return "spherical"
	}
	return fmt.Sprintf("Covariance(%d)", int(c))
}

// ParseCovariance returns the Covariance with config name s.
func ParseCovariance(s string) (Covariance, error) {
	for _, c := range []Covariance{CovFull, CovDiag, CovSpherical} {
		if c.String() == s {
			return c, nil
		}
	}
	return 0, fmt.Errorf("em: unknown covariance %q (want full, diag or spherical)", s)
}

// Params are the weights and component parameters of a mixture of K
// components, in plain slices; a slice that a family does not use is nil.
// Per-component blocks are row-major: component k of Mean is
// Mean[k*D:(k+1)*D].
type Params struct {
	Weights []float64 // K mixture weights
	P       []float64 // Bernoulli: K probabilities P(x = 1)
	Probs   []float64 // Categorical: K×Levels probabilities of the codes
	Mean    []float64 // Gaussian: K means; MultiGaussian: K×Dim mean vectors
	SD      []float64 // Gaussian: K standard deviations
	Rate    []float64 // Poisson: K rates
	// Cov holds MultiGaussian's K covariance matrices, each Dim×Dim and
	// complete (both triangles), also for CovDiag and CovSpherical.
	Cov []float64
}

// quantities returns p's slices in their packing order (Weights, P,
// Probs, Mean, SD, Rate, Cov).
func (p *Params) quantities() [7][]float64 {
	return [7][]float64{p.Weights, p.P, p.Probs, p.Mean, p.SD, p.Rate, p.Cov}
}

// Clone returns a deep copy of p. The copy's slices share one newly
// allocated array (one allocation per result of Learn), each capped at its
// length, so appending to one never writes into another; nil slices stay
// nil.
func (p Params) Clone() Params {
	all := make([]float64, 0, len(p.Weights)+len(p.P)+len(p.Probs)+len(p.Mean)+len(p.SD)+len(p.Rate)+len(p.Cov))
	c := func(s []float64) []float64 {
		if s == nil {
			return nil
		}
		n := len(all)
		all = append(all, s...)
		return all[n:len(all):len(all)]
	}
	return Params{Weights: c(p.Weights), P: c(p.P), Probs: c(p.Probs), Mean: c(p.Mean),
		SD: c(p.SD), Rate: c(p.Rate), Cov: c(p.Cov)}
}

// copyParams copies src's slices into dst's, which have the same lengths.
func copyParams(dst, src *Params) {
	copy(dst.Weights, src.Weights)
	copy(dst.P, src.P)
	copy(dst.Probs, src.Probs)
	copy(dst.Mean, src.Mean)
	copy(dst.SD, src.SD)
	copy(dst.Rate, src.Rate)
	copy(dst.Cov, src.Cov)
}

// Model describes a mixture whose parameters are (partly) learned.
//
// Every quantity that is not learned is fixed at its value in Init, which
// must then be given (fixed weights may be left nil: uniform). A learned
// quantity starts from its Init value when that is given (a nil slice is
// not given); otherwise from the k-means++ initialiser, see Learner.Learn.
type Model struct {
	Family Family
	K      int // components, >= 1
	// Dim is the dimension of MultiGaussian values (>= 1); 0 otherwise.
	Dim int
	// Levels is the number of Categorical codes, 0..Levels-1; 0 otherwise.
	Levels int
	Learn  LearnSet
	// Covariance is the structure of MultiGaussian covariance matrices.
	Covariance Covariance
	// RegCovar keeps learned variances away from 0; 0 means
	// DefaultRegCovar. A learned Gaussian sd² is the maximum likelihood
	// estimate with sd² >= RegCovar: the M-step takes max(v, RegCovar),
	// the constrained maximum that Newton's finish reaches too. (Adding it
	// to v, as scikit-learn does, gives EM the fixed point v + RegCovar
	// and Newton v, and a component whose v is near 10·RegCovar, where
	// Newton hands it to EM as collapsed, then never converges.) The
	// diagonal of a learned MultiGaussian covariance, which has no Newton
	// finish, gets RegCovar added, as scikit-learn's reg_covar. To switch
	// it off use a tiny positive value such as 1e-300.
	RegCovar float64
	// Init holds the given values: the fixed quantities, and starting
	// values of learned ones.
	Init Params
}

// VarianceFloor returns the smallest variance a learned one can take:
// RegCovar, or DefaultRegCovar when RegCovar is 0.
func (m Model) VarianceFloor() float64 {
	if m.RegCovar == 0 {
		return DefaultRegCovar
	}
	return m.RegCovar
}

// FreeParams returns the number of free parameters of one bag's mixture:
// K-1 for learned weights plus the learned component parameters (Gaussian
// mean and sd: K each; Poisson rate, Bernoulli p: K; Categorical probs:
// K(Levels-1); MultiGaussian mean K·Dim and covariance K·Dim(Dim+1)/2 full,
// K·Dim diag, K spherical).
func (m Model) FreeParams() int {
	return m.componentParams() + m.weightParams()
}

// SharedFreeParams returns the number of free parameters of a shared model
// over bags bags: the component parameters once, the weights per bag.
func (m Model) SharedFreeParams(bags int) int {
	return m.componentParams() + bags*m.weightParams()
}

func (m Model) weightParams() int {
	if m.Learn.Has(LearnWeights) {
		return m.K - 1
	}
	return 0
}

func (m Model) componentParams() int {
	k, d, p := m.K, m.Dim, 0
	for _, q := range []LearnSet{LearnP, LearnMean, LearnSD, LearnRate} {
		if m.Learn.Has(q) && m.Family.Params().Has(q) {
			p += k
		}
	}
	if m.Family == MultiGaussian && m.Learn.Has(LearnMean) {
		p += k * (d - 1)
	}
	if m.Family == Categorical && m.Learn.Has(LearnProbs) {
		p += k * (m.Levels - 1)
	}
	if m.Family == MultiGaussian && m.Learn.Has(LearnCov) {
		p += k * m.Covariance.params(d)
	}
	return p
}

// params returns the free parameters of one d×d covariance matrix of
// structure c.
func (c Covariance) params(d int) int {
	switch c {
	case CovFull:
		return d * (d + 1) / 2
	case CovDiag:
		return d
	default:
		return 1
	}
}

// BIC returns the Bayesian information criterion -2 ll + p log N for a
// log-likelihood ll, p free parameters and total count N.
func BIC(ll float64, p int, n float64) float64 { return -2*ll + float64(p)*math.Log(n) }

// AIC returns Akaike's information criterion -2 ll + 2p.
func AIC(ll float64, p int) float64 { return -2*ll + 2*float64(p) }

// Bag is one bag's observations. For the univariate families X holds one
// value per row (Categorical values are codes 0..Levels-1, Bernoulli values
// 0 or 1, Poisson values non-negative integers); for MultiGaussian X is
// the row-major n×Dim matrix of values. Counts holds each row's count
// (>= 0); nil means 1 for every row.
type Bag struct {
	X      []float64
	Counts []float64
}

// LearnSettings control Learn and FitShared. The zero value is ready to use.
type LearnSettings struct {
	// MaxIter caps the E-steps per start after the first; 0 means
	// DefaultMaxIter.
	MaxIter int
	// Tol: a start stops when an EM step raises the log-likelihood by at
	// most Tol times its absolute value and its point is certified (see
	// LearnResult.Converged); 0 means DefaultTol.
	Tol float64
	// Restarts is the number of random starts; 0 means DefaultRestarts.
	// It matters only where the initialiser is random (see Learner.Learn).
	Restarts int
	// Seed seeds the random starts; derive it per bag with BagSeed.
	Seed uint64
	// Accelerate selects SQUAREM (default) or plain EM.
	Accelerate Acceleration
	// Parallel, when not nil, spreads FitShared's E-steps: see Parallel.
	Parallel Parallel
	// Done, when not nil, is polled between E-steps and Newton steps, and
	// between starts: once it is closed, Learn and FitShared stop and
	// return ErrStopped, as Fit does with Settings.Done.
	Done <-chan struct{}
}

// Parallel runs fn(part) for every part in [0, parts), possibly several at
// once, and returns the first error. FitShared splits the bags into parts
// of SharedBlock bags and gives each part its own work space, so fn may run
// concurrently; the parts' statistics are added in part order afterwards,
// so the result does not depend on how Parallel schedules them. em itself
// starts no goroutines: the caller decides how to run the parts.
type Parallel func(parts int, fn func(part int) error) error

func (s LearnSettings) withDefaults() LearnSettings {
	if s.MaxIter <= 0 {
		s.MaxIter = DefaultMaxIter
	}
	if !(s.Tol > 0) {
		s.Tol = DefaultTol
	}
	if s.Restarts <= 0 {
		s.Restarts = DefaultRestarts
	}
	return s
}

// LearnResult is the outcome of Learn.
type LearnResult struct {
	// Params are the estimates (and the fixed values), in canonical order
	// when the components are exchangeable (see Learner.Learn).
	Params Params
	// LogLikelihood is sum_i c_i log p(x_i) at Params with all normalising
	// constants (Gaussian 2π and σ, Poisson x!, MultiGaussian determinant).
	LogLikelihood float64
	// Iterations counts the E-steps of the best start after its first.
	Iterations int
	// TotalIterations counts the E-steps of all starts, first ones included.
	TotalIterations int
	// Converged reports whether the best start's point is certified a
	// local maximum of the log-likelihood (see Learner.Learn, "Stopping"):
	// for univariate Gaussian, Poisson and Bernoulli components by Newton's
	// method with the exact Hessian (no direction of upward curvature on
	// the free coordinates, and the gain the local quadratic model predicts
	// at most 1e-3·Tol·|ll|, plus for Gaussian components the gain that
	// rounding the means to representable values may leave, which matters
	// only for means some 1e8 sds or more from 0); for Categorical and
	// MultiGaussian components by Aitken's criterion on the EM sequence
	// (its limit estimated at most Tol·|ll| above the point) and, for
	// learned weights, a first-order bound on what the weights below 1e-2
	// can still gain with the components held, at most Tol·|ll|. With
	// Accelerate None it reports the textbook rule alone (an EM step
	// gained at most Tol·|ll|). It certifies a local maximum, not the
	// global one: that is what the starts are for.
	Converged bool
	// Starts is the number of distinct starting points run (random starts
	// that reach a starting point already run are skipped).
	Starts int
}

// BagSeed derives a bag's seed from the run's seed and the bag's key (its
// bytes; encode integer keys in a fixed width, say 8 bytes big-endian), by
// FNV-1a over the seed's 8 little-endian bytes and the key, then the
// SplitMix64 finaliser. It depends on nothing else, so a bag's random
// starts depend neither on the worker count nor on other bags.
func BagSeed[K ~string | ~[]byte](run uint64, key K) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := range 8 {
		h ^= (run >> (8 * i)) & 0xff
		h *= prime
	}
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// pcgStream is the PCG stream constant of the starts' random source.
const pcgStream = 0x6d69786261746368 // "mixbatch"

// ObservationError reports a value outside the family's support.
type ObservationError struct {
	Row    int     // row of the bag
	Value  float64 // the value (a coordinate of it for MultiGaussian)
	Reason string
}

func (e *ObservationError) Error() string {
	return fmt.Sprintf("em: observation %d: value %v: %s", e.Row, e.Value, e.Reason)
}

// SingularCovarianceError reports a covariance matrix that is not positive
// definite even after RegCovar was added to its diagonal: the component
// collapsed onto too few distinct points (or the values are so large that
// RegCovar is lost in rounding).
type SingularCovarianceError struct {
	Component int
	RegCovar  float64
}

func (e *SingularCovarianceError) Error() string {
	return fmt.Sprintf("em: the covariance of component %d is singular even with reg_covar %g added to its diagonal "+
		"(the component collapsed onto too few distinct points); use fewer components or a larger reg_covar", e.Component, e.RegCovar)
}

// Learn fits one bag; see Learner.Learn.
func Learn(bag Bag, m Model, s LearnSettings) (LearnResult, error) {
	l, err := NewLearner(m)
	if err != nil {
		return LearnResult{}, err
	}
	return l.Learn(bag, s)
}

// Learner fits bag after bag of one Model, reusing its buffers. A Learner
// must not be used by two goroutines at once; make one per worker.
//
// The buffers grow to the largest bag learned and are reused: a Learn of a
// bag no larger than one learned before makes exactly one allocation, the
// array behind the returned LearnResult.Params (see Params.Clone),
// however many starts and E-steps it runs. Errors are allocated too.
type Learner struct {
	m   Model
	d   int // values per row: Dim for MultiGaussian, else 1
	par LearnSet
	// The loaded bag: rows x (n×d), counts c, sum of counts, the constant
	// part of the log-likelihood (Gaussian -log √2π; Poisson log f(x; ref),
	// see poissonRef).
	x, c         []float64
	total, konst float64
	ref          float64 // Poisson: the reference rate of konst
	perm         []int
	fsum         exactSum // canonical's sums of equal rows' counts

	pts     [6]Params // EM points (squarem)
	best    Params
	cmp     Params    // scratch: a point in canonical order
	found   []float64 // packed maxima reached by earlier starts
	foundLL []float64 // and their log-likelihoods
	scale   []float64 // scale of each packed coordinate
	sd      []float64 // scales' per-dimension standard deviations
	st      Stats
	vec     [4][]float64 // packed points for SQUAREM
	starts  []float64    // starting points already run, flattened
	rng     *rand.Rand
	pcg     *rand.PCG
	km      kmeans
	scratch []float64 // per-row component scratch: 4×K
	logp    []float64 // categorical log-probabilities, bernoulli log p / log(1-p)
	mvn     mvnWork
	gc      []gcomp
	newton  gaussNewton
	done    <-chan struct{} // LearnSettings.Done of the current Learn or FitShared
	exch    bool            // components exchangeable: results in canonical order
	order   []int           // scratch of sortComponents: the permutation
	tmp     []float64       // and the permuted values
	// CheckIdentifiable's verdict on the model for one bag, which depends
	// on the model alone: computed once, not per bag.
	perBag    Identifiability
	perBagWhy string
}

// NewLearner validates m and returns a Learner for it.
func NewLearner(m Model) (*Learner, error) {
	m, err := validateModel(m)
	if err != nil {
		return nil, err
	}
	l := &Learner{m: m, d: 1, par: m.Family.Params()}
	if m.Family == MultiGaussian {
		l.d = m.Dim
	}
	for i := range l.pts {
		l.pts[i] = l.newParams()
	}
	l.best = l.newParams()
	l.cmp = l.newParams()
	l.st = *l.NewStats()
	for i := range l.vec {
		l.vec[i] = make([]float64, l.vecLen())
	}
	l.pcg = rand.NewPCG(0, pcgStream)
	l.rng = rand.New(l.pcg)
	l.scratch = make([]float64, 4*m.K)
	l.exch = exchangeable(m)
	l.perBag, l.perBagWhy = CheckIdentifiable(m, PerBag)
	if m.Family == MultiGaussian {
		l.mvn.init(m.K, m.Dim)
	}
	return l, nil
}

// Model returns the Learner's model, with defaults filled in and the given
// values normalised (weights and probabilities scaled to sum to one).
func (l *Learner) Model() Model {
	m := l.m
	m.Init = m.Init.Clone()
	return m
}

// newParams allocates a Params with the model's slices, initialised from
// the model's given values.
func (l *Learner) newParams() Params {
	m := l.m
	k := m.K
	p := Params{Weights: make([]float64, k)}
	switch m.Family {
	case Bernoulli:
		p.P = make([]float64, k)
	case Categorical:
		p.Probs = make([]float64, k*m.Levels)
	case Gaussian:
		p.Mean, p.SD = make([]float64, k), make([]float64, k)
	case Poisson:
		p.Rate = make([]float64, k)
	case MultiGaussian:
		p.Mean, p.Cov = make([]float64, k*m.Dim), make([]float64, k*m.Dim*m.Dim)
	}
	copyParams(&p, &m.Init)
	return p
}

// checkParams panics unless p has the model's slice lengths.
func (l *Learner) checkParams(p *Params) {
	q := &l.pts[0]
	if len(p.Weights) != len(q.Weights) || len(p.P) != len(q.P) || len(p.Probs) != len(q.Probs) ||
		len(p.Mean) != len(q.Mean) || len(p.SD) != len(q.SD) || len(p.Rate) != len(q.Rate) || len(p.Cov) != len(q.Cov) {
		panic("em: params do not match the model's family, K, Dim or Levels")
	}
}

// exchangeable reports whether m's components are interchangeable: every
// component parameter learned with no starting value given, and the
// weights not told apart by given values.
func exchangeable(m Model) bool {
	if !m.Learn.Has(m.Family.Params()) {
		return false
	}
	in := m.Init
	if in.P != nil || in.Probs != nil || in.Mean != nil || in.SD != nil || in.Rate != nil || in.Cov != nil {
		return false
	}
	for _, w := range in.Weights {
		if w != in.Weights[0] {
			return false
		}
	}
	return true
}

// validateModel checks m, fills in defaults and normalises given values.
func validateModel(m Model) (Model, error) {
	k := m.K
	if k < 1 {
		return m, fmt.Errorf("em: K must be at least 1, got %d", k)
	}
	par := m.Family.Params()
	if par == 0 {
		return m, fmt.Errorf("em: unknown family %v", m.Family)
	}
	if extra := m.Learn &^ (par | LearnWeights); extra != 0 {
		return m, fmt.Errorf("em: %v: learn %v is not a parameter of the family", m.Family, extra)
	}
	switch {
	case m.Family == MultiGaussian && m.Dim < 1:
		return m, fmt.Errorf("em: multivariate_gaussian: Dim must be at least 1, got %d", m.Dim)
	case m.Family != MultiGaussian && m.Dim != 0 && m.Dim != 1:
		return m, fmt.Errorf("em: %v: Dim must be 0, got %d", m.Family, m.Dim)
	case m.Family == Categorical && m.Levels < 1:
		return m, fmt.Errorf("em: categorical: Levels must be at least 1, got %d", m.Levels)
	case m.Family != Categorical && m.Levels != 0:
		return m, fmt.Errorf("em: %v: Levels must be 0, got %d", m.Family, m.Levels)
	case m.Covariance < CovFull || m.Covariance > CovSpherical:
		return m, fmt.Errorf("em: unknown covariance %v", m.Covariance)
	case m.RegCovar < 0 || math.IsNaN(m.RegCovar) || math.IsInf(m.RegCovar, 0):
		return m, fmt.Errorf("em: reg_covar must be finite and non-negative, got %v", m.RegCovar)
	}
	if m.Family != MultiGaussian {
		m.Dim = 0
	}
	m.RegCovar = m.VarianceFloor()
	in := m.Init.Clone()
	m.Init = in
	learned := func(q LearnSet) bool { return m.Learn.Has(q) }
	need := func(name string, s []float64, q LearnSet, n int) error {
		if s == nil {
			if !learned(q) {
				return fmt.Errorf("em: %v: %s is not learned, so its values must be given", m.Family, name)
			}
			return nil
		}
		if len(s) != n {
			return fmt.Errorf("em: %v: %s has %d values, want %d", m.Family, name, len(s), n)
		}
		return nil
	}
	// Weights.
	if in.Weights != nil {
		if len(in.Weights) != k {
			return m, fmt.Errorf("em: weights has %d values, want K = %d", len(in.Weights), k)
		}
		sum := 0.0
		for j, w := range in.Weights {
			if !(w >= 0) || math.IsInf(w, 1) || (learned(LearnWeights) && w == 0) {
				return m, fmt.Errorf("em: weight %d is %v; weights must be finite and non-negative (positive to start learning from)", j, w)
			}
			sum += w
		}
		if !(sum > 0) {
			return m, fmt.Errorf("em: the weights sum to zero")
		}
		for j := range in.Weights {
			in.Weights[j] /= sum
		}
	}
	var err error
	switch m.Family {
	case Bernoulli:
		if err = need("p", in.P, LearnP, k); err == nil {
			for j, p := range in.P {
				if !(p >= 0 && p <= 1) {
					return m, fmt.Errorf("em: bernoulli: p of component %d must be in [0, 1], got %v", j, p)
				}
			}
		}
	case Categorical:
		if err = need("probs", in.Probs, LearnProbs, k*m.Levels); err == nil && in.Probs != nil {
			for j := range k {
				row := in.Probs[j*m.Levels : (j+1)*m.Levels]
				sum := 0.0
				for _, p := range row {
					if !(p >= 0 && p <= 1) {
						return m, fmt.Errorf("em: categorical: probs of component %d must be in [0, 1], got %v", j, p)
					}
					sum += p
				}
				if math.Abs(sum-1) > 1e-9 {
					return m, fmt.Errorf("em: categorical: probs of component %d sum to %v, not 1", j, sum)
				}
				for l := range row {
					row[l] /= sum
				}
			}
		}
	case Gaussian:
		if err = need("mean", in.Mean, LearnMean, k); err == nil {
			err = need("sd", in.SD, LearnSD, k)
		}
		if err == nil {
			for j, v := range in.Mean {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return m, fmt.Errorf("em: gaussian: mean of component %d must be finite, got %v", j, v)
				}
			}
			for j, v := range in.SD {
				if !(v > 0) || math.IsInf(v, 1) {
					return m, fmt.Errorf("em: gaussian: sd of component %d must be positive and finite, got %v", j, v)
				}
			}
		}
	case Poisson:
		if err = need("rate", in.Rate, LearnRate, k); err == nil {
			for j, v := range in.Rate {
				if !(v > 0) || math.IsInf(v, 1) {
					return m, fmt.Errorf("em: poisson: rate of component %d must be positive and finite, got %v", j, v)
				}
			}
		}
	case MultiGaussian:
		d := m.Dim
		if err = need("mean", in.Mean, LearnMean, k*d); err == nil {
			err = need("cov", in.Cov, LearnCov, k*d*d)
		}
		if err == nil {
			for _, v := range in.Mean {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return m, fmt.Errorf("em: multivariate_gaussian: mean values must be finite, got %v", v)
				}
			}
			if in.Cov != nil {
				err = checkCovs(in.Cov, k, d, m.Covariance)
			}
		}
	}
	return m, err
}

// checkCovs checks given covariance matrices: symmetric, of the model's
// structure and positive definite.
func checkCovs(cov []float64, k, d int, typ Covariance) error {
	var chol mat.Cholesky
	for j := range k {
		c := cov[j*d*d : (j+1)*d*d]
		for a := range d {
			for b := range d {
				v := c[a*d+b]
				if math.IsNaN(v) || math.IsInf(v, 0) || v != c[b*d+a] {
					return fmt.Errorf("em: multivariate_gaussian: cov of component %d is not a finite symmetric matrix", j)
				}
				if a != b && v != 0 && typ != CovFull {
					return fmt.Errorf("em: multivariate_gaussian: cov of component %d must be diagonal for covariance %v", j, typ)
				}
				if a == b && typ == CovSpherical && v != c[0] {
					return fmt.Errorf("em: multivariate_gaussian: cov of component %d must be a multiple of the identity for covariance spherical", j)
				}
			}
		}
		if !chol.Factorize(mat.NewSymDense(d, slices.Clone(c))) {
			return fmt.Errorf("em: multivariate_gaussian: cov of component %d is not positive definite", j)
		}
	}
	return nil
}

// load validates the bag and copies its rows with positive counts into
// l.x and l.c; with canon, the rows are sorted and equal rows merged, so
// that the result does not depend on their order or on how counts are
// split across rows. It panics on a length mismatch.
func (l *Learner) load(bag Bag, canon bool) error {
	d := l.d
	if len(bag.X)%d != 0 {
		panic("em: values length is not a multiple of the dimension")
	}
	n := len(bag.X) / d
	if bag.Counts != nil && len(bag.Counts) != n {
		panic("em: counts length mismatch")
	}
	l.x, l.c = l.x[:0], l.c[:0]
	for i := range n {
		c := 1.0
		if bag.Counts != nil {
			c = bag.Counts[i]
		}
		if !(c >= 0) || math.IsInf(c, 1) {
			return &ValueError{Row: i, Component: -1, Value: c}
		}
		row := bag.X[i*d : (i+1)*d]
		for _, v := range row {
			if why := l.checkValue(v); why != "" {
				return &ObservationError{Row: i, Value: v, Reason: why}
			}
		}
		if c == 0 {
			continue
		}
		l.x = append(l.x, row...)
		l.c = append(l.c, c)
	}
	if canon {
		l.canonical()
	}
	l.total, l.konst = 0, 0
	for _, c := range l.c {
		l.total += c
	}
	if l.total == 0 {
		return ErrNoData
	}
	if math.IsInf(l.total, 1) {
		return ErrCountOverflow
	}
	switch l.m.Family {
	case Poisson:
		l.poissonRef()
	case Gaussian:
		l.konst -= 0.5 * math.Log(2*math.Pi) * l.total
	case MultiGaussian:
		l.konst -= 0.5 * float64(d) * math.Log(2*math.Pi) * l.total
	}
	return nil
}

// checkValue returns why v is not a value of the family, or "".
func (l *Learner) checkValue(v float64) string {
	switch l.m.Family {
	case Bernoulli:
		if v != 0 && v != 1 {
			return "a bernoulli value must be 0 or 1"
		}
	case Categorical:
		if !(v >= 0 && v < float64(l.m.Levels)) || v != math.Trunc(v) {
			return fmt.Sprintf("a categorical value must be a code in 0..%d", l.m.Levels-1)
		}
	case Poisson:
		if !(v >= 0 && v <= 1<<53) || v != math.Trunc(v) {
			return "a poisson value must be a non-negative integer"
		}
	default:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "a gaussian value must be finite"
		}
	}
	return ""
}

// canonical sorts the loaded rows lexicographically and merges equal rows.
func (l *Learner) canonical() {
	d := l.d
	n := len(l.c)
	if d == 1 {
		if !slices.IsSorted(l.x) {
			l.perm = l.perm[:0]
			for i := range n {
				l.perm = append(l.perm, i)
			}
			xs := l.x
			slices.SortFunc(l.perm, func(a, b int) int { return cmpFloat(xs[a], xs[b]) })
			l.permute()
		}
	} else {
		l.perm = l.perm[:0]
		for i := range n {
			l.perm = append(l.perm, i)
		}
		xs := l.x
		slices.SortFunc(l.perm, func(a, b int) int {
			return slices.CompareFunc(xs[a*d:(a+1)*d], xs[b*d:(b+1)*d], cmpFloat)
		})
		l.permute()
	}
	// Merge equal rows, each group's counts summed with correct rounding,
	// so that neither the order of equal rows (which the sort leaves as
	// it finds them) nor how a count is split across rows changes a bit.
	w := 0
	for i := 0; i < n; {
		j := i + 1
		for j < n && slices.Equal(l.x[i*d:(i+1)*d], l.x[j*d:(j+1)*d]) {
			j++
		}
		copy(l.x[w*d:(w+1)*d], l.x[i*d:(i+1)*d])
		l.c[w] = l.c[i]
		if j > i+1 {
			l.c[w] = l.fsum.sum(l.c[i:j])
		}
		w++
		i = j
	}
	l.x, l.c = l.x[:w*d], l.c[:w]
}

// exactSum sums float64s with correct rounding (Shewchuk's algorithm, as
// Python's math.fsum), in a reusable buffer of partial sums.
type exactSum struct{ p []float64 }

// sum returns the correctly rounded sum of the non-negative xs, or +Inf
// if it overflows.
func (e *exactSum) sum(xs []float64) float64 {
	p := e.p[:0]
	for _, x := range xs {
		// Add x to the partials, which stay non-overlapping and in
		// increasing magnitude.
		i := 0
		for _, y := range p {
			if math.Abs(x) < math.Abs(y) {
				x, y = y, x
			}
			hi := x + y
			if math.IsInf(hi, 0) {
				e.p = p
				return math.Inf(1)
			}
			if lo := y - (hi - x); lo != 0 {
				p[i] = lo
				i++
			}
			x = hi
		}
		p = append(p[:i], x)
	}
	e.p = p
	n := len(p)
	if n == 0 {
		return 0
	}
	// Add the partials from the largest down while the sum is exact, then
	// round half to even across the rest (CPython's math_fsum).
	n--
	hi, lo := p[n], 0.0
	for n > 0 {
		x := hi
		n--
		y := p[n]
		hi = x + y
		lo = y - (hi - x)
		if lo != 0 {
			break
		}
	}
	if n > 0 && (lo < 0 && p[n-1] < 0 || lo > 0 && p[n-1] > 0) {
		y := lo * 2
		if x := hi + y; y == x-hi {
			hi = x
		}
	}
	return hi
}

// permute reorders the rows by l.perm, using the tail of l.x and l.c
// beyond their lengths as scratch.
func (l *Learner) permute() {
	d, n := l.d, len(l.c)
	l.x = slices.Grow(l.x, n*d)
	l.c = slices.Grow(l.c, n)
	xs, cs := l.x[n*d:2*n*d], l.c[n:2*n]
	for i, p := range l.perm {
		copy(xs[i*d:(i+1)*d], l.x[p*d:(p+1)*d])
		cs[i] = l.c[p]
	}
	copy(l.x, xs)
	copy(l.c, cs)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// poissonRef sets l.ref and l.konst for the loaded Poisson bag. The
// E-step writes log f(x; λ) for a value x > 0 as
//
//	log f(x; r) + [x log(λ/r) − (λ − r)]
//
// with r = l.ref, the mean of the bag's values: the first term, common to
// all components, is summed once into l.konst with PoissonLogProb
// (accurate for any x and r), and the bracket, computed per component and
// value at each E-step from log(λ/r) and λ − r (no logarithm per value),
// is small when the values and rates are near r. Formed as x log λ − λ −
// log x!, the terms cancel from about x log x down to the result, keeping
// about 10⁻³ of absolute precision at x ≈ 10¹² (at 300 values near 10⁹
// the log-likelihood came out quantised to 1/1024). A value 0 has log f =
// −λ, which the E-step computes directly.
func (l *Learner) poissonRef() {
	s := 0.0
	for i, c := range l.c {
		s += c * l.x[i]
	}
	l.ref = s / l.total
	if !(l.ref > 0) || math.IsInf(l.ref, 1) {
		l.ref = 1 // all values 0 (or sums overflowing): any rate will do
	}
	for i, c := range l.c {
		if x := l.x[i]; x > 0 {
			l.konst += c * PoissonLogProb(x, l.ref)
		}
	}
}

// poissonTerms sets, for the log-weights lw (overwritten) and rates of a
// Poisson mixture, the terms of log(w_j f(x; λ_j)) relative to log f(x;
// ref) (see poissonRef): lw0[j] = log w_j − λ_j, the whole of it at x = 0,
// and, for x > 0, lw[j] + (x − ref)·lr[j], with lr[j] = log(λ_j/ref) and
// lw[j] = log w_j − bd0(ref, λ_j). That is x log(λ_j/ref) − (λ_j − ref)
// regrouped: formed as written, its two parts are about |x − ref|·10⁻⁶·x
// each at x ≈ 10¹², which cancel and leave the result with their
// rounding (10⁻⁹ a value); regrouped, x − ref is exact and bd0 has no
// cancellation, so the result keeps its own precision. A rate 0 gives
// −Inf for every x > 0.
func (l *Learner) poissonTerms(lw, lw0, lr, rate []float64) {
	ref := l.ref
	for j, r := range rate {
		lw0[j] = lw[j] - r
		if r > 0 {
			lw[j] -= bd0(ref, r)
			lr[j] = logRatio(r, ref)
		} else {
			lw[j], lr[j] = math.Inf(-1), 0
		}
	}
}

// logRatio returns log(a/b) for a >= 0, b > 0, accurately also when a/b
// is near 1.
func logRatio(a, b float64) float64 {
	q := a / b
	if q > 0.5 && q < 2 {
		return math.Log1p((a - b) / b) // a - b is exact
	}
	if q == 0 && a > 0 {
		return math.Log(a) - math.Log(b)
	}
	return math.Log(q)
}
