package pipeline

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// fault is what a generated row does wrong.
type fault int

const (
	faultNone      fault = iota
	faultBadValue        // a value the family cannot take: NaN, 2, -1
	faultNullValue       // a null value
	faultNullCount       // a null count
	faultBadCount        // a negative count
)

// genRow is one generated input row.
type genRow struct {
	id    int64 // unique row id, kept in the posteriors table
	bag   int64
	value float64 // coded like the family's column (0/1, counts, reals)
	count int64
	fault fault
}

// policyCase is a random input with faults injected into some bags.
type policyCase struct {
	family string
	model  string
	rows   []genRow
}

// genPolicyCase makes 4 to 40 bags of 1 to 25 rows of a random family; in
// about a fifth of the bags one row (or, rarely, every row) has a fault.
func genPolicyCase(seed uint64) policyCase {
	rng := rand.New(rand.NewPCG(seed, 0xfa17))
	pc := policyCase{}
	switch rng.IntN(3) {
	case 0:
		pc.family, pc.model = Bernoulli, bernoulliModel
	case 1:
		pc.family, pc.model = Gaussian, gaussianModel
	default:
		pc.family, pc.model = Poisson, poissonModel
	}
	nb := 4 + rng.IntN(37)
	keys := rng.Perm(1000)[:nb]
	var id int64
	for _, k := range keys {
		n := 1 + rng.IntN(25)
		w := rng.Float64()
		start := len(pc.rows)
		for range n {
			a := rng.Float64() < w
			var v float64
			switch pc.family {
			case Bernoulli:
				p := 0.3
				if a {
					p = 0.8
				}
				if rng.Float64() < p {
					v = 1
				}
			case Gaussian:
				v = rng.NormFloat64()
				if !a {
					v += 5
				}
			case Poisson:
				rate := 10.0
				if a {
					rate = 1
				}
				v = float64(poissonDraw(rng, rate))
			}
			pc.rows = append(pc.rows, genRow{id: id, bag: int64(k), value: v, count: 1 + rng.Int64N(4)})
			id++
		}
		switch r := rng.Float64(); {
		case r < 0.2:
			pc.rows[start+rng.IntN(n)].fault = fault(1 + rng.IntN(4))
		case r < 0.25:
			f := fault(2 + rng.IntN(2)) // every row null: the bag has nothing left
			for i := start; i < len(pc.rows); i++ {
				pc.rows[i].fault = f
			}
		}
	}
	rng.Shuffle(len(pc.rows), func(i, j int) { pc.rows[i], pc.rows[j] = pc.rows[j], pc.rows[i] })
	return pc
}

// poissonDraw draws from Poisson(rate) by inversion; rate is small.
func poissonDraw(rng *rand.Rand, rate float64) int64 {
	u, k, p := rng.Float64(), int64(0), math.Exp(-rate)
	for s := p; u > s; s += p {
		k++
		p *= rate / float64(k)
	}
	return k
}

// write writes rows as up to three Parquet files under dir, with columns
// id, bag, x and n, faults rendered as the family's column would hold them.
func (pc policyCase) write(t *testing.T, dir string, rows []genRow, files int) {
	t.Helper()
	for f := range files {
		var ids, bagCol []int64
		var xs, ns []any
		for i := f; i < len(rows); i += files {
			r := rows[i]
			ids = append(ids, r.id)
			bagCol = append(bagCol, r.bag)
			var x any = r.value
			if pc.family != Gaussian {
				x = int64(r.value)
			}
			var n any = r.count
			switch r.fault {
			case faultBadValue:
				x = map[string]any{Bernoulli: int64(2), Gaussian: math.NaN(), Poisson: int64(-1)}[pc.family]
			case faultNullValue:
				x = nil
			case faultNullCount:
				n = nil
			case faultBadCount:
				n = int64(-1)
			}
			xs = append(xs, x)
			ns = append(ns, n)
		}
		if len(ids) == 0 {
			continue
		}
		// A typed first element lets column() pick the type when the
		// first row is null.
		xs = append([]any{typedZero(pc.family)}, xs...)
		ns = append([]any{int64(0)}, ns...)
		xc, nc := column("x", xs), column("n", ns)
		xc.arr = sliceArr(xc.arr, 1)
		nc.arr = sliceArr(nc.arr, 1)
		writeParquet(t, filepath.Join(dir, fmt.Sprintf("part-%d.parquet", f)),
			column("id", ids), column("bag", bagCol), xc, nc)
	}
}

func typedZero(family string) any {
	if family == Gaussian {
		return 0.0
	}
	return int64(0)
}

// policyConfig is the case's config over in, writing out.
func (pc policyCase) config(t *testing.T, in, out, nulls, onError string) *Config {
	t.Helper()
	return mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: x, count: n, keep: [id], nulls: %s}
model: %s
output: {dir: %q, posteriors: true}
run: {on_error: %s, workers: 3}
`, in, nulls, pc.model, out, onError))
}

// TestSkipKeepsEveryBag is the promise of run.on_error: skip and
// input.nulls, checked on random inputs with random faults: every input bag
// is in fits/ exactly once; a bag fails exactly when one of its rows is bad
// (or nothing is left of it); the failure names the file, column and row;
// n_dropped counts the dropped rows; and every other bag gets exactly the
// weights and posteriors of a clean run over its good rows alone.
func TestSkipKeepsEveryBag(t *testing.T) {
	for seed := uint64(1); seed <= 24; seed++ {
		pc := genPolicyCase(seed)
		nulls := []string{NullsError, NullsDrop}[seed%2]
		t.Run(fmt.Sprintf("seed%d_%s_nulls_%s", seed, pc.family, nulls), func(t *testing.T) {
			// What each bag should come to.
			type want struct {
				rows, dropped int64
				failed        bool
				reason        string
			}
			wants := map[int64]*want{}
			var clean []genRow
			for _, r := range pc.rows {
				w := wants[r.bag]
				if w == nil {
					w = &want{}
					wants[r.bag] = w
				}
				droppable := r.fault == faultNullValue || r.fault == faultNullCount
				switch {
				case droppable && nulls == NullsDrop:
					w.dropped++
				case r.fault != faultNone:
					w.rows++
					if !w.failed {
						w.failed = true
						w.reason = map[fault]string{faultBadValue: `column "x", row `, faultNullValue: "the value is null",
							faultNullCount: "the count is null", faultBadCount: "a count must be a finite non-negative number"}[r.fault]
					}
				default:
					w.rows++
				}
			}
			for bag, w := range wants {
				if w.rows == 0 {
					w.failed, w.reason = true, "had a null value or count and was dropped"
				}
				_ = bag
			}
			for _, r := range pc.rows {
				if !wants[r.bag].failed && r.fault == faultNone {
					clean = append(clean, r)
				}
			}

			root := t.TempDir()
			in, cleanIn := filepath.Join(root, "in"), filepath.Join(root, "clean")
			pc.write(t, in, pc.rows, 3)
			pc.write(t, cleanIn, clean, 2)
			out, cleanOut := filepath.Join(root, "out"), filepath.Join(root, "cleanout")
			sum := mustRun(t, pc.config(t, in, out, nulls, OnErrorSkip), Options{})
			t.Logf("%d bags, %d failed, %d rows dropped", sum.Bags, sum.BagsFailed, sum.RowsDropped)

			nFailed := 0
			for _, w := range wants {
				if w.failed {
					nFailed++
				}
			}
			if sum.Bags != len(wants) || sum.BagsFailed != nFailed || sum.BagsOK != len(wants)-nFailed {
				t.Errorf("summary: %d bags, %d ok, %d failed; want %d, %d, %d", sum.Bags, sum.BagsOK, sum.BagsFailed, len(wants), len(wants)-nFailed, nFailed)
			}

			fits := readTable(t, out, FitsTable)
			seen := map[int64]bool{}
			for i, b := range fits.cols["bag"] {
				bag := b.(int64)
				w := wants[bag]
				if w == nil || seen[bag] {
					t.Errorf("fits: bag %d unexpected or listed twice", bag)
					continue
				}
				seen[bag] = true
				status, _ := fits.cols["status"][i].(string)
				errText, _ := fits.cols["error"][i].(string)
				if got := fits.cols["n_dropped"][i].(int64); got != w.dropped {
					t.Errorf("bag %d: n_dropped = %d, want %d", bag, got, w.dropped)
				}
				if got := fits.cols["n_obs"][i].(int64); got != w.rows {
					t.Errorf("bag %d: n_obs = %d, want %d", bag, got, w.rows)
				}
				if w.failed {
					if status != StatusFailed || !strings.Contains(errText, w.reason) || !strings.Contains(errText, "part-") {
						t.Errorf("bag %d: status %q, error %q; want failed with %q and the file", bag, status, errText, w.reason)
					}
					if fits.cols["log_likelihood"][i] != nil || fits.cols["converged"][i] != nil {
						t.Errorf("bag %d failed but has fit numbers", bag)
					}
					continue
				}
				if status != StatusOK || fits.cols["error"][i] != nil {
					t.Errorf("bag %d: status %q, error %v; want ok and null", bag, status, fits.cols["error"][i])
				}
			}
			if len(seen) != len(wants) {
				t.Errorf("fits lists %d bags, the input has %d", len(seen), len(wants))
			}

			// The good bags, against a clean run over their good rows.
			if len(clean) == 0 {
				weights := readTable(t, out, WeightsTable)
				if weights.len() != 0 {
					t.Errorf("every bag failed, yet weights has %d rows", weights.len())
				}
				return
			}
			mustRun(t, pc.config(t, cleanIn, cleanOut, NullsError, OnErrorFail), Options{})
			got, wantW := readTable(t, out, WeightsTable), readTable(t, cleanOut, WeightsTable)
			assertSameTable(t, got, wantW, []string{"bag", "component", "weight"}, nil, 0)

			post, cleanPost := readTable(t, out, PosteriorsTable), readTable(t, cleanOut, PosteriorsTable)
			if post.len() != len(pc.rows) {
				t.Errorf("posteriors has %d rows, the input %d", post.len(), len(pc.rows))
			}
			byID := map[int64]int{}
			for i, id := range cleanPost.cols["id"] {
				byID[id.(int64)] = i
			}
			for i, id := range post.cols["id"] {
				j, ok := byID[id.(int64)]
				for _, c := range []string{"posterior_a", "posterior_b", "component"} {
					switch {
					case !ok && post.cols[c][i] != nil:
						t.Errorf("row id %d (failed bag or dropped row): %s = %v, want null", id, c, post.cols[c][i])
					case ok && post.cols[c][i] != cleanPost.cols[c][j]:
						t.Errorf("row id %d: %s = %v, clean run %v", id, c, post.cols[c][i], cleanPost.cols[c][j])
					}
				}
			}
		})
	}
}

// TestMaxFailedBags turns too many failed bags back into a failed run that
// writes nothing and says how many failed and which was first.
func TestMaxFailedBags(t *testing.T) {
	j := newJob(t)
	// Bags 1..6; bags 2, 3 and 5 hold a value bernoulli cannot take.
	writeParquet(t, j.file("a.parquet"),
		column("bag", []int64{1, 2, 3, 4, 5, 6, 1, 6}),
		column("x", []int64{1, 2, 7, 0, 9, 1, 0, 0}))
	for _, tc := range []struct {
		limit string
		fail  bool
	}{
		{"", false}, {"3", false}, {"2", true}, {"0", true}, {"0.5", false}, {"0.4", true}, {"50%", false}, {"49%", true},
	} {
		t.Run("limit_"+tc.limit, func(t *testing.T) {
			cfg := j.config(t, bernoulliModel, func(c *Config) {
				c.Run.OnError = OnErrorSkip
				if tc.limit != "" {
					l, err := parseLimit(tc.limit)
					if err != nil {
						t.Fatal(err)
					}
					c.Run.MaxFailedBags = &l
				}
			})
			if !tc.fail {
				sum := mustRun(t, cfg, Options{})
				if sum.BagsFailed != 3 || sum.BagsOK != 3 {
					t.Errorf("summary %+v, want 3 ok and 3 failed", sum)
				}
				if err := os.RemoveAll(cfg.Output.Dir); err != nil {
					t.Fatal(err)
				}
				return
			}
			err := runBad(t, cfg)
			var tm *TooManyFailuresError
			if !errors.As(err, &tm) || tm.Failed != 3 || tm.Bags != 6 {
				t.Fatalf("error %v (%T), want a TooManyFailuresError for 3 of 6 bags", err, err)
			}
			wantText(t, err, "3 of 6 bags failed", "run.max_failed_bags", "a.parquet", `column "x", row 1, bag 2: value 2`)
		})
	}
}

// TestNullsDropAllRowsFailMode: with nulls: drop and on_error: fail, a bag
// with nothing left stops the run, naming the bag and the file.
func TestNullsDropAllRowsFailMode(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2, 2, 1}), column("x", []any{1.5, nil, nil, 0.5}))
	err := runBad(t, j.config(t, gaussianModel, func(c *Config) { c.Input.Nulls = NullsDrop }))
	wantInputError(t, err, "a.parquet", "x", -1, "2", "", "every row of the bag (2) had a null value or count and was dropped")
}

// TestNullBagKeyAlwaysFails: a null bag key cannot be put in any bag, so it
// fails the run under every policy, naming the file and row.
func TestNullBagKeyAlwaysFails(t *testing.T) {
	for _, onError := range []string{OnErrorFail, OnErrorSkip} {
		for _, nulls := range []string{NullsError, NullsDrop} {
			j := newJob(t)
			writeParquet(t, j.file("a.parquet"), column("bag", []any{int64(1), int64(2), nil}), column("x", []int64{1, 0, 1}))
			err := runBad(t, j.config(t, bernoulliModel, func(c *Config) { c.Run.OnError, c.Input.Nulls = onError, nulls }))
			wantInputError(t, err, "a.parquet", "bag", 2, "", "", "the bag key is null")
		}
	}
}

// TestSkipFailedBagAcrossFiles: a bag that is good in one file and bad in
// another fails as a whole (a partial bag would give wrong weights), and the
// error names the file with the bad row.
func TestSkipFailedBagAcrossFiles(t *testing.T) {
	j := newJob(t)
	writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2}), column("x", []int64{1, 0}))
	writeParquet(t, j.file("b.parquet"), column("bag", []int64{2, 1}), column("x", []int64{5, 1}))
	cfg := j.config(t, bernoulliModel, func(c *Config) { c.Run.OnError = OnErrorSkip })
	sum := mustRun(t, cfg, Options{})
	if sum.BagsOK != 1 || sum.BagsFailed != 1 {
		t.Errorf("summary %+v, want 1 ok, 1 failed", sum)
	}
	fits := readTable(t, cfg.Output.Dir, FitsTable)
	i := slices.Index(fits.cols["bag"], any(int64(2)))
	if i < 0 {
		t.Fatal("bag 2 is not in fits")
	}
	if e, _ := fits.cols["error"][i].(string); !strings.Contains(e, "b.parquet") || !strings.Contains(e, "row 0") || fits.cols["n_obs"][i] != int64(2) {
		t.Errorf("bag 2: error %q, n_obs %v; want b.parquet row 0, n_obs 2", e, fits.cols["n_obs"][i])
	}
	if w := readTable(t, cfg.Output.Dir, WeightsTable); slices.Contains(w.cols["bag"], any(int64(2))) {
		t.Error("weights has rows for the failed bag 2")
	}
	m, err := ReadManifest(filepath.Join(cfg.Output.Dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if m.Summary.BagsFailed != 1 || m.Summary.BagsOK != 1 {
		t.Errorf("manifest summary %+v, want 1 ok and 1 failed", m.Summary)
	}
}

// sliceArr drops the first skip elements of arr.
func sliceArr(arr arrow.Array, skip int) arrow.Array {
	s := array.NewSlice(arr, int64(skip), int64(arr.Len()))
	arr.Release()
	return s
}

// TestCheckCatchesEarly: what the README's table says `mixbatch validate`
// reports before a run, Check reports, naming the file.
func TestCheckCatchesEarly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(j job)
		model string
		want  string // "" for no error
	}{
		{"missing path", func(j job) {}, bernoulliModel, "in"},
		{"csv named parquet", func(j job) {
			if err := os.MkdirAll(j.in, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(j.file("a.parquet"), []byte("bag,x\n1,1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, bernoulliModel, "a.parquet"},
		{"truncated", func(j job) {
			writeParquet(t, j.file("a.parquet"), column("bag", []int64{1, 2}), column("x", []int64{1, 0}))
			b, _ := os.ReadFile(j.file("a.parquet"))
			if err := os.WriteFile(j.file("a.parquet"), b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		}, bernoulliModel, "a.parquet"},
		{"schemas disagree", func(j job) {
			writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("x", []int64{1}))
			writeParquet(t, j.file("b.parquet"), column("bag", []string{"1"}), column("x", []int64{1}))
		}, bernoulliModel, "b.parquet"},
		{"missing column", func(j job) {
			writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("y", []int64{1}))
		}, bernoulliModel, `a.parquet: column "x": no such column`},
		{"wrong type", func(j job) {
			writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("x", []float64{1}))
		}, poissonModel, `a.parquet: column "x": type float64 cannot hold poisson values`},
		{"empty table", func(j job) {
			writeParquet(t, j.file("a.parquet"), column("bag", []int64{}), column("x", []int64{}))
		}, bernoulliModel, ""},
		{"two columns of one name", func(j job) {
			writeParquet(t, j.file("a.parquet"), column("bag", []int64{1}), column("x", []int64{1}), column("x", []int64{0}))
		}, bernoulliModel, `a.parquet: column "x": the name is ambiguous: 2 columns have it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newJob(t)
			tc.setup(j)
			_, err := Check(t.Context(), j.config(t, tc.model), Options{})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Check: %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Check: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
