package readers_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/readers"
)

// ipcInput makes records for an IPC file: slices of one record, since the
// IPC file format allows one dictionary per field. ipc.FileWriter in arrow
// v17 never releases the dictionaries it was given, so the records come
// from a separate unchecked allocator; only reading is checked.
func ipcInput(seed uint64, sizes ...int) []arrow.Record {
	total := 0
	for _, n := range sizes {
		total += n
	}
	whole := makeRecords(memory.NewGoAllocator(), seed, total)[0]
	defer whole.Release()
	recs := make([]arrow.Record, len(sizes))
	off := int64(0)
	for i, n := range sizes {
		recs[i] = whole.NewSlice(off, off+int64(n))
		off += int64(n)
	}
	return recs
}

// TestIPCRoundTrip reads the IPC file and stream formats, plain and
// zstd-compressed, under each IPC extension: all types, a dictionary
// column passed through as a dictionary, source batches longer than the
// batch size sliced, column selection and order.
func TestIPCRoundTrip(t *testing.T) {
	recs := ipcInput(11, 300, 0, 1, 129)
	defer releaseAll(recs)
	cases := []struct {
		name   string
		stream bool
		opts   []ipc.Option
	}{
		{"file.arrow", false, nil},
		{"file.feather", false, []ipc.Option{ipc.WithZstd()}},
		{"stream.arrow", true, nil},
		{"stream.ipc", true, []ipc.Option{ipc.WithLZ4()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)

			path := tempPath(t, c.name)
			if c.stream {
				writeIPCStream(t, path, allTypes, recs, c.opts...)
			} else {
				writeIPCFile(t, path, allTypes, recs, c.opts...)
			}
			r := open(t, path, mem)
			if r.File().Format != readers.IPC {
				t.Errorf("format %v, want ipc", r.File().Format)
			}
			if r.NumRows() != 430 {
				t.Errorf("NumRows = %d, want 430", r.NumRows())
			}
			if !r.Schema().Equal(allTypes) {
				t.Errorf("Schema =\n%v\nwant\n%v", r.Schema(), allTypes)
			}

			got := readAll(t, r, columnNames(allTypes), 128)
			var sizes []int64
			for _, rec := range got {
				sizes = append(sizes, rec.NumRows())
				if !rec.Schema().Equal(allTypes) {
					t.Fatalf("batch schema =\n%v\nwant\n%v", rec.Schema(), allTypes)
				}
			}
			if want := []int64{128, 128, 44, 1, 128, 1}; !equalInts(sizes, want) {
				t.Errorf("batch sizes %v, want %v", sizes, want)
			}
			for i, f := range allTypes.Fields() {
				sameValues(t, f.Name, got, i, recs, i)
			}
			if typ := got[0].Column(13).DataType(); !arrow.TypeEqual(typ, dictStringType) {
				t.Errorf("dictionary column read as %v", typ)
			}
			releaseAll(got)

			// A second stream from the same Reader, other columns.
			cols := []string{"d", "f64", "u16", "d"}
			got = readAll(t, r, cols, 0)
			defer releaseAll(got)
			if len(got) != 3 {
				t.Errorf("%d batches with the default size, want 3 (empty batch skipped)", len(got))
			}
			for k, name := range cols {
				if got[0].ColumnName(k) != name {
					t.Fatalf("column %d is %s, want %s", k, got[0].ColumnName(k), name)
				}
				sameValues(t, name, got, k, recs, allTypes.FieldIndices(name)[0])
			}
		})
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestIPCCorrupt checks the errors for damaged or foreign IPC files: each
// must name the file, and none may panic.
func TestIPCCorrupt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	recs := ipcInput(12, 200)
	defer releaseAll(recs)
	src := tempPath(t, "good.arrow")
	writeIPCFile(t, src, allTypes, recs)
	file, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	src = tempPath(t, "good.ipc")
	writeIPCStream(t, src, allTypes, recs)
	stream, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"csv.arrow":           []byte("bag_id,x\n1,2.5\n"),
		"empty.arrow":         nil,
		"feather1.feather":    append([]byte("FEA1"), make([]byte, 100)...),
		"parquet.arrow":       []byte("PAR1xxxxxxxxxxxxxxxxPAR1"),
		"file-cut-end.arrow":  file[:len(file)-3],
		"file-cut-half.arrow": file[:len(file)/2],
		"stream-cut.ipc":      stream[:len(stream)/2],
		"stream-cut-7.ipc":    stream[:7],
	}
	for name, data := range cases {
		path := tempPath(t, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		err := readFile(path, mem)
		if err == nil {
			t.Errorf("%s: read without error", name)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}

// TestOpenCancelled checks that Open honours a cancelled context.
func TestOpenCancelled(t *testing.T) {
	recs := ipcInput(13, 5)
	defer releaseAll(recs)
	path := tempPath(t, "x.arrow")
	writeIPCFile(t, path, allTypes, recs)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r, err := readers.Open(ctx, readers.File{Path: path}, memory.DefaultAllocator); err == nil {
		r.Close()
		t.Error("Open with a cancelled context succeeded")
	}
}
