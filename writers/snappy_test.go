package writers

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v17/parquet/compress"
)

// TestReusedSnappy checks the codec that replaces arrow's snappy codec:
// on seeded pages of every kind (empty, incompressible, runs, text-like)
// it gives exactly the bytes of arrow's own snappy codec, which it wraps, compresses into the capacity of
// the buffer it is given instead of allocating when that capacity reaches
// the bound, allocates when it does not, and arrow's codec (the registry's
// Decode) gives the page back.
func TestReusedSnappy(t *testing.T) {
	codec, err := compress.GetCodec(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	reused, ok := codec.(reusedSnappy)
	if !ok {
		t.Fatalf("the registered snappy codec is %T, want reusedSnappy", codec)
	}
	arrowSnappy := reused.Codec
	rnd := rand.New(rand.NewPCG(1, 2))
	pages := [][]byte{nil, {}, {7}}
	for _, n := range []int{1, 100, 4096, 1 << 16, 1<<20 + 3} {
		random := make([]byte, n)
		runs := make([]byte, n)
		words := make([]byte, n)
		for i := range n {
			random[i] = byte(rnd.Uint32())
			runs[i] = byte(i / 97)
			words[i] = "factory1factory2"[rnd.IntN(16)]
		}
		pages = append(pages, random, runs, words)
	}
	for i, src := range pages {
		want := arrowSnappy.Encode(nil, src)
		bound := int(codec.CompressBound(int64(len(src))))

		// A buffer as arrow passes it: length 0, capacity the bound.
		buf := make([]byte, 0, bound)
		var got []byte
		allocs := testing.AllocsPerRun(3, func() { got = codec.EncodeLevel(buf, src, 1) })
		if !bytes.Equal(got, want) {
			t.Fatalf("page %d (%d bytes): EncodeLevel differs from arrow's", i, len(src))
		}
		if allocs != 0 {
			t.Errorf("page %d (%d bytes): EncodeLevel allocated %v times into a buffer of the bound", i, len(src), allocs)
		}
		if len(got) > 0 && &got[0] != &buf[:1][0] {
			t.Errorf("page %d: EncodeLevel did not compress into the buffer's storage", i)
		}
		if got := codec.Encode(buf, src); !bytes.Equal(got, want) {
			t.Fatalf("page %d: Encode differs from arrow's", i)
		}
		// Too small (and nil): a new buffer, the same bytes.
		for _, small := range [][]byte{nil, make([]byte, 0, bound-1)} {
			if got := codec.Encode(small, src); !bytes.Equal(got, want) {
				t.Fatalf("page %d: Encode into a short buffer differs from arrow's", i)
			}
		}
		back := codec.Decode(make([]byte, len(src)), want)
		if !bytes.Equal(back, src) && len(src) > 0 {
			t.Fatalf("page %d: Decode does not give the page back", i)
		}
	}
}
