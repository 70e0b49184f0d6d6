package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/writers"
)

// Marbles describes synthetic data from the textbook process: every bag
// draws a true share w of factory-1 marbles, then each marble comes from
// factory 1 with probability w and is red with probability P1 (factory 1)
// or P2 (factory 2).
type Marbles struct {
	Bags       int     // number of bags
	RowsPerBag int     // marbles per bag
	Seed       uint64  // bag b's marbles come from PCG(Seed, b)
	P1, P2     float64 // P(red) for each factory; both 0 means 0.8 and 0.3
	// Counts writes one row per (bag, colour) with a count column n instead
	// of one row per marble.
	Counts bool
	// RowsPerFile splits the observations into part files; 0 means 1<<22.
	RowsPerFile int
}

// Truth columns written by GenMarbles to _truth.parquet.
const (
	TruthFile = "_truth.parquet"
)

// GenMarbles writes the observations to dir/part-NNNNN.parquet (bag_id
// int64, marble_id int64, red bool; or bag_id, red, n with Counts) and the
// truth to dir/_truth.parquet (bag_id, true_weight_factory1, n,
// n_factory1). Files starting with "_" are skipped when dir is read as
// input. dir may exist but must not hold part or truth files already.
func GenMarbles(ctx context.Context, dir string, g Marbles) (err error) {
	if g.Bags < 0 || g.RowsPerBag < 1 {
		return errors.New("gen: --bags must be >= 0 and --rows-per-bag >= 1")
	}
	if g.P1 == 0 && g.P2 == 0 {
		g.P1, g.P2 = 0.8, 0.3
	}
	if !(g.P1 >= 0 && g.P1 <= 1 && g.P2 >= 0 && g.P2 <= 1) || g.P1 == g.P2 {
		return fmt.Errorf("gen: --p1 and --p2 must be different probabilities in [0, 1], got %v and %v", g.P1, g.P2)
	}
	if g.RowsPerFile <= 0 {
		g.RowsPerFile = 1 << 22
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	mem := memory.NewGoAllocator()
	obsFields := []arrow.Field{{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64}}
	if g.Counts {
		obsFields = append(obsFields,
			arrow.Field{Name: "red", Type: arrow.FixedWidthTypes.Boolean},
			arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Int64})
	} else {
		obsFields = append(obsFields,
			arrow.Field{Name: "marble_id", Type: arrow.PrimitiveTypes.Int64},
			arrow.Field{Name: "red", Type: arrow.FixedWidthTypes.Boolean})
	}
	obsSchema := arrow.NewSchema(obsFields, nil)
	truthSchema := arrow.NewSchema([]arrow.Field{
		{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "true_weight_factory1", Type: arrow.PrimitiveTypes.Float64},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		{Name: "n_factory1", Type: arrow.PrimitiveTypes.Int64},
	}, nil)

	truth := array.NewRecordBuilder(mem, truthSchema)
	defer truth.Release()
	obs := array.NewRecordBuilder(mem, obsSchema)
	defer obs.Release()
	var w *writers.Parquet
	part, inFile := 0, 0
	flush := func() error {
		if obs.Field(0).Len() == 0 {
			return nil
		}
		if w == nil {
			var err error
			w, err = writers.Create(filepath.Join(dir, partName(part)), obsSchema, writers.Options{})
			if err != nil {
				return err
			}
		}
		rec := obs.NewRecord()
		defer rec.Release()
		if err := w.Write(rec); err != nil {
			return err
		}
		if inFile >= g.RowsPerFile {
			err := w.Close()
			w, inFile = nil, 0
			part++
			return err
		}
		return nil
	}
	defer func() {
		if w != nil {
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
	}()
	var marble int64
	for b := 0; b < g.Bags; b++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(g.Seed, uint64(b)))
		// One bag in ten is all factory 2, one in ten all factory 1: maxima
		// on the boundary are part of every demo.
		var share float64
		switch u := rng.Float64(); {
		case u < 0.1:
			share = 0
		case u < 0.2:
			share = 1
		default:
			share = rng.Float64()
		}
		var red, from1 int64
		for i := 0; i < g.RowsPerBag; i++ {
			p := g.P2
			if rng.Float64() < share {
				p = g.P1
				from1++
			}
			isRed := rng.Float64() < p
			if isRed {
				red++
			}
			if !g.Counts {
				obs.Field(0).(*array.Int64Builder).Append(int64(b))
				obs.Field(1).(*array.Int64Builder).Append(marble)
				obs.Field(2).(*array.BooleanBuilder).Append(isRed)
				marble++
				inFile++
			}
		}
		if g.Counts {
			for _, colour := range []struct {
				red bool
				n   int64
			}{{true, red}, {false, int64(g.RowsPerBag) - red}} {
				obs.Field(0).(*array.Int64Builder).Append(int64(b))
				obs.Field(1).(*array.BooleanBuilder).Append(colour.red)
				obs.Field(2).(*array.Int64Builder).Append(colour.n)
				inFile++
			}
		}
		truth.Field(0).(*array.Int64Builder).Append(int64(b))
		truth.Field(1).(*array.Float64Builder).Append(share)
		truth.Field(2).(*array.Int64Builder).Append(int64(g.RowsPerBag))
		truth.Field(3).(*array.Int64Builder).Append(from1)
		if obs.Field(0).Len() >= 1<<16 || inFile >= g.RowsPerFile {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if w == nil && part == 0 {
		// No rows at all: still write an empty part so the folder is a table.
		if err := writers.WriteFile(filepath.Join(dir, partName(0)), obsSchema, nil, writers.Options{}); err != nil {
			return err
		}
	}
	rec := truth.NewRecord()
	defer rec.Release()
	return writers.WriteFile(filepath.Join(dir, TruthFile), truthSchema, []arrow.Record{rec}, writers.Options{})
}
