package pipeline

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/mixbatch/mixbatch/readers"
)

// Bag keys of an integer, date or timestamp column are grouped by the
// integer each row stores: the integer itself, the days of a date32, the
// milliseconds of a date64, a timestamp's count of its unit. Everything a
// run does with integer keys (dense indexes, sortedness from row-group
// statistics, spill partitions, windows, each bag's random stream) it
// does with these integers; only messages and the output tables see the
// type.

// msPerDay is the milliseconds of a date64 day.
const msPerDay = 86400000

// isTemporal reports whether a column of type t holds dates or timestamps
// (plain or dictionary-encoded).
func isTemporal(t arrow.DataType) bool {
	switch logical(t).ID() {
	case arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP:
		return true
	}
	return false
}

// isIntKey reports whether a bag column of type t is keyed by integers:
// an integer, date or timestamp type, or a dictionary of one.
func isIntKey(t arrow.DataType) bool { return isInteger(t) || isTemporal(t) }

// BagKey returns row i of a bag column keyed by integers (an integer,
// date32, date64 or timestamp array, or a dictionary of one) as the
// integer the run groups it by: the value itself, the days of a date32,
// the milliseconds of a date64, the timestamp in its unit. ok is false for
// another type, and for a key the output tables cannot hold: a uint64
// above the int64 range, a date64 that is not a whole day (Parquet's DATE
// counts days), and a timestamp[s] beyond the milliseconds an int64
// holds (Parquet's TIMESTAMP has no seconds unit). keyLimit says which.
// v is the stored integer even when ok is false, but for another type.
func BagKey(arr arrow.Array, i int) (v int64, ok bool) {
	switch a := arr.(type) {
	case *array.Date32:
		return int64(a.Value(i)), true
	case *array.Date64:
		v := int64(a.Value(i))
		return v, v%msPerDay == 0 && v/msPerDay >= math.MinInt32 && v/msPerDay <= math.MaxInt32
	case *array.Timestamp:
		v := int64(a.Value(i))
		if a.DataType().(*arrow.TimestampType).Unit == arrow.Second {
			return v, v >= math.MinInt64/1000 && v <= math.MaxInt64/1000
		}
		return v, true
	case *array.Dictionary:
		return BagKey(a.Dictionary(), a.GetValueIndex(i))
	}
	return readers.Int(arr, i)
}

// keyLimit says, for an error message, which keys of a bag column of type
// t BagKey refuses.
func keyLimit(t arrow.DataType) string {
	t = logical(t)
	switch t.ID() {
	case arrow.DATE64:
		return "a date64 bag key must be a whole day (a multiple of 86400000 ms): the output tables store dates as Parquet DATE, in days"
	case arrow.TIMESTAMP:
		return "a timestamp[s] bag key must be within 9223372036854775 seconds of 1970: the output tables store it in milliseconds"
	}
	return "bag keys above 9223372036854775807 are not supported"
}

// outputKeyType is the type in which the output tables hold a bag column
// of type t (a logical type, as plan.bagType): t itself but for the two
// types Parquet cannot hold as they are. A date64 column is written as a
// date32 (a Parquet DATE counts days; pqarrow would write a date64 as one
// anyway, and read it back as a date32), a timestamp[s] as a
// timestamp[ms] of the same time zone (Parquet's TIMESTAMP has no seconds
// unit; pqarrow would write it in milliseconds, and lose the zone).
func outputKeyType(t arrow.DataType) arrow.DataType {
	switch tt := t.(type) {
	case *arrow.Date64Type:
		return arrow.FixedWidthTypes.Date32
	case *arrow.TimestampType:
		if tt.Unit == arrow.Second {
			return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: tt.TimeZone}
		}
	}
	return t
}

// OutputBagKey returns key v of a bag column of type t (as BagKey returns
// it) as the output tables hold it (outputKeyType): days for a date64,
// milliseconds for a timestamp[s], else v itself.
func OutputBagKey(t arrow.DataType, v int64) int64 {
	switch tt := logical(t).(type) {
	case *arrow.Date64Type:
		return v / msPerDay
	case *arrow.TimestampType:
		if tt.Unit == arrow.Second {
			return v * 1000
		}
	}
	return v
}

// FormatBagKey renders integer key v of a bag column of type t (as BagKey
// returns it) for a person: a date as 2026-11-25, a timestamp in ISO 8601
// with its time zone's offset if it has a zone (2026-11-25T13:00:00Z,
// 2026-11-25T14:00:00+01:00) and without one if not
// (2026-11-25T13:00:00), fractions of a second only when there are some;
// an integer in decimal. ParseBagKey reads it back.
func FormatBagKey(t arrow.DataType, v int64) string {
	switch tt := logical(t).(type) {
	case *arrow.Date32Type:
		return time.Unix(v*86400, 0).UTC().Format(time.DateOnly)
	case *arrow.Date64Type:
		tm := time.UnixMilli(v).UTC()
		if v%msPerDay != 0 {
			return tm.Format("2006-01-02T15:04:05.999Z07:00")
		}
		return tm.Format(time.DateOnly)
	case *arrow.TimestampType:
		tm := timestampTime(tt.Unit, v)
		if tt.TimeZone == "" {
			return tm.Format("2006-01-02T15:04:05.999999999")
		}
		if loc, err := tt.GetZone(); err == nil && loc != nil {
			tm = tm.In(loc)
		}
		return tm.Format("2006-01-02T15:04:05.999999999Z07:00")
	}
	return strconv.FormatInt(v, 10)
}

// timestampTime is the instant of timestamp v of the given unit, in UTC.
func timestampTime(unit arrow.TimeUnit, v int64) time.Time {
	switch unit {
	case arrow.Second:
		return time.Unix(v, 0).UTC()
	case arrow.Millisecond:
		return time.UnixMilli(v).UTC()
	case arrow.Microsecond:
		return time.UnixMicro(v).UTC()
	}
	return time.Unix(0, v).UTC()
}

// timestampLayouts are the forms ParseBagKey reads a timestamp in: ISO
// 8601 with a T or (as SQL engines print them) a space, seconds optional,
// any fraction of a second, with an offset (Z, +01:00, +01) or without.
var timestampLayouts = []string{
	"2006-01-02T15:04:05Z07:00", "2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05Z07", "2006-01-02 15:04:05Z07",
	"2006-01-02T15:04Z07:00", "2006-01-02 15:04Z07:00",
	"2006-01-02T15:04:05", "2006-01-02 15:04:05",
	"2006-01-02T15:04", "2006-01-02 15:04",
	time.DateOnly,
}

// ParseBagKey reads text, a bag key as a person types it (as FormatBagKey
// renders it), as the integer key of a bag column of type t (an integer,
// date or timestamp type) named column ("" when not known), which the
// error names. A timestamp may be written with any offset (it names an
// instant) when the column has a time zone, and is read in that zone
// without one; a column without a zone takes none. A timestamp more
// precise than the column's unit is an error.
func ParseBagKey(t arrow.DataType, column, text string) (int64, error) {
	col := "the bag column"
	if column != "" {
		col += " " + strconv.Quote(column)
	}
	lt := logical(t)
	switch tt := lt.(type) {
	case *arrow.Date32Type, *arrow.Date64Type:
		d, err := time.Parse(time.DateOnly, text)
		if err != nil {
			return 0, fmt.Errorf("bag %q: %s holds dates: write one as 2026-11-25", text, col)
		}
		days := d.Unix() / 86400
		if lt.ID() == arrow.DATE64 {
			return days * msPerDay, nil
		}
		return days, nil
	case *arrow.TimestampType:
		return parseTimestamp(tt, col, text)
	}
	if !arrow.IsInteger(lt.ID()) {
		return 0, fmt.Errorf("bag %q: %s, of type %s, is not keyed by integers", text, col, t)
	}
	if lt.ID() == arrow.UINT64 {
		if u, err := strconv.ParseUint(text, 10, 64); err == nil && u <= math.MaxInt64 {
			return int64(u), nil
		}
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bag %q: %s holds integers", text, col)
	}
	return v, nil
}

// parseTimestamp is ParseBagKey for a timestamp column of type tt, col
// naming the column.
func parseTimestamp(tt *arrow.TimestampType, col, text string) (int64, error) {
	want := "2026-11-25T13:00:00"
	loc := time.UTC
	if tt.TimeZone != "" {
		want += "Z or 2026-11-25T14:00:00+01:00"
		if z, err := tt.GetZone(); err == nil && z != nil {
			loc = z
		}
	}
	var tm time.Time
	var err error
	for _, layout := range timestampLayouts {
		if tm, err = time.ParseInLocation(layout, text, loc); err == nil {
			if tt.TimeZone == "" && strings.Contains(layout, "Z07") {
				return 0, fmt.Errorf("bag %q: %s holds timestamps without a time zone: write one without an offset, as %s", text, col, want)
			}
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("bag %q: %s holds timestamps (%s): write one as %s", text, col, tt, want)
	}
	if tt.TimeZone == "" {
		// A zoneless timestamp counts from 1970-01-01T00:00:00 as if
		// it were UTC.
		tm = time.Date(tm.Year(), tm.Month(), tm.Day(), tm.Hour(), tm.Minute(), tm.Second(), tm.Nanosecond(), time.UTC)
	}
	var v int64
	switch tt.Unit {
	case arrow.Second:
		v = tm.Unix()
	case arrow.Millisecond:
		v = tm.UnixMilli()
	case arrow.Microsecond:
		v = tm.UnixMicro()
	default:
		v = tm.UnixNano()
	}
	if !timestampTime(tt.Unit, v).Equal(tm) {
		return 0, fmt.Errorf("bag %q: %s holds timestamps in %s: the key is finer than that, or out of range", text, col, tt.Unit)
	}
	return v, nil
}

// int64Keys returns the keys of a bag column of int64 or timestamp values
// (but timestamp[s], whose keys BagKey checks) as they are, without a
// copy; false for another type.
func int64Keys(arr arrow.Array) ([]int64, bool) {
	switch a := arr.(type) {
	case *array.Int64:
		return a.Int64Values(), true
	case *array.Timestamp:
		if a.DataType().(*arrow.TimestampType).Unit == arrow.Second {
			return nil, false
		}
		v := a.TimestampValues()
		if len(v) == 0 {
			return []int64{}, true
		}
		return unsafe.Slice((*int64)(unsafe.Pointer(&v[0])), len(v)), true
	}
	return nil, false
}

// keyType is the type of the bag column in the output tables.
func (r *runner) keyType() arrow.DataType { return outputKeyType(r.plan.bagType) }

// AppendBagKey appends key v, as BagKey returns it, to a builder of the
// bag column's own type: an integer of any width, date32, date64 or
// timestamp. The Beam runner builds its key columns with it.
func AppendBagKey(b array.Builder, v int64) { appendInt(b, v) }
