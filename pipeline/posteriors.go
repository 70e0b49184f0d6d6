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

// posteriorsSchema is the bag column, the keep columns, the value columns,
// posterior_<component> for each component and component, the most
// probable component's name.
func (r *runner) posteriorsSchema() *arrow.Schema {
	in := &r.cfg.Input
	fields := []arrow.Field{{Name: in.Bag, Type: r.plan.bagType}}
	for i, k := range in.Keep {
		fields = append(fields, arrow.Field{Name: k, Type: r.plan.keepTypes[i], Nullable: true})
	}
	// Rows of failed bags and rows dropped for nulls have null posteriors.
	nullable := r.cfg.Run.OnError == OnErrorSkip || in.Nulls == NullsDrop || len(r.cfg.Model.ComponentsRange) > 0
	for i, v := range in.Value {
		fields = append(fields, arrow.Field{Name: v, Type: r.plan.valueTypes[i], Nullable: in.Nulls == NullsDrop})
	}
	for _, name := range r.model.names {
		fields = append(fields, arrow.Field{Name: PosteriorPrefix + name, Type: arrow.PrimitiveTypes.Float64, Nullable: nullable})
	}
	fields = append(fields, arrow.Field{Name: "component", Type: arrow.BinaryTypes.String, Nullable: nullable})
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
	lookup := func(bag arrow.Array, i int) (int, bool) {
		if strIdx != nil {
			b, ok := strIdx[readers.String(bag, i)]
			return b, ok
		}
		k, _ := readers.Int(bag, i)
		b, ok := intIdx[k]
		return b, ok
	}
	sc := r.posteriorsSchema()
	progress := r.progress("posteriors", r.sum.Rows)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(r.workers)
	for fi := range r.plan.files {
		g.Go(func() (err error) {
			defer recoverAs(&err, r.plan.files[fi].Path)
			p := &posteriorPass{r: r, sc: sc, lookup: lookup}
			return p.file(ctx, fi, progress)
		})
	}
	return g.Wait()
}

// recoverAs turns a panic into an error naming what was being worked on,
// so that a decoder's or a bug's panic fails the run cleanly (the staging
// folder is removed) instead of crashing it.
func recoverAs(err *error, what string) {
	if v := recover(); v != nil {
		*err = fmt.Errorf("%s: internal error: %v", what, v)
	}
}

// posteriorPass writes the posteriors of one input file.
type posteriorPass struct {
	r      *runner
	sc     *arrow.Schema
	lookup func(bag arrow.Array, i int) (int, bool)

	k             int
	ll, post      []float64
	codeLL, cache []float64 // discrete families: per code, and per (bag, code)
	codes         []float64
	comps         []em.LogProber // the current bag's components
	cached        []bool
	lastBag       int
	// multivariate_gaussian: the current bag's components and one row's
	// values.
	mvn []em.MultiNormal
	x   []float64
}

func (p *posteriorPass) file(ctx context.Context, fi int, progress func(int64)) (err error) {
	r := p.r
	f := r.plan.files[fi]
	in := &r.cfg.Input
	if err := r.plan.unchanged(fi); err != nil {
		return err
	}
	rd, err := readers.Open(ctx, f, r.mem)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := rd.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: %w", f.Path, cerr)
		}
	}()
	cols := append(append([]string{in.Bag}, in.Keep...), in.Value...)
	if in.Nulls == NullsDrop && in.Count != "" {
		cols = append(cols, in.Count) // to tell the rows dropped for a null count
	}
	rr, err := rd.Records(ctx, cols, batchRows)
	if err != nil {
		return err
	}
	defer rr.Release()
	w, err := writers.Create(r.stage.path(PosteriorsTable, partName(fi)), p.sc, writers.Options{})
	if err != nil {
		return fmt.Errorf("writing %s: %w", PosteriorsTable, err)
	}
	defer func() {
		if cerr := w.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("writing %s: %w", PosteriorsTable, cerr)
		}
	}()
	p.k = len(r.model.names)
	p.ll, p.post = make([]float64, p.k), make([]float64, p.k)
	p.lastBag = -1
	if r.model.family == MultivariateGaussian {
		p.mvn, p.x = make([]em.MultiNormal, p.k), make([]float64, r.model.dim)
	}
	if r.model.discrete() {
		// A bag's posterior depends only on the code, so it is computed
		// once per (bag, code) while a bag's rows run together.
		codes := make([]float64, len(r.model.possible))
		for c := range codes {
			codes[c] = float64(c)
		}
		p.codes = codes
		p.codeLL = em.Table(nil, codes, r.model.comps)
		p.cache = make([]float64, len(codes)*p.k)
		p.cached = make([]bool, len(codes))
	}
	var row int64
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := rr.Record()
		out, err := p.batch(rec, f.Path, row)
		if err != nil {
			return err
		}
		err = w.Write(out)
		out.Release()
		if err != nil {
			return fmt.Errorf("writing %s: %w", PosteriorsTable, err)
		}
		row += rec.NumRows()
		if progress != nil {
			progress(rec.NumRows())
		}
	}
	if err := rr.Err(); err != nil {
		return err
	}
	if row != r.plan.rows[fi] {
		return fmt.Errorf("%s: the file changed during the run (%d rows, was %d)", f.Path, row, r.plan.rows[fi])
	}
	return nil
}

// batch computes the posteriors record of one input batch whose first row
// is row of its file.
func (p *posteriorPass) batch(rec arrow.Record, path string, row int64) (out arrow.Record, err error) {
	r, k := p.r, p.k
	in := &r.cfg.Input
	n := int(rec.NumRows())
	nv := len(in.Value)
	bag, vals := rec.Column(0), rec.Columns()[1+len(in.Keep):1+len(in.Keep)+nv]
	var cnt arrow.Array // the count column, read only to find dropped rows
	if int(rec.NumCols()) > 1+len(in.Keep)+nv {
		cnt = rec.Column(1 + len(in.Keep) + nv)
	}
	dropNulls := in.Nulls == NullsDrop
	var arrs []arrow.Array
	defer func() {
		for _, a := range arrs {
			a.Release()
		}
	}()
	cast := func(a arrow.Array, t arrow.DataType, col string) error {
		c, err := castTo(r.mem, a, t)
		if err != nil {
			return &InputError{File: path, Column: col, Row: -1, Reason: err.Error()}
		}
		arrs = append(arrs, c)
		return nil
	}
	if err := cast(bag, r.plan.bagType, in.Bag); err != nil {
		return nil, err
	}
	for i, name := range in.Keep {
		if err := cast(rec.Column(1+i), r.plan.keepTypes[i], name); err != nil {
			return nil, err
		}
	}
	for j, val := range vals {
		if err := cast(val, r.plan.valueTypes[j], in.Value[j]); err != nil {
			return nil, err
		}
	}
	pb := make([]*array.Float64Builder, k)
	for j := range pb {
		pb[j] = array.NewFloat64Builder(r.mem)
		defer pb[j].Release()
		pb[j].Reserve(n)
	}
	best := array.NewStringBuilder(r.mem)
	defer best.Release()
	for i := 0; i < n; i++ {
		changed := func(reason string) error {
			return &InputError{File: path, Column: in.Bag, Row: row + int64(i), Bag: valueAt(bag, i),
				Reason: "the file changed during the run: " + reason}
		}
		b, ok := p.lookup(bag, i)
		if !ok {
			return nil, changed("this bag was not in it when the bags were fitted")
		}
		if !r.fits.ok(b) || dropNulls && (anyNull(vals, i) || cnt != nil && cnt.IsNull(i)) {
			for _, pbj := range pb {
				pbj.UnsafeAppendBoolToBitmap(false)
			}
			best.AppendNull()
			continue
		}
		if anyNull(vals, i) {
			return nil, changed("the value is null")
		}
		var code float64
		for j, val := range vals {
			c, reason := r.model.code(val, i)
			if reason != "" {
				return nil, changed(reason)
			}
			if p.x != nil {
				p.x[j] = c
			}
			code = c
		}
		weights := r.fits.weights[b*k : b*k+k]
		post := p.post
		if p.mvn != nil {
			if b != p.lastBag {
				if err := p.setMVN(b); err != nil {
					return nil, err
				}
				p.lastBag = b
			}
			for j := range p.mvn {
				p.ll[j] = p.mvn[j].LogProb(p.x)
			}
			em.Posteriors(post, p.ll, weights)
		} else {
			if b != p.lastBag || p.comps == nil {
				// Learned components differ from bag to bag.
				p.comps = r.model.bagComps(p.comps, r.fits, b)
				if p.cache != nil && r.model.learn != nil {
					p.codeLL = em.Table(p.codeLL, p.codes, p.comps)
				}
			}
			if p.cache != nil {
				if b != p.lastBag {
					clear(p.cached)
					p.lastBag = b
				}
				c := int(code)
				post = p.cache[c*k : c*k+k]
				if !p.cached[c] {
					em.Posteriors(post, p.codeLL[c*k:c*k+k], weights)
					p.cached[c] = true
				}
			} else {
				p.lastBag = b
				for j, c := range p.comps {
					p.ll[j] = c.LogProb(code)
				}
				em.Posteriors(post, p.ll, weights)
			}
		}
		top := 0
		for j, v := range post {
			if int64(j) >= r.fits.ncomp[b] {
				pb[j].UnsafeAppendBoolToBitmap(false) // beyond the bag's K
				continue
			}
			pb[j].UnsafeAppend(v)
			if v > post[top] {
				top = j
			}
		}
		best.Append(r.model.names[top])
	}
	for _, b := range pb {
		arrs = append(arrs, b.NewArray())
	}
	arrs = append(arrs, best.NewArray())
	return array.NewRecord(p.sc, arrs, int64(n)), nil
}

// setMVN gives p.mvn bag b's learned multivariate_gaussian components; a
// component of weight 0 (no parameters) or beyond the bag's K gets
// density zero.
func (p *posteriorPass) setMVN(b int) error {
	f, k, d := p.r.fits, p.k, p.r.model.dim
	for j := range p.mvn {
		row := b*k + j
		if int64(j) >= f.ncomp[b] || !(f.weights[row] > 0) {
			p.mvn[j].Reset()
			continue
		}
		if !p.mvn[j].Set(f.learned.mean[row*d:(row+1)*d], f.learned.cov[row*d*d:(row+1)*d*d]) {
			return fmt.Errorf("bag %s: internal error: the learned covariance of component %q is not positive definite", p.r.bags.key(b), p.r.model.names[j])
		}
	}
	return nil
}
