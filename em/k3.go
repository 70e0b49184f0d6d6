package em

import (
	"fmt"
	"math"
)

// Kernels for K = 3 components, the common case of a few fixed
// components: the passes over the table with the row and the running sums
// in registers instead of loops over slices. Each performs the same
// floating-point operations in the same order as the general code it
// stands for (gradient, derivatives, logLik), so the results are
// bit-identical; TestKernels3 checks that.

// gradient3 is gradient for K = 3.
func (f *Fitter) gradient3(w []float64, wantLL bool) (llsum, prod float64, ok bool) {
	w0, w1, w2 := w[0], w[1], w[2]
	var g0, g1, g2, b0, b1, b2 float64
	llsum, prod = 0.0, 1.0
	lik := f.lik[:3*len(f.c)]
	for i, c := range f.c {
		row := (*[3]float64)(lik[3*i:])
		l0, l1, l2 := row[0], row[1], row[2]
		// dot: 0 + w0*l0 is w0*l0 for the non-negative w0*l0.
		p := w0 * l0
		p += w1 * l1
		p += w2 * l2
		if !(p > 0) {
			return 0, 0, false
		}
		if wantLL {
			if c == 1 && p > 1e-20 {
				prod *= p
				if prod < 1e-260 {
					llsum += math.Log(prod)
					prod = 1
				}
			} else {
				llsum += c * math.Log(p)
			}
		}
		r := c / p
		b0 += r * l0
		b1 += r * l1
		b2 += r * l2
		if i&255 == 255 {
			g0 += b0
			g1 += b1
			g2 += b2
			b0, b1, b2 = 0, 0, 0
		}
	}
	f.g[0], f.g[1], f.g[2] = g0, g1, g2
	f.blk[0], f.blk[1], f.blk[2] = b0, b1, b2
	return llsum, prod, true
}

// load3 is loadRows for K = 3, with the same operations in the same
// order, so every bit is loadRows'. Both take a row's maximum with the
// builtin max, which the compiler makes branch-free: a comparison's
// branch, mispredicted row after row, was a tenth of a Gaussian bag's fit.
func (f *Fitter) load3(logLik, counts []float64) (kept int, err error) {
	rows := len(logLik) / 3
	logLik = logLik[:3*rows]
	lg, c := f.lg[:3*rows], f.c[:rows]
	inf := math.Inf(1)
	for i := range rows {
		ci := 1.0
		if counts != nil {
			ci = counts[i]
			if !(ci >= 0) || ci == inf {
				return 0, &ValueError{Row: i, Component: -1, Value: ci}
			}
			if ci == 0 {
				continue
			}
		}
		row := (*[3]float64)(logLik[3*i:])
		v0, v1, v2 := row[0], row[1], row[2]
		if !(v0 < inf && v1 < inf && v2 < inf) {
			for j, v := range row {
				if !(v < inf) { // NaN or +Inf
					return 0, &ValueError{Row: i, Component: j, Value: v}
				}
			}
		}
		m := max(v0, v1, v2)
		if m == -inf {
			return 0, &SupportError{Row: i}
		}
		g := (*[3]float64)(lg[3*kept:])
		g[0], g[1], g[2] = v0-m, v1-m, v2-m
		c[kept] = ci
		kept++
		f.n += ci
		f.base += ci * m
	}
	return kept, nil
}

// hessian3 is hessian for K = 3.
func (f *Fitter) hessian3(w []float64) (ll float64, ok bool) {
	r := f.ref
	w0, w1, w2 := w[0], w[1], w[2]
	var g0, g1, g2, b0, b1, b2 float64
	var h00, h01, h02, h11, h12, h22 float64
	llsum, prod := 0.0, 1.0
	n := len(f.c)
	lik, diff := f.lik[:3*n], f.diff[:3*n]
	for i, c := range f.c {
		d := (*[3]float64)(diff[3*i:])
		d0, d1, d2 := d[0], d[1], d[2]
		p := lik[3*i+r] // density
		p += w0 * d0
		p += w1 * d1
		p += w2 * d2
		if !(p > 0) {
			return 0, false
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
		t := c / p
		t2 := t / p
		if r != 0 && d0 != 0 {
			b0 += t * d0
			td := t2 * d0
			h00 -= td * d0
			h01 -= td * d1
			h02 -= td * d2
		}
		if r != 1 && d1 != 0 {
			b1 += t * d1
			td := t2 * d1
			h11 -= td * d1
			h12 -= td * d2
		}
		if r != 2 && d2 != 0 {
			b2 += t * d2
			td := t2 * d2
			h22 -= td * d2
		}
		if i&255 == 255 {
			g0 += b0
			g1 += b1
			g2 += b2
			b0, b1, b2 = 0, 0, 0
		}
	}
	f.g[0], f.g[1], f.g[2] = g0, g1, g2
	f.blk[0], f.blk[1], f.blk[2] = b0, b1, b2
	h := (*[9]float64)(f.h)
	*h = [9]float64{h00, h01, h02, 0, h11, h12, 0, 0, h22}
	return endLogLik(llsum, prod), true
}

// logLik3 is logLik for K = 3.
func (f *Fitter) logLik3(w []float64) float64 {
	r := f.ref
	w0, w1, w2 := w[0], w[1], w[2]
	n := len(f.c)
	lik, diff := f.lik[:3*n], f.diff[:3*n]
	llsum, prod := 0.0, 1.0
	for i, c := range f.c {
		d := (*[3]float64)(diff[3*i:])
		p := lik[3*i+r] // density
		p += w0 * d[0]
		p += w1 * d[1]
		p += w2 * d[2]
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

// accumulate3 is the pass over the table of accumulate for K = 3 free
// weights and no learned parameters (two coordinates): it adds the
// information's upper triangle, times N, to u.info.
func (u *Uncertainty) accumulate3(lik, diff, c []float64) error {
	r := u.ref
	w0, w1, w2 := u.w[0], u.w[1], u.w[2]
	// The components of coordinates 0 and 1.
	ja, jb := 0, 1
	switch r {
	case 0:
		ja, jb = 1, 2
	case 1:
		jb = 2
	}
	var i00, i01, i11 float64
	n := len(c)
	lik, diff = lik[:3*n], diff[:3*n]
	for i, c := range c {
		d := (*[3]float64)(diff[3*i:])
		p := lik[3*i+r]
		p += w0 * d[0]
		p += w1 * d[1]
		p += w2 * d[2]
		if !(p > 0) {
			return fmt.Errorf("em: observation %d has zero density at the weights; they are not a maximum", u.row(i))
		}
		g0, g1 := d[ja]/p, d[jb]/p
		if ga := c * g0; ga != 0 {
			i00 += ga * g0
			i01 += ga * g1
		}
		if gb := c * g1; gb != 0 {
			i11 += gb * g1
		}
	}
	u.info[0], u.info[1], u.info[3] = i00, i01, i11
	return nil
}

// diffRows3 is diffRow with free nil for every row of a table of K = 3:
// d_j = f_j - f_r, d_r = 0.
func diffRows3(diff, lik, lg []float64, r int) {
	n := len(lik) / 3
	diff, lg = diff[:3*n], lg[:3*n]
	for i := 0; i < 3*n; i += 3 {
		l, g, d := (*[3]float64)(lik[i:]), (*[3]float64)(lg[i:]), (*[3]float64)(diff[i:])
		lr, fr := g[r], l[r]
		for j := range 3 {
			lj := g[j]
			switch {
			case j == r:
				d[j] = 0
			case math.Abs(lj-lr) >= 0.5 && lj > math.Inf(-1):
				// densityDiff's common case, as in diffRow.
				d[j] = l[j] - fr
			default:
				d[j] = densityDiff(lj, l[j], lr, fr)
			}
		}
	}
}
