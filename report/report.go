// Package report shows what a mixbatch run found: a plot of one bag's
// observations with its fitted mixture (Plot), and a self-contained HTML
// report over every bag of a run (Write). Both read only a finished run's
// output folder (manifest.json, weights/, fits/) and, for a bag plot, the
// run's input files.
package report

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"gonum.org/v1/plot"

	"github.com/mixbatch/mixbatch/pipeline"
)

// Options adjust a report.
type Options struct {
	// Baseline is the output folder of an earlier run to compare with, by
	// bag key; "" for none.
	Baseline string
	// Top is how many of the bags that moved most against the baseline
	// to list; 0 means 50.
	Top int
	// MaxListed caps the failed and the non-converged bags listed (the
	// first by key; the counts are always complete); 0 means 100.
	MaxListed int
}

// formatG renders a statistic with four significant digits; "–" for NaN
// (no value: a null gap, a mean of nothing).
func formatG(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// Default list lengths.
const (
	DefaultTop       = 50
	DefaultMaxListed = 100
)

// Histogram sizes in pixels.
const (
	histWidth  = 560
	histHeight = 300
	weightBins = 50
)

//go:embed report.html.tmpl
var reportTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":    formatInt,
	"weight": formatWeight,
	"ll":     formatLL,
	"g":      formatG,
	"pct":    formatPct,
	"secs":   func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) + " s" },
	"bytes":  formatBytes,
}).Parse(reportTemplate))

// WriteFile writes the report of the run in runDir (see Write) to path,
// which must end in .html or .htm. The file is written only when the
// report is complete.
func WriteFile(ctx context.Context, runDir, path string, opts Options) error {
	if err := CheckHTMLFile(path); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := Write(ctx, runDir, &buf, opts); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// CheckHTMLFile checks that a report's file name ends in .html or .htm.
func CheckHTMLFile(path string) error {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".html", ".htm":
		return nil
	case "":
		return fmt.Errorf("%s: no file extension; the report is HTML: want .html", path)
	default:
		return fmt.Errorf("%s: unknown extension %q; the report is HTML: want .html", path, ext)
	}
}

// Write writes a self-contained HTML report of the run in runDir to w: the
// run's summary, timings and config; histograms of each component's weight
// across bags, of the iterations and of the log-likelihood per
// observation; the failed and the non-converged bags; and, with
// opts.Baseline, the bags whose weights moved most against that earlier
// run. For a run that learns component parameters it adds a histogram of
// each learned scalar parameter (p, mean, sd, rate) across bags, a series
// per component, and with model.components_range a table and histogram of
// the number of components selected per bag (fits.n_components). Images
// are inline PNG; the page needs no network and no script.
//
// The report's time is linear and its memory constant in the number of
// bags: the fits and weights tables are streamed record batch by record
// batch into fixed-bin histograms (weights in [0, 1]; iterations counted
// exactly per distinct value, of which there are at most em.max_iter + 1;
// log-likelihoods in a histogram whose bin width doubles as the range
// grows; learned parameters likewise, in bins shared by the components),
// capped lists of failed and non-converged bags, and a bounded
// heap of the top movers. The baseline is joined by a merge join of the two
// weights tables, whose part files mixbatch writes each sorted by bag key
// (checked as they stream; a local run's parts follow one another,
// mixbatch-beam's interleave, and the parts are merged), so no per-bag map
// is held either. The HTML's size does not
// depend on the number of bags.
func Write(ctx context.Context, runDir string, w io.Writer, opts Options) error {
	if opts.Top == 0 {
		opts.Top = DefaultTop
	}
	if opts.MaxListed == 0 {
		opts.MaxListed = DefaultMaxListed
	}
	r, err := openRun(ctx, runDir)
	if err != nil {
		return err
	}
	var base *run
	if opts.Baseline != "" {
		if base, err = openRun(ctx, opts.Baseline); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
	}
	page, err := build(ctx, r, base, opts)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, page); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// page is what the template shows.
type page struct {
	Dir, Version, ConfigPath, Digest string
	Started, Finished                string
	Family                           string
	Bag                              string // the bag column
	Config                           string // YAML
	Manifest                         pipeline.Summary
	Timings                          []timing
	Inputs                           []pipeline.ManifestInput
	InputCount, InputsMore           int64
	RowsPerSecond                    int64 // rows / timings total, not the run's summary line's rows / elapsed

	Bags, OK, Failed, NotConverged int64
	Rows                           int64

	Weights    []componentView
	Model      string      // what is fitted: family, components, what is learned
	Learned    bool        // component parameters are learned (no gap certificate)
	SelectsK   *kView      // with model.components_range: the K selected per bag
	Params     []paramView // the learned scalar parameters across bags
	Iterations picture
	IterStats  summary
	LLPerObs   picture
	LLStats    summary
	NoFiniteLL int64 // ok bags without a finite log-likelihood per observation
	WeightBins int
	AnyMissing bool // some bag has no weight for some component

	FailedBags, NotConvBags     []bagView
	FailedListed, NotConvListed int64
	Baseline                    *baselineView
	Mismatch                    string // the manifest's summary disagreeing with the fits table
}

// bagView is a listed bag.
type bagView struct {
	Key              string
	Rows, Iterations int64
	Gap, LL          float64
	Error            string
}

// viewBag copies what the lists show of a fits row (out of the batch's
// memory).
func viewBag(f fitRow) bagView {
	return bagView{Key: strings.Clone(f.key.String()), Rows: f.nobs, Iterations: f.iterations,
		Gap: f.gap, LL: f.ll, Error: strings.Clone(f.err)}
}

type timing struct {
	Stage   string
	Seconds float64
}

// picture is an inline PNG, as an <img> element. It is built as trusted
// HTML because html/template would escape every "+" of the base64 data in
// an attribute as "&#43;", a third more bytes.
type picture struct {
	Tag template.HTML
}

// componentView is one component's weight distribution.
type componentView struct {
	Name      string
	Stats     summary
	Bags      int64
	Zero, One int64 // bags with weight < 0.001, > 0.999
	Missing   int64 // bags without a weight (failed)
	Image     picture
}

// kView is the distribution of the number of components selected per bag
// (model.components_range).
type kView struct {
	Lo, Hi    int
	Criterion string // BIC or AIC
	Rows      []kRow
	Bags      int64 // ok bags
	Image     picture
}

type kRow struct {
	K    int
	Bags int64
}

// paramView is a learned scalar parameter's distribution across bags, per
// component.
type paramView struct {
	Name  string
	Comps []paramStats
	Image picture
}

type paramStats struct {
	Name  string
	Stats summary // over the bags that have it (weight above 0, K large enough)
}

// baselineView is the comparison with an earlier run.
type baselineView struct {
	Dir                      string
	Joined, OnlyRun, OnlyOld int64
	FailedBoth               int64    // bags of both runs that failed in both (in Joined)
	Names                    []string // components compared, in the run's order
	Dropped                  []string // components in only one of the runs
	Bands                    []band
	Movers                   []moverView
	Top                      int
}

type band struct {
	Label string
	Bags  int64
}

type moverView struct {
	Key     string
	Delta   float64
	Comp    string
	Changes []change
}

type change struct {
	Old, New float64
}

// rawManifest is the part of the manifest read as it is written.
type rawManifest struct {
	Config json.RawMessage `json:"config"`
}

func build(ctx context.Context, r *run, base *run, opts Options) (*page, error) {
	m := &r.man
	p := &page{
		Dir: r.dir, Version: m.Version, ConfigPath: m.ConfigPath, Digest: m.ConfigDigest,
		Family: r.mix.Family(), Bag: r.cfg.Input.Bag, Manifest: m.Summary, WeightBins: weightBins,
	}
	if !m.Started.IsZero() {
		p.Started = m.Started.Format(time.RFC3339)
		p.Finished = m.Finished.Format(time.RFC3339)
	}
	for _, s := range []string{"read", "fit", "write", "total"} {
		if v, ok := m.Timings[s]; ok {
			p.Timings = append(p.Timings, timing{s, v})
		}
	}
	if t := m.Timings["total"]; t > 0 {
		p.RowsPerSecond = int64(math.Round(float64(m.Summary.Rows) / t))
	}
	const maxInputs = 20
	p.Inputs = m.Inputs[:min(len(m.Inputs), maxInputs)]
	p.InputCount = int64(len(m.Inputs))
	p.InputsMore = p.InputCount - int64(len(p.Inputs))
	p.describeModel(r)
	if yml, err := r.configYAML(); err == nil {
		p.Config = yml
	} else {
		return nil, err
	}
	if err := p.scanFits(ctx, r, opts); err != nil {
		return nil, err
	}
	if err := p.scanWeights(ctx, r, base, opts); err != nil {
		return nil, err
	}
	s := m.Summary
	if s.Bags != 0 && (int64(s.Bags) != p.Bags || int64(s.BagsFailed) != p.Failed || int64(s.BagsNotConverged) != p.NotConverged) {
		p.Mismatch = fmt.Sprintf("the manifest's summary says %d bags, %d failed, %d not converged; the fits table has %d, %d, %d",
			s.Bags, s.BagsFailed, s.BagsNotConverged, p.Bags, p.Failed, p.NotConverged)
	}
	return p, nil
}

// describeModel says what the run fits: "gaussian mixture of 3
// components, mean and sd learned per bag", "poisson mixture of 1 to 3
// components (c1..cK, K chosen per bag by BIC), rate learned per bag".
func (p *page) describeModel(r *run) {
	mc := &r.cfg.Model
	d := fmt.Sprintf("%s mixture of %d components", r.mix.Family(), r.mix.K())
	if r.selectsK() {
		crit := strings.ToUpper(mc.Select)
		d = fmt.Sprintf("%s mixture of %d to %d components (c1..cK, K chosen per bag by %s)", r.mix.Family(), mc.ComponentsRange[0], mc.ComponentsRange[1], crit)
		p.SelectsK = &kView{Lo: mc.ComponentsRange[0], Hi: mc.ComponentsRange[1], Criterion: crit}
	}
	if learned := r.mix.Learned(); len(learned) > 0 {
		p.Learned = true
		where := "per bag"
		if mc.Scope == pipeline.ScopeShared {
			where = "shared by all bags"
		}
		names := strings.Join(learned, ", ")
		if n := len(learned); n > 1 {
			names = strings.Join(learned[:n-1], ", ") + " and " + learned[n-1]
		}
		d += fmt.Sprintf(", %s learned %s", names, where)
	}
	p.Model = d
}

// configYAML renders the manifest's config as YAML, keys in the order the
// manifest gives them.
func (r *run) configYAML() (string, error) {
	var raw rawManifest
	if err := json.Unmarshal(r.manBytes, &raw); err != nil {
		return "", err
	}
	return jsonToYAML(raw.Config)
}

// scanFits streams the fits table once.
func (p *page) scanFits(ctx context.Context, r *run, opts Options) error {
	it, err := r.fitsIter(ctx)
	if err != nil {
		return err
	}
	defer it.close()
	iters := intHist{}
	var ll adaptiveHist
	var ks []int64 // ks[K]: ok bags with K components selected
	if p.SelectsK != nil {
		ks = make([]int64, p.SelectsK.Hi+1)
	}
	// The bags listed are the first by key. A local run's fits parts
	// follow one another in key order, but mixbatch-beam's shards
	// interleave, so they are kept by key, not as read.
	failed, notConv := firstBags{n: opts.MaxListed}, firstBags{n: opts.MaxListed}
	for it.next() {
		f, err := it.row()
		if err != nil {
			return err
		}
		p.Bags++
		p.Rows += f.nobs
		if f.status == pipeline.StatusFailed {
			p.Failed++
			failed.offer(f)
			continue
		}
		p.OK++
		if ks != nil {
			if f.ncomp < int64(p.SelectsK.Lo) || f.ncomp > int64(p.SelectsK.Hi) {
				return fmt.Errorf("%s: bag %s: %s is %d, outside model.components_range [%d, %d]",
					it.path, f.key, nComponents, f.ncomp, p.SelectsK.Lo, p.SelectsK.Hi)
			}
			ks[f.ncomp]++
		}
		iters[f.iterations]++
		p.IterStats.add(float64(f.iterations))
		if v := f.ll / f.total; f.total > 0 && !math.IsNaN(v) && !math.IsInf(v, 0) {
			ll.add(v)
		} else {
			p.NoFiniteLL++
		}
		if !f.converged {
			p.NotConverged++
			notConv.offer(f)
		}
	}
	if err := it.close(); err != nil {
		return err
	}
	p.FailedBags, p.NotConvBags = failed.sorted(), notConv.sorted()
	p.FailedListed, p.NotConvListed = int64(len(p.FailedBags)), int64(len(p.NotConvBags))
	p.LLStats = ll.stats
	if p.Iterations, err = histImage(iters.bins(), "E-steps per bag", "iterations", "bags", palette[0]); err != nil {
		return err
	}
	if p.LLPerObs, err = histImage(ll.bins(), "log-likelihood per observation", "log-likelihood / total count", "bags", palette[2]); err != nil {
		return err
	}
	if kv := p.SelectsK; kv != nil {
		kv.Bags = p.OK
		var bins []bin
		var xs []float64
		var labels []string
		for k := kv.Lo; k <= kv.Hi; k++ {
			kv.Rows = append(kv.Rows, kRow{K: k, Bags: ks[k]})
			bins = append(bins, bin{Lo: float64(k) - 0.4, Hi: float64(k) + 0.4, Count: float64(ks[k])})
			xs = append(xs, float64(k))
			labels = append(labels, strconv.Itoa(k))
		}
		pl := histPlot(bins, "components K selected per bag ("+kv.Criterion+")", "K", "bags", palette[4])
		pl.X.Min, pl.X.Max = float64(kv.Lo)-0.6, float64(kv.Hi)+0.6
		pl.X.Tick.Marker = labelTicks{x: xs, labels: labels, numeric: true}
		if kv.Image, err = pictureOf(pl, nil, pl.Title.Text); err != nil {
			return err
		}
	}
	return nil
}

// scanWeights streams the weights table once, merge-joined with the
// baseline's when there is one.
func (p *page) scanWeights(ctx context.Context, r, base *run, opts Options) error {
	names := r.mix.Names()
	hists := make([]*fixedHist, len(names))
	p.Weights = make([]componentView, len(names))
	for k := range names {
		hists[k] = newFixedHist(0, 1, weightBins)
		p.Weights[k] = componentView{Name: names[k]}
	}
	var scalars []string // learned scalar parameters, each a column
	for _, q := range r.mix.Learned() {
		// probs are maps, and a multivariate mean or cov a list: their
		// columns are not summarised here.
		if q != "probs" && r.mix.Family() != pipeline.MultivariateGaussian {
			scalars = append(scalars, q)
		}
	}
	params := make([]adaptiveHist, len(scalars))
	count := func(bw *bagWeights) {
		for q, vs := range bw.params {
			for k, v := range vs {
				params[q].addTo(k, v)
			}
		}
		for k, v := range bw.w {
			cv := &p.Weights[k]
			cv.Bags++
			if math.IsNaN(v) {
				cv.Missing++
				continue
			}
			hists[k].add(v)
			cv.Stats.add(v)
			if v < 0.001 {
				cv.Zero++
			}
			if v > 0.999 {
				cv.One++
			}
		}
	}
	cur, err := r.weightsIter(ctx, scalars...)
	if err != nil {
		return err
	}
	defer cur.close()
	if base == nil {
		for {
			bw, ok := cur.next()
			if !ok {
				break
			}
			count(bw)
		}
		if err := cur.close(); err != nil {
			return err
		}
	} else if err := p.join(ctx, r, base, cur, count, opts); err != nil {
		return err
	}
	for k := range names {
		cv := &p.Weights[k]
		p.AnyMissing = p.AnyMissing || cv.Missing > 0
		img, err := histImage(hists[k].bins(), "weight of "+names[k], "weight", "bags", palette[k%len(palette)])
		if err != nil {
			return err
		}
		cv.Image = img
	}
	for q, name := range scalars {
		pv := paramView{Name: name}
		for k, st := range params[q].series {
			if st.N > 0 {
				pv.Comps = append(pv.Comps, paramStats{Name: names[k], Stats: st})
			}
		}
		if pv.Image, err = paramImage(&params[q], names, name); err != nil {
			return err
		}
		p.Params = append(p.Params, pv)
	}
	return nil
}

// join merge-joins the run's weights with the baseline's by bag key.
func (p *page) join(ctx context.Context, r, base *run, cur *mergedWeights, count func(*bagWeights), opts Options) error {
	names := r.mix.Names()
	if base.mix.Family() != r.mix.Family() {
		return fmt.Errorf("baseline %s fits the %s family, run %s the %s family: their weights do not compare",
			base.dir, base.mix.Family(), r.dir, r.mix.Family())
	}
	bv := &baselineView{Dir: base.dir, Top: opts.Top}
	// pairs[i] = {index in run, index in baseline} of a shared component.
	var pairs [][2]int
	oldIndex := map[string]int{}
	for j, n := range base.mix.Names() {
		oldIndex[n] = j
	}
	for k, n := range names {
		if j, ok := oldIndex[n]; ok {
			pairs = append(pairs, [2]int{k, j})
			bv.Names = append(bv.Names, n)
			delete(oldIndex, n)
		} else {
			bv.Dropped = append(bv.Dropped, n+" (run only)")
		}
	}
	for _, n := range base.mix.Names() {
		if _, ok := oldIndex[n]; ok {
			bv.Dropped = append(bv.Dropped, n+" (baseline only)")
		}
	}
	if len(pairs) == 0 {
		return fmt.Errorf("baseline %s shares no component name with run %s", base.dir, r.dir)
	}
	if err := sameKeyKind(ctx, r, base); err != nil {
		return err
	}
	old, err := base.weightsIter(ctx)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	defer old.close()
	// A bag that failed in one run has no weights there: it is a bag of
	// both runs, without weights in one, not a bag of the other only. One
	// that failed in both has weights in neither: the fits tables, walked
	// in step with the weights, find it.
	fj, err := newFitsJoin(ctx, r, base)
	if fj != nil {
		defer fj.close()
	}
	if err != nil {
		return err
	}
	bands := make([]int64, len(bandLabels))
	top := topMovers{n: opts.Top}
	curW, oldW := make([]float64, len(pairs)), make([]float64, len(pairs))
	a, okA := cur.next()
	b, okB := old.next()
	for okA || okB {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := 0
		switch {
		case !okB:
			c = -1
		case !okA:
			c = 1
		default:
			c = compareKeys(a.key, b.key)
		}
		switch {
		case c < 0:
			_, failed, err := fj.upTo(a.key)
			if err != nil {
				return err
			}
			if failed {
				bv.Joined++
				bands[len(bands)-1]++
			} else {
				bv.OnlyRun++
			}
			count(a)
			a, okA = cur.next()
		case c > 0:
			failed, _, err := fj.upTo(b.key)
			if err != nil {
				return err
			}
			if failed {
				bv.Joined++
				bands[len(bands)-1]++
			} else {
				bv.OnlyOld++
			}
			b, okB = old.next()
		default:
			if _, _, err := fj.upTo(a.key); err != nil {
				return err
			}
			bv.Joined++
			count(a)
			delta, arg, both := 0.0, 0, false
			for i, pr := range pairs {
				curW[i], oldW[i] = a.w[pr[0]], b.w[pr[1]]
				if math.IsNaN(curW[i]) && math.IsNaN(oldW[i]) {
					continue // in neither run (components_range: a K below it)
				}
				both = true
				d := math.Abs(curW[i] - oldW[i])
				if math.IsNaN(d) {
					delta = math.NaN()
					break
				}
				if d > delta {
					delta, arg = d, i
				}
			}
			if !both {
				delta = math.NaN() // no shared component has a weight in either run
			}
			bands[bandOf(delta)]++
			if delta > 0 {
				top.offer(mover{key: a.key, delta: delta, comp: arg, cur: curW, old: oldW})
			}
			a, okA = cur.next()
			b, okB = old.next()
		}
	}
	if err := cur.close(); err != nil {
		return err
	}
	if err := old.close(); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	if err := fj.rest(); err != nil {
		return err
	}
	if err := fj.close(); err != nil {
		return err
	}
	bv.FailedBoth = fj.both
	bv.Joined += fj.both
	bv.OnlyRun += fj.onlyRun
	bv.OnlyOld += fj.onlyOld
	for i, n := range bands {
		label := bandLabels[i]
		if i == len(bands)-1 && (r.selectsK() || base.selectsK()) {
			label = "a weight in one run only (failed, or another K selected)"
		}
		bv.Bands = append(bv.Bands, band{Label: label, Bags: n})
	}
	bv.Bands = append(bv.Bands, band{Label: failedBothLabel, Bags: fj.both})
	for _, m := range top.sorted() {
		mv := moverView{Key: m.key.String(), Delta: m.delta, Comp: bv.Names[m.comp]}
		for i := range m.cur {
			mv.Changes = append(mv.Changes, change{Old: m.old[i], New: m.cur[i]})
		}
		bv.Movers = append(bv.Movers, mv)
	}
	p.Baseline = bv
	return nil
}

// Bands of max |Δweight| that the baseline comparison counts bags in; the
// last is for bags with a component's weight on one side only (failed, or
// with model.components_range a different K selected).
var (
	bandEdges  = []float64{0, 1e-8, 1e-4, 0.01, 0.1, math.Inf(1)}
	bandLabels = []string{"0 (identical)", "(0, 1e-8]", "(1e-8, 1e-4]", "(1e-4, 0.01]", "(0.01, 0.1]", "over 0.1", "no weights in one run (failed)"}
)

// failedBothLabel is the band, after bandLabels, of the bags that failed
// in both runs.
const failedBothLabel = "no weights in either run (failed in both)"

// fitsJoin walks the failed bags of a run and of its baseline (their
// fits tables) side by side, in step with the merge join of their
// weights, which asks it about each bag that has weights in either run,
// in increasing key order. It answers whether that bag failed in each run,
// and counts the failed bags in between, which have weights in neither
// run: those that failed in both runs, and those that failed in one run
// and are not in the other (not in its weights, not failed there).
type fitsJoin struct {
	cur, old *failedKeys
	a, b     *bagKey // each run's next failed bag; nil once done

	both, onlyRun, onlyOld int64 // bags with weights in neither run
}

func newFitsJoin(ctx context.Context, r, base *run) (*fitsJoin, error) {
	j := &fitsJoin{}
	var err error
	if j.cur, err = r.failedKeys(ctx); err != nil {
		return j, err
	}
	if j.old, err = base.failedKeys(ctx); err != nil {
		return j, fmt.Errorf("baseline: %w", err)
	}
	if err := j.nextCur(); err != nil {
		return j, err
	}
	if err := j.nextOld(); err != nil {
		return j, err
	}
	return j, nil
}

func (j *fitsJoin) nextCur() (err error) {
	j.a, err = j.cur.next()
	return err
}

func (j *fitsJoin) nextOld() (err error) {
	if j.b, err = j.old.next(); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	return nil
}

// upTo counts the failed bags before key, moves past key and reports
// whether bag key failed in the run and in the baseline. Keys must be
// asked in increasing order.
func (j *fitsJoin) upTo(key bagKey) (curFailed, oldFailed bool, err error) {
	if err := j.skip(&key); err != nil {
		return false, false, err
	}
	if j.a != nil && compareKeys(*j.a, key) == 0 {
		curFailed = true
		if err := j.nextCur(); err != nil {
			return false, false, err
		}
	}
	if j.b != nil && compareKeys(*j.b, key) == 0 {
		oldFailed = true
		if err := j.nextOld(); err != nil {
			return false, false, err
		}
	}
	return curFailed, oldFailed, nil
}

// rest counts the failed bags after the last key asked about.
func (j *fitsJoin) rest() error { return j.skip(nil) }

// skip counts the failed bags before key (all that are left if key is
// nil).
func (j *fitsJoin) skip(key *bagKey) error {
	before := func(k *bagKey) bool { return k != nil && (key == nil || compareKeys(*k, *key) < 0) }
	for before(j.a) || before(j.b) {
		c := 0
		switch {
		case !before(j.b):
			c = -1
		case !before(j.a):
			c = 1
		default:
			c = compareKeys(*j.a, *j.b)
		}
		switch {
		case c < 0:
			j.onlyRun++
		case c > 0:
			j.onlyOld++
		default:
			j.both++
		}
		if c <= 0 {
			if err := j.nextCur(); err != nil {
				return err
			}
		}
		if c >= 0 {
			if err := j.nextOld(); err != nil {
				return err
			}
		}
	}
	return nil
}

// close releases both fits tables and returns the first error.
func (j *fitsJoin) close() error {
	var err error
	if j.cur != nil {
		err = j.cur.close()
	}
	if j.old != nil {
		if e := j.old.close(); err == nil && e != nil {
			err = fmt.Errorf("baseline: %w", e)
		}
	}
	return err
}

// bandOf returns the band of a max |Δweight|.
func bandOf(delta float64) int {
	if math.IsNaN(delta) {
		return len(bandLabels) - 1
	}
	return slices.IndexFunc(bandEdges, func(e float64) bool { return delta <= e })
}

// sameKeyKind checks that the run's and the baseline's bag keys are of
// one kind, strings, integers, or dates or timestamps of one type, from
// their fits tables' schemas (which every bag, failed or not, is in):
// keys of different kinds do not join. It reads the schemas rather than
// the first keys, which a run whose every bag failed has none of in its
// weights. A run without bags joins any other.
func sameKeyKind(ctx context.Context, r, base *run) error {
	kind := func(x *run) (string, error) {
		if parts, err := x.parts(pipeline.FitsTable); err != nil || len(parts) == 0 {
			return "", err
		}
		t, err := x.bagType(ctx)
		switch {
		case err != nil:
			return "", err
		case isStringType(t):
			return "string", nil
		case arrow.IsInteger(pipeline.LogicalType(t).ID()):
			return "integer", nil
		}
		return pipeline.LogicalType(t).String(), nil
	}
	a, err := kind(r)
	if err != nil {
		return err
	}
	b, err := kind(base)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	if a != "" && b != "" && a != b {
		return fmt.Errorf("run %s has %s bag keys, baseline %s %s ones: they do not join", r.dir, a, base.dir, b)
	}
	return nil
}

// histImage draws a histogram as an inline PNG.
func histImage(bins []bin, title, xlabel, ylabel string, colour color.Color) (picture, error) {
	return pictureOf(histPlot(bins, title, xlabel, ylabel, colour), nil, title)
}

// histPlot is a histogram's plot.
func histPlot(bins []bin, title, xlabel, ylabel string, colour color.Color) *plot.Plot {
	p := newPlot(title, xlabel, ylabel)
	if len(bins) == 0 {
		bins = []bin{{Lo: 0, Hi: 1}}
	}
	bs := bars{Fill: colour}
	ymax := 0.0
	for _, b := range bins {
		bs.Lo = append(bs.Lo, b.Lo)
		bs.Hi = append(bs.Hi, b.Hi)
		bs.Y = append(bs.Y, b.Count)
		ymax = max(ymax, b.Count)
	}
	p.Add(bs)
	p.X.Min, p.X.Max = bins[0].Lo, bins[len(bins)-1].Hi
	p.Y.Min, p.Y.Max = 0, math.Max(ymax*1.06, 1)
	return p
}

// paramImage draws a learned parameter's histograms across bags, one
// outline per component in its colour, over shared bins, as an inline PNG.
func paramImage(h *adaptiveHist, names []string, param string) (picture, error) {
	title := param + " across bags, per component"
	p := newPlot(title, param, "bags")
	leg := newLegend()
	all := h.seriesBins()
	ymax := 0.0
	for k, bins := range all {
		st := stairs{Bins: bins, Style: componentStyle(k), Fill: areaColour(palette[k%len(palette)])}
		if h.series[k].N == 0 {
			continue
		}
		p.Add(st)
		leg.Add(names[k], st)
		for _, b := range bins {
			ymax = max(ymax, b.Count)
		}
	}
	if len(all) > 0 {
		p.X.Min, p.X.Max = all[0][0].Lo, all[0][len(all[0])-1].Hi
	} else {
		p.X.Min, p.X.Max = 0, 1
	}
	p.Y.Min, p.Y.Max = 0, math.Max(ymax*1.06, 1)
	return pictureOf(p, &leg, title)
}

// pictureOf renders a report plot (and its legend, if any) as an inline
// PNG of histWidth by histHeight pixels.
func pictureOf(p *plot.Plot, leg *plot.Legend, alt string) (picture, error) {
	png, err := render(p, leg, histWidth, histHeight, PNG)
	if err != nil {
		return picture{}, err
	}
	tag := fmt.Sprintf(`<img src="data:image/png;base64,%s" alt="%s" width="%d" height="%d">`,
		base64.StdEncoding.EncodeToString(png), html.EscapeString(alt), histWidth, histHeight)
	return picture{Tag: template.HTML(tag)}, nil
}
