package pipeline

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRunEnd checks runEnd against a key-by-key scan at every start of
// seeded key slices: runs of every length from 1 to past the four-key
// stride, keys that come back after other keys (an unclustered input),
// keys that differ in one bit only, and the extremes of int64.
func TestRunEnd(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	naive := func(keys []int64, i int) int {
		j := i + 1
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		return j
	}
	for trial := range 500 {
		var keys []int64
		for len(keys) < 1+rnd.IntN(300) {
			k := int64(rnd.IntN(5))
			switch rnd.IntN(6) {
			case 0:
				k = math.MinInt64 + k
			case 1:
				k = math.MaxInt64 - k
			case 2:
				k = 1 << rnd.IntN(63)
			}
			for range 1 + rnd.IntN(12) {
				keys = append(keys, k)
			}
		}
		for i := range keys {
			if got, want := runEnd(keys, i), naive(keys, i); got != want {
				t.Fatalf("trial %d: runEnd(keys, %d) = %d, want %d (keys %v)", trial, i, got, want, keys)
			}
		}
	}
}

// BenchmarkRunEnd finds the runs of 1M keys in runs of 100, as the keys
// of a clustered marbles input come, with runEnd and with a key-by-key
// scan (the loop it replaced). It reports ns a key.
func BenchmarkRunEnd(b *testing.B) {
	keys := make([]int64, 1<<20)
	for i := range keys {
		keys[i] = int64(i / 100)
	}
	naive := func(keys []int64, i int) int {
		j := i + 1
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		return j
	}
	for _, c := range []struct {
		name string
		end  func([]int64, int) int
	}{{"runEnd", runEnd}, {"keyByKey", naive}} {
		b.Run(c.name, func(b *testing.B) {
			runs := 0
			for b.Loop() {
				for i := 0; i < len(keys); i = c.end(keys, i) {
					runs++
				}
			}
			if runs == 0 {
				b.Fatal("no runs")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/key")
		})
	}
}
