package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/mixbatch/mixbatch/internal/flock"
	"github.com/mixbatch/mixbatch/store"
	"github.com/mixbatch/mixbatch/writers"
)

// Output table and file names.
const (
	WeightsTable    = "weights"
	FitsTable       = "fits"
	PosteriorsTable = "posteriors"
	SuccessFile     = "_SUCCESS"
	ManifestFile    = "manifest.json"
)

// Values of the fits table's status column.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
)

// bagsPerPart is how many bags go into one part file of weights and fits.
const bagsPerPart = 1 << 18

// partName names the i-th part file of a table.
func partName(i int) string { return fmt.Sprintf("part-%05d.parquet", i) }

// stage is a temporary sibling of the output folder that becomes the
// output folder in one rename when the run succeeds.
type stage struct {
	dir       string // final location
	tmp       string // where the run writes
	overwrite bool
	log       *slog.Logger
	lock      *os.File // flocked lockName inside tmp, held until the end
	made      []string // parent folders of dir the run created, deepest first
}

// tmpMarker is in the name of every staging folder, so that stale ones left
// by a killed run are recognisable.
const tmpMarker = ".mixbatch-tmp-"

// checkDest fails early when the output folder exists and may not be replaced.
func checkDest(dir string, overwrite bool) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("output.dir: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		// Publishing renames the staged folder over the link itself; refuse
		// rather than replace a link with a folder.
		return fmt.Errorf("output.dir %s is a symbolic link; give the real path of the folder", dir)
	case !fi.IsDir():
		return fmt.Errorf("output.dir %s exists and is not a folder", dir)
	case !overwrite:
		return fmt.Errorf("output.dir %s already exists; set output.overwrite: true to replace it", dir)
	case isMountPoint(dir, fi):
		return fmt.Errorf("output.dir %s is a mount point, which a run cannot replace (it publishes by renaming a folder staged next to it); name a folder inside the mount", dir)
	}
	return checkReplaceable(dir)
}

// isMountPoint reports whether folder dir (whose Lstat is fi) is on
// another device than its parent.
func isMountPoint(dir string, fi fs.FileInfo) bool {
	pfi, err := os.Stat(filepath.Dir(filepath.Clean(dir)))
	if err != nil {
		return false
	}
	st, ok1 := fi.Sys().(*syscall.Stat_t)
	pst, ok2 := pfi.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && st.Dev != pst.Dev
}

// checkReplaceable refuses to replace a folder that is neither empty nor
// an output of mixbatch (which holds _SUCCESS or manifest.json): with
// output.dir mistyped as a folder of other data, overwrite: true would
// delete it.
func checkReplaceable(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("output.dir: %w", err)
	}
	for _, e := range entries {
		if n := e.Name(); n == SuccessFile || n == ManifestFile {
			return nil
		}
	}
	if len(entries) == 0 {
		return nil
	}
	return fmt.Errorf("output.dir %s holds files but no %s or %s, so it is not an output of mixbatch; "+
		"overwrite replaces only those (and empty folders): remove it or name another folder", dir, SuccessFile, ManifestFile)
}

func newStage(dir string, overwrite bool, log *slog.Logger) (*stage, error) {
	if err := checkDest(dir, overwrite); err != nil {
		return nil, err
	}
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	made := missingDirs(parent)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("output.dir: creating parent folder: %w", err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	cleanStale(parent, base, filepath.Clean(dir), log)
	tmp := filepath.Join(parent, "."+base+tmpMarker+hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("output.dir: creating staging folder: %w", err)
	}
	s := &stage{dir: filepath.Clean(dir), tmp: tmp, overwrite: overwrite, log: log, made: made}
	lock, err := flock.Create(filepath.Join(tmp, lockName))
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("output.dir: locking the staging folder: %w", err)
	}
	s.lock = lock
	return s, nil
}

// lockName is the file in a staging folder that its run holds an exclusive
// flock on: the kernel releases it when the process dies, however it dies,
// so a later run can tell a live staging folder from a stale one.
const lockName = ".mixbatch-lock"

// staleGrace is how old a staging folder without a lock file must be
// before it counts as stale: a run creates the lock right after the folder.
const staleGrace = time.Minute

// cleanStale removes the staging folders of output folder dir left behind
// by runs that died without cleaning up (kill -9, power loss, a second
// Ctrl-C). A staging folder whose lock another process holds belongs to a
// live run and is left alone, and so is the previous output that a crash
// mid-publish may have left in a "-old" folder while dir is missing.
func cleanStale(parent, base, dir string, log *slog.Logger) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return // creating the staging folder will report it
	}
	prefix := "." + base + tmpMarker
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		path := filepath.Join(parent, e.Name())
		lock, err := flock.Open(filepath.Join(path, lockName), false)
		switch {
		case err == nil:
			// Its run is gone: the lock was free.
			defer lock.Close()
		case errors.Is(err, unix.EWOULDBLOCK):
			// Two runs writing one output.dir: the one to publish last
			// wins, and with overwrite both succeed.
			log.Warn("another run is writing the same output.dir; whichever publishes last replaces the other's output", "staging", path)
			continue
		case errors.Is(err, fs.ErrNotExist):
			if strings.HasSuffix(e.Name(), "-old") {
				if _, err := os.Lstat(dir); err != nil {
					log.Warn("output.dir is missing and a previous output was left aside by an interrupted publish; leaving it for recovery", "path", path)
					continue
				}
			}
			// Either a previous output swapped out and not yet removed,
			// or a folder whose run was killed before taking the lock.
			if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < staleGrace {
				continue
			}
		default:
			log.Warn("cannot tell whether a staging folder is stale; leaving it", "path", path, "err", err)
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			log.Warn("removing a stale staging folder", "path", path, "err", err)
			continue
		}
		log.Warn("removed the staging folder of an earlier run that did not finish", "path", path)
	}
}

// commit publishes the staged folder as the output folder. An existing
// folder is swapped out atomically (renameat2 RENAME_EXCHANGE) and removed;
// once the new output is in place, failing to remove the old one is only a
// warning. A run cancelled before the swap (an interrupt while the tree
// was synced) leaves the output as it was and returns the cancellation.
func (s *stage) commit(ctx context.Context) error {
	// The lock file is not part of the output; the flock stays held
	// through its open descriptor until release.
	if err := os.Remove(filepath.Join(s.tmp, lockName)); err != nil {
		return fmt.Errorf("publishing output: %w", err)
	}
	// The part files were synced as they were closed; sync the folders
	// that hold their names, so a crash after publishing cannot lose them.
	if err := syncTree(s.tmp); err != nil {
		return fmt.Errorf("syncing the output: %w", err)
	}
	// The last moment to stop: syncing a large tree on a slow disk takes
	// seconds, and an interrupt in them must not publish.
	if err := ctx.Err(); err != nil {
		return err
	}
	defer func() {
		if err := syncDir(filepath.Dir(s.dir)); err != nil {
			s.log.Warn("syncing the output's parent folder", "err", err)
		}
	}()
	err := rename(s.tmp, s.dir)
	if err == nil {
		return nil
	}
	if _, statErr := os.Stat(s.dir); statErr != nil {
		return fmt.Errorf("publishing output: %w", err)
	}
	if !s.overwrite {
		return fmt.Errorf("output.dir %s appeared while the run was writing; not replacing it", s.dir)
	}
	err = exchange(s.tmp, s.dir)
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) {
		// No atomic exchange on this file system: move the old folder aside
		// first. A crash between the two renames leaves the old output in
		// the hidden staging name, from where it can be recovered.
		old := s.tmp + "-old"
		if err := rename(s.dir, old); err != nil {
			return fmt.Errorf("publishing output: %w", err)
		}
		if err := rename(s.tmp, s.dir); err != nil {
			if uerr := rename(old, s.dir); uerr != nil {
				return fmt.Errorf("publishing output: %w; moving the previous output back failed too (%v): output.dir %s is missing, the previous output is in %s: %w",
					err, uerr, s.dir, old, ErrOutputChanged)
			}
			return fmt.Errorf("publishing output: %w", err)
		}
		s.removeOld(old)
		return nil
	}
	if errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV) {
		// A mount point appeared at output.dir during the run (one that
		// was there before it is refused by checkDest).
		return fmt.Errorf("publishing output: %w: output.dir cannot be a mount point (or on another file system than its parent folder), "+
			"as the run publishes by renaming a folder staged next to it; name a folder inside the mount", err)
	}
	if err != nil {
		return fmt.Errorf("publishing output: %w", err)
	}
	// s.tmp now holds the previous output.
	s.removeOld(s.tmp)
	return nil
}

// rename and exchange are how commit moves folders: os.Rename, and
// renameat2's RENAME_EXCHANGE, whose error names both folders as
// os.Rename's does (tests replace them to fail).
var (
	rename   = os.Rename
	exchange = func(a, b string) error {
		if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
			return &os.LinkError{Op: "renameat2 exchange", Old: a, New: b, Err: err}
		}
		return nil
	}
)

// syncTree fsyncs the manifest, _SUCCESS and every folder of a staged tree.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() == ManifestFile || d.Name() == SuccessFile {
			return syncDir(path)
		}
		return nil
	})
}

// syncDir fsyncs a file or folder by path.
func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *stage) removeOld(path string) {
	if err := os.RemoveAll(path); err != nil {
		s.log.Warn("the new output is in place, but the previous one could not be removed", "path", path, "err", err)
	}
}

// abort removes the staging folder, and the parent folders the run
// created for it if they are empty (so that a failed first run leaves
// nothing behind).
func (s *stage) abort() error {
	err := os.RemoveAll(s.tmp)
	s.release()
	if err == nil {
		removeMade(s.made)
	}
	return err
}

// removeMade removes the folders dirs (as missingDirs lists them, deepest
// first) that a run or gen created, while they are empty: one that is not
// (another run's files are there now), or gone, and its parents stay.
func removeMade(dirs []string) {
	for _, d := range dirs {
		if os.Remove(d) != nil {
			return
		}
	}
}

// missingDirs returns the folders of path, itself included, that do not
// exist, deepest first.
func missingDirs(path string) []string {
	var out []string
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return out
		}
		out = append(out, p)
		if filepath.Dir(p) == p {
			return out
		}
	}
}

// release lets go of the staging folder's lock.
func (s *stage) release() {
	if s.lock != nil {
		_ = s.lock.Close() // a lock file nothing was written to: nothing to lose
		s.lock = nil
	}
}

// bagBuilder appends bag keys in the output type.
func (r *runner) bagBuilder() array.Builder { return array.NewBuilder(r.mem, r.keyType()) }

// appendBag appends bag b's key, as the output tables hold it
// (OutputBagKey).
func (r *runner) appendBag(bld array.Builder, b int) {
	if r.bags.strs != nil {
		bld.(*array.StringBuilder).Append(r.bags.strs[b])
		return
	}
	appendInt(bld, OutputBagKey(r.plan.bagType, r.bags.ints[b]))
}

// weightsSchema is the weights table's schema: with learned components, the
// learned parameters and their standard errors follow; for
// multivariate_gaussian the mean vector (list<double>, one value per value
// column) and the covariance matrix (list<list<double>>, its rows), which
// DuckDB reads as DOUBLE[] and DOUBLE[][]. Their standard errors, and the
// weights' (std_error), are null in this release: the weights' errors
// would have to account for the learned covariances.
func (r *runner) weightsSchema() *arrow.Schema {
	fields := []arrow.Field{
		{Name: r.cfg.Input.Bag, Type: r.keyType()},
		{Name: "component", Type: arrow.BinaryTypes.String},
		{Name: "weight", Type: arrow.PrimitiveTypes.Float64},
		{Name: "std_error", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}
	if l := r.model.learn; l != nil {
		for _, q := range l.scalars {
			fields = append(fields, arrow.Field{Name: q, Type: arrow.PrimitiveTypes.Float64, Nullable: true})
		}
		for _, q := range l.scalars {
			fields = append(fields, arrow.Field{Name: q + "_std_error", Type: arrow.PrimitiveTypes.Float64, Nullable: true})
		}
		if l.probs {
			fields = append(fields, arrow.Field{Name: "probs", Type: probsType, Nullable: true})
		}
		if l.mvn {
			fields = append(fields,
				arrow.Field{Name: "mean", Type: meanType, Nullable: true},
				arrow.Field{Name: "cov", Type: covType, Nullable: true})
		}
	}
	return arrow.NewSchema(fields, nil)
}

// meanType and covType are the types of learned multivariate_gaussian
// mean vectors and covariance matrices (a list of rows).
var (
	meanType = arrow.ListOf(arrow.PrimitiveTypes.Float64)
	covType  = arrow.ListOf(meanType)
)

// probsType is the type of learned categorical probabilities: label ->
// probability, which DuckDB reads as a MAP(VARCHAR, DOUBLE).
var probsType = arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Float64)

// fitsSchema is the fits table's schema. With run.on_error: skip the fit
// columns are nullable: a failed bag has none.
func (r *runner) fitsSchema() *arrow.Schema {
	skip := r.cfg.Run.OnError == OnErrorSkip
	return arrow.NewSchema([]arrow.Field{
		{Name: r.cfg.Input.Bag, Type: r.keyType()},
		{Name: "n_obs", Type: arrow.PrimitiveTypes.Int64},
		{Name: "n_dropped", Type: arrow.PrimitiveTypes.Int64},
		{Name: "total_count", Type: arrow.PrimitiveTypes.Float64, Nullable: skip},
		{Name: "iterations", Type: arrow.PrimitiveTypes.Int64, Nullable: skip},
		{Name: "converged", Type: arrow.FixedWidthTypes.Boolean, Nullable: skip},
		{Name: "log_likelihood", Type: arrow.PrimitiveTypes.Float64, Nullable: skip},
		{Name: "gap", Type: arrow.PrimitiveTypes.Float64, Nullable: skip || r.model.learn != nil},
		{Name: "status", Type: arrow.BinaryTypes.String},
		{Name: "error", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n_components", Type: arrow.PrimitiveTypes.Int64, Nullable: skip},
		{Name: "bic", Type: arrow.PrimitiveTypes.Float64, Nullable: skip},
		{Name: "aic", Type: arrow.PrimitiveTypes.Float64, Nullable: skip},
	}, nil)
}

// writeTables writes weights/ and fits/ as part files of bagsPerPart bags.
func (r *runner) writeTables(ctx context.Context) error {
	nb := r.bags.len()
	parts := max(1, (nb+bagsPerPart-1)/bagsPerPart)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(r.workers)
	for part := 0; part < parts; part++ {
		lo, hi := part*bagsPerPart, min((part+1)*bagsPerPart, nb)
		g.Go(func() (err error) {
			defer recoverAs(&err, store.Redact(r.out.path(WeightsTable, partName(part))))
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := r.writeWeights(ctx, part, lo, hi); err != nil {
				return err
			}
			return r.writeFits(ctx, part, lo, hi)
		})
	}
	return g.Wait()
}

func (r *runner) writeWeights(ctx context.Context, part, lo, hi int) error {
	k := len(r.model.names)
	f := r.fits
	// The table's rows, as indices b*k+j into the per-component results;
	// nil when they are all of lo*k:hi*k (no failed bag, every bag with
	// K components), and the columns share the results' memory.
	var rows []int
	for b := lo; b < hi; b++ {
		if rows == nil && f.ok(b) && f.ncomp[b] == int64(k) {
			continue
		}
		if rows == nil {
			rows = make([]int, 0, (hi-lo)*k)
			for i := lo * k; i < b*k; i++ {
				rows = append(rows, i)
			}
		}
		if !f.ok(b) {
			continue // a failed bag has no weights; fits/ says why
		}
		for j := range int(f.ncomp[b]) { // components_range: the bag's model may have fewer
			rows = append(rows, b*k+j)
		}
	}
	n := (hi - lo) * k
	row := func(i int) int { return lo*k + i }
	if rows != nil {
		n, row = len(rows), func(i int) int { return rows[i] }
	}
	// floats returns the rows of vals, a NaN as null with nanNull.
	floats := func(vals []float64, nanNull bool) arrow.Array {
		v := vals[lo*k : hi*k]
		if rows != nil {
			v = make([]float64, n)
			for i, at := range rows {
				v[i] = vals[at]
			}
		}
		var null func(int) bool
		if nanNull {
			null = func(i int) bool { return math.IsNaN(v[i]) }
		}
		return fixedColumn(arrow.PrimitiveTypes.Float64, v, null)
	}
	bs := make([]int, n)
	for i := range bs {
		bs[i] = row(i) / k
	}
	cols := []arrow.Array{
		r.bagColumn(bs, 0, 0),
		stringColumn(r.mem, n, func(i int) (string, bool) { return r.model.names[row(i)%k], true }),
		floats(f.weights, false),
		// NaN (a weight on the boundary, where no Wald interval applies)
		// is written as null; +Inf (not determined by the data) as it is.
		floats(f.se, true),
	}
	defer func() { releaseAll(cols) }() // with the columns appended below
	if l := r.model.learn; l != nil {
		for _, name := range l.scalars {
			cols = append(cols, floats(f.learned.scalars[name], true))
		}
		for _, name := range l.scalars {
			cols = append(cols, floats(f.learned.se[name], true))
		}
		var probs *array.MapBuilder
		var mean, cov *array.ListBuilder
		if l.probs {
			probs = array.NewMapBuilderWithType(r.mem, probsType)
			defer probs.Release()
		}
		if l.mvn {
			mean, cov = array.NewListBuilder(r.mem, arrow.PrimitiveTypes.Float64), array.NewListBuilder(r.mem, meanType)
			defer mean.Release()
			defer cov.Release()
		}
		for i := range n {
			if probs != nil {
				appendProbs(probs, r.model.labels, f.learned.probs, row(i))
			}
			if mean != nil {
				appendMVN(mean, cov, f.learned, l.dim, row(i))
			}
		}
		if probs != nil {
			cols = append(cols, probs.NewArray())
		}
		if mean != nil {
			cols = append(cols, mean.NewArray(), cov.NewArray())
		}
	}
	return r.writeArrays(ctx, WeightsTable, part, r.weightsSchema(), cols)
}

// appendMVN appends component row's learned mean vector and covariance
// matrix (d×d, as d lists of d values); a component with no observations
// (NaN parameters) gets nulls.
func appendMVN(mean, cov *array.ListBuilder, l *learned, d, row int) {
	mu := l.mean[row*d : (row+1)*d]
	if math.IsNaN(mu[0]) {
		mean.AppendNull()
		cov.AppendNull()
		return
	}
	mean.Append(true)
	mv := mean.ValueBuilder().(*array.Float64Builder)
	mv.AppendValues(mu, nil)
	cov.Append(true)
	rows := cov.ValueBuilder().(*array.ListBuilder)
	cv := rows.ValueBuilder().(*array.Float64Builder)
	c := l.cov[row*d*d : (row+1)*d*d]
	for a := range d {
		rows.Append(true)
		cv.AppendValues(c[a*d:(a+1)*d], nil)
	}
}

// appendProbs appends component row's learned probabilities as a map; a
// component with no observations (NaN probabilities) gets null.
func appendProbs(b *array.MapBuilder, labels []string, probs []float64, row int) {
	levels := len(labels)
	p := probs[row*levels : (row+1)*levels]
	if math.IsNaN(p[0]) {
		b.AppendNull()
		return
	}
	b.Append(true)
	keys, items := b.KeyBuilder().(*array.StringBuilder), b.ItemBuilder().(*array.Float64Builder)
	for i, label := range labels {
		keys.Append(label)
		items.Append(p[i])
	}
}

func (r *runner) writeFits(ctx context.Context, part, lo, hi int) error {
	f := r.fits
	n := hi - lo
	// A failed bag has only its rows: no fit, so no numbers.
	var failed func(int) bool
	if f.errs != nil {
		failed = func(i int) bool { return !f.ok(lo + i) }
	}
	var dropped []int64
	if r.bags.dropped != nil {
		dropped = r.bags.dropped[lo:hi]
	} else {
		dropped = make([]int64, n)
	}
	cols := []arrow.Array{
		r.bagColumn(nil, lo, hi),
		fixedColumn(arrow.PrimitiveTypes.Int64, f.nobs[lo:hi], nil),
		fixedColumn(arrow.PrimitiveTypes.Int64, dropped, nil),
		fixedColumn(arrow.PrimitiveTypes.Float64, f.total[lo:hi], failed),
		fixedColumn(arrow.PrimitiveTypes.Int64, f.iters[lo:hi], failed),
		boolColumn(f.converged[lo:hi], failed),
		fixedColumn(arrow.PrimitiveTypes.Float64, f.ll[lo:hi], failed),
		// No certificate (NaN) for learned components.
		fixedColumn(arrow.PrimitiveTypes.Float64, f.gap[lo:hi], func(i int) bool {
			return (failed != nil && failed(i)) || math.IsNaN(f.gap[lo+i])
		}),
		stringColumn(r.mem, n, func(i int) (string, bool) {
			if f.ok(lo + i) {
				return StatusOK, true
			}
			return StatusFailed, true
		}),
		stringColumn(r.mem, n, func(i int) (string, bool) {
			if f.ok(lo + i) {
				return "", false
			}
			return f.errs[lo+i], true
		}),
		fixedColumn(arrow.PrimitiveTypes.Int64, f.ncomp[lo:hi], failed),
		fixedColumn(arrow.PrimitiveTypes.Float64, f.bic[lo:hi], failed),
		fixedColumn(arrow.PrimitiveTypes.Float64, f.aic[lo:hi], failed),
	}
	defer releaseAll(cols)
	return r.writeArrays(ctx, FitsTable, part, r.fitsSchema(), cols)
}

// writeArrays writes the columns cols as part file part of table.
func (r *runner) writeArrays(ctx context.Context, table string, part int, sc *arrow.Schema, cols []arrow.Array) error {
	rec := array.NewRecord(sc, cols, int64(cols[0].Len()))
	defer rec.Release()
	return r.writeRecords(ctx, table, partName(part), sc, rec)
}

// writePart writes the builders' arrays as part file part of table.
func (r *runner) writePart(ctx context.Context, table string, part int, sc *arrow.Schema, cols ...array.Builder) error {
	arrs := make([]arrow.Array, len(cols))
	for i, c := range cols {
		arrs[i] = c.NewArray()
	}
	defer releaseAll(arrs)
	return r.writeArrays(ctx, table, part, sc, arrs)
}

// createPart starts part file name of table in the staged output (a local
// file or an object: see Output.Staging).
func (r *runner) createPart(ctx context.Context, table, name string, sc *arrow.Schema) (*writers.Parquet, error) {
	loc := r.out.path(table, name)
	sink, err := store.Create(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("writing %s: creating Parquet file: %w", table, err)
	}
	w, err := writers.New(store.Redact(loc), sink, sc, r.cfg.Output.WriterOptions())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("writing %s: %w", table, err), sink.(store.Aborter).Abort())
	}
	return w, nil
}

// writeRecords writes recs as part file name of table. A part that fails
// is removed (a local file) or never appears (an object).
func (r *runner) writeRecords(ctx context.Context, table, name string, sc *arrow.Schema, recs ...arrow.Record) error {
	loc := r.out.path(table, name)
	sink, err := store.Create(ctx, loc)
	if err == nil {
		err = writers.WriteTo(store.Redact(loc), sink, sc, recs, r.cfg.Output.WriterOptions())
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", table, err)
	}
	return nil
}
