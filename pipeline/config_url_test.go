package pipeline

import (
	"strings"
	"testing"
)

// TestConfigURLs validates object-store and file:// locations: schemes,
// output inside input compared by scheme, bucket and key prefix (query
// ignored), and no credentials in URLs or messages.
func TestConfigURLs(t *testing.T) {
	for _, c := range []struct{ in, out, err string }{
		{in: "s3://b/data", out: "s3://b/data/out", err: "output.dir \"s3://b/data/out\" is inside input.paths[0]"},
		{in: "s3://b/data?region=x", out: "s3://b/data/o?region=y", err: "is inside input.paths[0]"},
		{in: "s3://b/data/out/x.parquet", out: "s3://b/data", err: "input.paths[0] \"s3://b/data/out/x.parquet\" is inside output.dir"},
		{in: "gs://b/data/*.parquet", out: "gs://b/data/run", err: "is inside input.paths[0]"},
		{in: "gs://b/data/*.parquet", out: "gs://b/results"},
		{in: "s3://b/data", out: "gs://b/data/out"},
		{in: "s3://b/data", out: "s3://c/data/out"},
		{in: "s3://b/data", out: "s3://b/database"},
		{in: "data/marbles", out: "azblob://box/out"},
		{in: "s3://b/data", out: "out/local"},
		{in: "http://host/data", out: "out/local", err: "input.paths[0]: http://host/data: unsupported URL scheme"},
		{in: "s3://b/data", out: "s3://key:hunter22@b/out", err: "credentials do not belong in the URL"},
		{in: "s3:///data", out: "out/local", err: "no bucket"},
	} {
		cfg, err := Load([]byte(strings.TrimLeft(marblesConfig(c.in, c.out, ""), "\n")))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s -> %s: %v", c.in, c.out, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s -> %s: error %v, want %q", c.in, c.out, err, c.err)
		case err != nil && strings.Contains(err.Error(), "hunter22"):
			t.Errorf("the error shows the password: %v", err)
		case err == nil && (cfg.Input.Paths[0] != c.in || cfg.Output.Dir != c.out):
			t.Errorf("%s -> %s became %v -> %s", c.in, c.out, cfg.Input.Paths, cfg.Output.Dir)
		}
	}
	cfg, err := Load([]byte(strings.TrimLeft(marblesConfig("file:///data/m", "file://localhost/results/m", ""), "\n")))
	if err != nil || cfg.Input.Paths[0] != "/data/m" || cfg.Output.Dir != "/results/m" {
		t.Errorf("file:// URLs: %v -> %q, %v", cfg.Input.Paths, cfg.Output.Dir, err)
	}
	if _, err := Load([]byte(strings.TrimLeft(marblesConfig("file:///data/m", "file:///data/m/out", ""), "\n"))); err == nil || !strings.Contains(err.Error(), "is inside input.paths[0]") {
		t.Errorf("file:// output inside file:// input: %v", err)
	}
}
