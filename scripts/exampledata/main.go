// Command exampledata writes the small example inputs under data/ that the
// configs in configs/ run on (all but data/marbles, which `mixbatch gen
// marbles` makes). It is deterministic: run it again and the files are the
// same. Usage, from the repository root:
//
//	go run ./scripts/exampledata
package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/writers"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "exampledata:", err)
		os.Exit(1)
	}
}

func run() error {
	mem := memory.NewGoAllocator()
	rng := rand.New(rand.NewPCG(2026, 11))

	// Shops: the colour of each sold item; three supplier ranges with known
	// colour mixes; string shop keys, dictionary-worthy colour labels.
	colours := []string{"blue", "green", "red", "yellow"}
	ranges := [][]float64{{0.1, 0.2, 0.5, 0.2}, {0.6, 0.2, 0.1, 0.1}, {0.25, 0.25, 0.25, 0.25}}
	shop := array.NewStringBuilder(mem)
	colour := array.NewStringBuilder(mem)
	for s := 0; s < 60; s++ {
		w := dirichlet(rng, 3)
		n := 50 + rng.IntN(150)
		for i := 0; i < n; i++ {
			shop.Append(fmt.Sprintf("shop-%03d", s))
			colour.Append(colours[draw(rng, ranges[draw(rng, w)])])
		}
	}
	if err := write("data/shops/part-00000.parquet", shop, colour, "shop", "colour"); err != nil {
		return err
	}

	// Readings: a sensor's readings come from an idle, a working or a
	// faulty regime, N(20, 2), N(35, 3), N(60, 8).
	sensor := array.NewInt32Builder(mem)
	temp := array.NewFloat64Builder(mem)
	regimes := [][2]float64{{20, 2}, {35, 3}, {60, 8}}
	for s := 0; s < 80; s++ {
		w := dirichlet(rng, 3)
		n := 20 + rng.IntN(200)
		for i := 0; i < n; i++ {
			r := regimes[draw(rng, w)]
			sensor.Append(int32(s))
			temp.Append(float64(int((r[0]+r[1]*rng.NormFloat64())*100)) / 100)
		}
	}
	if err := write("data/readings/part-00000.parquet", sensor, temp, "sensor", "temperature"); err != nil {
		return err
	}

	// Calls: calls per hour at a help desk on a quiet (2/h), normal (8/h)
	// or busy (20/h) shift; one bag a day, a DATE column (days from
	// 2026-01-01).
	day := array.NewDate32Builder(mem)
	first := arrow.Date32FromTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	calls := array.NewInt64Builder(mem)
	rates := []float64{2, 8, 20}
	for d := 0; d < 90; d++ {
		w := dirichlet(rng, 3)
		for h := 0; h < 24*7; h++ {
			day.Append(first + arrow.Date32(d))
			calls.Append(int64(poisson(rng, rates[draw(rng, w)])))
		}
	}
	if err := write("data/calls/part-00000.parquet", day, calls, "day", "calls"); err != nil {
		return err
	}
	return clusters(mem)
}

// clusters writes data/clusters: birds measured at colonies, two
// measurements per bird (bill length and depth, mm), from two species
// whose shares vary by colony. Each colony's species differ a little
// (local populations), so the components' means and covariances are
// learned per colony (configs/clusters.yaml). It has its own random
// stream, so the other example files do not depend on it.
func clusters(mem memory.Allocator) error {
	rng := rand.New(rand.NewPCG(2026, 12))
	colony := array.NewInt32Builder(mem)
	length := array.NewFloat64Builder(mem)
	depth := array.NewFloat64Builder(mem)
	defer colony.Release()
	defer length.Release()
	defer depth.Release()
	// Species: mean (length, depth), sds and the correlation.
	species := []struct{ ml, md, sl, sd, rho float64 }{
		{39, 18.5, 2.5, 1.2, 0.4}, {48, 15, 3, 1, 0.6},
	}
	for c := 0; c < 30; c++ {
		w := dirichlet(rng, 2)
		w[0] = 0.15 + 0.7*w[0] // both species at every colony
		w[1] = 1 - w[0]
		shift := [2]float64{rng.NormFloat64(), 0.5 * rng.NormFloat64()}
		n := 40 + rng.IntN(120)
		for i := 0; i < n; i++ {
			s := species[draw(rng, w)]
			z1, z2 := rng.NormFloat64(), rng.NormFloat64()
			l := s.ml + shift[0] + s.sl*z1
			d := s.md + shift[1] + s.sd*(s.rho*z1+math.Sqrt(1-s.rho*s.rho)*z2)
			colony.Append(int32(c + 1))
			length.Append(math.Round(l*10) / 10)
			depth.Append(math.Round(d*10) / 10)
		}
	}
	return writeColumns("data/clusters/part-00000.parquet", []string{"colony", "bill_length", "bill_depth"}, colony, length, depth)
}

func write(path string, kb, vb array.Builder, key, value string) error {
	return writeColumns(path, []string{key, value}, kb, vb)
}

// writeColumns writes the builders' arrays as columns of the given names.
func writeColumns(path string, names []string, bs ...array.Builder) error {
	fields := make([]arrow.Field, len(bs))
	arrs := make([]arrow.Array, len(bs))
	for i, b := range bs {
		arrs[i] = b.NewArray()
		defer arrs[i].Release()
		fields[i] = arrow.Field{Name: names[i], Type: arrs[i].DataType()}
	}
	sc := arrow.NewSchema(fields, nil)
	rec := array.NewRecord(sc, arrs, int64(arrs[0].Len()))
	defer rec.Release()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return writers.WriteFile(path, sc, []arrow.Record{rec}, writers.Options{})
}

// dirichlet draws k weights from a flat Dirichlet distribution.
func dirichlet(rng *rand.Rand, k int) []float64 {
	w := make([]float64, k)
	sum := 0.0
	for i := range w {
		w[i] = rng.ExpFloat64()
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}

// draw returns an index with the given probabilities.
func draw(rng *rand.Rand, p []float64) int {
	u := rng.Float64()
	for i, v := range p {
		if u < v {
			return i
		}
		u -= v
	}
	return len(p) - 1
}

// poisson draws a Poisson count by Knuth's method (small rates only).
func poisson(rng *rand.Rand, rate float64) int {
	l, k, p := -rate, 0, 0.0
	for {
		p += -rng.ExpFloat64()
		if p < l {
			return k
		}
		k++
	}
}
