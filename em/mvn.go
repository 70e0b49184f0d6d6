package em

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// mvnWork holds the MultiGaussian buffers: a Cholesky factorisation per
// component (Σ = UᵀU), and n×D and n×K work matrices.
type mvnWork struct {
	chol   []mat.Cholesky
	u      []*mat.TriDense
	sym    mat.SymDense  // wraps a covariance to factor it
	outer  *mat.SymDense // UᵀU when unpacking
	logdet []float64
	isd    []float64     // K×D inverse standard deviations (diag, spherical)
	rinv   *mat.TriDense // R = U⁻¹ of one component
	r      []float64     // K×D×D: the upper triangles of the R
	t      []float64     // n×K
	c      []float64     // D scratch
}

func (w *mvnWork) init(k, d int) {
	w.chol = make([]mat.Cholesky, k)
	w.u = make([]*mat.TriDense, k)
	for j := range w.u {
		w.u[j] = mat.NewTriDense(d, mat.Upper, nil)
	}
	w.outer = mat.NewSymDense(d, nil)
	w.logdet = make([]float64, k)
	w.isd = make([]float64, k*d)
	w.c = make([]float64, d*d)
	w.rinv = mat.NewTriDense(d, mat.Upper, nil)
	w.r = make([]float64, k*d*d)
}

// factor computes the Cholesky factorisation of the D×D matrix cov into
// component j's slot, reporting whether cov is positive definite.
func (w *mvnWork) factor(j int, cov []float64, d int) bool {
	w.sym.SetRawSymmetric(blas64.Symmetric{Uplo: blas.Upper, N: d, Stride: d, Data: cov})
	if !w.chol[j].Factorize(&w.sym) {
		return false
	}
	w.chol[j].UTo(w.u[j])
	w.logdet[j] = w.chol[j].LogDet()
	return true
}

// prepare factors the covariance matrices of p's components of positive
// weight.
func (w *mvnWork) prepare(p *Params, m Model) error {
	d := m.Dim
	for j := range m.K {
		if !(p.Weights[j] > 0) {
			continue
		}
		cov := p.Cov[j*d*d : (j+1)*d*d]
		if m.Covariance == CovFull {
			if !w.factor(j, cov, d) {
				return &SingularCovarianceError{Component: j, RegCovar: m.RegCovar}
			}
			if err := w.rinv.InverseTri(w.u[j]); err != nil {
				var c mat.Condition
				if !errors.As(err, &c) {
					return &SingularCovarianceError{Component: j, RegCovar: m.RegCovar}
				}
			}
			raw := w.rinv.RawTriangular()
			r := w.r[j*d*d : (j+1)*d*d]
			for a := range d {
				copy(r[a*d+a:(a+1)*d], raw.Data[a*raw.Stride+a:a*raw.Stride+d])
			}
			continue
		}
		ld := 0.0
		for a := range d {
			v := cov[a*d+a]
			if !(v > 0) {
				return &SingularCovarianceError{Component: j, RegCovar: m.RegCovar}
			}
			w.isd[j*d+a] = 1 / math.Sqrt(v)
			ld += math.Log(v)
		}
		w.logdet[j] = ld
	}
	return nil
}

// estepMVN is the MultiGaussian E-step; l.mvn.prepare must have been
// called for p. With Σ_k = UᵀU and R = U⁻¹ (both from gonum), the
// Mahalanobis distance of a row x is |Rᵀ(x - μ_k)|²; R is applied row by
// row (for the small dimensions of mixtures a loop over the triangle is
// several times faster than BLAS calls per row).
func (l *Learner) estepMVN(st *Stats, p *Params) float64 {
	k, d := l.m.K, l.m.Dim
	n := len(l.c)
	w := &l.mvn
	w.t = grow(w.t, n*k)
	t := w.t
	full := l.m.Covariance == CovFull
	y := w.c[:d]
	for j := range k {
		wj := p.Weights[j]
		if !(wj > 0) {
			for i := range n {
				t[i*k+j] = math.Inf(-1)
			}
			continue
		}
		mu := p.Mean[j*d : (j+1)*d]
		r := w.r[j*d*d : (j+1)*d*d]
		isd := w.isd[j*d : (j+1)*d]
		alpha := math.Log(wj) - 0.5*w.logdet[j]
		for i := range n {
			x := l.x[i*d : (i+1)*d]
			q := 0.0
			if full {
				for a := range d {
					y[a] = x[a] - mu[a]
				}
				// (Rᵀy)_a = sum_{b<=a} R_ba y_b
				for a := range d {
					v := 0.0
					for b := 0; b <= a; b++ {
						v += r[b*d+a] * y[b]
					}
					q += v * v
				}
			} else {
				for a := range d {
					v := (x[a] - mu[a]) * isd[a]
					q += v * v
				}
			}
			t[i*k+j] = alpha - 0.5*q
		}
	}
	// Responsibilities times counts, in place of the log-densities.
	acc := llAcc{prod: 1}
	for i, c := range l.c {
		row := t[i*k : (i+1)*k]
		m := math.Inf(-1)
		for _, v := range row {
			if v > m {
				m = v
			}
		}
		if math.IsInf(m, -1) || math.IsNaN(m) {
			return math.Inf(-1)
		}
		s := 0.0
		for j, v := range row {
			e := expNeg(v - m)
			row[j] = e
			s += e
		}
		acc.add(c, m, s)
		inv := c / s
		for j := range row {
			row[j] *= inv
		}
	}
	// Sums centred at the means: N_k, sum r y, sum r y yᵀ (the upper
	// triangle, then mirrored; only the diagonal for diag and spherical).
	for j := range k {
		mu := p.Mean[j*d : (j+1)*d]
		copy(st.shift[j*d:(j+1)*d], mu)
		if !(p.Weights[j] > 0) {
			continue
		}
		s1, s2 := st.s1[j*d:(j+1)*d], st.s2[j*d*d:(j+1)*d*d]
		nj := 0.0
		for i := range n {
			r := t[i*k+j]
			if r == 0 {
				continue
			}
			x := l.x[i*d : (i+1)*d]
			nj += r
			for a := range d {
				y[a] = x[a] - mu[a]
				s1[a] += r * y[a]
			}
			if full {
				for a := range d {
					ra := r * y[a]
					for b := a; b < d; b++ {
						s2[a*d+b] += ra * y[b]
					}
				}
			} else {
				for a := range d {
					s2[a*d+a] += r * y[a] * y[a]
				}
			}
		}
		st.n[j] = nj
		if full {
			for a := range d {
				for b := range a {
					s2[a*d+b] = s2[b*d+a]
				}
			}
		}
	}
	return acc.value() + l.konst
}

// mstep sets component j's learned mean and covariance from st.
func (w *mvnWork) mstep(p *Params, st *Stats, j int, learn LearnSet, m Model) error {
	d := m.Dim
	nj := st.n[j]
	sh, s1, s2 := st.shift[j*d:(j+1)*d], st.s1[j*d:(j+1)*d], st.s2[j*d*d:(j+1)*d*d]
	mean := p.Mean[j*d : (j+1)*d]
	if learn.Has(LearnMean) {
		for a := range d {
			mean[a] = sh[a] + s1[a]/nj
		}
	}
	if !learn.Has(LearnCov) {
		return nil
	}
	// Scatter about the mean: with y = x - sh, e = mean - sh, g = s1/N:
	// sum r (y-e)(y-e)ᵀ / N = S2/N - e gᵀ - g eᵀ + e eᵀ.
	cov := p.Cov[j*d*d : (j+1)*d*d]
	reg := m.RegCovar
	switch m.Covariance {
	case CovFull:
		for a := range d {
			ea, ga := mean[a]-sh[a], s1[a]/nj
			for b := a; b < d; b++ {
				eb, gb := mean[b]-sh[b], s1[b]/nj
				v := s2[a*d+b]/nj - ea*gb - ga*eb + ea*eb
				cov[a*d+b], cov[b*d+a] = v, v
			}
			cov[a*d+a] += reg
		}
		if !w.factor(j, cov, d) {
			return &SingularCovarianceError{Component: j, RegCovar: reg}
		}
	default:
		clear(cov)
		avg := 0.0
		for a := range d {
			ea, ga := mean[a]-sh[a], s1[a]/nj
			v := math.Max(s2[a*d+a]/nj-2*ea*ga+ea*ea, 0) + reg
			cov[a*d+a] = v
			avg += v
		}
		if m.Covariance == CovSpherical {
			avg /= float64(d)
			for a := range d {
				cov[a*d+a] = avg
			}
		}
	}
	return nil
}
