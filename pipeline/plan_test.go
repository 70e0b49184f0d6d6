package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mixbatch/mixbatch/store/storetest"
)

// planFiles is how many part files the planning tests spread their
// marbles over: planning opens every one.
const planFiles = 16

// TestPlanOpensFilesConcurrently: planning reads the files' footers
// several at a time, which on an object store, where every request waits
// tens of milliseconds for its first byte, is what makes a folder of
// thousands of files quick to plan; and what it finds is what a local
// plan of the same files finds.
func TestPlanOpensFilesConcurrently(t *testing.T) {
	in := genMarbles(t, Marbles{Bags: 64, RowsPerBag: 10, Seed: 3, Files: planFiles})
	srv := storetest.NewS3(t, "inputs")
	uploadDir(t, srv, "inputs", "lake/marbles", in)
	// A small delay, so that requests overlap if they are sent together;
	// nothing is timed.
	srv.SetLatency(2 * time.Millisecond)
	srv.Reset()
	out := filepath.Join(t.TempDir(), "out")
	got, err := Check(context.Background(), mustLoad(t, marblesConfig(srv.URL("inputs", "lake/marbles/"), out, "")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := Check(context.Background(), mustLoad(t, marblesConfig(in, out, "")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Files != planFiles || got.Files != want.Files || got.Rows != want.Rows || got.Rows != 640 {
		t.Errorf("object store plan: %d files, %d rows; local: %d files, %d rows; want %d files, 640 rows",
			got.Files, got.Rows, want.Files, want.Rows, planFiles)
	}
	if n := srv.MostInFlight(); n < 2 {
		t.Errorf("at most %d request in flight while planning %d files: the footers were read one by one", n, planFiles)
	}
}

// TestPlanNamesEarliestBadFile: with several unreadable files, planning
// fails naming the first of them in input order, whichever is read first,
// so that reruns report the same error.
func TestPlanNamesEarliestBadFile(t *testing.T) {
	in := genMarbles(t, Marbles{Bags: 64, RowsPerBag: 10, Seed: 3, Files: planFiles})
	for _, i := range []int{5, 9, 14} {
		name := filepath.Join(in, fmt.Sprintf("part-%05d.parquet", i))
		if err := os.WriteFile(name, []byte("not parquet at all, and long enough to have a footer"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := mustLoad(t, marblesConfig(in, filepath.Join(t.TempDir(), "out"), ""))
	for range 10 {
		_, err := Check(context.Background(), cfg, Options{})
		if err == nil || !strings.Contains(err.Error(), "part-00005.parquet") {
			t.Fatalf("error %v, want one naming part-00005.parquet", err)
		}
	}
	// The failed run's summary counts the files it listed.
	sum, err := Run(context.Background(), cfg, Options{})
	if err == nil || sum == nil || sum.Files != planFiles {
		t.Errorf("run: %v, summary %+v; want an error and %d files", err, sum, planFiles)
	}
}

// BenchmarkPlanObjectStore plans 64 files on an S3 server whose every
// request waits 10 ms, as a real store's do: the time is nearly all
// waiting, so it shows how many requests planning keeps in flight.
func BenchmarkPlanObjectStore(b *testing.B) {
	in := genMarblesIn(b, Marbles{Bags: 256, RowsPerBag: 10, Seed: 3, Files: 64})
	srv := storetest.NewS3(b, "inputs")
	entries, err := os.ReadDir(in)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(in, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		srv.Put(b, "inputs", "lake/marbles/"+e.Name(), data)
	}
	srv.SetLatency(10 * time.Millisecond)
	cfg := mustLoad(b, marblesConfig(srv.URL("inputs", "lake/marbles/"), filepath.Join(b.TempDir(), "out"), ""))
	for b.Loop() {
		if _, err := Check(context.Background(), cfg, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
