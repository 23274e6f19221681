package ops

import (
	"context"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// Writer is the typed committing writer a connector provides (sdk.CommittingSink).
type Writer[T any] interface {
	Write(ctx context.Context, b *base.Batch[T]) error
	PreCommit(id base.CheckpointID) error
	Commit(id base.CheckpointID) error
	Abort(id base.CheckpointID) error
	Close() error
}

// SinkContext is what a sink writer is opened with.
type SinkContext struct {
	Context     context.Context
	Node        string
	Task, Tasks int
}

type sinkOp[T any] struct {
	open  func(SinkContext) (Writer[T], error)
	node  string
	w     Writer[T]
	ctx   context.Context
	count *graph.Metrics
}

// NewSink returns a factory of sink operators writing through open's writers.
func NewSink[T any](open func(SinkContext) (Writer[T], error), node string) func() graph.Operator {
	return func() graph.Operator { return &sinkOp[T]{open: open, node: node} }
}

func (s *sinkOp[T]) Open(ctx graph.OpContext, _ []graph.Output) error {
	w, err := s.open(SinkContext{Context: ctx.Context, Node: s.node, Task: ctx.Task, Tasks: ctx.Tasks})
	if err != nil {
		return err
	}
	s.w, s.ctx, s.count = w, ctx.Context, ctx.Metrics
	return nil
}

func (s *sinkOp[T]) Process(_ int, batch any) error {
	b := batch.(*base.Batch[T])
	if err := s.w.Write(s.ctx, b); err != nil {
		return err
	}
	if s.count != nil {
		s.count.RowsOut.Add(int64(b.Len()))
		s.count.SinkRows(s.node).Add(int64(b.Len()))
	}
	return nil
}

func (s *sinkOp[T]) Watermark(base.Timestamp) error       { return nil }
func (s *sinkOp[T]) Finish() error                        { return nil }
func (s *sinkOp[T]) PreCommit(id base.CheckpointID) error { return s.w.PreCommit(id) }
func (s *sinkOp[T]) Commit(id base.CheckpointID) error    { return s.w.Commit(id) }
func (s *sinkOp[T]) Abort(id base.CheckpointID) error     { return s.w.Abort(id) }

// Committable returns what the writer wants recorded in the checkpoint
// after PreCommit(id), or nil when it records nothing.
func (s *sinkOp[T]) Committable(id base.CheckpointID) ([]byte, error) {
	if c, ok := s.w.(interface {
		Committable(base.CheckpointID) ([]byte, error)
	}); ok {
		return c.Committable(id)
	}
	return nil, nil
}

func (s *sinkOp[T]) Close() error {
	if s.w == nil {
		return nil
	}
	return s.w.Close()
}
