package report

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/readers"
)

// PlotOptions adjust a bag plot.
type PlotOptions struct {
	// Width and Height are the image size in pixels; an SVG is sized in
	// CSS pixels (1/96 inch). Zero means 900 by 540.
	Width, Height int
}

// Default plot size in pixels.
const (
	DefaultWidth  = 900
	DefaultHeight = 540
)

// FormatOf returns the image format (PNG or SVG) of a file name's
// extension, compared case-insensitively.
func FormatOf(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png":
		return PNG, nil
	case ".svg":
		return SVG, nil
	case "":
		return "", fmt.Errorf("%s: no file extension; want .png or .svg", path)
	default:
		return "", fmt.Errorf("%s: unknown extension %q; want .png or .svg", path, ext)
	}
}

// DefaultPlotFile is the file a bag's plot goes to when none is named:
// "<bag>.png" in the current directory, with characters that are unsafe
// in file names replaced by "_".
func DefaultPlotFile(bag string) string {
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, bag)
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, "-") {
		name = "bag_" + name
	}
	return name + ".png"
}

// PlotFile draws a bag's plot (see Plot) into path, as PNG or SVG by its
// extension. The file is written only when the plot is complete.
func PlotFile(ctx context.Context, runDir, bag, path string, opts PlotOptions) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	b, err := plotBytes(ctx, runDir, bag, format, opts)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Plot draws one bag of the run in runDir and writes the image, in format
// PNG or SVG, to w: the bag's observations (a bar per value for the
// discrete families, a histogram for gaussian) and on top each component's
// contribution, weight times density scaled to counts, and their sum, the
// fitted mixture. The legend names each component with its weight (and
// the parameters learned for the bag, if the run learns them); the title
// gives the bag's total count n, the iterations and the log-likelihood
// from the fits table (and with model.components_range the bag's K).
//
// A run that learns component parameters draws each bag's components with
// the bag's own parameters, read from its rows of the weights table over
// the config's values; with model.components_range only the bag's K
// components. A learned component of weight 0 has no parameters: it is
// listed as "w = 0" and not drawn.
//
// The weights and fits come from the run's tables, the bag's rows from
// the input files listed in its manifest (which must not have changed
// since the run). bag is the key as text.
func Plot(ctx context.Context, runDir, bag, format string, w io.Writer, opts PlotOptions) error {
	b, err := plotBytes(ctx, runDir, bag, format, opts)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func plotBytes(ctx context.Context, runDir, bag, format string, opts PlotOptions) ([]byte, error) {
	if format != PNG && format != SVG {
		return nil, fmt.Errorf("unknown image format %q (want png or svg)", format)
	}
	if opts.Width == 0 {
		opts.Width = DefaultWidth
	}
	if opts.Height == 0 {
		opts.Height = DefaultHeight
	}
	if opts.Width < 100 || opts.Height < 100 || opts.Width > 10000 || opts.Height > 10000 {
		return nil, fmt.Errorf("plot size %dx%d: width and height must be between 100 and 10000 pixels", opts.Width, opts.Height)
	}
	d, err := loadBag(ctx, runDir, bag)
	if err != nil {
		return nil, err
	}
	p, leg := d.plot()
	return render(p, leg, opts.Width, opts.Height, format)
}

// bagData is what a bag plot shows.
type bagData struct {
	r   *run
	fit fitRow
	mix *pipeline.Mixture // the bag's: its K components, its learned parameters
	w   []float64         // NaN when the table has none (a failed bag)
	obs *observations
	s   *series
}

// loadBag finds a bag's fit, weights (and learned parameters) and rows.
func loadBag(ctx context.Context, runDir, bag string) (*bagData, error) {
	r, err := openRun(ctx, runDir)
	if err != nil {
		return nil, err
	}
	if f := r.cfg.Model.Family; f == pipeline.MultivariateGaussian {
		return nil, fmt.Errorf("run %s: bags of %s components cannot be plotted in this release (mixbatch report covers the run)", runDir, f)
	}
	t, err := r.bagType(ctx)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(bag, t, r.cfg.Input.Bag)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", runDir, err)
	}
	d := &bagData{r: r}
	if d.fit, err = r.findFit(ctx, key); err != nil {
		return nil, err
	}
	d.fit.key = key
	rows, err := r.findWeights(ctx, key)
	if err != nil {
		return nil, err
	}
	failed := d.fit.status == pipeline.StatusFailed
	if d.mix, d.w, err = r.bagMixture(key, d.fit, rows); err != nil {
		return nil, err
	}
	if d.obs, err = r.readBag(ctx, key, failed); err != nil {
		return nil, err
	}
	if !failed && d.obs.rows != d.fit.nobs {
		return nil, fmt.Errorf("bag %s: the input files hold %d rows of it, the run fitted %d: have they changed since the run?", key, d.obs.rows, d.fit.nobs)
	}
	d.s = computeSeries(d.mix, d.w, d.obs)
	return d, nil
}

// bagMixture returns a bag's mixture and weights: the run's components,
// or with model.components_range the bag's K of them (none for a failed
// bag), with the learned parameters of its weights rows.
func (r *run) bagMixture(key bagKey, fit fitRow, rows *bagRows) (*pipeline.Mixture, []float64, error) {
	mix, k := r.mix, r.mix.K()
	if r.selectsK() {
		if fit.status != pipeline.StatusFailed && (fit.ncomp < 1 || fit.ncomp > int64(k)) {
			return nil, nil, fmt.Errorf("bag %s: fits.%s is %d, want 1 to %d", key, nComponents, fit.ncomp, k)
		}
		k = int(fit.ncomp)
	}
	if len(mix.Learned()) > 0 || k < mix.K() {
		var err error
		if mix, err = mix.Bag(rows.params[:k]); err != nil {
			return nil, nil, fmt.Errorf("bag %s: the weights table's parameters of %w", key, err)
		}
	}
	w := rows.w[:k]
	for j, name := range mix.Names() {
		if w[j] > 0 && !mix.Complete(j) {
			return nil, nil, fmt.Errorf("bag %s: component %q has weight %v but the weights table gives it no %s",
				key, name, w[j], strings.Join(mix.Learned(), ", "))
		}
	}
	return mix, w, nil
}

// findFit returns the fits row of key, or an error saying what the run
// holds.
func (r *run) findFit(ctx context.Context, key bagKey) (fitRow, error) {
	it, err := r.fitsIter(ctx)
	if err != nil {
		return fitRow{}, err
	}
	defer it.close()
	// The smallest and largest keys, for the error: the parts of a
	// mixbatch-beam run interleave their bags, so the first and last rows
	// read are not the range.
	var n int64
	var first, last bagKey
	for it.next() {
		k := keyAt(it.arrs[0], it.i)
		if n == 0 || compareKeys(k, first) < 0 {
			first = k
			first.s = strings.Clone(k.s)
		}
		if n == 0 || compareKeys(k, last) > 0 {
			last = k
			last.s = strings.Clone(k.s)
		}
		n++
		if compareKeys(k, key) == 0 {
			f, err := it.row()
			if err != nil {
				return fitRow{}, err
			}
			f.err = strings.Clone(f.err)
			f.status = strings.Clone(f.status)
			return f, nil
		}
	}
	if err := it.close(); err != nil {
		return fitRow{}, err
	}
	if n == 0 {
		return fitRow{}, fmt.Errorf("bag %q not found: run %s has no bags", key.String(), r.dir)
	}
	return fitRow{}, fmt.Errorf("bag %q not found in run %s (%d bags of %s, from %q to %q)",
		key.String(), r.dir, n, r.cfg.Input.Bag, first.String(), last.String())
}

// bagRows is a bag's rows of the weights table, in config order: each
// component's weight (NaN without a row: a failed bag, or a component
// beyond the bag's K) and the parameters learned for it (absent when
// null: a component of weight 0).
type bagRows struct {
	w      []float64
	params []pipeline.Params
}

// findWeights returns the weights table's rows of key, with the learned
// parameters' columns.
func (r *run) findWeights(ctx context.Context, key bagKey) (*bagRows, error) {
	parts, err := r.parts(pipeline.WeightsTable)
	if err != nil {
		return nil, err
	}
	k := r.mix.K()
	out := &bagRows{w: make([]float64, k), params: make([]pipeline.Params, k)}
	for j := range out.w {
		out.w[j] = math.NaN()
	}
	comp := map[string]int{}
	for j, n := range r.mix.Names() {
		comp[n] = j
	}
	learned := r.mix.Learned()
	cols := append([]string{r.cfg.Input.Bag, "component", "weight"}, learned...)
	// Each part is in key order and holds whole bags, but the parts of a
	// mixbatch-beam run interleave: look in each part until its keys pass
	// key, and stop after the part that has it.
	for _, part := range parts {
		found, err := r.findWeightsIn(ctx, part, cols, key, comp, learned, out)
		if err != nil || found {
			return out, err
		}
	}
	return out, nil
}

// findWeightsIn reads the rows of key from one part file of the weights
// table into out, and reports whether it had any.
func (r *run) findWeightsIn(ctx context.Context, part string, cols []string, key bagKey, comp map[string]int, learned []string, out *bagRows) (found bool, err error) {
	it := newRowIter(ctx, r.mem, []string{part}, cols)
	defer it.close()
	for it.next() {
		a, i := it.arrs, it.i
		if c := compareKeys(keyAt(a[0], i), key); c < 0 {
			continue
		} else if c > 0 {
			break // the part's bags come in key order
		}
		found = true
		name := readers.String(a[1], i)
		j, ok := comp[name]
		if !ok {
			return false, fmt.Errorf("%s: bag %s: component %q is not in the run's config", it.path, key, name)
		}
		if v, ok := floatAt(a[2], i); !ok {
			return false, fmt.Errorf("%s: column \"weight\" has type %s", it.path, a[2].DataType())
		} else if !a[2].IsNull(i) {
			out.w[j] = v
		}
		p := pipeline.Params{Scalars: map[string]float64{}}
		for c, q := range learned {
			col := a[3+c]
			if col.IsNull(i) {
				continue
			}
			if q == "probs" {
				if p.Probs, err = probsAt(col, i); err != nil {
					return false, fmt.Errorf("%s: column \"probs\": %w", it.path, err)
				}
				continue
			}
			v, ok := floatAt(col, i)
			if !ok {
				return false, fmt.Errorf("%s: column %q has type %s", it.path, q, col.DataType())
			}
			p.Scalars[q] = v
		}
		out.params[j] = p
	}
	return found, it.close()
}

// formatWeight renders a weight for legends and tables.
func formatWeight(w float64) string {
	if math.IsNaN(w) {
		return "n/a"
	}
	return strconv.FormatFloat(w, 'f', 3, 64)
}

// formatCount renders a count: an integer without decimals.
func formatCount(c float64) string {
	if c == math.Trunc(c) && math.Abs(c) < 1e15 {
		return strconv.FormatFloat(c, 'f', 0, 64)
	}
	return strconv.FormatFloat(c, 'g', 6, 64)
}

// formatLL renders a log-likelihood.
func formatLL(ll float64) string { return strconv.FormatFloat(ll, 'f', 2, 64) }

// title is the bag plot's title.
func (d *bagData) title() string {
	f := d.fit
	head := fmt.Sprintf("%s = %s", d.r.cfg.Input.Bag, f.key)
	if f.status == pipeline.StatusFailed {
		t := fmt.Sprintf("%s: failed: %s", head, f.err)
		if d.obs.bad > 0 {
			t += fmt.Sprintf(" (%d unusable rows not shown)", d.obs.bad)
		}
		return t
	}
	n := "n = " + formatCount(f.total)
	if d.r.cfg.Input.Count != "" {
		n += fmt.Sprintf(" (%d rows)", f.nobs)
	}
	if d.obs.dropped > 0 {
		n += fmt.Sprintf(" (%d null rows dropped)", d.obs.dropped)
	}
	if d.r.selectsK() {
		n += fmt.Sprintf(",  K = %d by %s", f.ncomp, strings.ToUpper(d.r.cfg.Model.Select))
	}
	iters := "iterations"
	if f.iterations == 1 {
		iters = "iteration"
	}
	t := fmt.Sprintf("%s:  %s,  %d %s,  log-likelihood = %s", head, n, f.iterations, iters, formatLL(f.ll))
	if !f.converged {
		t += "  (not converged)"
	}
	return t
}

// componentLabel is component k's legend entry: its name, weight and
// learned parameters. A component without parameters (weight 0, so none
// were learned) is "w = 0".
func (d *bagData) componentLabel(k int) string {
	name, w := d.mix.Names()[k], d.w[k]
	if !d.mix.Complete(k) && w == 0 {
		return name + "  w = 0"
	}
	label := fmt.Sprintf("%s  w = %s", name, formatWeight(w))
	if !d.mix.Complete(k) || math.IsNaN(w) {
		return label
	}
	if s := paramText(d.mix, k); s != "" {
		label += "  " + s
	}
	return label
}

// maxLegendLabels is how many of a learned categorical component's most
// probable labels its legend entry names.
const maxLegendLabels = 3

// paramText renders component k's learned parameters for a legend:
// "mean 20.4 sd 1.68", "rate 7.82", "p 0.570", or a categorical
// component's most probable labels, "red: 0.500, blue: 0.250, …".
func paramText(mix *pipeline.Mixture, k int) string {
	ps := mix.Params(k)
	var parts []string
	for _, q := range mix.Learned() {
		switch q {
		case "probs":
			labels := slices.Collect(maps.Keys(ps.Probs))
			slices.SortFunc(labels, func(a, b string) int {
				return cmp.Or(cmp.Compare(ps.Probs[b], ps.Probs[a]), cmp.Compare(a, b))
			})
			var shown []string
			for _, l := range labels[:min(len(labels), maxLegendLabels)] {
				shown = append(shown, l+": "+formatWeight(ps.Probs[l]))
			}
			if len(labels) > maxLegendLabels {
				shown = append(shown, "…")
			}
			parts = append(parts, strings.Join(shown, ", "))
		case "p":
			parts = append(parts, "p "+formatWeight(ps.Scalars[q]))
		default:
			parts = append(parts, q+" "+formatParam(ps.Scalars[q]))
		}
	}
	return strings.Join(parts, " ")
}

// formatParam renders a learned mean, sd or rate with three significant
// digits, without an exponent unless it is very large or small.
func formatParam(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e-3 && a < 1e6:
		return strconv.FormatFloat(v, 'f', max(0, 2-int(math.Floor(math.Log10(a)))), 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// plot builds the bag plot and its legend. Components without parameters
// are not drawn.
func (d *bagData) plot() (*plot.Plot, *plot.Legend) {
	s, cfg := d.s, d.r.cfg
	ylabel := "count"
	if cfg.Input.Count != "" {
		ylabel = "total count"
	}
	if !s.Discrete {
		ylabel += fmt.Sprintf(" per bin (width %s)", strconv.FormatFloat(s.H, 'g', -1, 64))
	}
	p := newPlot(d.title(), cfg.Input.Value.String(), ylabel)
	leg := newLegend()
	var obs bars
	if s.Discrete {
		const width = 0.8
		for i, x := range s.X {
			obs.Lo = append(obs.Lo, x-width/2)
			obs.Hi = append(obs.Hi, x+width/2)
			obs.Y = append(obs.Y, s.Observed[i])
		}
		p.Add(obs)
		leg.Add("observed", obs)
		// Poisson counts are ordered: their pmfs are drawn as lines through
		// the bars; categories and 0/1 get a level across each bar.
		ordered := d.mix.Family() == pipeline.Poisson
		for k := range d.mix.K() {
			if !d.mix.Complete(k) {
				leg.Add(d.componentLabel(k))
				continue
			}
			var pl plot.Plotter = levels{X: s.X, Y: s.Comps[k], Width: width, Style: componentStyle(k)}
			if ordered {
				pl = curve{X: s.X, Y: s.Comps[k], Style: componentStyle(k), Dots: true}
			}
			p.Add(pl)
			leg.Add(d.componentLabel(k), pl.(plot.Thumbnailer))
		}
		var sum plot.Plotter = levels{X: s.X, Y: s.Sum, Width: width, Style: sumStyle, NoDots: true}
		if ordered {
			sum = curve{X: s.X, Y: s.Sum, Style: sumStyle}
		}
		p.Add(sum)
		leg.Add("mixture (sum)", sum.(plot.Thumbnailer))
		p.X.Tick.Marker = labelTicks{x: s.X, labels: s.Ticks, numeric: ordered}
		p.X.Min, p.X.Max = s.X[0]-0.6, s.X[len(s.X)-1]+0.6
	} else {
		for _, b := range s.Bins {
			obs.Lo = append(obs.Lo, b.Lo)
			obs.Hi = append(obs.Hi, b.Hi)
			obs.Y = append(obs.Y, b.Count)
		}
		p.Add(obs)
		leg.Add("observed", obs)
		for k := range d.mix.K() {
			if !d.mix.Complete(k) {
				leg.Add(d.componentLabel(k))
				continue
			}
			sty := componentStyle(k)
			// Binned poisson counts: a point per bin, at its centre.
			binned := d.mix.Family() == pipeline.Poisson
			c := curve{X: s.X, Y: s.Comps[k], Style: sty, Fill: areaColour(sty.Color), Dots: binned}
			p.Add(c)
			leg.Add(d.componentLabel(k), c)
		}
		sum := curve{X: s.X, Y: s.Sum, Style: sumStyle}
		p.Add(sum)
		leg.Add("mixture (sum)", sum)
		p.X.Min, p.X.Max = s.Bins[0].Lo, s.Bins[len(s.Bins)-1].Hi
	}
	_, _, _, ymax := obs.DataRange()
	for _, v := range s.Sum {
		if !math.IsNaN(v) {
			ymax = max(ymax, v)
		}
	}
	p.Y.Min, p.Y.Max = 0, math.Max(ymax*1.06, 1)
	return p, &leg
}

// labelTicks puts a labelled tick at each bar, thinned to at most about
// 25 labels.
type labelTicks struct {
	x       []float64
	labels  []string
	numeric bool // x are the values themselves: label round ones
}

// Ticks implements plot.Ticker.
func (t labelTicks) Ticks(lo, hi float64) []plot.Tick {
	every := 1
	for len(t.x)/every > 25 {
		switch every {
		case 1:
			every = 2
		case 2:
			every = 5
		default:
			every *= 2
		}
	}
	var out []plot.Tick
	for i, x := range t.x {
		if x < lo || x > hi {
			continue
		}
		tick := plot.Tick{Value: x}
		pos := i
		if t.numeric {
			pos = int(x)
		}
		if pos%every == 0 {
			tick.Label = t.labels[i]
		}
		out = append(out, tick)
	}
	return out
}
