package readers_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mixbatch/mixbatch/readers"
)

// TestListLinksReportsSkippedFolders: ListLinks reports every symbolic
// link to a folder that it did not follow inside a walked folder (also
// one named like a data file, and inside a glob's match), so that the
// run can warn about it, and not links to files (followed), hidden links
// (skipped like every hidden name) or a linked input folder itself (walked).
func TestListLinksReportsSkippedFolders(t *testing.T) {
	root := tree(t, dataset...)
	links := map[string]string{
		"d/inner":             "d/part=3",
		"d/dir.parquet":       "d/part=10",
		"d/part=3/up":         "d",
		"d/.hidden":           "d/part=3",
		"d/file-link.arrow":   "d/b.arrow",
		"linked-input":        "d",
		"elsewhere/nothing":   "d/part=10",
		"elsewhere/x.ipc":     "d/part=10/x.ipc",
		"elsewhere/a.parquet": "d/a.parquet",
	}
	if err := os.MkdirAll(filepath.Join(root, "elsewhere"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range links {
		if err := os.Symlink(filepath.Join(root, target), filepath.Join(root, link)); err != nil {
			t.Skip("no symbolic links here:", err)
		}
	}
	l, err := readers.ListLinks(context.Background(), []string{filepath.Join(root, "d"), filepath.Join(root, "linked-input", "part=3"), filepath.Join(root, "else*")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range l.SkippedLinks {
		r, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.ToSlash(r))
	}
	sameStrings(t, got, []string{"d/dir.parquet", "d/inner", "d/part=3/up", "elsewhere/nothing", "linked-input/part=3/up"})
	files, err := readers.List([]string{filepath.Join(root, "d")})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, rel(t, root, files), rel(t, root, onlyUnder(l.Files, filepath.Join(root, "d"))))
}

// onlyUnder returns the files under dir.
func onlyUnder(files []readers.File, dir string) []readers.File {
	var out []readers.File
	for _, f := range files {
		if r, err := filepath.Rel(dir, f.Path); err == nil && r[0] != '.' {
			out = append(out, f)
		}
	}
	return out
}
