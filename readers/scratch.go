package readers

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// leakyDecoder is the function-name prefix of the arrow v17 Parquet decoder
// that allocates a scratch buffer from the Arrow allocator and never frees
// it: the DELTA_BINARY_PACKED decoder (also inside DELTA_BYTE_ARRAY and
// DELTA_LENGTH_BYTE_ARRAY) keeps its miniblock bit widths in a
// memory.Buffer that no Release reaches; a new one is made for every
// column chunk (and, for DELTA_BYTE_ARRAY, every page). With the Go
// allocator the garbage collector reclaims it, but an accounting allocator
// (memory.CheckedAllocator, or one bounding memory) sees a leak.
const leakyDecoder = "github.com/apache/arrow/go/v17/parquet/internal/encoding.(*deltaBitPackDecoder)."

// scratchAlloc is the allocator given to pqarrow: it passes every call to
// mem, except those made by leakyDecoder, whose buffers come from the Go
// allocator instead, like the page buffers (see openParquet). The decoder
// only ever grows its buffer (Allocate, then Reallocate) and never frees
// it, always from its own methods, so the call stack tells the two kinds
// of buffer apart at every call.
type scratchAlloc struct {
	mem memory.Allocator
}

// fromLeakyDecoder reports whether the allocator was called by
// leakyDecoder (within a few frames: Buffer.Resize, resize, Reserve).
func fromLeakyDecoder() bool {
	var pcs [8]uintptr
	n := runtime.Callers(3, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, leakyDecoder) {
			return true
		}
		if !more {
			return false
		}
	}
}

// checkSize refuses a negative size, which a corrupt length becomes, and
// which would upset the accounting of an allocator before failing.
func checkSize(size int) {
	if size < 0 {
		panic(fmt.Errorf("a buffer of negative size %d", size))
	}
}

// Allocate implements memory.Allocator.
func (a scratchAlloc) Allocate(size int) []byte {
	checkSize(size)
	if fromLeakyDecoder() {
		return memory.DefaultAllocator.Allocate(size)
	}
	return a.mem.Allocate(size)
}

// Reallocate implements memory.Allocator.
func (a scratchAlloc) Reallocate(size int, b []byte) []byte {
	checkSize(size)
	if fromLeakyDecoder() {
		return memory.DefaultAllocator.Reallocate(size, b)
	}
	return a.mem.Reallocate(size, b)
}

// Free implements memory.Allocator.
func (a scratchAlloc) Free(b []byte) {
	if fromLeakyDecoder() {
		memory.DefaultAllocator.Free(b)
		return
	}
	a.mem.Free(b)
}
