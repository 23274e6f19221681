package sdk

import (
	"context"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/ops"
)

// Read adds a source to p. Each record's event time comes from the field
// tagged weir:"eventtime" (or from [Timestamps]); each split gets its own
// watermark generator with the given [BoundedOutOfOrderness].
func Read[T any](p *Pipeline, src Source[T], opts ...ReadOption) PCollection[T] {
	cfg := readConfig{name: "Read"}
	for _, o := range opts {
		o.applyRead(&cfg)
	}
	sc := ops.SourceConfig[T]{
		Watermarks: graph.WatermarkSpec{Bound: cfg.bound, Idle: cfg.idle},
	}
	if src == nil {
		p.addErr(errorf("Read %q: nil source", cfg.name))
	} else {
		if v, ok := src.(Validator); ok {
			if err := v.Validate(); err != nil {
				p.addErr(errorf("Read %q: %v", cfg.name, err))
			}
		}
		sc.Splits = src.Splits
		sc.Open = func(ctx context.Context, s graph.Split, pos []byte) (ops.Reader[T], error) {
			return src.Open(ctx, s, pos)
		}
		if d, ok := src.(SplitDiscoverer); ok {
			sc.Discover = d.Discover
		}
	}
	switch fn := cfg.timestamps.(type) {
	case func(T) time.Time:
		sc.EventTime = func(v *T) (base.Timestamp, bool) {
			t := fn(*v)
			return base.FromTime(t), !t.IsZero()
		}
		sc.TimeField = "Timestamps option"
	case nil:
		if c, err := CodecOf[T](); err == nil && c.EventTime != nil {
			sc.EventTime, sc.TimeField = c.EventTime, c.EventTimeField
		} else {
			p.addErr(errorf("Read %q: type %s has no event time; tag a time.Time field weir:\"eventtime\" and run \"go generate ./...\", or pass sdk.Timestamps", cfg.name, typeName[T]()))
		}
	default:
		p.addErr(errorf("Read %q: Timestamps option is for another record type than %s", cfg.name, typeName[T]()))
	}
	return add[T](p, &graph.Node{Name: cfg.name, Source: ops.NewSource(sc)})
}

func transformName(def string, opts []Option) string {
	c := transformConfig{name: def}
	for _, o := range opts {
		o.applyTransform(&c)
	}
	return c.name
}

// Map applies fn to every record.
func Map[I, O any](in PCollection[I], fn func(I) O, opts ...Option) PCollection[O] {
	var k MapKernel[I, O]
	if !in.p.genericOnly {
		k, _ = lookupKernel(kindMap, fn).(MapKernel[I, O])
	}
	return add[O](in.p, &graph.Node{
		Name:        transformName(funcName(fn), opts),
		Inputs:      []graph.Edge{in.edge()},
		NewOperator: ops.NewMap(fn, k),
	})
}

// Filter keeps the records for which fn is true.
func Filter[T any](in PCollection[T], fn func(T) bool, opts ...Option) PCollection[T] {
	var k FilterKernel[T]
	if !in.p.genericOnly {
		k, _ = lookupKernel(kindFilter, fn).(FilterKernel[T])
	}
	return add[T](in.p, &graph.Node{
		Name:        transformName(funcName(fn), opts),
		Inputs:      []graph.Edge{in.edge()},
		NewOperator: ops.NewFilter(fn, k),
	})
}

// FlatMap calls fn for every record; fn emits zero or more outputs.
// Outputs carry the event time of their input.
func FlatMap[I, O any](in PCollection[I], fn func(I, func(O)), opts ...Option) PCollection[O] {
	var k FlatMapKernel[I, O]
	if !in.p.genericOnly {
		k, _ = lookupKernel(kindFlatMap, fn).(FlatMapKernel[I, O])
	}
	return add[O](in.p, &graph.Node{
		Name:        transformName(funcName(fn), opts),
		Inputs:      []graph.Edge{in.edge()},
		NewOperator: ops.NewFlatMap(fn, k),
	})
}

// Flatten merges collections of the same type into one.
func Flatten[T any](cs ...PCollection[T]) PCollection[T] {
	if len(cs) == 0 {
		panic("sdk: Flatten of nothing")
	}
	n := &graph.Node{Name: "Flatten", NewOperator: ops.NewFlatten[T]()}
	for _, c := range cs {
		if c.p != cs[0].p {
			cs[0].p.addErr(errorf("Flatten: collections from different pipelines"))
			continue
		}
		n.Inputs = append(n.Inputs, c.edge())
	}
	return add[T](cs[0].p, n)
}

// Keyed is a collection partitioned by a key of type K: the input of
// windows and keyed state. Records with equal keys meet in the same task.
type Keyed[K comparable, T any] struct {
	in   PCollection[T]
	key  func(T) K
	hash func(K) uint64
	name string
}

// KeyBy keys the records of in by key(record).
func KeyBy[T any, K comparable](in PCollection[T], key func(T) K, opts ...Option) Keyed[K, T] {
	k := Keyed[K, T]{in: in, key: key, name: transformName(funcName(key), opts)}
	in.p.checkFresh(typeOf[K]())
	k.hash = base.BuiltinHash[K]()
	if k.hash == nil {
		if c, err := CodecOf[K](); err == nil && c.Hash != nil {
			h := c.Hash
			k.hash = func(v K) uint64 { return h(&v) }
		} else {
			in.p.addErr(errorf("KeyBy %q: key type %s cannot be hashed; use a basic type or mark it //weir:record and run \"go generate ./...\"", k.name, typeName[K]()))
			k.hash = func(K) uint64 { return 0 }
		}
	}
	return k
}

func (k Keyed[K, T]) shuffleEdge() graph.Edge {
	e := k.in.edge()
	e.Partitioner = ops.NewPartitioner(k.key, k.hash)
	return e
}

// Windowed is a keyed collection with a window function: the input of
// [Aggregate] and [GroupByKey].
type Windowed[K comparable, T any] struct {
	keyed Keyed[K, T]
	spec  ops.WindowSpec
	cfg   windowConfig
	late  *lateOutput
}

// lateOutput collects the late side outputs of the aggregations of one
// Windowed into the node returned by LateData.
type lateOutput struct {
	node *graph.Node   // nil until LateData is called
	aggs []*graph.Node // aggregations reading this Windowed
}

// WindowInto assigns the records of a keyed collection to event-time windows.
func WindowInto[K comparable, T any](in Keyed[K, T], fn WindowFn, opts ...WindowOption) Windowed[K, T] {
	cfg := windowConfig{name: "Window"}
	for _, o := range opts {
		o.applyWindow(&cfg)
	}
	if err := fn.spec.Validate(); err != nil {
		in.in.p.addErr(errorf("Window %q: %v", cfg.name, err))
	}
	if cfg.lateness < 0 {
		in.in.p.addErr(errorf("Window %q: negative allowed lateness %v", cfg.name, cfg.lateness))
	}
	return Windowed[K, T]{keyed: in, spec: fn.spec, cfg: cfg, late: &lateOutput{}}
}

// Aggregate combines the records of each key and window with c. A window
// fires when the watermark reaches its end-1µs, emitting one [Result] per
// key; with allowed lateness it fires again for each late record.
func Aggregate[K comparable, T, A, R any](in Windowed[K, T], c Combiner[T, A, R], opts ...Option) PCollection[Result[K, R]] {
	p := in.keyed.in.p
	name := transformName(in.cfg.name+"/Aggregate", opts)
	p.checkFresh(typeOf[A]())
	var acc ops.Codec[A]
	if c == nil {
		p.addErr(errorf("Aggregate %q: nil combiner", name))
	} else {
		acc = accCodecOf(c)
	}
	out := add[Result[K, R]](p, &graph.Node{
		Name:     name,
		Inputs:   []graph.Edge{in.keyed.shuffleEdge()},
		Outputs:  2, // results, late records
		Stateful: true,
		NewOperator: ops.NewWindowAgg(ops.AggConfig[K, T, A, R]{
			Spec:     in.spec,
			Lateness: in.cfg.lateness.Microseconds(),
			Key:      in.keyed.key,
			Comb:     c,
			Hash:     in.keyed.hash,
			KeyCodec: codecFor[K](),
			AccCodec: acc,
		}),
	})
	in.late.aggs = append(in.late.aggs, out.node)
	if in.late.node != nil {
		in.late.node.Inputs = append(in.late.node.Inputs, graph.Edge{From: out.node, Port: 1})
	}
	return out
}

// GroupByKey collects the records of each key and window into a slice.
func GroupByKey[K comparable, T any](in Windowed[K, T], opts ...Option) PCollection[Result[K, []T]] {
	return Aggregate[K, T, []T, []T](in, listCombiner[T]{}, append([]Option{Named(in.cfg.name + "/GroupByKey")}, opts...)...)
}

// LateData is the side output of records that arrived after their window's
// end plus the allowed lateness, from every aggregation of in. Without it
// late records are still counted, and dropped.
func LateData[K comparable, T any](in Windowed[K, T]) PCollection[T] {
	p := in.keyed.in.p
	if in.late.node != nil {
		return PCollection[T]{p: p, node: in.late.node}
	}
	n := &graph.Node{Name: in.cfg.name + "/LateData", NewOperator: ops.NewFlatten[T]()}
	for _, a := range in.late.aggs {
		n.Inputs = append(n.Inputs, graph.Edge{From: a, Port: 1})
	}
	in.late.node = n
	out := add[T](p, n)
	p.checks = append(p.checks, func() error {
		if len(n.Inputs) == 0 {
			return errorf("%s: no aggregation reads this window", n.Name)
		}
		return nil
	})
	return out
}

// Write sends every record of in to sink.
func Write[T any](in PCollection[T], sink Sink[T], opts ...Option) {
	name := transformName("Write", opts)
	if sink == nil {
		in.p.addErr(errorf("Write %q: nil sink", name))
		return
	}
	if v, ok := sink.(Validator); ok {
		if err := v.Validate(); err != nil {
			in.p.addErr(errorf("Write %q: %v", name, err))
		}
	}
	open := func(sc ops.SinkContext) (ops.Writer[T], error) {
		return sink.Open(SinkContext{Context: sc.Context, Job: in.p.name, Node: sc.Node, Task: sc.Task, Tasks: sc.Tasks})
	}
	n := &graph.Node{Name: name, Inputs: []graph.Edge{in.edge()}, Sink: true}
	in.p.g.Add(n)
	n.NewOperator = ops.NewSink(open, n.Name)
	if r, ok := sink.(RecoverableSink); ok {
		job := in.p.name
		sdkRC := func(rc graph.RecoverContext) RecoverContext {
			return RecoverContext{Job: job, Node: rc.Node, Checkpoint: rc.Checkpoint,
				Committables: rc.Committables, Tasks: rc.Tasks, Existing: rc.Existing}
		}
		n.Recover = func(ctx context.Context, rc graph.RecoverContext) error { return r.Recover(ctx, sdkRC(rc)) }
		if c, ok := sink.(RecoverChecker); ok {
			n.CheckRecover = func(ctx context.Context, rc graph.RecoverContext) error { return c.CheckRecover(ctx, sdkRC(rc)) }
		}
	}
}
