package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
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

// fitAll fits every bag with up to workers goroutines. Each bag's result
// depends only on its own rows, so it is the same for any worker count.
func fitAll(ctx context.Context, cfg *Config, p *plan, b *bags, m *model, workers int, progress func(int64)) (*fits, error) {
	nb := b.len()
	f := newFits(m, nb)
	skip := cfg.Run.OnError == OnErrorSkip
	// With skip, each block records its bags' errors in errs; blocks do not
	// overlap, so no lock is needed.
	errs := b.readErrors()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for lo := 0; lo < nb; lo += fitBlock {
		hi := min(lo+fitBlock, nb)
		g.Go(func() error {
			w := worker{settings: m.settings}
			w.settings.Done = ctx.Done() // a long fit stops on interrupt
			for i := lo; i < hi; i++ {
				if err := ctx.Err(); err != nil {
					return err
				}
				if errs[i] != "" {
					f.nobs[i] = int64(b.start[i+1] - b.start[i])
					continue
				}
				err := w.fit(b, m, f, i)
				if errors.Is(err, em.ErrStopped) {
					return ctx.Err()
				}
				if errors.Is(err, em.ErrNoData) {
					err = noDataError(cfg, p, b, i)
				}
				if err != nil {
					if !skip {
						return err
					}
					errs[i] = err.Error()
				}
			}
			if progress != nil {
				progress(int64(b.start[hi] - b.start[lo]))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
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
	if b.start[i+1] == b.start[i] {
		e.Column = cfg.Input.Value.String()
		e.Reason = fmt.Sprintf("every row of the bag (%d) had a null value or count and was dropped", b.dropped[i])
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
	learners map[int]*em.Learner // by K, for learned components
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
	f.nobs[i] = int64(b.start[i+1] - b.start[i])
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
		return &BagError{Bag: b.key(i), Err: err}
	}
	se, err := w.unc.WeightStdErrors(f.se[i*f.k:i*f.k+f.k], w.table, w.cs, len(m.comps), res.Weights)
	if err != nil {
		return &BagError{Bag: b.key(i), Err: fmt.Errorf("standard errors: %w", err)}
	}
	copy(f.se[i*f.k:], se)
	copy(f.weights[i*f.k:], res.Weights)
	f.ncomp[i] = int64(f.k)
	f.bic[i] = em.BIC(res.LogLikelihood, f.k-1, total)
	f.aic[i] = em.AIC(res.LogLikelihood, f.k-1)
	f.iters[i] = int64(res.Iterations)
	f.converged[i] = res.Converged
	f.ll[i] = res.LogLikelihood
	f.gap[i] = res.Gap
	return nil
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
