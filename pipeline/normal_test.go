package pipeline

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// TestNormalLogProbs: normal.LogProbs writes LogProb's bits at every
// stride-th slot and nothing between, and LogProb agrees with gonum's
// distuv.Normal (an independent implementation) to 1e-13 relative, on
// seeded random components and values; a subnormal sd, whose reciprocal
// overflows, gets the closed form -log(sd) - log(2π)/2 at the mean.
func TestNormalLogProbs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(31, 32))
	for trial := range 200 {
		mu, sigma := 100*rnd.NormFloat64(), math.Exp(4*rnd.NormFloat64())
		if trial%10 == 0 {
			sigma = 1e-310 // subnormal: 1/sd overflows, the score divides
		}
		n := newNormal(mu, sigma)
		if at := n.LogProb(mu); math.Abs(at-(-math.Log(sigma)-0.5*math.Log(2*math.Pi))) > 1e-13*math.Abs(at) {
			t.Fatalf("trial %d: LogProb at the mean %v, want -log(sd) - log(2π)/2", trial, at)
		}
		ref := distuv.Normal{Mu: mu, Sigma: sigma}
		xs := make([]float64, rnd.IntN(50))
		for i := range xs {
			xs[i] = mu + sigma*5*rnd.NormFloat64()
		}
		stride := 1 + rnd.IntN(4)
		dst := make([]float64, len(xs)*stride+2)
		for i := range dst {
			dst[i] = -1234.5
		}
		n.LogProbs(dst, stride, xs)
		for i := range dst {
			if i%stride != 0 || i/stride >= len(xs) {
				if dst[i] != -1234.5 {
					t.Fatalf("trial %d: LogProbs wrote slot %d, not one of its stride %d", trial, i, stride)
				}
				continue
			}
			x := xs[i/stride]
			if want := n.LogProb(x); math.Float64bits(dst[i]) != math.Float64bits(want) {
				t.Fatalf("trial %d: LogProbs(%v) = %v, LogProb %v", trial, x, dst[i], want)
			}
			if want := ref.LogProb(x); sigma > 1e-300 && math.Abs(dst[i]-want) > 1e-13*math.Max(1, math.Abs(want)) {
				t.Fatalf("trial %d: LogProb(%v) = %v, gonum %v", trial, x, dst[i], want)
			}
		}
	}
}
