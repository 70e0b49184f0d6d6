package readers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// The delta encodings' values, as pageGuard checks them.
//
// Arrow v17's DELTA_BINARY_PACKED decoder (parquet/internal/encoding:
// deltaBitPackDecoder) takes its header on trust: the values per
// miniblock (block size / miniblocks per block, narrowed to uint32) size
// the scratch slice each miniblock is unpacked into, and a miniblock of
// bit width 0 unpacks them from no bytes at all, so a header of a few
// bytes made it allocate gigabytes; the miniblocks per block size the
// bit width buffer of each block; DELTA_LENGTH_BYTE_ARRAY allocates the
// header's total value count of lengths; and a header it fails on leaves
// the decoder with the previous page's state, since the column reader
// ignores SetData's error. (arrow-go fixed the checks upstream, in
// apache/arrow-go#1012; this module is pinned to v17.) So before arrow
// can decode a data page in a delta encoding, the guard checks every
// DELTA_BINARY_PACKED header arrow decodes in it, as the Parquet spec
// and arrow C++ require: a block size that is a positive multiple of 128,
// a positive number of miniblocks that divides it into a multiple of 32
// values each, no more values than the page has; and, beyond the spec, a
// block size of at most maxDeltaBlock. The blocks holding the stream's values must lie in the page,
// with bit widths of at most 64 in the miniblocks arrow unpacks: the
// walk over them (see deltaStream) consumes the bytes as arrow's decoder
// does, which gives where DELTA_BYTE_ARRAY's second stream starts.
//
// Not checked: the lengths themselves (that they are not negative and
// that the bytes they count are in the page), INT32 ranges of first
// values and minimum deltas, and DELTA_BYTE_ARRAY's prefix lengths
// against the previous value: arrow slices with them, and fails (or
// panics, which the readers recover) without allocating by them.

// Encodings (parquet.thrift Encoding) the guard reads.
const (
	encodingRLE                  = 3
	encodingBitPacked            = 4
	encodingDeltaBinaryPacked    = 5
	encodingDeltaLengthByteArray = 6
	encodingDeltaByteArray       = 7
)

// isDeltaEncoding reports whether values in encoding e start with a
// DELTA_BINARY_PACKED stream that pageGuard checks.
func isDeltaEncoding(e int32) bool {
	return e >= encodingDeltaBinaryPacked && e <= encodingDeltaByteArray
}

// deltaEncodingName names the delta encoding e.
func deltaEncodingName(e int32) string {
	switch e {
	case encodingDeltaBinaryPacked:
		return "DELTA_BINARY_PACKED"
	case encodingDeltaLengthByteArray:
		return "DELTA_LENGTH_BYTE_ARRAY"
	case encodingDeltaByteArray:
		return "DELTA_BYTE_ARRAY"
	}
	return fmt.Sprintf("encoding %d", e)
}

// maxDeltaBlock is the largest DELTA_BINARY_PACKED block size accepted.
// Arrow, arrow C++, parquet-mr and arrow-rs write 128, DuckDB 2048, and
// a writer that makes one block per page the page's values rounded up to
// 128; but the page's value count is no bound (it is as untrusted as the
// block size, and a miniblock of bit width 0 takes no bytes), so a fixed
// one is: arrow unpacks a miniblock of at most a block into a scratch
// slice of at most 8 MiB.
const maxDeltaBlock = 1 << 20

// maxDeltaPageSize is the largest uncompressed size of a page in a delta
// encoding that the guard decompresses to check; a larger page is
// refused (writers cut pages of about 1 MiB).
const maxDeltaPageSize = 1 << 28

// deltaHeader is a DELTA_BINARY_PACKED header.
type deltaHeader struct {
	blockSize, miniBlocks, total uint64
	first                        int64
}

// deltaStream checks the DELTA_BINARY_PACKED stream at the start of b, of
// which arrow decodes all the values (at most nvalues, the page's
// num_values), and returns the bytes arrow's decoder consumes of it:
// after the header, for each block of the stream's values after the first,
// its minimum delta (a zigzag ULEB128), one bit width byte per miniblock,
// and the miniblocks that hold its values, each of values-per-miniblock
// values of its bit width (bit-packed, a multiple of 32 values: whole
// bytes). The last miniblock is read whole even if the stream ends in it.
func deltaStream(b []byte, nvalues int64) (int, error) {
	h, pos, err := readDeltaHeader(b)
	if err != nil {
		return 0, err
	}
	if err := h.check(nvalues); err != nil {
		return 0, err
	}
	perMini := h.blockSize / h.miniBlocks
	for left := h.total - min(h.total, 1); left > 0; {
		start := pos
		if _, n := binary.Uvarint(b[pos:]); n <= 0 {
			return 0, fmt.Errorf("the block at byte %d of the stream has no minimum delta in the %d bytes left", start, len(b)-pos)
		} else {
			pos += n
		}
		if uint64(len(b)-pos) < h.miniBlocks {
			return 0, fmt.Errorf("the block at byte %d of the stream has %d miniblock bit widths, but %d bytes are left", start, h.miniBlocks, len(b)-pos)
		}
		widths := b[pos : pos+int(h.miniBlocks)]
		pos += int(h.miniBlocks)
		inBlock := min(left, h.blockSize)
		left -= inBlock
		for i := range (inBlock + perMini - 1) / perMini {
			w := uint64(widths[i])
			if w > 64 {
				return 0, fmt.Errorf("miniblock %d of the block at byte %d of the stream has a bit width of %d", i, start, w)
			}
			size := perMini * w / 8
			if uint64(len(b)-pos) < size {
				return 0, fmt.Errorf("miniblock %d of the block at byte %d of the stream needs %d bytes, but %d are left", i, start, size, len(b)-pos)
			}
			pos += int(size)
		}
	}
	return pos, nil
}

// readDeltaHeader reads the DELTA_BINARY_PACKED header at the start of b,
// as arrow does (unsigned ULEB128s, and a zigzag one for the first value,
// of at most 64 bits), and returns it and its length.
func readDeltaHeader(b []byte) (deltaHeader, int, error) {
	var h deltaHeader
	pos := 0
	for i, v := range []*uint64{&h.blockSize, &h.miniBlocks, &h.total, nil} {
		u, n := binary.Uvarint(b[pos:])
		if n <= 0 {
			name := [...]string{"block size", "miniblock count", "total value count", "first value"}[i]
			return h, 0, fmt.Errorf("the header's %s does not decode in the %d bytes left", name, len(b)-pos)
		}
		pos += n
		if v != nil {
			*v = u
		} else {
			h.first = int64(u>>1) ^ -int64(u&1)
		}
	}
	return h, pos, nil
}

// check checks h as the header of a stream of a page of nvalues values.
func (h deltaHeader) check(nvalues int64) error {
	switch {
	case h.blockSize == 0 || h.blockSize%128 != 0:
		return fmt.Errorf("block size %d is not a positive multiple of 128", h.blockSize)
	case h.blockSize > maxDeltaBlock:
		return fmt.Errorf("block size %d is more than %d", h.blockSize, maxDeltaBlock)
	case h.miniBlocks == 0 || h.blockSize%h.miniBlocks != 0:
		return fmt.Errorf("%d miniblocks do not divide the block size %d", h.miniBlocks, h.blockSize)
	case h.blockSize/h.miniBlocks%32 != 0:
		return fmt.Errorf("%d values per miniblock (block size %d, %d miniblocks) is not a multiple of 32", h.blockSize/h.miniBlocks, h.blockSize, h.miniBlocks)
	case h.total > uint64(max(nvalues, 0)):
		return fmt.Errorf("total value count %d is more than the page's %d values", h.total, nvalues)
	}
	return nil
}

// checkDeltaValues checks values, the values section of a data page of
// nvalues values in the delta encoding enc: each DELTA_BINARY_PACKED
// stream arrow decodes of it (see deltaStream).
func checkDeltaValues(values []byte, enc int32, nvalues int64) error {
	n, err := deltaStream(values, nvalues)
	if err != nil {
		what := "lengths"
		switch enc {
		case encodingDeltaBinaryPacked:
			what = "values"
		case encodingDeltaByteArray:
			what = "prefix lengths"
		}
		return fmt.Errorf("%s %s: %w", deltaEncodingName(enc), what, err)
	}
	if enc != encodingDeltaByteArray {
		return nil
	}
	// The suffixes: DELTA_LENGTH_BYTE_ARRAY.
	if _, err := deltaStream(values[n:], nvalues); err != nil {
		return fmt.Errorf("%s suffix lengths (at byte %d of the values): %w", deltaEncodingName(enc), n, err)
	}
	return nil
}

// errArrowFails is returned by pageValues for a page that arrow v17
// refuses before it decodes its values: there is nothing to check.
var errArrowFails = errors.New("arrow refuses the page")

// pageValues returns the values section of a data page of a column chunk
// whose header is h and whose bytes after the header are body (h's
// compressed size, or an uncompressed v2 page's uncompressed size), as
// arrow v17's page and column readers find it (file: serializedPageReader.Next,
// columnChunkReader.initLevelDecodersV1/V2 and initDataDecoder); or
// errArrowFails if arrow fails on the page before it decodes the values,
// or an error if the page cannot be decompressed to its size.
func pageValues(c *guardChunk, h pageHeader, body []byte) ([]byte, error) {
	if h.typ == pageDataV2 {
		levels := int(h.defLevels) + int(h.repLevels) // checked against the sizes by advance
		if !h.v2Compressed {
			return body[levels:], nil
		}
		// Arrow decompresses into the page's buffer after the levels.
		return decompress(c, body[levels:], int(h.uncompressed)-levels, false)
	}
	data, err := decompress(c, body, int(h.uncompressed), true)
	if err != nil {
		return nil, err
	}
	pos := 0
	for _, lvl := range []struct {
		max int16
		enc int32
	}{{c.maxRep, h.repEnc}, {c.maxDef, h.defEnc}} {
		if lvl.max <= 0 {
			continue
		}
		// As arrow's LevelDecoder.SetData.
		rest := data[pos:]
		switch lvl.enc {
		case encodingRLE:
			if len(rest) < 4 {
				return nil, errArrowFails
			}
			n := int32(binary.LittleEndian.Uint32(rest))
			if n < 0 || int(n) > len(rest)-4 {
				return nil, errArrowFails
			}
			pos += 4 + int(n)
		case encodingBitPacked:
			nbits := int64(h.values) * int64(bits.Len16(uint16(lvl.max)))
			if n := (nbits + 7) / 8; n <= int64(len(rest)) {
				pos += int(n)
			} else {
				return nil, errArrowFails
			}
		default:
			return nil, errArrowFails
		}
	}
	return data[pos:], nil
}

// zstdDecoder decodes the guard's ZSTD pages: into the capacity it is
// given, no further.
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderConcurrency(1))
})

// decompress decompresses src, of a page of column chunk c, to size bytes
// as arrow's codec for c does. Arrow's uncompressed "codec" copies src
// into the size bytes (whole: a v1 page whose sizes differ is read so);
// the others must decompress to exactly size bytes. exact says whether
// arrow itself fails when they do not (v1 pages); for v2 pages it reads
// the bytes it does not decompress as zeros, and the guard refuses the
// page. Memory: size bytes at most, checked against maxDeltaPageSize.
func decompress(c *guardChunk, src []byte, size int, exact bool) (_ []byte, err error) {
	if size <= 0 {
		if size < 0 {
			return nil, errArrowFails
		}
		return nil, nil // no values section
	}
	if c.codec == compress.Codecs.Uncompressed && size <= len(src) {
		return src[:size], nil
	}
	codec, cerr := compress.GetCodec(c.codec)
	if cerr != nil {
		return nil, errArrowFails // arrow cannot read the chunk
	}
	if size > maxDeltaPageSize {
		return nil, fmt.Errorf("its uncompressed size %d is more than the %d bytes checked", size, maxDeltaPageSize)
	}
	wrong := func(what string, args ...any) error {
		if exact {
			return errArrowFails
		}
		return fmt.Errorf("%s values do not decompress to %d bytes: "+what, append([]any{c.codec, size}, args...)...)
	}
	switch c.codec {
	case compress.Codecs.Uncompressed:
		dst := make([]byte, size)
		copy(dst, src)
		return dst, nil
	case compress.Codecs.Snappy:
		// The block format starts with the decoded length; snappy
		// allocates it if dst is shorter.
		if n, k := binary.Uvarint(src); k <= 0 || n != uint64(size) {
			return nil, wrong("the snappy block says %d bytes", n)
		}
	case compress.Codecs.Zstd:
		dec, zerr := zstdDecoder()
		if zerr != nil {
			return nil, fmt.Errorf("zstd decoder: %w", zerr)
		}
		out, zerr := dec.DecodeAll(src, make([]byte, 0, size))
		if zerr != nil || len(out) != size {
			return nil, wrong("%d bytes, %v", len(out), zerr)
		}
		return out, nil
	}
	dst := make([]byte, size)
	defer func() {
		if v := recover(); v != nil { // arrow's codecs panic on corrupt data
			err = wrong("%v", v)
		}
	}()
	switch c.codec {
	case compress.Codecs.Snappy:
		if out := codec.Decode(dst, src); len(out) != size || &out[0] != &dst[0] {
			return nil, wrong("%d bytes", len(out))
		}
	case lz4Raw: // one block, which must fill dst (Decode panics if not)
		codec.Decode(dst, src)
	default: // gzip, brotli: streams, as their Decode reads them into dst
		rdr := codec.NewReader(bytes.NewReader(src))
		n, rerr := io.ReadFull(rdr, dst)
		if cerr := rdr.Close(); rerr == nil {
			rerr = cerr
		}
		if rerr != nil {
			return nil, wrong("%d bytes, %v", n, rerr)
		}
	}
	return dst, nil
}

// checkDeltaPage checks the values of a data page in a delta encoding of
// column chunk c, whose header is h and body the bytes after the header
// (see pageValues), and returns why arrow must not decode them, if it
// must not.
func checkDeltaPage(c *guardChunk, h pageHeader, body []byte) error {
	values, err := pageValues(c, h, body)
	if errors.Is(err, errArrowFails) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s data: %w", deltaEncodingName(h.encoding), err)
	}
	return checkDeltaValues(values, h.encoding, int64(h.values))
}
