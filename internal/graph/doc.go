// Package graph is the untyped logical graph that the SDK builds and the
// runner executes.
//
// # What it owns
//
// Nodes (sources, operators, sinks) and edges (forward or keyed shuffle), and
// the small interfaces through which the runner drives typed operator code
// without knowing its types: [Source] and [Reader] for inputs, [Operator] for
// everything else, [Partitioner] for shuffles. Batches travel as `any`
// holding a *base.Batch[T]; each typed operator asserts its input type once
// per batch, never per row.
//
// # Who calls it
//
// The sdk package adds nodes while a user builds a pipeline, with typed
// implementations from internal/ops. The runner reads the finished graph,
// plans stages and calls the interfaces from its tasks.
//
// # Goroutines
//
// None. A graph is built by one goroutine and read-only afterwards. Operator
// instances are created per task and called from that task's goroutine only.
package graph
