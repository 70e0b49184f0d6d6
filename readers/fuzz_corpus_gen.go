//go:build ignore

// This program writes the committed seed corpora of the fuzz targets
// FuzzParquet and FuzzIPC (readers/testdata/fuzz/) and FuzzRunParquet
// (pipeline/testdata/fuzz/): small Parquet and Arrow IPC files of several
// types, encodings and compressions, and truncated and bit-flipped
// variants. Run it from the readers folder:
//
//	go run fuzz_corpus_gen.go
//
// It rewrites only the seed-* files; crashers the fuzz engine saved there
// (named by hash) are left alone.
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

var mem = memory.NewGoAllocator()

var dictType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// flat has one nullable column of each type the pipeline reads.
var flat = arrow.NewSchema([]arrow.Field{
	{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "d", Type: dictType, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

// flatRecord returns n rows of flat, every third row null in some column.
func flatRecord(n int, withNulls bool) arrow.Record {
	b := array.NewRecordBuilder(mem, flat)
	defer b.Release()
	colours := []string{"red", "green", "blue"}
	for r := 0; r < n; r++ {
		null := func(c int) bool { return withNulls && (r+c)%3 == 0 }
		for c, fb := range b.Fields() {
			if null(c) {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int64Builder:
				fb.Append(int64(r*r - 7))
			case *array.StringBuilder:
				fb.Append("s" + strconv.Itoa(r))
			case *array.BinaryDictionaryBuilder:
				if err := fb.AppendString(colours[r%3]); err != nil {
					log.Fatal(err)
				}
			case *array.Float64Builder:
				fb.Append(float64(r) / 4)
			case *array.BooleanBuilder:
				fb.Append(r%2 == 0)
			}
		}
	}
	return b.NewRecord()
}

// project returns columns cols of rec.
func project(rec arrow.Record, cols ...int) arrow.Record {
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	for k, c := range cols {
		fields[k] = rec.Schema().Field(c)
		arrs[k] = rec.Column(c)
	}
	return array.NewRecord(arrow.NewSchema(fields, nil), arrs, rec.NumRows())
}

// listRecord has an int64 column and a list<int64> column.
func listRecord() arrow.Record {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	lb := b.Field(1).(*array.ListBuilder)
	vb := lb.ValueBuilder().(*array.Int64Builder)
	for r := 0; r < 6; r++ {
		b.Field(0).(*array.Int64Builder).Append(int64(r))
		if r == 2 {
			lb.AppendNull()
			continue
		}
		lb.Append(true)
		for j := 0; j < r%3; j++ {
			vb.Append(int64(10*r + j))
		}
	}
	return b.NewRecord()
}

// marbles returns the columns of the quickstart: bag_id, marble_id, red.
func marbles(n int, redType arrow.DataType, bagDict bool) arrow.Record {
	bagType := arrow.DataType(arrow.PrimitiveTypes.Int64)
	if bagDict {
		bagType = dictType
	}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "bag_id", Type: bagType},
		{Name: "marble_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "red", Type: redType},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	for r := 0; r < n; r++ {
		switch fb := b.Field(0).(type) {
		case *array.Int64Builder:
			fb.Append(int64(r % 3))
		case *array.BinaryDictionaryBuilder:
			if err := fb.AppendString("bag" + strconv.Itoa(r%3)); err != nil {
				log.Fatal(err)
			}
		}
		b.Field(1).(*array.Int64Builder).Append(int64(r))
		red := (r*7)%5 < 3
		switch fb := b.Field(2).(type) {
		case *array.BooleanBuilder:
			fb.Append(red)
		case *array.Int64Builder:
			if red {
				fb.Append(1)
			} else {
				fb.Append(0)
			}
		}
	}
	return b.NewRecord()
}

type pqOpts struct {
	rowGroup int64
	codec    compress.Compression
	noDict   bool
	v2       bool
	store    bool
	enc      map[string]parquet.Encoding
}

func writeParquet(rec arrow.Record, o pqOpts) []byte {
	if o.rowGroup == 0 {
		o.rowGroup = 1 << 20
	}
	opts := []parquet.WriterProperty{parquet.WithMaxRowGroupLength(o.rowGroup), parquet.WithCompression(o.codec), parquet.WithDictionaryDefault(!o.noDict)}
	if o.v2 {
		opts = append(opts, parquet.WithDataPageVersion(parquet.DataPageV2))
	}
	for col, enc := range o.enc {
		opts = append(opts, parquet.WithEncodingFor(col, enc), parquet.WithDictionaryFor(col, false))
	}
	aprops := pqarrow.NewArrowWriterProperties()
	if o.store {
		aprops = pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
	}
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(rec.Schema(), &buf, parquet.NewWriterProperties(opts...), aprops)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

func writeIPC(rec arrow.Record, stream bool, opts ...ipc.Option) []byte {
	var buf bytes.Buffer
	opts = append([]ipc.Option{ipc.WithSchema(rec.Schema()), ipc.WithAllocator(mem)}, opts...)
	if stream {
		w := ipc.NewWriter(&buf, opts...)
		if err := w.Write(rec); err != nil {
			log.Fatal(err)
		}
		if err := w.Close(); err != nil {
			log.Fatal(err)
		}
		return buf.Bytes()
	}
	// The file writer wants an io.WriteSeeker.
	f, err := os.CreateTemp("", "seed-*.arrow")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	w, err := ipc.NewFileWriter(f, opts...)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		log.Fatal(err)
	}
	return data
}

// flip returns data with bit `bit` of byte i (from the end when negative) flipped.
func flip(data []byte, i, bit int) []byte {
	out := bytes.Clone(data)
	if i < 0 {
		i += len(out)
	}
	out[i] ^= 1 << bit
	return out
}

// corpus writes seed files into dir, replacing older seed-* files.
type corpus struct {
	dir  string
	seen map[string]bool
}

func newCorpus(dir string) *corpus {
	old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			log.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	return &corpus{dir: dir, seen: map[string]bool{}}
}

// add writes one seed in the "go test fuzz v1" format.
func (c *corpus) add(name string, data []byte) {
	if c.seen[name] {
		log.Fatalf("seed %s twice", name)
	}
	c.seen[name] = true
	if len(data) > 10<<10 {
		log.Fatalf("seed %s is %d bytes; keep seeds under 10 KB", name, len(data))
	}
	text := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
	if err := os.WriteFile(filepath.Join(c.dir, "seed-"+name), []byte(text), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s/seed-%s: %d bytes\n", c.dir, name, len(data))
}

func main() {
	small := flatRecord(8, true)
	defer small.Release()
	ints := project(small, 0)
	defer ints.Release()
	strs := project(small, 1, 2)
	defer strs.Release()
	floats := project(small, 3, 4)
	defer floats.Release()
	empty := flatRecord(0, false)
	defer empty.Release()
	nested := listRecord()
	defer nested.Release()

	pq := newCorpus("testdata/fuzz/FuzzParquet")
	pq.add("int64-plain", writeParquet(ints, pqOpts{codec: compress.Codecs.Uncompressed, noDict: true}))
	pq.add("int64-delta", writeParquet(ints, pqOpts{codec: compress.Codecs.Uncompressed, enc: map[string]parquet.Encoding{"i": parquet.Encodings.DeltaBinaryPacked}}))
	pq.add("string-dict-snappy-stored", writeParquet(strs, pqOpts{codec: compress.Codecs.Snappy, store: true}))
	pq.add("string-delta-bytearray", writeParquet(strs, pqOpts{codec: compress.Codecs.Uncompressed, enc: map[string]parquet.Encoding{"s": parquet.Encodings.DeltaByteArray}}))
	pq.add("string-delta-length", writeParquet(strs, pqOpts{codec: compress.Codecs.Uncompressed, enc: map[string]parquet.Encoding{"s": parquet.Encodings.DeltaLengthByteArray}}))
	pq.add("float-bool-zstd-v2", writeParquet(floats, pqOpts{codec: compress.Codecs.Zstd, v2: true}))
	pq.add("float-plain-gzip", writeParquet(floats, pqOpts{codec: compress.Codecs.Gzip, noDict: true}))
	all3 := writeParquet(small, pqOpts{rowGroup: 3, codec: compress.Codecs.Snappy, store: true})
	pq.add("all-rowgroups3-snappy", all3)
	pq.add("all-gzip-nodict", writeParquet(small, pqOpts{codec: compress.Codecs.Gzip, noDict: true}))
	pq.add("all-zstd-rowgroups4", writeParquet(small, pqOpts{rowGroup: 4, codec: compress.Codecs.Zstd}))
	pq.add("all-brotli-v2", writeParquet(small, pqOpts{codec: compress.Codecs.Brotli, v2: true}))
	pq.add("empty", writeParquet(empty, pqOpts{codec: compress.Codecs.Uncompressed}))
	pq.add("list-int64", writeParquet(nested, pqOpts{codec: compress.Codecs.Uncompressed}))
	pq.add("truncated-footer", all3[:len(all3)-1])
	pq.add("truncated-half", all3[:len(all3)/2])
	pq.add("flip-footer-length", flip(all3, -8, 3))
	pq.add("flip-data", flip(all3, 40, 5))
	pq.add("flip-metadata", flip(all3, -60, 6))
	shops, err := os.ReadFile("../data/shops/part-00000.parquet")
	if err != nil {
		log.Fatal(err)
	}
	pq.add("data-shops", shops)

	ip := newCorpus("testdata/fuzz/FuzzIPC")
	ip.add("file", writeIPC(small, false))
	ip.add("stream", writeIPC(small, true))
	ip.add("file-zstd", writeIPC(small, false, ipc.WithZstd()))
	ip.add("stream-lz4", writeIPC(small, true, ipc.WithLZ4()))
	ip.add("file-list", writeIPC(nested, false))
	ip.add("file-empty", writeIPC(empty, false))
	file := writeIPC(small, false)
	ip.add("file-truncated", file[:len(file)/2])
	ip.add("file-flip-footer", flip(file, -20, 2))
	ip.add("file-flip-body", flip(file, 300, 4))

	// FuzzRunParquet: the marbles columns, as its fixed config reads them.
	run := newCorpus("../pipeline/testdata/fuzz/FuzzRunParquet")
	m := marbles(12, arrow.FixedWidthTypes.Boolean, false)
	defer m.Release()
	mi := marbles(9, arrow.PrimitiveTypes.Int64, false)
	defer mi.Release()
	md := marbles(9, arrow.FixedWidthTypes.Boolean, true)
	defer md.Release()
	mb := writeParquet(m, pqOpts{rowGroup: 5, codec: compress.Codecs.Snappy, store: true})
	run.add("bool-rowgroups5", mb)
	run.add("int-red-plain", writeParquet(mi, pqOpts{codec: compress.Codecs.Uncompressed, noDict: true}))
	run.add("dict-bags-zstd", writeParquet(md, pqOpts{codec: compress.Codecs.Zstd, store: true}))
	run.add("flip-data", flip(mb, 60, 1))
	run.add("truncated", mb[:len(mb)-3])
}
