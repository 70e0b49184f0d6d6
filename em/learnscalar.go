package em

import "math"

// Newton's method for Poisson and Bernoulli mixtures.
//
// The coordinates are the log-weight ratios β_j = log(w_j/w_ref) of the
// components other than the largest (when the weights are learned) and
// each component's natural parameter η_j (when the rate or p is learned):
// log λ_j for Poisson, logit p_j for Bernoulli. In them,
//
//	∂ log(w_j f_j(x)) / ∂β_a = δ_ja - w_a,  ∂² / ∂β_a∂β_b = -(δ_ab w_a - w_a w_b),
//	∂ log(w_j f_j(x)) / ∂η_j = x - μ_j,     ∂² / ∂η_j²    = -v_j,
//
// with μ_j = λ_j, v_j = λ_j (Poisson) or μ_j = p_j, v_j = p_j(1 - p_j)
// (Bernoulli), and per observation the Hessian of log p(x) is
// Σ_j r_j (A_j + d_j d_jᵀ) - g gᵀ (Louis' identity; r_j the posteriors,
// d_j and A_j the first and second derivatives above, g = Σ_j r_j d_j).

// scalarNewton reports whether the model's starts are finished by
// newtonScalar: a Poisson or Bernoulli model.
func (l *Learner) scalarNewton() bool {
	f := l.m.Family
	return f == Poisson || f == Bernoulli
}

// scalarEdge is how close to its bound (rate 0; p 0 or 1; weight 0) a
// parameter may come and still be moved by Newton's steps; closer, it is
// held where EM left it: its maximum is on (or numerically at) the bound.
const scalarEdge = 1e-12

// newtonScalar is newtonGauss for Poisson and Bernoulli components: it
// improves th (log-likelihood ll) by Newton's method with the exact
// Hessian in the coordinates above, holding weights below scalarEdge and
// natural parameters whose mean is within scalarEdge of its bound where
// they are. It returns newtonConverged when -H has no eigenvalue below
// -1e-10 of its largest and the gain the quadratic model predicts is at
// most newtonCertTol·tol·|ll|, and otherwise as newtonGauss.
func (l *Learner) newtonScalar(th, trial *Params, ll float64, tol float64, evals *int, maxEvals int) (float64, int) {
	nw := &l.newton
	k := l.m.K
	for _, b := range []*[]float64{&nw.z, &nw.rr, &nw.lw, &nw.r0, &nw.lr, &nw.lw0} {
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
		stuck := false
		if l.m.Family == Poisson && l.m.Learn.Has(LearnRate) {
			var st int
			if ll, st = l.liftRates(th, trial, ll, evals, maxEvals); st != newtonConverged {
				if st != newtonFailed {
					return ll, st
				}
				stuck = true
			}
		}
		ref := l.scalarFree(th)
		p := len(nw.idx)
		if p == 0 {
			if stuck {
				return ll, newtonFailed
			}
			return ll, newtonConverged // nothing free: the point is its own maximum
		}
		*evals++
		l.scalarDerivatives(th)
		half, saddle, ok := nw.direction(p)
		if !ok {
			return ll, newtonFailed
		}
		if !saddle && half <= newtonCertTol*tol*math.Abs(ll) {
			if stuck {
				return ll, newtonFailed
			}
			return ll, newtonConverged
		}
		var status int
		ll, status = l.search(th, trial, ll, tol, &stall, evals, maxEvals,
			func(t float64) bool { return l.scalarPoint(trial, th, ref, t) },
			func() (float64, bool) {
				llt, err := l.estep(&l.st, trial)
				return llt, err == nil
			})
		if status != newtonMoved {
			return ll, status
		}
	}
}

// scalarMean returns the mean μ_j and variance v_j of component j at p.
func (l *Learner) scalarMean(p *Params, j int) (float64, float64) {
	if l.m.Family == Poisson {
		return p.Rate[j], p.Rate[j]
	}
	q := p.P[j]
	return q, q * (1 - q)
}

// scalarFree sets l.newton.idx to the free coordinates at th (kinds
// coordBeta and coordMean, the latter standing for η) and sizes the
// buffers; it returns the reference component.
func (l *Learner) scalarFree(th *Params) int {
	m := l.m
	k := m.K
	nw := &l.newton
	ref := largest(th.Weights)
	nw.idx = nw.idx[:0]
	for j, w := range th.Weights {
		if !(w >= scalarEdge) {
			continue
		}
		if m.Learn.Has(LearnWeights) && j != ref {
			nw.idx = append(nw.idx, coordBeta*k+j)
		}
		if m.Learn&(LearnRate|LearnP) == 0 {
			continue
		}
		mu, _ := l.scalarMean(th, j)
		if mu >= scalarEdge && (m.Family == Poisson || mu <= 1-scalarEdge) {
			nw.idx = append(nw.idx, coordMean*k+j)
		}
	}
	nw.size()
	return ref
}

// scalarPoint writes th + t·step (in Newton's coordinates) to dst and
// reports whether it is a valid point.
func (l *Learner) scalarPoint(dst, th *Params, ref int, t float64) bool {
	m := l.m
	k := m.K
	nw := &l.newton
	copyParams(dst, th)
	beta := nw.betas(th.Weights, ref)
	for a, c := range nw.idx {
		j, v := c%k, t*nw.step[a]
		if c/k == coordBeta {
			beta[j] += v
			continue
		}
		if m.Family == Poisson {
			dst.Rate[j] *= math.Exp(v)
			if !(dst.Rate[j] > 0) || math.IsInf(dst.Rate[j], 0) {
				return false
			}
			continue
		}
		q := th.P[j]
		eta := math.Log(q) - math.Log1p(-q) + v
		dst.P[j] = 1 / (1 + math.Exp(-eta))
		if !(dst.P[j] > 0 && dst.P[j] < 1) {
			return false
		}
	}
	if m.Learn.Has(LearnWeights) {
		fromBetas(dst.Weights, th.Weights, beta)
	}
	return true
}

// scalarDerivatives sets l.newton.g and .h to the gradient and Hessian of
// the log-likelihood at th in Newton's coordinates.
func (l *Learner) scalarDerivatives(th *Params) {
	m := l.m
	k := m.K
	nw := &l.newton
	p := len(nw.idx)
	clear(nw.g)
	clear(nw.h)
	mu, v := nw.z[:k], nw.r0[:k]
	for j := range th.Weights {
		mu[j], v[j] = l.scalarMean(th, j)
	}
	// Poisson terms relative to the reference rate, as the E-step forms
	// them (see poissonTerms): they differ from log(w_j f_j(x)) by log
	// f(x; ref), the same for every component. Formed as x log λ_j − λ_j,
	// the posteriors carried the rounding of terms near x log x (about
	// 10⁻² at 10¹²), and the certificate never held there.
	lw, lr, lw0 := nw.lw[:k], nw.lr[:k], nw.lw0[:k]
	if m.Family == Poisson {
		for j, w := range th.Weights {
			lw[j] = math.Log(w)
		}
		l.poissonTerms(lw, lw0, lr, th.Rate)
	}
	gi := nw.gi
	for i, x := range l.x {
		c := l.c[i]
		mx := math.Inf(-1)
		for j, w := range th.Weights {
			var a float64
			if m.Family == Poisson {
				if x == 0 {
					a = lw0[j] // 0 log λ = 0, also for λ = 0
				} else {
					a = lw[j] + (x-l.ref)*lr[j]
				}
			} else if a = math.Log(w); x == 1 {
				a += math.Log(th.P[j])
			} else {
				a += math.Log1p(-th.P[j])
			}
			nw.rr[j] = a
			if a > mx {
				mx = a
			}
		}
		s := 0.0
		for j := range k {
			e := math.Exp(nw.rr[j] - mx)
			nw.rr[j] = e
			s += e
		}
		for j := range k {
			nw.rr[j] /= s
		}
		r := nw.rr
		for a, co := range nw.idx {
			j := co % k
			if co/k == coordBeta {
				gi[a] = r[j] - th.Weights[j]
			} else {
				gi[a] = r[j] * (x - mu[j])
			}
			nw.g[a] += c * gi[a]
		}
		// c (Σ_j r_j (A_j + d_j d_jᵀ) - g gᵀ), upper triangle.
		for a, ca := range nw.idx {
			ja, ka := ca%k, ca/k
			row := nw.h[a*p : (a+1)*p]
			for b := a; b < p; b++ {
				cb := nw.idx[b]
				jb, kb := cb%k, cb/k
				ja, ka := ja, ka
				if ka != kb && kb == coordBeta {
					ja, jb, ka, kb = jb, ja, kb, ka
				}
				var h float64
				switch {
				case ka == coordBeta && kb == coordBeta:
					wa, wb := th.Weights[ja], th.Weights[jb]
					h = -r[ja]*wb - r[jb]*wa + 2*wa*wb
					if ja == jb {
						h += r[ja] - wa
					}
				case ka == coordBeta:
					d := -th.Weights[ja]
					if ja == jb {
						d++
					}
					h = r[jb] * d * (x - mu[jb])
				case ja == jb:
					e := x - mu[ja]
					h = r[ja] * (e*e - v[ja])
				}
				row[b] += c * (h - gi[a]*gi[b])
			}
		}
	}
	for a := range p {
		for b := a + 1; b < p; b++ {
			nw.h[b*p+a] = nw.h[a*p+b]
		}
	}
}

// liftRates checks the Poisson rates below scalarEdge (of components with
// weight at least scalarEdge), which Newton's steps hold, by the KKT
// condition of a rate at its bound 0: the derivative of the
// log-likelihood in λ_j there, w_j (c_1/p(1) - c_0/p(0)) (c_x the count
// of value x, p the mixture's probability), must not be positive. EM
// cannot move such a rate (the posteriors of positive values vanish with
// it), so where the condition fails liftRates raises the rate to the
// largest of 10^-1, ..., 10^-10 that raises the log-likelihood. It
// returns the log-likelihood and newtonConverged when every held rate
// satisfies the condition (or none is held), newtonFailed when one fails
// it and could not be lifted, or newtonBudget or newtonStopped.
func (l *Learner) liftRates(th, trial *Params, ll float64, evals *int, maxEvals int) (float64, int) {
	var c0, c1 float64
	for i, x := range l.x {
		switch x {
		case 0:
			c0 = l.c[i]
		case 1:
			c1 = l.c[i]
		}
	}
	status := newtonConverged
	for j, w := range th.Weights {
		if !(w >= scalarEdge) || !(th.Rate[j] < scalarEdge) {
			continue
		}
		var p0, p1 float64
		for i, v := range th.Weights {
			if v > 0 {
				r := th.Rate[i]
				e := math.Exp(-r)
				p0 += v * e
				p1 += v * r * e
			}
		}
		d := c1/p1 - c0/p0
		if c1 == 0 {
			d = -c0 / p0
		}
		if !(d*w > 1e-9*l.total) {
			continue
		}
		lifted := false
		for e := 1; e <= 10 && !lifted; e++ {
			if *evals-1 >= maxEvals {
				return ll, newtonBudget
			}
			if l.stopped() {
				return ll, newtonStopped
			}
			copyParams(trial, th)
			trial.Rate[j] = math.Pow(10, -float64(e))
			*evals++
			if llt, err := l.estep(&l.st, trial); err == nil && llt > ll {
				copyParams(th, trial)
				ll, lifted = llt, true
			}
		}
		if !lifted {
			status = newtonFailed
		}
	}
	return ll, status
}
