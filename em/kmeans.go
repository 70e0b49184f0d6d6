package em

import (
	"math/rand/v2"
	"slices"
)

// lloydMaxIter caps the Lloyd iterations after k-means++ seeding.
const lloydMaxIter = 100

// kmeans clusters weighted points: k-means++ seeding (Arthur and
// Vassilvitskii, 2007) followed by Lloyd iterations until the assignment
// no longer changes (at most lloydMaxIter). Its buffers are reused.
type kmeans struct {
	centers []float64 // k×d
	assign  []int
	next    []int
	dist    []float64 // squared distance of each point to its nearest centre
	wsum    []float64
	norm    []float64 // squared norms of the centres (one-hot)
	// One dimension: prefix sums of c and c·x, centres in sorted order,
	// the runs' boundaries now and before.
	p0, p1      []float64
	order, cuts []int
}

// run clusters the n×d row-major points x with weights c into at most k
// clusters and returns the number of clusters and each point's cluster.
// Fewer than k clusters are returned only when the points have fewer than
// k distinct values; every returned cluster is non-empty.
func (km *kmeans) run(x, c []float64, d, k int, rng *rand.Rand) (int, []int) {
	n := len(c)
	km.centers = grow(km.centers, k*d)
	km.dist = grow(km.dist, n)
	// Seeding: the first centre with probability ∝ c, each next one ∝ c·D²
	// (D the distance to the nearest centre chosen so far).
	i := pick(c, nil, rng)
	copy(km.centers[:d], x[i*d:(i+1)*d])
	for i := range n {
		km.dist[i] = sqDist(x[i*d:(i+1)*d], km.centers[:d])
	}
	kk := 1
	for kk < k {
		i := pick(c, km.dist, rng)
		if i < 0 {
			break // every point coincides with a centre
		}
		ctr := km.centers[kk*d : (kk+1)*d]
		copy(ctr, x[i*d:(i+1)*d])
		for i := range n {
			km.dist[i] = min(km.dist[i], sqDist(x[i*d:(i+1)*d], ctr))
		}
		kk++
	}
	km.assign = growInt(km.assign, n)
	km.next = growInt(km.next, n)
	km.wsum = grow(km.wsum, k)
	if d == 1 && slices.IsSorted(x) {
		km.lloyd1D(x, c, kk)
		return kk, km.assign
	}
	km.nearest(km.assign, km.assign, x, c, d, kk)
	for range lloydMaxIter {
		km.update(x, c, d, kk)
		changed, empty := km.nearest(km.next, km.assign, x, c, d, kk)
		if !changed || empty {
			break
		}
		km.assign, km.next = km.next, km.assign
	}
	return kk, km.assign
}

// runData clusters like run, but from k distinct points drawn with
// probability ∝ c (scikit-learn's "random_from_data") and without Lloyd
// iterations: each point goes to its nearest drawn point. Its starts are
// more diverse than k-means++ with Lloyd, which tends to reach the same
// partition from most seeds.
func (km *kmeans) runData(x, c []float64, d, k int, rng *rand.Rand) (int, []int) {
	n := len(c)
	km.centers = grow(km.centers, k*d)
	km.dist = grow(km.dist, n)
	for i := range km.dist {
		km.dist[i] = 1
	}
	kk := 0
	for kk < k {
		i := pick(c, km.dist, rng)
		if i < 0 {
			break // fewer distinct points than k
		}
		copy(km.centers[kk*d:(kk+1)*d], x[i*d:(i+1)*d])
		km.dist[i] = 0
		kk++
	}
	km.assign = growInt(km.assign, n)
	km.wsum = grow(km.wsum, k)
	km.nearest(km.assign, km.assign, x, c, d, kk)
	return kk, km.assign
}

// lloyd1D runs Lloyd's iterations for sorted one-dimensional points: each
// cluster is then a run of consecutive points between the midpoints of
// neighbouring centres, found by binary search, and its mean comes from
// prefix sums, so an iteration costs O(k log n).
func (km *kmeans) lloyd1D(x, c []float64, k int) {
	n := len(x)
	km.p0 = grow(km.p0, n+1)
	km.p1 = grow(km.p1, n+1)
	for i, v := range x {
		km.p0[i+1] = km.p0[i] + c[i]
		km.p1[i+1] = km.p1[i] + c[i]*v
	}
	km.order = growInt(km.order, k)
	km.cuts = growInt(km.cuts, 2*(k+1))
	cuts, prev := km.cuts[:k+1], km.cuts[k+1:]
	ctr := km.centers[:k]
	for it := 0; ; it++ {
		for j := range km.order {
			km.order[j] = j
		}
		slices.SortStableFunc(km.order, func(a, b int) int { return cmpFloat(ctr[a], ctr[b]) })
		// cuts[j]..cuts[j+1] is the run of the j-th smallest centre.
		cuts[0], cuts[k] = 0, n
		for j := 1; j < k; j++ {
			mid := (ctr[km.order[j-1]] + ctr[km.order[j]]) / 2
			cuts[j], _ = slices.BinarySearch(x, mid)
			for cuts[j] < n && x[cuts[j]] == mid {
				cuts[j]++ // a tie goes to the smaller centre
			}
		}
		empty := false
		for j := range k {
			if !(km.p0[cuts[j+1]]-km.p0[cuts[j]] > 0) {
				empty = true
			}
		}
		if empty || (it > 0 && slices.Equal(cuts, prev)) || it == lloydMaxIter {
			if empty {
				copy(cuts, prev) // the last assignment with no empty cluster
			}
			break
		}
		copy(prev, cuts)
		for j := range k {
			lo, hi := cuts[j], cuts[j+1]
			ctr[km.order[j]] = (km.p1[hi] - km.p1[lo]) / (km.p0[hi] - km.p0[lo])
		}
	}
	for j := range k {
		for i := cuts[j]; i < cuts[j+1]; i++ {
			km.assign[i] = km.order[j]
		}
	}
}

// nearest assigns each point to its nearest centre (the first on ties),
// and reports whether any assignment differs from prev and whether a
// cluster is left empty.
func (km *kmeans) nearest(assign, prev []int, x, c []float64, d, k int) (changed, empty bool) {
	clear(km.wsum[:k])
	for i := range assign {
		xi := x[i*d : (i+1)*d]
		best, bj := sqDist(xi, km.centers[:d]), 0
		for j := 1; j < k; j++ {
			if v := sqDist(xi, km.centers[j*d:(j+1)*d]); v < best {
				best, bj = v, j
			}
		}
		changed = changed || bj != prev[i]
		assign[i] = bj
		km.wsum[bj] += c[i]
	}
	for _, w := range km.wsum[:k] {
		if !(w > 0) {
			empty = true
		}
	}
	return changed, empty
}

// update moves the centres to the weighted means of their clusters
// (km.wsum holds the clusters' weights).
func (km *kmeans) update(x, c []float64, d, k int) {
	clear(km.centers[:k*d])
	for i, j := range km.assign {
		for a := range d {
			km.centers[j*d+a] += c[i] * x[i*d+a]
		}
	}
	for j := range k {
		for a := range d {
			km.centers[j*d+a] /= km.wsum[j]
		}
	}
}

func (km *kmeans) empty(assign []int, c []float64, k int) bool {
	clear(km.wsum)
	for i, j := range assign {
		km.wsum[j] += c[i]
	}
	for _, w := range km.wsum[:k] {
		if !(w > 0) {
			return true
		}
	}
	return false
}

// runOneHot is run on the one-hot encodings of the category codes x (each
// 0..levels-1, distinct), without forming them: the squared distance of
// code a to a centre μ is 1 - 2μ_a + |μ|².
func (km *kmeans) runOneHot(x, c []float64, levels, k int, rng *rand.Rand) (int, []int) {
	n := len(c)
	km.centers = grow(km.centers, k*levels)
	km.norm = grow(km.norm, k)
	km.dist = grow(km.dist, n)
	km.wsum = grow(km.wsum, k)
	for i := range km.dist {
		km.dist[i] = 1 // the first pick is ∝ c
	}
	kk := 0
	for kk < k {
		i := pick(c, km.dist, rng)
		if i < 0 {
			break
		}
		ctr := km.centers[kk*levels : (kk+1)*levels]
		clear(ctr)
		ctr[int(x[i])] = 1
		km.norm[kk] = 1
		km.dist[i] = 0 // distinct codes: the others stay at distance² 2
		kk++
	}
	km.assign = growInt(km.assign, n)
	km.next = growInt(km.next, n)
	km.nearestOneHot(km.assign, x, levels, kk)
	for range lloydMaxIter {
		clear(km.centers[:kk*levels])
		clear(km.wsum)
		for i, j := range km.assign {
			km.wsum[j] += c[i]
			km.centers[j*levels+int(x[i])] += c[i]
		}
		for j := range kk {
			s := 0.0
			for a := range levels {
				km.centers[j*levels+a] /= km.wsum[j]
				s += km.centers[j*levels+a] * km.centers[j*levels+a]
			}
			km.norm[j] = s
		}
		km.nearestOneHot(km.next, x, levels, kk)
		changed := false
		for i, j := range km.next {
			if j != km.assign[i] {
				changed = true
				break
			}
		}
		if !changed || km.empty(km.next, c, kk) {
			break
		}
		km.assign, km.next = km.next, km.assign
	}
	return kk, km.assign
}

func (km *kmeans) nearestOneHot(assign []int, x []float64, levels, k int) {
	for i := range assign {
		a := int(x[i])
		best, bj := 0.0, -1
		for j := range k {
			if v := km.norm[j] - 2*km.centers[j*levels+a]; bj < 0 || v < best {
				best, bj = v, j
			}
		}
		assign[i] = bj
	}
}

// pick returns an index drawn with probability ∝ c_i·w_i (∝ c_i if w is
// nil), or -1 if those products sum to zero.
func pick(c, w []float64, rng *rand.Rand) int {
	tot := 0.0
	for i, ci := range c {
		if w != nil {
			ci *= w[i]
		}
		tot += ci
	}
	if !(tot > 0) {
		return -1
	}
	u := rng.Float64() * tot
	cum, last := 0.0, -1
	for i, ci := range c {
		if w != nil {
			ci *= w[i]
		}
		if ci > 0 {
			last = i
			cum += ci
			if cum > u {
				return i
			}
		}
	}
	return last // rounding left u at the very top
}

func sqDist(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

func growInt(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}
