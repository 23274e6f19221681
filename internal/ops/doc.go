// Package ops holds the typed operator implementations behind the SDK's
// transforms: stateless maps and filters (with generated kernels or the
// generic per-row loop), source and sink adapters, the keyed partitioner and
// the windowed aggregation with its timers, lateness and session merging.
//
// # Who calls it
//
// The sdk package instantiates these generics where the user's types are
// known and stores them in the graph as untyped factories
// (graph.Node.NewOperator, graph.Source, graph.Partitioner). The runner
// drives them without knowing their types.
//
// # Goroutines
//
// None. Every operator instance belongs to one task and is called from that
// task's goroutine only, so operators take no locks. Batches passed to
// Process are borrowed: an operator copies what it keeps.
package ops
