package keyed

import (
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/state"
)

// View is one operator's namespaced view of a task's backend.
type View struct {
	b      *state.Backend
	prefix string
}

var _ graph.StateBackend = View{}

// NewView returns the view of b for the operator named op.
func NewView(b *state.Backend, op string) View { return View{b: b, prefix: op + "/"} }

func (v View) Value(name string) (graph.ValueState, error) { return v.b.Value(v.prefix + name) }
func (v View) List(name string) (graph.ListState, error)   { return v.b.List(v.prefix + name) }
func (v View) Map(name string) (graph.MapState, error)     { return v.b.Map(v.prefix + name) }

func (v View) Timers(name string) (graph.TimerState, error) {
	t, err := v.b.Timers(v.prefix + name)
	if err != nil {
		return nil, err
	}
	return timers{t}, nil
}

func (v View) KeyGroups() (start, end uint16) { r := v.b.KeyGroups(); return r.Start, r.End }

type timers struct{ t *state.Timers }

func (t timers) Register(kg uint16, ts int64, key []byte) error { return t.t.Register(kg, ts, key) }
func (t timers) Delete(kg uint16, ts int64, key []byte) error   { return t.t.Delete(kg, ts, key) }

func (t timers) PopUpTo(ts int64, fn func(kg uint16, ts int64, key []byte) error) (int, error) {
	return t.t.PopUpTo(ts, func(tm state.Timer) error { return fn(tm.KeyGroup, tm.Time, tm.Key) })
}

var _ graph.MapState = (*state.MapState)(nil)
