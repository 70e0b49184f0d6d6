package readers

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/arrow/go/v17/parquet/schema"
)

// streamBuffer is the largest buffer through which a Parquet column
// chunk is read (parquet.ReaderProperties.BufferSize, with
// BufferedStreamEnabled). pqarrow's default, reading each column chunk
// whole into a new slice when its reader is made, was no faster in
// BenchmarkUnitRecords (nor were buffers from 16 KiB to 1 MiB), and holds
// a whole chunk per column per stream (8 MiB for a float64 column of a
// row group of 1<<20 rows), its size taken from the footer unchecked.
const streamBuffer = 256 << 10

// objectBuffer is streamBuffer for an object in an object store, where
// every buffer fill is one ranged GET: a request costs tens of
// milliseconds before its first byte, so a column chunk is fetched in a
// few large ranges rather than many small ones (8 MiB, as the S3 guidance
// and DuckDB's and Arrow C++'s range coalescing do), at the price of that
// much memory per column being read.
const objectBuffer = 8 << 20

// streamBufferSize returns the read buffer size for a file: streamBuffer
// (objectBuffer for an object), or less if no column chunk is that large,
// since every column reader allocates one (between parquet.DefaultBufSize
// and that size).
func streamBufferSize(md *metadata.FileMetaData, object bool) int64 {
	most := int64(streamBuffer)
	if object {
		most = objectBuffer
	}
	largest := parquet.DefaultBufSize
	for _, rg := range md.GetRowGroups() {
		if rg == nil {
			continue
		}
		for _, c := range rg.GetColumns() {
			if c != nil && c.GetMetaData() != nil { // nil if encrypted
				largest = max(largest, c.GetMetaData().GetTotalCompressedSize())
			}
		}
	}
	return min(largest, most)
}

// NumUnits returns how many independently readable units the file has:
// its row groups for Parquet (0 for a file without row groups), 1 for Arrow IPC.
//
// Units are numbered from 0 in file order; reading every unit in turn
// reads the file as Records does. NumUnits reads only the footer that
// Open read, and works after Close.
func (r *Reader) NumUnits() int {
	if r.file.Format == Parquet {
		return len(r.rgRows)
	}
	return 1
}

// UnitRows returns the number of rows of unit u.
//
// It panics if u is not in [0, NumUnits()).
func (r *Reader) UnitRows(u int) int64 {
	if u < 0 || u >= r.NumUnits() {
		panic(fmt.Sprintf("readers: %s: unit %d out of range [0, %d)", r.file.Path, u, r.NumUnits()))
	}
	if r.file.Format == Parquet {
		return r.rgRows[u]
	}
	return r.numRows
}

// UnitRecords is Records restricted to unit u: it streams only that unit's rows
// of the named columns, in order, as batches of at most batchSize rows.
// Several UnitRecords of one Reader may be used at the same time from different goroutines.
//
// A u outside [0, NumUnits()) is an error naming the file; other errors
// are those of Records. Each call makes its own column readers, sharing
// only the open file and its footer with other calls: a RecordReader is
// not safe for concurrent use, but any number of them may run at once.
// The Reader must stay open until they are released. For Arrow IPC,
// unit 0 is the whole file.
func (r *Reader) UnitRecords(ctx context.Context, columns []string, batchSize int, u int) (RecordReader, error) {
	if u < 0 || u >= r.NumUnits() {
		return nil, fmt.Errorf("%s: no unit %d (the file has %d)", r.file.Path, u, r.NumUnits())
	}
	if r.file.Format != Parquet {
		u = -1 // the whole file
	}
	return r.records(ctx, columns, batchSize, u)
}

// UnitColumnBytes returns the bytes that top-level column name takes
// uncompressed in unit u, from the Parquet footer: the sum of its column
// chunks' total_uncompressed_size (a dictionary-encoded chunk counts its
// dictionary once, so its values take more decoded). ok is false for
// Arrow IPC, for a u out of range and for a column the file does not have
// (or has more than once).
func (r *Reader) UnitColumnBytes(name string, u int) (n int64, ok bool) {
	if r.file.Format != Parquet || r.meta == nil || u < 0 || u >= len(r.rgRows) || r.manifest == nil {
		return 0, false
	}
	idx := r.schema.FieldIndices(name)
	if len(idx) != 1 || idx[0] >= len(r.manifest.Fields) {
		return 0, false
	}
	rg := r.meta.RowGroup(u)
	for _, c := range appendLeaves(nil, &r.manifest.Fields[idx[0]]) {
		cc, err := rg.ColumnChunk(c)
		if err != nil {
			return 0, false
		}
		n += max(cc.TotalUncompressedSize(), 0)
	}
	return n, true
}

// IntRange returns the smallest and largest value of integer column name over the whole
// file from the Parquet column statistics, and ok=false when any row group lacks them,
// the column is not an integer column, the file is IPC, or the column has nulls only.
//
// An integer column is a top-level column of Arrow type int8 to int64 or
// uint8 to uint64, or a dictionary of one; a date32 column stored as a
// Parquet DATE and a timestamp column stored as a Parquet TIMESTAMP of
// the same unit count too, their statistics being the integers the
// Arrow values hold (days, the timestamp in its unit). A date64 column
// does not: Parquet stores it in days, Arrow in milliseconds (and
// pqarrow reads a Parquet DATE as a date32). Only the footer that Open read
// is used (IntRange works after Close too). Row groups without rows, and
// row groups whose statistics count only nulls, are skipped. ok is false
// too for a uint64 above the int64 range, for malformed statistics or
// min > max, and for statistics known to be unreliable: the deprecated
// min and max of an unsigned column, and those of a nullable unsigned
// column written by arrow-go before 18.1.0 (see brokenUnsignedStats),
// which includes files written with this module's arrow v17.
// Statistics bound the values; a writer may widen them, though integer
// statistics are commonly exact.
func (r *Reader) IntRange(name string) (min, max int64, ok bool) {
	return r.intRange(name, 0, len(r.rgRows))
}

// UnitIntRange is IntRange restricted to unit u: the smallest and largest
// value of integer column name over that unit's rows, from the Parquet
// column statistics of that row group. ok is false in the cases of
// IntRange, and also for a u out of range and for a unit without rows or
// with only nulls in the column.
func (r *Reader) UnitIntRange(name string, u int) (min, max int64, ok bool) {
	if u < 0 || u >= len(r.rgRows) {
		return 0, 0, false
	}
	return r.intRange(name, u, u+1)
}

// intRange is IntRange over row groups [first, end).
func (r *Reader) intRange(name string, first, end int) (min, max int64, ok bool) {
	col, ci, ok := r.intColumn(name)
	if !ok {
		return 0, 0, false
	}
	defer func() {
		if recover() != nil { // malformed footer
			min, max, ok = 0, 0, false
		}
	}()
	seen := false
	for g := first; g < end; g++ {
		lo, hi, values, ok := r.rowGroupIntRange(col, ci, g)
		if !ok {
			return 0, 0, false
		}
		if !values {
			continue
		}
		if !seen || lo < min {
			min = lo
		}
		if !seen || hi > max {
			max = hi
		}
		seen = true
	}
	return min, max, seen
}

// intColumn returns the Parquet column of the top-level integer column
// name (see IntRange) and its index, if the file is Parquet, has one such
// column, and its statistics are not known to be unreliable.
func (r *Reader) intColumn(name string) (*schema.Column, int, bool) {
	if r.meta == nil {
		return nil, 0, false
	}
	found := r.schema.FieldIndices(name)
	if len(found) != 1 {
		return nil, 0, false
	}
	typ := r.schema.Field(found[0]).Type
	if d, isDict := typ.(*arrow.DictionaryType); isDict {
		typ = d.ValueType
	}
	temporal := typ.ID() == arrow.DATE32 || typ.ID() == arrow.TIMESTAMP
	if !arrow.IsInteger(typ.ID()) && !temporal {
		return nil, 0, false
	}
	field := &r.manifest.Fields[found[0]]
	ci := field.ColIndex
	if len(field.Children) > 0 || ci < 0 || ci >= r.meta.Schema.NumColumns() {
		return nil, 0, false
	}
	col := r.meta.Schema.Column(ci)
	if temporal && !sameIntegers(typ, col) {
		return nil, 0, false
	}
	if brokenUnsignedStats(r.meta.WriterVersion(), col) {
		return nil, 0, false
	}
	return col, ci, true
}

// sameIntegers reports whether the Parquet statistics of leaf column col,
// read as Arrow type typ (a date or timestamp type), are the integers the
// Arrow values hold: a date32 stored as a DATE (days), a timestamp stored
// as an INT64 TIMESTAMP of its unit.
func sameIntegers(typ arrow.DataType, col *schema.Column) bool {
	switch t := typ.(type) {
	case *arrow.Date32Type:
		_, date := col.LogicalType().(schema.DateLogicalType)
		return col.PhysicalType() == parquet.Types.Int32 && date
	case *arrow.TimestampType:
		ts, ok := col.LogicalType().(*schema.TimestampLogicalType)
		if !ok || col.PhysicalType() != parquet.Types.Int64 {
			return false
		}
		unit := map[schema.TimeUnitType]arrow.TimeUnit{
			schema.TimeUnitMillis: arrow.Millisecond,
			schema.TimeUnitMicros: arrow.Microsecond,
			schema.TimeUnitNanos:  arrow.Nanosecond,
		}
		u, known := unit[ts.TimeUnit()]
		return known && u == t.Unit
	}
	return false
}

// rowGroupIntRange returns the range of Parquet column col (index ci) in
// row group g from its statistics. values is false, with ok, for a row
// group without rows or whose statistics count only nulls; ok is false
// when the statistics are missing, malformed or unusable (see IntRange).
// It may panic on a malformed footer.
func (r *Reader) rowGroupIntRange(col *schema.Column, ci, g int) (lo, hi int64, values, ok bool) {
	if r.rgRows[g] == 0 {
		return 0, 0, false, true
	}
	chunks := r.meta.RowGroups[g].GetColumns()
	if ci >= len(chunks) {
		return 0, 0, false, false
	}
	cm := chunks[ci].GetMetaData() // nil if encrypted
	if cm == nil || parquet.Type(cm.GetType()) != col.PhysicalType() {
		return 0, 0, false, false
	}
	st := cm.GetStatistics()
	if st == nil {
		return 0, 0, false, false
	}
	min, max := st.GetMinValue(), st.GetMaxValue()
	if min == nil || max == nil {
		// The deprecated fields were written in signed order whatever
		// the column's, so they hold only for signed columns.
		min, max = st.GetMin(), st.GetMax()
		if col.SortOrder() != schema.SortSIGNED {
			min, max = nil, nil
		}
	}
	if min == nil || max == nil {
		onlyNulls := st.NullCount != nil && *st.NullCount == cm.GetNumValues()
		return 0, 0, false, onlyNulls
	}
	lo, okLo := statInt(min, col)
	hi, okHi := statInt(max, col)
	if !okLo || !okHi || lo > hi {
		return 0, 0, false, false
	}
	return lo, hi, true, true
}

// fixedUnsignedStats is the first arrow-go version whose statistics of
// nullable unsigned integer columns are right (apache/arrow-go#209, fixed
// by #210): before it, a page with a null slot updated min and max with
// signed comparisons from unsigned defaults, and over the null slots too.
var fixedUnsignedStats = metadata.NewAppVersionExplicit("parquet-go", 18, 1, 0)

// brokenUnsignedStats reports whether a file written by writer has
// unreliable statistics for col: a nullable column of unsigned sort
// order written by arrow-go before fixedUnsignedStats (such as this
// module's own arrow v17). Its min and max may be wrong and still look
// plausible.
func brokenUnsignedStats(writer *metadata.AppVersion, col *schema.Column) bool {
	return col.SortOrder() == schema.SortUNSIGNED && col.MaxDefinitionLevel() > 0 &&
		writer != nil && writer.App == fixedUnsignedStats.App && writer.LessThan(fixedUnsignedStats)
}

// statInt decodes a PLAIN-encoded statistic of an INT32 or INT64 column,
// as unsigned if the column's sort order is; ok is false for other types,
// a wrong length, and a uint64 above the int64 range.
func statInt(b []byte, col *schema.Column) (int64, bool) {
	unsigned := col.SortOrder() == schema.SortUNSIGNED
	switch {
	case col.PhysicalType() == parquet.Types.Int32 && len(b) == 4:
		v := binary.LittleEndian.Uint32(b)
		if unsigned {
			return int64(v), true
		}
		return int64(int32(v)), true
	case col.PhysicalType() == parquet.Types.Int64 && len(b) == 8:
		v := binary.LittleEndian.Uint64(b)
		if unsigned && v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	}
	return 0, false
}
