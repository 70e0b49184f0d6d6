package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Two-component models for the bad-input tests; every test reads columns
// bag and x (and n for counts).
const (
	bernoulliModel   = `{family: bernoulli, components: [{name: a, p: 0.8}, {name: b, p: 0.3}]}`
	categoricalModel = `{family: categorical, components: [{name: a, probs: {red: 0.5, blue: 0.5, green: 0}}, {name: b, probs: {red: 0.2, blue: 0.8, green: 0}}]}`
	gaussianModel    = `{family: gaussian, components: [{name: a, mean: 0, sd: 1}, {name: b, mean: 5, sd: 1}]}`
	poissonModel     = `{family: poisson, components: [{name: a, rate: 1}, {name: b, rate: 10}]}`
)

// job is a run from a fresh input folder to an output folder that does not
// exist yet and whose parent holds nothing else, so that a staging folder
// left behind is easy to see.
type job struct {
	in  string
	out string
}

func newJob(t *testing.T) job {
	return job{in: filepath.Join(t.TempDir(), "in"), out: filepath.Join(t.TempDir(), "out")}
}

// file returns the path of a file in the input folder.
func (j job) file(name string) string { return filepath.Join(j.in, name) }

// config returns a validated config that reads j.in with model and writes
// j.out with posteriors, after applying edits.
func (j job) config(t *testing.T, model string, edits ...func(*Config)) *Config {
	t.Helper()
	cfg := mustLoad(t, fmt.Sprintf(`
input:
  paths: [%q]
  bag: bag
  value: x
model: %s
output:
  dir: %q
  posteriors: true
`, j.in, model, j.out))
	for _, edit := range edits {
		edit(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config after edits: %v", err)
	}
	return cfg
}

func withCount(c *Config) { c.Input.Count = "n" }

func withPaths(paths ...string) func(*Config) {
	return func(c *Config) { c.Input.Paths = paths }
}

// runBad runs cfg, which must fail, checks that the run wrote nothing and
// returns its error.
func runBad(t *testing.T, cfg *Config) error {
	t.Helper()
	sum, err := Run(t.Context(), cfg, Options{})
	if err == nil {
		t.Fatalf("Run succeeded (%+v), want an error", sum)
	}
	t.Log(err)
	if _, serr := os.Lstat(cfg.Output.Dir); !errors.Is(serr, fs.ErrNotExist) {
		t.Errorf("output.dir %s after a failed run: stat error %v, want it not to exist", cfg.Output.Dir, serr)
	}
	noStaging(t, filepath.Dir(cfg.Output.Dir))
	return err
}

// noStaging fails the test if dir holds a staging folder.
func noStaging(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".mixbatch-tmp-") {
			t.Errorf("staging folder %s left in %s", e.Name(), dir)
		}
	}
}

// wantText fails the test unless the error text holds every part.
func wantText(t *testing.T, err error, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

// wantInputError checks that err is an *InputError with these fields (file
// by base name) and that its text names each of them.
func wantInputError(t *testing.T, err error, file, column string, row int64, bag, value, reason string) {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %q (%T) is not an *InputError", err, err)
	}
	if filepath.Base(ie.File) != file || ie.Column != column || ie.Row != row || ie.Bag != bag || ie.Value != value {
		t.Errorf("InputError{File: %q, Column: %q, Row: %d, Bag: %q, Value: %q}, want {File: .../%s, Column: %q, Row: %d, Bag: %q, Value: %q}",
			ie.File, ie.Column, ie.Row, ie.Bag, ie.Value, file, column, row, bag, value)
	}
	parts := []string{file, fmt.Sprintf("column %q", column), reason}
	if row >= 0 {
		parts = append(parts, fmt.Sprintf("row %d", row))
	}
	if bag != "" {
		parts = append(parts, "bag "+bag)
	}
	if value != "" {
		parts = append(parts, "value "+value)
	}
	wantText(t, err, parts...)
}

func TestBadInputMissingPath(t *testing.T) {
	j := newJob(t)
	err := runBad(t, j.config(t, bernoulliModel, withPaths(j.file("nope.parquet"))))
	wantText(t, err, "nope.parquet", "no such file")
}

func TestBadInputEmptyFolder(t *testing.T) {
	j := newJob(t)
	if err := os.MkdirAll(j.in, 0o755); err != nil {
		t.Fatal(err)
	}
	// Files mixbatch does not read do not count.
	if err := os.WriteFile(j.file("notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(j.file("_SUCCESS"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := runBad(t, j.config(t, bernoulliModel))
	wantText(t, err, j.in, "no data files")
}

func TestBadInputGlobMatchesNothing(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("x", []bool{true}))
	pattern := filepath.Join(j.in, "*.arrow")
	err := runBad(t, j.config(t, bernoulliModel, withPaths(pattern)))
	wantText(t, err, pattern, "matched nothing")
}

func TestBadInputCSVNamedParquet(t *testing.T) {
	j := newJob(t)
	if err := os.MkdirAll(j.in, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(j.file("x.parquet"), []byte("bag,x\n1,1\n2,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := runBad(t, j.config(t, bernoulliModel))
	wantText(t, err, "x.parquet", "not a Parquet file")
}

func TestBadInputTruncatedParquet(t *testing.T) {
	j := newJob(t)
	path := j.file("cut.parquet")
	writeParquet(t, path, column("bag", []int64{1, 1, 2, 2}), column("x", []bool{true, false, true, true}))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	err = runBad(t, j.config(t, bernoulliModel))
	wantText(t, err, "cut.parquet")
}

func TestBadInputMissingBagColumn(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("id", []int64{1}), column("x", []bool{true}))
	err := runBad(t, j.config(t, bernoulliModel))
	wantInputError(t, err, "a.parquet", "bag", -1, "", "", "no such column (the file has: id, x)")
}

func TestBadInputMissingValueColumn(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("red", []bool{true}))
	err := runBad(t, j.config(t, bernoulliModel))
	wantInputError(t, err, "a.parquet", "x", -1, "", "", "no such column (the file has: bag, red)")
}

func TestBadInputMissingCountColumn(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("x", []bool{true}))
	err := runBad(t, j.config(t, bernoulliModel, withCount))
	wantInputError(t, err, "a.parquet", "n", -1, "", "", "no such column")
}

func TestBadInputMissingKeepColumn(t *testing.T) {
	j := newJob(t)
	// The column is in the first file but not in the second.
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("x", []bool{true}), column("id", []int64{7}))
	writeParquet(t, j.file("b.parquet"), column("bag", []int64{2}), column("x", []bool{true}))
	err := runBad(t, j.config(t, bernoulliModel, func(c *Config) { c.Input.Keep = []string{"id"} }))
	wantInputError(t, err, "b.parquet", "id", -1, "", "", "no such column")
}

func TestBadInputStringValuesGaussian(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("x", []string{"1.5"}))
	err := runBad(t, j.config(t, gaussianModel))
	wantInputError(t, err, "a.parquet", "x", -1, "", "", "cannot hold gaussian values")
}

// TestBadInputInvalidUTF8Key: a string bag key that is not valid UTF-8
// fails the run naming its file, column and row (in the fast path and
// the row-by-row one, which a null value sends the batch to), rather
// than going into output tables that SQL engines refuse to read.
func TestBadInputInvalidUTF8Key(t *testing.T) {
	for _, nullValue := range []bool{false, true} {
		j := newJob(t)
		keys := []string{"shop-1", "shop-1", "shop-\xff\xfe", "shop-2"}
		if nullValue {
			writeParquet(t, j.file("a.parquet"), column("bag", keys), column("x", []any{int64(1), nil, int64(0), int64(1)}))
		} else {
			writeParquet(t, j.file("a.parquet"), column("bag", keys), column("x", []int64{1, 1, 0, 1}))
		}
		cfg := j.config(t, bernoulliModel, func(c *Config) { c.Input.Nulls = NullsDrop })
		err := runBad(t, cfg)
		wantInputError(t, err, "a.parquet", "bag", 2, `"shop-\xff\xfe"`, "", "the bag key is not valid UTF-8 text")
	}
}

// TestBadInputCountsOverflow: finite counts whose sum is not (1e308
// twice) fail the bag naming the count column, the bag and its file,
// for a family whose counts are summed per distinct value (bernoulli, where
// em saw a count of +Inf that the input does not have) and one whose
// counts em sums (gaussian).
func TestBadInputCountsOverflow(t *testing.T) {
	for _, c := range []struct {
		model string
		x     any
	}{{bernoulliModel, []int64{1, 1, 0}}, {gaussianModel, []float64{0.5, 0.5, 1}}} {
		j := newJob(t)
		writeParquet(t, j.file("a.parquet"), column("bag", []int64{7, 7, 8}), column("x", c.x), column("n", []float64{1e308, 1e308, 1}))
		err := runBad(t, j.config(t, c.model, withCount))
		wantInputError(t, err, "a.parquet", "n", -1, "7", "", "the bag's counts sum to more than the largest float64")
	}
}

// TestBadInputCountsOverflowInFit: counts whose sum is below the largest
// float64 but whose fit overflows it (em.ErrOverflow: the gradient at the
// uniform start is 1.7e308 · 0.8 / 0.55 for the red marble) are refused
// like counts whose sum overflows, naming the count column, the file and
// the bag.
func TestBadInputCountsOverflowInFit(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{7, 7, 8}), column("x", []int64{1, 0, 1}), column("n", []float64{1.7e308, 1, 1}))
	err := runBad(t, j.config(t, bernoulliModel, withCount))
	wantInputError(t, err, "a.parquet", "n", -1, "7", "", "the bag's counts are too large to fit")
}

// TestBadInputLearnedOverflow: a learned fit whose sums overflow (the
// values' squares beyond the largest float64, or counts near it) is
// refused as such, naming the file, the bag and the column to look at:
// the value column when there is no count column, else the count column,
// saying that the counts or the values are too large. Before, em took the
// overflow for a row without density and the run said "zero density".
func TestBadInputLearnedOverflow(t *testing.T) {
	const learned = `{family: gaussian, learn: [weights, mean, sd], components: [{name: a}, {name: b}]}`
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{3, 3, 3, 3, 4, 4}), column("x", []float64{1e200, 2e200, 5e200, 6e200, 1, 2}))
	err := runBad(t, j.config(t, learned))
	wantInputError(t, err, "a.parquet", "x", -1, "3", "", "the bag's values are too large to fit")

	j = newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{3, 3, 3, 3, 4, 4}), column("x", []float64{0, 1, 5, 6, 1, 2}),
		column("n", []float64{6e307, 2e307, 6e307 / 7, 3e307, 1, 1}))
	err = runBad(t, j.config(t, learned, withCount))
	wantInputError(t, err, "a.parquet", "n", -1, "3", "", "the bag's counts or values are too large to fit")
}

// TestBadInputTinyInitWeight: without a count column, only em.init's
// weights can make a fixed-component fit overflow: a green marble that
// only component a, of starting weight 5e-324, can draw has gradient
// f_a/p = 1/5e-324, beyond the largest float64. The error names em.init
// and the value column, not a count column the input does not have
// (before, it said the counts were too large, naming no column).
func TestBadInputTinyInitWeight(t *testing.T) {
	const model = `{family: categorical, components: [{name: a, probs: {red: 0, blue: 0, green: 1}}, {name: b, probs: {red: 0.2, blue: 0.8, green: 0}}]}`
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{3, 3, 3}), column("x", []string{"green", "red", "blue"}))
	err := runBad(t, j.config(t, model, func(c *Config) { c.EM.Init.Weights = []float64{5e-324, 1} }))
	wantInputError(t, err, "a.parquet", "x", -1, "3", "", "at em.init's weights; raise the smallest")
}

// TestBadInputSubnormalCount: a count below the smallest normal float64
// (it made a bag converge to wrong weights) is refused naming its file,
// column, row and bag; 0 and the smallest normal count are accepted.
func TestBadInputSubnormalCount(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 1, 2}), column("x", []int64{1, 0, 1}), column("n", []float64{0x1p-1022, 0, 5e-324}))
	err := runBad(t, j.config(t, bernoulliModel, withCount))
	wantInputError(t, err, "a.parquet", "n", 2, "2", "5e-324", "a count must be 0 or at least 2.2e-308")
}

func TestBadInputFloatValuesPoisson(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("x", []float64{3}))
	err := runBad(t, j.config(t, poissonModel))
	wantInputError(t, err, "a.parquet", "x", -1, "", "", "cannot hold poisson values")
}

func TestBadInputFloatValuesBernoulli(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("x", []float64{1}))
	err := runBad(t, j.config(t, bernoulliModel))
	wantInputError(t, err, "a.parquet", "x", -1, "", "", "cannot hold bernoulli values")
}

func TestBadInputFloatBagColumn(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []float64{1}), column("x", []bool{true}))
	err := runBad(t, j.config(t, bernoulliModel))
	wantInputError(t, err, "a.parquet", "bag", -1, "", "", "a bag column must be an integer, string, date or timestamp type")
}

// TestBadInputDecimalColumns: DuckDB writes literals such as 1.0 as
// DECIMAL, which neither a count nor a gaussian value takes; the message
// said a DECIMAL count "must be numeric", and now says what to cast it to.
func TestBadInputDecimalColumns(t *testing.T) {
	dec := func(name string) col {
		b := array.NewDecimal128Builder(memory.NewGoAllocator(), &arrow.Decimal128Type{Precision: 2, Scale: 1})
		b.Append(decimal128.FromI64(10))
		return col{name, b.NewArray()}
	}
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("x", []bool{true}), dec("n"))
	err := runBad(t, j.config(t, bernoulliModel, withCount))
	wantInputError(t, err, "a.parquet", "n", -1, "", "", "a count column must be of an integer or floating-point type, not decimal(2, 1) (cast it to DOUBLE")
	j = newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), dec("x"))
	err = runBad(t, j.config(t, gaussianModel))
	wantInputError(t, err, "a.parquet", "x", -1, "", "", "cannot hold gaussian values: the family needs floating-point or integer (cast it to DOUBLE")
}

func TestBadInputStringCountColumn(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("x", []bool{true}), column("n", []string{"3"}))
	err := runBad(t, j.config(t, bernoulliModel, withCount))
	wantInputError(t, err, "a.parquet", "n", -1, "", "", "a count column must be of an integer or floating-point type")
}

func TestBadInputBernoulliTwo(t *testing.T) {
	j := newJob(t)
	path := j.file("red.parquet")
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2}), column("x", []int64{0, 1}))
	bags := make([]int64, 20)
	vals := make([]int64, 20)
	for i := range bags {
		bags[i] = int64(i % 4)
		vals[i] = int64(i % 2)
	}
	bags[17], vals[17] = 3, 2
	writeParquet(t, path, column("bag", bags), column("x", vals))
	err := runBad(t, j.config(t, bernoulliModel))
	wantInputError(t, err, "red.parquet", "x", 17, "3", "2", "a bernoulli value must be 0 or 1 (or a bool)")
	if want := path + `: column "x", row 17, bag 3: value 2: a bernoulli value must be 0 or 1 (or a bool)`; err.Error() != want {
		t.Errorf("error\n  %s\nwant\n  %s", err, want)
	}
}

// TestBadInputRowInLaterRowGroup checks that the row number counts from the
// start of the file, not of the row group or batch, and that a dictionary
// bag key is shown as the string it stands for.
func TestBadInputRowInLaterRowGroup(t *testing.T) {
	j := newJob(t)
	const n = 2500 // writeParquet makes row groups of 1000 rows
	bags := make([]string, n)
	vals := make([]int64, n)
	for i := range bags {
		bags[i] = fmt.Sprintf("k%d", i%7)
		vals[i] = int64(i % 2)
	}
	vals[2345] = -1 // 2345 % 7 == 0
	writeParquet(t, j.file("a.parquet"), dictColumn("bag", bags), column("x", vals))
	err := runBad(t, j.config(t, bernoulliModel))
	wantInputError(t, err, "a.parquet", "x", 2345, `"k0"`, "-1", "a bernoulli value must be 0 or 1")
}

func TestBadInputUnknownLabel(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []string{"s1", "s1", "s2"}), column("x", []string{"red", "blue", "purple"}))
	err := runBad(t, j.config(t, categoricalModel))
	wantInputError(t, err, "a.parquet", "x", 2, `"s2"`, `"purple"`, "the label is not among any component's probs (known: blue, green, red)")
}

func TestBadInputLabelWithProbabilityZero(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{5, 5, 6}), column("x", []string{"red", "green", "blue"}))
	err := runBad(t, j.config(t, categoricalModel))
	wantInputError(t, err, "a.parquet", "x", 1, "5", `"green"`, "probability 0 under every component")
}

func TestBadInputBernoulliValueWithProbabilityZero(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{5, 5, 6}), column("x", []bool{true, true, false}))
	model := `{family: bernoulli, components: [{name: a, p: 1}, {name: b, p: 1}]}`
	err := runBad(t, j.config(t, model))
	wantInputError(t, err, "a.parquet", "x", 2, "6", "false", "probability 0 under every component")
}

func TestBadInputGaussianNaN(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 7, 7}), column("x", []float64{1, 0, math.NaN()}))
	err := runBad(t, j.config(t, gaussianModel))
	wantInputError(t, err, "a.parquet", "x", 2, "7", "NaN", "a gaussian value must be finite")
}

func TestBadInputGaussianInf(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 7, 7}), column("x", []float64{1, math.Inf(1), 0}))
	err := runBad(t, j.config(t, gaussianModel))
	wantInputError(t, err, "a.parquet", "x", 1, "7", "+Inf", "a gaussian value must be finite")
}

func TestBadInputGaussianNegativeInfFloat32(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 7}), column("x", []float32{1, float32(math.Inf(-1))}))
	err := runBad(t, j.config(t, gaussianModel))
	wantInputError(t, err, "a.parquet", "x", 1, "7", "-Inf", "a gaussian value must be finite")
}

func TestBadInputPoissonNegative(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2}), column("x", []int32{3, -4}))
	err := runBad(t, j.config(t, poissonModel))
	wantInputError(t, err, "a.parquet", "x", 1, "2", "-4", "a poisson value must be a non-negative integer")
}

func TestBadInputNullBag(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []any{int64(1), nil, int64(2)}), column("x", []bool{true, false, true}))
	err := runBad(t, j.config(t, bernoulliModel))
	wantInputError(t, err, "a.parquet", "bag", 1, "", "", "the bag key is null")
}

func TestBadInputNullValue(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2, 2}), column("x", []any{1.5, 2.5, nil}))
	err := runBad(t, j.config(t, gaussianModel))
	wantInputError(t, err, "a.parquet", "x", 2, "2", "null", "the value is null")
}

func TestBadInputNullCount(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2}), column("x", []bool{true, false}), column("n", []any{3.0, nil}))
	err := runBad(t, j.config(t, bernoulliModel, withCount))
	wantInputError(t, err, "a.parquet", "n", 1, "2", "null", "the count is null")
}

func TestBadInputNegativeCount(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2}), column("x", []bool{true, false}), column("n", []int64{3, -2}))
	err := runBad(t, j.config(t, bernoulliModel, withCount))
	wantInputError(t, err, "a.parquet", "n", 1, "2", "-2", "a count must be a finite non-negative number")
}

func TestBadInputNaNCount(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{4, 2}), column("x", []float64{0.5, 1}), column("n", []float64{math.NaN(), 1}))
	err := runBad(t, j.config(t, gaussianModel, withCount))
	wantInputError(t, err, "a.parquet", "n", 0, "4", "NaN", "a count must be a finite non-negative number")
}

func TestBadInputSchemasDisagree(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2}), column("x", []bool{true, false}))
	writeParquet(t, j.file("b.parquet"), column("bag", []string{"1", "2"}), column("x", []bool{true, false}))
	err := runBad(t, j.config(t, bernoulliModel))
	wantInputError(t, err, "b.parquet", "bag", -1, "", "", "type utf8 does not match type int64")
	wantText(t, err, "a.parquet")
}

func TestBadInputAllZeroCounts(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 7, 7, 9}), column("x", []bool{true, true, false, true}), column("n", []int64{2, 0, 0, 1}))
	err := runBad(t, j.config(t, bernoulliModel, withCount))
	var ie *InputError
	if !errors.As(err, &ie) || ie.Bag != "7" || ie.Column != "n" {
		t.Errorf("error %q (%T) is not an *InputError for bag 7, column n", err, err)
	}
	wantText(t, err, "bag 7", "sum to zero")
}

// TestBadInputAllZeroCountsNamesColumn asks the all-zero error to say which
// column the counts came from, like every other bad-input error.
func TestBadInputAllZeroCountsNamesColumn(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 7, 7}), column("x", []bool{true, true, false}), column("n", []int64{2, 0, 0}))
	err := runBad(t, j.config(t, bernoulliModel, withCount))
	wantText(t, err, `"n"`, "a.parquet", "bag 7")
}

// snapshot returns every file under dir by slash path.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sameFiles(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	for name, b := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s is gone", name)
		case !bytes.Equal(g, b):
			t.Errorf("%s changed", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s appeared", name)
		}
	}
}

func TestFailedRunKeepsOutput(t *testing.T) {
	good := newJob(t)
	writeParquet(t, good.file("a.parquet"), column("bag", []int64{1, 1, 2, 2}), column("x", []bool{true, false, true, true}), column("n", []int64{1, 2, 3, 4}))
	overwrite := func(c *Config) { c.Output.Overwrite = true }
	mustRun(t, good.config(t, bernoulliModel, withCount, overwrite), Options{})
	before := snapshot(t, good.out)
	if _, ok := before[SuccessFile]; !ok {
		t.Fatalf("the first run wrote %d files and no %s", len(before), SuccessFile)
	}

	for _, tc := range []struct {
		name string
		cols []col
	}{
		{"read", []col{column("bag", []int64{1, 2}), column("x", []int64{1, 2}), column("n", []int64{1, 1})}},
		{"fit", []col{column("bag", []int64{1, 2}), column("x", []int64{1, 0}), column("n", []int64{1, 0})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := newJob(t)
			bad.out = good.out
			writeParquet(t, bad.file("bad.parquet"), tc.cols...)
			cfg := bad.config(t, bernoulliModel, withCount, overwrite)
			if _, err := Run(t.Context(), cfg, Options{}); err == nil {
				t.Fatal("Run succeeded on bad input")
			}
			sameFiles(t, snapshot(t, good.out), before)
			noStaging(t, filepath.Dir(good.out))
		})
	}
}

func TestExistingOutputNoOverwrite(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2}), column("x", []bool{true, false}))
	if err := os.MkdirAll(filepath.Join(j.out, "weights"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(j.out, "weights", "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, j.out)
	cfg := j.config(t, bernoulliModel)

	var progress []string
	_, err := Run(t.Context(), cfg, Options{Progress: func(stage string, _, _ int64) { progress = append(progress, stage) }})
	if err == nil {
		t.Fatal("Run succeeded into an existing output.dir without overwrite")
	}
	wantText(t, err, j.out, "already exists", "overwrite")
	if progress != nil {
		t.Errorf("the run did work before failing: progress %v", progress)
	}
	sameFiles(t, snapshot(t, j.out), before)
	noStaging(t, filepath.Dir(j.out))

	// The error comes before the inputs are even listed.
	cfg.Input.Paths = []string{j.file("nope.parquet")}
	_, err = Run(t.Context(), cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Run with a missing input and an existing output.dir: error %v, want the output.dir one", err)
	}
	_, err = Check(t.Context(), cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Check with an existing output.dir: error %v, want the output.dir one", err)
	}
	sameFiles(t, snapshot(t, j.out), before)
}

func TestEmptyTable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cols  []col
		edits []func(*Config)
	}{
		{"int bags", []col{column("bag", []int64{}), column("x", []bool{})}, nil},
		{"string bags with counts", []col{column("bag", []string{}), column("x", []bool{}), column("n", []float64{})}, []func(*Config){withCount}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newJob(t)
			writeParquet(t, j.file("empty.parquet"), tc.cols...)
			sum := mustRun(t, j.config(t, bernoulliModel, tc.edits...), Options{})
			if sum.Files != 1 || sum.Rows != 0 || sum.Bags != 0 {
				t.Errorf("summary %+v, want 1 file, 0 rows, 0 bags", sum)
			}
			for _, f := range []string{
				SuccessFile, ManifestFile,
				filepath.Join(WeightsTable, partName(0)),
				filepath.Join(FitsTable, partName(0)),
				filepath.Join(PosteriorsTable, partName(0)),
			} {
				if _, err := os.Stat(filepath.Join(j.out, f)); err != nil {
					t.Errorf("empty input: %v", err)
				}
			}
			for _, name := range []string{WeightsTable, FitsTable, PosteriorsTable} {
				tab := readTable(t, j.out, name)
				if tab.len() != 0 {
					t.Errorf("%s has %d rows, want 0", name, tab.len())
				}
				if len(tab.names) == 0 || tab.names[0] != "bag" {
					t.Errorf("%s columns %v, want the bag column first", name, tab.names)
				}
			}
			noStaging(t, filepath.Dir(j.out))
		})
	}
}
