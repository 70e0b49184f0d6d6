package readers_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/readers"
	"github.com/mixbatch/mixbatch/store/storetest"
)

// upload copies every file under root to bucket, keyed by its path below
// root.
func upload(t *testing.T, srv *storetest.Server, bucket, root string) {
	t.Helper()
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		srv.Put(t, bucket, filepath.ToSlash(r), data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// urlRels returns the keys of files listed from a bucket, sorted.
func urlRels(t *testing.T, srv *storetest.Server, files []readers.File) []string {
	t.Helper()
	prefix, query, _ := strings.Cut(srv.URL("lake", ""), "?")
	var out []string
	for _, f := range files {
		key, q, _ := strings.Cut(f.Path, "?")
		if q != query || !strings.HasPrefix(key, prefix) {
			t.Fatalf("listed %q: not an object of %q", f.Path, srv.URL("lake", ""))
		}
		out = append(out, strings.TrimPrefix(key, prefix))
	}
	sort.Strings(out)
	return out
}

// TestListURLLikeLocal lists the same tree on disk and in an S3 bucket
// with the same entries (prefixes, hive folders, hidden names at every
// level, other extensions, globs, single files) and expects the same
// files, sizes and formats.
func TestListURLLikeLocal(t *testing.T) {
	root := tree(t, dataset...)
	srv := storetest.NewS3(t, "lake")
	upload(t, srv, "lake", root)
	for _, p := range []string{
		"d", "d/", "d/part=3", "d/part=3/", "d/*", "d/*.parquet", "d/part=*/c.parq", "d/part=*",
		"d/*/sub", "d/[ab].*", "d/a.parquet", "d/_truth.parquet", "d/.tmp/f.parquet", "d/_tmp",
		"d/part=*/", "d/*/", "d/part=3/*/",
	} {
		lp := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			lp += string(filepath.Separator) // Join drops it
		}
		local, err := readers.List([]string{lp})
		if err != nil {
			t.Fatalf("%s on disk: %v", p, err)
		}
		remote, err := readers.List([]string{srv.URL("lake", p)})
		if err != nil {
			t.Fatalf("%s in the bucket: %v", p, err)
		}
		want := rel(t, root, local)
		sort.Strings(want)
		got := urlRels(t, srv, remote)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: bucket lists %v, disk %v", p, got, want)
			continue
		}
		sizes := map[string]string{}
		for i, f := range local {
			sizes[rel(t, root, local[i:i+1])[0]] = fmt.Sprint(f.Size, f.Format)
		}
		for i, f := range remote {
			if k := urlRels(t, srv, remote[i:i+1])[0]; sizes[k] != fmt.Sprint(f.Size, f.Format) {
				t.Errorf("%s: %s is %d bytes %v in the bucket, %s on disk", p, k, f.Size, f.Format, sizes[k])
			}
		}
	}
	for p, msg := range map[string]string{
		"nope":           "no such object or prefix",
		"d/nope/":        "no such object or prefix",
		"d/notes.txt":    `unsupported file extension ".txt"`,
		"d/x*":           "glob matched nothing",
		"d/*.txt":        "glob matched no data files",
		"d/[":            "bad glob pattern",
		"d/part=10/sub*": "glob matched nothing",
		"d/[ab].*/":      "glob matched no data files", // files, not folders
	} {
		_, err := readers.List([]string{srv.URL("lake", p)})
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "s3://lake/"+p) {
			t.Errorf("%s: error %v, want one naming the URL with %q", p, err, msg)
		}
	}
	// A file:// URL is a local path.
	files, err := readers.List([]string{"file://" + filepath.ToSlash(filepath.Join(root, "d", "a.parquet"))})
	if err != nil || len(files) != 1 || files[0].Path != filepath.Join(root, "d", "a.parquet") {
		t.Errorf("file:// URL: %+v, %v", files, err)
	}
}

// TestRangeReads reads one narrow column of a wide Parquet file from S3:
// the bytes served are a fraction of the object, every GET of it has a
// Range header, and the values equal those read from disk.
func TestRangeReads(t *testing.T) {
	mem := memory.NewGoAllocator()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "bag", Type: arrow.PrimitiveTypes.Int64},
		{Name: "blob", Type: arrow.BinaryTypes.String},
	}, nil)
	rng := rand.New(rand.NewPCG(6, 1))
	b := array.NewRecordBuilder(mem, sc)
	payload := make([]byte, 512)
	for i := range 4000 {
		b.Field(0).(*array.Int64Builder).Append(int64(i / 10))
		for j := range payload {
			payload[j] = byte('a' + rng.IntN(26))
		}
		b.Field(1).(*array.StringBuilder).Append(string(payload))
	}
	rec := b.NewRecord()
	b.Release()
	defer rec.Release()
	dir := t.TempDir()
	path := filepath.Join(dir, "wide.parquet")
	writeParquet(t, path, sc, []arrow.Record{rec}, 1000, false)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	srv := storetest.NewS3(t, "lake")
	srv.Put(t, "lake", "t/wide.parquet", data)
	srv.Reset()
	ctx := context.Background()
	files, err := readers.ListContext(ctx, []string{srv.URL("lake", "t")})
	if err != nil || len(files) != 1 || files[0].Size != int64(len(data)) {
		t.Fatalf("List = %+v, %v", files, err)
	}
	remote, err := readers.Open(ctx, files[0], mem)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, remote, []string{"bag"}, 0)
	if err := remote.Close(); err != nil {
		t.Fatal(err)
	}
	local := open(t, path, mem)
	want := readAll(t, local, []string{"bag"}, 0)
	sameValues(t, "bag", got, 0, want, 0)
	releaseAll(got)
	releaseAll(want)

	var served int64
	gets := 0
	for _, r := range srv.Requests() {
		if r.Method != "GET" || !strings.HasSuffix(r.Path, "/wide.parquet") {
			continue
		}
		gets++
		served += r.Served
		if r.Range == "" {
			t.Errorf("GET without a Range header: %+v", r)
		}
	}
	t.Logf("%d range GETs served %d of %d bytes", gets, served, len(data))
	if gets == 0 || served*10 > int64(len(data)) {
		t.Errorf("%d range GETs served %d bytes of a %d-byte object; want under a tenth", gets, served, len(data))
	}

	// The wide column's chunks (4 row groups of about 500 KiB each, more
	// than a local read buffer) come in one GET each, plus the reads of
	// the magic and the footer: a GET costs tens of milliseconds on a
	// real store, so many small ones would make reading slow.
	srv.Reset()
	remote, err = readers.Open(ctx, files[0], mem)
	if err != nil {
		t.Fatal(err)
	}
	releaseAll(readAll(t, remote, []string{"blob"}, 0))
	if err := remote.Close(); err != nil {
		t.Fatal(err)
	}
	gets, served = 0, 0
	for _, r := range srv.Requests() {
		if r.Method == "GET" && strings.HasSuffix(r.Path, "/wide.parquet") {
			gets++
			served += r.Served
		}
	}
	t.Logf("the wide column: %d range GETs served %d of %d bytes", gets, served, len(data))
	if gets > 4+3 || served < int64(len(data))/2 {
		t.Errorf("the wide column took %d GETs serving %d of %d bytes; want its 4 chunks in a GET each, plus at most 3 for the magic and footer", gets, served, len(data))
	}
}

// TestOpenURLFormatFromKey: a File given by its URL alone takes its format
// from the key's extension, not from the query after it.
func TestOpenURLFormatFromKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.parquet")
	mem := memory.NewGoAllocator()
	sc := arrow.NewSchema([]arrow.Field{{Name: "bag", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(mem, sc)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	rec := b.NewRecord()
	b.Release()
	defer rec.Release()
	writeParquet(t, path, sc, []arrow.Record{rec}, 10, false)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := storetest.NewS3(t, "lake")
	srv.Put(t, "lake", "t/a.parquet", data)
	u := srv.URL("lake", "t/a.parquet")
	if !strings.Contains(u, "?") {
		t.Fatalf("the test needs a URL with a query: %s", u)
	}
	r, err := readers.Open(context.Background(), readers.File{Path: u}, mem)
	if err != nil {
		t.Fatal(err)
	}
	if r.File().Format != readers.Parquet || r.NumRows() != 3 {
		t.Errorf("format %v, %d rows; want parquet, 3", r.File().Format, r.NumRows())
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRequests counts the requests that opening a Parquet object
// takes: its attributes, then one range read of its last 64 KiB that
// holds the footer's length and the footer (and, in a file that small,
// the magic at its start), plus one for the magic in a larger file. Each
// costs a real store's first-byte latency, and planning opens every file.
func TestOpenRequests(t *testing.T) {
	mem := memory.NewGoAllocator()
	sc := arrow.NewSchema([]arrow.Field{{Name: "bag", Type: arrow.PrimitiveTypes.Int64}, {Name: "x", Type: arrow.PrimitiveTypes.Float64}}, nil)
	dir := t.TempDir()
	srv := storetest.NewS3(t, "lake")
	for _, tc := range []struct {
		name        string
		rows        int
		heads, gets int
	}{
		{"small", 100, 1, 1},
		{"large", 200000, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(tc.rows)))
			b := array.NewRecordBuilder(mem, sc)
			for i := range tc.rows {
				b.Field(0).(*array.Int64Builder).Append(int64(i / 10))
				b.Field(1).(*array.Float64Builder).Append(rng.NormFloat64())
			}
			rec := b.NewRecord()
			b.Release()
			defer rec.Release()
			path := filepath.Join(dir, tc.name+".parquet")
			writeParquet(t, path, sc, []arrow.Record{rec}, 50000, false)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if small := len(data) <= 64<<10; small != (tc.name == "small") {
				t.Fatalf("%s file of %d bytes", tc.name, len(data))
			}
			srv.Put(t, "lake", "t/"+tc.name+".parquet", data)
			srv.Reset()
			r, err := readers.Open(context.Background(), readers.File{Path: srv.URL("lake", "t/"+tc.name+".parquet")}, mem)
			if err != nil {
				t.Fatal(err)
			}
			if r.NumRows() != int64(tc.rows) {
				t.Errorf("%d rows, want %d", r.NumRows(), tc.rows)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			heads, gets := 0, 0
			for _, q := range srv.Requests() {
				switch q.Method {
				case "HEAD":
					heads++
				case "GET":
					gets++
				}
			}
			if heads != tc.heads || gets != tc.gets {
				t.Errorf("opening a %d-byte object took %d HEAD and %d GET requests, want %d and %d: %+v",
					len(data), heads, gets, tc.heads, tc.gets, srv.Requests())
			}
		})
	}
}
