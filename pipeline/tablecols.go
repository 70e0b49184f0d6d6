package pipeline

import (
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// The weights and fits tables are written from the run's result slices
// (fits, bags). Their fixed-width columns are Arrow arrays over those
// slices, sharing their memory, rather than copies made value by value
// through builders: writing 500k bags' results copied about 90 MB into
// growing builder buffers, a third of a clustered marbles run's page
// faults. The writer only reads the arrays, and the slices do not change
// once the fit is done.

// fixedColumn returns vals as an array of type t (whose values are Ts),
// sharing vals' memory; row i is null where null(i) is true (null nil:
// none is). The values under a null are whatever vals holds there.
func fixedColumn[T int64 | float64](t arrow.DataType, vals []T, null func(int) bool) arrow.Array {
	valid, nulls := validity(len(vals), null)
	data := array.NewData(t, len(vals), []*memory.Buffer{valid, memory.NewBufferBytes(arrow.GetBytes(vals))}, nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// boolColumn returns vals as a Boolean array; row i is null where null(i)
// is true (null nil: none is).
func boolColumn(vals []bool, null func(int) bool) arrow.Array {
	valid, nulls := validity(len(vals), null)
	bits := make([]byte, bitutil.BytesForBits(int64(len(vals))))
	for i, v := range vals {
		if v {
			bitutil.SetBit(bits, i)
		}
	}
	data := array.NewData(arrow.FixedWidthTypes.Boolean, len(vals), []*memory.Buffer{valid, memory.NewBufferBytes(bits)}, nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// validity returns the validity bitmap of n rows, row i null where null(i)
// is true, and the null count; nil and 0 when no row is null.
func validity(n int, null func(int) bool) (*memory.Buffer, int) {
	if null == nil {
		return nil, 0
	}
	var bits []byte
	nulls := 0
	for i := range n {
		if !null(i) {
			continue
		}
		if bits == nil {
			bits = make([]byte, bitutil.BytesForBits(int64(n)))
			bitutil.SetBitsTo(bits, 0, int64(n), true)
		}
		bitutil.ClearBit(bits, i)
		nulls++
	}
	if nulls == 0 {
		return nil, 0
	}
	return memory.NewBufferBytes(bits), nulls
}

// bagColumn returns the keys of bags bs, one row each (bs nil: bags lo
// to hi), as a column of the output's bag key type. Keys of type int64,
// or timestamps the output holds as they are, go straight into the
// column: over a range of bags it shares the keys' memory.
func (r *runner) bagColumn(bs []int, lo, hi int) arrow.Array {
	t := r.keyType()
	if id := t.ID(); r.bags.strs == nil && (id == arrow.INT64 || id == arrow.TIMESTAMP && arrow.TypeEqual(t, r.plan.bagType)) {
		if bs == nil {
			return fixedColumn(t, r.bags.ints[lo:hi], nil)
		}
		keys := make([]int64, len(bs))
		for i, b := range bs {
			keys[i] = r.bags.ints[b]
		}
		return fixedColumn(t, keys, nil)
	}
	if bs == nil {
		bs = make([]int, hi-lo)
		for i := range bs {
			bs[i] = lo + i
		}
	}
	b := r.bagBuilder()
	defer b.Release()
	b.Reserve(len(bs))
	for _, i := range bs {
		r.appendBag(b, i)
	}
	return b.NewArray()
}

// stringColumn returns n strings, row i's being at(i), as a String array;
// row i is null where at returns ok false. Like fixedColumn it builds the
// offsets and the bytes itself, in Go memory: the builder's Append per
// string was 4% of a clustered marbles run (the weights' component
// column). mem serves only a column of 2 GiB or more of text, which a
// String array cannot offset: it is built by arrow's builder, which fails
// as it always has.
func stringColumn(mem memory.Allocator, n int, at func(int) (s string, ok bool)) arrow.Array {
	size := 0
	for i := range n {
		s, _ := at(i)
		size += len(s)
	}
	if size > math.MaxInt32 {
		return stringColumnBuilt(mem, n, at)
	}
	offsets := make([]int32, n+1)
	data := make([]byte, 0, size)
	var valid []byte
	nulls := 0
	for i := range n {
		s, ok := at(i)
		if !ok {
			if valid == nil {
				valid = make([]byte, bitutil.BytesForBits(int64(n)))
				bitutil.SetBitsTo(valid, 0, int64(n), true)
			}
			bitutil.ClearBit(valid, i)
			nulls++
			s = "" // a null's slot is empty, as the builder leaves it
		}
		data = append(data, s...)
		offsets[i+1] = int32(len(data))
	}
	var validBuf *memory.Buffer
	if nulls > 0 {
		validBuf = memory.NewBufferBytes(valid)
	}
	d := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{
		validBuf, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets)), memory.NewBufferBytes(data),
	}, nil, nulls, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

// stringColumnBuilt is stringColumn through arrow's builder.
func stringColumnBuilt(mem memory.Allocator, n int, at func(int) (s string, ok bool)) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(n)
	for i := range n {
		if s, ok := at(i); ok {
			b.Append(s)
		} else {
			b.AppendNull()
		}
	}
	return b.NewArray()
}

// releaseAll releases every array of cols.
func releaseAll(cols []arrow.Array) {
	for _, c := range cols {
		c.Release()
	}
}
