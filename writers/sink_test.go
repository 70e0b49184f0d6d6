package writers

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var errDiskFull = errors.New("injected: no space left on device")

// failingSink accepts limit bytes, then fails every write; its Close
// returns closeErr.
type failingSink struct {
	limit    int
	written  int
	closeErr error
	closed   int
}

func (s *failingSink) Write(p []byte) (int, error) {
	if s.written+len(p) > s.limit {
		n := s.limit - s.written
		s.written = s.limit
		return n, errDiskFull
	}
	s.written += len(p)
	return len(p), nil
}

func (s *failingSink) Close() error {
	s.closed++
	return s.closeErr
}

func testRecord(mem memory.Allocator, n int) (*arrow.Schema, arrow.Record) {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Float64},
		{Name: "s", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	for i := 0; i < n; i++ {
		b.Field(0).(*array.Float64Builder).Append(rng.NormFloat64())
		b.Field(1).(*array.StringBuilder).Append(strings.Repeat("v", i%50))
	}
	return sc, b.NewRecord()
}

// TestCloseReportsWriteError makes the sink fail part way: the error,
// buffered until the flush, must come out of Close with the path, and the
// sink must still be closed exactly once.
func TestCloseReportsWriteError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sc, rec := testRecord(mem, 1000)
	defer rec.Release()
	for _, limit := range []int{0, 2, 100, 5000} {
		sink := &failingSink{limit: limit}
		w, err := newParquet("/out/x.parquet", sink, sc, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err) // buffered in memory: no error yet
		}
		err = w.Close()
		if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "/out/x.parquet") {
			t.Errorf("limit %d: Close = %v, want the write error naming the file", limit, err)
		}
		if err2 := w.Close(); err2 != err {
			t.Errorf("limit %d: second Close = %v, want %v", limit, err2, err)
		}
		if sink.closed != 1 {
			t.Errorf("limit %d: sink closed %d times, want 1", limit, sink.closed)
		}
	}
}

// TestCloseReportsCloseError checks that the file's Close error is returned.
func TestCloseReportsCloseError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sc, rec := testRecord(mem, 10)
	defer rec.Release()
	errClose := errors.New("injected: close failed")
	sink := &failingSink{limit: 1 << 30, closeErr: errClose}
	w, err := newParquet("/out/y.parquet", sink, sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, errClose) || !strings.Contains(err.Error(), "/out/y.parquet") {
		t.Errorf("Close = %v, want the close error naming the file", err)
	}
	if sink.written < 100 {
		t.Errorf("only %d bytes reached the sink", sink.written)
	}
}

// TestWriteReportsSinkError writes more than the buffer holds, so that the
// sink fails while full row groups are flushed: Write must report it (pqarrow
// itself drops that error), later Writes and Close must fail too.
func TestWriteReportsSinkError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sc, rec := testRecord(mem, 200_000)
	defer rec.Release()
	sink := &failingSink{limit: 1000}
	w, err := newParquet("/out/z.parquet", sink, sc, Options{RowGroupRows: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "/out/z.parquet") {
		t.Errorf("Write = %v, want the injected error naming the file", err)
	}
	if err := w.Write(rec); !errors.Is(err, errDiskFull) {
		t.Errorf("second Write = %v, want the injected error", err)
	}
	if err := w.Close(); !errors.Is(err, errDiskFull) {
		t.Errorf("Close = %v, want the injected error", err)
	}
	if sink.closed != 1 {
		t.Errorf("sink closed %d times, want 1", sink.closed)
	}
}
