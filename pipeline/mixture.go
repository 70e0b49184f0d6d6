package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/em"
)

// Mixture is a run's model as readers of its outputs need it (plots,
// reports): the components' names in config order, their parameters and
// each component's density at a value. It is built from a config, such as
// the one a manifest records, and computes exactly what the fit used.
//
// A run that learns component parameters (model.learn beyond weights)
// may leave them out of its config, and every bag has its own, which the
// weights table gives: such a config's Mixture lacks them (Complete is
// false), and Bag returns the mixture of one bag from its weights rows.
//
// Values are coded as the fit codes them: bernoulli 0 or 1, categorical
// the index of the label in Labels, gaussian the value, poisson the count.
type Mixture struct {
	m *model
	// comps[k] is component k's density; zero when it lacks parameters.
	comps    []em.LogProber
	params   []Params
	complete []bool
	learned  []string // the component parameters learned per bag
}

// Params are a component's parameters: Scalars by name (bernoulli p,
// gaussian mean and sd, poisson rate) and, for categorical components,
// Probs by label (a label left out has probability 0). A parameter that
// is not known is absent.
type Params struct {
	Scalars map[string]float64
	Probs   map[string]float64
}

// NewMixture returns the mixture of cfg's model section. Only the model is
// checked, so a config read back from a manifest needs no input files.
// Components whose learned parameters the config leaves out are not
// Complete: their density is zero until Bag gives them parameters.
func NewMixture(cfg *Config) (*Mixture, error) {
	if cfg == nil {
		return nil, errors.New("no config")
	}
	if err := cfg.Model.validate(); err != nil {
		return nil, err
	}
	x := &Mixture{m: newModel(cfg)}
	for _, q := range familyParams[cfg.Model.Family] {
		if cfg.Model.Learns(q) {
			x.learned = append(x.learned, q)
		}
	}
	given := make([]Params, len(x.m.names))
	for k, c := range cfg.Model.Components {
		p := Params{Scalars: map[string]float64{}}
		for q, v := range map[string]*float64{"p": c.P, "mean": c.Mean, "sd": c.SD, "rate": c.Rate} {
			if v != nil {
				p.Scalars[q] = *v
			}
		}
		if c.Probs != nil {
			p.Probs = maps.Clone(c.Probs)
		}
		given[k] = p
	}
	if err := x.setComponents(given); err != nil {
		return nil, err
	}
	return x, nil
}

// Bag returns the mixture of one bag of a run with learned component
// parameters: its first len(params) components (a bag's selected K with
// model.components_range, all K otherwise), component k with params[k]
// over the config's values. A component that still lacks a parameter, as
// one of weight 0 does (no observation informs it: the weights table has
// nulls), is not Complete and has density zero. A parameter outside its
// family's domain is an error naming the component.
func (x *Mixture) Bag(params []Params) (*Mixture, error) {
	if len(params) > len(x.m.names) {
		return nil, fmt.Errorf("%d components' parameters for a model of %d components", len(params), len(x.m.names))
	}
	merged := make([]Params, len(params))
	for k, p := range params {
		g := x.params[k]
		m := Params{Scalars: maps.Clone(g.Scalars), Probs: g.Probs}
		if m.Scalars == nil {
			m.Scalars = map[string]float64{}
		}
		maps.Copy(m.Scalars, p.Scalars)
		if p.Probs != nil {
			m.Probs = p.Probs
		}
		merged[k] = m
	}
	bag := &Mixture{m: x.m, learned: x.learned}
	if err := bag.setComponents(merged); err != nil {
		return nil, err
	}
	return bag, nil
}

// setComponents makes x's components from their parameters.
func (x *Mixture) setComponents(params []Params) error {
	x.params = params
	x.comps = make([]em.LogProber, len(params))
	x.complete = make([]bool, len(params))
	for k, p := range params {
		c, err := x.component(p)
		if err != nil {
			return fmt.Errorf("component %q: %w", x.m.names[k], err)
		}
		x.complete[k] = c != nil
		if c == nil {
			c = nowhere{}
		}
		x.comps[k] = c
	}
	return nil
}

// component returns the density of a component with parameters p, nil if
// p lacks one of the family's parameters.
func (x *Mixture) component(p Params) (em.LogProber, error) {
	s := func(q string) (float64, bool) {
		v, ok := p.Scalars[q]
		return v, ok && !math.IsNaN(v)
	}
	switch x.m.family {
	case Bernoulli:
		v, ok := s("p")
		if !ok {
			return nil, nil
		}
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("p must be in [0, 1], got %v", v)
		}
		return distuv.Bernoulli{P: v}, nil
	case Gaussian:
		mean, ok1 := s("mean")
		sd, ok2 := s("sd")
		if !ok1 || !ok2 {
			return nil, nil
		}
		if math.IsInf(mean, 0) {
			return nil, fmt.Errorf("mean must be finite, got %v", mean)
		}
		if !(sd > 0) || math.IsInf(sd, 1) {
			return nil, fmt.Errorf("sd must be positive and finite, got %v", sd)
		}
		return newNormal(mean, sd), nil
	case Poisson:
		rate, ok := s("rate")
		if !ok {
			return nil, nil
		}
		if !(rate > 0) || math.IsInf(rate, 1) {
			return nil, fmt.Errorf("rate must be positive and finite, got %v", rate)
		}
		return poissonDist{rate}, nil
	case MultivariateGaussian:
		// Mean vectors and covariance matrices are not Params in this
		// release: such components are never Complete.
		return nil, nil
	case Categorical:
		if p.Probs == nil {
			return nil, nil
		}
		probs := make(categorical, len(x.m.labels))
		sum := 0.0
		for _, label := range slices.Sorted(maps.Keys(p.Probs)) {
			v := p.Probs[label]
			i, ok := x.m.labelIndex[label]
			if !ok {
				return nil, fmt.Errorf("probs: label %q is not one of the model's labels", label)
			}
			if !(v >= 0 && v <= 1) {
				return nil, fmt.Errorf("probs[%s] must be in [0, 1], got %v", label, v)
			}
			probs[i] = v
			sum += v
		}
		// Learned probabilities are ratios of counts: they sum to 1 up to
		// rounding.
		if math.Abs(sum-1) > 1e-6 {
			return nil, fmt.Errorf("probs must sum to 1, got %v", sum)
		}
		return probs, nil
	}
	return nil, fmt.Errorf("unknown family %q", x.m.family)
}

// Family returns the family: bernoulli, categorical, gaussian or poisson.
func (x *Mixture) Family() string { return x.m.family }

// K returns the number of components.
func (x *Mixture) K() int { return len(x.comps) }

// Names returns the component names in config order (for a bag's
// mixture, its K components').
func (x *Mixture) Names() []string { return slices.Clone(x.m.names[:len(x.comps)]) }

// ParamNames returns the family's parameters, in the order the weights
// table gives them: p; probs; mean, sd; rate.
func (x *Mixture) ParamNames() []string { return slices.Clone(familyParams[x.m.family]) }

// Learned returns the component parameters that the run learns per bag,
// in the order of ParamNames; none when it learns only the weights. Each
// is a column of the weights table.
func (x *Mixture) Learned() []string { return slices.Clone(x.learned) }

// Params returns component k's parameters (see Params), which the caller
// must not modify.
func (x *Mixture) Params(k int) Params { return x.params[k] }

// Complete reports whether component k has all its parameters. A
// component that does not has density zero everywhere.
func (x *Mixture) Complete(k int) bool { return x.complete[k] }

// Labels returns the categorical labels in code order (sorted as strings);
// nil for the other families.
func (x *Mixture) Labels() []string { return slices.Clone(x.m.labels) }

// Code returns the code of a categorical label, and false for a label that
// is not one of the model's (model.labels or the components' probs).
func (x *Mixture) Code(label string) (float64, bool) {
	i, ok := x.m.labelIndex[label]
	return float64(i), ok
}

// LogProb returns component k's log-density (or log-probability) at a
// coded value; -Inf outside its support, and everywhere for a component
// that is not Complete.
func (x *Mixture) LogProb(k int, code float64) float64 {
	return x.comps[k].LogProb(code)
}

// Prob returns component k's density (or probability) at a coded value.
func (x *Mixture) Prob(k int, code float64) float64 {
	return math.Exp(x.LogProb(k, code))
}

// poissonDist is a Poisson component with the given rate. Its
// log-probabilities are em.PoissonLogProb's, accurate at any rate (gonum's
// distuv.Poisson forms x log λ − λ − log x!, which at λ ≈ 10¹² keeps
// about 10⁻³ of absolute precision: too little to tell components apart).
type poissonDist struct{ rate float64 }

// LogProb returns log f(x; rate), −Inf at values that are not
// non-negative integers.
func (p poissonDist) LogProb(x float64) float64 { return em.PoissonLogProb(x, p.rate) }

// nowhere is the density of a component without parameters: zero at
// every value.
type nowhere struct{}

// LogProb returns -Inf.
func (nowhere) LogProb(float64) float64 { return math.Inf(-1) }
