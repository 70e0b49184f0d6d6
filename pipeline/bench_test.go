package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkRunMarbles times a whole run (plan, read, group, fit, write
// weights and fits) on `gen marbles` data: 10,000 bags of 100 marbles,
// one million rows. Reported as rows/s.
func BenchmarkRunMarbles(b *testing.B) {
	for _, posteriors := range []bool{false, true} {
		b.Run(fmt.Sprintf("posteriors=%v", posteriors), func(b *testing.B) {
			dir := b.TempDir()
			in := filepath.Join(dir, "in")
			if err := GenMarbles(context.Background(), in, Marbles{Bags: 10000, RowsPerBag: 100, Seed: 1, RowsPerFile: 250000}); err != nil {
				b.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			cfg := mustLoad(b, fmt.Sprintf(`
input: {paths: [%q], bag: bag_id, value: red}
model: {family: bernoulli, components: [{name: f1, p: 0.8}, {name: f2, p: 0.3}]}
output: {dir: %q, overwrite: true, posteriors: %v}
`, in, out, posteriors))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				mustRun(b, cfg, Options{})
			}
			b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "rows/s")
			b.StopTimer()
			if err := os.RemoveAll(out); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkRunGaussian times a run over Gaussian bags with distinct float
// values: 2,000 bags of 250 readings, three known components.
func BenchmarkRunGaussian(b *testing.B) {
	dir := b.TempDir()
	keys, vals := gaussRows(1, 2000, 500)
	writeParquet(b, filepath.Join(dir, "in", "a.parquet"), column("bag", keys), column("x", vals))
	out := filepath.Join(dir, "out")
	cfg := mustLoad(b, fmt.Sprintf("input: {paths: [%q], bag: bag, value: x}\n%soutput: {dir: %q, overwrite: true}\n", filepath.Join(dir, "in"), gaussModel, out))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mustRun(b, cfg, Options{})
	}
	b.ReportMetric(float64(b.N)*float64(len(keys))/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRunLearnedGaussian times a whole run that learns every
// component (weights, means, sds) of 200 bags of 1,000 readings, K = 3,
// em.restarts 10: the per-bag case that scikit-learn's GaussianMixture
// (tol 1e-10, n_init 10) takes about 1.3 s a bag for on this machine.
// Reported as bags/s for the run (all cores).
func BenchmarkRunLearnedGaussian(b *testing.B) {
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var keys []int64
	var xs []float64
	for bag := range int64(200) {
		for range 1000 {
			keys = append(keys, bag)
			xs = append(xs, learnCases()[0].draw(rng))
		}
	}
	writeParquet(b, filepath.Join(dir, "in", "a.parquet"), column("bag", keys), column("x", xs))
	out := filepath.Join(dir, "out")
	cfg := mustLoad(b, fmt.Sprintf("input: {paths: [%q], bag: bag, value: x}\nmodel: {family: gaussian, learn: [weights, mean, sd], components: [{name: a}, {name: b}, {name: c}]}\nem: {restarts: 10}\noutput: {dir: %q, overwrite: true}\n",
		filepath.Join(dir, "in"), out))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mustRun(b, cfg, Options{})
	}
	b.ReportMetric(float64(b.N)*200/b.Elapsed().Seconds(), "bags/s")
}
