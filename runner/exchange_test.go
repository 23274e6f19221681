package runner

import (
	"slices"
	"testing"

	"github.com/weirflow/weir/internal/base"
)

// TestForwardCopiesMarks: the forward copier keeps marks aligned with the
// rows, padding rows that came without marks with MinTimestamp.
func TestForwardCopiesMarks(t *testing.T) {
	plain, marked := base.NewBatch[string](2), base.NewBatch[string](2)
	plain.Append("a", 1)
	marked.AppendMarked("b", 2, 20)
	marked.AppendMarked("c", 3, 30)
	f := newForward(plain)
	out := []any{nil}
	if made := f.Split(plain, out, 128, 4, nil); !slices.Equal(made, []int{0}) {
		t.Errorf("made %v, want [0]", made)
	}
	if made := f.Split(marked, out, 128, 4, nil); made != nil {
		t.Errorf("made %v, want none", made)
	}
	b := out[0].(*base.Batch[string])
	if !slices.Equal(b.Values, []string{"a", "b", "c"}) || !slices.Equal(b.Times, []base.Timestamp{1, 2, 3}) {
		t.Fatalf("rows %v at %v", b.Values, b.Times)
	}
	if want := []base.Timestamp{base.MinTimestamp, 20, 30}; !slices.Equal(b.Marks, want) {
		t.Errorf("marks %v, want %v", b.Marks, want)
	}
}
