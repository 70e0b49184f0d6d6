package pipeline

import (
	"fmt"
	"math"
	"slices"
)

// Mixture is a run's model as readers of its outputs need it (plots,
// reports): the components' names in config order and each component's
// density at a value. It is built from a config, such as the one a
// manifest records, and computes exactly what the fit used.
//
// Values are coded as the fit codes them: bernoulli 0 or 1, categorical
// the index of the label in Labels, gaussian the value, poisson the count.
type Mixture struct {
	m *model
}

// NewMixture returns the mixture of cfg's model section. Only the model is
// checked, so a config read back from a manifest needs no input files.
func NewMixture(cfg *Config) (*Mixture, error) {
	if cfg == nil {
		return nil, fmt.Errorf("no config")
	}
	if err := cfg.Model.validate(); err != nil {
		return nil, err
	}
	for i, c := range cfg.Model.Components {
		var missing string
		switch cfg.Model.Family {
		case Bernoulli:
			if c.P == nil {
				missing = "p"
			}
		case Categorical:
			if c.Probs == nil {
				missing = "probs"
			}
		case Gaussian:
			if c.Mean == nil || c.SD == nil {
				missing = "mean and sd"
			}
		case Poisson:
			if c.Rate == nil {
				missing = "rate"
			}
		}
		if missing != "" {
			return nil, fmt.Errorf("model.components[%d] %q has no %s: a mixture needs every component's parameters", i, c.Name, missing)
		}
	}
	return &Mixture{m: newModel(cfg)}, nil
}

// Family returns the family: bernoulli, categorical, gaussian or poisson.
func (x *Mixture) Family() string { return x.m.family }

// K returns the number of components.
func (x *Mixture) K() int { return len(x.m.names) }

// Names returns the component names in config order.
func (x *Mixture) Names() []string { return slices.Clone(x.m.names) }

// Labels returns the categorical labels in code order (sorted as strings);
// nil for the other families.
func (x *Mixture) Labels() []string { return slices.Clone(x.m.labels) }

// Code returns the code of a categorical label, and false for a label that
// no component names.
func (x *Mixture) Code(label string) (float64, bool) {
	i, ok := x.m.labelIndex[label]
	return float64(i), ok
}

// LogProb returns component k's log-density (or log-probability) at a
// coded value; -Inf outside its support.
func (x *Mixture) LogProb(k int, code float64) float64 {
	return x.m.comps[k].LogProb(code)
}

// Prob returns component k's density (or probability) at a coded value.
func (x *Mixture) Prob(k int, code float64) float64 {
	return math.Exp(x.LogProb(k, code))
}
