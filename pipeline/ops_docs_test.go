package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestEveryConfigKeyDocumented: every key the config decoder accepts
// appears in README.md, section keys in one of its YAML examples under
// their section (model.covariance in the multivariate one), component keys
// as `key` in the text (the families table); and every key those examples
// give is one the decoder accepts. A key added to the code without its
// documentation, or documented but not read, fails here.
func TestEveryConfigKeyDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1) {
		var doc yaml.Node
		if err := yaml.Unmarshal(m[1], &doc); err != nil {
			t.Fatalf("a YAML example in README.md does not parse: %v\n%s", err, m[1])
		}
		walkKeys(&doc, "", 0, func(path string, n *yaml.Node) bool {
			if strings.Count(path, ".") == 1 && !strings.Contains(path, "[") {
				documented[path] = true
			}
			return false
		})
	}
	accepted := map[string]bool{}
	top := reflect.TypeFor[Config]()
	for i := 0; i < top.NumField(); i++ {
		f := top.Field(i)
		sec, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if sec == "-" || !f.IsExported() {
			continue
		}
		for _, k := range yamlKeys(f.Type) {
			accepted[sec+"."+k] = true
		}
	}
	for k := range accepted {
		if !documented[k] {
			t.Errorf("config key %s is accepted but in no YAML example of README.md", k)
		}
	}
	for k := range documented {
		if !accepted[k] {
			t.Errorf("README.md's YAML examples give %s, which the config does not accept", k)
		}
	}
	for _, k := range yamlKeys(reflect.TypeFor[ComponentConfig]()) {
		if !strings.Contains(string(readme), "`"+k+"`") && !strings.Contains(string(readme), "{"+k+":") {
			t.Errorf("component key %s is not in README.md", k)
		}
	}
}

// TestShippedConfigsValidate: each config in configs/ passes what
// mixbatch validate checks (pipeline.Check: the input files' schemas and
// the output folder), from the repository root as the quickstart runs
// them, output.dir moved to a fresh folder so that an earlier run's
// leftovers do not decide. TestShippedConfigs only loads them, and
// TestExampleConfigsRun only runs them.
func TestShippedConfigsValidate(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "configs", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("configs: %v, %v", paths, err)
	}
	t.Chdir("..")
	for _, p := range paths {
		p := filepath.Join("configs", filepath.Base(p))
		t.Run(filepath.Base(p), func(t *testing.T) {
			cfg, err := LoadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !cfg.RelativePaths() {
				t.Errorf("%s has no relative paths; the quickstart runs it from the repository root", p)
			}
			if err := cfg.CheckTempDir(); err != nil {
				t.Error(err)
			}
			cfg.Output.Dir = filepath.Join(t.TempDir(), "out")
			sum, err := Check(context.Background(), cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Files == 0 || sum.Rows == 0 {
				t.Errorf("validate found %d files, %d rows", sum.Files, sum.Rows)
			}
		})
	}
}
