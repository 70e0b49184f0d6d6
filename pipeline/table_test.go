package pipeline

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestNormalTable checks model.table against em.Table through the
// LogProber interface, bit for bit, on seeded random normal components and
// values, extremes included: the specialised loop must change no result.
func TestNormalTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	extremes := []float64{0, -0.0, 1e-300, -1e300, 1e308, math.Inf(1), math.Inf(-1), math.NaN(), math.SmallestNonzeroFloat64}
	for trial := range 200 {
		m := &model{}
		for range 1 + rng.IntN(10) { // more than 8: em.Table itself
			m.comps = append(m.comps, newNormal(rng.NormFloat64()*100, math.Exp(rng.NormFloat64()*3)))
		}
		xs := make([]float64, rng.IntN(300))
		for i := range xs {
			if rng.IntN(20) == 0 {
				xs[i] = extremes[rng.IntN(len(extremes))]
			} else {
				xs[i] = rng.NormFloat64() * 200
			}
		}
		got := m.table(nil, xs)
		want := em.Table(nil, xs, m.comps)
		if len(got) != len(want) {
			t.Fatalf("trial %d: %d entries, want %d", trial, len(got), len(want))
		}
		for i := range got {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Fatalf("trial %d: entry %d (x = %v): %v, em.Table %v", trial, i, xs[i/len(m.comps)], got[i], want[i])
			}
		}
	}
}
