package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// expectedErrors maps each testdata/*.bad.yml file to a substring of the
// error LoadFile must return for it.
var expectedErrors = []struct {
	file   string
	errMsg string
}{
	// Strict decoding: the YAML layer, with the line.
	{"unknown_key.bad.yml", `line 4: unknown key "vaule" in input (it takes paths, bag, value, count, keep, nulls)`},
	{"unknown_top_key.bad.yml", `line 9: unknown key "outptu" in the top level`},
	{"unknown_component_key.bad.yml", `line 9: unknown key "mena" in a model.components entry`},
	{"wrong_type.bad.yml", "line 10: em.max_iter must be a whole number, got \"lots\""},
	{"wrong_type_param.bad.yml", `line 8: model.components[0].p must be a number, got the string "high"`},
	{"paths_scalar.bad.yml", `line 2: input.paths must be a list of strings, got the string "data/in"`},
	{"posteriors_quoted.bad.yml", `line 11: output.posteriors must be true or false, got the string "true"`},
	{"top_scalar.bad.yml", `line 1: the config must be a mapping of sections (input, model, em, output, run), got the string "input.p..."`},
	{"tab_indent.bad.yml", "line 3: found character that cannot start any token (the line is indented with a tab: YAML indents with spaces only)"},
	{"range_fraction.bad.yml", `line 9: model.components_range[1] must be a whole number, got "2.9"`},
	{"merge_fraction.bad.yml", `line 11: em.max_iter must be a whole number, got "1.9"`},
	{"duplicate_key.bad.yml", `line 4: mapping key "bag" already defined at line 3`},
	{"init_word.bad.yml", `line 10: em.init must be uniform or a list of weights, got "random"`},
	{"init_wrong_type.bad.yml", "line 11: em.init[0] must be a number, got \"half\""},
	{"two_documents.bad.yml", "the config holds more than one YAML document"},
	{"empty.bad.yml", "the config is empty"},
	{"comments_only.bad.yml", "the config is empty"},

	// Validation: the field and the offending value.
	{"missing_paths.bad.yml", "input.paths is required"},
	{"missing_bag.bad.yml", "input.bag is required"},
	{"missing_value.bad.yml", "input.value is required"},
	{"bag_is_value.bad.yml", `input.bag and input.value are the same column "red"`},
	{"keep_is_bag.bad.yml", `input.keep[1] "bag_id" is listed twice or is the bag or value column`},
	{"missing_family.bad.yml", "model.family is required"},
	{"bogus_family.bad.yml", `model.family must be bernoulli, categorical, gaussian, multivariate_gaussian or poisson, got "binomial"`},
	{"no_components.bad.yml", "model.components must list at least one component"},
	{"missing_components.bad.yml", "model.components must list at least one component"},
	{"duplicate_component_names.bad.yml", `model.components[2].name "a" is already the name of model.components[0]`},
	{"p_above_one.bad.yml", "model.components[1].p must be in [0, 1], got 1.3"},
	{"p_negative.bad.yml", "model.components[0].p must be in [0, 1], got -0.1"},
	{"probs_sum.bad.yml", "model.components[0].probs must sum to 1, got 0.9 (off by -0.1)"},
	{"probs_above_one.bad.yml", "model.components[0].probs[red] must be in [0, 1], got 1.5"},
	{"sd_zero.bad.yml", "model.components[1].sd must be positive and finite, got 0"},
	{"sd_negative.bad.yml", "model.components[0].sd must be positive and finite, got -2"},
	{"rate_zero.bad.yml", "model.components[0].rate must be positive and finite, got 0"},
	{"rate_negative.bad.yml", "model.components[1].rate must be positive and finite, got -1"},
	{"other_family_param.bad.yml", "model.components[0].mean is not a parameter of the bernoulli family (it takes p)"},
	{"missing_param.bad.yml", "model.components[0].sd is required for the gaussian family"},
	{"init_length.bad.yml", "em.init lists 3 weights but there are 2 components"},
	{"init_zero.bad.yml", "em.init[1] must be in (0, 1], got 0"},
	{"init_sum.bad.yml", "em.init must sum to 1, got 0.8 (off by -0.2)"},
	{"accelerate_bogus.bad.yml", `em.accelerate must be squarem or none, got "warp"`},
	{"max_iter_zero.bad.yml", "em.max_iter must be >= 1, got 0"},
	{"tol_zero.bad.yml", "em.tol must be in (0, 1), got 0"},
	{"workers_negative.bad.yml", "run.workers must be >= 0 (0 means one per CPU), got -1"},
	{"workers_huge.bad.yml", "run.workers must be at most 1024 (0 means one per CPU), got 100000000"},
	{"missing_output_dir.bad.yml", "output.dir is required"},
	{"learn_wrong_param.bad.yml", `model.learn[1] "rate" is not weights or a parameter of the gaussian family (mean, sd)`},
	{"learn_missing_fixed.bad.yml", "model.components[0].sd is required for the gaussian family (unless model.learn lists it)"},
	{"shared_bernoulli.bad.yml", "model.scope: shared cannot learn p for bernoulli components: with free weights per bag the shared p are not identifiable"},
	{"shared_fixed.bad.yml", "model.scope: shared needs component parameters to learn"},
	{"range_backwards.bad.yml", "model.components_range must be [lo, hi] with 1 <= lo <= hi <= 20, got [3 2]"},
	{"range_and_components.bad.yml", "model.components_range and model.components are exclusive"},
	{"range_fixed_param.bad.yml", "model.components_range needs every gaussian parameter learned: add sd to model.learn"},
	{"learn_probs_no_labels.bad.yml", "model.labels must list at least two labels when probs are learned"},
	{"learn_probs_per_bag.bad.yml", "model.learn: probs cannot be learned per bag: a mixture of categorical components is itself one categorical"},
	{"learn_p_per_bag.bad.yml", "model.learn: p cannot be learned per bag: a mixture of bernoulli components is itself one bernoulli"},
	{"select_bogus.bad.yml", `model.select must be bic or aic, got "aicc"`},
	{"restarts_fraction.bad.yml", `line 11: em.restarts must be a whole number, got "2.5"`},
	{"on_error_bogus.bad.yml", `run.on_error must be fail or skip, got "ignore"`},
	{"nulls_bogus.bad.yml", `input.nulls must be error or drop, got "skip"`},
	{"max_failed_without_skip.bad.yml", "run.max_failed_bags needs run.on_error: skip"},
	{"max_failed_negative.bad.yml", `line 13: run.max_failed_bags must be a count of bags (0, 1, 2, ...), a fraction in (0, 1) or a percentage below 100% such as 1% (leave it unset for no limit), got "-3"`},
	{"max_failed_fraction.bad.yml", `got "1.5"`},
	{"max_failed_list.bad.yml", "line 13: run.max_failed_bags must be a count, a fraction or a percentage"},
	{"max_failed_percent.bad.yml", `got "100%"`},
	{"output_in_input.bad.yml", `output.dir "data/in/results" is inside input.paths[0] "data/in"`},
	{"output_in_input_glob.bad.yml", `output.dir "data/in/results" is inside input.paths[0] "data/in/*.parquet"`},
	{"input_in_output.bad.yml", `input.paths[1] "out/run/in" is inside output.dir "out/run"`},
	{"temp_in_output.bad.yml", `run.temp_dir "out/run/spill" is inside output.dir "out/run", which each run replaces`},
	{"compression_bogus.bad.yml", `output.compression must be snappy, zstd or none, got "lz4"`},
	{"memory_limit_unit.bad.yml", `line 12: run.memory_limit must be a whole number of bytes with an optional unit (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB), such as 512MiB, got "512 elephants": unknown unit "elephants"`},
	{"memory_limit_small.bad.yml", "run.memory_limit must be at least 64MiB (or unset for no limit), got 1MiB"},
	{"memory_limit_negative.bad.yml", `got "-5GiB"`},

	// Multivariate Gaussian components and lists of value columns.
	{"value_map.bad.yml", "line 4: input.value must be a column name or a list of column names"},
	{"value_nested_list.bad.yml", "line 6: input.value[1] must be a column name"},
	{"value_twice.bad.yml", `input.value[2] "x1" is listed twice`},
	{"value_is_bag.bad.yml", `input.bag and input.value[1] are the same column "bag_id"`},
	{"value_entry_empty.bad.yml", "input.value[1] is empty"},
	{"count_is_value.bad.yml", `input.count "x2" is also the bag or value column`},
	{"keep_is_value.bad.yml", `input.keep[1] "x2" is listed twice or is the bag or value column`},
	{"value_clashes_posterior.bad.yml", `input.value column "posterior_a" clashes with the posteriors column of component "a"`},
	{"mvn_list_not_mvn.bad.yml", "input.value lists 2 columns (x1, x2), but only multivariate_gaussian takes more than one: gaussian values are one column"},
	{"mvn_learn_missing.bad.yml", "model.learn [weights mean]: multivariate_gaussian components take no parameters in this release: list mean and cov in model.learn"},
	{"mvn_given_mean.bad.yml", "model.components[0].mean: multivariate_gaussian components take no parameters in this release: list mean and cov in model.learn"},
	{"mvn_given_sd.bad.yml", "model.components[0].sd is not a parameter of the multivariate_gaussian family (it takes mean, cov)"},
	{"mvn_covariance_bogus.bad.yml", `model.covariance must be full, diag or spherical, got "tied"`},
	{"covariance_not_mvn.bad.yml", "model.covariance is for the multivariate_gaussian family, not gaussian"},
	{"mvn_reg_covar_zero.bad.yml", "model.reg_covar must be positive and finite, got 0"},
}

func TestBadConfigs(t *testing.T) {
	for _, ee := range expectedErrors {
		t.Run(strings.TrimSuffix(ee.file, ".bad.yml"), func(t *testing.T) {
			path := filepath.Join("testdata", ee.file)
			cfg, err := LoadFile(path)
			if err == nil {
				t.Fatalf("LoadFile(%s) = %+v, want an error containing %q", path, cfg, ee.errMsg)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), ee.errMsg) {
				t.Errorf("LoadFile(%s) error:\n  %v\nwant it to contain:\n  %s", path, err, ee.errMsg)
			}
			// LoadFile names the file, like Prometheus's "parsing YAML file".
			if !strings.Contains(err.Error(), path) {
				t.Errorf("LoadFile(%s) error %q does not name the file", path, err)
			}
		})
	}
}

// TestBadConfigsAllListed keeps expectedErrors and testdata in step: a
// *.bad.yml file nobody checks is a test that silently does nothing.
func TestBadConfigsAllListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.bad.yml"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, ee := range expectedErrors {
		if listed[ee.file] {
			t.Errorf("%s is listed twice in expectedErrors", ee.file)
		}
		listed[ee.file] = true
	}
	for _, f := range files {
		base := filepath.Base(f)
		if !listed[base] {
			t.Errorf("testdata/%s has no entry in expectedErrors", base)
		}
		delete(listed, base)
	}
	for f := range listed {
		t.Errorf("expectedErrors lists %s, which is not in testdata", f)
	}
}

func TestGoodConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.good.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.good.yml files")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".good.yml"), func(t *testing.T) {
			cfg, err := LoadFile(f)
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			if cfg.Path != f {
				t.Errorf("Path = %q, want %q", cfg.Path, f)
			}
			if len(cfg.Digest) != 64 {
				t.Errorf("Digest = %q, want 64 hex digits", cfg.Digest)
			}
		})
	}
}

// TestShippedConfigs checks the promise that every config in configs/ is valid.
func TestShippedConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "configs", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no configs/*.yaml files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := LoadFile(f); err != nil {
				t.Errorf("LoadFile: %v", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := LoadFile(filepath.Join("testdata", "minimal.good.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.EM.MaxIter, 10000; got != want {
		t.Errorf("em.max_iter = %d, want %d", got, want)
	}
	if got, want := cfg.EM.Tol, 1e-10; got != want {
		t.Errorf("em.tol = %g, want %g", got, want)
	}
	if got, want := cfg.EM.Accelerate, "squarem"; got != want {
		t.Errorf("em.accelerate = %q, want %q", got, want)
	}
	if cfg.EM.Init.Weights != nil {
		t.Errorf("em.init = %v, want uniform (nil weights)", cfg.EM.Init.Weights)
	}
	if cfg.Output.Posteriors {
		t.Error("output.posteriors = true, want false")
	}
	if cfg.Output.Overwrite {
		t.Error("output.overwrite = true, want false")
	}
	if cfg.Run.Workers != 0 {
		t.Errorf("run.workers = %d, want 0", cfg.Run.Workers)
	}
	if cfg.Input.Nulls != "error" || cfg.Run.OnError != "fail" || cfg.Run.MaxFailedBags != nil {
		t.Errorf("input.nulls, run.on_error, run.max_failed_bags = %q, %q, %v, want error, fail, unset",
			cfg.Input.Nulls, cfg.Run.OnError, cfg.Run.MaxFailedBags)
	}
	if cfg.Input.Count != "" || cfg.Input.Keep != nil {
		t.Errorf("input.count, input.keep = %q, %q, want unset", cfg.Input.Count, cfg.Input.Keep)
	}

	// Apart from what the file gives, the config is DefaultConfig.
	got := *cfg
	if !reflect.DeepEqual(cfg.Model.Learn, []string{"weights"}) {
		t.Errorf("model.learn = %v, want [weights]", cfg.Model.Learn)
	}
	got.Input, got.Output.Dir, got.Path, got.Digest = InputConfig{Nulls: got.Input.Nulls}, "", "", ""
	got.Model.Family, got.Model.Components, got.Model.Learn = "", nil, nil
	if !reflect.DeepEqual(got, DefaultConfig) {
		t.Errorf("config with omitted keys =\n  %+v\nwant DefaultConfig\n  %+v", got, DefaultConfig)
	}
}

// TestLoadKeepsDefaultConfig checks that loading a config that sets every
// default does not change DefaultConfig for the next load.
func TestLoadKeepsDefaultConfig(t *testing.T) {
	before := DefaultConfig
	cfg, err := LoadFile(filepath.Join("testdata", "bernoulli.good.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EM.MaxIter != 500 || cfg.EM.Tol != 1e-8 || cfg.EM.Accelerate != "none" ||
		!reflect.DeepEqual(cfg.EM.Init.Weights, []float64{0.25, 0.25, 0.25, 0.25}) ||
		!cfg.Output.Posteriors || !cfg.Output.Overwrite || cfg.Run.Workers != 4 {
		t.Errorf("bernoulli.good.yml loaded as %+v, want every key as written", cfg)
	}
	if !reflect.DeepEqual(DefaultConfig, before) {
		t.Errorf("DefaultConfig changed by a load: %+v, was %+v", DefaultConfig, before)
	}
	again, err := LoadFile(filepath.Join("testdata", "minimal.good.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if again.EM.MaxIter != 10000 || again.Output.Overwrite {
		t.Errorf("a later load got %+v, want the defaults", again.EM)
	}
}

func TestLoadFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := LoadFile(path)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("LoadFile(missing) error = %v, want one naming the file", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadFile(missing) error = %v, want it to wrap fs.ErrNotExist", err)
	}
}

// configWith returns a valid bernoulli config with input, model and output
// sections as given (each a YAML flow mapping body).
func configWith(input, output string) string {
	return fmt.Sprintf("input: {paths: [data/in], %s}\n"+
		"model: {family: bernoulli, components: [{name: a, p: 0.8}, {name: b, p: 0.3}]}\n"+
		"output: {dir: out/run, %s}\n", input, output)
}

// TestOutputColumnClashes checks that a config whose input columns would
// give an output table two columns of one name is refused: the tables could
// not be read back by name.
func TestOutputColumnClashes(t *testing.T) {
	for _, tc := range []struct {
		name, input, output, errMsg string
	}{
		{"keep posterior column", "bag: bag_id, value: red, keep: [posterior_a]", "posteriors: true",
			`input.keep column "posterior_a" clashes with the posteriors column of component "a"`},
		{"bag posterior column", "bag: posterior_b, value: red", "posteriors: true",
			`"posterior_b" clashes with the posteriors column of component "b"`},
		{"keep component", "bag: bag_id, value: red, keep: [component]", "posteriors: true", `"component"`},
		{"value component", "bag: bag_id, value: component", "posteriors: true", `"component"`},
		{"bag component", "bag: component, value: red", "posteriors: false", `"component"`},
		{"bag weight", "bag: weight, value: red", "posteriors: false", `"weight"`},
		{"bag n_obs", "bag: n_obs, value: red", "posteriors: false", `"n_obs"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(configWith(tc.input, tc.output)))
			if err == nil || !strings.Contains(err.Error(), tc.errMsg) {
				t.Errorf("Load error = %v, want one containing %q", err, tc.errMsg)
			}
		})
	}
}

// TestIntegerKeysRejectFractions checks that a fraction where an integer
// belongs is a wrong type, not silently truncated (yaml.v3 decodes 1.5 into
// an int as 1).
func TestIntegerKeysRejectFractions(t *testing.T) {
	for _, extra := range []string{"em: {max_iter: 1.5}", "run: {workers: 2.5}"} {
		yml := configWith("bag: bag_id, value: red", "posteriors: false") + extra + "\n"
		if cfg, err := Load([]byte(yml)); err == nil {
			t.Errorf("%s: loaded as em.max_iter %d, run.workers %d; want a wrong-type error", extra, cfg.EM.MaxIter, cfg.Run.Workers)
		}
	}
}

// TestConfigJSONRoundTrip checks that the config recorded in manifest.json
// reads back into a Config (and so a Manifest) as it was.
func TestConfigJSONRoundTrip(t *testing.T) {
	for _, f := range []string{"minimal.good.yml", "bernoulli.good.yml", "mvn.good.yml", "mvn_one_column.good.yml"} {
		cfg, err := LoadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var back Config
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: json.Unmarshal(%s): %v", f, b, err)
		}
		back.Path, back.Digest = cfg.Path, cfg.Digest
		if !reflect.DeepEqual(&back, cfg) {
			t.Errorf("%s: config after a JSON round trip\n  %+v\nwant\n  %+v", f, back, *cfg)
		}
	}
}

func TestLoadFileRecordsPathAndDigest(t *testing.T) {
	path := writeConfig(t, t.TempDir(), configWith("bag: bag_id, value: red", "overwrite: true"))
	cfg, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if cfg.Path != path || cfg.Digest != hex.EncodeToString(sum[:]) {
		t.Errorf("Path, Digest = %q, %q; want %q and the SHA-256 of the file", cfg.Path, cfg.Digest, path)
	}
	if !cfg.Output.Overwrite {
		t.Error("output.overwrite: true was not applied")
	}
}

// TestLimit checks how run.max_failed_bags reads and what it allows: whole
// numbers are counts, numbers in (0, 1) and percentages are fractions.
func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		in           string
		want         Limit
		failed, bags int
		exceeded     bool
	}{
		{"0", Limit{Count: 0}, 1, 1000, true},
		{"0", Limit{Count: 0}, 0, 1000, false},
		{"3", Limit{Count: 3}, 3, 4, false},
		{"3", Limit{Count: 3}, 4, 1000, true},
		{"0.01", Limit{Fraction: 0.01}, 10, 1000, false},
		{"0.01", Limit{Fraction: 0.01}, 11, 1000, true},
		{"1%", Limit{Fraction: 0.01}, 11, 1000, true},
		{" 2.5% ", Limit{Fraction: 0.025}, 25, 1000, false},
		{"0%", Limit{Count: 0}, 1, 1000, true},
	} {
		got, err := parseLimit(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseLimit(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
			continue
		}
		if ex := got.Exceeded(tc.failed, tc.bags); ex != tc.exceeded {
			t.Errorf("%q: %d of %d failed: exceeded = %v, want %v", tc.in, tc.failed, tc.bags, ex, tc.exceeded)
		}
		// It reads back from what the manifest writes.
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var back Limit
		if err := json.Unmarshal(b, &back); err != nil || back != got {
			t.Errorf("%q: JSON %s reads back as %+v, %v", tc.in, b, back, err)
		}
	}
	for _, bad := range []string{"-1", "1.5", "1.0", "100%", "x", "", "NaN", "1e400"} {
		if l, err := parseLimit(bad); err == nil {
			t.Errorf("parseLimit(%q) = %+v, want an error", bad, l)
		}
	}
	var none *Limit
	if none.Exceeded(1<<30, 1<<30) {
		t.Error("an unset limit was exceeded")
	}
}

// TestByteSize checks how run.memory_limit reads and writes sizes.
func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{
		"0": 0, "512MiB": 512 << 20, "512 MiB": 512 << 20, "4GiB": 4 << 30, "1TiB": 1 << 40, "1KiB": 1024,
		"1GB": 1e9, "5MB": 5e6, "3kB": 3000, "3KB": 3000, "100B": 100, "123456789": 123456789,
	} {
		got, err := parseByteSize(in)
		if err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
		back, err := parseByteSize(got.String())
		if err != nil || back != got {
			t.Errorf("%q: String() %q reads back as %d, %v", in, got.String(), back, err)
		}
	}
	for _, in := range []string{"", "MiB", "1.5GiB", "-1", "1 GiB B", "9999999TiB", "1PiB", "1e9"} {
		if v, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", in, v)
		}
	}
	if got := ByteSize(512 << 20).String(); got != "512MiB" {
		t.Errorf("String() = %q, want 512MiB", got)
	}
	if got := ByteSize(1e9).String(); got != "1000000000B" {
		t.Errorf("String() = %q, want 1000000000B", got)
	}
}

// TestOutputInsideInputThroughLinks: an output folder inside an input
// folder, or holding one, is refused also when a symbolic link makes the
// paths look apart (the output, or a folder on its way, a link into the
// input; the input a link into the output), and the output may not exist
// yet. Folders that are apart are still accepted.
func TestOutputInsideInputThroughLinks(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"lake/in", "elsewhere"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	in := filepath.Join(root, "lake", "in")
	link := func(target, name string) string {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.Symlink(target, p); err != nil {
			t.Skip("no symbolic links here:", err)
		}
		return p
	}
	toIn := link(in, "to-in")
	toLake := link(filepath.Join(root, "lake"), "to-lake")
	outLink := link(filepath.Join(root, "elsewhere"), "out-link")
	for _, c := range []struct {
		out, in, err string
	}{
		{filepath.Join(toIn, "out"), in, "is inside input.paths[0]"},
		{filepath.Join(toLake, "in", "new", "out"), in, "is inside input.paths[0]"},
		{filepath.Join(root, "lake"), toIn, "is inside output.dir"},
		{filepath.Join(root, "elsewhere", "out"), in, ""},
		{filepath.Join(outLink, "out"), toIn, ""},
	} {
		err := checkOutputDir(c.out, []string{c.in})
		switch {
		case c.err == "" && err != nil:
			t.Errorf("output %s, input %s: %v, want accepted", c.out, c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("output %s, input %s: %v, want %q", c.out, c.in, err, c.err)
		}
	}
}
