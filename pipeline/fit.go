package pipeline

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/mixbatch/mixbatch/em"
)

// fits holds the result of every bag, indexed like bags.
type fits struct {
	k         int
	weights   []float64 // bag b's weights are weights[b*k : b*k+k]
	nobs      []int64
	total     []float64
	iters     []int64
	converged []bool
	ll        []float64
	gap       []float64
	se        []float64 // like weights: each weight's standard error
	ncomp     []int64   // components of each bag's model (K, or the K selected)
	bic, aic  []float64
	learned   *learned // nil unless component parameters are learned
	// errs holds why each failed bag failed ("" for ok bags); nil when no
	// bag failed. Failed bags have no weights.
	errs   []string
	failed int
}

// ok reports whether bag i was fitted.
func (f *fits) ok(i int) bool { return f.errs == nil || f.errs[i] == "" }

// newFits allocates the results of nb bags of model m.
func newFits(m *model, nb int) *fits {
	k := len(m.names)
	f := &fits{
		k:         k,
		weights:   make([]float64, nb*k),
		nobs:      make([]int64, nb),
		total:     make([]float64, nb),
		iters:     make([]int64, nb),
		converged: make([]bool, nb),
		ll:        make([]float64, nb),
		gap:       make([]float64, nb),
		se:        make([]float64, nb*k),
		ncomp:     make([]int64, nb),
		bic:       make([]float64, nb),
		aic:       make([]float64, nb),
	}
	if m.learn != nil {
		f.learned = newLearned(m.learn, nb, k, len(m.labels))
	}
	return f
}

// fitBlock is how many bags a worker takes at a time.
const fitBlock = 256

// fitAll fits every bag with up to workers goroutines: all at once when
// their rows are in b, else partition by partition from sp. Each bag's
// result depends only on its own rows, so it is the same for any worker
// count and any partitioning.
func fitAll(ctx context.Context, cfg *Config, p *plan, b *bags, m *model, sp *spiller, workers int, progress func(int64)) (*fits, error) {
	f := newFits(m, b.len())
	// With skip, each block records its bags' errors in errs; blocks do not
	// overlap, so no lock is needed.
	errs := b.readErrors()
	if sp == nil {
		if err := fitBags(ctx, cfg, p, b, m, f, errs, true, nil, workers, progress); err != nil {
			return nil, err
		}
	} else {
		for q := range sp.parts {
			todo, err := sp.load(ctx, q, b)
			if err != nil {
				return nil, err
			}
			if err := fitBags(ctx, cfg, p, b, m, f, errs, false, todo, workers, progress); err != nil {
				return nil, err
			}
		}
		b.releaseRows()
	}
	for _, e := range errs {
		if e != "" {
			f.failed++
		}
	}
	if f.failed > 0 {
		f.errs = errs
	}
	return f, nil
}

// fitBags fits the bags whose rows are in b: every one with all, else
// those listed in todo. (A spill partition that no bag hashed to lists
// none: nothing to fit. A nil list once stood for every bag, and such a
// partition failed every bag for want of rows.)
func fitBags(ctx context.Context, cfg *Config, p *plan, b *bags, m *model, f *fits, errs []string, all bool, todo []int32, workers int, progress func(int64)) error {
	n := len(todo)
	if all {
		n = b.len()
	}
	bag := func(j int) int {
		if all {
			return j
		}
		return int(todo[j])
	}
	skip := cfg.Run.OnError == OnErrorSkip
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	// Blocks take a worker's scratch space (and memo) from the pool.
	pool := make(chan *worker, workers)
	for range workers {
		w := &worker{settings: m.settings}
		w.settings.Done = ctx.Done() // a long fit stops on interrupt
		pool <- w
	}
	for lo := 0; lo < n; lo += fitBlock {
		hi := min(lo+fitBlock, n)
		g.Go(func() error {
			w := <-pool
			defer func() { pool <- w }()
			var rows int64
			for j := lo; j < hi; j++ {
				if err := ctx.Err(); err != nil {
					return err
				}
				i := bag(j)
				rows += b.nobs[i]
				f.nobs[i] = b.nobs[i]
				if errs[i] != "" {
					continue
				}
				err := w.fit(b, m, f, i)
				if errors.Is(err, em.ErrStopped) {
					return ctx.Err()
				}
				if errors.Is(err, em.ErrNoData) {
					err = noDataError(cfg, p, b, i)
				}
				if countOverflow(err) {
					err = countOverflowError(cfg, p, b, i, err)
				}
				if err != nil {
					if !skip {
						return err
					}
					errs[i] = err.Error()
				}
			}
			if progress != nil {
				progress(rows)
			}
			return nil
		})
	}
	return g.Wait()
}

// readErrors returns, per bag, the error of its first bad row found while
// reading (run.on_error: skip), or "".
func (b *bags) readErrors() []string {
	errs := make([]string, b.len())
	for i, e := range b.failed {
		if e != nil {
			errs[i] = e.Error()
		}
	}
	return errs
}

// noDataError is the error of bag i when it has nothing to fit: its counts
// sum to zero, or every one of its rows was dropped for a null.
func noDataError(cfg *Config, p *plan, b *bags, i int) *InputError {
	e := &InputError{File: p.files[b.first[i]].Path, Column: cfg.Input.Count, Row: -1, Bag: b.key(i),
		Reason: "the bag's counts sum to zero, so it has no weights to estimate"}
	if b.nobs[i] == 0 {
		e.Column = cfg.Input.Value.String()
		e.Reason = fmt.Sprintf("every row of the bag (%d) had a null value or count and was dropped", b.dropped[i])
	}
	return e
}

// countOverflow reports whether err is em's for counts too large for
// float64: a sum that is not finite (ErrCountOverflow, or a count of +Inf,
// which only a sum can be, as every input count was checked to be finite
// as it was read), or a sum of the fit that overflowed (ErrOverflow).
func countOverflow(err error) bool {
	var ve *em.ValueError
	return errors.Is(err, em.ErrCountOverflow) || errors.Is(err, em.ErrOverflow) ||
		errors.As(err, &ve) && ve.Component < 0 && math.IsInf(ve.Value, 1)
}

// countOverflowError is the error for bag i of b whose counts are too
// large for float64 (err, as countOverflow takes it), naming the count
// column and the bag's first file. A fit that overflowed with learned
// component parameters may owe it to the values instead (a Gaussian's
// Σ x² overflows for values beyond about 1e154): without a count column
// it names the value column; with one, it says both. A fixed-component fit
// without counts overflows only from em.init weights near 0.
func countOverflowError(cfg *Config, p *plan, b *bags, i int, err error) *InputError {
	e := &InputError{File: p.files[b.first[i]].Path, Column: cfg.Input.Count, Row: -1, Bag: b.key(i),
		Reason: fmt.Sprintf("the bag's counts sum to more than the largest float64 (%g)", math.MaxFloat64)}
	if errors.Is(err, em.ErrOverflow) {
		learned := len(cfg.Model.Learn) > 1 // more than the weights
		what := "counts are too large"
		switch {
		case learned && cfg.Input.Count == "":
			e.Column, what = cfg.Input.Value.String(), "values are too large"
		case learned:
			what = "counts or values are too large"
		case cfg.Input.Count == "": // only em.init weights near 0 can do it
			e.Column = cfg.Input.Value.String()
			e.Reason = fmt.Sprintf("a sum over the bag's rows exceeded the largest float64 (%g) at em.init's weights; raise the smallest", math.MaxFloat64)
			return e
		}
		e.Reason = fmt.Sprintf("the bag's %s to fit: a sum over its rows exceeded the largest float64 (%g); scale them down", what, math.MaxFloat64)
	}
	return e
}

// BagError is a bag that could not be fitted.
type BagError struct {
	Bag string // rendered key
	Err error
}

func (e *BagError) Error() string { return fmt.Sprintf("bag %s: %v", e.Bag, e.Err) }
func (e *BagError) Unwrap() error { return e.Err }

// worker holds one goroutine's scratch space.
type worker struct {
	settings em.Settings
	fitter   em.Fitter
	dense    []float64 // per-code counts, discrete families
	pairs    []pair
	order    []int32 // rows of a bag in sorted order (multivariate values)
	xs, cs   []float64
	table    []float64
	unc      em.Uncertainty
	learners map[int]*em.Learner  // by K, for learned components
	memo     map[string]*fixedFit // discrete fixed fits by aggregated data
	memoKey  []byte
	bits     []uint64 // sortFloats' scratch
	sorter   bitSorter
}

type pair struct{ x, c float64 }

// fit aggregates bag i into distinct (value, count) pairs, in ascending
// value order so that row order cannot change the result, and fits it.
func (w *worker) fit(b *bags, m *model, f *fits, i int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &BagError{Bag: b.key(i), Err: fmt.Errorf("internal error: %v", r)}
		}
	}()
	total := w.aggregate(b, m, i)
	f.total[i] = total
	if m.learn != nil {
		if total == 0 {
			return &BagError{Bag: b.key(i), Err: em.ErrNoData}
		}
		if err := w.learn(b, m, f, i); err != nil {
			return &BagError{Bag: b.key(i), Err: err}
		}
		return nil
	}
	r, err := w.fitFixed(m)
	if err != nil {
		return &BagError{Bag: b.key(i), Err: err}
	}
	copy(f.se[i*f.k:], r.se)
	copy(f.weights[i*f.k:], r.weights)
	f.ncomp[i] = int64(f.k)
	f.bic[i] = em.BIC(r.ll, f.k-1, total)
	f.aic[i] = em.AIC(r.ll, f.k-1)
	f.iters[i] = int64(r.iters)
	f.converged[i] = r.converged
	f.ll[i] = r.ll
	f.gap[i] = r.gap
	return nil
}

// fixedFit is the result of a fit of the weights of fixed components.
type fixedFit struct {
	weights, se []float64
	ll, gap     float64
	iters       int
	converged   bool
}

// memoSize bounds the results a worker remembers.
const memoSize = 1 << 16

// fitFixed fits the weights of m's fixed components to the worker's
// aggregated bag (w.xs, w.cs). The fit is a function of those alone, so
// with discrete values, where many bags share them (a bag of 100 marbles
// has at most 101), the worker remembers results by them: the same input
// gives bit for bit the result a new fit would.
func (w *worker) fitFixed(m *model) (*fixedFit, error) {
	var key []byte
	if m.discrete() {
		key = w.memoKey[:0]
		for j, x := range w.xs {
			key = binary.LittleEndian.AppendUint64(key, math.Float64bits(x))
			key = binary.LittleEndian.AppendUint64(key, math.Float64bits(w.cs[j]))
		}
		w.memoKey = key
		if r, ok := w.memo[string(key)]; ok {
			return r, nil
		}
	}
	w.table = em.Table(w.table, w.xs, m.comps)
	res, err := w.fitter.Fit(w.table, w.cs, len(m.comps), w.settings)
	if err != nil {
		var se *em.SupportError
		var ve *em.ValueError
		switch {
		case errors.As(err, &se):
			err = fmt.Errorf("value %s has zero density under every component", m.describe(w.xs[se.Row]))
		case errors.As(err, &ve):
			err = fmt.Errorf("value %s: %w", m.describe(w.xs[ve.Row]), err)
		}
		return nil, err
	}
	k := len(m.comps)
	r := &fixedFit{weights: slices.Clone(res.Weights), se: make([]float64, k),
		ll: res.LogLikelihood, gap: res.Gap, iters: res.Iterations, converged: res.Converged}
	se, err := w.unc.WeightStdErrorsFrom(&w.fitter, r.se, w.table, w.cs, k, res.Weights)
	if err != nil {
		return nil, fmt.Errorf("standard errors: %w", err)
	}
	copy(r.se, se)
	if key != nil && len(w.memo) < memoSize {
		if w.memo == nil {
			w.memo = map[string]*fixedFit{}
		}
		w.memo[string(key)] = r
	}
	return r, nil
}

// aggregate reduces bag i to its distinct values w.xs, in ascending order
// so that row order cannot change a result, with their summed counts w.cs,
// and returns the total count. Multivariate values are rows of b.dim
// values, w.xs row-major, in lexicographic order.
func (w *worker) aggregate(b *bags, m *model, i int) float64 {
	if b.stride() > 1 {
		return w.aggregateRows(b, i)
	}
	lo, hi := b.start[i], b.start[i+1]
	vals := b.vals[lo:hi]
	var counts []float64
	if b.counts != nil {
		counts = b.counts[lo:hi]
	}
	w.xs, w.cs = w.xs[:0], w.cs[:0]
	total := 0.0
	if m.discrete() {
		w.dense = slices.Grow(w.dense[:0], len(m.possible))[:len(m.possible)]
		clear(w.dense)
		for r, v := range vals {
			c := 1.0
			if counts != nil {
				c = counts[r]
			}
			w.dense[int(v)] += c
		}
		for code, c := range w.dense {
			if c > 0 {
				w.xs = append(w.xs, float64(code))
				w.cs = append(w.cs, c)
			}
			total += c
		}
	} else if counts == nil {
		// Every count is 1: sort the values alone (faster than pairs),
		// then merge equal ones. The result is the pairs' below.
		w.xs = append(w.xs, vals...)
		w.sortFloats()
		out := w.xs[:0]
		for _, x := range w.xs {
			if n := len(out); n > 0 && out[n-1] == x {
				w.cs[n-1]++
				continue
			}
			out = append(out, x)
			w.cs = append(w.cs, 1)
		}
		w.xs = out
		total = float64(len(vals))
	} else {
		w.pairs = w.pairs[:0]
		for r, v := range vals {
			c := 1.0
			if counts != nil {
				c = counts[r]
			}
			w.pairs = append(w.pairs, pair{v, c})
		}
		slices.SortFunc(w.pairs, func(a, b pair) int {
			if c := cmp.Compare(a.x, b.x); c != 0 {
				return c
			}
			return cmp.Compare(a.c, b.c)
		})
		for _, p := range w.pairs {
			total += p.c
			if p.c == 0 {
				continue
			}
			if n := len(w.xs); n > 0 && w.xs[n-1] == p.x {
				w.cs[n-1] += p.c
				continue
			}
			w.xs = append(w.xs, p.x)
			w.cs = append(w.cs, p.c)
		}
	}
	return total
}

// sortFloats sorts w.xs, which are finite, ascending. It sorts their bits
// as integers, ordered as the floats are (the sign bit flipped, and every
// bit of a negative one), which is faster than comparing floats; -0 comes
// before +0, which the float order calls equal.
func (w *worker) sortFloats() {
	w.bits = w.bits[:0]
	for _, x := range w.xs {
		u := math.Float64bits(x)
		if u>>63 != 0 {
			u = ^u
		} else {
			u |= 1 << 63
		}
		w.bits = append(w.bits, u)
	}
	w.sorter.sort(w.bits)
	for i, u := range w.bits {
		if u>>63 != 0 {
			u &^= 1 << 63
		} else {
			u = ^u
		}
		w.xs[i] = math.Float64frombits(u)
	}
}

// aggregateRows is aggregate for rows of several values: the rows are
// sorted lexicographically (equal rows by count, so that the counts of a
// distinct row are summed in an order that does not depend on the input's)
// and equal rows merged. Rows of count 0 add nothing but are in the total.
func (w *worker) aggregateRows(b *bags, i int) float64 {
	d := b.stride()
	lo, hi := b.start[i], b.start[i+1]
	vals := b.vals[lo*d : hi*d]
	var counts []float64
	if b.counts != nil {
		counts = b.counts[lo:hi]
	}
	count := func(r int32) float64 {
		if counts == nil {
			return 1
		}
		return counts[r]
	}
	row := func(r int32) []float64 { return vals[int(r)*d : int(r+1)*d] }
	w.order = w.order[:0]
	for r := range int32(hi - lo) {
		w.order = append(w.order, r)
	}
	slices.SortFunc(w.order, func(a, b int32) int {
		if c := slices.Compare(row(a), row(b)); c != 0 {
			return c
		}
		return cmp.Compare(count(a), count(b))
	})
	w.xs, w.cs = w.xs[:0], w.cs[:0]
	total := 0.0
	for _, r := range w.order {
		c := count(r)
		total += c
		if c == 0 {
			continue
		}
		if n := len(w.cs); n > 0 && slices.Equal(w.xs[(n-1)*d:], row(r)) {
			w.cs[n-1] += c
			continue
		}
		w.xs = append(w.xs, row(r)...)
		w.cs = append(w.cs, c)
	}
	return total
}
