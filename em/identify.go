package em

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Scope says which parameters the bags share.
type Scope int

const (
	// PerBag: every bag has its own weights and component parameters.
	PerBag Scope = iota
	// Shared: one set of component parameters for all bags, weights per
	// bag.
	Shared
)

// String returns the config name of s.
func (s Scope) String() string {
	switch s {
	case PerBag:
		return "bag"
	case Shared:
		return "shared"
	}
	return fmt.Sprintf("Scope(%d)", int(s))
}

// Identifiability is CheckIdentifiable's verdict.
type Identifiability int

const (
	// Identifiable: the data determine the learned quantities (up to the
	// order of exchangeable components) when there are enough of them.
	Identifiable Identifiability = iota
	// Conditional: identifiable only under conditions on the solution;
	// check it with CheckSharedSolution after fitting.
	Conditional
	// NotIdentifiable: whatever the data, a continuum of parameter values
	// fits them equally well; a fit would report an arbitrary point of it.
	NotIdentifiable
)

// String returns a lower-case name of v.
func (v Identifiability) String() string {
	switch v {
	case Identifiable:
		return "identifiable"
	case Conditional:
		return "conditional"
	case NotIdentifiable:
		return "not identifiable"
	}
	return fmt.Sprintf("Identifiability(%d)", int(v))
}

// IdentifiabilityError reports a model that cannot be identified, or a
// solution that lies on a flat ridge of the likelihood.
type IdentifiabilityError struct {
	Scope  Scope
	Reason string
}

func (e *IdentifiabilityError) Error() string {
	return fmt.Sprintf("em: not identifiable (scope %v): %s", e.Scope, e.Reason)
}

// CheckIdentifiable tells whether the learned quantities of m can be
// identified from data with the given scope, and if not (or only under
// conditions) why:
//
//   - K = 1, or nothing learned: identifiable.
//   - Bernoulli or Categorical with learned component parameters, per bag:
//     not identifiable for K >= 2. A mixture of Bernoullis (categoricals) is
//     itself one Bernoulli (categorical) distribution; a bag determines only
//     it, not the components and weights apart.
//   - Shared Bernoulli with learned p, K >= 2: not identifiable. A bag
//     determines only its share of ones q_b = sum_k w_bk p_k; with free
//     weights any p_1 >= max_b q_b and p_2 <= min_b q_b (K = 2) fit equally
//     well. With fixed weights all bags share one distribution.
//   - Shared Categorical with learned probs, K >= 2: a nonnegative matrix
//     factorisation of the bags' code frequencies. Not identifiable for
//     K > Levels or fixed weights; otherwise Conditional: unique only under
//     conditions such as separability (every component has an anchor code
//     that the others do not produce, and some bags are dominated by each
//     component). Check the solution with CheckSharedSolution.
//   - Only the weights learned: identifiable if and only if the component
//     distributions are linearly independent (discrete families: the
//     K×Levels probability matrix has rank K; continuous families: no two
//     components are identical).
//   - Gaussian, Poisson and MultiGaussian with learned parameters, either
//     scope: identifiable (up to label order; finite mixtures of these
//     families are identifiable).
func CheckIdentifiable(m Model, scope Scope) (Identifiability, string) {
	k := m.K
	comp := m.Learn & m.Family.Params()
	if k <= 1 || m.Learn == 0 {
		return Identifiable, ""
	}
	discrete := m.Family == Bernoulli || m.Family == Categorical
	if comp == 0 {
		if !m.Learn.Has(LearnWeights) {
			return Identifiable, ""
		}
		return weightsIdentifiable(m)
	}
	if !discrete {
		return Identifiable, ""
	}
	name := m.Family.String()
	if scope == PerBag {
		return NotIdentifiable, fmt.Sprintf("a mixture of %d %s distributions is itself one %s distribution: "+
			"a bag determines only that mixture, not the components and weights apart; learn only the weights, "+
			"or share the components across bags (categorical)", k, name, name)
	}
	if !m.Learn.Has(LearnWeights) {
		return NotIdentifiable, fmt.Sprintf("with the same fixed weights in every bag, every bag has the one %s "+
			"distribution sum_k w_k p_k, which does not determine the components", name)
	}
	if m.Family == Bernoulli {
		return NotIdentifiable, "with free weights per bag, a bag determines only its share of ones q_b = sum_k w_bk p_k: " +
			"any components with p_max >= max_b q_b and p_min <= min_b q_b fit equally well"
	}
	if k > m.Levels {
		return NotIdentifiable, fmt.Sprintf("%d components over %d codes are linearly dependent: the bags' frequencies "+
			"factor in a continuum of ways", k, m.Levels)
	}
	return Conditional, "shared categorical components with free weights per bag are a nonnegative matrix " +
		"factorisation of the bags' code frequencies, unique only under conditions such as separability (every " +
		"component has an anchor code the others do not produce, and some bags are dominated by each component); " +
		"check the solution with CheckSharedSolution"
}

// weightsIdentifiable checks the linear independence of m's fixed
// components.
func weightsIdentifiable(m Model) (Identifiability, string) {
	k := m.K
	in := m.Init
	switch m.Family {
	case Bernoulli, Categorical:
		var a *mat.Dense
		if m.Family == Bernoulli {
			if len(in.P) != k {
				return Identifiable, ""
			}
			a = mat.NewDense(k, 2, nil)
			for j, p := range in.P {
				a.Set(j, 0, 1-p)
				a.Set(j, 1, p)
			}
		} else {
			if len(in.Probs) != k*m.Levels {
				return Identifiable, ""
			}
			a = mat.NewDense(k, m.Levels, append([]float64(nil), in.Probs...))
		}
		var svd mat.SVD
		if !svd.Factorize(a, mat.SVDNone) {
			return Identifiable, ""
		}
		if r := svd.Rank(1e-12); r < k {
			return NotIdentifiable, fmt.Sprintf("the %d components' probabilities are linearly dependent (rank %d): "+
				"different weights give the same mixture", k, r)
		}
		return Identifiable, ""
	}
	for a := range k {
		for b := a + 1; b < k; b++ {
			if sameComponent(m, a, b) {
				return NotIdentifiable, fmt.Sprintf("components %d and %d are identical: only their total weight is determined", a, b)
			}
		}
	}
	return Identifiable, ""
}

func sameComponent(m Model, a, b int) bool {
	in := m.Init
	eq := func(s []float64, w int) bool {
		if s == nil {
			return true
		}
		for c := range w {
			if s[a*w+c] != s[b*w+c] {
				return false
			}
		}
		return true
	}
	d := max(1, m.Dim)
	return eq(in.Mean, d) && eq(in.SD, 1) && eq(in.Rate, 1) && eq(in.Cov, d*d)
}

// DefaultRidgeTol is the ridge extent above which FitShared reports a
// shared categorical solution as not identified.
const DefaultRidgeTol = 1e-3

// Ridge is a flat direction of the likelihood through a shared categorical
// solution: moving component From's probabilities towards component
// Toward's (Mixing) or away from them, and the bags' weights to match,
// leaves every bag's code distribution, hence the likelihood, exactly
// unchanged, as far as every probability and weight stays non-negative.
type Ridge struct {
	From, Toward int
	Mixing       bool
	// Extent is the largest change of a probability or weight at the far
	// end of the ridge; +Inf when a component has weight 0 in every bag
	// (its probabilities are arbitrary).
	Extent float64
}

// SharedRidge returns the widest Ridge through the shared categorical
// solution probs (K×levels) and bag weights (B×K, row per bag), over the
// directions that move one component towards or away from another. An
// identified solution, on the boundary of the parameter space
// (separability), has extent 0 in every direction; EM approaches such a
// boundary slowly, so a computed solution shows small extents. With K = 2
// these directions span every direction of the ridge; with more components
// the check covers these pairwise directions only.
func SharedRidge(probs []float64, levels int, bagWeights []float64) Ridge {
	k := len(probs) / levels
	if k < 1 || len(probs) != k*levels || len(bagWeights)%k != 0 {
		panic("em: SharedRidge: lengths do not match")
	}
	best := Ridge{From: -1, Toward: -1}
	for f := range k {
		wmax := 0.0
		for b := f; b < len(bagWeights); b += k {
			wmax = math.Max(wmax, bagWeights[b])
		}
		for t := range k {
			if t == f {
				continue
			}
			pf, pt := probs[f*levels:(f+1)*levels], probs[t*levels:(t+1)*levels]
			diff := 0.0
			for l := range pf {
				diff = math.Max(diff, math.Abs(pt[l]-pf[l]))
			}
			var mix, away float64
			if wmax == 0 {
				mix, away = math.Inf(1), math.Inf(1)
			} else {
				// Mixing: π_f += ε(π_t - π_f), W_bf *= 1+δ, W_bt -= δ W_bf
				// with ε = δ/(1+δ), feasible for δ <= min_b W_bt/W_bf.
				delta := math.Inf(1)
				for b := 0; b < len(bagWeights); b += k {
					if wf := bagWeights[b+f]; wf > 0 {
						delta = math.Min(delta, bagWeights[b+t]/wf)
					}
				}
				eps := delta / (1 + delta)
				if math.IsInf(delta, 1) {
					eps = 1
				}
				mix = math.Max(eps*diff, math.Min(delta, 1e300)*wmax)
				// Away: π_f -= e(π_t - π_f), feasible while π_f stays
				// non-negative; W_bf /= 1+e, W_bt += e/(1+e) W_bf.
				e := math.Inf(1)
				for l := range pf {
					if pt[l] > pf[l] {
						e = math.Min(e, pf[l]/(pt[l]-pf[l]))
					}
				}
				if math.IsInf(e, 1) {
					away = math.Inf(1) // identical components
				} else {
					away = math.Max(e*diff, e/(1+e)*wmax)
				}
			}
			if mix > best.Extent || best.From < 0 {
				best = Ridge{From: f, Toward: t, Mixing: true, Extent: mix}
			}
			if away > best.Extent {
				best = Ridge{From: f, Toward: t, Mixing: false, Extent: away}
			}
		}
	}
	if best.From < 0 {
		best.Extent = 0
	}
	return best
}

// CheckSharedSolution returns an *IdentifiabilityError if a shared fit of
// m (component parameters p, bag weights B×K) is a point on a flat ridge
// of the likelihood wider than tol (see SharedRidge), and nil otherwise.
// Only shared Categorical models with learned probs and K >= 2 can have
// such ridges beyond those CheckIdentifiable already reports.
func CheckSharedSolution(m Model, p Params, bagWeights []float64, tol float64) error {
	if v, why := CheckIdentifiable(m, Shared); v == NotIdentifiable {
		return &IdentifiabilityError{Scope: Shared, Reason: why}
	} else if v == Identifiable {
		return nil
	}
	r := SharedRidge(p.Probs, m.Levels, bagWeights)
	if !(r.Extent > tol) {
		return nil
	}
	dir := "away from"
	if r.Mixing {
		dir = "towards"
	}
	return &IdentifiabilityError{Scope: Shared, Reason: fmt.Sprintf("the solution lies on a flat ridge of the likelihood: "+
		"component %d's probabilities can move %s component %d's, with the bags' weights, by up to %.3g "+
		"without changing the likelihood (tolerance %g); the components are not determined by these data",
		r.From, dir, r.Toward, r.Extent, tol)}
}
