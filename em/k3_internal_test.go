package em

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestKernels3 checks that the K = 3 kernels (k3.go) and load's K = 3
// branch give the general code's results bit for bit, on random tables
// with ties, zero densities (-Inf), nearly alike components, counts other
// than 1 and more than 256 rows (the gradient's block sums), and for every
// reference component.
func TestKernels3(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 3))
	same := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
	sameAll := func(a, b []float64) bool {
		for j := range a {
			if !same(a[j], b[j]) {
				return false
			}
		}
		return len(a) == len(b)
	}
	for trial := range 300 {
		n := 1 + rnd.IntN(700)
		tab := make([]float64, 3*n)
		var counts []float64
		if trial%2 == 0 {
			counts = make([]float64, n)
		}
		for i := range n {
			for j := range 3 {
				v := -30 * rnd.Float64()
				switch rnd.IntN(12) {
				case 0:
					v = math.Inf(-1)
				case 1:
					v = tab[3*i] // a tie, or nearly alike below
				case 2:
					v = tab[3*i] + 1e-9*rnd.NormFloat64()
				case 3:
					v = -800 // underflows against a row maximum near 0
				}
				tab[3*i+j] = v
			}
			if math.IsInf(max(tab[3*i], tab[3*i+1], tab[3*i+2]), -1) {
				tab[3*i+rnd.IntN(3)] = -1
			}
			if counts != nil {
				counts[i] = float64(rnd.IntN(3))
			}
		}
		var f Fitter
		if err := f.load(tab, counts, 3); err != nil {
			continue // no data
		}
		// load's K = 3 branch against expDiff.
		for i, ki := 0, 0; i < n; i++ {
			if counts != nil && counts[i] == 0 {
				continue
			}
			row := tab[3*i : 3*i+3]
			m := max(row[0], row[1], row[2])
			for j, v := range row {
				if !same(f.lg[3*ki+j], v-m) || !same(f.lik[3*ki+j], expDiff(v-m)) {
					t.Fatalf("trial %d row %d: load %v %v, want %v %v", trial, i, f.lg[3*ki+j], f.lik[3*ki+j], v-m, expDiff(v-m))
				}
			}
			ki++
		}
		if err := f.start(nil); err != nil {
			t.Fatal(err)
		}
		w := []float64{rnd.Float64(), rnd.Float64(), rnd.Float64()}
		if trial%5 == 0 {
			w[rnd.IntN(3)] = 0
		}
		for _, wantLL := range []bool{false, true} {
			ll1, p1, ok1 := f.gradient3(w, wantLL)
			g1 := append([]float64(nil), f.g...)
			b1 := append([]float64(nil), f.blk...)
			ll2, p2, ok2 := f.gradient(w, wantLL)
			if ok1 != ok2 || ok1 && (!same(ll1, ll2) || !same(p1, p2) || !sameAll(g1, f.g) || !sameAll(b1, f.blk)) {
				t.Fatalf("trial %d: gradient3 %v %v %v %v %v, gradient %v %v %v %v %v", trial, ll1, p1, ok1, g1, b1, ll2, p2, ok2, f.g, f.blk)
			}
		}
		f.h = grow(f.h, 9)
		f.diff = grow(f.diff, len(f.lik))
		for r := range 3 {
			f.ref = r
			rows3 := make([]float64, len(f.lik))
			diffRows3(rows3, f.lik, f.lg, r)
			for i := 0; i < len(f.lik); i += 3 {
				diffRow(f.diff[i:i+3], f.lik[i:i+3], f.lg[i:i+3], r, nil)
				if !sameAll(rows3[i:i+3], f.diff[i:i+3]) {
					t.Fatalf("trial %d ref %d: diffRows3 %v, diffRow %v", trial, r, rows3[i:i+3], f.diff[i:i+3])
				}
				for j := range 3 {
					want := 0.0
					if j != r {
						want = densityDiff(f.lg[i+j], f.lik[i+j], f.lg[i+r], f.lik[i+r])
					}
					if !same(f.diff[i+j], want) {
						t.Fatalf("trial %d: diffRow %v, densityDiff %v", trial, f.diff[i+j], want)
					}
				}
			}
			ll1, ok1 := f.hessian3(w)
			g1 := append([]float64(nil), f.g...)
			b1 := append([]float64(nil), f.blk...)
			h1 := append([]float64(nil), f.h...)
			ll2, ok2 := f.hessian(w)
			if ok1 != ok2 || ok1 && (!same(ll1, ll2) || !sameAll(g1, f.g) || !sameAll(b1, f.blk) || !sameAll(h1, f.h)) {
				t.Fatalf("trial %d ref %d: hessian3 %v %v %v %v %v, hessian %v %v %v %v %v", trial, r, ll1, ok1, g1, b1, h1, ll2, ok2, f.g, f.blk, f.h)
			}
			if ok1 {
				// The running product is the sum of the logarithms, to
				// rounding (the line search allows 1e-14 (|ll| + N)).
				want := 0.0
				for i, c := range f.c {
					want += c * math.Log(f.density(w, i))
				}
				if d := math.Abs(ll1 - want); d > 1e-14*(math.Abs(want)+f.n) {
					t.Fatalf("trial %d ref %d: hessian3's log-likelihood %v, sum of logarithms %v", trial, r, ll1, want)
				}
				if d := math.Abs(f.logLik3(w) - f.base - want); d > 1e-14*(math.Abs(want)+f.n) {
					t.Fatalf("trial %d ref %d: logLik3 %v, sum of logarithms %v", trial, r, f.logLik3(w)-f.base, want)
				}
			}
			if a, b := f.logLik3(w), f.logLikRows(w); !same(a, b) {
				t.Fatalf("trial %d ref %d: logLik3 %v, logLikRows %v", trial, r, a, b)
			}

			// The information of three free weights.
			u := Uncertainty{k: 3, ref: r, dim: 2, w: w, coord: []int{0, 1, 2}}
			u.coord[r] = -1
			if r < 2 {
				u.coord[2] = 1
			}
			if r == 0 {
				u.coord[1] = 0
			}
			u.info = make([]float64, 4)
			err1 := u.accumulate3(f.lik, f.diff, f.c)
			i1 := append([]float64(nil), u.info...)
			clear(u.info)
			err2 := u.accumulateRows(f.lik, f.diff, f.c)
			if (err1 == nil) != (err2 == nil) || err1 == nil && !sameAll(i1, u.info) {
				t.Fatalf("trial %d ref %d: accumulate3 %v %v, accumulateRows %v %v", trial, r, i1, err1, u.info, err2)
			}
		}
	}
}

// TestUncertaintyRow: the table row of a kept observation, from u.rows or
// by counting the positive counts.
func TestUncertaintyRow(t *testing.T) {
	u := Uncertainty{rows: []int{2, 5}}
	if u.row(1) != 5 {
		t.Errorf("row(1) from rows = %d, want 5", u.row(1))
	}
	u = Uncertainty{cnt: []float64{0, 1, 0, 0, 3, 1}}
	for i, want := range []int{1, 4, 5} {
		if got := u.row(i); got != want {
			t.Errorf("row(%d) from counts = %d, want %d", i, got, want)
		}
	}
	u = Uncertainty{}
	if u.row(7) != 7 {
		t.Errorf("row(7) without counts = %d, want 7", u.row(7))
	}
}

// TestLoad3 checks load3 against loadRows, the general pass it stands
// for, on seeded tables with every kind of entry (ties, ±0 ties, -Inf,
// whole rows of -Inf, NaN, +Inf) and counts (none, 0, fractional, and
// bad ones: negative, NaN, +Inf): the same rows kept, f.lg, f.c, f.n and
// f.base bit for bit, or the same error naming the same row and
// component.
func TestLoad3(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	same := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
	entries := []float64{0, math.Copysign(0, -1), -1, -2.5, -700, -800, math.Inf(-1)}
	var errs, ok int
	for trial := range 2000 {
		n := 1 + rnd.IntN(60)
		tab := make([]float64, 3*n)
		for i := range tab {
			tab[i] = entries[rnd.IntN(len(entries))] - rnd.Float64()*float64(rnd.IntN(2))
			if trial%7 == 0 && rnd.IntN(4*n) == 0 {
				tab[i] = []float64{math.NaN(), math.Inf(1)}[rnd.IntN(2)]
			}
		}
		var counts []float64
		if trial%2 == 0 {
			counts = make([]float64, n)
			for i := range counts {
				counts[i] = []float64{0, 1, 1, 2.5, 7}[rnd.IntN(5)]
				if trial%11 == 0 && rnd.IntN(2*n) == 0 {
					counts[i] = []float64{-1, math.NaN(), math.Inf(1)}[rnd.IntN(3)]
				}
			}
		}
		var a, b Fitter
		for _, f := range []*Fitter{&a, &b} {
			f.lg, f.c = make([]float64, 3*n), make([]float64, n)
		}
		ka, ea := a.load3(tab, counts)
		kb, eb := b.loadRows(tab, counts, 3)
		if fmt.Sprint(ea) != fmt.Sprint(eb) {
			t.Fatalf("trial %d: load3 error %v, loadRows %v", trial, ea, eb)
		}
		if ea != nil {
			errs++
			continue
		}
		ok++
		if ka != kb || !same(a.n, b.n) || !same(a.base, b.base) {
			t.Fatalf("trial %d: load3 kept %d n %v base %v, loadRows %d %v %v", trial, ka, a.n, a.base, kb, b.n, b.base)
		}
		for i := range 3 * ka {
			if !same(a.lg[i], b.lg[i]) {
				t.Fatalf("trial %d: lg[%d] %v from load3, %v from loadRows", trial, i, a.lg[i], b.lg[i])
			}
		}
		for i := range ka {
			if !same(a.c[i], b.c[i]) {
				t.Fatalf("trial %d: c[%d] %v from load3, %v from loadRows", trial, i, a.c[i], b.c[i])
			}
		}
	}
	// Both outcomes must have been exercised.
	if errs < 100 || ok < 100 {
		t.Fatalf("%d tables failed and %d loaded; the generator should give at least 100 of each", errs, ok)
	}
}
