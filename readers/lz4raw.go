package readers

import (
	"bytes"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/pierrec/lz4/v4"
)

// lz4Raw is Parquet's LZ4_RAW codec: each page one LZ4 block, without a
// frame. DuckDB's COMPRESSION lz4 (and lz4_raw), pyarrow's 'lz4' and
// Spark's lz4_raw write it; arrow-go v17 has no codec for it (its
// Codecs.Lz4 is the older, framed LZ4, which it does not read either), so
// every page of such a file failed with "compression for LZ4_RAW
// unimplemented". It is registered for every file.Reader (arrow's codec
// table is global), with pierrec/lz4, which arrow already uses for IPC.
const lz4Raw = compress.Compression(7) // CompressionCodec.LZ4_RAW in parquet.thrift

func init() { compress.RegisterCodec(lz4Raw, lz4RawCodec{}) }

type lz4RawCodec struct{}

// Decode implements compress.Codec. Arrow gives a dst of the page's
// uncompressed size; a block that does not fill it exactly is corrupt,
// and Decode panics, as arrow's own codecs do on corrupt data (the
// readers recover it as the file's error): arrow checks the size of a v1
// page, but would read the rest of a v2 page as zeros.
func (lz4RawCodec) Decode(dst, src []byte) []byte {
	if dst == nil {
		return decodeLZ4Unsized(src)
	}
	n, err := lz4.UncompressBlock(src, dst)
	if err != nil {
		panic(fmt.Errorf("LZ4_RAW page: %w", err))
	}
	if n != len(dst) {
		panic(fmt.Errorf("LZ4_RAW page decompresses to %d bytes, its header says %d", n, len(dst)))
	}
	return dst
}

// decodeLZ4Unsized decodes a block of unknown decompressed size, into
// buffers growing up to 255 times the block (LZ4's largest ratio).
func decodeLZ4Unsized(src []byte) []byte {
	for size := max(4*len(src), 64); ; size *= 2 {
		dst := make([]byte, size)
		n, err := lz4.UncompressBlock(src, dst)
		if err == nil {
			return dst[:n]
		}
		if size > 255*len(src)+64 {
			panic(fmt.Errorf("LZ4_RAW block: %w", err))
		}
	}
}

// Encode implements compress.Codec.
func (c lz4RawCodec) Encode(dst, src []byte) []byte {
	bound := lz4.CompressBlockBound(len(src))
	if cap(dst) < bound {
		dst = make([]byte, bound)
	}
	dst = dst[:cap(dst)]
	n, err := lz4.CompressBlock(src, dst, nil)
	if err != nil {
		panic(fmt.Errorf("LZ4_RAW: %w", err))
	}
	if n == 0 && len(src) > 0 { // incompressible: pierrec leaves it to the caller
		return lz4Literal(dst[:0], src)
	}
	return dst[:n]
}

// lz4Literal encodes src as one LZ4 sequence of literals only.
func lz4Literal(dst, src []byte) []byte {
	n := len(src)
	if n < 15 {
		dst = append(dst, byte(n<<4))
	} else {
		dst = append(dst, 0xf0)
		for n -= 15; n >= 255; n -= 255 {
			dst = append(dst, 255)
		}
		dst = append(dst, byte(n))
	}
	return append(dst, src...)
}

// EncodeLevel implements compress.Codec.
func (c lz4RawCodec) EncodeLevel(dst, src []byte, _ int) []byte { return c.Encode(dst, src) }

// CompressBound implements compress.Codec.
func (lz4RawCodec) CompressBound(n int64) int64 { return int64(lz4.CompressBlockBound(int(n))) }

// NewReader implements compress.Codec: the whole block, decoded.
func (lz4RawCodec) NewReader(r io.Reader) io.ReadCloser {
	src, err := io.ReadAll(r)
	if err != nil {
		return io.NopCloser(errReader{err})
	}
	return io.NopCloser(bytes.NewReader(decodeLZ4Unsized(src)))
}

// NewWriter implements compress.Codec: one block, written at Close.
func (c lz4RawCodec) NewWriter(w io.Writer) io.WriteCloser { return &lz4RawWriter{w: w, c: c} }

// NewWriterLevel implements compress.Codec.
func (c lz4RawCodec) NewWriterLevel(w io.Writer, _ int) (io.WriteCloser, error) {
	return c.NewWriter(w), nil
}

type lz4RawWriter struct {
	w   io.Writer
	c   lz4RawCodec
	buf bytes.Buffer
}

func (w *lz4RawWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }

func (w *lz4RawWriter) Close() error {
	_, err := w.w.Write(w.c.Encode(nil, w.buf.Bytes()))
	return err
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
