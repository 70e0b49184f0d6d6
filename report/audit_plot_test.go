package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mixbatch/mixbatch/pipeline"
)

// TestPlotTitleIterations: the plot's title counts the iterations in
// English: "1 iteration", otherwise "N iterations" (0 included).
func TestPlotTitleIterations(t *testing.T) {
	ex := exampleOf(t, pipeline.Bernoulli)
	d, err := loadBag(t.Context(), ex.dir, ex.bag)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int64]string{0: ",  0 iterations,", 1: ",  1 iteration,", 2: ",  2 iterations,", 11: ",  11 iterations,"} {
		d.fit.iterations = n
		if got := d.title(); !strings.Contains(got, want) {
			t.Errorf("%d iterations: title %q has no %q", n, got, want)
		}
	}
}

// TestHistogramDrawsSingleBags: a histogram bar holding one bag is drawn
// (a bag alone in its bin, such as the only failed-to-converge bag's
// iterations, must show). Expectation: the image of bins holding 1 and 0
// bags has more ink than the image of the same bins holding none, by at
// least a bar's outline.
func TestHistogramDrawsSingleBags(t *testing.T) {
	ink := func(counts ...float64) float64 {
		var bins []bin
		for i, c := range counts {
			bins = append(bins, bin{Lo: float64(i), Hi: float64(i + 1), Count: c})
		}
		b, err := render(histPlot(bins, "t", "x", "bags", palette[0]), nil, histWidth, histHeight, PNG)
		if err != nil {
			t.Fatal(err)
		}
		_, _, v := decodePNG(t, bytes.NewReader(b))
		return v
	}
	empty, one := ink(0, 0, 0, 0), ink(0, 1, 0, 0)
	if !(one > empty+1e-3) {
		t.Errorf("ink %v with a bar of 1 bag, %v with none: the bar is not drawn", one, empty)
	}
}
