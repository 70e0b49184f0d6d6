package em_test

import (
	"math"
	"slices"
)

// Generators and reference computations for the learn tests. The bag
// generators are reproduced exactly in testdata/learn_golden.py, which
// computed the scikit-learn golden values.

// splitmix is SplitMix64 (Steele, Lea and Flood 2014).
type splitmix struct{ s uint64 }

func (g *splitmix) next() uint64 {
	g.s += 0x9e3779b97f4a7c15
	z := g.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// unif returns a uniform draw in [0, 1).
func (g *splitmix) unif() float64 { return float64(g.next()>>11) * 0x1p-53 }

// norm returns a standard normal draw (Box-Muller, cosine branch).
func (g *splitmix) norm() float64 {
	u1 := 1 - g.unif()
	u2 := g.unif()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// quantise rounds x to a multiple of 1e-6 (half up), so that the last-bit
// differences between Go's and C's log and cos vanish.
func quantise(x float64) float64 { return math.Floor(x*1e6+0.5) / 1e6 }

// gaussBag returns bag b of the scikit-learn comparison: n values from a
// mixture of 3 Gaussians with means uniform in [-6, 6), sds in [0.3, 2)
// and weights ∝ 0.15 + U(0,1).
func gaussBag(b, n int) []float64 {
	g := splitmix{s: uint64(b)*1000003 + 17}
	var mean, sd, w [3]float64
	sum := 0.0
	for j := range 3 {
		mean[j] = -6 + 12*g.unif()
		sd[j] = 0.3 + 1.7*g.unif()
		w[j] = 0.15 + g.unif()
		sum += w[j]
	}
	xs := make([]float64, n)
	for i := range xs {
		u := g.unif() * sum
		j := 0
		for j < 2 && u >= w[j] {
			u -= w[j]
			j++
		}
		xs[i] = quantise(mean[j] + sd[j]*g.norm())
	}
	return xs
}

// mvnBag returns bag b of the multivariate comparison: n rows of dimension
// d from a mixture of k Gaussians with means uniform in [-4, 4)^d and
// covariances A Aᵀ, A with entries uniform in [-1, 1) plus 0.3 on the
// diagonal; weights ∝ 0.3 + U(0,1).
func mvnBag(b, n, d, k int) []float64 {
	g := splitmix{s: uint64(b)*7919 + 101}
	means := make([]float64, k*d)
	chol := make([]float64, k*d*d)
	w := make([]float64, k)
	sum := 0.0
	for j := range k {
		for a := range d {
			means[j*d+a] = -4 + 8*g.unif()
		}
		for a := range d {
			for c := range d {
				chol[j*d*d+a*d+c] = -1 + 2*g.unif()
			}
			chol[j*d*d+a*d+a] += 0.3
		}
		w[j] = 0.3 + g.unif()
		sum += w[j]
	}
	xs := make([]float64, n*d)
	z := make([]float64, d)
	for i := range n {
		u := g.unif() * sum
		j := 0
		for j < k-1 && u >= w[j] {
			u -= w[j]
			j++
		}
		for a := range z {
			z[a] = g.norm()
		}
		for a := range d {
			v := means[j*d+a]
			for c := range d {
				v += chol[j*d*d+a*d+c] * z[c]
			}
			xs[i*d+a] = quantise(v)
		}
	}
	return xs
}

// gaussMixLogLik is sum_i c_i log sum_k w_k N(x_i; mean_k, sd_k), written
// out independently of package em.
func gaussMixLogLik(xs, counts, w, mean, sd []float64) float64 {
	ll := 0.0
	lt := make([]float64, len(w))
	for i, x := range xs {
		c := 1.0
		if counts != nil {
			c = counts[i]
		}
		for j := range w {
			lt[j] = math.Log(w[j]) + normalLogPDF(x, mean[j], sd[j])
		}
		ll += c * logSumExp(lt)
	}
	return ll
}

func logSumExp(v []float64) float64 {
	m := slices.Max(v)
	if math.IsInf(m, -1) {
		return m
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

func meanSD(xs, counts []float64) (mean, sd float64) {
	n, s := 0.0, 0.0
	for i, x := range xs {
		n += counts[i]
		s += counts[i] * x
	}
	mean = s / n
	v := 0.0
	for i, x := range xs {
		v += counts[i] * (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(v / n)
}

func ones(n int) []float64 {
	c := make([]float64, n)
	for i := range c {
		c[i] = 1
	}
	return c
}
