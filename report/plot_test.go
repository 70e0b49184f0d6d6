package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/pipeline"
)

// TestPlotPNG draws a PNG of a bag of every family at a requested size
// and checks that it decodes at that size with a fair share of ink.
func TestPlotPNG(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.family, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bag.png")
			if err := PlotFile(t.Context(), ex.dir, ex.bag, path, PlotOptions{Width: 640, Height: 400}); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w, h, ink := decodePNG(t, f)
			if w != 640 || h != 400 {
				t.Errorf("size %dx%d, want 640x400", w, h)
			}
			// Bars, curves, axes and text: a good share of the pixels,
			// but not a filled rectangle.
			if ink < 0.05 || ink > 0.8 {
				t.Errorf("%.1f%% of the pixels are not white", 100*ink)
			}
		})
	}
}

// TestPlotSVGLabels checks the text of an SVG plot against the run's
// tables, read and formatted independently: component names and weights,
// n, iterations and log-likelihood.
func TestPlotSVGLabels(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.family, func(t *testing.T) {
			cfg, err := loadExample(ex.config)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Plot(t.Context(), ex.dir, ex.bag, SVG, &buf, PlotOptions{}); err != nil {
				t.Fatal(err)
			}
			svg := buf.String()
			if !strings.HasPrefix(strings.TrimSpace(svg), "<?xml") || !strings.Contains(svg, "<svg") {
				t.Fatalf("not an SVG document: %.200s", svg)
			}
			fit := fitOf(t, ex, cfg.Input.Bag, ex.bag)
			want := []string{
				fmt.Sprintf("%s = %s:", cfg.Input.Bag, ex.bag),
				fmt.Sprintf("n = %d,", int64(fit["total_count"].(float64))),
				fmt.Sprintf("%d iterations", fit["iterations"].(int64)),
				fmt.Sprintf("log-likelihood = %.2f", fit["log_likelihood"].(float64)),
				"observed", "mixture (sum)", cfg.Input.Value.String(),
			}
			for name, w := range weightsOf(t, ex.dir, cfg.Input.Bag, ex.bag) {
				want = append(want, fmt.Sprintf("%s  w = %.3f", name, w))
			}
			for _, s := range want {
				if !strings.Contains(svg, ">"+s) && !strings.Contains(svg, s) {
					t.Errorf("the SVG has no text %q", s)
				}
			}
		})
	}
}

// inputDir is where an example's input files are, for reading them
// independently.
func inputDir(t *testing.T, cfg *pipeline.Config) string {
	t.Helper()
	p := cfg.Input.Paths[0]
	if strings.ContainsAny(p, "*?[") {
		return filepath.Dir(p)
	}
	return p
}

// independentProb is component k's probability or density at a value
// given as the plot labels it, from the config's parameters through
// distuv, not through pipeline.Mixture.
func independentProb(c pipeline.ComponentConfig, family, label string, x float64) float64 {
	switch family {
	case pipeline.Bernoulli:
		return distuv.Bernoulli{P: *c.P}.Prob(x)
	case pipeline.Categorical:
		return c.Probs[label]
	case pipeline.Gaussian:
		return distuv.Normal{Mu: *c.Mean, Sigma: *c.SD}.Prob(x)
	case pipeline.Poisson:
		return distuv.Poisson{Lambda: *c.Rate}.Prob(x)
	}
	panic(family)
}

func near(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Max(1, math.Abs(want))
}

// TestSeriesScale checks the plotted numbers of a bag of every family
// against an independent computation from the config, the weights table
// and the input rows: bars are the observed counts, component k's
// contribution is n·w_k·f_k(x) (times the bin width for gaussian) and the
// mixture their sum, which adds up to n.
func TestSeriesScale(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.family, func(t *testing.T) {
			cfg, err := loadExample(ex.config)
			if err != nil {
				t.Fatal(err)
			}
			d, err := loadBag(t.Context(), ex.dir, ex.bag)
			if err != nil {
				t.Fatal(err)
			}
			s := d.s
			// The bag's rows, read from the input independently.
			var values []any
			for _, row := range table(t, inputDir(t, cfg), cfg.Input.Bag, cfg.Input.Value.String()) {
				if keyText(row[0]) == ex.bag {
					values = append(values, row[1])
				}
			}
			n := float64(len(values))
			if n == 0 {
				t.Fatalf("bag %s has no rows in the input", ex.bag)
			}
			if fit := fitOf(t, ex, cfg.Input.Bag, ex.bag); fit["total_count"].(float64) != n {
				t.Fatalf("fits total_count %v, input has %v rows", fit["total_count"], n)
			}
			wmap := weightsOf(t, ex.dir, cfg.Input.Bag, ex.bag)
			comps := cfg.Model.Components
			if len(s.Comps) != len(comps) {
				t.Fatalf("%d component series, want %d", len(s.Comps), len(comps))
			}
			if s.Discrete {
				observed := map[string]float64{}
				for _, v := range values {
					switch x := v.(type) {
					case bool:
						observed[map[bool]string{false: "0", true: "1"}[x]]++
					default:
						observed[fmt.Sprint(x)]++
					}
				}
				obsSum, fitSum := 0.0, 0.0
				for i, label := range s.Ticks {
					x, _ := strconv.ParseFloat(label, 64)
					if got, want := s.Observed[i], observed[label]; got != want {
						t.Errorf("%s: observed %v, want %v", label, got, want)
					}
					want := 0.0
					for k, c := range comps {
						wantK := n * wmap[c.Name] * independentProb(c, ex.family, label, x)
						if !near(s.Comps[k][i], wantK, 1e-12) {
							t.Errorf("%s: %s contributes %v, want %v", label, c.Name, s.Comps[k][i], wantK)
						}
						want += wantK
					}
					if !near(s.Sum[i], want, 1e-12) {
						t.Errorf("%s: mixture %v, want n·Σ w_k f_k = %v", label, s.Sum[i], want)
					}
					obsSum += s.Observed[i]
					fitSum += s.Sum[i]
				}
				if obsSum != n {
					t.Errorf("bars add up to %v, want n = %v", obsSum, n)
				}
				// All values shown (poisson: ±4 sd of each rate) hold all
				// but a sliver of the mixture.
				if fitSum > n*(1+1e-12) || fitSum < n*(1-1e-3) {
					t.Errorf("mixture adds up to %v, want about n = %v", fitSum, n)
				}
				return
			}
			// Gaussian: bins, then curves.
			if !(s.H > 0) {
				t.Fatalf("bin width %v", s.H)
			}
			total := 0.0
			for _, b := range s.Bins {
				if !near(b.Hi-b.Lo, s.H, 1e-9) {
					t.Errorf("bin [%v, %v) is not %v wide", b.Lo, b.Hi, s.H)
				}
				in := 0.0
				for _, v := range values {
					if x := v.(float64); x >= b.Lo && x < b.Hi {
						in++
					}
				}
				if in != b.Count {
					t.Errorf("bin [%v, %v): %v values, plotted %v", b.Lo, b.Hi, in, b.Count)
				}
				total += b.Count
			}
			if total != n {
				t.Errorf("bins hold %v values, want %v", total, n)
			}
			area := 0.0
			for i, x := range s.X {
				want := 0.0
				for k, c := range comps {
					wantK := n * s.H * wmap[c.Name] * independentProb(c, ex.family, "", x)
					if !near(s.Comps[k][i], wantK, 1e-12) {
						t.Errorf("x = %v: %s contributes %v, want n·h·w·f = %v", x, c.Name, s.Comps[k][i], wantK)
					}
					want += wantK
				}
				if !near(s.Sum[i], want, 1e-12) {
					t.Errorf("x = %v: mixture %v, want n·h·Σ w_k f_k = %v", x, s.Sum[i], want)
				}
				if i > 0 {
					area += (s.X[i] - s.X[i-1]) * (s.Sum[i] + s.Sum[i-1]) / 2
				}
			}
			// The curve is a density scaled by n·h: its area over h is n,
			// up to the tails outside the plotted range.
			if got := area / s.H; !near(got, n, 0.01) {
				t.Errorf("area under the mixture / h = %v, want n = %v", got, n)
			}
		})
	}
}

func TestPlotErrors(t *testing.T) {
	ctx := t.Context()
	marbles := exampleOf(t, pipeline.Bernoulli)
	shops := exampleOf(t, pipeline.Categorical)
	empty := t.TempDir()
	for _, tc := range []struct {
		name, dir, bag string
		want           []string
	}{
		{"unknown bag", marbles.dir, "4711", []string{`bag "4711" not found in run ` + marbles.dir, "200 bags of bag_id", `from "0" to "199"`}},
		{"unknown string bag", shops.dir, "shop-999", []string{`bag "shop-999" not found in run ` + shops.dir, `"shop-000"`}},
		{"text for an integer column", marbles.dir, "red", []string{`bag "red"`, `"bag_id" holds integers`}},
		{"missing run dir", filepath.Join(empty, "nope"), "0", []string{"run folder " + filepath.Join(empty, "nope") + " does not exist"}},
		{"no manifest", empty, "0", []string{empty + " has no manifest.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Plot(ctx, tc.dir, tc.bag, PNG, &bytes.Buffer{}, PlotOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	t.Run("unknown extension", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bag.jpg")
		err := PlotFile(ctx, marbles.dir, "0", path, PlotOptions{})
		if err == nil || !strings.Contains(err.Error(), `unknown extension ".jpg"; want .png or .svg`) {
			t.Errorf("error %v", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was written", path)
		}
		if _, err := FormatOf("bag"); err == nil {
			t.Error("FormatOf accepts a name without extension")
		}
		if f, err := FormatOf("A.SVG"); f != SVG || err != nil {
			t.Errorf("FormatOf(A.SVG) = %q, %v", f, err)
		}
		if err := Plot(ctx, marbles.dir, "0", "gif", &bytes.Buffer{}, PlotOptions{}); err == nil {
			t.Error("Plot accepts format gif")
		}
	})
	t.Run("bad size", func(t *testing.T) {
		err := Plot(ctx, marbles.dir, "0", PNG, &bytes.Buffer{}, PlotOptions{Width: 10, Height: 400})
		if err == nil || !strings.Contains(err.Error(), "between 100 and 10000") {
			t.Errorf("error %v", err)
		}
	})
}

// editManifest rewrites a copied run's manifest through edit.
func editManifest(t *testing.T, dir string, edit func(m *pipeline.Manifest)) {
	t.Helper()
	path := filepath.Join(dir, pipeline.ManifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m pipeline.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPlotInputs covers finding the input files the manifest lists.
func TestPlotInputs(t *testing.T) {
	ctx := t.Context()
	marbles := exampleOf(t, pipeline.Bernoulli)
	t.Run("moved", func(t *testing.T) {
		dir := copyRun(t, marbles.dir)
		editManifest(t, dir, func(m *pipeline.Manifest) { m.Inputs[0].Path = "nowhere/part-00000.parquet" })
		err := Plot(ctx, dir, "0", PNG, &bytes.Buffer{}, PlotOptions{})
		if err == nil || !strings.Contains(err.Error(), "input nowhere/part-00000.parquet of run "+dir+" not found") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("changed", func(t *testing.T) {
		dir := copyRun(t, marbles.dir)
		editManifest(t, dir, func(m *pipeline.Manifest) { m.Inputs[0].Size++ })
		err := Plot(ctx, dir, "0", PNG, &bytes.Buffer{}, PlotOptions{})
		if err == nil || !strings.Contains(err.Error(), "changed since the run") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("from the run's working directory", func(t *testing.T) {
		// A run started in root with output.dir out/m and an input
		// data/x.parquet: found from anywhere through the run folder.
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "data", "x.parquet"), []byte("12345"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := &run{dir: filepath.Join(root, "out", "m"), cfg: &pipeline.Config{Output: pipeline.OutputConfig{Dir: "out/m"}}}
		got, err := r.resolveInput(context.Background(), pipeline.ManifestInput{Path: "data/x.parquet", Size: 5})
		if want := filepath.Join(root, "data", "x.parquet"); got != want || err != nil {
			t.Errorf("resolveInput = %q, %v; want %q", got, err, want)
		}
		r.cfg.Output.Dir = "elsewhere/m"
		if _, err := r.resolveInput(context.Background(), pipeline.ManifestInput{Path: "data/x.parquet", Size: 5}); err == nil {
			t.Error("found an input through an output.dir that does not match the run folder")
		}
	})
}

// TestPlotFailedBag plots a bag that failed under run.on_error: skip: its
// usable rows, no fit, and the error in the title.
func TestPlotFailedBag(t *testing.T) {
	dir := skipRun(t)
	var msg string
	for _, row := range table(t, filepath.Join(dir, "fits"), "bag_id", "status", "error") {
		if row[0].(int64) == 3 {
			msg, _ = row[2].(string)
		}
	}
	if msg == "" {
		t.Fatal("bag 3 did not fail")
	}
	var buf bytes.Buffer
	if err := Plot(t.Context(), dir, "3", SVG, &buf, PlotOptions{}); err != nil {
		t.Fatal(err)
	}
	want := html.EscapeString("bag_id = 3: failed: " + msg + " (1 unusable rows not shown)")
	if !strings.Contains(buf.String(), want) {
		t.Errorf("the SVG has no text %q", want)
	}
	if !strings.Contains(buf.String(), "factory1  w = n/a") {
		t.Error("no legend entry without weight")
	}
	// A bag that did not converge in 3 E-steps says so.
	buf.Reset()
	if err := Plot(t.Context(), dir, "0", SVG, &buf, PlotOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "3 iterations,") || !strings.Contains(buf.String(), "(not converged)") {
		t.Errorf("bag 0's title does not say it did not converge")
	}
}

func TestDefaultPlotFile(t *testing.T) {
	for bag, want := range map[string]string{
		"17": "17.png", "shop-003": "shop-003.png", "a/b": "a_b.png", "..": "bag_...png", "-x": "bag_-x.png",
	} {
		if got := DefaultPlotFile(bag); got != want {
			t.Errorf("DefaultPlotFile(%q) = %q, want %q", bag, got, want)
		}
	}
}

// TestPlotLeavesNoFileOnError: a failed plot writes nothing.
func TestPlotLeavesNoFileOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.png")
	if err := PlotFile(context.Background(), exampleOf(t, pipeline.Bernoulli).dir, "4711", path, PlotOptions{}); err == nil {
		t.Fatal("no error")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists after a failed plot", path)
	}
}

// poissonPMF is the Poisson probability of x at rate lambda from its
// closed form exp(x log λ − λ − log x!), with math.Lgamma (independent
// of pipeline.Mixture and gonum). At λ ≈ 10⁴ its log has an absolute
// rounding error near 10⁻¹¹, so the pmf is good to about 10⁻¹¹ relative.
func poissonPMF(x, lambda float64) float64 {
	lg, _ := math.Lgamma(x + 1)
	return math.Exp(x*math.Log(lambda) - lambda - lg)
}

// TestPlotPoissonWide: a poisson bag whose values span more than a few
// hundred integers (rates in the thousands) is drawn in bins of integer
// width that cover every observation and each component's ±4 sd, with
// each component's expected count in a bin n·w_k·Σ_{x in bin} f_k(x).
// (The plot used to draw the first 500 integers only: here the values
// near 5000, and none of the component at 8000 that holds two thirds of
// the bag.)
func TestPlotPoissonWide(t *testing.T) {
	dir := t.TempDir()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "day", Type: arrow.PrimitiveTypes.Int64},
		{Name: "calls", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.NewGoAllocator(), sc)
	defer b.Release()
	var values []float64
	for i := range 150 {
		v := int64(4930 + 3*(i%50)) // about rate 5000, sd 71
		if i >= 50 {
			v = int64(7880 + 2*(i%100)) // about rate 8000, sd 89
		}
		values = append(values, float64(v))
		b.Field(0).(*array.Int64Builder).Append(1)
		b.Field(1).(*array.Int64Builder).Append(v)
	}
	rec := b.NewRecord()
	defer rec.Release()
	out := runRecord(t, dir, rec, "bag: day, value: calls",
		"model: {family: poisson, components: [{name: low, rate: 5000}, {name: high, rate: 8000}]}")
	d, err := loadBag(t.Context(), out, "1")
	if err != nil {
		t.Fatal(err)
	}
	s := d.s
	n := float64(len(values))
	wmap := weightsOf(t, out, "day", "1")
	rates := []float64{5000, 8000}
	names := []string{"low", "high"}
	if len(s.Bins) == 0 || len(s.Bins) > maxPoissonBars {
		t.Fatalf("%d bins, want 1 to %d", len(s.Bins), maxPoissonBars)
	}
	lo, hi := s.Bins[0].Lo, s.Bins[len(s.Bins)-1].Hi
	for k, rate := range rates {
		if sd := math.Sqrt(rate); lo > rate-4*sd || hi < rate+4*sd {
			t.Errorf("bins [%v, %v) do not hold %s's rate ± 4 sd", lo, hi, names[k])
		}
	}
	total, mixture := 0.0, 0.0
	for i, bn := range s.Bins {
		if w := bn.Hi - bn.Lo; w != s.H || w != math.Trunc(w) || bn.Lo+0.5 != math.Trunc(bn.Lo+0.5) {
			t.Fatalf("bin [%v, %v): want integer width %v, from an integer - 0.5", bn.Lo, bn.Hi, s.H)
		}
		in := 0.0
		for _, v := range values {
			if v >= bn.Lo && v < bn.Hi {
				in++
			}
		}
		if bn.Count != in {
			t.Errorf("bin [%v, %v): %v values, plotted %v", bn.Lo, bn.Hi, in, bn.Count)
		}
		total += bn.Count
		want := 0.0
		for k, rate := range rates {
			mass := 0.0
			for x := math.Ceil(bn.Lo); x < bn.Hi; x++ {
				mass += poissonPMF(x, rate)
			}
			wantK := n * wmap[names[k]] * mass
			// Absolute tolerance 1e-9·n: the bin masses come from the
			// regularized incomplete gamma function, good to about 1e-12.
			if math.Abs(s.Comps[k][i]-wantK) > 1e-9*n {
				t.Errorf("bin [%v, %v): %s contributes %v, want n·w·Σf = %v", bn.Lo, bn.Hi, names[k], s.Comps[k][i], wantK)
			}
			want += wantK
		}
		if math.Abs(s.Sum[i]-want) > 1e-9*n {
			t.Errorf("bin [%v, %v): mixture %v, want %v", bn.Lo, bn.Hi, s.Sum[i], want)
		}
		mixture += s.Sum[i]
	}
	if total != n {
		t.Errorf("bins hold %v of the %v values", total, n)
	}
	if math.Abs(mixture-n) > 1e-3*n {
		t.Errorf("the mixture adds up to %v over the bins, want about n = %v", mixture, n)
	}
	var buf bytes.Buffer
	if err := Plot(t.Context(), out, "1", SVG, &buf, PlotOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("count per bin (width %v)", s.H); !strings.Contains(buf.String(), want) {
		t.Errorf("the SVG has no axis label %q", want)
	}
}
