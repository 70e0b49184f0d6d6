// Package store reads, writes and lists files at locations that are either
// local paths or object-store URLs, so that readers, writers and the
// pipeline (and the Beam workers) handle both with the same calls.
//
// A location is a local path, a file:// URL (which is that local path), or
// an object URL: s3://bucket/key, gs://bucket/key or azblob://container/key,
// opened through gocloud.dev/blob. The URL's query configures the bucket,
// as gocloud's URL openers define (for example
// s3://bucket/data?region=eu-west-1&endpoint=http://127.0.0.1:9000&use_path_style=true);
// the path after the bucket is the key, or a key prefix. Credentials come
// from each cloud's standard environment and files, as gocloud's openers
// read them; this package never logs them, and Redact hides userinfo and
// secret-looking query values of a URL wherever one is shown.
//
// Buckets are opened once per bucket URL (scheme, bucket and query) and
// kept for the life of the process in a registry that every call shares;
// a range read never opens a bucket. CloseBuckets closes them (tests, or a
// long-lived process that is done with a store).
//
// The package holds no statistics and knows no file format.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob:// URLs
	"gocloud.dev/blob/gcsblob"     // gs:// URLs
	_ "gocloud.dev/blob/s3blob"    // s3:// URLs
	"gocloud.dev/gcerrors"
	"gocloud.dev/gcp"
)

// Schemes are the URL schemes of the object stores a location may name.
var Schemes = []string{"s3", "gs", "azblob"}

// IsURL reports whether location names an object in an object store: it
// has the form scheme://... with a scheme other than file (file:// URLs are
// local paths, see Clean). Open, Create and the others refuse a scheme not
// in Schemes.
func IsURL(location string) bool {
	scheme, _, ok := strings.Cut(location, "://")
	if !ok || scheme == "" || strings.EqualFold(scheme, "file") {
		return false
	}
	for _, c := range scheme {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// isFileURL reports whether location is a file:// URL.
func isFileURL(location string) bool {
	return len(location) >= 7 && strings.EqualFold(location[:7], "file://")
}

// Clean returns location in the form the other functions take it: a
// file:// URL becomes its local path (file:///data/x or
// file://localhost/data/x is /data/x); an object URL is checked (a scheme
// in Schemes, a bucket, no userinfo, no fragment) and returned unchanged; a
// local path is returned unchanged.
func Clean(location string) (string, error) {
	if isFileURL(location) {
		u, err := url.Parse(location)
		if err != nil {
			return "", fmt.Errorf("%s: %w", Redact(location), err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("%s: a file URL names a local path (file:///path), not host %q", Redact(location), u.Host)
		}
		if u.Path == "" || u.RawQuery != "" || u.Fragment != "" {
			return "", fmt.Errorf("%s: a file URL is file:///absolute/path, with no query", Redact(location))
		}
		return filepath.FromSlash(u.Path), nil
	}
	if !IsURL(location) {
		return location, nil
	}
	if _, err := parse(location); err != nil {
		return "", err
	}
	return location, nil
}

// loc is a parsed object URL.
type loc struct {
	raw    string   // as given
	u      *url.URL // parsed
	bucket string   // scheme://host?query: the registry's key
	key    string   // the path after the bucket, without its leading slash
}

// parse parses an object URL.
func parse(location string) (loc, error) {
	u, err := url.Parse(location)
	if err != nil {
		return loc{}, fmt.Errorf("%s: not a valid URL: %w", Redact(location), errors.Unwrap(err))
	}
	scheme := strings.ToLower(u.Scheme)
	known := false
	for _, s := range Schemes {
		known = known || s == scheme
	}
	switch {
	case !known:
		return loc{}, fmt.Errorf("%s: unsupported URL scheme %q (want %s:// or file://)", Redact(location), u.Scheme, strings.Join(Schemes, "://, "))
	case u.Host == "":
		return loc{}, fmt.Errorf("%s: no bucket in the URL (want %s://bucket/key)", Redact(location), scheme)
	case u.User != nil:
		return loc{}, fmt.Errorf("%s: credentials do not belong in the URL; they come from the environment", Redact(location))
	case u.Fragment != "":
		return loc{}, fmt.Errorf("%s: a URL with a fragment (#) is not a location", Redact(location))
	}
	b := scheme + "://" + u.Host
	if u.RawQuery != "" {
		b += "?" + u.RawQuery
	}
	return loc{raw: location, u: u, bucket: b, key: strings.TrimPrefix(u.Path, "/")}, nil
}

// with returns the URL of key in the same bucket.
func (l loc) with(key string) string {
	u := *l.u
	u.Path = "/" + key
	u.RawPath = ""
	if key == "" {
		u.Path = ""
	}
	return u.String()
}

// name is the location for messages.
func (l loc) name() string { return Redact(l.raw) }

// registry holds the buckets opened so far, by bucket URL.
var registry struct {
	sync.Mutex
	buckets map[string]*blob.Bucket
}

// bucketOf returns the (cached) bucket of l.
func bucketOf(ctx context.Context, l loc) (*blob.Bucket, error) {
	registry.Lock()
	defer registry.Unlock()
	if b := registry.buckets[l.bucket]; b != nil {
		return b, nil
	}
	// The bucket outlives this call: it must not die with ctx.
	b, err := openBucket(context.WithoutCancel(ctx), l)
	if err != nil {
		return nil, fmt.Errorf("%s: opening the bucket: %w", l.name(), scrub(err, l.raw))
	}
	if registry.buckets == nil {
		registry.buckets = map[string]*blob.Bucket{}
	}
	registry.buckets[l.bucket] = b
	return b, nil
}

// openBucket opens the bucket of l with gocloud's URL openers, except for
// gs:// when no Google credentials can be found (and no emulator is set):
// gcsblob's default opener would then print a warning with fmt.Printf, to
// stdout, where mixbatch's summary line goes, and go on with empty
// credentials. Here the bucket is opened anonymously instead, which is
// what empty credentials amount to: a public bucket can be read, and any
// other answers each request with an error naming it.
func openBucket(ctx context.Context, l loc) (*blob.Bucket, error) {
	if l.u.Scheme == "gs" && os.Getenv("STORAGE_EMULATOR_HOST") == "" && os.Getenv("STORAGE_EMULATOR_HOST_GRPC") == "" {
		if _, err := gcp.DefaultCredentials(ctx); err != nil {
			u, err := url.Parse(l.bucket)
			if err != nil {
				return nil, err
			}
			o := &gcsblob.URLOpener{Client: gcp.NewAnonymousHTTPClient(gcp.DefaultTransport())}
			return o.OpenBucketURL(ctx, u)
		}
	}
	return blob.OpenBucket(ctx, l.bucket)
}

// CloseBuckets closes every bucket opened so far and forgets them; later
// calls open them again. Files and writers still open on them fail.
func CloseBuckets() error {
	registry.Lock()
	defer registry.Unlock()
	var errs []error
	for u, b := range registry.buckets {
		if err := b.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: closing the bucket: %w", Redact(u), err))
		}
	}
	registry.buckets = nil
	return errors.Join(errs...)
}

// wrapErr names l in err, hiding the URL's secrets (see Redact) in the
// text of err too, and makes a gocloud not-found error satisfy
// errors.Is(err, fs.ErrNotExist).
func wrapErr(l loc, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		err = fmt.Errorf("%w (%w)", fs.ErrNotExist, err)
	}
	return fmt.Errorf("%s: %w", l.name(), scrub(err, l.raw))
}

// scrubbed is an error whose text has secrets replaced.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// scrub returns err with the secrets of location (see SecretValues)
// replaced by REDACTED in its text, and the values of secret-looking query
// parameters of any URL it quotes (gocloud's errors quote the bucket's URL
// in their own form), whatever their length: SecretValues leaves out
// values shorter than four bytes.
func scrub(err error, location string) error {
	if Redact(location) == location {
		return err
	}
	msg := err.Error()
	for _, s := range SecretValues(location) {
		msg = strings.ReplaceAll(msg, s, "REDACTED")
	}
	return &scrubbed{msg: redactParams(msg), err: err}
}

// queryParam matches a query parameter in text: its name and its value, up
// to the next '&', space or quote.
var queryParam = regexp.MustCompile("[?&]([A-Za-z0-9_.~-]+)=([^&\\s\"'`]*)")

// redactParams replaces the values of secret-looking query parameters
// (secretName) in text by REDACTED.
func redactParams(text string) string {
	var b strings.Builder
	last := 0
	for _, m := range queryParam.FindAllStringSubmatchIndex(text, -1) {
		if m[5] > m[4] && secretName(text[m[2]:m[3]]) && text[m[4]:m[5]] != "REDACTED" {
			b.WriteString(text[last:m[4]])
			b.WriteString("REDACTED")
			last = m[5]
		}
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// Join joins path elements to a location: filepath.Join for a local path;
// for a URL, the elements are appended to the key with "/", the query kept.
func Join(location string, elem ...string) string {
	if !IsURL(location) {
		return filepath.Join(append([]string{location}, elem...)...)
	}
	l, err := parse(location)
	if err != nil {
		// Callers join validated locations; keep the text for the message
		// the next call gives.
		return strings.TrimSuffix(location, "/") + "/" + strings.Join(elem, "/")
	}
	return l.with(strings.TrimPrefix(path.Join(append([]string{l.key}, elem...)...), "/"))
}

// Info describes a file or object.
type Info struct {
	Size    int64
	ModTime time.Time
	Dir     bool // a local folder (objects are never folders)
}

// Stat describes the file or object at location (following symbolic
// links). A missing one is an error wrapping fs.ErrNotExist.
func Stat(ctx context.Context, location string) (Info, error) {
	location, err := Clean(location)
	if err != nil {
		return Info{}, err
	}
	if !IsURL(location) {
		fi, err := os.Stat(location)
		if err != nil {
			return Info{}, err
		}
		return Info{Size: fi.Size(), ModTime: fi.ModTime(), Dir: fi.IsDir()}, nil
	}
	l, b, err := open(ctx, location)
	if err != nil {
		return Info{}, err
	}
	a, err := b.Attributes(ctx, l.key)
	if err != nil {
		return Info{}, wrapErr(l, err)
	}
	return Info{Size: a.Size, ModTime: a.ModTime}, nil
}

// Exists reports whether a file, folder or object is at location.
func Exists(ctx context.Context, location string) (bool, error) {
	_, err := Stat(ctx, location)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// open parses an object URL and returns its bucket.
func open(ctx context.Context, location string) (loc, *blob.Bucket, error) {
	l, err := parse(location)
	if err != nil {
		return loc{}, nil, err
	}
	if l.key == "" || strings.HasSuffix(l.key, "/") {
		return loc{}, nil, fmt.Errorf("%s: names a prefix, not an object", l.name())
	}
	b, err := bucketOf(ctx, l)
	return l, b, err
}

// Entry is one file or object found by List.
type Entry struct {
	Location string // the file's path or the object's URL
	Rel      string // its path below the listed location, "/"-separated
	Size     int64
	ModTime  time.Time
}

// List lists every file below location, recursively, sorted by Rel: the
// regular files of a local folder (symbolic links to files followed,
// links to folders not), or the objects whose keys start with the URL's
// key and a "/" (every object of the bucket when the key is empty). A
// missing folder or an empty prefix gives no entries and no error.
func List(ctx context.Context, location string) ([]Entry, error) {
	location, err := Clean(location)
	if err != nil {
		return nil, err
	}
	if !IsURL(location) {
		return listLocal(location)
	}
	l, err := parse(location)
	if err != nil {
		return nil, err
	}
	b, err := bucketOf(ctx, l)
	if err != nil {
		return nil, err
	}
	prefix := l.key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	var out []Entry
	it := b.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, wrapErr(l, err)
		}
		if o.IsDir {
			continue
		}
		out = append(out, Entry{Location: l.with(o.Key), Rel: strings.TrimPrefix(o.Key, prefix), Size: o.Size, ModTime: o.ModTime})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rel < out[j].Rel })
	return out, nil
}

// listLocal lists the regular files below folder dir.
func listLocal(dir string) ([]Entry, error) {
	var out []Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, Entry{Location: p, Rel: filepath.ToSlash(rel), Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rel < out[j].Rel })
	return out, nil
}

// RemoveAll removes location and everything below it: a local file or
// folder, or the objects under a URL's prefix (and the object of that key,
// if any). Nothing there is not an error.
func RemoveAll(ctx context.Context, location string) error {
	location, err := Clean(location)
	if err != nil {
		return err
	}
	if !IsURL(location) {
		return os.RemoveAll(location)
	}
	entries, err := List(ctx, location)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if err := Remove(ctx, e.Location); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Remove removes one file or object. A missing one is an error wrapping
// fs.ErrNotExist.
func Remove(ctx context.Context, location string) error {
	location, err := Clean(location)
	if err != nil {
		return err
	}
	if !IsURL(location) {
		return os.Remove(location)
	}
	l, b, err := open(ctx, location)
	if err != nil {
		return err
	}
	if err := b.Delete(ctx, l.key); err != nil {
		return wrapErr(l, err)
	}
	return nil
}

// ReadFile reads a whole (small) file or object, such as a manifest.
func ReadFile(ctx context.Context, location string) ([]byte, error) {
	location, err := Clean(location)
	if err != nil {
		return nil, err
	}
	if !IsURL(location) {
		return os.ReadFile(location)
	}
	l, b, err := open(ctx, location)
	if err != nil {
		return nil, err
	}
	data, err := b.ReadAll(ctx, l.key)
	if err != nil {
		return nil, wrapErr(l, err)
	}
	return data, nil
}

// WriteFile writes data to location with Create, as one file or object
// that appears complete or not at all.
func WriteFile(ctx context.Context, location string, data []byte) error {
	w, err := Create(ctx, location)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return errors.Join(err, w.(Aborter).Abort())
	}
	return w.Close()
}
