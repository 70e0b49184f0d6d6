package readers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
)

// longKeysFile writes a Parquet file of one row group of rows rows: bag, a
// string of keyLen bytes (distinct of them, so that the column chunk is
// dictionary-encoded and its footer size is far below its decoded size),
// and v, the row number.
func longKeysFile(t *testing.T, rows, keyLen, distinct int, dict bool) string {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "bag", Type: arrow.BinaryTypes.String},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := range rows {
		k := fmt.Sprintf("%06d", (i*7919)%distinct)
		b.Field(0).(*array.StringBuilder).Append(strings.Repeat("k", keyLen-len(k)) + k)
		b.Field(1).(*array.Int64Builder).Append(int64(i))
	}
	rec := b.NewRecord()
	defer rec.Release()
	return writeTestParquet(t, rec, parquet.WithMaxRowGroupLength(int64(rows)), parquet.WithDictionaryDefault(dict))
}

// TestLongStringBatchesBounded checks that a batch of a long string column
// materialises at most about BatchBytes, whatever batch size is asked for,
// and that the values are those of unbounded batches.
func TestLongStringBatchesBounded(t *testing.T) {
	old := BatchBytes
	t.Cleanup(func() { BatchBytes = old })
	for _, dict := range []bool{true, false} {
		t.Run(fmt.Sprintf("dictionary=%v", dict), func(t *testing.T) {
			const rows, keyLen = 3000, 2000 // 6 MB decoded
			path := longKeysFile(t, rows, keyLen, 40, dict)
			read := func(budget int64) (batches []int64, most int64, keys []string, vs []int64) {
				BatchBytes = budget
				r := openTestFile(t, path, memory.DefaultAllocator)
				defer r.Close()
				rr, err := r.UnitRecords(context.Background(), []string{"bag", "v"}, 1<<20, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer rr.Release()
				for rr.Next() {
					rec := rr.Record()
					batches = append(batches, rec.NumRows())
					var n int64
					for _, c := range rec.Columns() {
						n += arrayBytes(c.Data())
					}
					most = max(most, n)
					for i := range int(rec.NumRows()) {
						keys = append(keys, rec.Column(0).(*array.String).Value(i))
						vs = append(vs, rec.Column(1).(*array.Int64).Value(i))
					}
				}
				if err := rr.Err(); err != nil {
					t.Fatal(err)
				}
				return
			}
			const budget = 1 << 20
			batches, most, keys, vs := read(budget)
			t.Logf("batches of %v rows, the largest %d bytes", batches, most)
			if most > budget {
				t.Errorf("a batch took %d bytes, more than BatchBytes %d (batches of %v rows)", most, budget, batches)
			}
			if dict && batches[0] > probeRows {
				t.Errorf("the first batch has %d rows, want at most %d", batches[0], probeRows)
			}
			wantBatches, _, wantKeys, wantVs := read(1 << 40)
			if len(wantBatches) > 2 {
				t.Errorf("without a bound: batches of %v rows, want at most two (a probe and the rest)", wantBatches)
			}
			if len(keys) != rows || strings.Join(keys, ",") != strings.Join(wantKeys, ",") || fmt.Sprint(vs) != fmt.Sprint(wantVs) {
				t.Errorf("bounded batches read other values than one batch")
			}
		})
	}
}

// TestShortStringBatchesWhole checks that short strings are read in
// batches of the size asked for, after the first (the probe, for a
// dictionary-encoded column): bounding long ones does not cut up ordinary
// ones.
func TestShortStringBatchesWhole(t *testing.T) {
	for _, dict := range []bool{true, false} {
		t.Run(fmt.Sprintf("dictionary=%v", dict), func(t *testing.T) { shortStringBatches(t, dict) })
	}
}

func shortStringBatches(t *testing.T, dict bool) {
	path := longKeysFile(t, 50000, 12, 1000, dict)
	r := openTestFile(t, path, memory.DefaultAllocator)
	defer r.Close()
	rr, err := r.UnitRecords(context.Background(), []string{"bag", "v"}, 1<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var batches []int64
	for rr.Next() {
		batches = append(batches, rr.Record().NumRows())
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []int64{probeRows, 50000 - probeRows}; !dict {
		want = []int64{50000}
		if fmt.Sprint(batches) != fmt.Sprint(want) {
			t.Errorf("batches of %v rows, want %v", batches, want)
		}
	} else if fmt.Sprint(batches) != fmt.Sprint(want) {
		t.Errorf("batches of %v rows, want %v (a probe and the rest)", batches, want)
	}
}

// TestUnitColumnBytes checks the footer's bytes of a column per unit.
func TestUnitColumnBytes(t *testing.T) {
	path := longKeysFile(t, 1000, 1000, 1000, false)
	r := openTestFile(t, path, memory.DefaultAllocator)
	defer r.Close()
	n, ok := r.UnitColumnBytes("bag", 0)
	if !ok || n < 1000*1000 || n > 1100*1000 {
		t.Errorf("UnitColumnBytes(bag, 0) = %d, %v; want about 1 MB of plain strings", n, ok)
	}
	if _, ok := r.UnitColumnBytes("bag", 1); ok {
		t.Errorf("UnitColumnBytes of a unit out of range: ok")
	}
	if _, ok := r.UnitColumnBytes("nope", 0); ok {
		t.Errorf("UnitColumnBytes of a missing column: ok")
	}
}
