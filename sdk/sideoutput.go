package sdk

import (
	"fmt"
	"reflect"

	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/ops"
)

// OutputTag names a side output of records of type T (Flink's OutputTag):
// a [Process] or [CoProcess] function writes to it with [Output], and
// [SideOutput] is the collection of what it wrote.
type OutputTag[T any] struct{ name string }

// NewOutputTag returns the tag of the side output name. Two tags with the
// same name and type are the same side output.
func NewOutputTag[T any](name string) OutputTag[T] { return OutputTag[T]{name: name} }

// Name is the tag's name.
func (t OutputTag[T]) Name() string { return t.name }

// Output writes v to the side output tag, with the time (and lateness
// mark) the main output's [ProcessContext.Emit] would give it. A side
// output no [SideOutput] reads is dropped.
func Output[K comparable, O, T any](ctx *ProcessContext[K, O], tag OutputTag[T], v T) {
	i, ok := ctx.sides[tag.name]
	if !ok {
		return
	}
	b, ok := ctx.c.Side(i).(*ops.SideBatch[T])
	if !ok {
		panic(fmt.Sprintf("sdk.Output: side output %q holds records of another type than %s", tag.name, typeName[T]()))
	}
	b.Add(ctx.c, v)
}

// sideOutputs are the side outputs of one process node, in port order
// (side i is port i+1).
type sideOutputs struct {
	types []reflect.Type
	bufs  []func() ops.SideBuffer
	index map[string]int // names → side
	// declared are the types of the side outputs the node's own
	// functions write (a join's late rows), by name.
	declared map[string]reflect.Type
}

// declare notes that the node's functions write records of type t to the
// side output name.
func (s *sideOutputs) declare(name string, t reflect.Type) {
	if s.declared == nil {
		s.declared = map[string]reflect.Type{}
	}
	s.declared[name] = t
}

// make returns the buffers of one operator instance (ops.ProcessConfig.
// Sides).
func (s *sideOutputs) make() []ops.SideBuffer {
	out := make([]ops.SideBuffer, len(s.bufs))
	for i, b := range s.bufs {
		out[i] = b()
	}
	return out
}

// registerSides notes that node is a process node whose functions may
// write side outputs, and returns where SideOutput will add them.
func (p *Pipeline) registerSides(node *graph.Node) *sideOutputs {
	if p.sides == nil {
		p.sides = map[*graph.Node]*sideOutputs{}
	}
	s := &sideOutputs{index: map[string]int{}}
	p.sides[node] = s
	return s
}

// SideOutput is the collection of what the process functions of main
// wrote to tag with [Output]; main is the result of [Process] or
// [CoProcess] (and of the joins built on them: IntervalJoin and
// TemporalJoin have their late rows' tags, see [LateLeft]). Records keep
// the time they were written at.
func SideOutput[T, O any](main PCollection[O], tag OutputTag[T]) PCollection[T] {
	p := main.p
	s := p.sides[main.node]
	if s == nil {
		p.addErr(errorf("SideOutput %q: %s is not the output of Process or CoProcess", tag.name, main.node.Name))
		return PCollection[T]{p: p, node: &graph.Node{Name: main.node.Name + "/" + tag.name}}
	}
	if t, ok := s.declared[tag.name]; ok && t != typeOf[T]() {
		p.addErr(errorf("SideOutput %q of %s: it holds records of %s, not %s", tag.name, main.node.Name, t, typeName[T]()))
		return PCollection[T]{p: p, node: &graph.Node{Name: main.node.Name + "/" + tag.name}}
	}
	if i, ok := s.index[tag.name]; ok {
		if s.types[i] != typeOf[T]() {
			p.addErr(errorf("SideOutput %q of %s: records of %s, and of %s elsewhere", tag.name, main.node.Name, typeName[T](), s.types[i]))
		}
		return PCollection[T]{p: p, node: main.node, port: i + 1}
	}
	p.checkFresh(typeOf[T]())
	s.index[tag.name] = len(s.types)
	s.types = append(s.types, typeOf[T]())
	s.bufs = append(s.bufs, func() ops.SideBuffer { return ops.NewSideBatch[T]() })
	main.node.Outputs++ // side i is port i+1, read directly by the consumers
	return PCollection[T]{p: p, node: main.node, port: main.node.Outputs - 1}
}
