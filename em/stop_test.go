package em

import (
	"errors"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// TestDoneStopsFit: a fit that would crawl for 2e9 plain EM steps (two
// Bernoulli components 1e-7 apart) returns ErrStopped once Done is closed,
// and the Fitter then fits the next bag normally.
func TestDoneStopsFit(t *testing.T) {
	var f Fitter
	table := Table(nil, []float64{0, 1}, []LogProber{distuv.Bernoulli{P: 0.5}, distuv.Bernoulli{P: 0.5000001}})
	counts := []float64{40, 60}
	for _, acc := range []Acceleration{None, SQUAREM} {
		done := make(chan struct{})
		close(done)
		_, err := f.Fit(table, counts, 2, Settings{Accelerate: acc, MaxIter: 2e9, Tol: 1e-300, Done: done})
		if !errors.Is(err, ErrStopped) {
			t.Errorf("%v: closed Done: error %v, want ErrStopped", acc, err)
		}
		res, err := f.Fit(table, counts, 2, Settings{Accelerate: acc, MaxIter: 50, Done: make(chan struct{})})
		if err != nil || res.Iterations == 0 {
			t.Errorf("%v: open Done: %+v, %v; want a normal fit", acc, res, err)
		}
	}
}
