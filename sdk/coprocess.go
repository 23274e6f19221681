package sdk

import (
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/ops"
)

// KeyedCoProcessFunc is a keyed process function of two inputs, Flink's
// KeyedCoProcessFunction: ProcessElement1 is called for each record of the
// first input, ProcessElement2 for each of the second, OnTimer for each
// timer; all three share the key's state and timers, as in
// [KeyedProcessFunc].
type KeyedCoProcessFunc[K comparable, A, B, O any] interface {
	ProcessElement1(ctx *ProcessContext[K, O], v A) error
	ProcessElement2(ctx *ProcessContext[K, O], v B) error
	OnTimer(ctx *ProcessContext[K, O], t TimerInfo) error
}

// CoProcessFuncs is a [KeyedCoProcessFunc] made of functions, for process
// functions written inline. Element1Fn and Element2Fn are required; a nil
// TimerFn ignores timers.
type CoProcessFuncs[K comparable, A, B, O any] struct {
	Element1Fn func(ctx *ProcessContext[K, O], v A) error
	Element2Fn func(ctx *ProcessContext[K, O], v B) error
	TimerFn    func(ctx *ProcessContext[K, O], t TimerInfo) error
}

// ProcessElement1 calls Element1Fn.
func (f CoProcessFuncs[K, A, B, O]) ProcessElement1(ctx *ProcessContext[K, O], v A) error {
	return f.Element1Fn(ctx, v)
}

// ProcessElement2 calls Element2Fn.
func (f CoProcessFuncs[K, A, B, O]) ProcessElement2(ctx *ProcessContext[K, O], v B) error {
	return f.Element2Fn(ctx, v)
}

// OnTimer calls TimerFn, if set.
func (f CoProcessFuncs[K, A, B, O]) OnTimer(ctx *ProcessContext[K, O], t TimerInfo) error {
	if f.TimerFn == nil {
		return nil
	}
	return f.TimerFn(ctx, t)
}

func (f CoProcessFuncs[K, A, B, O]) elementFunc() any {
	if f.Element1Fn == nil || f.Element2Fn == nil {
		return nil
	}
	return f.Element1Fn
}

// CoProcess applies fn to two collections keyed by the same key type: the
// records of both with equal keys meet in one task, where fn sees each
// with its key and keeps per-key state and timers shared by both inputs
// (Flink's connect(...).keyBy(...).process(KeyedCoProcessFunction)).
//
// The operator's watermark is the minimum of its two inputs' watermarks,
// with idleness as for one input; so an event-time timer fires once both
// inputs have passed its time. Everything else — codecs, timers, state,
// checkpoints, bounded input — is as for [Process].
func CoProcess[K comparable, A, B, O any](a Keyed[K, A], b Keyed[K, B], fn KeyedCoProcessFunc[K, A, B, O], opts ...Option) PCollection[O] {
	p := a.in.p
	name := transformName(processName(fn), opts)
	cfg := ops.CoProcessConfig[K, A, B, O, *ProcessContext[K, O]]{
		ProcessConfig: ops.ProcessConfig[K, A, O, *ProcessContext[K, O]]{
			Key:  a.key,
			Hash: a.hash,
			NewContext: func(c *ops.ProcessCtx[K, O]) *ProcessContext[K, O] {
				return &ProcessContext[K, O]{c: c}
			},
		},
		KeyB: b.key,
	}
	if b.in.p != p {
		p.addErr(errorf("CoProcess %q: collections from different pipelines", name))
	}
	if fn == nil || isNilFunc(fn) {
		p.addErr(errorf("CoProcess %q: nil process function", name))
	} else {
		cfg.OnElement = fn.ProcessElement1
		cfg.OnElementB = fn.ProcessElement2
		cfg.OnTimer = fn.OnTimer
		for _, err := range checkStateFields(fn) {
			p.addErr(errorf("CoProcess %q: %v", name, err))
		}
	}
	cfg.AppendKey, cfg.DecodeKey = keyCodec[K](p, "CoProcess", name)
	node := &graph.Node{Name: name, Inputs: []graph.Edge{a.shuffleEdge(), b.shuffleEdge()}, Stateful: true}
	withSides(p, node, &cfg.ProcessConfig)
	node.NewOperator = ops.NewCoProcess(cfg)
	return add[O](p, node)
}
