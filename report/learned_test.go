package report

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/writers"
)

// learnedExample is a run that learns component parameters, on the data
// the repository ships, made once (on first use) for the tests that need it.
type learnedExample struct {
	family  string
	config  string   // YAML; %q is output.dir
	bag     string   // the bag column
	bags    []string // bags to plot
	learned []string // the learned parameters' columns in weights/
	k       int      // components in the report (K, or the top of the range)

	once sync.Once
	dir  string
	err  error
}

var learnedExamples = map[string]*learnedExample{
	"gaussian": {
		family: pipeline.Gaussian, bag: "sensor", bags: []string{"22", "5"}, learned: []string{"mean", "sd"}, k: 3,
		config: `
input: {paths: ["../data/readings/"], bag: sensor, value: temperature}
model: {family: gaussian, learn: [weights, mean, sd], components: [{name: idle}, {name: working}, {name: faulty}]}
em: {seed: 7}
output: {dir: %q}
`,
	},
	"poisson-range": {
		// Days 2026-01-09 and 2026-01-01 select K = 2 and 3.
		family: pipeline.Poisson, bag: "day", bags: []string{"2026-01-09", "2026-01-01"}, learned: []string{"rate"}, k: 3,
		config: `
input: {paths: ["../data/calls/"], bag: day, value: calls}
model: {family: poisson, learn: [weights, rate], components_range: [1, 3]}
output: {dir: %q}
`,
	},
	"categorical": {
		// purple is in model.labels but in no shop's data.
		family: pipeline.Categorical, bag: "shop", bags: []string{"shop-003"}, learned: []string{"probs"}, k: 1,
		config: `
input: {paths: ["../data/shops/"], bag: shop, value: colour}
model: {family: categorical, learn: [weights, probs], labels: [blue, green, red, yellow, purple], components: [{name: shop}]}
output: {dir: %q}
`,
	},
	"bernoulli": {
		family: pipeline.Bernoulli, bag: "bag_id", bags: []string{"3"}, learned: []string{"p"}, k: 1,
		config: `
input: {paths: ["../data/marbles/"], bag: bag_id, value: red}
model: {family: bernoulli, learn: [weights, p], scope: bag, components: [{name: marbles}]}
output: {dir: %q}
`,
	},
}

// learnedRun returns the output folder of a learned example, running it
// the first time.
func learnedRun(t *testing.T, name string) *learnedExample {
	t.Helper()
	ex := learnedExamples[name]
	ex.once.Do(func() {
		dir := filepath.Join(scratch, "learned-"+name)
		cfg, err := pipeline.Load(fmt.Appendf(nil, ex.config, dir))
		if err != nil {
			ex.err = err
			return
		}
		_, ex.err = pipeline.Run(context.Background(), cfg, pipeline.Options{})
		ex.dir = dir
	})
	if ex.err != nil {
		t.Fatalf("running the %s example: %v", name, ex.err)
	}
	return ex
}

// learnedRow is a component's row of weights/, read independently.
type learnedRow struct {
	name    string
	weight  float64
	scalars map[string]float64 // absent when null
	probs   map[string]float64 // nil when null
}

// learnedRows returns a bag's rows of weights/ with the learned columns,
// in table order, without the package's code.
func learnedRows(t *testing.T, ex *learnedExample, dir, bag string) []learnedRow {
	t.Helper()
	cols := append([]string{ex.bag, "component", "weight"}, ex.learned...)
	var out []learnedRow
	for _, row := range table(t, filepath.Join(dir, "weights"), cols...) {
		if keyText(row[0]) != bag {
			continue
		}
		r := learnedRow{name: row[1].(string), weight: row[2].(float64), scalars: map[string]float64{}}
		for j, q := range ex.learned {
			v := row[3+j]
			switch {
			case v == nil:
			case q == "probs":
				// arrow marshals a map row as JSON: [{"key": ..., "value": ...}].
				var kv []struct {
					Key   string
					Value float64
				}
				if err := json.Unmarshal(v.(json.RawMessage), &kv); err != nil {
					t.Fatalf("probs %s: %v", v, err)
				}
				r.probs = map[string]float64{}
				for _, e := range kv {
					r.probs[e.Key] = e.Value
				}
			default:
				r.scalars[q] = v.(float64)
			}
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no weights rows of bag %s", dir, bag)
	}
	return out
}

// fitsValue returns a bag's value of a fits column.
func fitsValue(t *testing.T, dir, bagCol, bag, col string) any {
	t.Helper()
	for _, row := range table(t, filepath.Join(dir, "fits"), bagCol, col) {
		if keyText(row[0]) == bag {
			return row[1]
		}
	}
	t.Fatalf("%s: no fits row of bag %s", dir, bag)
	return nil
}

// learnedProb is a component's probability or density at a value given as
// the plot labels it, from the learned parameters through distuv.
func learnedProb(r learnedRow, family, label string, x float64) float64 {
	switch family {
	case pipeline.Bernoulli:
		return distuv.Bernoulli{P: r.scalars["p"]}.Prob(x)
	case pipeline.Categorical:
		return r.probs[label]
	case pipeline.Gaussian:
		return distuv.Normal{Mu: r.scalars["mean"], Sigma: r.scalars["sd"]}.Prob(x)
	case pipeline.Poisson:
		return distuv.Poisson{Lambda: r.scalars["rate"]}.Prob(x)
	}
	panic(family)
}

// wantLegend is a component's legend entry, formatted here: its name,
// weight and learned parameters (three significant digits in fixed point; p and
// probabilities to three decimals, the three most probable labels).
func wantLegend(r learnedRow) string {
	s := fmt.Sprintf("%s  w = %.3f  ", r.name, r.weight)
	if r.probs != nil {
		labels := slices.Collect(maps.Keys(r.probs))
		slices.SortFunc(labels, func(a, b string) int { return cmp.Or(cmp.Compare(r.probs[b], r.probs[a]), strings.Compare(a, b)) })
		var parts []string
		for _, l := range labels[:min(3, len(labels))] {
			parts = append(parts, fmt.Sprintf("%s: %.3f", l, r.probs[l]))
		}
		if len(labels) > 3 {
			parts = append(parts, "…")
		}
		return s + strings.Join(parts, ", ")
	}
	var parts []string
	for _, q := range []string{"p", "mean", "sd", "rate"} {
		if v, ok := r.scalars[q]; ok {
			if q == "p" {
				parts = append(parts, fmt.Sprintf("p %.3f", v))
			} else {
				// Three significant digits, in fixed point.
				parts = append(parts, fmt.Sprintf("%s %.*f", q, max(0, 2-int(math.Floor(math.Log10(math.Abs(v))))), v))
			}
		}
	}
	return s + strings.Join(parts, " ")
}

// TestPlotLearned plots bags of runs that learn their components'
// parameters and checks the plotted numbers against the learned
// parameters read independently from weights/: bars are the observed
// counts, component k contributes n·w_k·f_k(x) (times the bin width for
// gaussian) with the bag's own parameters, over its own K components, and
// the mixture is their sum. The SVG's legend gives the learned values and
// the PNG has the requested size and a fair share of ink.
func TestPlotLearned(t *testing.T) {
	for _, name := range []string{"gaussian", "poisson-range", "categorical", "bernoulli"} {
		for _, bag := range learnedExamples[name].bags {
			t.Run(name+"/"+bag, func(t *testing.T) {
				ex := learnedRun(t, name)
				rows := learnedRows(t, ex, ex.dir, bag)
				n := fitsValue(t, ex.dir, ex.bag, bag, "total_count").(float64)
				k := int(fitsValue(t, ex.dir, ex.bag, bag, "n_components").(int64))
				if name == "poisson-range" && bag == learnedExamples[name].bags[0] && k >= 3 {
					t.Fatalf("bag %s selects K = %d; the test wants one that selects fewer than the range's 3", bag, k)
				}
				if len(rows) != k {
					t.Fatalf("weights/ has %d rows of the bag, fits.n_components says %d", len(rows), k)
				}
				d, err := loadBag(t.Context(), ex.dir, bag)
				if err != nil {
					t.Fatal(err)
				}
				s := d.s
				if len(s.Comps) != k || d.mix.K() != k {
					t.Fatalf("%d component series, mixture of %d; want the bag's K = %d", len(s.Comps), d.mix.K(), k)
				}
				for i, x := range s.X {
					label := ""
					if s.Discrete {
						label = s.Ticks[i]
						x, _ = strconv.ParseFloat(label, 64)
					}
					want := 0.0
					for j, r := range rows {
						wantJ := n * s.H * r.weight * learnedProb(r, ex.family, label, x)
						if !near(s.Comps[j][i], wantJ, 1e-12) {
							t.Errorf("x = %v %s: %s contributes %v, want %v", x, label, r.name, s.Comps[j][i], wantJ)
						}
						want += wantJ
					}
					if !near(s.Sum[i], want, 1e-12) {
						t.Fatalf("x = %v %s: mixture %v, want n·Σ w_k f_k = %v", x, label, s.Sum[i], want)
					}
				}
				if s.Discrete {
					total := 0.0
					for _, v := range s.Observed {
						total += v
					}
					if total != n {
						t.Errorf("bars add up to %v, want n = %v", total, n)
					}
				}

				var buf bytes.Buffer
				if err := Plot(t.Context(), ex.dir, bag, SVG, &buf, PlotOptions{}); err != nil {
					t.Fatal(err)
				}
				svg := buf.String()
				want := []string{fmt.Sprintf("%s = %s:", ex.bag, bag), "observed", "mixture (sum)"}
				for _, r := range rows {
					want = append(want, wantLegend(r))
				}
				if name == "poisson-range" {
					want = append(want, fmt.Sprintf("K = %d by BIC,", k))
					if strings.Contains(svg, fmt.Sprintf("c%d  w", k+1)) {
						t.Errorf("the legend has a component beyond the bag's K = %d", k)
					}
				}
				for _, w := range want {
					if !strings.Contains(svg, w) {
						t.Errorf("the SVG has no text %q", w)
					}
				}
				if strings.Contains(svg, "NaN") {
					t.Error("the SVG has NaN in it")
				}

				path := filepath.Join(t.TempDir(), "bag.png")
				if err := PlotFile(t.Context(), ex.dir, bag, path, PlotOptions{Width: 700, Height: 420}); err != nil {
					t.Fatal(err)
				}
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if w, h, ink := decodePNG(t, f); w != 700 || h != 420 || ink < 0.05 || ink > 0.8 {
					t.Errorf("PNG %dx%d with %.1f%% ink", w, h, 100*ink)
				}
			})
		}
	}
}

// rewriteWeights rewrites a copied run's weights/ part files, passing
// every row (Go values, nil for null, in the table's column order)
// through edit.
func rewriteWeights(t *testing.T, dir string, edit func(row []any)) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "weights", "*.parquet"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no weights parts (%v)", err)
	}
	mem := memory.NewGoAllocator()
	for _, path := range paths {
		rd, err := readers.Open(t.Context(), readers.File{Path: path}, mem)
		if err != nil {
			t.Fatal(err)
		}
		sc := rd.Schema()
		rd.Close()
		var cols []string
		for _, f := range sc.Fields() {
			cols = append(cols, f.Name)
		}
		rows := table(t, filepath.Dir(path), cols...)
		b := array.NewRecordBuilder(mem, sc)
		for _, row := range rows {
			edit(row)
			for j, v := range row {
				fb := b.Field(j)
				if v == nil {
					fb.AppendNull()
					continue
				}
				switch fb := fb.(type) {
				case *array.Int32Builder:
					fb.Append(int32(v.(int64)))
				case *array.Int64Builder:
					fb.Append(v.(int64))
				case *array.StringBuilder:
					fb.Append(v.(string))
				case *array.Float64Builder:
					fb.Append(v.(float64))
				default:
					t.Fatalf("column %s: type %s", cols[j], sc.Field(j).Type)
				}
			}
		}
		rec := b.NewRecord()
		b.Release()
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		err = writers.WriteFile(path, sc, []arrow.Record{rec}, writers.Options{})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestPlotLearnedEmptyComponent: a learned component of weight 0 has no
// parameters (nulls in weights/); it is drawn as nothing and listed as
// "w = 0", and the mixture is the others' sum. A component with a weight
// but no parameters is an error.
func TestPlotLearnedEmptyComponent(t *testing.T) {
	ex := learnedRun(t, "gaussian")
	const bag = "22"
	empty := func(weight float64) func(row []any) {
		return func(row []any) {
			// sensor, component, weight, std_error, mean, sd, mean_std_error, sd_std_error
			if keyText(row[0]) == bag && row[1] == "faulty" {
				row[2] = weight
				for j := 3; j < len(row); j++ {
					row[j] = nil
				}
			}
		}
	}
	dir := copyRun(t, ex.dir)
	rewriteWeights(t, dir, empty(0))
	rows := learnedRows(t, ex, dir, bag)
	d, err := loadBag(t.Context(), dir, bag)
	if err != nil {
		t.Fatal(err)
	}
	if d.mix.Complete(2) || !d.mix.Complete(0) || !d.mix.Complete(1) {
		t.Fatalf("complete: %v %v %v", d.mix.Complete(0), d.mix.Complete(1), d.mix.Complete(2))
	}
	n := d.obs.total
	for i, x := range d.s.X {
		if !math.IsNaN(d.s.Comps[2][i]) {
			t.Fatalf("the empty component has a curve: %v at %v", d.s.Comps[2][i], x)
		}
		want := 0.0
		for _, r := range rows[:2] {
			want += n * d.s.H * r.weight * learnedProb(r, ex.family, "", x)
		}
		if !near(d.s.Sum[i], want, 1e-12) {
			t.Fatalf("x = %v: mixture %v, want %v", x, d.s.Sum[i], want)
		}
	}
	var buf bytes.Buffer
	if err := Plot(t.Context(), dir, bag, SVG, &buf, PlotOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"faulty  w = 0<", wantLegend(rows[0]), wantLegend(rows[1])} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("the SVG has no text %q", w)
		}
	}

	dir = copyRun(t, ex.dir)
	rewriteWeights(t, dir, empty(0.25))
	err = Plot(t.Context(), dir, bag, PNG, &bytes.Buffer{}, PlotOptions{})
	if want := `component "faulty" has weight 0.25 but the weights table gives it no mean, sd`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}

// TestReportLearned writes the reports of the learned runs: the weights,
// the learned parameters per component across bags (checked against the
// weights table), and with components_range the K selected per bag
// (checked against fits.n_components).
func TestReportLearned(t *testing.T) {
	for _, name := range []string{"gaussian", "poisson-range", "categorical", "bernoulli"} {
		t.Run(name, func(t *testing.T) {
			ex := learnedRun(t, name)
			html := writeReport(t, ex.dir, Options{})
			text := imgRE.ReplaceAllString(html, "")
			for _, bad := range []string{"<script", "http://", "https://", "NaN"} {
				if strings.Contains(text, bad) {
					t.Errorf("report contains %q", bad)
				}
			}
			scalars := slices.DeleteFunc(slices.Clone(ex.learned), func(q string) bool { return q == "probs" })
			images := ex.k + 2 + len(scalars)
			learnedText := strings.Join(ex.learned, " and ") + " learned per bag"
			if !strings.Contains(html, learnedText) {
				t.Errorf("the report does not say %q", learnedText)
			}
			if conf := section(t, html, "config"); !strings.Contains(conf, "learn: [weights, "+strings.Join(ex.learned, ", ")+"]") {
				t.Errorf("config section: %s", conf)
			}

			// The learned scalar parameters: each component's mean across
			// the bags that have it.
			if len(scalars) == 0 {
				if strings.Contains(html, `<section id="parameters">`) {
					t.Error("a parameters section without learned scalars")
				}
			} else {
				sec := section(t, html, "parameters")
				cols := append([]string{ex.bag, "component"}, scalars...)
				type acc struct {
					n   int64
					sum float64
				}
				stats := map[string]*acc{}
				for _, row := range table(t, filepath.Join(ex.dir, "weights"), cols...) {
					for j, q := range scalars {
						if v, ok := row[2+j].(float64); ok {
							key := q + "/" + row[1].(string)
							if stats[key] == nil {
								stats[key] = &acc{}
							}
							stats[key].n++
							stats[key].sum += v
						}
					}
				}
				for key, a := range stats {
					q, comp, _ := strings.Cut(key, "/")
					want := fmt.Sprintf(`<tr><td>%s</td><td class="n">%d</td><td class="n">%s</td>`, comp, a.n, strconv.FormatFloat(a.sum/float64(a.n), 'g', 4, 64))
					if !strings.Contains(sec[strings.Index(sec, "<h3>"+q+"</h3>"):], want) {
						t.Errorf("parameters section has no %s row %q", q, want)
					}
				}
			}

			// components_range: the K selected per bag.
			if name != "poisson-range" {
				if strings.Contains(html, `<section id="components">`) {
					t.Error("a components section without components_range")
				}
			} else {
				images++
				if !strings.Contains(html, "poisson mixture of 1 to 3 components (c1..cK, K chosen per bag by BIC)") {
					t.Error("the report does not describe the range")
				}
				counts := map[int64]int{}
				for _, row := range table(t, filepath.Join(ex.dir, "fits"), ex.bag, "n_components") {
					counts[row[1].(int64)]++
				}
				sec := section(t, html, "components")
				for k := int64(1); k <= 3; k++ {
					want := fmt.Sprintf(`<tr><td class="n">%d</td><td class="n">%d</td>`, k, counts[k])
					if !strings.Contains(sec, want) {
						t.Errorf("components section has no row %q", want)
					}
				}
				if !strings.Contains(sec, `alt="components K selected per bag (BIC)"`) {
					t.Error("no histogram of K")
				}
				// Against itself every bag is identical, whatever its K:
				// components beyond it are in neither run.
				bags := counts[1] + counts[2] + counts[3]
				base := section(t, writeReport(t, ex.dir, Options{Baseline: ex.dir}), "baseline")
				if want := fmt.Sprintf(`<tr><td>0 (identical)</td><td class="n">%d</td></tr>`, bags); !strings.Contains(base, want) {
					t.Errorf("baseline section has no %q: %s", want, base)
				}
			}
			if got := len(imgRE.FindAllString(html, -1)); got != images {
				t.Errorf("%d images, want %d", got, images)
			}
		})
	}
}

// TestPlotLearnedFailedBag plots bags of a components_range run with
// run.on_error: skip: a failed bag (no K, no weights) shows its usable
// rows and the error; an ok bag its K = 1 component with the learned
// probabilities.
func TestPlotLearnedFailedBag(t *testing.T) {
	data := filepath.Join(filepath.Dir(skipRun(t)), "data.parquet")
	out := filepath.Join(t.TempDir(), "out")
	cfg, err := pipeline.Load(fmt.Appendf(nil, `
input: {paths: [%q], bag: bag_id, value: red}
model: {family: categorical, learn: [weights, probs], labels: ["0", "1"], components_range: [1, 1]}
output: {dir: %q}
run: {on_error: skip}
`, data, out))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.Run(t.Context(), cfg, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Plot(t.Context(), out, "3", SVG, &buf, PlotOptions{}); err != nil {
		t.Fatal(err)
	}
	if svg := buf.String(); !strings.Contains(svg, "bag_id = 3: failed: ") || strings.Contains(svg, "c1  w") {
		t.Errorf("failed bag's plot: title or legend wrong")
	}
	ex := &learnedExample{bag: "bag_id", learned: []string{"probs"}}
	rows := learnedRows(t, ex, out, "0")
	buf.Reset()
	if err := Plot(t.Context(), out, "0", SVG, &buf, PlotOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{wantLegend(rows[0]), "K = 1 by BIC,"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("the SVG has no text %q", w)
		}
	}
}

// TestMultivariateRun: the report covers a multivariate run (its list
// columns are not summarised), and plot refuses it with a clear message.
func TestMultivariateRun(t *testing.T) {
	cfg, err := pipeline.LoadFile(filepath.Join("..", "configs", "clusters.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range cfg.Input.Paths {
		cfg.Input.Paths[i] = filepath.Join("..", p)
	}
	cfg.Output.Dir = filepath.Join(t.TempDir(), "out")
	sum, err := pipeline.Run(context.Background(), cfg, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var html bytes.Buffer
	if err := Write(context.Background(), cfg.Output.Dir, &html, Options{}); err != nil {
		t.Fatalf("report: %v", err)
	}
	if !strings.Contains(html.String(), "short_deep") || !strings.Contains(html.String(), fmt.Sprint(sum.Bags)) {
		t.Error("the report lacks the components or the bag count")
	}
	err = Plot(context.Background(), cfg.Output.Dir, "3", PNG, io.Discard, PlotOptions{})
	if err == nil || !strings.Contains(err.Error(), "cannot be plotted") {
		t.Errorf("plot of a multivariate bag: %v, want a clear refusal", err)
	}
}
