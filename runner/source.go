package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/checkpoint"
)

// openSplit is a split a source task is reading.
type openSplit struct {
	s graph.Split
	r graph.Reader
	v int // index in the task's sourceValve
}

// sourceRun is the state of a source task's driver.
type sourceRun struct {
	t      *rawTask
	src    graph.Source
	name   string
	valve  *sourceValve
	stream bool
	q      *splitQueue // stream mode with discovery; else nil
	open   []*openSplit

	// For checkpoints: splits ended, and splits restored at a position
	// not yet reopened; final is the state at a graceful stop.
	ended    map[string]bool
	restored map[string][]byte
	final    map[string]checkpoint.SplitState

	// pending are the split positions of checkpoints taken and not yet
	// completed, for the readers that commit positions.
	pending map[base.CheckpointID]map[string]checkpoint.SplitState
}

// splitCommitter hears of a source task's checkpoints: taken (with the
// positions) and completed.
type splitCommitter interface {
	taken(id base.CheckpointID, splits map[string]checkpoint.SplitState)
	completed(id base.CheckpointID)
}

func (sr *sourceRun) taken(id base.CheckpointID, splits map[string]checkpoint.SplitState) {
	if sr.pending == nil {
		sr.pending = map[base.CheckpointID]map[string]checkpoint.SplitState{}
	}
	sr.pending[id] = splits
}

// completed tells the open readers that commit positions where checkpoint
// id (or the newest taken before it, when id was not this task's) left
// their splits, and forgets the checkpoints up to id.
func (sr *sourceRun) completed(id base.CheckpointID) {
	var newest base.CheckpointID
	for c := range sr.pending {
		if c <= id && c > newest {
			newest = c
		}
	}
	splits := sr.pending[newest]
	for c := range sr.pending {
		if c <= id {
			delete(sr.pending, c)
		}
	}
	if splits == nil {
		return
	}
	for _, o := range sr.open {
		if o.r == nil {
			continue
		}
		pc, ok := o.r.(graph.PositionCommitter)
		if !ok {
			continue
		}
		if st, ok := splits[o.s.ID()]; ok && !st.Done && st.Pos != nil {
			pc.CommitPosition(st.Pos)
		}
	}
}

// runSource is the driver of a source task. In batch mode it reads its
// splits one after another; in stream mode it reads all of them in turn,
// one batch each, and takes the splits discovery hands it. It advances the
// watermark after each batch, and stops gracefully when Options.Stop is
// closed.
func (t *rawTask) runSource(ctx context.Context) (err error) {
	j := t.job
	sr := &sourceRun{t: t, src: t.st.head.Source, name: t.st.head.Name,
		stream: j.opts.Mode == Stream, q: j.queues[t.st.id], ended: map[string]bool{}, restored: map[string][]byte{}}
	t.splits = sr
	for _, s := range t.st.splits[t.index] {
		if pos, ok := t.st.positions[s.ID()]; ok {
			sr.restored[s.ID()] = pos
		}
	}
	defer func() {
		if cerr := sr.closeAll(); err == nil {
			err = cerr
		}
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
	splits := t.st.splits[t.index]
	sr.valve = newSourceValve(sr.src.Watermarks(), splits, j.opts.Clock, j.opts.PerfectWatermark)
	if sr.q != nil {
		sr.valve.more = !sr.q.isOver()
	}
	// A task with pending splits whose statistics are known can start above -∞.
	if wm, ok := sr.valve.advance(); ok && wm != base.MaxTimestamp {
		if err := t.advance(wm); err != nil {
			return err
		}
	}
	if sr.stream {
		err = sr.readInTurn(ctx, splits)
	} else {
		err = sr.readInOrder(splits)
	}
	if err != nil {
		return err
	}
	return t.afterFinish(ctx, sr.splitStates)
}

// splitStates is the source task's part of a checkpoint: where each split
// it has touched stands.
func (sr *sourceRun) splitStates() map[string]checkpoint.SplitState {
	if sr.final != nil {
		return sr.final
	}
	m := make(map[string]checkpoint.SplitState, len(sr.ended)+len(sr.open)+len(sr.restored))
	for id, pos := range sr.restored {
		m[id] = checkpoint.SplitState{Pos: pos}
	}
	for id := range sr.ended {
		m[id] = checkpoint.SplitState{Done: true}
	}
	for _, o := range sr.open {
		if o.r != nil {
			m[o.s.ID()] = checkpoint.SplitState{Pos: o.r.Position()}
		}
	}
	return m
}

// poll takes the checkpoint the mailbox asks for, if any, commits what
// completed, and gives operators with processing-time timers the time.
func (sr *sourceRun) poll() error {
	if err := sr.t.pollMailbox(sr.splitStates, true); err != nil {
		return err
	}
	return sr.t.tick()
}

// readInOrder reads the splits one after another (batch mode).
func (sr *sourceRun) readInOrder(splits []graph.Split) error {
	t := sr.t
	for i, s := range splits {
		if t.job.stopped() {
			return sr.stop()
		}
		o, stop, err := sr.openAt(s, i)
		if err != nil {
			return err
		} else if stop {
			return sr.stop()
		}
		for {
			eos, stop, err := sr.readOnce(o)
			if err != nil {
				return err
			}
			if stop || t.job.stopped() {
				return sr.stop()
			}
			if eos {
				sr.open = sr.open[:0]
			}
			if err := sr.poll(); err != nil {
				return err
			}
			if eos {
				break
			}
		}
	}
	return t.finish(true)
}

// readInTurn reads every open split in turn, one batch each (stream mode),
// until all have ended and no more can come.
func (sr *sourceRun) readInTurn(ctx context.Context, splits []graph.Split) error {
	t, j := sr.t, sr.t.job
	// Processing-time timers need the time while no split is open.
	var tick <-chan time.Time
	if len(t.timers) > 0 {
		tk := j.opts.Clock.NewTicker(tickInterval)
		defer tk.Stop()
		tick = tk.C()
	}
	for i, s := range splits {
		if _, stop, err := sr.openAt(s, i); err != nil {
			return err
		} else if stop {
			return sr.stop()
		}
	}
	if err := sr.watermark(); err != nil {
		return err
	}
	for {
		if j.stopped() {
			return sr.stop()
		}
		if sr.q != nil {
			for _, s := range sr.q.take(t.index) {
				if _, stop, err := sr.openAt(s, sr.valve.add(s, true)); err != nil {
					return err
				} else if stop {
					return sr.stop()
				}
			}
			sr.valve.more = !sr.q.isOver()
		}
		if len(sr.open) == 0 {
			if sr.q == nil || sr.q.isOver() {
				return t.finish(true)
			}
			if err := sr.watermark(); err != nil { // idle
				return err
			}
			select {
			case <-sr.q.notify[t.index]:
			case <-sr.q.over:
			case <-j.stop:
			case <-t.mb.wake:
			case <-tick:
			case <-ctx.Done():
				return ctx.Err()
			}
			if err := sr.poll(); err != nil {
				return err
			}
			continue
		}
		for k := 0; k < len(sr.open); {
			eos, stop, err := sr.readOnce(sr.open[k])
			if err != nil {
				return err
			}
			if stop || j.stopped() {
				return sr.stop()
			}
			if eos {
				sr.open = append(sr.open[:k], sr.open[k+1:]...)
			} else {
				k++
			}
			if err := sr.poll(); err != nil {
				return err
			}
		}
	}
}

// openAt opens split s, index v in the valve. stop is true when the open
// failed because of a graceful stop.
func (sr *sourceRun) openAt(s graph.Split, v int) (o *openSplit, stop bool, err error) {
	t, j := sr.t, sr.t.job
	t.cur = 0
	pos := sr.restored[s.ID()]
	r, err := sr.src.Open(j.readCtx, s, pos)
	if err != nil {
		if j.stopped() && j.ctx.Err() == nil {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("open split %s of %q: %w", s.ID(), sr.name, err)
	}
	delete(sr.restored, s.ID())
	o = &openSplit{s: s, r: r, v: v}
	sr.open = append(sr.open, o)
	sr.valve.start(v)
	// A split resumed from a checkpoint continues its watermark.
	if m, ok := r.(interface {
		MaxEventTime() (base.Timestamp, bool)
	}); ok {
		if max, ok := m.MaxEventTime(); ok {
			sr.valve.seed(v, max)
		}
	}
	return o, false, nil
}

// readOnce reads one batch of o, pushes it through the chained operators
// and advances the watermark. eos is true when o has ended (its reader is
// closed); stop when the read failed because of a graceful stop.
func (sr *sourceRun) readOnce(o *openSplit) (eos, stop bool, err error) {
	t, j := sr.t, sr.t.job
	if err := j.ctx.Err(); err != nil {
		return false, false, err
	}
	t.cur = 0
	res, rerr := o.r.Read(j.readCtx, j.opts.BatchSize)
	eos = errors.Is(rerr, graph.ErrEndOfSplit)
	if rerr != nil && !eos {
		if j.stopped() && j.ctx.Err() == nil {
			return false, true, nil
		}
		return false, false, fmt.Errorf("read split %s of %q: %w", o.s.ID(), sr.name, rerr)
	}
	j.opts.Metrics.RowsIn.Add(int64(res.N + len(res.Dead)))
	for _, d := range res.Dead {
		if d.Input == "" {
			d.Input = sr.name
		}
		if err := t.deadLetter(d); err != nil {
			return false, false, err
		}
	}
	sr.valve.observe(o.v, res.N, res.MaxTime)
	if res.N > 0 {
		if sr.stream && t.idle {
			if err := t.setIdle(false); err != nil {
				return false, false, err
			}
		}
		if j.opts.PerfectWatermark {
			// Nothing is late with a perfect watermark: drop the marks.
			if m, ok := res.Batch.(interface{ DropMarks() }); ok {
				m.DropMarks()
			}
		}
		if err := t.srcOut.Emit(res.Batch); err != nil {
			return false, false, err
		}
	}
	if eos {
		sr.ended[o.s.ID()] = true
		cerr := o.r.Close()
		o.r = nil
		if cerr != nil {
			return false, false, fmt.Errorf("close split %s of %q: %w", o.s.ID(), sr.name, cerr)
		}
		sr.valve.finish(o.v)
		if sr.q != nil {
			sr.q.ended(t.index)
			sr.valve.more = !sr.q.isOver()
		}
	}
	return eos, false, sr.watermark()
}

// watermark forwards the task's watermark if it increased and, in stream
// mode, its status: active before the watermark, idle (every split idle)
// after it.
func (sr *sourceRun) watermark() error {
	t := sr.t
	idle := sr.stream && sr.valve.isIdle()
	if sr.stream && !idle && t.idle {
		if err := t.setIdle(false); err != nil {
			return err
		}
	}
	if wm, ok := sr.valve.advance(); ok {
		if err := t.advance(wm); err != nil {
			return err
		}
	}
	if idle && !t.idle {
		return t.setIdle(true)
	}
	return nil
}

// stop closes the readers and ends the task without a final watermark,
// keeping the split states for the checkpoints that follow.
func (sr *sourceRun) stop() error {
	sr.final = sr.splitStates()
	if err := sr.closeAll(); err != nil {
		return err
	}
	return sr.t.finish(false)
}

// closeAll closes every open reader.
func (sr *sourceRun) closeAll() error {
	var errs []error
	for _, o := range sr.open {
		if o.r == nil {
			continue
		}
		if err := o.r.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close split %s of %q: %w", o.s.ID(), sr.name, err))
		}
		o.r = nil
	}
	sr.open = sr.open[:0]
	return errors.Join(errs...)
}
