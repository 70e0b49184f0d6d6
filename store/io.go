package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
)

// File is a file or object open for random access. ReadAt may be called
// concurrently; on an object every ReadAt is one range read.
type File interface {
	io.ReaderAt
	io.Seeker
	io.Closer
	// Size is the file's size in bytes when it was opened.
	Size() int64
	// ModTime is the file's modification time when it was opened, as
	// Stat gives it.
	ModTime() time.Time
}

// Open opens the file or object at location for reading. A local one must
// be a regular file. An object is read with range reads (one per ReadAt,
// of just the bytes asked for), never downloaded whole; ctx bounds every
// read of the returned File.
func Open(ctx context.Context, location string) (File, error) {
	location, err := Clean(location)
	if err != nil {
		return nil, err
	}
	if !IsURL(location) {
		f, err := os.Open(location)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err == nil && !fi.Mode().IsRegular() {
			err = fmt.Errorf("%s: not a regular file", location)
		}
		if err != nil {
			if cerr := f.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
			return nil, err
		}
		return &localFile{File: f, size: fi.Size(), mtime: fi.ModTime()}, nil
	}
	l, b, err := open(ctx, location)
	if err != nil {
		return nil, err
	}
	a, err := b.Attributes(ctx, l.key)
	if err != nil {
		return nil, wrapErr(l, err)
	}
	return &object{ctx: ctx, b: b, l: l, size: a.Size, mtime: a.ModTime}, nil
}

// localFile is an open local file.
type localFile struct {
	*os.File
	size  int64
	mtime time.Time
}

func (f *localFile) Size() int64        { return f.size }
func (f *localFile) ModTime() time.Time { return f.mtime }

// object is an object open for range reads.
type object struct {
	ctx   context.Context
	b     *blob.Bucket
	l     loc
	size  int64
	mtime time.Time

	mu     sync.Mutex
	off    int64 // for Seek
	closed bool
}

func (o *object) Size() int64        { return o.size }
func (o *object) ModTime() time.Time { return o.mtime }

// ReadAt reads len(p) bytes at off with one range read.
func (o *object) ReadAt(p []byte, off int64) (int, error) {
	o.mu.Lock()
	closed := o.closed
	o.mu.Unlock()
	if closed {
		return 0, fmt.Errorf("%s: %w", o.l.name(), os.ErrClosed)
	}
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", o.l.name(), off)
	}
	if off >= o.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), o.size-off)
	if n == 0 {
		return 0, nil
	}
	r, err := o.b.NewRangeReader(o.ctx, o.l.key, off, n, nil)
	if err != nil {
		return 0, wrapErr(o.l, err)
	}
	got, err := io.ReadFull(r, p[:n])
	if cerr := r.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("the object is shorter than when it was opened (%d bytes): %w", o.size, err)
		}
		return got, fmt.Errorf("%s: reading %d bytes at %d: %w", o.l.name(), n, off, err)
	}
	if n < int64(len(p)) {
		return got, io.EOF
	}
	return got, nil
}

// Seek sets the offset for the next Seek relative to io.SeekCurrent;
// reads go through ReadAt. Parquet's reader seeks to the end for the size.
func (o *object) Seek(offset int64, whence int) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += o.off
	case io.SeekEnd:
		offset += o.size
	default:
		return 0, fmt.Errorf("%s: bad whence %d", o.l.name(), whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("%s: seek to negative offset %d", o.l.name(), offset)
	}
	o.off = offset
	return offset, nil
}

// Close ends reading; the bucket stays open for others.
func (o *object) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	return nil
}

// Aborter is implemented by the writers Create returns: Abort discards
// what was written (a local file is removed, an object is never
// committed) and releases the writer, instead of Close.
type Aborter interface {
	Abort() error
}

// Create creates (or truncates) the file or object at location for
// writing. A local file's parent folders are created; Close fsyncs and
// closes it. An object is uploaded as it is written and appears only when
// Close succeeds: after a failed Write, a failed Close, Abort or the end of
// ctx before Close, it does not appear (nor does the version it would have
// replaced change). Once Close has begun, the end of ctx no longer cuts
// the commit short: it has a minute more to finish (see objectWriter).
// The writer also implements Aborter.
func Create(ctx context.Context, location string) (io.WriteCloser, error) {
	location, err := Clean(location)
	if err != nil {
		return nil, err
	}
	if !IsURL(location) {
		if err := os.MkdirAll(filepath.Dir(location), 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(location, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, err
		}
		return &localWriter{f: f}, nil
	}
	l, b, err := open(ctx, location)
	if err != nil {
		return nil, err
	}
	// The upload's context ends with ctx, but not during Close: see
	// objectWriter.interrupt.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ct := "application/octet-stream"
	if strings.HasSuffix(l.key, ".json") {
		ct = "application/json"
	}
	opts := &blob.WriterOptions{ContentType: ct}
	if l.u.Scheme == "s3" {
		opts.BeforeWrite = abortMultipartOnFailure(b)
	}
	w, err := b.NewWriter(wctx, l.key, opts)
	if err != nil {
		cancel()
		return nil, wrapErr(l, err)
	}
	ow := &objectWriter{w: w, ctx: ctx, cancel: cancel, l: l}
	ow.stop = context.AfterFunc(ctx, ow.interrupt)
	return ow, nil
}

// commitGrace is how long the commit of an object (its writer's Close)
// may go on once the writer's context has ended (as the pipeline gives
// the upload of manifest.json and _SUCCESS a minute).
const commitGrace = time.Minute

// abortMultipartOnFailure makes an S3 upload that fails, or is
// cancelled (Abort, the end of ctx), abort its multipart upload (an object
// of more than 16 MiB is uploaded in parts as it is written) within
// commitGrace. The AWS transfer manager aborts it with the upload's own
// context unless its FailTimeout is set, and gocloud leaves it unset: once
// that context was cancelled the abort request failed, and the parts
// uploaded so far stayed in the bucket for good, stored and billed but
// listed by no listing of objects, so that no RemoveAll of a run prefix
// could delete them. The writer's transfer manager is remade as gocloud
// makes it (see s3blob's NewTypedWriter), with FailTimeout set.
func abortMultipartOnFailure(b *blob.Bucket) func(as func(any) bool) error {
	return func(as func(any) bool) error {
		var tm *transfermanager.Client
		var c *s3.Client
		if !as(&tm) || tm == nil || !b.As(&c) || c == nil {
			return nil
		}
		*tm = *transfermanager.New(c, func(o *transfermanager.Options) {
			// gocloud's URL opener sets the client's and the transfer
			// manager's from the same config.
			o.RequestChecksumCalculation = c.Options().RequestChecksumCalculation
			o.FailTimeout = commitGrace
		})
		return nil
	}
}

// localWriter is a local file being written.
type localWriter struct {
	f    *os.File
	done bool
}

func (w *localWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

// Close fsyncs and closes the file.
func (w *localWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Abort closes and removes the file.
func (w *localWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	err := w.f.Close()
	if rerr := os.Remove(w.f.Name()); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return err
}

// objectWriter is an object being uploaded.
//
// The end of its context cancels the upload, unless Close has begun: the
// commit then has commitGrace more to finish, so that when Close returns
// its caller knows whether the object exists. An upload cut short during
// its commit could still be stored (a store that has the whole body may
// keep it although the client gave up), after Close had reported it
// failed and after the caller's cleanup (a run's Abort, which lists and
// deletes its run prefix) had looked for it: the object stayed for good.
type objectWriter struct {
	w      *blob.Writer
	ctx    context.Context    // the caller's
	cancel context.CancelFunc // of the upload's context
	stop   func() bool        // stops interrupt being called
	l      loc
	err    error // the first Write error: Close then aborts
	done   bool

	mu         sync.Mutex
	committing bool        // Close has begun
	grace      *time.Timer // ends the upload commitGrace after interrupt
}

// interrupt is called when the caller's context ends.
func (w *objectWriter) interrupt() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.committing {
		w.grace = time.AfterFunc(commitGrace, w.cancel)
		return
	}
	w.cancel()
}

func (w *objectWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.w.Write(p)
	if err != nil {
		w.err = wrapErr(w.l, err)
		return n, w.err
	}
	return n, nil
}

// Close commits the object, unless a Write failed or the context has
// ended: then it aborts and returns that error.
func (w *objectWriter) Close() error {
	if w.done {
		return w.err
	}
	if w.err == nil {
		if err := w.ctx.Err(); err != nil {
			w.err = wrapErr(w.l, err)
		}
	}
	if w.err != nil {
		return errors.Join(w.err, w.Abort())
	}
	w.mu.Lock()
	w.committing = true
	w.mu.Unlock()
	w.done = true
	defer w.release()
	if err := w.w.Close(); err != nil {
		w.err = wrapErr(w.l, err)
		return w.err
	}
	return nil
}

// release ends the upload's context, and the watch of the caller's.
func (w *objectWriter) release() {
	w.stop()
	w.cancel()
	w.mu.Lock()
	if w.grace != nil {
		w.grace.Stop()
	}
	w.mu.Unlock()
}

// Abort cancels the upload: the object does not appear.
func (w *objectWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	defer w.stop()
	w.cancel()
	_ = w.w.Close() // reports the cancellation, which is the point
	return nil
}

// secretWords mark query parameters whose values Redact hides.
var secretWords = []string{"secret", "password", "passwd", "token", "signature", "sig", "credential", "key", "auth", "sas"}

// Redact returns location for logs, errors and manifests: an object URL's
// userinfo and the values of query parameters whose names suggest a secret
// (secret, password, token, signature, sig, credential, key, auth, sas
// anywhere in the name, such as sas_token or access_key) are replaced by
// "REDACTED". Local paths are returned unchanged.
func Redact(location string) string {
	if !IsURL(location) && !isFileURL(location) {
		return location
	}
	u, err := url.Parse(location)
	if err != nil {
		// Unparseable: show the scheme and bucket at most.
		scheme, rest, _ := strings.Cut(location, "://")
		host, _, _ := strings.Cut(rest, "/")
		if i := strings.LastIndex(host, "@"); i >= 0 {
			host = "REDACTED@" + host[i+1:]
		}
		host, _, _ = strings.Cut(host, "?")
		return scheme + "://" + host + "/…"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k, vs := range q {
			if secretName(k) {
				for i := range vs {
					vs[i] = "REDACTED"
				}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// SecretValues returns the values Redact hides in location (userinfo and
// secret-looking query values, raw and decoded), for callers that must
// scrub them from text that quotes the location in other forms.
func SecretValues(location string) []string {
	if !IsURL(location) {
		return nil
	}
	u, err := url.Parse(location)
	if err != nil {
		return nil
	}
	var out []string
	if u.User != nil {
		out = append(out, u.User.String(), u.User.Username())
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	for k, vs := range u.Query() {
		if secretName(k) {
			for _, v := range vs {
				out = append(out, v, url.QueryEscape(v))
			}
		}
	}
	var keep []string
	for _, s := range out {
		if len(s) >= 4 { // too short to scrub without mangling other text
			keep = append(keep, s)
		}
	}
	return keep
}

// secretName reports whether a query parameter's name suggests a secret.
func secretName(k string) bool {
	k = strings.ToLower(k)
	if k == "kmskeyid" { // an identifier, not a secret
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
