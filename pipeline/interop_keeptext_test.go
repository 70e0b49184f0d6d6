package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mixbatch/mixbatch/readers"
)

// TestInvalidUTF8KeepColumn: a string keep column, copied into
// posteriors/, with a value that is not valid UTF-8 fails the run naming
// the file, the column and the row (counted within the file, here in the
// second row group of a Parquet file and in an IPC file with a
// dictionary column), as an invalid bag key does: DuckDB refuses to read
// such output. Valid text that is not ASCII is copied as it is.
func TestInvalidUTF8KeepColumn(t *testing.T) {
	const n = 1500 // row groups of 1000 rows (writeParquet)
	keys := make([]int64, n)
	x := make([]int64, n)
	names := make([]string, n)
	for i := range names {
		keys[i], x[i], names[i] = int64(i%7), int64(i%2), fmt.Sprintf("café-%d", i)
	}
	bad := append([]string(nil), names...)
	bad[1234] = "marker-\xff\xfe"
	keep := func(c *Config) { c.Input.Keep = []string{"name"} }

	t.Run("parquet", func(t *testing.T) {
		j := newJob(t)
		writeParquet(t, j.file("a.parquet"), column("bag", keys), column("x", x), column("name", names))
		writeParquet(t, j.file("b.parquet"), column("bag", keys), column("x", x), column("name", bad))
		err := runBad(t, j.config(t, bernoulliModel, keep))
		wantTextError(t, err, "b.parquet", "name", 1234, `"marker-\xff\xfe"`)
	})
	t.Run("ipc-dictionary", func(t *testing.T) {
		j := newJob(t)
		if err := os.MkdirAll(j.in, 0o755); err != nil {
			t.Fatal(err)
		}
		writeIPC(t, j.file("a.arrow"), column("bag", keys), column("x", x), dictColumn("name", bad))
		err := runBad(t, j.config(t, bernoulliModel, keep))
		wantTextError(t, err, "a.arrow", "name", 1234, `"marker-\xff\xfe"`)
	})
	t.Run("valid", func(t *testing.T) {
		j := newJob(t)
		writeParquet(t, j.file("a.parquet"), column("bag", keys), column("x", x), column("name", names))
		mustRun(t, j.config(t, bernoulliModel, keep), Options{})
		post := readTable(t, j.out, PosteriorsTable)
		if got := post.cols["name"]; len(got) != n || got[1234] != "café-1234" {
			t.Errorf("posteriors name column: %d values, row 1234 %v", len(got), got[1234])
		}
	})
}

// wantTextError checks that err is a *readers.TextError naming file (by
// base name), column, row and value, and that its text says so.
func wantTextError(t *testing.T, err error, file, column string, row int64, value string) {
	t.Helper()
	var te *readers.TextError
	if !errors.As(err, &te) {
		t.Fatalf("error %q (%T) is not a *readers.TextError", err, err)
	}
	if filepath.Base(te.Path) != file || te.Column != column || te.Row != row || te.Value != value {
		t.Errorf("TextError{Path: %q, Column: %q, Row: %d, Value: %q}, want .../%s, %q, %d, %q", te.Path, te.Column, te.Row, te.Value, file, column, row, value)
	}
	wantText(t, err, file, fmt.Sprintf("column %q, row %d", column, row), "value "+value, "not valid UTF-8")
}
