package report

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/store/storetest"
)

// TestRunOnObjectStore: plot and report read a run published on an object
// store (fake S3 on loopback) through its manifest, which names the files
// under run=<id>/: the plot of a bag is the local run's, byte for byte,
// and the report covers the same bags.
func TestRunOnObjectStore(t *testing.T) {
	ctx := context.Background()
	ex := exampleOf(t, pipeline.Bernoulli)
	srv := storetest.NewS3(t, "results")
	cfg, err := loadExample(ex.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Output.Dir = srv.URL("results", "nightly/marbles")
	if _, err := pipeline.Run(ctx, cfg, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	var local, remote bytes.Buffer
	if err := Plot(ctx, ex.dir, "7", "svg", &local, PlotOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Plot(ctx, cfg.Output.Dir, "7", "svg", &remote, PlotOptions{}); err != nil {
		t.Fatal(err)
	}
	if local.Len() == 0 || !bytes.Equal(local.Bytes(), remote.Bytes()) {
		t.Errorf("the plot of bag 7 from S3 (%d bytes) differs from the local run's (%d bytes)", remote.Len(), local.Len())
	}
	local.Reset()
	remote.Reset()
	if err := Write(ctx, ex.dir, &local, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := Write(ctx, cfg.Output.Dir, &remote, Options{}); err != nil {
		t.Fatal(err)
	}
	// The pages differ in the run's folder and times, not in the bags.
	for _, want := range []string{"200 bags", "factory1", "factory2"} {
		if !strings.Contains(remote.String(), want) || !strings.Contains(local.String(), want) {
			t.Errorf("report pages: %q in S3's %v, in the local %v", want, strings.Contains(remote.String(), want), strings.Contains(local.String(), want))
		}
	}
	if _, err := openRun(ctx, srv.URL("results", "nightly/none")); err == nil || !strings.Contains(err.Error(), "has no manifest.json") {
		t.Errorf("a prefix without a run: %v", err)
	}
}
