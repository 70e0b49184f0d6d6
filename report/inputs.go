package report

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/store"
)

// observations are one bag's rows as the fit saw them: discrete families
// as counts per code, gaussian as values with their counts.
type observations struct {
	rows    int64 // rows fitted
	dropped int64 // rows with a null value or count, under input.nulls: drop
	bad     int64 // rows the fit could not use (only read for a failed bag)
	total   float64
	counts  map[float64]float64 // discrete: code -> summed count
	values  []float64           // gaussian
	weight  []float64           // gaussian: each value's count
}

// resolveInput finds the input file that the manifest records as path (a
// local path, or an object URL, which is taken as it is).
// Relative paths were relative to the run's working directory: they are
// tried from the current directory, then from the folder the run must have
// been started in (the run folder less the relative output.dir it was
// written to). A candidate must have the recorded size.
func (r *run) resolveInput(ctx context.Context, in pipeline.ManifestInput) (string, error) {
	candidates := []string{in.Path}
	if !filepath.IsAbs(in.Path) && !store.IsURL(in.Path) && !store.IsURL(r.dir) {
		if root, ok := r.startDir(); ok {
			candidates = append(candidates, filepath.Join(root, in.Path))
		}
	}
	var wrongSize []string
	for _, c := range candidates {
		fi, err := store.Stat(ctx, c)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("input %s: %w", store.Redact(c), err)
		}
		if in.Size > 0 && fi.Size != in.Size {
			wrongSize = append(wrongSize, fmt.Sprintf("%s has %d bytes", store.Redact(c), fi.Size))
			continue
		}
		return c, nil
	}
	if len(wrongSize) > 0 {
		return "", fmt.Errorf("input %s of run %s changed since the run: the manifest records %d bytes, %s",
			in.Path, r.dir, in.Size, strings.Join(wrongSize, ", "))
	}
	return "", fmt.Errorf("input %s of run %s not found (relative paths are taken from the folder the run was started in)", in.Path, r.dir)
}

// startDir infers the working directory of the run: the run folder with the
// relative output.dir taken off its end.
func (r *run) startDir() (string, bool) {
	out := filepath.Clean(r.cfg.Output.Dir)
	if out == "" || filepath.IsAbs(out) {
		return "", false
	}
	abs, err := filepath.Abs(r.dir)
	if err != nil {
		return "", false
	}
	for o := out; o != "." && o != string(filepath.Separator); o = filepath.Dir(o) {
		if filepath.Base(o) != filepath.Base(abs) || filepath.Base(o) == ".." {
			return "", false
		}
		abs = filepath.Dir(abs)
	}
	return abs, true
}

// readBag reads bag key's rows from the run's input files, coded as the fit
// codes them. Rows with a null value or count are dropped under
// input.nulls: drop. A row the fit cannot use is an error, unless lenient
// (the bag failed, maybe for that row): then it is counted in bad.
func (r *run) readBag(ctx context.Context, key bagKey, lenient bool) (*observations, error) {
	if len(r.man.Inputs) == 0 {
		return nil, fmt.Errorf("%s/%s lists no input files", r.dir, pipeline.ManifestFile)
	}
	in := r.cfg.Input
	cols := []string{in.Bag, in.Value.String()}
	if in.Count != "" {
		cols = append(cols, in.Count)
	}
	obs := &observations{}
	if r.mix.Family() != pipeline.Gaussian {
		obs.counts = map[float64]float64{}
	}
	for _, mi := range r.man.Inputs {
		path, err := r.resolveInput(ctx, mi)
		if err != nil {
			return nil, err
		}
		if err := r.readBagFile(ctx, path, cols, key, obs, lenient); err != nil {
			return nil, err
		}
	}
	return obs, nil
}

func (r *run) readBagFile(ctx context.Context, path string, cols []string, key bagKey, obs *observations, lenient bool) error {
	it := newRowIter(ctx, r.mem, []string{path}, cols)
	defer it.close()
	in := r.cfg.Input
	row := int64(-1)
	for it.next() {
		row++
		a, i := it.arrs, it.i
		if a[0].IsNull(i) {
			continue
		}
		if !inputKeyIs(a[0], i, key) {
			continue
		}
		if (a[1].IsNull(i) || (len(a) > 2 && a[2].IsNull(i))) && in.Nulls == pipeline.NullsDrop {
			obs.dropped++
			continue
		}
		if err := obs.add(r.mix, a, i); err != nil {
			if lenient {
				obs.bad++
				continue
			}
			return fmt.Errorf("%s: row %d, bag %s: %w (the run fitted this row: has the file changed?)", path, row, key, err)
		}
	}
	return it.close()
}

// add adds row i of the bag, value and (optional) count columns in a.
func (obs *observations) add(mix *pipeline.Mixture, a []arrow.Array, i int) error {
	if a[1].IsNull(i) {
		return errors.New("null value")
	}
	c := 1.0
	if len(a) > 2 {
		v, ok := floatAt(a[2], i)
		if !ok || a[2].IsNull(i) || !(v >= 0) || math.IsInf(v, 0) {
			return errors.New("unusable count")
		}
		c = v
	}
	switch mix.Family() {
	case pipeline.Gaussian:
		v, ok := floatAt(a[1], i)
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("value not a finite number")
		}
		obs.values = append(obs.values, v)
		obs.weight = append(obs.weight, c)
	case pipeline.Categorical:
		label := ""
		if isStringType(a[1].DataType()) {
			label = readers.String(a[1], i)
		} else if v, ok := readers.Int(a[1], i); ok {
			label = strconv.FormatInt(v, 10)
		} else {
			return errors.New("value not a label")
		}
		code, ok := mix.Code(label)
		if !ok {
			return fmt.Errorf("label %q is in no component", label)
		}
		obs.counts[code] += c
	default: // bernoulli, poisson
		v, ok := floatAt(a[1], i)
		if !ok || v < 0 || v != math.Trunc(v) || (mix.Family() == pipeline.Bernoulli && v > 1) {
			return fmt.Errorf("value %v is not a %s value", v, mix.Family())
		}
		obs.counts[v] += c
	}
	obs.rows++
	obs.total += c
	return nil
}
