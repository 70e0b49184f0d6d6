package report

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// FuzzManifest reads an arbitrary manifest.json in the output folder of
// one of the example runs (see TestMain; ex picks it) and writes the
// report and the plot of one bag: a manifest is read back from a folder
// or an object store that anyone with write access to it may have
// written. Nothing may panic, and an error must say something.
//
//	go test ./report/ -run '^$' -fuzz '^FuzzManifest$' -fuzztime 3m -fuzzminimizetime 5s -parallel 1
func FuzzManifest(f *testing.F) {
	for i, ex := range examples {
		b, err := os.ReadFile(filepath.Join(ex.dir, "manifest.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	f.Add(uint8(0), []byte(`{"config": null}`))
	f.Add(uint8(0), []byte(`{"config": {}}`))
	f.Add(uint8(1), []byte(`{"config": {"model": {"family": "poisson", "components_range": [1, 3], "learn": ["weights", "rate"]}}}`))
	f.Fuzz(func(t *testing.T, i uint8, manifest []byte) {
		ex := examples[int(i)%len(examples)]
		dir := fuzzRunDir(t, ex)
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), manifest, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		r, err := openRun(ctx, dir)
		if err != nil {
			nonEmpty(t, "openRun", err)
			return
		}
		if _, err := r.configYAML(); err != nil {
			nonEmpty(t, "configYAML", err)
		}
		if err := Write(ctx, dir, io.Discard, Options{}); err != nil {
			nonEmpty(t, "Write", err)
		}
		if err := Plot(ctx, dir, ex.bag, SVG, io.Discard, PlotOptions{Width: 160, Height: 120}); err != nil {
			nonEmpty(t, "Plot", err)
		}
	})
}

// nonEmpty fails t if err says nothing.
func nonEmpty(t *testing.T, what string, err error) {
	t.Helper()
	if strings.TrimSpace(err.Error()) == "" {
		t.Errorf("%s failed with an empty message (%#v)", what, err)
	}
}

var (
	fuzzDirsOnce sync.Once
	fuzzDirs     map[*example]string
	fuzzDirsErr  error
)

// fuzzRunDir returns a copy of ex's output folder, made once a process
// under scratch (which TestMain removes), whose manifest.json FuzzManifest
// overwrites.
func fuzzRunDir(t *testing.T, ex *example) string {
	fuzzDirsOnce.Do(func() {
		fuzzDirs = map[*example]string{}
		for _, e := range examples {
			dst := filepath.Join(scratch, "fuzz-"+filepath.Base(e.dir))
			if fuzzDirsErr = os.CopyFS(dst, os.DirFS(e.dir)); fuzzDirsErr != nil {
				return
			}
			fuzzDirs[e] = dst
		}
	})
	if fuzzDirsErr != nil {
		t.Fatal(fuzzDirsErr)
	}
	return fuzzDirs[ex]
}
