package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/store"
	"github.com/mixbatch/mixbatch/writers"
)

// col is a named column for a test table.
type col struct {
	name string
	arr  arrow.Array
}

// column builds a column from a Go slice: []int8, []int32, []int64,
// []uint64, []float32, []float64, []bool, []string, or []any holding one of
// those element types and nil for nulls. dict makes string columns
// dictionary-encoded.
func column(name string, vals any) col {
	mem := memory.NewGoAllocator()
	switch v := vals.(type) {
	case []int8:
		b := array.NewInt8Builder(mem)
		b.AppendValues(v, nil)
		return col{name, b.NewArray()}
	case []int32:
		b := array.NewInt32Builder(mem)
		b.AppendValues(v, nil)
		return col{name, b.NewArray()}
	case []int64:
		b := array.NewInt64Builder(mem)
		b.AppendValues(v, nil)
		return col{name, b.NewArray()}
	case []uint64:
		b := array.NewUint64Builder(mem)
		b.AppendValues(v, nil)
		return col{name, b.NewArray()}
	case []float32:
		b := array.NewFloat32Builder(mem)
		b.AppendValues(v, nil)
		return col{name, b.NewArray()}
	case []float64:
		b := array.NewFloat64Builder(mem)
		b.AppendValues(v, nil)
		return col{name, b.NewArray()}
	case []bool:
		b := array.NewBooleanBuilder(mem)
		b.AppendValues(v, nil)
		return col{name, b.NewArray()}
	case []string:
		b := array.NewStringBuilder(mem)
		b.AppendValues(v, nil)
		return col{name, b.NewArray()}
	case []any:
		var typ arrow.DataType
		for _, x := range v {
			switch x.(type) {
			case int64:
				typ = arrow.PrimitiveTypes.Int64
			case float64:
				typ = arrow.PrimitiveTypes.Float64
			case bool:
				typ = arrow.FixedWidthTypes.Boolean
			case string:
				typ = arrow.BinaryTypes.String
			}
			if typ != nil {
				break
			}
		}
		b := array.NewBuilder(mem, typ)
		for _, x := range v {
			if x == nil {
				b.AppendNull()
				continue
			}
			switch b := b.(type) {
			case *array.Int64Builder:
				b.Append(x.(int64))
			case *array.Float64Builder:
				b.Append(x.(float64))
			case *array.BooleanBuilder:
				b.Append(x.(bool))
			case *array.StringBuilder:
				b.Append(x.(string))
			}
		}
		return col{name, b.NewArray()}
	}
	panic(fmt.Sprintf("column: unsupported %T", vals))
}

// dictColumn builds a dictionary<int32, string> column.
func dictColumn(name string, vals []string) col {
	mem := memory.NewGoAllocator()
	b := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
	for _, s := range vals {
		if err := b.AppendString(s); err != nil {
			panic(err)
		}
	}
	return col{name, b.NewArray()}
}

func record(cols []col) arrow.Record {
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.arr.DataType(), Nullable: true}
		arrs[i] = c.arr
	}
	return array.NewRecord(arrow.NewSchema(fields, nil), arrs, int64(arrs[0].Len()))
}

// writeParquet writes the columns as a Parquet file at path.
func writeParquet(t testing.TB, path string, cols ...col) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	rec := record(cols)
	defer rec.Release()
	if err := writers.WriteFile(path, rec.Schema(), []arrow.Record{rec}, writers.Options{RowGroupRows: 1000}); err != nil {
		t.Fatal(err)
	}
}

// writeIPC writes the columns as an Arrow IPC file at path.
func writeIPC(t testing.TB, path string, cols ...col) {
	t.Helper()
	rec := record(cols)
	defer rec.Release()
	if err := writeArrowFile(path, rec); err != nil {
		t.Fatal(err)
	}
}

// table is an output table read back: column name -> values as strings
// (for keys and labels) or float64.
type table struct {
	names []string
	cols  map[string][]any
	types map[string]arrow.DataType
}

func (t *table) len() int {
	for _, c := range t.cols {
		return len(c)
	}
	return 0
}

// readTable reads every part file of dir/name.
func readTable(t testing.TB, dir, name string) *table {
	t.Helper()
	files, err := readers.List([]string{store.Join(dir, name)})
	if err != nil {
		t.Fatal(err)
	}
	out := &table{cols: map[string][]any{}, types: map[string]arrow.DataType{}}
	for _, f := range files {
		r, err := readers.Open(context.Background(), f, memory.NewGoAllocator())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, fl := range r.Schema().Fields() {
			names = append(names, fl.Name)
			out.types[fl.Name] = fl.Type
		}
		out.names = names
		rr, err := r.Records(context.Background(), names, 0)
		if err != nil {
			t.Fatal(err)
		}
		for rr.Next() {
			rec := rr.Record()
			for j, n := range names {
				arr := rec.Column(j)
				for i := 0; i < arr.Len(); i++ {
					out.cols[n] = append(out.cols[n], cell(arr, i))
				}
			}
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		rr.Release()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func cell(arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Float64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.List: // a []any of the elements' cells
		lo, hi := a.ValueOffsets(i)
		out := make([]any, 0, hi-lo)
		for j := lo; j < hi; j++ {
			out = append(out, cell(a.ListValues(), int(j)))
		}
		return out
	}
	if isInteger(arr.DataType()) {
		v, _ := readers.Int(arr, i)
		return v
	}
	return arr.ValueStr(i)
}

// writeConfig writes a config file into dir and returns its path.
func writeConfig(t testing.TB, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "run.yaml")
	if err := os.WriteFile(path, []byte(strings.TrimLeft(yaml, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustLoad loads a config from YAML text.
func mustLoad(t testing.TB, yaml string) *Config {
	t.Helper()
	cfg, err := Load([]byte(strings.TrimLeft(yaml, "\n")))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	return cfg
}

// mustRun runs cfg and fails the test on error.
func mustRun(t testing.TB, cfg *Config, opts Options) *Summary {
	t.Helper()
	sum, err := Run(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return sum
}

// writeArrowFile writes rec as an Arrow IPC file at path.
func writeArrowFile(path string, rec arrow.Record) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(rec.Schema()))
	if err == nil {
		err = w.Write(rec)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readingsConfig is the config of the fixed regimes of mixbatch gen
// readings over the input in, written to out, with extra lines in model
// (indented by two spaces) and run set to the flow mapping run.
func readingsConfig(t testing.TB, in, out, extra, run string) *Config {
	t.Helper()
	return mustLoad(t, fmt.Sprintf(`
input: {paths: [%q], bag: sensor_id, value: value}
model:
  family: gaussian
  components:
    - {name: idle, mean: 20, sd: 2}
    - {name: working, mean: 35, sd: 3}
    - {name: faulty, mean: 60, sd: 8}
%s
output: {dir: %q}
run: %s
`, in, extra, out, run))
}
