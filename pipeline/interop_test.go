package pipeline

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/xitongsys/parquet-go-source/local"
	xparquet "github.com/xitongsys/parquet-go/parquet"
	xreader "github.com/xitongsys/parquet-go/reader"
	xwriter "github.com/xitongsys/parquet-go/writer"
)

// The output tables as github.com/xitongsys/parquet-go, an independent
// Parquet implementation, reads them.
type (
	xWeight struct {
		BagID     int64   `parquet:"name=bag_id, type=INT64"`
		Component string  `parquet:"name=component, type=BYTE_ARRAY, convertedtype=UTF8"`
		Weight    float64 `parquet:"name=weight, type=DOUBLE"`
	}
	xFit struct {
		BagID         int64   `parquet:"name=bag_id, type=INT64"`
		NObs          int64   `parquet:"name=n_obs, type=INT64"`
		TotalCount    float64 `parquet:"name=total_count, type=DOUBLE"`
		Iterations    int64   `parquet:"name=iterations, type=INT64"`
		Converged     bool    `parquet:"name=converged, type=BOOLEAN"`
		LogLikelihood float64 `parquet:"name=log_likelihood, type=DOUBLE"`
		Gap           float64 `parquet:"name=gap, type=DOUBLE"`
		Status        string  `parquet:"name=status, type=BYTE_ARRAY, convertedtype=UTF8"`
		Error         *string `parquet:"name=error, type=BYTE_ARRAY, convertedtype=UTF8, repetitiontype=OPTIONAL"`
	}
	xPosterior struct {
		BagID     int64   `parquet:"name=bag_id, type=INT64"`
		MarbleID  *int64  `parquet:"name=marble_id, type=INT64, repetitiontype=OPTIONAL"` // keep columns may hold nulls
		Red       bool    `parquet:"name=red, type=BOOLEAN"`
		F1        float64 `parquet:"name=posterior_factory1, type=DOUBLE"`
		F2        float64 `parquet:"name=posterior_factory2, type=DOUBLE"`
		Component string  `parquet:"name=component, type=BYTE_ARRAY, convertedtype=UTF8"`
	}
	// xMarble is an input row written by xitongsys.
	xMarble struct {
		BagID    int64 `parquet:"name=bag_id, type=INT64"`
		MarbleID int64 `parquet:"name=marble_id, type=INT64"`
		Red      bool  `parquet:"name=red, type=BOOLEAN"`
	}
)

// xRead reads every row of a Parquet file with xitongsys.
func xRead[T any](t *testing.T, path string) []T {
	t.Helper()
	fr, err := local.NewLocalFileReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := fr.Close(); err != nil {
			t.Error(err)
		}
	}()
	pr, err := xreader.NewParquetReader(fr, new(T), 1)
	if err != nil {
		t.Fatalf("xitongsys cannot open %s: %v", path, err)
	}
	defer pr.ReadStop()
	rows := make([]T, pr.GetNumRows())
	if err := pr.Read(&rows); err != nil {
		t.Fatalf("xitongsys cannot read %s: %v", path, err)
	}
	return rows
}

// TestOutputsReadByXitongsys checks that every table of a run reads back
// with xitongsys with the values mixbatch's own reader sees.
func TestOutputsReadByXitongsys(t *testing.T) {
	in := genMarbles(t, Marbles{Bags: 40, RowsPerBag: 25, Seed: 5})
	out := filepath.Join(t.TempDir(), "out")
	mustRun(t, mustLoad(t, marblesConfig(in, out, "  keep: [marble_id]")), Options{})

	w := readTable(t, out, WeightsTable)
	xw := xRead[xWeight](t, filepath.Join(out, WeightsTable, partName(0)))
	if len(xw) != w.len() {
		t.Fatalf("weights: xitongsys %d rows, mixbatch %d", len(xw), w.len())
	}
	for i, r := range xw {
		if r.BagID != w.cols["bag_id"][i] || r.Component != w.cols["component"][i] || r.Weight != w.cols["weight"][i] {
			t.Fatalf("weights row %d: xitongsys %+v, mixbatch %v %v %v", i, r, w.cols["bag_id"][i], w.cols["component"][i], w.cols["weight"][i])
		}
	}
	f := readTable(t, out, FitsTable)
	xf := xRead[xFit](t, filepath.Join(out, FitsTable, partName(0)))
	if len(xf) != f.len() {
		t.Fatalf("fits: xitongsys %d rows, mixbatch %d", len(xf), f.len())
	}
	for i, r := range xf {
		want := fmt.Sprint(f.cols["bag_id"][i], f.cols["n_obs"][i], f.cols["total_count"][i], f.cols["iterations"][i],
			f.cols["converged"][i], f.cols["log_likelihood"][i], f.cols["gap"][i], f.cols["status"][i], f.cols["error"][i])
		got := fmt.Sprint(r.BagID, r.NObs, r.TotalCount, r.Iterations, r.Converged, r.LogLikelihood, r.Gap, r.Status, nil)
		if r.Error != nil || got != want {
			t.Fatalf("fits row %d: xitongsys %s (error %v), mixbatch %s", i, got, r.Error, want)
		}
	}
	p := readTable(t, out, PosteriorsTable)
	xp := xRead[xPosterior](t, filepath.Join(out, PosteriorsTable, partName(0)))
	if len(xp) != p.len() || len(xp) != 40*25 {
		t.Fatalf("posteriors: xitongsys %d rows, mixbatch %d", len(xp), p.len())
	}
	for i, r := range xp {
		if r.BagID != p.cols["bag_id"][i] || r.MarbleID == nil || *r.MarbleID != p.cols["marble_id"][i] || r.Red != p.cols["red"][i] ||
			r.F1 != p.cols["posterior_factory1"][i] || r.F2 != p.cols["posterior_factory2"][i] || r.Component != p.cols["component"][i] {
			t.Fatalf("posteriors row %d: xitongsys %+v", i, r)
		}
	}
}

// TestInputWrittenByXitongsys runs the textbook config on marbles written
// by xitongsys and on the same marbles written by mixbatch's writer: the
// weights and fits must be identical.
func TestInputWrittenByXitongsys(t *testing.T) {
	in := genMarbles(t, Marbles{Bags: 60, RowsPerBag: 30, Seed: 8})
	obs := readTable(t, in, "")
	rows := make([]xMarble, obs.len())
	for i := range rows {
		rows[i] = xMarble{obs.cols["bag_id"][i].(int64), obs.cols["marble_id"][i].(int64), obs.cols["red"][i].(bool)}
	}
	xdir := filepath.Join(t.TempDir(), "xitongsys")
	path := filepath.Join(xdir, "marbles.parquet")
	writeXitongsys(t, path, rows)

	outA, outB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	mustRun(t, mustLoad(t, marblesConfig(in, outA, "  keep: [marble_id]")), Options{})
	mustRun(t, mustLoad(t, marblesConfig(xdir, outB, "  keep: [marble_id]")), Options{})
	for _, tb := range []string{WeightsTable, FitsTable, PosteriorsTable} {
		a, b := readTable(t, outA, tb), readTable(t, outB, tb)
		if a.len() == 0 || a.len() != b.len() {
			t.Fatalf("%s: %d vs %d rows", tb, a.len(), b.len())
		}
		for c, va := range a.cols {
			for i := range va {
				x, y := va[i], b.cols[c][i]
				if fx, ok := x.(float64); ok && math.Float64bits(fx) == math.Float64bits(y.(float64)) {
					continue
				}
				if x != y {
					t.Fatalf("%s row %d column %s: %v (mixbatch-written input) vs %v (xitongsys-written)", tb, i, c, x, y)
				}
			}
		}
	}
}

func writeXitongsys(t *testing.T, path string, rows []xMarble) {
	t.Helper()
	if err := mkdirAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	fw, err := local.NewLocalFileWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := xwriter.NewParquetWriter(fw, new(xMarble), 1)
	if err != nil {
		t.Fatal(err)
	}
	pw.CompressionType = xparquet.CompressionCodec_SNAPPY
	pw.RowGroupSize = 16 << 10 // several row groups
	for _, r := range rows {
		if err := pw.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.WriteStop(); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
}

func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }
