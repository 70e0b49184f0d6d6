package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/mixbatch/mixbatch/store"
)

// RunPrefix begins the name of the folder under an object-store output.dir
// that holds one run's tables: run=<run id>/weights/part-00000.parquet.
// SQL engines with hive partitioning read it as a run column.
const RunPrefix = "run="

// Output is one run's output while it is written. Nothing of it is visible
// at the output folder until Publish, and Abort removes it.
//
// On a local file system the tables are written to a hidden staging
// folder next to output.dir, which Publish renames into place (swapping
// out an existing one atomically). Object stores have no rename: there the
// tables are written under a run prefix, <dir>/run=<run id>/<table>/, and
// Publish writes <dir>/manifest.json, which lists them, and then
// <dir>/_SUCCESS, last. Readers wait for _SUCCESS and take the files that
// manifest.json lists, as with Spark's committers. With overwrite, Publish
// then deletes the run prefixes older than the previous run's, so that a
// reader still reading the previous run keeps its files for one more run.
type Output struct {
	dir       string // output.dir: a local path or an object URL
	overwrite bool
	log       *slog.Logger
	local     *stage // local output: the staging folder

	// Object stores.
	runID     string // the run's id: a UTC timestamp and a random suffix
	staging   string // dir/run=<runID>
	published bool   // manifest.json written: the parts are referenced
	done      bool   // Publish or Abort finished
}

// CreateOutput starts writing an output at dir, a local folder or an
// object-store URL (file:// URLs are local folders). It fails when the
// output exists (a local folder, or on an object store a manifest.json or
// _SUCCESS under dir) and overwrite is false. Nothing is visible at dir
// until Publish; the caller must Publish or Abort. log may be nil.
func CreateOutput(ctx context.Context, dir string, overwrite bool, log *slog.Logger) (*Output, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir, err := store.Clean(dir)
	if err != nil {
		return nil, fmt.Errorf("output.dir: %w", err)
	}
	o := &Output{dir: dir, overwrite: overwrite, log: log}
	if !store.IsURL(dir) {
		if o.local, err = newStage(dir, overwrite, log); err != nil {
			return nil, err
		}
		return o, nil
	}
	if err := checkObjectDest(ctx, dir, overwrite); err != nil {
		return nil, err
	}
	if o.runID, err = newRunID(time.Now()); err != nil {
		return nil, err
	}
	o.staging = store.Join(dir, RunPrefix+o.runID)
	log.Info("writing the output under a run prefix; it is published when manifest.json and _SUCCESS are written",
		"run_id", o.runID, "prefix", store.Redact(o.staging))
	return o, nil
}

// newRunID returns a run id: the UTC time to the millisecond and 6 random
// hex digits, such as 20261125T230102.123Z-3f9a1c. Ids sort by time.
func newRunID(now time.Time) (string, error) {
	var rnd [3]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	return now.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(rnd[:]), nil
}

// checkOutput fails early when output.dir exists and may not be replaced.
func checkOutput(ctx context.Context, dir string, overwrite bool) error {
	dir, err := store.Clean(dir)
	if err != nil {
		return fmt.Errorf("output.dir: %w", err)
	}
	if store.IsURL(dir) {
		return checkObjectDest(ctx, dir, overwrite)
	}
	return checkDest(dir, overwrite)
}

// checkObjectDest refuses an object-store output.dir that holds a
// published output (manifest.json or _SUCCESS) unless overwrite is set.
func checkObjectDest(ctx context.Context, dir string, overwrite bool) error {
	if overwrite {
		return nil
	}
	for _, name := range []string{SuccessFile, ManifestFile} {
		ok, err := store.Exists(ctx, store.Join(dir, name))
		if err != nil {
			return fmt.Errorf("output.dir: %w", err)
		}
		if ok {
			return fmt.Errorf("output.dir %s already exists (it has %s); set output.overwrite: true to replace it", store.Redact(dir), name)
		}
	}
	return nil
}

// Staging returns where part files go until Publish: a local folder, or
// the run prefix URL <dir>/run=<run id>. A table's files are
// Staging()/<table>/<name> (see store.Join).
func (o *Output) Staging() string {
	if o.local != nil {
		return o.local.tmp
	}
	return o.staging
}

// RunID returns the run's id on an object store ("" for a local output).
func (o *Output) RunID() string { return o.runID }

// path returns the staged location of file name of table.
func (o *Output) path(table, name string) string {
	return store.Join(o.Staging(), table, name)
}

// tables lists the staged tables' Parquet files, relative to the output
// folder ("weights/part-00000.parquet", or on an object store
// "run=<id>/weights/part-00000.parquet"), by table.
func (o *Output) tables(ctx context.Context) (map[string]ManifestTable, error) {
	entries, err := store.List(ctx, o.Staging())
	if err != nil {
		return nil, fmt.Errorf("listing the staged output: %w", err)
	}
	out := map[string]ManifestTable{}
	for _, e := range entries {
		table, name, ok := strings.Cut(e.Rel, "/")
		if !ok || strings.Contains(name, "/") || !strings.HasSuffix(name, ".parquet") {
			continue
		}
		rel := e.Rel
		if o.local == nil {
			rel = path.Join(RunPrefix+o.runID, rel)
		}
		t := out[table]
		t.Files = append(t.Files, rel)
		out[table] = t
	}
	return out, nil
}

// Publish makes the output visible: it fills m.Tables by listing the
// staged tables (and m.RunID), redacts the locations in m (see
// store.Redact), writes manifest.json and then _SUCCESS, and
// commits: a local staging folder is renamed into place; on an object
// store the two files written last are the commit, after which run
// prefixes older than the previous run's are deleted (overwrite only;
// failing to delete one is a warning). If Publish fails the caller must
// Abort.
func (o *Output) Publish(ctx context.Context, m *Manifest) error {
	if o.done {
		return errors.New("output already published or aborted")
	}
	tables, err := o.tables(ctx)
	if err != nil {
		return err
	}
	m.Tables, m.RunID = tables, o.runID
	// Whoever filled it (this package's runner, the Beam runner), the
	// manifest shows locations without their secrets (see store.Redact).
	if m.Config != nil {
		m.Config = m.Config.redacted()
	}
	for i := range m.Inputs {
		m.Inputs[i].Path = store.Redact(m.Inputs[i].Path)
	}
	m.Summary.Output = store.Redact(m.Summary.Output)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if o.local != nil {
		if err := store.WriteFile(ctx, o.path("", ManifestFile), b); err != nil {
			return fmt.Errorf("writing %s: %w", ManifestFile, err)
		}
		if err := store.WriteFile(ctx, o.path("", SuccessFile), nil); err != nil {
			return fmt.Errorf("writing %s: %w", SuccessFile, err)
		}
		err := o.local.commit(ctx)
		o.local.release()
		if err == nil {
			o.done = true
		}
		return err
	}
	// Someone may have published while this run wrote.
	if err := checkObjectDest(ctx, o.dir, o.overwrite); err != nil {
		return err
	}
	prev := o.previousRun(ctx)
	// The last moment to stop. From here the commit, manifest.json and then
	// _SUCCESS, is written whole even if the run is interrupted, as a
	// local output's rename is: an upload cut short by the interrupt may
	// still have been stored, and its parts would then be deleted by Abort
	// under a manifest that lists them.
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := store.WriteFile(cctx, store.Join(o.dir, ManifestFile), b); err != nil {
		// The store may have kept it although the reply was lost.
		if o.published = o.manifestMayBeOurs(); o.published {
			return fmt.Errorf("writing %s: %w; it may have been stored all the same, so this run's files (run_id %s) are kept: %w",
				ManifestFile, err, o.runID, ErrOutputChanged)
		}
		return fmt.Errorf("writing %s: %w", ManifestFile, err)
	}
	// From here the manifest names this run's parts: Abort keeps them.
	o.published = true
	if err := store.WriteFile(cctx, store.Join(o.dir, SuccessFile), nil); err != nil {
		return fmt.Errorf("writing %s: %w; %s names this run (run_id %s), whose files are kept: %w",
			SuccessFile, err, ManifestFile, o.runID, ErrOutputChanged)
	}
	o.done = true
	o.log.Info("published", "run_id", o.runID, "output", store.Redact(o.dir))
	switch {
	case !o.overwrite || prev == "":
	case prev >= o.runID:
		// The previous manifest names a run that sorts after this one: a
		// writer whose clock was ahead, or a manifest.json not written by
		// mixbatch. Deleting the runs before it would delete this one.
		o.log.Warn("the previous manifest.json names a run id that does not sort before this run's; no old runs are deleted",
			"previous_run_id", prev, "run_id", o.runID)
	default:
		o.removeRunsBefore(ctx, prev)
	}
	return nil
}

// ErrOutputChanged marks the error of a run that failed while publishing
// after it had changed output.dir (a local folder's previous output
// could not be moved back; an object store's manifest.json was written
// but not _SUCCESS): the error says where things are. Every other failed
// or interrupted run leaves output.dir as it was.
var ErrOutputChanged = errors.New("output.dir was changed")

// commitTimeout bounds the upload of manifest.json and _SUCCESS, which an
// interrupt does not cut short (a second interrupt still exits at once).
const commitTimeout = time.Minute

// manifestMayBeOurs reports, after writing manifest.json failed, whether
// the store may hold this run's manifest all the same (the failure was the
// reply's): true when it names this run, or cannot be read back although
// it exists or may. Then the run's parts must be kept.
func (o *Output) manifestMayBeOurs() bool {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	loc := store.Join(o.dir, ManifestFile)
	b, err := store.ReadFile(ctx, loc)
	if err != nil {
		if ok, xerr := store.Exists(ctx, loc); xerr == nil && !ok {
			return false
		}
		o.log.Warn("writing manifest.json failed and it cannot be read back; keeping the run's files in case it was stored",
			"run_id", o.runID, "prefix", store.Redact(o.staging), "err", err)
		return true
	}
	var m struct {
		RunID string `json:"run_id"`
	}
	return json.Unmarshal(b, &m) == nil && m.RunID == o.runID
}

// previousRun returns the run id of the output published at dir, or "".
func (o *Output) previousRun(ctx context.Context) string {
	b, err := store.ReadFile(ctx, store.Join(o.dir, ManifestFile))
	if err != nil {
		return ""
	}
	var m struct {
		RunID string `json:"run_id"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		o.log.Warn("the previous manifest.json cannot be read; no old runs are deleted", "err", err)
		return ""
	}
	return m.RunID
}

// removeRunsBefore deletes the run prefixes under dir whose ids sort
// before prev: the runs before the previous one, and runs that died
// before them. Failures are warnings.
func (o *Output) removeRunsBefore(ctx context.Context, prev string) {
	entries, err := store.List(ctx, o.dir)
	if err != nil {
		o.log.Warn("listing old runs to delete", "err", err)
		return
	}
	var old []string
	for _, e := range entries {
		first, _, _ := strings.Cut(e.Rel, "/")
		id, ok := strings.CutPrefix(first, RunPrefix)
		if ok && id < prev && (len(old) == 0 || old[len(old)-1] != id) {
			old = append(old, id)
		}
	}
	sort.Strings(old)
	for _, id := range old {
		loc := store.Join(o.dir, RunPrefix+id)
		if err := store.RemoveAll(ctx, loc); err != nil {
			o.log.Warn("deleting an old run's files", "prefix", store.Redact(loc), "err", err)
			continue
		}
		o.log.Info("deleted an old run's files", "prefix", store.Redact(loc))
	}
}

// Abort removes what the run wrote: the local staging folder, or the run
// prefix on an object store (even after ctx ended). Once Publish has
// written manifest.json, the parts it names are kept.
func (o *Output) Abort(ctx context.Context) error {
	if o.done {
		return nil
	}
	o.done = true
	if o.local != nil {
		return o.local.abort()
	}
	if o.published {
		o.log.Warn("publishing failed after manifest.json was written; keeping the run's files it lists", "run_id", o.runID)
		return nil
	}
	if err := store.RemoveAll(context.WithoutCancel(ctx), o.staging); err != nil {
		return fmt.Errorf("removing the run's files under %s: %w", store.Redact(o.staging), err)
	}
	return nil
}
