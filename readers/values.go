package readers

import (
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// Int returns row i of an integer array of any width, or of a dictionary
// of integers, as an int64. ok is false for a uint64 above the int64 range
// and for an array of another type.
func Int(arr arrow.Array, i int) (v int64, ok bool) {
	switch a := arr.(type) {
	case *array.Int8:
		return int64(a.Value(i)), true
	case *array.Int16:
		return int64(a.Value(i)), true
	case *array.Int32:
		return int64(a.Value(i)), true
	case *array.Int64:
		return a.Value(i), true
	case *array.Uint8:
		return int64(a.Value(i)), true
	case *array.Uint16:
		return int64(a.Value(i)), true
	case *array.Uint32:
		return int64(a.Value(i)), true
	case *array.Uint64:
		v := a.Value(i)
		return int64(v), v <= math.MaxInt64
	case *array.Dictionary:
		return Int(a.Dictionary(), a.GetValueIndex(i))
	}
	return 0, false
}

// String returns row i of a string array (string, large_string, or a
// dictionary of either); "" for an array of another type.
func String(arr arrow.Array, i int) string {
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Dictionary:
		return String(a.Dictionary(), a.GetValueIndex(i))
	}
	return ""
}
