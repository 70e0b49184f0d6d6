package writers

import (
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
)

// arrow-go v17 dictionary-encodes a string column by hashing every value
// through an interface (one allocation per value): that was 40% of the
// time to write the posteriors table. Given Arrow dictionary arrays it
// writes their indices and dictionary directly instead. So Parquet turns
// the integer, string and binary columns of each row group into
// dictionary arrays itself, with a Go map (or, for the first few values,
// a linear search, and a shortcut for runs of equal values); the Parquet
// file is the same as arrow's own dictionary encoding would make, and the
// stored Arrow schema keeps the columns' own types. (Integer columns that
// want a dictionary are left to arrow's encoder after all, because
// arrow's statistics of dictionary arrays are wrong: see stats.go.)

// dictChoice is the dictionary encoding of a column.
type dictChoice uint8

const (
	dictDefault dictChoice = iota // arrow's choice: a dictionary, except for floats and booleans
	dictOn                        // dictionary arrays built by dictionaryEncode
	dictOff                       // plain encoding
)

// dictPageLimit is the largest dictionary page dictionaryEncode builds: the
// size at which arrow's column writer would fall back to plain encoding.
const dictPageLimit = int(parquet.DefaultDictionaryPageSizeLimit)

// dictSampleMin is the number of values after which a column with more than
// one distinct value in four is known to want no dictionary.
const dictSampleMin = 4096

// dictCandidate reports whether Parquet chooses the dictionary encoding
// of columns of type dt itself.
func dictCandidate(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT32, arrow.INT64, arrow.STRING, arrow.BINARY, arrow.LARGE_STRING, arrow.LARGE_BINARY:
		return true
	}
	return false
}

// chooseDictionary chooses the encoding of a column from its first row
// group: a dictionary if at most one value in four is distinct and the
// dictionary page stays within dictPageLimit. For dictOn it also returns
// the chunks as dictionary arrays, as dictionaryEncode does.
func chooseDictionary(chunks []arrow.Array) (dictChoice, []arrow.Array) {
	var n int
	for _, c := range chunks {
		n += c.Len() - c.NullN()
	}
	if n == 0 {
		return dictDefault, nil // no values to judge by
	}
	d := newDictionary(chunks[0].DataType(), n/4)
	enc, ok := d.encode(chunks)
	if !ok {
		return dictOff, nil
	}
	if d.runs < 4*d.count() {
		// Long runs of equal values, as in a sorted key: zstd squeezes
		// them as well, and faster, without a dictionary.
		releaseAll(enc)
		return dictOff, nil
	}
	return dictOn, enc
}

// dictionaryEncode returns chunks as dictionary arrays (int32 indices)
// sharing one dictionary, or false if the dictionary page would exceed
// dictPageLimit.
func dictionaryEncode(chunks []arrow.Array) ([]arrow.Array, bool) {
	if len(chunks) == 0 {
		return nil, false
	}
	return newDictionary(chunks[0].DataType(), -1).encode(chunks)
}

// encode returns chunks as dictionary arrays of d, or false once d is full.
func (d *dictionary) encode(chunks []arrow.Array) ([]arrow.Array, bool) {
	idx := make([]arrow.ArrayData, 0, len(chunks))
	defer func() { releaseAll(idx) }()
	for _, c := range chunks {
		data := d.indices(c)
		if data == nil {
			return nil, false
		}
		idx = append(idx, data)
	}
	dict := d.values()
	defer dict.Release()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: d.dt}
	out := make([]arrow.Array, len(idx))
	for i, data := range idx {
		ind := array.MakeFromData(data)
		out[i] = array.NewDictionaryArray(dt, ind, dict)
		ind.Release()
	}
	return out, true
}

// dictionary maps the values of one column to their indices in order of
// first appearance, for integer (int64 keys) or string and binary columns
// (string keys pointing into the chunks' buffers, which outlive it).
type dictionary struct {
	dt       arrow.DataType
	ints     keys[int64]
	strs     keys[string]
	bytes    int   // dictionary page size so far
	seen     int   // non-null values so far
	runs     int   // runs of equal non-null values so far
	last     int32 // index of the last non-null value, -1 before the first
	maxCount int   // most distinct values, or -1 for no limit
	mem      memory.Allocator
}

func newDictionary(dt arrow.DataType, maxCount int) *dictionary {
	return &dictionary{dt: dt, maxCount: maxCount, last: -1, mem: memory.DefaultAllocator}
}

// keys numbers distinct values of type K.
type keys[K comparable] struct {
	order []K         // distinct values by index
	index map[K]int32 // made when order outgrows a linear search
}

// smallKeys is the number of distinct values searched linearly.
const smallKeys = 8

// find returns the index of v, adding it if new (added reports that).
func (k *keys[K]) find(v K) (i int32, added bool) {
	if k.index == nil {
		for j, o := range k.order {
			if o == v {
				return int32(j), false
			}
		}
		k.order = append(k.order, v)
		if len(k.order) > smallKeys {
			k.index = make(map[K]int32, 2*smallKeys)
			for j, o := range k.order {
				k.index[o] = int32(j)
			}
		}
		return int32(len(k.order) - 1), true
	}
	if j, ok := k.index[v]; ok {
		return j, false
	}
	j := int32(len(k.order))
	k.order = append(k.order, v)
	k.index[v] = j
	return j, true
}

// count returns the number of distinct values.
func (d *dictionary) count() int { return len(d.ints.order) + len(d.strs.order) }

// indices returns the int32 indices of the values of a (nulls kept), or
// nil once the dictionary is too large.
func (d *dictionary) indices(a arrow.Array) arrow.ArrayData {
	n := a.Len()
	buf := memory.NewResizableBuffer(d.mem)
	buf.Resize(arrow.Int32Traits.BytesRequired(n))
	out := arrow.Int32Traits.CastFromBytes(buf.Bytes())
	var ok bool
	switch a := a.(type) {
	case *array.Int64:
		ok = encodeInts(d, a, a.Int64Values(), out, 8)
	case *array.Int32:
		ok = encodeInts(d, a, a.Int32Values(), out, 4)
	case *array.String:
		ok = encodeStrings(d, a, a.ValueOffsets(), a.ValueBytes(), out)
	case *array.Binary:
		ok = encodeStrings(d, a, a.ValueOffsets(), a.ValueBytes(), out)
	case *array.LargeString:
		ok = encodeStrings(d, a, a.ValueOffsets(), a.ValueBytes(), out)
	case *array.LargeBinary:
		ok = encodeStrings(d, a, a.ValueOffsets(), a.ValueBytes(), out)
	}
	if !ok {
		buf.Release()
		return nil
	}
	var valid *memory.Buffer
	if a.NullN() > 0 {
		valid = memory.NewResizableBuffer(d.mem)
		valid.Resize(int(bitutil.BytesForBits(int64(n))))
		bitutil.CopyBitmap(a.NullBitmapBytes(), a.Data().Offset(), n, valid.Bytes(), 0)
		defer valid.Release()
	}
	defer buf.Release()
	return array.NewData(arrow.PrimitiveTypes.Int32, n, []*memory.Buffer{valid, buf}, nil, a.NullN(), 0)
}

// full reports whether the dictionary of count values is too large.
func (d *dictionary) full(count int) bool {
	if d.bytes >= dictPageLimit {
		return true
	}
	if d.maxCount < 0 {
		return false
	}
	return count > d.maxCount || (d.seen >= dictSampleMin && 4*count > d.seen)
}

// encodeInts fills out with the indices of vals (nulls get index 0).
func encodeInts[T int32 | int64](d *dictionary, a arrow.Array, vals []T, out []int32, width int) bool {
	lastIdx, nulls := d.last, a.NullN() > 0
	var last T
	if lastIdx >= 0 {
		last = T(d.ints.order[lastIdx])
	}
	for i, v := range vals {
		if nulls && a.IsNull(i) {
			out[i] = 0
			continue
		}
		d.seen++
		if lastIdx >= 0 && v == last {
			out[i] = lastIdx
			continue
		}
		d.runs++
		j, added := d.ints.find(int64(v))
		if added {
			d.bytes += width
			if d.full(len(d.ints.order)) {
				return false
			}
		}
		out[i], last, lastIdx = j, v, j
	}
	d.last = lastIdx
	return true
}

// encodeStrings fills out with the indices of the values given by offsets
// into data (nulls get index 0).
func encodeStrings[O int32 | int64](d *dictionary, a arrow.Array, offsets []O, data []byte, out []int32) bool {
	lastIdx, nulls := d.last, a.NullN() > 0
	var last string
	if lastIdx >= 0 {
		last = d.strs.order[lastIdx]
	}
	base := offsets[0] // data starts at the first value
	for i := range out {
		if nulls && a.IsNull(i) {
			out[i] = 0
			continue
		}
		d.seen++
		b := data[offsets[i]-base : offsets[i+1]-base]
		v := unsafe.String(unsafe.SliceData(b), len(b)) // lives as long as a
		if lastIdx >= 0 && v == last {
			out[i] = lastIdx
			continue
		}
		d.runs++
		j, added := d.strs.find(v)
		if added {
			d.bytes += 4 + len(v) // as in a PLAIN dictionary page
			if d.full(len(d.strs.order)) {
				return false
			}
		}
		out[i], last, lastIdx = j, v, j
	}
	d.last = lastIdx
	return true
}

// values returns the dictionary as an array of the column's type.
func (d *dictionary) values() arrow.Array {
	b := array.NewBuilder(d.mem, d.dt)
	defer b.Release()
	switch b := b.(type) {
	case *array.Int64Builder:
		for _, v := range d.ints.order {
			b.Append(v)
		}
	case *array.Int32Builder:
		for _, v := range d.ints.order {
			b.Append(int32(v))
		}
	case *array.StringBuilder:
		b.AppendValues(d.strs.order, nil)
	case *array.LargeStringBuilder:
		b.AppendValues(d.strs.order, nil)
	case *array.BinaryBuilder:
		for _, v := range d.strs.order {
			b.Append([]byte(v))
		}
	}
	return b.NewArray()
}
