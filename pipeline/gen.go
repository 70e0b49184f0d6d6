package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/mixbatch/mixbatch/writers"
)

// Marbles describes synthetic data from the textbook process: every bag
// draws a true share w of factory-1 marbles, then each marble comes from
// factory 1 with probability w and is red with probability P1 (factory 1)
// or P2 (factory 2).
type Marbles struct {
	Bags       int     // number of bags
	RowsPerBag int     // marbles per bag
	Seed       uint64  // bag b's marbles come from PCG(Seed, b)
	P1, P2     float64 // P(red) for each factory; both 0 means 0.8 and 0.3
	// Counts writes one row per (bag, colour) with a count column n instead
	// of one row per marble.
	Counts bool
	// RowsPerFile splits the observations into part files of whole bags,
	// each file ending at the first bag boundary at or after RowsPerFile
	// rows; 0 means 1<<22. It may not be set with Files.
	RowsPerFile int
	// Files, if positive, splits the rows into that many part files of
	// about equal size (as many as there are rows, if fewer), cutting
	// bags where the boundaries fall.
	Files int
	// Shuffle writes the rows in a pseudo-random order derived from Seed
	// instead of bag by bag: every row group then holds rows of bags from
	// the whole table. The rows, as a multiset, and the truth are exactly
	// those written without Shuffle.
	Shuffle bool
	// RowGroupRows is the number of rows per Parquet row group; 0 means
	// writers.DefaultRowGroupRows.
	RowGroupRows int
}

// TruthFile is the name of the file in which GenMarbles and GenReadings
// record the truth, one row per bag.
const TruthFile = "_truth.parquet"

// GenOptionsError reports invalid options of GenMarbles or GenReadings;
// nothing was written.
type GenOptionsError struct {
	Reason string // what is wrong, naming the command-line flag
}

func (e *GenOptionsError) Error() string { return "gen: " + e.Reason }

// GenMarbles writes the observations to dir/part-NNNNN.parquet (bag_id
// int64, marble_id int64, red bool; or bag_id, red, n with Counts) and the
// truth to dir/_truth.parquet (bag_id, true_weight_factory1, n,
// n_factory1). Files starting with "_" are skipped when dir is read as
// input. dir may exist but must not hold part or truth files already; on
// error the files written so far are removed.
//
// Marble i of bag b is marble_id b·RowsPerBag + i. Its colour comes from
// draws 2i+s and 2i+s+1 of PCG(Seed, b), after the s = 1 or 2 draws that
// set the bag's share, so every marble can be computed on its own (the
// PCG jumps ahead) and part files are written in parallel.
func GenMarbles(ctx context.Context, dir string, g Marbles) error {
	if g.Bags < 0 || g.RowsPerBag < 1 {
		return &GenOptionsError{"--bags must be >= 0 and --rows-per-bag >= 1"}
	}
	if g.P1 == 0 && g.P2 == 0 {
		g.P1, g.P2 = 0.8, 0.3
	}
	if !(g.P1 >= 0 && g.P1 <= 1 && g.P2 >= 0 && g.P2 <= 1) || g.P1 == g.P2 {
		return &GenOptionsError{fmt.Sprintf("--p1 and --p2 must be different probabilities in [0, 1], got %v and %v", g.P1, g.P2)}
	}
	perBag := int64(g.RowsPerBag)
	if g.Counts {
		perBag = 2
	}
	lay, err := newLayout(int64(g.Bags), perBag, layoutSpec{
		files: g.Files, rowsPerFile: g.RowsPerFile, shuffle: g.Shuffle, rowGroupRows: g.RowGroupRows, seed: g.Seed,
	})
	if err != nil {
		return err
	}
	obsFields := []arrow.Field{{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64}}
	if g.Counts {
		obsFields = append(obsFields,
			arrow.Field{Name: "red", Type: arrow.FixedWidthTypes.Boolean},
			arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Int64})
	} else {
		obsFields = append(obsFields,
			arrow.Field{Name: "marble_id", Type: arrow.PrimitiveTypes.Int64},
			arrow.Field{Name: "red", Type: arrow.FixedWidthTypes.Boolean})
	}
	obsSchema := arrow.NewSchema(obsFields, nil)
	truthSchema := arrow.NewSchema([]arrow.Field{
		{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "true_weight_factory1", Type: arrow.PrimitiveTypes.Float64},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		{Name: "n_factory1", Type: arrow.PrimitiveTypes.Int64},
	}, nil)

	newRows := func(mem memory.Allocator) *appender {
		m := newMarbleStream(&g)
		bag := array.NewInt64Builder(mem)
		if g.Counts {
			red, n := array.NewBooleanBuilder(mem), array.NewInt64Builder(mem)
			cached := int64(-1)
			var nRed int64
			return &appender{builders: []array.Builder{bag, red, n}, add: func(k int64) {
				b := k / 2
				if b != cached {
					nRed, _ = m.summary(b)
					cached = b
				}
				bag.UnsafeAppend(b)
				if k%2 == 0 {
					red.UnsafeAppend(true)
					n.UnsafeAppend(nRed)
				} else {
					red.UnsafeAppend(false)
					n.UnsafeAppend(int64(g.RowsPerBag) - nRed)
				}
			}}
		}
		id, red := array.NewInt64Builder(mem), array.NewBooleanBuilder(mem)
		return &appender{builders: []array.Builder{bag, id, red}, add: func(k int64) {
			b, i := k/perBag, k%perBag
			r, _ := m.marble(b, i)
			bag.UnsafeAppend(b)
			id.UnsafeAppend(k)
			red.UnsafeAppend(r)
		}}
	}
	newTruth := func(mem memory.Allocator) *appender {
		m := newMarbleStream(&g)
		bag, share := array.NewInt64Builder(mem), array.NewFloat64Builder(mem)
		n, n1 := array.NewInt64Builder(mem), array.NewInt64Builder(mem)
		return &appender{builders: []array.Builder{bag, share, n, n1}, add: func(b int64) {
			_, from1 := m.summary(b)
			bag.UnsafeAppend(b)
			share.UnsafeAppend(m.share)
			n.UnsafeAppend(int64(g.RowsPerBag))
			n1.UnsafeAppend(from1)
		}}
	}
	return generate(ctx, dir, lay, obsSchema, newRows, truthSchema, newTruth)
}

// marbleStream computes marbles of GenMarbles one at a time from PCG(Seed,
// b), stepping the stream forward when they are taken in order and
// jumping it otherwise. Not safe for concurrent use.
type marbleStream struct {
	g     *Marbles
	src   rand.PCG
	rng   *rand.Rand
	bag   int64   // the bag share and skip belong to; -1 for none
	share float64 // the bag's share of factory 1
	skip  uint64  // draws taken before the bag's first marble: 1 or 2
	next  int64   // the marble the stream is positioned at
}

func newMarbleStream(g *Marbles) *marbleStream {
	m := &marbleStream{g: g, bag: -1}
	m.rng = rand.New(&m.src)
	return m
}

// startBag draws bag b's share; the stream is then at its first marble.
func (m *marbleStream) startBag(b int64) {
	m.src.Seed(m.g.Seed, uint64(b))
	// One bag in ten is all factory 2, one in ten all factory 1: maxima
	// on the boundary are part of every demo.
	switch u := m.rng.Float64(); {
	case u < 0.1:
		m.share, m.skip = 0, 1
	case u < 0.2:
		m.share, m.skip = 1, 1
	default:
		m.share, m.skip = m.rng.Float64(), 2
	}
	m.bag, m.next = b, 0
}

// marble returns whether marble i of bag b is red and whether it came from
// factory 1.
func (m *marbleStream) marble(b, i int64) (red, from1 bool) {
	if b != m.bag {
		m.startBag(b)
	}
	if i != m.next {
		m.src.Seed(pcgAdvance(m.g.Seed, uint64(b), m.skip+2*uint64(i)))
	}
	m.next = i + 1
	p := m.g.P2
	if m.rng.Float64() < m.share {
		p = m.g.P1
		from1 = true
	}
	return m.rng.Float64() < p, from1
}

// summary returns bag b's numbers of red marbles and of marbles from
// factory 1; m.share is then the bag's share.
func (m *marbleStream) summary(b int64) (red, from1 int64) {
	m.startBag(b)
	for i := range int64(m.g.RowsPerBag) {
		r, f := m.marble(b, i)
		if r {
			red++
		}
		if f {
			from1++
		}
	}
	return red, from1
}

// Readings describes synthetic sensor data: every sensor (bag) draws true
// weights from a flat Dirichlet distribution over ReadingComponents, then
// each reading comes from component k with probability w_k and is Gaussian
// with the component's mean and sd.
type Readings struct {
	Bags       int    // number of sensors
	RowsPerBag int    // readings per sensor
	Seed       uint64 // sensor s's readings come from PCG(Seed, s)
	// Files, if positive, splits the rows into that many part files of
	// about equal size; 0 means files of 1<<22 rows (rounded up to whole
	// sensors).
	Files int
	// Shuffle writes the rows in a pseudo-random order derived from Seed
	// instead of sensor by sensor; the rows, as a multiset, and the truth
	// are exactly those written without Shuffle.
	Shuffle bool
	// RowGroupRows is the number of rows per Parquet row group; 0 means
	// writers.DefaultRowGroupRows.
	RowGroupRows int
}

// ReadingComponent is one regime of a sensor in GenReadings.
type ReadingComponent struct {
	Name     string
	Mean, SD float64
}

// ReadingComponents returns the components GenReadings draws from, in the
// order of the truth's columns: the regimes of configs/readings.yaml, idle
// N(20, 2²), working N(35, 3²) and faulty N(60, 8²).
func ReadingComponents() []ReadingComponent {
	return []ReadingComponent{{"idle", 20, 2}, {"working", 35, 3}, {"faulty", 60, 8}}
}

// GenReadings writes the readings to dir/part-NNNNN.parquet (sensor_id
// int64, reading_id int64, value float64) and the truth to
// dir/_truth.parquet (sensor_id, then true_weight_NAME for each of
// ReadingComponents, n, then n_NAME: the readings that came from each
// component). dir may exist but must not hold part or truth files
// already; on error the files written so far are removed.
//
// Reading i of sensor s is reading_id s·RowsPerBag + i; its component and
// value come from draws 3i+2 to 3i+4 of PCG(Seed, s), after the 2 that set
// the sensor's weights, so that every reading can be computed on its own.
func GenReadings(ctx context.Context, dir string, g Readings) error {
	if g.Bags < 0 || g.RowsPerBag < 1 {
		return &GenOptionsError{"--bags must be >= 0 and --rows-per-bag >= 1"}
	}
	lay, err := newLayout(int64(g.Bags), int64(g.RowsPerBag), layoutSpec{
		files: g.Files, shuffle: g.Shuffle, rowGroupRows: g.RowGroupRows, seed: g.Seed,
	})
	if err != nil {
		return err
	}
	comps := ReadingComponents()
	obsSchema := arrow.NewSchema([]arrow.Field{
		{Name: "sensor_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "reading_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	truthFields := []arrow.Field{{Name: "sensor_id", Type: arrow.PrimitiveTypes.Int64}}
	for _, c := range comps {
		truthFields = append(truthFields, arrow.Field{Name: "true_weight_" + c.Name, Type: arrow.PrimitiveTypes.Float64})
	}
	truthFields = append(truthFields, arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Int64})
	for _, c := range comps {
		truthFields = append(truthFields, arrow.Field{Name: "n_" + c.Name, Type: arrow.PrimitiveTypes.Int64})
	}
	truthSchema := arrow.NewSchema(truthFields, nil)

	rows := int64(g.RowsPerBag)
	newRows := func(mem memory.Allocator) *appender {
		r := newReadingStream(g.Seed, comps)
		sensor, id, value := array.NewInt64Builder(mem), array.NewInt64Builder(mem), array.NewFloat64Builder(mem)
		return &appender{builders: []array.Builder{sensor, id, value}, add: func(k int64) {
			s, i := k/rows, k%rows
			_, v := r.reading(s, i, true)
			sensor.UnsafeAppend(s)
			id.UnsafeAppend(k)
			value.UnsafeAppend(v)
		}}
	}
	newTruth := func(mem memory.Allocator) *appender {
		r := newReadingStream(g.Seed, comps)
		sensor, n := array.NewInt64Builder(mem), array.NewInt64Builder(mem)
		var count [numReadingComponents]*array.Int64Builder
		var share [numReadingComponents]*array.Float64Builder
		bs := []array.Builder{sensor}
		for k := range share {
			share[k] = array.NewFloat64Builder(mem)
			bs = append(bs, share[k])
		}
		bs = append(bs, n)
		for k := range count {
			count[k] = array.NewInt64Builder(mem)
			bs = append(bs, count[k])
		}
		return &appender{builders: bs, add: func(s int64) {
			r.startBag(s)
			var from [numReadingComponents]int64
			for i := range rows {
				k, _ := r.reading(s, i, false)
				from[k]++
			}
			sensor.UnsafeAppend(s)
			n.UnsafeAppend(rows)
			for k := range from {
				share[k].UnsafeAppend(r.w[k])
				count[k].UnsafeAppend(from[k])
			}
		}}
	}
	return generate(ctx, dir, lay, obsSchema, newRows, truthSchema, newTruth)
}

// numReadingComponents is len(ReadingComponents()).
const numReadingComponents = 3

// readingDraws is the number of draws that set a sensor's weights.
const readingDraws = numReadingComponents - 1

// readingStream computes readings of GenReadings one at a time, like
// marbleStream. Not safe for concurrent use.
type readingStream struct {
	seed  uint64
	comps []ReadingComponent
	src   rand.PCG
	rng   *rand.Rand
	bag   int64 // the sensor w and cut belong to; -1 for none
	w     [numReadingComponents]float64
	cut   [readingDraws]float64 // cumulative weights: w_0, w_0 + w_1, …
	next  int64                 // the reading the stream is positioned at
}

func newReadingStream(seed uint64, comps []ReadingComponent) *readingStream {
	r := &readingStream{seed: seed, comps: comps, bag: -1}
	r.rng = rand.New(&r.src)
	return r
}

// startBag draws sensor s's weights from the flat Dirichlet distribution:
// the spacings of K − 1 uniform draws, sorted, which are the cumulative
// weights.
func (r *readingStream) startBag(s int64) {
	r.src.Seed(r.seed, uint64(s))
	for k := range readingDraws {
		r.cut[k] = r.rng.Float64()
	}
	slices.Sort(r.cut[:])
	prev := 0.0
	for k := range r.w {
		next := 1.0
		if k < len(r.cut) {
			next = r.cut[k]
		}
		r.w[k] = next - prev
		prev = next
	}
	r.bag, r.next = s, 0
}

// reading returns the component and, if value, the value of reading i of
// sensor s (Box–Muller: three draws a reading whatever the values).
func (r *readingStream) reading(s, i int64, value bool) (int, float64) {
	if s != r.bag {
		r.startBag(s)
	}
	if i != r.next {
		r.src.Seed(pcgAdvance(r.seed, uint64(s), readingDraws+3*uint64(i)))
	}
	r.next = i + 1
	u := r.rng.Float64()
	k := 0
	for k < len(r.cut) && u >= r.cut[k] {
		k++
	}
	u1, u2 := r.rng.Float64(), r.rng.Float64()
	if !value {
		return k, 0
	}
	z := math.Sqrt(-2*math.Log(1-u1)) * math.Cos(2*math.Pi*u2)
	return k, r.comps[k].Mean + r.comps[k].SD*z
}

// appender builds the records of a generated table: add appends row k to
// the column builders (without bounds checks: reserve comes first).
type appender struct {
	builders []array.Builder
	add      func(k int64)
}

func (a *appender) reserve(n int) {
	for _, b := range a.builders {
		b.Reserve(n)
	}
}

func (a *appender) record(sc *arrow.Schema) arrow.Record {
	cols := make([]arrow.Array, len(a.builders))
	for i, b := range a.builders {
		cols[i] = b.NewArray()
	}
	rec := array.NewRecord(sc, cols, int64(cols[0].Len()))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

func (a *appender) release() {
	for _, b := range a.builders {
		b.Release()
	}
}

// layoutSpec is what a generator's options say about the files.
type layoutSpec struct {
	files        int // part files; 0: rowsPerFile
	rowsPerFile  int // rows per file, rounded up to whole bags; 0: 1<<22
	shuffle      bool
	rowGroupRows int
	seed         uint64
}

// layout places the rows of a generated table: row j of the output (in
// file order) is observation order.at(j), or j if order is nil, where
// observations are numbered bag by bag.
type layout struct {
	bags   int64
	rows   int64   // observations
	bounds []int64 // part file f holds output rows bounds[f] to bounds[f+1]-1
	order  *permutation
	opts   writers.Options
	// recordRows is the number of rows per record given to the writer:
	// 1<<16 rounded up to whole bags, as earlier versions wrote them (the
	// writer's pages depend on it), or 1<<16 for bags larger than that.
	recordRows int64
}

func newLayout(bags, perBag int64, s layoutSpec) (*layout, error) {
	switch {
	case s.files < 0:
		return nil, &GenOptionsError{fmt.Sprintf("--files must be >= 0, got %d", s.files)}
	case s.files > 0 && s.rowsPerFile > 0:
		return nil, &GenOptionsError{"set the number of files or the rows per file, not both"}
	case s.rowsPerFile < 0 || s.rowGroupRows < 0:
		return nil, &GenOptionsError{"rows per file and per row group must be >= 0"}
	case perBag > 0 && bags > math.MaxInt64/perBag:
		return nil, &GenOptionsError{fmt.Sprintf("%d bags of %d rows is too many rows", bags, perBag)}
	}
	l := &layout{
		bags: bags, rows: bags * perBag,
		opts:       writers.Options{RowGroupRows: int64(s.rowGroupRows)},
		recordRows: 1 << 16,
	}
	if perBag <= l.recordRows {
		l.recordRows = roundUp(l.recordRows, perBag)
	}
	if s.shuffle {
		l.order = newPermutation(uint64(l.rows), s.seed)
	}
	if s.files > 0 {
		n := min(int64(s.files), max(l.rows, 1))
		for f := range n + 1 {
			hi, lo := bits.Mul64(uint64(f), uint64(l.rows))
			q, _ := bits.Div64(hi, lo, uint64(n))
			l.bounds = append(l.bounds, int64(q))
		}
		return l, nil
	}
	per := int64(s.rowsPerFile)
	if per == 0 {
		per = 1 << 22
	}
	per = roundUp(min(per, max(l.rows, 1)), perBag) // no overflow: rows is a multiple of perBag
	l.bounds = []int64{0}
	for end := per; end < l.rows; end += per {
		l.bounds = append(l.bounds, end)
	}
	l.bounds = append(l.bounds, l.rows)
	return l, nil
}

// roundUp returns n rounded up to a multiple of m.
func roundUp(n, m int64) int64 { return (n + m - 1) / m * m }

// maxGenWriters bounds the files generate writes at once: each holds a
// row group of pages, dictionaries and record buffers, about 50 MiB live
// (100 MiB of RSS) for 1<<20 rows.
const maxGenWriters = 4

// generate writes the part files of lay (in parallel, a file per worker)
// and the truth file, one row per bag. On error it removes every file it
// created.
func generate(ctx context.Context, dir string, lay *layout,
	obsSchema *arrow.Schema, newRows func(memory.Allocator) *appender,
	truthSchema *arrow.Schema, newTruth func(memory.Allocator) *appender) (err error) {
	made := missingDirs(dir) // deepest first
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	var (
		mu      sync.Mutex
		created []string
	)
	defer func() {
		if err == nil {
			return
		}
		for _, p := range created {
			if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = errors.Join(err, fmt.Errorf("gen: removing partial output: %w", rerr))
			}
		}
		removeMade(made) // and the folders it made, if still empty
	}()
	// write writes rows lo to hi-1 of a table to path, in records of step
	// rows: row j is row(j) of the appender made by newApp.
	write := func(ctx context.Context, path string, sc *arrow.Schema, lo, hi, step int64, row func(int64) int64, newApp func(memory.Allocator) *appender) (err error) {
		w, err := writers.Create(path, sc, lay.opts)
		if err != nil {
			return err
		}
		mu.Lock()
		created = append(created, path)
		mu.Unlock()
		defer func() {
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}()
		app := newApp(memory.DefaultAllocator)
		defer app.release()
		for start := lo; start < hi; start += step {
			if err := ctx.Err(); err != nil {
				return err
			}
			end := min(hi, start+step)
			app.reserve(int(end - start))
			for j := start; j < end; j++ {
				app.add(row(j))
			}
			rec := app.record(sc)
			err := w.Write(rec)
			rec.Release()
			if err != nil {
				return err
			}
		}
		return nil
	}
	obsRow := func(j int64) int64 { return j }
	if lay.order != nil {
		obsRow = func(j int64) int64 { return int64(lay.order.at(uint64(j))) }
	}
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(min(runtime.GOMAXPROCS(0), maxGenWriters))
	eg.Go(func() error {
		return write(ctx, filepath.Join(dir, TruthFile), truthSchema, 0, lay.bags, 1<<16, func(b int64) int64 { return b }, newTruth)
	})
	for f := range len(lay.bounds) - 1 {
		eg.Go(func() error {
			return write(ctx, filepath.Join(dir, partName(f)), obsSchema, lay.bounds[f], lay.bounds[f+1], lay.recordRows, obsRow, newRows)
		})
	}
	return eg.Wait()
}

// permutation is a keyed pseudo-random bijection of [0, n): a Feistel
// network on the smallest power of two of at least 4 and n, restricted to
// [0, n) by cycle walking (applying it again while the result is n or
// more). It holds no table, so it costs nothing per element.
type permutation struct {
	n      uint64
	lw, rw uint // widths in bits of the left and right halves
	keys   [feistelRounds]uint64
}

// feistelRounds is even, so the halves have their starting widths again
// at the end.
const feistelRounds = 6

func newPermutation(n, seed uint64) *permutation {
	w := max(2, uint(bits.Len64(max(n, 1)-1)))
	p := &permutation{n: n, lw: w / 2, rw: w - w/2}
	// The keys come from Seed through SplitMix64, offset so that they are
	// not the data's PCG seeds.
	x := seed ^ 0x5eed5eed5eed5eed
	for i := range p.keys {
		x += 0x9e3779b97f4a7c15
		p.keys[i] = mix64(x)
	}
	return p
}

// at returns the image of j < n.
func (p *permutation) at(j uint64) uint64 {
	x := p.feistel(j)
	for x >= p.n {
		x = p.feistel(x)
	}
	return x
}

// feistel is the permutation of [0, 2^(lw+rw)): each round maps the
// halves (l, r) to (r, l + F(r) mod 2^width(l)), which swaps their widths.
func (p *permutation) feistel(x uint64) uint64 {
	lw, rw := p.lw, p.rw
	l, r := x>>rw, x&(1<<rw-1)
	for _, k := range p.keys {
		l, r = r, (l+mix64(r^k))&(1<<lw-1)
		lw, rw = rw, lw
	}
	return l<<rw | r
}

// mix64 is the finaliser of SplitMix64, a bijective 64-bit mixer.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// u128 is an unsigned 128-bit integer, arithmetic modulo 2¹²⁸.
type u128 struct{ hi, lo uint64 }

func (a u128) mul(b u128) u128 {
	hi, lo := bits.Mul64(a.lo, b.lo)
	return u128{hi + a.hi*b.lo + a.lo*b.hi, lo}
}

func (a u128) add(b u128) u128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, _ := bits.Add64(a.hi, b.hi, c)
	return u128{hi, lo}
}

// pcgJumps[k] = (m, c) advances the state s of math/rand/v2's PCG by 2^k
// steps: s ← m·s + c. One step is PCG's own s ← mul·s + inc (its next
// method; the test checks the constants against rand.PCG itself).
var pcgJumps = func() (t [64][2]u128) {
	m := u128{2549297995355413924, 4865540595714422341}
	c := u128{6364136223846793005, 1442695040888963407}
	for k := range t {
		t[k] = [2]u128{m, c}
		m, c = m.mul(m), c.mul(m).add(c)
	}
	return t
}()

// pcgAdvance returns the state of PCG(seed1, seed2) after n draws, as the
// seeds that start a PCG there.
func pcgAdvance(seed1, seed2, n uint64) (hi, lo uint64) {
	s := u128{seed1, seed2}
	for ; n != 0; n &= n - 1 {
		j := &pcgJumps[bits.TrailingZeros64(n)]
		s = s.mul(j[0]).add(j[1])
	}
	return s.hi, s.lo
}
