package sdk

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"

	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/ops"
)

// Pipeline is a graph of transforms under construction. Build it with the
// functions of this package, then hand it to a runner.
type Pipeline struct {
	g           graph.Graph
	name        string
	genericOnly bool
	checks      []func() error               // deferred validations run by Err
	sides       map[*graph.Node]*sideOutputs // the process nodes and their side outputs

	// Types the pipeline's collections, keys and accumulators use (and
	// the types they contain), and the stale records among them.
	typesSeen map[reflect.Type]bool
	stale     []error
}

// NewPipeline returns an empty pipeline.
func NewPipeline(opts ...PipelineOption) *Pipeline {
	p := &Pipeline{name: "weir"}
	for _, o := range opts {
		o.applyPipeline(p)
	}
	return p
}

// Name returns the job name.
func (p *Pipeline) Name() string { return p.name }

// Err returns every construction error of the pipeline, joined, or nil.
// Runners call it before running; users may call it earlier. When a record
// type the pipeline uses changed since its code was generated, Err returns
// only that ([StaleCodecError], one per type): the other errors may just be
// its consequences, and go generate is the fix either way.
func (p *Pipeline) Err() error {
	if len(p.stale) > 0 {
		return errors.Join(p.stale...)
	}
	errs := []error{p.g.Err()}
	for _, c := range p.checks {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Graph returns the untyped graph for a runner. It is not for user code.
func (p *Pipeline) Graph() *graph.Graph { return &p.g }

func (p *Pipeline) addErr(err error) { p.g.AddError(err) }

// PCollection is a typed collection of records of type T: the output of a
// transform.
type PCollection[T any] struct {
	p    *Pipeline
	node *graph.Node
	port int
}

// Pipeline returns the pipeline c belongs to.
func (c PCollection[T]) Pipeline() *Pipeline { return c.p }

// Name returns the name of the transform that produces c.
func (c PCollection[T]) Name() string {
	if c.node == nil {
		return ""
	}
	return c.node.Name
}

// edge is the edge that reads c, with the batch codec the network exchange
// needs when the edge crosses processes (nil when T has no codec).
func (c PCollection[T]) edge() graph.Edge {
	e := graph.Edge{From: c.node, Port: c.port}
	if bc := codecFor[T](); bc.Ok() {
		e.Codec = ops.NewBatchCodec(bc)
	}
	return e
}

func add[T any](p *Pipeline, n *graph.Node) PCollection[T] {
	p.checkFresh(typeOf[T]())
	n.TypeName = typeName[T]()
	if n.Outputs == 0 && !n.Sink {
		n.Outputs = 1
	}
	p.g.Add(n)
	return PCollection[T]{p: p, node: n}
}

// checkFresh notes the stale records among t and the types it contains
// (fields, elements, keys), each type once per pipeline. It runs while the
// graph is built, never per record.
func (p *Pipeline) checkFresh(t reflect.Type) {
	if p == nil || t == nil || p.typesSeen[t] {
		return
	}
	if p.typesSeen == nil {
		p.typesSeen = map[reflect.Type]bool{}
	}
	p.typesSeen[t] = true
	if err := staleRecord(t); err != nil {
		p.stale = append(p.stale, err)
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			p.checkFresh(t.Field(i).Type)
		}
	case reflect.Slice, reflect.Array, reflect.Pointer:
		p.checkFresh(t.Elem())
	case reflect.Map:
		p.checkFresh(t.Key())
		p.checkFresh(t.Elem())
	}
}

// funcName names fn after its package and function: "fraud.Large".
func funcName(fn any) string {
	f := runtime.FuncForPC(funcPC(fn))
	if f == nil {
		return "func"
	}
	name := f.Name()
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// Runner executes pipelines. The runner package registers the local runner
// from its init; cluster runners register their own.
type Runner interface {
	Run(ctx context.Context, p *Pipeline) error
}

// RegisterRunner makes a runner available by name. The first registered
// runner is the default of [Run].
func RegisterRunner(name string, r Runner) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.runners == nil {
		registry.runners = map[string]Runner{}
	}
	registry.runners[name] = r
	if registry.defaultR == "" {
		registry.defaultR = name
	}
}

// Run runs p with the default registered runner (link one in with a blank
// import of github.com/weirflow/weir/runner).
func Run(ctx context.Context, p *Pipeline) error {
	registry.mu.RLock()
	r := registry.runners[registry.defaultR]
	registry.mu.RUnlock()
	if r == nil {
		return fmt.Errorf("sdk: no runner linked; import _ \"github.com/weirflow/weir/runner\"")
	}
	return r.Run(ctx, p)
}
