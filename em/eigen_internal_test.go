package em

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// lapackEig is the reference: mat.EigenSym (LAPACK's Dsyev, which the
// Fitter called directly and Uncertainty and Newton's method for Gaussians
// through mat.EigenSym before symEig) on the upper triangle of the n×n
// row-major a. It returns the eigenvalues and the eigenvectors (row-major,
// in columns).
func lapackEig(a []float64, n int) (vals, vecs []float64, ok bool) {
	sym := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			sym.SetSym(i, j, a[i*n+j])
		}
	}
	var e mat.EigenSym
	if !e.Factorize(sym, true) {
		return nil, nil, false
	}
	var v mat.Dense
	e.VectorsTo(&v)
	vecs = make([]float64, n*n)
	for i := range n {
		for j := range n {
			vecs[i*n+j] = v.At(i, j)
		}
	}
	return e.Values(nil), vecs, true
}

// randSym2 draws the upper triangle of a 2×2 symmetric matrix that
// exercises every branch of syev2: magnitudes from 1e-160 to 1e160, signed
// zeros, equal diagonals, off-diagonal entries at Dsteqr's two
// negligibility thresholds, and the occasional NaN or infinity.
func randSym2(rnd *rand.Rand) (a00, a01, a11 float64) {
	val := func() float64 {
		switch rnd.IntN(12) {
		case 0:
			return 0
		case 1:
			return math.Copysign(0, -1)
		case 2:
			return float64(rnd.IntN(5) - 2)
		default:
			return rnd.NormFloat64() * math.Pow(10, float64(rnd.IntN(41)-20))
		}
	}
	a00, a01, a11 = val(), val(), val()
	switch rnd.IntN(10) {
	case 0:
		a11 = a00
	case 1:
		a11 = -a00
	case 2, 3:
		// Near the first split test, |e| <= sqrt|d0| sqrt|d1| eps.
		t := math.Sqrt(math.Abs(a00)) * math.Sqrt(math.Abs(a11)) * 0x1p-53
		a01 = t * (1 + float64(rnd.IntN(5)-2)*0x1p-52)
	case 4, 5:
		// Near the second, |e|² <= eps² |d0| |d1| + safmin.
		t := math.Sqrt(0x1p-106*math.Abs(a00)*math.Abs(a11) + 0x1p-1022)
		a01 = t * (1 + float64(rnd.IntN(5)-2)*0x1p-52)
	case 6:
		scale := math.Pow(10, float64(rnd.IntN(321)-160))
		a00, a01, a11 = a00*scale, a01*scale, a11*scale
	case 7:
		if rnd.IntN(20) == 0 {
			a01 = []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e300, 1e-300}[rnd.IntN(5)]
		}
	}
	if rnd.IntN(2) == 0 {
		a01 = -a01
	}
	return a00, a01, a11
}

// TestSyev2 checks symEig's 2×2 path (syev2, a transcription of the path
// through Dsyev) against mat.EigenSym bit for bit, on matrices that take
// every branch and on those it hands back to LAPACK. The results of Fit,
// WeightStdErrors and Learn depend on these bits.
func TestSyev2(t *testing.T) {
	rnd := rand.New(rand.NewPCG(21, 22))
	n := 500000
	if testing.Short() {
		n = 100000
	}
	var e symEig
	a := make([]float64, 4)
	vals := make([]float64, 2)
	handled := 0
	for i := range n {
		a00, a01, a11 := randSym2(rnd)
		wantVals, wantVecs, wantOK := lapackEig([]float64{a00, a01, 0, a11}, 2)
		// The strict lower triangle is not read.
		a[0], a[1], a[2], a[3] = a00, a01, math.NaN(), a11
		if syev2(append([]float64(nil), a...), make([]float64, 2)) {
			handled++
		}
		ok := e.factorize(a, 2, vals)
		if ok != wantOK {
			t.Fatalf("case %d [[%v %v] [. %v]]: ok %v, LAPACK %v", i, a00, a01, a11, ok, wantOK)
		}
		if !ok {
			continue
		}
		for j := range 2 {
			if math.Float64bits(vals[j]) != math.Float64bits(wantVals[j]) {
				t.Fatalf("case %d [[%v %v] [. %v]]: eigenvalues %v, LAPACK %v", i, a00, a01, a11, vals, wantVals)
			}
		}
		for j := range 4 {
			if math.Float64bits(a[j]) != math.Float64bits(wantVecs[j]) {
				t.Fatalf("case %d [[%v %v] [. %v]]: eigenvectors %v, LAPACK %v", i, a00, a01, a11, a, wantVecs)
			}
		}
	}
	if handled < n*8/10 {
		t.Errorf("syev2 handled %d of %d matrices; the test should exercise it", handled, n)
	}
}

// TestSymEig checks symEig against mat.EigenSym bit for bit for the other
// dimensions (n = 1, and LAPACK with a cached workspace length for n >= 3,
// also when n changes between calls).
func TestSymEig(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	var e symEig
	for i := range 3000 {
		n := 1 + rnd.IntN(6)
		if i%7 == 0 {
			n = 3
		}
		a := make([]float64, n*n)
		for r := range n {
			for c := r; c < n; c++ {
				a[r*n+c] = rnd.NormFloat64()
			}
		}
		wantVals, wantVecs, wantOK := lapackEig(a, n)
		vals := make([]float64, n)
		if ok := e.factorize(a, n, vals); ok != wantOK {
			t.Fatalf("case %d (n %d): ok %v, LAPACK %v", i, n, ok, wantOK)
		}
		for j := range n {
			if math.Float64bits(vals[j]) != math.Float64bits(wantVals[j]) {
				t.Fatalf("case %d (n %d): eigenvalues %v, LAPACK %v", i, n, vals, wantVals)
			}
		}
		for j := range n * n {
			if math.Float64bits(a[j]) != math.Float64bits(wantVecs[j]) {
				t.Fatalf("case %d (n %d): eigenvectors %v, LAPACK %v", i, n, a, wantVecs)
			}
		}
	}
}

// The factorisations of mvnWork and MultiNormal are mat.Cholesky's and
// TriDense.InverseTri's, bit for bit, and so is the outer product UᵀU of
// unpack (SymDense.SymOuterK).
func TestCholeskyAsMat(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	for i := range 2000 {
		d := 1 + rnd.IntN(5)
		// A random covariance B Bᵀ + δI, sometimes singular.
		b := make([]float64, d*d)
		for j := range b {
			b[j] = rnd.NormFloat64()
		}
		cov := make([]float64, d*d)
		for r := range d {
			for c := range d {
				for l := range d {
					cov[r*d+c] += b[r*d+l] * b[c*d+l]
				}
			}
		}
		if i%5 != 0 {
			for r := range d {
				cov[r*d+r] += 1e-3
			}
		} else if d > 1 {
			// Rank deficient.
			for c := range d {
				cov[(d-1)*d+c] = cov[c]
				cov[c*d+d-1] = cov[c]
			}
			cov[(d-1)*d+d-1] = cov[0]
		}
		var chol mat.Cholesky
		wantOK := chol.Factorize(mat.NewSymDense(d, append([]float64(nil), cov...)))
		var w mvnWork
		w.init(1, d)
		ok := w.factor(0, cov, d)
		if ok != wantOK {
			t.Fatalf("case %d: ok %v, mat.Cholesky %v", i, ok, wantOK)
		}
		if !ok {
			continue
		}
		var u, rinv mat.TriDense
		chol.UTo(&u)
		if err := rinv.InverseTri(&u); err != nil {
			if _, cond := err.(mat.Condition); !cond {
				t.Fatal(err)
			}
		}
		if got, want := w.logdet[0], chol.LogDet(); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("case %d: log det %v, mat.Cholesky %v", i, got, want)
		}
		p := Params{Weights: []float64{1}, Cov: cov}
		if err := w.prepare(&p, Model{Family: MultiGaussian, K: 1, Dim: d}); err != nil {
			t.Fatal(err)
		}
		for r := range d {
			for c := r; c < d; c++ {
				if got, want := w.u[r*d+c], u.At(r, c); math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("case %d: U[%d][%d] = %v, mat.Cholesky %v", i, r, c, got, want)
				}
				if got, want := w.r[r*d+c], rinv.At(r, c); math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("case %d: R[%d][%d] = %v, InverseTri %v", i, r, c, got, want)
				}
			}
		}
		// UᵀU.
		for r := range d {
			for c := range d {
				w.ut[r*d+c] = u.At(c, r)
			}
		}
		w.outerUT(d)
		var s mat.SymDense
		s.SymOuterK(1, u.T())
		for r := range d {
			for c := r; c < d; c++ {
				if got, want := w.outer[r*d+c], s.At(r, c); math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("case %d: (UᵀU)[%d][%d] = %v, SymOuterK %v", i, r, c, got, want)
				}
			}
		}
		// MultiNormal.
		var mn MultiNormal
		mean := make([]float64, d)
		if !mn.Set(mean, cov) {
			t.Fatalf("case %d: MultiNormal.Set failed", i)
		}
		x := make([]float64, d)
		for j := range x {
			x[j] = rnd.NormFloat64()
		}
		z := append([]float64(nil), x...)
		blas64.Trsv(blas.Trans, u.RawTriangular(), blas64.Vector{N: d, Inc: 1, Data: z})
		q := 0.0
		for _, v := range z {
			q += v * v
		}
		want := -0.5*(float64(d)*math.Log(2*math.Pi)+chol.LogDet()) - 0.5*q
		if got := mn.LogProb(x); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("case %d: LogProb %v, with mat.Cholesky %v", i, got, want)
		}
	}
}
