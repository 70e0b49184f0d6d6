package report

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFixedHistBins: the weight histograms' bins (50 over [0, 1]) are
// [j/50, (j+1)/50), each value in the bin whose interval holds it, with
// values a rounding error outside [0, 1] clamped into the end bins and a
// weight of exactly 1 in the last bin. Expectations: the bin of a value
// v = (j + f)/50 generated from an integer j and a fraction f in
// [0.01, 0.99] (away from the edges, so that rounding cannot move it) is
// j, by construction; the edges are j/50 to 1e-15.
func TestFixedHistBins(t *testing.T) {
	const n = 50
	h := newFixedHist(0, 1, n)
	want := make([]int64, n)
	rng := rand.New(rand.NewPCG(11, 12))
	for range 2000 {
		j := rng.IntN(n)
		f := 0.01 + 0.98*rng.Float64()
		h.add((float64(j) + f) / n)
		want[j]++
	}
	for _, v := range []float64{0, -1e-17, -0.3} { // clamped or on the first edge
		h.add(v)
		want[0]++
	}
	for _, v := range []float64{1, 1 + 1e-16, 7} { // the last bin holds 1
		h.add(v)
		want[n-1]++
	}
	bins := h.bins()
	if len(bins) != n {
		t.Fatalf("%d bins, want %d", len(bins), n)
	}
	for j, b := range bins {
		if math.Abs(b.Lo-float64(j)/n) > 1e-15 || math.Abs(b.Hi-float64(j+1)/n) > 1e-15 {
			t.Errorf("bin %d is [%v, %v), want [%v, %v)", j, b.Lo, b.Hi, float64(j)/n, float64(j+1)/n)
		}
		if b.Count != float64(want[j]) {
			t.Errorf("bin %d [%v, %v) counts %v, want %d", j, b.Lo, b.Hi, b.Count, want[j])
		}
	}
}

// TestIntHistLayout: the iterations histogram draws a bar per integer
// centred on it ([v-0.5, v+0.5)) while the range spans at most 60
// integers, and beyond that bars of a round width (1, 2 or 5 times a power
// of ten) nearest to range/40, starting at a multiple of the width.
// Expectations by hand: 0..59 is 60 bars of width 1; {0, 100} spans 101
// integers, 101/40 = 2.525 rounds (on a log scale) to 2, so bars
// [2m-0.5, 2m+1.5) for m = 0..50, 51 bars, 0 in the first and 100 in the
// last; {3, 1000} spans 998, 998/40 = 24.95 rounds to 20, bars from 0 to
// 1000, 51 of them, 3 in bar 0 and 1000 in bar 50.
func TestIntHistLayout(t *testing.T) {
	h := intHist{}
	for v := range int64(60) {
		h[v] = v + 1
	}
	bins := h.bins()
	if len(bins) != 60 {
		t.Fatalf("0..59: %d bars, want 60", len(bins))
	}
	for j, b := range bins {
		if b.Lo != float64(j)-0.5 || b.Hi != float64(j)+0.5 || b.Count != float64(j+1) {
			t.Errorf("0..59: bar %d is [%v, %v) of %v, want [%v, %v) of %d", j, b.Lo, b.Hi, b.Count, float64(j)-0.5, float64(j)+0.5, j+1)
		}
	}
	for _, tc := range []struct {
		values      []int64
		width       float64
		bars        int
		first, last int // the bars holding the smallest and largest value
	}{
		{[]int64{0, 100}, 2, 51, 0, 50},
		{[]int64{3, 1000}, 20, 51, 0, 50},
	} {
		h := intHist{}
		for _, v := range tc.values {
			h[v]++
		}
		bins := h.bins()
		if len(bins) != tc.bars {
			t.Fatalf("%v: %d bars, want %d", tc.values, len(bins), tc.bars)
		}
		for j, b := range bins {
			lo := float64(j)*tc.width - 0.5
			if b.Lo != lo || b.Hi != lo+tc.width {
				t.Errorf("%v: bar %d is [%v, %v), want [%v, %v)", tc.values, j, b.Lo, b.Hi, lo, lo+tc.width)
			}
			want := 0.0
			if j == tc.first || j == tc.last {
				want = 1
			}
			if b.Count != want {
				t.Errorf("%v: bar %d counts %v, want %v", tc.values, j, b.Count, want)
			}
		}
	}
}
