package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/runner/checkpoint"
	"github.com/weirflow/weir/runner/coord"
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

// checkpointer is the driver of the job's checkpoint coordinator, a
// coord.Machine: one goroutine (run) owns the machine, feeds it what the
// tasks report (acknowledgements, finished inputs, through a queue they
// never wait on), the checkpoint interval and the end of uploads, and
// carries out its decisions: tell tasks to take a checkpoint or commit,
// run uploads in the background, write and abort checkpoints in the
// stores. The machine also decides the job's last checkpoint, once every
// task has finished, which commits the output of a job without a store.
type checkpointer struct {
	j       *job
	tasks   []*rawTask // by global index (coord.Task); nil for a task of another process
	durable bool       // checkpoints go to a store: tasks snapshot their state
	q       eventQueue
	uploads sync.WaitGroup // background uploads; runGraph waits for them

	// Owned by run.
	m       *coord.Machine
	pending map[ackKey]taskAck // acks whose snapshot is not released yet
	todo    []any              // events the actions themselves produced
	started uint64             // the newest checkpoint triggered
	// complete is the newest checkpoint of the checkpoint store known
	// complete: resumed from, or completed by this run (CheckpointReport).
	complete uint64
	err      error // the job's last checkpoint failed
	// wms is, per checkpoint not yet written, the lowest watermark of
	// the tasks that acknowledged it (Options.CommitCheckpoint).
	wms map[uint64]base.Timestamp
	// Cluster runs: the processes that said bye (the master), and the
	// failure of a process or the master's finish (stops run).
	byes  map[int]bool
	fatal error
	// stages, on the master, is what each process last reported of each
	// discovering source stage (stageEvent), until the stage is over.
	stages map[int][]*stageEvent
	over   bool // a process other than the master: the master finished

	mu struct { // for stats, read by Run's caller
		sync.Mutex
		completed []CheckpointStats
		failed    int
	}
}

type ackKey struct {
	id   uint64
	task int
}

// ackEvent is an acknowledgement with the task's upload closures, which
// the machine does not see.
type ackEvent struct {
	coord.Ack
	a  taskAck
	wm base.Timestamp // the task's watermark when it took the checkpoint
}

// newCheckpointer returns the checkpointer of a job whose tasks in this
// process are tasks, each with its global index (gid) set: the job's
// tasks in plan order, stage by stage, index by index.
func newCheckpointer(j *job, tasks []*rawTask, next base.CheckpointID) *checkpointer {
	par := j.opts.Parallelism
	cfg := coord.Config{Job: j.name, Parallelism: par, MaxParallelism: j.opts.MaxParallelism,
		Checkpoints: j.store != nil, Savepoints: j.savepoints != nil,
		Next: uint64(next), Restored: j.restore, Base: j.base, UID: newUID}
	for _, st := range j.plan.stages {
		for k := range par {
			kgs, kge := base.KeyGroupRange(k, par, j.opts.MaxParallelism)
			cfg.Tasks = append(cfg.Tasks, coord.Task{Source: st.isSource(), Stage: st.head.Name, Index: k,
				KeyGroupStart: int(kgs), KeyGroupEnd: int(kge)})
		}
	}
	byGID := make([]*rawTask, len(cfg.Tasks))
	for _, t := range tasks {
		byGID[t.gid] = t
	}
	m := coord.New(cfg)
	var complete uint64
	if j.restore != nil && j.store != nil && j.restoreStore == j.store {
		complete = j.restore.ID
	}
	return &checkpointer{j: j, tasks: byGID, complete: complete, durable: m.Durable(), q: newEventQueue(), m: m, pending: map[ackKey]taskAck{},
		wms: map[uint64]base.Timestamp{}, byes: map[int]bool{}}
}

// ack reports a task's acknowledgement of checkpoint id (from the task's
// goroutine).
func (c *checkpointer) ack(id base.CheckpointID, a taskAck) {
	c.q.push(ackEvent{Ack: coord.Ack{Task: a.t.gid, ID: uint64(id), Splits: a.splits, Sinks: a.sinks,
		Upload: a.upload != nil || a.done != nil, Sync: a.sync, Stopped: a.stopped}, a: a, wm: a.t.wm})
}

// finished reports that task t's input has ended (or stopped) and its
// output is flushed: from now on it takes checkpoints when its mailbox
// says so.
func (c *checkpointer) finished(t *rawTask) {
	c.q.push(coord.TaskFinished{Task: t.gid, Stopped: t.stopped})
}

// run drives the machine until the job's last checkpoint has settled
// (its error, if it failed) or ctx is done. In a Cluster run, the master
// then waits for every other process to say bye; the other processes
// relay instead (relay).
func (c *checkpointer) run(ctx context.Context) error {
	if cl := c.j.cl; cl != nil {
		cl.listen(ctx, &c.q)
		if !cl.master() {
			return c.relay(ctx)
		}
	}
	clock := c.j.opts.Clock
	var tick <-chan time.Time
	if c.j.store != nil {
		t := clock.NewTicker(c.j.opts.CheckpointInterval)
		defer t.Stop()
		tick = t.C()
	}
	stop := c.j.opts.Stop
	for !c.m.Done() && c.fatal == nil {
		select {
		case <-tick:
			c.step(ctx, coord.Tick{})
		case <-stop:
			stop = nil
			c.stopRequested(ctx)
		case <-c.j.opts.Savepoint:
			c.step(ctx, coord.SavepointRequested{})
		case <-c.q.wake:
			for _, ev := range c.q.drain() {
				c.step(ctx, ev)
			}
		case <-ctx.Done():
			return nil
		}
	}
	if c.fatal != nil {
		return c.fatal
	}
	if cl := c.j.cl; cl != nil {
		return c.awaitByes(ctx)
	}
	return c.err
}

// step feeds ev to the machine and carries out what it decides, and so on
// for the events that carrying it out produces (a metadata write).
func (c *checkpointer) step(ctx context.Context, ev any) {
	c.todo = append(c.todo, ev)
	for len(c.todo) > 0 {
		ev := c.todo[0]
		c.todo = c.todo[1:]
		if ce, ok := ev.(ctlEvent); ok {
			if ev = c.fromPeer(ctx, ce.m); ev == nil {
				continue
			}
		}
		if se, ok := ev.(stageEvent); ok {
			c.stageReport(ctx, 0, se)
			continue
		}
		if ae, ok := ev.(ackEvent); ok {
			if c.tasks[ae.Task] != nil {
				c.pending[ackKey{ae.ID, ae.Task}] = ae.a
			}
			if wm, seen := c.wms[ae.ID]; !seen || ae.wm < wm {
				c.wms[ae.ID] = ae.wm
			}
			ev = ae.Ack
		}
		c.m.Step(c.j.opts.Clock.Now(), ev.(coord.Event))
		for _, a := range c.m.Ready() {
			c.do(ctx, a)
		}
	}
}

func (c *checkpointer) store(s coord.Store) *checkpoint.Store {
	if s == coord.Savepoints {
		return c.j.savepoints
	}
	return c.j.store
}

// do carries out one action of the machine.
func (c *checkpointer) do(ctx context.Context, a coord.Action) {
	switch a := a.(type) {
	case coord.Trigger:
		if a.ID > c.started {
			c.started = a.ID
			c.j.opts.Metrics.CheckpointsStarted.Add(1)
		}
		remote := map[int][]int{}
		for _, i := range a.Tasks {
			if c.tasks[i] == nil {
				p := c.processOf(i)
				remote[p] = append(remote[p], i)
				continue
			}
			c.tasks[i].mb.post(func(m *mailbox) { m.trigger = base.CheckpointID(a.ID) })
		}
		for p, ts := range remote {
			c.tell(ctx, p, ctlMsg{Kind: "trigger", ID: a.ID, Tasks: ts})
		}
	case coord.Upload:
		if c.tasks[a.Task] == nil {
			c.tell(ctx, c.processOf(a.Task), ctlMsg{Kind: "upload", ID: a.ID, Task: a.Task, Stores: a.Stores})
			return
		}
		k := ackKey{a.ID, a.Task}
		ta := c.pending[k]
		delete(c.pending, k)
		c.upload(a, ta)
	case coord.Write:
		if ctx.Err() != nil {
			// The job failed or was cancelled while the checkpoint was
			// in flight: its tasks are gone, so it must never count.
			// It stays in flight; abortInFlight deletes it once the
			// uploads have returned.
			return
		}
		wm := c.watermark(a.ID)
		var err error
		savepoint := ""
		for i := 0; i < len(a.Stores) && err == nil; i++ {
			if a.Stores[i] == coord.Checkpoints {
				// The data is durable; the metadata is the completion
				// mark, so the checkpoint is reported before it.
				if err = c.commitCheckpoint(ctx, a.ID, wm, savepoint); err != nil {
					break
				}
			}
			md := a.Metadata[i]
			if err = c.store(a.Stores[i]).Complete(&md); err != nil && a.Stores[i] == coord.Savepoints {
				err = fmt.Errorf("savepoint: %w", err)
			} else if a.Stores[i] == coord.Savepoints {
				savepoint = chkPath(c.j.savepoints.Dir(), a.ID)
			}
		}
		c.todo = append(c.todo, coord.Written{ID: a.ID, Err: err})
	case coord.Abort:
		c.watermark(a.ID)
		for _, s := range a.Stores {
			_ = c.store(s).Abort(a.ID)
		}
		if c.j.cl != nil {
			// The others forget what they uploaded for it: the files are
			// gone, so a later upload must not reuse them.
			c.tellAll(ctx, ctlMsg{Kind: "abort", ID: a.ID, Stores: a.Stores})
		}
		c.j.opts.Metrics.CheckpointsFailed.Add(1)
		c.mu.Lock()
		c.mu.failed++
		c.mu.Unlock()
	case coord.Commit:
		if c.j.store != nil {
			c.complete = a.ID // its metadata is written: Commit follows Written
		}
		if a.Savepoint {
			c.j.opts.Logf("runner: savepoint %d written to %s; the job goes on", a.ID, chkPath(c.j.savepoints.Dir(), a.ID))
		}
		c.j.opts.Metrics.Checkpoints.Add(1)
		c.mu.Lock()
		c.mu.completed = append(c.mu.completed, CheckpointStats{ID: base.CheckpointID(a.ID), Sync: a.Stats.Sync,
			Async: a.Stats.Async, Total: a.Stats.Total, Bytes: a.Stats.Bytes})
		c.mu.Unlock()
		c.postCommit(a.ID, a.Final)
		if cl := c.j.cl; cl != nil {
			c.tellAll(ctx, ctlMsg{Kind: "commit", ID: a.ID, Final: a.Final})
		}
	case coord.Note:
		c.j.opts.Logf("runner: %s", a.Text)
	case coord.Finish:
		if a.Err != nil {
			c.err = fmt.Errorf("runner: %w", a.Err)
		}
		if cl := c.j.cl; cl != nil {
			m := ctlMsg{Kind: "finish"}
			if c.err != nil {
				m.Err = c.err.Error()
			}
			c.tellAll(ctx, m)
		}
	}
}

// processOf returns the process of the task of global index i (stage by
// stage, Parallelism each) in a Cluster run.
func (c *checkpointer) processOf(i int) int {
	par := c.j.opts.Parallelism
	return c.j.cl.processOf(i%par, par)
}

// postCommit tells this process's tasks that checkpoint id is complete.
func (c *checkpointer) postCommit(id uint64, final bool) {
	for _, t := range c.tasks {
		if t != nil {
			t.mb.post(func(m *mailbox) { m.commit, m.final = base.CheckpointID(id), final })
		}
	}
}

// watermark returns the watermark of checkpoint id (zero when unknown:
// some task had none yet, or every input had ended) and forgets what was
// kept for it and for older checkpoints.
func (c *checkpointer) watermark(id uint64) time.Time {
	wm, ok := c.wms[id]
	for k := range c.wms {
		if k <= id {
			delete(c.wms, k)
		}
	}
	if !ok || wm == base.MinTimestamp || wm == base.MaxTimestamp {
		return time.Time{}
	}
	return wm.Time().UTC()
}

// commitCheckpoint asks Options.CommitCheckpoint, when set, to accept
// checkpoint id of the checkpoint store (with the savepoint written with
// it, if any): an error fails the checkpoint.
func (c *checkpointer) commitCheckpoint(ctx context.Context, id uint64, wm time.Time, savepoint string) error {
	commit := c.j.opts.CommitCheckpoint
	if commit == nil {
		return nil
	}
	r := CheckpointReport{ID: id, Path: chkPath(c.j.store.Dir(), id), Watermark: wm, Savepoint: savepoint, Complete: c.complete}
	if err := commit(ctx, r); err != nil {
		return fmt.Errorf("commit checkpoint %d: %w", id, err)
	}
	return nil
}

// chkPath is the directory of checkpoint id in the store at dir.
func chkPath(dir string, id uint64) string {
	return filepath.Join(dir, "chk-"+strconv.FormatUint(id, 10))
}

// upload uploads a task's snapshot to the stores a asks for, in the
// background, reporting each upload to the machine; then it releases
// the local snapshot.
func (c *checkpointer) upload(a coord.Upload, ta taskAck) {
	if len(a.Stores) == 0 || ta.upload == nil {
		if ta.done != nil {
			ta.done()
		}
		return
	}
	c.uploads.Add(1)
	go func() {
		defer c.uploads.Done()
		if ta.done != nil {
			defer ta.done()
		}
		clock := c.j.opts.Clock
		for _, s := range a.Stores {
			start := clock.Now()
			h, n, err := ta.upload(c.store(s))
			c.q.push(coord.Uploaded{Task: a.Task, ID: a.ID, Store: s, Handle: h, Bytes: n, Took: clock.Now().Sub(start), Err: err})
		}
	}()
}

// abortInFlight, once run has returned and the uploads with it, deletes
// what a checkpoint left in flight (the job failed) uploaded.
func (c *checkpointer) abortInFlight() {
	id, stores, ok := c.m.InFlight()
	if !ok {
		return
	}
	for _, s := range stores {
		_ = c.store(s).Abort(id)
	}
}

// stats returns the completed checkpoints (the last one is the job's end)
// and the number of failed ones.
func (c *checkpointer) stats() ([]CheckpointStats, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]CheckpointStats(nil), c.mu.completed...), c.mu.failed
}

// eventQueue is an unbounded queue of events from many goroutines to the
// checkpointer's: a task never waits on a checkpoint's I/O. An event is a
// coord.Event, an ackEvent or, in a Cluster run, a ctlEvent.
type eventQueue struct {
	mu   sync.Mutex
	evs  []any
	wake chan struct{}
}

func newEventQueue() eventQueue { return eventQueue{wake: make(chan struct{}, 1)} }

func (q *eventQueue) push(ev any) {
	q.mu.Lock()
	q.evs = append(q.evs, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) drain() []any {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := q.evs
	q.evs = nil
	return evs
}

// removeAll removes a directory tree, ignoring a missing one.
func removeAll(dir string) {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}
