package writers

import (
	"fmt"
	"sync"

	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// arrow-go v17 compresses every Parquet page with
// compress.Codec.EncodeLevel, and its zstd codec builds a new zstd.Encoder
// for each call: with the default 8 MiB window that allocates and clears
// a 16 MiB history per page (of 1 MiB), about as long as compressing the
// page. reusedZstd keeps one encoder per level instead, which cut the time
// to write the weights and fits tables by a quarter;
// zstd.Encoder.EncodeAll is safe for concurrent use.
//
// It replaces arrow's zstd codec for the whole process (the codec registry
// is global; registering in init is its documented use). Only encoding
// changes: the frames are the same format, decoding and streams are
// arrow's own codec.
func init() {
	replaceCodec(compress.Codecs.Zstd, func(base compress.Codec) compress.Codec { return reusedZstd{base} })
}

// replaceCodec replaces base, arrow's codec for c, with wrap(base) in
// arrow's codec registry. Only for init: the registry is a map that arrow
// reads without a lock.
func replaceCodec(c compress.Compression, wrap func(base compress.Codec) compress.Codec) {
	base, err := compress.GetCodec(c)
	if err != nil {
		panic(fmt.Sprintf("writers: arrow has no %v codec: %v", c, err))
	}
	compress.RegisterCodec(c, wrap(base))
}

// reusedZstd is arrow's zstd codec with encoders reused across pages.
type reusedZstd struct {
	compress.Codec // arrow's: Decode, streams, CompressBound
}

// zstdEncoders holds one encoder per zstd.EncoderLevel, made on first use.
var zstdEncoders [zstd.SpeedBestCompression + 1]struct {
	once sync.Once
	enc  *zstd.Encoder
}

// zstdEncoder returns the shared encoder for a Parquet compression level,
// mapped to the klauspost levels as arrow does (DefaultCompressionLevel is
// zstd.SpeedDefault).
func zstdEncoder(level int) *zstd.Encoder {
	l := zstd.SpeedDefault
	if level != compress.DefaultCompressionLevel {
		l = zstd.EncoderLevelFromZstd(level)
	}
	e := &zstdEncoders[l]
	e.once.Do(func() {
		enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(l))
		if err != nil {
			panic("writers: zstd encoder: " + err.Error()) // only for invalid options
		}
		e.enc = enc
	})
	return e.enc
}

// Encode compresses src at the default level, appending to dst[:0].
func (reusedZstd) Encode(dst, src []byte) []byte {
	return zstdEncoder(compress.DefaultCompressionLevel).EncodeAll(src, dst[:0])
}

// EncodeLevel compresses src at level, appending to dst[:0].
func (reusedZstd) EncodeLevel(dst, src []byte, level int) []byte {
	return zstdEncoder(level).EncodeAll(src, dst[:0])
}
