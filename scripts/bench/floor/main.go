// Command floor measures what any Go program must spend to fit the
// Gaussian weights of the readings case (BENCHMARKS.md), without
// mixbatch's pipeline: no planning, no canonical order, no standard
// errors, no output. It reads the bag and value columns of Parquet files
// with arrow-go's column chunk readers (the tuned read the data-lake issue
// names), row groups split across goroutines, and then, by -mode:
//
//	sum   count and sum each bag's values (DuckDB's GROUP BY)
//	dens  sum, plus the three components' log-densities of every value
//	lik   dens, plus the densities themselves, scaled so that each row's
//	      largest is 1 (two exponentials a row, as em's table)
//	fit   dens, plus em.Fitter.Fit on each bag's table (the weights)
//
// A bag is a run of equal keys within a row group (the readings are sorted
// by sensor; a sensor that straddles two row groups counts twice, which
// changes the work by a few bags in 200,000). The components are the
// readings' (pipeline.ReadingComponents). It prints the rows, bags and a
// checksum, so that nothing is optimised away, and its wall time.
//
//	go run ./scripts/bench/floor -mode fit /tmp/bd/rd/part-*.parquet
package main

import (
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/mixbatch/mixbatch/em"
)

// The readings' components: mean and sd (pipeline.ReadingComponents).
var comps = [3][2]float64{{20, 2}, {35, 3}, {60, 8}}

// inv and logNorm are each component's 1/sd and log(sd·sqrt(2π)).
var inv, logNorm [3]float64

func init() {
	for k, c := range comps {
		inv[k] = 1 / c[1]
		logNorm[k] = math.Log(c[1]) + 0.5*math.Log(2*math.Pi)
	}
}

type unit struct {
	path string
	rg   int
}

type total struct {
	rows, bags int
	check      float64
}

func main() {
	mode := flag.String("mode", "fit", "sum, dens, lik or fit")
	workers := flag.Int("workers", 2, "goroutines")
	bagCol := flag.String("bag", "sensor_id", "bag column")
	valCol := flag.String("value", "value", "value column")
	flag.Parse()
	switch *mode {
	case "sum", "dens", "lik", "fit":
	default:
		log.Fatalf("floor: -mode %q: want sum, dens, lik or fit", *mode)
	}
	start := time.Now()
	var units []unit
	for _, p := range flag.Args() {
		r, err := file.OpenParquetFile(p, false)
		if err != nil {
			log.Fatalf("floor: %s: %v", p, err)
		}
		for rg := range r.NumRowGroups() {
			units = append(units, unit{p, rg})
		}
		if err := r.Close(); err != nil {
			log.Fatalf("floor: %s: %v", p, err)
		}
	}
	next := make(chan unit)
	go func() {
		for _, u := range units {
			next <- u
		}
		close(next)
	}()
	var (
		mu  sync.Mutex
		all total
		wg  sync.WaitGroup
	)
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := worker{mode: *mode}
			for u := range next {
				if err := w.read(u, *bagCol, *valCol); err != nil {
					log.Fatalf("floor: %s row group %d: %v", u.path, u.rg, err)
				}
			}
			mu.Lock()
			all.rows += w.t.rows
			all.bags += w.t.bags
			all.check += w.t.check
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Fprintf(os.Stdout, "mode %s: %d rows, %d bags, checksum %.6g, %.3f s\n",
		*mode, all.rows, all.bags, all.check, time.Since(start).Seconds())
}

type worker struct {
	mode   string
	keys   []int64
	vals   []float64
	def    []int16
	table  []float64
	fitter em.Fitter
	t      total
}

func (w *worker) read(u unit, bagCol, valCol string) (err error) {
	r, err := file.OpenParquetFile(u.path, false)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := r.Close(); err == nil {
			err = cerr
		}
	}()
	schema := r.MetaData().Schema
	bi, vi := schema.ColumnIndexByName(bagCol), schema.ColumnIndexByName(valCol)
	if bi < 0 || vi < 0 {
		return fmt.Errorf("no column %q or %q", bagCol, valCol)
	}
	rg := r.RowGroup(u.rg)
	n := int(rg.NumRows())
	w.keys = grow(w.keys, n)
	w.vals = grow(w.vals, n)
	w.def = grow(w.def, n)
	kc, err := rg.Column(bi)
	if err != nil {
		return err
	}
	vc, err := rg.Column(vi)
	if err != nil {
		return err
	}
	// The generated columns are nullable but hold no nulls; readAll
	// refuses a column with one (its values would come back packed).
	if err := readAll(n, func(off int) (int64, int, error) {
		return kc.(*file.Int64ColumnChunkReader).ReadBatch(int64(n-off), w.keys[off:], w.def[off:], nil)
	}); err != nil {
		return err
	}
	if err := readAll(n, func(off int) (int64, int, error) {
		return vc.(*file.Float64ColumnChunkReader).ReadBatch(int64(n-off), w.vals[off:], w.def[off:], nil)
	}); err != nil {
		return err
	}
	w.bags(n)
	return nil
}

// readAll calls read until n values have been read.
func readAll(n int, read func(off int) (int64, int, error)) error {
	for off := 0; off < n; {
		levels, got, err := read(off)
		if err != nil {
			return err
		}
		if got == 0 {
			return fmt.Errorf("column ended after %d of %d rows", off, n)
		}
		if levels != int64(got) {
			return fmt.Errorf("a null among rows %d to %d: the floor reads columns without nulls", off, off+int(levels))
		}
		off += got
	}
	return nil
}

// bags does the mode's work on each run of equal keys.
func (w *worker) bags(n int) {
	for lo := 0; lo < n; {
		hi := lo + 1
		for hi < n && w.keys[hi] == w.keys[lo] {
			hi++
		}
		xs := w.vals[lo:hi]
		w.t.rows += len(xs)
		w.t.bags++
		sum := 0.0
		for _, x := range xs {
			sum += x
		}
		w.t.check += sum
		if w.mode != "sum" {
			w.table = grow(w.table, 3*len(xs))
			for i, x := range xs {
				for k := range comps {
					z := (x - comps[k][0]) * inv[k]
					w.table[3*i+k] = -0.5*z*z - logNorm[k]
				}
			}
			switch w.mode {
			case "dens":
				w.t.check += w.table[0]
			case "lik":
				s := 0.0
				for i := 0; i < len(w.table); i += 3 {
					row := (*[3]float64)(w.table[i:])
					m := max(row[0], row[1], row[2])
					for k := range row {
						if row[k] != m {
							s += math.Exp(row[k] - m)
						}
					}
				}
				w.t.check += s
			default:
				res, err := w.fitter.Fit(w.table[:3*len(xs)], nil, 3, em.Settings{})
				if err != nil {
					log.Fatalf("floor: bag %d: %v", w.keys[lo], err)
				}
				w.t.check += res.Weights[0]
			}
		}
		lo = hi
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
