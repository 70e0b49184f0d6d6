package pipeline

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/store"
)

// batchRows is the record batch size the pipeline reads with.
const batchRows = 1 << 20

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
	countType  arrow.DataType // nil without a count column
	strKeys    bool           // bags are keyed by strings, else by integers
	// units are the parts of the files that workers read on their own.
	units []unit
	// keyLo and keyHi bound the integer bag keys, from the Parquet column
	// statistics; dense says they are known and close enough together to
	// index arrays (see denseFactor).
	keyLo, keyHi int64
	dense        bool
	// sorted says every unit has key statistics and the units' key ranges
	// follow each other in plan order (touching at most at their ends):
	// the input is sorted by bag, and can be read window by window.
	sorted bool
	// window, when set, restricts reading to the bags of one window.
	window *window
	// skippedLinks are the symbolic links to folders inside the input
	// folders, which are not followed; the run warns about each.
	skippedLinks []string
	// utf8Cols are the string columns that the posteriors pass copies
	// into its output (keep and value columns): their values are checked
	// to be UTF-8 text as they are read (see fileSet.reader).
	utf8Cols []string
}

// columns lists the columns read in the fitting pass.
func (c *Config) fitColumns() []string {
	cols := append([]string{c.Input.Bag}, c.Input.Value...)
	if c.Input.Count != "" {
		cols = append(cols, c.Input.Count)
	}
	return cols
}

// makePlan lists the input files and checks every file's schema. If the
// listing succeeded but a file does not fit, it returns the error with a
// plan that holds only the listed files, for the summary.
func makePlan(ctx context.Context, cfg *Config, mem memory.Allocator) (*plan, error) {
	listing, err := readers.ListLinks(ctx, cfg.Input.Paths)
	if err != nil {
		return nil, err
	}
	files := listing.Files
	p := &plan{files: files, rows: make([]int64, len(files)), mtimes: make([]time.Time, len(files)),
		skippedLinks: listing.SkippedLinks}
	if cfg.Output.Posteriors {
		// Copied into posteriors/: string ones must be UTF-8 text there.
		p.utf8Cols = append(slices.Clone(cfg.Input.Keep), cfg.Input.Value...)
	}
	foots, bad, err := readFooters(ctx, cfg, files, mem)
	var first []string // file that set each unified type, for messages
	for i, f := range files {
		if i == bad {
			return &plan{files: files}, err
		}
		ft := &foots[i]
		p.mtimes[i], p.rows[i] = ft.mtime, ft.rows
		p.units = append(p.units, ft.units...)
		if i == 0 {
			p.keyLo, p.keyHi, p.dense = ft.lo, ft.hi, ft.ranged
		} else {
			p.keyLo, p.keyHi, p.dense = min(p.keyLo, ft.lo), max(p.keyHi, ft.hi), p.dense && ft.ranged
		}
		if ft.countType != nil && (p.countType == nil || !isInteger(ft.countType)) {
			p.countType = ft.countType
		}
		types := ft.types
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
				return &plan{files: files}, &InputError{File: f.Path, Column: names[j], Row: -1,
					Reason: fmt.Sprintf("type %s does not match type %s in %s%s", t, cur[j], first[j], temporalHint(t, cur[j]))}
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
	var rows int64
	for _, n := range p.rows {
		rows += n
	}
	p.dense = p.dense && !p.strKeys && denseEnough(p.keyLo, p.keyHi, rows)
	p.sorted = !p.strKeys
	for i, u := range p.units {
		if !u.ranged || u.lo > u.hi || i > 0 && u.lo < p.units[i-1].hi {
			p.sorted = false
		}
	}
	return p, nil
}

// footer is what planning learns of one file from its footer (or, for
// Arrow IPC, its batches' headers).
type footer struct {
	mtime  time.Time
	rows   int64
	units  []unit
	lo, hi int64 // the file's integer bag key range,
	ranged bool  // when known
	// countType is the type of the count column, nil without one.
	countType arrow.DataType
	// types are the bag, value and keep columns' types (checkSchema).
	types []arrow.DataType
}

// planConcurrency is how many files planning opens at once. Opening one
// is a few small reads (on an object store, requests that each wait tens
// of milliseconds for their first byte), so planning a folder of
// thousands of files is nearly all waiting, which overlaps.
const planConcurrency = 16

// readFooters opens every file, planConcurrency at a time, and returns
// what each footer says. If some files cannot be opened or do not fit the
// config, it returns the first such file's index in input order and its
// error (bad is len(files) if there is none), as if they were opened one
// by one, so that reruns report the same one: files after a failed one
// are not opened, and every file before it is.
func readFooters(ctx context.Context, cfg *Config, files []readers.File, mem memory.Allocator) (foots []footer, bad int, err error) {
	foots = make([]footer, len(files))
	errs := make([]error, len(files))
	var next atomic.Int64
	var failed atomic.Int64 // the lowest index of a failed file
	failed.Store(int64(len(files)))
	var wg sync.WaitGroup
	for range min(planConcurrency, len(files)) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= failed.Load() {
					return
				}
				if errs[i] = readFooter(ctx, cfg, files[i], int(i), mem, &foots[i]); errs[i] != nil {
					for {
						f := failed.Load()
						if i >= f || failed.CompareAndSwap(f, i) {
							break
						}
					}
				}
			}
		})
	}
	wg.Wait()
	if i := int(failed.Load()); i < len(files) {
		return foots, i, errs[i]
	}
	return foots, len(files), nil
}

// readFooter fills ft with what the footer of file f, the i-th of the
// run, says, and checks its schema against the config.
func readFooter(ctx context.Context, cfg *Config, f readers.File, i int, mem memory.Allocator, ft *footer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := readers.Open(ctx, f, mem)
	if err != nil {
		return err
	}
	sc := r.Schema()
	ft.mtime, ft.rows = r.ModTime(), r.NumRows()
	var row int64
	for u := range r.NumUnits() {
		n := r.UnitRows(u)
		un := unit{file: i, index: u, row: row, rows: n}
		un.lo, un.hi, un.ranged = r.UnitIntRange(cfg.Input.Bag, u)
		un.keyBytes, _ = r.UnitColumnBytes(cfg.Input.Bag, u)
		ft.units = append(ft.units, un)
		row += n
	}
	ft.lo, ft.hi, ft.ranged = r.IntRange(cfg.Input.Bag)
	if cfg.Input.Count != "" {
		if idx := sc.FieldIndices(cfg.Input.Count); len(idx) > 0 {
			ft.countType = sc.Field(idx[0]).Type
		}
	}
	if err := r.Close(); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if ft.types, err = checkSchema(cfg, f.Path, sc); err != nil {
		return err
	}
	// Encodings and codecs the readers cannot decode, from the footer,
	// so that validate finds them too.
	return r.Unreadable(append(cfg.fitColumns(), cfg.Input.Keep...))
}

// denseEnough reports whether integer keys in [lo, hi] are close enough
// together for rows rows to index arrays by key (see denseFactor).
func denseEnough(lo, hi, rows int64) bool {
	span := uint64(hi - lo)
	return hi >= lo && span < denseMax && span < uint64(max(rows*denseFactor, 1<<16))
}

// unchanged checks that file fi has the size and modification time it had
// when the run was planned: the posteriors pass reads the inputs again.
func (p *plan) unchanged(ctx context.Context, fi int) error {
	f := p.files[fi]
	st, err := store.Stat(ctx, f.Path)
	if err != nil {
		return err
	}
	if st.Size != f.Size || !st.ModTime.Equal(p.mtimes[fi]) {
		return &InputError{File: store.Redact(f.Path), Row: -1, Reason: fmt.Sprintf(
			"the file changed during the run (size %d, modified %s; was %d, %s)",
			st.Size, st.ModTime.Format(time.RFC3339Nano), f.Size, p.mtimes[fi].Format(time.RFC3339Nano))}
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
		if len(idx) > 1 {
			return nil, &InputError{File: path, Column: name, Row: -1,
				Reason: fmt.Sprintf("the name is ambiguous: %d columns have it", len(idx))}
		}
		return sc.Field(idx[0]).Type, nil
	}
	bag, err := field(in.Bag)
	if err != nil {
		return nil, err
	}
	if !isIntKey(bag) && !isString(bag) {
		return nil, &InputError{File: path, Column: in.Bag, Row: -1,
			Reason: fmt.Sprintf("a bag column must be an integer, string, date or timestamp type, not %s", bag)}
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
				Reason: fmt.Sprintf("a count column must be of an integer or floating-point type, not %s%s", ct, castHint(ct))}
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

// temporalHint explains, when a column is of a date or timestamp type in
// one file and of another type in another, that such types are not
// converted (see unify).
func temporalHint(a, b arrow.DataType) string {
	if !isTemporal(a) && !isTemporal(b) {
		return ""
	}
	return " (dates and timestamps are not converted: every file must have the same type, timestamps the same unit and time zone; cast the column where the files are written)"
}

// castHint says what to do with a DECIMAL column (DuckDB writes literals
// such as 1.5 as DECIMAL), which no family and no count takes.
func castHint(t arrow.DataType) string {
	switch logical(t).ID() {
	case arrow.DECIMAL128, arrow.DECIMAL256:
		return " (cast it to DOUBLE, or to an integer type, where the file is written)"
	}
	return ""
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
			Reason: fmt.Sprintf("type %s cannot hold %s values: the family needs %s%s", val, cfg.Model.Family, want, castHint(val))}
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
	if subnormal(v) {
		return 0, bad(i, cfg.Input.Count, cnt, "a count must be 0 or at least 2.2e-308: smaller ones (subnormal numbers) lose their precision in the fit's sums")
	}
	return v, nil
}

// subnormal reports whether a count is positive but below the smallest
// normal float64, 2^-1022. The fit divides by sums of counts; with such
// counts those lose precision, and a bag of them converged to wrong
// weights.
func subnormal(v float64) bool {
	return v > 0 && v < 0x1p-1022
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
		if mu, far := m.gaussianBound(); math.Abs(v-mu) > far {
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

// gaussianBound returns the cheap bound of the Gaussian density check:
// values within far of mu have a finite log-density under the first
// component, so only values beyond it need every density computed. When
// that component is learned (NaN parameters) or there is none
// (model.components_range), only finiteness is checked: far is the
// largest float64.
func (m *model) gaussianBound() (mu, far float64) {
	if len(m.comps) == 0 {
		return 0, math.MaxFloat64
	}
	c := m.comps[0].(normal)
	mu, far = c.mu, 1e150*c.sigma
	if math.IsNaN(mu) || math.IsNaN(far) {
		return 0, math.MaxFloat64
	}
	return mu, far
}

// bags holds every row grouped by bag, bags sorted by key.
type bags struct {
	ints  []int64  // sorted keys, integer bags (BagKey)
	strs  []string // sorted keys, string bags
	start []int    // rows of bag b are start[b]:start[b+1]
	// typ is the bag column's type (plan.bagType), which renders
	// integer keys (FormatBagKey); nil renders them as integers.
	typ arrow.DataType
	// dim is the number of values per row (0 means 1): row r's values
	// are vals[r*dim : (r+1)*dim].
	dim    int
	vals   []float64
	counts []float64 // nil without a count column (and rows not aggregated)
	nobs   []int64   // per bag: its rows, bad ones included, dropped ones not
	first  []int32   // per bag: the first file it has rows in
	// failed holds, per bag, the first bad row found (file order, then row
	// order) with run.on_error: skip; nil when no bag failed in reading.
	failed []*InputError
	// dropped counts, per bag, the rows dropped for nulls; nil when none.
	dropped []int64
	// part is each bag's spill partition; nil unless rows were spilled,
	// and then start, vals and counts hold one partition's rows at a time.
	part []uint16
}

func (b *bags) len() int { return len(b.nobs) }

// rows returns the number of rows of every bag.
func (b *bags) rows() int64 {
	var n int64
	for _, k := range b.nobs {
		n += k
	}
	return n
}

// stride returns the number of values per row.
func (b *bags) stride() int { return max(1, b.dim) }

// key renders bag b's key for messages.
func (b *bags) key(i int) string {
	if b.strs != nil {
		return strconv.Quote(b.strs[i])
	}
	if b.typ == nil {
		return strconv.FormatInt(b.ints[i], 10)
	}
	return FormatBagKey(b.typ, b.ints[i])
}
