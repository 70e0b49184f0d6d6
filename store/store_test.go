package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mixbatch/mixbatch/store"
	"github.com/mixbatch/mixbatch/store/storetest"
)

func TestCleanIsURLJoin(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "data/x.parquet", want: "data/x.parquet"},
		{in: "file:///data/x.parquet", want: "/data/x.parquet"},
		{in: "file://localhost/data/x", want: "/data/x"},
		{in: "FILE:///data/x", want: "/data/x"},
		{in: "file://host/data/x", err: "not host"},
		{in: "s3://b/k?region=x", want: "s3://b/k?region=x"},
		{in: "gs://b", want: "gs://b"},
		{in: "http://b/k", err: "unsupported URL scheme"},
		{in: "s3:///k", err: "no bucket"},
		{in: "s3://user:pw@b/k", err: "credentials do not belong"},
	} {
		got, err := store.Clean(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Clean(%q) = %q, %v; want error with %q", c.in, got, err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Errorf("Clean(%q): error %q shows the password", c.in, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Clean(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if store.IsURL("/a/b") || store.IsURL("file:///a") || store.IsURL("C:/x") || !store.IsURL("s3://b/k") {
		t.Error("IsURL")
	}
	if got := store.Join("s3://b/out?region=r&endpoint=http://h:1", "run=1", "weights", "part-00000.parquet"); got != "s3://b/out/run=1/weights/part-00000.parquet?region=r&endpoint=http://h:1" {
		t.Errorf("Join = %q", got)
	}
	if got := store.Join("gs://b", "x"); got != "gs://b/x" {
		t.Errorf("Join = %q", got)
	}
	if got := store.Join("out", "weights", "p"); got != filepath.Join("out", "weights", "p") {
		t.Errorf("Join = %q", got)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"s3://b/k?region=eu&endpoint=http://h:9":              "s3://b/k?region=eu&endpoint=http://h:9",
		"azblob://c/k?sas_token=sv%3Dabc&domain=x":            "azblob://c/k?domain=x&sas_token=REDACTED",
		"s3://u:secretpw@b/k":                                 "s3://REDACTED@b/k",
		"gs://b/k?access_key=AKIA123&anonymous=true":          "gs://b/k?access_key=REDACTED&anonymous=true",
		"/local/path?secret=x":                                "/local/path?secret=x",
		"s3://b/k?kmskeyid=arn:aws:kms:key/1&ssetype=aws:kms": "s3://b/k?kmskeyid=arn:aws:kms:key/1&ssetype=aws:kms",
	} {
		if got := store.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenErrorRedactsShortSecrets: the audit's URL, whose secret-looking
// query values are three bytes long. gocloud refuses the unknown
// parameter "secret" and quotes the whole URL in its error, which was
// printed with the values as given (the scrubbing skipped values shorter
// than four bytes, and so every value of this URL).
func TestOpenErrorRedactsShortSecrets(t *testing.T) {
	loc := "s3://lake/marbles/x.parquet?endpoint=http://127.0.0.1:9&region=us-east-1&secret=abc&token=xyz&access_key=AKIAVERYLONGKEY"
	_, err := store.Open(context.Background(), loc)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, s := range []string{"abc", "xyz", "AKIAVERYLONGKEY"} {
		if strings.Contains(msg, s) {
			t.Errorf("error %q shows the secret %q", msg, s)
		}
	}
	if !strings.Contains(msg, "secret=REDACTED") || !strings.Contains(msg, "region=us-east-1") {
		t.Errorf("error %q: want secret=REDACTED, and the other parameters as given", msg)
	}
}

// roundTrip exercises one object store through the package's calls.
func roundTrip(t *testing.T, srv *storetest.Server) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 1000)
	srv.Put(t, "bkt", "d/a.bin", data)
	srv.Put(t, "bkt", "d/sub/b.bin", []byte("b"))
	srv.Put(t, "bkt", "dx/c.bin", []byte("c"))

	info, err := store.Stat(ctx, srv.URL("bkt", "d/a.bin"))
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	if _, err := store.Stat(ctx, srv.URL("bkt", "d/missing.bin")); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "d/missing.bin") {
		t.Errorf("Stat of a missing object: %v", err)
	}
	f, err := store.Open(ctx, srv.URL("bkt", "d/a.bin"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Reset()
	buf := make([]byte, 25)
	if n, err := f.ReadAt(buf, 9990); n != 10 || err != io.EOF || string(buf[:n]) != "0123456789" {
		t.Errorf("ReadAt at the end = %d, %v, %q", n, err, buf[:n])
	}
	if n, err := f.ReadAt(buf, 3); n != 25 || err != nil || string(buf) != string(data[3:28]) {
		t.Errorf("ReadAt = %d, %v, %q", n, err, buf)
	}
	var served int64
	for _, r := range srv.Requests() {
		if r.Method == "GET" && r.Range == "" {
			t.Errorf("a GET without Range: %+v", r)
		}
		served += r.Served
	}
	if served != 35 {
		t.Errorf("served %d bytes for reads of 35", served)
	}
	if end, err := f.Seek(0, io.SeekEnd); end != f.Size() || err != nil {
		t.Errorf("Seek end = %d, %v", end, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	entries, err := store.List(ctx, srv.URL("bkt", "d"))
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, e := range entries {
		rels = append(rels, e.Rel)
	}
	if strings.Join(rels, ",") != "a.bin,sub/b.bin" {
		t.Errorf("List = %v", rels)
	}

	// An aborted writer, and one whose ctx ends, leave nothing.
	w, err := store.Create(ctx, srv.URL("bkt", "d/aborted.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	if err := w.(store.Aborter).Abort(); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	w, err = store.Create(cctx, srv.URL("bkt", "d/canceled.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := w.Close(); err == nil {
		t.Error("Close after the context ended succeeded")
	}
	for _, k := range []string{"d/aborted.bin", "d/canceled.bin"} {
		if ok, err := store.Exists(ctx, srv.URL("bkt", k)); ok || err != nil {
			t.Errorf("%s exists = %v, %v after an abort", k, ok, err)
		}
	}

	if err := store.RemoveAll(ctx, srv.URL("bkt", "d")); err != nil {
		t.Fatal(err)
	}
	entries, err = store.List(ctx, srv.URL("bkt", ""))
	if err != nil || len(entries) != 1 || entries[0].Rel != "dx/c.bin" {
		t.Errorf("after RemoveAll: %+v, %v", entries, err)
	}
}

func TestS3(t *testing.T)  { roundTrip(t, storetest.NewS3(t, "bkt")) }
func TestGCS(t *testing.T) { roundTrip(t, storetest.NewGCS(t, "bkt")) }

func TestLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc := "file://" + filepath.ToSlash(filepath.Join(dir, "a", "b.bin"))
	if err := store.WriteFile(ctx, loc, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	b, err := store.ReadFile(ctx, filepath.Join(dir, "a", "b.bin"))
	if err != nil || string(b) != "hello" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	w, err := store.Create(ctx, filepath.Join(dir, "a", "c.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.(store.Aborter).Abort(); err != nil {
		t.Fatal(err)
	}
	entries, err := store.List(ctx, dir)
	if err != nil || len(entries) != 1 || entries[0].Rel != "a/b.bin" || entries[0].Size != 5 {
		t.Errorf("List = %+v, %v", entries, err)
	}
	if entries, err := store.List(ctx, filepath.Join(dir, "missing")); err != nil || len(entries) != 0 {
		t.Errorf("List of a missing folder = %+v, %v", entries, err)
	}
}

// TestGCSWithoutCredentialsPrintsNothing: with no Google credentials,
// gcsblob's default opener prints a warning to stdout, where mixbatch's
// summary line goes; store opens such a bucket anonymously instead and
// prints nothing. (The request itself fails here: no network.)
func TestGCSWithoutCredentialsPrintsNothing(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("STORAGE_EMULATOR_HOST_GRPC", "")
	if err := store.CloseBuckets(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.CloseBuckets(); err != nil {
			t.Error(err)
		}
	})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, statErr := store.Stat(ctx, "gs://mixbatch-public/lake/a.parquet")
	os.Stdout = stdout
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	printed, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(printed) != 0 {
		t.Errorf("opening a gs:// bucket without credentials printed %q to stdout", printed)
	}
	if statErr == nil || !strings.Contains(statErr.Error(), "gs://mixbatch-public/lake/a.parquet") {
		t.Errorf("Stat without network = %v; want an error naming the URL", statErr)
	}
}
