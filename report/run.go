package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/store"
)

// run is a finished run's output folder: its manifest, config and model.
type run struct {
	dir      string // a local folder, or an object-store URL (see package store)
	man      pipeline.Manifest
	manBytes []byte // manifest.json as read
	cfg      *pipeline.Config
	mix      *pipeline.Mixture
	mem      memory.Allocator
}

// openRun reads dir/manifest.json and the model it records. dir is a
// local folder or an object-store URL, such as an output.dir on S3: there
// the manifest names the published run's files under run=<id>/.
func openRun(ctx context.Context, dir string) (*run, error) {
	if dir == "" {
		return nil, errors.New("no run folder given")
	}
	dir, err := store.Clean(dir)
	if err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	if !store.IsURL(dir) {
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("run folder %s does not exist", dir)
		case err != nil:
			return nil, fmt.Errorf("run folder: %w", err)
		case !fi.IsDir():
			return nil, fmt.Errorf("run folder %s is not a folder", dir)
		}
	}
	path := store.Join(dir, pipeline.ManifestFile)
	b, err := store.ReadFile(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: it is not the output folder of a finished mixbatch run", store.Redact(dir), pipeline.ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	// A run publishes _SUCCESS last, after manifest.json (on an object
	// store the manifest can be there while the run is still publishing,
	// or left by one that failed): readers wait for it.
	if _, err := store.Stat(ctx, store.Join(dir, pipeline.SuccessFile)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: the run did not finish publishing its output (or the folder is an incomplete copy)", store.Redact(dir), pipeline.SuccessFile)
	} else if err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	r := &run{dir: dir, manBytes: b, mem: memory.NewGoAllocator()}
	if err := json.Unmarshal(b, &r.man); err != nil {
		return nil, fmt.Errorf("%s: %w", store.Redact(path), err)
	}
	r.cfg = r.man.Config
	if r.cfg == nil {
		return nil, fmt.Errorf("%s: no config recorded", store.Redact(path))
	}
	if r.mix, err = pipeline.NewMixture(r.cfg); err != nil {
		return nil, fmt.Errorf("%s: config: %w", store.Redact(path), err)
	}
	return r, nil
}

// parts returns the part files of an output table, in order: as the
// manifest lists them, or else the table folder's *.parquet files by name
// (a local run only).
func (r *run) parts(table string) ([]string, error) {
	if t, ok := r.man.Tables[table]; ok && len(t.Files) > 0 {
		out := make([]string, len(t.Files))
		for i, f := range t.Files {
			if !filepath.IsLocal(filepath.FromSlash(f)) {
				// Only the run's own files: not ../x or /etc/x, which a
				// manifest.json not written by mixbatch could name.
				return nil, fmt.Errorf("run %s: manifest.json lists %q in %s, which is not a file of the run", store.Redact(r.dir), f, table)
			}
			if store.IsURL(r.dir) {
				out[i] = store.Join(r.dir, f)
			} else {
				out[i] = filepath.Join(r.dir, filepath.FromSlash(f))
			}
		}
		return out, nil
	}
	if store.IsURL(r.dir) {
		return nil, fmt.Errorf("run %s has no %s table", store.Redact(r.dir), table)
	}
	out, err := filepath.Glob(filepath.Join(r.dir, table, "*.parquet"))
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		if _, err := os.Stat(filepath.Join(r.dir, table)); err != nil {
			return nil, fmt.Errorf("run %s has no %s table", r.dir, table)
		}
	}
	sort.Strings(out)
	return out, nil
}

// bagType returns the type of the run's bag column in its output tables
// (a string, integer, date or timestamp type), from the schema of the
// first part of fits.
func (r *run) bagType(ctx context.Context) (arrow.DataType, error) {
	parts, err := r.parts(pipeline.FitsTable)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("run %s has no bags", r.dir)
	}
	rd, err := readers.Open(ctx, readers.File{Path: parts[0]}, r.mem)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	idx := rd.Schema().FieldIndices(r.cfg.Input.Bag)
	if len(idx) != 1 {
		return nil, fmt.Errorf("%s: no bag column %q", parts[0], r.cfg.Input.Bag)
	}
	t := rd.Schema().Field(idx[0]).Type
	if !isKeyType(t) {
		return nil, fmt.Errorf("%s: bag column %q has type %s", parts[0], r.cfg.Input.Bag, t)
	}
	return t, nil
}

// rowIter streams rows of some columns of a table's part files, one part
// and record batch at a time. The current batch's columns are valid until
// the next call to next.
type rowIter struct {
	ctx   context.Context
	mem   memory.Allocator
	parts []string
	cols  []string
	batch int

	rd   *readers.Reader
	rr   readers.RecordReader
	path string // the file being read
	arrs []arrow.Array
	n, i int // rows in the current batch, current row
	err  error
}

func newRowIter(ctx context.Context, mem memory.Allocator, parts, cols []string) *rowIter {
	return &rowIter{ctx: ctx, mem: mem, parts: parts, cols: cols, i: -1}
}

// next advances to the next row and reports whether there is one.
func (it *rowIter) next() bool {
	if it.err != nil {
		return false
	}
	it.i++
	for it.i >= it.n {
		if it.rr != nil && it.rr.Next() {
			rec := it.rr.Record()
			it.arrs = rec.Columns()
			it.n, it.i = int(rec.NumRows()), 0
			continue
		}
		if it.rr != nil {
			if err := it.rr.Err(); err != nil {
				it.err = err
				return false
			}
		}
		it.closeFile()
		if len(it.parts) == 0 {
			return false
		}
		it.path, it.parts = it.parts[0], it.parts[1:]
		rd, err := readers.Open(it.ctx, readers.File{Path: it.path}, it.mem)
		if err != nil {
			it.err = err
			return false
		}
		it.rd = rd
		if it.rr, err = rd.Records(it.ctx, it.cols, it.batch); err != nil {
			it.err = err
			return false
		}
	}
	return true
}

func (it *rowIter) closeFile() {
	if it.rr != nil {
		it.rr.Release()
		it.rr = nil
	}
	if it.rd != nil {
		if err := it.rd.Close(); err != nil && it.err == nil {
			it.err = err
		}
		it.rd = nil
	}
	it.arrs, it.n, it.i = nil, 0, 0
}

// close releases the iterator and returns the error that stopped it.
func (it *rowIter) close() error {
	it.closeFile()
	return it.err
}

// fitRow is one row of the fits table.
type fitRow struct {
	key        bagKey
	nobs       int64
	total      float64
	iterations int64
	converged  bool
	ll         float64
	gap        float64 // NaN when null (learned components have no certificate)
	status     string
	err        string
	ncomp      int64 // the bag's K with model.components_range; 0 otherwise or when null
}

// fitsColumns are the fits table's columns after the bag column, as read;
// runs with model.components_range add nComponents.
var fitsColumns = []string{"n_obs", "total_count", "iterations", "converged", "log_likelihood", "gap", "status", "error"}

// nComponents is the fits column of the components a bag's model has.
const nComponents = "n_components"

// fitsIter streams the fits table.
type fitsIter struct {
	*rowIter
	ncomp bool // n_components is read, after fitsColumns
}

func (r *run) fitsIter(ctx context.Context) (*fitsIter, error) {
	parts, err := r.parts(pipeline.FitsTable)
	if err != nil {
		return nil, err
	}
	cols := append([]string{r.cfg.Input.Bag}, fitsColumns...)
	ncomp := r.selectsK()
	if ncomp {
		cols = append(cols, nComponents)
	}
	return &fitsIter{newRowIter(ctx, r.mem, parts, cols), ncomp}, nil
}

// selectsK reports whether the run selects each bag's number of
// components (model.components_range).
func (r *run) selectsK() bool { return len(r.cfg.Model.ComponentsRange) == 2 }

// row returns the current row; the key's string shares the batch's memory
// until cloned.
func (it *fitsIter) row() (fitRow, error) {
	a, i := it.arrs, it.i
	f := fitRow{key: keyAt(a[0], i)}
	var ok [6]bool
	f.nobs, ok[0] = readers.Int(a[1], i)
	f.total, ok[1] = floatAt(a[2], i)
	f.iterations, ok[2] = readers.Int(a[3], i)
	if b, isBool := a[4].(*array.Boolean); isBool {
		f.converged, ok[3] = b.Value(i), true
	}
	f.ll, ok[4] = floatAt(a[5], i)
	f.gap, ok[5] = floatAt(a[6], i)
	for j, good := range ok {
		if !good {
			return f, fmt.Errorf("%s: column %q has type %s", it.path, fitsColumns[j], a[j+1].DataType())
		}
	}
	if a[6].IsNull(i) {
		f.gap = math.NaN()
	}
	f.status = readers.String(a[7], i)
	if !a[8].IsNull(i) {
		f.err = readers.String(a[8], i)
	}
	if it.ncomp && !a[9].IsNull(i) {
		var good bool
		if f.ncomp, good = readers.Int(a[9], i); !good {
			return f, fmt.Errorf("%s: column %q has type %s", it.path, nComponents, a[9].DataType())
		}
	}
	return f, nil
}

// nanWeight stands for a weight the table does not give.
var nanWeight = math.NaN()

// bagWeights is one bag's weights, in config order, and the learned
// scalar parameters that the iterator reads; NaN for a component the table
// has no row (or a null) for.
type bagWeights struct {
	key    bagKey
	w      []float64
	params [][]float64 // params[q][k]: learned scalar q of component k
}

// weightsIter streams the weights table bag by bag. It relies on a bag's
// rows being adjacent, as mixbatch writes them, and checks that bags come
// in increasing key order, which the baseline's merge join needs.
type weightsIter struct {
	it      *rowIter
	comp    map[string]int
	k       int
	nparams int  // learned scalar columns read after weight
	ahead   bool // it is on a row not yet consumed
	cur     bagWeights
	prev    bagKey
	seen    bool
	err     error
}

// weightsIter streams the weights table with the learned scalar
// parameters named in scalars (columns of the table, such as mean and sd),
// bag by bag in increasing key order, merging its part files.
func (r *run) weightsIter(ctx context.Context, scalars ...string) (*mergedWeights, error) {
	parts, err := r.parts(pipeline.WeightsTable)
	if err != nil {
		return nil, err
	}
	names := r.mix.Names()
	comp := make(map[string]int, len(names))
	for i, n := range names {
		comp[n] = i
	}
	cols := append([]string{r.cfg.Input.Bag, "component", "weight"}, scalars...)
	m := &mergedWeights{last: -1}
	for _, p := range parts {
		it := newRowIter(ctx, r.mem, []string{p}, cols)
		m.parts = append(m.parts, &weightsIter{it: it, comp: comp, k: len(names), nparams: len(scalars)})
	}
	return m, nil
}

// mergedWeights streams the bags of a weights table of several part
// files in increasing key order. A local run writes its parts over
// consecutive ranges of bags, so the merge reads them one after another;
// mixbatch-beam's shards each hold bags of the whole range, sorted within
// the part, and the merge interleaves them. Each part must be in
// increasing bag order (weightsIter checks), and a bag's rows must all be
// in one part.
type mergedWeights struct {
	parts   []*weightsIter
	heads   []*bagWeights // each part's current bag; nil once it is done
	started bool
	last    int // the part whose bag next returned last, or -1
	prev    bagKey
	prevAt  string // the part prev came from
	err     error
}

// next advances to the next bag. The returned weights are valid until the
// next call.
func (m *mergedWeights) next() (*bagWeights, bool) {
	if m.err != nil {
		return nil, false
	}
	if !m.started {
		m.started = true
		m.heads = make([]*bagWeights, len(m.parts))
		for i := range m.parts {
			if !m.advance(i) {
				return nil, false
			}
		}
	} else if m.last >= 0 && !m.advance(m.last) {
		return nil, false
	}
	m.last = -1
	for i, h := range m.heads {
		if h != nil && (m.last < 0 || compareKeys(h.key, m.heads[m.last].key) < 0) {
			m.last = i
		}
	}
	if m.last < 0 {
		return nil, false
	}
	h, at := m.heads[m.last], m.parts[m.last].it.path
	if m.prevAt != "" && compareKeys(h.key, m.prev) == 0 {
		m.err = fmt.Errorf("bag %s has weights in two part files, %s and %s: a bag's rows must be in one part", h.key, m.prevAt, at)
		return nil, false
	}
	m.prev, m.prevAt = h.key, at
	return h, true
}

// advance moves part i to its next bag, and reports false if it stopped
// on an error (then m.err).
func (m *mergedWeights) advance(i int) bool {
	bw, ok := m.parts[i].next()
	if !ok {
		bw = nil
		if err := m.parts[i].err; err != nil {
			m.err = err
			return false
		}
	}
	m.heads[i] = bw
	return true
}

// close releases every part's iterator and returns the first error, the
// one that stopped the merge first.
func (m *mergedWeights) close() error {
	err := m.err
	for _, p := range m.parts {
		if perr := p.close(); err == nil {
			err = perr
		}
	}
	return err
}

// next advances to the next bag. The returned weights are valid until the
// next call.
func (w *weightsIter) next() (*bagWeights, bool) {
	if w.err != nil {
		return nil, false
	}
	if !w.ahead && !w.it.next() {
		return nil, false
	}
	w.ahead = false
	a := w.it.arrs
	key := keyAt(a[0], w.it.i)
	key.s = strings.Clone(key.s)
	if w.seen && compareKeys(key, w.prev) <= 0 {
		w.err = fmt.Errorf("%s: bag %s comes after bag %s: the weights are not in increasing bag order", w.it.path, key, w.prev)
		return nil, false
	}
	w.seen, w.prev = true, key
	if w.cur.w == nil {
		w.cur.w = make([]float64, w.k)
		w.cur.params = make([][]float64, w.nparams)
		for q := range w.cur.params {
			w.cur.params[q] = make([]float64, w.k)
		}
	}
	w.cur.key = key
	for j := range w.cur.w {
		w.cur.w[j] = nanWeight
	}
	for _, ps := range w.cur.params {
		for j := range ps {
			ps[j] = math.NaN()
		}
	}
	for {
		a := w.it.arrs
		i := w.it.i
		if compareKeys(keyAt(a[0], i), key) != 0 {
			w.ahead = true
			break
		}
		name := readers.String(a[1], i)
		j, ok := w.comp[name]
		if !ok {
			w.err = fmt.Errorf("%s: bag %s: component %q is not in the run's config", w.it.path, key, name)
			return nil, false
		}
		for c := 2; c < len(a); c++ {
			v, ok := floatAt(a[c], i)
			if !ok {
				w.err = fmt.Errorf("%s: column %q has type %s", w.it.path, w.it.cols[c], a[c].DataType())
				return nil, false
			}
			if a[c].IsNull(i) {
				continue
			}
			if c == 2 {
				w.cur.w[j] = v
			} else {
				w.cur.params[c-3][j] = v
			}
		}
		if !w.it.next() {
			break
		}
	}
	return &w.cur, true
}

// close releases the iterator and returns the error that stopped it.
func (w *weightsIter) close() error {
	err := w.it.close()
	if w.err != nil {
		return w.err
	}
	return err
}

// failedKeys streams the keys of the bags that failed in a run (a fits
// row with status failed, and no weights rows), in increasing order. Each
// fits part is in increasing key order (checked); the parts of a
// mixbatch-beam run may interleave, so they are read side by side and
// merged. A run without failed bags is read through at once and closed.
type failedKeys struct {
	its   []*rowIter
	heads []*bagKey // each part's next failed bag; nil once it is done
	last  *bagKey   // the key next returned last
}

// failedKeys streams the failed bags of the run's fits table.
func (r *run) failedKeys(ctx context.Context) (*failedKeys, error) {
	parts, err := r.parts(pipeline.FitsTable)
	if err != nil {
		return nil, err
	}
	f := &failedKeys{heads: make([]*bagKey, len(parts))}
	for i, p := range parts {
		f.its = append(f.its, newRowIter(ctx, r.mem, []string{p}, []string{r.cfg.Input.Bag, "status"}))
		if err := f.advance(i); err != nil {
			return f, err
		}
	}
	return f, nil
}

// advance moves part i to its next failed bag.
func (f *failedKeys) advance(i int) error {
	it := f.its[i]
	prev := f.heads[i]
	f.heads[i] = nil
	for it.next() {
		if readers.String(it.arrs[1], it.i) != pipeline.StatusFailed {
			continue
		}
		k := keyAt(it.arrs[0], it.i)
		k.s = strings.Clone(k.s)
		if prev != nil && compareKeys(k, *prev) <= 0 {
			return fmt.Errorf("%s: bag %s comes after bag %s: the fits are not in increasing bag order", it.path, k, *prev)
		}
		f.heads[i] = &k
		return nil
	}
	return it.err
}

// next returns the smallest failed key not yet returned, or nil when
// there is none left.
func (f *failedKeys) next() (*bagKey, error) {
	for {
		at := -1
		for i, h := range f.heads {
			if h != nil && (at < 0 || compareKeys(*h, *f.heads[at]) < 0) {
				at = i
			}
		}
		if at < 0 {
			return nil, nil
		}
		k := f.heads[at]
		if err := f.advance(at); err != nil {
			return nil, err
		}
		if f.last == nil || compareKeys(*k, *f.last) != 0 { // once, if in two parts
			f.last = k
			return k, nil
		}
	}
}

// close releases the parts and returns the first error.
func (f *failedKeys) close() error {
	var err error
	for _, it := range f.its {
		if e := it.close(); err == nil {
			err = e
		}
	}
	return err
}
