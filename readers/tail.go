package readers

import (
	"fmt"

	"github.com/mixbatch/mixbatch/store"
)

// footerPrefetch is how many bytes at the end of a Parquet object Open
// reads in one request: enough for the footer of nearly every file (as
// Arrow C++ and DuckDB read 64 KiB), and for a small file all of it.
const footerPrefetch = 64 << 10

// tailCache serves reads that fall in an object's last bytes from one
// range read made when the file is opened. Opening a Parquet file reads
// its first 8 bytes (the magic), its last 8 (the footer's length) and
// then the footer: on an object store each read is a request waiting tens
// of milliseconds for its first byte, and with the tail cached they are
// one request (a file of at most footerPrefetch bytes) or two. Open drops
// the buffer once the footer is parsed (release); later reads go to the
// object.
type tailCache struct {
	store.File
	off int64
	buf []byte
}

// newTailCache reads the last min(size, footerPrefetch) bytes of src.
func newTailCache(src store.File, size int64) (*tailCache, error) {
	n := min(size, footerPrefetch)
	c := &tailCache{File: src, off: size - n, buf: make([]byte, n)}
	if _, err := src.ReadAt(c.buf, c.off); err != nil {
		return nil, fmt.Errorf("reading the last %d bytes: %w", n, err)
	}
	return c, nil
}

// ReadAt implements io.ReaderAt.
func (c *tailCache) ReadAt(p []byte, off int64) (int, error) {
	if c.buf != nil && off >= c.off && off+int64(len(p)) <= c.off+int64(len(c.buf)) {
		return copy(p, c.buf[off-c.off:]), nil
	}
	return c.File.ReadAt(p, off)
}

// release drops the cached bytes. It must not run concurrently with
// ReadAt: Open calls it before the Reader is returned.
func (c *tailCache) release() { c.buf = nil }
