package em

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// newtonAfter is how many E-steps SQUAREM gets before Newton's method takes
// over. SQUAREM certifies most bags well within it; the rest are the hard
// ones: maxima on the boundary where the gradient also vanishes (a bag whose
// red share is exactly p2, say), where EM and SQUAREM crawl.
const newtonAfter = 30

// newton finishes and certifies f.w with Newton's method on the active set.
//
// Each pass computes the gradient and Hessian. Components whose weight is
// at most tol and whose gradient pushes them down are fixed at zero; on the
// others Newton's step to the maximum of the local quadratic model is
// computed on the tangent space of the simplex (directions in which the
// model is flat, such as between identical components, are left alone),
// and taken with a backtracking line search, so the log-likelihood never
// decreases by more than rounding. The step is cut where a weight reaches
// zero, and that weight lands on exactly zero. A fixed component whose
// gradient turns positive is freed again. Newton converges quadratically,
// also where the maximum is on the boundary and the gradient vanishes there.
//
// The point is certified when the stopping rule holds and the Newton step
// moves no weight by more than 10*tol, or when the stopping rule holds and
// the steps have stopped shrinking (floating point's floor). The gradient
// rule alone does not bound the weights when components are nearly alike:
// there the curvature is small, and a small gradient allows a large error.
//
// st is the state of f.w; evals counts E-steps so far. It returns the
// final state and count.
func (f *Fitter) newton(st state, evals int) (state, int) {
	k := f.k
	f.h = grow(f.h, k*k)
	f.d = grow(f.d, k)
	f.free = growBool(f.free, k)
	stepTol := 10 * f.tol
	prev := math.Inf(1)
	for {
		// The pass at the current point; the E-step that evaluated it was
		// already counted, so only the passes after a move count.
		st = f.derivatives(f.w)
		nfree := 0
		for j := range f.free {
			f.free[j] = !(f.w[j] <= f.tol && f.g[j] < 1)
			if f.free[j] {
				nfree++
			}
		}
		size := f.direction(nfree)
		if st.ok && (size <= stepTol || size > prev/2) {
			return st, evals
		}
		if evals-1 >= f.maxIter {
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
// f.g (g_k/N) and the Hessian per observation f.h (row-major K×K).
func (f *Fitter) derivatives(w []float64) state {
	k := f.k
	clear(f.g)
	clear(f.h)
	ll := 0.0
	for i, c := range f.c {
		row := f.lik[i*k : i*k+k]
		p := dot(w, row)
		if !(p > 0) {
			return state{ll: math.Inf(-1), gap: math.Inf(1)}
		}
		ll += c * math.Log(p)
		r := c / p
		r2 := r / p
		for j, l := range row {
			f.g[j] += r * l
			hj := f.h[j*k : j*k+k]
			rl := r2 * l
			for m := j; m < k; m++ {
				hj[m] -= rl * row[m]
			}
		}
	}
	st := state{ll: f.base + ll, gap: math.Inf(-1), ok: true}
	for j := range f.g {
		f.g[j] /= f.n
		e := f.g[j] - 1
		st.gap = math.Max(st.gap, e)
		if e > f.tol || (e < -f.tol && w[j] > f.tol) {
			st.ok = false
		}
		for m := j; m < k; m++ {
			f.h[j*k+m] /= f.n
			f.h[m*k+j] = f.h[j*k+m]
		}
	}
	return st
}

// direction sets f.d to the Newton step and returns its largest entry in
// absolute value. Fixed components move to zero (d_k = -w_k); the weight
// they give up is spread evenly over the free ones, and the free ones then
// take the step z in the tangent space {sum z = 0} that maximises the
// quadratic model: z = A⁺ P b, where P projects onto the tangent space,
// A = P(-H)P and b is the model's gradient after the even spread. A⁺ keeps
// only eigenvalues above 1e-12 of the largest (or of H's largest diagonal
// entry), so flat directions get no step.
func (f *Fitter) direction(nfree int) float64 {
	k := f.k
	d := f.d
	moved := 0.0
	f.idx = f.idx[:0]
	for j := range f.free {
		if f.free[j] {
			f.idx = append(f.idx, j)
			d[j] = 0
		} else {
			d[j] = -f.w[j]
			moved += f.w[j]
		}
	}
	m := nfree
	if m == 0 {
		return math.Inf(1)
	}
	spread := moved / float64(m)
	for _, j := range f.idx {
		d[j] = spread
	}
	// b = g_F + H_F· d (the model's gradient at the spread point), projected.
	f.b = grow(f.b, m)
	mean := 0.0
	for r, j := range f.idx {
		v := f.g[j]
		for l := range d {
			v += f.h[j*k+l] * d[l]
		}
		f.b[r] = v
		mean += v
	}
	mean /= float64(m)
	for r := range f.b {
		f.b[r] -= mean
	}
	if m > 1 {
		// A = P(-H_FF)P, in f.a.
		f.a = grow(f.a, m*m)
		f.rowMean = grow(f.rowMean, m)
		all, scale := 0.0, 0.0
		for r, j := range f.idx {
			scale = math.Max(scale, -f.h[j*k+j])
			s := 0.0
			for c, l := range f.idx {
				v := -f.h[j*k+l]
				f.a[r*m+c] = v
				s += v
			}
			f.rowMean[r] = s / float64(m)
			all += s
		}
		all /= float64(m * m)
		for r := 0; r < m; r++ {
			for c := 0; c < m; c++ {
				// H is symmetric, so column means equal row means.
				f.a[r*m+c] += all - f.rowMean[r] - f.rowMean[c]
			}
		}
		f.eig = grow(f.eig, m)
		sym := blas64.Symmetric{Uplo: blas.Upper, N: m, Stride: m, Data: f.a}
		f.work = grow(f.work, max(1, len(f.work)))
		lapack64.Syev(lapack.EVCompute, sym, f.eig, f.work, -1)
		f.work = grow(f.work, int(f.work[0]))
		if !lapack64.Syev(lapack.EVCompute, sym, f.eig, f.work, len(f.work)) {
			return math.Inf(1)
		}
		// Eigenvalues below 1e-12 of the Hessian's scale are rounding noise
		// around a flat direction.
		floor := 1e-12 * math.Max(f.eig[m-1], scale)
		for i := 0; i < m; i++ {
			lam := f.eig[i]
			if !(lam > floor) {
				continue
			}
			// Eigenvector i is column i of f.a.
			proj := 0.0
			for r := 0; r < m; r++ {
				proj += f.a[r*m+i] * f.b[r]
			}
			proj /= lam
			for r, j := range f.idx {
				d[j] += proj * f.a[r*m+i]
			}
		}
	}
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
	k := f.k
	ll := 0.0
	for i, c := range f.c {
		p := dot(w, f.lik[i*k:i*k+k])
		if !(p > 0) {
			return math.Inf(-1)
		}
		ll += c * math.Log(p)
	}
	return f.base + ll
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
