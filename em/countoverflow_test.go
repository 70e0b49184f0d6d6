package em_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mixbatch/mixbatch/em"
)

// TestFitHugeCountsOverflow: counts whose sum is below the largest
// float64 but whose gradient, Σ c_i f_k(x_i)/p(x_i), is above it (here
// 1e308 / 0.5 at the uniform start) are ErrOverflow, not a result. Before
// ErrOverflow, SQUAREM returned NaN weights and plain EM [0.5 0.5] with a
// log-likelihood of -6.9e307, without an error (found by a mutation
// audit).
//
// Over random counts from 1 to 1e308 (seeded), the fit is either the
// closed form or ErrOverflow, never another number: row 0 has density
// only under component 0 (log-density -Inf under 1), row 1 e^800 times
// more under component 1 than under 0, which float64 scaling makes
// exactly 0 (e^-800 underflows), so each row is explained by one
// component alone and the maximum is w_1 = c_1 / (c_0 + c_1) (the
// binomial proportion). Tolerance 1e-9 relative: the fit stops at the
// stopping rule's 1e-10 relative gradient. The gradient is about N at
// the weights the fit visits (c_k / w_k with w_k near c_k / N), so where
// N = c_0 + c_1 <= 1e307 the fit must succeed. (Newton's Hessian, about
// N / w_1², may overflow on the way without harm: the line search takes
// only steps that gain.)
func TestFitHugeCountsOverflow(t *testing.T) {
	logLik := []float64{0, math.Inf(-1), -800, 0}
	rnd := rand.New(rand.NewPCG(5, 8))
	for _, acc := range []em.Acceleration{em.SQUAREM, em.None} {
		res, err := em.Fit(logLik, []float64{1e308, 1}, 2, em.Settings{Accelerate: acc})
		if !errors.Is(err, em.ErrOverflow) {
			t.Errorf("%v, counts [1e308 1]: weights %v, log-likelihood %g, error %v; want ErrOverflow", acc, res.Weights, res.LogLikelihood, err)
		}
		overflows, fits := 0, 0
		for range 300 {
			c := []float64{math.Pow(10, 308*rnd.Float64()), math.Pow(10, 308*rnd.Float64())}
			if c[0]+c[1] > math.MaxFloat64 {
				continue
			}
			want := c[1] / (c[0] + c[1])
			res, err := em.Fit(logLik, c, 2, em.Settings{Accelerate: acc})
			if errors.Is(err, em.ErrOverflow) {
				overflows++
				if c[0]+c[1] <= 1e307 {
					t.Errorf("%v, counts %v: %v", acc, c, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%v, counts %v: %v", acc, c, err)
				continue
			}
			fits++
			if got := res.Weights[1]; math.Abs(got-want) > 1e-9*want || math.Abs(res.Weights[0]+got-1) > 1e-15 {
				t.Errorf("%v, counts %v: weights %v, want w_1 = %g", acc, c, res.Weights, want)
			}
		}
		if fits < 100 {
			t.Errorf("%v: %d fits and %d overflows of 300", acc, fits, overflows)
		}
	}
}
