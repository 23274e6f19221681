package runner

import (
	"context"
	"fmt"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/sdk"
)

// deadLetterNode names the dead-letter output in messages and in
// RecoverContext.Node.
const deadLetterNode = "dead letters"

// deadLetters is one task's writer of dead letters (Options.DeadLetters),
// one of the task's committers: what the task dead-letters before a
// checkpoint's barrier is staged with that checkpoint and committed when
// it completes, like any sink's output, so a restore neither loses nor
// repeats a dead letter. The writer opens at the task's first bad record.
type deadLetters struct {
	sink  sdk.Sink[sdk.DeadLetter]
	sc    sdk.SinkContext
	w     sdk.CommittingSink[sdk.DeadLetter]
	batch *sdk.Batch[sdk.DeadLetter]
}

// newDeadLetters returns the dead-letter writer of task t, or nil if bad
// records are not written anywhere. Its writer index is unique among the
// job's tasks, whatever their stage.
func newDeadLetters(t *rawTask) *deadLetters {
	j := t.job
	if j.opts.OnError != DeadLetter || j.opts.DeadLetters == nil {
		return nil
	}
	p := j.opts.Parallelism
	return &deadLetters{sink: j.opts.DeadLetters, sc: sdk.SinkContext{
		Context: j.ctx, Job: j.name, Node: deadLetterNode,
		Task: t.st.id*p + t.index, Tasks: len(j.plan.stages) * p,
	}}
}

func (d *deadLetters) write(ctx context.Context, l base.DeadLetter) error {
	if d.w == nil {
		w, err := d.sink.Open(d.sc)
		if err != nil {
			return fmt.Errorf("open dead-letter output: %w", err)
		}
		d.w, d.batch = w, base.NewBatch[sdk.DeadLetter](1)
	}
	d.batch.Reset()
	d.batch.Append(l, 0)
	if err := d.w.Write(ctx, d.batch); err != nil {
		return fmt.Errorf("write dead letter: %w", err)
	}
	return nil
}

// PreCommit and Commit make the writer a graph.Committer; before the
// first dead letter there is nothing to stage or commit.
func (d *deadLetters) PreCommit(id base.CheckpointID) error {
	if d.w == nil {
		return nil
	}
	return d.w.PreCommit(id)
}

func (d *deadLetters) Commit(id base.CheckpointID) error {
	if d.w == nil {
		return nil
	}
	return d.w.Commit(id)
}

// close closes the writer; what was not committed is discarded.
func (d *deadLetters) close() error {
	if d == nil || d.w == nil {
		return nil
	}
	w := d.w
	d.w = nil
	if err := w.Close(); err != nil {
		return fmt.Errorf("close dead-letter output: %w", err)
	}
	return nil
}

// deadLetter routes a bad record found by task t according to the job's
// error policy (OpContext.DeadLetter).
func (t *rawTask) deadLetter(d base.DeadLetter) error {
	j := t.job
	m := j.opts.Metrics
	switch j.opts.OnError {
	case Skip:
		m.Skipped.Add(1)
		return nil
	case Fail:
		return &BadRecordError{Source: d.Source, Reason: d.Reason, Record: d.Record, Input: d.Input}
	}
	m.DeadLettered.Add(1)
	if t.dead == nil {
		return nil
	}
	return t.dead.write(j.ctx, d)
}

// deadLetterRecoverable is the dead-letter output's part of
// recoverSinks, if its sink settles what earlier runs staged.
func (j *job) deadLetterRecoverable() (recoverable, bool) {
	if j.opts.OnError != DeadLetter {
		return recoverable{}, false
	}
	rs, ok := j.opts.DeadLetters.(sdk.RecoverableSink)
	if !ok {
		return recoverable{}, false
	}
	rc := sdk.RecoverContext{Job: j.name, Node: deadLetterNode, Tasks: len(j.plan.stages) * j.opts.Parallelism, Existing: j.opts.ExistingOutput}
	if j.restore != nil {
		rc.Checkpoint = base.CheckpointID(j.restore.ID)
	}
	r := recoverable{what: deadLetterNode, recover: func(ctx context.Context) error { return rs.Recover(ctx, rc) }}
	if c, ok := rs.(sdk.RecoverChecker); ok {
		r.check = func(ctx context.Context) error { return c.CheckRecover(ctx, rc) }
	}
	return r, true
}
