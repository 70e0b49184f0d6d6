package pipeline

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBitSorter checks bitSorter against slices.Sort on seeded random key
// sets of many sizes and shapes: spread (every bucket a few keys), bunched
// (most keys in one bucket, so the fallback sort runs), ties, all equal,
// one far outlier, the extremes of uint64, and the float keys sortFloats
// makes from readings.
func TestBitSorter(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var s bitSorter
	sizes := []int{0, 1, 2, bitSortMin - 1, bitSortMin, bitSortMin + 1, 100, 257, 1000, 5000, 70000}
	shapes := []string{"uniform", "bunched", "ties", "equal", "outlier", "extremes", "readings", "narrow"}
	for trial := range 400 {
		n := sizes[trial%len(sizes)]
		if trial >= 2*len(sizes) {
			n = rng.IntN(3000)
		}
		shape := shapes[rng.IntN(len(shapes))]
		keys := make([]uint64, n)
		base := rng.Uint64()
		for i := range keys {
			switch shape {
			case "uniform":
				keys[i] = rng.Uint64()
			case "bunched":
				keys[i] = base + rng.Uint64N(1000)
				if rng.IntN(50) == 0 {
					keys[i] = rng.Uint64()
				}
			case "ties":
				keys[i] = base + rng.Uint64N(5)<<40
			case "equal":
				keys[i] = base
			case "outlier":
				keys[i] = 1 << 20
				if i == n/2 {
					keys[i] = math.MaxUint64
				} else {
					keys[i] += rng.Uint64N(1 << 10)
				}
			case "extremes":
				keys[i] = []uint64{0, 1, math.MaxUint64, math.MaxUint64 - 1, 1 << 63}[rng.IntN(5)]
			case "readings":
				keys[i] = math.Float64bits(20+2*rng.NormFloat64()) | 1<<63
			case "narrow":
				keys[i] = base&^0xff + rng.Uint64N(256)
			}
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		s.sort(keys)
		if !slices.Equal(keys, want) {
			t.Fatalf("trial %d (%s, n %d): bitSorter differs from slices.Sort", trial, shape, n)
		}
	}
}

// BenchmarkSortBits sorts bags of 100 readings' keys (the readings
// benchmark's bag size and mixture) with bitSorter and with slices.Sort.
func BenchmarkSortBits(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const nb = 1024
	bags := make([][]uint64, nb)
	means, sds := []float64{20, 35, 60}, []float64{2, 3, 8}
	for i := range bags {
		bags[i] = make([]uint64, 100)
		for r := range bags[i] {
			j := rng.IntN(3)
			bags[i][r] = math.Float64bits(means[j]+sds[j]*rng.NormFloat64()) | 1<<63
		}
	}
	keys := make([]uint64, 100)
	b.Run("bitSorter", func(b *testing.B) {
		var s bitSorter
		i := 0
		for b.Loop() {
			copy(keys, bags[i%nb])
			s.sort(keys)
			i++
		}
	})
	b.Run("slices.Sort", func(b *testing.B) {
		i := 0
		for b.Loop() {
			copy(keys, bags[i%nb])
			slices.Sort(keys)
			i++
		}
	})
}
