package writers

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestSinkErrorReleasesRecords: a sink that fails part way (a full disk
// under the third posteriors part) leaves none of the caller's buffers
// retained once the spoilt file is closed or aborted.
//
// It caught a leak, and failed before the fix: with row groups smaller
// than the write buffer, a column chunk's pages reach the sink when the
// chunk is closed, as pqarrow starts the next column; a sink error there
// made arrow v17 return without releasing the next column's slice of the
// record (its level builder) or the closed column's encoder, which keeps
// a dictionary column's dictionary. Whole columns of the caller's record
// (1.6 MB here) stayed allocated. The sink now fails quietly to pqarrow
// (stickyWriter) and Parquet reports its error after the column.
func TestSinkErrorReleasesRecords(t *testing.T) {
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "label", Type: dt},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64},
		{Name: "y", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	labels := make([]string, 40)
	for i := range labels {
		labels[i] = fmt.Sprintf("label-%02d-%s", i, strings.Repeat("v", 2000))
	}
	for _, rg := range []int64{1000, 50_000} {
		for _, limit := range []int{0, 1000, 1 << 20, 2 << 20} {
			for _, abort := range []bool{false, true} {
				name := fmt.Sprintf("rows per group %d, sink fails after %d bytes, abort %v", rg, limit, abort)
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				b := array.NewRecordBuilder(mem, sc)
				lb := b.Field(0).(*array.BinaryDictionaryBuilder)
				for i := range 200_000 {
					if err := lb.AppendString(labels[i%len(labels)]); err != nil {
						t.Fatal(err)
					}
					b.Field(1).(*array.Float64Builder).Append(float64(i) * 1.37)
					b.Field(2).(*array.Float64Builder).Append(float64(i%977) + 0.25)
				}
				rec := b.NewRecord()
				b.Release()

				sink := &auditSink{failingSink: failingSink{limit: limit}}
				w, err := newParquet("/out/part-00002.parquet", sink, sc, Options{RowGroupRows: rg, Compression: Uncompressed})
				if err != nil {
					t.Fatal(err)
				}
				werr := w.Write(rec)
				rec.Release() // the writer keeps what it needs
				var cerr error
				if abort {
					_ = w.Abort()
					cerr = werr
				} else {
					cerr = w.Close()
				}
				if !errors.Is(cerr, errDiskFull) {
					t.Errorf("%s: Write = %v, Close = %v, want the sink's error", name, werr, cerr)
				}
				if !sink.aborted {
					t.Errorf("%s: the spoilt sink was not aborted", name)
				}
				if n := mem.CurrentAlloc(); n != 0 {
					t.Errorf("%s: %d bytes of the record still allocated after the file was closed", name, n)
				}
			}
		}
	}
}
