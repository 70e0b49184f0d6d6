package pipeline

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/mixbatch/mixbatch/readers"
)

// unit is one part of the input that a worker reads on its own: a row
// group of a Parquet file, or a whole Arrow IPC file. Units are numbered in
// plan order: file order, then row order.
type unit struct {
	file  int   // index in plan.files
	index int   // the unit's number within its file
	row   int64 // the file's row number of the unit's first row
	rows  int64
	// lo and hi bound the unit's integer bag keys, from the Parquet
	// statistics, when ranged.
	lo, hi int64
	ranged bool
	// keyBytes is what the bag column takes uncompressed in the unit,
	// from the Parquet footer (0 when not known); see runner.keyBytes.
	keyBytes int64
}

// Dense key indexing: integer bag keys whose range (from the Parquet
// statistics) is at most denseFactor times the rows, and at most
// denseMax, index each worker's per-bag arrays directly instead of through
// a hash map. Keys outside the range (statistics can be missing or wrong)
// fall back to the map.
const (
	denseFactor = 4
	denseMax    = 1 << 26
)

// scanner is one worker's state while the input is read: its own
// dictionary of bag keys (the ids are the worker's), per-bag bookkeeping
// and the rows it read (or, for discrete values, only their counts).
type scanner struct {
	cfg *Config
	p   *plan
	m   *model
	dim int
	// agg: discrete values with whole counts are kept only as summed
	// counts per (bag, code), which are exact in any order.
	agg   bool
	ncode int
	// Ids below nd are dense: the key is lo+id. Others come from the maps.
	nd     int32
	lo     int64
	intIDs map[int64]int32
	strIDs map[string]int32
	ints   []int64  // keys of ids nd, nd+1, ..., integer bags
	strs   []string // keys by id, string bags
	// badKey is the first string key seen that is not valid UTF-8; batch
	// turns it into an error naming its row.
	badKey *string
	// Per id.
	first   []int32   // the first unit with a row of the bag; -1 for none (dense ids)
	nobs    []int64   // rows, including bad ones (not dropped ones)
	dropped []int64   // rows dropped for nulls; nil while there are none
	counts  []float64 // agg: id*ncode+code -> summed count
	part    []uint16  // spill: the bag's partition
	// failed holds each bag's first bad row, with run.on_error: skip.
	failed map[int32]failure
	cur    rowChunk   // rows of the unit being read (not agg)
	chunks []rowChunk // rows of every unit read, when kept in memory
	spill  *spiller   // nil unless rows are spilled
	worker int
	// longKeys holds one copy of each long string key for all the
	// workers of a scan.
	longKeys *keyTable
	// Scratch, reused across batches.
	codes, cnts []float64
	keys        []int64
	rowCodes    []float64
}

// failure is a bag's first bad row and the unit it is in.
type failure struct {
	unit int
	err  *InputError
}

// before reports whether f comes before g in plan order.
func (f failure) before(g failure) bool {
	return f.unit < g.unit || f.unit == g.unit && f.err.Row < g.err.Row
}

// rowChunk holds the rows one unit gave one worker.
type rowChunk struct {
	unit   int
	ids    []int32   // the worker's bag ids
	vals   []float64 // dim values per row
	counts []float64 // nil without a count column
}

// chunkPool recycles the buffers of row chunks once their rows are grouped:
// a run reads window after window of units of about the same size, and
// allocating (and clearing) them anew took a tenth of its time.
var chunkPool sync.Pool

// newRowChunk returns an empty chunk of unit with room for n rows.
func newRowChunk(unit, n, dim int, counts bool) rowChunk {
	c := rowChunk{unit: unit}
	if p, ok := chunkPool.Get().(*rowChunk); ok {
		c.ids, c.vals, c.counts = p.ids[:0], p.vals[:0], p.counts[:0]
	}
	c.ids = slices.Grow(c.ids, n)
	c.vals = slices.Grow(c.vals, n*dim)
	if counts {
		c.counts = slices.Grow(c.counts, n)
	} else {
		c.counts = nil
	}
	return c
}

// floatPool recycles the grouped values of a window (bags.vals and counts)
// for the next window.
var floatPool sync.Pool

// written returns n zero values in memory that has been written. A new
// large slice's pages are not yet the process's: a read of one maps the
// kernel's shared zero page, and the first write then copies it, a second
// fault whose flush of the translation caches interrupts every other core
// running the process. Counters added to (+=) from their first touch
// fault so; written memory faults once. On 50M marbles the second faults
// were a tenth of the run's CPU.
func written[T int64 | float64](n int) []T {
	s := make([]T, n)
	clear(s)
	return s
}

// writtenMax is the most bytes of a worker's counters that counters puts
// in written memory whatever the input's order.
const writtenMax = 32 << 20

// counters returns n zero counters of a worker's dense bag ids: written
// (see written) when the worker will touch most of them, as it does in an
// unsorted input, where every unit holds rows of most bags, or when they
// are small; in untouched memory otherwise, since a worker of a sorted
// input touches only its units' bags, and writing them all would make
// every worker's whole array resident (a categorical model of 100 labels
// over 500k bags has 400 MB of them a worker).
func counters[T int64 | float64](n int, sorted bool) []T {
	if sorted && n*8 > writtenMax {
		return make([]T, n)
	}
	return written[T](n)
}

// reuseFloats returns a slice of n values, every one of which the caller
// sets: v if it has room, else one from floatPool or a new one.
func reuseFloats(v []float64, n int) []float64 {
	if cap(v) >= n {
		return v[:n]
	}
	if p, ok := floatPool.Get().(*[]float64); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]float64, n)
}

// releaseRows gives b's grouped rows to floatPool and forgets them.
func (b *bags) releaseRows() {
	for _, v := range [][]float64{b.vals, b.counts} {
		if v != nil {
			floatPool.Put(&v)
		}
	}
	b.start, b.vals, b.counts = nil, nil, nil
}

// recycle gives the chunk's buffers back to chunkPool.
func (c rowChunk) recycle() { chunkPool.Put(&c) }

func newScanner(cfg *Config, p *plan, m *model, agg bool, sp *spiller, worker int) *scanner {
	s := &scanner{cfg: cfg, p: p, m: m, dim: m.dim, agg: agg, spill: sp, worker: worker,
		intIDs: map[int64]int32{}, strIDs: map[string]int32{}, rowCodes: make([]float64, m.dim)}
	if agg {
		s.ncode = len(m.possible)
	}
	if p.dense {
		s.nd, s.lo = int32(p.keyHi-p.keyLo+1), p.keyLo
		s.first = make([]int32, s.nd)
		for i := range s.first {
			s.first[i] = -1
		}
		s.nobs = counters[int64](int(s.nd), p.sorted)
		if agg {
			s.counts = counters[float64](int(s.nd)*s.ncode, p.sorted)
		}
		if sp != nil {
			s.part = make([]uint16, s.nd)
		}
	}
	return s
}

// bagCount is the number of ids the scanner has (dense ids included).
func (s *scanner) bagCount() int { return len(s.first) }

// newID adds the bookkeeping of a new map id, first seen in unit u.
func (s *scanner) newID(u int, hash uint64) {
	s.first = append(s.first, int32(u))
	s.nobs = append(s.nobs, 0)
	if s.agg {
		s.counts = append(s.counts, make([]float64, s.ncode)...)
	}
	if s.dropped != nil {
		s.dropped = append(s.dropped, 0)
	}
	if s.spill != nil {
		s.part = append(s.part, s.spill.partition(hash))
	}
}

// intID returns the id of integer key k, seen in unit u.
func (s *scanner) intID(k int64, u int) int32 {
	if d := uint64(k - s.lo); d < uint64(s.nd) && k >= s.lo {
		id := int32(d)
		if s.first[id] < 0 {
			s.first[id] = int32(u)
			if s.spill != nil {
				s.part[id] = s.spill.partition(hashInt(k))
			}
		}
		return id
	}
	id, ok := s.intIDs[k]
	if !ok {
		id = int32(s.bagCount())
		s.intIDs[k] = id
		s.ints = append(s.ints, k)
		s.newID(u, hashInt(k))
	}
	return id
}

// strID returns the id of string key k, seen in unit u.
func (s *scanner) strID(k string, u int) int32 {
	id, ok := s.strIDs[k]
	if !ok {
		if s.badKey == nil && !utf8.ValidString(k) {
			bad := strings.Clone(k)
			s.badKey = &bad
		}
		id = int32(s.bagCount())
		k = s.longKeys.clone(k)
		s.strIDs[k] = id
		s.strs = append(s.strs, k)
		s.newID(u, hashString(k))
	}
	return id
}

// keyTable holds one copy of every long string bag key that the workers
// of a scan have seen: each worker keeps every key it sees, so a key of
// 10 kB seen by every worker was held that many times.
type keyTable struct {
	mu   sync.Mutex
	keys map[string]string
}

// longKey is the length from which string keys are shared through a
// keyTable: for shorter ones a copy per worker costs less than the lock.
const longKey = 256

// clone returns a copy of k that does not share memory with k's source,
// the same copy for every caller if k is long (t may be nil).
func (t *keyTable) clone(k string) string {
	if t == nil || len(k) < longKey {
		return strings.Clone(k)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.keys[k]; ok {
		return c
	}
	c := strings.Clone(k)
	t.keys[c] = c
	return c
}

// intKey returns the key of id, integer bags.
func (s *scanner) intKey(id int32) int64 {
	if id < s.nd {
		return s.lo + int64(id)
	}
	return s.ints[id-s.nd]
}

func (s *scanner) drop(id int32) {
	if s.dropped == nil {
		s.dropped = make([]int64, s.bagCount())
	}
	s.dropped[id]++
}

// add records one row of bag id with coded values v and count c.
func (s *scanner) add(id int32, v []float64, c float64) {
	s.nobs[id]++
	if s.agg {
		s.counts[int(id)*s.ncode+int(v[0])] += c
		return
	}
	s.cur.ids = append(s.cur.ids, id)
	s.cur.vals = append(s.cur.vals, v...)
	if s.cur.counts != nil {
		s.cur.counts = append(s.cur.counts, c)
	}
}

// readUnit reads unit ui of the plan through rd, the unit's file.
func (s *scanner) readUnit(ctx context.Context, rd *readers.Reader, ui int, progress func(int64)) error {
	u := s.p.units[ui]
	size := batchRows
	if s.spill != nil && !s.agg {
		size = s.spill.flushRows // a batch is spilled as soon as read
	}
	rr, err := rd.UnitRecords(ctx, s.cfg.fitColumns(), size, u.index)
	if err != nil {
		return err
	}
	defer rr.Release()
	if !s.agg {
		n := int(u.rows)
		if s.spill != nil {
			// Spilled a batch at a time (flush): room for flushRows,
			// not the unit's rows.
			s.cur = rowChunk{unit: ui}
			s.cur.ids, s.cur.vals, s.cur.counts = s.spill.buffers(s.worker, n, s.dim, s.cfg.Input.Count != "")
		} else {
			s.cur = newRowChunk(ui, n, s.dim, s.cfg.Input.Count != "")
		}
	}
	row := u.row
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := rr.Record()
		if err := s.batch(rec, ui, row); err != nil {
			return err
		}
		if s.spill != nil && !s.agg {
			if err := s.spill.flush(s, s.spill.flushRows); err != nil {
				return err
			}
		}
		row += rec.NumRows()
		if progress != nil {
			progress(rec.NumRows())
		}
	}
	if err := rr.Err(); err != nil {
		return err
	}
	if s.agg {
		return nil
	}
	if s.spill != nil {
		return s.spill.flush(s, 1)
	}
	s.chunks = append(s.chunks, s.cur)
	s.cur = rowChunk{}
	return nil
}

// batch reads one record batch of unit u whose first row is the file's
// row row0.
func (s *scanner) batch(rec arrow.Record, u int, row0 int64) error {
	if err := s.batchRows(rec, u, row0); err != nil {
		return err
	}
	if s.badKey != nil {
		return s.badKeyError(rec.Column(0), u, row0)
	}
	return nil
}

// badKeyError names the first row of bag, a column of unit u from row
// row0 on, whose key is s.badKey, a string that is not valid UTF-8: it
// would go into every output table, and SQL engines refuse to read such
// a string (Parquet's STRING must be UTF-8).
func (s *scanner) badKeyError(bag arrow.Array, u int, row0 int64) error {
	e := &InputError{File: s.p.files[s.p.units[u].file].Path, Column: s.cfg.Input.Bag, Row: -1,
		Reason: "the bag key is not valid UTF-8 text"}
	for i := range bag.Len() {
		if !bag.IsNull(i) && readers.String(bag, i) == *s.badKey {
			e.Row, e.Bag = row0+int64(i), valueAt(bag, i)
			break
		}
	}
	return e
}

// batchRows is batch's reading of the rows.
func (s *scanner) batchRows(rec arrow.Record, u int, row0 int64) error {
	n := int(rec.NumRows())
	bag, vals := rec.Column(0), rec.Columns()[1:1+s.dim]
	var cnt arrow.Array
	if s.cfg.Input.Count != "" {
		cnt = rec.Column(1 + s.dim)
	}
	filter := s.p.window != nil && !s.p.window.contains(s.p.units[u])
	if s.countsBits(bag, vals, cnt, u) {
		return nil
	}
	if s.dim == 1 && bag.NullN() == 0 && vals[0].NullN() == 0 && (cnt == nil || cnt.NullN() == 0) && !(filter && s.p.strKeys) {
		codes, ok := s.m.fastCodes(vals[0], s.codes[:0])
		if s.m.ownCodes() {
			s.codes = codes
		}
		var cnts []float64
		if ok && cnt != nil {
			cnts, ok = fastCounts(cnt, s.cnts[:0])
			s.cnts = cnts
		}
		if ok {
			if s.p.strKeys {
				s.strRows(bag, u, codes, cnts)
				return nil
			}
			if keys, ok := s.intKeys(bag); ok {
				if err := s.checkStats(keys, u); err != nil {
					return err
				}
				if filter {
					s.windowRows(keys, u, codes, cnts)
				} else {
					s.intRows(keys, u, codes, cnts, n)
				}
				return nil
			}
		}
	}
	return s.slowRows(rec, bag, vals, cnt, u, row0)
}

// statsError is a bag key outside the range that the Parquet statistics
// of its row group give: an input read window by window relies on them.
type statsError struct {
	file string
	unit unit
	key  int64
	typ  arrow.DataType // the bag column's
}

func (e *statsError) Error() string {
	return fmt.Sprintf("%s: row group %d holds bag key %s, outside the range [%s, %s] its statistics give",
		e.file, e.unit.index, FormatBagKey(e.typ, e.key), FormatBagKey(e.typ, e.unit.lo), FormatBagKey(e.typ, e.unit.hi))
}

// checkStats checks, when reading window by window, that the keys of a
// batch of unit u are in the range of its statistics (slowRows checks
// them row by row).
func (s *scanner) checkStats(keys []int64, u int) error {
	if s.p.window == nil {
		return nil
	}
	un := s.p.units[u]
	for _, k := range keys {
		if k < un.lo || k > un.hi {
			return &statsError{file: s.p.files[un.file].Path, unit: un, key: k, typ: s.p.bagType}
		}
	}
	return nil
}

// intKeys returns the keys of an integer bag column without nulls, or
// false when one does not fit an int64.
func (s *scanner) intKeys(bag arrow.Array) ([]int64, bool) {
	if keys, ok := int64Keys(bag); ok {
		return keys, true
	}
	s.keys = s.keys[:0]
	for i := range bag.Len() {
		k, ok := BagKey(bag, i)
		if !ok {
			return nil, false
		}
		s.keys = append(s.keys, k)
	}
	return s.keys, true
}

// intRows adds rows of integer keys whose values and counts are known to
// be valid. Rows of a bag usually come together: the id is looked up only
// when the key changes.
func (s *scanner) intRows(keys []int64, u int, codes, cnts []float64, n int) {
	if s.agg && cnts == nil {
		s.countRuns(keys[:n], u, codes, nil, 0)
		return
	}
	id := s.intID(keys[0], u)
	last := keys[0]
	if s.agg {
		nc := s.ncode
		for i, k := range keys[:n] {
			if k != last {
				id, last = s.intID(k, u), k
			}
			c := 1.0
			if cnts != nil {
				c = cnts[i]
			}
			s.counts[int(id)*nc+int(codes[i])] += c
			s.nobs[id]++
		}
		return
	}
	for _, k := range keys[:n] {
		if k != last {
			id, last = s.intID(k, u), k
		}
		s.nobs[id]++
		s.cur.ids = append(s.cur.ids, id)
	}
	s.cur.vals = append(s.cur.vals, codes...)
	if cnts != nil {
		s.cur.counts = append(s.cur.counts, cnts...)
	}
}

// countsBits is the fastest path, for the textbook case: bernoulli values
// in a bool column without nulls, no count column, int64 keys, either
// value possible. It counts each run of a bag's rows straight from the
// bitmap (a population count), and reports whether it could.
func (s *scanner) countsBits(bag arrow.Array, vals []arrow.Array, cnt arrow.Array, u int) bool {
	keyArr, ok := bag.(*array.Int64)
	valArr, isBool := vals[0].(*array.Boolean)
	if !s.agg || s.m.family != Bernoulli || cnt != nil || !ok || !isBool || bag.NullN() > 0 || valArr.NullN() > 0 ||
		!s.m.possible[0] || !s.m.possible[1] || s.p.window != nil {
		return false
	}
	s.countRuns(keyArr.Int64Values(), u, nil, valArr.Data().Buffers()[1].Bytes(), valArr.Data().Offset())
	return true
}

// onesIn counts the set bits lo..hi-1 of an LSB-first bitmap.
func onesIn(b []byte, lo, hi int) int {
	if lo >= hi {
		return 0
	}
	first, last := lo>>3, (hi-1)>>3
	headMask := byte(0xff << (lo & 7))
	tailMask := byte(0xff >> (7 - (hi-1)&7))
	if first == last {
		return bits.OnesCount8(b[first] & headMask & tailMask)
	}
	n := bits.OnesCount8(b[first]&headMask) + bits.OnesCount8(b[last]&tailMask)
	mid := b[first+1 : last]
	for len(mid) >= 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(mid))
		mid = mid[8:]
	}
	for _, x := range mid {
		n += bits.OnesCount8(x)
	}
	return n
}

// countRuns is intRows for counts of discrete values, one per row: it
// adds up each run of rows of one bag (a sorted or clustered input is all
// runs) before touching the bag's counters. The values are codes, or when
// bits is set, the bernoulli values as a bool bitmap from bit off. The
// sums are whole numbers, the same in any order.
func (s *scanner) countRuns(keys []int64, u int, codes []float64, bits []byte, off int) {
	nc, n := s.ncode, len(keys)
	for i := 0; i < n; {
		k := keys[i]
		j := i + 1
		for j < n && keys[j] == k {
			j++
		}
		var id int
		if d := uint64(k - s.lo); d < uint64(s.nd) && k >= s.lo && s.nobs[d] > 0 {
			id = int(d) // seen before: its first unit is set (one memory access fewer)
		} else {
			id = int(s.intID(k, u))
		}
		s.nobs[id] += int64(j - i)
		row := s.counts[id*nc : id*nc+nc]
		switch {
		case bits != nil:
			ones := onesIn(bits, off+i, off+j)
			row[0] += float64(j - i - ones)
			row[1] += float64(ones)
		case nc == 2:
			ones := 0
			for _, c := range codes[i:j] {
				ones += int(c)
			}
			row[0] += float64(j - i - ones)
			row[1] += float64(ones)
		default:
			for _, c := range codes[i:j] {
				row[int(c)]++
			}
		}
		i = j
	}
}

// windowRows is intRows for a unit that reaches beyond the keys of the
// window being read: rows of other windows' bags are left to them.
func (s *scanner) windowRows(keys []int64, u int, codes, cnts []float64) {
	v := s.rowCodes[:1]
	w := s.p.window
	for i, k := range keys {
		if k < w.lo || k > w.hi {
			continue
		}
		c := 1.0
		if cnts != nil {
			c = cnts[i]
		}
		v[0] = codes[i]
		s.add(s.intID(k, u), v, c)
	}
}

// strRows is intRows for string keys.
func (s *scanner) strRows(bag arrow.Array, u int, codes, cnts []float64) {
	var last string
	id := int32(-1)
	v := s.rowCodes[:1]
	for i := range bag.Len() {
		k := readers.String(bag, i)
		if id < 0 || k != last {
			id = s.strID(k, u)
			last = s.strs[id]
		}
		c := 1.0
		if cnts != nil {
			c = cnts[i]
		}
		v[0] = codes[i]
		s.add(id, v, c)
	}
}

// slowRows reads a batch row by row, checking every value, with the
// input.nulls and run.on_error policies.
func (s *scanner) slowRows(rec arrow.Record, bag arrow.Array, vals []arrow.Array, cnt arrow.Array, u int, row0 int64) error {
	cfg := s.cfg
	path := s.p.files[s.p.units[u].file].Path
	bad := func(i int, col string, arr arrow.Array, reason string) *InputError {
		e := &InputError{File: path, Column: col, Row: row0 + int64(i), Reason: reason}
		if !bag.IsNull(i) {
			e.Bag = valueAt(bag, i)
		}
		if arr != nil {
			e.Value = valueAt(arr, i)
		}
		return e
	}
	skip := cfg.Run.OnError == OnErrorSkip
	dropNulls := cfg.Input.Nulls == NullsDrop
	for i := range int(rec.NumRows()) {
		if bag.IsNull(i) {
			return bad(i, cfg.Input.Bag, nil, "the bag key is null")
		}
		var id int32
		if s.p.strKeys {
			id = s.strID(readers.String(bag, i), u)
		} else {
			k, ok := BagKey(bag, i)
			if !ok {
				return bad(i, cfg.Input.Bag, bag, keyLimit(bag.DataType()))
			}
			if w := s.p.window; w != nil {
				if un := s.p.units[u]; k < un.lo || k > un.hi {
					return &statsError{file: path, unit: un, key: k, typ: s.p.bagType}
				}
				if k < w.lo || k > w.hi {
					continue // another window's bag
				}
			}
			id = s.intID(k, u)
		}
		if dropNulls && (anyNull(vals, i) || cnt != nil && cnt.IsNull(i)) {
			s.drop(id)
			continue
		}
		count, e := s.m.row(cfg, vals, cnt, i, bad, s.rowCodes)
		if e != nil {
			if !skip {
				return e
			}
			if s.failed == nil {
				s.failed = map[int32]failure{}
			}
			// A worker reads its units in plan order, so the first
			// bad row it sees of a bag is its first in the plan.
			if _, seen := s.failed[id]; !seen {
				s.failed[id] = failure{u, e}
			}
			s.nobs[id]++
			continue
		}
		s.add(id, s.rowCodes, count)
	}
	return nil
}

// fastCodes codes a value column without nulls in one pass, for the common
// column types, and reports false when it cannot: another type, or a value
// the family refuses (the row-by-row path then finds and reports it).
//
// The codes go to dst's storage, but for Gaussian values, which need no
// coding: those are checked and returned as they are, the column's own
// memory (a copy was 2% of a Gaussian run). ownCodes tells the callers,
// who keep dst as scratch, not to keep such a slice.
func (m *model) fastCodes(arr arrow.Array, dst []float64) ([]float64, bool) {
	n := arr.Len()
	switch m.family {
	case Bernoulli:
		switch a := arr.(type) {
		case *array.Boolean:
			// Straight from the bitmap: Value(i) costs more than the rest
			// of a row's work.
			bits, off := a.Data().Buffers()[1].Bytes(), a.Data().Offset()
			dst = slices.Grow(dst, n)[:n]
			for i := range dst {
				j := off + i
				dst[i] = float64(bits[j>>3] >> (j & 7) & 1)
			}
		case *array.Int64:
			for _, k := range a.Int64Values() {
				if k != 0 && k != 1 {
					return dst, false
				}
				dst = append(dst, float64(k))
			}
		default:
			return dst, false
		}
		for c, ok := range m.possible {
			if !ok && slices.Contains(dst, float64(c)) {
				return dst, false
			}
		}
		return dst, true
	case Gaussian:
		var vs []float64
		switch a := arr.(type) {
		case *array.Float64:
			vs = a.Float64Values()
		default:
			return dst, false
		}
		// Finite, and not so far out that the densities could vanish
		// (see model.code); only finite when the components are learned.
		mu, far := m.gaussianBound()
		for _, v := range vs {
			if !(math.Abs(v-mu) <= far) {
				return dst, false
			}
		}
		return vs, true
	case Poisson:
		a, ok := arr.(*array.Int64)
		if !ok {
			return dst, false
		}
		for _, k := range a.Int64Values() {
			if k < 0 || k > 1<<53 {
				return dst, false
			}
			dst = append(dst, float64(k))
		}
		return dst, true
	}
	return dst, false
}

// ownCodes reports whether fastCodes codes into dst's storage, which the
// caller may then keep as scratch; not for Gaussian values, returned as
// the column holds them.
func (m *model) ownCodes() bool { return m.family != Gaussian }

// fastCounts reads a count column without nulls of the common types, and
// reports false for another type or a count that is not finite and
// non-negative, or is subnormal (the row-by-row path then reports it).
func fastCounts(arr arrow.Array, dst []float64) ([]float64, bool) {
	switch a := arr.(type) {
	case *array.Int64:
		for _, k := range a.Int64Values() {
			if k < 0 {
				return dst, false
			}
			dst = append(dst, float64(k))
		}
	case *array.Float64:
		for _, v := range a.Float64Values() {
			if !(v >= 0) || math.IsInf(v, 1) || subnormal(v) {
				return dst, false
			}
			dst = append(dst, v)
		}
	default:
		return dst, false
	}
	return dst, true
}

// aggregates reports whether a run keeps only counts per (bag, code): the
// values are discrete codes and the counts whole numbers (no count column,
// or an integer one), whose sums do not depend on the order they are
// added in.
func (c *Config) aggregates(m *model, p *plan) bool {
	return m.discrete() && m.dim == 1 && (c.Input.Count == "" || isInteger(p.countType))
}

// scan reads every unit of the plan with up to workers goroutines and
// returns the bags, with their rows unless they were spilled to sp.
func scan(ctx context.Context, cfg *Config, p *plan, m *model, mem memory.Allocator, workers int, sp *spiller, progress func(int64)) (*bags, error) {
	agg := cfg.aggregates(m, p)
	workers = max(1, min(workers, len(p.units)))
	scanners := make([]*scanner, workers)
	files := newFileSet(p, mem)
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	var long *keyTable
	if p.strKeys && workers > 1 {
		long = &keyTable{keys: map[string]string{}}
	}
	for w := range workers {
		s := newScanner(cfg, p, m, agg, sp, w)
		s.longKeys = long
		scanners[w] = s
		g.Go(func() (err error) {
			for {
				ui := int(next.Add(1) - 1)
				if ui >= len(p.units) {
					return nil
				}
				path := p.files[p.units[ui].file].Path
				if err := func() (err error) {
					defer recoverAs(&err, path)
					rd, err := files.reader(gctx, p.units[ui].file)
					if err != nil {
						return err
					}
					return s.readUnit(gctx, rd, ui, progress)
				}(); err != nil {
					return err
				}
			}
		})
	}
	err := g.Wait()
	if cerr := files.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if sp != nil {
		if err := sp.finish(); err != nil {
			return nil, err
		}
	}
	b, remap := merge(p, m, scanners, agg, sp != nil)
	if sp != nil {
		sp.remap = remap
	}
	return b, nil
}

// fileSet opens each input file once, when a worker first needs it, and
// shares the reader among the workers.
type fileSet struct {
	p    *plan
	mem  memory.Allocator
	mu   sync.Mutex
	open []*readers.Reader
	errs []error
}

func newFileSet(p *plan, mem memory.Allocator) *fileSet {
	return &fileSet{p: p, mem: mem, open: make([]*readers.Reader, len(p.files)), errs: make([]error, len(p.files))}
}

// reader returns file fi's reader, opening it (and checking it has not
// changed since planning) on first use.
func (fs *fileSet) reader(ctx context.Context, fi int) (*readers.Reader, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.open[fi] != nil || fs.errs[fi] != nil {
		return fs.open[fi], fs.errs[fi]
	}
	if err := fs.p.unchanged(ctx, fi); err != nil {
		fs.errs[fi] = err
		return nil, err
	}
	rd, err := readers.Open(ctx, fs.p.files[fi], fs.mem)
	if err == nil {
		rd.CheckUTF8(fs.p.utf8Cols...)
	}
	fs.open[fi], fs.errs[fi] = rd, err
	return rd, err
}

// close closes every open reader.
func (fs *fileSet) close() error {
	var first error
	for i, rd := range fs.open {
		if rd == nil {
			continue
		}
		if err := rd.Close(); err != nil && first == nil {
			first = fmt.Errorf("%s: %w", fs.p.files[i].Path, err)
		}
		fs.open[i] = nil
	}
	return first
}

// hashInt and hashString spread bag keys over the spill partitions
// (splitmix64's finaliser; FNV-1a then the finaliser for strings).
func hashInt(k int64) uint64 {
	z := uint64(k) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return hashInt(int64(h))
}

// merge joins the workers' dictionaries into bags sorted by key, adds up
// their bookkeeping, and groups their rows (unless spilled) by bag, a bag's
// rows in plan order.
func merge(p *plan, m *model, ss []*scanner, agg, spilled bool) (*bags, [][]int32) {
	b := &bags{dim: len(p.valueTypes), typ: p.bagType}
	remap := make([][]int32, len(ss))
	if p.strKeys {
		var all []string
		for _, s := range ss {
			all = append(all, s.strs...)
		}
		slices.Sort(all)
		b.strs = slices.Compact(all)
		if b.strs == nil {
			b.strs = []string{}
		}
		for w, s := range ss {
			remap[w] = make([]int32, len(s.strs))
			for id, k := range s.strs {
				g, _ := slices.BinarySearch(b.strs, k)
				remap[w][id] = int32(g)
			}
		}
	} else {
		b.ints, remap = mergeInts(ss)
	}
	nb := len(b.ints) + len(b.strs)
	b.nobs = make([]int64, nb)
	b.first = make([]int32, nb)
	for i := range b.first {
		b.first[i] = math.MaxInt32 // units, until the end
	}
	fails := map[int32]failure{}
	for w, s := range ss {
		for id, g := range remap[w] {
			if g < 0 || s.first[id] < 0 { // a dense id this worker never saw
				continue
			}
			b.nobs[g] += s.nobs[id]
			b.first[g] = min(b.first[g], s.first[id])
			if s.dropped != nil && s.dropped[id] > 0 {
				if b.dropped == nil {
					b.dropped = make([]int64, nb)
				}
				b.dropped[g] += s.dropped[id]
			}
		}
		for id, f := range s.failed {
			g := remap[w][id]
			if old, ok := fails[g]; !ok || f.before(old) {
				fails[g] = f
			}
		}
	}
	for i, u := range b.first {
		b.first[i] = int32(p.units[u].file)
	}
	if len(fails) > 0 {
		b.failed = make([]*InputError, nb)
		for g, f := range fails {
			b.failed[g] = f.err
		}
	}
	switch {
	case agg:
		b.groupCounts(ss, remap, len(m.possible))
	case spilled:
		b.part = make([]uint16, nb)
		for w, s := range ss {
			for id, g := range remap[w] {
				if g >= 0 && s.first[id] >= 0 {
					b.part[g] = s.part[id]
				}
			}
		}
		b.start = make([]int, nb+1)
	default:
		b.groupRows(ss, remap)
	}
	return b, remap
}

// mergeInts returns the sorted union of the workers' integer keys (never
// nil) and, per worker, the index of each of its ids in it (-1 for a dense
// id the worker never saw).
func mergeInts(ss []*scanner) ([]int64, [][]int32) {
	remap := make([][]int32, len(ss))
	if keys, ok := mergeDense(ss, remap); ok {
		return keys, remap
	}
	var all []int64
	for _, s := range ss {
		for id := range int32(s.bagCount()) {
			if s.first[id] >= 0 {
				all = append(all, s.intKey(id))
			}
		}
	}
	slices.Sort(all)
	keys := slices.Compact(all)
	if keys == nil {
		keys = []int64{}
	}
	for w, s := range ss {
		remap[w] = make([]int32, s.bagCount())
		for id := range int32(s.bagCount()) {
			remap[w][id] = -1
			if s.first[id] >= 0 {
				g, _ := slices.BinarySearch(keys, s.intKey(id))
				remap[w][id] = int32(g)
			}
		}
	}
	return keys, remap
}

// mergeDense is mergeInts when every scanner has only dense ids over the
// same range: the keys come in order, without a sort. It reports false
// otherwise.
func mergeDense(ss []*scanner, remap [][]int32) ([]int64, bool) {
	nd, lo := ss[0].nd, ss[0].lo
	for _, s := range ss {
		if s.nd != nd || s.lo != lo || s.bagCount() != int(nd) {
			return nil, false
		}
	}
	for w := range ss {
		remap[w] = make([]int32, nd)
	}
	keys := make([]int64, 0, nd)
	for id := range nd {
		seen := false
		for _, s := range ss {
			seen = seen || s.first[id] >= 0
		}
		g := int32(-1)
		if seen {
			g = int32(len(keys))
			keys = append(keys, lo+int64(id))
		}
		for w := range ss {
			remap[w][id] = g
		}
	}
	return keys, true
}

// groupCounts makes each bag's rows its codes of non-zero summed count, in
// code order.
func (b *bags) groupCounts(ss []*scanner, remap [][]int32, nc int) {
	nb := b.len()
	sums := written[float64](nb * nc)
	for w, s := range ss {
		for id, g := range remap[w] {
			if g >= 0 {
				for c := range nc {
					sums[int(g)*nc+c] += s.counts[id*nc+c]
				}
			}
		}
	}
	b.start = make([]int, nb+1)
	// The slices are made once, of the rows there are, not grown.
	rows := 0
	for _, x := range sums {
		if x != 0 {
			rows++
		}
	}
	b.vals, b.counts = make([]float64, 0, rows), make([]float64, 0, rows)
	for g := range nb {
		b.start[g+1] = b.start[g]
		for c := range nc {
			if x := sums[g*nc+c]; x != 0 {
				b.vals = append(b.vals, float64(c))
				b.counts = append(b.counts, x)
				b.start[g+1]++
			}
		}
	}
}

// groupRows sorts the workers' row chunks into bags, a bag's rows in unit
// order, then row order. The scanners give up their chunks.
func (b *bags) groupRows(ss []*scanner, remap [][]int32) {
	type tagged struct {
		unit int
		p    piece
	}
	var chunks []tagged
	var used []rowChunk
	withCounts := false
	for w, s := range ss {
		for _, c := range s.chunks {
			chunks = append(chunks, tagged{c.unit, piece{c.ids, remap[w], c.vals, c.counts}})
			withCounts = withCounts || c.counts != nil
		}
		used = append(used, s.chunks...)
		s.chunks = nil
	}
	slices.SortFunc(chunks, func(x, y tagged) int { return x.unit - y.unit })
	pieces := make([]piece, len(chunks))
	for i, t := range chunks {
		pieces[i] = t.p
	}
	b.fill(pieces, withCounts)
	for _, c := range used {
		c.recycle()
	}
}

// piece is a run of rows whose bag ids are one worker's, which remap turns
// into bag indices.
type piece struct {
	ids, remap   []int32
	vals, counts []float64
}

// fill sets b.start, b.vals and b.counts from pieces of rows in plan order
// (a counting sort by bag, stable), letting go of each piece once placed.
func (b *bags) fill(pieces []piece, withCounts bool) {
	nb := b.len()
	start := make([]int, nb+1)
	for _, pc := range pieces {
		for _, id := range pc.ids {
			start[pc.remap[id]+1]++
		}
	}
	for g := range nb {
		start[g+1] += start[g]
	}
	d := b.stride()
	total := start[nb]
	b.vals = reuseFloats(b.vals, total*d)
	if withCounts {
		b.counts = reuseFloats(b.counts, total)
	} else {
		b.counts = nil
	}
	next := slices.Clone(start[:nb])
	for i, pc := range pieces {
		for r, id := range pc.ids {
			g := pc.remap[id]
			at := next[g]
			next[g]++
			if d == 1 {
				b.vals[at] = pc.vals[r]
			} else {
				copy(b.vals[at*d:(at+1)*d], pc.vals[r*d:(r+1)*d])
			}
			if withCounts {
				b.counts[at] = pc.counts[r]
			}
		}
		pieces[i] = piece{} // the garbage collector may take it now
	}
	b.start = start
}
