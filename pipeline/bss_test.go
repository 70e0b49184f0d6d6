package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/xitongsys/parquet-go-source/local"
	xparquet "github.com/xitongsys/parquet-go/parquet"
	xwriter "github.com/xitongsys/parquet-go/writer"
)

// TestByteStreamSplitInput runs a Gaussian fit on values in the
// BYTE_STREAM_SPLIT encoding, which arrow v17 cannot decode (the readers
// decode it themselves), and on the same values written PLAIN by
// mixbatch's writer: the weights and fits must be identical. The values
// are gaussRows' written by xitongsys/parquet-go (several row groups and
// pages; its footer lists no BYTE_STREAM_SPLIT: see readers.usesSplit), and those of readers/testdata/duckdb-byte-stream-split.parquet,
// written by DuckDB: for i from 0 to 299, bag i % 13, g (i % 97) / 10.0
// (DOUBLE) and f ((i % 89) / 10.0)::FLOAT.
func TestByteStreamSplitInput(t *testing.T) {
	fit := func(name, dir, value string) (*table, *table) {
		out := filepath.Join(t.TempDir(), name+"-out")
		cfg := mustLoad(t, fmt.Sprintf("input: {paths: [%q], bag: bag, value: %s}\n%soutput: {dir: %q}\n", dir, value, gaussModel, out))
		mustRun(t, cfg, Options{})
		return readTable(t, out, WeightsTable), readTable(t, out, FitsTable)
	}
	same := func(name, bssDir, plainDir, value string) {
		t.Helper()
		wantW, wantF := fit(name+"-plain", plainDir, value)
		gotW, gotF := fit(name+"-bss", bssDir, value)
		assertSameTables(t, name+" weights", wantW, gotW)
		assertSameTables(t, name+" fits", wantF, gotF)
	}

	t.Run("xitongsys", func(t *testing.T) {
		keys, vals := gaussRows(11, 60, 80)
		bss := filepath.Join(t.TempDir(), "bss", "a.parquet")
		writeSplitXitongsys(t, bss, keys, vals)
		hasSplit(t, bss, "x")
		plain := filepath.Join(t.TempDir(), "plain", "a.parquet")
		writeParquet(t, plain, column("bag", keys), column("x", vals))
		same("xitongsys", filepath.Dir(bss), filepath.Dir(plain), "x")
	})

	t.Run("duckdb", func(t *testing.T) {
		src := filepath.Join("..", "readers", "testdata", "duckdb-byte-stream-split.parquet")
		hasSplit(t, src, "g")
		hasSplit(t, src, "f")
		bssDir := filepath.Join(t.TempDir(), "bss")
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(bssDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bssDir, "a.parquet"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		// The same values, from the SQL that wrote them.
		bags, g, f := make([]int64, 300), make([]float64, 300), make([]float32, 300)
		for i := range 300 {
			bags[i], g[i], f[i] = int64(i%13), float64(i%97)/10, float32(float64(i%89)/10)
		}
		plain := filepath.Join(t.TempDir(), "plain", "a.parquet")
		writeParquet(t, plain, column("bag", bags), column("g", g), column("f", f))
		same("duckdb g", bssDir, filepath.Dir(plain), "g")
		same("duckdb f", bssDir, filepath.Dir(plain), "f")
	})
}

// writeSplitXitongsys writes bag (INT64) and x (DOUBLE, BYTE_STREAM_SPLIT)
// with xitongsys/parquet-go, in row groups and pages of a few hundred rows.
func writeSplitXitongsys(t *testing.T, path string, keys []int64, vals []float64) {
	t.Helper()
	type row struct {
		Bag int64   `parquet:"name=bag, type=INT64"`
		X   float64 `parquet:"name=x, type=DOUBLE, encoding=BYTE_STREAM_SPLIT"`
	}
	if err := mkdirAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	fw, err := local.NewLocalFileWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := xwriter.NewParquetWriter(fw, new(row), 1)
	if err != nil {
		t.Fatal(err)
	}
	pw.CompressionType = xparquet.CompressionCodec_ZSTD
	pw.RowGroupSize, pw.PageSize = 8<<10, 1<<10
	for i := range keys {
		if err := pw.Write(row{keys[i], vals[i]}); err != nil {
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

// hasSplit fails the test unless the Parquet file at path has data
// pages of col in BYTE_STREAM_SPLIT, as arrow's page reader reads their
// headers. (xitongsys/parquet-go's footers do not list the encoding.)
func hasSplit(t *testing.T, path, col string) {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	c := pf.MetaData().Schema.ColumnIndexByName(col)
	n := 0
	for g := range pf.NumRowGroups() {
		pr, err := pf.RowGroup(g).GetColumnPageReader(c)
		if err != nil {
			t.Fatal(err)
		}
		for pr.Next() {
			if _, ok := pr.Page().(file.DataPage); ok && parquet.Encoding(pr.Page().Encoding()) == parquet.Encoding(9) { // BYTE_STREAM_SPLIT
				n++
			}
		}
		if err := pr.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 {
		t.Fatalf("%s: no page of column %s is BYTE_STREAM_SPLIT", path, col)
	}
}
