package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/mixbatch/mixbatch/readers"
)

// batchRows is the record batch size the pipeline reads with.
const batchRows = 64 * 1024

// InputError is a problem with the input data, located as precisely as it
// can be: file, column, row (0-based, within the file), bag and value.
type InputError struct {
	File   string
	Column string
	Row    int64  // -1 when not known
	Bag    string // rendered bag key; "" when not known
	Value  string // rendered value; "" when not known
	Reason string
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Column != "" {
		fmt.Fprintf(&b, ": column %q", e.Column)
	}
	if e.Row >= 0 {
		fmt.Fprintf(&b, ", row %d", e.Row)
	}
	if e.Bag != "" {
		fmt.Fprintf(&b, ", bag %s", e.Bag)
	}
	b.WriteString(": ")
	if e.Value != "" {
		fmt.Fprintf(&b, "value %s: ", e.Value)
	}
	b.WriteString(e.Reason)
	return b.String()
}

// plan is what the inputs look like: the files and how their columns meet
// in the output tables.
type plan struct {
	files   []readers.File
	rows    []int64     // per file
	mtimes  []time.Time // per file, at planning
	bagType arrow.DataType
	// valueTypes are the types of the value columns, in input.value order.
	valueTypes []arrow.DataType
	keepTypes  []arrow.DataType
	strKeys    bool // bags are keyed by strings, else by integers
}

// columns lists the columns read in the fitting pass.
func (c *Config) fitColumns() []string {
	cols := append([]string{c.Input.Bag}, c.Input.Value...)
	if c.Input.Count != "" {
		cols = append(cols, c.Input.Count)
	}
	return cols
}

// makePlan lists the input files and checks every file's schema.
func makePlan(ctx context.Context, cfg *Config, mem memory.Allocator) (*plan, error) {
	files, err := readers.List(cfg.Input.Paths)
	if err != nil {
		return nil, err
	}
	p := &plan{files: files, rows: make([]int64, len(files)), mtimes: make([]time.Time, len(files))}
	var first []string // file that set each unified type, for messages
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fi, err := os.Stat(f.Path)
		if err != nil {
			return nil, err
		}
		p.mtimes[i] = fi.ModTime()
		r, err := readers.Open(ctx, f, mem)
		if err != nil {
			return nil, err
		}
		sc := r.Schema()
		p.rows[i] = r.NumRows()
		if err := r.Close(); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		types, err := checkSchema(cfg, f.Path, sc)
		if err != nil {
			return nil, err
		}
		nv := len(cfg.Input.Value)
		if i == 0 {
			p.bagType, p.valueTypes, p.keepTypes = types[0], types[1:1+nv], types[1+nv:]
			first = make([]string, len(types))
			for j := range first {
				first[j] = f.Path
			}
			continue
		}
		cur := append(append([]arrow.DataType{p.bagType}, p.valueTypes...), p.keepTypes...)
		names := append(append([]string{cfg.Input.Bag}, cfg.Input.Value...), cfg.Input.Keep...)
		for j, t := range types {
			u, ok := unify(cur[j], t)
			if !ok {
				return nil, &InputError{File: f.Path, Column: names[j], Row: -1,
					Reason: fmt.Sprintf("type %s does not match type %s in %s", t, cur[j], first[j])}
			}
			cur[j] = u
		}
		p.bagType, p.valueTypes, p.keepTypes = cur[0], cur[1:1+nv], cur[1+nv:]
	}
	// Dictionary columns are written as their values.
	p.bagType = logical(p.bagType)
	for j, t := range p.valueTypes {
		p.valueTypes[j] = logical(t)
	}
	p.strKeys = isString(p.bagType)
	return p, nil
}

// unchanged checks that file fi has the size and modification time it had
// when the run was planned: the posteriors pass reads the inputs again.
func (p *plan) unchanged(fi int) error {
	f := p.files[fi]
	st, err := os.Stat(f.Path)
	if err != nil {
		return err
	}
	if st.Size() != f.Size || !st.ModTime().Equal(p.mtimes[fi]) {
		return &InputError{File: f.Path, Row: -1, Reason: fmt.Sprintf(
			"the file changed during the run (size %d, modified %s; was %d, %s)",
			st.Size(), st.ModTime().Format(time.RFC3339Nano), f.Size, p.mtimes[fi].Format(time.RFC3339Nano))}
	}
	return nil
}

// checkSchema checks the columns a run needs in one file and returns the
// types of the bag, value (one per input.value column) and keep columns.
func checkSchema(cfg *Config, path string, sc *arrow.Schema) ([]arrow.DataType, error) {
	in := &cfg.Input
	field := func(name string) (arrow.DataType, error) {
		idx := sc.FieldIndices(name)
		if len(idx) == 0 {
			names := make([]string, sc.NumFields())
			for i, f := range sc.Fields() {
				names[i] = f.Name
			}
			return nil, &InputError{File: path, Column: name, Row: -1,
				Reason: fmt.Sprintf("no such column (the file has: %s)", strings.Join(names, ", "))}
		}
		return sc.Field(idx[0]).Type, nil
	}
	bag, err := field(in.Bag)
	if err != nil {
		return nil, err
	}
	if !isInteger(bag) && !isString(bag) {
		return nil, &InputError{File: path, Column: in.Bag, Row: -1,
			Reason: fmt.Sprintf("a bag column must be an integer or string type, not %s", bag)}
	}
	types := []arrow.DataType{bag}
	for _, name := range in.Value {
		val, err := field(name)
		if err != nil {
			return nil, err
		}
		if err := checkValueType(cfg, path, name, val); err != nil {
			return nil, err
		}
		types = append(types, val)
	}
	if in.Count != "" {
		ct, err := field(in.Count)
		if err != nil {
			return nil, err
		}
		if !isInteger(ct) && !isFloat(ct) {
			return nil, &InputError{File: path, Column: in.Count, Row: -1,
				Reason: fmt.Sprintf("a count column must be numeric, not %s", ct)}
		}
	}
	for _, k := range in.Keep {
		t, err := field(k)
		if err != nil {
			return nil, err
		}
		types = append(types, t)
	}
	return types, nil
}

// checkValueType checks that value column name, of type val, can hold the
// family's values.
func checkValueType(cfg *Config, path, name string, val arrow.DataType) error {
	want := map[string]string{
		Bernoulli:            "bool or integer (0/1)",
		Categorical:          "string or integer labels",
		Gaussian:             "floating-point or integer",
		Poisson:              "integer (non-negative counts)",
		MultivariateGaussian: "floating-point or integer",
	}[cfg.Model.Family]
	var ok bool
	switch cfg.Model.Family {
	case Bernoulli:
		ok = logical(val).ID() == arrow.BOOL || isInteger(val)
	case Categorical:
		ok = isString(val) || isInteger(val)
	case Gaussian, MultivariateGaussian:
		ok = isFloat(val) || isInteger(val)
	case Poisson:
		ok = isInteger(val)
	}
	if !ok {
		return &InputError{File: path, Column: name, Row: -1,
			Reason: fmt.Sprintf("type %s cannot hold %s values: the family needs %s", val, cfg.Model.Family, want)}
	}
	if cfg.Model.Family == Categorical && isInteger(val) {
		// Integer values match labels written as decimal integers; any
		// other label (01, 1.0, red) could never match and is a mistake.
		for i, c := range cfg.Model.Components {
			for _, label := range sortedKeys(c.Probs) {
				if v, err := strconv.ParseInt(label, 10, 64); err != nil || strconv.FormatInt(v, 10) != label {
					return &InputError{File: path, Column: name, Row: -1, Reason: fmt.Sprintf(
						"the column holds integers, so model.components[%d].probs label %q can never match (write integer labels as 7, not 07 or 7.0)", i, label)}
				}
			}
		}
	}
	return nil
}

// chunk is one file's rows, reduced to what the fit needs.
type chunk struct {
	ints   []int64   // distinct bag keys of the file, integer bags
	strs   []string  // distinct bag keys of the file, string bags
	local  []int32   // per row: index into ints or strs
	vals   []float64 // per row: the coded values, model.dim of them
	counts []float64 // per row: the count; nil without a count column
	// failed holds, with run.on_error: skip, the first bad row of each bag
	// (by local index) that has one. The bad rows stay in local and vals
	// (with a placeholder value) so that n_obs counts them.
	failed map[int32]*InputError
	// dropped counts, per local bag index, the rows left out for a null
	// value or count (input.nulls: drop); nil when there were none.
	dropped []int64
}

// drop counts one dropped row of local bag id.
func (c *chunk) drop(id int32) {
	if int(id) >= len(c.dropped) {
		c.dropped = append(c.dropped, make([]int64, int(id)+1-len(c.dropped))...)
	}
	c.dropped[id]++
}

// readAll reads the fitting columns of every file, in parallel.
func readAll(ctx context.Context, cfg *Config, p *plan, m *model, mem memory.Allocator, workers int, progress func(int64)) ([]*chunk, error) {
	chunks := make([]*chunk, len(p.files))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range p.files {
		g.Go(func() (err error) {
			defer recoverAs(&err, p.files[i].Path)
			chunks[i], err = readFile(ctx, cfg, p, m, mem, i, progress)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return chunks, nil
}

func readFile(ctx context.Context, cfg *Config, p *plan, m *model, mem memory.Allocator, fi int, progress func(int64)) (c *chunk, err error) {
	f := p.files[fi]
	if err := p.unchanged(fi); err != nil {
		return nil, err
	}
	r, err := readers.Open(ctx, f, mem)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := r.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: %w", f.Path, cerr)
		}
	}()
	rr, err := r.Records(ctx, cfg.fitColumns(), batchRows)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	c = &chunk{}
	// The footer's row count sizes the buffers, but only up to a bound: a
	// small corrupt (or run-length encoded) file can claim 2^40 rows, and
	// the buffers then grow with the rows actually read.
	n, dim := int(min(p.rows[fi], 1<<20)), m.dim
	c.local = make([]int32, 0, n)
	c.vals = make([]float64, 0, n*dim)
	codes := make([]float64, dim) // one row's coded values
	if cfg.Input.Count != "" {
		c.counts = make([]float64, 0, n)
	}
	intIDs := map[int64]int32{}
	strIDs := map[string]int32{}
	var row int64
	lastID := int32(-1) // the previous row's bag, local index
	skip := cfg.Run.OnError == OnErrorSkip
	dropNulls := cfg.Input.Nulls == NullsDrop
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := rr.Record()
		bag, vals := rec.Column(0), rec.Columns()[1:1+dim]
		var cnt arrow.Array
		if c.counts != nil {
			cnt = rec.Column(1 + dim)
		}
		bad := func(i int, col string, arr arrow.Array, reason string) *InputError {
			e := &InputError{File: f.Path, Column: col, Row: row + int64(i), Reason: reason}
			if !bag.IsNull(i) {
				e.Bag = valueAt(bag, i)
			}
			if arr != nil {
				e.Value = valueAt(arr, i)
			}
			return e
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if bag.IsNull(i) {
				return nil, bad(i, cfg.Input.Bag, nil, "the bag key is null")
			}
			var id int32
			if p.strKeys {
				s := readers.String(bag, i)
				var ok bool
				if lastID >= 0 && s == c.strs[lastID] {
					id = lastID // rows of a bag usually come together
				} else if id, ok = strIDs[s]; !ok {
					id = int32(len(c.strs))
					s = strings.Clone(s)
					strIDs[s] = id
					c.strs = append(c.strs, s)
				}
			} else {
				k, ok := readers.Int(bag, i)
				if !ok {
					return nil, bad(i, cfg.Input.Bag, bag, "bag keys above 9223372036854775807 are not supported")
				}
				if lastID >= 0 && k == c.ints[lastID] {
					id = lastID
				} else if id, ok = intIDs[k]; !ok {
					id = int32(len(c.ints))
					intIDs[k] = id
					c.ints = append(c.ints, k)
				}
			}
			lastID = id
			if dropNulls && (anyNull(vals, i) || cnt != nil && cnt.IsNull(i)) {
				c.drop(id)
				continue
			}
			count, e := m.row(cfg, vals, cnt, i, bad, codes)
			if e != nil {
				if !skip {
					return nil, e
				}
				if c.failed == nil {
					c.failed = map[int32]*InputError{}
				}
				if _, seen := c.failed[id]; !seen {
					c.failed[id] = e
				}
				clear(codes)
				count = 0
			}
			if c.counts != nil {
				c.counts = append(c.counts, count)
			}
			c.local = append(c.local, id)
			if len(codes) == 1 {
				c.vals = append(c.vals, codes[0])
			} else {
				c.vals = append(c.vals, codes...)
			}
		}
		row += rec.NumRows()
		if progress != nil {
			progress(rec.NumRows())
		}
	}
	if err := rr.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// anyNull reports whether row i is null in any of arrs.
func anyNull(arrs []arrow.Array, i int) bool {
	for _, a := range arrs {
		if a.IsNull(i) {
			return true
		}
	}
	return false
}

// row checks row i's values (one per value column, in vals) and count
// (cnt is nil without a count column), writes the coded values to codes
// and returns the count, or the row's error made by bad, which names the
// first column at fault.
func (m *model) row(cfg *Config, vals []arrow.Array, cnt arrow.Array, i int, bad func(int, string, arrow.Array, string) *InputError, codes []float64) (float64, *InputError) {
	for j, val := range vals {
		if val.IsNull(i) {
			return 0, bad(i, cfg.Input.Value[j], val, "the value is null (input.nulls: drop leaves such rows out)")
		}
		code, reason := m.code(val, i)
		if reason != "" {
			return 0, bad(i, cfg.Input.Value[j], val, reason)
		}
		codes[j] = code
	}
	if cnt == nil {
		return 1, nil
	}
	if cnt.IsNull(i) {
		return 0, bad(i, cfg.Input.Count, cnt, "the count is null (input.nulls: drop leaves such rows out)")
	}
	v := floatAt(cnt, i)
	if !(v >= 0) || math.IsInf(v, 1) {
		return 0, bad(i, cfg.Input.Count, cnt, "a count must be a finite non-negative number")
	}
	return v, nil
}

// code turns row i of the value column into the coded value em fits, or
// says why it cannot.
func (m *model) code(arr arrow.Array, i int) (float64, string) {
	switch m.family {
	case Bernoulli:
		var v float64
		if logical(arr.DataType()).ID() == arrow.BOOL {
			if boolAt(arr, i) {
				v = 1
			}
		} else {
			k, _ := readers.Int(arr, i)
			if k != 0 && k != 1 {
				return 0, "a bernoulli value must be 0 or 1 (or a bool)"
			}
			v = float64(k)
		}
		if !m.possible[int(v)] {
			return 0, "it has probability 0 under every component"
		}
		return v, ""
	case Categorical:
		var label string
		if isString(arr.DataType()) {
			label = readers.String(arr, i)
		} else {
			k, ok := readers.Int(arr, i)
			if !ok {
				return 0, "the label is not among any component's probs"
			}
			label = strconv.FormatInt(k, 10)
		}
		j, ok := m.labelIndex[label]
		if !ok {
			return 0, fmt.Sprintf("the label is not among any component's probs (known: %s)", strings.Join(m.labels, ", "))
		}
		if !m.possible[j] {
			return 0, "the label has probability 0 under every component"
		}
		return float64(j), ""
	case Gaussian:
		v := floatAt(arr, i)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, "a gaussian value must be finite"
		}
		// A Gaussian log-density is finite unless (x-mean)²/sd² overflows;
		// check the cheap bound first, the densities only beyond it.
		if c := m.comps[0].(normal); math.Abs(v-c.mu) > 1e150*c.sigma {
			possible := false
			for _, c := range m.comps {
				possible = possible || !math.IsInf(c.LogProb(v), -1)
			}
			if !possible {
				return 0, "it has zero density under every component (too far out for float64)"
			}
		}
		return v, ""
	case MultivariateGaussian:
		v := floatAt(arr, i)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, "a multivariate_gaussian value must be finite"
		}
		return v, ""
	case Poisson:
		k, ok := readers.Int(arr, i)
		if !ok || k < 0 {
			return 0, "a poisson value must be a non-negative integer"
		}
		if k > 1<<53 {
			return 0, "a poisson value above 2^53 cannot be represented exactly"
		}
		return float64(k), ""
	}
	panic("pipeline: unknown family " + m.family)
}

// bags holds every row grouped by bag, bags sorted by key.
type bags struct {
	ints  []int64  // sorted keys, integer bags
	strs  []string // sorted keys, string bags
	start []int    // rows of bag b are start[b]:start[b+1]
	// dim is the number of values per row (0 means 1): row r's values
	// are vals[r*dim : (r+1)*dim].
	dim    int
	vals   []float64
	counts []float64 // nil without a count column
	first  []int32   // per bag: the first file it has rows in
	// failed holds, per bag, the first bad row found (file order, then row
	// order) with run.on_error: skip; nil when no bag failed in reading.
	failed []*InputError
	// dropped counts, per bag, the rows dropped for nulls; nil when none.
	dropped []int64
}

func (b *bags) len() int { return len(b.start) - 1 }

// stride returns the number of values per row.
func (b *bags) stride() int { return max(1, b.dim) }

// key renders bag b's key for messages.
func (b *bags) key(i int) string {
	if b.strs != nil {
		return strconv.Quote(b.strs[i])
	}
	return strconv.FormatInt(b.ints[i], 10)
}

// union returns the sorted union of the files' key lists (never nil) and,
// per file, the index of each of its keys in the union.
func union[K cmp.Ordered](lists [][]K) ([]K, [][]int32) {
	set := map[K]struct{}{}
	for _, l := range lists {
		for _, k := range l {
			set[k] = struct{}{}
		}
	}
	keys := make([]K, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	remap := make([][]int32, len(lists))
	for i, l := range lists {
		remap[i] = make([]int32, len(l))
		for j, k := range l {
			g, _ := slices.BinarySearch(keys, k)
			remap[i][j] = int32(g)
		}
	}
	return keys, remap
}

// group merges the files' chunks into bags sorted by key. A bag's rows keep
// file order, then row order.
func group(p *plan, chunks []*chunk) *bags {
	b := &bags{dim: len(p.valueTypes)}
	// The sorted union of keys, and each file's local-to-global id map.
	var remap [][]int32
	if p.strKeys {
		lists := make([][]string, len(chunks))
		for i, c := range chunks {
			lists[i] = c.strs
		}
		b.strs, remap = union(lists)
	} else {
		lists := make([][]int64, len(chunks))
		for i, c := range chunks {
			lists[i] = c.ints
		}
		b.ints, remap = union(lists)
	}
	nb := len(b.ints) + len(b.strs)
	// Counting sort of rows by bag.
	b.start = make([]int, nb+1)
	total := 0
	for i, c := range chunks {
		for _, l := range c.local {
			b.start[remap[i][l]+1]++
		}
		total += len(c.local)
	}
	for j := 0; j < nb; j++ {
		b.start[j+1] += b.start[j]
	}
	next := slices.Clone(b.start[:nb])
	b.first = make([]int32, nb)
	for j := range b.first {
		b.first[j] = -1
	}
	for i := len(chunks) - 1; i >= 0; i-- {
		for _, g := range remap[i] {
			b.first[g] = int32(i)
		}
	}
	for i, c := range chunks {
		for l, e := range c.failed {
			g := remap[i][l]
			if b.failed == nil {
				b.failed = make([]*InputError, nb)
			}
			if b.failed[g] == nil {
				b.failed[g] = e // chunks are in file order
			}
		}
		for l, n := range c.dropped {
			if b.dropped == nil {
				b.dropped = make([]int64, nb)
			}
			b.dropped[remap[i][l]] += n
		}
	}
	d := b.stride()
	b.vals = make([]float64, total*d)
	withCounts := len(chunks) > 0 && chunks[0].counts != nil
	if withCounts {
		b.counts = make([]float64, total)
	}
	for i, c := range chunks {
		for r, l := range c.local {
			g := remap[i][l]
			at := next[g]
			next[g]++
			if d == 1 {
				b.vals[at] = c.vals[r]
			} else {
				copy(b.vals[at*d:(at+1)*d], c.vals[r*d:(r+1)*d])
			}
			if withCounts {
				b.counts[at] = c.counts[r]
			}
		}
	}
	return b
}
