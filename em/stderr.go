package em

import (
	"errors"
	"fmt"
	"math"
)

// Standard errors from the observed information.
//
// The log-likelihood of a bag is
//
//	l(θ) = sum_i c_i log p_i,   p_i = sum_k w_k f_k(x_i; θ_k),
//
// where θ holds the weights and the learned component parameters. Its
// observed information is J = -∇²l at the estimate, and the standard error
// of a quantity aᵀθ is sqrt(aᵀ J⁻¹ a). The weights live on the simplex, so
// they enter θ in tangent coordinates, as in the Newton phase of Fit: the
// largest weight w_r absorbs the constraint, w_r = 1 - sum_{j≠r} w_j, and the
// other weights are free. The standard error of w_r then follows by the
// delta method with a = -(1, ..., 1) on the free weights, Var(w_r) =
// 1ᵀ Σ 1; the result does not depend on which weight is the reference.
//
// J is the exact Hessian, per observation
//
//	-∇² log p_i = G_i G_iᵀ - ∇²p_i / p_i,   G_i = ∇p_i / p_i,
//
// which is Louis' identity written with the posteriors r_ik = w_k f_ik/p_i:
// ∂p_i/∂w_j / p_i = (f_ij - f_ir)/p_i, ∂p_i/∂θ_k / p_i = r_ik ∇log f_ik, and
// ∇²p_i/p_i has the blocks r_ik (∇log f_ik ∇log f_ikᵀ + ∇²log f_ik) for the
// parameters of one component, ±(f_ik/p_i) ∇log f_ik between the weight of
// component k (or the reference weight) and its parameters, and zero between
// weights. With fixed components only the weight block remains:
// J = sum_i c_i d_i d_iᵀ / p_i² with d_ij = f_ij - f_ir. The densities are
// formed from the log-densities with each row scaled by its largest
// weighted density, and the differences d_ij with expm1 where the
// components are nearly alike, so J keeps its relative precision.

// BoundaryWeight is the weight at or below which a component counts as on
// the boundary of the simplex (weight zero): Fit's weights are within 1e-8
// of the maximum, so a weight this small cannot be told from zero.
const BoundaryWeight = 1e-8

const (
	// seFlat is the eigenvalue, relative to the largest, of the information
	// scaled to unit diagonal below which a direction counts as flat: the
	// data do not determine the parameters along it.
	seFlat = 1e-12
	// seAlong is the share of a quantity's coefficient vector along a flat
	// direction above which the quantity is undetermined (standard error
	// +Inf).
	seAlong = 1e-6
)

// ScalarComponents are the parameters of the K components of a scalar
// family for StdErrors, as plain slices with one entry per component. Only
// the family's own slices are read: P for Bernoulli (P(x = 1), in [0, 1]),
// Rate for Poisson (>= 0), Mean and SD for Gaussian (finite, SD > 0).
//
// The Learned slices flag the parameters that were estimated from the bag,
// one flag per component; nil means none. Parameters not learned are
// constants: they stay out of the information matrix and get standard
// error 0.
//
// SDFloor, when positive, is the smallest standard deviation the fit of a
// learned SD can produce (√RegCovar of the Model; 0 means none). A learned
// SD within a relative 1e-6 of it has collapsed onto the floor: it is on
// the boundary of its range.
type ScalarComponents struct {
	P, Rate, Mean, SD                             []float64
	LearnedP, LearnedRate, LearnedMean, LearnedSD []bool
	SDFloor                                       float64
}

// onFloor reports whether component j's learned SD is on comps.SDFloor.
func (comps *ScalarComponents) onFloor(j int) bool {
	return comps.SDFloor > 0 && comps.LearnedSD != nil && comps.LearnedSD[j] &&
		comps.SD[j] <= comps.SDFloor*(1+1e-6)
}

// ScalarStdErrors are the standard errors that StdErrors computes, in the
// shape of ScalarComponents: Weights has K entries, and the family's
// parameter slices (P, Rate, or Mean and SD) have K entries each; the other
// families' slices are nil. See StdErrors for NaN, +Inf and 0 entries.
type ScalarStdErrors struct {
	Weights           []float64
	P, Rate, Mean, SD []float64
}

// Uncertainty computes standard errors bag after bag, reusing its work
// space. Its zero value is ready to use; an Uncertainty must not be used by
// two goroutines at once.
//
// Once its buffers have grown to a bag's size, WeightStdErrors and
// WeightStdErrorsFrom make no allocation when dst has room for the K
// standard errors (one, the returned slice, otherwise), and StdErrors one,
// the array of the returned slices. After a Fit, WeightStdErrorsFrom gives
// the same standard errors for less: it borrows the Fitter's densities.
type Uncertainty struct {
	k     int
	w     []float64 // weights, renormalised over the free set
	free  []bool    // weight above BoundaryWeight
	nfree int
	ref   int   // reference component of the tangent coordinates
	coord []int // coordinate of each free non-reference weight, else -1

	// Kept rows (count > 0) of the table.
	rows []int     // table row of each kept observation
	c    []float64 // their counts
	n    float64   // sum of c
	lik  []float64 // n×K densities scaled so each row's largest free one is 1 (0 off the free set)
	lg   []float64 // n×K their logarithms
	diff []float64 // n×K differences f_j - f_ref (free j), formed stably
	cnt  []float64 // the counts, while WeightStdErrorsFrom runs (rows is not filled)
	cs   []float64 // accumulate's counts scaled to a sum near 1

	// Learned parameters (StdErrors).
	fam   Family
	xs    []float64
	comps ScalarComponents // while StdErrors runs
	tab   []float64        // the log-density table built from xs
	slots []seSlot
	has   []bool    // component has a slot
	su    []float64 // per component: score of log f_k at the current row (2)
	sh    []float64 // per component: its Hessian (aa, ab, bb)

	// Information and its eigendecomposition.
	dim       int
	info      []float64 // dim×dim, per unit count
	g         []float64 // gradient of log p_i
	sc        []float64 // 1/sqrt of the diagonal, 0 for a flat coordinate
	flat      []bool
	vecs      []float64 // dim×dim: the scaled information, then its eigenvectors (columns)
	vals      []float64 // its eigenvalues, ascending
	syev      symEig
	a, at     []float64
	weightsSE []float64
}

// seSlot is one learned parameter in the information matrix: parameter par
// (0: p, rate or mean; 1: sd) of component comp.
type seSlot struct {
	comp, par int
}

// WeightStdErrors computes the standard errors of the weights with fixed
// components; see Uncertainty.WeightStdErrors.
func WeightStdErrors(dst, logLik, counts []float64, k int, weights []float64) ([]float64, error) {
	var u Uncertainty
	return u.WeightStdErrors(dst, logLik, counts, k, weights)
}

// WeightStdErrors fills dst (reused when large enough) with the standard
// error of each of the K weights, from the observed information of the
// weights at weights, which should be Fit's estimate for the row-major n×K
// log-density table logLik and the counts (nil means 1 per row; rows with
// count 0 are ignored), as in Fit.
//
// The entries are:
//
//   - NaN for a weight on the boundary of the simplex: at most
//     BoundaryWeight, or the only weight above it when K > 1 (a weight of
//     1). There the maximum is not an interior point, the estimate is not
//     asymptotically normal and a Wald interval is meaningless; a
//     likelihood-ratio test or a bootstrap answers questions about such a
//     weight. The other weights' standard errors are those of the model
//     without the boundary components (their weights held at zero, the rest
//     renormalised), so they ignore that in another sample a boundary
//     weight could come out positive: near the boundary they understate the
//     uncertainty.
//   - +Inf for a weight that the data do not determine: when components are
//     identical (or nearly, see below) on every observed value, the
//     log-likelihood is flat along a direction of the simplex, and every
//     weight that moves along it is undetermined. Weights unaffected by the
//     flat direction (a third, distinct component) keep a finite standard
//     error, from the pseudo-inverse of the information. A weight counts
//     as undetermined when the curvature per unit count of its tangent
//     coordinate is below 1e-13 (where Fit's Newton phase treats a
//     direction as flat), or when more than 1e-6 of its coefficient
//     vector lies along an eigenvector of the information scaled to unit
//     diagonal whose eigenvalue is below 1e-12 of the largest. Negative
//     eigenvalues, which occur only at a point that is not a maximum,
//     count as flat too.
//   - 0 when K = 1: the weight is 1 by definition.
//
// Weights need not sum exactly to one; weights above BoundaryWeight are
// renormalised to sum to one. WeightStdErrors panics if len(logLik) is not a
// multiple of k or if counts or weights have the wrong length. Data problems
// return the errors of Fit (*ValueError, *SupportError, ErrNoData,
// ErrCountOverflow), and an error for a negative or non-finite weight, for
// weights that are all at most BoundaryWeight, or for an observation with
// zero density under every component with positive weight (then the weights
// are not a maximum of the likelihood).
func (u *Uncertainty) WeightStdErrors(dst, logLik, counts []float64, k int, weights []float64) ([]float64, error) {
	return u.WeightStdErrorsFrom(nil, dst, logLik, counts, k, weights)
}

// WeightStdErrorsFrom returns what WeightStdErrors(dst, logLik, counts, k,
// weights) returns, bit for bit, without exponentiating the table again:
// it borrows the scaled densities (and, for the weights f returned, the
// density differences of its Newton phase) that the Fitter f formed when
// it fitted logLik and counts. Only rows where a component on the boundary
// (weight at most BoundaryWeight) has the largest density are rescaled from
// logLik. It is meant for a worker that fits a bag and then computes its
// standard errors:
//
//	res, err := f.Fit(tab, counts, k, s)
//	...
//	se, err := u.WeightStdErrorsFrom(&f, se, tab, counts, k, res.Weights)
//
// logLik and counts must be the slices of f's last Fit, unchanged since;
// that is the caller's promise, which WeightStdErrorsFrom cannot check
// beyond the shape. When f's last Fit did not get as far as checking the
// table (it returned a *ValueError, *SupportError, ErrNoData or
// ErrCountOverflow), or was of a table of another shape, or f is nil,
// WeightStdErrorsFrom is WeightStdErrors. weights may be any weights, as
// for WeightStdErrors; they are normally f's Result.Weights. f is only
// read, and may be used for the next Fit as soon as this returns.
func (u *Uncertainty) WeightStdErrorsFrom(f *Fitter, dst, logLik, counts []float64, k int, weights []float64) ([]float64, error) {
	if k < 1 || len(logLik)%k != 0 {
		panic("em: table length is not a multiple of the component count")
	}
	if counts != nil && len(counts) != len(logLik)/k {
		panic("em: counts length mismatch")
	}
	if len(weights) != k {
		panic("em: weights length mismatch")
	}
	if f != nil && (!f.loaded || f.k != k || f.rowsIn != len(logLik)/k) {
		f = nil // nothing to borrow: compute it all
	}
	u.fam, u.xs, u.comps = 0, nil, ScalarComponents{}
	u.slots = u.slots[:0]
	if f != nil {
		u.cnt = counts
	}
	err := u.compute(f, logLik, counts, k, weights)
	u.cnt = nil
	if err != nil {
		return nil, err
	}
	dst = grow(dst, k)
	copy(dst, u.weightsSE)
	return dst, nil
}

// StdErrors computes the standard errors of the weights and the learned
// parameters; see Uncertainty.StdErrors.
func StdErrors(fam Family, xs, counts, weights []float64, comps ScalarComponents) (ScalarStdErrors, error) {
	var u Uncertainty
	return u.StdErrors(fam, xs, counts, weights, comps)
}

// StdErrors computes, for a bag of values xs with counts (nil means 1 per
// value; values with count 0 are ignored) and K components of family fam
// (Bernoulli, Poisson or Gaussian) with parameters comps, the standard
// errors of the weights and of the learned parameters, jointly, from the
// exact observed information at (weights, comps) — normally the maximum
// likelihood estimate of both.
//
// Weights are as in WeightStdErrors: NaN on the boundary, +Inf where
// undetermined, 0 when K = 1. Parameters:
//
//   - 0 for a parameter not learned: a constant.
//   - NaN for a learned parameter of a component whose weight is on the
//     boundary (the data say nothing about a component they do not
//     contain), and for a learned Bernoulli P at most BoundaryWeight or at
//     least 1-BoundaryWeight or a learned Poisson Rate of 0 (a parameter on
//     the boundary of its range: as for weights, no Wald interval; the
//     other standard errors hold it fixed). Likewise a learned Gaussian SD
//     on comps.SDFloor (a component collapsed onto one value), and then
//     also its component's learned mean: with the SD pinned at the floor,
//     the mean's error would be the floor's, not the data's.
//   - +Inf for a parameter the data do not determine, by the rule of
//     WeightStdErrors. Learning a Bernoulli parameter with K >= 2 is always
//     such a case: a bag of 0s and 1s determines only the mixture's P(x = 1).
//
// A component whose weight is on the boundary is held at weight 0: its
// parameters are not used, and may be NaN (as Learn leaves those of a
// component it emptied).
//
// Standard errors of Gaussian components are for SD itself (not its
// logarithm or the variance).
//
// StdErrors panics if fam is not Bernoulli, Poisson or Gaussian, or if
// counts, the family's parameter slices or non-nil Learned slices do not
// have the lengths of xs and weights. Data problems return an error: those
// of WeightStdErrors, a value the family cannot produce (a Bernoulli value
// other than 0 or 1, a Poisson value that is not a non-negative integer, a
// Gaussian value that is not finite) and a parameter out of its range.
func (u *Uncertainty) StdErrors(fam Family, xs, counts, weights []float64, comps ScalarComponents) (ScalarStdErrors, error) {
	k := len(weights)
	if k < 1 {
		panic("em: no components")
	}
	if counts != nil && len(counts) != len(xs) {
		panic("em: counts length mismatch")
	}
	checkLen := func(name string, n int) {
		if n != k {
			panic(fmt.Sprintf("em: %s has %d entries for %d components", name, n, k))
		}
	}
	checkFlags := func(name string, f []bool) {
		if f != nil {
			checkLen(name, len(f))
		}
	}
	switch fam {
	case Bernoulli:
		checkLen("P", len(comps.P))
		checkFlags("LearnedP", comps.LearnedP)
	case Poisson:
		checkLen("Rate", len(comps.Rate))
		checkFlags("LearnedRate", comps.LearnedRate)
	case Gaussian:
		checkLen("Mean", len(comps.Mean))
		checkLen("SD", len(comps.SD))
		checkFlags("LearnedMean", comps.LearnedMean)
		checkFlags("LearnedSD", comps.LearnedSD)
	default:
		panic(fmt.Sprintf("em: StdErrors supports bernoulli, poisson and gaussian components, not %v", fam))
	}
	if err := checkScalarParams(fam, &comps, weights); err != nil {
		return ScalarStdErrors{}, err
	}
	// The log-density table; it also checks the values. A component on
	// the boundary (weight at most BoundaryWeight) is held at weight 0, so
	// its densities do not enter (compute gives them 0) and its
	// parameters, which Learn leaves NaN for a component it emptied, are
	// not read.
	u.tab = grow(u.tab, len(xs)*k)
	for i, x := range xs {
		if counts != nil && counts[i] == 0 {
			// Ignored, like a zero-count row of Fit; its value is not checked.
			for j := 0; j < k; j++ {
				u.tab[i*k+j] = 0
			}
			continue
		}
		if err := checkScalarValue(fam, x, i); err != nil {
			return ScalarStdErrors{}, err
		}
		for j := 0; j < k; j++ {
			if weights[j] > BoundaryWeight {
				u.tab[i*k+j] = scalarLogDensity(fam, &comps, j, x)
			} else {
				u.tab[i*k+j] = math.Inf(-1)
			}
		}
	}
	// Kept by value, not by pointer: comps would escape to the heap.
	u.fam, u.xs, u.comps = fam, xs, comps
	defer func() { u.xs, u.comps = nil, ScalarComponents{} }()
	// The learned parameters of components with positive weight, except
	// those on the boundary of their range.
	u.slots = u.slots[:0]
	flag := func(f []bool, j int) bool { return f != nil && f[j] }
	var out ScalarStdErrors
	// The returned slices share one array, each capped at its length.
	nslice := 2
	if fam == Gaussian {
		nslice = 3
	}
	all := make([]float64, nslice*k)
	next := func() []float64 {
		s := all[:k:k]
		all = all[k:]
		return s
	}
	out.Weights = next()
	var params [2][]float64 // SE slices in parameter order
	var learned [2][]bool
	switch fam {
	case Bernoulli:
		out.P = next()
		params[0], learned[0] = out.P, comps.LearnedP
	case Poisson:
		out.Rate = next()
		params[0], learned[0] = out.Rate, comps.LearnedRate
	case Gaussian:
		out.Mean, out.SD = next(), next()
		params[0], learned[0] = out.Mean, comps.LearnedMean
		params[1], learned[1] = out.SD, comps.LearnedSD
	}
	for j := 0; j < k; j++ {
		if !(weights[j] > BoundaryWeight) {
			continue
		}
		for par := range params {
			if !flag(learned[par], j) {
				continue
			}
			if fam == Bernoulli && (comps.P[j] <= BoundaryWeight || comps.P[j] >= 1-BoundaryWeight) ||
				fam == Poisson && comps.Rate[j] == 0 || fam == Gaussian && comps.onFloor(j) {
				continue
			}
			u.slots = append(u.slots, seSlot{comp: j, par: par})
		}
	}
	if err := u.compute(nil, u.tab, counts, k, weights); err != nil {
		return ScalarStdErrors{}, err
	}
	copy(out.Weights, u.weightsSE)
	// Learned parameters not in a slot are on a boundary: NaN.
	for par, se := range params {
		for j := range se {
			if flag(learned[par], j) {
				se[j] = math.NaN()
			}
		}
	}
	off := u.nfree - 1
	if off < 0 {
		off = 0
	}
	for s, sl := range u.slots {
		clear(u.a[:u.dim])
		u.a[off+s] = 1
		params[sl.par][sl.comp] = math.Sqrt(u.variance(u.a))
	}
	return out, nil
}

// compute loads the table (borrowing f's densities when f is not nil; see
// WeightStdErrorsFrom), builds the information of the weights in tangent
// coordinates and of u.slots, and sets u.weightsSE. It leaves the
// information's eigendecomposition for variance.
func (u *Uncertainty) compute(f *Fitter, logLik, counts []float64, k int, weights []float64) error {
	u.k = k
	u.w = grow(u.w, k)
	u.free = growBool(u.free, k)
	u.coord = seGrowInt(u.coord, k)
	u.has = growBool(u.has, k)
	sum := 0.0
	u.nfree, u.ref = 0, -1
	for j, w := range weights {
		if !(w >= 0) || math.IsInf(w, 1) {
			return fmt.Errorf("em: weight %d is %v; weights must be finite and non-negative", j, w)
		}
		u.free[j] = w > BoundaryWeight
		if u.free[j] {
			sum += w
			u.nfree++
			if u.ref < 0 || w > weights[u.ref] {
				u.ref = j
			}
		}
	}
	if u.nfree == 0 {
		return fmt.Errorf("em: no weight exceeds %g", BoundaryWeight)
	}
	m := 0
	for j, w := range weights {
		u.w[j], u.coord[j], u.has[j] = 0, -1, false
		if u.free[j] {
			u.w[j] = w / sum
			if j != u.ref {
				u.coord[j] = m
				m++
			}
		}
	}
	for _, sl := range u.slots {
		u.has[sl.comp] = true
	}
	var lik, diff, c []float64
	if f != nil {
		var err error
		if lik, diff, err = u.borrow(f, logLik, counts); err != nil {
			return err
		}
		c, u.n = f.c, f.n
	} else {
		if err := u.load(logLik, counts); err != nil {
			return err
		}
		u.differences(u.lik, u.lg)
		lik, diff, c = u.lik, u.diff, u.c
	}
	u.dim = m + len(u.slots)
	if err := u.accumulate(lik, diff, c); err != nil {
		return err
	}
	if err := u.factorize(); err != nil {
		return err
	}
	u.weightsSE = grow(u.weightsSE, k)
	u.a = grow(u.a, max(u.dim, 1))
	for j := range u.weightsSE {
		switch {
		case k == 1:
			u.weightsSE[j] = 0
		case !u.free[j] || u.nfree == 1:
			u.weightsSE[j] = math.NaN()
		default:
			clear(u.a[:u.dim])
			if j == u.ref {
				for l := 0; l < m; l++ {
					u.a[l] = -1
				}
			} else {
				u.a[u.coord[j]] = 1
			}
			u.weightsSE[j] = math.Sqrt(u.variance(u.a))
		}
	}
	return nil
}

// load checks the table and counts as Fit does and keeps the rows with a
// positive count, scaled by their largest density among the free
// components.
func (u *Uncertainty) load(logLik, counts []float64) error {
	k := u.k
	u.rows, u.c = u.rows[:0], u.c[:0]
	u.lik, u.lg = u.lik[:0], u.lg[:0]
	u.n = 0
	for i := 0; i < len(logLik)/k; i++ {
		c := 1.0
		if counts != nil {
			c = counts[i]
		}
		if !(c >= 0) || math.IsInf(c, 1) {
			return &ValueError{Row: i, Component: -1, Value: c}
		}
		if c == 0 {
			continue
		}
		row := logLik[i*k : i*k+k]
		all, mf := math.Inf(-1), math.Inf(-1)
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 1) {
				return &ValueError{Row: i, Component: j, Value: v}
			}
			if v > all {
				all = v
			}
			if v > mf && u.free[j] {
				mf = v
			}
		}
		if math.IsInf(all, -1) {
			return &SupportError{Row: i}
		}
		if math.IsInf(mf, -1) {
			return fmt.Errorf("em: observation %d has zero density under every component with positive weight; the weights are not a maximum", i)
		}
		for j, v := range row {
			if u.free[j] {
				u.lik = append(u.lik, expDiff(v-mf))
				u.lg = append(u.lg, v-mf)
			} else {
				u.lik = append(u.lik, 0)
				u.lg = append(u.lg, math.Inf(-1))
			}
		}
		u.rows = append(u.rows, i)
		u.c = append(u.c, c)
		u.n += c
	}
	if u.n == 0 {
		return ErrNoData
	}
	if math.IsInf(u.n, 1) {
		return ErrCountOverflow
	}
	return nil
}

// differences forms u.diff, f_j - f_ref for the free components j, from
// the scaled densities lik and their logarithms lg, as Fitter.reference
// does: with expm1 where the two are within a factor e^0.5 of each other.
func (u *Uncertainty) differences(lik, lg []float64) {
	k := u.k
	u.diff = grow(u.diff, len(lik))
	for i := 0; i < len(lik); i += k {
		diffRow(u.diff[i:i+k], lik[i:i+k], lg[i:i+k], u.ref, u.free)
	}
}

// borrow returns the scaled densities and their differences that load and
// differences would form, built from f's: f's own slices when every weight
// is free (and f.diff when f's reference is u.ref), else copies with the
// boundary components masked, and rows whose largest density is a
// boundary component's rescaled from logLik. The caller sets u.c and u.n.
func (u *Uncertainty) borrow(f *Fitter, logLik, counts []float64) (lik, diff []float64, err error) {
	k := u.k
	u.rows = u.rows[:0]
	if u.nfree == k {
		// Every row is scaled by its largest density, as f scaled it.
		if f.ref != u.ref {
			u.differences(f.lik, f.lg)
			return f.lik, u.diff, nil
		}
		return f.lik, f.diff, nil
	}
	u.lik, u.lg = grow(u.lik, len(f.lik)), grow(u.lg, len(f.lg))
	u.diff = grow(u.diff, len(f.lik))
	sameRef := f.ref == u.ref
	kept := 0
	for i := 0; i < f.rowsIn; i++ {
		if counts != nil && counts[i] == 0 {
			continue
		}
		o := kept * k
		kept++
		fl, fg := f.lik[o:o+k], f.lg[o:o+k]
		ul, ug, ud := u.lik[o:o+k], u.lg[o:o+k], u.diff[o:o+k]
		// f scaled the row by its largest log-density m; a free component
		// attains it when its scaled logarithm is exactly 0 (v - m = 0
		// only for v = m), and then load would scale it by m too.
		top := false
		for j, v := range fg {
			if u.free[j] && v == 0 {
				top = true
				break
			}
		}
		if top {
			for j := range ul {
				ul[j], ug[j] = 0, math.Inf(-1)
				if u.free[j] {
					ul[j], ug[j] = fl[j], fg[j]
				}
			}
			if sameRef {
				for j := range ud {
					ud[j] = 0
					if u.free[j] && j != u.ref {
						ud[j] = f.diff[o+j]
					}
				}
				continue
			}
		} else {
			// As load: scale by the largest free log-density.
			row := logLik[i*k : i*k+k]
			mf := math.Inf(-1)
			for j, v := range row {
				if v > mf && u.free[j] {
					mf = v
				}
			}
			if math.IsInf(mf, -1) {
				return nil, nil, fmt.Errorf("em: observation %d has zero density under every component with positive weight; the weights are not a maximum", i)
			}
			for j, v := range row {
				ul[j], ug[j] = 0, math.Inf(-1)
				if u.free[j] {
					ul[j], ug[j] = expDiff(v-mf), v-mf
				}
			}
		}
		diffRow(ud, ul, ug, u.ref, u.free)
	}
	return u.lik, u.diff, nil
}

// row returns the table row of kept observation i.
func (u *Uncertainty) row(i int) int {
	if i < len(u.rows) {
		return u.rows[i]
	}
	for r, c := range u.cnt {
		if c != 0 {
			if i == 0 {
				return r
			}
			i--
		}
	}
	return i
}

// accumulate builds u.info, the observed information per unit count in the
// coordinates (free non-reference weights, then u.slots), from the scaled
// densities lik, their differences diff and the counts c of the kept rows.
func (u *Uncertainty) accumulate(lik, diff, c []float64) error {
	d := u.dim
	u.info = grow(u.info, d*d)
	clear(u.info)
	// Counts far from 1 (near the largest float64, say) are scaled by a
	// power of two that brings their sum to [1, 2), so that the sums of
	// c·g² cannot overflow: exact, but for counts that underflow, which
	// add nothing at that scale (found by scaling the counts by 1e300).
	n := u.n
	if e := -math.Ilogb(n); e < -256 || e > 256 {
		u.cs = grow(u.cs, len(c))
		for i, v := range c {
			u.cs[i] = math.Ldexp(v, e)
		}
		c, n = u.cs, math.Ldexp(n, e)
	}
	var err error
	if u.k == 3 && d == 2 && len(u.slots) == 0 {
		err = u.accumulate3(lik, diff, c)
	} else {
		err = u.accumulateRows(lik, diff, c)
	}
	if err != nil {
		return err
	}
	for a := 0; a < d; a++ {
		for b := a; b < d; b++ {
			v := u.info[a*d+b] / n
			u.info[a*d+b], u.info[b*d+a] = v, v
		}
	}
	return nil
}

// accumulateRows is the pass over the table of accumulate: it adds the
// information's upper triangle, times N, to u.info.
func (u *Uncertainty) accumulateRows(lik, diff, c []float64) error {
	k, r, d := u.k, u.ref, u.dim
	m := d - len(u.slots)
	u.g = grow(u.g, d)
	if len(u.slots) > 0 {
		u.su = grow(u.su, 2*k)
		u.sh = grow(u.sh, 3*k)
	}
	for i, c := range c {
		li := lik[i*k : i*k+k]
		di := diff[i*k : i*k+k]
		p := li[r]
		for j, dj := range di {
			p += u.w[j] * dj
		}
		if !(p > 0) {
			return fmt.Errorf("em: observation %d has zero density at the weights; they are not a maximum", u.row(i))
		}
		for j, dj := range di {
			if a := u.coord[j]; a >= 0 {
				u.g[a] = dj / p
			}
		}
		if len(u.slots) > 0 {
			x := u.xs[u.rows[i]]
			for j, h := range u.has {
				if h {
					scalarScore(u.fam, &u.comps, j, x, u.su[2*j:2*j+2], u.sh[3*j:3*j+3])
				}
			}
			for s, sl := range u.slots {
				// ∂p/∂θ / p = r_ik ∂log f_ik/∂θ.
				u.g[m+s] = u.w[sl.comp] * li[sl.comp] / p * u.su[2*sl.comp+sl.par]
			}
		}
		// G Gᵀ, upper triangle.
		for a := 0; a < d; a++ {
			ga := c * u.g[a]
			if ga == 0 {
				continue
			}
			row := u.info[a*d : a*d+d]
			for b := a; b < d; b++ {
				row[b] += ga * u.g[b]
			}
		}
		// Minus ∇²p/p.
		for s, sl := range u.slots {
			j := sl.comp
			phi := li[j] / p // f_ij / p_i
			if phi == 0 {
				continue
			}
			sa := u.su[2*j+sl.par]
			if a := u.coord[j]; a >= 0 {
				// ∂²p/∂w_j∂θ_j = f_ij ∂log f_ij/∂θ_j.
				u.info[a*d+m+s] -= c * phi * sa
			} else if j == r {
				// ∂²p/∂w_l∂θ_r = -f_ir ∂log f_ir/∂θ_r for every free weight l.
				for a := 0; a < m; a++ {
					u.info[a*d+m+s] += c * phi * sa
				}
			}
			rw := c * u.w[j] * phi // c_i r_ij
			for t := s; t < len(u.slots); t++ {
				sl2 := u.slots[t]
				if sl2.comp != j {
					continue
				}
				sb := u.su[2*j+sl2.par]
				u.info[(m+s)*d+m+t] -= rw * (sa*sb + u.sh[3*j+sl.par+sl2.par])
			}
		}
	}
	return nil
}

// factorize scales u.info to unit diagonal (coordinates with no
// information are flat and get a zero row) and computes its
// eigendecomposition.
func (u *Uncertainty) factorize() error {
	d := u.dim
	if d == 0 {
		return nil
	}
	m := d - len(u.slots)
	u.sc = grow(u.sc, d)
	u.flat = growBool(u.flat, d)
	for a := 0; a < d; a++ {
		v := u.info[a*d+a]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("em: the observed information is not finite")
		}
		floor := 0.0
		if a < m {
			floor = flatTol
		}
		u.flat[a] = !(v > floor)
		u.sc[a] = 0
		if !u.flat[a] {
			u.sc[a] = 1 / math.Sqrt(v)
		}
	}
	// The upper triangle, as mat.EigenSym copies it (the lower one is not
	// read).
	u.vecs = grow(u.vecs, d*d)
	for a := 0; a < d; a++ {
		for b := 0; b < d; b++ {
			v := 0.0
			if b >= a {
				v = u.info[a*d+b] * u.sc[a] * u.sc[b]
			}
			u.vecs[a*d+b] = v
		}
	}
	u.vals = grow(u.vals, d)
	if !u.syev.factorize(u.vecs, d, u.vals) {
		return errors.New("em: eigendecomposition of the observed information failed")
	}
	return nil
}

// variance returns aᵀ J⁺ a / N for the coefficient vector a (length u.dim)
// over the coordinates, or +Inf if a has a share above seAlong along a flat
// direction.
func (u *Uncertainty) variance(a []float64) float64 {
	d := u.dim
	u.at = grow(u.at, d)
	norm := 0.0
	for j := 0; j < d; j++ {
		u.at[j] = a[j] * u.sc[j]
		if u.flat[j] {
			u.at[j] = a[j]
		}
		norm += u.at[j] * u.at[j]
	}
	norm = math.Sqrt(norm)
	top := u.vals[d-1]
	v := 0.0
	for i := 0; i < d; i++ {
		proj := 0.0
		for j := 0; j < d; j++ {
			proj += u.at[j] * u.vecs[j*d+i]
		}
		if top > 0 && u.vals[i] > seFlat*top {
			v += proj * proj / u.vals[i]
		} else if math.Abs(proj) > seAlong*norm {
			return math.Inf(1)
		}
	}
	return v / u.n
}

// checkScalarParams checks the parameters of the family's components,
// except those whose weight is on the boundary (see StdErrors).
func checkScalarParams(fam Family, comps *ScalarComponents, weights []float64) error {
	for j := range comps.P {
		if weights[j] > BoundaryWeight && fam == Bernoulli && !(comps.P[j] >= 0 && comps.P[j] <= 1) {
			return fmt.Errorf("em: component %d has p = %v, not in [0, 1]", j, comps.P[j])
		}
	}
	for j := range comps.Rate {
		if weights[j] > BoundaryWeight && fam == Poisson && (!(comps.Rate[j] >= 0) || math.IsInf(comps.Rate[j], 1)) {
			return fmt.Errorf("em: component %d has rate = %v, not a finite non-negative number", j, comps.Rate[j])
		}
	}
	if fam == Gaussian {
		for j := range comps.Mean {
			if !(weights[j] > BoundaryWeight) {
				continue
			}
			if math.IsNaN(comps.Mean[j]) || math.IsInf(comps.Mean[j], 0) {
				return fmt.Errorf("em: component %d has mean = %v, not a finite number", j, comps.Mean[j])
			}
			if !(comps.SD[j] > 0) || math.IsInf(comps.SD[j], 1) {
				return fmt.Errorf("em: component %d has sd = %v, not a finite positive number", j, comps.SD[j])
			}
		}
	}
	return nil
}

// checkScalarValue checks that the family can produce x.
func checkScalarValue(fam Family, x float64, row int) error {
	ok := false
	switch fam {
	case Bernoulli:
		ok = x == 0 || x == 1
	case Poisson:
		ok = x >= 0 && x == math.Trunc(x) && !math.IsInf(x, 1)
	case Gaussian:
		ok = !math.IsNaN(x) && !math.IsInf(x, 0)
	}
	if !ok {
		return fmt.Errorf("em: value %v of observation %d is not a %v value", x, row, fam)
	}
	return nil
}

// scalarLogDensity returns log f_j(x) with every normalising constant.
func scalarLogDensity(fam Family, comps *ScalarComponents, j int, x float64) float64 {
	switch fam {
	case Bernoulli:
		if x == 1 {
			return math.Log(comps.P[j])
		}
		return math.Log1p(-comps.P[j])
	case Poisson:
		return PoissonLogProb(x, comps.Rate[j])
	default: // Gaussian
		z := (x - comps.Mean[j]) / comps.SD[j]
		return -0.5*math.Log(2*math.Pi) - math.Log(comps.SD[j]) - 0.5*z*z
	}
}

// scalarScore writes the gradient of log f_j(x) in the component's
// parameters to u (p, rate or mean; sd) and its Hessian to h (entries
// (0,0), (0,1), (1,1)). Parameters on the boundary of their range never get
// here.
func scalarScore(fam Family, comps *ScalarComponents, j int, x float64, u, h []float64) {
	switch fam {
	case Bernoulli:
		p := comps.P[j]
		if x == 1 {
			u[0], h[0] = 1/p, -1/(p*p)
		} else {
			q := 1 - p
			u[0], h[0] = -1/q, -1/(q*q)
		}
	case Poisson:
		lambda := comps.Rate[j]
		u[0], h[0] = x/lambda-1, -x/(lambda*lambda)
	default: // Gaussian
		s := comps.SD[j]
		z := (x - comps.Mean[j]) / s
		u[0], u[1] = z/s, (z*z-1)/s
		s2 := s * s
		h[0], h[1], h[2] = -1/s2, -2*z/s2, (1-3*z*z)/s2
	}
}

func seGrowInt(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}
