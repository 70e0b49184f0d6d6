package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mixbatch/mixbatch/store"
	"github.com/mixbatch/mixbatch/store/storetest"
)

// uploadDir copies every file under dir to bucket under prefix.
func uploadDir(t *testing.T, srv *storetest.Server, bucket, prefix, dir string) {
	t.Helper()
	entries, err := store.List(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(e.Location)
		if err != nil {
			t.Fatal(err)
		}
		srv.Put(t, bucket, prefix+"/"+e.Rel, data)
	}
}

// sortedRows renders a table's rows (floats in their shortest exact form,
// so equal text is equal bits) and sorts them: the bag key comes first.
func sortedRows(tb *table) []string {
	rows := make([]string, tb.len())
	for i := range rows {
		var b strings.Builder
		for _, n := range tb.names {
			fmt.Fprintf(&b, "%v|", tb.cols[n][i])
		}
		rows[i] = b.String()
	}
	sort.Strings(rows)
	return rows
}

// objectMarbles generates textbook data in two files, with a hidden file
// and a non-data file that listing must skip.
func objectMarbles(t *testing.T) string {
	in := genMarbles(t, Marbles{Bags: 60, RowsPerBag: 40, Seed: 11, Files: 2})
	if err := os.WriteFile(filepath.Join(in, "notes.txt"), []byte("not data"), 0o644); err != nil {
		t.Fatal(err)
	}
	return in
}

// sameAsLocal runs the marbles config on local input and output, then
// from and to the object store, and checks every table is equal value for
// value. It returns the object run's manifest.
func sameAsLocal(t *testing.T, srv *storetest.Server) (*Manifest, string) {
	in := objectMarbles(t)
	uploadDir(t, srv, "inputs", "lake/marbles", in)
	local := filepath.Join(t.TempDir(), "out")
	keep := "  keep: [marble_id]"
	mustRun(t, mustLoad(t, marblesConfig(in, local, keep)), Options{})
	want, err := ReadManifest(filepath.Join(local, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}

	out := srv.URL("outputs", "results/marbles")
	srv.Reset()
	sum := mustRun(t, mustLoad(t, marblesConfig(srv.URL("inputs", "lake/marbles/"), out, keep)), Options{})
	if sum.Output != out || sum.Files != 2 {
		t.Errorf("summary: output %q, %d files", sum.Output, sum.Files)
	}
	m, err := ReadManifest(store.Join(out, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if m.RunID == "" || want.RunID != "" {
		t.Fatalf("run ids: object %q, local %q", m.RunID, want.RunID)
	}
	if ok, err := store.Exists(context.Background(), store.Join(out, SuccessFile)); !ok || err != nil {
		t.Fatalf("_SUCCESS: %v, %v", ok, err)
	}
	if len(m.Tables) != len(want.Tables) || len(m.Inputs) != 2 {
		t.Fatalf("tables %v, inputs %v; local tables %v", m.Tables, m.Inputs, want.Tables)
	}
	run := store.Join(out, RunPrefix+m.RunID)
	for name, lt := range want.Tables {
		var files []string
		for _, f := range m.Tables[name].Files {
			rest, ok := strings.CutPrefix(f, RunPrefix+m.RunID+"/")
			if !ok {
				t.Errorf("%s: %s is not under the run prefix", name, f)
			}
			files = append(files, rest)
		}
		if !slices.Equal(files, lt.Files) {
			t.Errorf("%s: files %v, local %v", name, m.Tables[name].Files, lt.Files)
		}
		got, exp := sortedRows(readTable(t, run, name)), sortedRows(readTable(t, local, name))
		if len(exp) == 0 || !slices.Equal(got, exp) {
			t.Errorf("%s: %d rows differ from the local run's %d", name, len(got), len(exp))
		}
	}
	return m, out
}

// TestS3MatchesLocal reads inputs from and writes outputs to fake S3,
// with the same tables as a local run; it reads Parquet with range GETs
// only, puts parts under run=<id>/ and writes manifest.json and then
// _SUCCESS last.
func TestS3MatchesLocal(t *testing.T) {
	srv := storetest.NewS3(t, "inputs", "outputs")
	m, _ := sameAsLocal(t, srv)
	var writes []string
	ranged := 0
	for _, r := range srv.Requests() {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.Path, ".parquet") && r.Range == "":
			t.Errorf("GET of Parquet data without a Range header: %+v", r)
		case r.Method == http.MethodGet && strings.HasSuffix(r.Path, ".parquet"):
			ranged++
		case r.Method == http.MethodPut || r.Method == http.MethodPost:
			writes = append(writes, r.Path)
		}
	}
	if ranged == 0 {
		t.Error("no range GETs of Parquet data recorded")
	}
	n := len(writes)
	if n < 5 || writes[n-2] != "/outputs/results/marbles/manifest.json" || writes[n-1] != "/outputs/results/marbles/_SUCCESS" {
		t.Fatalf("writes end %v; want manifest.json then _SUCCESS", writes[max(0, n-3):])
	}
	for _, w := range writes[:n-2] {
		if !strings.HasPrefix(w, "/outputs/results/marbles/run="+m.RunID+"/") || !strings.HasSuffix(w, ".parquet") {
			t.Errorf("part written outside the run prefix: %s", w)
		}
	}
}

// TestGCSMatchesLocal is TestS3MatchesLocal on fake GCS.
func TestGCSMatchesLocal(t *testing.T) {
	srv := storetest.NewGCS(t, "inputs", "outputs")
	sameAsLocal(t, srv)
	ranged := 0
	for _, r := range srv.Requests() {
		// GET /storage/v1/b/<bucket>/o/<key> without alt=media is the
		// JSON metadata; data comes from /<bucket>/<key> (the XML API)
		// or with alt=media.
		metadata := strings.HasPrefix(r.Path, "/storage/v1/") && !strings.Contains(r.Query, "alt=media")
		if r.Method != http.MethodGet || metadata || !strings.HasSuffix(r.Path, ".parquet") {
			continue
		}
		if r.Range == "" {
			t.Errorf("GET of Parquet data without a Range header: %+v", r)
		}
		ranged++
	}
	if ranged == 0 {
		t.Error("no range GETs of Parquet data recorded")
	}
}

// objects lists every object under loc with its size and time.
func objects(t *testing.T, loc string) []string {
	t.Helper()
	entries, err := store.List(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s %d %s", e.Rel, e.Size, e.ModTime))
	}
	return out
}

// runIDs lists the run prefixes under loc.
func runIDs(t *testing.T, loc string) []string {
	t.Helper()
	entries, err := store.List(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		first, _, _ := strings.Cut(e.Rel, "/")
		if id, ok := strings.CutPrefix(first, RunPrefix); ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// TestObjectOutputRuns checks the publish protocol across runs on S3: a
// refused run (overwrite: false), a failed one (bad column) and one
// cancelled while writing leave the published output as it was and
// nothing of theirs; successful runs keep the previous run's files and
// delete older ones.
func TestObjectOutputRuns(t *testing.T) {
	srv := storetest.NewS3(t, "inputs", "outputs")
	in := objectMarbles(t)
	uploadDir(t, srv, "inputs", "m", in)
	out := srv.URL("outputs", "r")
	yaml := func(overwrite bool, value string) string {
		y := marblesConfig(srv.URL("inputs", "m"), out, "")
		y = strings.Replace(y, "value: red", "value: "+value, 1)
		return y + fmt.Sprintf("  overwrite: %v\n", overwrite)
	}
	ctx := context.Background()
	mustRun(t, mustLoad(t, yaml(false, "red")), Options{})
	first, err := ReadManifest(store.Join(out, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	before := objects(t, out)

	_, err = Run(ctx, mustLoad(t, yaml(false, "red")), Options{})
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "s3://outputs/r") {
		t.Errorf("overwrite: false over a published output: %v", err)
	}
	_, err = Run(ctx, mustLoad(t, yaml(true, "no_such_column")), Options{})
	if err == nil || !strings.Contains(err.Error(), "no_such_column") {
		t.Errorf("bad column: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err = Run(cctx, mustLoad(t, yaml(true, "red")), Options{Progress: func(stage string, _, _ int64) {
		if stage == "posteriors" {
			cancel() // weights/ and fits/ are written by now
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
	if after := objects(t, out); !slices.Equal(after, before) {
		t.Fatalf("failed runs changed the output:\nbefore %v\nafter  %v", before, after)
	}

	// A run that died long ago without cleaning up.
	srv.Put(t, "outputs", "r/run=20000101T000000.000Z-dead00/weights/part-00000.parquet", []byte("x"))
	mustRun(t, mustLoad(t, yaml(true, "red")), Options{})
	second, err := ReadManifest(store.Join(out, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	// The previous run stays for readers still reading it; older ones go.
	if ids := runIDs(t, out); !slices.Equal(ids, []string{first.RunID, second.RunID}) {
		t.Errorf("after the second run: runs %v, want %s and %s", ids, first.RunID, second.RunID)
	}
	mustRun(t, mustLoad(t, yaml(true, "red")), Options{})
	third, err := ReadManifest(store.Join(out, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if ids := runIDs(t, out); !slices.Equal(ids, []string{second.RunID, third.RunID}) {
		t.Errorf("after the third run: runs %v, want %s and %s", ids, second.RunID, third.RunID)
	}
	if !slices.Equal(sortedRows(readTable(t, store.Join(out, RunPrefix+third.RunID), WeightsTable)),
		sortedRows(readTable(t, store.Join(out, RunPrefix+second.RunID), WeightsTable))) {
		t.Error("the same run twice gave different weights")
	}
}

// TestOutputAbort writes a part through the exported Output API and
// aborts: the part goes, the published output stays.
func TestOutputAbort(t *testing.T) {
	srv := storetest.NewS3(t, "outputs")
	ctx := context.Background()
	dir := srv.URL("outputs", "x")
	o, err := CreateOutput(ctx, dir, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.WriteFile(ctx, store.Join(o.Staging(), WeightsTable, "part-00000.parquet"), []byte("p")); err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Runner: "test"}
	if err := o.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	if want := []string{RunPrefix + o.RunID() + "/weights/part-00000.parquet"}; !slices.Equal(m.Tables[WeightsTable].Files, want) {
		t.Errorf("manifest files %v, want %v", m.Tables, want)
	}
	if _, err := CreateOutput(ctx, dir, false, nil); err == nil {
		t.Error("CreateOutput over a published output without overwrite")
	}
	before := objects(t, dir)
	o2, err := CreateOutput(ctx, dir, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.WriteFile(ctx, store.Join(o2.Staging(), FitsTable, "part-00000.parquet"), []byte("q")); err != nil {
		t.Fatal(err)
	}
	if err := o2.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if after := objects(t, dir); !slices.Equal(after, before) {
		t.Errorf("Abort changed the output:\nbefore %v\nafter  %v", before, after)
	}
	b, err := store.ReadFile(ctx, store.Join(dir, ManifestFile))
	if err != nil || !bytes.Contains(b, []byte(`"runner": "test"`)) || !bytes.Contains(b, []byte(`"run_id": "`+o.RunID()+`"`)) {
		t.Errorf("manifest: %s, %v", b, err)
	}
}

// TestCredentialsNotLogged sets the S3 and Azure secret keys to sentinels
// and runs with debug logs: a good run to S3, a refused one, and one
// whose input is on an Azure endpoint that refuses it. Neither secret may
// appear in the logs, errors, summaries or manifest.
func TestCredentialsNotLogged(t *testing.T) {
	srv := storetest.NewS3(t, "inputs", "outputs")
	const awsSecret, azureSecret = "SENTINELawsSECRET0123456789", "U0VOVElORUxhenVyZVNFQ1JFVA=="
	t.Setenv("AWS_SECRET_ACCESS_KEY", awsSecret)
	t.Setenv("AZURE_STORAGE_ACCOUNT", "mixbatchtest")
	t.Setenv("AZURE_STORAGE_KEY", azureSecret)
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	t.Setenv("AZURE_STORAGE_SAS_TOKEN", "")
	azure := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			t.Errorf("Azure request without credentials: %s %s", r.Method, r.URL)
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	defer azure.Close()
	in := objectMarbles(t)
	uploadDir(t, srv, "inputs", "m", in)
	out := srv.URL("outputs", "r")

	var logs bytes.Buffer
	opts := Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	var seen []string
	ctx := context.Background()
	sum, err := Run(ctx, mustLoad(t, marblesConfig(srv.URL("inputs", "m"), out, "")), opts)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(sum)
	manifest, err := store.ReadFile(ctx, store.Join(out, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	seen = append(seen, string(js), string(manifest))
	sum, err = Run(ctx, mustLoad(t, marblesConfig(srv.URL("inputs", "m"), out, "")), opts)
	if err == nil {
		t.Fatal("a second run without overwrite succeeded")
	}
	js, _ = json.Marshal(sum)
	seen = append(seen, err.Error(), string(js))
	azureIn := "azblob://box/m/?protocol=http&domain=" + strings.TrimPrefix(azure.URL, "http://")
	sum, err = Run(ctx, mustLoad(t, marblesConfig(azureIn, filepath.Join(t.TempDir(), "o"), "")), opts)
	if err == nil {
		t.Fatal("a run from a refusing Azure endpoint succeeded")
	}
	js, _ = json.Marshal(sum)
	seen = append(seen, err.Error(), string(js))
	// A secret in a URL's query is refused by the opener; the error
	// must not quote it.
	sum, err = Run(ctx, mustLoad(t, marblesConfig(azureIn+"&sas_token=SENTINELsas%3D1", filepath.Join(t.TempDir(), "o"), "")), opts)
	if err == nil {
		t.Fatal("a run with a token in the URL succeeded")
	}
	js, _ = json.Marshal(sum)
	seen = append(seen, err.Error(), string(js), logs.String())
	if !strings.Contains(logs.String(), "level=DEBUG") && !strings.Contains(logs.String(), "level=INFO") {
		t.Errorf("no logs recorded: %q", logs.String())
	}
	for _, s := range seen {
		for _, secret := range []string{awsSecret, azureSecret, "SENTINEL"} {
			if strings.Contains(s, secret) {
				t.Errorf("a secret appears in %q", s)
			}
		}
	}
}

// TestPublishRedactsManifest: Publish writes no secret of a location into
// manifest.json, whoever filled the manifest (the Beam runner fills its
// own).
func TestPublishRedactsManifest(t *testing.T) {
	ctx := context.Background()
	const secret = "sv=2026&sig=SENTINEL0secret"
	in := "azblob://box/lake/?sas_token=" + secret
	cfg := &Config{Input: InputConfig{Paths: []string{in}}, Output: OutputConfig{Dir: "s3://out/x?secret_key=" + secret}}
	dir := filepath.Join(t.TempDir(), "out")
	o, err := CreateOutput(ctx, dir, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Config: cfg, Inputs: []ManifestInput{{Path: in + "a.parquet"}}, Summary: Summary{Output: cfg.Output.Dir}}
	if err := o.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "SENTINEL0") {
		t.Errorf("manifest.json holds a secret:\n%s", b)
	}
	if !strings.Contains(string(b), "azblob://box/lake/?sas_token=REDACTED") {
		t.Errorf("manifest.json lacks the redacted input path:\n%s", b)
	}
	if cfg.Input.Paths[0] != in {
		t.Errorf("Publish changed the caller's config: %q", cfg.Input.Paths[0])
	}
}

// TestPublishCancelled: a run cancelled while its output is synced, just
// before the swap, leaves the earlier output as it was, and Abort leaves
// no staging folder beside it.
func TestPublishCancelled(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	first, err := CreateOutput(context.Background(), dir, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Publish(context.Background(), &Manifest{Summary: Summary{Bags: 1}}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	second, err := CreateOutput(ctx, dir, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := second.Publish(ctx, &Manifest{Summary: Summary{Bags: 2}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish after cancel: %v, want context.Canceled", err)
	}
	if err := second.Abort(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("the earlier output's manifest changed:\n%s\nnow\n%s", before, after)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "out" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("beside the output: %v, want only out", names)
	}
}
