package em

import (
	"math"
	"testing"
)

// TestAitken: for a sequence converging exactly linearly, l_k = L - C a^k,
// Aitken's extrapolation is exact (closed form): from l0, l1, l2 the limit
// L is (l2-l1)/(1-a) = C a above l1. aitken must certify exactly when C·a
// <= tol·|l2|, whatever the step gains. The old rule (the step gain
// l1 - l0 = C(1-a) <= tol·|l1|) accepted the slow cases below, where a
// step gains 1e-8 and the limit is 1e-2 away.
func TestAitken(t *testing.T) {
	const L, tol = -1000.0, 1e-10
	for _, c := range []struct {
		C, a float64
		want bool
	}{
		{1e-2, 1 - 1e-6, false}, // gains 1e-8 per step, 1e-2 to go
		{1e-5, 0.5, false},      // fast, but 5e-6 to go
		{1e-7, 0.5, true},       // 5e-8 to go: below tol·|L| = 1e-7
		{1e-4, 1e-4, true},      // 1e-8 to go
		{0, 0.5, true},          // at the limit: steps gain nothing
	} {
		l0, l1, l2 := L-c.C, L-c.C*c.a, L-c.C*c.a*c.a
		if got := aitken(l0, l1, l2, tol); got != c.want {
			t.Errorf("C %g a %g: aitken %v, want %v", c.C, c.a, got, c.want)
		}
	}
	if aitken(-1, -1, math.NaN(), tol) {
		t.Error("NaN certified")
	}
}
