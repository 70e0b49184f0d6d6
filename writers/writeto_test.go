package writers_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/writers"
)

// abortSink is an in-memory io.WriteCloser with an Abort method (like
// store.Create's writers), failing writes beyond failAfter bytes when
// failAfter > 0.
type abortSink struct {
	bytes.Buffer
	failAfter       int
	closed, aborted bool
}

func (s *abortSink) Write(p []byte) (int, error) {
	if s.failAfter > 0 && s.Len()+len(p) > s.failAfter {
		return 0, errors.New("sink full")
	}
	return s.Buffer.Write(p)
}
func (s *abortSink) Close() error { s.closed = true; return nil }
func (s *abortSink) Abort() error { s.aborted = true; return nil }

// TestWriteTo writes the same records to a file and to a sink: they read
// back the same, and the sink is closed, not aborted. A sink that fails is
// aborted, never closed, and so is one given up with Abort.
func TestWriteTo(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(3, 3))
	recs := []arrow.Record{makeOut(mem, rng, 0, 50), makeOut(mem, rng, 50, 50)}
	defer releaseAll(recs)

	dir := t.TempDir()
	path := filepath.Join(dir, "file.parquet")
	if err := writers.WriteFile(path, outSchema, recs, writers.Options{}); err != nil {
		t.Fatal(err)
	}
	good := &abortSink{}
	if err := writers.WriteTo("mem://good", good, outSchema, recs, writers.Options{}); err != nil {
		t.Fatal(err)
	}
	if !good.closed || good.aborted {
		t.Errorf("sink closed %v, aborted %v", good.closed, good.aborted)
	}
	sinkPath := filepath.Join(dir, "sink.parquet")
	if err := os.WriteFile(sinkPath, good.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, want := readBack(t, path, mem)
	defer releaseAll(want)
	_, got := readBack(t, sinkPath, mem)
	defer releaseAll(got)
	if w, g := rowStrings(want), rowStrings(got); len(w) != 100 || !slices.Equal(g, w) {
		t.Errorf("the sink's file reads back %d rows, the file's %d, or they differ", len(g), len(w))
	}

	bad := &abortSink{failAfter: 100}
	err := writers.WriteTo("mem://bad", bad, outSchema, recs, writers.Options{})
	if err == nil || bad.closed || !bad.aborted {
		t.Errorf("failing sink: err %v, closed %v, aborted %v", err, bad.closed, bad.aborted)
	}

	given := &abortSink{}
	w, err := writers.New("mem://given", given, outSchema, writers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(recs[0]); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if given.closed || !given.aborted {
		t.Errorf("Abort: closed %v, aborted %v", given.closed, given.aborted)
	}
}
