package readers_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mixbatch/mixbatch/readers"
)

// tree creates files (with distinct sizes) and directories under a
// temporary root and returns the root. Names ending in "/" are directories.
func tree(t *testing.T, names ...string) string {
	t.Helper()
	root := t.TempDir()
	for i, name := range names {
		p := filepath.Join(root, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, i+1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// rel returns the paths of files relative to root, with forward slashes.
func rel(t *testing.T, root string, files []readers.File) []string {
	t.Helper()
	out := make([]string, len(files))
	for i, f := range files {
		r, err := filepath.Rel(root, f.Path)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = filepath.ToSlash(r)
	}
	return out
}

func sameStrings(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

var dataset = []string{
	"d/a.parquet",
	"d/b.arrow",
	"d/part=3/c.parq",
	"d/part=3/sub/e.feather",
	"d/part=10/x.ipc",
	"d/UPPER.PARQUET",
	"d/_SUCCESS",
	"d/_truth.parquet",
	"d/.hidden.parquet",
	"d/.tmp/f.parquet",
	"d/_tmp/g.parquet",
	"d/part=3/_staging/h.parquet",
	"d/notes.txt",
	"d/data.csv",
	"d/empty/",
}

// TestListDirectory walks a directory recursively, including hive folders,
// skipping hidden entries and other extensions, and fills Size and Format.
func TestListDirectory(t *testing.T) {
	root := tree(t, dataset...)
	files, err := readers.List([]string{filepath.Join(root, "d")})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, rel(t, root, files), []string{
		"d/UPPER.PARQUET",
		"d/a.parquet",
		"d/b.arrow",
		"d/part=10/x.ipc",
		"d/part=3/c.parq",
		"d/part=3/sub/e.feather",
	})
	want := map[string]readers.Format{
		"d/UPPER.PARQUET": readers.Parquet, "d/a.parquet": readers.Parquet, "d/b.arrow": readers.IPC,
		"d/part=10/x.ipc": readers.IPC, "d/part=3/c.parq": readers.Parquet, "d/part=3/sub/e.feather": readers.IPC,
	}
	for i, f := range files {
		name := rel(t, root, files)[i]
		if f.Format != want[name] {
			t.Errorf("%s: format %v, want %v", name, f.Format, want[name])
		}
		fi, err := os.Stat(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if f.Size != fi.Size() {
			t.Errorf("%s: size %d, want %d", name, f.Size, fi.Size())
		}
	}
}

// TestListLinkedDirectory: an input folder that is a symbolic link (with
// or without a trailing slash) is walked as the folder it points to, its
// files named under the link; a link to a folder inside it is not
// followed.
func TestListLinkedDirectory(t *testing.T) {
	root := tree(t, dataset...)
	link := filepath.Join(root, "link")
	if err := os.Symlink(filepath.Join(root, "d"), link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if err := os.Symlink(filepath.Join(root, "d", "part=3"), filepath.Join(root, "d", "inner")); err != nil {
		t.Fatal(err)
	}
	want := []string{"link/UPPER.PARQUET", "link/a.parquet", "link/b.arrow", "link/part=10/x.ipc", "link/part=3/c.parq", "link/part=3/sub/e.feather"}
	for _, p := range []string{link, link + string(filepath.Separator)} {
		files, err := readers.List([]string{p})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		sameStrings(t, rel(t, root, files), want)
	}
}

// TestListExplicit takes files named explicitly even when hidden, and
// sorts and deduplicates across entries naming the same file differently.
func TestListExplicit(t *testing.T) {
	root := tree(t, dataset...)
	d := filepath.Join(root, "d")
	files, err := readers.List([]string{
		filepath.Join(d, "part=3"),
		filepath.Join(d, "_truth.parquet"),
		filepath.Join(d, "b.arrow"),
		filepath.Join(d, "part=3", "..", "b.arrow"),
		filepath.Join(d, "part=3", "c.parq"),
		filepath.Join(d, ".tmp"),
	})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, rel(t, root, files), []string{
		"d/.tmp/f.parquet",
		"d/_truth.parquet",
		"d/b.arrow",
		"d/part=3/c.parq",
		"d/part=3/sub/e.feather",
	})
}

// TestListGlob expands patterns matching files and directories.
func TestListGlob(t *testing.T) {
	root := tree(t, dataset...)
	d := filepath.Join(root, "d")
	for _, c := range []struct {
		patterns []string
		want     []string
	}{
		{[]string{filepath.Join(d, "*.parquet")}, []string{"d/a.parquet"}},
		{[]string{filepath.Join(d, "part=*")}, []string{"d/part=10/x.ipc", "d/part=3/c.parq", "d/part=3/sub/e.feather"}},
		{[]string{filepath.Join(d, "*")}, []string{
			"d/UPPER.PARQUET", "d/a.parquet", "d/b.arrow", "d/part=10/x.ipc", "d/part=3/c.parq", "d/part=3/sub/e.feather",
		}},
		{[]string{filepath.Join(d, "[ab].*"), filepath.Join(d, "a.parquet")}, []string{"d/a.parquet", "d/b.arrow"}},
	} {
		files, err := readers.List(c.patterns)
		if err != nil {
			t.Errorf("%v: %v", c.patterns, err)
			continue
		}
		sameStrings(t, rel(t, root, files), c.want)
	}
}

// TestListGlobFolders: a glob ending in a separator matches folders only,
// as in a shell; filepath.Glob alone matched nothing, and "data/mar*/"
// failed with "glob matched nothing" where "data/mar*" worked.
func TestListGlobFolders(t *testing.T) {
	root := tree(t, dataset...)
	files, err := readers.List([]string{filepath.Join(root, "d", "part=*") + "/"})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, rel(t, root, files), []string{"d/part=10/x.ipc", "d/part=3/c.parq", "d/part=3/sub/e.feather"})
}

// TestListLiteralMetacharacters takes an existing path literally even if
// it contains glob metacharacters.
func TestListLiteralMetacharacters(t *testing.T) {
	root := tree(t, "x/[1].parquet", "x/1.parquet")
	files, err := readers.List([]string{filepath.Join(root, "x", "[1].parquet")})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, rel(t, root, files), []string{"x/[1].parquet"})
}

// TestListErrors checks every error case names the offending path.
func TestListErrors(t *testing.T) {
	root := tree(t, dataset...)
	d := filepath.Join(root, "d")
	for _, c := range []struct {
		path, want string
	}{
		{filepath.Join(d, "missing.parquet"), "no such file or directory"},
		{filepath.Join(d, "nothing*.parquet"), "glob matched nothing"},
		{filepath.Join(d, "*.txt"), "glob matched no data files"},
		{filepath.Join(d, "_*"), "glob matched no data files"},
		{filepath.Join(d, "empty"), "directory has no data files"},
		{filepath.Join(d, ".tmp", "..", "_tmp", ".."), ""}, // d itself: fine
		{filepath.Join(d, "notes.txt"), "unsupported file extension"},
		{filepath.Join(d, "data.csv"), "unsupported file extension"},
		{filepath.Join(d, "[x"), "bad glob pattern"},
		{filepath.Join(d, "[ab].*") + "/", "glob matched no data files"}, // files, not folders
	} {
		_, err := readers.List([]string{filepath.Join(d, "a.parquet"), c.path})
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.path, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no error, want %q", c.path, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want it to name the path and say %q", c.path, err, c.want)
		}
	}
	// A directory whose only data files are hidden has no data files.
	hiddenOnly := tree(t, "h/_truth.parquet", "h/.x/a.parquet", "h/_SUCCESS")
	if _, err := readers.List([]string{filepath.Join(hiddenOnly, "h")}); err == nil || !strings.Contains(err.Error(), "no data files") {
		t.Errorf("directory with only hidden files: error %v", err)
	}
	if _, err := readers.List(nil); err == nil {
		t.Error("List(nil) succeeded")
	}
}

// TestFormatString checks the names of formats.
func TestFormatString(t *testing.T) {
	for f, want := range map[readers.Format]string{readers.Parquet: "parquet", readers.IPC: "ipc", 0: "Format(0)"} {
		if got := f.String(); got != want {
			t.Errorf("Format(%d).String() = %q, want %q", int(f), got, want)
		}
	}
}
