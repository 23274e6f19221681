package ops

import (
	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// passthrough implements the no-op parts of graph.Operator.
type passthrough struct{}

func (passthrough) Watermark(base.Timestamp) error { return nil }
func (passthrough) Finish() error                  { return nil }
func (passthrough) Close() error                   { return nil }

type mapOp[I, O any] struct {
	passthrough
	fn  func(I) O
	k   func(*base.Batch[I], *base.Batch[O])
	out graph.Output
	buf *base.Batch[O]
}

// NewMap returns a factory of map operators; k is the generated kernel or nil.
func NewMap[I, O any, KF ~func(*base.Batch[I], *base.Batch[O])](fn func(I) O, k KF) func() graph.Operator {
	return func() graph.Operator { return &mapOp[I, O]{fn: fn, k: k} }
}

func (m *mapOp[I, O]) Open(_ graph.OpContext, outs []graph.Output) error {
	m.out, m.buf = outs[0], base.NewBatch[O](base.DefaultBatchSize)
	return nil
}

func (m *mapOp[I, O]) Process(_ int, batch any) error {
	in := batch.(*base.Batch[I])
	m.buf.Reset()
	if m.k != nil {
		m.k(in, m.buf)
	} else {
		MapGeneric(m.fn, in, m.buf)
	}
	if m.buf.Len() == 0 {
		return nil
	}
	return m.out.Emit(m.buf)
}

// MapGeneric is the generic path of Map: a typed loop with an indirect call.
func MapGeneric[I, O any](fn func(I) O, in *base.Batch[I], out *base.Batch[O]) {
	for i := range in.Values {
		out.Values = append(out.Values, fn(in.Values[i]))
	}
	out.Times = append(out.Times, in.Times...)
	if len(in.Marks) == len(in.Values) {
		out.Marks = append(out.Marks, in.Marks...)
	}
}

type filterOp[T any] struct {
	passthrough
	fn  func(T) bool
	k   func(*base.Batch[T], *base.Batch[T])
	out graph.Output
	buf *base.Batch[T]
}

// NewFilter returns a factory of filter operators; k is the generated kernel or nil.
func NewFilter[T any, KF ~func(*base.Batch[T], *base.Batch[T])](fn func(T) bool, k KF) func() graph.Operator {
	return func() graph.Operator { return &filterOp[T]{fn: fn, k: k} }
}

func (f *filterOp[T]) Open(_ graph.OpContext, outs []graph.Output) error {
	f.out, f.buf = outs[0], base.NewBatch[T](base.DefaultBatchSize)
	return nil
}

func (f *filterOp[T]) Process(_ int, batch any) error {
	in := batch.(*base.Batch[T])
	f.buf.Reset()
	if f.k != nil {
		f.k(in, f.buf)
	} else {
		FilterGeneric(f.fn, in, f.buf)
	}
	if f.buf.Len() == 0 {
		return nil
	}
	return f.out.Emit(f.buf)
}

// FilterGeneric is the generic path of Filter.
func FilterGeneric[T any](fn func(T) bool, in *base.Batch[T], out *base.Batch[T]) {
	if len(in.Marks) != len(in.Values) {
		for i := range in.Values {
			if fn(in.Values[i]) {
				out.Values = append(out.Values, in.Values[i])
				out.Times = append(out.Times, in.Times[i])
			}
		}
		return
	}
	for i := range in.Values {
		if fn(in.Values[i]) {
			out.Values = append(out.Values, in.Values[i])
			out.Times = append(out.Times, in.Times[i])
			out.Marks = append(out.Marks, in.Marks[i])
		}
	}
}

type flatMapOp[I, O any] struct {
	passthrough
	fn   func(I, func(O))
	k    func(*base.Batch[I], *base.Batch[O])
	out  graph.Output
	buf  *base.Batch[O]
	ts   base.Timestamp
	mark base.Timestamp
	emit func(O)
	// emitMarked is emit for an input batch that carries marks.
	emitMarked func(O)
}

// NewFlatMap returns a factory of flat-map operators; k is the generated kernel or nil.
func NewFlatMap[I, O any, KF ~func(*base.Batch[I], *base.Batch[O])](fn func(I, func(O)), k KF) func() graph.Operator {
	return func() graph.Operator { return &flatMapOp[I, O]{fn: fn, k: k} }
}

func (f *flatMapOp[I, O]) Open(_ graph.OpContext, outs []graph.Output) error {
	f.out, f.buf = outs[0], base.NewBatch[O](base.DefaultBatchSize)
	f.emit = func(o O) { f.buf.Append(o, f.ts) }
	f.emitMarked = func(o O) { f.buf.AppendMarked(o, f.ts, f.mark) }
	return nil
}

func (f *flatMapOp[I, O]) Process(_ int, batch any) error {
	in := batch.(*base.Batch[I])
	f.buf.Reset()
	if f.k != nil {
		f.k(in, f.buf)
	} else {
		if len(in.Marks) == len(in.Values) {
			for i := range in.Values {
				f.ts, f.mark = in.Times[i], in.Marks[i]
				f.fn(in.Values[i], f.emitMarked)
			}
		} else {
			for i := range in.Values {
				f.ts = in.Times[i]
				f.fn(in.Values[i], f.emit)
			}
		}
	}
	if f.buf.Len() == 0 {
		return nil
	}
	return f.out.Emit(f.buf)
}

type flattenOp[T any] struct {
	passthrough
	out graph.Output
}

// NewFlatten returns a factory of union operators: every input batch is
// passed on unchanged.
func NewFlatten[T any]() func() graph.Operator {
	return func() graph.Operator { return &flattenOp[T]{} }
}

func (f *flattenOp[T]) Open(_ graph.OpContext, outs []graph.Output) error {
	f.out = outs[0]
	return nil
}

func (f *flattenOp[T]) Process(_ int, batch any) error {
	if batch.(*base.Batch[T]).Len() == 0 {
		return nil
	}
	return f.out.Emit(batch)
}
