package report

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/pipeline"
)

// buildPage builds the report page of the run in dir (with the baseline
// base, if not empty) as Write does, without rendering it.
func buildPage(t *testing.T, dir, base string) *page {
	t.Helper()
	ctx := context.Background()
	r, err := openRun(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var b *run
	if base != "" {
		if b, err = openRun(ctx, base); err != nil {
			t.Fatal(err)
		}
	}
	p, err := build(ctx, r, b, Options{Top: DefaultTop, MaxListed: DefaultMaxListed})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReportWeightNearZeroOne: the weights table's columns "≈ 0" and
// "≈ 1" count the bags with weight below 0.001 and above 0.999, strictly.
// Expectations by hand from the weights written: bag 1 (0.0005, 0.9995)
// is the only bag counted, once in each column; bags 2 (0.005, 0.995) and
// 3 (0.001, 0.999, on the thresholds) are not.
func TestReportWeightNearZeroOne(t *testing.T) {
	dir := copyRun(t, exampleOf(t, pipeline.Bernoulli).dir)
	f1, f2 := "factory1", "factory2"
	writeWeights(t, filepath.Join(dir, "weights"), []int64{1, 1, 2, 2, 3, 3, 4, 4},
		[]string{f1, f2, f1, f2, f1, f2, f1, f2}, []float64{0.0005, 0.9995, 0.005, 0.995, 0.001, 0.999, 0.5, 0.5})
	p := buildPage(t, dir, "")
	for k, want := range []struct{ zero, one int64 }{{1, 0}, {0, 1}} {
		cv := p.Weights[k]
		if cv.Bags != 4 || cv.Zero != want.zero || cv.One != want.one {
			t.Errorf("%s: %d bags, %d ≈ 0, %d ≈ 1; want 4, %d, %d", cv.Name, cv.Bags, cv.Zero, cv.One, want.zero, want.one)
		}
	}
}

// TestReportBaselineBandsAndMovers: with a baseline, each bag of both runs
// falls in the band of its largest |Δweight| (0; (0, 1e-8]; (1e-8, 1e-4];
// (1e-4, 0.01]; (0.01, 0.1]; over 0.1; a weight in one run only), and
// every bag that moved at all, however little, is a mover, largest first.
// Expectations by hand: bags 1 to 6 move by 0, 3e-9, 3e-5, 3e-4, 0.05
// and 0.25, one per band (each well inside its band); bag 7 has no
// factory2 weight in the run, so it is in the last band and is not a
// mover. Bag 6's two weights move by exactly 0.25 each (0.25 → 0.5, 0.75
// → 0.5): the tie names the first component, factory1.
func TestReportBaselineBandsAndMovers(t *testing.T) {
	src := exampleOf(t, pipeline.Bernoulli).dir
	cur, old := copyRun(t, src), copyRun(t, src)
	f1, f2 := "factory1", "factory2"
	deltas := []float64{0, 3e-9, 3e-5, 3e-4, 0.05, 0.25}
	var keys []int64
	var comps []string
	var wCur, wOld []float64
	for i, d := range deltas {
		keys = append(keys, int64(i+1), int64(i+1))
		comps = append(comps, f1, f2)
		wOld = append(wOld, 0.25, 0.75)
		wCur = append(wCur, 0.25+d, 0.75-d)
	}
	writeWeights(t, filepath.Join(old, "weights"), append(keys, 7, 7), append(comps, f1, f2), append(wOld, 0.4, 0.6))
	writeWeights(t, filepath.Join(cur, "weights"), append(keys, 7), append(comps, f1), append(wCur, 0.6))
	bv := buildPage(t, cur, old).Baseline
	if bv == nil {
		t.Fatal("no baseline section")
	}
	if bv.Joined != 7 || bv.OnlyRun != 0 || bv.OnlyOld != 0 {
		t.Errorf("%d joined, %d run only, %d baseline only; want 7, 0, 0", bv.Joined, bv.OnlyRun, bv.OnlyOld)
	}
	wantBands := []int64{1, 1, 1, 1, 1, 1, 1, 0}
	var got []int64
	for _, b := range bv.Bands {
		got = append(got, b.Bags)
	}
	if !slices.Equal(got, wantBands) {
		t.Errorf("bands %v (%v), want %v", got, bv.Bands, wantBands)
	}
	var movers []string
	for _, m := range bv.Movers {
		movers = append(movers, m.Key)
	}
	if want := []string{"6", "5", "4", "3", "2"}; !slices.Equal(movers, want) {
		t.Fatalf("movers %v, want %v", movers, want)
	}
	for i, m := range bv.Movers {
		if d := deltas[5-i]; math.Abs(m.Delta-d) > 1e-12 {
			t.Errorf("mover %s: Δ %v, want %v", m.Key, m.Delta, d)
		}
	}
	if m := bv.Movers[0]; m.Comp != f1 || len(m.Changes) != 2 || m.Changes[0] != (change{Old: 0.25, New: 0.5}) {
		t.Errorf("mover 6: component %s, changes %v; want factory1, [{0.25 0.5} {0.75 0.5}]", m.Comp, m.Changes)
	}
}

// TestReportLLPerObservationCounts: the histogram and summary of the
// log-likelihood per observation divide each bag's log-likelihood by its
// total count (input.count), not its number of rows.
//
// Expectations in closed form: with fixed components p = 0.8 and 0.3 and
// a bag of c1 ones and c0 zeros, the mixture is one Bernoulli with
// q = 0.8 w + 0.3 (1 - w), whose maximum over w in [0, 1] is
// q = c1 / (c0 + c1) when that share is in [0.3, 0.8] (the counts below
// keep it in [0.34, 0.74]); the log-likelihood per observation is then
// q log q + (1 - q) log(1 - q). Tolerance 1e-9 relative (EM stops at a
// relative gain of 1e-10 per step).
func TestReportLLPerObservationCounts(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "red", Type: arrow.PrimitiveTypes.Int64},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.NewGoAllocator(), sc)
	defer b.Release()
	rng := rand.New(rand.NewPCG(21, 22))
	var want []float64
	for bag := range int64(12) {
		c1 := 17 + rng.IntN(21) // 17..37 of 50
		c0 := 50 - c1
		for v, c := range []int{c0, c1} {
			b.Field(0).(*array.Int64Builder).Append(bag)
			b.Field(1).(*array.Int64Builder).Append(int64(v))
			b.Field(2).(*array.Int64Builder).Append(int64(c))
		}
		q := float64(c1) / 50
		want = append(want, q*math.Log(q)+(1-q)*math.Log(1-q))
	}
	rec := b.NewRecord()
	defer rec.Release()
	dir := runRecord(t, t.TempDir(), rec, "bag: bag_id, value: red, count: n", `
model:
  family: bernoulli
  components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]`)
	st := buildPage(t, dir, "").LLStats
	mean := 0.0
	for _, v := range want {
		mean += v / float64(len(want))
	}
	near := func(got, want float64) bool { return math.Abs(got-want) <= 1e-9*math.Abs(want) }
	if st.N != int64(len(want)) || !near(st.Min, slices.Min(want)) || !near(st.Max, slices.Max(want)) || !near(st.Mean(), mean) {
		t.Errorf("log-likelihood per observation: n %d, min %v, max %v, mean %v; want %d, %v, %v, %v",
			st.N, st.Min, st.Max, st.Mean(), len(want), slices.Min(want), slices.Max(want), mean)
	}
}
