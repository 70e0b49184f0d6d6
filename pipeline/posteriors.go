package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"golang.org/x/sync/errgroup"

	"github.com/mixbatch/mixbatch/em"
	"github.com/mixbatch/mixbatch/readers"
)

// posteriorsSchema is the bag column, the keep columns, the value columns,
// posterior_<component> for each component and component, the most
// probable component's name.
func (r *runner) posteriorsSchema() *arrow.Schema {
	in := &r.cfg.Input
	fields := []arrow.Field{{Name: in.Bag, Type: r.keyType()}}
	for i, k := range in.Keep {
		fields = append(fields, arrow.Field{Name: k, Type: r.plan.keepTypes[i], Nullable: true})
	}
	// Rows of failed bags and rows dropped for nulls have null posteriors.
	nullable := r.cfg.Run.OnError == OnErrorSkip || in.Nulls == NullsDrop || len(r.cfg.Model.ComponentsRange) > 0
	// A null value is kept by input.nulls: drop, and (as a failed bag's
	// row) by run.on_error: skip.
	for i, v := range in.Value {
		fields = append(fields, arrow.Field{Name: v, Type: r.plan.valueTypes[i], Nullable: in.Nulls == NullsDrop || r.cfg.Run.OnError == OnErrorSkip})
	}
	for _, name := range r.model.names {
		fields = append(fields, arrow.Field{Name: PosteriorPrefix + name, Type: arrow.PrimitiveTypes.Float64, Nullable: nullable})
	}
	fields = append(fields, arrow.Field{Name: "component", Type: arrow.BinaryTypes.String, Nullable: nullable})
	return arrow.NewSchema(fields, nil)
}

// writePosteriors reads the input again, unit by unit (row group by row
// group) in parallel, and writes one posteriors part file per unit, rows
// in input order.
func (r *runner) writePosteriors(ctx context.Context) error {
	sc := r.posteriorsSchema()
	if len(r.plan.units) == 0 {
		// No rows at all: still one (empty) part, so the folder is a table.
		return r.writeRecords(ctx, PosteriorsTable, partName(0), sc)
	}
	index := newBagIndex(r.plan, r.bags)
	files := newFileSet(r.plan, r.mem)
	progress := r.progress("posteriors", r.sum.Rows)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.workers)
	for ui := range r.plan.units {
		g.Go(func() (err error) {
			defer recoverAs(&err, r.plan.files[r.plan.units[ui].file].Path)
			p := &posteriorPass{r: r, sc: sc, index: index}
			return p.unit(gctx, files, ui, progress)
		})
	}
	err := g.Wait()
	if cerr := files.close(); err == nil {
		err = cerr
	}
	return err
}

// bagIndex finds a bag's index from its key.
type bagIndex struct {
	lo    int64
	dense []int32 // key-lo -> bag index, or -1; nil unless plan.dense
	ints  map[int64]int
	strs  map[string]int
}

func newBagIndex(p *plan, b *bags) *bagIndex {
	x := &bagIndex{}
	switch {
	case b.strs != nil:
		x.strs = make(map[string]int, len(b.strs))
		for i, s := range b.strs {
			x.strs[s] = i
		}
	case p.dense:
		x.lo = p.keyLo
		x.dense = make([]int32, p.keyHi-p.keyLo+1)
		for i := range x.dense {
			x.dense[i] = -1
		}
		x.ints = map[int64]int{}
		for i, k := range b.ints {
			if d := uint64(k - x.lo); k >= x.lo && d < uint64(len(x.dense)) {
				x.dense[d] = int32(i)
			} else {
				x.ints[k] = i
			}
		}
	default:
		x.ints = make(map[int64]int, len(b.ints))
		for i, k := range b.ints {
			x.ints[k] = i
		}
	}
	return x
}

// find returns the index of the bag of row i of bag column arr.
func (x *bagIndex) find(arr arrow.Array, i int) (int, bool) {
	if x.strs != nil {
		b, ok := x.strs[readers.String(arr, i)]
		return b, ok
	}
	k, _ := BagKey(arr, i)
	return x.findInt(k)
}

func (x *bagIndex) findInt(k int64) (int, bool) {
	if d := uint64(k - x.lo); x.dense != nil && k >= x.lo && d < uint64(len(x.dense)) {
		b := x.dense[d]
		return int(b), b >= 0
	}
	b, ok := x.ints[k]
	return b, ok
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
	r     *runner
	sc    *arrow.Schema
	index *bagIndex

	k             int
	ll, post      []float64
	codeLL, cache []float64 // discrete families: per code, and per (bag, code)
	codes         []float64
	fast          []float64      // a batch's coded values
	comps         []em.LogProber // the current bag's components
	cached        []bool
	lastBag       int
	// multivariate_gaussian: the current bag's components and one row's
	// values.
	mvn []em.MultiNormal
	x   []float64
}

// unit writes the posteriors of unit ui as part file ui.
func (p *posteriorPass) unit(ctx context.Context, files *fileSet, ui int, progress func(int64)) (err error) {
	r := p.r
	u := r.plan.units[ui]
	path := r.plan.files[u.file].Path
	in := &r.cfg.Input
	rd, err := files.reader(ctx, u.file)
	if err != nil {
		return err
	}
	cols := append(append([]string{in.Bag}, in.Keep...), in.Value...)
	if in.Nulls == NullsDrop && in.Count != "" {
		cols = append(cols, in.Count) // to tell the rows dropped for a null count
	}
	rr, err := rd.UnitRecords(ctx, cols, batchRows, u.index)
	if err != nil {
		return err
	}
	defer rr.Release()
	w, err := r.createPart(ctx, PosteriorsTable, partName(ui), p.sc)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// A part cut short is not committed (an object never appears).
			if aerr := w.Abort(); aerr != nil {
				err = errors.Join(err, aerr)
			}
			return
		}
		if cerr := w.Close(); cerr != nil {
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
		out, err := p.batch(rec, path, u.row+row)
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
	if row != u.rows {
		return fmt.Errorf("%s: the file changed during the run (row group %d has %d rows, had %d)", path, u.index, row, u.rows)
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
	if err := cast(bag, r.keyType(), in.Bag); err != nil {
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
	// Fast paths: integer keys looked up only when they change, values
	// coded in one pass when none is null or bad.
	var keys []int64
	if k, ok := int64Keys(bag); ok && bag.NullN() == 0 {
		keys = k
	}
	var fast []float64
	if nv == 1 && vals[0].NullN() == 0 {
		codes, ok := r.model.fastCodes(vals[0], p.fast[:0])
		if r.model.ownCodes() {
			p.fast = codes
		}
		if ok {
			fast = codes
		}
	}
	lastKey, lastBag, lastOK := int64(0), 0, false
	for i := 0; i < n; i++ {
		changed := func(reason string) error {
			return &InputError{File: path, Column: in.Bag, Row: row + int64(i), Bag: valueAt(bag, i),
				Reason: "the file changed during the run: " + reason}
		}
		var b int
		var ok bool
		switch {
		case keys == nil:
			b, ok = p.index.find(bag, i)
		case i > 0 && keys[i] == lastKey:
			b, ok = lastBag, lastOK
		default:
			b, ok = p.index.findInt(keys[i])
			lastKey, lastBag, lastOK = keys[i], b, ok
		}
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
		if fast != nil {
			code = fast[i]
		} else {
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
