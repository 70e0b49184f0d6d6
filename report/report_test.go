package report

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/writers"
)

func writeReport(t *testing.T, dir string, opts Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(t.Context(), dir, &buf, opts); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var imgRE = regexp.MustCompile(`<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"`)

// section returns the HTML of the section with the given id.
func section(t *testing.T, html, id string) string {
	t.Helper()
	start := strings.Index(html, `<section id="`+id+`">`)
	if start < 0 {
		t.Fatalf("no section %q", id)
	}
	end := strings.Index(html[start:], "</section>")
	return html[start : start+end]
}

// TestReportEveryFamily writes the report of every example run and checks
// its sections and numbers against the run's tables.
func TestReportEveryFamily(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.family, func(t *testing.T) {
			cfg, err := loadExample(ex.config)
			if err != nil {
				t.Fatal(err)
			}
			html := writeReport(t, ex.dir, Options{})
			if len(html) > 400<<10 {
				t.Errorf("report is %d bytes", len(html))
			}
			for _, bad := range []string{"<script", "http://", "https://", "&#43;"} {
				if strings.Contains(html, bad) {
					t.Errorf("report contains %q", bad)
				}
			}
			fits := table(t, filepath.Join(ex.dir, "fits"), cfg.Input.Bag, "status", "converged", "n_obs")
			var rows int64
			for _, f := range fits {
				rows += f[3].(int64)
			}
			sum := section(t, html, "summary")
			for _, s := range []string{
				fmt.Sprintf(`<span>bags</span><b class="stat">%d</b>`, len(fits)),
				fmt.Sprintf(`<span>ok</span><b class="stat">%d</b>`, len(fits)),
				`<span>failed</span><b class="stat">0</b>`,
				`<span>not converged</span><b class="stat">0</b>`,
				fmt.Sprintf(`<span>rows</span><b class="stat">%s</b>`, formatInt(rows)),
			} {
				if !strings.Contains(sum, s) {
					t.Errorf("summary has no %q", s)
				}
			}
			if strings.Contains(sum, "Note:") {
				t.Errorf("summary disagrees with the manifest: %s", sum)
			}
			w := section(t, html, "weights")
			for _, c := range cfg.Model.Components {
				if !strings.Contains(w, "<td>"+c.Name+"</td>") {
					t.Errorf("weights section does not name %s", c.Name)
				}
			}
			imgs := imgRE.FindAllStringSubmatch(html, -1)
			if want := len(cfg.Model.Components) + 2; len(imgs) != want {
				t.Fatalf("%d images, want %d", len(imgs), want)
			}
			for _, m := range imgs {
				b, err := base64.StdEncoding.DecodeString(m[1])
				if err != nil {
					t.Fatal(err)
				}
				if w, h, ink := decodePNG(t, bytes.NewReader(b)); w != histWidth || h != histHeight || ink < 0.03 {
					t.Errorf("image %dx%d with %.1f%% ink", w, h, 100*ink)
				}
			}
			if s := section(t, html, "failed"); !strings.Contains(s, "Failed bags: 0") || !strings.Contains(s, "None") {
				t.Errorf("failed section: %s", s)
			}
			if s := section(t, html, "not-converged"); !strings.Contains(s, "Bags not converged: 0") {
				t.Errorf("not-converged section: %s", s)
			}
			conf := section(t, html, "config")
			for _, s := range []string{"family: " + ex.family, "bag: " + cfg.Input.Bag, "max_iter: 10000"} {
				if !strings.Contains(conf, s) {
					t.Errorf("config section has no %q", s)
				}
			}
		})
	}
}

// TestReportMeanWeights checks the mean weight of each component against
// the weights table.
func TestReportMeanWeights(t *testing.T) {
	ex := exampleOf(t, pipeline.Gaussian)
	wantMeans(t, writeReport(t, ex.dir, Options{}), ex.dir, "sensor")
}

// TestReportFailedAndNotConverged checks the counts and capped lists of
// failed and non-converged bags of a run with run.on_error: skip against
// its fits table.
func TestReportFailedAndNotConverged(t *testing.T) {
	dir := skipRun(t)
	var failed, notConv []string
	errs := map[string]string{}
	for _, row := range table(t, filepath.Join(dir, "fits"), "bag_id", "status", "error", "converged") {
		key := fmt.Sprint(row[0])
		switch {
		case row[1] == pipeline.StatusFailed:
			failed = append(failed, key)
			errs[key] = row[2].(string)
		case row[3] == false:
			notConv = append(notConv, key)
		}
	}
	if !slices.Equal(failed, []string{"3", "17", "30"}) || len(notConv) < 3 {
		t.Fatalf("failed %v, not converged %v", failed, notConv)
	}
	page := writeReport(t, dir, Options{MaxListed: 2})
	sum := section(t, page, "summary")
	for _, s := range []string{
		`<span>bags</span><b class="stat">40</b>`,
		`<span>ok</span><b class="stat">37</b>`,
		`<span>failed</span><b class="stat bad">3</b>`,
		fmt.Sprintf(`<span>not converged</span><b class="stat bad">%d</b>`, len(notConv)),
	} {
		if !strings.Contains(sum, s) {
			t.Errorf("summary has no %q", s)
		}
	}
	if strings.Contains(sum, "Note:") {
		t.Errorf("summary disagrees with the manifest: %s", sum)
	}
	fs := section(t, page, "failed")
	for _, s := range []string{
		"Failed bags: 3", "The first 2 by key, of 3.",
		`<td class="key">3</td>`, html.EscapeString(errs["3"]),
		`<td class="key">17</td>`, html.EscapeString(errs["17"]),
	} {
		if !strings.Contains(fs, s) {
			t.Errorf("failed section has no %q:\n%s", s, fs)
		}
	}
	if strings.Contains(fs, `<td class="key">30</td>`) {
		t.Error("failed section lists more bags than MaxListed")
	}
	nc := section(t, page, "not-converged")
	for _, s := range []string{
		fmt.Sprintf("Bags not converged: %d", len(notConv)), fmt.Sprintf("The first 2 by key, of %d.", len(notConv)),
		`<td class="key">` + notConv[0] + `</td>`, `<td class="key">` + notConv[1] + `</td>`,
	} {
		if !strings.Contains(nc, s) {
			t.Errorf("not-converged section has no %q", s)
		}
	}
	if strings.Contains(nc, `<td class="key">`+notConv[2]+`</td>`) {
		t.Error("not-converged section lists more bags than MaxListed")
	}
	// Failed bags have no weights: the weights section is over the 37
	// others, as in the weights table.
	wantMeans(t, page, dir, "bag_id")
}

// wantMeans checks the report's mean weight of each component against the
// weights table.
func wantMeans(t *testing.T, page, dir, bagCol string) {
	t.Helper()
	sums, counts := map[string]float64{}, map[string]float64{}
	for _, row := range table(t, filepath.Join(dir, "weights"), bagCol, "component", "weight") {
		sums[row[1].(string)] += row[2].(float64)
		counts[row[1].(string)]++
	}
	if len(sums) == 0 {
		t.Fatalf("%s: the weights table has no rows", dir)
	}
	w := section(t, page, "weights")
	for name, s := range sums {
		want := fmt.Sprintf(`<tr><td>%s</td><td class="n">%.3f</td>`, name, s/counts[name])
		if !strings.Contains(w, want) {
			t.Errorf("no %q in the weights table", want)
		}
	}
}

// TestReportBaseline compares the marbles run with one whose factory 2
// makes red with probability 0.35, and checks the movers against a full
// computation over both weights tables.
func TestReportBaseline(t *testing.T) {
	ex := exampleOf(t, pipeline.Bernoulli)
	cfg, err := loadExample(ex.config)
	if err != nil {
		t.Fatal(err)
	}
	p := 0.35
	cfg.Model.Components[1].P = &p
	cfg.Output.Dir = filepath.Join(t.TempDir(), "baseline")
	cfg.Output.Posteriors = false
	if _, err := pipeline.Run(t.Context(), cfg, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	const top = 7
	html := writeReport(t, ex.dir, Options{Baseline: cfg.Output.Dir, Top: top})
	b := section(t, html, "baseline")
	if !strings.Contains(b, "200 bags in both runs, 0 only in this run, 0 only in the baseline") {
		t.Errorf("baseline section: %s", b)
	}
	// Independently: max |Δw| per bag, the largest first, ties by key.
	type moved struct {
		key   int64
		delta float64
	}
	old := map[int64]map[string]float64{}
	for _, row := range table(t, filepath.Join(cfg.Output.Dir, "weights"), "bag_id", "component", "weight") {
		k := row[0].(int64)
		if old[k] == nil {
			old[k] = map[string]float64{}
		}
		old[k][row[1].(string)] = row[2].(float64)
	}
	deltas := map[int64]float64{}
	for _, row := range table(t, filepath.Join(ex.dir, "weights"), "bag_id", "component", "weight") {
		k := row[0].(int64)
		deltas[k] = math.Max(deltas[k], math.Abs(row[2].(float64)-old[k][row[1].(string)]))
	}
	var all []moved
	for k, d := range deltas {
		if d > 0 {
			all = append(all, moved{k, d})
		}
	}
	slices.SortFunc(all, func(a, b moved) int {
		if c := cmp.Compare(b.delta, a.delta); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	got := regexp.MustCompile(`<td class="key">(\d+)</td><td class="n">([^<]+)</td>`).FindAllStringSubmatch(b, -1)
	if len(got) != top {
		t.Fatalf("%d movers listed, want %d", len(got), top)
	}
	for i, m := range got {
		if want := fmt.Sprint(all[i].key); m[1] != want {
			t.Errorf("mover %d is bag %s, want %s (Δ %v)", i, m[1], want, all[i].delta)
		}
		if want := fmt.Sprintf("%.4g", all[i].delta); m[2] != want {
			t.Errorf("mover %d: Δ %s, want %s", i, m[2], want)
		}
	}
	// The comparison with itself: every bag identical, no movers; string
	// keys merge as well.
	for _, ex := range []*example{ex, exampleOf(t, pipeline.Categorical)} {
		bags := len(table(t, filepath.Join(ex.dir, "fits"), "status"))
		self := section(t, writeReport(t, ex.dir, Options{Baseline: ex.dir}), "baseline")
		if !strings.Contains(self, fmt.Sprintf("%d bags in both runs, 0 only in this run", bags)) ||
			!strings.Contains(self, fmt.Sprintf(`<td>0 (identical)</td><td class="n">%d</td>`, bags)) ||
			!strings.Contains(self, "No bag's weights changed.") {
			t.Errorf("%s compared with itself: %s", ex.config, self)
		}
	}
}

func TestReportErrors(t *testing.T) {
	ctx := t.Context()
	marbles := exampleOf(t, pipeline.Bernoulli)
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		dir  string
		opts Options
		want string
	}{
		{"missing run", filepath.Join(empty, "nope"), Options{}, "does not exist"},
		{"no manifest", empty, Options{}, "has no manifest.json"},
		{"missing baseline", marbles.dir, Options{Baseline: filepath.Join(empty, "nope")}, "baseline: run folder"},
		{"other family", marbles.dir, Options{Baseline: exampleOf(t, pipeline.Poisson).dir}, "fits the poisson family"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(ctx, tc.dir, &bytes.Buffer{}, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	path := filepath.Join(empty, "report.pdf")
	if err := WriteFile(ctx, marbles.dir, path, Options{}); err == nil || !strings.Contains(err.Error(), `unknown extension ".pdf"`) {
		t.Errorf("error %v", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("report.pdf written")
	}
}

// writeWeights writes a weights table of integer bags in the given row
// order.
func writeWeights(t *testing.T, dir string, keys []int64, comps []string, w []float64) {
	t.Helper()
	writeWeightsPart(t, dir, "part-00000.parquet", keys, comps, w)
}

// writeWeightsPart is writeWeights to part file name of dir.
func writeWeightsPart(t *testing.T, dir, name string, keys []int64, comps []string, w []float64) {
	t.Helper()
	mem := memory.NewGoAllocator()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "component", Type: arrow.BinaryTypes.String},
		{Name: "weight", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	for i, k := range keys {
		b.Field(0).(*array.Int64Builder).Append(k)
		b.Field(1).(*array.StringBuilder).Append(comps[i])
		b.Field(2).(*array.Float64Builder).Append(w[i])
	}
	rec := b.NewRecord()
	defer rec.Release()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	_ = os.Remove(path)
	if err := writers.WriteFile(path, sc, []arrow.Record{rec}, writers.Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestWeightsIter streams weights bag by bag across record batches, with
// a component missing (NaN), and refuses bags out of key order, which the
// merge join with a baseline cannot take.
func TestWeightsIter(t *testing.T) {
	dir := copyRun(t, exampleOf(t, pipeline.Bernoulli).dir)
	r, err := openRun(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	weights := filepath.Join(dir, "weights")
	writeWeights(t, weights, []int64{1, 1, 2, 5, 5}, []string{"factory1", "factory2", "factory2", "factory1", "factory2"}, []float64{0.25, 0.75, 1, 0.5, 0.5})
	it, err := r.weightsIter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range it.parts {
		p.it.batch = 2 // bags straddle batches
	}
	got := drainWeights(t, it)
	if want := []string{"1 [0.25 0.75]", "2 [NaN 1]", "5 [0.5 0.5]"}; !slices.Equal(got, want) {
		t.Errorf("bags %q, want %q", got, want)
	}

	writeWeights(t, weights, []int64{5, 5, 1, 1}, []string{"factory1", "factory2", "factory1", "factory2"}, []float64{0.5, 0.5, 0.2, 0.8})
	err = Write(context.Background(), dir, &bytes.Buffer{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "bag 1 comes after bag 5: the weights are not in increasing bag order") {
		t.Errorf("error %v", err)
	}
}

// drainWeights reads every bag of it as "key [weights]" and closes it.
func drainWeights(t *testing.T, it *mergedWeights) []string {
	t.Helper()
	var got []string
	for {
		bw, ok := it.next()
		if !ok {
			break
		}
		got = append(got, fmt.Sprint(bw.key, bw.w))
	}
	if err := it.close(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestWeightsMergeParts reads a weights table of several part files
// whose bags interleave, as mixbatch-beam's shards write them (each part
// sorted by bag, the parts over the whole range), with an empty part and
// bags straddling record batches: the bags come out once each in
// increasing order, and the report is written, also against itself as
// baseline (every bag joined). A bag with rows in two parts is refused,
// naming both.
func TestWeightsMergeParts(t *testing.T) {
	ctx := context.Background()
	dir := copyRun(t, exampleOf(t, pipeline.Bernoulli).dir)
	weights := filepath.Join(dir, "weights")
	setParts := func(files ...string) {
		t.Helper()
		old, err := filepath.Glob(filepath.Join(weights, "*.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		setManifestParts(t, dir, pipeline.WeightsTable, files...)
	}
	f1, f2 := "factory1", "factory2"
	setParts("part-00000-00000.parquet", "part-00001-00000.parquet", "part-00002-00000.parquet")
	writeWeightsPart(t, weights, "part-00000-00000.parquet", []int64{1, 1, 4, 4, 9}, []string{f1, f2, f1, f2, f2}, []float64{0.1, 0.9, 0.4, 0.6, 1})
	writeWeightsPart(t, weights, "part-00001-00000.parquet", []int64{2, 2, 3, 3, 7, 7}, []string{f1, f2, f1, f2, f1, f2}, []float64{0.2, 0.8, 0.3, 0.7, 0.7, 0.3})
	writeWeightsPart(t, weights, "part-00002-00000.parquet", nil, nil, nil)
	r, err := openRun(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	it, err := r.weightsIter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range it.parts {
		p.it.batch = 1
	}
	got := drainWeights(t, it)
	want := []string{"1 [0.1 0.9]", "2 [0.2 0.8]", "3 [0.3 0.7]", "4 [0.4 0.6]", "7 [0.7 0.3]", "9 [NaN 1]"}
	if !slices.Equal(got, want) {
		t.Fatalf("bags %q, want %q", got, want)
	}
	if err := Write(ctx, dir, &bytes.Buffer{}, Options{}); err != nil {
		t.Fatalf("report on interleaved parts: %v", err)
	}
	// plot's lookup finds every bag, whichever part holds it.
	for i, w := range want {
		var key int64
		fmt.Sscan(w, &key)
		rows, err := r.findWeights(ctx, bagKey{i: key})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(key, " ", rows.w); got != want[i] {
			t.Errorf("findWeights(%d) = %s, want %s", key, got, want[i])
		}
	}
	var html bytes.Buffer
	if err := Write(ctx, dir, &html, Options{Baseline: dir}); err != nil {
		t.Fatalf("report against itself: %v", err)
	}
	if !strings.Contains(html.String(), "6 bags in both runs, 0 only in this run, 0 only in the baseline") {
		t.Error("the report against itself does not join the 6 bags")
	}

	// Bag 3 in two parts.
	writeWeightsPart(t, weights, "part-00002-00000.parquet", []int64{3, 3}, []string{f1, f2}, []float64{0.5, 0.5})
	err = Write(ctx, dir, &bytes.Buffer{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "bag 3 has weights in two part files") ||
		!strings.Contains(err.Error(), "part-00001-00000.parquet") || !strings.Contains(err.Error(), "part-00002-00000.parquet") {
		t.Errorf("bag in two parts: error %v", err)
	}
}

// TestFindFitParts: plot's lookup in a fits table whose parts are listed
// out of key order, as mixbatch-beam's may be (its shards interleave
// bags): every bag is found, and a missing bag's error gives the table's
// smallest and largest keys, not the first and last rows read.
func TestFindFitParts(t *testing.T) {
	ctx := context.Background()
	dir := copyRun(t, exampleOf(t, pipeline.Bernoulli).dir)
	fitsDir := filepath.Join(dir, pipeline.FitsTable)
	old, err := filepath.Glob(filepath.Join(fitsDir, "*.parquet"))
	if err != nil || len(old) != 1 {
		t.Fatalf("want one fits part, have %v (%v)", old, err)
	}
	f, err := os.Open(old[0])
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := pqarrow.ReadTable(ctx, f, nil, pqarrow.ArrowReadProperties{}, memory.NewGoAllocator())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, -1)
	defer tr.Release()
	if !tr.Next() {
		t.Fatal("empty fits table")
	}
	rec := tr.Record()
	n := rec.NumRows()
	if n < 10 {
		t.Fatalf("%d bags", n)
	}
	// The upper half first, then the lower half.
	halves := []arrow.Record{rec.NewSlice(n/2, n), rec.NewSlice(0, n/2)}
	names := []string{"part-00000-00000.parquet", "part-00001-00000.parquet"}
	if err := os.Remove(old[0]); err != nil {
		t.Fatal(err)
	}
	for i, h := range halves {
		err := writers.WriteFile(filepath.Join(fitsDir, names[i]), rec.Schema(), []arrow.Record{h}, writers.Options{})
		h.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	setManifestParts(t, dir, pipeline.FitsTable, names...)
	r, err := openRun(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	keys := rec.Column(0).(*array.Int64)
	for i := range int(n) {
		f, err := r.findFit(ctx, bagKey{i: keys.Value(i)})
		if err != nil || f.key.i != keys.Value(i) {
			t.Fatalf("findFit(%d): %v, %v", keys.Value(i), f.key, err)
		}
	}
	lo, hi := keys.Value(0), keys.Value(int(n)-1)
	_, err = r.findFit(ctx, bagKey{i: hi + 1000})
	want := fmt.Sprintf("(%d bags of bag_id, from \"%d\" to \"%d\")", n, lo, hi)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a missing bag: error %v, want it to say %s", err, want)
	}
}

// setManifestParts lists files as the part files of table in the
// manifest.json of run folder dir.
func setManifestParts(t *testing.T, dir, table string, files ...string) {
	t.Helper()
	path := filepath.Join(dir, pipeline.ManifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var man map[string]any
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	listed := make([]any, len(files))
	for i, f := range files {
		listed[i] = table + "/" + f
	}
	man["tables"].(map[string]any)[table] = map[string]any{"files": listed}
	if b, err = json.Marshal(man); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAdaptiveHist(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		gen  func(i int) float64
		n    int
	}{
		{"few", func(int) float64 { return rng.NormFloat64() }, 100},
		{"normal", func(int) float64 { return -0.7 + 0.1*rng.NormFloat64() }, 20000},
		{"outliers late", func(i int) float64 {
			if i > 15000 && i%1000 == 0 {
				return -50 - 1000*rng.Float64()
			}
			return rng.NormFloat64()
		}, 20000},
		{"constant", func(int) float64 { return -1.5 }, 3000},
		{"non-finite mixed in", func(i int) float64 {
			switch i % 10 {
			case 0:
				return math.NaN()
			case 1:
				return math.Inf(-1)
			}
			return rng.ExpFloat64()
		}, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h adaptiveHist
			var vals []float64
			for i := range tc.n {
				v := tc.gen(i)
				h.add(v)
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					vals = append(vals, v)
				}
			}
			bins := h.bins()
			if len(bins) == 0 || len(bins) > maxBins {
				t.Fatalf("%d bins", len(bins))
			}
			if h.stats.N != int64(len(vals)) || h.stats.Min != slices.Min(vals) || h.stats.Max != slices.Max(vals) {
				t.Errorf("stats %+v", h.stats)
			}
			total := 0.0
			for i, b := range bins {
				if i > 0 && b.Lo != bins[i-1].Hi {
					t.Fatalf("bins %v and %v not adjacent", bins[i-1], b)
				}
				in := 0.0
				for _, v := range vals {
					if v >= b.Lo && v < b.Hi {
						in++
					}
				}
				if in != b.Count {
					t.Errorf("bin [%v, %v) counts %v, holds %v", b.Lo, b.Hi, b.Count, in)
				}
				total += b.Count
			}
			if total != float64(len(vals)) {
				t.Errorf("bins count %v values, want %d", total, len(vals))
			}
			if bins[0].Count == 0 || bins[len(bins)-1].Count == 0 {
				t.Error("empty end bins")
			}
		})
	}
}

func TestIntHist(t *testing.T) {
	for _, tc := range []struct {
		values  []int64
		maxBins int
	}{
		{[]int64{4, 4, 5, 9, 12}, 9},
		{[]int64{0, 3, 7, 999, 1000, 10000}, 60},
	} {
		h := intHist{}
		for _, v := range tc.values {
			h[v]++
		}
		bins := h.bins()
		if len(bins) > tc.maxBins {
			t.Errorf("%v: %d bins", tc.values, len(bins))
		}
		total := 0.0
		for _, b := range bins {
			in := 0.0
			for _, v := range tc.values {
				if float64(v) >= b.Lo && float64(v) < b.Hi {
					in++
				}
			}
			if in != b.Count {
				t.Errorf("%v: bin %v holds %v", tc.values, b, in)
			}
			total += b.Count
		}
		if total != float64(len(tc.values)) {
			t.Errorf("%v: bins count %v", tc.values, total)
		}
	}
}

func TestTopMovers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	top := topMovers{n: 10}
	var all []mover
	for i := range 1000 {
		m := mover{key: bagKey{i: int64(rng.IntN(500))}, delta: float64(rng.IntN(50)) / 50, cur: []float64{float64(i)}}
		all = append(all, m)
		top.offer(m)
	}
	slices.SortStableFunc(all, func(a, b mover) int {
		if c := cmp.Compare(b.delta, a.delta); c != 0 {
			return c
		}
		return compareKeys(a.key, b.key)
	})
	got := top.sorted()
	for i, m := range got {
		if m.delta != all[i].delta || m.key != all[i].key {
			t.Errorf("%d: %v %v, want %v %v", i, m.key, m.delta, all[i].key, all[i].delta)
		}
	}
	if len(got) != 10 {
		t.Errorf("%d kept", len(got))
	}
}

// TestConfigYAML: the report's YAML of a manifest's config loads back as
// the same config.
func TestConfigYAML(t *testing.T) {
	for _, ex := range examples {
		r, err := openRun(context.Background(), ex.dir)
		if err != nil {
			t.Fatal(err)
		}
		yml, err := r.configYAML()
		if err != nil {
			t.Fatal(err)
		}
		back, err := pipeline.Load([]byte(yml))
		if err != nil {
			t.Fatalf("%s: %v\n%s", ex.config, err, yml)
		}
		back.Digest, back.Path = "", ""
		want := *r.cfg
		want.Digest, want.Path = "", ""
		if !reflect.DeepEqual(back, &want) {
			t.Errorf("%s: YAML reads back as %+v, want %+v", ex.config, back, want)
		}
	}
}

func TestFormatInt(t *testing.T) {
	for v, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := formatInt(v); got != want {
			t.Errorf("formatInt(%d) = %q, want %q", v, got, want)
		}
	}
}

// TestCountTicks: a count axis is labelled at the smallest step of 1, 2
// or 5 × 10^k that is at least a sixth of its range, a range of exactly
// six steps included. Expectations by hand: [0, 60] has a sixth of 10, a
// step of 10 itself, seven labels; [0, 12] a sixth of 2; [0, 3000] a
// sixth of 500; [0, 3] a sixth of 0.5, but counts are whole: 1.
func TestCountTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []string
	}{
		{0, 28, []string{"0", "5", "10", "15", "20", "25"}},
		{0, 1.06e6, []string{"0", "200,000", "400,000", "600,000", "800,000", "1,000,000"}},
		{0, 9, []string{"0", "2", "4", "6", "8"}},
		{0, 60, []string{"0", "10", "20", "30", "40", "50", "60"}},
		{0, 12, []string{"0", "2", "4", "6", "8", "10", "12"}},
		{0, 3000, []string{"0", "500", "1,000", "1,500", "2,000", "2,500", "3,000"}},
		{0, 3, []string{"0", "1", "2", "3"}}, // a sixth is 0.5: counts step by 1 at least
	} {
		var got []string
		for _, tick := range (countTicks{}).Ticks(tc.lo, tc.hi) {
			if tick.Label != "" {
				got = append(got, tick.Label)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ticks over [%v, %v]: %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
}

// TestEmptyRun: a run over an input without rows has a report of zero bags,
// and no bag to plot.
func TestEmptyRun(t *testing.T) {
	dir := t.TempDir()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "shop", Type: arrow.BinaryTypes.String},
		{Name: "calls", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.NewGoAllocator(), sc)
	defer b.Release()
	rec := b.NewRecord()
	defer rec.Release()
	out := runRecord(t, dir, rec, "bag: shop, value: calls", "model: {family: poisson, components: [{name: quiet, rate: 2}]}")
	page := writeReport(t, out, Options{Baseline: out})
	for _, s := range []string{`<span>bags</span><b class="stat">0</b>`, "Failed bags: 0", "0 bags in both runs"} {
		if !strings.Contains(page, s) {
			t.Errorf("report has no %q", s)
		}
	}
	err := Plot(t.Context(), out, "x", PNG, &bytes.Buffer{}, PlotOptions{})
	if err == nil || !strings.Contains(err.Error(), `bag "x" not found: run `+out+" has no bags") {
		t.Errorf("error %v", err)
	}
}

// TestBaselineMergeJoin joins weights tables with bags missing on either
// side.
func TestBaselineMergeJoin(t *testing.T) {
	src := exampleOf(t, pipeline.Bernoulli).dir
	cur, old := copyRun(t, src), copyRun(t, src)
	f1, f2 := "factory1", "factory2"
	writeWeights(t, filepath.Join(cur, "weights"), []int64{1, 1, 2, 2, 5, 5, 8, 8},
		[]string{f1, f2, f1, f2, f1, f2, f1, f2}, []float64{0.5, 0.5, 0.1, 0.9, 0.3, 0.7, 1, 0})
	writeWeights(t, filepath.Join(old, "weights"), []int64{2, 2, 5, 5, 7, 7, 9, 9},
		[]string{f1, f2, f1, f2, f1, f2, f1, f2}, []float64{0.4, 0.6, 0.3, 0.7, 0, 1, 0.2, 0.8})
	b := section(t, writeReport(t, cur, Options{Baseline: old}), "baseline")
	for _, s := range []string{
		"2 bags in both runs, 2 only in this run, 2 only in the baseline",
		`<td>0 (identical)</td><td class="n">1</td>`,
		`<td>over 0.1</td><td class="n">1</td>`,
		`<tr><td class="key">2</td><td class="n">0.3</td><td>factory1</td><td class="n">0.400 → 0.100</td><td class="n">0.600 → 0.900</td></tr>`,
	} {
		if !strings.Contains(b, s) {
			t.Errorf("baseline section has no %q:\n%s", s, b)
		}
	}
}

// TestFirstBags: the failed and non-converged lists keep the bags with
// the smallest keys whatever order the fits rows come in (mixbatch-beam's
// parts interleave bags), for integer and string keys, caps of 0, 1 and
// more than the bags, and keys offered in increasing, decreasing and
// random order.
func TestFirstBags(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	for trial := range 200 {
		m := rnd.IntN(300)
		str := trial%2 == 1
		keys := make([]bagKey, m)
		for i := range keys {
			keys[i] = bagKey{str: str, i: int64(i)*7 - 500}
			if str {
				keys[i].s = fmt.Sprintf("shop-%05d", rnd.IntN(100000))
			}
		}
		switch trial % 3 {
		case 0:
			rnd.Shuffle(m, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		case 1:
			slices.Reverse(keys)
		}
		n := []int{0, 1, 5, 100, 1000}[rnd.IntN(5)]
		b := firstBags{n: n}
		for _, k := range keys {
			b.offer(fitRow{key: k, nobs: 1})
		}
		want := slices.Clone(keys)
		slices.SortFunc(want, compareKeys)
		want = want[:min(n, m)]
		got := b.sorted()
		if len(got) != len(want) {
			t.Fatalf("trial %d: kept %d bags, want %d", trial, len(got), len(want))
		}
		for i := range got {
			if got[i].Key != want[i].String() {
				t.Fatalf("trial %d: bag %d is %s, want %s", trial, i, got[i].Key, want[i])
			}
		}
	}
}

// TestIncompleteRun: a run folder without _SUCCESS (a run still
// publishing to an object store, a partial copy) is refused by both
// commands with an error naming the folder and the missing file, as the
// README's protocol has readers wait for _SUCCESS.
func TestIncompleteRun(t *testing.T) {
	marbles := exampleOf(t, pipeline.Bernoulli)
	dir := copyRun(t, marbles.dir)
	if err := os.Remove(filepath.Join(dir, pipeline.SuccessFile)); err != nil {
		t.Fatal(err)
	}
	want := dir + " has no _SUCCESS"
	if err := Write(t.Context(), dir, &bytes.Buffer{}, Options{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("report: error %v, want one saying %q", err, want)
	}
	if err := Write(t.Context(), marbles.dir, &bytes.Buffer{}, Options{Baseline: dir}); err == nil || !strings.Contains(err.Error(), "baseline: "+want) {
		t.Errorf("report --baseline: error %v, want one saying %q", err, "baseline: "+want)
	}
	if err := Plot(t.Context(), dir, marbles.bag, PNG, &bytes.Buffer{}, PlotOptions{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("plot: error %v, want one saying %q", err, want)
	}
}

// TestBaselineFailedBags: a bag that failed in one run (a fits row with
// status failed, no weights rows) and was fitted in the other is a bag of
// both runs, counted in the band of bags without weights in one run, not
// as a bag of one run only. skipRun's bags 3, 17 and 30 failed; the other
// run is its copy with weights for all 40 bags.
func TestBaselineFailedBags(t *testing.T) {
	failed := skipRun(t)
	full := copyRun(t, failed)
	var keys []int64
	var comps []string
	var w []float64
	for bag := range int64(40) {
		keys = append(keys, bag, bag)
		comps = append(comps, "factory1", "factory2")
		w = append(w, 0.5, 0.5)
	}
	if err := os.RemoveAll(filepath.Join(full, "weights")); err != nil {
		t.Fatal(err)
	}
	writeWeights(t, filepath.Join(full, "weights"), keys, comps, w)
	setManifestParts(t, full, pipeline.WeightsTable, "part-00000.parquet")
	for _, tc := range []struct{ name, run, base string }{
		{"failed in the run", failed, full},
		{"failed in the baseline", full, failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := section(t, writeReport(t, tc.run, Options{Baseline: tc.base}), "baseline")
			for _, s := range []string{
				"40 bags in both runs, 0 only in this run, 0 only in the baseline",
				`<td>no weights in one run (failed)</td><td class="n">3</td>`,
			} {
				if !strings.Contains(b, s) {
					t.Errorf("baseline section has no %q:\n%s", s, b)
				}
			}
		})
	}
}

// TestBaselineFailedInBoth: a bag that failed in both runs has weights in
// neither, yet is a bag of both runs, counted in the band of its own (it
// was counted nowhere); a bag that failed in one run and is not in the
// other is a bag of that run only (it too was counted nowhere). Every bag
// of each run is then counted once: bags in both runs plus bags in this
// run only is the run's bags, and the bands add up to the bags in both.
func TestBaselineFailedInBoth(t *testing.T) {
	t.Run("a run and its copy", func(t *testing.T) {
		cur := skipRun(t) // bags 0 to 39, of which 3, 17 and 30 failed
		old := copyRun(t, cur)
		b := section(t, writeReport(t, cur, Options{Baseline: old}), "baseline")
		for _, s := range []string{
			"40 bags in both runs, 0 only in this run, 0 only in the baseline",
			`<td>0 (identical)</td><td class="n">37</td>`,
			`<td>no weights in one run (failed)</td><td class="n">0</td>`,
			`<td>no weights in either run (failed in both)</td><td class="n">3</td>`,
		} {
			if !strings.Contains(b, s) {
				t.Errorf("baseline section has no %q:\n%s", s, b)
			}
		}
	})

	// The run has bags 0 to 39 and the baseline 0 to 29 and 50. Bag 3
	// failed in both, 17 in the run only and 20 in the baseline only (bags
	// of both runs); 30 failed in the run and 50 in the baseline, each
	// not in the other run.
	cur := failingRun(t, bagRange(0, 40), 3, 17, 30)
	old := failingRun(t, append(bagRange(0, 30), 50), 3, 20, 50)
	for _, tc := range []struct {
		name, run, base  string
		onlyRun, onlyOld int
	}{
		{"run against baseline", cur, old, 10, 1},
		{"baseline against run", old, cur, 1, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := section(t, writeReport(t, tc.run, Options{Baseline: tc.base}), "baseline")
			for _, s := range []string{
				fmt.Sprintf("30 bags in both runs, %d only in this run, %d only in the baseline", tc.onlyRun, tc.onlyOld),
				`<td>no weights in one run (failed)</td><td class="n">2</td>`,
				`<td>no weights in either run (failed in both)</td><td class="n">1</td>`,
			} {
				if !strings.Contains(b, s) {
					t.Errorf("baseline section has no %q:\n%s", s, b)
				}
			}
			var sum int64
			for _, m := range regexp.MustCompile(`<tr><td>[^<]*</td><td class="n">(\d+)</td></tr>`).FindAllStringSubmatch(b, -1) {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				sum += n
			}
			if sum != 30 {
				t.Errorf("the bands count %d bags, want the 30 in both runs:\n%s", sum, b)
			}
		})
	}
}

// bagRange returns the keys lo, lo+1, ..., hi-1.
func bagRange(lo, hi int64) []int64 {
	var keys []int64
	for k := lo; k < hi; k++ {
		keys = append(keys, k)
	}
	return keys
}

// failingRun runs skipRun's model over bags of 25 random marbles with the
// given keys (integers or strings), of which the bags failing fail (a red
// value of 2), and returns the output folder.
func failingRun[K int64 | string](t *testing.T, bags []K, failing ...K) string {
	t.Helper()
	keyType := arrow.DataType(arrow.PrimitiveTypes.Int64)
	if _, ok := any(bags).([]string); ok {
		keyType = arrow.BinaryTypes.String
	}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "bag_id", Type: keyType},
		{Name: "red", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.NewGoAllocator(), sc)
	defer b.Release()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, bag := range bags {
		for i := range 25 {
			v := int64(rng.IntN(2))
			if i == 4 && slices.Contains(failing, bag) {
				v = 2
			}
			switch k := any(bag).(type) {
			case int64:
				b.Field(0).(*array.Int64Builder).Append(k)
			case string:
				b.Field(0).(*array.StringBuilder).Append(k)
			}
			b.Field(1).(*array.Int64Builder).Append(v)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	return runRecord(t, t.TempDir(), rec, "bag: bag_id, value: red", `
model:
  family: bernoulli
  components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]
run: {on_error: skip}`)
}

// TestBaselineKeyKinds: a run and a baseline whose bag keys are of
// different kinds (integers, strings) do not join, and the report says so
// rather than comparing. Before, the kinds were taken from the first bag
// of each table, so a run whose every bag failed (no weights) was joined
// with an integer-keyed baseline without a word. A run without a bag of
// either kind still joins.
func TestBaselineKeyKinds(t *testing.T) {
	ints := failingRun(t, bagRange(0, 10), 3)
	strs := failingRun(t, []string{"a", "b", "c"}, "b")
	strsAllFailed := failingRun(t, []string{"a", "b", "c"}, "a", "b", "c")
	intsAllFailed := failingRun(t, bagRange(0, 3), 0, 1, 2)
	intsNoneFailed := failingRun(t, bagRange(0, 10))
	for _, tc := range []struct{ name, run, base string }{
		{"strings, all failed, against integers, none failed", strsAllFailed, intsNoneFailed},
		{"integers, none failed, against strings, all failed", intsNoneFailed, strsAllFailed},
		{"integers against strings", ints, strs},
		{"strings against integers", strs, ints},
		{"strings, all failed, against integers", strsAllFailed, ints},
		{"integers against strings, all failed", ints, strsAllFailed},
		{"integers, all failed, against strings, all failed", intsAllFailed, strsAllFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteFile(t.Context(), tc.run, filepath.Join(t.TempDir(), "r.html"), Options{Baseline: tc.base})
			if err == nil || !strings.Contains(err.Error(), "bag keys") || !strings.Contains(err.Error(), "they do not join") {
				t.Errorf("error %v, want one saying the bag keys do not join", err)
			}
		})
	}
	// The same kinds join, also when every bag failed in one run.
	if err := WriteFile(t.Context(), strsAllFailed, filepath.Join(t.TempDir(), "r.html"), Options{Baseline: strs}); err != nil {
		t.Errorf("strings, all failed, against strings: %v", err)
	}
}

// TestRowsPerSecondSaysWhichTime: the report's rows per second is the
// rows over the manifest's total time, which ends before the output is
// published, while the summary line of mixbatch run divides by the whole
// elapsed time: the two differ for the same run, so the report says which
// it is.
func TestRowsPerSecondSaysWhichTime(t *testing.T) {
	dir := exampleOf(t, pipeline.Bernoulli).dir
	b, err := os.ReadFile(filepath.Join(dir, pipeline.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m pipeline.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	rate := int64(math.Round(float64(m.Summary.Rows) / m.Timings["total"]))
	want := fmt.Sprintf(`<tr><th>rows per second</th><td class="n">%s</td><td class="note">rows / total, `, formatInt(rate))
	if s := section(t, writeReport(t, dir, Options{}), "summary"); !strings.Contains(s, want) {
		t.Errorf("summary has no %q:\n%s", want, s)
	}
}

// TestManifestFilesStayInRun: the part files a manifest.json lists are
// read only inside the run's folder: a manifest not written by mixbatch
// that names ../x.parquet or an absolute path is refused, by name.
func TestManifestFilesStayInRun(t *testing.T) {
	for _, f := range []string{"../other/fits.parquet", "/etc/fits.parquet", "fits/../../x.parquet"} {
		r := &run{dir: t.TempDir(), man: pipeline.Manifest{Tables: map[string]pipeline.ManifestTable{
			pipeline.FitsTable: {Files: []string{"fits/part-00000.parquet", f}},
		}}}
		_, err := r.parts(pipeline.FitsTable)
		if err == nil || !strings.Contains(err.Error(), "not a file of the run") {
			t.Errorf("manifest listing %q: error %v, want a refusal", f, err)
		}
	}
	r := &run{dir: t.TempDir(), man: pipeline.Manifest{Tables: map[string]pipeline.ManifestTable{
		pipeline.FitsTable: {Files: []string{"fits/part-00000.parquet"}},
	}}}
	if got, err := r.parts(pipeline.FitsTable); err != nil || len(got) != 1 {
		t.Errorf("a run's own part: %v, %v", got, err)
	}
}
