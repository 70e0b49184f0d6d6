package report

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"

	"github.com/mixbatch/mixbatch/pipeline"
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
// fitted mixture. The legend names each component with its weight; the
// title gives the bag's total count n, the iterations and the
// log-likelihood from the fits table.
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
	w   []float64 // NaN when the table has none (a failed bag)
	obs *observations
	s   *series
}

// loadBag finds a bag's fit, weights and rows.
func loadBag(ctx context.Context, runDir, bag string) (*bagData, error) {
	r, err := openRun(runDir)
	if err != nil {
		return nil, err
	}
	str, err := r.bagIsString(ctx)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(bag, str, r.cfg.Input.Bag)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", runDir, err)
	}
	d := &bagData{r: r}
	if d.fit, err = r.findFit(ctx, key); err != nil {
		return nil, err
	}
	d.fit.key = key
	if d.w, err = r.findWeights(ctx, key); err != nil {
		return nil, err
	}
	failed := d.fit.status == pipeline.StatusFailed
	if d.obs, err = r.readBag(ctx, key, failed); err != nil {
		return nil, err
	}
	if !failed && d.obs.rows != d.fit.nobs {
		return nil, fmt.Errorf("bag %s: the input files hold %d rows of it, the run fitted %d: have they changed since the run?", key, d.obs.rows, d.fit.nobs)
	}
	d.s = computeSeries(r.mix, r.cfg.Model.Components, d.w, d.obs)
	return d, nil
}

// findFit returns the fits row of key, or an error saying what the run
// holds.
func (r *run) findFit(ctx context.Context, key bagKey) (fitRow, error) {
	it, err := r.fitsIter(ctx)
	if err != nil {
		return fitRow{}, err
	}
	defer it.close()
	var n int64
	var first, last bagKey
	for it.next() {
		k := keyAt(it.arrs[0], it.i)
		if n == 0 {
			first = k
			first.s = strings.Clone(k.s)
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
		last = k
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

// findWeights returns the weights of key, NaN where the table has none.
func (r *run) findWeights(ctx context.Context, key bagKey) ([]float64, error) {
	it, err := r.weightsIter(ctx)
	if err != nil {
		return nil, err
	}
	defer it.close()
	for {
		bw, ok := it.next()
		if !ok {
			break
		}
		if c := compareKeys(bw.key, key); c == 0 {
			return append([]float64(nil), bw.w...), nil
		} else if c > 0 {
			break // bags come in key order
		}
	}
	if err := it.close(); err != nil {
		return nil, err
	}
	w := make([]float64, r.mix.K())
	for i := range w {
		w[i] = math.NaN()
	}
	return w, nil
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
	t := fmt.Sprintf("%s:  %s,  %d iterations,  log-likelihood = %s", head, n, f.iterations, formatLL(f.ll))
	if !f.converged {
		t += "  (not converged)"
	}
	return t
}

// componentLabel is component k's legend entry.
func componentLabel(name string, w float64) string {
	return fmt.Sprintf("%s  w = %s", name, formatWeight(w))
}

// plot builds the bag plot and its legend.
func (d *bagData) plot() (*plot.Plot, *plot.Legend) {
	s, cfg := d.s, d.r.cfg
	ylabel := "count"
	if cfg.Input.Count != "" {
		ylabel = "total count"
	}
	if !s.Discrete {
		ylabel += fmt.Sprintf(" per bin (width %s)", strconv.FormatFloat(s.H, 'g', -1, 64))
	}
	p := newPlot(d.title(), cfg.Input.Value, ylabel)
	leg := newLegend()
	names := d.r.mix.Names()
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
		ordered := d.r.mix.Family() == pipeline.Poisson
		for k, name := range names {
			var pl plot.Plotter = levels{X: s.X, Y: s.Comps[k], Width: width, Style: componentStyle(k)}
			if ordered {
				pl = curve{X: s.X, Y: s.Comps[k], Style: componentStyle(k), Dots: true}
			}
			p.Add(pl)
			leg.Add(componentLabel(name, d.w[k]), pl.(plot.Thumbnailer))
		}
		var sum plot.Plotter = levels{X: s.X, Y: s.Sum, Width: width, Style: sumStyle, NoDots: true}
		if ordered {
			sum = curve{X: s.X, Y: s.Sum, Style: sumStyle}
		}
		p.Add(sum)
		leg.Add("mixture (sum)", sum.(plot.Thumbnailer))
		p.X.Tick.Marker = labelTicks{x: s.X, labels: s.Ticks, numeric: d.r.mix.Family() == pipeline.Poisson}
		p.X.Min, p.X.Max = s.X[0]-0.6, s.X[len(s.X)-1]+0.6
	} else {
		for _, b := range s.Bins {
			obs.Lo = append(obs.Lo, b.Lo)
			obs.Hi = append(obs.Hi, b.Hi)
			obs.Y = append(obs.Y, b.Count)
		}
		p.Add(obs)
		leg.Add("observed", obs)
		for k, name := range names {
			sty := componentStyle(k)
			c := curve{X: s.X, Y: s.Comps[k], Style: sty, Fill: areaColour(sty.Color)}
			p.Add(c)
			leg.Add(componentLabel(name, d.w[k]), c)
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
