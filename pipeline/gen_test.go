package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// genTable is a Parquet file read back: its columns by name (int64,
// bool or float64 values) and the number of rows of each row group.
type genTable struct {
	ints      map[string][]int64
	bools     map[string][]bool
	floats    map[string][]float64
	rowGroups []int
}

func (g *genTable) rows() int {
	n := 0
	for _, r := range g.rowGroups {
		n += r
	}
	return n
}

// readGenFile reads a Parquet file written by the generators.
func readGenFile(t testing.TB, path string) *genTable {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	g := &genTable{ints: map[string][]int64{}, bools: map[string][]bool{}, floats: map[string][]float64{}}
	sc, err := fr.Schema()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range sc.Fields() { // columns present even with no rows
		switch f.Type.ID() {
		case arrow.INT64:
			g.ints[f.Name] = []int64{}
		case arrow.BOOL:
			g.bools[f.Name] = []bool{}
		case arrow.FLOAT64:
			g.floats[f.Name] = []float64{}
		default:
			t.Fatalf("%s: column %s has type %s", path, f.Name, f.Type)
		}
	}
	cols := make([]int, pf.MetaData().Schema.NumColumns())
	for i := range cols {
		cols[i] = i
	}
	for rg := range pf.NumRowGroups() {
		tbl, err := fr.RowGroup(rg).ReadTable(context.Background(), cols)
		if err != nil {
			t.Fatal(err)
		}
		g.rowGroups = append(g.rowGroups, int(tbl.NumRows()))
		for i := range int(tbl.NumCols()) {
			name := tbl.Schema().Field(i).Name
			for _, chunk := range tbl.Column(i).Data().Chunks() {
				switch a := chunk.(type) {
				case *array.Int64:
					g.ints[name] = append(g.ints[name], a.Int64Values()...)
				case *array.Boolean:
					for j := range a.Len() {
						g.bools[name] = append(g.bools[name], a.Value(j))
					}
				case *array.Float64:
					g.floats[name] = append(g.floats[name], a.Float64Values()...)
				}
			}
		}
		tbl.Release()
	}
	return g
}

// readGenParts reads dir's part files, in order, as one table (row
// groups of all files in order) and returns it with each file's rows.
func readGenParts(t testing.TB, dir string) (*genTable, []int) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "part-*.parquet"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no part files in %s (%v)", dir, err)
	}
	all := &genTable{ints: map[string][]int64{}, bools: map[string][]bool{}, floats: map[string][]float64{}}
	var perFile []int
	for _, p := range paths {
		g := readGenFile(t, p)
		perFile = append(perFile, g.rows())
		all.rowGroups = append(all.rowGroups, g.rowGroups...)
		for k, v := range g.ints {
			all.ints[k] = append(all.ints[k], v...)
		}
		for k, v := range g.bools {
			all.bools[k] = append(all.bools[k], v...)
		}
		for k, v := range g.floats {
			all.floats[k] = append(all.floats[k], v...)
		}
	}
	return all, perFile
}

func genMarblesIn(t testing.TB, g Marbles) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "marbles")
	if err := GenMarbles(context.Background(), dir, g); err != nil {
		t.Fatal(err)
	}
	return dir
}

func genReadingsIn(t testing.TB, g Readings) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "readings")
	if err := GenReadings(context.Background(), dir, g); err != nil {
		t.Fatal(err)
	}
	return dir
}

func sameGenFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s and %s differ", a, b)
	}
}

// TestPCGAdvance checks the jump-ahead against math/rand/v2's PCG itself,
// stepped draw by draw, and that jumps compose.
func TestPCGAdvance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		s1, s2 := rng.Uint64(), rng.Uint64()
		n := rng.Uint64N(3000)
		src := rand.NewPCG(s1, s2)
		for range n {
			src.Uint64()
		}
		want := src.Uint64()
		if got := rand.NewPCG(pcgAdvance(s1, s2, n)).Uint64(); got != want {
			t.Fatalf("PCG(%d, %d) after %d draws: jump gives %#x, stepping %#x", s1, s2, n, got, want)
		}
		a, b := rng.Uint64()>>1, rng.Uint64()>>1 // a+b must not wrap
		h1, l1 := pcgAdvance(s1, s2, a)
		h2, l2 := pcgAdvance(h1, l1, b)
		h3, l3 := pcgAdvance(s1, s2, a+b)
		if h2 != h3 || l2 != l3 {
			t.Fatalf("jumping %d then %d differs from jumping %d", a, b, a+b)
		}
	}
}

func TestPermutation(t *testing.T) {
	sizes := []uint64{0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 65, 100, 1000, 4097, 12345}
	for _, n := range sizes {
		for _, seed := range []uint64{0, 1, 99} {
			p := newPermutation(n, seed)
			seen := make([]bool, n)
			fixed := 0
			for j := range n {
				k := p.at(j)
				if k >= n || seen[k] {
					t.Fatalf("n=%d seed=%d: at(%d) = %d is out of range or repeated", n, seed, j, k)
				}
				seen[k] = true
				if k == j {
					fixed++
				}
			}
			// A random permutation has one fixed point on average.
			if n >= 100 && fixed > 10 {
				t.Errorf("n=%d seed=%d: %d fixed points", n, seed, fixed)
			}
		}
	}
	a, b := newPermutation(1000, 1), newPermutation(1000, 2)
	same := 0
	for j := range uint64(1000) {
		if a.at(j) == b.at(j) {
			same++
		}
	}
	if same > 10 {
		t.Errorf("seeds 1 and 2 agree on %d of 1000 positions", same)
	}
}

// TestGenMarblesCommittedData regenerates data/marbles with the command
// in configs/marbles.yaml: the rows and the truth must be the committed
// ones exactly (compared as values, so that a change in how Parquet is
// encoded does not fail it; with the writer that made them, the files are
// equal byte for byte too).
func TestGenMarblesCommittedData(t *testing.T) {
	dir := genMarblesIn(t, Marbles{Bags: 200, RowsPerBag: 100, Seed: 1})
	for _, name := range []string{"part-00000.parquet", TruthFile} {
		got := readGenFile(t, filepath.Join(dir, name))
		want := readGenFile(t, filepath.Join("..", "data", "marbles", name))
		if got.rows() != want.rows() || len(got.ints)+len(got.bools)+len(got.floats) != len(want.ints)+len(want.bools)+len(want.floats) {
			t.Fatalf("%s: %d rows, columns %v %v %v; committed: %d rows", name, got.rows(), got.ints, got.bools, got.floats, want.rows())
		}
		for c, v := range want.ints {
			if !slices.Equal(got.ints[c], v) {
				t.Errorf("%s: column %s differs from the committed one", name, c)
			}
		}
		for c, v := range want.bools {
			if !slices.Equal(got.bools[c], v) {
				t.Errorf("%s: column %s differs from the committed one", name, c)
			}
		}
		for c, v := range want.floats {
			if !slices.Equal(got.floats[c], v) {
				t.Errorf("%s: column %s differs from the committed one", name, c)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "part-00001.parquet")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a second part file: %v", err)
	}
}

// TestGenMarblesShuffle checks that --shuffle writes a permutation of the
// clustered rows: the same rows (and truth), in another order, every row
// group holding rows from across the table.
func TestGenMarblesShuffle(t *testing.T) {
	const bags, perBag, rowGroup = 300, 40, 1000
	base := Marbles{Bags: bags, RowsPerBag: perBag, Seed: 5, RowGroupRows: rowGroup}
	clustered := genMarblesIn(t, base)
	shuffledGen := base
	shuffledGen.Shuffle, shuffledGen.Files = true, 3
	shuffled := genMarblesIn(t, shuffledGen)
	sameGenFile(t, filepath.Join(clustered, TruthFile), filepath.Join(shuffled, TruthFile))

	c, _ := readGenParts(t, clustered)
	s, perFile := readGenParts(t, shuffled)
	if want := []int{4000, 4000, 4000}; !slices.Equal(perFile, want) {
		t.Errorf("rows per file %v, want %v", perFile, want)
	}
	n := bags * perBag
	if len(c.ints["marble_id"]) != n || len(s.ints["marble_id"]) != n {
		t.Fatalf("%d clustered and %d shuffled rows, want %d", len(c.ints["marble_id"]), len(s.ints["marble_id"]), n)
	}
	// Clustered rows are in marble_id order; put the shuffled ones back.
	inPlace := 0
	back := make([]int, n)
	for j, id := range s.ints["marble_id"] {
		if id == int64(j) {
			inPlace++
		}
		back[id] = j
	}
	for id := range n {
		j := back[id]
		if c.ints["marble_id"][id] != int64(id) || s.ints["marble_id"][j] != int64(id) ||
			s.ints["bag_id"][j] != c.ints["bag_id"][id] || s.bools["red"][j] != c.bools["red"][id] {
			t.Fatalf("marble %d: clustered (bag %d, red %v), shuffled (bag %d, red %v)",
				id, c.ints["bag_id"][id], c.bools["red"][id], s.ints["bag_id"][j], s.bools["red"][j])
		}
	}
	if inPlace > n/100 {
		t.Errorf("%d of %d rows at their clustered position", inPlace, n)
	}
	// 1,000 rows drawn from 300 bags of 40 leave out about 300·(1 − 1000/12000)^40 ≈ 10 bags.
	wantBags := 250
	if len(s.rowGroups) != 12 {
		t.Errorf("%d row groups, want 12", len(s.rowGroups))
	}
	start := 0
	for g, rows := range s.rowGroups {
		ids := s.ints["bag_id"][start : start+rows]
		start += rows
		distinct := map[int64]bool{}
		ascending := 0
		for i, b := range ids {
			distinct[b] = true
			if i > 0 && b >= ids[i-1] {
				ascending++
			}
		}
		if len(distinct) < wantBags || slices.Min(ids) > 5 || slices.Max(ids) < bags-6 {
			t.Errorf("row group %d holds %d bags from %d to %d, want at least %d from across 0 to %d",
				g, len(distinct), slices.Min(ids), slices.Max(ids), wantBags, bags-1)
		}
		// In random order about half the steps go up.
		if ascending > rows*6/10 {
			t.Errorf("row group %d: %d of %d steps keep the bag or go up", g, ascending, rows)
		}
	}
}

func TestGenMarblesShuffleCounts(t *testing.T) {
	base := Marbles{Bags: 500, RowsPerBag: 30, Seed: 2, Counts: true}
	c, _ := readGenParts(t, genMarblesIn(t, base))
	base.Shuffle = true
	s, _ := readGenParts(t, genMarblesIn(t, base))
	type row struct {
		bag int64
		red bool
		n   int64
	}
	rows := func(g *genTable) []row {
		var r []row
		for i, b := range g.ints["bag_id"] {
			r = append(r, row{b, g.bools["red"][i], g.ints["n"][i]})
		}
		return r
	}
	cr, sr := rows(c), rows(s)
	if len(cr) != 1000 || slices.Equal(cr, sr) {
		t.Fatalf("%d clustered rows; shuffled equal to clustered: %v", len(cr), slices.Equal(cr, sr))
	}
	order := func(a, b row) int {
		if a.bag != b.bag {
			return int(a.bag - b.bag)
		}
		if a.red == b.red {
			return 0
		}
		if a.red {
			return -1
		}
		return 1
	}
	slices.SortFunc(sr, order)
	if !slices.Equal(cr, sr) {
		t.Error("the shuffled counts are not the clustered ones")
	}
}

// TestGenFiles checks how the rows are split into files: --files in about
// equal parts, cutting bags, and the default in whole bags; either way
// the files, in order, hold the rows of a single file.
func TestGenFiles(t *testing.T) {
	one, _ := readGenParts(t, genMarblesIn(t, Marbles{Bags: 100, RowsPerBag: 10, Seed: 3, RowsPerFile: 1 << 20}))
	for _, tc := range []struct {
		g    Marbles
		want []int
	}{
		{Marbles{Files: 7}, []int{142, 143, 143, 143, 143, 143, 143}},
		{Marbles{Files: 1}, []int{1000}},
		{Marbles{Files: 4}, []int{250, 250, 250, 250}},
		{Marbles{RowsPerFile: 250}, []int{250, 250, 250, 250}},
		{Marbles{RowsPerFile: 245}, []int{250, 250, 250, 250}}, // whole bags
		{Marbles{RowsPerFile: 300}, []int{300, 300, 300, 100}},
		{Marbles{RowsPerFile: 1}, slices.Repeat([]int{10}, 100)},
		{Marbles{}, []int{1000}},
	} {
		g := tc.g
		g.Bags, g.RowsPerBag, g.Seed = 100, 10, 3
		got, perFile := readGenParts(t, genMarblesIn(t, g))
		if !slices.Equal(perFile, tc.want) {
			t.Errorf("Files %d, RowsPerFile %d: rows per file %v, want %v", g.Files, g.RowsPerFile, perFile, tc.want)
		}
		if !slices.Equal(got.ints["marble_id"], one.ints["marble_id"]) || !slices.Equal(got.bools["red"], one.bools["red"]) ||
			!slices.Equal(got.ints["bag_id"], one.ints["bag_id"]) {
			t.Errorf("Files %d, RowsPerFile %d: the files do not hold the rows of one file", g.Files, g.RowsPerFile)
		}
	}
	// Bags larger than a record (1<<16 rows), split across files.
	big, perFile := readGenParts(t, genMarblesIn(t, Marbles{Bags: 2, RowsPerBag: 70000, Seed: 3}))
	split, splitPerFile := readGenParts(t, genMarblesIn(t, Marbles{Bags: 2, RowsPerBag: 70000, Seed: 3, Files: 3}))
	if !slices.Equal(perFile, []int{140000}) || !slices.Equal(splitPerFile, []int{46666, 46667, 46667}) ||
		!slices.Equal(big.bools["red"], split.bools["red"]) || !slices.Equal(big.ints["marble_id"], split.ints["marble_id"]) {
		t.Errorf("2 bags of 70,000: rows per file %v and %v, or the files differ", perFile, splitPerFile)
	}
	// More files than rows: a file per row.
	_, perFile = readGenParts(t, genMarblesIn(t, Marbles{Bags: 2, RowsPerBag: 1, Files: 5}))
	if !slices.Equal(perFile, []int{1, 1}) {
		t.Errorf("2 rows in 5 files: rows per file %v, want [1 1]", perFile)
	}
	// No rows: one empty part file, and an empty truth.
	dir := genMarblesIn(t, Marbles{Bags: 0, RowsPerBag: 1, Files: 3, Shuffle: true})
	if _, perFile := readGenParts(t, dir); !slices.Equal(perFile, []int{0}) {
		t.Errorf("no rows: rows per file %v, want [0]", perFile)
	}
	if n := readGenFile(t, filepath.Join(dir, TruthFile)).rows(); n != 0 {
		t.Errorf("no bags: %d truth rows", n)
	}
}

func TestGenDeterministic(t *testing.T) {
	for _, shuffle := range []bool{false, true} {
		g := Marbles{Bags: 120, RowsPerBag: 25, Seed: 8, Files: 2, Shuffle: shuffle}
		a, b := genMarblesIn(t, g), genMarblesIn(t, g)
		for _, name := range []string{"part-00000.parquet", "part-00001.parquet", TruthFile} {
			sameGenFile(t, filepath.Join(a, name), filepath.Join(b, name))
		}
		g.Seed = 9
		x, _ := readGenParts(t, a)
		y, _ := readGenParts(t, genMarblesIn(t, g))
		if slices.Equal(x.bools["red"], y.bools["red"]) {
			t.Errorf("shuffle %v: seeds 8 and 9 gave the same marbles", shuffle)
		}
		if shuffle && slices.Equal(x.ints["marble_id"], y.ints["marble_id"]) {
			t.Error("seeds 8 and 9 gave the same order")
		}
	}
	r := Readings{Bags: 50, RowsPerBag: 40, Seed: 4, Shuffle: true, Files: 2}
	a, b := genReadingsIn(t, r), genReadingsIn(t, r)
	for _, name := range []string{"part-00000.parquet", "part-00001.parquet", TruthFile} {
		sameGenFile(t, filepath.Join(a, name), filepath.Join(b, name))
	}
}

func TestGenBadOptions(t *testing.T) {
	for _, g := range []Marbles{
		{Bags: -1, RowsPerBag: 1},
		{Bags: 1, RowsPerBag: 0},
		{Bags: 1, RowsPerBag: 1, Files: -1},
		{Bags: 1, RowsPerBag: 1, Files: 2, RowsPerFile: 10},
		{Bags: 1, RowsPerBag: 1, P1: 0.5, P2: 0.5},
		{Bags: math.MaxInt64 / 2, RowsPerBag: 3},
	} {
		dir := filepath.Join(t.TempDir(), "x")
		err := GenMarbles(context.Background(), dir, g)
		if _, ok := errors.AsType[*GenOptionsError](err); !ok {
			t.Errorf("%+v: error %v, want a GenOptionsError", g, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%+v: wrote %s", g, dir)
		}
	}
	err := GenReadings(context.Background(), t.TempDir(), Readings{Bags: 3, RowsPerBag: 3, Files: -2})
	if _, ok := errors.AsType[*GenOptionsError](err); !ok {
		t.Errorf("readings with Files -2: error %v, want a GenOptionsError", err)
	}
}

// TestGenRemovesPartialOutput: a part file in the way fails the run, which
// removes what it wrote and leaves the file in the way alone; a cancelled
// run removes its files and the folders it made.
func TestGenRemovesPartialOutput(t *testing.T) {
	dir := t.TempDir()
	inTheWay := filepath.Join(dir, "part-00002.parquet")
	if err := os.WriteFile(inTheWay, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := GenMarbles(context.Background(), dir, Marbles{Bags: 400, RowsPerBag: 50, Files: 4}); err == nil {
		t.Fatal("gen over an existing part file succeeded")
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0].Name() != "part-00002.parquet" {
		t.Errorf("left %v, want only part-00002.parquet", names)
	}
	if b, _ := os.ReadFile(inTheWay); string(b) != "mine" {
		t.Errorf("the file in the way was changed")
	}

	// An interrupted gen also removes the folders it made for --out, and
	// only those.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	parent := t.TempDir()
	dir = filepath.Join(parent, "new", "cancelled")
	if err := GenReadings(ctx, dir, Readings{Bags: 1000, RowsPerBag: 100}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled gen: error %v", err)
	}
	if names, err := os.ReadDir(parent); err != nil || len(names) != 0 {
		t.Errorf("cancelled gen left %v in the folder above --out (%v), want nothing", names, err)
	}
}

// TestGenReadingsShuffle: the shuffled readings are the clustered ones.
func TestGenReadingsShuffle(t *testing.T) {
	base := Readings{Bags: 200, RowsPerBag: 30, Seed: 6, RowGroupRows: 1500}
	clustered := genReadingsIn(t, base)
	base.Shuffle, base.Files = true, 2
	shuffled := genReadingsIn(t, base)
	sameGenFile(t, filepath.Join(clustered, TruthFile), filepath.Join(shuffled, TruthFile))
	c, _ := readGenParts(t, clustered)
	s, _ := readGenParts(t, shuffled)
	n := 6000
	if len(s.ints["reading_id"]) != n || len(c.ints["reading_id"]) != n {
		t.Fatalf("%d and %d rows, want %d", len(c.ints["reading_id"]), len(s.ints["reading_id"]), n)
	}
	inPlace := 0
	for j, id := range s.ints["reading_id"] {
		if id == int64(j) {
			inPlace++
		}
		if c.ints["reading_id"][id] != id || c.ints["sensor_id"][id] != s.ints["sensor_id"][j] ||
			math.Float64bits(c.floats["value"][id]) != math.Float64bits(s.floats["value"][j]) {
			t.Fatalf("reading %d: clustered (sensor %d, %v), shuffled (sensor %d, %v)",
				id, c.ints["sensor_id"][id], c.floats["value"][id], s.ints["sensor_id"][j], s.floats["value"][j])
		}
	}
	if inPlace > n/100 {
		t.Errorf("%d of %d readings at their clustered position", inPlace, n)
	}
	for g, rows := range s.rowGroups {
		if rows != 1500 {
			t.Errorf("row group %d has %d rows, want 1500", g, rows)
		}
	}
}

// TestGenReadingsTruth checks seeded readings against the truth that gen
// recorded. For each sensor, given its counts n_k per component, the sum
// of its values has mean Σ n_k μ_k and variance Σ n_k σ_k², and the count
// n_k is binomial(n, w_k). Every statistic is turned into a z-score, which
// must look standard normal over the 400 sensors: mean within ±0.25 (4
// standard errors), mean square within 1 ± 0.3 (about 4 standard errors),
// none beyond 5. The 100,000 values pooled must follow the mixture of the
// components with the counts' shares: Kolmogorov–Smirnov distance below
// 1.95/√N (the 0.1% critical value). The weights themselves are flat
// Dirichlet: each has mean 1/3 and variance 1/18, checked within 4
// standard errors.
func TestGenReadingsTruth(t *testing.T) {
	const sensors, perSensor = 400, 250
	dir := genReadingsIn(t, Readings{Bags: sensors, RowsPerBag: perSensor, Seed: 11, Files: 3, Shuffle: true})
	data, _ := readGenParts(t, dir)
	truth := readGenFile(t, filepath.Join(dir, TruthFile))
	comps := ReadingComponents()
	if len(comps) != numReadingComponents {
		t.Fatalf("%d components, numReadingComponents %d", len(comps), numReadingComponents)
	}
	if got := truth.ints["sensor_id"]; len(got) != sensors || got[0] != 0 || got[sensors-1] != sensors-1 {
		t.Fatalf("truth sensor_id %v", got)
	}
	var sum [sensors]float64
	var count [sensors]int64
	for i, s := range data.ints["sensor_id"] {
		sum[s] += data.floats["value"][i]
		count[s]++
		if want := s*perSensor + data.ints["reading_id"][i]%perSensor; data.ints["reading_id"][i] != want {
			t.Fatalf("row %d: reading_id %d of sensor %d", i, data.ints["reading_id"][i], s)
		}
	}
	stats := map[string][]float64{}
	var wSum, wSq, nSum [numReadingComponents]float64
	for s := range sensors {
		n := truth.ints["n"][s]
		if n != perSensor || count[s] != n {
			t.Fatalf("sensor %d: truth n %d, %d rows, want %d", s, n, count[s], perSensor)
		}
		var m, v, wTotal float64
		var nTotal int64
		for k, c := range comps {
			w := truth.floats["true_weight_"+c.Name][s]
			cnt := truth.ints["n_"+c.Name][s]
			if !(w >= 0 && w <= 1) {
				t.Fatalf("sensor %d: true_weight_%s %v", s, c.Name, w)
			}
			wTotal += w
			nTotal += cnt
			wSum[k] += w
			wSq[k] += w * w
			fn := float64(cnt)
			nSum[k] += fn
			m += fn * c.Mean
			v += fn * c.SD * c.SD
			// The count of component k is binomial(n, w_k).
			if w > 0 && w < 1 {
				stats["n_"+c.Name] = append(stats["n_"+c.Name], (fn-float64(n)*w)/math.Sqrt(float64(n)*w*(1-w)))
			}
		}
		if math.Abs(wTotal-1) > 1e-12 || nTotal != n {
			t.Fatalf("sensor %d: weights sum to %v, counts to %d of %d", s, wTotal, nTotal, n)
		}
		stats["sum"] = append(stats["sum"], (sum[s]-m)/math.Sqrt(v))
	}
	for name, z := range stats {
		var mean, meanSq, worst float64
		for _, x := range z {
			mean += x
			meanSq += x * x
			worst = max(worst, math.Abs(x))
		}
		mean /= float64(len(z))
		meanSq /= float64(len(z))
		t.Logf("%s: %d z-scores, mean %.3f, mean square %.3f, largest %.2f", name, len(z), mean, meanSq, worst)
		if len(z) < sensors*9/10 || math.Abs(mean) > 0.25 || math.Abs(meanSq-1) > 0.3 || worst > 5 {
			t.Errorf("%s: %d z-scores, mean %.3f, mean square %.3f, largest %.2f: not standard normal", name, len(z), mean, meanSq, worst)
		}
	}
	values := slices.Sorted(slices.Values(data.floats["value"]))
	total := float64(len(values))
	var ks float64
	for i, x := range values {
		var cdf float64
		for k, c := range comps {
			cdf += nSum[k] / total * 0.5 * math.Erfc(-(x-c.Mean)/(c.SD*math.Sqrt2))
		}
		ks = max(ks, math.Abs(cdf-float64(i)/total), math.Abs(cdf-float64(i+1)/total))
	}
	t.Logf("pooled values: Kolmogorov–Smirnov distance %.5f (critical %.5f)", ks, 1.95/math.Sqrt(total))
	if ks > 1.95/math.Sqrt(total) {
		t.Errorf("pooled values: Kolmogorov–Smirnov distance %.5f from the mixture, want below %.5f", ks, 1.95/math.Sqrt(total))
	}
	for k, c := range comps {
		mean := wSum[k] / sensors
		variance := wSq[k]/sensors - mean*mean
		// Beta(1, 2): sd √(1/18) = 0.236; the variance's standard error is
		// about 0.04/√400.
		if math.Abs(mean-1.0/3) > 4*0.236/math.Sqrt(sensors) || math.Abs(variance-1.0/18) > 4*0.04/math.Sqrt(sensors) {
			t.Errorf("true_weight_%s: mean %.4f, variance %.4f; want 1/3 and 1/18", c.Name, mean, variance)
		}
	}
}

// TestReadingStreamComponents checks the values of each component
// directly: over 200,000 readings of 2,000 sensors, a component's values
// standardised by its mean and sd must have mean 0 within 4 standard
// errors (4/√n), mean square 1 within 4 standard errors (4·√(2/n)) and a
// Kolmogorov–Smirnov distance from the standard normal below 1.95/√n (the
// 0.1% critical value). A 2% error in an sd fails the mean square.
func TestReadingStreamComponents(t *testing.T) {
	comps := ReadingComponents()
	r := newReadingStream(21, comps)
	z := make([][]float64, len(comps))
	for s := range int64(2000) {
		for i := range int64(100) {
			k, v := r.reading(s, i, true)
			z[k] = append(z[k], (v-comps[k].Mean)/comps[k].SD)
		}
	}
	for k, c := range comps {
		n := float64(len(z[k]))
		var mean, meanSq float64
		for _, x := range z[k] {
			mean += x
			meanSq += x * x
		}
		mean /= n
		meanSq /= n
		slices.Sort(z[k])
		var ks float64
		for i, x := range z[k] {
			cdf := 0.5 * math.Erfc(-x/math.Sqrt2)
			ks = max(ks, math.Abs(cdf-float64(i)/n), math.Abs(cdf-float64(i+1)/n))
		}
		t.Logf("%s: %d values, standardised mean %.4f, mean square %.4f, KS %.4f", c.Name, len(z[k]), mean, meanSq, ks)
		if n < 50000 || math.Abs(mean) > 4/math.Sqrt(n) || math.Abs(meanSq-1) > 4*math.Sqrt(2/n) || ks > 1.95/math.Sqrt(n) {
			t.Errorf("%s: %d values, standardised mean %.4f, mean square %.4f, KS %.4f: not N(%v, %v²)",
				c.Name, len(z[k]), mean, meanSq, ks, c.Mean, c.SD)
		}
	}
}

func BenchmarkGen(b *testing.B) {
	const bags, perBag = 20000, 100
	for _, tc := range []struct {
		name string
		gen  func(dir string) error
	}{
		{"marbles", func(dir string) error {
			return GenMarbles(context.Background(), dir, Marbles{Bags: bags, RowsPerBag: perBag, Files: 2})
		}},
		{"marbles/shuffle", func(dir string) error {
			return GenMarbles(context.Background(), dir, Marbles{Bags: bags, RowsPerBag: perBag, Files: 2, Shuffle: true})
		}},
		{"readings", func(dir string) error {
			return GenReadings(context.Background(), dir, Readings{Bags: bags, RowsPerBag: perBag, Files: 2})
		}},
		{"readings/shuffle", func(dir string) error {
			return GenReadings(context.Background(), dir, Readings{Bags: bags, RowsPerBag: perBag, Files: 2, Shuffle: true})
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if err := tc.gen(filepath.Join(b.TempDir(), fmt.Sprint(i))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*bags*perBag/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
