package coord

import (
	"fmt"
	"time"

	"github.com/weirflow/weir/runner/checkpoint"
)

// Store names a checkpoint store of the job.
type Store int

const (
	// Checkpoints is the checkpoint store (--checkpoint-dir).
	Checkpoints Store = iota
	// Savepoints is the savepoint store (--savepoint-dir): a graceful
	// stop's last checkpoint also goes there.
	Savepoints
)

func (s Store) String() string {
	if s == Savepoints {
		return "savepoints"
	}
	return "checkpoints"
}

// Task describes one task of the job to the machine.
type Task struct {
	// Source tasks take checkpoints when told to; the others when their
	// inputs' barriers have arrived.
	Source bool
	// Stage names the task's stage (its head node), Index the task within
	// it, and [KeyGroupStart, KeyGroupEnd) its key groups: where its state
	// goes in the metadata.
	Stage                      string
	Index                      int
	KeyGroupStart, KeyGroupEnd int
}

// Config is what the machine knows of the job.
type Config struct {
	Job                         string
	Parallelism, MaxParallelism int
	Tasks                       []Task
	// Checkpoints and Savepoints say which stores the job has.
	Checkpoints, Savepoints bool
	// Next is the id of the first checkpoint (1 on a fresh start).
	Next uint64
	// Restored is the checkpoint the job resumed from, or nil: its
	// finished splits stay finished, and its id counts as the last
	// completed one.
	Restored *checkpoint.Metadata
	// Base is Metadata.Base of the job's checkpoints.
	Base string
	// UID returns a new Metadata.UID (random in a driver, a counter in a
	// test).
	UID func() string
	// FailureNoteInterval is the least time between two notes about
	// checkpoints that keep failing (default a minute).
	FailureNoteInterval time.Duration
}

// Stats describe a completed checkpoint.
type Stats struct {
	ID uint64
	// Sync is the longest synchronous part of a task, Async the longest
	// upload, Total from the start to the completion.
	Sync, Async, Total time.Duration
	// Bytes were written to the stores.
	Bytes int64
}

// Machine is the checkpoint coordinator of one job. See the package doc.
type Machine struct {
	cfg      Config
	next     uint64
	cur      *pending
	finished []bool
	nFinish  int
	stopping bool // a graceful stop was asked for, or a task ended on one
	// savepoint: a savepoint of the running job was asked for and has
	// not started yet (it goes with the next checkpoint).
	savepoint bool
	lastDone  bool // the job's last checkpoint has settled

	completed   []Stats
	failed      int
	failedInRow int
	lastNote    time.Time

	ready []Action
}

// pending is the checkpoint in flight.
type pending struct {
	id      uint64
	final   bool
	started time.Time
	acked   []bool
	nAcked  int
	meta    checkpoint.Metadata // sources and sinks; State per store below
	state   map[Store]map[string][]checkpoint.TaskState
	stores  []Store
	uploads int  // uploads still running (one per task and store)
	writing bool // Write was asked for
	err     error
	bytes   int64
	sync    time.Duration
	async   time.Duration
	stopped bool // some task ended on a graceful stop
	// savepoint: it is a savepoint the running job was asked for (not the
	// last checkpoint of a stop).
	savepoint bool
}

// New returns a machine for cfg.
func New(cfg Config) *Machine {
	if cfg.Next == 0 {
		cfg.Next = 1
	}
	if cfg.FailureNoteInterval == 0 {
		cfg.FailureNoteInterval = time.Minute
	}
	if cfg.UID == nil {
		n := 0
		cfg.UID = func() string { n++; return fmt.Sprintf("uid-%d", n) }
	}
	return &Machine{cfg: cfg, next: cfg.Next, finished: make([]bool, len(cfg.Tasks))}
}

// Event is what happens to the job: see the types below.
type Event interface{ event() }

// Tick asks for a periodic checkpoint (the checkpoint interval passed).
type Tick struct{}

// StopRequested says a graceful stop was asked for: the job's last
// checkpoint also goes to the savepoint store.
type StopRequested struct{}

// SavepointRequested asks for a savepoint of the running job: the next
// checkpoint (at once when none is in flight) also goes to the savepoint
// store, and the job goes on (Flink's savepoint without stop). Without a
// savepoint store it is refused with a [Note].
type SavepointRequested struct{}

// TaskFinished says a task's input has ended (or stopped, Stopped) and its
// output is flushed: from now on it takes checkpoints when told to.
type TaskFinished struct {
	Task    int
	Stopped bool
}

// Ack is a task's acknowledgement of checkpoint ID: its sync part is
// done. Upload says it has a snapshot of keyed state to upload.
type Ack struct {
	Task int
	ID   uint64
	// Splits, for a source task, is where each of its splits stands.
	Splits map[string]checkpoint.SplitState
	// Sinks is the committable of each of its sink nodes.
	Sinks   map[string][]byte
	Upload  bool
	Sync    time.Duration
	Stopped bool // the task ended on a graceful stop
}

// Uploaded reports one upload a [Upload] action asked for.
type Uploaded struct {
	Task   int
	ID     uint64
	Store  Store
	Handle *checkpoint.StateHandle // nil with Err
	Bytes  int64
	Took   time.Duration
	Err    error
}

// Written reports the [Write] of checkpoint ID: nil when its metadata is
// in every store.
type Written struct {
	ID  uint64
	Err error
}

func (Tick) event()               {}
func (StopRequested) event()      {}
func (SavepointRequested) event() {}
func (TaskFinished) event()       {}
func (Ack) event()                {}
func (Uploaded) event()           {}
func (Written) event()            {}

// Action is what the driver must do: see the types below.
type Action interface{ action() }

// Trigger tells Tasks to take checkpoint ID on their own (sources, and
// tasks whose input has ended).
type Trigger struct {
	ID    uint64
	Tasks []int
}

// Upload asks for task Task's snapshot of checkpoint ID to be uploaded to
// each of Stores, each reported by an [Uploaded] event. With no Stores,
// the snapshot is only released.
type Upload struct {
	ID     uint64
	Task   int
	Stores []Store
}

// Write asks for the metadata of checkpoint ID to be written to the
// stores, in the order given (the savepoint first, so that a failed
// savepoint leaves the checkpoint store without a last checkpoint whose
// output commits without it), then reported by a [Written] event.
type Write struct {
	ID       uint64
	Stores   []Store
	Metadata []checkpoint.Metadata // one per store
}

// Abort asks for what checkpoint ID uploaded to Stores to be deleted.
type Abort struct {
	ID     uint64
	Stores []Store
	Err    error // why it failed
}

// Commit tells every task that checkpoint ID is complete: sinks commit
// everything staged up to it. Final: it is the job's last. Savepoint: it
// is also a savepoint asked for with [SavepointRequested].
type Commit struct {
	ID        uint64
	Final     bool
	Savepoint bool
	Stats     Stats
}

// Note is a line for the job's log.
type Note struct{ Text string }

// Finish says the job's last checkpoint has settled: completed (Err nil,
// output committed) or failed (nothing more commits).
type Finish struct{ Err error }

func (Trigger) action() {}
func (Upload) action()  {}
func (Write) action()   {}
func (Abort) action()   {}
func (Commit) action()  {}
func (Note) action()    {}
func (Finish) action()  {}

// Ready returns the actions the events so far call for, in order, and
// forgets them.
func (m *Machine) Ready() []Action {
	r := m.ready
	m.ready = nil
	return r
}

// Step applies ev, which happened at now.
func (m *Machine) Step(now time.Time, ev Event) {
	switch ev := ev.(type) {
	case Tick:
		if m.cfg.Checkpoints {
			m.trigger(now, false)
		}
	case StopRequested:
		m.stopping = true
	case SavepointRequested:
		m.requestSavepoint(now)
	case TaskFinished:
		m.taskFinished(now, ev)
	case Ack:
		m.ack(now, ev)
	case Uploaded:
		m.uploaded(now, ev)
	case Written:
		m.written(now, ev)
	default:
		panic(fmt.Sprintf("coord: unknown event %T", ev))
	}
}

// Completed returns the completed checkpoints (the job's last included),
// oldest first, and the number of failed ones.
func (m *Machine) Completed() ([]Stats, int) {
	return append([]Stats(nil), m.completed...), m.failed
}

// Durable reports whether checkpoints are written to any store, so tasks
// must snapshot their keyed state.
func (m *Machine) Durable() bool { return m.cfg.Checkpoints || m.cfg.Savepoints }

// InFlight returns the checkpoint in flight and the stores it goes to;
// ok is false when there is none. A driver that stops with one in flight
// (the job failed) aborts it there once its uploads have returned.
func (m *Machine) InFlight() (id uint64, stores []Store, ok bool) {
	if m.cur == nil {
		return 0, nil, false
	}
	return m.cur.id, append([]Store(nil), m.cur.stores...), true
}

// Done reports whether the job's last checkpoint has settled.
func (m *Machine) Done() bool { return m.lastDone }

func (m *Machine) allFinished() bool { return m.nFinish == len(m.cfg.Tasks) }

// trigger starts a checkpoint unless one is in flight. With last, it
// starts the job's last checkpoint if every task has finished.
func (m *Machine) trigger(now time.Time, last bool) {
	if m.cur != nil || m.lastDone {
		return
	}
	final := m.allFinished()
	if last && !final {
		return
	}
	id := m.next
	m.next++
	p := &pending{id: id, final: final, started: now, acked: make([]bool, len(m.cfg.Tasks)),
		meta: checkpoint.Metadata{
			ID: id, Job: m.cfg.Job, UID: m.cfg.UID(), Base: m.cfg.Base,
			Parallelism: m.cfg.Parallelism, MaxParallelism: m.cfg.MaxParallelism,
			Sources: map[string]map[string]checkpoint.SplitState{},
			Sinks:   map[string][][]byte{},
		},
		state: map[Store]map[string][]checkpoint.TaskState{}}
	if r := m.cfg.Restored; r != nil {
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
	if m.cfg.Checkpoints {
		p.stores = append(p.stores, Checkpoints)
	}
	switch {
	case final && m.cfg.Savepoints && m.stopping:
		p.stores = append(p.stores, Savepoints)
		m.savepoint = false // the stop's savepoint answers it
	case m.savepoint && !final:
		p.stores = append(p.stores, Savepoints)
		p.savepoint, m.savepoint = true, false
	case m.savepoint:
		m.savepoint = false
		m.note("savepoint asked for, but the job's input has ended: none taken")
	}
	for _, s := range p.stores {
		p.state[s] = map[string][]checkpoint.TaskState{}
	}
	m.cur = p
	var tasks []int
	for i, t := range m.cfg.Tasks {
		if t.Source || m.finished[i] {
			tasks = append(tasks, i)
		}
	}
	if len(tasks) > 0 {
		m.ready = append(m.ready, Trigger{ID: id, Tasks: tasks})
	}
}

// requestSavepoint starts a savepoint at once, or marks the next
// checkpoint as one when a checkpoint is in flight. Once every task has
// finished, the job's last checkpoint is the only one left: a stop
// writes it to the savepoint store, an end of input does not, and the
// request is then refused.
func (m *Machine) requestSavepoint(now time.Time) {
	switch {
	case !m.cfg.Savepoints:
		m.note("savepoint asked for, but the job has no savepoint directory: none taken")
		return
	case m.lastDone || m.allFinished() && !m.stopping:
		m.note("savepoint asked for, but the job's input has ended: none taken")
		return
	case m.allFinished() || m.stopping:
		return // the stop's last checkpoint is a savepoint
	}
	m.savepoint = true
	m.trigger(now, false)
}

func (m *Machine) taskFinished(now time.Time, ev TaskFinished) {
	if m.finished[ev.Task] {
		return
	}
	m.finished[ev.Task] = true
	m.nFinish++
	m.stopping = m.stopping || ev.Stopped
	// A checkpoint in flight that the task has not acknowledged: its
	// barrier can no longer reach it, so it is asked directly.
	if p := m.cur; p != nil && !p.acked[ev.Task] {
		m.ready = append(m.ready, Trigger{ID: p.id, Tasks: []int{ev.Task}})
	}
	if m.allFinished() {
		m.trigger(now, true)
	}
}

func (m *Machine) ack(now time.Time, a Ack) {
	p := m.cur
	if p == nil || p.id != a.ID || p.acked[a.Task] {
		// Late (the checkpoint was aborted) or repeated: a snapshot
		// still has to be released.
		if a.Upload {
			m.ready = append(m.ready, Upload{ID: a.ID, Task: a.Task})
		}
		return
	}
	p.acked[a.Task] = true
	p.nAcked++
	p.sync = max(p.sync, a.Sync)
	p.stopped = p.stopped || a.Stopped
	t := m.cfg.Tasks[a.Task]
	if t.Source {
		if p.meta.Sources[t.Stage] == nil {
			p.meta.Sources[t.Stage] = map[string]checkpoint.SplitState{}
		}
		for id, s := range a.Splits {
			p.meta.Sources[t.Stage][id] = s
		}
	}
	for node, b := range a.Sinks {
		if p.meta.Sinks[node] == nil {
			p.meta.Sinks[node] = make([][]byte, m.cfg.Parallelism)
		}
		p.meta.Sinks[node][t.Index] = b
	}
	if a.Upload {
		p.uploads += len(p.stores)
		m.ready = append(m.ready, Upload{ID: p.id, Task: a.Task, Stores: append([]Store(nil), p.stores...)})
	}
	m.maybeComplete(now)
}

func (m *Machine) uploaded(now time.Time, u Uploaded) {
	p := m.cur
	if p == nil || p.id != u.ID || p.uploads == 0 {
		return
	}
	p.uploads--
	p.bytes += u.Bytes
	p.async = max(p.async, u.Took)
	if u.Err != nil {
		p.err = joinErr(p.err, u.Err)
	} else if st := p.state[u.Store]; st != nil {
		t := m.cfg.Tasks[u.Task]
		ts := st[t.Stage]
		if ts == nil {
			ts = make([]checkpoint.TaskState, m.cfg.Parallelism)
			st[t.Stage] = ts
		}
		ts[t.Index] = checkpoint.TaskState{KeyGroupStart: t.KeyGroupStart, KeyGroupEnd: t.KeyGroupEnd, State: u.Handle}
	}
	m.maybeComplete(now)
}

// maybeComplete asks for the metadata of the checkpoint in flight to be
// written once every task has acknowledged it and every upload is done,
// or fails it if an upload failed.
func (m *Machine) maybeComplete(now time.Time) {
	p := m.cur
	if p == nil || p.nAcked < len(m.cfg.Tasks) || p.uploads > 0 || p.writing {
		return
	}
	if p.err != nil {
		m.fail(now, p.err)
		return
	}
	p.writing = true
	p.meta.Time = now.UTC()
	p.meta.Finished = p.final && !p.stopped
	w := Write{ID: p.id}
	for i := len(p.stores) - 1; i >= 0; i-- { // the savepoint first
		s := p.stores[i]
		md := p.meta
		md.State = p.state[s]
		md.Savepoint = s == Savepoints
		w.Stores = append(w.Stores, s)
		w.Metadata = append(w.Metadata, md)
	}
	if len(w.Stores) == 0 {
		// Nothing durable: complete at once (the job's last checkpoint
		// of a job without stores commits its output).
		m.complete(now)
		return
	}
	m.ready = append(m.ready, w)
}

func (m *Machine) written(now time.Time, w Written) {
	p := m.cur
	if p == nil || p.id != w.ID || !p.writing {
		return
	}
	if w.Err != nil {
		m.fail(now, w.Err)
		return
	}
	m.complete(now)
}

func (m *Machine) complete(now time.Time) {
	p := m.cur
	m.cur = nil
	if n := m.failedInRow; n > 0 {
		m.note(fmt.Sprintf("checkpoint %d completed, after %d failed %s", p.id, n, plural(n, "checkpoint", "checkpoints")))
		m.failedInRow = 0
	}
	st := Stats{ID: p.id, Sync: p.sync, Async: p.async, Total: now.Sub(p.started), Bytes: p.bytes}
	m.completed = append(m.completed, st)
	m.ready = append(m.ready, Commit{ID: p.id, Final: p.final, Savepoint: p.savepoint, Stats: st})
	if p.final {
		m.lastDone = true
		m.ready = append(m.ready, Finish{})
		return
	}
	if m.allFinished() {
		m.trigger(now, true) // every task finished during this checkpoint
	} else if m.savepoint {
		m.trigger(now, false) // asked for while this one was in flight
	}
}

func (m *Machine) fail(now time.Time, err error) {
	p := m.cur
	m.cur = nil
	m.failed++
	m.ready = append(m.ready, Abort{ID: p.id, Stores: append([]Store(nil), p.stores...), Err: err})
	if p.savepoint {
		m.note(fmt.Sprintf("savepoint %d failed: %v", p.id, err))
	}
	if p.final {
		// Nothing may commit: a restart resumes from the last completed
		// checkpoint and writes this output again.
		m.lastDone = true
		since := "nothing committed"
		if last := m.lastCompleted(); last > 0 {
			since = fmt.Sprintf("output since checkpoint %d not committed", last)
		}
		m.ready = append(m.ready, Finish{Err: fmt.Errorf("last checkpoint %d failed, %s: %w", p.id, since, err)})
		return
	}
	m.failedInRow++
	if m.failedInRow == 1 || now.Sub(m.lastNote) >= m.cfg.FailureNoteInterval {
		m.lastNote = now
		since := ""
		if n, last := m.failedInRow, m.lastCompleted(); n > 1 && last > 0 {
			since = fmt.Sprintf("%d failed since checkpoint %d; ", n, last)
		} else if n > 1 {
			since = fmt.Sprintf("%d failed since the start; ", n)
		}
		m.note(fmt.Sprintf("checkpoint %d failed (%sthe job goes on): %v", p.id, since, err))
	}
	if m.allFinished() {
		m.trigger(now, true)
	} else if m.savepoint {
		m.trigger(now, false) // asked for while this one was in flight
	}
}

func (m *Machine) note(s string) { m.ready = append(m.ready, Note{Text: s}) }

func (m *Machine) lastCompleted() uint64 {
	if n := len(m.completed); n > 0 {
		return m.completed[n-1].ID
	}
	if r := m.cfg.Restored; r != nil {
		return r.ID
	}
	return 0
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// joinErr joins two errors on one line.
func joinErr(a, b error) error {
	if a == nil {
		return b
	}
	return fmt.Errorf("%w; %w", a, b)
}
