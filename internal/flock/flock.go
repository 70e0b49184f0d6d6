// Package flock takes the exclusive advisory locks (flock(2)) that mark
// the folders of a live run: its staging, spill and Beam shard folders.
// The kernel lets go of a lock when its process dies, so a folder whose
// lock is free belongs to a run that is gone and may be removed.
package flock

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Open opens path (creating it when create is set; it must not exist
// then) and takes an exclusive flock on it without waiting. It returns an
// error wrapping unix.EWOULDBLOCK when another open file holds the lock,
// in this process or another. Closing the file releases the lock.
func Open(path string, create bool) (*os.File, error) {
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return f, nil
}

// Create makes the lock file path, which must not exist, and returns it
// locked. It is created and locked under another name (path + ".new") and
// then linked into place, so that it is never seen unlocked: made in
// place, it would be there unlocked for a moment, in which another run's
// cleaner would take its folder for a dead run's and remove it, or hold
// the lock itself so that Create failed. A cleaner leaves a young folder
// without a lock file alone. The link, unlike a rename, refuses a path
// that exists (the lock of another holder).
func Create(path string) (*os.File, error) {
	tmp := path + ".new"
	f, err := Open(tmp, true)
	if err != nil {
		if !errors.Is(err, fs.ErrExist) {
			err = errors.Join(err, ignoreMissing(os.Remove(tmp))) // created, not locked
		}
		return nil, err
	}
	if err := link(tmp, path); err != nil {
		if !noHardLinks(err) {
			return nil, errors.Join(err, f.Close(), os.Remove(tmp))
		}
		// A file system without hard links (some FUSE and SMB mounts):
		// rename, once the path is seen free (callers lock folders of
		// their own, which nobody else creates files in).
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			return nil, errors.Join(&fs.PathError{Op: "create", Path: path, Err: fs.ErrExist}, f.Close(), os.Remove(tmp))
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, errors.Join(err, f.Close(), os.Remove(tmp))
		}
		return f, nil
	}
	if err := os.Remove(tmp); err != nil {
		return nil, errors.Join(err, f.Close(), os.Remove(path))
	}
	return f, nil
}

// link is os.Link; tests replace it to stand for a file system without
// hard links.
var link = os.Link

// noHardLinks reports whether a link error says the file system has no
// hard links.
func noHardLinks(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS)
}

// ignoreMissing returns err unless it says the file does not exist.
func ignoreMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
