package em

import (
	"errors"
	"fmt"
	"math"
)

// Defaults for Settings fields left at their zero value.
const (
	DefaultMaxIter = 10000
	DefaultTol     = 1e-10
)

// Acceleration selects how Fit moves between EM steps.
type Acceleration int

const (
	// SQUAREM extrapolates along two EM steps with the safeguards described
	// in the package documentation. It is the default.
	SQUAREM Acceleration = iota
	// None runs the plain EM loop.
	None
)

// String returns the config name of a.
func (a Acceleration) String() string {
	switch a {
	case SQUAREM:
		return "squarem"
	case None:
		return "none"
	}
	return fmt.Sprintf("Acceleration(%d)", int(a))
}

// Settings control Fit. The zero value is ready to use.
type Settings struct {
	// Init holds the K starting weights; nil means uniform. They must be
	// positive (EM can never move a weight away from exactly zero) and are
	// normalised to sum to one.
	Init []float64
	// MaxIter caps the number of E-steps after the one at the starting
	// point; 0 means DefaultMaxIter.
	MaxIter int
	// Tol is the stopping tolerance of the package documentation; 0 means
	// DefaultTol.
	Tol float64
	// Accelerate selects SQUAREM (default) or plain EM.
	Accelerate Acceleration
	// Done, when not nil, is polled between E-steps: once it is closed,
	// Fit stops and returns ErrStopped. It is meant for a context's Done
	// channel, so that a long fit can be interrupted.
	Done <-chan struct{}
}

// Result is the outcome of one fit.
type Result struct {
	// Weights are the estimated mixture weights, in component order.
	Weights []float64
	// Iterations counts the E-steps taken after the one at the starting
	// point. For plain EM it is the number of EM updates; a SQUAREM cycle
	// costs two or three.
	Iterations int
	// Converged reports whether the stopping rule certified the weights.
	Converged bool
	// LogLikelihood is sum_i c_i log p(x_i) at Weights, including every
	// normalising constant that the log-densities include.
	LogLikelihood float64
	// Gap is max_k g_k/N - 1 at Weights; N*log1p(Gap) bounds how far
	// LogLikelihood is below the maximum.
	Gap float64
}

// ErrStopped is returned when Settings.Done was closed during a fit.
var ErrStopped = errors.New("em: stopped before convergence")

// ErrOverflow is returned when a sum over the rows exceeds the largest
// float64 although the counts' sum does not. In Fit it is the gradient
// that EM and Newton's method form, Σ c_i f_k(x_i)/p(x_i): counts near
// 1e308, or a row of huge count that the starting weights give a tiny
// density. In Learn and FitShared it is a log-likelihood or an E-step's
// sum (Σ c_i r_ik x_i², say): counts near 1e308, or learned Gaussian
// values beyond about 1e154. The result would be NaN or meaningless, so
// there is none. (Newton's Hessian may overflow without harm: its line
// search takes only steps that gain.)
var ErrOverflow = errors.New("em: a sum over the rows exceeded the largest float64 (the counts or values are too large; scale them down)")

// ErrNoData is returned when the counts sum to zero.
var ErrNoData = errors.New("em: no observations (the counts sum to zero)")

// ErrCountOverflow is returned when the counts sum to more than the largest
// float64.
var ErrCountOverflow = errors.New("em: the counts sum to more than the largest float64")

// SupportError reports an observation that has zero density under every
// component, so no mixture of them can explain it.
type SupportError struct {
	Row int // row of the log-likelihood table
}

func (e *SupportError) Error() string {
	return fmt.Sprintf("em: observation %d has zero probability under every component", e.Row)
}

// ValueError reports an unusable number in the input: a NaN or +Inf
// log-density, or a count that is negative, NaN or infinite.
type ValueError struct {
	Row       int     // row of the table
	Component int     // component index, or -1 for a count
	Value     float64 // the offending number
}

func (e *ValueError) Error() string {
	if e.Component < 0 {
		return fmt.Sprintf("em: count %v at observation %d is not a finite non-negative number", e.Value, e.Row)
	}
	return fmt.Sprintf("em: log-density %v of observation %d under component %d is not a number below +Inf", e.Value, e.Row, e.Component)
}

// LogProber is a distribution with a log-density (or log-mass) function,
// such as gonum's distuv.Normal, distuv.Poisson and distuv.Bernoulli.
type LogProber interface {
	LogProb(x float64) float64
}

// ColumnLogProber is a LogProber that computes its log-densities of many
// values in one call, without a call per value.
type ColumnLogProber interface {
	LogProber
	// LogProbs sets dst[i*stride] to LogProb(xs[i]), bit for bit, for
	// every i.
	LogProbs(dst []float64, stride int, xs []float64)
}

// Table fills the row-major n×K table of log-densities log f_k(x_i) for
// the n values xs and K components, reusing dst when it is large enough.
// When every component is a ColumnLogProber it fills the table column by
// column with LogProbs (the same numbers, without the calls per value that
// were a tenth of a run over Gaussian readings).
func Table(dst []float64, xs []float64, comps []LogProber) []float64 {
	k := len(comps)
	need := len(xs) * k
	if cap(dst) < need {
		dst = make([]float64, need)
	}
	dst = dst[:need]
	if len(xs) > 0 && columns(comps) {
		for j, c := range comps {
			c.(ColumnLogProber).LogProbs(dst[j:], k, xs)
		}
		return dst
	}
	for i, x := range xs {
		row := dst[i*k : i*k+k]
		for j, c := range comps {
			row[j] = c.LogProb(x)
		}
	}
	return dst
}

// columns reports whether every component is a ColumnLogProber.
func columns(comps []LogProber) bool {
	for _, c := range comps {
		if _, ok := c.(ColumnLogProber); !ok {
			return false
		}
	}
	return true
}

// Fit estimates the mixture weights with Settings s; see Fitter.Fit.
func Fit(logLik, counts []float64, k int, s Settings) (Result, error) {
	var f Fitter
	return f.Fit(logLik, counts, k, s)
}

// Fitter fits bag after bag without allocating in the EM loop. Its zero
// value is ready to use; a Fitter must not be used by two goroutines at once.
//
// Its buffers grow to the largest bag fitted and are reused: a Fit of a
// bag no larger than one fitted before makes exactly one allocation, the
// returned Result.Weights, however many E-steps it takes.
type Fitter struct {
	k      int
	lik    []float64 // n×K likelihoods scaled so that each row's maximum is 1
	lg     []float64 // n×K their logarithms, log f_k(x_i) - max_k log f_k(x_i)
	c      []float64 // counts of the kept rows
	n      float64   // sum of c
	base   float64   // sum_i c_i m_i, the scaling's share of the log-likelihood
	g, blk []float64 // gradient and its block partial sums
	w, f1  []float64 // current point and its EM image
	f2, q  []float64 // second EM image and extrapolated point
	fq     []float64 // EM image of q
	// Newton's method (newton.go).
	ref     int       // reference component of the tangent coordinates
	diff    []float64 // n×K differences f_j - f_ref of the scaled likelihoods
	e       []float64 // relative gradient e_k = g_k/N - 1, kept apart from 1
	h, d, b []float64 // Hessian per observation (K×K), step, model gradient
	a, eig  []float64 // -H on the free set, then its eigenvectors; eigenvalues
	syev    symEig    // eigendecomposition work space
	free    []bool
	idx     []int
	// The table that load scaled: its row count, and whether it loaded
	// (every number checked), for Uncertainty.WeightStdErrorsFrom.
	rowsIn  int
	loaded  bool
	tol     float64
	maxIter int
	done    <-chan struct{}
	// overflow is set when a gradient came out infinite or NaN (see
	// ErrOverflow); the fit then stops.
	overflow bool
}

// Fit estimates the mixture weights of K components from logLik, the
// row-major n×K table of log f_k(x_i) (see Table), and counts, the weight
// c_i of each row (nil means 1 for every row). Rows with count 0 are ignored.
//
// Fit panics if len(logLik) is not a multiple of k, or if counts or
// s.Init have the wrong length. Data problems return an error: *ValueError,
// *SupportError, ErrNoData, ErrCountOverflow or ErrOverflow.
func (f *Fitter) Fit(logLik, counts []float64, k int, s Settings) (Result, error) {
	if k < 1 || len(logLik)%k != 0 {
		panic("em: table length is not a multiple of the component count")
	}
	n := len(logLik) / k
	if counts != nil && len(counts) != n {
		panic("em: counts length mismatch")
	}
	if s.Init != nil && len(s.Init) != k {
		panic("em: init length mismatch")
	}
	if err := f.load(logLik, counts, k); err != nil {
		return Result{}, err
	}
	f.tol, f.maxIter = s.Tol, s.MaxIter
	if f.tol <= 0 {
		f.tol = DefaultTol
	}
	if f.maxIter <= 0 {
		f.maxIter = DefaultMaxIter
	}
	if err := f.start(s.Init); err != nil {
		return Result{}, err
	}
	f.done = s.Done
	var res Result
	if s.Accelerate == None {
		res = f.plain()
	} else {
		res = f.squarem()
	}
	if f.overflow {
		return Result{}, ErrOverflow
	}
	if f.stopped() {
		return Result{}, ErrStopped
	}
	return res, nil
}

// stopped reports whether Settings.Done has been closed, or a sum has
// overflowed (f.overflow), either of which ends the fit.
func (f *Fitter) stopped() bool { return f.overflow || closed(f.done) }

// closed reports whether done, a Done channel of Settings or
// LearnSettings, is closed; a nil one never is.
func closed(done <-chan struct{}) bool {
	if done == nil {
		return false
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// load scales the table into f.lik and checks every number.
func (f *Fitter) load(logLik, counts []float64, k int) error {
	rows := len(logLik) / k
	f.k = k
	f.lik, f.lg, f.c = grow(f.lik, len(logLik)), grow(f.lg, len(logLik)), grow(f.c, rows)
	f.n, f.base = 0, 0
	f.rowsIn, f.loaded = rows, false
	f.overflow = false
	f.ref = -1 // f.diff is stale
	var kept int
	var err error
	if k == 3 {
		kept, err = f.load3(logLik, counts)
	} else {
		kept, err = f.loadRows(logLik, counts, k)
	}
	if err != nil {
		return err
	}
	f.lg, f.c = f.lg[:kept*k], f.c[:kept]
	// The scaled densities, expDiff of each: expNeg(0) is 1, as expDiff
	// has it, so the largest needs no exception.
	f.lik = expNegs(f.lik, f.lg)
	if f.n == 0 {
		return ErrNoData
	}
	if math.IsInf(f.n, 1) {
		return ErrCountOverflow
	}
	f.loaded = true
	return nil
}

// loadRows is load's pass over the rows: it checks every count and
// log-density, sets each kept row's f.lg (the log-densities less the
// row's largest, m) and f.c, sums f.n and f.base, and returns the number
// of rows kept.
func (f *Fitter) loadRows(logLik, counts []float64, k int) (kept int, err error) {
	for i := range len(logLik) / k {
		c := 1.0
		if counts != nil {
			c = counts[i]
		}
		if !(c >= 0) || math.IsInf(c, 1) {
			return 0, &ValueError{Row: i, Component: -1, Value: c}
		}
		if c == 0 {
			continue
		}
		row := logLik[i*k : i*k+k]
		m := math.Inf(-1)
		for j, v := range row {
			if !(v < math.Inf(1)) { // NaN or +Inf
				return 0, &ValueError{Row: i, Component: j, Value: v}
			}
			// The builtin max, as load3's: free of a mispredicted branch.
			// (Of -0 and +0 it takes +0; the sign of a zero maximum
			// changes no result.)
			m = max(m, v)
		}
		if math.IsInf(m, -1) {
			return 0, &SupportError{Row: i}
		}
		lg := f.lg[kept*k : kept*k+k]
		for j, v := range row {
			lg[j] = v - m
		}
		f.c[kept] = c
		kept++
		f.n += c
		f.base += c * m
	}
	return kept, nil
}

// expDiff returns e^d for the difference d <= 0 of a log-density and its
// row's largest, skipping the call for the largest itself (d = 0, e^0 = 1
// exactly). It takes expNeg, within 2 ulp of math.Exp: these exponentials
// were a third of a small Gaussian bag's fit, and the scaled densities
// need no more precision than the log-densities they come from have.
func expDiff(d float64) float64 {
	if d == 0 {
		return 1
	}
	return expNeg(d)
}

// start allocates the work vectors and sets f.w to the starting weights.
func (f *Fitter) start(init []float64) error {
	k := f.k
	for _, v := range []*[]float64{&f.g, &f.blk, &f.w, &f.f1, &f.f2, &f.q, &f.fq} {
		if cap(*v) < k {
			*v = make([]float64, k)
		}
		*v = (*v)[:k]
	}
	if init == nil {
		for j := range f.w {
			f.w[j] = 1 / float64(k)
		}
		return nil
	}
	sum := 0.0
	for j, v := range init {
		if !(v > 0) || math.IsInf(v, 1) {
			return fmt.Errorf("em: starting weight %d is %v; starting weights must be positive and finite", j, v)
		}
		sum += v
	}
	for j, v := range init {
		f.w[j] = v / sum
	}
	return nil
}

// state is one evaluated point: its log-likelihood, gap and whether it
// passes the stopping rule.
type state struct {
	ll, gap float64
	ok      bool
}

// step evaluates the EM map at w: it writes the EM image of w to next and
// returns w's stopping-rule state and, with wantLL, its log-likelihood
// (otherwise ll is NaN: the logarithms are most of a small bag's E-step,
// and the callers need the log-likelihood of only some points). A point at
// which some observation has zero density gets ll = -Inf.
func (f *Fitter) step(w, next []float64, wantLL bool) state {
	g, blk := f.g, f.blk
	var llsum, prod float64
	var ok bool
	if f.k == 3 {
		llsum, prod, ok = f.gradient3(w, wantLL)
	} else {
		llsum, prod, ok = f.gradient(w, wantLL)
	}
	if !ok {
		return state{ll: math.Inf(-1), gap: math.Inf(1)}
	}
	st := state{ll: math.NaN(), gap: math.Inf(-1), ok: true}
	if wantLL {
		st.ll = f.base + endLogLik(llsum, prod)
	}
	sum := 0.0
	for j := range g {
		gj := (g[j] + blk[j]) / f.n
		if !(gj <= math.MaxFloat64) { // +Inf or NaN: g_j >= 0
			f.overflow = true
		}
		e := gj - 1
		if e > st.gap {
			st.gap = e
		}
		if !(e <= f.tol) || (!(e >= -f.tol) && !(w[j] <= f.tol)) {
			st.ok = false
		}
		next[j] = w[j] * gj
		sum += next[j]
	}
	for j := range next {
		next[j] /= sum
	}
	return st
}

// gradient is the pass over the table of step: it leaves the gradient
// at w in f.g plus f.blk and returns the log-likelihood's running sum and
// product (with wantLL), or ok = false if some observation has zero
// density at w.
func (f *Fitter) gradient(w []float64, wantLL bool) (llsum, prod float64, ok bool) {
	k := f.k
	g, blk := f.g, f.blk
	clear(g)
	clear(blk)
	llsum, prod = 0.0, 1.0
	for i, c := range f.c {
		row := f.lik[i*k : i*k+k]
		p := dot(w, row)
		if !(p > 0) {
			return 0, 0, false
		}
		if wantLL {
			// As in logLikAt. p <= 1 because each row's largest likelihood
			// is 1, so the running product only shrinks; fold it into the
			// sum before it underflows. (Written out here, in logLikAt and
			// in gradient3, and in the Newton passes: as a function it is
			// too large to inline, and the call made a Gaussian bag's fit
			// 11% slower.)
			if c == 1 && p > 1e-20 {
				prod *= p
				if prod < 1e-260 {
					llsum += math.Log(prod)
					prod = 1
				}
			} else {
				llsum += c * math.Log(p)
			}
		}
		r := c / p
		for j, l := range row {
			blk[j] += r * l
		}
		// Sum the gradient in blocks to keep its rounding error small on
		// large bags: the stopping rule looks at it to ~1e-10.
		if i&255 == 255 {
			for j := range g {
				g[j] += blk[j]
				blk[j] = 0
			}
		}
	}
	return llsum, prod, true
}

// endLogLik returns sum + log prod. Log(1) = 0 and the sum is never -0, so
// skipping the logarithm when prod is 1 (as it is when no row has count 1)
// changes no bit.
func endLogLik(sum, prod float64) float64 {
	if prod == 1 {
		return sum
	}
	return sum + math.Log(prod)
}

// logLikAt returns the log-likelihood at w exactly as step computes it
// with wantLL (the same operations in the same order), without the
// E-step.
func (f *Fitter) logLikAt(w []float64) float64 {
	k := f.k
	llsum, prod := 0.0, 1.0
	for i, c := range f.c {
		p := dot(w, f.lik[i*k:i*k+k])
		if !(p > 0) {
			return math.Inf(-1)
		}
		if c == 1 && p > 1e-20 {
			prod *= p
			if prod < 1e-260 {
				llsum += math.Log(prod)
				prod = 1
			}
		} else {
			llsum += c * math.Log(p)
		}
	}
	return f.base + endLogLik(llsum, prod)
}

func (f *Fitter) result(w []float64, st state, evals int) Result {
	return Result{
		Weights:       append([]float64(nil), w...),
		Iterations:    evals - 1,
		Converged:     st.ok,
		LogLikelihood: st.ll,
		Gap:           st.gap,
	}
}

// plain runs the textbook EM loop. Only the last point's log-likelihood
// is reported, so it is computed once, at the end.
func (f *Fitter) plain() Result {
	st := f.step(f.w, f.f1, false)
	evals := 1
	for !st.ok && evals-1 < f.maxIter && !f.stopped() {
		f.w, f.f1 = f.f1, f.w
		st = f.step(f.w, f.f1, false)
		evals++
	}
	st.ll = f.logLikAt(f.w)
	return f.result(f.w, st, evals)
}

// lazyLLRows is the number of table rows up to which SQUAREM computes the
// log-likelihood of F(w) only when it compares it with an extrapolated
// point's, in a separate pass; on larger tables it is computed in the
// E-step, which is cheaper when, as nearly always, it is needed.
const lazyLLRows = 64

// squarem runs safeguarded SQUAREM (scheme S3).
func (f *Fitter) squarem() Result {
	const (
		shrink = 1e-3 // a weight may shrink to no less than this share of its EM value
	)
	// Only the log-likelihoods of F(w) and of the extrapolated point are
	// compared; Newton's method recomputes the final point's.
	lazy := len(f.c) <= lazyLLRows
	st := f.step(f.w, f.f1, false)
	evals := 1
	stepMax := 1.0
	budget := min(f.maxIter, newtonAfter)
	for !st.ok && evals-1 < budget && !f.stopped() {
		// f.f1 holds F(w); evaluate it to get F(F(w)).
		st1 := f.step(f.f1, f.f2, !lazy)
		evals++
		if st1.ok || evals-1 >= budget {
			f.w, f.f1, f.f2 = f.f1, f.f2, f.w
			st = st1
			break
		}
		var sr2, sv2 float64
		for j := range f.w {
			r := f.f1[j] - f.w[j]
			v := f.f2[j] - 2*f.f1[j] + f.w[j]
			sr2 += r * r
			sv2 += v * v
		}
		alpha := 1.0
		if sv2 > 0 {
			// math.Min(math.Max(√(sr2/sv2), 1), stepMax) for stepMax in
			// [1, +Inf), NaN included, without their assembly calls.
			alpha = math.Sqrt(sr2 / sv2)
			if alpha < 1 {
				alpha = 1
			}
			if alpha > stepMax {
				alpha = stepMax
			}
		}
		// The step bound grows while steps reach it and shrinks when one
		// that reached it fails (R's SQUAREM: step.max0 = 1, mstep = 4).
		atBound := alpha == stepMax
		for try := 0; try < 30 && alpha > 1.01; try++ {
			if f.extrapolate(alpha, shrink) {
				break
			}
			alpha = 1 + (alpha-1)/2
		}
		if alpha > 1.01 {
			if lazy {
				st1.ll = f.logLikAt(f.f1)
			}
			stq := f.step(f.q, f.fq, true)
			evals++
			if stq.ll >= st1.ll {
				f.w, f.q = f.q, f.w
				f.f1, f.fq = f.fq, f.f1
				st = stq
				stepMax = nextStepMax(stepMax, atBound, false)
				continue
			}
		}
		stepMax = nextStepMax(stepMax, atBound, alpha > 1.01)
		if evals-1 >= budget {
			// Out of budget: the best evaluated point is F(w).
			f.w, f.f1, f.f2 = f.f1, f.f2, f.w
			st = st1
			break
		}
		f.w, f.f2 = f.f2, f.w
		st = f.step(f.w, f.f1, false)
		evals++
	}
	st, evals = f.newton(evals)
	return f.result(f.w, st, evals)
}

// extrapolate sets f.q = w - 2αr + α²v (in the S3 sign convention with
// α >= 1) and reports whether it is admissible: every weight positive,
// finite and at least shrink times its value in the two-step EM point.
func (f *Fitter) extrapolate(alpha, shrink float64) bool {
	sum := 0.0
	for j := range f.q {
		r := f.f1[j] - f.w[j]
		v := f.f2[j] - 2*f.f1[j] + f.w[j]
		q := f.w[j] + 2*alpha*r + alpha*alpha*v
		if !(q >= shrink*f.f2[j]) || !(q > 0) || math.IsInf(q, 0) {
			return false
		}
		f.q[j] = q
		sum += q
	}
	for j := range f.q {
		f.q[j] /= sum
	}
	return true
}

// dot returns the mixture density of one scaled table row under w.
func dot(w, row []float64) float64 {
	p := 0.0
	for j, l := range row {
		p += w[j] * l
	}
	return p
}

// Posteriors fills dst with the posterior probabilities P(c = k | x_i) for
// the rows of the n×K log-density table logLik under weights, reusing dst
// when it is large enough. A row with zero density under every weighted
// component gets NaN.
func Posteriors(dst, logLik, weights []float64) []float64 {
	k := len(weights)
	if k == 0 || len(logLik)%k != 0 {
		panic("em: table length is not a multiple of the component count")
	}
	if cap(dst) < len(logLik) {
		dst = make([]float64, len(logLik))
	}
	dst = dst[:len(logLik)]
	for i := 0; i < len(logLik); i += k {
		row, out := logLik[i:i+k], dst[i:i+k]
		m := math.Inf(-1)
		for j, v := range row {
			if weights[j] > 0 && v > m {
				m = v
			}
		}
		sum := 0.0
		for j, v := range row {
			out[j] = 0
			if weights[j] > 0 {
				out[j] = weights[j] * expNeg(v-m) // v-m <= 0
			}
			sum += out[j]
		}
		for j := range out {
			out[j] /= sum
		}
	}
	return dst
}
