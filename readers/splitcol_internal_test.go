package readers

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
)

// TestHybrid decodes RLE/bit-packed hybrid runs written out by hand from
// the grammar in Parquet's Encodings.md; the bit-packed run of 0 to 7 in
// 3 bits is that document's own example (10001000 11000110 11111010).
func TestHybrid(t *testing.T) {
	for _, c := range []struct {
		name  string
		width uint
		data  []byte
		want  []uint32
		err   string
	}{
		{"repeated", 1, []byte{5 << 1, 1}, []uint32{1, 1, 1, 1, 1}, ""},
		{"bit-packed", 3, []byte{1<<1 | 1, 0x88, 0xc6, 0xfa}, []uint32{0, 1, 2, 3, 4, 5, 6, 7}, ""},
		{"two-byte value", 9, []byte{3 << 1, 0x2c, 0x01}, []uint32{300, 300, 300}, ""},
		{"runs", 3, []byte{2 << 1, 5, 1<<1 | 1, 0x88, 0xc6, 0xfa, 1 << 1, 7}, []uint32{5, 5, 0, 1, 2, 3, 4, 5, 6, 7, 7}, ""},
		{"values left in the run", 1, []byte{50 << 1, 1}, []uint32{1, 1, 1}, ""},
		{"width 0", 0, []byte{4 << 1, 1<<1 | 1}, []uint32{0, 0, 0, 0, 0, 0}, ""},
		{"32 bits", 32, []byte{1 << 1, 0xff, 0xff, 0xff, 0xff}, []uint32{1<<32 - 1}, ""},
		// A bit-packed run cut short has the values its bytes hold: 2
		// bytes, 5 values of 3 bits.
		{"cut bit-packed run", 3, []byte{1<<1 | 1, 0x88, 0xc6}, []uint32{0, 1, 2, 3, 4}, ""},
		{"cut bit-packed run, one more", 3, []byte{1<<1 | 1, 0x88, 0xc6}, make([]uint32, 6), "the runs end early"},
		{"empty", 1, nil, make([]uint32, 1), "the runs end early"},
		{"runs end", 1, []byte{2 << 1, 0}, make([]uint32, 3), "the runs end early"},
		{"header cut", 1, []byte{0x80}, make([]uint32, 1), "a run header does not decode"},
		{"value too wide", 1, []byte{2 << 1, 2}, make([]uint32, 1), "a repeated value of 2, wider than 1 bits"},
		{"value cut", 9, []byte{2 << 1, 0x2c}, make([]uint32, 1), "a repeated run is cut short"},
		// A count past maxRun is held to it, not multiplied out.
		{"huge run", 8, []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 9}, []uint32{9, 9}, ""},
	} {
		h := hybrid{data: c.data, width: c.width}
		got := make([]uint32, len(c.want))
		err := h.next(got)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case !slices.Equal(got, c.want):
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestUnreadableChunkSplit: a column that splitColumn reads may list only
// the encodings it decodes; a column it does not read may not list
// BYTE_STREAM_SPLIT; a column it reads but without BYTE_STREAM_SPLIT
// chunks (so arrow reads it) may list any.
func TestUnreadableChunkSplit(t *testing.T) {
	none := compress.Codecs.Uncompressed
	mixed := []parquet.Encoding{parquet.Encodings.RLE, byteStreamSplit, parquet.Encodings.DeltaBinaryPacked}
	if err := unreadableChunk(mixed, none, true, true); !errors.Is(err, errSplitMixed) || !strings.Contains(err.Error(), "DELTA_BINARY_PACKED") {
		t.Errorf("mixed: %v", err)
	}
	if err := unreadableChunk(mixed, none, false, false); !errors.Is(err, errSplitType) {
		t.Errorf("not split: %v", err)
	}
	if err := unreadableChunk([]parquet.Encoding{parquet.Encodings.DeltaBinaryPacked}, none, true, false); err != nil {
		t.Errorf("read by arrow: %v", err)
	}
	all := append(slices.Clone(splitEncodings), byteStreamSplit)
	if err := unreadableChunk(all, none, true, true); err != nil {
		t.Errorf("splitEncodings: %v", err)
	}
}

// TestSplitColumnCorruptPages damages one page of a copy of a fixture in
// a way that leaves its page header (which pageGuard checks) as it was,
// and expects the read of its column to fail with an error naming the
// file, the column, the row group and the page, and what is wrong.
func TestSplitColumnCorruptPages(t *testing.T) {
	for _, c := range []struct {
		name, file, col string
		rg, page        int // the page damaged: its row group, and its place in the chunk from 0
		damage          func(t *testing.T, h pageHeader, body []byte)
		want            []string
	}{
		{
			"v2 levels disagree with the header's nulls", "arrowrs-bss-v2.parquet", "d", 0, 0,
			func(t *testing.T, h pageHeader, body []byte) {
				copy(body, []byte{0x80, 0x01, 1}) // one run of 64 levels of 1: header 64<<1 as a ULEB128
			},
			[]string{"row group 0, page 1: corrupt page: its header says", "nulls in 64 values, its definition levels 0"},
		},
		{
			"v2 level above the maximum", "arrowrs-bss-v2.parquet", "d", 1, 2,
			func(t *testing.T, h pageHeader, body []byte) { copy(body, []byte{0x80, 0x01, 2}) },
			[]string{"row group 1, page 3: corrupt page: definition levels: a repeated value of 2, wider than 1 bits"},
		},
		{
			"v1 levels longer than the page", "duckdb-bss-uncompressed.parquet", "g", 0, 0,
			func(t *testing.T, h pageHeader, body []byte) { binary.LittleEndian.PutUint32(body, 1<<31-1) },
			[]string{"row group 0, page 1: corrupt page: 2147483647 bytes of definition levels in"},
		},
		{
			"v1 levels count more values than the page has", "duckdb-bss-uncompressed.parquet", "g", 0, 0,
			func(t *testing.T, h pageHeader, body []byte) { copy(body[4:], []byte{0xd8, 0x04, 1}) }, // 300 levels of 1
			[]string{"row group 0, page 1: corrupt page:", "bytes of BYTE_STREAM_SPLIT values for 300 values of 8 bytes"},
		},
		{
			"dictionary index past the dictionary", "arrowrs-bss-v2.parquet", "h", 2, 1,
			func(t *testing.T, h pageHeader, body []byte) {
				if h.typ != pageDataV2 || h.v2Compressed || h.encoding != int32(parquet.Encodings.RLEDict) {
					t.Fatalf("the page is not an uncompressed RLE_DICTIONARY data page v2: %+v", h)
				}
				copy(body[h.defLevels:], []byte{8, 8 << 1, 200}) // 8 bits, 8 indices of 200
			},
			[]string{"row group 2, page 2: corrupt page: dictionary index 200, where the dictionary has 8 values"},
		},
		{
			// The first index past the end (an off-by-one in the bound
			// read a value from beyond the dictionary).
			"dictionary index one past the dictionary", "arrowrs-bss-v2.parquet", "h", 2, 1,
			func(t *testing.T, h pageHeader, body []byte) {
				if h.typ != pageDataV2 || h.v2Compressed || h.encoding != int32(parquet.Encodings.RLEDict) {
					t.Fatalf("the page is not an uncompressed RLE_DICTIONARY data page v2: %+v", h)
				}
				copy(body[h.defLevels:], []byte{8, 8 << 1, 8}) // 8 bits, 8 indices of 8
			},
			[]string{"row group 2, page 2: corrupt page: dictionary index 8, where the dictionary has 8 values"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			src := filepath.Join("testdata", c.file)
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			h, body := fixturePage(t, src, data, c.col, c.rg, c.page)
			c.damage(t, h, body)
			path := filepath.Join(t.TempDir(), c.file)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := Open(context.Background(), File{Path: path}, mem)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			rr, err := r.Records(context.Background(), []string{c.col}, 7)
			if err != nil {
				t.Fatal(err)
			}
			for rr.Next() {
			}
			err = rr.Err()
			rr.Release()
			if err == nil {
				t.Fatal("no error")
			}
			for _, part := range append([]string{path + ": reading Parquet: column \"" + c.col + "\": "}, c.want...) {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
		})
	}
}

// fixturePage returns the header of page i (from 0, dictionary pages
// counted) of the column chunk of col in row group rg of the Parquet file
// data (read from path), and its body in data, as arrow's page reader
// would read them.
func fixturePage(t *testing.T, path string, data []byte, col string, rg, i int) (pageHeader, []byte) {
	t.Helper()
	r := openTestFile(t, path, nil)
	defer r.Close()
	cc, err := r.meta.RowGroup(rg).ColumnChunk(r.meta.Schema.ColumnIndexByName(col))
	if err != nil {
		t.Fatal(err)
	}
	pos := cc.DataPageOffset()
	if cc.HasDictionaryPage() {
		pos = min(pos, cc.DictionaryPageOffset())
	}
	for k := 0; ; k++ {
		h, n, err := decodePageHeader(data[pos:])
		if err != nil {
			t.Fatalf("page %d at byte %d: %v", k, pos, err)
		}
		size := int64(h.compressed)
		if h.typ == pageDataV2 && !h.v2Compressed {
			size = int64(h.uncompressed)
		}
		if k == i {
			if h.typ == pageDataV2 && h.v2Compressed || h.typ != pageDataV2 && cc.Compression() != compress.Codecs.Uncompressed {
				t.Fatalf("page %d of %s is compressed", i, col)
			}
			return h, data[pos+n : pos+n+size]
		}
		pos += n + size
	}
}
