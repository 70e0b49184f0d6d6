package readers_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/readers"
)

// The fixtures in testdata were written by DuckDB 1.5.6 (through its Node
// bindings, scripts/bench/duck.mjs):
//
//	COPY (SELECT (i % 13) AS bag, (i % 3 = 0) AS red, i * 7919 AS id, 'm-' || i::VARCHAR AS name, (i % 97) / 10.0 AS g
//	      FROM range(300) r(i)) TO 'duckdb-lz4raw.parquet' (FORMAT parquet, COMPRESSION lz4_raw);
//	COPY (SELECT (i % 13) AS bag, (i % 3 = 0) AS red, i * 7919 AS id, 'm-' || i::VARCHAR AS name
//	      FROM range(300) r(i)) TO 'duckdb-lz4raw-v2.parquet' (FORMAT parquet, COMPRESSION lz4_raw, PARQUET_VERSION v2);
//	COPY (SELECT (i % 13) AS bag, (i % 97) / 10.0 AS g, ((i % 89) / 10.0)::FLOAT AS f
//	      FROM range(300) r(i)) TO 'duckdb-byte-stream-split.parquet' (FORMAT parquet, PARQUET_VERSION v2);
//	COPY (SELECT i::INTEGER AS row, CASE WHEN i % 5 = 0 THEN NULL ELSE i / 7.0 END AS d,
//	             CASE WHEN i % 3 = 1 THEN NULL ELSE (i / 3.0)::FLOAT END AS f,
//	             CASE WHEN i < 2048 THEN (i % 4) / 2.0 ELSE i / 11.0 END AS h
//	      FROM range(5000) r(i)) TO 'duckdb-bss-nulls.parquet'
//	      (FORMAT parquet, PARQUET_VERSION v2, ROW_GROUP_SIZE 2048, COMPRESSION zstd);
//	COPY (SELECT i::INTEGER AS row, CASE WHEN i % 7 = 3 THEN NULL ELSE (i % 97) / 10.0 END AS g, ((i % 89) / 10.0)::FLOAT AS f
//	      FROM range(300) r(i)) TO 'duckdb-bss-CODEC.parquet' (FORMAT parquet, PARQUET_VERSION v2, COMPRESSION CODEC);
//
// the last for CODEC uncompressed, snappy, zstd and lz4_raw (file
// duckdb-bss-lz4raw.parquet). As DuckDB's parquet_metadata and arrow's
// page reader show them: DuckDB writes data pages v1 (PARQUET_VERSION v2
// changes the encodings, not the page version) and one data page per
// column chunk; every column is OPTIONAL. With PARQUET_VERSION v2, id and
// row are DELTA_BINARY_PACKED, name DELTA_LENGTH_BYTE_ARRAY, and g, f and
// d BYTE_STREAM_SPLIT; duckdb-bss-nulls.parquet has 3 row groups (2048,
// 2048 and 904 rows), and h is dictionary-encoded (RLE_DICTIONARY) in the
// first and BYTE_STREAM_SPLIT in the others. DuckDB writes no
// BYTE_STREAM_SPLIT for integers (DELTA_BINARY_PACKED instead), never
// more than one page in a chunk below 100 MB, and never a chunk that
// falls back from a dictionary page by page: arrowrs-bss-*.parquet (see
// splitcol_test.go) have those.

// TestDuckDBLZ4Raw reads LZ4_RAW-compressed files as DuckDB writes them
// (its lz4 and lz4_raw, and pyarrow's lz4): arrow v17 has no codec for
// LZ4_RAW, and every column failed with "compression for LZ4_RAW
// unimplemented".
func TestDuckDBLZ4Raw(t *testing.T) {
	for _, name := range []string{"duckdb-lz4raw.parquet", "duckdb-lz4raw-v2.parquet"} {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r := open(t, "testdata/"+name, mem)
			for _, batch := range []int{0, 7} {
				recs := readAll(t, r, []string{"bag", "id", "name", "red"}, batch)
				bags, ids, names, reds := values(recs, 0), values(recs, 1), values(recs, 2), values(recs, 3)
				releaseAll(recs)
				if len(bags) != 300 {
					t.Fatalf("batch %d: %d rows, want 300", batch, len(bags))
				}
				for i := range 300 {
					want := []any{int64(i % 13), int64(i * 7919), fmt.Sprintf("m-%d", i), i%3 == 0}
					got := []any{bags[i], ids[i], names[i], reds[i]}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("batch %d, row %d: %v, want %v", batch, i, got, want)
					}
				}
			}
		})
	}
}

// TestDuckDBByteStreamSplit reads the BYTE_STREAM_SPLIT columns g
// (DOUBLE) and f (FLOAT) that DuckDB writes with PARQUET_VERSION v2, which
// arrow v17 cannot decode (it gave no rows, reported as "corrupt file:
// column "g" gave 0 rows", and support.go refused them before splitColumn),
// with Records and UnitRecords, and compares every row with the SQL that
// wrote it (see above): DuckDB's (i % 97) / 10.0 is the double division
// float64(i%97) / 10, and its ::FLOAT rounds that to the nearest float32.
func TestDuckDBByteStreamSplit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := open(t, "testdata/duckdb-byte-stream-split.parquet", mem)
	cols := []string{"bag", "g", "f"}
	if err := r.Unreadable(cols); err != nil {
		t.Fatalf("Unreadable: %v", err)
	}
	checkTypes(t, r, map[string]arrow.DataType{"g": arrow.PrimitiveTypes.Float64, "f": arrow.PrimitiveTypes.Float32})
	want := func(i int, name string) any {
		switch name {
		case "bag":
			return int64(i % 13)
		case "g":
			return float64(i%97) / 10
		}
		return float32(float64(i%89) / 10)
	}
	for _, batch := range []int{0, 7} {
		checkBSSReads(t, r, cols, batch, 300, want)
	}
}

// TestDuckDBByteStreamSplitNulls reads nullable BYTE_STREAM_SPLIT columns
// with NULLs, in 3 row groups, one of whose chunks of h is dictionary
// encoded (duckdb-bss-nulls.parquet, written by the SQL above, which the
// expected values restate), in batches that end inside pages and row
// groups.
func TestDuckDBByteStreamSplitNulls(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := open(t, "testdata/duckdb-bss-nulls.parquet", mem)
	if r.NumUnits() != 3 {
		t.Fatalf("%d row groups, want the 3 the fixture was written with", r.NumUnits())
	}
	cols := []string{"row", "d", "f", "h"}
	want := func(i int, name string) any {
		switch name {
		case "row":
			return int32(i)
		case "d":
			if i%5 == 0 {
				return nil
			}
			return float64(i) / 7
		case "f":
			if i%3 == 1 {
				return nil
			}
			return float32(float64(i) / 3)
		}
		if i < 2048 {
			return float64(i%4) / 2
		}
		return float64(i) / 11
	}
	for _, batch := range []int{0, 7, 1000} {
		checkBSSReads(t, r, cols, batch, 5000, want)
	}
}

// TestDuckDBByteStreamSplitCodecs reads BYTE_STREAM_SPLIT columns with
// NULLs uncompressed and in each codec DuckDB writes (the duckdb-bss-CODEC
// files above).
func TestDuckDBByteStreamSplitCodecs(t *testing.T) {
	want := func(i int, name string) any {
		switch name {
		case "row":
			return int32(i)
		case "g":
			if i%7 == 3 {
				return nil
			}
			return float64(i%97) / 10
		}
		return float32(float64(i%89) / 10)
	}
	for _, codec := range []string{"uncompressed", "snappy", "zstd", "lz4raw"} {
		t.Run(codec, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r := open(t, "testdata/duckdb-bss-"+codec+".parquet", mem)
			for _, batch := range []int{0, 7} {
				checkBSSReads(t, r, []string{"row", "g", "f"}, batch, 300, want)
			}
		})
	}
}

// checkTypes checks the Arrow types of columns of r.
func checkTypes(t *testing.T, r *readers.Reader, types map[string]arrow.DataType) {
	t.Helper()
	for name, want := range types {
		i := r.Schema().FieldIndices(name)
		if len(i) != 1 {
			t.Fatalf("no column %s", name)
		}
		if got := r.Schema().Field(i[0]).Type; !arrow.TypeEqual(got, want) {
			t.Errorf("column %s is %s, want %s", name, got, want)
		}
	}
}

// checkBSSReads reads columns of r in batches of batch rows, with Records
// and then with UnitRecords of every unit in turn, and checks that each
// reads rows rows, row i of column name holding want(i, name) (nil for a
// null).
func checkBSSReads(t *testing.T, r *readers.Reader, columns []string, batch, rows int, want func(i int, name string) any) {
	t.Helper()
	func() {
		recs := readAll(t, r, columns, batch)
		defer releaseAll(recs)
		checkCells(t, fmt.Sprintf("Records, batch %d", batch), recs, columns, rows, want)
	}()
	first := 0 // the first row of unit u
	for u := range r.NumUnits() {
		rr, err := r.UnitRecords(context.Background(), columns, batch, u)
		if err != nil {
			t.Fatal(err)
		}
		func() {
			recs := collect(t, rr)
			defer releaseAll(recs)
			checkCells(t, fmt.Sprintf("UnitRecords(%d), batch %d", u, batch), recs, columns, int(r.UnitRows(u)),
				func(i int, name string) any { return want(first+i, name) })
		}()
		first += int(r.UnitRows(u))
	}
}

// checkCells checks that recs, of the named columns, hold rows rows, row i
// of column name holding want(i, name).
func checkCells(t *testing.T, what string, recs []arrow.Record, columns []string, rows int, want func(i int, name string) any) {
	t.Helper()
	i := 0
	for _, rec := range recs {
		for j := range int(rec.NumRows()) {
			for k, name := range columns {
				if got, w := cell(rec.Column(k), j), want(i, name); !reflect.DeepEqual(got, w) {
					t.Fatalf("%s: row %d, column %s: %v (%T), want %v (%T)", what, i, name, got, got, w, w)
				}
			}
			i++
		}
	}
	if i != rows {
		t.Fatalf("%s: %d rows, want %d", what, i, rows)
	}
}

// cell returns value j of arr: nil for a null, a string of a
// fixed_size_binary's bytes, the integer of a timestamp, date or time, the
// float32 of a float16.
func cell(arr arrow.Array, j int) any {
	if arr.IsNull(j) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Float64:
		return a.Value(j)
	case *array.Float32:
		return a.Value(j)
	case *array.Int32:
		return a.Value(j)
	case *array.Int64:
		return a.Value(j)
	case *array.FixedSizeBinary:
		return string(a.Value(j))
	case *array.Timestamp:
		return int64(a.Value(j))
	case *array.Uint32:
		return a.Value(j)
	case *array.Uint64:
		return a.Value(j)
	case *array.Date32:
		return int32(a.Value(j))
	case *array.Time32:
		return int32(a.Value(j))
	case *array.Time64:
		return int64(a.Value(j))
	case *array.Float16:
		return a.Value(j).Float32()
	}
	panic(fmt.Sprintf("cell of %s", arr.DataType()))
}
