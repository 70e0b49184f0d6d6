package flock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpen: a created lock is held against a second Open (EWOULDBLOCK),
// is free again once closed, and create refuses an existing file; a
// missing file without create is fs.ErrNotExist.
func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	if _, err := Open(path, false); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open of a missing file: %v, want ErrNotExist", err)
	}
	held, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, false); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Errorf("Open of a held lock: %v, want EWOULDBLOCK", err)
	}
	if _, err := Open(path, true); !errors.Is(err, os.ErrExist) {
		t.Errorf("create of an existing lock file: %v, want ErrExist", err)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	free, err := Open(path, false)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	if err := free.Close(); err != nil {
		t.Fatal(err)
	}
}
