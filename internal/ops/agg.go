package ops

import (
	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// Combiner is the incremental aggregation contract (sdk.Combiner).
type Combiner[In, Acc, Out any] interface {
	Create() Acc
	Add(acc Acc, in In) Acc
	Merge(a, b Acc) Acc
	Result(acc Acc) Out
}

// AggConfig configures a windowed aggregation.
type AggConfig[K comparable, T, A, R any] struct {
	Spec     WindowSpec
	Lateness int64 // allowed lateness, µs
	Key      func(T) K
	Comb     Combiner[T, A, R]

	// The fields below matter only when the runner gives the operator a
	// state backend (OpContext.State); see agg_state.go.

	// Hash is the key hash of the shuffle (the partitioner's), from which
	// the key group of a key's state is computed.
	Hash func(K) uint64
	// KeyCodec and AccCodec encode keys and accumulators for the backend.
	KeyCodec Codec[K]
	AccCodec Codec[A]
	// StateMemory bounds, in bytes (estimated), the window state kept in
	// memory; past it, cold entries are written back and dropped. Zero
	// means OpContext.StateMemory (the runner's share of --state-memory
	// for this operator); both zero mean unbounded.
	StateMemory int64
}

// NewWindowAgg returns a factory of windowed aggregation operators. Port 0
// emits *base.Batch[base.Result[K, R]] stamped with each window's last
// microsecond; port 1 emits the records that arrived after their windows'
// end plus the allowed lateness.
//
// Firing follows Flink's event-time trigger: a window fires once when the
// watermark reaches end-1µs; while its state is kept (allowed lateness) each
// late record re-fires it at once with the updated result; its state is
// dropped when the watermark reaches end-1µs+lateness. A record all of whose
// windows are past that point goes to the late output, judged against the
// record's mark (its own split's watermark just before it, see base.Batch)
// when the batch carries marks: so lateness is deterministic, independent
// of batching, parallelism and mode. Results carry no marks.
//
// Given a state backend (OpContext.State), the operator implements
// graph.Stateful: its in-memory maps become a write-back cache of the
// backend, bounded by StateMemory, checkpointed by Snapshot and rebuilt
// on a restore (agg_state.go). Without one, state lives in memory only.
func NewWindowAgg[K comparable, T, A, R any](cfg AggConfig[K, T, A, R]) func() graph.Operator {
	return func() graph.Operator {
		return &aggOp[K, T, A, R]{cfg: cfg, wm: base.MinTimestamp}
	}
}

// entry is the state of one key in one window.
type entry[A any] struct {
	acc   A
	fires int
	dirty bool // changed since last written to the backend
	hot   bool // touched since the last eviction sweep
}

// pane is the state of one window of a non-merging window function.
type pane[K comparable, A any] struct {
	accs map[K]*entry[A]
	// spilled counts the entries of this window in the backend and not
	// in accs (evicted; restored windows start at spilledUnknown): while
	// it is positive a miss must look there.
	spilled int
	// stored: some entries were written to the backend.
	stored bool
	// evicted counts deletions from accs since it was last rebuilt: Go
	// maps keep deleted slots, which slow lookups down under churn.
	evicted int
}

// keySessions is the state of one key of a merging window function.
type keySessions[A any] struct {
	ss                 []*session[A]
	dirty, hot, stored bool
}

// session is one (merged) session window of a key.
type session[A any] struct {
	w base.Window
	entry[A]
}

type timer[K comparable] struct {
	at      base.Timestamp
	w       base.Window
	key     K // sessions only
	cleanup bool
}

type aggOp[K comparable, T, A, R any] struct {
	cfg     AggConfig[K, T, A, R]
	ctx     graph.OpContext
	out     graph.Output
	lateOut graph.Output
	outBuf  *base.Batch[base.Result[K, R]]
	lateBuf *base.Batch[T]
	wm      base.Timestamp
	scratch []base.Window
	timers  minHeap[timer[K]]

	// Non-merging windows.
	panes    map[base.Window]*pane[K, A]
	lastWin  base.Window
	lastPane *pane[K, A]

	// Session windows.
	sessions map[K]*keySessions[A]

	// cached counts the entries in memory (pane entries, or keys of
	// sessions), for the StateMemory budget.
	cached int

	// Keyed state, nil unless the runner enabled it (agg_state.go).
	st       *aggState
	stateErr error // why state stays in memory despite a backend
}

func (o *aggOp[K, T, A, R]) Open(ctx graph.OpContext, outs []graph.Output) error {
	o.ctx = ctx
	o.out = outs[0]
	if len(outs) > 1 {
		o.lateOut = outs[1]
	}
	o.outBuf = base.NewBatch[base.Result[K, R]](base.DefaultBatchSize)
	o.lateBuf = base.NewBatch[T](64)
	o.panes = map[base.Window]*pane[K, A]{}
	o.sessions = map[K]*keySessions[A]{}
	if ctx.State != nil {
		return o.openState(ctx)
	}
	return nil
}

func (o *aggOp[K, T, A, R]) Process(_ int, batch any) error {
	in := batch.(*base.Batch[T])
	merging := o.cfg.Spec.Merging()
	marks := in.Marks
	if len(marks) != len(in.Values) {
		marks = nil // absent: judge against the operator's watermark only
	}
	for i := range in.Values {
		mark := base.MinTimestamp
		if marks != nil {
			mark = marks[i]
		}
		var err error
		if merging {
			err = o.addSession(in.Values[i], in.Times[i], mark)
		} else {
			err = o.add(in.Values[i], in.Times[i], mark)
		}
		if err != nil {
			return err
		}
		if o.outBuf.Len() >= base.DefaultBatchSize {
			if err := o.flush(); err != nil {
				return err
			}
		}
	}
	if err := o.flush(); err != nil {
		return err
	}
	if err := o.flushLate(); err != nil {
		return err
	}
	if o.st != nil {
		return o.maybeEvict()
	}
	return nil
}

// expired reports whether window w's state is gone (or would be) at
// watermark wm: its end-1µs plus the allowed lateness has passed.
func (o *aggOp[K, T, A, R]) expired(w base.Window, wm base.Timestamp) bool {
	return w.MaxTimestamp().AddMicros(o.cfg.Lateness) <= wm
}

// add adds one record of a non-merging window function. Its lateness is
// judged against max(operator watermark, mark): the mark is the watermark
// of the record's own split just before it, never below the operator's, so
// the decision depends only on the split's order of records.
func (o *aggOp[K, T, A, R]) add(v T, ts, mark base.Timestamp) error {
	o.scratch = o.cfg.Spec.Assign(o.scratch[:0], ts)
	if len(o.scratch) == 0 {
		return nil // between sliding windows: in no window, not late
	}
	key := o.cfg.Key(v)
	wm := max(o.wm, mark)
	late := true
	for _, w := range o.scratch {
		if o.expired(w, wm) {
			continue
		}
		late = false
		p := o.pane(w)
		e := p.accs[key]
		created := e == nil
		if created {
			var err error
			if e, err = o.newEntry(p, w, key); err != nil {
				return err
			}
		}
		e.acc = o.cfg.Comb.Add(e.acc, v)
		e.dirty, e.hot = true, true
		if created && o.st != nil {
			o.sampleEntry(key, e)
		}
		if w.MaxTimestamp() <= o.wm {
			// Already fired, within the allowed lateness: fire again.
			o.emit(key, w, e, true)
		}
	}
	if late {
		o.late(v, ts)
	}
	return nil
}

// newEntry adds the entry of key to pane p of window w: loaded from the
// backend if the pane spilled and the backend has it, else new.
func (o *aggOp[K, T, A, R]) newEntry(p *pane[K, A], w base.Window, key K) (*entry[A], error) {
	var e *entry[A]
	if p.spilled > 0 {
		var err error
		if e, err = o.loadEntry(w, key); err != nil {
			return nil, err
		}
		if e != nil {
			p.spilled--
		}
	}
	if e == nil {
		e = &entry[A]{acc: o.cfg.Comb.Create()}
	}
	p.accs[key] = e
	o.cached++
	return e, nil
}

// pane returns the state of window w, creating it and its timers.
func (o *aggOp[K, T, A, R]) pane(w base.Window) *pane[K, A] {
	if o.lastPane != nil && o.lastWin == w {
		return o.lastPane
	}
	p := o.panes[w]
	if p == nil {
		p = &pane[K, A]{accs: map[K]*entry[A]{}}
		o.panes[w] = p
		o.setTimers(w, *new(K))
	}
	o.lastWin, o.lastPane = w, p
	return p
}

// setTimers registers the firing timer of w (unless the watermark already
// passed it) and, with allowed lateness, its cleanup timer.
func (o *aggOp[K, T, A, R]) setTimers(w base.Window, key K) {
	o.setTimersAt(w, key, o.wm)
}

// setTimersAt is setTimers as if the watermark were wm.
func (o *aggOp[K, T, A, R]) setTimersAt(w base.Window, key K, wm base.Timestamp) {
	if w.MaxTimestamp() > wm {
		o.timers.push(timer[K]{at: w.MaxTimestamp(), w: w, key: key, cleanup: o.cfg.Lateness == 0})
	}
	if o.cfg.Lateness > 0 {
		o.timers.push(timer[K]{at: w.MaxTimestamp().AddMicros(o.cfg.Lateness), w: w, key: key, cleanup: true})
	}
}

// addSession adds one record of a session window function. A record is
// late if its own window [ts, ts+gap) has expired at its mark (Beam judges
// a droppable element by its window before merging), or, as before, if it
// merges with no session and that window has expired at the operator's
// watermark.
func (o *aggOp[K, T, A, R]) addSession(v T, ts, mark base.Timestamp) error {
	key := o.cfg.Key(v)
	merged := base.Window{Start: ts, End: ts.AddMicros(o.cfg.Spec.Gap)}
	if o.expired(merged, mark) { // never with a MinTimestamp mark
		o.late(v, ts)
		return nil
	}
	ks := o.sessions[key]
	created := ks == nil
	if created {
		var err error
		if ks, err = o.keySessions(key); err != nil {
			return err
		}
	}
	ss := ks.ss
	var absorbed []*session[A]
	// Sessions of a key never overlap each other, but the new window can
	// bridge several; repeat until the merged window absorbs no more.
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(ss); i++ {
			s := ss[i]
			if s.w.Start < merged.End && merged.Start < s.w.End {
				merged = merged.Cover(s.w)
				absorbed = append(absorbed, s)
				ss[i] = ss[len(ss)-1]
				ss = ss[:len(ss)-1]
				i--
				changed = true
			}
		}
	}
	if len(absorbed) == 0 && o.expired(merged, o.wm) {
		if len(ss) == 0 && !ks.stored {
			delete(o.sessions, key)
			o.cached--
		}
		o.late(v, ts)
		return nil
	}
	s := &session[A]{w: merged}
	s.acc = o.cfg.Comb.Create()
	for _, a := range absorbed {
		s.acc = o.cfg.Comb.Merge(s.acc, a.acc)
		s.fires = max(s.fires, a.fires)
	}
	s.acc = o.cfg.Comb.Add(s.acc, v)
	ks.ss = append(ss, s)
	ks.dirty, ks.hot = true, true
	if created && o.st != nil {
		o.sampleSessions(key, ks)
	}
	if !(len(absorbed) == 1 && absorbed[0].w == merged) {
		// A record inside an existing session leaves its window, and so its
		// timers, unchanged.
		o.setTimers(merged, key)
	}
	if merged.MaxTimestamp() <= o.wm {
		o.emit(key, merged, &s.entry, true)
	}
	return nil
}

// keySessions returns the (possibly empty) sessions of key, loading them
// from the backend if sessions spilled, and caches them.
func (o *aggOp[K, T, A, R]) keySessions(key K) (*keySessions[A], error) {
	var ks *keySessions[A]
	if o.st != nil && o.st.sessSpilled > 0 {
		var err error
		if ks, err = o.loadSessions(key); err != nil {
			return nil, err
		}
	}
	if ks == nil {
		ks = &keySessions[A]{}
	}
	o.sessions[key] = ks
	o.cached++
	return ks, nil
}

func (o *aggOp[K, T, A, R]) emit(key K, w base.Window, e *entry[A], late bool) {
	o.outBuf.Append(base.Result[K, R]{
		Key:    key,
		Window: w,
		Value:  o.cfg.Comb.Result(e.acc),
		Pane:   base.Pane{Index: e.fires, Late: late},
	}, w.MaxTimestamp())
	e.fires++
	e.dirty = true
}

func (o *aggOp[K, T, A, R]) late(v T, ts base.Timestamp) {
	if o.ctx.Metrics != nil {
		o.ctx.Metrics.Late.Add(1)
	}
	if o.lateOut != nil {
		o.lateBuf.Append(v, ts)
	}
}

func (o *aggOp[K, T, A, R]) flush() error {
	if o.outBuf.Len() == 0 {
		return nil
	}
	err := o.out.Emit(o.outBuf)
	o.outBuf.Reset()
	return err
}

func (o *aggOp[K, T, A, R]) flushLate() error {
	if o.lateBuf.Len() == 0 {
		return nil
	}
	err := o.lateOut.Emit(o.lateBuf)
	o.lateBuf.Reset()
	return err
}

func (o *aggOp[K, T, A, R]) Watermark(wm base.Timestamp) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	for o.timers.len() > 0 && o.timers.min().at <= wm {
		t := o.timers.pop()
		var err error
		if o.cfg.Spec.Merging() {
			err = o.sessionTimer(t)
		} else {
			err = o.paneTimer(t)
		}
		if err != nil {
			return err
		}
		if o.outBuf.Len() >= base.DefaultBatchSize {
			if err := o.flush(); err != nil {
				return err
			}
		}
	}
	return o.flush()
}

// paneTimer fires and/or drops a window. Firing emits the entries that
// never fired: in one run that is all of them (nothing fires before the
// window's timer); after a restore that merged key groups of tasks whose
// watermarks differed, it skips those that fired before the checkpoint.
func (o *aggOp[K, T, A, R]) paneTimer(t timer[K]) error {
	p := o.panes[t.w]
	if p == nil {
		return nil
	}
	if t.at == t.w.MaxTimestamp() && !(o.cfg.Lateness > 0 && t.cleanup) {
		for k, e := range p.accs {
			if e.fires == 0 {
				o.emit(k, t.w, e, false)
			}
		}
		if p.spilled > 0 {
			if err := o.fireSpilled(p, t.w, t.cleanup); err != nil {
				return err
			}
		}
	}
	if t.cleanup {
		delete(o.panes, t.w)
		o.cached -= len(p.accs)
		if o.lastPane == p {
			o.lastPane = nil
		}
		if p.spilled > 0 || p.stored {
			return o.deletePane(t.w)
		}
	}
	return nil
}

func (o *aggOp[K, T, A, R]) sessionTimer(t timer[K]) error {
	ks := o.sessions[t.key]
	if ks == nil {
		if o.st == nil || o.st.sessSpilled == 0 {
			return nil
		}
		var err error
		if ks, err = o.keySessions(t.key); err != nil {
			return err
		}
	}
	ss := ks.ss
	for i, s := range ss {
		if s.w != t.w {
			continue
		}
		if t.at == t.w.MaxTimestamp() && !(o.cfg.Lateness > 0 && t.cleanup) {
			o.emit(t.key, s.w, &s.entry, false)
			ks.dirty = true
		}
		if t.cleanup {
			ss[i] = ss[len(ss)-1]
			ss = ss[:len(ss)-1]
			ks.ss, ks.dirty = ss, true
		}
		break
	}
	// No match: a stale timer of a session that was merged away.
	if len(ks.ss) == 0 {
		delete(o.sessions, t.key)
		o.cached--
		if ks.stored {
			return o.deleteSessions(t.key)
		}
	}
	return nil
}

func (o *aggOp[K, T, A, R]) Finish() error { return o.flush() }

func (o *aggOp[K, T, A, R]) Close() error {
	o.panes, o.sessions, o.lastPane, o.st = nil, nil, nil, nil
	return nil
}

// less orders timers by time; at equal times a firing comes before a
// cleanup, so a window whose lateness saturates still fires.
func (t timer[K]) less(o *timer[K]) bool {
	return t.at < o.at || (t.at == o.at && !t.cleanup && o.cleanup)
}
