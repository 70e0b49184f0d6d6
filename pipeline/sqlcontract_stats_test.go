package pipeline

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// TestOutputStatisticsExact runs a table whose outputs have the columns on
// which arrow v17 wrote wrong footer statistics (fits.iterations and
// n_components with few values in no order, required or, under
// on_error: skip, with nulls; a posteriors bag key in shuffled order) and
// checks every statistic of every output file against the values read
// back from it: SQL engines skip row groups by them (DuckDB's
// parquet_metadata showed null_count -200 for fits.iterations of a run of
// 200 bags). The expected values are computed here from the rows.
func TestOutputStatisticsExact(t *testing.T) {
	for _, onError := range []string{OnErrorFail, OnErrorSkip} {
		t.Run(onError, func(t *testing.T) {
			root := t.TempDir()
			in, out := filepath.Join(root, "in"), filepath.Join(root, "out")
			rng := rand.New(rand.NewPCG(3, 14))
			var bags, rids []int64
			var reds []any
			for i := range 3000 {
				bag := int64(rng.IntN(300))
				bags, rids = append(bags, bag), append(rids, int64(i))
				switch {
				case onError == OnErrorSkip && bag%37 == 0:
					reds = append(reds, int64(2)) // a bad row: the bag fails
				default:
					reds = append(reds, int64(rng.IntN(2)))
				}
			}
			writeParquet(t, filepath.Join(in, "part-0.parquet"),
				column("bag_id", bags), column("rid", rids), column("red", reds))
			cfg := mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: bag_id, value: red, keep: [rid]}
model: %s
output: {dir: %q, posteriors: true}
run: {on_error: %s}
`, in, bernoulliModel, out, onError))
			mustRun(t, cfg, Options{})
			for _, table := range []string{WeightsTable, FitsTable, PosteriorsTable} {
				parts, err := filepath.Glob(filepath.Join(out, table, "*.parquet"))
				if err != nil || len(parts) == 0 {
					t.Fatalf("%s: no part files (%v)", table, err)
				}
				for _, p := range parts {
					checkFileStats(t, p)
				}
			}
		})
	}
}

// checkFileStats checks that each null count, min and max in the footer
// of the Parquet file at path is exact for its row group's values (read
// back with pqarrow), and that no min or max is written over a NaN.
func checkFileStats(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.NewGoAllocator())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := fr.Schema()
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(filepath.Base(filepath.Dir(path)), filepath.Base(path))
	if n := pf.MetaData().Schema.NumColumns(); n != sc.NumFields() {
		t.Fatalf("%s: %d leaf columns for %d fields; the check reads flat tables", name, n, sc.NumFields())
	}
	leaves := make([]int, sc.NumFields())
	for i := range leaves {
		leaves[i] = i
	}
	for r := 0; r < pf.NumRowGroups(); r++ {
		tbl, err := fr.ReadRowGroups(context.Background(), leaves, []int{r})
		if err != nil {
			t.Fatal(err)
		}
		for c := 0; c < sc.NumFields(); c++ {
			cc, err := pf.MetaData().RowGroup(r).ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if set, err := cc.StatsSet(); err != nil || !set {
				continue
			}
			st, err := cc.Statistics()
			if err != nil {
				t.Fatal(err)
			}
			where := fmt.Sprintf("%s, row group %d, column %s", name, r, sc.Field(c).Name)
			checkChunkStats(t, where, st, tbl.Column(c).Data().Chunks())
		}
		tbl.Release()
	}
}

// checkChunkStats compares st with the null count, min and max of chunks.
func checkChunkStats(t *testing.T, where string, st metadata.TypedStatistics, chunks []arrow.Array) {
	t.Helper()
	var nulls int64
	var lo, hi any
	nan := false
	less := func(a, b any) bool {
		switch a := a.(type) {
		case int64:
			return a < b.(int64)
		case float64:
			return a < b.(float64)
		case string:
			return a < b.(string)
		case bool:
			return !a && b.(bool)
		}
		t.Fatalf("%s: no order for %T", where, a)
		return false
	}
	for _, ch := range chunks {
		for i := 0; i < ch.Len(); i++ {
			if ch.IsNull(i) {
				nulls++
				continue
			}
			var v any
			switch a := ch.(type) {
			case *array.Int64:
				v = a.Value(i)
			case *array.Int32:
				v = int64(a.Value(i))
			case *array.Float64:
				if math.IsNaN(a.Value(i)) {
					nan = true
					continue
				}
				v = a.Value(i)
			case *array.String:
				v = a.Value(i)
			case *array.Boolean:
				v = a.Value(i)
			default:
				t.Fatalf("%s: unexpected type %s", where, ch.DataType())
			}
			if lo == nil || less(v, lo) {
				lo = v
			}
			if hi == nil || less(hi, v) {
				hi = v
			}
		}
	}
	if st.HasNullCount() && st.NullCount() != nulls {
		t.Errorf("%s: null count %d, want %d", where, st.NullCount(), nulls)
	}
	if !st.HasMinMax() {
		return
	}
	var gotLo, gotHi any
	switch s := st.(type) {
	case *metadata.Int64Statistics:
		gotLo, gotHi = s.Min(), s.Max()
	case *metadata.Int32Statistics:
		gotLo, gotHi = int64(s.Min()), int64(s.Max())
	case *metadata.Float64Statistics:
		gotLo, gotHi = s.Min(), s.Max()
	case *metadata.ByteArrayStatistics:
		gotLo, gotHi = string(s.Min()), string(s.Max())
	case *metadata.BooleanStatistics:
		gotLo, gotHi = s.Min(), s.Max()
	default:
		t.Fatalf("%s: unexpected statistics %T", where, st)
	}
	switch {
	case nan:
		t.Errorf("%s: min %v and max %v written over a NaN", where, gotLo, gotHi)
	case lo == nil:
		t.Errorf("%s: min %v and max %v written for nulls alone", where, gotLo, gotHi)
	case gotLo != lo || gotHi != hi:
		t.Errorf("%s: min %v, max %v; want %v, %v", where, gotLo, gotHi, lo, hi)
	}
}
