package em

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// newtonAfter is how many E-steps SQUAREM gets before Newton's method takes
// over. SQUAREM certifies most bags well within it; the rest are the hard
// ones: maxima on the boundary where the gradient also vanishes (a bag whose
// red share is exactly p2, say), where EM and SQUAREM crawl.
const newtonAfter = 30

// newton polishes f.w with Newton's method on the active set: components
// whose weight is (nearly) zero and whose gradient pushes them further down
// are fixed at exactly zero; on the others it takes equality-constrained
// Newton steps, damped by a backtracking line search, so the
// log-likelihood never decreases. A fixed component whose gradient turns
// positive is freed again. It converges quadratically, also where the
// maximum is on the boundary and the gradient vanishes there.
//
// st is the state of f.w (whose EM image is in f.f1); evals counts E-steps
// so far. It returns the final state and count.
func (f *Fitter) newton(st state, evals int) (state, int) {
	k := f.k
	if cap(f.h) < k*k {
		f.h = make([]float64, k*k)
	}
	f.h = f.h[:k*k]
	free := make([]bool, k)
	stalled := 0
	for !st.ok && evals-1 < f.maxIter {
		// One pass for the gradient and Hessian at w (per observation).
		st = f.derivatives(f.w)
		evals++
		if st.ok || evals-1 >= f.maxIter {
			break
		}
		// Choose the free set.
		nfree := 0
		for j := range free {
			e := f.g[j] - 1
			free[j] = !(f.w[j] <= 1e-3 && e < 0)
			if free[j] {
				nfree++
			}
		}
		if nfree == 0 {
			break
		}
		d := f.direction(free, nfree)
		if d == nil {
			break
		}
		// Largest step that keeps every weight non-negative; a weight that
		// would cross zero lands on exactly zero.
		tmax := 1.0
		for j, dj := range d {
			// A free component already at zero that the step pushes down is
			// simply clamped at zero below.
			if free[j] && f.w[j] > 0 && dj < 0 && f.w[j]+dj < 0 {
				tmax = math.Min(tmax, -f.w[j]/dj)
			}
		}
		improved := false
		for t, try := tmax, 0; try < 40; t, try = t/2, try+1 {
			sum := 0.0
			for j := range f.q {
				q := f.w[j] + t*d[j]
				if q < 0 || (t == tmax && tmax < 1 && q <= 1e-12*f.w[j]) {
					q = 0
				}
				f.q[j] = q
				sum += q
			}
			for j := range f.q {
				f.q[j] /= sum
			}
			// Accept any step that loses no more than rounding noise: near
			// a flat maximum the true change is below what a sum of n
			// logarithms can resolve.
			ll := f.logLik(f.q)
			if ll >= st.ll-1e-14*(math.Abs(st.ll)+f.n) {
				improved = ll > st.ll
				f.w, f.q = f.q, f.w
				break
			}
		}
		if !improved {
			// No representable ascent left: the point is as good as
			// floating point can tell.
			stalled++
			if stalled >= 3 {
				break
			}
		} else {
			stalled = 0
		}
	}
	// Report the exact state (and EM image) of the final point.
	st = f.step(f.w, f.f1)
	return st, evals
}

// derivatives computes, at w, the stopping-rule state, the relative
// gradient f.g (g_k/N) and the Hessian per observation f.h (row-major K×K).
func (f *Fitter) derivatives(w []float64) state {
	k := f.k
	for j := range f.g {
		f.g[j] = 0
	}
	for j := range f.h {
		f.h[j] = 0
	}
	ll := 0.0
	for i, c := range f.c {
		row := f.lik[i*k : i*k+k]
		p := 0.0
		for j, l := range row {
			p += w[j] * l
		}
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

// direction solves the equality-constrained Newton system on the free
// components: maximise g·d + d·H·d/2 subject to sum d = 0, with d = 0 off
// the free set and, for components fixed at zero, d_k = -w_k (they move to
// zero). It returns nil when the system cannot be solved even with damping.
func (f *Fitter) direction(free []bool, nfree int) []float64 {
	k := f.k
	idx := make([]int, 0, nfree)
	moved := 0.0 // weight taken from fixed components
	d := make([]float64, k)
	for j := range free {
		if free[j] {
			idx = append(idx, j)
		} else {
			d[j] = -f.w[j]
			moved += f.w[j]
		}
	}
	m := len(idx)
	scale := 0.0
	for _, j := range idx {
		scale = math.Max(scale, -f.h[j*k+j])
	}
	if scale == 0 {
		scale = 1
	}
	// KKT system [ -H_FF + δI  1 ; 1ᵀ 0 ] [d; μ] = [g_F + H_FA d_A ; moved].
	for damp := 1e-14 * scale; damp < scale; damp *= 100 {
		a := mat.NewDense(m+1, m+1, nil)
		b := mat.NewVecDense(m+1, nil)
		for r, j := range idx {
			for c, l := range idx {
				a.Set(r, c, -f.h[j*k+l])
			}
			a.Set(r, r, a.At(r, r)+damp)
			a.Set(r, m, 1)
			a.Set(m, r, 1)
			rhs := f.g[j]
			for l := range free {
				if !free[l] {
					rhs += f.h[j*k+l] * d[l]
				}
			}
			b.SetVec(r, rhs)
		}
		b.SetVec(m, moved)
		var x mat.VecDense
		if err := x.SolveVec(a, b); err != nil {
			continue
		}
		ok := true
		for r, j := range idx {
			d[j] = x.AtVec(r)
			ok = ok && !math.IsNaN(d[j]) && !math.IsInf(d[j], 0)
		}
		if ok {
			return d
		}
	}
	return nil
}

// logLik returns the log-likelihood at w.
func (f *Fitter) logLik(w []float64) float64 {
	k := f.k
	ll := 0.0
	for i, c := range f.c {
		row := f.lik[i*k : i*k+k]
		p := 0.0
		for j, l := range row {
			p += w[j] * l
		}
		if !(p > 0) {
			return math.Inf(-1)
		}
		ll += c * math.Log(p)
	}
	return f.base + ll
}
