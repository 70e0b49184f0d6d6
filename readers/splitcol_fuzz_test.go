package readers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
)

// FuzzSplitPage decodes arbitrary page bytes with splitColumn, the
// BYTE_STREAM_SPLIT page reader, for each width it reads (FLOAT, DOUBLE,
// INT32, INT64 and FIXED_LEN_BYTE_ARRAY of 1, 2, 3 and 16 bytes): an
// optional dictionary page and one or two data pages (v1 or v2, the column
// required or optional) come from a page reader of the test's, read in
// batches. The decoder must not panic (a panic it recovers is a failure
// here: no codec runs, so it would be the decoder's own), must not read
// past a page's bytes (each page's buffer goes on with canary bytes), and
// must agree with refSplit, a plain decoder written from the Parquet spec:
// the same values and nulls when the pages are valid, an error naming the
// row group and page when they are not. Every buffer must be released.
//
// The parameters: kind picks the width (splitKinds); shape's bits say v2
// (1), optional (2), a dictionary page (4), two data pages (8), v1 levels
// in BIT_PACKED (16), a dictionary page claiming one value more than its
// bytes (32), a row group with one row more than the pages (64) and a
// PLAIN_DICTIONARY dictionary page (128); enc picks the values' encoding
// (splitEncs); nv, nulls and defLen are the data page header's
// num_values, v2 num_nulls and v2 definition level bytes; batch is the
// rows a NextBatch call asks for, less one.
func FuzzSplitPage(f *testing.F) {
	for _, s := range splitFuzzSeeds(f) {
		f.Add(s.kind, s.shape, s.enc, s.nv, s.nulls, s.defLen, s.batch, s.dict, s.page)
	}
	f.Fuzz(func(t *testing.T, kind, shape, enc uint8, nv, nulls, defLen int16, batch uint8, dict, page []byte) {
		in := splitFuzzInput{kind, shape, enc, nv, nulls, defLen, batch, dict, page}
		want, wantErr := refSplit(in)
		got, err := decodeSplitFuzz(t, in)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "runtime error") || !strings.HasPrefix(msg, "row group 0") {
				t.Fatalf("%v: error %q", in, msg)
			}
		}
		switch {
		case err != nil && wantErr == nil:
			t.Fatalf("%v: error %v, but the pages are valid (the reference reads %d rows)", in, err, len(want))
		case err == nil && wantErr != nil:
			t.Fatalf("%v: read %d rows, but the pages are not valid: %v", in, len(got), wantErr)
		case err == nil && !slices.EqualFunc(got, want, func(a, b []byte) bool { return bytes.Equal(a, b) }):
			for i := range want {
				if i >= len(got) || !bytes.Equal(got[i], want[i]) {
					t.Fatalf("%v: row %d is %x, want %x (nil is null)", in, i, got[i], want[i])
				}
			}
			t.Fatalf("%v: %d rows, want %d", in, len(got), len(want))
		}
	})
}

// splitFuzzInput is one input of FuzzSplitPage (see there).
type splitFuzzInput struct {
	kind, shape, enc  uint8
	nv, nulls, defLen int16
	batch             uint8
	dict, page        []byte
}

func (in splitFuzzInput) String() string {
	return fmt.Sprintf("kind %d shape %#x enc %d nv %d nulls %d defLen %d batch %d dict %x page %x",
		in.kind, in.shape, in.enc, in.nv, in.nulls, in.defLen, in.batch, in.dict, in.page)
}

const (
	shapeV2       = 1 << iota // data pages v2
	shapeOptional             // an optional column (max definition level 1)
	shapeDict                 // a dictionary page first
	shapeTwo                  // two data pages, the same
	shapeBitPack              // v1 definition levels in BIT_PACKED (not read)
	shapeDictMore             // the dictionary page claims a value more than it holds
	shapeRowMore              // the row group has a row more than the pages hold
	shapeDictEnc              // the dictionary page in PLAIN_DICTIONARY, not PLAIN
)

// splitKinds are the columns FuzzSplitPage reads, by kind%8.
var splitKinds = []arrow.DataType{
	arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64,
	&arrow.FixedSizeBinaryType{ByteWidth: 1}, arrow.FixedWidthTypes.Float16,
	&arrow.FixedSizeBinaryType{ByteWidth: 3}, &arrow.FixedSizeBinaryType{ByteWidth: 16},
}

// splitEncs are the data pages' encodings, by enc%5.
var splitEncs = []parquet.Encoding{
	parquet.Encodings.Plain, byteStreamSplit, parquet.Encodings.RLEDict, parquet.Encodings.PlainDict,
	parquet.Encodings.DeltaBinaryPacked,
}

// canary follows every page's bytes in its buffer: a decoder that reads
// past a page reads these.
var canary = bytes.Repeat([]byte{0xa5}, 64)

// pageBytes returns b in a buffer with canary bytes after its end.
func pageBytes(b []byte) *memory.Buffer {
	buf := append(append(make([]byte, 0, len(b)+len(canary)), b...), canary...)
	return memory.NewBufferBytes(buf[:len(b)])
}

func (in splitFuzzInput) width() int { return splitKinds[in.kind%8].(arrow.FixedWidthDataType).Bytes() }

// rows is the rows of the row group the pages are in.
func (in splitFuzzInput) rows() int64 {
	n := int64(1)
	if in.nv >= 0 {
		n = int64(in.nv)
		if in.shape&shapeTwo != 0 {
			n *= 2
		}
	}
	if in.shape&shapeRowMore != 0 {
		n++
	}
	return n
}

// fakePages is a file.PageReader of pages made in memory.
type fakePages struct {
	pages []file.Page
	cur   file.Page
}

func (p *fakePages) SetMaxPageHeaderSize(int) {}
func (p *fakePages) Page() file.Page          { return p.cur }
func (p *fakePages) Err() error               { return nil }
func (p *fakePages) Reset(parquet.BufferedReader, int64, compress.Compression, *file.CryptoContext) {
}
func (p *fakePages) Next() bool {
	if len(p.pages) == 0 {
		return false
	}
	p.cur, p.pages = p.pages[0], p.pages[1:]
	return true
}

// decodeSplitFuzz reads the pages of in with a splitColumn, in batches of
// in.batch+1 rows, and returns each row's bytes (nil for a null) or the
// first error. It checks that nulls are zeros in the values buffer and
// that every buffer is released.
func decodeSplitFuzz(t *testing.T, in splitFuzzInput) (rows [][]byte, err error) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w := in.width()
	var pages []file.Page
	if in.shape&shapeDict != 0 {
		n := int32(len(in.dict) / w)
		if in.shape&shapeDictMore != 0 {
			n++
		}
		enc := parquet.Encodings.Plain
		if in.shape&shapeDictEnc != 0 {
			enc = parquet.Encodings.PlainDict
		}
		pages = append(pages, file.NewDictionaryPage(pageBytes(in.dict), n, enc))
	}
	enc := splitEncs[in.enc%5]
	for range 1 + int(in.shape&shapeTwo>>3) {
		if in.shape&shapeV2 != 0 {
			pages = append(pages, file.NewDataPageV2(pageBytes(in.page), int32(in.nv), int32(in.nulls), int32(in.nv), enc,
				int32(in.defLen), 0, int32(len(in.page)), false))
		} else {
			defEnc := parquet.Encodings.RLE
			if in.shape&shapeBitPack != 0 {
				defEnc = parquet.Encodings.BitPacked
			}
			pages = append(pages, file.NewDataPageV1(pageBytes(in.page), int32(in.nv), enc, defEnc, parquet.Encodings.RLE, int32(len(in.page))))
		}
	}
	c := &splitColumn{
		field: arrow.Field{Name: "x", Type: splitKinds[in.kind%8], Nullable: in.shape&shapeOptional != 0},
		mem:   mem, width: w, left: in.rows(), pr: &fakePages{pages: pages}, dictN: -1,
		levels: make([]uint32, splitChunk), idx: make([]uint32, splitChunk),
	}
	if in.shape&shapeOptional != 0 {
		c.maxDef = 1
	}
	defer c.Release()
	for left := in.rows(); left > 0; {
		n := min(left, int64(in.batch)+1)
		ch, err := c.NextBatch(n)
		if err != nil {
			return nil, err
		}
		if ch.Len() != int(n) || len(ch.Chunks()) != 1 {
			ch.Release()
			t.Fatalf("%v: NextBatch(%d) returned %d values in %d arrays", in, n, ch.Len(), len(ch.Chunks()))
		}
		arr := ch.Chunk(0)
		vals := arr.Data().Buffers()[1].Bytes()
		for i := range arr.Len() {
			v := vals[(arr.Data().Offset()+i)*w:][:w]
			if arr.IsNull(i) {
				if !bytes.Equal(v, make([]byte, w)) {
					t.Errorf("%v: the null at row %d holds %x, not zeros", in, len(rows), v)
				}
				rows = append(rows, nil)
				continue
			}
			rows = append(rows, bytes.Clone(v))
		}
		ch.Release()
		left -= n
	}
	return rows, nil
}

// refSplit decodes the pages of in as the Parquet spec (Encodings.md and
// parquet.thrift) says, for one row group of in.rows() rows, and returns
// each row's bytes (nil for a null), or why the pages are not valid. It
// follows splitColumn's documented leniencies: bytes after a page's
// definition levels or dictionary indices are ignored, a bit-packed run
// cut short by the end of its data holds the values its bytes hold, and
// a v1 page's levels may be only RLE (BIT_PACKED is deprecated).
func refSplit(in splitFuzzInput) ([][]byte, error) {
	w := in.width()
	optional := in.shape&shapeOptional != 0
	if in.rows() == 0 {
		return nil, nil // no page is read (41b33f0430b81bb7)
	}
	var dict [][]byte
	if in.shape&shapeDict != 0 {
		if in.shape&shapeDictMore != 0 || len(in.dict)%w != 0 {
			return nil, errors.New("the dictionary page's bytes are not its values")
		}
		for i := 0; i < len(in.dict); i += w {
			dict = append(dict, in.dict[i:i+w])
		}
	}
	var rows [][]byte
	left := in.rows()
	for p := 0; left > 0; p++ {
		if p == 1+int(in.shape&shapeTwo>>3) {
			return nil, errors.New("the pages end early")
		}
		if in.nv < 0 || int64(in.nv) > left {
			return nil, errors.New("more values than rows")
		}
		levels, values := []byte(nil), in.page
		if in.shape&shapeV2 != 0 {
			if in.defLen < 0 || int(in.defLen) > len(in.page) || in.nulls < 0 {
				return nil, errors.New("a bad v2 header")
			}
			levels, values = in.page[:in.defLen], in.page[in.defLen:]
		} else if optional {
			if in.shape&shapeBitPack != 0 {
				return nil, errors.New("BIT_PACKED levels")
			}
			if len(in.page) < 4 {
				return nil, errors.New("no level length")
			}
			n := binary.LittleEndian.Uint32(in.page)
			if uint64(n) > uint64(len(in.page)-4) {
				return nil, errors.New("levels past the page")
			}
			levels, values = in.page[4:4+n], in.page[4+n:]
		}
		def := make([]uint32, in.nv)
		nn := int(in.nv)
		if optional {
			if err := refHybrid(levels, 1, def); err != nil {
				return nil, err
			}
			nn = 0
			for _, d := range def {
				nn += int(d)
			}
		} else {
			for i := range def {
				def[i] = 1
			}
		}
		if in.shape&shapeV2 != 0 && int(in.nv)-int(in.nulls) != nn {
			return nil, errors.New("the null count disagrees with the levels")
		}
		var vals [][]byte
		switch enc := splitEncs[in.enc%5]; enc {
		case parquet.Encodings.Plain:
			if len(values) != nn*w {
				return nil, errors.New("PLAIN values of the wrong size")
			}
			for i := range nn {
				vals = append(vals, values[i*w:(i+1)*w])
			}
		case byteStreamSplit:
			if len(values) != nn*w {
				return nil, errors.New("BYTE_STREAM_SPLIT values of the wrong size")
			}
			for i := range nn {
				v := make([]byte, w)
				for b := range w {
					v[b] = values[b*nn+i]
				}
				vals = append(vals, v)
			}
		case parquet.Encodings.RLEDict, parquet.Encodings.PlainDict:
			if in.shape&shapeDict == 0 {
				return nil, errors.New("no dictionary")
			}
			// A bit width past 32 is refused even where no index follows
			// (a page of nulls; 1cdfb2ec6a254477).
			if len(values) > 0 && values[0] > 32 {
				return nil, errors.New("a bad index width")
			}
			if nn == 0 {
				break
			}
			if len(values) == 0 {
				return nil, errors.New("no index width")
			}
			ix := make([]uint32, nn)
			if err := refHybrid(values[1:], uint(values[0]), ix); err != nil {
				return nil, err
			}
			for _, x := range ix {
				if int(x) >= len(dict) {
					return nil, errors.New("an index past the dictionary")
				}
				vals = append(vals, dict[x])
			}
		default:
			return nil, fmt.Errorf("values in %s", enc)
		}
		for _, d := range def {
			if d == 0 {
				rows = append(rows, nil)
				continue
			}
			rows, vals = append(rows, vals[0]), vals[1:]
		}
		left -= int64(in.nv)
	}
	return rows, nil
}

// refHybrid decodes len(dst) values of width bits of the RLE/bit-packed
// hybrid encoding from data, a bit at a time.
func refHybrid(data []byte, width uint, dst []uint32) error {
	for i := 0; i < len(dst); {
		hdr, n := binary.Uvarint(data)
		if n <= 0 {
			return errors.New("no run header")
		}
		data = data[n:]
		if hdr&1 == 0 { // repeated
			nb := int(width+7) / 8
			if len(data) < nb {
				return errors.New("a repeated value cut short")
			}
			var v uint64
			for b := range nb {
				v |= uint64(data[b]) << (8 * b)
			}
			data = data[nb:]
			if v >= 1<<width {
				return errors.New("a repeated value too wide")
			}
			for c := hdr >> 1; c > 0 && i < len(dst); c-- {
				dst[i] = uint32(v)
				i++
			}
			continue
		}
		groups := hdr >> 1
		values := groups * 8
		if groups > 1<<40 {
			values = 1 << 43 // more than any dst
		}
		var bits []byte
		if width > 0 {
			size := min(groups*uint64(width), uint64(len(data)))
			bits, data = data[:size], data[size:]
			values = min(values, size*8/uint64(width))
		}
		for pos := uint64(0); values > 0 && i < len(dst); values-- {
			var v uint32
			for j := range width {
				v |= uint32(bits[pos>>3]>>(pos&7)&1) << j
				pos++
			}
			dst[i] = v
			i++
		}
	}
	return nil
}

// splitFuzzSeeds are FuzzSplitPage's seeds: the first pages of the
// BYTE_STREAM_SPLIT columns of the fixtures (decompressed), and pages
// written here in every encoding, shape and width.
func splitFuzzSeeds(f *testing.F) []splitFuzzInput {
	var seeds []splitFuzzInput
	for _, name := range []string{"arrowrs-bss-v1.parquet", "arrowrs-bss-v2.parquet", "arrowrs-bss-types.parquet", "duckdb-bss-nulls.parquet"} {
		s, err := fixtureSplitSeeds(filepath.Join("testdata", name))
		if err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		seeds = append(seeds, s...)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for kind := range uint8(8) {
		for _, shape := range []uint8{0, shapeV2, shapeOptional, shapeV2 | shapeOptional, shapeTwo | shapeOptional} {
			for enc := range uint8(4) {
				seeds = append(seeds, writeSplitSeed(rng, kind, shape|shapeDict, enc, 9))
			}
		}
	}
	return seeds
}

// fixtureSplitSeeds returns seeds of the first dictionary and data page of
// every BYTE_STREAM_SPLIT column chunk of the first row group of path.
func fixtureSplitSeeds(path string) ([]splitFuzzInput, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	md := pf.MetaData()
	var seeds []splitFuzzInput
	for col := range md.Schema.NumColumns() {
		cd := md.Schema.Column(col)
		var kind uint8
		switch w := cd.TypeLength(); cd.PhysicalType() {
		case parquet.Types.Float:
			kind = 0
		case parquet.Types.Double:
			kind = 1
		case parquet.Types.Int32:
			kind = 2
		case parquet.Types.Int64:
			kind = 3
		case parquet.Types.FixedLenByteArray:
			i := slices.Index([]int{1, 2, 3, 16}, w)
			if i < 0 {
				continue
			}
			kind = uint8(4 + i)
		default:
			continue
		}
		cc, err := md.RowGroup(0).ColumnChunk(col)
		if err != nil || cd.MaxRepetitionLevel() != 0 || !slices.Contains(cc.Encodings(), byteStreamSplit) {
			continue
		}
		pr, err := pf.RowGroup(0).GetColumnPageReader(col)
		if err != nil {
			return nil, err
		}
		s := splitFuzzInput{kind: kind, batch: 6}
		if cd.MaxDefinitionLevel() > 0 {
			s.shape |= shapeOptional
		}
		for pr.Next() {
			switch p := pr.Page().(type) {
			case *file.DictionaryPage:
				s.shape |= shapeDict
				s.dict = bytes.Clone(p.Data())
				continue
			case *file.DataPageV1:
				s.page = bytes.Clone(p.Data())
			case *file.DataPageV2:
				s.shape |= shapeV2
				s.page, s.nulls, s.defLen = bytes.Clone(p.Data()), int16(p.NumNulls()), int16(p.DefinitionLevelByteLen())
			}
			s.nv = int16(pr.Page().NumValues())
			s.enc = uint8(slices.Index(splitEncs, parquet.Encoding(pr.Page().Encoding())))
			break
		}
		if err := pr.Err(); err != nil {
			return nil, err
		}
		if s.page != nil {
			seeds = append(seeds, s)
		}
	}
	return seeds, nil
}

// writeSplitSeed writes a valid input of n rows, a third of them null in
// an optional column, in encoding splitEncs[enc].
func writeSplitSeed(rng *rand.Rand, kind, shape, enc uint8, n int) splitFuzzInput {
	s := splitFuzzInput{kind: kind, shape: shape, enc: enc, nv: int16(n), batch: 3}
	w := s.width()
	def := make([]byte, n)
	nn := 0
	for i := range def {
		if shape&shapeOptional == 0 || i%3 != 1 {
			def[i] = 1
			nn++
		}
	}
	s.nulls = int16(n - nn)
	// Levels: bit-packed, one group of 8 a byte.
	var levels []byte
	if shape&shapeOptional != 0 {
		groups := (n + 7) / 8
		levels = binary.AppendUvarint(nil, uint64(groups<<1|1))
		for g := range groups {
			var b byte
			for j := range 8 {
				if i := g*8 + j; i < n && def[i] == 1 {
					b |= 1 << j
				}
			}
			levels = append(levels, b)
		}
	}
	vals := make([]byte, nn*w)
	for i := range vals {
		vals[i] = byte(rng.Uint32())
	}
	var values []byte
	switch splitEncs[enc] {
	case parquet.Encodings.Plain:
		values = vals
	case byteStreamSplit:
		values = make([]byte, nn*w)
		for i := range nn {
			for b := range w {
				values[b*nn+i] = vals[i*w+b]
			}
		}
	default: // indices into a dictionary of 4 values, in 2 bits, one repeated run and the rest bit-packed
		s.dict = vals[:min(len(vals), 4*w)]
		values = []byte{2, 2 << 1, 0}
		if rest := nn - 2; rest > 0 {
			groups := (rest + 7) / 8
			values = binary.AppendUvarint(values, uint64(groups<<1|1))
			packed := make([]byte, groups*2)
			for i := range rest {
				x := i % max(len(s.dict)/w, 1)
				packed[i*2/8] |= byte(x << (i * 2 % 8))
			}
			values = append(values, packed...)
		}
	}
	if shape&shapeV2 != 0 {
		s.defLen = int16(len(levels))
		s.page = append(levels, values...)
	} else if shape&shapeOptional != 0 {
		s.page = binary.LittleEndian.AppendUint32(nil, uint32(len(levels)))
		s.page = append(append(s.page, levels...), values...)
	} else {
		s.page = values
	}
	return s
}
