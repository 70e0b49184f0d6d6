package pipeline

import (
	"context"
	"fmt"
	"os"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"golang.org/x/sync/errgroup"

	"github.com/mixbatch/mixbatch/em"
	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/writers"
)

// posteriorsSchema is the bag column, the keep columns, the value column,
// posterior_<component> for each component and component, the most
// probable component's name.
func (r *runner) posteriorsSchema() *arrow.Schema {
	in := &r.cfg.Input
	fields := []arrow.Field{{Name: in.Bag, Type: r.plan.bagType}}
	for i, k := range in.Keep {
		fields = append(fields, arrow.Field{Name: k, Type: r.plan.keepTypes[i], Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: in.Value, Type: r.plan.valueType})
	for _, name := range r.model.names {
		fields = append(fields, arrow.Field{Name: PosteriorPrefix + name, Type: arrow.PrimitiveTypes.Float64})
	}
	fields = append(fields, arrow.Field{Name: "component", Type: arrow.BinaryTypes.String})
	return arrow.NewSchema(fields, nil)
}

// writePosteriors reads the input again, file by file in parallel, and
// writes one posteriors part file per input file, rows in input order.
func (r *runner) writePosteriors(ctx context.Context) error {
	if err := os.Mkdir(r.stage.path(PosteriorsTable, ""), 0o755); err != nil {
		return err
	}
	// Bag key -> bag index, to find each row's weights.
	var intIdx map[int64]int
	var strIdx map[string]int
	if r.bags.strs != nil {
		strIdx = make(map[string]int, len(r.bags.strs))
		for i, s := range r.bags.strs {
			strIdx[s] = i
		}
	} else {
		intIdx = make(map[int64]int, len(r.bags.ints))
		for i, k := range r.bags.ints {
			intIdx[k] = i
		}
	}
	lookup := func(bag arrow.Array, i int) int {
		if strIdx != nil {
			return strIdx[stringAt(bag, i)]
		}
		k, _ := intAt(bag, i)
		return intIdx[k]
	}
	sc := r.posteriorsSchema()
	progress := r.progress("posteriors", r.sum.Rows)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(r.workers)
	for fi := range r.plan.files {
		g.Go(func() error { return r.posteriorsOf(ctx, fi, sc, lookup, progress) })
	}
	return g.Wait()
}

func (r *runner) posteriorsOf(ctx context.Context, fi int, sc *arrow.Schema, lookup func(arrow.Array, int) int, progress func(int64)) (err error) {
	f := r.plan.files[fi]
	in := &r.cfg.Input
	rd, err := readers.Open(ctx, f, r.mem)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := rd.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: %w", f.Path, cerr)
		}
	}()
	if rd.NumRows() != r.plan.rows[fi] {
		return fmt.Errorf("%s: the file changed during the run (%d rows, was %d)", f.Path, rd.NumRows(), r.plan.rows[fi])
	}
	cols := append(append([]string{in.Bag}, in.Keep...), in.Value)
	rr, err := rd.Records(ctx, cols, batchRows)
	if err != nil {
		return err
	}
	defer rr.Release()
	w, err := writers.Create(r.stage.path(PosteriorsTable, partName(fi)), sc, writers.Options{})
	if err != nil {
		return fmt.Errorf("writing %s: %w", PosteriorsTable, err)
	}
	defer func() {
		if cerr := w.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("writing %s: %w", PosteriorsTable, cerr)
		}
	}()
	k := len(r.model.names)
	ll := make([]float64, k)
	post := make([]float64, k)
	// Discrete families: a bag's posterior depends only on the code, so it
	// is computed once per (bag, code) while a bag's rows run together.
	var codeLL, cache []float64
	var cached []bool
	lastBag := -1
	if r.model.discrete() {
		codes := make([]float64, len(r.model.possible))
		for c := range codes {
			codes[c] = float64(c)
		}
		codeLL = em.Table(nil, codes, r.model.comps)
		cache = make([]float64, len(codes)*k)
		cached = make([]bool, len(codes))
	}
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := rr.Record()
		n := int(rec.NumRows())
		bag, val := rec.Column(0), rec.Column(len(cols)-1)
		out := make([]arrow.Array, 0, sc.NumFields())
		release := func() {
			for _, a := range out {
				a.Release()
			}
		}
		out = append(out, castTo(r.mem, bag, r.plan.bagType))
		for i := range in.Keep {
			out = append(out, castTo(r.mem, rec.Column(1+i), r.plan.keepTypes[i]))
		}
		out = append(out, castTo(r.mem, val, r.plan.valueType))
		pb := make([]*array.Float64Builder, k)
		for j := range pb {
			pb[j] = array.NewFloat64Builder(r.mem)
			pb[j].Reserve(n)
		}
		best := array.NewStringBuilder(r.mem)
		for i := 0; i < n; i++ {
			b := lookup(bag, i)
			code, _ := r.model.code(val, i)
			weights := r.fits.weights[b*k : b*k+k]
			if cache != nil {
				if b != lastBag {
					clear(cached)
					lastBag = b
				}
				c := int(code)
				post = cache[c*k : c*k+k]
				if !cached[c] {
					em.Posteriors(post, codeLL[c*k:c*k+k], weights)
					cached[c] = true
				}
			} else {
				for j, c := range r.model.comps {
					ll[j] = c.LogProb(code)
				}
				post = em.Posteriors(post, ll, weights)
			}
			top := 0
			for j, p := range post {
				pb[j].UnsafeAppend(p)
				if p > post[top] {
					top = j
				}
			}
			best.Append(r.model.names[top])
		}
		for _, b := range pb {
			out = append(out, b.NewArray())
			b.Release()
		}
		out = append(out, best.NewArray())
		best.Release()
		res := array.NewRecord(sc, out, int64(n))
		err := w.Write(res)
		res.Release()
		release()
		if err != nil {
			return fmt.Errorf("writing %s: %w", PosteriorsTable, err)
		}
		if progress != nil {
			progress(int64(n))
		}
	}
	if err := rr.Err(); err != nil {
		return err
	}
	return nil
}
