package beamrun

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"github.com/mixbatch/mixbatch/internal/flock"
	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/store"
	"github.com/mixbatch/mixbatch/store/storetest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	// Several batches per unit, several blobs per shard and unit.
	readBatchRows = 50
	if !testing.Verbose() {
		// Prism logs every job's progress, and failed jobs as errors.
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4})))
	}
	os.Exit(m.Run())
}

// onPrism runs pipelines on Prism in-process (loopback workers).
func onPrism(ctx context.Context, p *beam.Pipeline) error {
	_, err := prism.Execute(ctx, p)
	return err
}

// both runs the config locally with pipeline.Run into dir/local and on
// Prism into dir/beam, and returns both outputs and errors.
func both(t *testing.T, yaml string, dir string, shards int) (local, onBeam string, lerr, berr error) {
	t.Helper()
	ctx := context.Background()
	local, onBeam = filepath.Join(dir, "local"), filepath.Join(dir, "beam")
	cfg := load(t, yaml, local)
	_, lerr = pipeline.Run(ctx, cfg, pipeline.Options{})
	cfg = load(t, yaml, onBeam)
	beamLog.Reset()
	log := slog.New(slog.NewTextHandler(&beamLog, &slog.HandlerOptions{Level: slog.LevelWarn}))
	_, berr = Run(ctx, cfg, Options{Shards: shards, Execute: onPrism, Logger: log})
	return local, onBeam, lerr, berr
}

// beamLog is the launcher's warnings in the last run of both.
var beamLog bytes.Buffer

func load(t *testing.T, yaml, out string) *pipeline.Config {
	t.Helper()
	cfg, err := pipeline.Load([]byte(strings.ReplaceAll(yaml, "OUT", out)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// table reads every part file of a table: the schema and the rows, each
// rendered value by value (floats exactly), sorted.
func table(t *testing.T, dir, name string) (*arrow.Schema, []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, name, "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("%s: no part files of %s", dir, name)
	}
	var sc *arrow.Schema
	var rows []string
	for _, f := range files {
		tbl, err := readParquet(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if sc == nil {
			sc = tbl.Schema()
		} else if !sc.Equal(tbl.Schema()) {
			t.Fatalf("%s: schema %s differs from %s", f, tbl.Schema(), sc)
		}
		tr := array.NewTableReader(tbl, 0)
		for tr.Next() {
			rec := tr.Record()
			for i := range int(rec.NumRows()) {
				var b strings.Builder
				for j, c := range rec.Columns() {
					if j > 0 {
						b.WriteString(" | ")
					}
					b.WriteString(render(c, i))
				}
				rows = append(rows, b.String())
			}
		}
		tr.Release()
		tbl.Release()
	}
	slices.Sort(rows)
	return sc, rows
}

func render(c arrow.Array, i int) string {
	if c.IsNull(i) {
		return "null"
	}
	if f, ok := c.(*array.Float64); ok {
		return fmt.Sprintf("%x", math.Float64bits(f.Value(i)))
	}
	return c.ValueStr(i)
}

// same compares the tables and the manifests' summaries of two outputs.
func same(t *testing.T, local, onBeam string, tables ...string) {
	t.Helper()
	for _, name := range tables {
		lsc, lrows := table(t, local, name)
		bsc, brows := table(t, onBeam, name)
		if !lsc.Equal(bsc) {
			t.Errorf("%s: schema on Beam\n%s\nlocal\n%s", name, bsc, lsc)
		}
		if len(lrows) != len(brows) {
			t.Errorf("%s: %d rows on Beam, %d local", name, len(brows), len(lrows))
			continue
		}
		for i := range lrows {
			if lrows[i] != brows[i] {
				t.Errorf("%s: row %d differs:\nbeam  %s\nlocal %s", name, i, brows[i], lrows[i])
				break
			}
		}
	}
	lm, err := pipeline.ReadManifest(filepath.Join(local, pipeline.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	bm, err := pipeline.ReadManifest(filepath.Join(onBeam, pipeline.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	ls, bs := lm.Summary, bm.Summary
	type counts struct {
		Files, Bags, OK, Failed, NotConverged int
		Rows, Dropped                         int64
	}
	lc := counts{ls.Files, ls.Bags, ls.BagsOK, ls.BagsFailed, ls.BagsNotConverged, ls.Rows, ls.RowsDropped}
	bc := counts{bs.Files, bs.Bags, bs.BagsOK, bs.BagsFailed, bs.BagsNotConverged, bs.Rows, bs.RowsDropped}
	if lc != bc {
		t.Errorf("summary on Beam %+v, local %+v", bc, lc)
	}
	// The inputs may be local files and their copies on an object store.
	base := func(in []pipeline.ManifestInput) []pipeline.ManifestInput {
		out := slices.Clone(in)
		for i := range out {
			p, _, _ := strings.Cut(out[i].Path, "?")
			out[i].Path = path.Base(filepath.ToSlash(p))
		}
		return out
	}
	if !slices.Equal(base(lm.Inputs), base(bm.Inputs)) {
		t.Errorf("inputs on Beam %+v, local %+v", bm.Inputs, lm.Inputs)
	}
	lm.Config.Output.Dir, bm.Config.Output.Dir = "", ""
	lm.Config.Input.Paths, bm.Config.Input.Paths = nil, nil
	lj, err := json.Marshal(lm.Config)
	if err != nil {
		t.Fatal(err)
	}
	bj, err := json.Marshal(bm.Config)
	if err != nil {
		t.Fatal(err)
	}
	if string(lj) != string(bj) {
		t.Errorf("config on Beam %s, local %s", bj, lj)
	}
	for _, name := range tables {
		if len(bm.Tables[name].Files) == 0 {
			t.Errorf("the Beam manifest lists no files of %s: %+v", name, bm.Tables)
		}
	}
	if _, err := os.Stat(filepath.Join(onBeam, pipeline.SuccessFile)); err != nil {
		t.Error(err)
	}
	if bm.Runner != "beam" {
		t.Errorf("manifest runner %q, want beam", bm.Runner)
	}
	if _, err := os.Stat(filepath.Join(onBeam, shardsDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left in the output: %v", shardsDir, err)
	}
}

// Bernoulli components fixed, posteriors with a keep column, over shuffled
// rows in three files of several row groups.
func TestMarbles(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := pipeline.GenMarbles(context.Background(), in, pipeline.Marbles{
		Bags: 60, RowsPerBag: 50, Seed: 3, Files: 3, Shuffle: true, RowGroupRows: 400,
	}); err != nil {
		t.Fatal(err)
	}
	yaml := `
input: {paths: ["` + in + `"], bag: bag_id, value: red, keep: [marble_id]}
model:
  family: bernoulli
  components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]
output: {dir: OUT, posteriors: true}
`
	local, onBeam, lerr, berr := both(t, yaml, dir, 4)
	if lerr != nil || berr != nil {
		t.Fatalf("local: %v; beam: %v", lerr, berr)
	}
	same(t, local, onBeam, pipeline.WeightsTable, pipeline.FitsTable, pipeline.PosteriorsTable)
	parts, _ := filepath.Glob(filepath.Join(onBeam, pipeline.WeightsTable, "part-*-*.parquet"))
	if len(parts) < 2 {
		t.Errorf("weights/ on Beam has %d part files, want one per shard with bags", len(parts))
	}
}

// A count column: one row per (bag, colour) with its count.
func TestCounts(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := pipeline.GenMarbles(context.Background(), in, pipeline.Marbles{
		Bags: 50, RowsPerBag: 40, Seed: 8, Counts: true, Files: 2, Shuffle: true, RowGroupRows: 30,
	}); err != nil {
		t.Fatal(err)
	}
	yaml := `
input: {paths: ["` + in + `"], bag: bag_id, value: red, count: n}
model:
  family: bernoulli
  components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]
output: {dir: OUT, posteriors: true, compression: zstd}
`
	local, onBeam, lerr, berr := both(t, yaml, dir, 5)
	if lerr != nil || berr != nil {
		t.Fatalf("local: %v; beam: %v", lerr, berr)
	}
	same(t, local, onBeam, pipeline.WeightsTable, pipeline.FitsTable, pipeline.PosteriorsTable)
}

// Gaussian components learned per bag (k-means++ starts seeded by bag
// key), posteriors with a keep column.
func TestReadingsLearned(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := pipeline.GenReadings(context.Background(), in, pipeline.Readings{
		Bags: 12, RowsPerBag: 150, Seed: 5, Files: 2, Shuffle: true, RowGroupRows: 500,
	}); err != nil {
		t.Fatal(err)
	}
	yaml := `
input: {paths: ["` + in + `"], bag: sensor_id, value: value, keep: [reading_id]}
model:
  family: gaussian
  learn: [weights, mean, sd]
  components: [{name: idle}, {name: working}, {name: faulty}]
em: {restarts: 3, seed: 7}
output: {dir: OUT, posteriors: true}
`
	local, onBeam, lerr, berr := both(t, yaml, dir, 3)
	if lerr != nil || berr != nil {
		t.Fatalf("local: %v; beam: %v", lerr, berr)
	}
	same(t, local, onBeam, pipeline.WeightsTable, pipeline.FitsTable, pipeline.PosteriorsTable)
}

// Model selection over K per bag: poisson with counts, and gaussian
// (which failed locally before 6ccaee5).
func TestComponentsRange(t *testing.T) {
	dir := t.TempDir()
	marbles, readings := filepath.Join(dir, "marbles"), filepath.Join(dir, "readings")
	if err := pipeline.GenMarbles(context.Background(), marbles, pipeline.Marbles{
		Bags: 40, RowsPerBag: 30, Seed: 2, Counts: true, Files: 2, Shuffle: true, RowGroupRows: 16,
	}); err != nil {
		t.Fatal(err)
	}
	if err := pipeline.GenReadings(context.Background(), readings, pipeline.Readings{
		Bags: 12, RowsPerBag: 150, Seed: 6, Files: 2, Shuffle: true, RowGroupRows: 500,
	}); err != nil {
		t.Fatal(err)
	}
	for name, yaml := range map[string]string{
		"poisson": `
input: {paths: ["` + marbles + `"], bag: bag_id, value: n}
model: {family: poisson, learn: [weights, rate], components_range: [1, 2], select: aic}
em: {restarts: 2, seed: 1}
output: {dir: OUT}
`,
		"gaussian": `
input: {paths: ["` + readings + `"], bag: sensor_id, value: value}
model: {family: gaussian, learn: [weights, mean, sd], components_range: [1, 3]}
em: {restarts: 2, seed: 1}
output: {dir: OUT, posteriors: true}
`,
	} {
		t.Run(name, func(t *testing.T) {
			local, onBeam, lerr, berr := both(t, yaml, t.TempDir(), 3)
			if lerr != nil || berr != nil {
				t.Fatalf("local: %v; beam: %v", lerr, berr)
			}
			same(t, local, onBeam, pipeline.WeightsTable, pipeline.FitsTable)
		})
	}
}

// writeSensors writes two files whose columns differ in encoding and
// width, as the local run unifies them: the bag key a string in one and a
// dictionary of strings in the other, the keep column id int32 and int64,
// the keep column zone a dictionary in both (with other dictionaries), the
// count w int16 and float64.
// Bag "s07" has a NaN value in the second file, row 308; bag "s02" null
// values in the first. Bag "s98", at the end of the first file, has counts
// that sum to zero, and bag "s99", at the end of the second, only null
// values: errors of whole bags, without a row. With nan, more rows have a
// NaN value (input order, bag): nan[k] is row k of the second file; -1
// takes row 308's NaN away.
func writeSensors(t *testing.T, in string, nan ...int) {
	t.Helper()
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	mem := memory.DefaultAllocator
	for fi, dict := range []bool{false, true} {
		keyType := arrow.DataType(arrow.BinaryTypes.String)
		idType := arrow.DataType(arrow.PrimitiveTypes.Int32)
		countType := arrow.DataType(arrow.PrimitiveTypes.Int16)
		if dict {
			countType = arrow.PrimitiveTypes.Float64
			keyType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
			idType = arrow.PrimitiveTypes.Int64
		}
		sc := arrow.NewSchema([]arrow.Field{
			{Name: "sensor", Type: keyType, Nullable: true},
			{Name: "id", Type: idType, Nullable: true},
			{Name: "value", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
			{Name: "zone", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}, Nullable: true},
			{Name: "w", Type: countType, Nullable: true},
		}, nil)
		b := array.NewRecordBuilder(mem, sc)
		for i := range 603 {
			bag := fmt.Sprintf("s%02d", (i*7+fi)%10)
			if i >= 600 {
				bag = []string{"s98", "s99"}[fi]
			}
			switch kb := b.Field(0).(type) {
			case *array.StringBuilder:
				kb.Append(bag)
			case *array.BinaryDictionaryBuilder:
				if err := kb.AppendString(bag); err != nil {
					t.Fatal(err)
				}
			}
			switch ib := b.Field(1).(type) {
			case *array.Int32Builder:
				ib.Append(int32(i))
			case *array.Int64Builder:
				ib.Append(int64(1000 + i))
			}
			if err := b.Field(3).(*array.BinaryDictionaryBuilder).AppendString(fmt.Sprintf("zone-%d-%d", fi, i%4)); err != nil {
				t.Fatal(err)
			}
			switch cb := b.Field(4).(type) {
			case *array.Int16Builder:
				if bag == "s98" {
					cb.Append(0)
					break
				}
				cb.Append(int16(1 + i%3))
			case *array.Float64Builder:
				cb.Append(0.5 + float64(i%2))
			}
			v := 20 + 15*float64(i%3) + float64(i%11)/5
			vb := b.Field(2).(*array.Float64Builder)
			switch {
			case fi == 1 && (i == 308 && !slices.Contains(nan, -1) || slices.Contains(nan, i)): // 308: bag s07
				vb.Append(math.NaN())
			case bag == "s99":
				vb.AppendNull()
			case fi == 0 && bag == "s02" && i > 400:
				vb.AppendNull()
			default:
				vb.Append(v)
			}
		}
		rec := b.NewRecord()
		b.Release()
		writeRecord(t, filepath.Join(in, fmt.Sprintf("part-%d.parquet", fi)), rec, 128)
		rec.Release()
	}
}

// writeRecord writes rec with pqarrow in row groups of rowGroup rows,
// storing the Arrow schema.
func writeRecord(t *testing.T, path string, rec arrow.Record, rowGroup int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(rec.Schema(), f,
		parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(rowGroup), parquet.WithCompression(compress.Codecs.Snappy)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // closes f too
		t.Fatal(err)
	}
}

// Multivariate Gaussian components learned per bag: two value columns,
// list columns in weights/.
func TestMultivariate(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "colony", Type: arrow.PrimitiveTypes.Int32},
		{Name: "length", Type: arrow.PrimitiveTypes.Float64},
		{Name: "depth", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	for fi := range 2 {
		b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
		for range 400 {
			c := rng.IntN(8)
			k := rng.IntN(2)
			b.Field(0).(*array.Int32Builder).Append(int32(c))
			b.Field(1).(*array.Float64Builder).Append(40 + 8*float64(k) + rng.NormFloat64())
			b.Field(2).(*array.Float64Builder).Append(18 - 3*float64(k) + 0.5*rng.NormFloat64())
		}
		rec := b.NewRecord()
		b.Release()
		writeRecord(t, filepath.Join(in, fmt.Sprintf("part-%d.parquet", fi)), rec, 150)
		rec.Release()
	}
	yaml := `
input: {paths: ["` + in + `"], bag: colony, value: [length, depth]}
model:
  family: multivariate_gaussian
  learn: [weights, mean, cov]
  components: [{name: short_deep}, {name: long_shallow}]
em: {restarts: 2, seed: 3}
output: {dir: OUT, posteriors: true}
`
	local, onBeam, lerr, berr := both(t, yaml, dir, 3)
	if lerr != nil || berr != nil {
		t.Fatalf("local: %v; beam: %v", lerr, berr)
	}
	same(t, local, onBeam, pipeline.WeightsTable, pipeline.FitsTable, pipeline.PosteriorsTable)
}

const sensorsYAML = `
input: {paths: ["IN"], bag: sensor, value: value, count: w, keep: [id, zone], nulls: drop}
model:
  family: gaussian
  components: [{name: low, mean: 22, sd: 2}, {name: mid, mean: 36, sd: 2}, {name: high, mean: 51, sd: 2}]
output: {dir: OUT, posteriors: true}
run: RUN
`

// A bad bag skipped, under run.max_failed_bags and over it; dropped nulls;
// string keys in two encodings and a keep column in two widths.
func TestSkipBadBag(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeSensors(t, in)
	yaml := strings.NewReplacer("IN", in, "RUN", "{on_error: skip, max_failed_bags: 3}").Replace(sensorsYAML)
	local, onBeam, lerr, berr := both(t, yaml, filepath.Join(dir, "ok"), 3)
	if lerr != nil || berr != nil {
		t.Fatalf("local: %v; beam: %v\n%s", lerr, berr, yaml)
	}
	same(t, local, onBeam, pipeline.WeightsTable, pipeline.FitsTable, pipeline.PosteriorsTable)
	m, err := pipeline.ReadManifest(filepath.Join(onBeam, pipeline.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if m.Summary.BagsFailed != 3 || m.Summary.RowsDropped == 0 {
		t.Errorf("the test data should fail three bags and drop rows: %+v", m.Summary)
	}
	// The local run's warning.
	if want := fmt.Sprintf(`msg="rows with a null value or count were dropped (input.nulls: drop); fits.n_dropped counts them per bag" rows=%d`, m.Summary.RowsDropped); !strings.Contains(beamLog.String(), want) {
		t.Errorf("the launcher did not warn %s:\n%s", want, beamLog.String())
	}
	// same compared the errors; they name the input files, not a
	// shard's staged ones.
	_, fits := table(t, onBeam, pipeline.FitsTable)
	var named int
	for _, f := range fits {
		if strings.Contains(f, "mixbatch-beam-shard") || strings.Contains(f, ".arrow") {
			t.Errorf("fits names a staged file: %s", f)
		}
		for _, want := range []string{
			filepath.Join(in, "part-1.parquet") + `: column "value", row 308, bag "s07"`,
			filepath.Join(in, "part-0.parquet") + `: column "w", bag "s98": the bag's counts sum to zero`,
			filepath.Join(in, "part-1.parquet") + `: column "value", bag "s99": every row of the bag (3) had a null value or count and was dropped`,
		} {
			if strings.Contains(f, want) {
				named++
			}
		}
	}
	if named != 3 {
		t.Errorf("fits names the input files and rows of %d failed bags, want 3:\n%s", named, strings.Join(fits, "\n"))
	}

	// Over the limit: both runs fail alike, and nothing is published.
	yaml = strings.Replace(yaml, "max_failed_bags: 3", "max_failed_bags: 2", 1)
	local, onBeam, lerr, berr = both(t, yaml, filepath.Join(dir, "over"), 3)
	var lt, bt *pipeline.TooManyFailuresError
	if !errors.As(lerr, &lt) || !errors.As(berr, &bt) {
		t.Fatalf("want TooManyFailuresError; local: %v; beam: %v", lerr, berr)
	}
	if lerr.Error() != berr.Error() {
		t.Errorf("errors differ:\nbeam  %v\nlocal %v", berr, lerr)
	}
	noOutput(t, local, onBeam)
}

// noOutput checks that failed runs left no output and no staging folder.
func noOutput(t *testing.T, local, onBeam string) {
	t.Helper()
	for _, d := range []string{local, onBeam} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: a failed run left output: %v", d, err)
		}
	}
	left, err := filepath.Glob(filepath.Join(filepath.Dir(onBeam), ".*"))
	if err != nil || len(left) > 0 {
		t.Errorf("staging folders left: %v %v", left, err)
	}
}

// With on_error: fail the bad row fails the Beam job, naming the input
// file and row as the local run does, and nothing is published. More bad
// rows later in the input, in other bags (and shards), and bags that fail
// without a row do not change which is named, whatever shard runs first;
// the error is the local run's, not wrapped in the runner's account.
func TestFailPublishesNothing(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeSensors(t, in, 402, 509, 590)
	// One local worker: the local run then names the first bad row in
	// input order.
	yaml := strings.NewReplacer("IN", in, "RUN", "{on_error: fail, workers: 1}").Replace(sensorsYAML)
	for _, shards := range []int{1, 3, 5} {
		local, onBeam, lerr, berr := both(t, yaml, filepath.Join(dir, fmt.Sprint(shards)), shards)
		var ie *pipeline.InputError
		if !errors.As(lerr, &ie) || berr == nil {
			t.Fatalf("want an input error; local: %v; beam: %v", lerr, berr)
		}
		if ie.Row != 308 {
			t.Fatalf("the local run names row %d, want 308: %v", ie.Row, lerr)
		}
		if berr.Error() != lerr.Error() {
			t.Errorf("%d shards: the Beam error is not the local one:\nbeam  %v\nlocal %v", shards, berr, lerr)
		}
		noOutput(t, local, onBeam)
	}

	// No bad row: the bags that fail while fitting, s98 and s99, fail
	// the run, the first by key.
	in = filepath.Join(dir, "in-fit")
	writeSensors(t, in, -1)
	yaml = strings.NewReplacer("IN", in, "RUN", "{on_error: fail, workers: 1}").Replace(sensorsYAML)
	local, onBeam, lerr, berr := both(t, yaml, filepath.Join(dir, "fit"), 3)
	if lerr == nil || !strings.Contains(lerr.Error(), `bag "s98"`) {
		t.Fatalf("local: %v, want bag s98's error", lerr)
	}
	if berr == nil || berr.Error() != lerr.Error() {
		t.Errorf("the Beam error is not the local one:\nbeam  %v\nlocal %v", berr, lerr)
	}
	noOutput(t, local, onBeam)
}

// An input without rows gives the local run's empty tables.
func TestEmptyInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := pipeline.GenMarbles(context.Background(), in, pipeline.Marbles{Bags: 0, RowsPerBag: 1, Files: 1}); err != nil {
		t.Fatal(err)
	}
	yaml := `
input: {paths: ["` + in + `"], bag: bag_id, value: red}
model:
  family: bernoulli
  components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]
output: {dir: OUT}
`
	local, onBeam, lerr, berr := both(t, yaml, dir, 2)
	if lerr != nil || berr != nil {
		t.Fatalf("local: %v; beam: %v", lerr, berr)
	}
	same(t, local, onBeam, pipeline.WeightsTable, pipeline.FitsTable)
	if want := `level=WARN msg="the input has no rows; writing empty tables"`; !strings.Contains(beamLog.String(), want) {
		t.Errorf("the launcher did not warn %s:\n%s", want, beamLog.String())
	}
}

// run.memory_limit and run.temp_dir do not apply on Beam: the run goes
// ahead, as the README says, and the launcher says which keys it did not
// apply rather than leaving them silently out.
func TestLocalOnlyKeysWarned(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := pipeline.GenMarbles(context.Background(), in, pipeline.Marbles{Bags: 10, RowsPerBag: 20, Seed: 1, Files: 1}); err != nil {
		t.Fatal(err)
	}
	yaml := `
input: {paths: ["` + in + `"], bag: bag_id, value: red}
model:
  family: bernoulli
  components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]
output: {dir: OUT}
run: {memory_limit: 256MiB, temp_dir: "` + dir + `"}
`
	local, onBeam, lerr, berr := both(t, yaml, dir, 2)
	if lerr != nil || berr != nil {
		t.Fatalf("local: %v; beam: %v", lerr, berr)
	}
	same(t, local, onBeam, pipeline.WeightsTable, pipeline.FitsTable)
	if want := `keys="run.memory_limit, run.temp_dir"`; !strings.Contains(beamLog.String(), want) {
		t.Errorf("the launcher did not warn about %s:\n%s", want, beamLog.String())
	}
}

func TestSharedRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := load(t, `
input: {paths: ["`+filepath.Join(dir, "in")+`"], bag: b, value: v}
model: {family: gaussian, scope: shared, learn: [weights, mean, sd], components: [{name: a}, {name: b}]}
output: {dir: OUT}
`, filepath.Join(dir, "out"))
	_, err := Run(context.Background(), cfg, Options{Execute: onPrism})
	if !errors.Is(err, ErrSharedScope) {
		t.Fatalf("got %v, want ErrSharedScope", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output written: %v", err)
	}
}

// Inputs and output on an object store (an S3 server in-process): the
// workers read the row groups with range reads and write the part files
// under the output's run prefix; the launcher publishes manifest.json and
// _SUCCESS.
func TestObjectStore(t *testing.T) {
	ctx := context.Background()
	srv := storetest.NewS3(t, "lake")
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := pipeline.GenReadings(ctx, in, pipeline.Readings{
		Bags: 10, RowsPerBag: 100, Seed: 4, Files: 2, Shuffle: true, RowGroupRows: 300,
	}); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(in, "part-*.parquet"))
	if err != nil || len(files) != 2 {
		t.Fatalf("generated files %v: %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.WriteFile(ctx, srv.URL("lake", "in/"+filepath.Base(f)), b); err != nil {
			t.Fatal(err)
		}
	}
	yaml := `
input: {paths: ["IN"], bag: sensor_id, value: value, keep: [reading_id]}
model:
  family: gaussian
  components: [{name: idle, mean: 20, sd: 2}, {name: working, mean: 35, sd: 3}, {name: faulty, mean: 60, sd: 8}]
output: {dir: "OUT", posteriors: true}
`
	local := filepath.Join(dir, "local")
	if _, err := pipeline.Run(ctx, load(t, strings.Replace(yaml, "IN", in, 1), local), pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	out := srv.URL("lake", "out")
	cfg := load(t, strings.Replace(yaml, "IN", srv.URL("lake", "in"), 1), out)
	if _, err := Run(ctx, cfg, Options{Shards: 3, Execute: onPrism}); err != nil {
		t.Fatal(err)
	}
	// Fetch what the manifest lists.
	onBeam := filepath.Join(dir, "beam")
	mb, err := store.ReadFile(ctx, store.Join(out, pipeline.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m pipeline.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{pipeline.ManifestFile, pipeline.SuccessFile} {
		b, err := store.ReadFile(ctx, store.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(onBeam, name), b)
	}
	for table, tf := range m.Tables {
		for _, rel := range tf.Files {
			b, err := store.ReadFile(ctx, store.Join(out, rel))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(onBeam, table, path.Base(rel)), b)
		}
	}
	same(t, local, onBeam, pipeline.WeightsTable, pipeline.FitsTable, pipeline.PosteriorsTable)
	// Nothing left behind but the run's tables and the two files.
	entries, err := store.List(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Rel, shardsDir) {
			t.Errorf("left in the output: %s", e.Rel)
		}
	}
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The launcher keeps the part files the shards' results list, removes
// others (left by a retried bundle that wrote more parts) and the results,
// and adds up the summaries.
func TestCollect(t *testing.T) {
	ctx := context.Background()
	staging := t.TempDir()
	for _, name := range []string{"part-00000-00000.parquet", "part-00000-00001.parquet", "part-00001-00000.parquet"} {
		writeFile(t, filepath.Join(staging, pipeline.WeightsTable, name), []byte("x"))
	}
	results := []shardResult{
		{Shard: 0, Summary: pipeline.Summary{Rows: 10, Bags: 2, BagsOK: 1, BagsFailed: 1, RowsDropped: 3},
			Parts: map[string][]string{pipeline.WeightsTable: {"part-00000-00000.parquet"}},
			First: &failedBag{Str: "b", Error: "bag b failed"}},
		{Shard: 1, Summary: pipeline.Summary{Rows: 5, Bags: 3, BagsOK: 2, BagsFailed: 1, BagsNotConverged: 1},
			Parts: map[string][]string{pipeline.WeightsTable: {"part-00001-00000.parquet"}},
			First: &failedBag{Str: "a", Error: "bag a failed"}},
	}
	for _, r := range results {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(staging, shardsDir, fmt.Sprintf("shard-%05d.json", r.Shard)), b)
	}
	sum, first, err := collect(ctx, staging)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 15 || sum.Bags != 5 || sum.BagsOK != 3 || sum.BagsFailed != 2 || sum.BagsNotConverged != 1 || sum.RowsDropped != 3 {
		t.Errorf("summary %+v", sum)
	}
	if first.first.Error != "bag a failed" {
		t.Errorf("first failed bag %+v, want a's", first.first)
	}
	left, err := filepath.Glob(filepath.Join(staging, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(staging, pipeline.WeightsTable, "part-00000-00000.parquet"),
		filepath.Join(staging, pipeline.WeightsTable, "part-00001-00000.parquet"),
	}
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	if _, err := os.Stat(filepath.Join(staging, shardsDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s not removed: %v", shardsDir, err)
	}
}

// Every example config of the repository, both ways.
func TestConfigs(t *testing.T) {
	configs, err := filepath.Glob(filepath.Join("..", "..", "configs", "*.yaml"))
	if err != nil || len(configs) == 0 {
		t.Fatalf("no configs: %v", err)
	}
	for _, path := range configs {
		t.Run(filepath.Base(path), func(t *testing.T) {
			ctx := context.Background()
			cfgs := make([]*pipeline.Config, 2)
			dir := t.TempDir()
			for i := range cfgs {
				cfg, err := pipeline.LoadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				for j, p := range cfg.Input.Paths {
					if !filepath.IsAbs(p) {
						cfg.Input.Paths[j] = filepath.Join("..", "..", p)
					}
				}
				cfg.Output.Dir = filepath.Join(dir, []string{"local", "beam"}[i])
				cfgs[i] = cfg
			}
			if _, err := pipeline.Run(ctx, cfgs[0], pipeline.Options{}); err != nil {
				t.Fatal(err)
			}
			if cfgs[1].Model.Scope == pipeline.ScopeShared {
				if _, err := Run(ctx, cfgs[1], Options{Execute: onPrism}); !errors.Is(err, ErrSharedScope) {
					t.Fatalf("got %v, want ErrSharedScope", err)
				}
				return
			}
			if _, err := Run(ctx, cfgs[1], Options{Shards: 4, Execute: onPrism}); err != nil {
				t.Fatal(err)
			}
			tables := []string{pipeline.WeightsTable, pipeline.FitsTable}
			if cfgs[1].Output.Posteriors {
				tables = append(tables, pipeline.PosteriorsTable)
			}
			same(t, cfgs[0].Output.Dir, cfgs[1].Output.Dir, tables...)
		})
	}
}

// An interrupt while shards fit (Prism runs them in this process) stops
// them: Run returns the interrupt's cause only when they have removed
// their folders, and publishes nothing.
func TestInterruptDuringFit(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := pipeline.GenMarbles(context.Background(), in, pipeline.Marbles{Bags: 30, RowsPerBag: 20, Seed: 1, Files: 2}); err != nil {
		t.Fatal(err)
	}
	started := make(chan int, 16)
	// A shard whose context the interrupt does not reach waits out the 20 s
	// and counts itself here: the test asserts on that count, not on how
	// long Run took.
	var notStopped atomic.Int32
	fitHook = func(ctx context.Context, shard int) {
		started <- shard
		select {
		case <-ctx.Done():
			// A fit takes a while to notice, and the folder to go.
			time.Sleep(300 * time.Millisecond)
		case <-time.After(20 * time.Second):
			notStopped.Add(1)
		}
	}
	defer func() { fitHook = nil }()
	ctx, cancel := context.WithCancelCause(context.Background())
	interrupt := errors.New("interrupted by SIGINT")
	go func() {
		<-started
		cancel(interrupt)
	}()
	out := filepath.Join(dir, "out")
	cfg := load(t, `
input: {paths: ["`+in+`"], bag: bag_id, value: red}
model:
  family: bernoulli
  components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]
output: {dir: OUT}
`, out)
	sum, err := Run(ctx, cfg, Options{Shards: 3, Execute: onPrism})
	if !errors.Is(err, interrupt) {
		t.Fatalf("got %v, want the interrupt", err)
	}
	if n := notStopped.Load(); n > 0 {
		t.Errorf("%d shards' fits ran on after the interrupt: Run did not stop them", n)
	}
	if sum == nil || sum.Rows != 600 || sum.Files != 2 {
		t.Errorf("summary %+v, want the planned files and rows", sum)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "mixbatch-beam-*"))
	if len(left) > 0 {
		t.Errorf("shard folders left: %v", left)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output written: %v", err)
	}
	staging, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(staging) > 0 {
		t.Errorf("staging folders left: %v", staging)
	}
}

// Shard folders of earlier runs go unless a live shard holds their lock;
// folders without a lock file (older versions') once a minute old.
func TestCleanStaleWork(t *testing.T) {
	tmp := t.TempDir()
	mk := func(name string, lock bool) string {
		d := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(d, "in"), 0o755); err != nil {
			t.Fatal(err)
		}
		if lock {
			writeFile(t, filepath.Join(d, workLock), nil)
		}
		return d
	}
	dead := mk("mixbatch-beam-shard-00001-1", true)
	live := mk("mixbatch-beam-shard-00002-2", true)
	lf, err := flock.Open(filepath.Join(live, workLock), false)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	oldNoLock := mk("mixbatch-beam-out-00003-3", false)
	old := time.Now().Add(-2 * staleAge)
	if err := os.Chtimes(oldNoLock, old, old); err != nil {
		t.Fatal(err)
	}
	newNoLock := mk("mixbatch-beam-shard-00004-4", false)
	other := mk("mixbatch-spill-5", true)
	cleanStaleWork(tmp)
	for d, keep := range map[string]bool{dead: false, live: true, oldNoLock: false, newNoLock: true, other: true} {
		_, err := os.Stat(d)
		if kept := err == nil; kept != keep {
			t.Errorf("%s: kept %v, want %v", filepath.Base(d), kept, keep)
		}
	}
}

// A shard that fails the job (not for its data) records its error, which
// the launcher reports instead of the runner's account of the job.
func TestShardFailure(t *testing.T) {
	ctx := context.Background()
	staging := t.TempDir()
	f := &fitShardFn{Staging: staging}
	err := f.failed(ctx, 2, errors.New("shard 2: writing x: disk full"))
	if err == nil || err.Error() != "shard 2: writing x: disk full" {
		t.Fatalf("failed returned %v", err)
	}
	if err := f.report(ctx, 1, shardResult{Shard: 1}); err != nil {
		t.Fatal(err)
	}
	if got := shardFailure(ctx, staging); got != "shard 2: writing x: disk full" {
		t.Errorf("shardFailure: %q", got)
	}
	if _, _, err := collect(ctx, staging); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("collect: %v", err)
	}
}

// A unit that cannot be read fails the job; the launcher reports the
// reader's error, the local run's, rather than the runner's account. The
// input path is relative, as in the repository's configs: the workers
// read the file by its absolute path, and the error names it as listed.
func TestCorruptInput(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	in := "in"
	if err := pipeline.GenMarbles(context.Background(), in, pipeline.Marbles{Bags: 20, RowsPerBag: 50, Seed: 1, Files: 1}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(in, "part-00000.parquet")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The pages, not the footer (its length is before the closing "PAR1").
	footer := len(b) - 8 - int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	for i := 4; i < footer; i++ {
		b[i] ^= 0x5a
	}
	writeFile(t, path, b)
	yaml := `
input: {paths: ["` + in + `"], bag: bag_id, value: red}
model:
  family: bernoulli
  components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]
output: {dir: OUT}
`
	local, onBeam, lerr, berr := both(t, yaml, dir, 2)
	if lerr == nil || berr == nil {
		t.Fatalf("local: %v; beam: %v", lerr, berr)
	}
	if berr.Error() != lerr.Error() {
		t.Errorf("the Beam error is not the local one:\nbeam  %v\nlocal %v", berr, lerr)
	}
	if !strings.HasPrefix(berr.Error(), path+": ") {
		t.Errorf("the Beam error does not start with the input path %s: %v", path, berr)
	}
	noOutput(t, local, onBeam)
}
