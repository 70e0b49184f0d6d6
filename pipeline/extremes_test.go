package pipeline

import (
	"bytes"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestOneHugeBag fits a single bag of 3M rows: it must give the textbook
// closed form for two fixed Bernoulli components (the maximum of
// r·log(w·0.8+(1-w)·0.3) + (n-r)·log(w·0.2+(1-w)·0.7) is at the w that
// makes w·0.8+(1-w)·0.3 equal the red share r/n, when inside [0, 1]).
func TestOneHugeBag(t *testing.T) {
	if testing.Short() {
		t.Skip("3M rows")
	}
	j := newJob(t)
	const n = 3_000_000
	bag := make([]int64, n)
	x := make([]int64, n)
	reds := 0
	for i := range x {
		bag[i] = 42
		if i%5 < 3 { // 60% red
			x[i] = 1
			reds++
		}
	}
	writeParquet(t, j.file("a.parquet"), column("bag", bag), column("x", x))
	cfg := j.config(t, bernoulliModel, func(c *Config) { c.Output.Posteriors = false })
	sum := mustRun(t, cfg, Options{})
	if sum.Bags != 1 || sum.BagsOK != 1 {
		t.Fatalf("summary %+v", sum)
	}
	w := readTable(t, j.out, WeightsTable).cols["weight"][0].(float64)
	want := (float64(reds)/n - 0.3) / 0.5 // closed form, exact 0.6
	if math.Abs(w-want) > 1e-9 {
		t.Errorf("weight %v, want %v", w, want)
	}
}

// TestMillionTinyBags: a million one-row bags, each fitted and listed once.
// A one-row Bernoulli bag's maximum is at a vertex (all weight on the
// component most likely to give its value).
func TestMillionTinyBags(t *testing.T) {
	if testing.Short() {
		t.Skip("a million bags")
	}
	j := newJob(t)
	const n = 1_000_000
	bag := make([]int64, n)
	x := make([]int64, n)
	for i := range bag {
		bag[i] = int64(n - i) // descending, so grouping must sort
		x[i] = int64(i % 2)
	}
	writeParquet(t, j.file("a.parquet"), column("bag", bag), column("x", x))
	cfg := j.config(t, bernoulliModel, func(c *Config) { c.Output.Posteriors = false })
	sum := mustRun(t, cfg, Options{})
	if sum.Bags != n || sum.BagsOK != n || sum.BagsNotConverged != 0 {
		t.Fatalf("summary %+v, want %d bags ok and converged", sum, n)
	}
	fits := readTable(t, j.out, FitsTable)
	if fits.len() != n {
		t.Fatalf("fits has %d rows, want %d", fits.len(), n)
	}
	weights := readTable(t, j.out, WeightsTable)
	if weights.len() != 2*n { // else the loop below may check nothing
		t.Fatalf("weights has %d rows, want 2 per bag (%d)", weights.len(), 2*n)
	}
	for i := 0; i < weights.len(); i += 2 {
		key := weights.cols["bag"][i].(int64)
		red := (n-key)%2 == 1 // the row of bag key is row n-key
		wa := weights.cols["weight"][i].(float64)
		if want := map[bool]float64{true: 1, false: 0}[red]; math.Abs(wa-want) > 1e-8 || key != int64(i/2+1) {
			t.Fatalf("bag %d (row %d): weight of a = %v, want %v", key, i/2, wa, want)
		}
	}
}

// TestLongStringKeys: 100 kB bag keys go through grouping and every output
// table unchanged.
func TestLongStringKeys(t *testing.T) {
	j := newJob(t)
	k1, k2 := strings.Repeat("a", 100_000)+"1", strings.Repeat("a", 100_000)+"2"
	writeParquet(t, j.file("a.parquet"), column("bag", []string{k2, k1, k2}), column("x", []int64{1, 0, 0}))
	mustRun(t, j.config(t, bernoulliModel), Options{})
	for tab, want := range map[string][]any{
		WeightsTable:    {k1, k1, k2, k2},
		FitsTable:       {k1, k2},
		PosteriorsTable: {k2, k1, k2}, // input order
	} {
		got := readTable(t, j.out, tab).cols["bag"]
		if !slices.Equal(got, want) {
			t.Errorf("%s: bag keys do not round-trip", tab)
		}
	}
}

// TestExtremeFloats: subnormal and huge values where the components give
// them a density fit like any other; a value too far out for float64 under
// every component is named at its row.
func TestExtremeFloats(t *testing.T) {
	j := newJob(t)
	// Components at 0 and at 1e300 with sd 1e299: 5e-324 and 1e-310
	// (subnormals) belong to a, 1e300 and 9e299 to b.
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 1, 1, 1}),
		column("x", []float64{5e-324, 1e-310, 1e300, 9e299}))
	model := `{family: gaussian, components: [{name: a, mean: 0, sd: 1}, {name: b, mean: 1e300, sd: 1e299}]}`
	mustRun(t, j.config(t, model), Options{})
	w := readTable(t, j.out, WeightsTable).cols["weight"]
	if math.Abs(w[0].(float64)-0.5) > 1e-12 || math.Abs(w[1].(float64)-0.5) > 1e-12 {
		t.Errorf("weights %v, want 0.5 and 0.5 (two values clearly from each)", w)
	}

	j = newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 1}), column("x", []float64{0.5, -1e300}))
	err := runBad(t, j.config(t, gaussianModel))
	wantInputError(t, err, "a.parquet", "x", 1, "1", "-1e+300", "zero density under every component")
}

// TestBadInputCorruptPage flips bytes inside the column data of a valid
// file: the run fails naming the file (or, where the damage still decodes
// as valid values, the bad value), never with a crash.
func TestBadInputCorruptPage(t *testing.T) {
	j := newJob(t)
	path := j.file("bad.parquet")
	n := 5000
	bag, x := make([]int64, n), make([]float64, n)
	for i := range bag {
		bag[i], x[i] = int64(i%7), float64(i)/float64(n)
	}
	writeParquet(t, path, column("bag", bag), column("x", x))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Overwrite a stretch in the middle of the data (the footer is at
	// the end and the magic at both ends stay valid).
	mid := len(b) / 3
	copy(b[mid:], bytes.Repeat([]byte{0xff}, 64))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	err = runBad(t, j.config(t, gaussianModel))
	wantText(t, err, "bad.parquet")
}
