package sdk

import (
	"cmp"
	"reflect"

	"github.com/weirflow/weir/internal/ops"
	"github.com/weirflow/weir/sdk/codec"
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

func (countCombiner[T]) accCodec() ops.Codec[int64] { return codecFor[int64]() }

func (s sumCombiner[T, N]) accCodec() ops.Codec[N] { return codecFor[N]() }

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

func (m minCombiner[T, N]) accCodec() ops.Codec[Extreme[N]] {
	vc := codecFor[N]()
	return ops.Codec[Extreme[N]]{
		Append: func(dst []byte, v *Extreme[N]) []byte {
			return vc.Append(codec.AppendBool(dst, v.Set), &v.Value)
		},
		Decode: func(src []byte, v *Extreme[N]) (int, error) {
			r := codec.NewReader(src)
			v.Set = r.Bool()
			n, err := r.Done()
			if err != nil {
				return n, err
			}
			m, err := vc.Decode(src[n:], &v.Value)
			return n + m, err
		},
	}
}

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

func (m meanCombiner[T, N]) accCodec() ops.Codec[MeanAcc] {
	return ops.Codec[MeanAcc]{
		Append: func(dst []byte, v *MeanAcc) []byte {
			return codec.AppendInt(codec.AppendFloat64(dst, v.Sum), v.Count)
		},
		Decode: func(src []byte, v *MeanAcc) (int, error) {
			r := codec.NewReader(src)
			v.Sum = r.Float64()
			v.Count = r.Int()
			return r.Done()
		},
	}
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

// The list's codec: a length prefix, then each element with T's codec.
func (listCombiner[T]) accCodec() ops.Codec[[]T] {
	ec := codecFor[T]()
	if !ec.Ok() {
		return ops.Codec[[]T]{}
	}
	return ops.Codec[[]T]{
		Append: func(dst []byte, v *[]T) []byte {
			dst = codec.AppendLen(dst, len(*v), *v == nil)
			for i := range *v {
				dst = ec.Append(dst, &(*v)[i])
			}
			return dst
		},
		Decode: func(src []byte, v *[]T) (int, error) {
			r := codec.NewReader(src)
			n := r.Len()
			off, err := r.Done()
			if err != nil || n < 0 {
				*v = nil
				return off, err
			}
			out := make([]T, n)
			for i := range out {
				m, err := ec.Decode(src[off:], &out[i])
				if err != nil {
					return off, err
				}
				off += m
			}
			*v = out
			return off, nil
		},
	}
}

// accCoder is implemented by the built-in combiners: the codec of their
// accumulator, for window state in the keyed state backend.
type accCoder[A any] interface{ accCodec() ops.Codec[A] }

// accCodecOf returns the state codec of c's accumulator: the built-in
// combiner's, else A's registered codec or a basic type's; the zero Codec
// when A has none (the aggregation then fails to open with keyed state).
func accCodecOf[T, A, R any](c Combiner[T, A, R]) ops.Codec[A] {
	if ac, ok := c.(accCoder[A]); ok {
		return ac.accCodec()
	}
	return codecFor[A]()
}

// codecFor returns the binary codec of T for keyed state: the sdk's own
// for its generic carriers (selfCoder), its registered record codec, else one for a basic kind (named numeric, string and bool
// types included), else the zero Codec.
func codecFor[T any]() ops.Codec[T] {
	if sc, ok := any(*new(T)).(selfCoder[T]); ok {
		return sc.binaryCodec()
	}
	if c, err := CodecOf[T](); err == nil {
		return ops.Codec[T]{Append: c.AppendBinary, Decode: c.DecodeBinary}
	}
	return scalarCodec[T]()
}

// scalarCodec returns a binary codec for a type of basic kind (by
// reflection: it runs only when state is written back or loaded), or the
// zero Codec.
func scalarCodec[T any]() ops.Codec[T] {
	elem := func(v *T) reflect.Value { return reflect.ValueOf(v).Elem() }
	switch reflect.TypeFor[T]().Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return ops.Codec[T]{
			Append: func(dst []byte, v *T) []byte { return codec.AppendInt(dst, elem(v).Int()) },
			Decode: func(src []byte, v *T) (int, error) {
				r := codec.NewReader(src)
				elem(v).SetInt(r.Int())
				return r.Done()
			},
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return ops.Codec[T]{
			Append: func(dst []byte, v *T) []byte { return codec.AppendUint(dst, elem(v).Uint()) },
			Decode: func(src []byte, v *T) (int, error) {
				r := codec.NewReader(src)
				elem(v).SetUint(r.Uint())
				return r.Done()
			},
		}
	case reflect.Float32, reflect.Float64:
		return ops.Codec[T]{
			Append: func(dst []byte, v *T) []byte { return codec.AppendFloat64(dst, elem(v).Float()) },
			Decode: func(src []byte, v *T) (int, error) {
				r := codec.NewReader(src)
				elem(v).SetFloat(r.Float64())
				return r.Done()
			},
		}
	case reflect.String:
		return ops.Codec[T]{
			Append: func(dst []byte, v *T) []byte { return codec.AppendString(dst, elem(v).String()) },
			Decode: func(src []byte, v *T) (int, error) {
				r := codec.NewReader(src)
				elem(v).SetString(r.String())
				return r.Done()
			},
		}
	case reflect.Bool:
		return ops.Codec[T]{
			Append: func(dst []byte, v *T) []byte { return codec.AppendBool(dst, elem(v).Bool()) },
			Decode: func(src []byte, v *T) (int, error) {
				r := codec.NewReader(src)
				elem(v).SetBool(r.Bool())
				return r.Done()
			},
		}
	}
	return ops.Codec[T]{}
}
