package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"gopkg.in/yaml.v3"
)

// Fuzz targets. `go test` runs each seed once: the configs in ../configs
// and testdata, the f.Add cases, and the files in testdata/fuzz/<target>/
// (FuzzRunParquet's seeds are made by ../readers/fuzz_corpus_gen.go; files
// named by a hash are inputs the fuzz engine found failing, kept as
// regression cases). Fuzz one target at a time with, for example,
//
//	go test ./pipeline/ -run '^$' -fuzz '^FuzzLoad$' -fuzztime 10m -fuzzminimizetime 5s -parallel 1

// FuzzLoad feeds arbitrary bytes to Load. Load must not panic; an error
// must say where (see placesError); a config it accepts must be valid and must survive
// yaml.Marshal and Load unchanged, and json.Marshal and json.Unmarshal (as
// the manifest records it).
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"../configs/*.yaml", "testdata/*.yml"} {
		paths, err := filepath.Glob(pattern)
		if err != nil || len(paths) == 0 {
			f.Fatalf("no seed configs %s (%v)", pattern, err)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range fuzzLoadSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Load(b)
		if err != nil {
			if !placesError(err.Error()) {
				t.Fatalf("Load's error names no line or key: %q", err)
			}
			return
		}
		checkLoaded(t, cfg)
	})
}

// configKeyRE matches a config key in an error: a section and a key
// (input.paths, model.components[1].p, run.max_failed_bags).
var configKeyRE = regexp.MustCompile(`\b(input|model|em|output|run)\.[a-z_]+|^line \d+: `)

// placesError reports whether a message of Load says where the problem
// is: a line, a key, or that the whole config is the problem (it is empty,
// or more than one document).
func placesError(msg string) bool {
	switch msg {
	case "the config is empty", "the config holds more than one YAML document":
		return true
	}
	return configKeyRE.MatchString(msg)
}

// checkLoaded checks a config that Load accepted: it is valid, marshalling
// it to YAML and loading that gives the same config, and so does a JSON
// round trip.
func checkLoaded(t *testing.T, cfg *Config) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Load accepted a config that Validate refuses: %v", err)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("yaml.Marshal: %v", err)
	}
	again, err := Load(out)
	if err != nil {
		t.Fatalf("the marshalled config does not load: %v\n%s", err, out)
	}
	if a, b := canonical(cfg), canonical(again); !reflect.DeepEqual(a, b) {
		t.Fatalf("the config changed in a YAML round trip:\nbefore %+v\nafter  %+v\nYAML:\n%s", a, b, out)
	}
	// The manifest records the config as JSON, and reads it back.
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	var back Config
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("the config as JSON does not read back: %v\n%s", err, js)
	}
	if a, b := canonical(cfg), canonical(&back); !reflect.DeepEqual(a, b) {
		t.Fatalf("the config changed in a JSON round trip:\nbefore %+v\nafter  %+v\nJSON: %s", a, b, js)
	}
}

// canonical returns a copy of cfg without the fields that are not part of
// the YAML (Path, Digest) and with empty slices and maps made nil: YAML
// writes both as [] or {} or leaves them out, and nothing tells them apart.
func canonical(cfg *Config) Config {
	c := *cfg
	c.Path, c.Digest = "", ""
	v := reflect.ValueOf(&c).Elem()
	nilEmpty(v)
	return c
}

// nilEmpty replaces empty slices and maps reachable from v by nil, copying
// what it changes so that the original is left alone.
func nilEmpty(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).CanSet() {
				nilEmpty(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.SetZero()
			return
		}
		cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(cp, v)
		for i := 0; i < cp.Len(); i++ {
			nilEmpty(cp.Index(i))
		}
		v.Set(cp)
	case reflect.Map:
		if v.Len() == 0 {
			v.SetZero()
		}
	case reflect.Pointer:
		if !v.IsNil() && v.Elem().Kind() == reflect.Struct {
			cp := reflect.New(v.Elem().Type())
			cp.Elem().Set(v.Elem())
			nilEmpty(cp.Elem())
			v.Set(cp)
		}
	}
}

// fuzzLoadSeeds are configs beyond the files: every family and key, flow
// style, anchors, tags and near misses.
var fuzzLoadSeeds = []string{
	``,
	`{}`,
	`~`,
	`[]`,
	"input:\n  paths: [in]\n  bag: b\n  value: v\nmodel:\n  family: bernoulli\n  components: [{name: a, p: 0.5}]\noutput:\n  dir: out\n",
	"input: {paths: [in/*.parquet, 'in/x[1].arrow'], bag: b, value: v, count: n, keep: [k1, k2]}\n" +
		"model: {family: categorical, components: [{name: a, probs: {red: 0.25, '7': 0.75}}, {name: b, probs: {red: 1}}]}\n" +
		"em: {init: [0.25, 0.75], max_iter: 3, tol: 0.5, accelerate: none}\n" +
		"output: {dir: out, posteriors: true, overwrite: true}\nrun: {workers: 4}\n",
	"input: &in {paths: [in], bag: b, value: v}\nmodel:\n  family: gaussian\n  components:\n    - &c {name: a, mean: -1.5e3, sd: !!float 2}\n    - {name: b, mean: .inf, sd: 1}\noutput: {dir: out}\n",
	"input: {paths: [in], bag: b, value: v}\nmodel: {family: poisson, components: [{name: a, rate: 1e-300}, {name: b, rate: 0x10}]}\nem: {max_iter: 1.5}\noutput: {dir: out}\n",
	"input: {paths: [in], bag: b, value: v}\nmodel: {family: poisson, components: [{name: \"\\u00e9\\t\", rate: 2}]}\noutput: {dir: \"out\\n\"}\nrun: {workers: -0}\n",
	"input: {paths: [in], bag: b, value: v}\nmodel: {family: bernoulli, components: [{name: a, p: 1}, {name: b, p: 0}]}\nem: {init: [1, 1e-300]}\noutput: {dir: out}\n---\n",
	"a: &a [*a, *a]\n",
	"input: {paths: [in], bag: b, value: [x, y], nulls: drop}\nmodel: {family: multivariate_gaussian, learn: [weights, mean, cov], components_range: [1, 3], select: aic, covariance: diag, reg_covar: 1e-4}\n" +
		"em: {restarts: 2, seed: 7}\noutput: {dir: out}\nrun: {on_error: skip, max_failed_bags: 1%}\n",
	"input: {paths: [\"\\nin\"], bag: \"\\n\", value: \"\\n\\nv\"}\nmodel: {family: poisson, components: [{name: \"\\n\", rate: 2}]}\noutput: {dir: \"\\nout\"}\n",
	"input: {paths: [in], bag: b, value: v}\nmodel: {family: categorical, scope: shared, learn: [weights, probs], labels: [a, b, '3'], components: [{name: x, probs: {a: 1}}, {name: y, probs: {b: 1}}]}\n" +
		"output: {dir: out}\nrun: {on_error: skip, max_failed_bags: 0.25}\n",
}

// FuzzRunParquet runs a fixed marbles config over one fuzzed Parquet file.
// Check and Run must succeed or fail with an error naming the file, never
// panic, release every Arrow buffer, and leave no staging folder; a failed
// run must write nothing.
func FuzzRunParquet(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		in := filepath.Join(dir, "in", "x.parquet")
		out := filepath.Join(dir, "out")
		if err := os.MkdirAll(filepath.Dir(in), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(fmt.Appendf(nil, `
input: {paths: [%q], bag: bag_id, value: red, keep: [marble_id]}
model:
  family: bernoulli
  components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]
output: {dir: %q, posteriors: true}
run: {workers: 1}
`, in, out))
		if err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		ctx := context.Background()
		_, cerr := Check(ctx, cfg, Options{Allocator: mem})
		mem.AssertSize(t, 0)
		if cerr != nil && !strings.Contains(cerr.Error(), in) {
			t.Errorf("Check: error %q does not name the file %s", cerr, in)
		}
		_, rerr := Run(ctx, cfg, Options{Allocator: mem})
		mem.AssertSize(t, 0)
		t.Logf("Check: %v; Run: %v", cerr, rerr)
		if rerr != nil && !strings.Contains(rerr.Error(), in) {
			t.Errorf("Run: error %q does not name the file %s", rerr, in)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.Contains(e.Name(), tmpMarker) {
				t.Errorf("Run left the staging folder %s", e.Name())
			}
		}
		_, serr := os.Stat(filepath.Join(out, "_SUCCESS"))
		_, oerr := os.Stat(out)
		switch {
		case rerr == nil && serr != nil:
			t.Errorf("Run succeeded but wrote no _SUCCESS: %v", serr)
		case rerr != nil && !os.IsNotExist(oerr):
			t.Errorf("Run failed (%v) but the output folder exists", rerr)
		}
	})
}

// Regression cases found by FuzzLoad, by name.

// TestConfigYAMLRoundTrip: yaml.Marshal of a loaded config wrote the
// parameters of the other families as `probs: {}` and `p: null`, and the
// written config then failed to load ("model.components[0].probs is not a
// parameter of the bernoulli family"). Every family's config now survives
// yaml.Marshal and Load unchanged.
func TestConfigYAMLRoundTrip(t *testing.T) {
	for _, model := range []string{
		`{family: bernoulli, components: [{name: a, p: 0.8}, {name: b, p: 0}]}`,
		`{family: categorical, components: [{name: a, probs: {red: 0.5, blue: 0.5}}, {name: b, probs: {red: 1}}]}`,
		`{family: gaussian, components: [{name: a, mean: 0, sd: 1}, {name: b, mean: -2.5, sd: 1e-3}]}`,
		`{family: poisson, components: [{name: a, rate: 3}]}`,
	} {
		cfg, err := Load([]byte("input: {paths: [in], bag: b, value: v}\nmodel: " + model + "\noutput: {dir: out}\n"))
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		checkLoaded(t, cfg)
	}
}

// TestConfigLineBreaks: yaml.Marshal wrote a string that starts with a line
// break as a literal block that loses it (a component named "\n" came back
// nameless, "\nin" as "in") or does not parse at all. No config string
// means a line break, so Load now refuses one anywhere, naming the key.
func TestConfigLineBreaks(t *testing.T) {
	for _, c := range []struct{ field, yaml, key string }{
		{"paths", `["\nin"]`, `input.paths[0] "\nin"`},
		{"bag", `"b\r"`, `input.bag "b\r"`},
		{"value", `["\n\nv"]`, `input.value[0] "\n\nv"`},
		{"keep", `[k, "\n"]`, `input.keep[1] "\n"`},
		{"name", `"\n"`, `model.components[0].name "\n"`},
		{"probs", `{"\n": 1}`, `model.components[0].probs label "\n"`},
		{"dir", `"out\n"`, `output.dir "out\n"`},
	} {
		v := map[string]string{"paths": "[in]", "bag": "b", "value": "v", "keep": "[k]", "name": "a", "probs": "{x: 1}", "dir": "out"}
		v[c.field] = c.yaml
		y := fmt.Sprintf("input: {paths: %s, bag: %s, value: %s, keep: %s}\n"+
			"model: {family: categorical, components: [{name: %s, probs: %s}]}\noutput: {dir: %s}\n",
			v["paths"], v["bag"], v["value"], v["keep"], v["name"], v["probs"], v["dir"])
		_, err := Load([]byte(y))
		if err == nil || !strings.Contains(err.Error(), c.key+" holds a line break") {
			t.Errorf("%s: %s: error %v, want one about %s", c.field, c.yaml, err, c.key)
		}
	}
}

// TestConfigErrorLinesYAML: FuzzLoad found (9cc52906ed53ef5f, a config of
// one double quote) that yaml.v3 gives no line for a syntax error on the
// first line, nor for a byte its reader refuses (invalid UTF-8, control
// characters) on any line: Load's error then named neither a line nor a
// key. It now gives the line.
func TestConfigErrorLinesYAML(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{`"`, "line 1: found unexpected end of stream"},
		{`a: "\q"`, "line 1: found unknown escape character"},
		{"input: {bag: b}\nmodel: \x01\n", "line 2: control characters are not allowed"},
		{"input: {bag: b}\n\n# \xff\n", "line 3: invalid leading UTF-8 octet"},
		{"input: {bag: b}\nmodel: {family: \xe2\x82}\n", "line 2: "},
	} {
		_, err := Load([]byte(c.yaml))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.yaml, err, c.want)
		}
	}
}
