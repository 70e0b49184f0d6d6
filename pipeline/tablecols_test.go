package pipeline

import (
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestStringColumn checks stringColumn, which builds its buffers itself,
// against arrow's StringBuilder (stringColumnBuilt) on seeded columns:
// empty, all null, no null, nulls here and there, empty strings and
// multi-byte text. The arrays must be equal (array.Equal compares values
// and nulls), their offsets must rise to the data's length with an empty
// slot for every null, and the null count must agree.
func TestStringColumn(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	words := []string{"", "factory1", "factory2", "idle", "ok", "négatif", "日本", "a longer string of text"}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for trial := range 300 {
		n := rnd.IntN(200)
		if trial < 3 {
			n = trial
		}
		nullRate := []float64{0, 0.1, 0.5, 1}[trial%4]
		vals := make([]string, n)
		ok := make([]bool, n)
		for i := range n {
			vals[i] = words[rnd.IntN(len(words))]
			ok[i] = rnd.Float64() >= nullRate
		}
		at := func(i int) (string, bool) { return vals[i], ok[i] }
		got := stringColumn(mem, n, at)
		want := stringColumnBuilt(mem, n, at)
		offs := got.(*array.String).ValueOffsets()
		for i := range n {
			if offs[i] > offs[i+1] || !ok[i] && offs[i] != offs[i+1] {
				t.Fatalf("trial %d row %d: offsets %d, %d", trial, i, offs[i], offs[i+1])
			}
		}
		if n > 0 && int(offs[n]) != len(got.(*array.String).ValueBytes()) {
			t.Fatalf("trial %d: last offset %d, %d bytes", trial, offs[n], len(got.(*array.String).ValueBytes()))
		}
		if !array.Equal(got, want) || got.NullN() != want.NullN() || got.Len() != n {
			t.Fatalf("trial %d: stringColumn %v (%d nulls), want %v (%d nulls)", trial, got, got.NullN(), want, want.NullN())
		}
		for i := range n {
			if ok[i] && got.(*array.String).Value(i) != vals[i] {
				t.Fatalf("trial %d row %d: %q, want %q", trial, i, got.(*array.String).Value(i), vals[i])
			}
		}
		got.Release()
		want.Release()
	}
}
