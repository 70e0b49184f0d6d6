package em

import (
	"errors"
	"math"
	"slices"
)

// Stats holds the per-component sufficient statistics of an E-step: the
// weighted counts N_k = sum_i c_i r_ik (r_ik the responsibilities) and
// the weighted sums the family's M-step needs (sum of values, of squares
// or outer products, code counts). Stats of several bags under the same
// component parameters add up (Add) to the statistics of their union,
// which is what a shared M-step consumes.
//
// Gaussian sums are centred at the component means the E-step used, which
// keeps variances accurate however far the values are from zero; Add
// re-centres when it combines statistics centred at different points.
type Stats struct {
	fam    Family
	k, d   int // components; dimension (Levels for Categorical)
	n      []float64
	shift  []float64 // K×d centres of the Gaussian sums
	s1, s2 []float64 // sums: K×d; K×d×d (MultiGaussian) or K (Gaussian)
	ll     float64
	total  float64
}

// finite reports whether every sum in s is finite.
func (s *Stats) finite() bool {
	for _, b := range [][]float64{s.n, s.s1, s.s2} {
		for _, v := range b {
			if !finite(v) {
				return false
			}
		}
	}
	return true
}

// finite reports whether every quantity of p is finite.
func (p *Params) finite() bool {
	for _, q := range p.quantities() {
		for _, v := range q {
			if !finite(v) {
				return false
			}
		}
	}
	return true
}

// finite reports whether v is neither infinite nor NaN.
func finite(v float64) bool { return !math.IsInf(v, 0) && !math.IsNaN(v) }

// NewStats returns empty statistics shaped for l's model.
func (l *Learner) NewStats() *Stats {
	m := l.m
	st := &Stats{fam: m.Family, k: m.K, d: 1, n: make([]float64, m.K)}
	switch m.Family {
	case Categorical:
		st.d = m.Levels
		st.s1 = make([]float64, m.K*m.Levels)
	case Bernoulli, Poisson:
		st.s1 = make([]float64, m.K)
	case Gaussian:
		st.shift, st.s1, st.s2 = make([]float64, m.K), make([]float64, m.K), make([]float64, m.K)
	case MultiGaussian:
		d := m.Dim
		st.d = d
		st.shift, st.s1, st.s2 = make([]float64, m.K*d), make([]float64, m.K*d), make([]float64, m.K*d*d)
	}
	return st
}

// Reset empties s.
func (s *Stats) Reset() {
	clear(s.n)
	clear(s.shift)
	clear(s.s1)
	clear(s.s2)
	s.ll, s.total = 0, 0
}

// Add adds o's statistics to s: s becomes the statistics of both bags'
// observations. It panics if their shapes differ.
func (s *Stats) Add(o *Stats) {
	if s.fam != o.fam || s.k != o.k || s.d != o.d {
		panic("em: adding statistics of different models")
	}
	s.ll += o.ll
	s.total += o.total
	d := s.d
	if s.shift == nil {
		for j := range s.n {
			s.n[j] += o.n[j]
		}
		for i, v := range o.s1 {
			s.s1[i] += v
		}
		return
	}
	for j := range s.k {
		on := o.n[j]
		if on == 0 {
			continue
		}
		sh, osh := s.shift[j*d:(j+1)*d], o.shift[j*d:(j+1)*d]
		s1, o1 := s.s1[j*d:(j+1)*d], o.s1[j*d:(j+1)*d]
		s2, o2 := s.s2[j*len(s.s2)/s.k:(j+1)*len(s.s2)/s.k], o.s2[j*len(s.s2)/s.k:(j+1)*len(s.s2)/s.k]
		if s.n[j] == 0 && !slices.Equal(sh, osh) {
			// Adopt o's centre: s holds nothing for this component.
			copy(sh, osh)
			clear(s1)
			clear(s2)
		}
		s.n[j] += on
		if slices.Equal(sh, osh) {
			for a := range s1 {
				s1[a] += o1[a]
			}
			for a := range s2 {
				s2[a] += o2[a]
			}
			continue
		}
		// o's sums centred at sh instead of osh: with e = osh - sh,
		// sum r (y+e) = o1 + on e and sum r (y+e)(y+e)' = o2 + o1 e' + e o1' + on e e'.
		if s.fam == Gaussian {
			e := osh[0] - sh[0]
			s2[0] += o2[0] + 2*e*o1[0] + on*e*e
			s1[0] += o1[0] + on*e
			continue
		}
		for a := range d {
			ea := osh[a] - sh[a]
			for b := range d {
				eb := osh[b] - sh[b]
				s2[a*d+b] += o2[a*d+b] + o1[a]*eb + ea*o1[b] + on*ea*eb
			}
		}
		for a := range d {
			s1[a] += o1[a] + on*(osh[a]-sh[a])
		}
	}
}

// Weights writes N_k / sum N to dst (reused when large enough) and returns
// it: the EM update of the mixture weights of the bag (or bags) in s.
func (s *Stats) Weights(dst []float64) []float64 {
	dst = grow(dst, s.k)
	sum := 0.0
	for _, v := range s.n {
		sum += v
	}
	for j, v := range s.n {
		dst[j] = v / sum
	}
	return dst
}

// LogLikelihood returns the log-likelihood of the observations in s at the
// parameters of the E-step(s) that made it, with all normalising constants.
func (s *Stats) LogLikelihood() float64 { return s.ll }

// Total returns the sum of the counts of the observations in s.
func (s *Stats) Total() float64 { return s.total }

// ErrZeroDensity is returned by an E-step at parameters under which some
// observation has zero density in every component of positive weight.
var ErrZeroDensity = errors.New("em: an observation has zero density under every component of positive weight")

// EStep validates bag, computes the responsibilities of its observations
// under p and writes the bag's sufficient statistics to dst, replacing its
// contents. It returns the bag's log-likelihood at p (with all normalising
// constants, as Fit). For model.scope shared, call it per bag with the
// shared component parameters and the bag's weights in p.Weights, Add the
// statistics, and call MStep on the sum. It panics if p or dst do not match
// the model.
func (l *Learner) EStep(dst *Stats, bag Bag, p Params) (float64, error) {
	if !p.finite() {
		return 0, errors.New("em: a parameter is infinite or NaN")
	}
	return l.bagEStep(dst, bag, &p)
}

// bagEStep is EStep without its check of the parameters: FitShared's
// E-steps, where parameters that are not finite come from a sum that
// overflowed (ErrOverflow, from estep).
func (l *Learner) bagEStep(dst *Stats, bag Bag, p *Params) (float64, error) {
	l.checkParams(p)
	l.checkStats(dst)
	if err := l.load(bag, false); err != nil {
		return 0, err
	}
	return l.estep(dst, p)
}

// MStep sets the learned quantities of p (weights included) to the
// maximisers given the statistics st; the others are left as they are. A
// component with N_k = 0 keeps its parameters. It returns a
// *SingularCovarianceError if a covariance matrix is not positive
// definite even with RegCovar added.
func (l *Learner) MStep(p *Params, st *Stats) error {
	l.checkParams(p)
	l.checkStats(st)
	return l.mstep(p, st, l.m.Learn)
}

func (l *Learner) checkStats(st *Stats) {
	if st.fam != l.m.Family || st.k != l.m.K || len(st.s1) != len(l.st.s1) {
		panic("em: statistics do not match the model")
	}
}

// estep runs the E-step of the loaded bag at p into st.
func (l *Learner) estep(st *Stats, p *Params) (float64, error) {
	st.Reset()
	if !p.finite() {
		// The data are finite, so only a sum that overflowed in an M-step
		// or a start (Σ c x², say) makes a parameter infinite or NaN.
		return math.NaN(), ErrOverflow
	}
	var (
		ll   float64
		zero bool // a row has zero density under every weighted component
	)
	switch l.m.Family {
	case Gaussian:
		ll, zero = l.estepGaussian(st, p)
	case MultiGaussian:
		if err := l.mvn.prepare(p, l.m); err != nil {
			return 0, err
		}
		ll, zero = l.estepMVN(st, p)
	default:
		ll, zero = l.estepDiscrete(st, p)
	}
	if zero {
		return math.Inf(-1), ErrZeroDensity
	}
	// Every row has a finite log-density, so a log-likelihood or a sum
	// that is not finite has overflowed: counts near the largest float64.
	if !finite(ll) || !st.finite() {
		return ll, ErrOverflow
	}
	st.ll, st.total = ll, l.total
	return ll, nil
}

// llAcc sums c_i (m_i + log s_i) for s_i >= 1, taking one logarithm per
// many observations of count 1 (their s_i multiply, s_i <= K).
type llAcc struct{ sum, prod float64 }

func (a *llAcc) add(c, m, s float64) {
	a.sum += c * m
	if c == 1 {
		a.prod *= s
		if a.prod > 1e280 {
			a.sum += math.Log(a.prod)
			a.prod = 1
		}
		return
	}
	a.sum += c * math.Log(s)
}

func (a *llAcc) value() float64 { return a.sum + math.Log(a.prod) }

// gcomp is one Gaussian component's constants and sums in the E-step.
type gcomp struct {
	a, b, mu  float64 // log w - log σ, 1/(2σ²), μ
	e         float64 // scratch: log-density, then density ratio
	n, s1, s2 float64 // sums
}

// estepGaussian is the univariate Gaussian E-step. The sums are centred at
// the component means.
func (l *Learner) estepGaussian(st *Stats, p *Params) (ll float64, zero bool) {
	k := l.m.K
	if cap(l.gc) < k {
		l.gc = make([]gcomp, k)
	}
	gc := l.gc[:k]
	copy(st.shift, p.Mean)
	for j := range gc {
		sd := p.SD[j]
		gc[j] = gcomp{a: math.Log(p.Weights[j]) - math.Log(sd), b: 0.5 / (sd * sd), mu: p.Mean[j]}
	}
	// The loop inlines expNeg and llAcc.add, which the compiler does not.
	const (
		shift  = 0x1.8p52
		invLn2 = 128 / math.Ln2
		ln2hi  = 6.93147180369123816490e-01 / 128
		ln2lo  = 1.90821492927058770002e-10 / 128
	)
	sum, prod := 0.0, 1.0
	cs := l.c[:len(l.x)]
	for i, x := range l.x {
		c := cs[i]
		m := math.Inf(-1)
		for j := range gc {
			g := &gc[j]
			d := x - g.mu
			t := g.a - g.b*d*d
			g.e = t
			if t > m {
				m = t
			}
		}
		if math.IsInf(m, -1) {
			return m, true
		}
		s := 0.0
		for j := range gc {
			g := &gc[j]
			y := g.e - m
			v := 1.0 // the largest term
			if y < -700 {
				v = math.Exp(y)
			} else if y != 0 {
				kd := y*invLn2 + shift
				kd -= shift
				k := int64(kd)
				r := (y - kd*ln2hi) - kd*ln2lo
				q := r * (1 + r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120)))))
				t := expTable[k&127]
				v = math.Float64frombits(math.Float64bits(t+t*q) + uint64(k>>7)<<52)
			}
			g.e = v
			s += v
		}
		sum += c * m
		if c == 1 {
			prod *= s
			if prod > 1e280 {
				sum += math.Log(prod)
				prod = 1
			}
		} else {
			sum += c * math.Log(s)
		}
		inv := c / s
		for j := range gc {
			g := &gc[j]
			r := g.e * inv
			d := x - g.mu
			rd := r * d
			g.n += r
			g.s1 += rd
			g.s2 += rd * d
		}
	}
	for j, g := range gc {
		st.n[j], st.s1[j], st.s2[j] = g.n, g.s1, g.s2
	}
	return sum + math.Log(prod) + l.konst, false
}

// estepDiscrete is the E-step of the Bernoulli, Categorical and Poisson
// families.
func (l *Learner) estepDiscrete(st *Stats, p *Params) (ll float64, zero bool) {
	m := l.m
	k := m.K
	lw, e, lr, lw0 := l.scratch[:k], l.scratch[k:2*k], l.scratch[2*k:3*k], l.scratch[3*k:4*k]
	for j, w := range p.Weights {
		lw[j] = math.Log(w)
	}
	switch m.Family {
	case Bernoulli:
		// logp[j] = log P(x=0), logp[k+j] = log P(x=1), weights included.
		l.logp = grow(l.logp, 2*k)
		for j, pj := range p.P {
			l.logp[j] = lw[j] + math.Log1p(-pj)
			l.logp[k+j] = lw[j] + math.Log(pj)
		}
	case Categorical:
		lv := m.Levels
		l.logp = grow(l.logp, k*lv)
		for j := range k {
			for c := range lv {
				l.logp[j*lv+c] = lw[j] + math.Log(p.Probs[j*lv+c])
			}
		}
	case Poisson:
		// Relative to the reference rate (see poissonTerms).
		l.poissonTerms(lw, lw0, lr, p.Rate)
	}
	acc := llAcc{prod: 1}
	for i, x := range l.x {
		c := l.c[i]
		switch m.Family {
		case Bernoulli:
			copy(e, l.logp[int(x)*k:int(x)*k+k])
		case Categorical:
			lv := m.Levels
			for j := range k {
				e[j] = l.logp[j*lv+int(x)]
			}
		case Poisson:
			dx := x - l.ref
			for j := range k {
				if x == 0 {
					e[j] = lw0[j] // 0 log λ = 0, also for λ = 0
				} else {
					e[j] = lw[j] + dx*lr[j]
				}
			}
		}
		mx := math.Inf(-1)
		for _, t := range e {
			mx = math.Max(mx, t)
		}
		if math.IsInf(mx, -1) || math.IsNaN(mx) {
			return math.Inf(-1), true
		}
		s := 0.0
		for j, t := range e {
			v := math.Exp(t - mx)
			e[j] = v
			s += v
		}
		acc.add(c, mx, s)
		inv := c / s
		for j, v := range e {
			r := v * inv
			st.n[j] += r
			if m.Family == Categorical {
				st.s1[j*m.Levels+int(x)] += r
			} else {
				st.s1[j] += r * x
			}
		}
	}
	return acc.value() + l.konst, false
}

// mstep sets the quantities of learn in p from st.
func (l *Learner) mstep(p *Params, st *Stats, learn LearnSet) error {
	m := l.m
	if learn.Has(LearnWeights) {
		sum := 0.0
		for _, v := range st.n {
			sum += v
		}
		if sum > 0 {
			for j, v := range st.n {
				p.Weights[j] = v / sum
			}
		}
	}
	reg := m.RegCovar
	for j, nj := range st.n {
		if !(nj > 0) {
			continue
		}
		switch m.Family {
		case Bernoulli:
			if learn.Has(LearnP) {
				p.P[j] = math.Min(math.Max(st.s1[j]/nj, 0), 1)
			}
		case Poisson:
			if learn.Has(LearnRate) {
				p.Rate[j] = math.Max(st.s1[j]/nj, 0)
			}
		case Categorical:
			if learn.Has(LearnProbs) {
				row := st.s1[j*m.Levels : (j+1)*m.Levels]
				sum := 0.0
				for _, v := range row {
					sum += v
				}
				for c, v := range row {
					p.Probs[j*m.Levels+c] = v / sum
				}
			}
		case Gaussian:
			sh, g := st.shift[j], st.s1[j]/nj
			if learn.Has(LearnMean) {
				p.Mean[j] = sh + g
			}
			if learn.Has(LearnSD) {
				e := p.Mean[j] - sh
				v := st.s2[j]/nj - 2*e*g + e*e
				p.SD[j] = math.Sqrt(math.Max(v, reg))
			}
		case MultiGaussian:
			if err := l.mvn.mstep(p, st, j, learn, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// hardStats fills st with the statistics of the hard assignment of the
// loaded rows to components (assign[i] is row i's component).
func (l *Learner) hardStats(st *Stats, assign []int) {
	st.Reset()
	d := l.d
	if st.shift != nil {
		// Centre each component's sums at its mean.
		for i, j := range assign {
			st.n[j] += l.c[i]
			for a := range d {
				st.shift[j*d+a] += l.c[i] * l.x[i*d+a]
			}
		}
		for j, nj := range st.n {
			for a := range d {
				if nj > 0 {
					st.shift[j*d+a] /= nj
				}
			}
		}
		clear(st.n)
	}
	for i, j := range assign {
		st.accumulate(l.x[i*d:(i+1)*d], l.c[i], j)
	}
	st.total = l.total
}

// accumulate adds observation x with weight r to component j.
func (s *Stats) accumulate(x []float64, r float64, j int) {
	s.n[j] += r
	switch s.fam {
	case Bernoulli, Poisson:
		s.s1[j] += r * x[0]
	case Categorical:
		s.s1[j*s.d+int(x[0])] += r
	case Gaussian:
		dx := x[0] - s.shift[j]
		s.s1[j] += r * dx
		s.s2[j] += r * dx * dx
	case MultiGaussian:
		d := s.d
		sh := s.shift[j*d : (j+1)*d]
		s1, s2 := s.s1[j*d:(j+1)*d], s.s2[j*d*d:(j+1)*d*d]
		for a := range d {
			ea := x[a] - sh[a]
			s1[a] += r * ea
			for b := range d {
				s2[a*d+b] += r * ea * (x[b] - sh[b])
			}
		}
	}
}
