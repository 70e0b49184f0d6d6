package report

import (
	"bytes"
	"slices"
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

// TestCountTicksRoundStep: a count axis is labelled at the smallest step
// of 1, 2 or 5 × 10^k that is at least a sixth of its range, a range of
// exactly six steps included. Expectations by hand: [0, 60] has a sixth of
// 10, a step of 10 itself, seven labels; [0, 12] a sixth of 2; [0, 3000]
// a sixth of 500; [0, 3] a sixth of 0.5, but counts are whole: 1.
func TestCountTicksRoundStep(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []string
	}{
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
