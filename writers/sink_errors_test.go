package writers

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// auditSink is a failingSink with an Abort method, as store.Create's
// writers have.
type auditSink struct {
	failingSink
	aborted  bool
	abortErr error
}

func (s *auditSink) Abort() error { s.aborted = true; return s.abortErr }

// TestSinkErrorReadsOnce: when the sink fails while a row group is
// written (a full disk under the posteriors), Write's error is the
// system's, naming the file once, without pqarrow's "unknown error type"
// wrapping of its recovered panic; and Abort of the spoilt file (what the
// posteriors writer calls on the error) reports only what discarding adds,
// not the Write error again, which callers join into a doubled message.
func TestSinkErrorReadsOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sc, rec := testRecord(mem, 200_000)
	defer rec.Release()
	for _, limit := range []int{0, 1000, 300_000} {
		sink := &auditSink{failingSink: failingSink{limit: limit}}
		// One row group of all the rows: its pages are flushed to the
		// sink inside pqarrow's WriteBatch, which recovers the panic a
		// failed page write raises.
		w, err := newParquet("/out/p.parquet", sink, sc, Options{RowGroupRows: 200_000, Compression: Uncompressed})
		if err != nil {
			t.Fatal(err)
		}
		err = w.Write(rec)
		if !errors.Is(err, errDiskFull) {
			t.Errorf("limit %d: Write = %v, want the sink's error", limit, err)
			_ = w.Abort()
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "unknown error type") || strings.Count(msg, "/out/p.parquet") != 1 {
			t.Errorf("limit %d: Write = %q, want the sink's error naming the file once", limit, msg)
		}
		if aerr := w.Abort(); aerr != nil {
			t.Errorf("limit %d: Abort of a spoilt file = %v, want nil (the Write error was already returned)", limit, aerr)
		}
		if !sink.aborted || sink.closed > 0 {
			t.Errorf("limit %d: sink aborted %v, closed %v; want aborted only", limit, sink.aborted, sink.closed)
		}
		if cerr := w.Close(); !errors.Is(cerr, errDiskFull) {
			t.Errorf("limit %d: Close after Abort = %v, want the Write error", limit, cerr)
		}
	}
}

// TestAbortReportsDiscardError: Abort still reports a failure to
// discard the file.
func TestAbortReportsDiscardError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sc, rec := testRecord(mem, 200_000)
	defer rec.Release()
	errDiscard := errors.New("injected: cannot remove")
	sink := &auditSink{failingSink: failingSink{limit: 1000}, abortErr: errDiscard}
	w, err := newParquet("/out/q.parquet", sink, sc, Options{RowGroupRows: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); !errors.Is(err, errDiskFull) {
		t.Fatalf("Write = %v, want the sink's error", err)
	}
	aerr := w.Abort()
	if !errors.Is(aerr, errDiscard) || errors.Is(aerr, errDiskFull) {
		t.Errorf("Abort = %v, want the discard error alone", aerr)
	}
}

// TestCloseErrorReadsOnce: a sink that fails while Close writes the
// last row group and the footer gives one error naming the file once.
func TestCloseErrorReadsOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sc, rec := testRecord(mem, 200_000)
	defer rec.Release()
	for _, limit := range []int{0, 1000, 1_500_000} {
		sink := &auditSink{failingSink: failingSink{limit: limit}}
		w, err := newParquet("/out/c.parquet", sink, sc, Options{RowGroupRows: 1 << 20, Compression: Uncompressed})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			t.Fatalf("limit %d: Write = %v, want the rows buffered", limit, err)
		}
		err = w.Close()
		if !errors.Is(err, errDiskFull) {
			t.Fatalf("limit %d: Close = %v, want the sink's error", limit, err)
		}
		if msg := err.Error(); strings.Contains(msg, "unknown error type") || strings.Count(msg, "/out/c.parquet") != 1 {
			t.Errorf("limit %d: Close = %q, want the sink's error naming the file once", limit, msg)
		}
		if !sink.aborted {
			t.Errorf("limit %d: the spoilt sink was not aborted", limit)
		}
	}
}
