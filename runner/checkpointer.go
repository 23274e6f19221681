package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/runner/checkpoint"
)

// mailbox is how the checkpointer talks to a task: the latest checkpoint
// the task must take on its own (a source task, or a task whose input has
// ended), and the latest completed checkpoint its sinks may commit. Newer
// values overwrite older ones; the task reads them between steps.
type mailbox struct {
	mu      sync.Mutex
	trigger base.CheckpointID
	commit  base.CheckpointID
	final   bool // commit is the job's last checkpoint
	wake    chan struct{}
}

func newMailbox() *mailbox { return &mailbox{wake: make(chan struct{}, 1)} }

func (m *mailbox) post(f func(*mailbox)) {
	m.mu.Lock()
	f(m)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *mailbox) read() (trigger, commit base.CheckpointID, final bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.trigger, m.commit, m.final
}

// taskAck is what one task reports for one checkpoint.
type taskAck struct {
	t *rawTask
	// splits: source tasks, the state of every split they have touched.
	splits map[string]checkpoint.SplitState
	// sinks: committable per sink node of the task.
	sinks map[string][]byte
	// upload, for a task with keyed state, uploads the local snapshot to
	// a store (asynchronous part) and returns its handle and the bytes
	// written; done removes the local snapshot after every upload.
	upload func(*checkpoint.Store) (*checkpoint.StateHandle, int64, error)
	done   func()
	sync   time.Duration // synchronous part
	// stopped: the task ended on a graceful stop (its state matters).
	stopped bool
}

// pendingCheckpoint is the checkpoint in flight.
type pendingCheckpoint struct {
	id      base.CheckpointID
	final   bool
	started time.Time
	acked   map[*rawTask]bool
	meta    *checkpoint.Metadata // sources and sinks; State per store below
	state   map[*checkpoint.Store]map[string][]checkpoint.TaskState
	stores  []*checkpoint.Store // where this checkpoint goes
	uploads int                 // uploads still running
	err     error
	bytes   int64
	sync    time.Duration
	async   time.Duration
	stopped bool // some task ended on a graceful stop
}

// CheckpointStats describe a completed checkpoint.
type CheckpointStats struct {
	ID base.CheckpointID
	// Sync is the longest synchronous part of a task (operators and
	// Pebble snapshotted while the task does nothing else); Async the
	// longest upload; Total from trigger to completion.
	Sync, Async, Total time.Duration
	// Bytes were written to the checkpoint store (incremental: files
	// unchanged since the last checkpoint are not written again).
	Bytes int64
}

// checkpointer is the job's checkpoint coordinator: it triggers
// checkpoints, collects the tasks' acknowledgements, writes the metadata
// to the store and tells sinks to commit. It also runs the job's last
// checkpoint, once every task has finished (or stopped), which is what
// commits the output of a job without a checkpoint store.
type checkpointer struct {
	j          *job
	store      *checkpoint.Store // nil: no durable checkpoints
	savepoints *checkpoint.Store // nil unless a stop writes a savepoint
	tasks      []*rawTask
	tick       time.Duration
	requests   chan struct{}  // the run loop's wake-up: a task finished
	closing    chan struct{}  // closed when the last checkpoint completes
	uploads    sync.WaitGroup // background uploads; Run waits for them

	mu struct {
		sync.Mutex
		next      base.CheckpointID
		cur       *pendingCheckpoint
		finished  map[*rawTask]bool
		completed []CheckpointStats
		failed    int
		lastDone  bool
		lastErr   error
		// Failures since the last completed checkpoint, and when one
		// was last logged: a failing checkpoint directory is reported
		// once, then at most every failureLogInterval.
		failedInRow int
		lastFailLog time.Time
	}
}

// failureLogInterval is the least time between two notes about
// checkpoints that keep failing.
const failureLogInterval = time.Minute

func newCheckpointer(j *job, tasks []*rawTask, next base.CheckpointID) *checkpointer {
	c := &checkpointer{j: j, store: j.store, savepoints: j.savepoints, tasks: tasks, tick: j.opts.CheckpointInterval,
		requests: make(chan struct{}, 1), closing: make(chan struct{})}
	c.mu.next = next
	c.mu.finished = map[*rawTask]bool{}
	return c
}

// run triggers a checkpoint every interval (when there is a store) and the
// last checkpoint once every task has finished. It returns when the last
// checkpoint has completed, or with ctx.
func (c *checkpointer) run(ctx context.Context) error {
	var tick <-chan time.Time
	if c.store != nil {
		t := time.NewTicker(c.tick)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			c.trigger(false)
		case <-c.requests:
			c.trigger(true)
		case <-c.closing:
			c.mu.Lock()
			err := c.mu.lastErr
			c.mu.Unlock()
			return err
		case <-ctx.Done():
			return nil
		}
	}
}

// trigger starts a checkpoint unless one is in flight. With last, it
// starts the job's last checkpoint if every task has finished.
func (c *checkpointer) trigger(last bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.cur != nil || c.mu.lastDone {
		return
	}
	final := len(c.mu.finished) == len(c.tasks)
	if last && !final {
		return
	}
	id := c.mu.next
	c.mu.next++
	p := &pendingCheckpoint{id: id, final: final, started: time.Now(), acked: map[*rawTask]bool{},
		meta: &checkpoint.Metadata{
			ID: uint64(id), Job: c.j.name, UID: newUID(), Base: c.j.base, Parallelism: c.j.opts.Parallelism,
			MaxParallelism: c.j.opts.MaxParallelism,
			Sources:        map[string]map[string]checkpoint.SplitState{},
			Sinks:          map[string][][]byte{},
		}}
	if r := c.j.restore; r != nil {
		// Splits finished before the restore stay finished.
		for node, splits := range r.Sources {
			for sid, ss := range splits {
				if ss.Done {
					if p.meta.Sources[node] == nil {
						p.meta.Sources[node] = map[string]checkpoint.SplitState{}
					}
					p.meta.Sources[node][sid] = ss
				}
			}
		}
	}
	p.state = map[*checkpoint.Store]map[string][]checkpoint.TaskState{}
	if c.store != nil {
		p.stores = append(p.stores, c.store)
	}
	if final && c.savepoints != nil && c.j.stopped() {
		p.stores = append(p.stores, c.savepoints)
	}
	for _, s := range p.stores {
		p.state[s] = map[string][]checkpoint.TaskState{}
	}
	c.mu.cur = p
	for _, t := range c.tasks {
		if t.st.isSource() || c.mu.finished[t] {
			t.mb.post(func(m *mailbox) { m.trigger = id })
		}
	}
}

// finished is called by a task whose input has ended (or stopped) and
// whose output has been flushed: from now on it takes checkpoints when
// its mailbox says so. If a checkpoint is in flight that the task has not
// acknowledged, its barrier can no longer reach it: it is asked directly.
func (c *checkpointer) finished(t *rawTask) {
	c.mu.Lock()
	c.mu.finished[t] = true
	all := len(c.mu.finished) == len(c.tasks)
	if p := c.mu.cur; p != nil && !p.acked[t] {
		id := p.id
		t.mb.post(func(m *mailbox) { m.trigger = id })
	}
	c.mu.Unlock()
	if all {
		c.wakeRun()
	}
}

// ack records a task's acknowledgement of checkpoint id. A task with
// keyed state uploads its snapshot in the background; the checkpoint
// completes when every task has acknowledged and every upload is done.
func (c *checkpointer) ack(id base.CheckpointID, a taskAck) {
	c.mu.Lock()
	p := c.mu.cur
	if p == nil || p.id != id || p.acked[a.t] {
		c.mu.Unlock()
		return
	}
	p.acked[a.t] = true
	if a.sync > p.sync {
		p.sync = a.sync
	}
	p.stopped = p.stopped || a.stopped
	m := p.meta
	st := a.t.st
	if st.isSource() {
		name := st.head.Name
		if m.Sources[name] == nil {
			m.Sources[name] = map[string]checkpoint.SplitState{}
		}
		for id, s := range a.splits {
			m.Sources[name][id] = s
		}
	}
	for node, b := range a.sinks {
		if m.Sinks[node] == nil {
			m.Sinks[node] = make([][]byte, c.j.opts.Parallelism)
		}
		m.Sinks[node][a.t.index] = b
	}
	if a.upload != nil && len(p.stores) > 0 {
		p.uploads++
		kgs, kge := base.KeyGroupRange(a.t.index, c.j.opts.Parallelism, c.j.opts.MaxParallelism)
		stores := p.stores
		c.uploads.Add(1)
		go func() {
			defer c.uploads.Done()
			defer a.done()
			for _, s := range stores {
				start := time.Now()
				h, n, err := a.upload(s)
				c.uploaded(p, s, st.head.Name, a.t.index, int(kgs), int(kge), h, n, err, time.Since(start))
			}
			c.mu.Lock()
			p.uploads--
			c.maybeComplete(p)
			c.mu.Unlock()
		}()
	} else if a.done != nil {
		a.done()
	}
	c.maybeComplete(p)
	c.mu.Unlock()
}

func (c *checkpointer) uploaded(p *pendingCheckpoint, s *checkpoint.Store, stage string, task, kgs, kge int,
	h *checkpoint.StateHandle, n int64, err error, took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p.bytes += n
	if took > p.async {
		p.async = took
	}
	if err != nil {
		p.err = errors.Join(p.err, err)
	} else {
		ts := p.state[s][stage]
		if ts == nil {
			ts = make([]checkpoint.TaskState, c.j.opts.Parallelism)
		}
		ts[task] = checkpoint.TaskState{KeyGroupStart: kgs, KeyGroupEnd: kge, State: h}
		p.state[s][stage] = ts
	}
}

// maybeComplete completes p when every task has acknowledged it and every
// upload is done: the metadata goes to the store, then every task is told
// to commit. Called with mu held.
func (c *checkpointer) maybeComplete(p *pendingCheckpoint) {
	if len(p.acked) < len(c.tasks) || p.uploads > 0 || c.mu.cur != p {
		return
	}
	c.mu.cur = nil
	if c.j.ctx.Err() != nil {
		// The job failed or was cancelled while the checkpoint was in
		// flight: its tasks are gone, so it must never count.
		for _, s := range p.stores {
			_ = s.Abort(uint64(p.id))
		}
		return
	}
	p.meta.Time = time.Now().UTC()
	p.meta.Finished = p.final && !p.stopped
	err := p.err
	// The savepoint first: if it fails, the checkpoint store does not get
	// a last checkpoint whose output commits without a savepoint.
	for i := len(p.stores) - 1; i >= 0 && err == nil; i-- {
		s := p.stores[i]
		m := *p.meta
		m.State = p.state[s]
		m.Savepoint = s == c.savepoints
		if err = s.Complete(&m); err != nil && m.Savepoint {
			err = fmt.Errorf("savepoint: %w", err)
		}
	}
	if err != nil {
		c.mu.failed++
		c.j.opts.Metrics.CheckpointsFailed.Add(1)
		for _, s := range p.stores {
			_ = s.Abort(uint64(p.id))
		}
		if p.final {
			// Nothing may commit: a restart resumes from the last
			// completed checkpoint and writes this output again.
			c.mu.lastDone = true
			c.mu.lastErr = fmt.Errorf("weir: last checkpoint %d failed, output since checkpoint %d not committed: %w",
				p.id, c.lastCompletedLocked(), err)
			close(c.closing)
			return
		}
		c.noteFailureLocked(p.id, err)
		if len(c.mu.finished) == len(c.tasks) {
			c.wakeRun()
		}
		return
	}
	if n := c.mu.failedInRow; n > 0 {
		c.j.opts.Logf("weir: checkpoint %d completed, after %d failed %s", p.id, n, plural(n, "checkpoint", "checkpoints"))
		c.mu.failedInRow = 0
	}
	cs := CheckpointStats{ID: p.id, Sync: p.sync, Async: p.async, Total: time.Since(p.started), Bytes: p.bytes}
	c.mu.completed = append(c.mu.completed, cs)
	c.j.opts.Metrics.Checkpoints.Add(1)
	id, final := p.id, p.final
	for _, t := range c.tasks {
		t.mb.post(func(m *mailbox) { m.commit, m.final = id, final })
	}
	if final {
		c.mu.lastDone = true
		close(c.closing)
	} else if len(c.mu.finished) == len(c.tasks) {
		c.wakeRun() // every task finished during this checkpoint
	}
}

// noteFailureLocked logs a failed checkpoint on one line: the first of a
// run of failures at once, the next ones at most every
// failureLogInterval, with how many failed since the last completed one.
func (c *checkpointer) noteFailureLocked(id base.CheckpointID, err error) {
	c.mu.failedInRow++
	now := c.j.opts.Clock.Now()
	if c.mu.failedInRow > 1 && now.Sub(c.mu.lastFailLog) < failureLogInterval {
		return
	}
	c.mu.lastFailLog = now
	since := ""
	if n, last := c.mu.failedInRow, c.lastCompletedLocked(); n > 1 && last > 0 {
		since = fmt.Sprintf("%d failed since checkpoint %d; ", n, last)
	} else if n > 1 {
		since = fmt.Sprintf("%d failed since the start; ", n)
	}
	c.j.opts.Logf("weir: checkpoint %d failed (%sthe job goes on): %s", id, since,
		strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
}

func (c *checkpointer) wakeRun() {
	select {
	case c.requests <- struct{}{}:
	default:
	}
}

func (c *checkpointer) lastCompletedLocked() base.CheckpointID {
	if n := len(c.mu.completed); n > 0 {
		return c.mu.completed[n-1].ID
	}
	return c.j.restored
}

// durable reports whether checkpoints are written anywhere (so tasks
// snapshot their keyed state).
func (c *checkpointer) durable() bool { return c.store != nil || c.savepoints != nil }

// stats returns the completed checkpoints (the last one is the job's end)
// and the number of failed ones.
func (c *checkpointer) stats() ([]CheckpointStats, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]CheckpointStats(nil), c.mu.completed...), c.mu.failed
}

// removeAll removes a directory tree, ignoring a missing one.
func removeAll(dir string) {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}
