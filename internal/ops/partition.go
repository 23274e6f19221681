package ops

import (
	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

type partitioner[T any, K comparable] struct {
	key  func(T) K
	hash func(K) uint64
}

// NewPartitioner routes rows by hash(key(row)) mod maxParallelism, then key
// group to task by range.
func NewPartitioner[T any, K comparable](key func(T) K, hash func(K) uint64) graph.Partitioner {
	return &partitioner[T, K]{key, hash}
}

func (p *partitioner[T, K]) NewBatch(n int) any { return base.NewBatch[T](n) }
func (p *partitioner[T, K]) Len(b any) int      { return b.(*base.Batch[T]).Len() }

func (p *partitioner[T, K]) Split(batch any, outs []any, maxPar, size int, made []int) []int {
	in := batch.(*base.Batch[T])
	n := len(outs)
	if n == 1 {
		t, made := target[T](outs, 0, size, made)
		t.AppendBatch(in)
		return made
	}
	if len(in.Values) > 0 && len(in.Marks) == len(in.Values) {
		for i := range in.Values {
			kg := base.KeyGroupOf(p.hash(p.key(in.Values[i])), maxPar)
			var t *base.Batch[T]
			t, made = target[T](outs, base.TaskOf(kg, n, maxPar), size, made)
			t.AppendMarked(in.Values[i], in.Times[i], in.Marks[i]) // pads rows appended without marks
		}
		return made
	}
	for i := range in.Values { // no marks; Append keeps a marked target aligned
		kg := base.KeyGroupOf(p.hash(p.key(in.Values[i])), maxPar)
		var t *base.Batch[T]
		t, made = target[T](outs, base.TaskOf(kg, n, maxPar), size, made)
		t.Append(in.Values[i], in.Times[i])
	}
	return made
}

// target returns outs[i], made with room for size rows (and i added to
// made) if it is nil.
func target[T any](outs []any, i, size int, made []int) (*base.Batch[T], []int) {
	if t, ok := outs[i].(*base.Batch[T]); ok {
		return t, made
	}
	t := base.NewBatch[T](size)
	outs[i] = t
	return t, append(made, i)
}

// BuiltinHash is [base.BuiltinHash], the key hash of a basic key type (nil
// when K is not one), for operators and their tests.
func BuiltinHash[K comparable]() func(K) uint64 { return base.BuiltinHash[K]() }
