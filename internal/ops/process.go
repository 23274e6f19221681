package ops

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// TimeDomain says which clock a timer follows.
type TimeDomain uint8

const (
	// EventTime timers fire when the operator's watermark reaches them.
	EventTime TimeDomain = iota
	// ProcessingTime timers fire when the operator's clock reaches them.
	ProcessingTime
)

// String returns "event-time" or "processing-time".
func (d TimeDomain) String() string {
	if d == ProcessingTime {
		return "processing-time"
	}
	return "event-time"
}

// ProcessTimer is a timer that fires: its time and domain.
type ProcessTimer struct {
	Time   base.Timestamp
	Domain TimeDomain
}

// ProcessConfig configures a keyed process operator (sdk.Process).
type ProcessConfig[K comparable, T, O, C any] struct {
	// Key extracts the key of a record; Hash hashes it exactly as the
	// shuffle's partitioner does, so that the operator computes the key
	// group the record was routed by.
	Key  func(T) K
	Hash func(K) uint64
	// AppendKey encodes a key for state and timers; DecodeKey decodes it
	// when a timer fires.
	AppendKey func(dst []byte, k *K) []byte
	DecodeKey func(src []byte) (K, error)
	// NewContext makes, once per operator instance, the context the user
	// functions get (the sdk wraps ProcessCtx in its own type); c is valid
	// for the life of the instance.
	NewContext func(c *ProcessCtx[K, O]) C
	// OnElement is called for every record; OnTimer (optional) for every
	// timer that fires. Both run with the key set in the context.
	OnElement func(c C, v T) error
	OnTimer   func(c C, t ProcessTimer) error
	// Now is the processing-time clock; nil means the wall clock.
	Now func() base.Timestamp
}

// Names of the operator's internal state in its backend view. User states
// are under "state/".
const (
	eventTimersName = "timers/event"
	procTimersName  = "timers/processing"
	ttlTimersName   = "timers/ttl"
	userStatePrefix = "state/"
)

// NewProcess returns a factory of keyed process operators (Flink's
// KeyedProcessOperator): cfg.OnElement runs for each record with the
// record's key and event time in the context, cfg.OnTimer for each timer.
// Port 0 emits *base.Batch[O].
//
// All state lives in OpContext.State (required): user states, event-time,
// processing-time and TTL-cleanup timers. Nothing needed after a restore is
// kept in memory, so Snapshot has nothing to write and a restored backend
// is all a restarted operator needs.
//
// Event-time timers fire in Watermark(wm) for times <= wm, in order of
// (time, key group, key); timers set during firing at times <= wm fire in
// the same call. Processing-time timers and TTL cleanup run at the start of
// Process, Watermark and OnProcessingTime calls, when Now has reached the
// earliest of them: the runner must call OnProcessingTime (or Watermark
// with an unchanged watermark) periodically for them to fire on an idle
// input. The times of pending timers of every kind are indexed in memory,
// by the millisecond (loaded from the backend in Open, which costs a pass
// over the stored timers), so a call or a watermark with nothing due costs
// no backend access: a timer scan visits every key group of the task.
// Finish fires every processing-time timer still set (processing time
// jumps to +inf at the end of bounded input, as in Flink's and Beam's batch
// execution), then every event-time timer these set.
func NewProcess[K comparable, T, O, C any](cfg ProcessConfig[K, T, O, C]) func() graph.Operator {
	return func() graph.Operator { return &processOp[K, T, O, C]{cfg: cfg} }
}

type processOp[K comparable, T, O, C any] struct {
	cfg    ProcessConfig[K, T, O, C]
	uctx   C
	out    graph.Output
	maxPar int
	ks     KeyedState
	ctx    ProcessCtx[K, O]
	outBuf *base.Batch[O]
	event  procTimerQueue
	proc   procTimerQueue
	ttl    indexedTimers
	wm     base.Timestamp
	// lastKey is the key whose encoding is in ks.key, when haveLast.
	lastKey  K
	haveLast bool
}

func (o *processOp[K, T, O, C]) Open(octx graph.OpContext, outs []graph.Output) error {
	if octx.State == nil {
		return errors.New("process: no keyed state backend (OpContext.State is nil); the runner must open one for stateful operators")
	}
	if o.cfg.OnElement == nil || o.cfg.Key == nil || o.cfg.Hash == nil || o.cfg.AppendKey == nil || o.cfg.DecodeKey == nil || o.cfg.NewContext == nil {
		return errors.New("process: incomplete ProcessConfig")
	}
	o.out = outs[0]
	o.maxPar = octx.MaxParallelism
	if o.maxPar <= 0 {
		o.maxPar = base.DefaultMaxParallelism
	}
	ev, err := octx.State.Timers(eventTimersName)
	if err != nil {
		return fmt.Errorf("process: open event-time timers: %w", err)
	}
	pt, err := octx.State.Timers(procTimersName)
	if err != nil {
		return fmt.Errorf("process: open processing-time timers: %w", err)
	}
	tt, err := octx.State.Timers(ttlTimersName)
	if err != nil {
		return fmt.Errorf("process: open TTL timers: %w", err)
	}
	o.event = procTimerQueue{ts: ev, idx: newTimeIndex()}
	o.proc = procTimerQueue{ts: pt, idx: newTimeIndex()}
	o.ttl = indexedTimers{tt, newTimeIndex()}
	for _, it := range []indexedTimers{{ev, o.event.idx}, {pt, o.proc.idx}, o.ttl} {
		if err := it.load(); err != nil {
			return err
		}
	}
	if o.cfg.Now == nil {
		o.cfg.Now = octx.Now
	}
	o.ks = KeyedState{b: octx.State, handles: map[string]*procStateHandle{}, ttl: o.ttl}
	o.outBuf = base.NewBatch[O](base.DefaultBatchSize)
	o.wm = base.MinTimestamp
	o.ctx = ProcessCtx[K, O]{st: &o.ks, out: o.outBuf, event: &o.event, proc: &o.proc, wm: o.wm}
	o.uctx = o.cfg.NewContext(&o.ctx)
	return nil
}

func (o *processOp[K, T, O, C]) now() base.Timestamp {
	if o.cfg.Now != nil {
		return o.cfg.Now()
	}
	return base.FromTime(time.Now())
}

// checkClock reads the clock and fires the processing-time timers and TTL
// cleanups that are due.
func (o *processOp[K, T, O, C]) checkClock() error {
	now := o.now()
	o.ks.now = int64(now)
	if o.proc.idx.due(int64(now)) {
		o.proc.idx.popUpTo(int64(now))
		if _, err := o.fire(&o.proc, ProcessingTime, int64(now)); err != nil {
			return err
		}
	}
	if o.ttl.idx.due(int64(now)) {
		o.ttl.idx.popUpTo(int64(now))
		_, err := o.ttl.ts.PopUpTo(int64(now), func(kg uint16, _ int64, tkey []byte) error {
			return o.ks.cleanup(kg, tkey)
		})
		o.haveLast = false // cleanup moved ks.key
		if err != nil {
			return fmt.Errorf("process: TTL cleanup: %w", err)
		}
	}
	return nil
}

// OnProcessingTime fires the processing-time timers and TTL cleanups that
// are due by the clock; the runner calls it periodically so that they fire
// while no input arrives.
func (o *processOp[K, T, O, C]) OnProcessingTime() error {
	if err := o.checkClock(); err != nil {
		return err
	}
	return o.flush()
}

// setKey makes k the current key: its key group and encoding.
func (o *processOp[K, T, O, C]) setKey(k K) {
	if o.haveLast && k == o.lastKey {
		return
	}
	// The key lives on the operator, so encoding it through a pointer
	// allocates nothing.
	o.lastKey, o.haveLast = k, true
	o.ks.keyBuf = o.cfg.AppendKey(o.ks.keyBuf[:0], &o.lastKey)
	o.ks.key = o.ks.keyBuf
	o.ks.kg = uint16(base.KeyGroupOf(o.cfg.Hash(k), o.maxPar))
	o.ctx.key = k
}

func (o *processOp[K, T, O, C]) Process(_ int, batch any) error {
	in := batch.(*base.Batch[T])
	if err := o.checkClock(); err != nil {
		return err
	}
	marks := in.Marks
	if len(marks) != len(in.Values) {
		marks = nil
	}
	c := &o.ctx
	c.timer = false
	for i := range in.Values {
		v := in.Values[i]
		o.setKey(o.cfg.Key(v))
		c.ts = in.Times[i]
		c.marked = marks != nil
		if c.marked {
			c.mark = marks[i]
		}
		if err := o.cfg.OnElement(o.uctx, v); err != nil {
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

func (o *processOp[K, T, O, C]) Watermark(wm base.Timestamp) error {
	advanced := wm > o.wm
	if advanced {
		o.wm, o.ctx.wm = wm, wm
	}
	if err := o.checkClock(); err != nil {
		return err
	}
	if advanced && o.event.idx.due(int64(wm)) {
		o.event.idx.popUpTo(int64(wm))
		if _, err := o.fire(&o.event, EventTime, int64(wm)); err != nil {
			return err
		}
	}
	return o.flush()
}

// fire fires the timers of q up to upTo with their keys set and returns
// how many fired.
func (o *processOp[K, T, O, C]) fire(q *procTimerQueue, d TimeDomain, upTo int64) (int, error) {
	c := &o.ctx
	return q.fire(upTo, func(kg uint16, ts int64, key []byte) error {
		if o.cfg.OnTimer == nil {
			return nil
		}
		k, err := o.cfg.DecodeKey(key)
		if err != nil {
			return fmt.Errorf("process: decode key of %s timer: %w", d, err)
		}
		o.haveLast = false
		o.ks.kg, o.ks.key = kg, key
		c.key, c.timer, c.marked = k, true, false
		c.ts = base.Timestamp(ts)
		if d == ProcessingTime {
			c.ts = o.wm
		}
		if err := o.cfg.OnTimer(o.uctx, ProcessTimer{Time: base.Timestamp(ts), Domain: d}); err != nil {
			return err
		}
		c.timer = false
		if o.outBuf.Len() >= base.DefaultBatchSize {
			return o.flush()
		}
		return nil
	})
}

func (o *processOp[K, T, O, C]) flush() error {
	if o.outBuf.Len() == 0 {
		return nil
	}
	err := o.out.Emit(o.outBuf)
	o.outBuf.Reset()
	return err
}

// Finish fires what is left: processing-time timers (the clock jumps to
// +inf at the end of bounded input) and the event-time timers they set,
// until none is due.
func (o *processOp[K, T, O, C]) Finish() error {
	o.ks.now = int64(o.now()) // TTL is still judged by the clock
	o.wm, o.ctx.wm = base.MaxTimestamp, base.MaxTimestamp
	for {
		np, err := o.fire(&o.proc, ProcessingTime, int64(base.MaxTimestamp))
		if err != nil {
			return err
		}
		ne, err := o.fire(&o.event, EventTime, int64(base.MaxTimestamp))
		if err != nil {
			return err
		}
		if np == 0 && ne == 0 {
			return o.flush()
		}
	}
}

// Snapshot has nothing to write: every piece of state is in the backend.
func (o *processOp[K, T, O, C]) Snapshot(base.CheckpointID) error { return o.flush() }

func (o *processOp[K, T, O, C]) Close() error {
	o.ks.handles = nil
	return nil
}

var _ graph.Stateful = (*processOp[int, int, int, int])(nil)

// ProcessCtx is what the user's functions see of a keyed process operator:
// the current key and time, output and timers, and the keyed state
// (sdk.ProcessContext wraps it). It is valid only during the call.
type ProcessCtx[K comparable, O any] struct {
	st     *KeyedState
	key    K
	ts     base.Timestamp
	mark   base.Timestamp
	marked bool // the current record's batch carries marks
	timer  bool // in OnTimer
	wm     base.Timestamp
	out    *base.Batch[O]
	event  *procTimerQueue
	proc   *procTimerQueue
}

// Key returns the current key.
func (c *ProcessCtx[K, O]) Key() K { return c.key }

// Timestamp returns the event time of the current record, the time of the
// firing event-time timer, or the current watermark in a processing-time
// timer.
func (c *ProcessCtx[K, O]) Timestamp() base.Timestamp { return c.ts }

// Watermark returns the operator's current watermark.
func (c *ProcessCtx[K, O]) Watermark() base.Timestamp { return c.wm }

// ProcessingTime returns the processing time the current call is judged at
// (read once per batch or timer round).
func (c *ProcessCtx[K, O]) ProcessingTime() base.Timestamp { return base.Timestamp(c.st.now) }

// Emit outputs o at the current Timestamp.
func (c *ProcessCtx[K, O]) Emit(o O) { c.EmitAt(c.ts, o) }

// EmitAt outputs o with event time ts. Outputs of a record keep its mark.
func (c *ProcessCtx[K, O]) EmitAt(ts base.Timestamp, o O) {
	if c.marked && !c.timer {
		c.out.AppendMarked(o, ts, c.mark)
		return
	}
	c.out.Append(o, ts)
}

// State returns the keyed state, scoped to the current key.
func (c *ProcessCtx[K, O]) State() *KeyedState { return c.st }

func (c *ProcessCtx[K, O]) queue(d TimeDomain) *procTimerQueue {
	if d == ProcessingTime {
		return c.proc
	}
	return c.event
}

// RegisterTimer sets a timer of the current key at ts in domain d.
// Setting the same timer twice keeps one.
func (c *ProcessCtx[K, O]) RegisterTimer(d TimeDomain, ts base.Timestamp) error {
	if err := c.queue(d).register(c.st.kg, int64(ts), c.st.key); err != nil {
		return fmt.Errorf("process: register %s timer at %s: %w", d, ts, err)
	}
	return nil
}

// DeleteTimer cancels the timer of the current key at ts in domain d, if
// set.
func (c *ProcessCtx[K, O]) DeleteTimer(d TimeDomain, ts base.Timestamp) error {
	if err := c.queue(d).delete(c.st.kg, int64(ts), c.st.key); err != nil {
		return fmt.Errorf("process: delete %s timer at %s: %w", d, ts, err)
	}
	return nil
}

// procTimerQueue is one domain's timers: stored in the backend, and while
// firing, the due ones in memory so that timers deleted or set during the
// round behave as if the round read the store one timer at a time.
type procTimerQueue struct {
	ts     graph.TimerState
	idx    *timeIndex // the times of the stored timers
	firing bool
	upTo   int64
	// pending holds the ids of due timers not yet fired nor deleted.
	pending map[string]struct{}
	heap    []procDueTimer
	id      []byte
}

type procDueTimer struct {
	ts  int64
	kg  uint16
	key []byte
}

func (q *procTimerQueue) idOf(kg uint16, ts int64, key []byte) []byte {
	q.id = binary.BigEndian.AppendUint16(q.id[:0], kg)
	q.id = binary.BigEndian.AppendUint64(q.id, uint64(ts))
	q.id = append(q.id, key...)
	return q.id
}

func (q *procTimerQueue) register(kg uint16, ts int64, key []byte) error {
	if q.firing && ts <= q.upTo {
		id := q.idOf(kg, ts, key)
		if _, ok := q.pending[string(id)]; ok {
			return nil
		}
		q.pending[string(id)] = struct{}{}
		q.push(procDueTimer{ts: ts, kg: kg, key: append([]byte(nil), key...)})
		return nil
	}
	return q.store(kg, ts, key)
}

// store writes a timer to the backend, indexing its time.
func (q *procTimerQueue) store(kg uint16, ts int64, key []byte) error {
	q.idx.add(ts)
	return q.ts.Register(kg, ts, key)
}

func (q *procTimerQueue) delete(kg uint16, ts int64, key []byte) error {
	if q.firing && ts <= q.upTo {
		// Every stored timer at or before upTo was popped into pending.
		delete(q.pending, string(q.idOf(kg, ts, key)))
		return nil
	}
	return q.ts.Delete(kg, ts, key)
}

// fire pops every timer at or before upTo and calls fn for each in order,
// along with those set at or before upTo meanwhile; it returns how many
// fired. On an error the timers not fired are stored again.
func (q *procTimerQueue) fire(upTo int64, fn func(kg uint16, ts int64, key []byte) error) (int, error) {
	if q.pending == nil {
		q.pending = map[string]struct{}{}
	}
	q.heap = q.heap[:0]
	_, err := q.ts.PopUpTo(upTo, func(kg uint16, ts int64, key []byte) error {
		// PopUpTo calls in (time, key group, key) order: the slice is a heap.
		q.heap = append(q.heap, procDueTimer{ts: ts, kg: kg, key: append([]byte(nil), key...)})
		q.pending[string(q.idOf(kg, ts, key))] = struct{}{}
		return nil
	})
	if err != nil {
		clear(q.pending)
		return 0, fmt.Errorf("process: pop timers: %w", err)
	}
	q.firing, q.upTo = true, upTo
	n := 0
	for len(q.heap) > 0 {
		t := q.pop()
		id := q.idOf(t.kg, t.ts, t.key)
		if _, ok := q.pending[string(id)]; !ok {
			continue // deleted, or a duplicate of one fired already
		}
		delete(q.pending, string(id))
		if err := fn(t.kg, t.ts, t.key); err != nil {
			q.firing = false
			q.pending[string(q.idOf(t.kg, t.ts, t.key))] = struct{}{} // the failing timer stays set
			q.heap = append(q.heap, t)
			return n, errors.Join(err, q.storeBack())
		}
		n++
	}
	q.firing = false
	return n, nil
}

// storeBack writes the timers still pending back to the store.
func (q *procTimerQueue) storeBack() error {
	for _, t := range q.heap {
		if _, ok := q.pending[string(q.idOf(t.kg, t.ts, t.key))]; ok {
			if err := q.store(t.kg, t.ts, t.key); err != nil {
				return fmt.Errorf("process: store unfired timers: %w", err)
			}
		}
	}
	clear(q.pending)
	q.heap = q.heap[:0]
	return nil
}

func procTimerLess(a, b *procDueTimer) bool {
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	if a.kg != b.kg {
		return a.kg < b.kg
	}
	return bytes.Compare(a.key, b.key) < 0
}

func (q *procTimerQueue) push(t procDueTimer) {
	q.heap = append(q.heap, t)
	h := q.heap
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !procTimerLess(&h[i], &h[p]) {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (q *procTimerQueue) pop() procDueTimer {
	h := q.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = procDueTimer{}
	h = h[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && procTimerLess(&h[l], &h[m]) {
			m = l
		}
		if r < n && procTimerLess(&h[r], &h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	q.heap = h
	return top
}

// StateKind is the kind of a user state.
type StateKind uint8

// The kinds of user state.
const (
	ValueKind StateKind = 1 + iota
	ListKind
	MapKind
)

func (k StateKind) String() string {
	switch k {
	case ValueKind:
		return "value"
	case ListKind:
		return "list"
	case MapKind:
		return "map"
	}
	return fmt.Sprintf("StateKind(%d)", uint8(k))
}

// StateSpec declares one user state: its name (unique in the operator),
// kind and time-to-live in processing time (0: never expires).
type StateSpec struct {
	Name string
	Kind StateKind
	TTL  time.Duration
}

// Stored form of every user state value, list element and map value:
//
//	0x00 | payload                        no TTL
//	0x01 | expiry (8 bytes BE int64, µs) | payload
//
// The tag makes a change of TTL between runs safe. Each TTL write also
// sets a cleanup timer at its expiry rounded up to TTL/8, whose key names
// the state: kind | uvarint(len(name)) | name | key.
const (
	procTagPlain byte = 0
	procTagTTL   byte = 1
)

// KeyedState is a keyed process operator's user state, scoped to the
// current key. It encodes nothing: values are bytes, the codecs are the
// caller's (sdk). Time-to-live follows Flink's defaults: the expiry is set
// on create and on every write (not on reads), in processing time, and an
// expired entry is never returned; expired entries are deleted when read and
// by a cleanup timer shortly after they expire.
type KeyedState struct {
	b       graph.StateBackend
	kg      uint16
	key     []byte // the current key's encoding
	keyBuf  []byte
	now     int64 // processing time, µs
	handles map[string]*procStateHandle
	ttl     indexedTimers
	buf     []byte
	tbuf    []byte
	skey    []byte
	sval    []byte
}

// Scratch returns two buffers the caller may encode a map key and a value
// into before passing them to a method of s; s never retains them.
func (s *KeyedState) Scratch() (key, val *[]byte) { return &s.skey, &s.sval }

type procStateHandle struct {
	kind StateKind
	v    graph.ValueState
	l    graph.ListState
	m    graph.MapState
}

// Now returns the processing time TTL is judged at.
func (s *KeyedState) Now() base.Timestamp { return base.Timestamp(s.now) }

func (s *KeyedState) handle(name string, kind StateKind) (*procStateHandle, error) {
	if h := s.handles[name]; h != nil {
		if h.kind != kind {
			return nil, fmt.Errorf("process: state %q is used as %s and %s state; give each state its own name", name, h.kind, kind)
		}
		return h, nil
	}
	h := &procStateHandle{kind: kind}
	var err error
	switch kind {
	case ValueKind:
		h.v, err = s.b.Value(userStatePrefix + name)
	case ListKind:
		h.l, err = s.b.List(userStatePrefix + name)
	case MapKind:
		h.m, err = s.b.Map(userStatePrefix + name)
	default:
		err = fmt.Errorf("unknown kind %d", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("process: state %q: %w", name, err)
	}
	s.handles[name] = h
	return h, nil
}

// wrap returns the stored form of payload under spec, and registers its
// cleanup timer.
func (s *KeyedState) wrap(spec *StateSpec, payload []byte) ([]byte, error) {
	if spec.TTL <= 0 {
		s.buf = append(append(s.buf[:0], procTagPlain), payload...)
		return s.buf, nil
	}
	ttl := spec.TTL.Microseconds()
	if ttl < 1 {
		ttl = 1
	}
	expiry := int64(base.Timestamp(s.now).AddMicros(ttl))
	s.buf = append(s.buf[:0], procTagTTL)
	s.buf = binary.BigEndian.AppendUint64(s.buf, uint64(expiry))
	s.buf = append(s.buf, payload...)
	if err := s.setCleanup(spec, expiry, ttl); err != nil {
		return nil, err
	}
	return s.buf, nil
}

func (s *KeyedState) setCleanup(spec *StateSpec, expiry, ttl int64) error {
	// Round up so that the writes of a key within TTL/8 share one timer.
	gran := max(ttl/8, 1)
	at := expiry
	if r := base.FloorDiv(expiry, gran) * gran; r != expiry {
		at = int64(base.Timestamp(r).AddMicros(gran))
	}
	s.tbuf = append(s.tbuf[:0], byte(spec.Kind))
	s.tbuf = binary.AppendUvarint(s.tbuf, uint64(len(spec.Name)))
	s.tbuf = append(s.tbuf, spec.Name...)
	s.tbuf = append(s.tbuf, s.key...)
	if err := s.ttl.register(s.kg, at, s.tbuf); err != nil {
		return fmt.Errorf("process: state %q: set TTL cleanup: %w", spec.Name, err)
	}
	return nil
}

// unwrap splits a stored entry; live is false when it has expired.
func (s *KeyedState) unwrap(name string, raw []byte) (payload []byte, live bool, err error) {
	if len(raw) == 0 {
		return nil, false, fmt.Errorf("process: state %q: corrupt entry: empty", name)
	}
	switch raw[0] {
	case procTagPlain:
		return raw[1:], true, nil
	case procTagTTL:
		if len(raw) < 9 {
			return nil, false, fmt.Errorf("process: state %q: corrupt entry: short expiry", name)
		}
		if int64(binary.BigEndian.Uint64(raw[1:9])) <= s.now {
			return nil, false, nil
		}
		return raw[9:], true, nil
	}
	return nil, false, fmt.Errorf("process: state %q: corrupt entry: tag %d", name, raw[0])
}

// GetValue returns the current key's value of spec. The slice is valid
// until the next write to the state.
func (s *KeyedState) GetValue(spec *StateSpec) ([]byte, bool, error) {
	h, err := s.handle(spec.Name, ValueKind)
	if err != nil {
		return nil, false, err
	}
	raw, ok, err := h.v.Get(s.kg, s.key)
	if err != nil || !ok {
		return nil, false, procStateErr(spec.Name, err)
	}
	p, live, err := s.unwrap(spec.Name, raw)
	if err != nil || live {
		return p, live, err
	}
	return nil, false, procStateErr(spec.Name, h.v.Delete(s.kg, s.key))
}

// PutValue sets the current key's value of spec (resetting its TTL).
func (s *KeyedState) PutValue(spec *StateSpec, payload []byte) error {
	h, err := s.handle(spec.Name, ValueKind)
	if err != nil {
		return err
	}
	raw, err := s.wrap(spec, payload)
	if err != nil {
		return err
	}
	return procStateErr(spec.Name, h.v.Put(s.kg, s.key, raw))
}

// ClearValue deletes the current key's value of spec.
func (s *KeyedState) ClearValue(spec *StateSpec) error {
	h, err := s.handle(spec.Name, ValueKind)
	if err != nil {
		return err
	}
	return procStateErr(spec.Name, h.v.Delete(s.kg, s.key))
}

// AppendList appends payload to the current key's list of spec; with a
// TTL each element expires on its own.
func (s *KeyedState) AppendList(spec *StateSpec, payload []byte) error {
	h, err := s.handle(spec.Name, ListKind)
	if err != nil {
		return err
	}
	raw, err := s.wrap(spec, payload)
	if err != nil {
		return err
	}
	return procStateErr(spec.Name, h.l.Append(s.kg, s.key, raw))
}

// IterateList calls fn with each live element of the current key's list
// of spec in append order; the slice is valid only during the call.
// Expired elements are dropped from the list afterwards.
func (s *KeyedState) IterateList(spec *StateSpec, fn func(payload []byte) error) error {
	h, err := s.handle(spec.Name, ListKind)
	if err != nil {
		return err
	}
	expired := 0
	err = h.l.Iterate(s.kg, s.key, func(raw []byte) error {
		p, live, err := s.unwrap(spec.Name, raw)
		if err != nil {
			return err
		}
		if !live {
			expired++
			return nil
		}
		return fn(p)
	})
	if err != nil {
		return procStateErr(spec.Name, err)
	}
	if expired > 0 {
		return s.compactList(spec.Name, h)
	}
	return nil
}

// compactList rewrites the current key's list without its expired
// elements, keeping the others' expiries.
func (s *KeyedState) compactList(name string, h *procStateHandle) error {
	var live [][]byte
	err := h.l.Iterate(s.kg, s.key, func(raw []byte) error {
		if _, ok, err := s.unwrap(name, raw); err != nil || !ok {
			return err
		}
		live = append(live, append([]byte(nil), raw...))
		return nil
	})
	if err == nil {
		err = h.l.Clear(s.kg, s.key)
	}
	for i := 0; err == nil && i < len(live); i++ {
		err = h.l.Append(s.kg, s.key, live[i])
	}
	return procStateErr(name, err)
}

// ClearList empties the current key's list of spec.
func (s *KeyedState) ClearList(spec *StateSpec) error {
	h, err := s.handle(spec.Name, ListKind)
	if err != nil {
		return err
	}
	return procStateErr(spec.Name, h.l.Clear(s.kg, s.key))
}

// GetMap returns the value of map key mk in the current key's map of spec.
func (s *KeyedState) GetMap(spec *StateSpec, mk []byte) ([]byte, bool, error) {
	h, err := s.handle(spec.Name, MapKind)
	if err != nil {
		return nil, false, err
	}
	raw, ok, err := h.m.Get(s.kg, s.key, mk)
	if err != nil || !ok {
		return nil, false, procStateErr(spec.Name, err)
	}
	p, live, err := s.unwrap(spec.Name, raw)
	if err != nil || live {
		return p, live, err
	}
	return nil, false, procStateErr(spec.Name, h.m.Delete(s.kg, s.key, mk))
}

// PutMap sets map key mk of the current key's map of spec.
func (s *KeyedState) PutMap(spec *StateSpec, mk, payload []byte) error {
	h, err := s.handle(spec.Name, MapKind)
	if err != nil {
		return err
	}
	raw, err := s.wrap(spec, payload)
	if err != nil {
		return err
	}
	return procStateErr(spec.Name, h.m.Put(s.kg, s.key, mk, raw))
}

// DeleteMap removes map key mk of the current key's map of spec.
func (s *KeyedState) DeleteMap(spec *StateSpec, mk []byte) error {
	h, err := s.handle(spec.Name, MapKind)
	if err != nil {
		return err
	}
	return procStateErr(spec.Name, h.m.Delete(s.kg, s.key, mk))
}

// IterateMap calls fn with each live entry of the current key's map of spec
// in map-key byte order; the slices are valid only during the call. Expired
// entries are deleted afterwards.
func (s *KeyedState) IterateMap(spec *StateSpec, fn func(mk, payload []byte) error) error {
	h, err := s.handle(spec.Name, MapKind)
	if err != nil {
		return err
	}
	return s.iterateMap(spec.Name, h, fn)
}

func (s *KeyedState) iterateMap(name string, h *procStateHandle, fn func(mk, payload []byte) error) error {
	var expired [][]byte
	err := h.m.Iterate(s.kg, s.key, func(mk, raw []byte) error {
		p, live, err := s.unwrap(name, raw)
		if err != nil {
			return err
		}
		if !live {
			expired = append(expired, append([]byte(nil), mk...))
			return nil
		}
		if fn == nil {
			return nil
		}
		return fn(mk, p)
	})
	for i := 0; err == nil && i < len(expired); i++ {
		err = h.m.Delete(s.kg, s.key, expired[i])
	}
	return procStateErr(name, err)
}

// ClearMap deletes every entry of the current key's map of spec.
func (s *KeyedState) ClearMap(spec *StateSpec) error {
	h, err := s.handle(spec.Name, MapKind)
	if err != nil {
		return err
	}
	var mks [][]byte
	err = h.m.Iterate(s.kg, s.key, func(mk, _ []byte) error {
		mks = append(mks, append([]byte(nil), mk...))
		return nil
	})
	for i := 0; err == nil && i < len(mks); i++ {
		err = h.m.Delete(s.kg, s.key, mks[i])
	}
	return procStateErr(spec.Name, err)
}

// cleanup handles a TTL cleanup timer: it deletes what has expired in the
// state and key the timer names.
func (s *KeyedState) cleanup(kg uint16, tkey []byte) error {
	if len(tkey) < 2 {
		return errors.New("process: corrupt TTL timer")
	}
	kind := StateKind(tkey[0])
	n, w := binary.Uvarint(tkey[1:])
	if w <= 0 || uint64(len(tkey)-1-w) < n {
		return errors.New("process: corrupt TTL timer")
	}
	name := string(tkey[1+w : 1+w+int(n)])
	s.kg, s.key = kg, tkey[1+w+int(n):]
	h, err := s.handle(name, kind)
	if err != nil {
		return err
	}
	switch kind {
	case ValueKind:
		raw, ok, err := h.v.Get(s.kg, s.key)
		if err != nil || !ok {
			return procStateErr(name, err)
		}
		if _, live, err := s.unwrap(name, raw); err != nil || live {
			return err
		}
		return procStateErr(name, h.v.Delete(s.kg, s.key))
	case ListKind:
		expired := false
		err := h.l.Iterate(s.kg, s.key, func(raw []byte) error {
			_, live, err := s.unwrap(name, raw)
			expired = expired || !live
			return err
		})
		if err != nil || !expired {
			return procStateErr(name, err)
		}
		return s.compactList(name, h)
	default:
		return s.iterateMap(name, h, nil)
	}
}

func procStateErr(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("process: state %q: %w", name, err)
}

// indexedTimers is a timer set whose distinct times are indexed in memory.
type indexedTimers struct {
	ts  graph.TimerState
	idx *timeIndex
}

func (t indexedTimers) register(kg uint16, ts int64, key []byte) error {
	t.idx.add(ts)
	return t.ts.Register(kg, ts, key)
}

// load indexes the timers stored in the backend (after a restore): it pops
// them all and sets them again.
func (t indexedTimers) load() error {
	var all []procDueTimer
	_, err := t.ts.PopUpTo(int64(base.MaxTimestamp), func(kg uint16, ts int64, key []byte) error {
		all = append(all, procDueTimer{ts: ts, kg: kg, key: append([]byte(nil), key...)})
		return nil
	})
	for i := 0; err == nil && i < len(all); i++ {
		err = t.register(all[i].kg, all[i].ts, all[i].key)
	}
	if err != nil {
		return fmt.Errorf("process: load timers: %w", err)
	}
	return nil
}

// timeIndexGranularity is the width of a timeIndex bucket, µs.
const timeIndexGranularity = 1000

// timeIndex is a min-heap of the distinct buckets (milliseconds) holding
// timer times. A bucket stays until a pop covers all of it, even if every
// timer in it was deleted (a check then finds nothing due: harmless).
type timeIndex struct {
	set map[int64]struct{}
	h   []int64
}

func newTimeIndex() *timeIndex { return &timeIndex{set: map[int64]struct{}{}} }

func bucketOf(ts int64) int64 {
	if ts < math.MinInt64+timeIndexGranularity {
		return math.MinInt64
	}
	return base.FloorDiv(ts, timeIndexGranularity) * timeIndexGranularity
}

func (x *timeIndex) add(ts int64) {
	b := bucketOf(ts)
	if _, ok := x.set[b]; ok {
		return
	}
	x.set[b] = struct{}{}
	x.h = append(x.h, b)
	for i := len(x.h) - 1; i > 0; {
		p := (i - 1) / 2
		if x.h[p] <= x.h[i] {
			break
		}
		x.h[p], x.h[i] = x.h[i], x.h[p]
		i = p
	}
}

// due reports whether some timer may be at or before now.
func (x *timeIndex) due(now int64) bool { return len(x.h) > 0 && x.h[0] <= now }

// covered reports whether bucket b ends at or before now.
func covered(b, now int64) bool {
	return now == math.MaxInt64 || b <= math.MaxInt64-timeIndexGranularity && b+timeIndexGranularity-1 <= now
}

// popUpTo drops the buckets that end at or before now.
func (x *timeIndex) popUpTo(now int64) {
	for len(x.h) > 0 && covered(x.h[0], now) {
		delete(x.set, x.h[0])
		n := len(x.h) - 1
		x.h[0] = x.h[n]
		x.h = x.h[:n]
		for i := 0; ; {
			l, r, m := 2*i+1, 2*i+2, i
			if l < n && x.h[l] < x.h[m] {
				m = l
			}
			if r < n && x.h[r] < x.h[m] {
				m = r
			}
			if m == i {
				break
			}
			x.h[i], x.h[m] = x.h[m], x.h[i]
			i = m
		}
	}
}
