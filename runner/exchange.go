package runner

import (
	"context"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

type msgKind uint8

const (
	msgBatch msgKind = iota
	msgWatermark
	msgEnd
	msgIdle    // the channel stops holding the receiver's watermark
	msgActive  // the channel holds the receiver's watermark again
	msgStop    // the end of the channel on a graceful stop: no +∞
	msgBarrier // checkpoint barrier ckpt: everything before it is in the checkpoint
)

// message is what flows between tasks: on input channel ch, a batch (owned
// by the receiver from then on), a watermark, a stream status (idle or
// active again), or the end of that channel (msgEnd implies a +∞ watermark;
// msgStop, sent on a graceful stop, does not).
type message struct {
	ch    int
	kind  msgKind
	batch any
	wm    base.Timestamp
	ckpt  base.CheckpointID
}

// inbox is a task's one inbound queue; bounded, so a slow task slows its
// producers.
type inbox chan message

func (in inbox) send(ctx context.Context, m message) error {
	select {
	case in <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// exchange is the output of one task on one edge that crosses tasks. It
// copies the borrowed batches it is given into per-target buffers (split by
// key group for keyed edges) and sends a buffer when it holds batchSize rows
// or before a watermark. A sent buffer belongs to the receiver.
type exchange struct {
	ctx       context.Context
	part      graph.Partitioner
	maxPar    int
	batchSize int
	targets   []inbox
	chans     []int // channel index at each target
	bufs      []any
}

func (x *exchange) Emit(batch any) error {
	if batch.(interface{ Len() int }).Len() == 0 {
		return nil
	}
	if x.part == nil {
		x.part = newForward(batch)
	}
	if x.bufs == nil {
		x.bufs = make([]any, len(x.targets))
		for i := range x.bufs {
			x.bufs[i] = x.part.NewBatch(x.batchSize)
		}
	}
	x.part.Split(batch, x.bufs, x.maxPar)
	for i, b := range x.bufs {
		if x.part.Len(b) >= x.batchSize {
			if err := x.send(i); err != nil {
				return err
			}
		}
	}
	return nil
}

func (x *exchange) send(i int) error {
	b := x.bufs[i]
	x.bufs[i] = x.part.NewBatch(x.batchSize)
	return x.targets[i].send(x.ctx, message{ch: x.chans[i], kind: msgBatch, batch: b})
}

func (x *exchange) flush() error {
	for i, b := range x.bufs {
		if x.part.Len(b) > 0 {
			if err := x.send(i); err != nil {
				return err
			}
		}
	}
	return nil
}

func (x *exchange) watermark(wm base.Timestamp) error {
	if err := x.flush(); err != nil {
		return err
	}
	for i, t := range x.targets {
		if err := t.send(x.ctx, message{ch: x.chans[i], kind: msgWatermark, wm: wm}); err != nil {
			return err
		}
	}
	return nil
}

func (x *exchange) end() error { return x.signal(msgEnd) }

// barrier flushes the buffers, then sends checkpoint barrier id to every
// target.
func (x *exchange) barrier(id base.CheckpointID) error {
	if err := x.flush(); err != nil {
		return err
	}
	for i, t := range x.targets {
		if err := t.send(x.ctx, message{ch: x.chans[i], kind: msgBarrier, ckpt: id}); err != nil {
			return err
		}
	}
	return nil
}

// signal flushes the buffers, then sends a message of kind k (end, stop or
// a stream status) to every target.
func (x *exchange) signal(k msgKind) error {
	if err := x.flush(); err != nil {
		return err
	}
	for i, t := range x.targets {
		if err := t.send(x.ctx, message{ch: x.chans[i], kind: k}); err != nil {
			return err
		}
	}
	return nil
}

// forward is the partitioner of a forward edge between tasks: it copies
// every row to the single target, marks aligned. The graph is untyped, so
// the batches copy themselves (base.Batch's NewLike and AppendTo).
type forward struct{ proto batchCopier }

// batchCopier is what *base.Batch[T] offers untyped code.
type batchCopier interface {
	Len() int
	NewLike(n int) any
	AppendTo(dst any)
}

func newForward(sample any) *forward { return &forward{proto: sample.(batchCopier)} }

func (f *forward) NewBatch(n int) any { return f.proto.NewLike(n) }

func (f *forward) Split(batch any, outs []any, _ int) { batch.(batchCopier).AppendTo(outs[0]) }

func (f *forward) Len(batch any) int { return batch.(batchCopier).Len() }
