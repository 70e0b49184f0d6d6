package store_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"testing"

	"github.com/mixbatch/mixbatch/store"
	"github.com/mixbatch/mixbatch/store/storetest"
)

// incompleteUploads lists the keys of the multipart uploads in progress
// in bucket on srv: parts stored that no object listing shows.
func incompleteUploads(t *testing.T, srv *storetest.Server, bucket string) []string {
	t.Helper()
	u, err := url.Parse(srv.URL(bucket, "x"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u.Query().Get("endpoint") + "/" + bucket + "?uploads")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := resp.Body.Close(); err != nil {
			t.Error(err)
		}
	}()
	var list struct {
		Uploads []struct{ Key string } `xml:"Upload"`
	}
	if err := xml.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, up := range list.Uploads {
		keys = append(keys, up.Key)
	}
	return keys
}

// TestAbortedLargeObjectLeavesNoParts: an object large enough to be
// uploaded in parts (more than 16 MiB: a posteriors part of a few million
// rows) that is aborted, or whose context ends before Close, leaves no
// multipart upload behind.
//
// It caught a leak, and failed before the fix: the AWS transfer manager
// aborted the multipart upload with the upload's context, which the abort
// had just cancelled, so AbortMultipartUpload was never sent. The parts
// uploaded so far stayed in the bucket, billed, and invisible to List,
// so that no RemoveAll of a run prefix could delete them. S3 writers now
// abort their uploads with a context of their own (FailTimeout).
func TestAbortedLargeObjectLeavesNoParts(t *testing.T) {
	srv := storetest.NewS3(t, "bkt")
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for _, how := range []string{"abort", "cancel"} {
		ctx, cancel := context.WithCancel(context.Background())
		w, err := store.Create(ctx, srv.URL("bkt", "run=1/posteriors/"+how+".parquet"))
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if _, err := w.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if how == "abort" {
			if err := w.(store.Aborter).Abort(); err != nil {
				t.Errorf("Abort: %v", err)
			}
		} else {
			cancel()
			if err := w.Close(); err == nil {
				t.Error("Close after the context ended succeeded")
			}
		}
		cancel()
		if left := incompleteUploads(t, srv, "bkt"); len(left) > 0 {
			t.Errorf("%s: multipart uploads left behind: %v", how, left)
		}
		if ok, err := store.Exists(context.Background(), srv.URL("bkt", "run=1/posteriors/"+how+".parquet")); ok || err != nil {
			t.Errorf("%s: the object exists = %v, %v", how, ok, err)
		}
	}
}
