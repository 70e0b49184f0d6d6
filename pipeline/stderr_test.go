package pipeline

import (
	"math"
	"path/filepath"
	"testing"
)

// TestStdErrorClosedForm checks weights.std_error end to end on textbook
// bags against the closed form: with two fixed Bernoulli components the
// MLE of w1 is (q - p2)/(p1 - p2) for the red share q = r/n, so its observed
// information gives SE(w1) = SE(w2) = sqrt(q(1-q)/n) / (p1 - p2) inside
// (0, 1). At a boundary maximum (w1 = 0 or 1) no Wald interval applies and
// the column is null. Tolerance 1e-9 relative.
func TestStdErrorClosedForm(t *testing.T) {
	in := genMarbles(t, Marbles{Bags: 200, RowsPerBag: 150, Seed: 11})
	out := filepath.Join(t.TempDir(), "out")
	cfg := mustLoad(t, marblesConfig(in, out, ""))
	mustRun(t, cfg, Options{})
	counts := redCounts(t, in)
	w := readTable(t, out, WeightsTable)
	interior, boundary := 0, 0
	for i := 0; i < w.len(); i++ {
		c := counts[w.cols["bag_id"][i].(int64)]
		n, q := c[0], c[1]/c[0]
		w1 := (q - 0.3) / 0.5
		se := w.cols["std_error"][i]
		if w1 <= 1e-8 || w1 >= 1-1e-8 {
			boundary++
			if se != nil {
				t.Errorf("bag %v: boundary weight (w1 = %v) has std_error %v, want null", w.cols["bag_id"][i], w1, se)
			}
			continue
		}
		interior++
		want := math.Sqrt(q*(1-q)/n) / 0.5
		if got, ok := se.(float64); !ok || math.Abs(got-want) > 1e-9*want {
			t.Errorf("bag %v %s: std_error %v, want %v", w.cols["bag_id"][i], w.cols["component"][i], se, want)
		}
	}
	if interior == 0 || boundary == 0 {
		t.Fatalf("%d interior and %d boundary rows: the data should hold both", interior, boundary)
	}
	t.Logf("%d interior, %d boundary rows", interior, boundary)
}
