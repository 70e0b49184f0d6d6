package em

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// symEig computes eigendecompositions of small symmetric matrices with
// LAPACK's Dsyev (gonum's), bag after bag, without allocating once its
// work space has grown: the results are those of mat.EigenSym.Factorize,
// bit for bit (the same routine on the same upper triangle with the same
// work length), but mat.EigenSym allocates a copy of the matrix, the
// eigenvalues, the eigenvector matrix and a pooled work slice on every
// call, which the E-step loops of Fit, Learn and the standard errors
// cannot afford.
type symEig struct {
	n     int // dimension of the last workspace query, 0 before the first
	lwork int // Dsyev's optimal work length for n
	work  []float64
}

// factorize overwrites the n×n row-major matrix a, whose upper triangle
// holds a symmetric matrix (the strict lower triangle is not read), with
// its eigenvectors (column i of a is the eigenvector of vals[i]) and
// writes its eigenvalues in ascending order to vals (length n). It reports
// whether Dsyev converged.
func (e *symEig) factorize(a []float64, n int, vals []float64) bool {
	if n == 1 {
		// Dsyev's own path for n = 1, without its workspace query.
		vals[0] = a[0]
		a[0] = 1
		return true
	}
	if n == 2 && syev2(a, vals) {
		return true
	}
	sym := blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: a[:n*n]}
	if n != e.n {
		// The optimal work length depends on n alone.
		e.work = grow(e.work, max(1, len(e.work)))
		lapack64.Syev(lapack.EVCompute, sym, vals, e.work, -1)
		e.n, e.lwork = n, int(e.work[0])
	}
	e.work = grow(e.work, e.lwork)
	return lapack64.Syev(lapack.EVCompute, sym, vals, e.work, e.lwork)
}

// Machine constants of gonum's LAPACK (lapack/gonum: dlamchE, dlamchP,
// dlamchS) and the thresholds that Dsyev and Dsteqr derive from them.
const (
	lapackEps    = 0x1p-53 // dlamchE
	lapackPrec   = 0x1p-52 // dlamchP
	lapackSafmin = 0x1p-1022
)

var (
	// Dsyev scales a matrix whose largest entry is outside [syevRmin,
	// syevRmax]; Dsteqr one outside [steqrMin, steqrMax].
	syevRmin = math.Sqrt(lapackSafmin / lapackPrec)
	syevRmax = math.Sqrt(1 / (lapackSafmin / lapackPrec))
	steqrMax = math.Sqrt(1/lapackSafmin) / 3
	steqrMin = math.Sqrt(lapackSafmin) / (lapackEps * lapackEps)
)

// syev2 is Dsyev (jobz EVCompute, uplo Upper) for a 2×2 matrix, bit for
// bit, on the path that every finite matrix whose largest entry is within
// LAPACK's unscaled range takes: Dsytrd leaves a 2×2 matrix as it is (its
// reflector has tau = 0), so Dorgtr yields Q = I, and Dsteqr either splits
// the off-diagonal entry off as negligible or rotates by Dlaev2's
// eigenvector, then sorts. The code below follows those routines
// (gonum v0.17.0, lapack/gonum) statement by statement; TestSyev2 checks
// it against mat.EigenSym (Dsyev) bit for bit. It reports false, touching
// nothing, for the other matrices (a NaN or infinity, a zero matrix, an
// entry outside the range), which are left to Dsyev. Through LAPACK a 2×2
// matrix costs about five times as much (140 ns against 30), and it is
// the eigendecomposition of Newton's step and of the standard errors of
// every bag with three components.
func syev2(a, vals []float64) bool {
	d0, e0, d1 := a[0], a[1], a[3]
	// Dlansy (max abs, upper) in Dsyev, and Dlanst (max abs) in Dsteqr:
	// the same largest entry of a NaN-free matrix.
	anrm := math.Max(math.Abs(d0), math.Max(math.Abs(e0), math.Abs(d1)))
	if !(anrm >= syevRmin && anrm <= syevRmax && anrm >= steqrMin && anrm <= steqrMax) {
		return false
	}
	// z = Q = I, written as Dorgtr writes it.
	z00, z01, z10, z11 := 1.0, 0.0, 0.0, 1.0
	const eps, eps2 = lapackEps, lapackEps * lapackEps
	// Dsteqr: the off-diagonal entry negligible before the block is
	// formed?
	split := false
	if test := math.Abs(e0); test == 0 || test <= (math.Sqrt(math.Abs(d0))*math.Sqrt(math.Abs(d1)))*eps {
		split = true
	} else {
		v := math.Abs(e0)
		if math.Abs(d1) < math.Abs(d0) {
			// QR orientation.
			split = v*v <= (eps2*math.Abs(d1)*math.Abs(d0) + lapackSafmin)
		} else {
			// QL orientation.
			split = v*v <= (eps2*math.Abs(d0))*math.Abs(d1)+lapackSafmin
		}
	}
	if !split {
		var c, s float64
		d0, d1, c, s = dlaev2(d0, e0, d1)
		// Dlasr (right, variable pivot) with the one rotation (c, s).
		if c != 1 || s != 0 {
			tmp, tmp2 := z01, z00
			z01 = c*tmp - s*tmp2
			z00 = s*tmp + c*tmp2
			tmp, tmp2 = z11, z10
			z11 = c*tmp - s*tmp2
			z10 = s*tmp + c*tmp2
		}
	}
	// Selection sort, swapping the eigenvector columns.
	if d1 < d0 {
		d0, d1 = d1, d0
		z00, z01 = z01, z00
		z10, z11 = z11, z10
	}
	vals[0], vals[1] = d0, d1
	a[0], a[1], a[2], a[3] = z00, z01, z10, z11
	return true
}

// dlaev2 is LAPACK's Dlaev2 (gonum v0.17.0, statement by statement): the
// eigendecomposition of the symmetric 2×2 matrix [[a, b], [b, c]],
// eigenvalues rt1 (larger in absolute value) and rt2, and the unit
// eigenvector (cs1, sn1) of rt1.
func dlaev2(a, b, c float64) (rt1, rt2, cs1, sn1 float64) {
	sm := a + c
	df := a - c
	adf := math.Abs(df)
	tb := b + b
	ab := math.Abs(tb)
	acmx := c
	acmn := a
	if math.Abs(a) > math.Abs(c) {
		acmx = a
		acmn = c
	}
	var rt float64
	if adf > ab {
		rt = adf * math.Sqrt(1+(ab/adf)*(ab/adf))
	} else if adf < ab {
		rt = ab * math.Sqrt(1+(adf/ab)*(adf/ab))
	} else {
		rt = ab * math.Sqrt(2)
	}
	var sgn1 float64
	if sm < 0 {
		rt1 = 0.5 * (sm - rt)
		sgn1 = -1
		rt2 = (acmx/rt1)*acmn - (b/rt1)*b
	} else if sm > 0 {
		rt1 = 0.5 * (sm + rt)
		sgn1 = 1
		rt2 = (acmx/rt1)*acmn - (b/rt1)*b
	} else {
		rt1 = 0.5 * rt
		rt2 = -0.5 * rt
		sgn1 = 1
	}
	var cs, sgn2 float64
	if df >= 0 {
		cs = df + rt
		sgn2 = 1
	} else {
		cs = df - rt
		sgn2 = -1
	}
	acs := math.Abs(cs)
	if acs > ab {
		ct := -tb / cs
		sn1 = 1 / math.Sqrt(1+ct*ct)
		cs1 = ct * sn1
	} else {
		if ab == 0 {
			cs1 = 1
			sn1 = 0
		} else {
			tn := -cs / tb
			cs1 = 1 / math.Sqrt(1+tn*tn)
			sn1 = tn * cs1
		}
	}
	if sgn1 == sgn2 {
		tn := cs1
		cs1 = -sn1
		sn1 = tn
	}
	return rt1, rt2, cs1, sn1
}
