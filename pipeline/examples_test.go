package pipeline

import (
	"context"
	"path/filepath"
	"testing"
)

// TestExampleConfigsRun runs every config in configs/ on the data the
// repository ships, as the README's quickstart does: each must load,
// validate, and fit every bag to convergence.
func TestExampleConfigsRun(t *testing.T) {
	paths, err := filepath.Glob("../configs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 4 {
		t.Fatalf("found %d example configs, want one per family at least", len(paths))
	}
	families := map[string]bool{}
	t.Chdir("..") // configs name their data relative to the repository root
	for _, p := range paths {
		p := filepath.Join("configs", filepath.Base(p))
		t.Run(filepath.Base(p), func(t *testing.T) {
			cfg, err := LoadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			families[cfg.Model.Family] = true
			cfg.Output.Dir = filepath.Join(t.TempDir(), "out")
			sum, err := Run(context.Background(), cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Bags == 0 || sum.BagsOK != sum.Bags || sum.BagsNotConverged != 0 {
				t.Fatalf("summary %+v", sum)
			}
		})
	}
	for _, f := range []string{Bernoulli, Categorical, Gaussian, Poisson} {
		if !families[f] {
			t.Errorf("no example config for the %s family", f)
		}
	}
}
