package sdk

import (
	"fmt"

	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/ops"
)

// KeyedBroadcastProcessFunc is Flink's KeyedBroadcastProcessFunction: a
// keyed process function with a second, broadcast input. Every task sees
// every record of the broadcast input (rules, thresholds: a low-volume
// stream) in ProcessBroadcastElement, which writes the broadcast state;
// ProcessElement sees the keyed records with their key, keyed state and
// timers as in [Process], and reads the broadcast state.
type KeyedBroadcastProcessFunc[K comparable, T, R, O any] interface {
	ProcessElement(ctx *ProcessContext[K, O], v T) error
	ProcessBroadcastElement(ctx *BroadcastContext[K, O], r R) error
	OnTimer(ctx *ProcessContext[K, O], t TimerInfo) error
}

// BroadcastProcessFuncs is a [KeyedBroadcastProcessFunc] made of
// functions. A nil TimerFn ignores timers.
type BroadcastProcessFuncs[K comparable, T, R, O any] struct {
	ElementFn   func(ctx *ProcessContext[K, O], v T) error
	BroadcastFn func(ctx *BroadcastContext[K, O], r R) error
	TimerFn     func(ctx *ProcessContext[K, O], t TimerInfo) error
}

// ProcessElement calls ElementFn.
func (f BroadcastProcessFuncs[K, T, R, O]) ProcessElement(ctx *ProcessContext[K, O], v T) error {
	return f.ElementFn(ctx, v)
}

// ProcessBroadcastElement calls BroadcastFn.
func (f BroadcastProcessFuncs[K, T, R, O]) ProcessBroadcastElement(ctx *BroadcastContext[K, O], r R) error {
	return f.BroadcastFn(ctx, r)
}

// OnTimer calls TimerFn, if set.
func (f BroadcastProcessFuncs[K, T, R, O]) OnTimer(ctx *ProcessContext[K, O], t TimerInfo) error {
	if f.TimerFn == nil {
		return nil
	}
	return f.TimerFn(ctx, t)
}

func (f BroadcastProcessFuncs[K, T, R, O]) elementFunc() any {
	if f.ElementFn == nil || f.BroadcastFn == nil {
		return nil
	}
	return f.ElementFn
}

// BroadcastContext is what ProcessBroadcastElement sees: the record's
// time, the watermark, the outputs and the broadcast state (to write).
// There is no key, so no keyed state and no timers.
type BroadcastContext[K comparable, O any] struct {
	c *ops.ProcessCtx[K, O]
}

// Timestamp is the event time of the broadcast record.
func (c *BroadcastContext[K, O]) Timestamp() Timestamp { return c.c.Timestamp() }

// CurrentWatermark is the transform's input watermark (the minimum of both
// inputs').
func (c *BroadcastContext[K, O]) CurrentWatermark() Timestamp { return c.c.Watermark() }

// Emit outputs o at the broadcast record's time, from every task: a
// broadcast record's outputs are as many as the tasks.
func (c *BroadcastContext[K, O]) Emit(o O) { c.c.Emit(o) }

func (c *BroadcastContext[K, O]) broadcastStore() *ops.BroadcastStore { return c.c.Broadcast() }
func (c *ProcessContext[K, O]) broadcastStore() *ops.BroadcastStore   { return c.c.Broadcast() }

// BroadcastReader is a context the broadcast state can be read in: the
// [ProcessContext] of ProcessElement and OnTimer, and the
// [BroadcastContext] of ProcessBroadcastElement.
type BroadcastReader interface{ broadcastStore() *ops.BroadcastStore }

// BroadcastState declares a map of the broadcast state (Flink's
// MapStateDescriptor given to broadcast): keys BK to values BV, the same
// in every task, checkpointed with the job and restored to every task at
// any parallelism. Both types need codecs.
type BroadcastState[BK comparable, BV any] struct {
	name  string
	keys  *codecRef[BK]
	codec *codecRef[BV]
}

// NewBroadcastState declares a broadcast map called name.
func NewBroadcastState[BK comparable, BV any](name string) BroadcastState[BK, BV] {
	return BroadcastState[BK, BV]{name: name, keys: new(codecRef[BK]), codec: new(codecRef[BV])}
}

func (s BroadcastState[BK, BV]) checkCodecs() error {
	if _, err := CodecOf[BK](); err != nil {
		return err
	}
	_, err := CodecOf[BV]()
	return err
}

func (s BroadcastState[BK, BV]) prepare(ctx BroadcastReader) (*ops.BroadcastStore, *RecordCodec[BK], *RecordCodec[BV], error) {
	if s.keys == nil {
		return nil, nil, nil, fmt.Errorf("sdk: broadcast state used without a descriptor; create it with NewBroadcastState")
	}
	st := ctx.broadcastStore()
	if st == nil {
		return nil, nil, nil, fmt.Errorf("sdk: broadcast state %q read outside BroadcastProcess", s.name)
	}
	kc, err := s.keys.get()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sdk: broadcast state %q: %w", s.name, err)
	}
	c, err := s.codec.get()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sdk: broadcast state %q: %w", s.name, err)
	}
	return st, kc, c, nil
}

// Get returns the value of k.
func (s BroadcastState[BK, BV]) Get(ctx BroadcastReader, k BK) (v BV, ok bool, err error) {
	st, kc, c, err := s.prepare(ctx)
	if err != nil {
		return v, false, err
	}
	kb := st.KeyBuf()
	*kb = kc.AppendKey((*kb)[:0], &k)
	b, ok := st.Get(s.name, *kb)
	if !ok {
		return v, false, nil
	}
	v, err = decode(c, s.name, b)
	return v, err == nil, err
}

// Range calls fn for each entry, in the byte order of the encoded keys.
func (s BroadcastState[BK, BV]) Range(ctx BroadcastReader, fn func(k BK, v BV) error) error {
	st, kc, c, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	return st.Range(s.name, func(kb, vb []byte) error {
		k, err := decode(kc, s.name, kb)
		if err != nil {
			return err
		}
		v, err := decode(c, s.name, vb)
		if err != nil {
			return err
		}
		return fn(k, v)
	})
}

// Len is the number of entries.
func (s BroadcastState[BK, BV]) Len(ctx BroadcastReader) int {
	if st := ctx.broadcastStore(); st != nil {
		return st.Len(s.name)
	}
	return 0
}

// BroadcastWriter is a context the broadcast state can be written in:
// the [BroadcastContext] of ProcessBroadcastElement only, so that every
// task applies the same writes.
type BroadcastWriter interface {
	BroadcastReader
	broadcastWriter()
}

func (c *BroadcastContext[K, O]) broadcastWriter() {}

// Put sets k to v.
func (s BroadcastState[BK, BV]) Put(ctx BroadcastWriter, k BK, v BV) error {
	st, kc, c, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	if c.AppendBinary == nil {
		return fmt.Errorf("sdk: broadcast state %q: %s has no binary codec", s.name, c.Name)
	}
	kb := st.KeyBuf()
	*kb = kc.AppendKey((*kb)[:0], &k)
	return st.Put(s.name, *kb, c.AppendBinary(nil, &v))
}

// Delete removes k.
func (s BroadcastState[BK, BV]) Delete(ctx BroadcastWriter, k BK) error {
	st, kc, _, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	kb := st.KeyBuf()
	*kb = kc.AppendKey((*kb)[:0], &k)
	return st.Delete(s.name, *kb)
}

// BroadcastProcess runs fn over a keyed collection and a broadcast one
// (Flink's keyedStream.connect(broadcastStream).process): every record of
// rules reaches every task of the transform, in ProcessBroadcastElement,
// which writes the broadcast state ([BroadcastState]); the records of in
// reach the task of their key, in ProcessElement, which reads it and has
// keyed state and timers as in [Process].
//
// The broadcast state is kept in memory (keep it small: rules, not
// facts), checkpointed when it changed, and restored to every task at any
// parallelism. Each task applies the same broadcast records in the same
// order, so every copy is the same; which keyed records a rule has seen
// depends on how the two inputs interleave, as in Flink: for a result
// independent of arrival order, hold keyed records in state until the
// watermark (the minimum of both inputs') passes them. Outputs of
// ProcessBroadcastElement come once per task.
func BroadcastProcess[K comparable, T, R, O any](in Keyed[K, T], rules PCollection[R], fn KeyedBroadcastProcessFunc[K, T, R, O], opts ...Option) PCollection[O] {
	p := in.in.p
	name := transformName(processName(fn), opts)
	cfg := ops.BroadcastConfig[K, T, R, O, *ProcessContext[K, O]]{
		ProcessConfig: ops.ProcessConfig[K, T, O, *ProcessContext[K, O]]{Key: in.key, Hash: in.hash},
	}
	if rules.p != p {
		p.addErr(errorf("BroadcastProcess %q: collections from different pipelines", name))
	}
	if fn == nil || isNilFunc(fn) {
		p.addErr(errorf("BroadcastProcess %q: nil process function", name))
	} else {
		cfg.OnElement = fn.ProcessElement
		cfg.OnTimer = fn.OnTimer
		cfg.OnBroadcast = func(c *ProcessContext[K, O], r R) error {
			return fn.ProcessBroadcastElement(&BroadcastContext[K, O]{c: c.c}, r)
		}
		for _, err := range checkStateFields(fn) {
			p.addErr(errorf("BroadcastProcess %q: %v", name, err))
		}
	}
	cfg.AppendKey, cfg.DecodeKey = keyCodec[K](p, "BroadcastProcess", name)
	bcast := rules.edge()
	bcast.Partitioner = ops.NewBroadcastPartitioner[R]()
	node := &graph.Node{Name: name, Inputs: []graph.Edge{in.shuffleEdge(), bcast}, Stateful: true}
	withSides(p, node, &cfg.ProcessConfig)
	node.NewOperator = ops.NewBroadcastProcess(cfg)
	return add[O](p, node)
}
