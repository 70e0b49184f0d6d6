package readers

import (
	"math"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestIntAndString reads one value of every integer width, a uint64 beyond
// int64, dictionaries, strings and a type neither accepts.
func TestIntAndString(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	build := func(dt arrow.DataType, v any) arrow.Array {
		b := array.NewBuilder(mem, dt)
		defer b.Release()
		switch b := b.(type) {
		case *array.Int8Builder:
			b.Append(v.(int8))
		case *array.Int16Builder:
			b.Append(v.(int16))
		case *array.Int32Builder:
			b.Append(v.(int32))
		case *array.Int64Builder:
			b.Append(v.(int64))
		case *array.Uint8Builder:
			b.Append(v.(uint8))
		case *array.Uint16Builder:
			b.Append(v.(uint16))
		case *array.Uint32Builder:
			b.Append(v.(uint32))
		case *array.Uint64Builder:
			b.Append(v.(uint64))
		case *array.StringBuilder:
			b.Append(v.(string))
		case *array.LargeStringBuilder:
			b.Append(v.(string))
		case *array.Float64Builder:
			b.Append(v.(float64))
		case *array.BinaryDictionaryBuilder:
			if err := b.AppendString(v.(string)); err != nil {
				t.Fatal(err)
			}
		case *array.Int64DictionaryBuilder:
			if err := b.Append(v.(int64)); err != nil {
				t.Fatal(err)
			}
		}
		return b.NewArray()
	}
	for _, tc := range []struct {
		dt   arrow.DataType
		v    any
		want int64
		ok   bool
	}{
		{arrow.PrimitiveTypes.Int8, int8(-7), -7, true},
		{arrow.PrimitiveTypes.Int16, int16(-300), -300, true},
		{arrow.PrimitiveTypes.Int32, int32(1 << 30), 1 << 30, true},
		{arrow.PrimitiveTypes.Int64, int64(math.MinInt64), math.MinInt64, true},
		{arrow.PrimitiveTypes.Uint8, uint8(255), 255, true},
		{arrow.PrimitiveTypes.Uint16, uint16(65535), 65535, true},
		{arrow.PrimitiveTypes.Uint32, uint32(1<<32 - 1), 1<<32 - 1, true},
		{arrow.PrimitiveTypes.Uint64, uint64(math.MaxInt64), math.MaxInt64, true},
		{arrow.PrimitiveTypes.Uint64, uint64(math.MaxInt64 + 1), 0, false},
		{&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.PrimitiveTypes.Int64}, int64(42), 42, true},
		{arrow.PrimitiveTypes.Float64, 1.0, 0, false},
	} {
		arr := build(tc.dt, tc.v)
		got, ok := Int(arr, 0)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("Int(%s %v) = %d, %v; want %d, %v", tc.dt, tc.v, got, ok, tc.want, tc.ok)
		}
		arr.Release()
	}
	for _, tc := range []struct {
		dt   arrow.DataType
		v    any
		want string
	}{
		{arrow.BinaryTypes.String, "red", "red"},
		{arrow.BinaryTypes.LargeString, "blue", "blue"},
		{&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, "green", "green"},
		{arrow.PrimitiveTypes.Int64, int64(3), ""},
	} {
		arr := build(tc.dt, tc.v)
		if got := String(arr, 0); got != tc.want {
			t.Errorf("String(%s %v) = %q, want %q", tc.dt, tc.v, got, tc.want)
		}
		arr.Release()
	}
}
