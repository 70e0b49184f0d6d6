package writers

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestArraySize checks the Arrow size of arrays and of slices of them,
// which RowGroupBytes counts.
func TestArraySize(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	ints := array.NewInt64Builder(mem)
	ints.AppendValues([]int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, nil)
	i64 := ints.NewArray()
	ints.Release()
	defer i64.Release()

	strs := array.NewStringBuilder(mem)
	strs.AppendValues([]string{"a", "bb", "ccc", "dddd", "eeeee"}, []bool{true, true, false, true, true})
	str := strs.NewArray()
	strs.Release()
	defer str.Release()

	lists := array.NewListBuilder(mem, arrow.PrimitiveTypes.Int32)
	for i := 0; i < 4; i++ {
		lists.Append(true)
		for j := 0; j <= i; j++ {
			lists.ValueBuilder().(*array.Int32Builder).Append(int32(j))
		}
	}
	list := lists.NewArray()
	lists.Release()
	defer list.Release()

	null := array.NewNull(6) // no buffers: the fallback
	defer null.Release()

	for _, c := range []struct {
		name   string
		a      arrow.Array
		lo, hi int64
		want   int64
	}{
		{"int64", i64, 0, 10, 80},
		{"int64 slice", i64, 3, 7, 32},
		{"string", str, 0, 5, 1 + 5*4 + 15},   // bitmap, offsets, bytes
		{"string slice", str, 3, 5, 2*4 + 9},  // no nulls in the slice
		{"list", list, 0, 4, 4*4 + 10*4},      // offsets, 10 int32
		{"list slice", list, 2, 4, 2*4 + 7*4}, // lists of 3 and 4
		{"null", null, 0, 6, 0},
	} {
		s := array.NewSlice(c.a, c.lo, c.hi)
		if got := arraySize(s); got != c.want {
			t.Errorf("%s: size %d, want %d", c.name, got, c.want)
		}
		s.Release()
	}
}
