package report

import (
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/writers"
)

// example is one example config of configs/, run once for all tests.
type example struct {
	family, config string
	bag            string // a bag to plot
	dir            string // the run's output folder
}

var examples = []*example{
	{family: pipeline.Bernoulli, config: "marbles.yaml", bag: "0"},
	{family: pipeline.Categorical, config: "shops.yaml", bag: "shop-003"},
	{family: pipeline.Gaussian, config: "readings.yaml", bag: "5"},
	{family: pipeline.Poisson, config: "calls.yaml", bag: "2026-01-05"},
}

// scratch holds the example runs; TestMain removes it.
var scratch string

// TestMain runs each example config once, on the data the repository
// ships, into a temporary folder that the tests share (read only).
func TestMain(m *testing.M) {
	code, err := runExamples(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func runExamples(m *testing.M) (int, error) {
	var err error
	if scratch, err = os.MkdirTemp("", "mixbatch-report-test-"); err != nil {
		return 1, err
	}
	defer os.RemoveAll(scratch)
	for _, ex := range examples {
		cfg, err := loadExample(ex.config)
		if err != nil {
			return 1, err
		}
		ex.dir = filepath.Join(scratch, strings.TrimSuffix(ex.config, ".yaml"))
		cfg.Output.Dir = ex.dir
		if _, err := pipeline.Run(context.Background(), cfg, pipeline.Options{}); err != nil {
			return 1, fmt.Errorf("running %s: %w", ex.config, err)
		}
	}
	return m.Run(), nil
}

// loadExample loads configs/name with its paths made relative to this
// package's folder, where tests run.
func loadExample(name string) (*pipeline.Config, error) {
	cfg, err := pipeline.LoadFile(filepath.Join("..", "configs", name))
	if err != nil {
		return nil, err
	}
	for i, p := range cfg.Input.Paths {
		cfg.Input.Paths[i] = filepath.Join("..", p)
	}
	return cfg, nil
}

func exampleOf(t *testing.T, family string) *example {
	t.Helper()
	for _, ex := range examples {
		if ex.family == family {
			return ex
		}
	}
	t.Fatalf("no example of %s", family)
	return nil
}

// table reads every row of some columns of the Parquet files under dir
// (sorted by name), as Go values, without the package's own readers.
func table(t *testing.T, dir string, cols ...string) [][]any {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("%s: no parquet files (%v)", dir, err)
	}
	sort.Strings(paths)
	var rows [][]any
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(p), "_") {
			continue // _truth.parquet
		}
		rd, err := readers.Open(context.Background(), readers.File{Path: p}, memory.NewGoAllocator())
		if err != nil {
			t.Fatal(err)
		}
		rr, err := rd.Records(context.Background(), cols, 0)
		if err != nil {
			t.Fatal(err)
		}
		for rr.Next() {
			rec := rr.Record()
			for i := 0; i < int(rec.NumRows()); i++ {
				row := make([]any, len(cols))
				for j, c := range rec.Columns() {
					if c.IsNull(i) {
						continue
					}
					row[j] = plain(c.GetOneForMarshal(i))
				}
				rows = append(rows, row)
			}
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		rr.Release()
		rd.Close()
	}
	return rows
}

// plain turns arrow's marshalling values into int64, float64, string, bool.
func plain(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case float32:
		return float64(x)
	}
	return v
}

// keyText renders a bag key value as the command line takes it.
func keyText(v any) string { return fmt.Sprint(v) }

// fitOf returns the fits row of a bag, by column name.
func fitOf(t *testing.T, ex *example, bagCol, bag string) map[string]any {
	t.Helper()
	cols := append([]string{bagCol}, fitsColumns...)
	for _, row := range table(t, filepath.Join(ex.dir, "fits"), cols...) {
		if keyText(row[0]) == bag {
			m := map[string]any{}
			for j, c := range cols {
				m[c] = row[j]
			}
			return m
		}
	}
	t.Fatalf("%s: no fits row for bag %s", ex.dir, bag)
	return nil
}

// weightsOf returns the weights of a bag by component name.
func weightsOf(t *testing.T, dir, bagCol, bag string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, row := range table(t, filepath.Join(dir, "weights"), bagCol, "component", "weight") {
		if keyText(row[0]) == bag {
			out[row[1].(string)] = row[2].(float64)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no weights for bag %s", dir, bag)
	}
	return out
}

// decodePNG decodes a PNG and returns its size and the share of pixels
// that are not white.
func decodePNG(t *testing.T, r io.Reader) (w, h int, ink float64) {
	t.Helper()
	img, err := png.Decode(r)
	if err != nil {
		t.Fatalf("decoding PNG: %v", err)
	}
	b := img.Bounds()
	rgba, ok := img.(*image.RGBA)
	if !ok {
		rgba = image.NewRGBA(b)
		draw.Draw(rgba, b, img, b.Min, draw.Src)
	}
	n := 0
	for i := 0; i+3 < len(rgba.Pix); i += 4 {
		if rgba.Pix[i] < 0xF0 || rgba.Pix[i+1] < 0xF0 || rgba.Pix[i+2] < 0xF0 {
			n++
		}
	}
	return b.Dx(), b.Dy(), float64(n) / float64(b.Dx()*b.Dy())
}

// copyRun copies a run's output folder (manifest and tables) to a new
// folder, for tests that alter it.
func copyRun(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// skipRun runs a bernoulli model with run.on_error: skip and em.max_iter: 3
// on 40 bags of 25 rows in which bags 3, 17 and 30 have a red value of 2:
// those bags fail, and most others stop before converging. It returns the
// output folder.
func skipRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mem := memory.NewGoAllocator()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "bag_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "red", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	rng := rand.New(rand.NewPCG(5, 6))
	for bag := int64(0); bag < 40; bag++ {
		for i := 0; i < 25; i++ {
			v := int64(rng.IntN(2))
			if i == 4 && (bag == 3 || bag == 17 || bag == 30) {
				v = 2
			}
			b.Field(0).(*array.Int64Builder).Append(bag)
			b.Field(1).(*array.Int64Builder).Append(v)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	out := runRecord(t, dir, rec, "bag: bag_id, value: red", `
model:
  family: bernoulli
  components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]
em: {max_iter: 3, accelerate: none}
run: {on_error: skip}`)
	return out
}

// runRecord writes rec to dir/data.parquet and runs mixbatch over it with
// the input keys input (bag and value) and the config's other sections
// rest, writing to dir/out, which it returns.
func runRecord(t *testing.T, dir string, rec arrow.Record, input, rest string) string {
	t.Helper()
	data := filepath.Join(dir, "data.parquet")
	if err := writers.WriteFile(data, rec.Schema(), []arrow.Record{rec}, writers.Options{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cfg, err := pipeline.Load([]byte(fmt.Sprintf("input: {paths: [%q], %s}\noutput: {dir: %q}\n%s\n", data, input, out, rest)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.Run(t.Context(), cfg, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	return out
}
