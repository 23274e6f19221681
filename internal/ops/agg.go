package ops

import (
	"github.com/weirflow/weir/internal/graph"
)

// Combiner is the incremental aggregation contract (sdk.Combiner).
type Combiner[In, Acc, Out any] interface {
	Create() Acc
	Add(acc Acc, in In) Acc
	Merge(a, b Acc) Acc
	Result(acc Acc) Out
}

// AggConfig configures a windowed aggregation.
type AggConfig[K comparable, T, A, R any] struct {
	Spec     WindowSpec
	Lateness int64 // allowed lateness, µs
	Key      func(T) K
	Comb     Combiner[T, A, R]
}

// NewWindowAgg returns a factory of windowed aggregation operators. Port 0
// emits *base.Batch[base.Result[K, R]]; port 1 emits late records.
func NewWindowAgg[K comparable, T, A, R any](cfg AggConfig[K, T, A, R]) func() graph.Operator {
	panic("TODO")
}
