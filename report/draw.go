package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Image formats.
const (
	PNG = "png"
	SVG = "svg"
)

// dpi is the resolution of PNG images: a size in pixels is that many
// 1/96 inch.
const dpi = 96

// pxLen converts pixels to a vg length at dpi.
func pxLen(px int) vg.Length { return vg.Length(px) * vg.Inch / dpi }

var (
	sans = font.Font{Typeface: "Liberation", Variant: "Sans"}
	bold = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}

	// palette is Okabe and Ito's colour-blind safe set, darkest first;
	// components past its end cycle with dashes.
	palette = []color.Color{
		rgb(0x00, 0x72, 0xB2), // blue
		rgb(0xD5, 0x5E, 0x00), // vermillion
		rgb(0x00, 0x9E, 0x73), // bluish green
		rgb(0xCC, 0x79, 0xA7), // reddish purple
		rgb(0xE6, 0x9F, 0x00), // orange
		rgb(0x56, 0xB4, 0xE9), // sky blue
	}
	barFill    = rgb(0xC9, 0xCF, 0xD6)
	barEdge    = rgb(0xA4, 0xAC, 0xB6)
	gridColour = rgb(0xE4, 0xE7, 0xEB)
)

func rgb(r, g, b uint8) color.Color { return color.RGBA{R: r, G: g, B: b, A: 0xFF} }

// componentStyle is component k's line style.
func componentStyle(k int) draw.LineStyle {
	sty := draw.LineStyle{Color: palette[k%len(palette)], Width: vg.Points(2)}
	if k >= len(palette) {
		sty.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	return sty
}

// sumStyle is the mixture's line style: dashed, drawn over the components,
// with which it coincides wherever one component dominates.
var sumStyle = draw.LineStyle{Color: color.Black, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}

// areaColour is a translucent version of a component's colour, to fill
// under its curve.
func areaColour(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	const a = 0x30
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}

// newPlot returns a plot with mixbatch's fonts and a light grid.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(bold, 13)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 11)
		a.Tick.Label.Font = font.From(sans, 10)
		a.Color = rgb(0x55, 0x5B, 0x63)
		a.Tick.Color = a.Color
		a.Padding = vg.Points(2)
	}
	p.Y.Tick.Marker = countTicks{}
	p.Legend.TextStyle.Font = font.From(sans, 11)
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	g.Horizontal = draw.LineStyle{Color: gridColour, Width: vg.Points(0.7)}
	p.Add(g)
	return p
}

// newLegend returns an empty legend in mixbatch's font, for drawing beside
// the plot.
func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(sans, 11)
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(22)
	l.Padding = vg.Points(4)
	return l
}

// render draws p into an image of the given size in pixels, with the
// legend (if it has entries) in a column of its own on the right, so that
// it never covers the data.
func render(p *plot.Plot, leg *plot.Legend, width, height int, format string) ([]byte, error) {
	w, h := pxLen(width), pxLen(height)
	var c vg.CanvasWriterTo
	switch format {
	case PNG:
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))}
	case SVG:
		c = vgsvg.New(w, h)
	default:
		return nil, fmt.Errorf("unknown image format %q (want png or svg)", format)
	}
	margin := vg.Points(6)
	dc := draw.Crop(draw.New(c), margin, -margin, margin, -margin)
	if leg != nil {
		lw := leg.Rectangle(dc).Max.X - leg.Rectangle(dc).Min.X
		if lw > 0 {
			gap := vg.Points(14)
			area := draw.Crop(dc, 0, -(lw + gap), 0, 0)
			if t := p.Title; t.Text != "" && t.TextStyle.Rectangle(t.Text).Size().X > area.Size().X {
				// A title wider than the plot beside the legend would be
				// centred over the plot and cut off on the left: draw it
				// from the left edge, across the legend's column.
				sty := t.TextStyle
				sty.XAlign = draw.XLeft
				dc.FillText(sty, vg.Point{X: dc.Min.X, Y: dc.Max.Y + sty.FontExtents().Descent}, t.Text)
				drop := sty.Rectangle(t.Text).Size().Y + t.Padding
				dc.Max.Y -= drop
				area.Max.Y -= drop
				p.Title.Text = ""
			}
			top := p.DataCanvas(area).Max.Y
			lc := dc
			lc.Min.X = dc.Max.X - lw - gap/2
			lc.Max.Y = top
			p.Draw(area)
			leg.Draw(lc)
			return writeCanvas(c)
		}
	}
	p.Draw(dc)
	return writeCanvas(c)
}

func writeCanvas(c vg.CanvasWriterTo) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// bars draws bars of a bar chart or histogram: bar i spans [Lo[i], Hi[i]]
// from 0 to Y[i], filled with Fill (nil: grey).
type bars struct {
	Lo, Hi, Y []float64
	Fill      color.Color
}

func (b bars) colours() (fill, edge color.Color) {
	if b.Fill == nil {
		return barFill, barEdge
	}
	r, g, bl, _ := b.Fill.RGBA()
	light := func(v uint32) uint8 { return uint8((v>>8)/2 + 0x80) }
	return color.RGBA{R: light(r), G: light(g), B: light(bl), A: 0xFF}, b.Fill
}

var (
	_ plot.Plotter    = bars{}
	_ plot.DataRanger = bars{}
)

// Plot implements plot.Plotter.
func (b bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	fill, edgeColour := b.colours()
	edge := draw.LineStyle{Color: edgeColour, Width: vg.Points(0.6)}
	for i, y := range b.Y {
		if !(y > 0) {
			continue
		}
		x0, x1 := trX(b.Lo[i]), trX(b.Hi[i])
		y0, y1 := trY(0), trY(y)
		pts := []vg.Point{{X: x0, Y: y0}, {X: x0, Y: y1}, {X: x1, Y: y1}, {X: x1, Y: y0}}
		c.FillPolygon(fill, c.ClipPolygonXY(pts))
		c.StrokeLines(edge, c.ClipLinesXY(append(pts, pts[0]))...)
	}
}

// DataRange implements plot.DataRanger.
func (b bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for i := range b.Y {
		xmin, xmax = min(xmin, b.Lo[i]), max(xmax, b.Hi[i])
		ymax = max(ymax, b.Y[i])
	}
	return xmin, xmax, 0, ymax
}

// Thumbnail implements plot.Thumbnailer.
func (b bars) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y}}
	fill, edge := b.colours()
	c.FillPolygon(fill, pts)
	c.StrokeLines(draw.LineStyle{Color: edge, Width: vg.Points(0.6)}, append(pts, pts[0]))
}

// levels draws a discrete distribution's expected counts: at each X a
// horizontal segment as wide as a bar at height Y, with a dot in the
// middle unless NoDots.
type levels struct {
	X, Y   []float64
	Width  float64 // in data units
	Style  draw.LineStyle
	NoDots bool
}

var (
	_ plot.Plotter    = levels{}
	_ plot.DataRanger = levels{}
)

// Plot implements plot.Plotter.
func (l levels) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	dot := draw.GlyphStyle{Color: l.Style.Color, Radius: l.Style.Width * 1.3, Shape: draw.CircleGlyph{}}
	for i, x := range l.X {
		y := l.Y[i]
		if math.IsNaN(y) {
			continue
		}
		x0, x1 := trX(x-l.Width/2), trX(x+l.Width/2)
		c.StrokeLines(l.Style, c.ClipLinesXY([]vg.Point{{X: x0, Y: trY(y)}, {X: x1, Y: trY(y)}})...)
		if pt := (vg.Point{X: trX(x), Y: trY(y)}); !l.NoDots && c.Contains(pt) {
			c.DrawGlyph(dot, pt)
		}
	}
}

// DataRange implements plot.DataRanger.
func (l levels) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for i, x := range l.X {
		xmin, xmax = min(xmin, x-l.Width/2), max(xmax, x+l.Width/2)
		if !math.IsNaN(l.Y[i]) {
			ymax = max(ymax, l.Y[i])
		}
	}
	return xmin, xmax, 0, ymax
}

// Thumbnail implements plot.Thumbnailer.
func (l levels) Thumbnail(c *draw.Canvas) {
	y := (c.Min.Y + c.Max.Y) / 2
	c.StrokeLine2(l.Style, c.Min.X, y, c.Max.X, y)
	if !l.NoDots {
		c.DrawGlyph(draw.GlyphStyle{Color: l.Style.Color, Radius: l.Style.Width * 1.3, Shape: draw.CircleGlyph{}},
			vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: y})
	}
}

// curve draws a polyline, optionally filled down to y = 0 with Fill and
// with a dot at each point; NaN points break it.
type curve struct {
	X, Y  []float64
	Style draw.LineStyle
	Fill  color.Color
	Dots  bool
}

var (
	_ plot.Plotter    = curve{}
	_ plot.DataRanger = curve{}
)

// Plot implements plot.Plotter.
func (k curve) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	var line []vg.Point
	flush := func() {
		if len(line) > 1 {
			if k.Fill != nil {
				poly := append([]vg.Point{{X: line[0].X, Y: trY(0)}}, line...)
				poly = append(poly, vg.Point{X: line[len(line)-1].X, Y: trY(0)})
				c.FillPolygon(k.Fill, c.ClipPolygonXY(poly))
			}
			c.StrokeLines(k.Style, c.ClipLinesXY(line)...)
		}
		line = line[:0]
	}
	for i, x := range k.X {
		if math.IsNaN(k.Y[i]) {
			flush()
			continue
		}
		line = append(line, vg.Point{X: trX(x), Y: trY(k.Y[i])})
	}
	flush()
	if k.Dots {
		dot := draw.GlyphStyle{Color: k.Style.Color, Radius: k.Style.Width * 1.2, Shape: draw.CircleGlyph{}}
		for i, x := range k.X {
			if pt := (vg.Point{X: trX(x), Y: trY(k.Y[i])}); !math.IsNaN(k.Y[i]) && c.Contains(pt) {
				c.DrawGlyph(dot, pt)
			}
		}
	}
}

// DataRange implements plot.DataRanger.
func (k curve) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for i, x := range k.X {
		xmin, xmax = min(xmin, x), max(xmax, x)
		if !math.IsNaN(k.Y[i]) {
			ymax = max(ymax, k.Y[i])
		}
	}
	return xmin, xmax, 0, ymax
}

// Thumbnail implements plot.Thumbnailer.
func (k curve) Thumbnail(c *draw.Canvas) {
	if k.Fill != nil {
		c.FillPolygon(k.Fill, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y}})
	}
	y := (c.Min.Y + c.Max.Y) / 2
	c.StrokeLine2(k.Style, c.Min.X, y, c.Max.X, y)
	if k.Dots {
		c.DrawGlyph(draw.GlyphStyle{Color: k.Style.Color, Radius: k.Style.Width * 1.2, Shape: draw.CircleGlyph{}},
			vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: y})
	}
}

// countTicks labels a count axis with whole numbers (with thousands
// separators) at steps of 1, 2 or 5 times a power of ten, about six of
// them, with unlabelled minor ticks between.
type countTicks struct{}

// Ticks implements plot.Ticker.
func (countTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi-lo >= 3) || math.IsInf(hi-lo, 0) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	want := (hi - lo) / 6
	p := math.Pow(10, math.Floor(math.Log10(want)))
	step := 10 * p
	for _, m := range []float64{1, 2, 5} {
		if m*p >= want {
			step = m * p
			break
		}
	}
	step = math.Max(step, 1)
	minor := 0.0
	switch m := step / math.Pow(10, math.Floor(math.Log10(step))); {
	case m == 5 || m == 1 && step >= 10:
		minor = step / 5
	case m == 2:
		minor = step / 2
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: formatInt(int64(v))})
		if minor > 0 {
			for u := v + minor; u < v+step-minor/2 && u <= hi; u += minor {
				ticks = append(ticks, plot.Tick{Value: u})
			}
		}
	}
	return ticks
}

// stairs draws a histogram as its outline, filled with Fill, so that
// histograms over the same bins can be overlaid.
type stairs struct {
	Bins  []bin
	Style draw.LineStyle
	Fill  color.Color
}

var (
	_ plot.Plotter    = stairs{}
	_ plot.DataRanger = stairs{}
)

// Plot implements plot.Plotter.
func (st stairs) Plot(c draw.Canvas, p *plot.Plot) {
	if len(st.Bins) == 0 {
		return
	}
	trX, trY := p.Transforms(&c)
	pts := []vg.Point{{X: trX(st.Bins[0].Lo), Y: trY(0)}}
	for _, b := range st.Bins {
		pts = append(pts, vg.Point{X: trX(b.Lo), Y: trY(b.Count)}, vg.Point{X: trX(b.Hi), Y: trY(b.Count)})
	}
	pts = append(pts, vg.Point{X: trX(st.Bins[len(st.Bins)-1].Hi), Y: trY(0)})
	if st.Fill != nil {
		c.FillPolygon(st.Fill, c.ClipPolygonXY(pts))
	}
	c.StrokeLines(st.Style, c.ClipLinesXY(pts)...)
}

// DataRange implements plot.DataRanger.
func (st stairs) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for _, b := range st.Bins {
		xmin, xmax = min(xmin, b.Lo), max(xmax, b.Hi)
		ymax = max(ymax, b.Count)
	}
	return xmin, xmax, 0, ymax
}

// Thumbnail implements plot.Thumbnailer.
func (st stairs) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y}}
	if st.Fill != nil {
		c.FillPolygon(st.Fill, pts)
	}
	c.StrokeLines(st.Style, append(pts, pts[0]))
}
