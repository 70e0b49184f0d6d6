package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Regression tests for defects found in review.

// dictFloat builds a dictionary<int32, float64> column.
func dictFloat(name string, vals []float64) col {
	b := array.NewDictionaryBuilder(memory.NewGoAllocator(), &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.PrimitiveTypes.Float64}).(*array.Float64DictionaryBuilder)
	for _, v := range vals {
		if err := b.Append(v); err != nil {
			panic(err)
		}
	}
	return col{name, b.NewArray()}
}

// TestDictionaryFloatColumns: dictionary-encoded floats as a keep column in
// two files, and as the Gaussian value column of an Arrow IPC file, used to
// crash the process from a worker goroutine. They now run, and give what
// the same plain columns give.
func TestDictionaryFloatColumns(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2}), column("x", []bool{true, false}), dictFloat("k", []float64{1.5, 2.5}))
	writeParquet(t, j.file("b.parquet"), column("bag", []int64{1, 2}), column("x", []bool{true, false}), dictFloat("k", []float64{3.5, 2.5}))
	mustRun(t, j.config(t, bernoulliModel, func(c *Config) { c.Input.Keep = []string{"k"} }), Options{})
	p := readTable(t, j.out, PosteriorsTable)
	if got := p.cols["k"]; fmt.Sprint(got) != "[1.5 2.5 3.5 2.5]" {
		t.Errorf("keep column read back as %v (%s)", got, p.types["k"])
	}

	vals := []float64{0.5, 1.5, 0.5, 4.5, 5.5}
	bags := []int64{1, 1, 2, 2, 2}
	dict, plain := newJob(t), newJob(t)
	if err := os.MkdirAll(dict.in, 0o755); err != nil {
		t.Fatal(err)
	}
	writeIPC(t, dict.file("a.arrow"), column("bag", bags), dictFloat("x", vals))
	writeParquet(t, plain.file("a.parquet"), column("bag", bags), column("x", vals))
	mustRun(t, dict.config(t, gaussianModel), Options{})
	mustRun(t, plain.config(t, gaussianModel), Options{})
	for _, tb := range []string{WeightsTable, PosteriorsTable} {
		a, b := readTable(t, dict.out, tb), readTable(t, plain.out, tb)
		if fmt.Sprint(a.cols["weight"]) != fmt.Sprint(b.cols["weight"]) || fmt.Sprint(a.cols["posterior_a"]) != fmt.Sprint(b.cols["posterior_a"]) || a.len() == 0 {
			t.Errorf("%s: dictionary input gives %v, plain %v", tb, a.cols, b.cols)
		}
	}
}

// TestHugeGaussianValueNamesRow: a value whose density underflows under
// every component was reported with only its bag; it is now an InputError
// with file, column and row.
func TestHugeGaussianValueNamesRow(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 1, 2}), column("x", []float64{0.5, 1e200, 3}))
	err := runBad(t, j.config(t, gaussianModel))
	var ie *InputError
	if !errors.As(err, &ie) || ie.Row != 1 || ie.Column != "x" || !strings.HasSuffix(ie.File, "a.parquet") {
		t.Fatalf("error %v (%T), want an InputError for a.parquet, column x, row 1", err, err)
	}
}

// TestFileChangedBetweenPasses: the posteriors pass reads the inputs again;
// a file rewritten in between (same row count, other bags) used to get
// another bag's posteriors silently. Now the run fails and names it.
func TestFileChangedBetweenPasses(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 1, 2, 2}), column("x", []bool{true, false, true, true}))
	var once atomic.Bool
	_, err := Run(context.Background(), j.config(t, bernoulliModel), Options{Workers: 1, Progress: func(stage string, _, _ int64) {
		if stage == "fit" && !once.Swap(true) {
			if err := os.Remove(j.file("a.parquet")); err != nil {
				t.Error(err)
			}
			writeParquet(t, j.file("a.parquet"), column("bag", []int64{7, 7, 7, 7, 7}), column("x", []bool{false, false, false, false, true}))
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "changed during the run") || !strings.Contains(err.Error(), "a.parquet") {
		t.Fatalf("error %v, want the changed file named", err)
	}
	if _, serr := os.Stat(j.out); !os.IsNotExist(serr) {
		t.Fatal("a failed run left output behind")
	}
}

// TestOutputDirRefused: the working directory (".", "x/..") and symbolic
// links are refused before any work; they used to fail only at publishing,
// or replace the link with a folder.
func TestOutputDirRefused(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("x", []bool{true}))
	t.Chdir(t.TempDir())
	for _, dir := range []string{".", "./", "x/.."} {
		cfg := j.config(t, bernoulliModel)
		cfg.Output.Dir = dir
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "working directory") {
			t.Errorf("output.dir %q: %v, want a refusal", dir, err)
		}
	}
	real := filepath.Join(t.TempDir(), "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	cfg := j.config(t, bernoulliModel, func(c *Config) { c.Output.Dir = link; c.Output.Overwrite = true })
	if _, err := Run(context.Background(), cfg, Options{}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("symlinked output.dir: %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the link was replaced")
	}
}

// TestSummaryAfterFailure: Run returns how far a failed run got.
func TestSummaryAfterFailure(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2}), column("x", []int64{1, 2}))
	sum, err := Run(context.Background(), j.config(t, bernoulliModel), Options{})
	if err == nil || sum == nil || sum.Files != 1 || sum.Rows != 2 || sum.Elapsed <= 0 || sum.BagsOK != 0 {
		t.Fatalf("summary %+v, error %v", sum, err)
	}
}

// TestCategoricalIntegerLabels: an integer value column matches labels
// written as decimal integers; a label that can never match is refused.
func TestCategoricalIntegerLabels(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 1, 1}), column("x", []int64{7, 7, 12}))
	good := `{family: categorical, components: [{name: a, probs: {"7": 0.9, "12": 0.1}}, {name: b, probs: {"7": 0.2, "12": 0.8}}]}`
	mustRun(t, j.config(t, good), Options{})
	w := weightsByBag(readTable(t, j.out, WeightsTable), "bag")
	// Closed form for two labels: w_a = clip((mean7 - pb7)/(pa7 - pb7), 0, 1)
	// with mean7 = 2/3, pa7 = 0.9, pb7 = 0.2: (2/3 - 0.2)/0.7 = 2/3.
	if got := w["1"]["a"]; math.Abs(got-2.0/3) > 1e-8 {
		t.Errorf("w_a = %v, want 2/3", got)
	}
	bad := newJob(t)
	writeParquet(t, bad.file("a.parquet"), column("bag", []int64{1}), column("x", []int64{7}))
	err := runBad(t, bad.config(t, `{family: categorical, components: [{name: a, probs: {"07": 1}}]}`))
	wantText(t, err, `"07" can never match`, "a.parquet", `column "x"`)
}
