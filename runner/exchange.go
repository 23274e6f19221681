package runner

import (
	"context"
	"sync"

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

// target is where an exchange sends: the inbox of a task in this process,
// or the stream of a task on another worker (remote).
type target interface {
	send(ctx context.Context, m message) error
}

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
//
// Memory: a buffer exists only for a target that has rows waiting, and is
// made small when there are many targets (rows spread over them); when the
// exchange holds maxBuffered rows in all it sends them all. So what a task
// holds is bounded by rows, not by the number of targets times batchSize,
// and the job's buffers grow linearly with the parallelism. The slots of
// bufs (one per target) come from a pool shared by the job's keyed
// exchanges and go back when no target has rows.
type exchange struct {
	ctx       context.Context
	part      graph.Partitioner
	maxPar    int
	batchSize int
	targets   []target   // shared with the other tasks of the stage (local): read only
	ch        int        // this task's channel index at every target
	slots     *sync.Pool // of *[]any, len(targets) long; nil: bufs stays
	bufs      *[]any     // per target: rows waiting, or nil; nil when none
	live      []int      // the targets whose buffer is not nil
	rows      int        // rows buffered
}

// maxBuffered is how many rows, in units of the batch size, an exchange
// buffers before it sends every buffer, full or not.
const maxBuffered = 8

func (x *exchange) Emit(batch any) error {
	if batch.(interface{ Len() int }).Len() == 0 {
		return nil
	}
	if x.part == nil {
		x.part = newForward(batch)
	}
	if x.bufs == nil {
		if x.slots != nil {
			x.bufs, _ = x.slots.Get().(*[]any)
		}
		if x.bufs == nil {
			b := make([]any, len(x.targets))
			x.bufs = &b
		}
	}
	x.live = x.part.Split(batch, *x.bufs, x.maxPar, x.bufSize(), x.live)
	x.rows += x.part.Len(batch)
	if x.rows >= maxBuffered*x.batchSize {
		return x.flush()
	}
	k := 0
	for _, t := range x.live {
		if n := x.part.Len((*x.bufs)[t]); n >= x.batchSize {
			x.rows -= n
			if err := x.send(t); err != nil {
				return err
			}
			continue
		}
		x.live[k] = t
		k++
	}
	x.live = x.live[:k]
	x.release()
	return nil
}

// release gives the slots back to the pool when no target has rows.
func (x *exchange) release() {
	if len(x.live) == 0 && x.slots != nil && x.bufs != nil {
		x.slots.Put(x.bufs)
		x.bufs = nil
	}
}

// bufSize is the room a new buffer is made with: a target's share of the
// maxBuffered batches the exchange holds at most (rows spread evenly fill
// it just when they are sent), and no more than a batch. So the room of
// all buffers stays within maxBuffered batches however many targets there
// are; a buffer grows when its target gets more than its share.
func (x *exchange) bufSize() int {
	return max(1, min(x.batchSize, maxBuffered*x.batchSize/len(x.targets)))
}

// send sends the buffer of target i and releases it; i must then leave
// x.live.
func (x *exchange) send(i int) error {
	b := (*x.bufs)[i]
	(*x.bufs)[i] = nil
	return x.targets[i].send(x.ctx, message{ch: x.ch, kind: msgBatch, batch: b})
}

// flush sends every buffer that has rows.
func (x *exchange) flush() error {
	for _, t := range x.live {
		if err := x.send(t); err != nil {
			return err
		}
	}
	x.live, x.rows = x.live[:0], 0
	x.release()
	return nil
}

func (x *exchange) watermark(wm base.Timestamp) error {
	if err := x.flush(); err != nil {
		return err
	}
	for _, t := range x.targets {
		if err := t.send(x.ctx, message{ch: x.ch, kind: msgWatermark, wm: wm}); err != nil {
			return err
		}
	}
	return nil
}

// barrier flushes the buffers, then sends checkpoint barrier id to every
// target.
func (x *exchange) barrier(id base.CheckpointID) error {
	if err := x.flush(); err != nil {
		return err
	}
	for _, t := range x.targets {
		if err := t.send(x.ctx, message{ch: x.ch, kind: msgBarrier, ckpt: id}); err != nil {
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
	for _, t := range x.targets {
		if err := t.send(x.ctx, message{ch: x.ch, kind: k}); err != nil {
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

func (f *forward) Split(batch any, outs []any, _, size int, made []int) []int {
	if outs[0] == nil {
		outs[0] = f.proto.NewLike(size)
		made = append(made, 0)
	}
	batch.(batchCopier).AppendTo(outs[0])
	return made
}

func (f *forward) Len(batch any) int { return batch.(batchCopier).Len() }
