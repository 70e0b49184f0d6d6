package report

import (
	"cmp"
	"fmt"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/mixbatch/mixbatch/readers"
)

// bagKey is a bag's key: an integer or a string, as the run's bag column.
type bagKey struct {
	str bool
	i   int64
	s   string
}

// String renders the key as a user types it on the command line.
func (k bagKey) String() string {
	if k.str {
		return k.s
	}
	return strconv.FormatInt(k.i, 10)
}

// compareKeys orders keys as the run sorts bags: integers numerically,
// strings bytewise.
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

// isIntegerType reports whether a column of type t holds integers.
func isIntegerType(t arrow.DataType) bool {
	if d, ok := t.(*arrow.DictionaryType); ok {
		t = d.ValueType
	}
	return arrow.IsInteger(t.ID())
}

// parseKey reads a key given as text for a bag column of the given kind.
func parseKey(text string, str bool, column string) (bagKey, error) {
	if str {
		return bagKey{str: true, s: text}, nil
	}
	i, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return bagKey{}, fmt.Errorf("bag %q: the bag column %q holds integers", text, column)
	}
	return bagKey{i: i}, nil
}

// keyAt returns row i of a bag column.
func keyAt(arr arrow.Array, i int) bagKey {
	if isStringType(arr.DataType()) {
		return bagKey{str: true, s: readers.String(arr, i)}
	}
	v, _ := readers.Int(arr, i)
	return bagKey{i: v}
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
