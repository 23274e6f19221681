package ops

import (
	"fmt"
	"testing"

	"github.com/weirflow/weir/internal/base"
)

// BenchmarkPartitionSplit splits 1,024-row batches keyed by string among n
// targets as a keyed exchange does: buffers made when a target gets its
// first row, with room for its share of 8 batches, and dropped (sent) when
// they hold a batch.
func BenchmarkPartitionSplit(b *testing.B) {
	p := NewPartitioner(func(r kv) string { return r.K }, BuiltinHash[string]())
	in := base.NewBatch[kv](1024)
	for i := range 1024 {
		in.Append(kv{fmt.Sprintf("user-%d", i*7919%5000), int64(i)}, base.Timestamp(i))
	}
	for _, n := range []int{1, 2, 16, 256} {
		b.Run(fmt.Sprintf("targets%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(1024 * 24)
			outs := make([]any, n)
			var made []int
			for b.Loop() {
				made = p.Split(in, outs, 128, max(1, min(1024, 8*1024/n)), made[:0])
				for i := range outs {
					if o, ok := outs[i].(*base.Batch[kv]); ok && o.Len() >= 1024 {
						outs[i] = nil
					}
				}
			}
		})
	}
}
