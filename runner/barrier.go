package runner

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/checkpoint"
)

// alignment is a task's state while it aligns the barriers of one
// checkpoint (Flink's aligned checkpoints): a channel whose barrier has
// arrived is blocked, and what arrives on it after the barrier waits in
// queue until every live channel has delivered its barrier.
type alignment struct {
	id      base.CheckpointID // 0: not aligning
	blocked []bool
	queue   []message
}

// onBarrier handles barrier id on channel ch.
func (t *rawTask) onBarrier(ch int, id base.CheckpointID) error {
	// A commit of the previous checkpoint is always posted before this
	// barrier was triggered: sinks commit it before staging this one.
	if err := t.commitPosted(); err != nil {
		return err
	}
	a := &t.align
	if a.id == 0 {
		a.id = id
		if a.blocked == nil {
			a.blocked = make([]bool, len(t.st.chanEdge))
		}
	}
	a.blocked[ch] = true
	return nil
}

// maybeAligned takes the checkpoint being aligned once every live channel
// has delivered its barrier, then processes what the blocked channels
// delivered meanwhile.
func (t *rawTask) maybeAligned() error {
	a := &t.align
	if a.id == 0 {
		return nil
	}
	for ch, b := range a.blocked {
		if !b && !t.valve.ended[ch] {
			return nil
		}
	}
	id := a.id
	a.id = 0
	clear(a.blocked)
	if err := t.checkpoint(id, nil, true); err != nil {
		return err
	}
	q := a.queue
	a.queue = nil
	for _, m := range q {
		if err := t.Step(m); err != nil {
			return err
		}
		if t.done {
			return nil
		}
	}
	return nil
}

// checkpoint takes checkpoint id at this point of the task's input:
// stateful operators write their in-memory state to the backend, the
// barrier goes downstream (forward), sinks pre-commit, the backend is
// snapshotted (the synchronous part) and the task acknowledges; the upload
// runs in the background. splits is a source task's split states.
func (t *rawTask) checkpoint(id base.CheckpointID, splits map[string]checkpoint.SplitState, forward bool) error {
	clock := t.job.opts.Clock
	start := clock.Now()
	a := taskAck{t: t, splits: splits, stopped: t.stopped}
	withState := t.backend != nil && !(t.done && !t.stopped)
	if withState {
		for i, op := range t.ops {
			if s, ok := op.(graph.Stateful); ok {
				if err := t.protect(i, func() error { return s.Snapshot(id) }); err != nil {
					return err
				}
			}
		}
	}
	if forward {
		for _, x := range t.exchanges {
			if err := x.barrier(id); err != nil {
				return err
			}
		}
	}
	if err := t.preCommit(id, &a); err != nil {
		return err
	}
	if withState && t.job.ck.durable {
		dir := filepath.Join(t.stateDir, fmt.Sprintf("snap-%d", id))
		h, err := t.backend.Snapshot(dir)
		if err != nil {
			return fmt.Errorf("checkpoint %d: %w", id, err)
		}
		a.upload = func(s *checkpoint.Store) (*checkpoint.StateHandle, int64, error) {
			sh, n, err := t.uploader(s).Upload(uint64(id), h)
			if err != nil {
				return nil, n, err
			}
			return &sh, n, nil
		}
		a.done = func() { removeAll(dir) }
	}
	a.sync = clock.Now().Sub(start)
	if id > t.acked {
		t.acked = id
	}
	t.job.ck.ack(id, a)
	return nil
}

// preCommit stages the output of the task's sinks under id and collects
// what they want recorded.
func (t *rawTask) preCommit(id base.CheckpointID, a *taskAck) error {
	for _, c := range t.committers {
		name := t.sinkName(c)
		if err := c.PreCommit(id); err != nil {
			return fmt.Errorf("pre-commit %q: %w", name, err)
		}
		if cc, ok := c.(graph.CommittableCommitter); ok {
			b, err := cc.Committable(id)
			if err != nil {
				return fmt.Errorf("pre-commit %q: %w", name, err)
			}
			if b != nil {
				if a.sinks == nil {
					a.sinks = map[string][]byte{}
				}
				a.sinks[name] = b
			}
		}
	}
	return nil
}

// commitPosted commits the sinks up to the latest completed checkpoint the
// mailbox holds. It reports whether that was the job's last.
func (t *rawTask) commitPosted() error {
	_, commit, final := t.mb.read()
	if commit <= t.committed {
		return nil
	}
	t.committed = commit
	for _, c := range t.committers {
		if err := c.Commit(commit); err != nil {
			return fmt.Errorf("commit %q: %w", t.sinkName(c), err)
		}
	}
	if t.splits != nil {
		t.splits.completed(commit)
	}
	if final {
		t.closed = true
	}
	return nil
}

// pollMailbox, for a source task or a task whose input has ended, commits
// what completed and takes the checkpoint asked for, if any. splits gives
// a source task's split states.
func (t *rawTask) pollMailbox(splits func() map[string]checkpoint.SplitState, forward bool) error {
	if err := t.commitPosted(); err != nil {
		return err
	}
	trigger, _, _ := t.mb.read()
	if trigger <= t.acked {
		return nil
	}
	var s map[string]checkpoint.SplitState
	if splits != nil {
		s = splits()
		if t.splits != nil {
			t.splits.taken(trigger, s)
		}
	}
	return t.checkpoint(trigger, s, forward)
}

// afterFinish is where a task goes once its input has ended or stopped and
// its outputs are closed: it answers checkpoints (including the job's
// last, which commits its sinks) until the last one has committed.
func (t *rawTask) afterFinish(ctx context.Context, splits func() map[string]checkpoint.SplitState) error {
	t.job.ck.finished(t)
	for !t.closed {
		if err := t.pollMailbox(splits, false); err != nil {
			return err
		}
		if t.closed {
			break
		}
		select {
		case <-t.mb.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
