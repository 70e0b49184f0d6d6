package pipeline

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/schema"
	"gopkg.in/yaml.v3"

	"github.com/mixbatch/mixbatch/em"
)

// mvnRow is one 2-D observation with its count.
type mvnRow struct{ x, y, n float64 }

// mvnDraw draws a row from three well-separated correlated 2-D Gaussians
// with weights w, rounded to one decimal so that bags hold repeated rows.
// Each covariance [[a, b], [b, c]] is drawn through its Cholesky factor.
func mvnDraw(rng *rand.Rand, w []float64) mvnRow {
	comps := []struct{ mx, my, a, b, c float64 }{
		{-3, 1, 1, 0.5, 1}, {2, -2, 0.5, -0.2, 0.8}, {5, 4, 2, 0, 0.3},
	}
	u, j := rng.Float64(), 0
	for j < len(w)-1 && u >= w[j] {
		u -= w[j]
		j++
	}
	c := comps[j]
	l11 := math.Sqrt(c.a)
	l21 := c.b / l11
	l22 := math.Sqrt(c.c - l21*l21)
	z1, z2 := rng.NormFloat64(), rng.NormFloat64()
	round := func(v float64) float64 { return math.Round(v*10) / 10 }
	return mvnRow{x: round(c.mx + l11*z1), y: round(c.my + l21*z1 + l22*z2), n: 1}
}

// mvnData is a seeded table of 2-D bags: rows per bag key, in input order.
type mvnData struct {
	keys  []int64
	rows  []mvnRow
	byBag map[int64][]mvnRow
}

func (d *mvnData) add(key int64, r mvnRow) {
	d.keys = append(d.keys, key)
	d.rows = append(d.rows, r)
	d.byBag[key] = append(d.byBag[key], r)
}

// cols returns the bag, x1, x2 and n columns of the rows in order.
func (d *mvnData) cols() []col {
	xs, ys, ns := make([]float64, len(d.rows)), make([]float64, len(d.rows)), make([]int64, len(d.rows))
	for i, r := range d.rows {
		xs[i], ys[i], ns[i] = r.x, r.y, int64(r.n)
	}
	return []col{column("bag", d.keys), column("x1", xs), column("x2", ys), column("n", ns)}
}

// mvnBags draws nb bags of varying size and mixture weights, counts in
// 0..3 (mostly 1); bag 3 is a single row.
func mvnBags(seed uint64, nb int) *mvnData {
	rng := rand.New(rand.NewPCG(seed, 31))
	d := &mvnData{byBag: map[int64][]mvnRow{}}
	for b := range int64(nb) {
		w := []float64{rng.Float64(), rng.Float64(), rng.Float64()}
		s := w[0] + w[1] + w[2]
		for i := range w {
			w[i] /= s
		}
		n := 10 + rng.IntN(150)
		if b == 3 {
			n = 1
		}
		for i := range n {
			r := mvnDraw(rng, w)
			if i > 0 {
				r.n = []float64{0, 1, 1, 1, 1, 1, 2, 3}[rng.IntN(8)]
			}
			d.add(b*11, r)
		}
	}
	return d
}

// mvnAggregate returns a bag's distinct rows in lexicographic order, as
// the row-major X of an em.Bag, with their summed counts; rows of count 0
// are left out. It is written independently of the pipeline's worker.
func mvnAggregate(rows []mvnRow) (x, counts []float64, total float64) {
	s := slices.Clone(rows)
	slices.SortFunc(s, func(a, b mvnRow) int {
		return cmp.Or(cmp.Compare(a.x, b.x), cmp.Compare(a.y, b.y), cmp.Compare(a.n, b.n))
	})
	for _, r := range s {
		total += r.n
		if r.n == 0 {
			continue
		}
		if k := len(counts); k > 0 && x[2*k-2] == r.x && x[2*k-1] == r.y {
			counts[k-1] += r.n
			continue
		}
		x = append(x, r.x, r.y)
		counts = append(counts, r.n)
	}
	return x, counts, total
}

// floats converts a list cell read by readTable ([]any of float64, or of
// such lists) to a flat []float64; nil for a null cell.
func floats(v any) []float64 {
	if v == nil {
		return nil
	}
	var out []float64
	for _, e := range v.([]any) {
		switch e := e.(type) {
		case float64:
			out = append(out, e)
		default:
			out = append(out, floats(e)...)
		}
	}
	return out
}

// TestMVNMatchesDirectLearn runs multivariate_gaussian bags through the
// pipeline with each covariance structure and checks every bag against
// em.Learn called directly on the bag's rows aggregated here (distinct
// rows in lexicographic order, counts summed), with em.Model built here
// from the config's numbers and the seed em.BagSeed(em.seed, 8-byte
// big-endian key). Tolerance: bit-identical, for the weights, each mean
// vector and covariance matrix, the log-likelihood, iterations, converged,
// and BIC and AIC with the free parameters counted here by hand (K-1
// weights, K·D means, and K·D(D+1)/2, K·D or K covariance parameters).
// The standard errors of the weights are null in this release.
func TestMVNMatchesDirectLearn(t *testing.T) {
	d := mvnBags(1, 18)
	for _, tc := range []struct {
		cov     string
		emCov   em.Covariance
		covPars int // per component, D = 2
	}{
		{"full", em.CovFull, 3}, {"diag", em.CovDiag, 2}, {"spherical", em.CovSpherical, 1},
	} {
		t.Run(tc.cov, func(t *testing.T) {
			dir := t.TempDir()
			writeParquet(t, filepath.Join(dir, "in", "a.parquet"), d.cols()...)
			out := filepath.Join(dir, "out")
			cfg := mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: [x1, x2], count: n}
model:
  family: multivariate_gaussian
  covariance: %s
  learn: [weights, mean, cov]
  components: [{name: a}, {name: b}, {name: c}]
em: {seed: 99, restarts: 4}
output: {dir: %q, posteriors: true}
`, filepath.Join(dir, "in"), tc.cov, out))
			mustRun(t, cfg, Options{Workers: 3})
			weights, fits := readTable(t, out, WeightsTable), readTable(t, out, FitsTable)
			const k, dim = 3, 2
			model := em.Model{Family: em.MultiGaussian, K: k, Dim: dim, Covariance: tc.emCov,
				Learn: em.LearnWeights | em.LearnMean | em.LearnCov, RegCovar: 1e-6}
			np := k - 1 + k*dim + k*tc.covPars
			if fits.len() != len(d.byBag) {
				t.Fatalf("fits has %d rows, want %d bags", fits.len(), len(d.byBag))
			}
			row := 0
			for fi := range fits.len() {
				key := fits.cols["bag"][fi].(int64)
				x, counts, total := mvnAggregate(d.byBag[key])
				var kb [8]byte
				binary.BigEndian.PutUint64(kb[:], uint64(key))
				res, err := em.Learn(em.Bag{X: x, Counts: counts}, model, em.LearnSettings{
					MaxIter: 10000, Tol: 1e-10, Restarts: 4, Seed: em.BagSeed(99, kb[:])})
				if err != nil {
					t.Fatalf("bag %d: direct Learn: %v", key, err)
				}
				for col, want := range map[string]any{
					"status": StatusOK, "n_obs": int64(len(d.byBag[key])), "total_count": total,
					"log_likelihood": res.LogLikelihood, "iterations": int64(res.Iterations),
					"converged": res.Converged, "n_components": int64(k), "gap": nil,
					"bic": -2*res.LogLikelihood + float64(np)*math.Log(total), "aic": -2*res.LogLikelihood + 2*float64(np),
				} {
					if got := fits.cols[col][fi]; got != want {
						t.Errorf("bag %d: fits.%s = %v, direct %v", key, col, got, want)
					}
				}
				for j := range k {
					if weights.cols["bag"][row] != key || weights.cols["component"][row] != []string{"a", "b", "c"}[j] {
						t.Fatalf("weights row %d is bag %v component %v, want bag %d component %d", row,
							weights.cols["bag"][row], weights.cols["component"][row], key, j)
					}
					if got := weights.cols["weight"][row]; got != res.Params.Weights[j] {
						t.Errorf("bag %d component %d: weight %v, direct %v", key, j, got, res.Params.Weights[j])
					}
					if se := weights.cols["std_error"][row]; se != nil {
						t.Errorf("bag %d component %d: std_error %v, want null", key, j, se)
					}
					mean, cov := floats(weights.cols["mean"][row]), floats(weights.cols["cov"][row])
					if res.Params.Weights[j] == 0 {
						if mean != nil || cov != nil {
							t.Errorf("bag %d component %d of weight 0: mean %v, cov %v, want nulls", key, j, mean, cov)
						}
					} else {
						if !slices.Equal(mean, res.Params.Mean[j*dim:(j+1)*dim]) {
							t.Errorf("bag %d component %d: mean %v, direct %v", key, j, mean, res.Params.Mean[j*dim:(j+1)*dim])
						}
						if !slices.Equal(cov, res.Params.Cov[j*dim*dim:(j+1)*dim*dim]) {
							t.Errorf("bag %d component %d: cov %v, direct %v", key, j, cov, res.Params.Cov[j*dim*dim:(j+1)*dim*dim])
						}
						if len(weights.cols["cov"][row].([]any)) != dim {
							t.Errorf("bag %d component %d: cov %v is not %d rows", key, j, weights.cols["cov"][row], dim)
						}
					}
					row++
				}
			}
			if row != weights.len() {
				t.Errorf("weights has %d rows, expected %d", weights.len(), row)
			}
			checkMVNPosteriors(t, out, d)
		})
	}
}

// checkMVNPosteriors recomputes every row's posteriors by Bayes' rule from
// the bag's weights, mean vectors and covariance matrices read back from
// weights/, with the 2-D Gaussian density written out here (the 2×2
// inverse and determinant in closed form), within 1e-12; and checks that
// the value columns are copied and component is the most probable one.
func checkMVNPosteriors(t *testing.T, out string, d *mvnData) {
	t.Helper()
	weights, post := readTable(t, out, WeightsTable), readTable(t, out, PosteriorsTable)
	type comp struct {
		w         float64
		mean, cov []float64
	}
	comps := map[int64][]comp{}
	for i := range weights.len() {
		key := weights.cols["bag"][i].(int64)
		comps[key] = append(comps[key], comp{weights.cols["weight"][i].(float64), floats(weights.cols["mean"][i]), floats(weights.cols["cov"][i])})
	}
	if post.len() != len(d.rows) {
		t.Fatalf("posteriors has %d rows, the input %d", post.len(), len(d.rows))
	}
	names := []string{"a", "b", "c"}
	for i := range post.len() {
		key := post.cols["bag"][i].(int64)
		x, y := post.cols["x1"][i].(float64), post.cols["x2"][i].(float64)
		if key != d.keys[i] || x != d.rows[i].x || y != d.rows[i].y {
			t.Fatalf("posteriors row %d: bag %d (%v, %v), input bag %d (%v, %v)", i, key, x, y, d.keys[i], d.rows[i].x, d.rows[i].y)
		}
		cs := comps[key]
		dens := make([]float64, len(cs))
		sum := 0.0
		for j, c := range cs {
			if c.w == 0 {
				continue
			}
			a, b, cc, dd := c.cov[0], c.cov[1], c.cov[2], c.cov[3]
			det := a*dd - b*cc
			dx, dy := x-c.mean[0], y-c.mean[1]
			q := (dx*(dd*dx-b*dy) + dy*(-cc*dx+a*dy)) / det
			dens[j] = c.w * math.Exp(-0.5*q) / (2 * math.Pi * math.Sqrt(det))
			sum += dens[j]
		}
		best := 0
		for j := range cs {
			got := post.cols[PosteriorPrefix+names[j]][i].(float64)
			if want := dens[j] / sum; math.Abs(got-want) > 1e-12 {
				t.Fatalf("posteriors row %d, component %s: %v, Bayes' rule %v", i, names[j], got, want)
			}
			if got > post.cols[PosteriorPrefix+names[best]][i].(float64) {
				best = j
			}
		}
		if got := post.cols["component"][i]; got != names[best] {
			t.Fatalf("posteriors row %d: component %v, most probable %s", i, got, names[best])
		}
	}
}

// TestMVNWeightsSchema: the learned mean is list<double> and cov
// list<list<double>> in Arrow, and the Parquet files give both the LIST
// logical type (one level for mean, two for cov), which DuckDB reads as
// DOUBLE[] and DOUBLE[][].
func TestMVNWeightsSchema(t *testing.T) {
	d := mvnBags(2, 4)
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "in", "a.parquet"), d.cols()...)
	out := filepath.Join(dir, "out")
	cfg := mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: [x1, x2]}
model: {family: multivariate_gaussian, learn: [weights, mean, cov], components: [{name: a}, {name: b}]}
output: {dir: %q}
`, filepath.Join(dir, "in"), out))
	mustRun(t, cfg, Options{})
	weights := readTable(t, out, WeightsTable)
	if got, want := strings.Join(weights.names, ","), "bag,component,weight,std_error,mean,cov"; got != want {
		t.Errorf("weights columns %s, want %s", got, want)
	}
	list := arrow.ListOf(arrow.PrimitiveTypes.Float64)
	if typ := weights.types["mean"]; !arrow.TypeEqual(typ, list) {
		t.Errorf("mean has type %s, want %s", typ, list)
	}
	if typ := weights.types["cov"]; !arrow.TypeEqual(typ, arrow.ListOf(list)) {
		t.Errorf("cov has type %s, want %s", typ, arrow.ListOf(list))
	}
	r, err := file.OpenParquetFile(filepath.Join(out, WeightsTable, partName(0)), false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	root := r.MetaData().Schema.Root()
	for name, levels := range map[string]int{"mean": 1, "cov": 2} {
		n := root.Field(root.FieldIndexByName(name))
		for range levels {
			g, ok := n.(*schema.GroupNode)
			if !ok || !g.LogicalType().Equals(schema.ListLogicalType{}) {
				t.Fatalf("Parquet column %s: %s is not a LIST group", name, n.Name())
			}
			n = g.Field(0).(*schema.GroupNode).Field(0) // repeated group list, its element
		}
		if p, ok := n.(*schema.PrimitiveNode); !ok || p.PhysicalType().String() != "DOUBLE" {
			t.Errorf("Parquet column %s: the innermost element is %v, want a double", name, n)
		}
	}
	for i := range weights.len() {
		mean, cov := floats(weights.cols["mean"][i]), floats(weights.cols["cov"][i])
		if weights.cols["weight"][i].(float64) > 0 && (len(mean) != 2 || len(cov) != 4 || cov[1] != cov[2] || !(cov[0] > 0 && cov[3] > 0)) {
			t.Errorf("weights row %d: mean %v, cov %v: want 2 values and a symmetric 2×2 matrix", i, mean, cov)
		}
	}
}

// TestMVNDegenerateBags: a bag whose rows all have the same x2 still fits:
// the x2 variance of each component is model.reg_covar (and x2 is
// uncorrelated with x1); a bag on a line with values so large that
// reg_covar is lost in rounding has a singular covariance, which is that
// bag's error (failed under on_error: skip, the run's error under fail),
// naming reg_covar. With components_range, a K whose fit is singular is
// no candidate: a bag of such a line and a few points off it (singular
// for K >= 2) is fitted with K = 1.
func TestMVNDegenerateBags(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	var keys []int64
	var xs, ys []float64
	for i := range 80 {
		keys, xs, ys = append(keys, 0), append(xs, rng.NormFloat64()+3*float64(i%2)), append(ys, 7)
		keys, xs, ys = append(keys, 1), append(xs, float64(i)*1e6), append(ys, float64(i)*1e6)
		r := mvnDraw(rng, []float64{0.5, 0.5, 0})
		keys, xs, ys = append(keys, 2), append(xs, r.x), append(ys, r.y)
		if i < 60 {
			keys, xs, ys = append(keys, 3), append(xs, float64(i)*1e6), append(ys, float64(i)*1e6)
		}
		if i < 6 {
			keys, xs, ys = append(keys, 3), append(xs, 3e7+float64(i%3)*1e5), append(ys, -4e7+float64(i/3)*1e5)
		}
	}
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "in", "a.parquet"), column("bag", keys), column("x1", xs), column("x2", ys))
	config := func(onError, out string) *Config {
		return mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: [x1, x2]}
model: {family: multivariate_gaussian, learn: [weights, mean, cov], components: [{name: a}, {name: b}]}
output: {dir: %q, posteriors: true}
run: {on_error: %s}
`, filepath.Join(dir, "in"), filepath.Join(dir, out), onError))
	}
	sum := mustRun(t, config(OnErrorSkip, "skip"), Options{})
	if sum.BagsOK != 2 || sum.BagsFailed != 2 {
		t.Fatalf("summary %+v, want 2 bags ok and 2 failed", sum)
	}
	fits, weights := readTable(t, filepath.Join(dir, "skip"), FitsTable), readTable(t, filepath.Join(dir, "skip"), WeightsTable)
	if fits.cols["status"][0] != StatusOK || fits.cols["status"][2] != StatusOK {
		t.Errorf("bags 0 and 2: status %v, %v (%v), want ok", fits.cols["status"][0], fits.cols["status"][2], fits.cols["error"])
	}
	msg, _ := fits.cols["error"][1].(string)
	t.Log(msg)
	if fits.cols["status"][1] != StatusFailed || !strings.Contains(msg, "singular") || !strings.Contains(msg, "model.reg_covar 1e-06") {
		t.Errorf("bag 1: status %v, error %q: want failed, naming the singular covariance and model.reg_covar", fits.cols["status"][1], msg)
	}
	seen := 0
	for i := range weights.len() {
		if weights.cols["bag"][i] != int64(0) || weights.cols["weight"][i].(float64) == 0 {
			continue
		}
		seen++
		mean, cov := floats(weights.cols["mean"][i]), floats(weights.cols["cov"][i])
		if mean[1] != 7 || math.Abs(cov[3]-1e-6) > 1e-18 || cov[1] != 0 || cov[2] != 0 {
			t.Errorf("bag 0 component %v: mean %v, cov %v: want x2 mean 7, variance reg_covar 1e-6 and no correlation", weights.cols["component"][i], mean, cov)
		}
	}
	if seen == 0 {
		t.Error("bag 0 has no component of positive weight")
	}
	if fits.cols["status"][3] != StatusFailed {
		t.Errorf("bag 3 with K = 2: status %v, want failed", fits.cols["status"][3])
	}
	post := readTable(t, filepath.Join(dir, "skip"), PosteriorsTable)
	for i := range post.len() {
		if failed := post.cols["bag"][i] == int64(1) || post.cols["bag"][i] == int64(3); failed != (post.cols[PosteriorPrefix+"a"][i] == nil) {
			t.Fatalf("posteriors row %d (bag %v): posterior_a %v: want null exactly for the failed bag", i, post.cols["bag"][i], post.cols[PosteriorPrefix+"a"][i])
		}
	}

	_, err := Run(context.Background(), config(OnErrorFail, "fail"), Options{})
	var be *BagError
	var se *em.SingularCovarianceError
	if !errors.As(err, &be) || be.Bag != "1" || !errors.As(err, &se) {
		t.Fatalf("run with on_error: fail: %v, want bag 1's *BagError wrapping *em.SingularCovarianceError", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fail")); !os.IsNotExist(err) {
		t.Errorf("the failed run wrote its output (%v)", err)
	}

	cfg := config(OnErrorSkip, "range")
	cfg.Model.Components, cfg.Model.ComponentsRange = nil, []int{1, 3}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	mustRun(t, cfg, Options{})
	fits = readTable(t, filepath.Join(dir, "range"), FitsTable)
	for i, want := range []struct {
		status string
		k      any
	}{{StatusOK, nil}, {StatusFailed, nil}, {StatusOK, nil}, {StatusOK, int64(1)}} {
		if fits.cols["status"][i] != want.status || want.k != nil && fits.cols["n_components"][i] != want.k {
			t.Errorf("components_range: bag %d: status %v, n_components %v, error %v; want %s, K %v",
				i, fits.cols["status"][i], fits.cols["n_components"][i], fits.cols["error"][i], want.status, want.k)
		}
	}
}

// TestMVNBadValues: every value column is checked like gaussian values
// (file, column, row, bag and value in the message; a failed bag under
// on_error: skip), nulls in any value column are dropped under
// input.nulls: drop, and a value column of the wrong type is refused
// naming it.
func TestMVNBadValues(t *testing.T) {
	dir := t.TempDir()
	keys := []int64{1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3}
	x1 := []any{0.5, 1.0, 2.5, 3.0, 0.1, nil, 0.3, 0.7, 0.2, 1.0, 2.0, 3.0}
	x2 := []any{1.0, 2.0, math.NaN(), 0.0, 1.1, 1.2, 1.3, 1.5, 1.0, 0.5, 0.25, nil}
	in := filepath.Join(dir, "in", "a.parquet")
	writeParquet(t, in, column("bag", keys), column("x1", x1), column("x2", x2))
	config := func(policies, out string) *Config {
		return mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: [x1, x2], nulls: %s}
model: {family: multivariate_gaussian, covariance: spherical, learn: [weights, mean, cov], components: [{name: a}]}
output: {dir: %q, posteriors: true}
run: {on_error: %s}
`, filepath.Join(dir, "in"), strings.Fields(policies)[0], filepath.Join(dir, out), strings.Fields(policies)[1]))
	}
	_, err := Run(context.Background(), config("drop fail", "fail"), Options{})
	want := in + `: column "x2", row 2, bag 1: value NaN: a multivariate_gaussian value must be finite`
	if err == nil || err.Error() != want {
		t.Fatalf("run: %v\nwant %s", err, want)
	}
	sum := mustRun(t, config("drop skip", "skip"), Options{})
	if sum.BagsOK != 2 || sum.BagsFailed != 1 || sum.RowsDropped != 2 {
		t.Fatalf("summary %+v, want 2 bags ok, 1 failed, 2 rows dropped", sum)
	}
	fits := readTable(t, filepath.Join(dir, "skip"), FitsTable)
	for i, want := range []struct {
		status  string
		nobs    int64
		dropped int64
		err     string
	}{
		{StatusFailed, 4, 0, want}, {StatusOK, 4, 1, ""}, {StatusOK, 2, 1, ""},
	} {
		e, _ := fits.cols["error"][i].(string)
		if fits.cols["status"][i] != want.status || fits.cols["n_obs"][i] != want.nobs || fits.cols["n_dropped"][i] != want.dropped || e != want.err {
			t.Errorf("fits row %d: %v, n_obs %v, n_dropped %v, %q; want %+v", i, fits.cols["status"][i], fits.cols["n_obs"][i], fits.cols["n_dropped"][i], e, want)
		}
	}
	post := readTable(t, filepath.Join(dir, "skip"), PosteriorsTable)
	for i := range post.len() {
		dropped := x1[i] == nil || x2[i] == nil
		if got := post.cols[PosteriorPrefix+"a"][i]; (got == nil) != (dropped || keys[i] == 1) {
			t.Errorf("posteriors row %d: posterior_a %v", i, got)
		}
		if post.cols["x1"][i] != x1[i] {
			t.Errorf("posteriors row %d: x1 %v, input %v", i, post.cols["x1"][i], x1[i])
		}
	}

	// With nulls: error a null in either column is a bad row naming it.
	sum = mustRun(t, config("error skip", "nulls"), Options{})
	fits = readTable(t, filepath.Join(dir, "nulls"), FitsTable)
	for i, want := range []string{
		`column "x2", row 2, bag 1: value NaN: a multivariate_gaussian value must be finite`,
		`column "x1", row 5, bag 2: value null: the value is null`,
		`column "x2", row 11, bag 3: value null: the value is null`,
	} {
		if e, _ := fits.cols["error"][i].(string); !strings.Contains(e, want) {
			t.Errorf("nulls: error: bag %v: %q, want it to contain %q", fits.cols["bag"][i], e, want)
		}
	}
	if sum.BagsFailed != 3 || sum.RowsDropped != 0 {
		t.Errorf("nulls: error: summary %+v, want 3 failed bags, no rows dropped", sum)
	}

	// A string coordinate is refused before any row is read.
	bad := filepath.Join(dir, "strs", "a.parquet")
	writeParquet(t, bad, column("bag", []int64{1}), column("x1", []float64{1}), column("x2", []string{"high"}))
	cfg := config("error fail", "strsout")
	cfg.Input.Paths = []string{filepath.Dir(bad)}
	_, err = Check(context.Background(), cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), bad+`: column "x2": type utf8 cannot hold multivariate_gaussian values`) {
		t.Errorf("check with a string x2: %v", err)
	}
}

// TestMVNRowOrder: a bag's rows aggregated in lexicographic order make its
// fit independent of row order, of how rows are split across files, and of
// the worker count: bit-identical tables.
func TestMVNRowOrder(t *testing.T) {
	d := mvnBags(6, 12)
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "one", "a.parquet"), d.cols()...)
	// The same rows shuffled and split over two files.
	rng := rand.New(rand.NewPCG(6, 6))
	perm := rng.Perm(len(d.rows))
	var parts [2]*mvnData
	for p := range parts {
		parts[p] = &mvnData{byBag: map[int64][]mvnRow{}}
	}
	for i, j := range perm {
		parts[i%2].add(d.keys[j], d.rows[j])
	}
	writeParquet(t, filepath.Join(dir, "two", "a.parquet"), parts[0].cols()...)
	writeParquet(t, filepath.Join(dir, "two", "b.parquet"), parts[1].cols()...)
	run := func(in, out string, workers int) (*table, *table) {
		cfg := mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: [x1, x2], count: n}
model: {family: multivariate_gaussian, learn: [weights, mean, cov], components: [{name: a}, {name: b}]}
em: {seed: 5}
output: {dir: %q}
`, filepath.Join(dir, in), filepath.Join(dir, out)))
		mustRun(t, cfg, Options{Workers: workers})
		return readTable(t, filepath.Join(dir, out), WeightsTable), readTable(t, filepath.Join(dir, out), FitsTable)
	}
	w1, f1 := run("one", "o1", 1)
	w2, f2 := run("two", "o2", 4)
	assertSameTable(t, w1, w2, []string{"bag", "component", "weight", "mean", "cov"}, nil, 0)
	assertSameTable(t, f1, f2, []string{"bag", "n_obs", "total_count", "iterations", "converged", "log_likelihood", "bic", "aic"}, nil, 0)
}

// TestMVNComponentsRange: components_range works for multivariate_gaussian
// (a single value column here, D = 1): each bag's K is the one whose
// direct em.Learn fit has the lowest BIC, with the free parameters of a
// full 1×1 covariance.
func TestMVNComponentsRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	var keys []int64
	var xs []float64
	byBag := map[int64][]float64{}
	for b := range int64(8) {
		for range 120 {
			x := rng.NormFloat64() + []float64{0, 8, 16}[rng.IntN(1+int(b%3))]
			keys, xs = append(keys, b), append(xs, x)
			byBag[b] = append(byBag[b], x)
		}
	}
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "in", "a.parquet"), column("bag", keys), column("x", xs))
	out := filepath.Join(dir, "out")
	cfg := mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag, value: [x]}
model: {family: multivariate_gaussian, learn: [weights, mean, cov], components_range: [1, 3]}
em: {seed: 2}
output: {dir: %q, posteriors: true}
`, filepath.Join(dir, "in"), out))
	mustRun(t, cfg, Options{})
	fits := readTable(t, out, FitsTable)
	for i := range fits.len() {
		key := fits.cols["bag"][i].(int64)
		vals, counts := aggregate(byBag[key])
		var kb [8]byte
		binary.BigEndian.PutUint64(kb[:], uint64(key))
		bestK, best := 0, math.Inf(1)
		for k := 1; k <= 3; k++ {
			m := em.Model{Family: em.MultiGaussian, K: k, Dim: 1, Learn: em.LearnWeights | em.LearnMean | em.LearnCov}
			res, err := em.Learn(em.Bag{X: vals, Counts: counts}, m, em.LearnSettings{MaxIter: 10000, Tol: 1e-10, Seed: em.BagSeed(2, kb[:])})
			if err != nil {
				t.Fatal(err)
			}
			if bic := -2*res.LogLikelihood + float64(3*k-1)*math.Log(120); bic < best {
				bestK, best = k, bic
			}
		}
		if got := fits.cols["n_components"][i]; got != int64(bestK) {
			t.Errorf("bag %d: n_components %v, direct selection %d", key, got, bestK)
		}
	}
}

// TestColumnsEncoding: input.value reads as one name or a list, and YAML
// and JSON write one name as a scalar and several as a list; configs with
// either survive both round trips.
func TestColumnsEncoding(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  Columns
		yaml  string
		json  string
	}{
		{"x", Columns{"x"}, "x\n", `"x"`},
		{"[x]", Columns{"x"}, "x\n", `"x"`},
		{"[x1, x2]", Columns{"x1", "x2"}, "- x1\n- x2\n", `["x1","x2"]`},
		{"\n    - 7\n    - 'a b'\n    - x3", Columns{"7", "a b", "x3"}, "- \"7\"\n- a b\n- x3\n", `["7","a b","x3"]`},
	} {
		cfg, err := Load([]byte(fmt.Sprintf("input:\n  paths: [in]\n  bag: b\n  value: %s\n"+
			"model: {family: multivariate_gaussian, learn: [weights, mean, cov], components: [{name: a}]}\noutput: {dir: out}\n", tc.value)))
		if err != nil {
			t.Fatalf("value: %s: %v", tc.value, err)
		}
		if !slices.Equal(cfg.Input.Value, tc.want) {
			t.Errorf("value: %s reads as %q, want %q", tc.value, cfg.Input.Value, tc.want)
		}
		y, err := yaml.Marshal(cfg.Input.Value)
		if err != nil || string(y) != tc.yaml {
			t.Errorf("value: %s: YAML %q, %v; want %q", tc.value, y, err, tc.yaml)
		}
		j, err := json.Marshal(cfg.Input.Value)
		if err != nil || string(j) != tc.json {
			t.Errorf("value: %s: JSON %s, %v; want %s", tc.value, j, err, tc.json)
		}
		var back Columns
		if err := json.Unmarshal(j, &back); err != nil || !slices.Equal(back, tc.want) {
			t.Errorf("value: %s: JSON %s reads back as %q, %v", tc.value, j, back, err)
		}
		checkLoaded(t, cfg)
		// The manifest's JSON reads back into the same config.
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var again Config
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("json.Unmarshal(%s): %v", b, err)
		}
		if a, b := canonical(cfg), canonical(&again); !reflect.DeepEqual(a, b) {
			t.Errorf("config after a JSON round trip\n  %+v\nwant\n  %+v", b, a)
		}
	}
	if got := (Columns{"x1", "x2"}).String(); got != "x1, x2" {
		t.Errorf("String() = %q", got)
	}
	var c Columns
	if err := json.Unmarshal([]byte(`{"a": 1}`), &c); err == nil {
		t.Errorf("JSON object read as %q, want an error", c)
	}
}
