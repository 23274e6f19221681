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

func (p *partitioner[T, K]) Split(batch any, outs []any, maxPar int) {
	in := batch.(*base.Batch[T])
	var small [16]*base.Batch[T]
	targets := small[:0]
	for _, o := range outs {
		targets = append(targets, o.(*base.Batch[T]))
	}
	n := len(targets)
	if n == 1 {
		targets[0].AppendBatch(in)
		return
	}
	if len(in.Values) > 0 && len(in.Marks) == len(in.Values) {
		for _, t := range targets {
			for len(t.Marks) < len(t.Values) { // rows appended without marks
				t.Marks = append(t.Marks, base.MinTimestamp)
			}
		}
		for i := range in.Values {
			kg := base.KeyGroupOf(p.hash(p.key(in.Values[i])), maxPar)
			t := targets[base.TaskOf(kg, n, maxPar)]
			t.Values = append(t.Values, in.Values[i])
			t.Times = append(t.Times, in.Times[i])
			t.Marks = append(t.Marks, in.Marks[i])
		}
		return
	}
	for i := range in.Values { // no marks; Append keeps a marked target aligned
		kg := base.KeyGroupOf(p.hash(p.key(in.Values[i])), maxPar)
		targets[base.TaskOf(kg, n, maxPar)].Append(in.Values[i], in.Times[i])
	}
}

// KeyGroupOf returns the key group of a row's key; keyed operators use it to
// check that a row reached the task that owns it.
func KeyGroupOf[K comparable](hash func(K) uint64, k K, maxPar int) base.KeyGroup {
	return base.KeyGroupOf(hash(k), maxPar)
}

// BuiltinHash is [base.BuiltinHash], the key hash of a basic key type (nil
// when K is not one), for operators and their tests.
func BuiltinHash[K comparable]() func(K) uint64 { return base.BuiltinHash[K]() }
