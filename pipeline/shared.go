package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"golang.org/x/sync/errgroup"

	"github.com/mixbatch/mixbatch/em"
)

// SharedFit is the outcome of a model.scope: shared fit: the shared
// components, and the joint figures for the manifest and components/.
type SharedFit struct {
	Params        em.Params `json:"-"`
	LogLikelihood float64   `json:"log_likelihood"`
	Iterations    int       `json:"iterations"`
	Converged     bool      `json:"converged"`
	Starts        int       `json:"starts"`
	Bags          int       `json:"bags"`
	FreeParams    int       `json:"free_params"`
	BIC           float64   `json:"bic"`
	AIC           float64   `json:"aic"`
}

// fitShared fits model.scope: shared: one set of component parameters for
// every bag, weights per bag, by EM over all bags at once. Each iteration
// is a map (the E-steps of blocks of bags, spread over the workers with an
// errgroup) and a reduce (the blocks' sufficient statistics added in block
// order, so the result is the same for any worker count; then one M-step).
//
// Bags that cannot take part (a bad row under on_error: skip, counts that
// sum to zero) are failed bags as in the per-bag scope; under on_error:
// fail they fail the run. The shared fit itself failing (no start
// converges to a usable point, or a categorical solution on a flat ridge)
// fails the run: there is no per-bag result without the components.
func fitShared(ctx context.Context, cfg *Config, p *plan, b *bags, m *model, workers int, progress func(int64)) (*fits, *SharedFit, error) {
	nb, k := b.len(), len(m.names)
	f := newFits(m, nb)
	skip := cfg.Run.OnError == OnErrorSkip
	errs := b.readErrors()
	var data []em.Bag
	var index []int // data[j] is bag index[j]
	var w worker
	for i := range nb {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		f.nobs[i] = b.nobs[i]
		if errs[i] != "" {
			continue
		}
		total := w.aggregate(b, m, i)
		f.total[i] = total
		if total == 0 {
			e := noDataError(cfg, p, b, i)
			if !skip {
				return nil, nil, e
			}
			errs[i] = e.Error()
			continue
		}
		data = append(data, em.Bag{X: slices.Clone(w.xs), Counts: slices.Clone(w.cs)})
		index = append(index, i)
	}
	if len(data) == 0 {
		return nil, nil, errors.New("model.scope: shared: no bag has observations to fit")
	}
	s := m.learn.settings
	s.Seed = cfg.EM.Seed
	s.Parallel = func(parts int, fn func(part int) error) error { return parallel(ctx, workers, parts, fn) }
	s.Done = ctx.Done() // the one long fit stops on interrupt
	model := m.learn.models[k]
	res, err := em.FitShared(data, model, s)
	if err != nil {
		var ie *em.IdentifiabilityError
		if errors.As(err, &ie) {
			return nil, nil, fmt.Errorf("model.scope: shared: the fitted components are not identified by these data, so they are not reported: %s", ie.Reason)
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, nil, cerr
		}
		return nil, nil, fmt.Errorf("model.scope: shared: %w", err)
	}
	if progress != nil {
		progress(b.rows())
	}
	sh := &SharedFit{Params: res.Params, LogLikelihood: res.LogLikelihood, Iterations: res.Iterations,
		Converged: res.Converged, Starts: res.Starts, Bags: len(data), FreeParams: model.SharedFreeParams(len(data))}
	n := 0.0
	for _, i := range index {
		n += f.total[i]
	}
	sh.BIC = em.BIC(res.LogLikelihood, sh.FreeParams, n)
	sh.AIC = em.AIC(res.LogLikelihood, sh.FreeParams)

	// Every bag carries the shared parameters, so that its rows in
	// weights/ and its posteriors read like a per-bag fit's.
	get := scalarParams(res.Params)
	comps := make([]em.LogProber, 0, k)
	var unc em.Uncertainty
	for j, i := range index {
		copy(f.weights[i*k:], res.BagWeights[j*k:(j+1)*k])
		f.ll[i] = res.BagLogLik[j]
		f.iters[i] = int64(res.Iterations)
		f.converged[i] = res.Converged
		f.gap[i] = math.NaN()
		f.ncomp[i] = int64(k)
		// Per bag, only the weights are free: K-1 parameters.
		f.bic[i] = em.BIC(res.BagLogLik[j], k-1, f.total[i])
		f.aic[i] = em.AIC(res.BagLogLik[j], k-1)
		for _, q := range m.learn.scalars {
			copy(f.learned.scalars[q][i*k:], get[q])
			se := f.learned.se[q][i*k : i*k+k]
			for c := range se {
				se[c] = math.NaN() // see below
			}
		}
		if m.learn.probs {
			copy(f.learned.probs[i*k*len(m.labels):], res.Params.Probs)
		}
		if m.learn.mvn {
			d := m.learn.dim
			copy(f.learned.mean[i*k*d:], res.Params.Mean)
			copy(f.learned.cov[i*k*d*d:], res.Params.Cov)
			for c := range k {
				f.se[i*k+c] = math.NaN() // as per bag: not computed for these
			}
			continue
		}
		// The weights' standard errors given the shared components: the
		// components are estimated from every bag, so their uncertainty
		// is small next to one bag's; the errors of the shared parameters
		// themselves are not computed in this release.
		comps = m.bagComps(comps, f, i)
		w.xs, w.cs = data[j].X, data[j].Counts
		w.table = em.Table(w.table, w.xs, comps)
		se, err := unc.WeightStdErrors(f.se[i*k:i*k+k], w.table, w.cs, k, f.weights[i*k:i*k+k])
		if err != nil {
			for c := range k {
				f.se[i*k+c] = math.NaN()
			}
			continue
		}
		copy(f.se[i*k:], se)
	}
	for _, e := range errs {
		if e != "" {
			f.failed++
		}
	}
	if f.failed > 0 {
		f.errs = errs
	}
	return f, sh, nil
}

// parallel runs fn(0..parts-1) on up to workers goroutines and returns the
// first error; it stops starting parts once ctx is done.
func parallel(ctx context.Context, workers, parts int, fn func(part int) error) error {
	if workers <= 1 || parts <= 1 {
		for i := range parts {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range parts {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// ComponentsTable holds the shared components of a model.scope: shared run.
const ComponentsTable = "components"

// writeComponents writes components/: one row per shared component with its
// pooled weight (the count-weighted average of the bags' weights) and its
// parameters, learned and given.
func (r *runner) writeComponents(ctx context.Context) error {
	k, p := len(r.model.names), r.shared.Params
	fields := []arrow.Field{
		{Name: "component", Type: arrow.BinaryTypes.String},
		{Name: "weight", Type: arrow.PrimitiveTypes.Float64},
	}
	cols := []array.Builder{array.NewStringBuilder(r.mem), array.NewFloat64Builder(r.mem)}
	scalars := scalarParams(p)
	mvn := r.model.learn.mvn
	if mvn {
		scalars = nil // mean and cov are lists, below
	}
	var names []string
	for _, q := range familyParams[r.model.family] {
		if q == "probs" || scalars[q] == nil {
			continue
		}
		names = append(names, q)
		fields = append(fields, arrow.Field{Name: q, Type: arrow.PrimitiveTypes.Float64, Nullable: true})
		cols = append(cols, array.NewFloat64Builder(r.mem))
	}
	var probs *array.MapBuilder
	if p.Probs != nil {
		fields = append(fields, arrow.Field{Name: "probs", Type: probsType, Nullable: true})
		probs = array.NewMapBuilderWithType(r.mem, probsType)
		cols = append(cols, probs)
	}
	var mean, cov *array.ListBuilder
	if mvn {
		fields = append(fields,
			arrow.Field{Name: "mean", Type: meanType, Nullable: true},
			arrow.Field{Name: "cov", Type: covType, Nullable: true})
		mean, cov = array.NewListBuilder(r.mem, arrow.PrimitiveTypes.Float64), array.NewListBuilder(r.mem, meanType)
		cols = append(cols, mean, cov)
	}
	for _, c := range cols {
		defer c.Release()
	}
	shared := &learned{mean: p.Mean, cov: p.Cov}
	for j := range k {
		cols[0].(*array.StringBuilder).Append(r.model.names[j])
		cols[1].(*array.Float64Builder).Append(p.Weights[j])
		for q, name := range names {
			if v := scalars[name][j]; math.IsNaN(v) {
				cols[2+q].AppendNull()
			} else {
				cols[2+q].(*array.Float64Builder).Append(v)
			}
		}
		if probs != nil {
			appendProbs(probs, r.model.labels, p.Probs, j)
		}
		if mvn {
			appendMVN(mean, cov, shared, r.model.learn.dim, j)
		}
	}
	return r.writePart(ctx, ComponentsTable, 0, arrow.NewSchema(fields, nil), cols...)
}
