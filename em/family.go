package em

import "fmt"

// Family names a parametric family of component distributions. Fit works
// on any log-density table; the family matters where parameters are
// learned or differentiated.
type Family int

const (
	// Bernoulli components have one parameter, P(x = 1) = p.
	Bernoulli Family = iota
	// Categorical components have a probability per category code.
	Categorical
	// Gaussian components have a mean and a standard deviation.
	Gaussian
	// Poisson components have a rate.
	Poisson
	// MultiGaussian components have a mean vector and a covariance matrix.
	MultiGaussian
)

// String returns the config name of fam.
func (fam Family) String() string {
	switch fam {
	case Bernoulli:
		return "bernoulli"
	case Categorical:
		return "categorical"
	case Gaussian:
		return "gaussian"
	case Poisson:
		return "poisson"
	case MultiGaussian:
		return "multivariate_gaussian"
	}
	return fmt.Sprintf("Family(%d)", int(fam))
}
