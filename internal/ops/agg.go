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
func NewWindowAgg[K comparable, T, A, R any](cfg AggConfig[K, T, A, R]) func() graph.Operator {
	return func() graph.Operator {
		return &aggOp[K, T, A, R]{cfg: cfg, wm: base.MinTimestamp}
	}
}

// entry is the state of one key in one window.
type entry[A any] struct {
	acc   A
	fires int
}

// pane is the state of one window of a non-merging window function.
type pane[K comparable, A any] struct {
	accs map[K]*entry[A]
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
	timers  timerHeap[K]

	// Non-merging windows.
	panes    map[base.Window]*pane[K, A]
	lastWin  base.Window
	lastPane *pane[K, A]

	// Session windows.
	sessions map[K][]*session[A]
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
	o.sessions = map[K][]*session[A]{}
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
		if merging {
			o.addSession(in.Values[i], in.Times[i], mark)
		} else {
			o.add(in.Values[i], in.Times[i], mark)
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
	return o.flushLate()
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
func (o *aggOp[K, T, A, R]) add(v T, ts, mark base.Timestamp) {
	o.scratch = o.cfg.Spec.Assign(o.scratch[:0], ts)
	if len(o.scratch) == 0 {
		return // between sliding windows: in no window, not late
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
		if e == nil {
			e = &entry[A]{acc: o.cfg.Comb.Create()}
			p.accs[key] = e
		}
		e.acc = o.cfg.Comb.Add(e.acc, v)
		if w.MaxTimestamp() <= o.wm {
			// Already fired, within the allowed lateness: fire again.
			o.emit(key, w, e, true)
		}
	}
	if late {
		o.late(v, ts)
	}
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
	if w.MaxTimestamp() > o.wm {
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
func (o *aggOp[K, T, A, R]) addSession(v T, ts, mark base.Timestamp) {
	key := o.cfg.Key(v)
	merged := base.Window{Start: ts, End: ts.AddMicros(o.cfg.Spec.Gap)}
	if o.expired(merged, mark) { // never with a MinTimestamp mark
		o.late(v, ts)
		return
	}
	ss := o.sessions[key]
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
		o.sessions[key] = ss
		o.late(v, ts)
		return
	}
	s := &session[A]{w: merged}
	s.acc = o.cfg.Comb.Create()
	for _, a := range absorbed {
		s.acc = o.cfg.Comb.Merge(s.acc, a.acc)
		s.fires = max(s.fires, a.fires)
	}
	s.acc = o.cfg.Comb.Add(s.acc, v)
	o.sessions[key] = append(ss, s)
	if !(len(absorbed) == 1 && absorbed[0].w == merged) {
		// A record inside an existing session leaves its window, and so its
		// timers, unchanged.
		o.setTimers(merged, key)
	}
	if merged.MaxTimestamp() <= o.wm {
		o.emit(key, merged, &s.entry, true)
	}
}

func (o *aggOp[K, T, A, R]) emit(key K, w base.Window, e *entry[A], late bool) {
	o.outBuf.Append(base.Result[K, R]{
		Key:    key,
		Window: w,
		Value:  o.cfg.Comb.Result(e.acc),
		Pane:   base.Pane{Index: e.fires, Late: late},
	}, w.MaxTimestamp())
	e.fires++
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
		if o.cfg.Spec.Merging() {
			o.sessionTimer(t)
		} else {
			o.paneTimer(t)
		}
		if o.outBuf.Len() >= base.DefaultBatchSize {
			if err := o.flush(); err != nil {
				return err
			}
		}
	}
	return o.flush()
}

func (o *aggOp[K, T, A, R]) paneTimer(t timer[K]) {
	p := o.panes[t.w]
	if p == nil {
		return
	}
	if t.at == t.w.MaxTimestamp() && !(o.cfg.Lateness > 0 && t.cleanup) {
		for k, e := range p.accs {
			o.emit(k, t.w, e, false)
		}
	}
	if t.cleanup {
		delete(o.panes, t.w)
		if o.lastPane == p {
			o.lastPane = nil
		}
	}
}

func (o *aggOp[K, T, A, R]) sessionTimer(t timer[K]) {
	ss := o.sessions[t.key]
	for i, s := range ss {
		if s.w != t.w {
			continue
		}
		if t.at == t.w.MaxTimestamp() && !(o.cfg.Lateness > 0 && t.cleanup) {
			o.emit(t.key, s.w, &s.entry, false)
		}
		if t.cleanup {
			ss[i] = ss[len(ss)-1]
			ss = ss[:len(ss)-1]
			if len(ss) == 0 {
				delete(o.sessions, t.key)
			} else {
				o.sessions[t.key] = ss
			}
		}
		return
	}
	// A stale timer of a session that was merged away.
}

func (o *aggOp[K, T, A, R]) Finish() error { return o.flush() }

func (o *aggOp[K, T, A, R]) Close() error {
	o.panes, o.sessions, o.lastPane = nil, nil, nil
	return nil
}

// timerHeap is a binary min-heap of timers by time.
type timerHeap[K comparable] struct{ h []timer[K] }

func (h *timerHeap[K]) len() int       { return len(h.h) }
func (h *timerHeap[K]) min() *timer[K] { return &h.h[0] }

// less orders timers by time; at equal times a firing comes before a
// cleanup, so a window whose lateness saturates still fires.
func (h *timerHeap[K]) less(i, j int) bool {
	a, b := &h.h[i], &h.h[j]
	return a.at < b.at || (a.at == b.at && !a.cleanup && b.cleanup)
}

func (h *timerHeap[K]) push(t timer[K]) {
	h.h = append(h.h, t)
	i := len(h.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.h[p], h.h[i] = h.h[i], h.h[p]
		i = p
	}
}

func (h *timerHeap[K]) pop() timer[K] {
	top := h.h[0]
	n := len(h.h) - 1
	h.h[0] = h.h[n]
	h.h = h.h[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h.less(l, m) {
			m = l
		}
		if r < n && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.h[i], h.h[m] = h.h[m], h.h[i]
		i = m
	}
	return top
}
