package ops

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

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
	// Sides, when set, makes the buffers of the side outputs, once per
	// operator instance in Open: side i is emitted on port i+1 (the
	// node has 1+len(Sides()) outputs).
	Sides func() []SideBuffer
}

// SideBuffer buffers the rows of one side output of an operator instance
// between flushes ([SideBatch] is the one implementation).
type SideBuffer interface {
	Len() int
	// Flush emits the rows buffered to out, and forgets them.
	Flush(out graph.Output) error
}

// SideBatch is the side output of rows of type T.
type SideBatch[T any] struct{ b *base.Batch[T] }

// NewSideBatch returns an empty side output of rows of type T.
func NewSideBatch[T any]() *SideBatch[T] { return &SideBatch[T]{b: base.NewBatch[T](64)} }

func (s *SideBatch[T]) Len() int { return s.b.Len() }

func (s *SideBatch[T]) Flush(out graph.Output) error {
	if s.b.Len() == 0 {
		return nil
	}
	err := out.Emit(s.b)
	s.b.Reset() // as the main output's: Emit does not keep the batch
	return err
}

// Add appends v to the side output at the current record's time (or at
// the timer's), keeping the record's mark as [ProcessCtx.EmitAt] does.
func (s *SideBatch[T]) Add(c interface {
	Stamp() (base.Timestamp, base.Timestamp, bool)
}, v T) {
	ts, mark, marked := c.Stamp()
	if marked {
		s.b.AppendMarked(v, ts, mark)
	} else {
		s.b.Append(v, ts)
	}
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
	sides  []SideBuffer
	souts  []graph.Output // the side outputs' ports
	maxPar int
	ks     KeyedState
	ctx    ProcessCtx[K, O]
	outBuf *base.Batch[O]
	event  procTimerQueue
	proc   procTimerQueue
	ttl    indexedTimers
	wm     base.Timestamp
	late   *atomic.Int64 // the job's late-record counter; nil without metrics
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
	o.sides, o.souts = nil, nil
	if o.cfg.Sides != nil {
		o.sides = o.cfg.Sides()
		if len(outs) != 1+len(o.sides) {
			return fmt.Errorf("process: %d output ports for %d side outputs", len(outs), len(o.sides))
		}
		o.souts = outs[1:]
	}
	o.late = nil
	if octx.Metrics != nil {
		o.late = &octx.Metrics.Late
	}
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
	o.ctx = ProcessCtx[K, O]{st: &o.ks, out: o.outBuf, event: &o.event, proc: &o.proc, wm: o.wm, late: o.late, sides: o.sides}
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
	return processBatch(o, batch.(*base.Batch[T]), o.cfg.Key, o.cfg.OnElement)
}

// processBatch runs on for each record of in with its key (key) and event
// time set in the context: the loop of both inputs of a (co-)process
// operator, and of a broadcast input (key nil: no key is set).
func processBatch[K comparable, T, O, C, V any](o *processOp[K, T, O, C], in *base.Batch[V], key func(V) K, on func(C, V) error) error {
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
		if key != nil {
			o.setKey(key(v))
		}
		c.ts = in.Times[i]
		c.marked = marks != nil
		if c.marked {
			c.mark = marks[i]
		}
		if err := on(o.uctx, v); err != nil {
			return err
		}
		if o.full() {
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
		if o.full() {
			return o.flush()
		}
		return nil
	})
}

// full reports whether an output buffer holds a batch's worth.
func (o *processOp[K, T, O, C]) full() bool {
	if o.outBuf.Len() >= base.DefaultBatchSize {
		return true
	}
	for _, s := range o.sides {
		if s.Len() >= base.DefaultBatchSize {
			return true
		}
	}
	return false
}

func (o *processOp[K, T, O, C]) flush() error {
	for i, s := range o.sides {
		if err := s.Flush(o.souts[i]); err != nil {
			return err
		}
	}
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
	late   *atomic.Int64
	sides  []SideBuffer
	bcast  *BroadcastStore  // of a broadcast operator; nil otherwise
	inWM   []base.Timestamp // each input's own watermark (two-input operators)
}

// Key returns the current key.
func (c *ProcessCtx[K, O]) Key() K { return c.key }

// Timestamp returns the event time of the current record, the time of the
// firing event-time timer, or the current watermark in a processing-time
// timer.
func (c *ProcessCtx[K, O]) Timestamp() base.Timestamp { return c.ts }

// Watermark returns the operator's current watermark.
func (c *ProcessCtx[K, O]) Watermark() base.Timestamp { return c.wm }

// InputWatermark returns the watermark of input in alone (0 or 1 of a
// two-input operator): never below Watermark, and above it while the
// other input holds the operator's watermark back.
func (c *ProcessCtx[K, O]) InputWatermark(in int) base.Timestamp {
	if in < len(c.inWM) && c.inWM[in] > c.wm {
		return c.inWM[in]
	}
	return c.wm
}

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

// Late reports whether the current record is late: at or before the
// later of the operator's watermark and the record's mark (the watermark
// of its own split just before it, when its batch carries marks), as a
// window judges it. Judged by its mark, a record's lateness depends only
// on the order of records within its split, never on how the inputs
// interleave; a record that is not late is after the operator's
// watermark, so timers at its time are still to fire. In a timer it is
// false.
func (c *ProcessCtx[K, O]) Late() bool {
	if c.timer {
		return false
	}
	wm := c.wm
	if c.marked {
		wm = max(wm, c.mark)
	}
	return c.ts <= wm
}

// Broadcast returns the broadcast state of a broadcast operator (nil for
// other process operators).
func (c *ProcessCtx[K, O]) Broadcast() *BroadcastStore { return c.bcast }

// Side returns the buffer of side output i (ProcessConfig.Sides).
func (c *ProcessCtx[K, O]) Side(i int) SideBuffer { return c.sides[i] }

// Stamp is the time and mark an output of the current call gets: the
// record's time and mark, or in a timer its time and no mark.
func (c *ProcessCtx[K, O]) Stamp() (ts, mark base.Timestamp, marked bool) {
	return c.ts, c.mark, c.marked && !c.timer
}

// CountLate counts a record the function dropped as late in the job's
// late-record metric.
func (c *ProcessCtx[K, O]) CountLate() {
	if c.late != nil {
		c.late.Add(1)
	}
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

// CoProcessConfig configures a two-input keyed process operator
// (sdk.CoProcess): the first input is ProcessConfig's, KeyB and OnElementB
// are the second's. Both inputs must be shuffled by the same key hash.
type CoProcessConfig[K comparable, A, B, O, C any] struct {
	ProcessConfig[K, A, O, C]
	KeyB       func(B) K
	OnElementB func(c C, v B) error
}

// NewCoProcess returns a factory of two-input keyed process operators
// (Flink's KeyedCoProcessOperator): records of input 0 (*base.Batch[A])
// go to OnElement, those of input 1 (*base.Batch[B]) to OnElementB, with
// the same keyed state and timers; everything else is NewProcess's. The
// watermark is the minimum of both inputs' (the runner's input valve).
func NewCoProcess[K comparable, A, B, O, C any](cfg CoProcessConfig[K, A, B, O, C]) func() graph.Operator {
	return func() graph.Operator {
		return &coProcessOp[K, A, B, O, C]{processOp: processOp[K, A, O, C]{cfg: cfg.ProcessConfig}, keyB: cfg.KeyB, onB: cfg.OnElementB}
	}
}

type coProcessOp[K comparable, A, B, O, C any] struct {
	processOp[K, A, O, C]
	keyB func(B) K
	onB  func(C, B) error
}

func (o *coProcessOp[K, A, B, O, C]) Open(octx graph.OpContext, outs []graph.Output) error {
	if o.keyB == nil || o.onB == nil {
		return errors.New("process: incomplete CoProcessConfig")
	}
	if err := o.processOp.Open(octx, outs); err != nil {
		return err
	}
	o.ctx.inWM = []base.Timestamp{base.MinTimestamp, base.MinTimestamp}
	return nil
}

// InputWatermark records the watermark of input in alone
// (graph.InputWatermarker), for ProcessCtx.InputWatermark.
func (o *coProcessOp[K, A, B, O, C]) InputWatermark(in int, wm base.Timestamp) error {
	if in < 0 || in >= len(o.ctx.inWM) {
		return fmt.Errorf("process: watermark of input %d of a two-input operator", in)
	}
	o.ctx.inWM[in] = max(o.ctx.inWM[in], wm)
	return nil
}

func (o *coProcessOp[K, A, B, O, C]) Process(in int, batch any) error {
	switch in {
	case 0:
		return processBatch(&o.processOp, batch.(*base.Batch[A]), o.cfg.Key, o.cfg.OnElement)
	case 1:
		return processBatch(&o.processOp, batch.(*base.Batch[B]), o.keyB, o.onB)
	}
	return fmt.Errorf("process: input %d of a two-input operator", in)
}

var (
	_ graph.Stateful         = (*coProcessOp[int, int, int, int, int])(nil)
	_ graph.InputWatermarker = (*coProcessOp[int, int, int, int, int])(nil)
)
