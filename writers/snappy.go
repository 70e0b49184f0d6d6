package writers

import "github.com/apache/arrow/go/v17/parquet/compress"

// arrow-go v17 compresses a Parquet page into a reused buffer whose
// length is 0 and whose capacity is the page's compression bound, and its
// snappy codec hands that buffer to snappy.Encode, which writes into dst
// only when len(dst) is large enough. So every page got a new buffer of
// the bound, allocated and cleared: about a tenth of the CPU of a run that
// writes a million weights (snappy is the pipeline's default codec).
// reusedSnappy passes the buffer's whole capacity instead.
//
// Like reusedZstd it replaces arrow's codec for the whole process, and
// changes only where the compressed bytes go: they are the same bytes
// (TestReusedSnappy), and decoding and streams are arrow's own codec.
// Arrow copies a page it keeps (one buffered until its dictionary is
// written) out of that buffer before compressing the next, as the zstd
// codec, which has always appended to dst[:0], requires too.
func init() {
	replaceCodec(compress.Codecs.Snappy, func(base compress.Codec) compress.Codec { return reusedSnappy{base} })
}

// reusedSnappy is arrow's snappy codec compressing into dst's capacity.
type reusedSnappy struct {
	compress.Codec // arrow's: Decode, streams, CompressBound
}

// Encode compresses src into dst[:cap(dst)] when it fits the bound, and
// into a new buffer otherwise.
func (s reusedSnappy) Encode(dst, src []byte) []byte {
	return s.Codec.Encode(dst[:cap(dst)], src)
}

// EncodeLevel is Encode: snappy has no levels.
func (s reusedSnappy) EncodeLevel(dst, src []byte, level int) []byte {
	return s.Codec.EncodeLevel(dst[:cap(dst)], src, level)
}
