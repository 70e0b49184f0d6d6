package pipeline

import (
	"math/bits"
	"slices"
)

// bitSorter sorts uint64 keys ascending, with the same result as
// slices.Sort, by one pass of bucket sort on the keys' leading bits and
// then a small sort of each bucket. A bag's readings are put in canonical
// order before every fit, and on bags of a hundred readings slices.Sort's
// comparisons, which the branch predictor cannot guess, were a fifth of a
// Gaussian run. Keys drawn from a continuous distribution spread over the
// buckets, a few to each, which insertion sort puts in order with
// predictable branches; a bucket that gets many keys (data bunched in a
// narrow range, or ties) falls back to slices.Sort, so no input costs more
// than O(n log n). Its zero value is ready to use; its buffers grow to the
// largest bag and are reused.
type bitSorter struct {
	tmp   []uint64
	start []int32
}

const (
	// bitSortMin is the fewest keys worth bucketing: below it the
	// buckets' overhead outweighs what the comparisons cost.
	bitSortMin = 48
	// bitSortMaxBuckets bounds the bucket count (as a power of two), and
	// so the counting array, for very large bags.
	bitSortMaxBuckets = 16
	// insertionMax is the largest bucket sorted by insertion.
	insertionMax = 16
)

// sort sorts keys in place.
func (s *bitSorter) sort(keys []uint64) {
	n := len(keys)
	if n < bitSortMin {
		slices.Sort(keys)
		return
	}
	lo, hi := keys[0], keys[0]
	for _, u := range keys {
		lo = min(lo, u)
		hi = max(hi, u)
	}
	span := hi - lo
	if span == 0 {
		return // all equal
	}
	// About as many buckets as keys: 2^b >= n, and key u goes to bucket
	// (u - lo) >> shift, which is below 2^b.
	b := min(bits.Len(uint(n)), bitSortMaxBuckets)
	shift := max(bits.Len64(span)-b, 0)
	nb := int(span>>shift) + 1
	if cap(s.start) < nb+1 {
		s.start = make([]int32, nb+1)
	}
	start := s.start[:nb+1]
	clear(start)
	for _, u := range keys {
		start[(u-lo)>>shift+1]++
	}
	big := false // some bucket holds more than insertionMax keys
	for i := 1; i <= nb; i++ {
		if start[i] > insertionMax {
			big = true
		}
		start[i] += start[i-1]
	}
	// start[i] is bucket i's first slot; scattering advances it to the
	// next bucket's, which start[i-1] then is after the pass.
	if cap(s.tmp) < n {
		s.tmp = make([]uint64, n)
	}
	tmp := s.tmp[:n]
	for _, u := range keys {
		i := (u - lo) >> shift
		tmp[start[i]] = u
		start[i]++
	}
	if !big {
		// Every key is out of place only within its small bucket: one
		// insertion sort, back into keys, finishes the sort.
		for i, u := range tmp {
			j := i
			for ; j > 0 && keys[j-1] > u; j-- {
				keys[j] = keys[j-1]
			}
			keys[j] = u
		}
		return
	}
	// Bucket i now spans [start[i-1], start[i]) (bucket 0 from 0).
	from := 0
	for i := range nb {
		to := int(start[i])
		if seg := tmp[from:to]; len(seg) > insertionMax {
			slices.Sort(seg)
		} else if len(seg) > 1 {
			insertionSort(seg)
		}
		from = to
	}
	copy(keys, tmp)
}

// insertionSort sorts a few keys in place.
func insertionSort(a []uint64) {
	for i := 1; i < len(a); i++ {
		u := a[i]
		j := i
		for ; j > 0 && a[j-1] > u; j-- {
			a[j] = a[j-1]
		}
		a[j] = u
	}
}
