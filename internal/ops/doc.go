// Package ops holds the typed operator implementations behind the SDK's
// transforms: stateless maps and filters (with generated kernels or the
// generic per-row loop), source and sink adapters, the keyed partitioner,
// the windowed aggregation with its timers, lateness and session merging
// (agg.go; its state in the task's keyed backend behind a typed write-back
// cache, agg_state.go), and the keyed process operator: the operator and
// the context user functions see (process.go), its timers and their
// in-memory time index (process_timers.go), and the keyed user state with
// its time-to-live (process_state.go; the only state TTL in weir: the
// expiry is stored in the value, and a cleanup timer deletes expired
// entries). One generic binary heap (heap.go) orders the window timers,
// the due process timers and the time index.
//
// # Lateness
//
// The source adapter marks every record with its own split's watermark just
// before it (base.Batch.Marks: max event time seen earlier in the split −
// bound − 1µs); the stateless operators and the partitioner keep the mark
// with the row. The windowed aggregation calls a record late iff all its
// windows' end−1µs + allowed lateness is at most max(operator watermark,
// mark) — for sessions, the record's own window [ts, ts+gap) at its mark.
// The operator's watermark never exceeds the mark, so lateness depends only
// on the order of records within their split: deterministic across batch
// sizes, parallelism, modes and thread timing (Flink and Beam decide against
// the operator's watermark, which depends on timing; this is deliberate).
// Batches without marks fall back to the operator's watermark.
//
// # Event times
//
// The source adapter dead-letters a record without an event time or with
// one outside base.MinEventTime..base.MaxEventTime (years 0001-9999), with
// the record and its position from the reader when it describes its
// records (recordDescriber), else "split record N".
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
