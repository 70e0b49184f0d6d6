package writers_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/writers"
)

// The benchmarks write tables shaped like the pipeline's three outputs, at
// the sizes of issue 4: a run of 500k bags of about 100 rows each with two
// components.
const (
	benchBags      = 500_000
	benchK         = 2
	benchPostRows  = 4 << 20   // posteriors: rows written per iteration (a 4M-row slice of a 50M-row run)
	benchPostBatch = 64 * 1024 // posteriors arrive in records of the reader's batch size
	benchBagRows   = 100       // rows per bag in the posteriors
)

var benchComponents = []string{"factory1", "factory2"}

// fitsBenchSchema is the pipeline's fits table (per-bag scope, on_error: skip).
var fitsBenchSchema = arrow.NewSchema([]arrow.Field{
	{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "n_obs", Type: arrow.PrimitiveTypes.Int64},
	{Name: "n_dropped", Type: arrow.PrimitiveTypes.Int64},
	{Name: "total_count", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "iterations", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "converged", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "log_likelihood", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "gap", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "status", Type: arrow.BinaryTypes.String},
	{Name: "error", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "n_components", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "bic", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "aic", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// weightsBenchSchema is the pipeline's weights table (known components).
var weightsBenchSchema = arrow.NewSchema([]arrow.Field{
	{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "component", Type: arrow.BinaryTypes.String},
	{Name: "weight", Type: arrow.PrimitiveTypes.Float64},
	{Name: "std_error", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// posteriorsBenchSchema is the pipeline's posteriors table with one keep
// column and a gaussian value (high-entropy doubles: the hard case).
var posteriorsBenchSchema = arrow.NewSchema([]arrow.Field{
	{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "obs_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "value", Type: arrow.PrimitiveTypes.Float64},
	{Name: "posterior_factory1", Type: arrow.PrimitiveTypes.Float64},
	{Name: "posterior_factory2", Type: arrow.PrimitiveTypes.Float64},
	{Name: "component", Type: arrow.BinaryTypes.String},
}, nil)

// benchFits returns the fits of n bags: almost all "ok", one in a thousand failed.
func benchFits(mem memory.Allocator, n int) arrow.Record {
	rng := rand.New(rand.NewPCG(41, 1))
	b := array.NewRecordBuilder(mem, fitsBenchSchema)
	defer b.Release()
	for i := 0; i < n; i++ {
		nobs := int64(benchBagRows - 20 + rng.IntN(41))
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.Int64Builder).Append(nobs)
		b.Field(2).(*array.Int64Builder).Append(0)
		if rng.IntN(1000) == 0 {
			for _, c := range []int{3, 4, 5, 6, 7, 10, 11, 12} {
				b.Field(c).AppendNull()
			}
			b.Field(8).(*array.StringBuilder).Append("failed")
			b.Field(9).(*array.StringBuilder).Append(fmt.Sprintf("bag %d: singular information matrix", i))
			continue
		}
		ll := -float64(nobs) * (0.6 + 0.1*rng.Float64())
		b.Field(3).(*array.Float64Builder).Append(float64(nobs))
		b.Field(4).(*array.Int64Builder).Append(int64(3 + rng.IntN(40)))
		b.Field(5).(*array.BooleanBuilder).Append(rng.IntN(200) != 0)
		b.Field(6).(*array.Float64Builder).Append(ll)
		b.Field(7).(*array.Float64Builder).Append(rng.ExpFloat64() * 1e-9)
		b.Field(8).(*array.StringBuilder).Append("ok")
		b.Field(9).AppendNull()
		b.Field(10).(*array.Int64Builder).Append(benchK)
		b.Field(11).(*array.Float64Builder).Append(-2*ll + math.Log(float64(nobs)))
		b.Field(12).(*array.Float64Builder).Append(-2*ll + 2)
	}
	return b.NewRecord()
}

// benchWeights returns the weights of n bags, benchK rows each.
func benchWeights(mem memory.Allocator, n int) arrow.Record {
	rng := rand.New(rand.NewPCG(42, 1))
	b := array.NewRecordBuilder(mem, weightsBenchSchema)
	defer b.Release()
	for i := 0; i < n; i++ {
		w := rng.Float64()
		se := 0.02 + 0.05*rng.Float64()
		for k, name := range benchComponents {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			b.Field(1).(*array.StringBuilder).Append(name)
			b.Field(2).(*array.Float64Builder).Append([]float64{w, 1 - w}[k])
			b.Field(3).(*array.Float64Builder).Append(se)
		}
	}
	return b.NewRecord()
}

// benchPosteriors returns n posterior rows in records of batch rows.
func benchPosteriors(mem memory.Allocator, n, batch int) []arrow.Record {
	rng := rand.New(rand.NewPCG(43, 1))
	var recs []arrow.Record
	b := array.NewRecordBuilder(mem, posteriorsBenchSchema)
	defer b.Release()
	for start := 0; start < n; start += batch {
		for i := start; i < min(start+batch, n); i++ {
			x := rng.NormFloat64() + float64(rng.IntN(2))*2
			d1, d2 := math.Exp(-x*x/2), math.Exp(-(x-2)*(x-2)/2)
			p1 := d1 / (d1 + d2)
			b.Field(0).(*array.Int64Builder).Append(int64(i / benchBagRows))
			b.Field(1).(*array.Int64Builder).Append(int64(i))
			b.Field(2).(*array.Float64Builder).Append(x)
			b.Field(3).(*array.Float64Builder).Append(p1)
			b.Field(4).(*array.Float64Builder).Append(1 - p1)
			if p1 >= 0.5 {
				b.Field(5).(*array.StringBuilder).Append(benchComponents[0])
			} else {
				b.Field(5).(*array.StringBuilder).Append(benchComponents[1])
			}
		}
		recs = append(recs, b.NewRecord())
	}
	return recs
}

// recordBytes is the size of the Arrow buffers of recs.
func recordBytes(recs []arrow.Record) int64 {
	var n int64
	for _, rec := range recs {
		for _, col := range rec.Columns() {
			for _, buf := range col.Data().Buffers() {
				if buf != nil {
					n += int64(buf.Len())
				}
			}
		}
	}
	return n
}

// BenchmarkWrite writes the pipeline's three table shapes with the default
// Options, to a file, Close (with its fsync) included. It reports rows/s,
// MB/s of Arrow data written and the bytes per row in the file.
func BenchmarkWrite(b *testing.B) {
	benchmarkWrite(b, writers.Options{})
}

func benchmarkWrite(b *testing.B, opts writers.Options) {
	mem := memory.NewGoAllocator()
	shapes := []struct {
		name   string
		schema *arrow.Schema
		recs   func() []arrow.Record
	}{
		{"fits", fitsBenchSchema, func() []arrow.Record { return []arrow.Record{benchFits(mem, benchBags)} }},
		{"weights", weightsBenchSchema, func() []arrow.Record { return []arrow.Record{benchWeights(mem, benchBags)} }},
		{"posteriors", posteriorsBenchSchema, func() []arrow.Record { return benchPosteriors(mem, benchPostRows, benchPostBatch) }},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			recs := s.recs()
			defer releaseAll(recs)
			var rows int64
			for _, rec := range recs {
				rows += rec.NumRows()
			}
			dir := b.TempDir()
			size := recordBytes(recs)
			b.ResetTimer()
			var fileSize int64
			for i := 0; i < b.N; i++ {
				path := filepath.Join(dir, fmt.Sprintf("%d.parquet", i))
				if err := writers.WriteFile(path, s.schema, recs, opts); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				fi, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				fileSize = fi.Size()
				if err := os.Remove(path); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(rows)*float64(b.N)/sec, "rows/s")
			b.ReportMetric(float64(size)*float64(b.N)/sec/1e6, "MB/s")
			b.ReportMetric(float64(fileSize)/float64(rows), "file_B/row")
		})
	}
}

// BenchmarkWriteSnappy is BenchmarkWrite with Snappy, the faster codec
// that makes larger files.
func BenchmarkWriteSnappy(b *testing.B) {
	benchmarkWrite(b, writers.Options{Compression: writers.Snappy})
}
