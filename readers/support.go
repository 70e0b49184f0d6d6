package readers

import (
	"errors"
	"fmt"
	"slices"

	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
)

// byteStreamSplit is Parquet's BYTE_STREAM_SPLIT encoding (9 in
// parquet.thrift), which arrow-go v17 cannot decode: its column reader
// fails each page with "unsupported data encoding", and pqarrow's record
// reader drops that error and gives the column no rows, which read as a
// corrupt file. DuckDB writes it for the FLOAT and DOUBLE columns that it
// does not dictionary-encode, with PARQUET_VERSION v2; pyarrow
// (use_byte_stream_split), arrow-rs and xitongsys/parquet-go on request,
// pyarrow and arrow-rs for INT32, INT64 and FIXED_LEN_BYTE_ARRAY columns
// too. The columns that splitColumn reads (see splitWidth and splitTypes)
// are read with it, every page of them; in other columns the encoding is
// refused before any page is read.
const byteStreamSplit = parquet.Encoding(9)

// Unreadable checks, from the footer alone, that the named top-level
// columns of a Parquet file (names the file lacks are ignored; nil for an
// IPC file) use only the encodings and compression codecs this reader
// decodes in every row group, and returns an error naming the file, the
// column, the row group and what to do otherwise. Records and
// UnitRecords make the same check for the row groups they read.
func (r *Reader) Unreadable(columns []string) error {
	if r.meta == nil {
		return nil
	}
	var idx []int
	for _, name := range columns {
		if found := r.schema.FieldIndices(name); len(found) == 1 {
			idx = append(idx, found[0])
		}
	}
	rowGroups := make([]int, len(r.rgRows))
	for i := range rowGroups {
		rowGroups[i] = i
	}
	return r.unreadable(idx, rowGroups)
}

// unreadable is Unreadable of fields idx in the given row groups.
func (r *Reader) unreadable(idx, rowGroups []int) error {
	for _, i := range idx {
		f := &r.manifest.Fields[i]
		leaves := appendLeaves(nil, f)
		// A column that splitColumn can read, and does read here (see
		// usesSplit), may list only the encodings it decodes, in any of
		// these row groups.
		split := splitWidth(r.meta, f) > 0
		bySplit := split && usesSplit(r.meta, f.ColIndex, rowGroups)
		for _, g := range rowGroups {
			rg := r.meta.RowGroup(g)
			for _, c := range leaves {
				cc, err := rg.ColumnChunk(c)
				if err != nil {
					continue // reading the column reports it
				}
				err = unreadableChunk(cc.Encodings(), cc.Compression(), split, bySplit)
				if errors.Is(err, errSplitType) {
					err = fmt.Errorf("%w; this one is %s, read as %s", err, cc.Type(), r.schema.Field(i).Type)
				}
				if err != nil {
					return fmt.Errorf("%s: column %q, row group %d: %w%s", r.file.Path, r.schema.Field(i).Name, g, err, splitAdvice(err))
				}
			}
		}
	}
	return nil
}

// errSplitType is the error of a column chunk in BYTE_STREAM_SPLIT of a
// column that splitColumn does not read.
var errSplitType = errors.New("the BYTE_STREAM_SPLIT encoding is read by this release only in " + splitTypes)

// splitAdvice is what to do about err from unreadableChunk, if it is about
// BYTE_STREAM_SPLIT.
func splitAdvice(err error) string {
	if errors.Is(err, errSplitType) || errors.Is(err, errSplitMixed) {
		return ": write the file with PARQUET_VERSION v1 or without byte stream split " +
			"(DuckDB writes it for FLOAT and DOUBLE columns with PARQUET_VERSION v2, pyarrow with use_byte_stream_split)"
	}
	return ""
}

// errSplitMixed is the error of a column chunk, in a column read by
// splitColumn, in an encoding that splitColumn does not decode.
var errSplitMixed = errors.New("in a column with BYTE_STREAM_SPLIT chunks, this release reads chunks " +
	"only in BYTE_STREAM_SPLIT, PLAIN and dictionary encodings")

// unreadableChunk says why a column chunk in these encodings and codec
// cannot be read, or returns nil. split is whether its column is one that
// splitColumn can read, and bySplit whether it does (see usesSplit).
func unreadableChunk(encodings []parquet.Encoding, codec compress.Compression, split, bySplit bool) error {
	for _, e := range encodings {
		switch {
		case e == byteStreamSplit && !split:
			return errSplitType
		case bySplit && !slices.Contains(splitEncodings, e):
			return fmt.Errorf("its %s encoding: %w", e, errSplitMixed)
		}
	}
	if _, err := compress.GetCodec(codec); err != nil {
		return fmt.Errorf("the %s compression cannot be read by this release (it reads uncompressed, snappy, gzip, brotli, zstd and lz4_raw): "+
			"write the file with one of those", codec)
	}
	return nil
}
