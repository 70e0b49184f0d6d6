package readers_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/writers"
)

// benchRowGroups and benchRowGroupRows are the shape of the benchmark
// files: row groups as large as package writers makes by default.
const (
	benchRowGroups    = 4
	benchRowGroupRows = 1 << 20
)

// writeBenchFile writes a Parquet file like `mixbatch gen` makes, with
// writers.Create: bag_id int64 in runs of 100 rows (sorted, or the rows
// shuffled), marble_id int64, and red bool, or with reading (float64,
// Gaussian) instead of red when float.
func writeBenchFile(b *testing.B, path string, shuffled, float bool) {
	b.Helper()
	last := arrow.Field{Name: "red", Type: arrow.FixedWidthTypes.Boolean}
	if float {
		last = arrow.Field{Name: "reading", Type: arrow.PrimitiveTypes.Float64}
	}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "marble_id", Type: arrow.PrimitiveTypes.Int64},
		last,
	}, nil)
	n := benchRowGroups * benchRowGroupRows
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if shuffled {
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	w, err := writers.Create(path, sc, writers.Options{})
	if err != nil {
		b.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	bld := array.NewRecordBuilder(mem, sc)
	defer bld.Release()
	const chunk = 1 << 16
	for off := 0; off < n; off += chunk {
		for _, i := range order[off : off+chunk] {
			bld.Field(0).(*array.Int64Builder).Append(int64(i / 100))
			bld.Field(1).(*array.Int64Builder).Append(int64(i))
			if float {
				bld.Field(2).(*array.Float64Builder).Append(10 + 3*rng.NormFloat64())
			} else {
				bld.Field(2).(*array.BooleanBuilder).Append(rng.IntN(10) < 6)
			}
		}
		rec := bld.NewRecord()
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkUnitRecords reads bag_id and red (or reading) of 4 row groups
// of 1<<20 rows with UnitRecords, the row groups split between 1 or 2
// goroutines (unit u to goroutine u mod g), in batches of 64Ki rows (the
// pipeline's) or whole row groups, and reports rows/s. "records" reads
// the same with Records in one goroutine, for comparison.
func BenchmarkUnitRecords(b *testing.B) {
	dir := b.TempDir()
	files := []struct {
		name            string
		shuffled, float bool
		columns         []string
	}{
		{"sorted", false, false, []string{"bag_id", "red"}},
		{"shuffled", true, false, []string{"bag_id", "red"}},
		{"float", false, true, []string{"bag_id", "reading"}},
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name+".parquet")
		writeBenchFile(b, path, f.shuffled, f.float)
		r, err := readers.Open(context.Background(), readers.File{Path: path}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if r.NumUnits() != benchRowGroups {
			b.Fatalf("%s: %d units, want %d", path, r.NumUnits(), benchRowGroups)
		}
		for _, batch := range []int{readers.DefaultBatchSize, benchRowGroupRows} {
			b.Run(fmt.Sprintf("%s/batch=%d/records", f.name, batch), func(b *testing.B) {
				benchRead(b, r, f.columns, batch, 0)
			})
			for _, g := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/batch=%d/goroutines=%d", f.name, batch, g), func(b *testing.B) {
					benchRead(b, r, f.columns, batch, g)
				})
			}
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRead reads the whole file b.N times: with Records if goroutines is
// 0, else with UnitRecords split between that many goroutines.
func benchRead(b *testing.B, r *readers.Reader, columns []string, batch, goroutines int) {
	ctx := context.Background()
	drain := func(rr readers.RecordReader, err error) (int64, error) {
		if err != nil {
			return 0, err
		}
		defer rr.Release()
		n := int64(0)
		for rr.Next() {
			n += rr.Record().NumRows()
		}
		return n, rr.Err()
	}
	start := time.Now()
	var rows, iters int64
	for b.Loop() {
		iters++
		if goroutines == 0 {
			n, err := drain(r.Records(ctx, columns, batch))
			if err != nil {
				b.Fatal(err)
			}
			rows += n
			continue
		}
		var wg sync.WaitGroup
		counts := make([]int64, goroutines)
		errs := make([]error, goroutines)
		for g := range goroutines {
			wg.Go(func() {
				for u := g; u < r.NumUnits(); u += goroutines {
					n, err := drain(r.UnitRecords(ctx, columns, batch, u))
					if err != nil {
						errs[g] = err
						return
					}
					counts[g] += n
				}
			})
		}
		wg.Wait()
		for g := range goroutines {
			if errs[g] != nil {
				b.Fatal(errs[g])
			}
			rows += counts[g]
		}
	}
	if want := iters * r.NumRows(); rows != want {
		b.Fatalf("read %d rows, want %d", rows, want)
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
}
