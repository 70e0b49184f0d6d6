package em

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// mvnWork holds the MultiGaussian buffers: the upper Cholesky factor U of
// each component's covariance (Σ = UᵀU), R = U⁻¹, and n×K work space.
//
// The factorisations are LAPACK's (gonum's Dpotrf and Dtrtri) on buffers
// owned here, so that an E-step allocates nothing: mat.Cholesky and
// TriDense.InverseTri compute the same factors, bit for bit, but also
// condition numbers that are not used here, with pooled work slices that
// allocate on every call.
type mvnWork struct {
	u      []float64 // K×D×D: the factors U, upper triangles (row-major, strict lower triangles zero)
	fac    []float64 // D×D: a factorisation in progress
	logdet []float64
	isd    []float64 // K×D inverse standard deviations (diag, spherical)
	r      []float64 // K×D×D: the upper triangles of the R
	ut     []float64 // D×D: Uᵀ (lower triangular) when unpacking
	outer  []float64 // D×D: UᵀU (upper triangle) when unpacking
	t      []float64 // n×K
	c      []float64 // D scratch
}

func (w *mvnWork) init(k, d int) {
	w.u = make([]float64, k*d*d)
	w.fac = make([]float64, d*d)
	w.logdet = make([]float64, k)
	w.isd = make([]float64, k*d)
	w.c = make([]float64, d*d)
	w.r = make([]float64, k*d*d)
	w.ut = make([]float64, d*d)
	w.outer = make([]float64, d*d)
}

// factor computes the Cholesky factorisation of the D×D matrix cov (its
// upper triangle) into component j's slot, reporting whether cov is
// positive definite; if not, the slot keeps its previous factor.
func (w *mvnWork) factor(j int, cov []float64, d int) bool {
	ld, ok := cholUpper(w.fac, cov, d)
	if !ok {
		return false
	}
	u := w.u[j*d*d : (j+1)*d*d]
	for a := range d {
		copy(u[a*d+a:(a+1)*d], w.fac[a*d+a:(a+1)*d])
	}
	w.logdet[j] = ld
	return true
}

// cholUpper writes the upper Cholesky factor U of the d×d symmetric matrix
// whose upper triangle is in cov (row-major) to the upper triangle of dst
// (d×d; its strict lower triangle is not touched), and returns log det =
// 2 sum log U_aa and whether cov is positive definite. The factor and the
// determinant are those of mat.Cholesky (Factorize, UTo, LogDet).
func cholUpper(dst, cov []float64, d int) (float64, bool) {
	for a := range d {
		copy(dst[a*d+a:(a+1)*d], cov[a*d+a:(a+1)*d])
	}
	if _, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Upper, N: d, Stride: d, Data: dst[:d*d]}); !ok {
		return 0, false
	}
	var ld float64
	for a := range d {
		ld += 2 * math.Log(dst[a*d+a])
	}
	return ld, true
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
			// R = U⁻¹ in place of a copy of U. Dtrtri fails only for a zero
			// on the diagonal, which a successful Cholesky factorisation
			// never leaves (TriDense.InverseTri, used before, left the copy
			// of U there too, with an error that was ignored).
			u, r := w.u[j*d*d:(j+1)*d*d], w.r[j*d*d:(j+1)*d*d]
			for a := range d {
				copy(r[a*d+a:(a+1)*d], u[a*d+a:(a+1)*d])
			}
			lapack64.Trtri(blas64.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: d, Stride: d, Data: r})
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

// outerUT sets the upper triangle of w.outer to UᵀU for the upper
// triangular U in w.ut's transpose, as mat.SymDense.SymOuterK(1, U.T())
// computes it (BLAS Dsyrk on Uᵀ).
func (w *mvnWork) outerUT(d int) {
	for a := range d {
		clear(w.outer[a*d+a : (a+1)*d])
	}
	blas64.Syrk(blas.NoTrans, 1, blas64.General{Rows: d, Cols: d, Stride: d, Data: w.ut[:d*d]},
		1, blas64.Symmetric{Uplo: blas.Upper, N: d, Stride: d, Data: w.outer[:d*d]})
}

// estepMVN is the MultiGaussian E-step; l.mvn.prepare must have been
// called for p. With Σ_k = UᵀU and R = U⁻¹ (both from gonum), the
// Mahalanobis distance of a row x is |Rᵀ(x - μ_k)|²; R is applied row by
// row (for the small dimensions of mixtures a loop over the triangle is
// several times faster than BLAS calls per row).
func (l *Learner) estepMVN(st *Stats, p *Params) (ll float64, zero bool) {
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
			return math.Inf(-1), true
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
	return acc.value() + l.konst, false
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
