package readers_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestIPCStreamDanglingContinuation: an IPC stream whose last bytes are a
// continuation marker (0xFFFFFFFF) with nothing, or only part of a length,
// after it was cut inside a message's prefix, and must fail naming the
// file; arrow's reader takes the marker at EOF for a clean end. A stream
// cut exactly between messages (no end-of-stream marker) still reads, as
// the README documents, and so does a complete stream.
func TestIPCStreamDanglingContinuation(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	recs := ipcInput(21, 50, 70)
	defer releaseAll(recs)
	src := tempPath(t, "good.arrows")
	writeIPCStream(t, src, allTypes, recs)
	stream, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	eos := []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}
	if !bytes.HasSuffix(stream, eos) {
		t.Fatalf("the stream does not end with the end-of-stream marker: % x", stream[len(stream)-8:])
	}
	body := stream[:len(stream)-len(eos)] // every message, no end marker
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	bad := map[string][]byte{
		"marker-only.ipc":       join(body, []byte{0xff, 0xff, 0xff, 0xff}),
		"marker-part-len.ipc":   join(body, []byte{0xff, 0xff, 0xff, 0xff, 0x10}),
		"marker-3-len.ipc":      join(body, []byte{0xff, 0xff, 0xff, 0xff, 0x10, 0, 0}),
		"half-marker.ipc":       join(body, []byte{0xff, 0xff}),
		"eos-cut-in-length.ipc": stream[:len(stream)-2],
	}
	for name, data := range bad {
		path := tempPath(t, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		err := readFile(path, mem)
		if err == nil {
			t.Errorf("%s: read without error, want it refused as truncated", name)
			continue
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("%s: error %q does not name the file and say truncated", name, err)
		}
	}
	good := map[string][]byte{"complete.ipc": stream, "no-eos.ipc": body}
	for name, data := range good {
		path := tempPath(t, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := readFile(path, mem); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
