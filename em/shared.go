package em

import (
	"errors"
	"math"
	"slices"
)

// SharedResult is the outcome of FitShared.
type SharedResult struct {
	// Params holds the shared component parameters (and fixed values), in
	// canonical order when the components are exchangeable (see
	// Learner.Learn). Params.Weights is the count-weighted average of the
	// bags' weights.
	Params Params
	// BagWeights holds each bag's weights, row b = bag b, K columns.
	BagWeights []float64
	// BagLogLik holds each bag's log-likelihood at the result.
	BagLogLik []float64
	// LogLikelihood is their sum, the joint log-likelihood.
	LogLikelihood float64
	// Iterations counts the EM iterations of the best start.
	Iterations int
	Converged  bool
	Starts     int
}

// FitShared fits a mixture whose component parameters are shared by all
// bags, with weights per bag (model.scope shared), by EM accelerated with
// SQUAREM (see sharedRun.run; plain EM with s.Accelerate None): E-steps per
// bag under the shared parameters and the bag's weights (Learner.EStep),
// the bag's weights updated from its own statistics (Stats.Weights), the
// component parameters from the statistics of all bags added up
// (Stats.Add, Learner.MStep). It is the sequential reference of what the
// pipeline runs in parallel; the result does not depend on the order of
// the bags beyond rounding.
//
// Starts are as in Learn, on all bags' values pooled (a start that
// repeats one already run is replaced by one drawn from the data, up to
// maxDrawn), except for the Bernoulli and Categorical families, where
// k-means++ clusters the bags' code frequencies and each cluster's pooled
// codes give a component's starting probabilities. Every bag starts from
// the given weights, or uniform ones. A start stops, converged, when an
// iteration raises the joint log-likelihood by at most s.Tol times its
// absolute value, the next plain EM step confirms it by Aitken's
// criterion (the log-likelihood's limit, extrapolated from the EM
// sequence's linear rate, is at most s.Tol·|ll| above it), and the bags'
// small weights can gain at most s.Tol·|ll| in all to first order (see
// Learner.Learn; with s.Accelerate None the first condition alone), or,
// not converged, after s.MaxIter iterations.
//
// FitShared refuses models that CheckIdentifiable rates NotIdentifiable
// for the shared scope. For Conditional ones (shared categorical) it
// checks the solution with CheckSharedSolution and DefaultRidgeTol, and
// if the solution lies on a ridge it returns the result together with the
// *IdentifiabilityError, so the caller can report both. Its other errors
// are Learn's.
func FitShared(bags []Bag, m Model, s LearnSettings) (SharedResult, error) {
	l, err := NewLearner(m)
	if err != nil {
		return SharedResult{}, err
	}
	m = l.m
	v, why := CheckIdentifiable(m, Shared)
	if v == NotIdentifiable {
		return SharedResult{}, &IdentifiabilityError{Scope: Shared, Reason: why}
	}
	s = s.withDefaults()
	l.done = s.Done
	k, nb := m.K, len(bags)
	if nb == 0 {
		return SharedResult{}, ErrNoData
	}
	// All bags' rows pooled, for the starts; this also validates them.
	var pool Bag
	for _, b := range bags {
		pool.X = append(pool.X, b.X...)
		n := len(b.X) / l.d
		if b.Counts == nil {
			for range n {
				pool.Counts = append(pool.Counts, 1)
			}
		} else {
			if len(b.Counts) != n {
				panic("em: counts length mismatch")
			}
			pool.Counts = append(pool.Counts, b.Counts...)
		}
	}
	if err := l.load(pool, true); err != nil {
		return SharedResult{}, err
	}
	l.scales() // of the pooled rows, for SQUAREM's step length
	random := l.randomStart()
	starts := 1
	if random {
		starts = s.Restarts
	}
	var (
		res      SharedResult
		found    bool
		firstErr error
		start    = l.newParams()
		bagW     = make([]float64, nb*k)
	)
	sh := newSharedRun(l, bags)
	l.starts = l.starts[:0]
	drawn := 0 // starts drawn from the data, as in Learn
	for r := range starts {
		l.pcg.Seed(mix64(s.Seed), mix64(pcgStream+uint64(r)))
		if err := l.load(pool, true); err != nil {
			return SharedResult{}, err
		}
		if random && (m.Family == Bernoulli || m.Family == Categorical) {
			if err := sh.clusterBags(&l.pts[0]); err != nil {
				return SharedResult{}, err
			}
		} else {
			l.start(&l.pts[0], random, false)
		}
		copyParams(&start, &l.pts[0])
		if l.exch {
			l.sortComponents(&start, nil)
		}
		// A start already run is drawn from the data instead, as in
		// Learn: k-means on the pooled values reaches one partition from
		// every seed when a few values lie far out (each start put a value
		// 1e8 in a cluster of its own), and that one start ended at a
		// local maximum thousands of nats below the joint maximum.
		// (Bernoulli starts cluster the bags, as categorical ones do.)
		if l.seen(&start) && (m.Family == Bernoulli || !l.redraw(&start, random, &drawn)) {
			continue
		}
		res.Starts++
		for b := range nb {
			w := bagW[b*k : (b+1)*k]
			if m.Init.Weights != nil {
				copy(w, m.Init.Weights)
			} else {
				for j := range w {
					w[j] = 1 / float64(k)
				}
			}
		}
		ll, iters, conv, err := sh.run(&start, bagW, s)
		if errors.Is(err, ErrStopped) {
			return SharedResult{}, err
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if !found || ll > res.LogLikelihood {
			// A better start is copied into the first one's result, so
			// that the allocations do not depend on which start wins.
			if !found {
				res.Params = start.Clone()
				res.BagWeights = slices.Clone(bagW)
				res.BagLogLik = slices.Clone(sh.bagLL)
			} else {
				copyParams(&res.Params, &start)
				copy(res.BagWeights, bagW)
				copy(res.BagLogLik, sh.bagLL)
			}
			found = true
			res.LogLikelihood, res.Iterations, res.Converged = ll, iters, conv
		}
	}
	if !found {
		return SharedResult{}, firstErr
	}
	// Pooled weights: the count-weighted average of the bags' weights.
	p := &res.Params
	clear(p.Weights)
	tot := 0.0
	for b, t := range sh.totals {
		tot += t
		for j := range k {
			p.Weights[j] += t * res.BagWeights[b*k+j]
		}
	}
	for j := range p.Weights {
		p.Weights[j] /= tot
	}
	l.finish(p, res.BagWeights)
	if v == Conditional {
		if err := CheckSharedSolution(m, *p, res.BagWeights, DefaultRidgeTol); err != nil {
			return res, err
		}
	}
	return res, nil
}

// sharedRun holds the buffers of FitShared's EM.
type sharedRun struct {
	l       *Learner
	bags    []Bag
	pooled  *Stats
	bagLL   []float64
	totals  []float64
	parts   []*sharedPart
	pts     []*sharedPoint // SQUAREM's points
	vec     [4][]float64   // packed points
	scratch []float64
	// The point and output of the E-steps that image hands to Parallel,
	// and the function it hands over, made once (a closure made per call
	// would be allocated at every iteration).
	at     sharedArgs
	partFn func(part int) error
}

// sharedArgs are image's arguments for its parts.
type sharedArgs struct {
	p        *Params
	bagW, nw []float64
	learnW   bool
}

func newSharedRun(l *Learner, bags []Bag) *sharedRun {
	r := &sharedRun{l: l, bags: bags, pooled: l.NewStats(),
		bagLL: make([]float64, len(bags)), totals: make([]float64, len(bags))}
	r.partFn = r.part
	return r
}

// part runs the E-steps of one part of the bags at r.at.
func (r *sharedRun) part(part int) error {
	lo := part * SharedBlock
	return r.estep(r.parts[part], lo, min(lo+SharedBlock, len(r.bags)), r.at.p, r.at.bagW, r.at.nw, r.at.learnW)
}

// SharedBlock is how many bags make one part of FitShared's E-steps.
const SharedBlock = 64

// sharedPart is the work space of one part of the bags.
type sharedPart struct {
	l      *Learner
	st     *Stats // one bag's statistics
	pooled *Stats // the part's statistics
	bp     Params
}

// estep runs the E-steps of bags lo..hi-1 into part pt at the shared
// parameters p and the bags' weights bagW, writing each bag's EM weights to
// nw when the weights are learned.
func (r *sharedRun) estep(pt *sharedPart, lo, hi int, p *Params, bagW, nw []float64, learnW bool) error {
	k := r.l.m.K
	pt.pooled.Reset()
	for b := lo; b < hi; b++ {
		pt.bp = *p
		pt.bp.Weights = bagW[b*k : (b+1)*k]
		llb, err := pt.l.bagEStep(pt.st, r.bags[b], &pt.bp)
		if err != nil {
			return err
		}
		r.bagLL[b], r.totals[b] = llb, pt.st.Total()
		pt.pooled.Add(pt.st)
		if learnW {
			pt.st.Weights(nw[b*k : (b+1)*k])
		}
	}
	return nil
}

// image evaluates the joint log-likelihood at (p, bagW), leaving each bag's
// in r.bagLL, and writes one EM step from there to (np, nw): the E-steps of
// each block of SharedBlock bags run as one part of s.Parallel (in order
// when it is nil), their statistics are added in part order, and the
// M-step uses the sum.
func (r *sharedRun) image(run Parallel, p *Params, bagW []float64, np *Params, nw []float64) (float64, error) {
	l := r.l
	if l.stopped() {
		return 0, ErrStopped
	}
	learnW := l.m.Learn.Has(LearnWeights)
	nparts := (len(r.bags) + SharedBlock - 1) / SharedBlock
	for len(r.parts) < nparts {
		pl, err := NewLearner(l.m)
		if err != nil {
			return 0, err
		}
		r.parts = append(r.parts, &sharedPart{l: pl, st: pl.NewStats(), pooled: pl.NewStats()})
	}
	r.at = sharedArgs{p: p, bagW: bagW, nw: nw, learnW: learnW}
	err := run(nparts, r.partFn)
	r.at = sharedArgs{}
	if err != nil {
		return 0, err
	}
	r.pooled.Reset()
	for _, pt := range r.parts[:nparts] {
		r.pooled.Add(pt.pooled)
	}
	ll := 0.0
	for _, v := range r.bagLL {
		ll += v
	}
	if !learnW {
		copy(nw, bagW)
	}
	copyParams(np, p)
	return ll, l.MStep(np, r.pooled)
}

// sharedPoint is a point of the shared EM: the shared parameters and every
// bag's weights.
type sharedPoint struct {
	p Params
	w []float64
}

// run runs shared EM from p and bagW, leaving the result in them. It is
// accelerated by SQUAREM as Learner.Learn is (unless s.Accelerate is
// None): the extrapolation is taken jointly over the shared parameters and
// every bag's weights in unconstrained coordinates (log weights, log sd,
// ...) and accepted only if the log-likelihood after the EM steps that
// follow it is at least the plain step's, so the log-likelihood increases
// monotonically. It stops when an EM step raises the joint log-likelihood
// by at most s.Tol times its absolute value, Aitken's criterion holds (see
// aitken) and the bags' small weights can gain at most s.Tol·|ll| in all
// (see weightsGap; bags' weights stuck at the boundary are moved first, see
// moveWeights),
// or after s.MaxIter E-step passes over the bags.
func (r *sharedRun) run(p *Params, bagW []float64, s LearnSettings) (float64, int, bool, error) {
	l := r.l
	run := s.Parallel
	if run == nil {
		run = func(parts int, fn func(int) error) error {
			for i := range parts {
				if err := fn(i); err != nil {
					return err
				}
			}
			return nil
		}
	}
	for len(r.pts) < 6 {
		r.pts = append(r.pts, &sharedPoint{p: l.newParams(), w: make([]float64, len(bagW))})
	}
	th, f1, f2, q, fq, ffq := r.pts[0], r.pts[1], r.pts[2], r.pts[3], r.pts[4], r.pts[5]
	copyParams(&th.p, p)
	copy(th.w, bagW)
	evals := 0
	var last *sharedPoint // the point r.bagLL was evaluated at
	step := func(from, to *sharedPoint) (float64, error) {
		evals++
		last = from
		return r.image(run, &from.p, from.w, &to.p, to.w)
	}
	done := func(x *sharedPoint, ll float64, conv bool) (float64, int, bool, error) {
		iters := evals - 1
		if last != x {
			// Refresh the bags' log-likelihoods at the result.
			if _, err := r.image(run, &x.p, x.w, &q.p, q.w); err != nil {
				return 0, iters, false, err
			}
		}
		copyParams(p, &x.p)
		copy(bagW, x.w)
		return ll, iters, conv, nil
	}
	ll0, err := step(th, f1)
	if err != nil {
		return 0, 0, false, err
	}
	stepMax := 1.0
	lifts := 0 // failed series of moveWeights' trials
	for {
		if evals-1 >= s.MaxIter {
			return done(th, ll0, false)
		}
		ll1, err := step(f1, f2)
		if err != nil {
			return 0, evals - 1, false, err
		}
		if ll1-ll0 <= s.Tol*math.Abs(ll1) {
			if s.Accelerate == None { // the textbook rule
				if ll1 >= ll0 {
					return done(f1, ll1, true)
				}
				return done(th, ll0, true)
			}
			// Certified by the EM sequence's linear rate (see aitken),
			// from one more step, from f2 = M(f1), and by the bags'
			// weights' bound at the point returned (see weightsGap): a
			// step's bag weights are EM's update of its starting
			// point's, so f1's bound needs f2 and f2's the step from it.
			// Where f1's fails, that step is not taken: SQUAREM
			// continues.
			if evals-1 >= s.MaxIter {
				return done(f1, ll1, false)
			}
			if r.weightsGap(f1.w, f2.w) <= s.Tol*math.Abs(ll1) {
				ll2, err := step(f2, q)
				if err != nil {
					return done(f1, ll1, false)
				}
				if aitken(ll0, ll1, ll2, s.Tol) {
					if ll2 >= ll1 && r.weightsGap(f2.w, q.w) <= s.Tol*math.Abs(ll2) {
						return done(f2, ll2, true)
					}
					return done(f1, ll1, true)
				}
			} else if lifts < maxLifts {
				// A bag's weights stuck at the boundary are moved, as in
				// Learn (see moveWeights).
				lifted := false
				for try := 1; try <= liftTries+1 && !lifted && evals-1 < s.MaxIter; try++ {
					copyParams(&q.p, &f1.p)
					if !r.moveWeights(q.w, f1.w, f2.w, s.Tol, s.Tol*math.Abs(ll1), try) {
						continue
					}
					llq, err := step(q, fq)
					if errors.Is(err, ErrStopped) {
						return 0, evals - 1, false, err
					}
					if lifted = err == nil && llq > ll1; lifted {
						th, f1, q, fq = q, fq, th, f1
						ll0 = llq
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
			ll0 = ll1
			continue
		}
		alpha, atBound := r.extrapolate(th, f1, f2, q, stepMax)
		tried := alpha > 1.01 && evals < s.MaxIter
		if tried {
			if _, err := step(q, fq); err == nil {
				if llfq, err := step(fq, ffq); err == nil && llfq >= ll1 {
					th, f1, fq, ffq = fq, ffq, th, f1
					ll0 = llfq
					stepMax = nextStepMax(stepMax, atBound, false)
					continue
				}
			}
		}
		stepMax = nextStepMax(stepMax, atBound, tried)
		ll2, err := step(f2, q)
		if err != nil {
			return done(f1, ll1, false)
		}
		th, f1, f2, q = f2, q, th, f1
		ll0 = ll2
	}
}

// weightsGap returns what the bags' small weights w can still gain
// together to first order, the shared parameters held where they are: the
// sum over the bags of N_b·weightsGap of the bag's weights, given next,
// the weights of the EM step from w (each bag's N_bk/N_b). With fixed
// weights it is 0.
func (r *sharedRun) weightsGap(w, next []float64) float64 {
	if !r.l.m.Learn.Has(LearnWeights) {
		return 0
	}
	k := r.l.m.K
	gap := 0.0
	for b := 0; b < len(w); b += k {
		gap += r.totals[b/k] * weightsGap(w[b:b+k], next[b:b+k])
	}
	return gap
}

// moveWeights writes to dst every bag's weights in w with those stuck at
// the boundary moved (see the function moveWeights), given next, the
// weights of the EM step from w, and reports whether it moved one. gain is
// the joint log-likelihood's gain that a weight's removal must exceed,
// divided per bag by the bag's count N_b.
func (r *sharedRun) moveWeights(dst, w, next []float64, tol, gain float64, try int) bool {
	k := r.l.m.K
	moved := false
	for b := 0; b < len(w); b += k {
		if moveWeights(dst[b:b+k], w[b:b+k], next[b:b+k], tol, gain/r.totals[b/k], try) {
			moved = true
		}
	}
	return moved
}

// extrapolate writes SQUAREM's point th + 2αr + α²v to q, jointly over the
// packed shared parameters and the bags' log weights (see
// Learner.extrapolate), and returns α (1 if no valid point was found) and
// whether α was at the bound.
func (r *sharedRun) extrapolate(th, f1, f2, q *sharedPoint, stepMax float64) (float64, bool) {
	l := r.l
	pack := func(dst []float64, x *sharedPoint) []float64 {
		r.scratch = grow(r.scratch, l.vecLen())
		dst = append(dst[:0], l.pack(r.scratch, &x.p)...)
		for _, w := range x.w {
			dst = append(dst, math.Log(w))
		}
		return dst
	}
	r.vec[0] = pack(r.vec[0], th)
	r.vec[1] = pack(r.vec[1], f1)
	r.vec[2] = pack(r.vec[2], f2)
	v0, v1, v2 := r.vec[0], r.vec[1], r.vec[2]
	r.vec[3] = grow(r.vec[3], len(v0))
	vq := r.vec[3]
	alpha, atBound := squaremAlpha(v0, v1, v2, stepMax, l.scale) // the bags' log-weights as they are
	k, np := l.m.K, len(v0)-len(th.w)
	for try := 0; try < 30 && alpha > 1.01; try++ {
		squaremPoint(vq, v0, v1, v2, alpha)
		copyParams(&q.p, &f2.p)
		ok := l.unpack(&q.p, vq[:np])
		for b := 0; ok && b < len(q.w)/k; b++ {
			ok = softmaxInto(q.w[b*k:(b+1)*k], vq[np+b*k:np+(b+1)*k])
		}
		if ok {
			return alpha, atBound
		}
		alpha = 1 + (alpha-1)/2
	}
	return 1, atBound
}

// softmaxInto sets dst to the normalised exponentials of the log weights
// src and reports whether they were usable.
func softmaxInto(dst, src []float64) bool {
	mx := math.Inf(-1)
	for _, x := range src {
		mx = math.Max(mx, x)
	}
	if math.IsInf(mx, 0) || math.IsNaN(mx) {
		return false
	}
	sum := 0.0
	for i, x := range src {
		dst[i] = math.Exp(x - mx)
		sum += dst[i]
	}
	for i := range dst {
		dst[i] /= sum
	}
	return true
}

// clusterBags writes to p a start for shared Bernoulli or Categorical
// components: k-means++ clusters the bags' code frequencies (weighted by
// the bags' counts; bags in a canonical order), and each cluster's pooled
// codes give a component's probabilities.
func (r *sharedRun) clusterBags(p *Params) error {
	l := r.l
	m := l.m
	lv := m.Levels
	if m.Family == Bernoulli {
		lv = 2
	}
	nb := len(r.bags)
	freq := make([]float64, nb*lv)
	tot := make([]float64, nb)
	for b, bag := range r.bags {
		if err := l.load(bag, false); err != nil {
			return err
		}
		for i, x := range l.x {
			freq[b*lv+int(x)] += l.c[i]
		}
		tot[b] = l.total
		for c := range lv {
			freq[b*lv+c] /= l.total
		}
	}
	order := make([]int, nb)
	for b := range order {
		order[b] = b
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := slices.CompareFunc(freq[a*lv:(a+1)*lv], freq[b*lv:(b+1)*lv], cmpFloat); c != 0 {
			return c
		}
		return cmpFloat(tot[a], tot[b])
	})
	x := make([]float64, 0, nb*lv)
	c := make([]float64, 0, nb)
	for _, b := range order {
		x = append(x, freq[b*lv:(b+1)*lv]...)
		c = append(c, tot[b])
	}
	kk, assign := l.km.run(x, c, lv, m.K, l.rng)
	// Each component's probabilities: its cluster's pooled frequencies.
	copyParams(p, &m.Init)
	if m.Init.Weights == nil {
		for j := range p.Weights {
			p.Weights[j] = 1 / float64(m.K)
		}
	}
	if kk < m.K {
		return errors.New("em: fewer distinct bags than components: the shared components cannot all be started")
	}
	probs := make([]float64, m.K*lv)
	wsum := make([]float64, m.K)
	all := make([]float64, lv)
	for i, j := range assign {
		for a := range lv {
			probs[j*lv+a] += c[i] * x[i*lv+a]
			all[a] += c[i] * x[i*lv+a]
		}
		wsum[j] += c[i]
	}
	sum := 0.0
	for _, v := range wsum {
		sum += v
	}
	// Mix in 5% of the pooled frequencies: EM never revives a probability
	// of exactly zero, so every code seen in any bag stays reachable.
	const eta = 0.05
	for j := range m.K {
		for a := range lv {
			probs[j*lv+a] = (1-eta)*probs[j*lv+a]/wsum[j] + eta*all[a]/sum
		}
		if m.Family == Bernoulli {
			p.P[j] = probs[j*lv+1]
		}
	}
	if m.Family == Categorical {
		copy(p.Probs, probs)
	}
	return nil
}
