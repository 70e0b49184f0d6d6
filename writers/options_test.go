package writers_test

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/compress"

	"github.com/mixbatch/mixbatch/writers"
)

// mixedSchema has a column of every kind the writer chooses encodings and
// statistics for.
var mixedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "key", Type: arrow.PrimitiveTypes.Int64},                  // unique, sorted
	{Name: "bag", Type: arrow.PrimitiveTypes.Int64},                  // sorted, runs of 100
	{Name: "label", Type: arrow.BinaryTypes.String},                  // 3 values in no order
	{Name: "count", Type: arrow.PrimitiveTypes.Int64},                // 41 values in no order
	{Name: "id", Type: arrow.BinaryTypes.String},                     // unique, no order
	{Name: "code", Type: arrow.PrimitiveTypes.Int32, Nullable: true}, // 5 values and nulls
	{Name: "blob", Type: arrow.BinaryTypes.Binary},                   // 4 values in no order
	{Name: "big", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "x", Type: arrow.PrimitiveTypes.Float64},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean},
}, nil)

// makeMixed returns n rows of mixedSchema starting at row first.
func makeMixed(mem memory.Allocator, rng *rand.Rand, first, n int) arrow.Record {
	b := array.NewRecordBuilder(mem, mixedSchema)
	defer b.Release()
	for i := first; i < first+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.Int64Builder).Append(int64(i / 100))
		b.Field(2).(*array.StringBuilder).Append([]string{"alpha", "beta", "γάμμα"}[rng.IntN(3)])
		b.Field(3).(*array.Int64Builder).Append(80 + rng.Int64N(41))
		b.Field(4).(*array.StringBuilder).Append(fmt.Sprintf("id-%016x", rng.Uint64()))
		if rng.IntN(4) == 0 {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.Int32Builder).Append(int32(rng.IntN(5)) - 2)
		}
		b.Field(6).(*array.BinaryBuilder).Append([]byte{0, byte(rng.IntN(4)), 0xff})
		if rng.IntN(3) == 0 {
			b.Field(7).AppendNull()
		} else {
			b.Field(7).(*array.LargeStringBuilder).Append([]string{"", "lo", "hi"}[rng.IntN(3)])
		}
		b.Field(8).(*array.Float64Builder).Append(rng.NormFloat64())
		b.Field(9).(*array.BooleanBuilder).Append(rng.IntN(2) == 0)
	}
	return b.NewRecord()
}

// writeAndCheck writes recs to a new file with opts, reads it back with
// package readers and checks that every row is as written. It returns the path.
func writeAndCheck(t *testing.T, mem memory.Allocator, sc *arrow.Schema, recs []arrow.Record, opts writers.Options) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.parquet")
	if err := writers.WriteFile(path, sc, recs, opts); err != nil {
		t.Fatal(err)
	}
	_, got := readBack(t, path, mem)
	defer releaseAll(got)
	g, w := rowStrings(got), rowStrings(recs)
	if len(g) != len(w) {
		t.Fatalf("%d rows read, %d written", len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("row %d: read %s, wrote %s", i, g[i], w[i])
		}
	}
	return path
}

// rowGroupRows returns the number of rows of each row group of path.
func rowGroupRows(t *testing.T, path string) []int64 {
	t.Helper()
	pf := openParquet(t, path)
	var rows []int64
	for i := 0; i < pf.NumRowGroups(); i++ {
		rows = append(rows, pf.MetaData().RowGroup(i).NumRows())
	}
	return rows
}

// TestCompression writes with each codec: the footer names it for every
// column chunk, and the values read back.
func TestCompression(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rec := makeMixed(mem, rand.New(rand.NewPCG(5, 1)), 0, 3000)
	defer rec.Release()
	for _, c := range []struct {
		opts writers.Options
		want compress.Compression
	}{
		{writers.Options{}, compress.Codecs.Zstd},
		{writers.Options{Compression: writers.Zstd}, compress.Codecs.Zstd},
		{writers.Options{Compression: writers.Zstd, CompressionLevel: 9}, compress.Codecs.Zstd},
		{writers.Options{CompressionLevel: 22}, compress.Codecs.Zstd},
		{writers.Options{Compression: writers.Snappy}, compress.Codecs.Snappy},
		{writers.Options{Compression: writers.Uncompressed}, compress.Codecs.Uncompressed},
	} {
		t.Run(fmt.Sprintf("%s-%d", c.opts.Compression, c.opts.CompressionLevel), func(t *testing.T) {
			path := writeAndCheck(t, mem, mixedSchema, []arrow.Record{rec}, c.opts)
			for _, rg := range columnLayouts(t, path) {
				for name, l := range rg {
					if l.codec != c.want {
						t.Errorf("%s: compression %v, want %v", name, l.codec, c.want)
					}
				}
			}
		})
	}
}

// TestCompressionLevel checks that the zstd level reaches the encoder: on
// compressible data the best level makes a smaller file than the fastest.
func TestCompressionLevel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sc := arrow.NewSchema([]arrow.Field{{Name: "text", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewStringBuilder(mem)
	rng := rand.New(rand.NewPCG(6, 1))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while bags of marbles roll by")
	for i := 0; i < 20000; i++ {
		var sb strings.Builder
		for j := 0; j < 8; j++ {
			fmt.Fprintf(&sb, "%s%d ", words[rng.IntN(len(words))], rng.IntN(100))
		}
		b.Append(sb.String())
	}
	col := b.NewArray()
	b.Release()
	rec := array.NewRecord(sc, []arrow.Array{col}, int64(col.Len()))
	col.Release()
	defer rec.Release()

	size := map[int]int64{}
	for _, level := range []int{1, 19} {
		path := writeAndCheck(t, mem, sc, []arrow.Record{rec}, writers.Options{CompressionLevel: level})
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		size[level] = fi.Size()
	}
	if size[19] >= size[1] {
		t.Errorf("level 19 wrote %d bytes, level 1 %d: want fewer", size[19], size[1])
	}
}

// TestOptionsInvalid checks that Create refuses bad options, naming the
// file and the option, and creates nothing.
func TestOptionsInvalid(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		opts writers.Options
		want string
	}{
		{writers.Options{RowGroupRows: -1}, "RowGroupRows"},
		{writers.Options{RowGroupBytes: -5}, "RowGroupBytes"},
		{writers.Options{Compression: "lz4"}, `unknown compression "lz4"`},
		{writers.Options{Compression: "ZSTD"}, `unknown compression "ZSTD"`},
		{writers.Options{Compression: writers.Snappy, CompressionLevel: 3}, "CompressionLevel 3"},
		{writers.Options{Compression: writers.Uncompressed, CompressionLevel: 1}, "CompressionLevel 1"},
		{writers.Options{CompressionLevel: 23}, "CompressionLevel 23"},
		{writers.Options{CompressionLevel: -1}, "CompressionLevel -1"},
	} {
		path := filepath.Join(dir, "bad.parquet")
		w, err := writers.Create(path, mixedSchema, c.opts)
		if err == nil {
			w.Close()
			t.Fatalf("%+v: Create succeeded", c.opts)
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %q should name %s and %s", c.opts, err, path, c.want)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%+v: file created (%v)", c.opts, err)
		}
	}
}

// TestRowGroupBytes checks where row groups end: at RowGroupBytes of Arrow
// data (16 bytes a row here) or RowGroupRows, whichever comes first, at
// least one row each; a record that is a slice counts only its own rows.
func TestRowGroupBytes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	// 16 bytes a row: an int64, or a string of 12 bytes and its offset.
	fixed := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "b", Type: arrow.PrimitiveTypes.Float64}}, nil)
	strs := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	records := func(sc *arrow.Schema, sizes ...int) []arrow.Record {
		var recs []arrow.Record
		row := 0
		for _, n := range sizes {
			b := array.NewRecordBuilder(mem, sc)
			for i := 0; i < n; i++ {
				if sc == fixed {
					b.Field(0).(*array.Int64Builder).Append(int64(row))
					b.Field(1).(*array.Float64Builder).Append(float64(row) / 7)
				} else {
					b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("row %08d", row))
				}
				row++
			}
			recs = append(recs, b.NewRecord())
			b.Release()
		}
		return recs
	}
	for _, c := range []struct {
		name string
		sc   *arrow.Schema
		recs []int
		opts writers.Options
		want string
	}{
		{"bytes", fixed, []int{700, 700, 700, 700, 700}, writers.Options{RowGroupBytes: 16 * 1000}, "[1000 1000 1000 500]"},
		{"rows first", fixed, []int{700, 700, 700, 700, 700}, writers.Options{RowGroupBytes: 16 * 1000, RowGroupRows: 600}, "[600 600 600 600 600 500]"},
		{"bytes first", fixed, []int{3500}, writers.Options{RowGroupBytes: 16 * 1000, RowGroupRows: 1200}, "[1000 1000 1000 500]"},
		{"partial row", fixed, []int{3500}, writers.Options{RowGroupBytes: 16*1000 + 15}, "[1000 1000 1000 500]"},
		{"strings", strs, []int{2500, 1000}, writers.Options{RowGroupBytes: 16 * 1000}, "[1000 1000 1000 500]"},
		{"one row each", fixed, []int{3, 2}, writers.Options{RowGroupBytes: 1}, "[1 1 1 1 1]"},
		{"default", fixed, []int{3500}, writers.Options{}, "[3500]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			recs := records(c.sc, c.recs...)
			defer releaseAll(recs)
			path := writeAndCheck(t, mem, c.sc, recs, c.opts)
			if got := fmt.Sprint(rowGroupRows(t, path)); got != c.want {
				t.Errorf("row groups of %s rows, want %s", got, c.want)
			}
		})
	}

	// A slice of a record whose other rows hold long strings: 1000 rows of
	// 16 bytes fill a row group of 16000, whatever the rest of the buffers.
	b := array.NewStringBuilder(mem)
	for i := 0; i < 5000; i++ {
		if i >= 1000 && i < 4000 {
			b.Append(fmt.Sprintf("row %08d", i))
		} else {
			b.Append(strings.Repeat("x", 1000))
		}
	}
	col := b.NewArray()
	b.Release()
	whole := array.NewRecord(strs, []arrow.Array{col}, int64(col.Len()))
	col.Release()
	slice := whole.NewSlice(1000, 4000)
	whole.Release()
	defer slice.Release()
	path := writeAndCheck(t, mem, strs, []arrow.Record{slice}, writers.Options{RowGroupBytes: 16 * 1000})
	if got := fmt.Sprint(rowGroupRows(t, path)); got != "[1000 1000 1000]" {
		t.Errorf("slice: row groups of %s rows, want [1000 1000 1000]", got)
	}
}

// TestDictionaryAndStatistics checks the encoding and statistics of every
// row group of each kind of column, and the values, over records that
// straddle row groups.
func TestDictionaryAndStatistics(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rng := rand.New(rand.NewPCG(7, 1))
	var recs []arrow.Record
	for first := 0; first < 20000; first += 3000 {
		recs = append(recs, makeMixed(mem, rng, first, min(3000, 20000-first)))
	}
	defer releaseAll(recs)
	path := writeAndCheck(t, mem, mixedSchema, recs, writers.Options{RowGroupRows: 8000})
	if got := fmt.Sprint(rowGroupRows(t, path)); got != "[8000 8000 4000]" {
		t.Errorf("row groups of %s rows", got)
	}
	type layout struct{ dict, stats bool }
	want := map[string]layout{
		"key":   {false, true}, // unique
		"bag":   {false, true}, // runs
		"label": {true, false},
		"count": {true, true},   // integers keep their statistics (arrow's dictionary: stats.go)
		"id":    {false, false}, // unique
		"code":  {true, true},
		"blob":  {true, false},
		"big":   {true, false},
		"x":     {false, false}, // floating point
		"flag":  {false, true},  // booleans: never a dictionary, statistics kept
	}
	for r, rg := range columnLayouts(t, path) {
		for name, w := range want {
			g := rg[name]
			if g.dict != w.dict || g.stats != w.stats {
				t.Errorf("row group %d, %s: dictionary %v (encodings %v), statistics %v; want %v, %v",
					r, name, g.dict, g.encodings, g.stats, w.dict, w.stats)
			}
		}
	}
}

// TestDictionaryOverflow writes a label column whose first row group has 3
// values, the second 1000 long distinct ones (a dictionary over 1 MiB), the
// third only nulls, the fourth 3 values again: all read back.
func TestDictionaryOverflow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sc := arrow.NewSchema([]arrow.Field{
		{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	var recs []arrow.Record
	for part := 0; part < 4; part++ {
		b := array.NewRecordBuilder(mem, sc)
		for i := 0; i < 1000; i++ {
			switch part {
			case 1:
				b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("%04d%s", i, strings.Repeat("z", 2000)))
				b.Field(1).(*array.Int64Builder).Append(int64(i) << 40)
			case 2:
				b.Field(0).AppendNull()
				b.Field(1).AppendNull()
			default:
				b.Field(0).(*array.StringBuilder).Append([]string{"a", "b", "c"}[(i*7)%3])
				b.Field(1).(*array.Int64Builder).Append(int64((i * 5) % 7))
			}
		}
		recs = append(recs, b.NewRecord())
		b.Release()
	}
	defer releaseAll(recs)
	path := writeAndCheck(t, mem, sc, recs, writers.Options{RowGroupRows: 1000})
	rgs := columnLayouts(t, path)
	if len(rgs) != 4 {
		t.Fatalf("%d row groups, want 4", len(rgs))
	}
	for _, name := range []string{"label", "n"} {
		if !rgs[0][name].dict || !rgs[3][name].dict {
			t.Errorf("%s: no dictionary in row groups 0 and 3 (encodings %v, %v)", name, rgs[0][name].encodings, rgs[3][name].encodings)
		}
	}
}

// TestWriteRetains releases every record right after Write: the writer
// keeps what it needs until Close, then releases all of it.
func TestWriteRetains(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rng := rand.New(rand.NewPCG(8, 1))
	path := filepath.Join(t.TempDir(), "r.parquet")
	w, err := writers.Create(path, mixedSchema, writers.Options{RowGroupRows: 2500})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for first := 0; first < 6000; first += 1000 {
		rec := makeMixed(mem, rng, first, 1000)
		want = append(want, rowStrings([]arrow.Record{rec})...)
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, got := readBack(t, path, mem)
	defer releaseAll(got)
	g := rowStrings(got)
	if len(g) != len(want) {
		t.Fatalf("%d rows read, want %d", len(g), len(want))
	}
	for i := range g {
		if g[i] != want[i] {
			t.Fatalf("row %d: read %s, want %s", i, g[i], want[i])
		}
	}
	if got := fmt.Sprint(rowGroupRows(t, path)); got != "[2500 2500 1000]" {
		t.Errorf("row groups of %s rows", got)
	}
}

// TestSlicedRecords writes slices that start inside their buffers (string,
// binary and large string offsets not at zero, nulls at odd bit offsets).
func TestSlicedRecords(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	whole := makeMixed(mem, rand.New(rand.NewPCG(9, 1)), 0, 5000)
	defer whole.Release()
	var recs []arrow.Record
	for _, r := range [][2]int64{{3, 1003}, {1777, 2900}, {2900, 2901}, {4001, 5000}} {
		recs = append(recs, whole.NewSlice(r[0], r[1]))
	}
	defer releaseAll(recs)
	for _, rows := range []int64{0, 700} {
		writeAndCheck(t, mem, mixedSchema, recs, writers.Options{RowGroupRows: rows})
	}
}

// TestConcurrentFiles writes files from several goroutines at once (they
// share the zstd encoders): run with -race.
func TestConcurrentFiles(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rec := makeMixed(mem, rand.New(rand.NewPCG(10, 1)), 0, 4000)
	defer rec.Release()
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := writers.Options{RowGroupRows: 1500, CompressionLevel: 1 + 3*(i%3)}
			errs[i] = writers.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.parquet", i)), mixedSchema, []arrow.Record{rec}, opts)
		}()
	}
	wg.Wait()
	want := rowStrings([]arrow.Record{rec})
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		_, got := readBack(t, filepath.Join(dir, fmt.Sprintf("%d.parquet", i)), mem)
		g := rowStrings(got)
		releaseAll(got)
		if fmt.Sprint(g) != fmt.Sprint(want) {
			t.Errorf("file %d differs from what was written", i)
		}
	}
}

// nestedSchema is shaped like the weights table of learned components.
var nestedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "bag", Type: arrow.PrimitiveTypes.Int64},
	{Name: "mean", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64), Nullable: true},
	{Name: "cov", Type: arrow.ListOf(arrow.ListOf(arrow.PrimitiveTypes.Float64)), Nullable: true},
	{Name: "probs", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Float64), Nullable: true},
}, nil)

// makeNested returns n rows of nestedSchema from row first; row i is null
// in the nested columns when null(i).
func makeNested(mem memory.Allocator, first, n int, null func(int) bool) arrow.Record {
	b := array.NewRecordBuilder(mem, nestedSchema)
	defer b.Release()
	mean, cov, probs := b.Field(1).(*array.ListBuilder), b.Field(2).(*array.ListBuilder), b.Field(3).(*array.MapBuilder)
	for i := first; i < first+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		if null(i) {
			mean.AppendNull()
			cov.AppendNull()
			probs.AppendNull()
			continue
		}
		x := float64(i)
		mean.Append(true)
		mean.ValueBuilder().(*array.Float64Builder).AppendValues([]float64{x, x + 0.5}, nil)
		cov.Append(true)
		rows := cov.ValueBuilder().(*array.ListBuilder)
		for _, r := range [][]float64{{x, 0.25}, {0.25, x}} {
			rows.Append(true)
			rows.ValueBuilder().(*array.Float64Builder).AppendValues(r, nil)
		}
		probs.Append(true)
		probs.KeyBuilder().(*array.StringBuilder).AppendValues([]string{"a", "b"}, nil)
		probs.ItemBuilder().(*array.Float64Builder).AppendValues([]float64{x / 1e4, 1 - x/1e4}, nil)
	}
	return b.NewRecord()
}

// TestNestedColumns writes list, list of list and map columns: row groups
// split at their Arrow size (8 + 20 + 44 + 30 bytes a row: offsets, values,
// map keys), and the values read back, nulls and all-null row groups too.
func TestNestedColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	var recs []arrow.Record
	for first := 0; first < 2000; first += 300 {
		recs = append(recs, makeNested(mem, first, min(300, 2000-first), func(int) bool { return false }))
	}
	path := writeAndCheck(t, mem, nestedSchema, recs, writers.Options{RowGroupBytes: 102 * 500})
	releaseAll(recs)
	if got := fmt.Sprint(rowGroupRows(t, path)); got != "[500 500 500 500]" {
		t.Errorf("row groups of %s rows, want [500 500 500 500]", got)
	}

	// Failed bags have no learned parameters: some rows null, and a row
	// group of nulls only.
	recs = []arrow.Record{
		makeNested(mem, 0, 700, func(i int) bool { return i%7 == 3 }),
		makeNested(mem, 700, 500, func(int) bool { return true }),
		makeNested(mem, 1200, 300, func(i int) bool { return i%2 == 0 }),
	}
	defer releaseAll(recs)
	for _, rows := range []int64{0, 700, 250} {
		writeAndCheck(t, mem, nestedSchema, recs, writers.Options{RowGroupRows: rows})
	}
}

// TestNullsInFieldNotNullable writes arrays with nulls under fields
// declared not nullable (Parquet REQUIRED), as arrow writes them: the
// values under the nulls (0 and "" from a builder), in a readable file,
// also for the low-cardinality columns that get a dictionary.
func TestNullsInFieldNotNullable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sc := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	var want []string
	for i := 0; i < 2000; i++ {
		if i%9 == 4 {
			b.Field(0).AppendNull()
			b.Field(1).AppendNull()
			want = append(want, "0||")
			continue
		}
		b.Field(0).(*array.Int64Builder).Append(int64(i % 20))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprint("v", i%3))
		want = append(want, fmt.Sprintf("%d|v%d|", i%20, i%3))
	}
	rec := b.NewRecord()
	b.Release()
	defer rec.Release()
	for _, rows := range []int64{0, 700} {
		path := filepath.Join(t.TempDir(), "t.parquet")
		if err := writers.WriteFile(path, sc, []arrow.Record{rec}, writers.Options{RowGroupRows: rows}); err != nil {
			t.Fatal(err)
		}
		_, got := readBack(t, path, mem)
		g := rowStrings(got)
		releaseAll(got)
		if fmt.Sprint(g) != fmt.Sprint(want) {
			t.Errorf("RowGroupRows %d: read back other values than arrow writes", rows)
		}
	}
}
