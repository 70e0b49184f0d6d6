package report

import (
	"cmp"
	"fmt"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/readers"
)

// bagKey is a bag's key: an integer or a string, as the run's bag column.
// Dates and timestamps are integers (pipeline.BagKey) of type typ, which
// String renders.
type bagKey struct {
	str bool
	i   int64
	s   string
	typ arrow.DataType // an integer key's type; nil renders it as an integer
}

// String renders the key as a user types it on the command line: a date
// as 2026-11-25, a timestamp in ISO 8601 (pipeline.FormatBagKey).
func (k bagKey) String() string {
	if k.str {
		return k.s
	}
	if k.typ == nil {
		return strconv.FormatInt(k.i, 10)
	}
	return pipeline.FormatBagKey(k.typ, k.i)
}

// compareKeys orders keys as the run sorts bags: integers (and dates and
// timestamps) numerically, strings bytewise.
func compareKeys(a, b bagKey) int {
	if a.str {
		return cmp.Compare(a.s, b.s)
	}
	return cmp.Compare(a.i, b.i)
}

// isStringType reports whether a bag column of type t holds strings.
func isStringType(t arrow.DataType) bool {
	if d, ok := t.(*arrow.DictionaryType); ok {
		t = d.ValueType
	}
	return t.ID() == arrow.STRING || t.ID() == arrow.LARGE_STRING
}

// isKeyType reports whether a column of type t can be a run's bag column
// in its output tables: a string, integer, date or timestamp type.
func isKeyType(t arrow.DataType) bool {
	if d, ok := t.(*arrow.DictionaryType); ok {
		t = d.ValueType
	}
	switch t.ID() {
	case arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP:
		return true
	}
	return isStringType(t) || arrow.IsInteger(t.ID())
}

// parseKey reads a key given as text for a bag column of type t (the
// output tables'): a string as it is, an integer, date or timestamp as
// pipeline.ParseBagKey reads it.
func parseKey(text string, t arrow.DataType, column string) (bagKey, error) {
	if isStringType(t) {
		return bagKey{str: true, s: text}, nil
	}
	i, err := pipeline.ParseBagKey(t, column, text)
	if err != nil {
		return bagKey{}, err
	}
	return bagKey{i: i, typ: t}, nil
}

// keyAt returns row i of a bag column.
func keyAt(arr arrow.Array, i int) bagKey {
	if isStringType(arr.DataType()) {
		return bagKey{str: true, s: readers.String(arr, i)}
	}
	v, _ := pipeline.BagKey(arr, i)
	return bagKey{i: v, typ: arr.DataType()}
}

// inputKeyIs reports whether row i of an input file's bag column (not
// null) is key, a key of the output tables: an input's date64 keys are
// days there, its timestamp[s] keys milliseconds (pipeline.OutputBagKey).
func inputKeyIs(arr arrow.Array, i int, key bagKey) bool {
	if key.str {
		return isStringType(arr.DataType()) && readers.String(arr, i) == key.s
	}
	v, ok := pipeline.BagKey(arr, i)
	return ok && pipeline.OutputBagKey(arr.DataType(), v) == key.i
}

// floatAt returns row i of a numeric or boolean array as float64; ok is
// false for another type.
func floatAt(arr arrow.Array, i int) (float64, bool) {
	switch a := arr.(type) {
	case *array.Float32:
		return float64(a.Value(i)), true
	case *array.Float64:
		return a.Value(i), true
	case *array.Float16:
		return float64(a.Value(i).Float32()), true
	case *array.Boolean:
		if a.Value(i) {
			return 1, true
		}
		return 0, true
	case *array.Dictionary:
		return floatAt(a.Dictionary(), a.GetValueIndex(i))
	}
	if v, ok := readers.Int(arr, i); ok {
		return float64(v), true
	}
	if u, ok := arr.(*array.Uint64); ok {
		return float64(u.Value(i)), true
	}
	return 0, false
}

// probsAt returns row i of a map<string, double> array, such as the
// weights table's learned categorical probabilities, as a map.
func probsAt(arr arrow.Array, i int) (map[string]float64, error) {
	m, ok := arr.(*array.Map)
	if !ok || !isStringType(m.Keys().DataType()) {
		return nil, fmt.Errorf("type %s, want map<string, double>", arr.DataType())
	}
	keys, items := m.Keys(), m.Items()
	lo, hi := m.ValueOffsets(i)
	out := make(map[string]float64, hi-lo)
	for j := int(lo); j < int(hi); j++ {
		v, ok := floatAt(items, j)
		if !ok {
			return nil, fmt.Errorf("type %s, want map<string, double>", arr.DataType())
		}
		if items.IsNull(j) {
			return nil, fmt.Errorf("label %q has a null probability", readers.String(keys, j))
		}
		out[readers.String(keys, j)] = v
	}
	return out, nil
}
