package base

import (
	"slices"
	"testing"
)

// TestBatchMarks: appending keeps the mark column either absent or as long
// as Values, giving MinTimestamp to rows that had none.
func TestBatchMarks(t *testing.T) {
	const m = MinTimestamp
	marked := func(marks ...Timestamp) *Batch[int] {
		b := NewBatch[int](0)
		for i, mk := range marks {
			b.AppendMarked(i, Timestamp(i), mk)
		}
		return b
	}
	plain := func(n int) *Batch[int] {
		b := NewBatch[int](0)
		for i := range n {
			b.Append(i, Timestamp(i))
		}
		return b
	}
	for _, tc := range []struct {
		name     string
		dst, src *Batch[int]
		want     []Timestamp
	}{
		{"both plain", plain(2), plain(1), nil},
		{"both marked", marked(5, 6), marked(7), []Timestamp{5, 6, 7}},
		{"marked into plain", plain(2), marked(7), []Timestamp{m, m, 7}},
		{"plain into marked", marked(5), plain(2), []Timestamp{5, m, m}},
		{"plain into empty", plain(0), plain(2), nil},
		{"marked into empty", plain(0), marked(3, 4), []Timestamp{3, 4}},
		{"empty into marked", marked(5), plain(0), []Timestamp{5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.dst.Len() + tc.src.Len()
			tc.dst.AppendBatch(tc.src)
			if tc.dst.Len() != n || len(tc.dst.Times) != n {
				t.Fatalf("len %d, times %d, want %d", tc.dst.Len(), len(tc.dst.Times), n)
			}
			if !slices.Equal(tc.dst.Marks, tc.want) {
				t.Errorf("marks %v, want %v", tc.dst.Marks, tc.want)
			}
			if got, want := tc.dst.Marked(), tc.want != nil || n == 0; got != want {
				t.Errorf("Marked() = %v, want %v", got, want)
			}
		})
	}
	b := marked(5)
	b.Append(1, 1)
	if !slices.Equal(b.Marks, []Timestamp{5, m}) {
		t.Errorf("Append after a marked row: marks %v", b.Marks)
	}
	b.Reset()
	b.Append(1, 1)
	if len(b.Marks) != 0 {
		t.Errorf("Append after Reset: marks %v, want none", b.Marks)
	}
	b = marked(5, 6)
	b.DropMarks()
	if b.Marked() {
		t.Error("DropMarks: still marked")
	}
}
