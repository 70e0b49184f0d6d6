package writers_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/xitongsys/parquet-go-source/local"
	xparquet "github.com/xitongsys/parquet-go/parquet"
	xreader "github.com/xitongsys/parquet-go/reader"
	xwriter "github.com/xitongsys/parquet-go/writer"

	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/writers"
)

// These tests check Parquet files against a second, independent Parquet
// implementation, github.com/xitongsys/parquet-go, in both directions.

// resultRow is the pipeline's result table as xitongsys sees it.
type resultRow struct {
	BagID     int64   `parquet:"name=bag_id, type=INT64"`
	Component string  `parquet:"name=component, type=BYTE_ARRAY, convertedtype=UTF8"`
	Weight    float64 `parquet:"name=weight, type=DOUBLE"`
	Converged bool    `parquet:"name=converged, type=BOOLEAN"`
	Error     *string `parquet:"name=error, type=BYTE_ARRAY, convertedtype=UTF8, repetitiontype=OPTIONAL"`
}

var resultSchema = arrow.NewSchema([]arrow.Field{
	{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "component", Type: arrow.BinaryTypes.String},
	{Name: "weight", Type: arrow.PrimitiveTypes.Float64},
	{Name: "converged", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "error", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// TestInteropWrittenReadByXitongsys writes a result table with
// writers.Parquet (zstd, dictionaries, several row groups) and reads it
// with xitongsys: every value equal, nulls included.
func TestInteropWrittenReadByXitongsys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rng := rand.New(rand.NewPCG(21, 1))
	var want []resultRow
	for i := 0; i < 2500; i++ {
		r := resultRow{
			BagID:     int64(i / 4),
			Component: fmt.Sprintf("k%d", i%4),
			Weight:    rng.Float64(),
			Converged: rng.IntN(3) != 0,
		}
		switch i % 5 {
		case 0:
			msg := fmt.Sprintf("bag %d: singular covariance", i/4)
			r.Error = &msg
		case 1:
			empty := "" // an empty string is not a null
			r.Error = &empty
		}
		if i == 7 {
			r.Weight = math.Inf(-1)
		}
		if i == 8 {
			r.Weight = math.Copysign(0, -1)
		}
		want = append(want, r)
	}
	var recs []arrow.Record
	for start := 0; start < len(want); start += 700 {
		recs = append(recs, resultRecord(mem, want[start:min(start+700, len(want))]))
	}
	defer releaseAll(recs)
	path := filepath.Join(t.TempDir(), "results.parquet")
	if err := writers.WriteFile(path, resultSchema, recs, writers.Options{RowGroupRows: 1000}); err != nil {
		t.Fatal(err)
	}

	fr, err := local.NewLocalFileReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := fr.Close(); err != nil {
			t.Error(err)
		}
	}()
	pr, err := xreader.NewParquetReader(fr, new(resultRow), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.ReadStop()
	if n := pr.GetNumRows(); n != int64(len(want)) {
		t.Fatalf("xitongsys sees %d rows, want %d", n, len(want))
	}
	got := make([]resultRow, len(want))
	if err := pr.Read(&got); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.BagID != w.BagID || g.Component != w.Component || math.Float64bits(g.Weight) != math.Float64bits(w.Weight) ||
			g.Converged != w.Converged || !sameStringPtr(g.Error, w.Error) {
			t.Fatalf("row %d: xitongsys read %s, want %s", i, showRow(g), showRow(w))
		}
	}
}

func sameStringPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func showRow(r resultRow) string {
	e := "<null>"
	if r.Error != nil {
		e = fmt.Sprintf("%q", *r.Error)
	}
	return fmt.Sprintf("{%d %s %v %v %s}", r.BagID, r.Component, r.Weight, r.Converged, e)
}

// resultRecord converts rows to an Arrow record of resultSchema.
func resultRecord(mem memory.Allocator, rows []resultRow) arrow.Record {
	b := array.NewRecordBuilder(mem, resultSchema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.BagID)
		b.Field(1).(*array.StringBuilder).Append(r.Component)
		b.Field(2).(*array.Float64Builder).Append(r.Weight)
		b.Field(3).(*array.BooleanBuilder).Append(r.Converged)
		if r.Error == nil {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.StringBuilder).Append(*r.Error)
		}
	}
	return b.NewRecord()
}

// inputRow is an input table written by xitongsys.
type inputRow struct {
	BagID int64   `parquet:"name=bag_id, type=INT64"`
	Red   bool    `parquet:"name=red, type=BOOLEAN"`
	X     float64 `parquet:"name=x, type=DOUBLE"`
	Label string  `parquet:"name=label, type=BYTE_ARRAY, convertedtype=UTF8, encoding=PLAIN_DICTIONARY"`
	N     int64   `parquet:"name=n, type=INT64"`
}

// TestInteropXitongsysReadByReaders writes an input table with xitongsys
// (snappy and zstd, dictionary-encoded labels, several row groups and
// pages) and reads it with readers.Open/Records: every value equal.
func TestInteropXitongsysReadByReaders(t *testing.T) {
	for _, codec := range []xparquet.CompressionCodec{xparquet.CompressionCodec_SNAPPY, xparquet.CompressionCodec_ZSTD} {
		t.Run(codec.String(), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)

			rng := rand.New(rand.NewPCG(22, uint64(codec)))
			want := make([]inputRow, 20000)
			for i := range want {
				want[i] = inputRow{
					BagID: int64(i / 100),
					Red:   rng.IntN(2) == 0,
					X:     rng.NormFloat64()*3 + float64(i%7),
					Label: []string{"alpha", "beta", "gamma", "δέλτα"}[rng.IntN(4)],
					N:     rng.Int64N(1 << 40),
				}
			}
			path := filepath.Join(t.TempDir(), "input.parquet")
			writeXitongsys(t, path, want, codec)
			checkXitongsysLayout(t, path)

			r, err := readers.Open(context.Background(), readers.File{Path: path, Format: readers.Parquet}, mem)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := r.Close(); err != nil {
					t.Error(err)
				}
			}()
			if r.NumRows() != int64(len(want)) {
				t.Fatalf("NumRows = %d, want %d", r.NumRows(), len(want))
			}
			rr, err := r.Records(context.Background(), []string{"x", "bag_id", "label", "red", "n"}, 3000)
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Release()
			row := 0
			for rr.Next() {
				rec := rr.Record()
				x := rec.Column(0).(*array.Float64)
				bag := rec.Column(1).(*array.Int64)
				label := rec.Column(2).(*array.String)
				red := rec.Column(3).(*array.Boolean)
				n := rec.Column(4).(*array.Int64)
				for i := 0; i < int(rec.NumRows()); i++ {
					w := want[row]
					if x.Value(i) != w.X || bag.Value(i) != w.BagID || label.Value(i) != w.Label || red.Value(i) != w.Red || n.Value(i) != w.N {
						t.Fatalf("row %d: read {%d %v %v %q %d}, want %+v",
							row, bag.Value(i), red.Value(i), x.Value(i), label.Value(i), n.Value(i), w)
					}
					row++
				}
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			if row != len(want) {
				t.Fatalf("read %d rows, want %d", row, len(want))
			}
		})
	}
}

// checkXitongsysLayout checks that the xitongsys file exercises what the
// test means to: several row groups, a dictionary-encoded label column.
func checkXitongsysLayout(t *testing.T, path string) {
	t.Helper()
	pf := openParquet(t, path)
	if pf.NumRowGroups() < 2 {
		t.Errorf("xitongsys wrote %d row group(s), want several", pf.NumRowGroups())
	}
	for rg := 0; rg < pf.NumRowGroups(); rg++ {
		cc, err := pf.MetaData().RowGroup(rg).ColumnChunk(3)
		if err != nil {
			t.Fatal(err)
		}
		if cc.PathInSchema().String() != "label" || !cc.HasDictionaryPage() {
			t.Errorf("row group %d column %s: dictionary page %v, want label with one", rg, cc.PathInSchema(), cc.HasDictionaryPage())
		}
	}
}

// writeXitongsys writes rows with xitongsys in small row groups and pages.
func writeXitongsys(t *testing.T, path string, rows []inputRow, codec xparquet.CompressionCodec) {
	t.Helper()
	fw, err := local.NewLocalFileWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := xwriter.NewParquetWriter(fw, new(inputRow), 1)
	if err != nil {
		t.Fatal(err)
	}
	pw.RowGroupSize = 32 * 1024 // bytes: several row groups
	pw.PageSize = 8 * 1024
	pw.CompressionType = codec
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
