package pipeline

import (
	"context"
	"math"
	"time"

	"golang.org/x/sync/errgroup"
)

// window is a range [lo, hi] of the bag keys of a sorted input (plan.sorted)
// and the units that hold them; a run reads and fits one window at a time,
// so that its rows in memory are those of a window, not of the input.
// Only the first and last units of a window can hold other windows' bags
// too: they are read by both windows, each taking its own bags' rows.
type window struct {
	lo, hi int64
	units  []unit
	rows   int64
}

// contains reports whether every key of unit u is in the window.
func (w *window) contains(u unit) bool { return u.lo >= w.lo && u.hi <= w.hi }

// defaultWindowRows is how many rows a window holds when no
// run.memory_limit says otherwise: some 100 MB of rows in memory, twice
// that while grouped, and stream holds two windows.
const defaultWindowRows = 4 << 20

// windows cuts a sorted plan into windows of about rows rows each,
// starting each window at a unit whose smallest key is larger than the
// window before's, so that no bag is in two windows.
func (p *plan) windows(rows int64) []*window {
	var ws []*window
	var cur *window
	for _, u := range p.units {
		if cur == nil || cur.rows >= rows && u.lo > cur.lo {
			if cur != nil {
				cur.hi = u.lo - 1
			}
			cur = &window{lo: u.lo}
			if len(ws) == 0 {
				cur.lo = math.MinInt64
			}
			ws = append(ws, cur)
		}
		cur.rows += u.rows
	}
	if cur != nil {
		cur.hi = math.MaxInt64
	}
	for _, w := range ws {
		w.rows = 0
		for _, u := range p.units {
			if u.hi >= w.lo && u.lo <= w.hi {
				w.units = append(w.units, u)
				w.rows += u.rows
			}
		}
	}
	return ws
}

// streams reports how many rows a window of a sorted input holds, or 0
// when the run is not read window by window: only row families (discrete
// values are kept as counts, which take no room) of per-bag scope, with
// sorted integer keys, and more rows than one window. Under
// run.memory_limit, an input with a unit of more than windowUnits windows'
// rows is not read window by window either: a window holds whole units,
// so its windows could not keep to the budget (an input of one row group,
// which is sorted whatever its order, was read whole: 260 MiB under 64MiB
// for 6M readings); its rows are read whole or, past the budget, spilled
// (spillPlan), which holds a worker's rows of a unit only up to
// spillFlushRows when the scanner flushes them batch by batch.
func (r *runner) streams() int64 {
	if !r.plan.sorted || r.cfg.aggregates(r.model, r.plan) || r.cfg.Model.Scope == ScopeShared || r.opts.spillPartitions > 0 {
		return 0
	}
	rows := int64(defaultWindowRows)
	if r.opts.windowRows > 0 {
		rows = r.opts.windowRows
	}
	if lim := int64(r.cfg.Run.MemoryLimit); lim > 0 {
		// As in spiller: a row costs about twice its size while grouped;
		// the two windows in memory (stream reads one ahead) may take a
		// quarter of the budget.
		rows = min(rows, max(lim/8/(2*r.rowBytes()), 1))
		if r.largestUnit() > windowUnits*rows {
			return 0
		}
	}
	if r.sum.Rows <= rows {
		return 0
	}
	return rows
}

// windowUnits is how many windows' rows the largest unit of a sorted
// input may hold for it to be read window by window under
// run.memory_limit: the two windows in memory then take at most the
// budget (a window of a unit's rows, each row twice while grouped), as
// with row groups of 1M rows (mixbatch gen, pyarrow) under 64MiB.
const windowUnits = 4

// largestUnit is the rows of the plan's largest unit.
func (r *runner) largestUnit() int64 {
	var n int64
	for _, u := range r.plan.units {
		n = max(n, u.rows)
	}
	return n
}

// rowBytes is the size of a row held in memory: its bag id, values and
// count.
func (r *runner) rowBytes() int64 {
	n := int64(4 + 8*r.model.dim)
	if r.cfg.Input.Count != "" {
		n += 8
	}
	return n
}

// stream reads and fits a sorted input window by window, and puts the
// bags and their fits together, in key order. It reads one window ahead:
// while the workers fit a window, the next is read and grouped, so that
// neither phase's tail (the last units, the last bags, the merge of the
// workers' rows, which is serial) leaves a core idle. So two windows'
// rows are in memory at most, and r.sum.Read and r.sum.Fit overlap.
func (r *runner) stream(ctx context.Context, rows int64) error {
	ws := r.plan.windows(rows)
	r.sum.Windows = len(ws)
	r.log.Info("the input is sorted by bag: reading it window by window", "windows", len(ws), "rows_per_window", rows)
	all := &bags{dim: len(r.plan.valueTypes), ints: []int64{}, typ: r.plan.bagType}
	allFits := newFits(r.model, 0)
	// The row groups two windows share are read by both.
	var reads int64
	for _, w := range ws {
		reads += w.rows
	}
	read, fit := r.progress("read", reads), r.progress("fit", r.sum.Rows)
	type scanned struct {
		sub *plan
		b   *bags
	}
	// Unbuffered: the reader holds at most the window it has read until
	// the fitter takes it, so at most two windows are in memory.
	next := make(chan scanned)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(next)
		for _, w := range ws {
			sub := *r.plan
			sub.window, sub.units = w, w.units
			sub.keyLo, sub.keyHi = max(w.lo, r.plan.keyLo), min(w.hi, r.plan.keyHi)
			sub.dense = denseEnough(sub.keyLo, sub.keyHi, w.rows)
			t := time.Now()
			b, err := scan(gctx, r.cfg, &sub, r.model, r.mem, r.workers, nil, read)
			if err != nil {
				return err
			}
			r.sum.Read += time.Since(t)
			select {
			case next <- scanned{&sub, b}:
			case <-gctx.Done():
				b.releaseRows()
				return gctx.Err()
			}
		}
		return nil
	})
	g.Go(func() error {
		for s := range next {
			r.warnLargeBag(s.b)
			t := time.Now()
			f, err := fitAll(gctx, r.cfg, s.sub, s.b, r.model, nil, r.workers, fit)
			if err != nil {
				// Returning cancels gctx: the reader stops, releasing
				// the window it holds.
				s.b.releaseRows()
				return err
			}
			r.sum.Fit += time.Since(t)
			s.b.releaseRows()
			all.append(s.b)
			allFits.append(f)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	r.bags, r.fits = all, allFits
	return nil
}

// append adds the bags of c (keys after b's) to b, without their rows.
func (b *bags) append(c *bags) {
	n := b.len()
	b.ints = append(b.ints, c.ints...)
	b.strs = append(b.strs, c.strs...)
	b.nobs = append(b.nobs, c.nobs...)
	b.first = append(b.first, c.first...)
	b.failed = appendAligned(b.failed, c.failed, n, len(c.nobs))
	b.dropped = appendAligned(b.dropped, c.dropped, n, len(c.nobs))
}

// appendAligned appends the m values of src to the n of dst, where nil
// stands for as many zero values.
func appendAligned[T any](dst, src []T, n, m int) []T {
	if dst == nil && src == nil {
		return nil
	}
	if dst == nil {
		dst = make([]T, n, n+m)
	}
	if src == nil {
		return append(dst, make([]T, m)...)
	}
	return append(dst, src...)
}

// append adds the fits of g's bags after f's.
func (f *fits) append(g *fits) {
	n := len(f.nobs)
	f.weights = append(f.weights, g.weights...)
	f.nobs = append(f.nobs, g.nobs...)
	f.total = append(f.total, g.total...)
	f.iters = append(f.iters, g.iters...)
	f.converged = append(f.converged, g.converged...)
	f.ll = append(f.ll, g.ll...)
	f.gap = append(f.gap, g.gap...)
	f.se = append(f.se, g.se...)
	f.ncomp = append(f.ncomp, g.ncomp...)
	f.bic = append(f.bic, g.bic...)
	f.aic = append(f.aic, g.aic...)
	f.errs = appendAligned(f.errs, g.errs, n, len(g.nobs))
	f.failed += g.failed
	if l, m := f.learned, g.learned; l != nil {
		for q := range l.scalars {
			l.scalars[q] = append(l.scalars[q], m.scalars[q]...)
			l.se[q] = append(l.se[q], m.se[q]...)
		}
		l.probs = append(l.probs, m.probs...)
		l.mean = append(l.mean, m.mean...)
		l.cov = append(l.cov, m.cov...)
	}
}
