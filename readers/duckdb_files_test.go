package readers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
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
//
// The v2 file has data pages v2, id in DELTA_BINARY_PACKED and name in
// DELTA_LENGTH_BYTE_ARRAY, all LZ4_RAW; the last has g and f in
// BYTE_STREAM_SPLIT.

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

// TestDuckDBByteStreamSplit: a column in the BYTE_STREAM_SPLIT encoding,
// which arrow v17 cannot decode (it gave no rows, reported as "corrupt
// file: column "g" gave 0 rows"), is refused by name, with its row
// group and what to do, before any page is read; the file's other
// columns still read.
func TestDuckDBByteStreamSplit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := "testdata/duckdb-byte-stream-split.parquet"
	r := open(t, path, mem)
	for _, col := range []string{"g", "f"} {
		err := r.Unreadable([]string{"bag", col})
		if err == nil {
			t.Fatalf("Unreadable(%s): nil", col)
		}
		rr, rerr := r.Records(context.Background(), []string{"bag", col}, 0)
		if rerr == nil {
			rr.Release()
			t.Fatalf("Records(%s): no error", col)
		}
		for _, e := range []error{err, rerr} {
			for _, part := range []string{path, fmt.Sprintf("column %q, row group 0", col), "BYTE_STREAM_SPLIT", "PARQUET_VERSION v1"} {
				if !strings.Contains(e.Error(), part) {
					t.Errorf("error %q does not contain %q", e, part)
				}
			}
		}
		if _, uerr := r.UnitRecords(context.Background(), []string{col}, 0, 0); uerr == nil {
			t.Errorf("UnitRecords(%s): no error", col)
		}
	}
	if err := r.Unreadable([]string{"bag", "no such column"}); err != nil {
		t.Errorf("Unreadable(bag): %v", err)
	}
	recs := readAll(t, r, []string{"bag"}, 0)
	defer releaseAll(recs)
	if n := len(values(recs, 0)); n != 300 {
		t.Errorf("bag: %d rows, want 300", n)
	}
}
