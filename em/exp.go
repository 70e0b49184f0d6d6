package em

import "math"

// expNeg returns e^x for x <= 0 within 2 ulp (math.Exp is correctly
// rounded to about 1 ulp and takes about three times as long): the E-steps
// evaluate one exponential per observation and component, and that is
// most of their cost.
//
// Tang's method: x = (128e + j) ln2/128 + r with |r| <= ln2/256, so
// e^x = 2^e · 2^(j/128) · e^r, with 2^(j/128) from a table and e^r from
// its Taylor polynomial of degree 5 (truncation error below 1e-18). The
// reduction uses Cody and Waite's split of ln2 (fdlibm's ln2_hi has 21
// trailing zero bits, so k·ln2_hi/128 is exact for |k| < 2^21). Below
// -700, where the result would leave the normal range, it defers to
// math.Exp.
func expNeg(x float64) float64 {
	if !(x >= -700) {
		return math.Exp(x)
	}
	const (
		shift = 0x1.8p52 // adding and subtracting it rounds to an integer
		inv   = 128 / math.Ln2
		ln2hi = 6.93147180369123816490e-01 / 128
		ln2lo = 1.90821492927058770002e-10 / 128
	)
	kd := x*inv + shift
	kd -= shift
	k := int64(kd)
	r := (x - kd*ln2hi) - kd*ln2lo
	p := r * (1 + r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120)))))
	t := expTable[k&127]
	// t·(1+p) scaled by 2^e, e = k>>7, through the exponent bits.
	v := t + t*p
	return math.Float64frombits(math.Float64bits(v) + uint64(k>>7)<<52)
}

// expTable holds 2^(j/128), j = 0..127, correctly rounded.
var expTable = func() [128]float64 {
	var t [128]float64
	for j := range t {
		t[j] = math.Exp2(float64(j) / 128)
	}
	return t
}()

// expNegs sets dst[i] = expNeg(src[i]) for the x <= 0 of src, bit for bit,
// reusing dst's storage when it is large enough, and returns dst. It is
// expNeg written out in a loop, which the compiler does not do, so that
// the exponentials' latencies overlap.
func expNegs(dst, src []float64) []float64 {
	const (
		shift = 0x1.8p52
		inv   = 128 / math.Ln2
		ln2hi = 6.93147180369123816490e-01 / 128
		ln2lo = 1.90821492927058770002e-10 / 128
	)
	dst = grow(dst, len(src))
	for i, x := range src {
		if !(x >= -700) {
			dst[i] = math.Exp(x)
			continue
		}
		kd := x*inv + shift
		kd -= shift
		k := int64(kd)
		r := (x - kd*ln2hi) - kd*ln2lo
		p := r * (1 + r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120)))))
		t := expTable[k&127]
		v := t + t*p
		dst[i] = math.Float64frombits(math.Float64bits(v) + uint64(k>>7)<<52)
	}
	return dst
}
