package em

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// MultiNormal is the density of one MultiGaussian component, for readers
// of learned parameters (posteriors of rows under a bag's components). It
// works as the E-step does: the covariance is factored once by Cholesky,
// Σ = UᵀU, and each point's Mahalanobis distance is the squared norm of
// the solution z of Uᵀz = x - mean. The zero value has no parameters; Set
// gives them. A MultiNormal holds scratch space, so one value must not be
// used by two goroutines at once; after the first Set of a dimension it
// allocates nothing.
type MultiNormal struct {
	d      int
	mean   []float64
	u      []float64 // d×d: the upper Cholesky factor U in the upper triangle (row-major)
	logdet float64
	z      []float64
}

// Set makes n the Gaussian with the given mean vector (length d) and
// covariance matrix (d×d, row-major, both triangles, as Params.Cov holds
// it). It reports false, leaving n without parameters, when cov is not
// positive definite. It panics if len(cov) is not len(mean)².
func (n *MultiNormal) Set(mean, cov []float64) bool {
	d := len(mean)
	if len(cov) != d*d {
		panic("em: MultiNormal: covariance length is not the square of the mean's")
	}
	n.d = 0
	if d == 0 {
		return false
	}
	n.u = grow(n.u, d*d)
	ld, ok := cholUpper(n.u, cov, d)
	if !ok {
		return false // n.u is scratch until a Set succeeds
	}
	n.logdet = ld
	n.mean = append(n.mean[:0], mean...)
	n.z = grow(n.z, d)
	n.d = d
	return true
}

// Reset removes n's parameters: LogProb is then -Inf everywhere.
func (n *MultiNormal) Reset() { n.d = 0 }

// Dim returns the dimension, 0 when n has no parameters.
func (n *MultiNormal) Dim() int { return n.d }

// LogProb returns the log-density at x, with the normalising constant
// -(d/2) log 2π - (1/2) log det Σ; -Inf when n has no parameters. It
// panics if len(x) is not the dimension of a MultiNormal that has them.
func (n *MultiNormal) LogProb(x []float64) float64 {
	if n.d == 0 {
		return math.Inf(-1)
	}
	if len(x) != n.d {
		panic("em: MultiNormal: point length does not match the dimension")
	}
	z := n.z[:n.d]
	for i, v := range x {
		z[i] = v - n.mean[i]
	}
	// Uᵀz = x - mean: forward substitution with the transposed factor.
	u := blas64.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: n.d, Stride: n.d, Data: n.u[:n.d*n.d]}
	blas64.Trsv(blas.Trans, u, blas64.Vector{N: n.d, Inc: 1, Data: z})
	q := 0.0
	for _, v := range z {
		q += v * v
	}
	return -0.5*(float64(n.d)*math.Log(2*math.Pi)+n.logdet) - 0.5*q
}
