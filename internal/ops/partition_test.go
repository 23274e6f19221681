package ops

import (
	"slices"
	"testing"

	"github.com/weirflow/weir/internal/base"
)

// TestPartitionerMarks: rows keep their marks when split by key, and a
// target that got rows without marks earlier is padded with MinTimestamp.
func TestPartitionerMarks(t *testing.T) {
	p := NewPartitioner(func(r kv) string { return r.K }, BuiltinHash[string]())
	outs := []any{p.NewBatch(4), p.NewBatch(4)}
	plain := base.NewBatch[kv](4)
	marked := base.NewBatch[kv](4)
	for i, k := range []string{"a", "b", "c", "d", "e", "f"} {
		plain.Append(kv{k, int64(i)}, base.Timestamp(i))
		marked.AppendMarked(kv{k, int64(i)}, base.Timestamp(i), base.Timestamp(100+i))
	}
	p.Split(plain, outs, 128, 4, nil)
	p.Split(marked, outs, 128, 4, nil)
	total := 0
	for _, o := range outs {
		b := o.(*base.Batch[kv])
		total += b.Len()
		if !b.Marked() {
			t.Fatalf("target with %d rows and %d marks", b.Len(), len(b.Marks))
		}
		for i, r := range b.Values {
			want := base.MinTimestamp
			if i >= b.Len()/2 { // second half came from the marked batch
				want = base.Timestamp(100 + r.V)
			}
			if b.Marks[i] != want {
				t.Errorf("row %v: mark %v, want %v", r, b.Marks[i], want)
			}
		}
	}
	if total != 12 {
		t.Errorf("%d rows, want 12", total)
	}
	one := []any{p.NewBatch(4)}
	p.Split(marked, one, 128, 4, nil)
	if got := one[0].(*base.Batch[kv]).Marks; !slices.Equal(got, marked.Marks) {
		t.Errorf("single target marks %v, want %v", got, marked.Marks)
	}
}
