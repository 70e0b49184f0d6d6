package readers

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// TextError is a string value that is not valid UTF-8 in a column that
// CheckUTF8 named. Parquet's STRING and Arrow's utf8 must be UTF-8, and
// SQL engines (DuckDB among them) refuse to read a table with such a
// value, so a copy of it would make output nobody can read.
type TextError struct {
	Path   string
	Column string
	Row    int64  // 0-based within the file
	Value  string // quoted, cut to maxShownText bytes
	Reason string
}

func (e *TextError) Error() string {
	return fmt.Sprintf("%s: column %q, row %d: value %s: %s", e.Path, e.Column, e.Row, e.Value, e.Reason)
}

// maxShownText is the most bytes of a bad value a TextError shows.
const maxShownText = 64

// CheckUTF8 makes the record readers that r makes from then on (Records,
// UnitRecords) check that every value of the named columns that are
// strings (string, large_string or a dictionary of either; other types
// and names the file lacks are ignored) is valid UTF-8: the first one
// that is not ends the stream with a *TextError naming the file, column
// and row. Call it before any record reader is made: it is not safe for
// concurrent use with them.
func (r *Reader) CheckUTF8(columns ...string) {
	for _, name := range columns {
		if r.utf8 == nil {
			r.utf8 = map[string]bool{}
		}
		r.utf8[name] = true
	}
}

// textColumns returns the positions among columns of those CheckUTF8
// named that are strings.
func (r *Reader) textColumns(columns []string, idx []int) []int {
	var out []int
	for k, name := range columns {
		if !r.utf8[name] {
			continue
		}
		t := r.schema.Field(idx[k]).Type
		if d, ok := t.(*arrow.DictionaryType); ok {
			t = d.ValueType
		}
		if id := t.ID(); id == arrow.STRING || id == arrow.LARGE_STRING {
			out = append(out, k)
		}
	}
	return out
}

// utf8Records checks the string columns cols of the batches of a record
// reader whose first row is the file's row row.
type utf8Records struct {
	RecordReader
	path string
	cols []int
	row  int64
	err  error
}

// Next implements RecordReader.
func (u *utf8Records) Next() bool {
	if u.err != nil || !u.RecordReader.Next() {
		return false
	}
	rec := u.RecordReader.Record()
	for _, k := range u.cols {
		if i, bad := firstInvalidText(rec.Column(k)); bad {
			u.err = &TextError{Path: u.path, Column: rec.ColumnName(k), Row: u.row + int64(i),
				Value: quoteCut(String(rec.Column(k), i)), Reason: "not valid UTF-8 text (Parquet and Arrow strings must be; SQL engines refuse to read such output)"}
			return false
		}
	}
	u.row += rec.NumRows()
	return true
}

// Record implements RecordReader: none after an invalid value.
func (u *utf8Records) Record() arrow.Record {
	if u.err != nil {
		return nil
	}
	return u.RecordReader.Record()
}

// Err implements RecordReader.
func (u *utf8Records) Err() error {
	if u.err != nil {
		return u.err
	}
	return u.RecordReader.Err()
}

// quoteCut quotes s, cut to maxShownText bytes.
func quoteCut(s string) string {
	if len(s) > maxShownText {
		return strconv.Quote(s[:maxShownText]) + "..."
	}
	return strconv.Quote(s)
}

// firstInvalidText returns the first non-null row of a string array (or
// a dictionary of strings) that is not valid UTF-8, if there is one.
func firstInvalidText(arr arrow.Array) (int, bool) {
	switch a := arr.(type) {
	case *array.String:
		if ascii(a.ValueBytes()) {
			return 0, false
		}
		for i := range a.Len() {
			if a.IsValid(i) && !utf8.ValidString(a.Value(i)) {
				return i, true
			}
		}
	case *array.LargeString:
		if ascii(a.ValueBytes()) {
			return 0, false
		}
		for i := range a.Len() {
			if a.IsValid(i) && !utf8.ValidString(a.Value(i)) {
				return i, true
			}
		}
	case *array.Dictionary:
		dict := a.Dictionary()
		var bad map[int]bool
		for j := range dict.Len() {
			if dict.IsValid(j) && !utf8.ValidString(String(dict, j)) {
				if bad == nil {
					bad = map[int]bool{}
				}
				bad[j] = true
			}
		}
		if bad == nil {
			return 0, false
		}
		for i := range a.Len() {
			if a.IsValid(i) && bad[a.GetValueIndex(i)] {
				return i, true
			}
		}
	}
	return 0, false
}

// ascii reports whether b is all ASCII, and so valid UTF-8 however it is
// cut into values.
func ascii(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
