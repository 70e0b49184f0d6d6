package pipeline

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/mixbatch/mixbatch/readers"
)

// logical is the type a column stands for: a dictionary column stands for
// its values.
func logical(t arrow.DataType) arrow.DataType {
	if d, ok := t.(*arrow.DictionaryType); ok {
		return d.ValueType
	}
	return t
}

func isInteger(t arrow.DataType) bool {
	return arrow.IsInteger(logical(t).ID())
}

func isString(t arrow.DataType) bool {
	id := logical(t).ID()
	return id == arrow.STRING || id == arrow.LARGE_STRING
}

func isFloat(t arrow.DataType) bool {
	id := logical(t).ID()
	return id == arrow.FLOAT32 || id == arrow.FLOAT64
}

// unify returns the type that columns of types a and b are written as when
// they meet in one output table: the type itself when they agree, int64 for
// integers of different widths, string for any mix of string, large string
// and dictionary-encoded strings, a date or timestamp type for it and a
// dictionary of it. ok is false when they cannot meet.
//
// Dates and timestamps meet only their own type: a date32 does not meet a
// date64 or an integer, and timestamps meet only timestamps of the same
// unit and time zone. Bag keys are grouped by the integer a row stores,
// and timestamps of different units store different integers for one
// instant: unifying them would mean rescaling every key as it is read
// (and a nanosecond one overflows past 2262), and timestamps with and
// without a zone, or in different zones, are different columns to a SQL
// engine too (TIMESTAMPTZ and TIMESTAMP). Such files are an error naming
// both, to be cast where they are written.
func unify(a, b arrow.DataType) (arrow.DataType, bool) {
	switch {
	case arrow.TypeEqual(a, b) && a.ID() != arrow.DICTIONARY:
		return a, true
	case isTemporal(a) && arrow.TypeEqual(logical(a), logical(b)):
		return logical(a), true
	case isInteger(a) && isInteger(b):
		if arrow.TypeEqual(logical(a), logical(b)) {
			return logical(a), true
		}
		return arrow.PrimitiveTypes.Int64, true
	case isString(a) && isString(b):
		return arrow.BinaryTypes.String, true
	case arrow.TypeEqual(a, b):
		// The same dictionary type in both: written as it is.
		return a, true
	}
	return nil, false
}

// UnifyTypes returns the type that columns of types a and b, from two
// input files, are written as when they meet in one output table, by the
// local run's rules (see unify); ok is false when they cannot meet. The
// Beam runner casts every shard's columns with it, so that its tables
// have the local run's schemas.
func UnifyTypes(a, b arrow.DataType) (t arrow.DataType, ok bool) { return unify(a, b) }

// LogicalType is the type a column of type t stands for: a dictionary
// column stands for its values.
func LogicalType(t arrow.DataType) arrow.DataType { return logical(t) }

// valueAt renders row i of arr for an error message.
func valueAt(arr arrow.Array, i int) string {
	if arr.IsNull(i) {
		return "null"
	}
	if d, ok := arr.(*array.Dictionary); ok {
		return valueAt(d.Dictionary(), d.GetValueIndex(i))
	}
	if isTemporal(arr.DataType()) {
		v, _ := BagKey(arr, i) // the value, even one BagKey refuses
		return FormatBagKey(arr.DataType(), v)
	}
	switch a := arr.(type) {
	case *array.String:
		return strconv.Quote(a.Value(i))
	case *array.LargeString:
		return strconv.Quote(a.Value(i))
	}
	return arr.ValueStr(i)
}

// floatAt returns row i of a numeric (or dictionary-of-numeric) array as
// float64.
func floatAt(arr arrow.Array, i int) float64 {
	switch a := arr.(type) {
	case *array.Float32:
		return float64(a.Value(i))
	case *array.Float64:
		return a.Value(i)
	case *array.Dictionary:
		return floatAt(a.Dictionary(), a.GetValueIndex(i))
	}
	v, _ := readers.Int(arr, i)
	if u, ok := arr.(*array.Uint64); ok {
		return float64(u.Value(i))
	}
	return float64(v)
}

// boolAt returns row i of a bool (or dictionary-of-bool) array.
func boolAt(arr arrow.Array, i int) bool {
	if d, ok := arr.(*array.Dictionary); ok {
		return boolAt(d.Dictionary(), d.GetValueIndex(i))
	}
	return arr.(*array.Boolean).Value(i)
}

// castTo converts arr to type t, one that unify produced from arr's type:
// the type itself, a dictionary's value type, int64 or string; or, for a
// bag column of dates or timestamps, outputKeyType of its type. The
// result must be released.
func castTo(mem memory.Allocator, arr arrow.Array, t arrow.DataType) (arrow.Array, error) {
	if arrow.TypeEqual(arr.DataType(), t) {
		arr.Retain()
		return arr, nil
	}
	var appendAt func(b array.Builder, i int)
	switch {
	case t.ID() == arrow.STRING && isString(arr.DataType()):
		appendAt = func(b array.Builder, i int) { b.(*array.StringBuilder).Append(readers.String(arr, i)) }
	case arrow.IsInteger(t.ID()) && isInteger(arr.DataType()):
		appendAt = func(b array.Builder, i int) {
			v, _ := readers.Int(arr, i)
			appendInt(b, v)
		}
	case isTemporal(arr.DataType()) && arrow.TypeEqual(outputKeyType(logical(arr.DataType())), t):
		from := logical(arr.DataType())
		appendAt = func(b array.Builder, i int) {
			v, _ := BagKey(arr, i)
			appendInt(b, OutputBagKey(from, v))
		}
	case t.ID() == arrow.FLOAT64 && isFloat(arr.DataType()):
		appendAt = func(b array.Builder, i int) { b.(*array.Float64Builder).Append(floatAt(arr, i)) }
	case t.ID() == arrow.FLOAT32 && logical(arr.DataType()).ID() == arrow.FLOAT32:
		appendAt = func(b array.Builder, i int) { b.(*array.Float32Builder).Append(float32(floatAt(arr, i))) }
	case t.ID() == arrow.BOOL && logical(arr.DataType()).ID() == arrow.BOOL:
		appendAt = func(b array.Builder, i int) { b.(*array.BooleanBuilder).Append(boolAt(arr, i)) }
	default:
		return nil, fmt.Errorf("cannot write a %s column as %s", arr.DataType(), t)
	}
	b := array.NewBuilder(mem, t)
	defer b.Release()
	b.Reserve(arr.Len())
	for i := 0; i < arr.Len(); i++ {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		appendAt(b, i)
	}
	return b.NewArray(), nil
}

// appendInt appends v to an integer builder of any width, or a date32,
// date64 or timestamp builder (v as it stores it); v came from a column
// of the builder's type, so it fits.
func appendInt(b array.Builder, v int64) {
	switch b := b.(type) {
	case *array.Int8Builder:
		b.Append(int8(v))
	case *array.Int16Builder:
		b.Append(int16(v))
	case *array.Int32Builder:
		b.Append(int32(v))
	case *array.Int64Builder:
		b.Append(v)
	case *array.Uint8Builder:
		b.Append(uint8(v))
	case *array.Uint16Builder:
		b.Append(uint16(v))
	case *array.Uint32Builder:
		b.Append(uint32(v))
	case *array.Uint64Builder:
		b.Append(uint64(v))
	case *array.Date32Builder:
		b.Append(arrow.Date32(v))
	case *array.Date64Builder:
		b.Append(arrow.Date64(v))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v))
	default:
		panic(fmt.Sprintf("pipeline: appendInt on %T", b))
	}
}
