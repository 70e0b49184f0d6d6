package report

import (
	"container/heap"
	"math"
	"slices"
	"strings"
)

// fixedHist counts values in equal bins over [lo, hi]; values outside are
// clamped into the end bins (weights a rounding error outside [0, 1]).
type fixedHist struct {
	lo, hi float64
	counts []int64
}

func newFixedHist(lo, hi float64, bins int) *fixedHist {
	return &fixedHist{lo: lo, hi: hi, counts: make([]int64, bins)}
}

func (h *fixedHist) add(v float64) {
	n := len(h.counts)
	j := int(math.Floor((v - h.lo) / (h.hi - h.lo) * float64(n)))
	h.counts[min(max(j, 0), n-1)]++
}

func (h *fixedHist) bins() []bin {
	out := make([]bin, len(h.counts))
	w := (h.hi - h.lo) / float64(len(h.counts))
	for j, c := range h.counts {
		out[j] = bin{Lo: h.lo + float64(j)*w, Hi: h.lo + float64(j+1)*w, Count: float64(c)}
	}
	return out
}

// adaptiveHist is a histogram of values whose range is not known in
// advance, in bounded memory: the first seedValues values are kept to
// choose a bin width from their range; after that, a value outside the
// maxBins bins doubles the bin width (merging neighbouring bins) until it
// fits. Its bins are exact counts; the price of one pass is that the
// occupied range spans between maxBins/2 and maxBins bins at worst.
//
// It can count several series in the same bins (addTo), such as a learned
// parameter's values, a series per component; add counts series 0.
type adaptiveHist struct {
	seed   []seeded  // the first values, until the width is chosen
	width  float64   // 0 while seeding
	origin int64     // bin j covers [(origin+j)·width, (origin+j+1)·width)
	counts [][]int64 // counts[s][j]: values of series s in bin j
	stats  summary   // over all series
	series []summary // per series
}

// seeded is a value kept while seeding, with its series.
type seeded struct {
	v float64
	s int
}

const (
	maxBins    = 64
	seedValues = 1024
)

// summary is the count, mean, minimum and maximum of some values.
type summary struct {
	N             int64
	Sum, Min, Max float64
}

func (s *summary) add(v float64) {
	if s.N == 0 {
		s.Min, s.Max = v, v
	}
	s.N++
	s.Sum += v
	s.Min, s.Max = min(s.Min, v), max(s.Max, v)
}

// Mean returns the mean, NaN without values.
func (s summary) Mean() float64 {
	if s.N == 0 {
		return math.NaN()
	}
	return s.Sum / float64(s.N)
}

// add counts a finite value of series 0; others are ignored.
func (h *adaptiveHist) add(v float64) { h.addTo(0, v) }

// addTo counts a finite value of series s; others are ignored.
func (h *adaptiveHist) addTo(s int, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	for len(h.series) <= s {
		h.series = append(h.series, summary{})
		h.counts = append(h.counts, make([]int64, maxBins))
	}
	h.stats.add(v)
	h.series[s].add(v)
	if h.width == 0 {
		h.seed = append(h.seed, seeded{v, s})
		if len(h.seed) == seedValues {
			h.start()
		}
		return
	}
	h.put(s, v)
}

// start chooses the bin width from the seed values and counts them.
func (h *adaptiveHist) start() {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range h.seed {
		lo, hi = min(lo, x.v), max(hi, x.v)
	}
	h.width = niceWidth((hi - lo) / (maxBins / 2))
	if hi == lo {
		h.width = niceWidth(math.Max(math.Abs(lo), 1) * 1e-6)
	}
	mid := math.Floor((lo+hi)/2/h.width) - maxBins/2
	h.origin = int64(mid)
	for _, x := range h.seed {
		h.put(x.s, x.v)
	}
	h.seed = nil
}

func (h *adaptiveHist) put(s int, v float64) {
	for {
		a := math.Floor(v / h.width)
		if j := a - float64(h.origin); j >= 0 && j < maxBins {
			h.counts[s][int(j)]++
			return
		}
		h.coarsen()
	}
}

// occupied returns the first and last bins that hold a value of any
// series; -1, -1 when none does.
func (h *adaptiveHist) occupied() (lo, hi int) {
	lo, hi = -1, -1
	for _, counts := range h.counts {
		for j, c := range counts {
			if c > 0 {
				if lo < 0 || j < lo {
					lo = j
				}
				hi = max(hi, j)
			}
		}
	}
	return lo, hi
}

// coarsen doubles the bin width, keeping the occupied bins in the middle
// of the new range.
func (h *adaptiveHist) coarsen() {
	lo, hi := h.occupied()
	center := (h.origin + int64(lo) + h.origin + int64(hi)) / 2
	newOrigin := floorDiv(center, 2) - maxBins/2
	for s, counts := range h.counts {
		next := make([]int64, maxBins)
		for j, c := range counts {
			if c > 0 {
				next[floorDiv(h.origin+int64(j), 2)-newOrigin] += c
			}
		}
		h.counts[s] = next
	}
	h.width *= 2
	h.origin = newOrigin
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// bins returns the occupied range of bins of series 0.
func (h *adaptiveHist) bins() []bin {
	all := h.seriesBins()
	if len(all) == 0 {
		return nil
	}
	return all[0]
}

// seriesBins returns each series' bins over the range that any series
// occupies.
func (h *adaptiveHist) seriesBins() [][]bin {
	if h.width == 0 && len(h.seed) > 0 {
		h.start()
	}
	lo, hi := h.occupied()
	if lo < 0 {
		return nil
	}
	out := make([][]bin, len(h.counts))
	for s, counts := range h.counts {
		for j := lo; j <= hi; j++ {
			a := float64(h.origin + int64(j))
			out[s] = append(out[s], bin{Lo: a * h.width, Hi: (a + 1) * h.width, Count: float64(counts[j])})
		}
	}
	return out
}

// intHist counts integer values exactly, in a map; it is for values from a
// small set (iterations, bounded by em.max_iter).
type intHist map[int64]int64

// bins returns one bin per integer when the range is small, else about
// 40 equal bins of integers.
func (h intHist) bins() []bin {
	if len(h) == 0 {
		return nil
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for v := range h {
		lo, hi = min(lo, v), max(hi, v)
	}
	width := int64(1)
	if hi-lo+1 > 60 {
		width = int64(niceWidth(float64(hi-lo+1) / 40))
		width = max(width, 1)
	}
	first := floorDiv(lo, width)
	n := floorDiv(hi, width) - first + 1
	out := make([]bin, n)
	for j := range out {
		a := float64((first + int64(j)) * width)
		// Bars centred on the integers they count.
		out[j] = bin{Lo: a - 0.5, Hi: a + float64(width) - 0.5}
	}
	for v, c := range h {
		out[floorDiv(v, width)-first].Count += float64(c)
	}
	return out
}

// mover is a bag whose weights moved between the baseline and the run.
type mover struct {
	key      bagKey
	delta    float64   // max over components of |Δweight|
	comp     int       // the component with the largest change
	cur, old []float64 // weights in the run and the baseline, run's order
}

// topMovers keeps the n bags with the largest delta, ties to the smaller
// key, in a min-heap: memory is n movers whatever the number of bags.
type topMovers struct {
	n int
	h moverHeap
}

// worse orders movers by how little they belong in the list.
func worse(a, b *mover) bool {
	if a.delta != b.delta {
		return a.delta < b.delta
	}
	return compareKeys(a.key, b.key) > 0
}

type moverHeap []*mover

func (h moverHeap) Len() int           { return len(h) }
func (h moverHeap) Less(i, j int) bool { return worse(h[i], h[j]) }
func (h moverHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *moverHeap) Push(x any)        { *h = append(*h, x.(*mover)) }
func (h *moverHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// offer considers a bag; m's slices are copied only if it is kept.
func (t *topMovers) offer(m mover) {
	if t.n <= 0 {
		return
	}
	if len(t.h) == t.n && !worse(t.h[0], &m) {
		return
	}
	m.cur = slices.Clone(m.cur)
	m.old = slices.Clone(m.old)
	if len(t.h) < t.n {
		heap.Push(&t.h, &m)
		return
	}
	t.h[0] = &m
	heap.Fix(&t.h, 0)
}

// sorted returns the kept movers, largest delta first.
func (t *topMovers) sorted() []*mover {
	out := slices.Clone([]*mover(t.h))
	slices.SortFunc(out, func(a, b *mover) int {
		switch {
		case worse(b, a):
			return -1
		case worse(a, b):
			return 1
		}
		return 0
	})
	return out
}

// firstBags keeps the n bags with the smallest keys of those offered, in
// whatever order they come, in a max-heap on the key.
type firstBags struct {
	n int
	h bagHeap
}

// keptBag is a bag firstBags keeps: its key (out of the batch's memory)
// and what the report lists of it.
type keptBag struct {
	key  bagKey
	view bagView
}

// bagHeap is a max-heap of kept bags by key.
type bagHeap []keptBag

func (h bagHeap) Len() int           { return len(h) }
func (h bagHeap) Less(i, j int) bool { return compareKeys(h[i].key, h[j].key) > 0 }
func (h bagHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *bagHeap) Push(x any)        { *h = append(*h, x.(keptBag)) }
func (h *bagHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// offer keeps f if its key is among the n smallest so far.
func (b *firstBags) offer(f fitRow) {
	if b.n <= 0 || len(b.h) == b.n && compareKeys(f.key, b.h[0].key) >= 0 {
		return
	}
	key := f.key
	key.s = strings.Clone(key.s)
	kb := keptBag{key: key, view: viewBag(f)}
	if len(b.h) < b.n {
		heap.Push(&b.h, kb)
		return
	}
	b.h[0] = kb
	heap.Fix(&b.h, 0)
}

// sorted returns the kept bags in increasing key order.
func (b *firstBags) sorted() []bagView {
	kept := slices.Clone([]keptBag(b.h))
	slices.SortFunc(kept, func(x, y keptBag) int { return compareKeys(x.key, y.key) })
	out := make([]bagView, len(kept))
	for i, k := range kept {
		out[i] = k.view
	}
	return out
}
