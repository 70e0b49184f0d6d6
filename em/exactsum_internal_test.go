package em

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestExactSum: exactSum.sum is the correctly rounded sum of non-negative
// float64s, compared with math/big's exact sum rounded to nearest even
// (big.Float at 4096 bits holds any sum of a few hundred float64s
// exactly; Float64 rounds it). Seeded random inputs whose magnitudes span
// 2^-1000 to 2^1000, runs of values that cancel nothing but round at
// every step (1 + many tiny), ties (1, 2^-53) that must round to even,
// and an overflow, which is +Inf. Exact comparison: the sum must be the
// same float64.
func TestExactSum(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 9))
	var e exactSum
	check := func(xs []float64) {
		t.Helper()
		acc := new(big.Float).SetPrec(4096)
		for _, x := range xs {
			acc.Add(acc, new(big.Float).SetPrec(4096).SetFloat64(x))
		}
		want, _ := acc.Float64()
		if got := e.sum(xs); got != want {
			t.Errorf("sum of %d values (%v...): %v, want %v", len(xs), xs[:min(len(xs), 4)], got, want)
		}
	}
	for range 2000 {
		n := 1 + rnd.IntN(60)
		xs := make([]float64, n)
		spread := []int{1, 10, 100, 1000}[rnd.IntN(4)]
		for i := range xs {
			xs[i] = math.Ldexp(1+rnd.Float64(), rnd.IntN(2*spread+1)-spread)
		}
		check(xs)
	}
	tiny := []float64{1}
	for range 1000 {
		tiny = append(tiny, 0x1p-60)
	}
	check(tiny)
	check([]float64{1, 0x1p-53})           // a tie: rounds to even, 1
	check([]float64{1 + 0x1p-52, 0x1p-53}) // a tie: rounds to even, 1 + 2^-51
	check([]float64{1, 0x1p-53, 0x1p-106}) // just above the tie
	check([]float64{0x1p-53, 1, 0x1p-106, 0, 0x1p-160})
	check([]float64{0, 0, 0})
	if got := e.sum([]float64{math.MaxFloat64, math.MaxFloat64}); !math.IsInf(got, 1) {
		t.Errorf("overflow: %v, want +Inf", got)
	}
	if got := e.sum(nil); got != 0 {
		t.Errorf("empty: %v, want 0", got)
	}
}
