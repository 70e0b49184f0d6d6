package pipeline

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
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

// TestTypeErrorKeyOnlyWhenSure: a wrong-type error names its key only when
// one value of the document fits it. An alias's value is its anchor's, so
// the error (which yaml.v3 gives at the anchor's line) names no key rather
// than the anchor's, which is valid; two values on one line (a flow
// mapping and a mapping in it) name none either. And no alias is followed
// to find the key: a config of aliases of aliases under an unknown key,
// which the strict decode skips, took 1.7 s at 6 levels and ten times as
// long a level more.
func TestTypeErrorKeyOnlyWhenSure(t *testing.T) {
	const base = "input: {paths: [in], bag: &b bag, value: v}\n" +
		"model: {family: bernoulli, components: [{name: a, p: 0.2}, {name: b, p: 0.7}]}\n" +
		"output: {dir: out}\n"
	for _, c := range []struct{ name, yaml, not string }{
		{"alias", base + "em: {tol: *b}\n", "input.bag must be"},
		{"flow", "input: {paths: [in], bag: b, value: v}\n" +
			"model: {family: bernoulli, components: [{name: a, p: {x: 1}}, {name: b, p: 0.7}]}\n" +
			"output: {dir: out}\n", "line 2: model must be"},
	} {
		_, err := Load([]byte(c.yaml))
		if err == nil || strings.Contains(err.Error(), c.not) {
			t.Errorf("%s: error %v, want one that does not say %q", c.name, err, c.not)
		}
	}

	var bomb strings.Builder
	bomb.WriteString("bomb:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&bomb, "  a%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				bomb.WriteString(", ")
			}
			fmt.Fprintf(&bomb, "*a%d", i-1)
		}
		bomb.WriteString("]\n")
	}
	done := make(chan error, 1)
	go func() {
		_, err := Load([]byte(base + bomb.String() + "em: {tol: high}\n"))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a config with an unknown key and a wrong type loaded")
		}
	case <-time.After(time.Minute):
		t.Fatal("Load of 12 levels of aliases under an unknown key took more than a minute")
	}
}

// TestTabHintOnlyForIndentation: the tab hint is added to the scanner's
// error about a line indented with a tab, not to another error on a line
// that holds a tab in a quoted value.
func TestTabHintOnlyForIndentation(t *testing.T) {
	_, err := Load([]byte("input: {paths: [in], bag: b, value: v}\n" +
		"model: {family: bernoulli, components: [{name: a, p: 0.2}, {name: b, p: 0.7}]}\n" +
		"output: {dir: out}\n" +
		"run: {workers: 2, on_error: \"a\tb\", posteriors: 1}\n")) // a tab in a quoted value
	if err == nil || strings.Contains(err.Error(), "tab") {
		t.Errorf("error %v, want one without the tab hint", err)
	}
}
