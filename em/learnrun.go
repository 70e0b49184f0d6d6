package em

import (
	"errors"
	"math"
	"slices"
)

// Learn fits one bag: it estimates the learned quantities of the model by
// EM from several starts and returns the start with the highest
// log-likelihood.
//
// Starts. When the family's location parameter (Gaussian or
// MultiGaussian mean, Poisson rate, Bernoulli p, Categorical probs) is
// learned and has no starting value, each of s.Restarts starts clusters
// the values by k-means++ seeding (weighted by the counts; for Categorical
// on the one-hot codes) and Lloyd iterations, seeded from s.Seed and the
// start's number, and takes one M-step from that hard assignment. When
// that starting point equals one already run (Lloyd's iterations often
// reach the same partition from different seeds), the start instead
// assigns every value to the nearest of K distinct values drawn from the
// data with probability ∝ count (continuing the same random stream; not
// for Categorical, whose k-means++ seeding already draws codes so; at
// most maxDrawn such starts per Learn), and is skipped only if that point
// too was run. So Starts may be less than
// Restarts. Otherwise there is one start: the given and fixed values,
// learned variances or covariances without a starting value set to the
// whole bag's, weights without one uniform. A learned quantity with a
// starting value starts from it in every start. A start that fails (a
// singular covariance) is dropped; Learn fails only if every start does.
//
// Iterations. Each start runs EM, accelerated by SQUAREM unless
// s.Accelerate is None: SQUAREM's extrapolation is taken in unconstrained
// coordinates (log weights, log sd, logit p, log-Cholesky factors, ...),
// followed by one EM step, and accepted only if that point's
// log-likelihood is at least that of the plain EM step it replaces, so the
// log-likelihood increases monotonically. For univariate Gaussian, Poisson
// and Bernoulli components, a start still running after 24 E-steps, and
// every start whose EM step gains at most s.Tol·|ll|, is handed to
// Newton's method on the observed log-likelihood (newtonGauss,
// newtonScalar: exact gradient and Hessian in log-weight ratios and
// means, log sds, log rates or logit p; eigenvalues of the Hessian taken
// in absolute value and floored, so every step ascends; a monotone line
// search; variances kept at or above RegCovar), which converges
// quadratically where EM crawls along flat curved ridges, and hands back
// to SQUAREM if it cannot make progress (a start gives up, not converged,
// after three such failures called by EM's stalling). The mean and sd of a
// component collapsed onto the variance floor (variance below
// 10·RegCovar) take EM updates, and weights below 1e-12, Poisson rates
// below 1e-12 and Bernoulli p within 1e-12 of 0 or 1 are held, outside
// Newton's coordinates. A Poisson rate held near 0 must satisfy the KKT
// condition of that bound (the log-likelihood's derivative in the rate
// at 0 not positive); EM cannot move such a rate, so where the condition
// fails the rate is lifted off 0 (liftRates).
// Each of Newton's gradient passes and line-search trials counts as an
// E-step.
//
// Stopping. With s.Accelerate None a start stops, converged, when one EM
// step raises the log-likelihood by at most s.Tol·|ll| (the textbook rule,
// which does not certify a maximum: on flat ridges EM's steps are small
// far from it). Otherwise a start is converged only when its point is
// certified: for univariate Gaussian, Poisson and Bernoulli components,
// Newton's phase certifies it when the Hessian on the free coordinates has
// no eigenvalue above 1e-10 of its largest magnitude (no direction curves
// upwards: not a saddle; flat directions, such as the weights of two
// components merged into one, are allowed) and the gain the quadratic
// model predicts for the Newton step, ½ gᵀ(-H)⁻¹g with -H's eigenvalues
// floored, is at most 1e-3·s.Tol·|ll|, plus for Gaussian components a
// floating-point floor: the gain that rounding the parameters to
// representable values may leave, 2·½(Σₐ uₐ√|H_aa|)² with uₐ half the
// spacing of the float64 values at coordinate a (half an ulp of a mean;
// see roundingFloor in learnnewton.go). A mean μ is representable only to
// about |μ|·2^-53, so for values 1e12 sds from 0 (x·2^-20 + 2^20) the
// point nearest the maximum can lie 1e-4 sd from it, a loss of about 1e-8
// per observation that no computation on those values can recover; such
// fits are certified within twice that loss of the maximum. The floor
// stays below 1e-3·Tol·|ll| unless some mean lies more than about 1e8 of
// its component's sds from 0. (Poisson rates and Bernoulli p, in log and
// logit coordinates, are representable far more finely than their spread,
// so newtonScalar has no floor.) For Categorical and MultiGaussian
// components, once an EM step gains at most s.Tol·|ll| one more plain EM
// step is taken and the three log-likelihoods l0, l1, l2 must meet
// Aitken's criterion: with the linear rate a = (l2-l1)/(l1-l0) < 1 (taken
// with an allowance for the log-likelihoods' rounding, see aitken), the
// extrapolated limit l1 + (l2-l1)/(1-a) is at most s.Tol·|l2| above l1 (or
// the last step, or the last two, gain nothing at all), and, when the
// weights are learned, what the point's small weights (below 1e-2) can
// still gain to first order with the component parameters held must be
// at most s.Tol·|ll| (weightsGap; Aitken's extrapolation alone is
// optimistic where a weight heads to 0, or sits near 0 while the data
// want it).
// Otherwise SQUAREM continues, after a weight stuck at the boundary,
// which EM would take thousands of steps to move, has been moved (see
// moveWeights) where that raises the log-likelihood. A start still
// uncertified after s.MaxIter E-steps stops, not converged.
//
// A start is abandoned early (not counted as a candidate) when it comes
// within 1e-2 (in log weights, log sds and means in units of the bag's
// standard deviation) of a maximum an earlier start reached with a higher
// log-likelihood, or when it is more than 1 and more than 10^4 times its
// last cycle's gain below the best maximum so far.
//
// Degenerate bags. A variance never falls below RegCovar (a component on
// one distinct value gets sd √RegCovar). With fewer distinct values than
// components, k-means++ finds fewer clusters, and the components left over
// start (and end) with weight 0 when the weights are learned; with fixed
// weights they start at the whole bag's parameters. Every component whose
// final weight is 0 reports NaN for each of its learned parameters: no
// observation informs them. A bag of one observation is fitted the same
// way: one component at it with sd √RegCovar, the others empty.
//
// Label order. When the components are exchangeable (every parameter of
// the family learned, none given a starting value, and the given weights,
// if any, equal) they are returned in a canonical order, so the same data
// gives the same labels: Gaussian by mean then sd, Bernoulli by p, Poisson
// by rate, Categorical by the probability vector lexicographically,
// MultiGaussian by the mean vector lexicographically then the covariance
// entries; empty components (NaN) last. Otherwise component k stays the
// one that was given the k-th fixed or starting values.
//
// Identifiability. Learn refuses, with an *IdentifiabilityError, models
// that CheckIdentifiable rates NotIdentifiable for one bag (a mixture of
// Bernoullis or of categoricals with learned component parameters is
// itself a single Bernoulli or categorical distribution).
//
// The rows are sorted and equal rows merged first, so the result depends
// neither on their order nor on how counts are split across rows. Learn
// panics if the lengths of bag.X and bag.Counts do not match the model.
//
// Besides a value the family does not admit, errors are ErrNoData,
// ErrCountOverflow, ErrOverflow (a sum over the rows overflowed: counts
// near 1e308, or learned Gaussian values beyond about 1e154),
// ErrZeroDensity and ErrStopped.
func (l *Learner) Learn(bag Bag, s LearnSettings) (LearnResult, error) {
	if l.perBag == NotIdentifiable {
		return LearnResult{}, &IdentifiabilityError{Scope: PerBag, Reason: l.perBagWhy}
	}
	s = s.withDefaults()
	l.done = s.Done
	defer func() { l.done = nil }()
	if err := l.load(bag, true); err != nil {
		return LearnResult{}, err
	}
	random := l.randomStart()
	starts := 1
	if random && l.m.K > 1 {
		starts = s.Restarts
	}
	l.starts = l.starts[:0]
	l.found, l.foundLL = l.found[:0], l.foundLL[:0]
	l.scales()
	var (
		res      LearnResult
		found    bool
		firstErr error
	)
	drawn := 0 // starts drawn from the data
	for r := range starts {
		if l.stopped() {
			return LearnResult{}, ErrStopped
		}
		l.pcg.Seed(mix64(s.Seed), mix64(pcgStream+uint64(r)))
		start := &l.pts[0]
		l.start(start, random, false)
		if l.exch {
			l.sortComponents(start, nil)
		}
		if l.seen(start) && !l.redraw(start, random, &drawn) {
			continue
		}
		res.Starts++
		out, err := l.run(s)
		if errors.Is(err, ErrStopped) {
			return LearnResult{}, err
		}
		res.TotalIterations += out.iters + 1
		if err == nil && !out.dup {
			l.pack(l.grow(len(l.found)), l.sorted(out.p))
			l.foundLL = append(l.foundLL, out.ll)
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if !out.dup && (!found || out.ll > res.LogLikelihood) {
			found = true
			copyParams(&l.best, out.p)
			res.LogLikelihood, res.Iterations, res.Converged = out.ll, out.iters, out.converged
		}
	}
	if !found {
		return LearnResult{}, firstErr
	}
	l.finish(&l.best, nil)
	res.Params = l.best.Clone()
	return res, nil
}

// stopped reports whether LearnSettings.Done has been closed.
func (l *Learner) stopped() bool { return closed(l.done) }

// randomStart reports whether the starts are random: the location
// parameter is learned and has no starting value.
func (l *Learner) randomStart() bool {
	m := l.m
	in := m.Init
	switch m.Family {
	case Bernoulli:
		return m.Learn.Has(LearnP) && in.P == nil
	case Categorical:
		return m.Learn.Has(LearnProbs) && in.Probs == nil
	case Poisson:
		return m.Learn.Has(LearnRate) && in.Rate == nil
	default:
		return m.Learn.Has(LearnMean) && in.Mean == nil
	}
}

// given returns the learned quantities that have starting values.
func (l *Learner) given() LearnSet {
	in := l.m.Init
	var g LearnSet
	for _, q := range []struct {
		q LearnSet
		s []float64
	}{{LearnWeights, in.Weights}, {LearnP, in.P}, {LearnProbs, in.Probs}, {LearnMean, in.Mean},
		{LearnSD, in.SD}, {LearnRate, in.Rate}, {LearnCov, in.Cov}} {
		if q.s != nil {
			g |= q.q
		}
	}
	return g & l.m.Learn
}

// start writes a starting point to p; see Learn. With random, the loaded
// rows are clustered with l.rng: by k-means++ and Lloyd's iterations, or
// with fromData around points drawn from the data (kmeans.runData).
func (l *Learner) start(p *Params, random, fromData bool) {
	m := l.m
	k := m.K
	copyParams(p, &m.Init)
	if m.Init.Weights == nil {
		for j := range p.Weights {
			p.Weights[j] = 1 / float64(k)
		}
	}
	free := m.Learn &^ l.given() // learned without a starting value
	pooled := &l.pts[len(l.pts)-1]
	if random {
		var kk int
		var assign []int
		switch {
		case m.Family == Categorical:
			kk, assign = l.km.runOneHot(l.x, l.c, m.Levels, k, l.rng)
		case fromData:
			kk, assign = l.km.runData(l.x, l.c, l.d, k, l.rng)
		default:
			kk, assign = l.km.run(l.x, l.c, l.d, k, l.rng)
		}
		l.hardStats(&l.st, assign)
		// The M-step leaves the components without observations (those
		// from kk on) alone, and gives them weight 0 when the weights are
		// learned without starting values.
		_ = l.mstep(p, &l.st, free)
		if kk < k {
			l.pooledParams(pooled, free&^LearnWeights)
			for j := kk; j < k; j++ {
				copyComponent(p, pooled, j, 0, free&^LearnWeights, m)
			}
		}
		return
	}
	if other := free &^ (LearnWeights | LearnMean); other != 0 {
		l.pooledParams(pooled, other)
		for j := range k {
			copyComponent(p, pooled, j, 0, other, m)
		}
	}
}

// pooledParams sets the quantities q (and the mean) of component 0 of p
// to the whole bag's estimates.
func (l *Learner) pooledParams(p *Params, q LearnSet) {
	if p.Mean != nil {
		q |= LearnMean
	}
	assign := growInt(l.km.next, len(l.c))
	clear(assign)
	l.km.next = assign
	l.hardStats(&l.st, assign)
	_ = l.mstep(p, &l.st, q)
}

// copyComponent copies the quantities q of component i of src to
// component j of dst.
func copyComponent(dst, src *Params, j, i int, q LearnSet, m Model) {
	cp := func(d, s []float64, w int) { copy(d[j*w:(j+1)*w], s[i*w:(i+1)*w]) }
	if q.Has(LearnWeights) {
		cp(dst.Weights, src.Weights, 1)
	}
	switch {
	case q.Has(LearnP):
		cp(dst.P, src.P, 1)
	case q.Has(LearnProbs):
		cp(dst.Probs, src.Probs, m.Levels)
	case q.Has(LearnRate):
		cp(dst.Rate, src.Rate, 1)
	}
	if q.Has(LearnMean) {
		cp(dst.Mean, src.Mean, max(1, m.Dim))
	}
	if q.Has(LearnSD) {
		cp(dst.SD, src.SD, 1)
	}
	if q.Has(LearnCov) {
		cp(dst.Cov, src.Cov, m.Dim*m.Dim)
	}
}

// seen reports whether p equals a starting point already run in this
// Learn, to rounding (sameStart), and records it if not.
func (l *Learner) seen(p *Params) bool {
	n := len(l.starts)
	l.starts = l.flatten(l.starts, p)
	v := l.starts[n:]
	for i := 0; i < n; i += len(v) {
		if sameStart(l.starts[i:i+len(v)], v) {
			l.starts = l.starts[:n]
			return true
		}
	}
	return false
}

// sameStart reports whether two flattened starting points agree within
// 1e-12 relative in every quantity. The same k-means partition found
// under other labels gives the same start but for rounding: its M-step
// sums the components in another order (weights n_j / Σ n differ in the
// last bit), and taking it for a new start would run it twice instead of
// drawing one from the data, so that whether a start is redrawn would
// depend on the counts' rounding (found by scaling the counts).
func sameStart(a, b []float64) bool {
	for i, x := range a {
		if y := b[i]; x != y && !(math.Abs(x-y) <= 1e-12*math.Max(math.Abs(x), math.Abs(y))) {
			return false
		}
	}
	return true
}

func (l *Learner) flatten(dst []float64, p *Params) []float64 {
	for _, s := range p.quantities() {
		dst = append(dst, s...)
	}
	return dst
}

type runResult struct {
	p         *Params
	ll        float64
	iters     int
	converged bool
	dup       bool // stopped near a maximum found before
}

// redraw replaces p, a start that one already run repeats, by a start
// drawn from the data (kmeans.runData; it continues the same random
// stream, so it is reproducible), while fewer than maxDrawn have been
// (*drawn counts them), and reports whether p is then a start not run
// before. Categorical starts are not drawn from the data. l.pts[0] is
// the scratch of the draw (p may be it).
func (l *Learner) redraw(p *Params, random bool, drawn *int) bool {
	if !random || l.m.Family == Categorical || *drawn >= maxDrawn {
		return false
	}
	*drawn++
	l.start(&l.pts[0], random, true)
	copyParams(p, &l.pts[0])
	if l.exch {
		l.sortComponents(p, nil)
	}
	return !l.seen(p)
}

// maxDrawn caps the starts drawn from the data per Learn (see Learn):
// each costs a start's E-steps, and a few find most of what they find.
const maxDrawn = 3

// dupTol is the distance (see near) below which a start's current point
// counts as on its way to a maximum that an earlier start reached.
const dupTol = 1e-2

// grow appends room for one packed point to l.found and returns that
// room.
func (l *Learner) grow(n int) []float64 {
	v := l.vecLen()
	l.found = slices.Grow(l.found, v)
	l.found = l.found[:len(l.found)+v]
	return l.found[n:]
}

// sorted returns p, or a copy of it in canonical order when the
// components are exchangeable.
func (l *Learner) sorted(p *Params) *Params {
	if !l.exch {
		return p
	}
	copyParams(&l.cmp, p)
	l.sortComponents(&l.cmp, nil)
	return &l.cmp
}

// near reports whether p is within dupTol of a maximum found before with
// at least its log-likelihood ll, in packed coordinates (means in units of
// the bag's standard deviation).
func (l *Learner) near(p *Params, ll float64) bool {
	if len(l.foundLL) == 0 {
		return false
	}
	v := l.pack(l.vec[3], l.sorted(p))
	for f, fll := range l.foundLL {
		if fll < ll {
			continue
		}
		w := l.found[f*len(v) : (f+1)*len(v)]
		close := true
		for i, x := range v {
			if !(math.Abs(x-w[i]) <= dupTol*l.scale[i]) && !(x == w[i]) {
				close = false
				break
			}
		}
		if close {
			return true
		}
	}
	return false
}

// hopeless reports whether a start at log-likelihood ll, which gained
// gain in its last cycle, is so far below the best maximum found before
// (by more than 10^4 such gains, and by more than the mean count of a
// distinct row: 1 nat for rows of count 1) that it cannot be expected to
// catch up. The second bound scales with the counts, as the
// log-likelihood does: a fixed 1 nat dropped, at counts ×3, a start 0.5
// nats behind that went on to win (found by scaling the counts).
func (l *Learner) hopeless(ll, gain float64) bool {
	for _, f := range l.foundLL {
		if d := f - ll; d > l.total/float64(len(l.c)) && d > 1e4*gain {
			return true
		}
	}
	return false
}

// scales sets l.scale, the scale of each packed coordinate: the loaded
// bag's standard deviation (per dimension) for means and for the
// off-diagonal entries U_ab of full covariances' Cholesky factors (in the
// units of dimension b), 1 otherwise (logarithms and log-odds). SQUAREM's
// step length and near's tolerance measure in these units, so that they
// do not depend on the units of the data.
func (l *Learner) scales() {
	n := l.vecLen()
	if cap(l.scale) < n {
		l.scale = make([]float64, n)
	}
	l.scale = l.scale[:n]
	for i := range l.scale {
		l.scale[i] = 1
	}
	m := l.m
	mean := m.Learn.Has(LearnMean)
	chol := m.Family == MultiGaussian && m.Covariance == CovFull && m.Learn.Has(LearnCov)
	if !mean && !chol {
		return
	}
	d := l.d
	l.sd = grow(l.sd, d)
	for a := range d {
		s, s2 := 0.0, 0.0
		for r, c := range l.c {
			s += c * l.x[r*d+a]
		}
		mu := s / l.total
		for r, c := range l.c {
			e := l.x[r*d+a] - mu
			s2 += c * e * e
		}
		sd := math.Sqrt(s2 / l.total)
		if !(sd > 0) || math.IsInf(sd, 0) {
			sd = 1
		}
		l.sd[a] = sd
	}
	i := 0 // the packed layout, as in pack
	if m.Learn.Has(LearnWeights) {
		i += m.K
	}
	if mean {
		for range m.K {
			copy(l.scale[i:i+d], l.sd)
			i += d
		}
	}
	if chol {
		for range m.K {
			for a := range d {
				for b := a; b < d; b++ {
					if a != b {
						l.scale[i] = l.sd[b]
					}
					i++
				}
			}
		}
	}
}

// run runs EM (SQUAREM unless s.Accelerate is None) from l.pts[0].
func (l *Learner) run(s LearnSettings) (runResult, error) {
	pts := [6]*Params{}
	for i := range pts {
		pts[i] = &l.pts[i]
	}
	// th is the current point, f1 = F(th), f2 = F(f1); q, fq, ffq are the
	// extrapolated point, F(q) and F(F(q)). pts[5] is also pooledParams'
	// scratch, used only before run.
	th, f1, f2, q, fq, ffq := pts[0], pts[1], pts[2], pts[3], pts[4], pts[5]
	evals := 0
	em := func(from, to *Params) (float64, error) {
		if l.stopped() {
			return 0, ErrStopped
		}
		evals++
		ll, err := l.estep(&l.st, from)
		if err != nil {
			return ll, err
		}
		copyParams(to, from)
		return ll, l.mstep(to, &l.st, l.m.Learn)
	}
	ll0, err := em(th, f1)
	if err != nil {
		return runResult{iters: evals - 1}, err
	}
	gain := math.Inf(1) // the last cycle's gain in log-likelihood
	newtonNext := newtonAfterLearn
	newton := l.m.Family == Gaussian || l.scalarNewton()
	fails := 0 // Newton phases that EM's stalling called and that failed
	lifts := 0 // failed series of moveWeights' trials
	budget := func() bool { return evals-1 < s.MaxIter }
	stepMax := 1.0
	for {
		if !budget() {
			return runResult{p: th, ll: ll0, iters: evals - 1}, nil
		}
		if l.near(th, ll0) || l.hopeless(ll0, gain) {
			return runResult{p: th, ll: ll0, iters: evals - 1, dup: true}, nil
		}
		ll1, err := em(f1, f2)
		if err != nil {
			return runResult{p: th, ll: ll0, iters: evals - 1}, err
		}
		small := ll1-ll0 <= s.Tol*math.Abs(ll1)
		if small && s.Accelerate == None {
			// The textbook rule, and nothing else.
			if ll1 >= ll0 {
				return runResult{p: f1, ll: ll1, iters: evals - 1, converged: true}, nil
			}
			return runResult{p: th, ll: ll0, iters: evals - 1, converged: true}, nil
		}
		if small && !newton {
			// Certify by the EM sequence's linear rate (see aitken); f2 is
			// EM's step from f1.
			if !budget() {
				return runResult{p: f1, ll: ll1, iters: evals - 1}, nil
			}
			if l.stopped() {
				return runResult{p: f1, ll: ll1, iters: evals - 1}, ErrStopped
			}
			// The small weights of the point returned must also gain at
			// most s.Tol·|ll| (see weightsGap). f2's weights are
			// EM's update at f1, so f1's bound costs nothing, and where
			// it fails the E-step at f2 is not taken: a weight stuck at
			// the boundary is moved (see moveWeights), or SQUAREM
			// continues.
			learnW := l.m.Learn.Has(LearnWeights)
			if !learnW || l.total*weightsGap(f1.Weights, f2.Weights) <= s.Tol*math.Abs(ll1) {
				evals++
				ll2, err := l.estep(&l.st, f2)
				if err == nil && aitken(ll0, ll1, ll2, s.Tol) {
					// f2's own bound from the E-step just taken at f2.
					if ll2 >= ll1 && (!learnW || l.total*weightsGap(f2.Weights, l.st.n) <= s.Tol*math.Abs(ll2)) {
						return runResult{p: f2, ll: ll2, iters: evals - 1, converged: true}, nil
					}
					return runResult{p: f1, ll: ll1, iters: evals - 1, converged: true}, nil
				}
			} else if lifts < maxLifts {
				lifted := false
				minGain := s.Tol * math.Abs(ll1) / l.total
				for try := 1; try <= liftTries+1 && !lifted; try++ {
					copyParams(q, f1)
					if !moveWeights(q.Weights, f1.Weights, f2.Weights, s.Tol, minGain, try) {
						continue
					}
					if !budget() {
						break
					}
					llq, err := em(q, fq)
					if errors.Is(err, ErrStopped) {
						return runResult{p: f1, ll: ll1, iters: evals - 1}, err
					}
					if lifted = err == nil && llq > ll1; lifted {
						// Go on from the moved point.
						th, f1, q, fq = q, fq, th, f1
						gain, ll0 = llq-ll1, llq
					}
				}
				if lifted {
					continue
				}
				lifts++
			}
		}
		if s.Accelerate == None {
			th, f1, f2 = f1, f2, th
			gain, ll0 = ll1-ll0, ll1
			continue
		}
		if newton && (small || evals >= newtonNext) {
			if ll1 < ll0 {
				th, f1, ll1 = f1, th, ll0 // Newton starts from the better point
			}
			var llN float64
			var status int
			if l.m.Family == Gaussian {
				llN, status = l.newtonGauss(f1, q, ll1, s.Tol, &evals, s.MaxIter)
			} else {
				llN, status = l.newtonScalar(f1, q, ll1, s.Tol, &evals, s.MaxIter)
			}
			switch status {
			case newtonConverged:
				return runResult{p: f1, ll: llN, iters: evals - 1, converged: true}, nil
			case newtonBudget:
				return runResult{p: f1, ll: llN, iters: evals - 1}, nil
			case newtonStopped:
				return runResult{p: f1, ll: llN, iters: evals - 1}, ErrStopped
			}
			if small {
				if fails++; fails >= newtonFails {
					// EM has stalled and Newton cannot certify the point.
					return runResult{p: f1, ll: llN, iters: evals - 1}, nil
				}
			}
			// Back to SQUAREM from where Newton stopped, for a while.
			newtonNext = evals + newtonAfterLearn
			th, f1 = f1, th
			if ll0, err = em(th, f1); err != nil {
				return runResult{p: th, ll: ll0, iters: evals - 1}, err
			}
			gain = llN - ll1
			continue
		}
		alpha, atBound := l.extrapolate(th, f1, f2, q, stepMax)
		tried := alpha > 1.01 && budget()
		if tried {
			_, err := em(q, fq)
			if err == nil && budget() {
				var llfq float64
				if llfq, err = em(fq, ffq); err == nil && llfq >= ll1 {
					th, f1, fq, ffq = fq, ffq, th, f1
					gain, ll0 = llfq-ll0, llfq
					stepMax = nextStepMax(stepMax, atBound, false)
					continue
				}
			}
		}
		stepMax = nextStepMax(stepMax, atBound, tried)
		if !budget() {
			return runResult{p: f1, ll: ll1, iters: evals - 1}, nil
		}
		// The plain two-step point.
		ll2, err := em(f2, q)
		if err != nil {
			return runResult{p: f1, ll: ll1, iters: evals - 1}, err
		}
		th, f1, f2, q = f2, q, th, f1
		gain, ll0 = ll2-ll0, ll2
	}
}

// extrapolate writes SQUAREM's point th + 2αr + α²v (r = f1 - th,
// v = f2 - 2 f1 + th, in unconstrained coordinates) to q, with the step
// length α = |r|/|v| clamped to [1, stepMax] and halved towards 1 until q
// is a valid point. It returns α (1 if no valid point was found) and
// whether α was at the bound.
func (l *Learner) extrapolate(th, f1, f2, q *Params, stepMax float64) (float64, bool) {
	v0 := l.pack(l.vec[0], th)
	v1 := l.pack(l.vec[1], f1)
	v2 := l.pack(l.vec[2], f2)
	vq := l.vec[3]
	alpha, atBound := squaremAlpha(v0, v1, v2, stepMax, l.scale)
	for try := 0; try < 30 && alpha > 1.01; try++ {
		squaremPoint(vq, v0, v1, v2, alpha)
		copyParams(q, f2)
		if l.unpack(q, vq) {
			return alpha, atBound
		}
		alpha = 1 + (alpha-1)/2
	}
	return 1, atBound
}

// newtonFails is the number of failed Newton phases, each called when an
// EM step gained at most Tol·|ll|, after which a start gives up (not
// converged).
const newtonFails = 3

// squaremGrowth is the factor by which SQUAREM's step bound grows or
// shrinks (R's SQUAREM: step.max0 = 1, mstep = 4).
const squaremGrowth = 4.0

// nextStepMax returns SQUAREM's step bound after an extrapolation whose α
// was at the bound (atBound): larger by squaremGrowth, unless the
// extrapolated point was tried and failed, then smaller, down to 1. A step
// short of the bound leaves it as it is.
func nextStepMax(stepMax float64, atBound, failed bool) float64 {
	switch {
	case !atBound:
		return stepMax
	case failed:
		return math.Max(1, stepMax/squaremGrowth)
	}
	return stepMax * squaremGrowth
}

// squaremAlpha returns SQUAREM's step length |r|/|v| (r = v1 - v0,
// v = v2 - 2 v1 + v0) over the coordinates finite in all three points,
// clamped to [1, stepMax], and whether it is at the bound. The first
// len(scale) coordinates are measured in units of scale (Learner.scales),
// so that the length does not depend on the units of the data; the rest
// as they are.
func squaremAlpha(v0, v1, v2 []float64, stepMax float64, scale []float64) (float64, bool) {
	var sr2, sv2 float64
	for i := range v0 {
		if finite3(v0[i], v1[i], v2[i]) {
			r := v1[i] - v0[i]
			v := v2[i] - 2*v1[i] + v0[i]
			if i < len(scale) {
				r, v = r/scale[i], v/scale[i]
			}
			sr2 += r * r
			sv2 += v * v
		}
	}
	alpha := 1.0
	if sv2 > 0 {
		alpha = math.Min(math.Max(math.Sqrt(sr2/sv2), 1), stepMax)
	}
	return alpha, alpha == stepMax
}

// squaremPoint writes v0 + 2αr + α²v to vq, keeping v2's value where a
// coordinate is not finite in all three points (a weight at 0, say).
func squaremPoint(vq, v0, v1, v2 []float64, alpha float64) {
	for i := range v0 {
		if !finite3(v0[i], v1[i], v2[i]) {
			vq[i] = v2[i]
			continue
		}
		r := v1[i] - v0[i]
		v := v2[i] - 2*v1[i] + v0[i]
		vq[i] = v0[i] + 2*alpha*r + alpha*alpha*v
	}
}

func finite3(a, b, c float64) bool { return finite(a) && finite(b) && finite(c) }

// vecLen is the length of a packed point.
func (l *Learner) vecLen() int {
	m := l.m
	k, n := m.K, 0
	if m.Learn.Has(LearnWeights) {
		n += k
	}
	switch m.Family {
	case Bernoulli, Poisson:
		if m.Learn&(LearnP|LearnRate) != 0 {
			n += k
		}
	case Categorical:
		if m.Learn.Has(LearnProbs) {
			n += k * m.Levels
		}
	case Gaussian:
		if m.Learn.Has(LearnMean) {
			n += k
		}
		if m.Learn.Has(LearnSD) {
			n += k
		}
	case MultiGaussian:
		d := m.Dim
		if m.Learn.Has(LearnMean) {
			n += k * d
		}
		if m.Learn.Has(LearnCov) {
			n += k * m.Covariance.params(d)
		}
	}
	return n
}

// pack writes the learned quantities of p in unconstrained coordinates to
// dst: log weights, logit p, log probabilities, means, log sd, log rates,
// log-Cholesky factors (the lower factor with the log of its diagonal), log
// variances. A quantity on the boundary (weight 0, p 0 or 1) packs to ±Inf;
// SQUAREM leaves such coordinates at their EM value.
func (l *Learner) pack(dst []float64, p *Params) []float64 {
	m := l.m
	i := 0
	put := func(v float64) { dst[i] = v; i++ }
	if m.Learn.Has(LearnWeights) {
		for _, w := range p.Weights {
			put(math.Log(w))
		}
	}
	if m.Learn.Has(LearnP) {
		for _, v := range p.P {
			put(math.Log(v) - math.Log1p(-v))
		}
	}
	if m.Learn.Has(LearnProbs) {
		for _, v := range p.Probs {
			put(math.Log(v))
		}
	}
	if m.Learn.Has(LearnMean) {
		for _, v := range p.Mean {
			put(v)
		}
	}
	if m.Learn.Has(LearnSD) {
		for _, v := range p.SD {
			put(math.Log(v))
		}
	}
	if m.Learn.Has(LearnRate) {
		for _, v := range p.Rate {
			put(math.Log(v))
		}
	}
	if m.Learn.Has(LearnCov) {
		d := m.Dim
		for j := range m.K {
			cov := p.Cov[j*d*d : (j+1)*d*d]
			switch m.Covariance {
			case CovFull:
				if !l.mvn.factor(j, cov, d) {
					for range d * (d + 1) / 2 {
						put(math.NaN())
					}
					continue
				}
				u := l.mvn.u[j*d*d : (j+1)*d*d]
				for a := range d {
					for b := a; b < d; b++ {
						v := u[a*d+b]
						if a == b {
							v = math.Log(v)
						}
						put(v)
					}
				}
			case CovDiag:
				for a := range d {
					put(math.Log(cov[a*d+a]))
				}
			default:
				put(math.Log(cov[0]))
			}
		}
	}
	return dst[:i]
}

// unpack sets the learned quantities of p from the packed v and reports
// whether the result is a valid point (finite, variances positive).
func (l *Learner) unpack(p *Params, v []float64) bool {
	m := l.m
	i := 0
	get := func() float64 { x := v[i]; i++; return x }
	ok := true
	check := func(x float64) float64 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			ok = false
		}
		return x
	}
	softmax := func(s []float64) {
		mx := math.Inf(-1)
		for _, x := range s {
			mx = math.Max(mx, x)
		}
		if math.IsInf(mx, 0) || math.IsNaN(mx) {
			ok = false
			return
		}
		sum := 0.0
		for a, x := range s {
			s[a] = math.Exp(x - mx)
			sum += s[a]
		}
		for a := range s {
			s[a] /= sum
		}
	}
	if m.Learn.Has(LearnWeights) {
		for j := range p.Weights {
			p.Weights[j] = get()
		}
		softmax(p.Weights)
	}
	if m.Learn.Has(LearnP) {
		for j := range p.P {
			p.P[j] = 1 / (1 + math.Exp(-get()))
			if math.IsNaN(p.P[j]) {
				ok = false
			}
		}
	}
	if m.Learn.Has(LearnProbs) {
		lv := m.Levels
		for j := range p.Probs {
			p.Probs[j] = get()
		}
		for j := range m.K {
			softmax(p.Probs[j*lv : (j+1)*lv])
		}
	}
	if m.Learn.Has(LearnMean) {
		for j := range p.Mean {
			p.Mean[j] = check(get())
		}
	}
	if m.Learn.Has(LearnSD) {
		for j := range p.SD {
			p.SD[j] = check(math.Exp(get()))
			ok = ok && p.SD[j] > 0
		}
	}
	if m.Learn.Has(LearnRate) {
		for j := range p.Rate {
			p.Rate[j] = check(math.Exp(get()))
		}
	}
	if m.Learn.Has(LearnCov) {
		d := m.Dim
		for j := range m.K {
			cov := p.Cov[j*d*d : (j+1)*d*d]
			switch m.Covariance {
			case CovFull:
				// Uᵀ, lower triangular, then UᵀU.
				ut := l.mvn.ut
				clear(ut)
				for a := range d {
					for b := a; b < d; b++ {
						x := check(get())
						if a == b {
							x = math.Exp(x)
							ok = ok && x > 0
						}
						ut[b*d+a] = x
					}
				}
				l.mvn.outerUT(d)
				s := l.mvn.outer
				for a := range d {
					for b := range d {
						cov[a*d+b] = check(s[min(a, b)*d+max(a, b)])
					}
				}
			case CovDiag:
				clear(cov)
				for a := range d {
					cov[a*d+a] = check(math.Exp(get()))
					ok = ok && cov[a*d+a] > 0
				}
			default:
				x := check(math.Exp(get()))
				ok = ok && x > 0
				clear(cov)
				for a := range d {
					cov[a*d+a] = x
				}
			}
		}
	}
	return ok
}

// finish sets the learned parameters of components of weight 0 to NaN and,
// for exchangeable components, sorts them into canonical order, permuting
// the per-bag weight rows of bagWeights (len multiple of K) alike.
func (l *Learner) finish(p *Params, bagWeights []float64) {
	m := l.m
	nan := m.Learn &^ LearnWeights
	for j, w := range p.Weights {
		if w == 0 && (bagWeights == nil || allZero(bagWeights, j, m.K)) {
			fillComponent(p, j, nan, m, math.NaN())
		}
	}
	if l.exch {
		l.sortComponents(p, bagWeights)
	}
}

func allZero(bw []float64, j, k int) bool {
	for b := j; b < len(bw); b += k {
		if bw[b] != 0 {
			return false
		}
	}
	return true
}

// fillComponent sets the quantities q of component j to v.
func fillComponent(p *Params, j int, q LearnSet, m Model, v float64) {
	fill := func(s []float64, w int) {
		for i := j * w; i < (j+1)*w; i++ {
			s[i] = v
		}
	}
	if q.Has(LearnP) {
		fill(p.P, 1)
	}
	if q.Has(LearnProbs) {
		fill(p.Probs, m.Levels)
	}
	if q.Has(LearnMean) {
		fill(p.Mean, max(1, m.Dim))
	}
	if q.Has(LearnSD) {
		fill(p.SD, 1)
	}
	if q.Has(LearnRate) {
		fill(p.Rate, 1)
	}
	if q.Has(LearnCov) {
		fill(p.Cov, m.Dim*m.Dim)
	}
}

// sortComponents puts the components of p (and the per-bag weight rows of
// bagWeights) in canonical order; see Learn.
func (l *Learner) sortComponents(p *Params, bagWeights []float64) {
	m := l.m
	k := m.K
	type block struct {
		s []float64
		w int
	}
	var buf [2]block
	var keys []block
	switch m.Family {
	case Bernoulli:
		buf[0] = block{p.P, 1}
		keys = buf[:1]
	case Categorical:
		buf[0] = block{p.Probs, m.Levels}
		keys = buf[:1]
	case Gaussian:
		buf[0], buf[1] = block{p.Mean, 1}, block{p.SD, 1}
		keys = buf[:2]
	case Poisson:
		buf[0] = block{p.Rate, 1}
		keys = buf[:1]
	case MultiGaussian:
		buf[0], buf[1] = block{p.Mean, m.Dim}, block{p.Cov, m.Dim * m.Dim}
		keys = buf[:2]
	}
	// l.order and l.tmp are scratch: this runs at every iteration that
	// checks for a maximum found before (see near).
	l.order = growInt(l.order, k)
	perm := l.order
	for j := range perm {
		perm[j] = j
	}
	slices.SortStableFunc(perm, func(a, b int) int {
		for _, bl := range keys {
			for c := range bl.w {
				x, y := bl.s[a*bl.w+c], bl.s[b*bl.w+c]
				switch {
				case math.IsNaN(x) && math.IsNaN(y):
				case math.IsNaN(x):
					return 1
				case math.IsNaN(y):
					return -1
				case x < y:
					return -1
				case x > y:
					return 1
				}
			}
		}
		return cmpFloat(p.Weights[b], p.Weights[a])
	})
	if slices.IsSorted(perm) {
		return
	}
	l.tmp = slices.Grow(l.tmp[:0], len(p.Cov)+len(p.Probs)+k)
	tmp := l.tmp
	apply := func(s []float64, w int) {
		if s == nil {
			return
		}
		tmp = tmp[:0]
		for _, j := range perm {
			tmp = append(tmp, s[j*w:(j+1)*w]...)
		}
		copy(s, tmp)
	}
	apply(p.Weights, 1)
	apply(p.P, 1)
	apply(p.Probs, m.Levels)
	apply(p.Mean, max(1, m.Dim))
	apply(p.SD, 1)
	apply(p.Rate, 1)
	apply(p.Cov, m.Dim*m.Dim)
	for b := 0; b < len(bagWeights); b += k {
		apply(bagWeights[b:b+k], 1)
	}
}

// mix64 is the SplitMix64 finaliser.
func mix64(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// aitken reports whether three successive EM log-likelihoods l0, l1, l2
// certify convergence: with the linear rate a = (l2-l1)/(l1-l0) < 1, the
// log-likelihood's limit is at most (l2-l1)/(1-a) above l1 (Aitken's
// acceleration; Böhning et al. 1994, McNicholas et al. 2010), and that must
// be at most tol·|l2|. A step that gains nothing (l2 <= l1: EM's fixed
// point to rounding) certifies too, and so do two steps that gain nothing
// (l2 <= l0): at a fixed point the computed log-likelihood can alternate
// by an ulp, l1 below l0 and l2 back at l0, and refusing every such
// triple left fits at their maximum running to MaxIter, not converged
// (TestAitkenFixedPointCycle). EM's steps never lose in exact
// arithmetic, so both are rounding.
//
// The rate is taken pessimistically, a = (d2 + δ)/d1 with δ =
// aitkenRounding·ε·|l2| (ε = 2⁻⁵²), the rounding of a computed
// log-likelihood: 1 - a is (d1 - d2)/d1, and where EM crawls (a within
// 1e-3 of 1, on a flat ridge or towards a maximum on the boundary) d1 -
// d2 is far below the log-likelihoods' rounding, so the computed rate
// was noise and could certify a point whose limit was thousands of times
// tol·|l2| away (TestAitkenRounding). With the allowance such a
// sequence is not certified until its steps gain nothing.
func aitken(l0, l1, l2, tol float64) bool {
	d1, d2 := l1-l0, l2-l1
	if math.IsNaN(d1) || math.IsNaN(d2) {
		return false
	}
	if !(d2 > 0) || !(l2 > l0) {
		return true
	}
	if !(d1 > 0) {
		return false
	}
	a := (d2 + aitkenRounding*0x1p-52*math.Abs(l2)) / d1
	return a < 1 && d2/(1-a) <= tol*math.Abs(l2)
}

// weightsGap returns, per unit of count, what the small mixture weights
// (below dropEdge) of w can still gain to first order with the component
// parameters held where they are: Aitken's criterion, which extrapolates
// EM's recent rate, is optimistic exactly there (EM's rate in a weight
// heading to 0 is close to 1, and a weight near 0 that the data want grows
// by a factor 1 + e_k a step from wherever SQUAREM left it, 1e-200 say).
// Given n, EM's update of the weights up to a positive factor (the summed
// responsibilities N_k of the E-step at w, or N_k/N), e_k = (n_k/Σn)/w_k -
// 1 = g_k/N - 1 is the relative gradient of the log-likelihood in w_k. The
// result is the largest positive e_k among the small weights (by
// concavity, raising weight k gains at most N·e_k) plus, for each small
// weight with e_k < 0, w_k·(-e_k)/(1 - w_k), the log-likelihood's
// derivative per unit of count along the move that takes that weight to 0
// and scales the others up (concavity again: the move gains at most
// that). Weights of dropEdge and more are left to Aitken's criterion: EM
// converges linearly there, and the first-order bound N·max_k e_k, exact
// as a bound but not second-order, made shared fits of 2,000 bags take
// 80% longer and learned multivariate ones 40% more E-steps for gains of
// 1e-11·|ll|. A weight of exactly 0 is left out: the E-step gives it no
// responsibility (n_k = 0), so it says nothing of g_k, and EM can never
// move the weight off 0 (such a component is reported empty; see
// Learner.Learn); if a weight of 0 has n_k > 0 the result is +Inf.
func weightsGap(w, n []float64) float64 {
	sum := 0.0
	for _, v := range n {
		sum += v
	}
	up, down := 0.0, 0.0
	for j, wj := range w {
		if wj == 0 {
			if n[j] != 0 {
				return math.Inf(1)
			}
			continue
		}
		if wj >= dropEdge {
			continue
		}
		e := n[j]/sum/wj - 1
		if !(e <= up) { // NaN too
			up = e
		}
		if e < 0 {
			down += wj * -e / (1 - wj)
		}
	}
	return up + down
}

// moveWeights writes to dst the weights w with those stuck at the boundary
// of the simplex moved (where weightsGap's bound fails; next is EM's
// update of w), the others scaled to keep the sum 1, and
// reports whether it moved one. The run tries try = 1, ..., liftTries+1
// in turn and goes on from the first point whose log-likelihood is above
// the point's:
//
//   - try <= liftTries lifts to 10^-try each weight in (0, liftEdge) whose
//     relative gradient e_k exceeds tol. EM multiplies such a weight by
//     1 + e_k per step, so from far below liftEdge (SQUAREM can leave one
//     at 1e-200) it takes hundreds of steps to grow, while the
//     log-likelihood's changes stay below its rounding and cannot steer
//     SQUAREM. Aitken's criterion alone certified such a point, not a
//     maximum: a FitShared fit with a bag's weight at 1e-208 and e_k > 0,
//     29 nats below the maximum reached once the weight grew (the
//     third start of TestEquivarianceFitSharedCountScaling's "shared
//     gaussian K=3 #3").
//   - try = liftTries+1 drops to tol/10 each weight in (tol, dropEdge)
//     with e_k < -tol whose removal gains, to first order, more than
//     minGain·N (w_k·(-e_k) > minGain). EM shrinks such a weight by the
//     factor 1 + e_k per step, which can be within 1e-4 of 1: a weight of
//     2e-4 that Fit puts at 0 was still 7e-7 after 10,000 E-steps
//     (TestWeightsKKTCertificate). A weight of tol/10 adds next to
//     nothing to the bound, and EM can still raise it again.
func moveWeights(dst, w, next []float64, tol, minGain float64, try int) bool {
	sum := 0.0
	for _, v := range next {
		sum += v
	}
	moved, rest := 0.0, 0.0
	n := 0 // weights moved
	for j, wj := range w {
		dst[j] = wj
		e := next[j]/sum/wj - 1
		to := -1.0
		switch {
		case try <= liftTries && wj > 0 && wj < liftEdge && e > tol:
			to = math.Pow(10, -float64(try))
		case try == liftTries+1 && wj > tol && wj < dropEdge && e < -tol && wj*-e > minGain:
			to = tol / 10
		}
		if to < 0 {
			rest += wj
			continue
		}
		dst[j] = -to // marked
		moved += to
		n++
	}
	if n == 0 || !(moved < 1) || !(rest > 0) {
		copy(dst, w)
		return false
	}
	f := (1 - moved) / rest
	for j, v := range dst {
		if v < 0 {
			dst[j] = -v
		} else {
			dst[j] = v * f
		}
	}
	return true
}

// liftEdge and dropEdge bound the weights that moveWeights moves,
// liftTries is its number of lifts (10^-1 down to 10^-liftTries), and
// maxLifts the number of series of its trials that fail, after which a
// start tries no more.
const (
	liftEdge  = 1e-8
	dropEdge  = 1e-2
	liftTries = 8
	maxLifts  = 3
)

// aitkenRounding bounds the rounding error of d1 - d2 in aitken, in units
// of ε·|l|: measured at up to about 10 (a log-likelihood is a sum over
// rows and bags; the second difference of three such sums) on shared fits
// of 1,600 to 600,000 rows, so 64 leaves a margin. It makes Aitken
// certify only sequences with 1 - a above about 0.025 at tol 1e-10 (slower
// ones certify once their steps gain nothing).
const aitkenRounding = 64
