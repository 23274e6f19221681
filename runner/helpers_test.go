package runner

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/ops"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// ev is the test record: a key, a value and an event time.
type ev struct {
	Key string
	V   int
	At  time.Time
}

func evTime(e ev) time.Time { return e.At }

// at returns the time t microseconds after the epoch.
func at(us int64) time.Time { return base.Timestamp(us).Time() }

func e(key string, v int, us int64) ev { return ev{key, v, at(us)} }

func (x ev) String() string { return fmt.Sprintf("%s/%d@%d", x.Key, x.V, base.FromTime(x.At)) }

func sortedStrings[T fmt.Stringer](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	sort.Strings(out)
	return out
}

func read(p *sdk.Pipeline, src *runnertest.Source[ev], opts ...sdk.ReadOption) sdk.PCollection[ev] {
	if src.EventTime == nil {
		src.EventTime = evTime
	}
	return sdk.Read[ev](p, src, append([]sdk.ReadOption{sdk.Timestamps(evTime)}, opts...)...)
}

// recorder is a pass-through operator that logs what one task saw.
type recorder[T any] struct {
	log  *recLog
	task int
	out  graph.Output
	keys func(T) string
}

type recLog struct {
	mu     sync.Mutex
	events []string         // "task: batch n" / "task: wm ts" / "task: finish" / "task: close"
	keys   map[string][]int // key -> tasks that saw it
	opened int
	closed int
	maxPar int
}

func (l *recLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, s)
}

func (l *recLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

func newRecorder[T any](l *recLog, keys func(T) string) func() graph.Operator {
	return func() graph.Operator { return &recorder[T]{log: l, keys: keys} }
}

func (r *recorder[T]) Open(ctx graph.OpContext, outs []graph.Output) error {
	r.task, r.out = ctx.Task, outs[0]
	r.log.mu.Lock()
	r.log.opened++
	r.log.maxPar = ctx.MaxParallelism
	r.log.mu.Unlock()
	return nil
}

func (r *recorder[T]) Process(_ int, batch any) error {
	b := batch.(*base.Batch[T])
	if r.keys != nil {
		r.log.mu.Lock()
		if r.log.keys == nil {
			r.log.keys = map[string][]int{}
		}
		for _, v := range b.Values {
			k := r.keys(v)
			ts := r.log.keys[k]
			if len(ts) == 0 || ts[len(ts)-1] != r.task {
				r.log.keys[k] = append(ts, r.task)
			}
		}
		r.log.mu.Unlock()
	}
	r.log.add(fmt.Sprintf("%d: batch %d", r.task, b.Len()))
	return r.out.Emit(b)
}

func (r *recorder[T]) Watermark(wm base.Timestamp) error {
	r.log.add(fmt.Sprintf("%d: wm %d", r.task, wm))
	return nil
}

func (r *recorder[T]) Finish() error {
	r.log.add(fmt.Sprintf("%d: finish", r.task))
	return nil
}

func (r *recorder[T]) Close() error {
	r.log.mu.Lock()
	r.log.closed++
	r.log.mu.Unlock()
	return nil
}

// addNode adds a hand-made node reading in (keyed when key is set) and
// returns it as a collection of T.
func addNode[T any](p *sdk.Pipeline, name string, newOp func() graph.Operator, key func(T) string, in ...graph.Edge) *graph.Node {
	n := &graph.Node{Name: name, Inputs: in, Outputs: 1, NewOperator: newOp}
	if key != nil {
		for i := range n.Inputs {
			n.Inputs[i].Partitioner = ops.NewPartitioner(key, ops.BuiltinHash[string]())
			if c, err := sdk.CodecOf[T](); err == nil && n.Inputs[i].Codec == nil {
				n.Inputs[i].Codec = ops.NewBatchCodec(ops.Codec[T]{Append: c.AppendBinary, Decode: c.DecodeBinary})
			}
		}
	}
	return p.Graph().Add(n)
}

// sourceNode returns the graph node behind a collection.
func nodeOf(p *sdk.Pipeline, name string) *graph.Node {
	for _, n := range p.Graph().Nodes {
		if n.Name == name {
			return n
		}
	}
	panic("no node " + name)
}

func mustRun(t *testing.T, p *sdk.Pipeline, opts Options) Stats {
	t.Helper()
	st, err := Run(t.Context(), p, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return st
}

// writeNode adds a sink node writing the output of n into s.
func writeNode[T any](p *sdk.Pipeline, n *graph.Node, s sdk.Sink[T]) {
	w := &graph.Node{Name: "Write", Inputs: []graph.Edge{{From: n}}, Sink: true}
	p.Graph().Add(w)
	w.NewOperator = ops.NewSink(func(sc ops.SinkContext) (ops.Writer[T], error) {
		return s.Open(sdk.SinkContext{Context: sc.Context, Node: sc.Node, Task: sc.Task, Tasks: sc.Tasks})
	}, w.Name)
}

func sdkHash(k string) uint64 { return ops.BuiltinHash[string]()(k) }
