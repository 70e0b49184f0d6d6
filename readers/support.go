package readers

import (
	"fmt"

	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
)

// byteStreamSplit is Parquet's BYTE_STREAM_SPLIT encoding (9 in
// parquet.thrift), which arrow-go v17 cannot decode: its column reader
// fails each page with "unsupported data encoding", and pqarrow's record
// reader drops that error and gives the column no rows, which read as a
// corrupt file. DuckDB writes it for every FLOAT and DOUBLE column with
// PARQUET_VERSION v2, pyarrow with use_byte_stream_split.
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
		leaves := appendLeaves(nil, &r.manifest.Fields[i])
		for _, g := range rowGroups {
			rg := r.meta.RowGroup(g)
			for _, c := range leaves {
				cc, err := rg.ColumnChunk(c)
				if err != nil {
					continue // reading the column reports it
				}
				if err := unreadableChunk(cc.Encodings(), cc.Compression()); err != nil {
					return fmt.Errorf("%s: column %q, row group %d: %w", r.file.Path, r.schema.Field(i).Name, g, err)
				}
			}
		}
	}
	return nil
}

// unreadableChunk says why a column chunk in these encodings and codec
// cannot be read, or returns nil.
func unreadableChunk(encodings []parquet.Encoding, codec compress.Compression) error {
	for _, e := range encodings {
		if e == byteStreamSplit {
			return fmt.Errorf("the BYTE_STREAM_SPLIT encoding cannot be read by this release " +
				"(DuckDB writes it for FLOAT and DOUBLE columns with PARQUET_VERSION v2, pyarrow with use_byte_stream_split): " +
				"write the file with PARQUET_VERSION v1 or without byte stream split")
		}
	}
	if _, err := compress.GetCodec(codec); err != nil {
		return fmt.Errorf("the %s compression cannot be read by this release (it reads uncompressed, snappy, gzip, brotli, zstd and lz4_raw): "+
			"write the file with one of those", codec)
	}
	return nil
}
