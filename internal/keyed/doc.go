// Package keyed adapts a state.Backend to graph.StateBackend, the view of
// keyed state that operators see: one backend per task, state names
// namespaced per operator so two operators chained in a task never share a
// state by accident.
package keyed
