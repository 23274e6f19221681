package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/keyed"
)

// rawTask is one parallel instance of a stage: the operators of its nodes,
// wired to each other (chained calls) and to exchanges. It is a
// single-threaded step machine; the task driver (run, runSource) feeds it.
type rawTask struct {
	job   *job
	st    *stage
	index int // among the tasks of its stage
	gid   int // among the tasks of the job (the checkpointer's numbering)

	ops        []graph.Operator // parallel to st.nodes; nil for a source node
	opened     []bool
	exchanges  []*exchange
	committers []graph.Committer
	dead       *deadLetters // nil when bad records are not written
	srcOut     graph.Output // port 0 of a source head

	valve *inputValve // nil for source tasks
	// inputs: a valve per input edge of the head, when it has several and
	// wants each one's watermark (graph.InputWatermarker); nil otherwise.
	inputs []*inputValve
	wm     base.Timestamp
	idle   bool // the task told its outputs that it is idle
	cur    int  // index in st.nodes of the transform running now, for panics
	done   bool // input ended (or stopped) and outputs closed
	// stopped: the input stopped gracefully rather than ended, so the
	// state of the task's operators still matters.
	stopped bool

	// Checkpoints.
	mb        *mailbox
	align     alignment
	acked     base.CheckpointID // latest checkpoint acknowledged
	committed base.CheckpointID // latest checkpoint committed
	closed    bool              // the job's last checkpoint has committed
	splits    splitCommitter    // a source task's readers told of completed checkpoints; nil otherwise
	taskState                   // keyed state, for stateful tasks
	stateful  int               // operators that implement graph.Stateful

	// Stream mode: operators with processing-time timers, and when the
	// task last told them the time.
	timers   []int
	lastTick time.Time
}

// tickInterval is how often, at most, a task tells its operators with
// processing-time timers what time it is.
const tickInterval = 20 * time.Millisecond

// tick gives operators with processing-time timers the chance to fire
// them, at most every tickInterval.
func (t *rawTask) tick() error {
	if len(t.timers) == 0 || t.done {
		return nil
	}
	now := t.job.opts.Clock.Now()
	if now.Sub(t.lastTick) < tickInterval {
		return nil
	}
	t.lastTick = now
	for _, i := range t.timers {
		pt := t.ops[i].(graph.ProcessingTimer)
		if err := t.protect(i, pt.OnProcessingTime); err != nil {
			return err
		}
	}
	return nil
}

func newRawTask(j *job, st *stage, index int) *rawTask {
	return &rawTask{job: j, st: st, index: index, wm: base.MinTimestamp, mb: newMailbox(),
		ops: make([]graph.Operator, len(st.nodes)), opened: make([]bool, len(st.nodes))}
}

// chain is the output of one node to a consumer chained in the same task.
type chain struct {
	t  *rawTask
	i  int // consumer's index in the stage
	in int // consumer's input index
}

func (c chain) Emit(batch any) error {
	t := c.t
	prev := t.cur
	t.cur = c.i
	err := t.ops[c.i].Process(c.in, batch)
	t.cur = prev
	return transformError(t.st.nodes[c.i].Name, err)
}

type fanOut []graph.Output

func (f fanOut) Emit(batch any) error {
	for _, o := range f {
		if err := o.Emit(batch); err != nil {
			return err
		}
	}
	return nil
}

type discard struct{}

func (discard) Emit(any) error { return nil }

// wire makes the task's operators and their outputs. It does not open them.
func (t *rawTask) wire() (err error) {
	defer t.recoverPanic(&err)
	for i, n := range t.st.nodes {
		if n.Source == nil {
			t.cur = i
			t.ops[i] = n.NewOperator()
			if t.ops[i] == nil {
				return fmt.Errorf("runner: node %q made a nil operator", n.Name)
			}
			if c, ok := t.ops[i].(graph.Committer); ok && n.Sink {
				t.committers = append(t.committers, c)
			}
			if _, ok := t.ops[i].(graph.Stateful); ok {
				t.stateful++
			}
		}
	}
	return nil
}

// outputs returns the outputs of the node at index i, one per port.
func (t *rawTask) outputs(i int) []graph.Output {
	j := t.job
	n := t.st.nodes[i]
	outs := make([]graph.Output, n.Outputs)
	cons := j.consumers[n]
	for port := range outs {
		var fan fanOut
		for _, c := range cons {
			if c.Edge.Port != port {
				continue
			}
			if k, ok := t.st.index[c.Node]; ok && chained(c.Node) {
				fan = append(fan, chain{t: t, i: k, in: c.Input})
				continue
			}
			down := j.plan.stageOf[c.Node]
			x := &exchange{ctx: j.ctx, part: c.Edge.Partitioner, maxPar: j.opts.MaxParallelism, batchSize: j.opts.BatchSize}
			ch := down.chanBase[c.Input]
			switch {
			case c.Edge.Partitioner != nil && j.net != nil:
				x.targets, x.ch, x.slots = j.net.targets(down, j.targets[down.id], t.index, ch+t.index, c.Edge.Codec, &j.opts.Metrics.NetworkBytes), ch+t.index, &j.slots
			case c.Edge.Partitioner != nil:
				// Every task of the stage sends to all of the
				// downstream inboxes: they share the slice.
				x.targets, x.ch, x.slots = j.targets[down.id], ch+t.index, &j.slots
			default: // forward: task i to task i, on the same worker
				x.targets, x.ch = j.targets[down.id][t.index:t.index+1], ch
			}
			t.exchanges = append(t.exchanges, x)
			fan = append(fan, x)
		}
		switch len(fan) {
		case 0:
			outs[port] = discard{}
		case 1:
			outs[port] = fan[0]
		default:
			outs[port] = fan
		}
	}
	return outs
}

// open opens the task's keyed state (if an operator has some), then every
// operator in topological order.
func (t *rawTask) open() error {
	j := t.job
	if err := t.openState(); err != nil {
		return err
	}
	if t.dead = newDeadLetters(t); t.dead != nil {
		t.committers = append(t.committers, t.dead)
	}
	for i, n := range t.st.nodes {
		outs := t.outputs(i)
		if n.Source != nil {
			if len(outs) > 0 {
				t.srcOut = outs[0]
			} else {
				t.srcOut = discard{}
			}
			continue
		}
		t.cur = i
		ctx := graph.OpContext{
			Context: j.ctx, Task: t.index, Tasks: j.opts.Parallelism,
			MaxParallelism: j.opts.MaxParallelism, Metrics: j.opts.Metrics,
			DeadLetter: t.deadLetter, Restored: j.restored,
			Now: func() base.Timestamp { return base.FromTime(j.opts.Clock.Now()) },
		}
		if _, ok := t.ops[i].(graph.ProcessingTimer); ok && j.opts.Mode == Stream {
			t.timers = append(t.timers, i)
		}
		if _, ok := t.ops[i].(graph.Stateful); ok && t.backend != nil {
			ctx.State = keyed.NewView(t.backend, n.Name)
			ctx.StateMemory = j.stateMemory
		}
		if err := t.ops[i].Open(ctx, outs); err != nil {
			return transformError(n.Name, err)
		}
		t.opened[i] = true
		// An operator that cannot checkpoint its state (a type without a
		// codec) fails now, not at the first checkpoint.
		if se, ok := t.ops[i].(interface{ StateError() error }); ok && j.ck.durable {
			if err := se.StateError(); err != nil {
				return transformError(n.Name, fmt.Errorf("checkpoints need its state encoded: %w", err))
			}
		}
	}
	return nil
}

// close closes every opened operator, whatever happened before, then the
// task's keyed state.
func (t *rawTask) close() error {
	var errs []error
	for i, op := range t.ops {
		if !t.opened[i] {
			continue
		}
		t.opened[i] = false
		errs = append(errs, t.protect(i, op.Close))
	}
	errs = append(errs, t.dead.close(), t.closeState())
	return errors.Join(errs...)
}

// protect runs fn as transform i, turning a panic into a *PanicError.
func (t *rawTask) protect(i int, fn func() error) (err error) {
	t.cur = i
	defer t.recoverPanic(&err)
	return transformError(t.st.nodes[i].Name, fn())
}

func (t *rawTask) recoverPanic(err *error) {
	if r := recover(); r != nil {
		*err = &PanicError{Transform: t.st.nodes[t.cur].Name, Value: r, Stack: debug.Stack()}
	}
}

// Step handles one message from the task's inbox. While the task aligns
// the barriers of a checkpoint, what a channel delivers after its barrier
// waits.
func (t *rawTask) Step(m message) error {
	if t.align.id != 0 && t.align.blocked[m.ch] {
		t.align.queue = append(t.align.queue, m)
		return nil
	}
	if m.kind == msgBatch {
		t.cur = 0
		err := t.ops[0].Process(t.st.chanEdge[m.ch], m.batch)
		return transformError(t.st.head.Name, err)
	}
	if err := t.inputWatermark(m); err != nil {
		return err
	}
	switch m.kind {
	case msgWatermark:
		wm, ok := t.valve.watermark(m.ch, m.wm)
		return t.afterInput(wm, ok)
	case msgIdle, msgActive:
		wm, ok := t.valve.status(m.ch, m.kind == msgIdle)
		return t.afterInput(wm, ok)
	case msgEnd:
		wm, ok := t.valve.end(m.ch)
		if err := t.afterInput(wm, ok); err != nil {
			return err
		}
		if t.valve.done() {
			return t.finish(!t.valve.anyStopped())
		}
	case msgStop:
		t.valve.stop(m.ch)
		if t.valve.done() {
			return t.finish(false)
		}
	case msgBarrier:
		return t.onBarrier(m.ch, m.ckpt)
	}
	return nil
}

// inputWatermark applies m to the valve of its channel's input edge, for
// a head that wants each input's watermark, and tells the head when that
// watermark advanced.
func (t *rawTask) inputWatermark(m message) error {
	if t.inputs == nil {
		return nil
	}
	e := t.st.chanEdge[m.ch]
	v, ch := t.inputs[e], m.ch-t.st.chanBase[e]
	var (
		wm base.Timestamp
		ok bool
	)
	switch m.kind {
	case msgWatermark:
		wm, ok = v.watermark(ch, m.wm)
	case msgIdle, msgActive:
		wm, ok = v.status(ch, m.kind == msgIdle)
	case msgEnd:
		wm, ok = v.end(ch)
	case msgStop:
		v.stop(ch)
	}
	if !ok {
		return nil
	}
	t.cur = 0
	return transformError(t.st.head.Name, t.ops[0].(graph.InputWatermarker).InputWatermark(e, wm))
}

// afterInput applies a change of the input valve: the task becomes active
// before its watermark advances, and idle after.
func (t *rawTask) afterInput(wm base.Timestamp, ok bool) error {
	idle := t.valve.isIdle()
	if !idle && t.idle {
		if err := t.setIdle(false); err != nil {
			return err
		}
	}
	if ok {
		if err := t.advance(wm); err != nil {
			return err
		}
	}
	if idle && !t.idle {
		return t.setIdle(true)
	}
	return nil
}

// setIdle tells every output that the task is idle (its watermark should
// not hold the receivers back) or active again.
func (t *rawTask) setIdle(idle bool) error {
	t.idle = idle
	k := msgActive
	if idle {
		k = msgIdle
	}
	for _, x := range t.exchanges {
		if err := x.signal(k); err != nil {
			return err
		}
	}
	return nil
}

// advance moves the task's watermark to wm: every operator sees it in
// topological order (and may emit results), then it goes downstream. The
// final +∞ goes downstream with the end of input, after Finish.
func (t *rawTask) advance(wm base.Timestamp) error {
	if wm <= t.wm {
		return nil
	}
	t.wm = wm
	for i, op := range t.ops {
		if op == nil {
			continue
		}
		t.cur = i
		if err := op.Watermark(wm); err != nil {
			return transformError(t.st.nodes[i].Name, err)
		}
	}
	if wm == base.MaxTimestamp {
		return nil
	}
	for _, x := range t.exchanges {
		if err := x.watermark(wm); err != nil {
			return err
		}
	}
	return nil
}

// finish ends the task's input. At the end of input (final): final
// watermark, Finish in topological order, end of every output. On a
// graceful stop (!final): no watermark and no Finish (nothing fires that
// has not fired), only a stop on every output. The task then answers
// checkpoints until the job's last one commits its sinks (afterFinish).
func (t *rawTask) finish(final bool) error {
	if final {
		if err := t.advance(base.MaxTimestamp); err != nil {
			return err
		}
		for i, op := range t.ops {
			if op == nil {
				continue
			}
			t.cur = i
			if err := op.Finish(); err != nil {
				return transformError(t.st.nodes[i].Name, err)
			}
		}
	}
	k := msgEnd
	if !final {
		k = msgStop
	}
	for _, x := range t.exchanges {
		if err := x.signal(k); err != nil {
			return err
		}
	}
	t.done, t.stopped = true, !final
	return nil
}

func (t *rawTask) sinkName(c graph.Committer) string {
	if c == graph.Committer(t.dead) {
		return deadLetterNode
	}
	for i, op := range t.ops {
		if any(op) == any(c) {
			return t.st.nodes[i].Name
		}
	}
	return "sink"
}

// run is the driver of a task fed by exchanges: one goroutine, one inbox.
func (t *rawTask) run(ctx context.Context, in inbox) (err error) {
	defer func() {
		if cerr := t.close(); err == nil {
			err = cerr
		}
	}()
	defer t.recoverPanic(&err)
	if err := ctx.Err(); err != nil {
		return err // aborted before the task opened: opening thousands of tasks takes a while
	}
	if err := t.open(); err != nil {
		return err
	}
	t.valve = newInputValve(len(t.st.chanEdge))
	if _, ok := t.ops[0].(graph.InputWatermarker); ok && len(t.st.chanBase) > 1 {
		for e, first := range t.st.chanBase {
			end := len(t.st.chanEdge)
			if e+1 < len(t.st.chanBase) {
				end = t.st.chanBase[e+1]
			}
			t.inputs = append(t.inputs, newInputValve(end-first))
		}
	}
	var tick <-chan time.Time
	if len(t.timers) > 0 {
		tk := t.job.opts.Clock.NewTicker(tickInterval)
		defer tk.Stop()
		tick = tk.C()
	}
	for !t.done {
		select {
		case m := <-in:
			if err := t.Step(m); err != nil {
				return err
			}
			if err := t.maybeAligned(); err != nil {
				return err
			}
		case <-t.mb.wake:
			if err := t.commitPosted(); err != nil {
				return err
			}
		case <-tick:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := t.tick(); err != nil {
			return err
		}
	}
	return t.afterFinish(ctx, nil)
}
