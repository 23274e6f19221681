package sdk

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/ops"
)

// KeyedProcessFunc is the lowest-level keyed transform, Flink's
// KeyedProcessFunction: ProcessElement is called for each record of a key,
// OnTimer for each timer of the key that fires. Both see the key, the
// current time, the keyed state ([ValueState], [ListState], [MapState])
// and the timers through the context, and may emit any number of outputs.
//
// One instance serves every task of the transform, concurrently: keep
// per-key data in state, not in the function's fields. Declare the states
// as fields of the function's struct, so that a state type without a codec
// is reported when the pipeline is built rather than when it runs.
type KeyedProcessFunc[K comparable, T, O any] interface {
	ProcessElement(ctx *ProcessContext[K, O], v T) error
	OnTimer(ctx *ProcessContext[K, O], t TimerInfo) error
}

// ProcessFuncs is a [KeyedProcessFunc] made of two functions, for process
// functions written inline. A nil TimerFn ignores timers.
type ProcessFuncs[K comparable, T, O any] struct {
	ElementFn func(ctx *ProcessContext[K, O], v T) error
	TimerFn   func(ctx *ProcessContext[K, O], t TimerInfo) error
}

// ProcessElement calls ElementFn.
func (f ProcessFuncs[K, T, O]) ProcessElement(ctx *ProcessContext[K, O], v T) error {
	return f.ElementFn(ctx, v)
}

// OnTimer calls TimerFn, if set.
func (f ProcessFuncs[K, T, O]) OnTimer(ctx *ProcessContext[K, O], t TimerInfo) error {
	if f.TimerFn == nil {
		return nil
	}
	return f.TimerFn(ctx, t)
}

// TimeDomain says which clock a timer follows: [EventTime] or
// [ProcessingTime].
type TimeDomain = ops.TimeDomain

const (
	// EventTime timers fire when the watermark reaches their time.
	EventTime = ops.EventTime
	// ProcessingTime timers fire when the wall clock reaches their time.
	ProcessingTime = ops.ProcessingTime
)

// TimerInfo is a timer that fires: its Time and its Domain.
type TimerInfo = ops.ProcessTimer

// TimestampOf converts t to a [Timestamp], truncating below a microsecond.
func TimestampOf(t time.Time) Timestamp { return base.FromTime(t) }

// TimestampOfUnixMilli returns the event time ms milliseconds after the
// epoch, saturating at the ends of the Timestamp range: the event time of
// an int64 field tagged weir:"eventtime,unixmilli". (A field tagged
// weir:"eventtime,unixmicro" is a Timestamp already.)
func TimestampOfUnixMilli(ms int64) Timestamp {
	switch {
	case ms > math.MaxInt64/1000:
		return base.MaxTimestamp
	case ms < math.MinInt64/1000:
		return base.MinTimestamp
	}
	return Timestamp(ms * 1000)
}

// ProcessContext is what a [KeyedProcessFunc] sees during one call: the
// current key and time, outputs, timers and (through the state
// descriptors) the key's state. It is valid only during the call.
type ProcessContext[K comparable, O any] struct {
	c     *ops.ProcessCtx[K, O]
	sides map[string]int // side output names → index (Output)
}

// Key returns the key of the current record or timer.
func (c *ProcessContext[K, O]) Key() K { return c.c.Key() }

// Timestamp returns the event time of the current record, or the time of
// the firing event-time timer. In a processing-time timer it is the current
// watermark.
func (c *ProcessContext[K, O]) Timestamp() Timestamp { return c.c.Timestamp() }

// CurrentWatermark returns the transform's input watermark: every record
// with an event time at or before it has been seen (late records aside).
// [MinTimestamp] before the first watermark.
func (c *ProcessContext[K, O]) CurrentWatermark() Timestamp { return c.c.Watermark() }

// CurrentProcessingTime returns the wall-clock time the call is judged at
// (processing-time timers and state TTL).
func (c *ProcessContext[K, O]) CurrentProcessingTime() Timestamp { return c.c.ProcessingTime() }

// Emit outputs o with the current [ProcessContext.Timestamp] as its event
// time.
func (c *ProcessContext[K, O]) Emit(o O) { c.c.Emit(o) }

// EmitAt outputs o with event time ts.
func (c *ProcessContext[K, O]) EmitAt(ts Timestamp, o O) { c.c.EmitAt(ts, o) }

// RegisterEventTimeTimer sets a timer of the current key that fires when
// the watermark reaches ts (at once, in the same round, if set while
// timers fire and ts is already due). Setting the same time twice keeps
// one timer.
func (c *ProcessContext[K, O]) RegisterEventTimeTimer(ts Timestamp) error {
	return c.c.RegisterTimer(ops.EventTime, ts)
}

// DeleteEventTimeTimer cancels the current key's event-time timer at ts,
// if set.
func (c *ProcessContext[K, O]) DeleteEventTimeTimer(ts Timestamp) error {
	return c.c.DeleteTimer(ops.EventTime, ts)
}

// RegisterProcessingTimeTimer sets a timer of the current key that fires
// when the wall clock reaches ts (see [Process] for when the clock is read).
func (c *ProcessContext[K, O]) RegisterProcessingTimeTimer(ts Timestamp) error {
	return c.c.RegisterTimer(ops.ProcessingTime, ts)
}

// DeleteProcessingTimeTimer cancels the current key's processing-time
// timer at ts, if set.
func (c *ProcessContext[K, O]) DeleteProcessingTimeTimer(ts Timestamp) error {
	return c.c.DeleteTimer(ops.ProcessingTime, ts)
}

func (c *ProcessContext[K, O]) keyedState() *ops.KeyedState { return c.c.State() }

// late reports whether the current record is late by its own split's
// watermark (ops.ProcessCtx.Late), as windows judge lateness.
func (c *ProcessContext[K, O]) late() bool { return c.c.Late() }

// StateContext is where keyed state is read and written: a
// *[ProcessContext]. Reads and writes apply to the context's current key.
type StateContext interface {
	keyedState() *ops.KeyedState
}

// Process applies fn to a keyed collection: fn sees each record with its
// key, keeps per-key state and sets timers. It is weir's version of Flink's
// KeyedProcessFunction; fn's outputs form the returned collection.
//
// The key type needs a codec (a basic type, or a //weir:record type after
// "go generate"), since keys are stored with state and timers; so do the
// types of the states declared as fields of fn.
//
// Time: event-time timers fire in order of time as the watermark passes
// them; at the end of bounded input the final watermark fires them all.
// Processing-time timers and state TTL follow the wall clock, read when a
// batch or a watermark arrives and when the runner ticks the operator; at
// the end of bounded input every processing-time timer still set fires, as
// in Flink's and Beam's batch execution. Outputs of a processing-time timer
// carry the current watermark as their event time unless emitted with
// [ProcessContext.EmitAt].
//
// State and timers live in the task's keyed state backend and are part of
// every checkpoint: after a restore, state and timers are as they were at
// the checkpoint.
func Process[K comparable, T, O any](in Keyed[K, T], fn KeyedProcessFunc[K, T, O], opts ...Option) PCollection[O] {
	p := in.in.p
	name := transformName(processName(fn), opts)
	cfg := ops.ProcessConfig[K, T, O, *ProcessContext[K, O]]{
		Key:  in.key,
		Hash: in.hash,
		NewContext: func(c *ops.ProcessCtx[K, O]) *ProcessContext[K, O] {
			return &ProcessContext[K, O]{c: c}
		},
	}
	if fn == nil || isNilFunc(fn) {
		p.addErr(errorf("Process %q: nil process function", name))
	} else {
		cfg.OnElement = fn.ProcessElement
		cfg.OnTimer = fn.OnTimer
		for _, err := range checkStateFields(fn) {
			p.addErr(errorf("Process %q: %v", name, err))
		}
	}
	cfg.AppendKey, cfg.DecodeKey = keyCodec[K](p, "Process", name)
	node := &graph.Node{Name: name, Inputs: []graph.Edge{in.shuffleEdge()}, Stateful: true}
	withSides(p, node, &cfg)
	node.NewOperator = ops.NewProcess(cfg)
	return add[O](p, node)
}

// withSides lets the functions of process node write side outputs: the
// buffers and the name index are made when an instance opens, after the
// pipeline is built, so they have every SideOutput asked for.
func withSides[K comparable, T, O any](p *Pipeline, node *graph.Node, cfg *ops.ProcessConfig[K, T, O, *ProcessContext[K, O]]) {
	s := p.registerSides(node)
	cfg.Sides = s.make
	cfg.NewContext = func(c *ops.ProcessCtx[K, O]) *ProcessContext[K, O] {
		return &ProcessContext[K, O]{c: c, sides: s.index}
	}
}

// keyCodec returns the key encoding of a keyed process transform (what
// was built by "kind" called name), or records why K has none.
func keyCodec[K any](p *Pipeline, kind, name string) (func(dst []byte, k *K) []byte, func(src []byte) (K, error)) {
	kc, err := CodecOf[K]()
	if err != nil || kc.AppendKey == nil || kc.DecodeBinary == nil {
		p.addErr(errorf("%s %q: key type %s has no codec; mark it //weir:record and run \"go generate ./...\"", kind, name, typeName[K]()))
		return nil, nil
	}
	return kc.AppendKey, func(src []byte) (K, error) {
		var k K
		_, err := kc.DecodeBinary(src, &k)
		return k, err
	}
}

// funcsOf is implemented by ProcessFuncs: its element function, for names
// and checks.
type funcsOf interface{ elementFunc() any }

func (f ProcessFuncs[K, T, O]) elementFunc() any {
	if f.ElementFn == nil {
		return nil
	}
	return f.ElementFn
}

// processName names a Process after its function: the element function of
// a ProcessFuncs, or the type of a struct ("fraud.Detector").
func processName(fn any) string {
	if fn == nil {
		return "Process"
	}
	if f, ok := fn.(funcsOf); ok {
		if e := f.elementFunc(); e != nil {
			return funcName(e)
		}
		return "Process"
	}
	t := reflect.TypeOf(fn)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" {
		return "Process"
	}
	return t.String()
}

// isNilFunc reports a nil pointer in fn, or a ProcessFuncs without ElementFn.
func isNilFunc(fn any) bool {
	if f, ok := fn.(funcsOf); ok {
		return f.elementFunc() == nil
	}
	v := reflect.ValueOf(fn)
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Func, reflect.Slice, reflect.Chan:
		return v.IsNil()
	}
	return false
}

// stateDescriptor is implemented by the state descriptors; checkCodecs
// works on a zero value, so that fields can be checked from their types.
type stateDescriptor interface {
	checkCodecs() error
}

// checkStateFields checks the codecs of the states declared as fields of
// fn's struct (or the struct it points to).
func checkStateFields(fn any) []error {
	t := reflect.TypeOf(fn)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var errs []error
	for i := range t.NumField() {
		f := t.Field(i)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		d, ok := reflect.Zero(ft).Interface().(stateDescriptor)
		if !ok {
			continue
		}
		if err := d.checkCodecs(); err != nil {
			errs = append(errs, fmt.Errorf("state field %s: %w", f.Name, err))
		}
	}
	return errs
}

// StateOption configures a state descriptor.
type StateOption interface{ applyState(*stateConfig) }

type stateConfig struct{ ttl time.Duration }

type ttlOption time.Duration

// TTL makes entries of a state expire d after they were last written
// (Flink's defaults: OnCreateAndWrite, NeverReturnExpired, in processing
// time). An expired entry is never returned; it is deleted when read, and
// by a cleanup timer soon after it expires (within d/8) if it is not. The
// expiry is per value, per list element and per map entry.
func TTL(d time.Duration) StateOption { return ttlOption(d) }

func (o ttlOption) applyState(c *stateConfig) { c.ttl = time.Duration(o) }

func newSpec(name string, kind ops.StateKind, opts []StateOption) *ops.StateSpec {
	var c stateConfig
	for _, o := range opts {
		o.applyState(&c)
	}
	return &ops.StateSpec{Name: name, Kind: kind, TTL: c.ttl}
}

// codecRef resolves a type's codec on first use: descriptors are often
// package variables, initialized before the generated init functions
// register the codecs.
type codecRef[T any] struct {
	p atomic.Pointer[RecordCodec[T]]
}

func (r *codecRef[T]) get() (*RecordCodec[T], error) {
	if c := r.p.Load(); c != nil {
		return c, nil
	}
	c, err := CodecOf[T]()
	if err != nil {
		return nil, err
	}
	r.p.Store(c)
	return c, nil
}

var errNoDescriptor = errors.New("sdk: state used without a descriptor; create it with NewValueState, NewListState or NewMapState")

func decode[T any](c *RecordCodec[T], name string, b []byte) (T, error) {
	var v T
	if _, err := c.DecodeBinary(b, &v); err != nil {
		return v, fmt.Errorf("sdk: state %q: decode %s: %w", name, c.Name, err)
	}
	return v, nil
}

// prepareState returns what a state descriptor needs to work in ctx: the
// keyed state and the codec of its values.
func prepareState[V any](spec *ops.StateSpec, codec *codecRef[V], ctx StateContext) (*ops.KeyedState, *RecordCodec[V], error) {
	if spec == nil {
		return nil, nil, errNoDescriptor
	}
	c, err := codec.get()
	if err != nil {
		return nil, nil, fmt.Errorf("sdk: state %q: %w", spec.Name, err)
	}
	return ctx.keyedState(), c, nil
}

// ValueState is a descriptor of one value of type V per key, like Flink's
// ValueStateDescriptor: declare it once, with a name unique within its
// Process, and read or write it in a [ProcessContext]. V needs a codec.
type ValueState[V any] struct {
	spec  *ops.StateSpec
	codec *codecRef[V]
}

// NewValueState declares a value state called name.
func NewValueState[V any](name string, opts ...StateOption) ValueState[V] {
	return ValueState[V]{spec: newSpec(name, ops.ValueKind, opts), codec: new(codecRef[V])}
}

func (s ValueState[V]) checkCodecs() error { _, err := CodecOf[V](); return err }

func (s ValueState[V]) prepare(ctx StateContext) (*ops.KeyedState, *RecordCodec[V], error) {
	return prepareState(s.spec, s.codec, ctx)
}

// Get returns the current key's value; ok is false when it has none.
func (s ValueState[V]) Get(ctx StateContext) (v V, ok bool, err error) {
	st, c, err := s.prepare(ctx)
	if err != nil {
		return v, false, err
	}
	b, ok, err := st.GetValue(s.spec)
	if err != nil || !ok {
		return v, false, err
	}
	v, err = decode(c, s.spec.Name, b)
	return v, err == nil, err
}

// Put sets the current key's value.
func (s ValueState[V]) Put(ctx StateContext, v V) error {
	st, c, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	_, buf := st.Scratch()
	*buf = c.AppendBinary((*buf)[:0], &v)
	return st.PutValue(s.spec, *buf)
}

// Clear deletes the current key's value.
func (s ValueState[V]) Clear(ctx StateContext) error {
	st, _, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	return st.ClearValue(s.spec)
}

// ListState is a descriptor of a list of V per key, like Flink's
// ListStateDescriptor: Add reads nothing, Get decodes the whole list. A
// key's list is one entry of the task's write-back state cache, so a rule
// that reads and rewrites it on every record (Get, then Update) works in
// memory while the key is cached.
type ListState[V any] struct {
	spec  *ops.StateSpec
	codec *codecRef[V]
}

// NewListState declares a list state called name.
func NewListState[V any](name string, opts ...StateOption) ListState[V] {
	return ListState[V]{spec: newSpec(name, ops.ListKind, opts), codec: new(codecRef[V])}
}

func (s ListState[V]) checkCodecs() error { _, err := CodecOf[V](); return err }

func (s ListState[V]) prepare(ctx StateContext) (*ops.KeyedState, *RecordCodec[V], error) {
	return prepareState(s.spec, s.codec, ctx)
}

// Add appends v to the current key's list.
func (s ListState[V]) Add(ctx StateContext, v V) error {
	st, c, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	_, buf := st.Scratch()
	*buf = c.AppendBinary((*buf)[:0], &v)
	return st.AppendList(s.spec, *buf)
}

// Iterate calls fn with each element of the current key's list, in the
// order they were added, until fn returns an error.
func (s ListState[V]) Iterate(ctx StateContext, fn func(v V) error) error {
	st, c, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	return st.IterateList(s.spec, func(b []byte) error {
		v, err := decode(c, s.spec.Name, b)
		if err != nil {
			return err
		}
		return fn(v)
	})
}

// Get returns the current key's list (nil when empty).
func (s ListState[V]) Get(ctx StateContext) ([]V, error) {
	var out []V
	err := s.Iterate(ctx, func(v V) error { out = append(out, v); return nil })
	return out, err
}

// Update replaces the current key's list with vs.
func (s ListState[V]) Update(ctx StateContext, vs []V) error {
	if err := s.Clear(ctx); err != nil {
		return err
	}
	for _, v := range vs {
		if err := s.Add(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

// Clear empties the current key's list.
func (s ListState[V]) Clear(ctx StateContext) error {
	st, _, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	return st.ClearList(s.spec)
}

// MapState is a descriptor of a map from MK to V per key, like Flink's
// MapStateDescriptor. Both types need codecs; iteration is in the byte
// order of the encoded map keys, not in MK's natural order.
type MapState[MK comparable, V any] struct {
	spec  *ops.StateSpec
	keys  *codecRef[MK]
	codec *codecRef[V]
}

// NewMapState declares a map state called name.
func NewMapState[MK comparable, V any](name string, opts ...StateOption) MapState[MK, V] {
	return MapState[MK, V]{spec: newSpec(name, ops.MapKind, opts), keys: new(codecRef[MK]), codec: new(codecRef[V])}
}

func (s MapState[MK, V]) checkCodecs() error {
	_, err1 := CodecOf[MK]()
	_, err2 := CodecOf[V]()
	return errors.Join(err1, err2)
}

func (s MapState[MK, V]) prepare(ctx StateContext) (*ops.KeyedState, *RecordCodec[MK], *RecordCodec[V], error) {
	if s.spec == nil {
		return nil, nil, nil, errNoDescriptor
	}
	kc, err := s.keys.get()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sdk: state %q: %w", s.spec.Name, err)
	}
	c, err := s.codec.get()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sdk: state %q: %w", s.spec.Name, err)
	}
	return ctx.keyedState(), kc, c, nil
}

// Get returns the value of k in the current key's map.
func (s MapState[MK, V]) Get(ctx StateContext, k MK) (v V, ok bool, err error) {
	st, kc, c, err := s.prepare(ctx)
	if err != nil {
		return v, false, err
	}
	kb, _ := st.Scratch()
	*kb = kc.AppendKey((*kb)[:0], &k)
	b, ok, err := st.GetMap(s.spec, *kb)
	if err != nil || !ok {
		return v, false, err
	}
	v, err = decode(c, s.spec.Name, b)
	return v, err == nil, err
}

// Put sets k to v in the current key's map.
func (s MapState[MK, V]) Put(ctx StateContext, k MK, v V) error {
	st, kc, c, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	kb, vb := st.Scratch()
	*kb = kc.AppendKey((*kb)[:0], &k)
	*vb = c.AppendBinary((*vb)[:0], &v)
	return st.PutMap(s.spec, *kb, *vb)
}

// Delete removes k from the current key's map.
func (s MapState[MK, V]) Delete(ctx StateContext, k MK) error {
	st, kc, _, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	kb, _ := st.Scratch()
	*kb = kc.AppendKey((*kb)[:0], &k)
	return st.DeleteMap(s.spec, *kb)
}

// Iterate calls fn with each entry of the current key's map until fn
// returns an error.
func (s MapState[MK, V]) Iterate(ctx StateContext, fn func(k MK, v V) error) error {
	st, kc, c, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	return st.IterateMap(s.spec, func(mk, b []byte) error {
		k, err := decode(kc, s.spec.Name, mk)
		if err != nil {
			return err
		}
		v, err := decode(c, s.spec.Name, b)
		if err != nil {
			return err
		}
		return fn(k, v)
	})
}

// Clear deletes every entry of the current key's map.
func (s MapState[MK, V]) Clear(ctx StateContext) error {
	st, _, _, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	return st.ClearMap(s.spec)
}
