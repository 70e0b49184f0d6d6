// Package storetest starts object-store servers for tests, in process and
// on loopback: an S3 server (gofakes3) and a GCS server
// (fake-gcs-server), each behind a recorder of the requests it serves, and
// gives the URLs that package store opens on them.
package storetest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/mixbatch/mixbatch/store"
)

// Request is one request a server handled.
type Request struct {
	Method string
	Path   string // the URL path, unescaped
	Query  string // the raw query
	Range  string // the Range header
	Status int
	Served int64 // response body bytes
}

// Recorder records the requests of the handler it wraps. It can also
// delay every request, as a real store's first byte is tens of
// milliseconds away, and counts how many were in flight at once.
type Recorder struct {
	mu       sync.Mutex
	reqs     []Request
	latency  time.Duration
	inFlight int
	most     int
	// With failing set, ranged GETs are refused with 403 once failLeft
	// more have been served.
	failing  bool
	failLeft int
}

// FailRangeReads makes the server refuse every ranged GET (a read of part
// of an object) after the next n, with 403 Forbidden, which clients do not
// retry: a store that fails in the middle of a read. n < 0 stops it.
func (r *Recorder) FailRangeReads(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failing, r.failLeft = n >= 0, n
}

// SetLatency delays every later request by d before it is served.
func (r *Recorder) SetLatency(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latency = d
}

// MostInFlight returns the most requests that were being served at once
// since the server started or was last Reset.
func (r *Recorder) MostInFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.most
}

// Requests returns the requests so far, in the order they ended.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Reset forgets the requests so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
	r.most = r.inFlight
}

// wrap returns h recording into r.
func (r *Recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.inFlight++
		r.most = max(r.most, r.inFlight)
		delay := r.latency
		refuse := false
		if req.Method == http.MethodGet && req.Header.Get("Range") != "" && r.failing {
			refuse = r.failLeft == 0
			if !refuse {
				r.failLeft--
			}
		}
		r.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		if refuse {
			http.Error(cw, "refused by storetest.FailRangeReads", http.StatusForbidden)
		} else {
			h.ServeHTTP(cw, req)
		}
		r.mu.Lock()
		r.inFlight--
		r.reqs = append(r.reqs, Request{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery,
			Range: req.Header.Get("Range"), Status: cw.status, Served: cw.n})
		r.mu.Unlock()
	})
}

// countingWriter counts the body bytes written.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Server is a fake object store.
type Server struct {
	*Recorder
	scheme, query string
	// GCS is the GCS server (nil for S3), to add buckets.
	GCS *fakestorage.Server
}

// URL returns the URL of key in bucket on the server, for package store.
func (s *Server) URL(bucket, key string) string {
	u := s.scheme + "://" + bucket + "/" + strings.TrimPrefix(key, "/")
	if s.query != "" {
		u += "?" + s.query
	}
	return u
}

// closeBuckets makes tests independent: buckets are cached by URL.
func closeBuckets(t testing.TB) {
	t.Cleanup(func() {
		if err := store.CloseBuckets(); err != nil {
			t.Errorf("closing buckets: %v", err)
		}
	})
}

// NewS3 starts an S3 server (gofakes3, in memory) with the given buckets.
// It sets the AWS environment for the test (fixed test credentials, no
// shared config files, no instance metadata), so the test must not be
// parallel.
func NewS3(t testing.TB, buckets ...string) *Server {
	t.Helper()
	return NewS3Wrapped(t, nil, buckets...)
}

// NewS3Wrapped is NewS3 with the S3 handler passed through wrap (when not
// nil), for tests that interfere with requests: the handler wrap returns
// serves every request, inside the Recorder.
func NewS3Wrapped(t testing.TB, wrap func(s3 http.Handler) http.Handler, buckets ...string) *Server {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "test-access-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/mixbatch-test")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/mixbatch-test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	rec := &Recorder{}
	var h http.Handler = gofakes3.New(backend, gofakes3.WithIntegrityCheck(true)).Server()
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(rec.wrap(h))
	t.Cleanup(ts.Close)
	closeBuckets(t)
	q := url.Values{"endpoint": {ts.URL}, "use_path_style": {"true"}, "disable_https": {"true"}, "region": {"us-east-1"}}
	return &Server{Recorder: rec, scheme: "s3", query: q.Encode()}
}

// NewGCS starts a GCS server (fake-gcs-server, in memory) with the given
// buckets and points gcsblob at it through STORAGE_EMULATOR_HOST, so the
// test must not be parallel.
func NewGCS(t testing.TB, buckets ...string) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		NoListener: true, Scheme: "http", PublicHost: host, ExternalURL: "http://" + host,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	rec := &Recorder{}
	ts := httptest.NewUnstartedServer(rec.wrap(fake.HTTPHandler()))
	if err := ts.Listener.Close(); err != nil {
		t.Fatal(err)
	}
	ts.Listener = l
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(fake.Stop)
	t.Setenv("STORAGE_EMULATOR_HOST", host)
	closeBuckets(t)
	return &Server{Recorder: rec, scheme: "gs", GCS: fake}
}

// Put uploads data as key of bucket through package store.
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	if err := store.WriteFile(context.Background(), s.URL(bucket, key), data); err != nil {
		t.Fatal(fmt.Errorf("uploading %s: %w", key, err))
	}
}
