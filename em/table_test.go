package em_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixbatch/mixbatch/em"
	"gonum.org/v1/gonum/stat/distuv"
)

// columnNormal is a Normal that is an em.ColumnLogProber and counts its
// LogProbs calls.
type columnNormal struct {
	distuv.Normal
	calls *int
}

func (c columnNormal) LogProbs(dst []float64, stride int, xs []float64) {
	*c.calls++
	for i, x := range xs {
		dst[i*stride] = c.LogProb(x)
	}
}

// TestTableColumns: Table fills the table column by column when every
// component is a ColumnLogProber, value by value when one is not, and the
// two give the same table, row-major, entry for entry, the value-by-value
// one computed here from LogProb.
func TestTableColumns(t *testing.T) {
	rnd := rand.New(rand.NewPCG(21, 22))
	for trial := range 50 {
		k := 1 + rnd.IntN(5)
		n := rnd.IntN(40)
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = 50 * rnd.NormFloat64()
		}
		calls := 0
		cols := make([]em.LogProber, k)
		mixed := make([]em.LogProber, k)
		for j := range k {
			d := distuv.Normal{Mu: 10 * rnd.NormFloat64(), Sigma: 0.1 + 10*rnd.Float64()}
			cols[j] = columnNormal{d, &calls}
			mixed[j] = cols[j]
			if j == k-1 {
				mixed[j] = d
			}
		}
		want := make([]float64, n*k)
		for i, x := range xs {
			for j, c := range cols {
				want[i*k+j] = c.LogProb(x)
			}
		}
		got := em.Table(make([]float64, 3), xs, cols)
		if n > 0 && calls != k {
			t.Fatalf("trial %d: %d LogProbs calls for %d components", trial, calls, k)
		}
		calls = 0
		gotMixed := em.Table(nil, xs, mixed)
		if calls != 0 {
			t.Fatalf("trial %d: LogProbs called with a component that is not a ColumnLogProber", trial)
		}
		for i := range want {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) || math.Float64bits(gotMixed[i]) != math.Float64bits(want[i]) {
				t.Fatalf("trial %d entry %d: by column %v, by value %v, want %v", trial, i, got[i], gotMixed[i], want[i])
			}
		}
		if len(got) != n*k || len(gotMixed) != n*k {
			t.Fatalf("trial %d: table lengths %d and %d, want %d", trial, len(got), len(gotMixed), n*k)
		}
	}
}
