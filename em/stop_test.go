package em

import (
	"errors"
	"math/rand/v2"
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

// TestDoneStopsLearn: Learn and FitShared with a closed Done return
// ErrStopped (a learned fit of a large bag takes minutes, and
// LearnSettings.Done is polled between its E-steps, Newton steps and
// starts), and the Learner then learns the next bag normally.
func TestDoneStopsLearn(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	xs := make([]float64, 500)
	for i := range xs {
		xs[i] = []float64{20, 35, 60}[i%3] + 3*rnd.NormFloat64()
	}
	m := Model{Family: Gaussian, K: 3, Learn: LearnWeights | LearnMean | LearnSD}
	l, err := NewLearner(m)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	close(closed)
	if _, err := l.Learn(Bag{X: xs}, LearnSettings{Seed: 1, Done: closed}); !errors.Is(err, ErrStopped) {
		t.Errorf("Learn with a closed Done: %v, want ErrStopped", err)
	}
	res, err := l.Learn(Bag{X: xs}, LearnSettings{Seed: 1, Done: make(chan struct{})})
	if err != nil || !res.Converged || res.Starts == 0 {
		t.Errorf("Learn with an open Done: %+v, %v; want a converged fit", res, err)
	}
	bags := []Bag{{X: xs[:250]}, {X: xs[250:]}}
	if _, err := FitShared(bags, m, LearnSettings{Seed: 1, Done: closed}); !errors.Is(err, ErrStopped) {
		t.Errorf("FitShared with a closed Done: %v, want ErrStopped", err)
	}
	if _, err := FitShared(bags, m, LearnSettings{Seed: 1}); err != nil {
		t.Errorf("FitShared without Done: %v", err)
	}
}
