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
// seeded random components and values.
func TestNormalLogProbs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(31, 32))
	for trial := range 200 {
		mu, sigma := 100*rnd.NormFloat64(), math.Exp(4*rnd.NormFloat64())
		n := newNormal(mu, sigma)
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
			if want := ref.LogProb(x); math.Abs(dst[i]-want) > 1e-13*math.Max(1, math.Abs(want)) {
				t.Fatalf("trial %d: LogProb(%v) = %v, gonum %v", trial, x, dst[i], want)
			}
		}
	}
}
