package pipeline

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestAnchorsAndMergeKeys: anchors, aliases and merge keys are plain YAML
// and load as if written out; an alias in an integer key or in em.init's
// list is not a wrong type (both were refused: "run.workers must be a
// whole number, got "n"").
func TestAnchorsAndMergeKeys(t *testing.T) {
	cfg, err := LoadFile(filepath.Join("testdata", "anchors.good.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Run.Workers != 3 || cfg.EM.MaxIter != 3 {
		t.Errorf("run.workers, em.max_iter = %d, %d; want 3, 3 (through an alias)", cfg.Run.Workers, cfg.EM.MaxIter)
	}
	if !reflect.DeepEqual(cfg.EM.Init.Weights, []float64{0.5, 0.5}) {
		t.Errorf("em.init = %v, want [0.5 0.5]", cfg.EM.Init.Weights)
	}
	if c := cfg.Model.Components; len(c) != 2 || c[1].Name != "factory2" || c[1].P == nil || *c[1].P != 0.3 {
		t.Errorf("model.components = %+v, want factory2 with p 0.3 after the merge", c)
	}
}

// TestIntegerKeysThroughMergeKeys: a fraction in an integer key is refused
// however the key is reached; yaml.v3 would truncate it. Before, a merge
// key hid it from the check (em.max_iter 1.9 ran as 1).
func TestIntegerKeysThroughMergeKeys(t *testing.T) {
	base := configWith("bag: bag_id, value: red", "posteriors: false")
	for extra, want := range map[string]string{
		"em: {<<: {max_iter: 1.9}}\n":                  `em.max_iter must be a whole number, got "1.9"`,
		"run: &r {workers: 2.5}\n":                     `run.workers must be a whole number, got "2.5"`,
		"run:\n  <<: [{workers: 2.5}]\n":               `run.workers must be a whole number, got "2.5"`,
		"em: {restarts: !!float 3}\n":                  `em.restarts must be a whole number, got "3"`,
		"em: &e {seed: 0.5}\nrun: {workers: 1}\n":      `em.seed must be a whole number, got "0.5"`,
		"em: {max_iter: 7}\nrun: {<<: {workers: 3}}\n": "",
	} {
		cfg, err := Load([]byte(base + extra))
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v, want it loaded", extra, err)
		case want == "" && (cfg.Run.Workers != 3 || cfg.EM.MaxIter != 7):
			t.Errorf("%q: run.workers %d, em.max_iter %d; want 3, 7", extra, cfg.Run.Workers, cfg.EM.MaxIter)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: error %v, want one containing %q", extra, err, want)
		}
	}
}

// TestNullIntegerIsUnset: an integer key with no value keeps its default,
// as every other key does (yaml.v3 leaves a null alone).
func TestNullIntegerIsUnset(t *testing.T) {
	cfg, err := Load([]byte(configWith("bag: bag_id, value: red", "posteriors: false") + "em:\n  max_iter:\nrun:\n  workers:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EM.MaxIter != DefaultConfig.EM.MaxIter || cfg.Run.Workers != 0 {
		t.Errorf("em.max_iter, run.workers = %d, %d; want the defaults", cfg.EM.MaxIter, cfg.Run.Workers)
	}
}

// TestByteSizeNamesUnknownUnit: a size with a unit mixbatch does not take
// says which (512M is neither 512MiB nor 512MB).
func TestByteSizeNamesUnknownUnit(t *testing.T) {
	for in, unit := range map[string]string{"512M": `unknown unit "M"`, "1g": `unknown unit "g"`, "64 mib": `unknown unit "mib"`, "5e8": "", "1.5GiB": "", "-1GiB": ""} {
		_, err := parseByteSize(in)
		if err == nil {
			t.Errorf("parseByteSize(%q) accepted", in)
			continue
		}
		if got := strings.Contains(err.Error(), "unknown unit"); got != (unit != "") || unit != "" && !strings.Contains(err.Error(), unit) {
			t.Errorf("parseByteSize(%q) error %q, want unit message %q", in, err, unit)
		}
	}
}
