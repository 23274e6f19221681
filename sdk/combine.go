package sdk

import (
	"cmp"
)

// Combiner aggregates the records of one key and window incrementally:
// Create an accumulator, Add each record, Merge two accumulators (sessions
// and partial results), and compute the Result when the window fires.
// Accumulators are values; Add and Merge return the new value.
type Combiner[In, Acc, Out any] interface {
	Create() Acc
	Add(acc Acc, in In) Acc
	Merge(a, b Acc) Acc
	Result(acc Acc) Out
}

// Number is the constraint of [Sum] and [Mean].
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// CombineFuncs is a [Combiner] made of four functions, for combiners
// written inline.
type CombineFuncs[In, Acc, Out any] struct {
	CreateFn func() Acc
	AddFn    func(Acc, In) Acc
	MergeFn  func(Acc, Acc) Acc
	ResultFn func(Acc) Out
}

// Create calls CreateFn, or returns the zero accumulator when it is nil.
func (c CombineFuncs[In, Acc, Out]) Create() Acc {
	if c.CreateFn == nil {
		var zero Acc
		return zero
	}
	return c.CreateFn()
}

// Add calls AddFn.
func (c CombineFuncs[In, Acc, Out]) Add(a Acc, in In) Acc { return c.AddFn(a, in) }

// Merge calls MergeFn.
func (c CombineFuncs[In, Acc, Out]) Merge(a, b Acc) Acc { return c.MergeFn(a, b) }

// Result calls ResultFn.
func (c CombineFuncs[In, Acc, Out]) Result(a Acc) Out { return c.ResultFn(a) }

type sumCombiner[T any, N Number] struct{ f func(T) N }

func (s sumCombiner[T, N]) Create() N       { return 0 }
func (s sumCombiner[T, N]) Add(a N, in T) N { return a + s.f(in) }
func (s sumCombiner[T, N]) Merge(a, b N) N  { return a + b }
func (s sumCombiner[T, N]) Result(a N) N    { return a }

// Sum adds up f(record) per key and window.
func Sum[T any, N Number](f func(T) N) Combiner[T, N, N] { return sumCombiner[T, N]{f} }

type countCombiner[T any] struct{}

func (countCombiner[T]) Create() int64          { return 0 }
func (countCombiner[T]) Add(a int64, _ T) int64 { return a + 1 }
func (countCombiner[T]) Merge(a, b int64) int64 { return a + b }
func (countCombiner[T]) Result(a int64) int64   { return a }

// Count counts the records per key and window.
func Count[T any]() Combiner[T, int64, int64] { return countCombiner[T]{} }

// Extreme is the accumulator of [Min] and [Max]: the value so far and
// whether any record was seen.
type Extreme[N cmp.Ordered] struct {
	Value N
	Set   bool
}

type minCombiner[T any, N cmp.Ordered] struct {
	f   func(T) N
	max bool
}

func (m minCombiner[T, N]) Create() Extreme[N] { return Extreme[N]{} }
func (m minCombiner[T, N]) Add(a Extreme[N], in T) Extreme[N] {
	return m.Merge(a, Extreme[N]{m.f(in), true})
}
func (m minCombiner[T, N]) Merge(a, b Extreme[N]) Extreme[N] {
	switch {
	case !a.Set:
		return b
	case !b.Set:
		return a
	case m.max == (b.Value > a.Value) && b.Value != a.Value:
		return b
	}
	return a
}
func (m minCombiner[T, N]) Result(a Extreme[N]) N { return a.Value }

// Min keeps the smallest f(record) per key and window.
func Min[T any, N cmp.Ordered](f func(T) N) Combiner[T, Extreme[N], N] {
	return minCombiner[T, N]{f: f}
}

// Max keeps the largest f(record) per key and window.
func Max[T any, N cmp.Ordered](f func(T) N) Combiner[T, Extreme[N], N] {
	return minCombiner[T, N]{f: f, max: true}
}

// MeanAcc is the accumulator of [Mean].
type MeanAcc struct {
	Sum   float64
	Count int64
}

type meanCombiner[T any, N Number] struct{ f func(T) N }

func (m meanCombiner[T, N]) Create() MeanAcc { return MeanAcc{} }
func (m meanCombiner[T, N]) Add(a MeanAcc, in T) MeanAcc {
	return MeanAcc{a.Sum + float64(m.f(in)), a.Count + 1}
}
func (m meanCombiner[T, N]) Merge(a, b MeanAcc) MeanAcc {
	return MeanAcc{a.Sum + b.Sum, a.Count + b.Count}
}
func (m meanCombiner[T, N]) Result(a MeanAcc) float64 {
	if a.Count == 0 {
		return 0
	}
	return a.Sum / float64(a.Count)
}

// Mean averages f(record) per key and window.
func Mean[T any, N Number](f func(T) N) Combiner[T, MeanAcc, float64] {
	return meanCombiner[T, N]{f}
}

type listCombiner[T any] struct{}

func (listCombiner[T]) Create() []T         { return nil }
func (listCombiner[T]) Add(a []T, in T) []T { return append(a, in) }
func (listCombiner[T]) Merge(a, b []T) []T  { return append(a, b...) }
func (listCombiner[T]) Result(a []T) []T    { return a }
