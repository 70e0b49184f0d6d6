package em

import "math"

// newtonAfter is how many E-steps SQUAREM gets before Newton's method takes
// over. SQUAREM certifies most bags well within it; the rest are the hard
// ones: maxima on the boundary where the gradient also vanishes (a bag whose
// red share is exactly p2, say), where EM and SQUAREM crawl.
const newtonAfter = 30

// flatTol is the change in log-likelihood per observation below which a
// direction of the simplex counts as flat: the data cannot tell its points
// apart (components identical up to rounding on every observed value).
const flatTol = 1e-13

// newton finishes and certifies f.w with Newton's method on the active set.
//
// It works in tangent coordinates: one reference component r (the largest
// weight) absorbs the constraint sum w = 1, and the others' weights are
// free variables, so that p(x_i) = f_r(x_i) + sum_{j≠r} w_j (f_j - f_r)(x_i).
// The differences D_ij = f_j(x_i) - f_r(x_i) are formed once, from the
// log-densities with expm1, so they keep their relative precision even when
// components are nearly alike; the gradient sum_i c_i D_ij/p_i and the
// Hessian -sum_i c_i D_ij D_ik/p_i² built from them do too. (The plain
// gradient g_j = sum_i c_i f_j/p_i cannot: its differences between
// components, which are all that matter, drown in its rounding.)
//
// Each pass computes the gradient and Hessian. Components whose weight is
// at most tol and whose gradient pushes them down are fixed at zero; on the
// others Newton's step to the maximum of the local quadratic model is taken
// with a backtracking line search, so the log-likelihood never decreases by
// more than rounding. The step is cut where a weight reaches zero, and that
// weight lands on exactly zero. A fixed component whose gradient turns
// positive is freed again. Directions in which the model changes the
// log-likelihood per observation by less than flatTol across the simplex
// get no step. Newton converges quadratically, also where the maximum is on
// the boundary and the gradient vanishes there.
//
// The point is certified when the stopping rule holds and the Newton step
// moves no weight by more than 10*tol, or when the stopping rule holds and
// the steps have stopped shrinking (floating point's floor).
//
// evals counts E-steps so far (the last at f.w). It returns the final
// state, which it computes itself, and count.
func (f *Fitter) newton(evals int) (state, int) {
	k := f.k
	f.h = grow(f.h, k*k)
	f.d = grow(f.d, k)
	f.free = growBool(f.free, k)
	f.ref = -1
	stepTol := 10 * f.tol
	prev := math.Inf(1)
	for {
		f.reference()
		// The pass at the current point; the E-step that evaluated it was
		// already counted, so only the passes after a move count.
		st := f.derivatives(f.w)
		for j := range f.free {
			f.free[j] = j == f.ref || !(f.w[j] <= f.tol && f.e[j] < 0)
		}
		size := f.direction()
		if st.ok && (size <= stepTol || size > prev/2) {
			return st, evals
		}
		if evals-1 >= f.maxIter || f.stopped() {
			st.ok = false
			return st, evals
		}
		prev = size
		if !f.lineSearch(st.ll) {
			// The model's step gains nothing that floating point can see:
			// with the stopping rule holding, this is as close as the
			// maximum can be computed; without it, nothing will change.
			return st, evals
		}
		evals++
	}
}

// reference makes the largest weight the reference component, computing
// the differences f.diff when it changes.
func (f *Fitter) reference() {
	k := f.k
	r := 0
	for j, w := range f.w {
		if w > f.w[r] {
			r = j
		}
	}
	if r == f.ref {
		return
	}
	f.ref = r
	f.diff = grow(f.diff, len(f.lik))
	if k == 3 {
		diffRows3(f.diff, f.lik, f.lg, r)
		return
	}
	for i := 0; i < len(f.lik); i += k {
		diffRow(f.diff[i:i+k], f.lik[i:i+k], f.lg[i:i+k], r, nil)
	}
}

// diffRow sets d_j = f_j - f_r by densityDiff for one row of scaled
// densities lik and their logarithms lg, and d_r = 0, and d_j = 0 for the
// j with free[j] false when free is not nil.
func diffRow(d, lik, lg []float64, r int, free []bool) {
	lr, fr := lg[r], lik[r]
	for j := range d {
		if j == r || free != nil && !free[j] {
			d[j] = 0
			continue
		}
		// densityDiff's common case inline (it is too large to be
		// inlined): apart by a factor e^0.5 or more, f_j not 0. With
		// lr = -Inf, fj - fr is fj, as densityDiff returns.
		lj := lg[j]
		if math.Abs(lj-lr) >= 0.5 && lj > math.Inf(-1) {
			d[j] = lik[j] - fr
		} else {
			d[j] = densityDiff(lj, lik[j], lr, fr)
		}
	}
}

// density returns p(x_i) at w in tangent coordinates.
func (f *Fitter) density(w []float64, i int) float64 {
	k := f.k
	p := f.lik[i*k+f.ref]
	for j, dj := range f.diff[i*k : i*k+k] {
		p += w[j] * dj
	}
	return p
}

// lineSearch tries w + t*d for t = tmax, tmax/2, ... where tmax is the
// longest step that keeps the weights non-negative, and moves to the first
// point whose log-likelihood is at least ll less rounding noise. It
// reports whether it moved.
func (f *Fitter) lineSearch(ll float64) bool {
	d := f.d
	tmax := 1.0
	for j, dj := range d {
		if f.w[j] > 0 && dj < 0 && f.w[j]+dj < 0 {
			tmax = math.Min(tmax, -f.w[j]/dj)
		}
	}
	// Near a flat maximum the true change is below what a sum of n
	// logarithms can resolve; accept a loss of that size.
	noise := 1e-14 * (math.Abs(ll) + f.n)
	for t, try := tmax, 0; try < 40; t, try = t/2, try+1 {
		sum := 0.0
		for j := range f.q {
			q := f.w[j] + t*d[j]
			// A weight the step takes to (or past) zero lands on zero.
			if q < 0 || (t == tmax && tmax < 1 && q <= 1e-12*f.w[j]) {
				q = 0
			}
			f.q[j] = q
			sum += q
		}
		for j := range f.q {
			f.q[j] /= sum
		}
		if f.logLik(f.q) >= ll-noise {
			f.w, f.q = f.q, f.w
			return true
		}
	}
	return false
}

// derivatives computes at w the stopping-rule state, the relative gradient
// f.e (e_k = g_k/N - 1, from the tangent gradient, so it keeps its
// precision near zero) and f.h, the Hessian per observation in tangent
// coordinates (row-major K×K; the reference's row and column are zero).
func (f *Fitter) derivatives(w []float64) state {
	k := f.k
	f.e = grow(f.e, k)
	var ll float64
	var ok bool
	if k == 3 {
		ll, ok = f.hessian3(w)
	} else {
		ll, ok = f.hessian(w)
	}
	if !ok {
		return state{ll: math.Inf(-1), gap: math.Inf(1)}
	}
	// f.g holds the tangent gradient G_j = sum c D_ij/p_i = g_j - g_r; the
	// relative gradients follow from sum_k w_k e_k = 0.
	er := 0.0
	for j := range f.g {
		f.g[j] = (f.g[j] + f.blk[j]) / f.n
		er -= w[j] * f.g[j]
	}
	st := state{ll: f.base + ll, gap: math.Inf(-1), ok: true}
	for j := range f.g {
		e := er + f.g[j]
		f.e[j] = e
		st.gap = math.Max(st.gap, e)
		if !(e <= f.tol) || (!(e >= -f.tol) && !(w[j] <= f.tol)) {
			st.ok = false
		}
		for m := j; m < k; m++ {
			f.h[j*k+m] /= f.n
			f.h[m*k+j] = f.h[j*k+m]
		}
		// (An infinite Hessian is harmless: the line search takes only
		// steps that gain, and the gradient decides convergence.)
		if !(math.Abs(e) <= math.MaxFloat64) {
			f.overflow = true
		}
	}
	return st
}

// hessian is the pass over the table of derivatives: it leaves the
// tangent gradient (times N) in f.g plus f.blk and the Hessian (times N,
// upper triangle) in f.h, and returns the log-likelihood less f.base, or
// ok = false if some observation has zero density at w.
func (f *Fitter) hessian(w []float64) (ll float64, ok bool) {
	k, r := f.k, f.ref
	clear(f.g)
	clear(f.h)
	clear(f.blk)
	llsum, prod := 0.0, 1.0
	for i, c := range f.c {
		p := f.density(w, i)
		if !(p > 0) {
			return 0, false
		}
		// The log-likelihood as gradient sums it: rows of count 1 through
		// a running product, which costs a logarithm only when the product
		// nears underflow. (p <= 1 but for rounding: the scaled densities
		// are at most 1 and the weights sum to 1.)
		if c == 1 && p > 1e-20 {
			prod *= p
			if prod < 1e-260 {
				llsum += math.Log(prod)
				prod = 1
			}
		} else {
			llsum += c * math.Log(p)
		}
		t := c / p
		t2 := t / p
		row := f.diff[i*k : i*k+k]
		for j, dj := range row {
			if j == r || dj == 0 {
				continue
			}
			f.blk[j] += t * dj
			hj := f.h[j*k : j*k+k]
			td := t2 * dj
			for m := j; m < k; m++ {
				hj[m] -= td * row[m]
			}
		}
		if i&255 == 255 {
			for j := range f.g {
				f.g[j] += f.blk[j]
				f.blk[j] = 0
			}
		}
	}
	return endLogLik(llsum, prod), true
}

// direction sets f.d to the Newton step and returns its largest entry in
// absolute value. Fixed components move to zero (d_a = -w_a); the free
// components other than the reference take the step z that maximises the
// quadratic model, -H_FF z = b with b = G_F + H_FA d_A, solved through the
// eigendecomposition of -H_FF: eigenvalues below max(1e-12 of the largest,
// flatTol) are raised to that floor, and a direction whose eigenvalue and
// model gradient are both below flatTol is flat and gets no step. The
// reference takes up the difference, so the step keeps sum w = 1.
func (f *Fitter) direction() float64 {
	k, r := f.k, f.ref
	d := f.d
	f.idx = f.idx[:0]
	for j := range d {
		d[j] = 0
		switch {
		case j == r:
		case f.free[j]:
			f.idx = append(f.idx, j)
		default:
			d[j] = -f.w[j]
		}
	}
	m := len(f.idx)
	if m > 0 {
		// The tangent gradient is e_j - e_r.
		f.b = grow(f.b, m)
		for a, j := range f.idx {
			v := f.e[j] - f.e[r]
			for l := range d {
				v += f.h[j*k+l] * d[l]
			}
			f.b[a] = v
		}
		f.a = grow(f.a, m*m)
		for a, j := range f.idx {
			for c, l := range f.idx {
				f.a[a*m+c] = -f.h[j*k+l]
			}
		}
		f.eig = grow(f.eig, m)
		if !f.syev.factorize(f.a, m, f.eig) {
			return math.Inf(1)
		}
		floor := math.Max(1e-12*f.eig[m-1], flatTol)
		for i := 0; i < m; i++ {
			// Eigenvector i is column i of f.a.
			proj := 0.0
			for a := 0; a < m; a++ {
				proj += f.a[a*m+i] * f.b[a]
			}
			lam := f.eig[i]
			if !(lam > floor) {
				if !(math.Abs(proj) > flatTol) {
					continue
				}
				lam = floor
			}
			proj /= lam
			for a, j := range f.idx {
				d[j] += proj * f.a[a*m+i]
			}
		}
	}
	sum := 0.0
	for j, v := range d {
		if j != r {
			sum += v
		}
	}
	d[r] = -sum
	size := 0.0
	for _, v := range d {
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		size = math.Max(size, math.Abs(v))
	}
	return size
}

// logLik returns the log-likelihood at w.
func (f *Fitter) logLik(w []float64) float64 {
	if f.k == 3 {
		return f.logLik3(w)
	}
	return f.logLikRows(w)
}

// logLikRows is the pass over the table of logLik.
func (f *Fitter) logLikRows(w []float64) float64 {
	llsum, prod := 0.0, 1.0
	for i, c := range f.c {
		p := f.density(w, i)
		if !(p > 0) {
			return math.Inf(-1)
		}
		if c == 1 && p > 1e-20 { // as in hessian
			prod *= p
			if prod < 1e-260 {
				llsum += math.Log(prod)
				prod = 1
			}
		} else {
			llsum += c * math.Log(p)
		}
	}
	return f.base + endLogLik(llsum, prod)
}

// grow returns s with length n, reusing its storage when large enough.
func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

func growBool(s []bool, n int) []bool {
	if cap(s) < n {
		return make([]bool, n)
	}
	return s[:n]
}

// densityDiff returns f_j - f_r from the scaled densities fj, fr and their
// logarithms lj, lr, accurately also where the two are nearly equal.
func densityDiff(lj, fj, lr, fr float64) float64 {
	switch {
	case math.IsInf(lr, -1):
		return fj
	case math.IsInf(lj, -1):
		return -fr
	case math.Abs(lj-lr) < 0.5:
		// Nearly alike here: expm1 keeps the difference's precision.
		return fr * math.Expm1(lj-lr)
	default:
		// Apart by a factor of e^0.5 or more: subtraction loses at most
		// a couple of bits.
		return fj - fr
	}
}
