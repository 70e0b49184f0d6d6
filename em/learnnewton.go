package em

import "math"

// newtonAfterLearn is how many E-steps SQUAREM gets before Newton's method
// takes over a univariate Gaussian start. Most starts converge before; the
// others are on flat curved ridges of the likelihood (a small component
// inside a broad one, heavily overlapping components), where SQUAREM
// crawls.
const newtonAfterLearn = 24

// gaussNewton holds the buffers of Newton's method for univariate Gaussian
// mixtures.
type gaussNewton struct {
	idx                []int     // free coordinates: kind and component
	g, gi, h           []float64 // gradient, one row's, Hessian (P×P)
	r0, r1, r2, r3, r4 []float64 // per component sums of c r z^p
	z, rr, lw          []float64
	lr, lw0            []float64 // newtonScalar's Poisson terms (scalarDerivatives)
	step               []float64
	vecs               []float64 // P×P: -H's upper triangle, then its eigenvectors (columns)
	vals               []float64 // and eigenvalues, ascending
	scale              []float64 // direction's Jacobi scaling
	syev               symEig
}

// Coordinate kinds: log-weight ratio to the reference component, mean,
// log sd.
const (
	coordBeta = iota
	coordMean
	coordLogSD
)

// Outcomes of newtonGauss.
const (
	newtonConverged = iota // the point is certified (see newtonGauss)
	newtonBudget           // MaxIter E-steps spent
	newtonFailed           // nothing free, or no step gained
	newtonStopped          // LearnSettings.Done was closed
	newtonMoved            // a step was taken (search)
)

// newtonGauss improves th (log-likelihood ll) by Newton's method on the
// observed log-likelihood over the learned Gaussian quantities: weights as
// log-ratios to the largest one, means, log standard deviations.
// Components of weight below 1e-12 stay as they are, and so do the mean
// and sd of a component collapsed onto the variance floor (variance below
// 10·RegCovar), whose maximum lies on that boundary. The gradient and the Hessian
// come from one pass over the data (per-component sums of r z^p, p <= 4,
// and the outer products of the rows' scores); the step maximises the
// local quadratic model, with the Hessian's eigenvalues floored (so it is
// an ascent direction also where the model is not concave), and a
// backtracking line search keeps the log-likelihood increasing and every
// variance above RegCovar. It stops, converged, when -H has no eigenvalue
// below -1e-10 of its largest magnitude (see direction) and the gain the
// quadratic model predicts is at most newtonCertTol·tol·|ll| plus the
// floating-point floor roundingFloor, the gain that rounding the means to
// representable values may leave and no step can realize (it matters
// only for means some 1e8 sds or more from 0), and the collapsed
// components' EM update gained at most tol·|ll|; it
// fails (the caller goes back to SQUAREM) when no step along the direction
// raises the log-likelihood or newtonStall steps in a row gain nothing
// worth counting; and it stops when the budget of E-step equivalents is
// spent. Each gradient pass and each line search trial counts as one
// E-step in *evals.
func (l *Learner) newtonGauss(th, trial *Params, ll float64, tol float64, evals *int, maxEvals int) (float64, int) {
	m := l.m
	k := m.K
	nw := &l.newton
	for _, b := range []*[]float64{&nw.r0, &nw.r1, &nw.r2, &nw.r3, &nw.r4, &nw.z, &nw.rr, &nw.lw} {
		*b = grow(*b, k)
	}
	stall := 0
	for {
		if *evals-1 >= maxEvals {
			return ll, newtonBudget
		}
		if l.stopped() {
			return ll, newtonStopped
		}
		ref, collapsed := l.newtonFree(th)
		p := len(nw.idx)
		if p == 0 && !collapsed {
			return ll, newtonConverged // nothing free: the point is its own maximum
		}
		start := ll
		if collapsed {
			// The collapsed components' means and sds take their EM
			// update (a partial M-step: the log-likelihood cannot
			// decrease), Newton the rest.
			if *evals+2 > maxEvals {
				return ll, newtonBudget
			}
			*evals += 2
			if _, err := l.estep(&l.st, th); err != nil {
				return ll, newtonFailed
			}
			l.mstepCollapsed(th, &l.st)
			ref, _ = l.newtonFree(th)
			ll = l.logLikGaussian(th)
			if p = len(nw.idx); p == 0 {
				if ll-start <= tol*math.Abs(ll) {
					return ll, newtonConverged
				}
				continue
			}
		}
		*evals++
		l.newtonDerivatives(th)
		half, saddle, ok := nw.direction(p)
		if !ok {
			return ll, newtonFailed
		}
		if cert := newtonCertTol * tol * math.Abs(ll); !saddle && ll-start <= tol*math.Abs(ll) && (half <= cert || half <= cert+l.roundingFloor(th, ref)) {
			return ll, newtonConverged // the model gains nothing worth a step
		}
		// Convergence is certified at the next pass, from the gradient
		// and Hessian at the new point.
		var status int
		ll, status = l.search(th, trial, ll, tol, &stall, evals, maxEvals,
			func(t float64) bool { return l.newtonPoint(trial, th, ref, t) },
			func() (float64, bool) { return l.logLikGaussian(trial), true })
		if status != newtonMoved {
			return ll, status
		}
	}
}

// largest returns the index of the largest weight (the first of equal
// ones): the reference component of Newton's log-weight ratios.
func largest(w []float64) int {
	ref := 0
	for j, v := range w {
		if v > w[ref] {
			ref = j
		}
	}
	return ref
}

// size sizes the buffers for len(nw.idx) free coordinates.
func (nw *gaussNewton) size() {
	p := len(nw.idx)
	for _, b := range []*[]float64{&nw.g, &nw.gi, &nw.step} {
		*b = grow(*b, p)
	}
	nw.h = grow(nw.h, p*p)
	nw.vecs = grow(nw.vecs, p*p)
	nw.vals = grow(nw.vals, p)
}

// betas returns the log-weight ratios log(w_j/w_ref), in nw.lw.
func (nw *gaussNewton) betas(w []float64, ref int) []float64 {
	beta := nw.lw[:len(w)]
	for j, v := range w {
		beta[j] = math.Log(v) - math.Log(w[ref])
	}
	return beta
}

// fromBetas sets dst to the weights of log-weight ratios beta, keeping
// the components whose weight in w is 0 at 0.
func fromBetas(dst, w, beta []float64) {
	sum := 0.0
	for j, b := range beta {
		if w[j] > 0 {
			dst[j] = math.Exp(b)
			sum += dst[j]
		}
	}
	for j := range dst {
		dst[j] /= sum
	}
}

// search is the line search of Newton's methods: it tries the points
// th + t·step that point writes to trial for t = 1, 1/2, ... (at most 30),
// and moves th to the first valid one whose log-likelihood (logLik, false
// for none) is at least ll; it returns the log-likelihood and
// newtonMoved, or newtonFailed when no point qualified or the last
// newtonStall steps gained nothing worth certifying, or newtonBudget.
// Each log-likelihood counts as an E-step.
func (l *Learner) search(th, trial *Params, ll, tol float64, stall, evals *int, maxEvals int, point func(t float64) bool, logLik func() (float64, bool)) (float64, int) {
	for t, try := 1.0, 0; try < 30; t, try = t/2, try+1 {
		if *evals-1 >= maxEvals {
			return ll, newtonBudget
		}
		if !point(t) {
			continue
		}
		*evals++
		if llt, ok := logLik(); ok && llt >= ll {
			copyParams(th, trial)
			*stall = stallCount(*stall, llt-ll, tol, ll)
			if *stall >= newtonStall {
				return llt, newtonFailed
			}
			return llt, newtonMoved
		}
	}
	return ll, newtonFailed
}

// newtonStall is the number of consecutive Newton steps gaining at most
// newtonCertTol·tol·|ll| after which a Newton phase gives up: its model
// promises more than the steps deliver (rounding), so the point cannot be
// certified.
const newtonStall = 3

// stallCount returns the count of consecutive negligible steps after a step
// that gained gain at log-likelihood ll.
func stallCount(stall int, gain, tol, ll float64) int {
	if gain <= newtonCertTol*tol*math.Abs(ll) {
		return stall + 1
	}
	return 0
}

// newtonFree sets l.newton.idx to the free coordinates at th and sizes
// the buffers; it returns the reference component and whether a component
// is collapsed.
func (l *Learner) newtonFree(th *Params) (int, bool) {
	m := l.m
	k := m.K
	nw := &l.newton
	ref := largest(th.Weights)
	nw.idx = nw.idx[:0]
	collapsed := false
	for j, w := range th.Weights {
		if !(w >= 1e-12) {
			continue // a vanishing component stays as it is
		}
		if m.Learn.Has(LearnWeights) && j != ref {
			nw.idx = append(nw.idx, coordBeta*k+j)
		}
		if th.SD[j]*th.SD[j] < 10*m.RegCovar {
			// Collapsed onto (nearly) one point, near the variance floor:
			// its maximum is on that boundary, where Newton's steps
			// would be cut short; EM updates its mean and sd instead.
			collapsed = collapsed || m.Learn&(LearnMean|LearnSD) != 0
			continue
		}
		if m.Learn.Has(LearnMean) {
			nw.idx = append(nw.idx, coordMean*k+j)
		}
		if m.Learn.Has(LearnSD) {
			nw.idx = append(nw.idx, coordLogSD*k+j)
		}
	}
	nw.size()
	return ref, collapsed
}

// mstepCollapsed sets the learned mean and sd of th's collapsed components
// (variance below 10·RegCovar, weight at least 1e-12) from st.
func (l *Learner) mstepCollapsed(th *Params, st *Stats) {
	m := l.m
	for j, w := range th.Weights {
		if !(w >= 1e-12) || !(th.SD[j]*th.SD[j] < 10*m.RegCovar) || !(st.n[j] > 0) {
			continue
		}
		sh, g := st.shift[j], st.s1[j]/st.n[j]
		if m.Learn.Has(LearnMean) {
			th.Mean[j] = sh + g
		}
		if m.Learn.Has(LearnSD) {
			e := th.Mean[j] - sh
			v := st.s2[j]/st.n[j] - 2*e*g + e*e
			th.SD[j] = math.Sqrt(math.Max(v, m.RegCovar))
		}
	}
}

// newtonPoint writes th + t·step (in Newton's coordinates) to dst and
// reports whether it is valid (every variance at least RegCovar).
func (l *Learner) newtonPoint(dst, th *Params, ref int, t float64) bool {
	m := l.m
	k := m.K
	nw := &l.newton
	copyParams(dst, th)
	beta := nw.betas(th.Weights, ref)
	for a, c := range nw.idx {
		j, v := c%k, t*nw.step[a]
		switch c / k {
		case coordBeta:
			beta[j] += v
		case coordMean:
			dst.Mean[j] += v
		case coordLogSD:
			dst.SD[j] *= math.Exp(v)
			if !(dst.SD[j]*dst.SD[j] >= m.RegCovar) || math.IsInf(dst.SD[j], 0) {
				return false
			}
		}
	}
	if m.Learn.Has(LearnWeights) {
		fromBetas(dst.Weights, th.Weights, beta)
	}
	return true
}

// newtonDerivatives sets l.newton.g and .h to the gradient and Hessian of
// the log-likelihood at th in Newton's coordinates.
func (l *Learner) newtonDerivatives(th *Params) {
	m := l.m
	k := m.K
	nw := &l.newton
	p := len(nw.idx)
	clear(nw.g)
	clear(nw.h)
	for _, b := range [][]float64{nw.r0, nw.r1, nw.r2, nw.r3, nw.r4} {
		clear(b)
	}
	for j, w := range th.Weights {
		nw.lw[j] = math.Log(w) - math.Log(th.SD[j])
	}
	gi := nw.gi
	for i, x := range l.x {
		c := l.c[i]
		mx := math.Inf(-1)
		for j := range k {
			z := (x - th.Mean[j]) / th.SD[j]
			nw.z[j] = z
			a := nw.lw[j] - 0.5*z*z
			nw.rr[j] = a
			if a > mx {
				mx = a
			}
		}
		s := 0.0
		for j := range k {
			e := expNeg(nw.rr[j] - mx)
			nw.rr[j] = e
			s += e
		}
		for j := range k {
			r := nw.rr[j] / s
			nw.rr[j] = r
			cr, z := c*r, nw.z[j]
			z2 := z * z
			nw.r0[j] += cr
			nw.r1[j] += cr * z
			nw.r2[j] += cr * z2
			nw.r3[j] += cr * z2 * z
			nw.r4[j] += cr * z2 * z2
		}
		for a, co := range nw.idx {
			j := co % k
			r, z := nw.rr[j], nw.z[j]
			switch co / k {
			case coordBeta:
				gi[a] = r - th.Weights[j]
			case coordMean:
				gi[a] = r * z / th.SD[j]
			default:
				gi[a] = r * (z*z - 1)
			}
			nw.g[a] += c * gi[a]
		}
		for a := range p {
			ca := c * gi[a]
			row := nw.h[a*p : (a+1)*p]
			for b := a; b < p; b++ {
				row[b] -= ca * gi[b]
			}
		}
	}
	// Add sum_i c sum_k r_ik (A_ik + d_ik d_ikᵀ) from the sums; see
	// newtonGauss. b_k = e_k - w over the free log-weight ratios.
	n := l.total
	bk := func(k0, j int) float64 {
		v := -th.Weights[j]
		if k0 == j {
			v++
		}
		return v
	}
	for a, ca := range nw.idx {
		ja, ka := ca%k, ca/k
		for b := a; b < p; b++ {
			cb := nw.idx[b]
			jb, kb := cb%k, cb/k
			v := 0.0
			switch {
			case ka == coordBeta && kb == coordBeta:
				wa, wb := th.Weights[ja], th.Weights[jb]
				v = n * wa * wb
				if ja == jb {
					v -= n * wa
				}
				for c := range k {
					if th.Weights[c] > 0 {
						v += nw.r0[c] * bk(c, ja) * bk(c, jb)
					}
				}
			case ka == coordBeta || kb == coordBeta:
				jbeta, jc, kc := ja, jb, kb
				if kb == coordBeta {
					jbeta, jc, kc = jb, ja, ka
				}
				if kc == coordMean {
					v = bk(jc, jbeta) * nw.r1[jc] / th.SD[jc]
				} else {
					v = bk(jc, jbeta) * (nw.r2[jc] - nw.r0[jc])
				}
			case ja != jb:
			case ka == coordMean && kb == coordMean:
				v = (nw.r2[ja] - nw.r0[ja]) / (th.SD[ja] * th.SD[ja])
			case ka == coordLogSD && kb == coordLogSD:
				v = nw.r4[ja] - 4*nw.r2[ja] + nw.r0[ja]
			default:
				v = (nw.r3[ja] - 3*nw.r1[ja]) / th.SD[ja]
			}
			nw.h[a*p+b] += v
			nw.h[b*p+a] = nw.h[a*p+b]
		}
	}
}

// logLikGaussian returns the log-likelihood of the loaded bag at p.
func (l *Learner) logLikGaussian(p *Params) float64 {
	k := l.m.K
	nw := &l.newton
	for j, w := range p.Weights {
		nw.lw[j] = math.Log(w) - math.Log(p.SD[j])
		nw.z[j] = 0.5 / (p.SD[j] * p.SD[j])
	}
	acc := llAcc{prod: 1}
	for i, x := range l.x {
		mx := math.Inf(-1)
		for j := range k {
			d := x - p.Mean[j]
			a := nw.lw[j] - nw.z[j]*d*d
			nw.rr[j] = a
			if a > mx {
				mx = a
			}
		}
		s := 0.0
		for j := range k {
			s += expNeg(nw.rr[j] - mx)
		}
		acc.add(l.c[i], mx, s)
	}
	return acc.value() + l.konst
}

// newtonCertTol: a Newton phase certifies its point when the gain its
// quadratic model predicts for the full step (the Newton decrement
// ½ gᵀ(-H)⁻¹g) is at most newtonCertTol·Tol·|ll| plus the rounding floor
// (see roundingFloor).
const newtonCertTol = 1e-3

// newtonRoundSlack is the factor by which the rounding floor exceeds its
// bound on the gain left at the best representable point (see
// roundingFloor): room for ties, where the maximum lies midway between two
// representable values, and for the rounding of the derivatives' sums.
const newtonRoundSlack = 2

// halfULP returns half the spacing of the float64 values at |x|: how far
// x, rounded to nearest, may lie from the value it stands for.
func halfULP(x float64) float64 {
	x = math.Abs(x)
	return 0.5 * (math.Nextafter(x, math.Inf(1)) - x)
}

// roundingFloor returns the floating-point floor of Newton's certificate
// for newtonGauss's free coordinates at th (reference component ref), from
// the Hessian's diagonal nw.h (p×p) that newtonDerivatives set:
// newtonRoundSlack·½(Σₐ uₐ·√|H_aa|)², where uₐ is how finely coordinate a
// can be represented (half its spacing, in Newton's coordinates): a mean
// to within halfULP(μ), a log sd to within halfULP(σ)/σ, a log-weight
// ratio to within the sum of its two weights' relative half spacings.
//
// Why. Where the maximum θ* is not representable, the best a fit can
// reach is the representable point nearest it, up to δₐ = uₐ away in
// each coordinate, and there the quadratic model still predicts the gain
// ½ δᵀ(-H)δ ≤ ½(Σₐ |δₐ|√|H_aa|)² (Cauchy–Schwarz, -H positive
// semidefinite: |H_ab| ≤ √(H_aa H_bb)), which no step can realize: the
// step rounds back to the point. The bound holds both where the other
// coordinates sit at their maximum given the rounded ones (the gain is
// then ½ δᵀSδ over the rounded coordinates, S the Schur complement of -H
// on them, which is at most their block of -H) and where they sit at
// θ*'s (½ δᵀ(-H)δ itself): the two states between which Newton's steps
// move them. Without the floor, a Gaussian whose values lie 1e12 sds from 0
// (a mean near 1e6, an sd near 1e-6) never certifies: its mean is
// representable only to about 1e-4 sd, which leaves a predicted gain near
// 1e-8 per observation, far above newtonCertTol·Tol·|ll|. On ordinary
// data the floor is negligible: a mean m sds from 0 contributes at most
// N·(m·2^-53)², below newtonCertTol·Tol·|ll| at the default Tol while
// m < 3e9·√(|ll|/N), so for means within 1e8 sds of 0 unless |ll| is
// below N/1000. A point certified on the floor is within it (plus
// newtonCertTol·Tol·|ll|) of the maximum: at most newtonRoundSlack times
// the worst loss that rounding the maximum to representable values costs.
func (l *Learner) roundingFloor(th *Params, ref int) float64 {
	k := l.m.K
	nw := &l.newton
	p := len(nw.idx)
	s := 0.0
	for a, c := range nw.idx {
		j := c % k
		var u float64
		switch c / k {
		case coordBeta:
			u = halfULP(th.Weights[j])/th.Weights[j] + halfULP(th.Weights[ref])/th.Weights[ref]
		case coordMean:
			u = halfULP(th.Mean[j])
		default:
			u = halfULP(th.SD[j]) / th.SD[j]
		}
		s += u * math.Sqrt(math.Abs(nw.h[a*p+a]))
	}
	return newtonRoundSlack * 0.5 * s * s
}

// direction sets nw.step to the step that maximises the quadratic model
// with gradient nw.g and Hessian nw.h (p×p), with the eigenvalues of -H
// replaced by their absolute values floored at 1e-10 of the largest (so it
// is an ascent direction also where the model is not concave). It returns
// the gain the model predicts, half = ½ Σ (vᵢᵀg)²/λᵢ, whether -H has an
// eigenvalue below -floor (the point is not a maximum: some direction
// curves upwards), and false if the eigendecomposition failed.
//
// The eigenvalues are those of -H scaled to unit diagonal (Jacobi scaling,
// D(-H)D with D = diag(|H_aa|^-½)). The coordinates (log-weight ratios,
// means in the data's units, log sds or rates) have unrelated units, and
// the floor and the absolute values, taken of -H itself, would make the
// step and the certificate depend on the data's units (a fit of x/2^20
// ran to MaxIter; one was certified 7e-6·|ll| below its maximum). Where
// no eigenvalue is floored the step and the gain are the same in either
// coordinates, and a congruence keeps the signs of the eigenvalues
// (Sylvester), so saddles are the same too.
func (nw *gaussNewton) direction(p int) (half float64, saddle, ok bool) {
	nw.scale = grow(nw.scale, p)
	sc := nw.scale
	for a := range p {
		sc[a] = 1
		if d := math.Abs(nw.h[a*p+a]); d > 0 && !math.IsInf(d, 0) {
			sc[a] = 1 / math.Sqrt(d)
		}
	}
	// The eigendecomposition reads the upper triangle, and the lower one
	// is zero, as in the copy mat.EigenSym makes.
	for a := range p {
		for b := range p {
			v := 0.0
			if b >= a {
				v = -nw.h[a*p+b] * sc[a] * sc[b]
			}
			nw.vecs[a*p+b] = v
		}
	}
	if !nw.syev.factorize(nw.vecs, p, nw.vals) {
		return 0, false, false
	}
	top := 0.0
	for _, v := range nw.vals {
		top = math.Max(top, math.Abs(v))
	}
	floor := math.Max(1e-10*top, 0x1p-1074)
	clear(nw.step)
	pred := 0.0
	for i, v := range nw.vals {
		if v < -floor {
			saddle = true
		}
		proj := 0.0 // of the scaled gradient Dg
		for a := range p {
			proj += nw.vecs[a*p+i] * nw.g[a] * sc[a]
		}
		lam := math.Max(math.Abs(v), floor)
		pred += proj * (proj / lam) // proj² overflows for counts beyond about 1e150
		for a := range p {
			nw.step[a] += proj / lam * nw.vecs[a*p+i] * sc[a]
		}
	}
	return 0.5 * pred, saddle, true
}
