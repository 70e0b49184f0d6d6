// Command exampledata writes the small example inputs under data/ that the
// configs in configs/ run on (all but data/marbles, which `mixbatch gen
// marbles` makes). It is deterministic: run it again and the files are the
// same. Usage, from the repository root:
//
//	go run ./scripts/exampledata
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

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
	// or busy (20/h) shift; one bag a day.
	day := array.NewInt64Builder(mem)
	calls := array.NewInt64Builder(mem)
	rates := []float64{2, 8, 20}
	for d := 0; d < 90; d++ {
		w := dirichlet(rng, 3)
		for h := 0; h < 24*7; h++ {
			day.Append(int64(20260101 + d))
			calls.Append(int64(poisson(rng, rates[draw(rng, w)])))
		}
	}
	return write("data/calls/part-00000.parquet", day, calls, "day", "calls")
}

func write(path string, kb, vb array.Builder, key, value string) error {
	k, v := kb.NewArray(), vb.NewArray()
	defer k.Release()
	defer v.Release()
	sc := arrow.NewSchema([]arrow.Field{{Name: key, Type: k.DataType()}, {Name: value, Type: v.DataType()}}, nil)
	rec := array.NewRecord(sc, []arrow.Array{k, v}, int64(k.Len()))
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
