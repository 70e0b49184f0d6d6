package readers_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/store/storetest"
)

// TestReadFailureNotCorrupt: an object store that refuses reads in the
// middle of a file (here with 403 after a few ranged GETs) must be
// reported as a failed read, with the store's error, not as a corrupt
// file: pqarrow's column readers drop the read error and come back short,
// which read as "corrupt file: column "key" gave 0 rows". Every column
// kind is tried (strings through pqarrow, int64 and bool through readers
// of our own), each refused after every number of reads that fails it.
func TestReadFailureNotCorrupt(t *testing.T) {
	mem := memory.NewGoAllocator()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "key", Type: arrow.BinaryTypes.String},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		{Name: "red", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	for i := range 20000 {
		b.Field(0).(*array.StringBuilder).Append(strings.Repeat(string(rune('a'+i%26)), 1+i%7) + "-" + string(rune('A'+i%23)))
		b.Field(1).(*array.Int64Builder).Append(int64(i * 7919))
		b.Field(2).(*array.BooleanBuilder).Append(i%3 == 0)
	}
	rec := b.NewRecord()
	b.Release()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "a.parquet")
	writeParquet(t, path, sc, []arrow.Record{rec}, 5000, false)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := storetest.NewS3(t, "lake")
	srv.Put(t, "lake", "t/a.parquet", data)
	ctx := context.Background()
	for _, col := range []string{"key", "n", "red"} {
		failed := 0
		for after := 0; after < 12; after++ {
			files, err := readers.ListContext(ctx, []string{srv.URL("lake", "t")})
			if err != nil {
				t.Fatal(err)
			}
			r, err := readers.Open(ctx, files[0], mem)
			if err != nil {
				t.Fatal(err)
			}
			srv.FailRangeReads(after)
			rr, err := r.Records(ctx, []string{col}, 0)
			if err == nil {
				for rr.Next() {
				}
				err = rr.Err()
				rr.Release()
			}
			srv.FailRangeReads(-1)
			if cerr := r.Close(); cerr != nil {
				t.Fatal(cerr)
			}
			if err == nil {
				continue
			}
			failed++
			if strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), "403") {
				t.Errorf("column %s, refused after %d reads: %v; want the store's refusal, not a corrupt file", col, after, err)
			}
		}
		if failed == 0 {
			t.Errorf("column %s: no read failed: the test needs some", col)
		}
	}
}
