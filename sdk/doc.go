// Package sdk is the typed API weir pipelines are written against.
//
// A pipeline is built once and runs as a batch backfill or a streaming job.
// This one, from examples/fraud (its Example_pipeline runs these very
// lines), keeps transactions over 1000, keys them by user, and sums and
// counts them per user in 5-minute event-time windows:
//
//	p := sdk.NewPipeline()
//	txns := sdk.Read(p, src, sdk.BoundedOutOfOrderness(30*time.Second))
//	large := sdk.Filter(txns, Large)
//	byUser := sdk.KeyBy(large, UserOf)
//	win := sdk.WindowInto(byUser, sdk.Tumbling(5*time.Minute))
//	totals := sdk.Aggregate(win, sdk.Combiner[Txn, SumCount, SumCount](SumAndCount{}))
//	sdk.Write(sdk.Map(totals, ToUserTotal), sink)
//
// Large and UserOf are plain functions, SumAndCount an [Aggregate]
// [Combiner] whose accumulator is SumCount; Txn, SumCount and UserTotal
// are //weir:record types.
//
// Collections are typed ([PCollection], [Keyed], [Windowed]); a type error is
// a compile error. Construction problems that types cannot catch (a record
// type without a generated codec where one is needed, a bad option) are
// collected and reported together by [Pipeline.Err] before anything runs.
//
// # Keyed state and timers
//
// [Process] runs a [KeyedProcessFunc] (Flink's KeyedProcessFunction) for
// every record of a key, with state declared once ([NewValueState],
// [NewListState], [NewMapState], optionally with a [TTL]) and event- or
// processing-time timers. Window state and process state live in the
// runner's keyed state backend (Pebble), are checkpointed with the job and
// redistributed by key group when the parallelism changes; their types
// need codecs, like records.
//
// # Two inputs: joins
//
// [CoProcess] is [Process] over two collections keyed by the same key type
// (Flink's KeyedCoProcessFunction): one state and one set of timers per
// key, shared by both inputs, whose watermark is the minimum of theirs.
// The joins are built on it or on windows: [IntervalJoin] (pairs within a
// time interval of each other, each side's state dropped once the
// watermark passes what can still match), [TemporalJoin] (each record with
// the version of its key current at its time: enrichment from a
// changelog), [CoGroup] (both sides' records per key and window, any window
// kind) and [WindowJoin] (inner, left and full outer pairs per window).
// Results do not depend on arrival order, so batch and stream mode agree.
// Late records of either side (judged against their own split's
// watermark) are counted, and written to the side outputs [LateLeft] and
// [LateRight] when [SideOutput] reads them.
//
// [BroadcastProcess] (Flink's broadcast pattern) gives every task of a
// keyed transform every record of a low-volume second input (rules,
// thresholds), which writes the [BroadcastState] that the keyed side reads;
// it is checkpointed when it changes and restored to every task at any
// parallelism. [Process] and [CoProcess] functions write side outputs
// with [Output] to an [OutputTag]; [SideOutput] is their collection.
//
// # Generated code
//
// Functions marked //weir:transform and types marked //weir:record get
// generated batch kernels and codecs from `weir gen` (run by go generate).
// The generated init functions call [RegisterRecord], [RegisterMap],
// [RegisterFilter] and [RegisterFlatMap]; users never call them by hand. A
// transform without a kernel runs through a generic loop that calls the
// function per row: typed, never boxed, but not inlined.
//
// A record's registration carries its shape as weir gen saw it (field
// names, types, JSON names, the event-time tag; [RecordCodec.Shape]).
// RegisterRecord compares it once with the compiled type; when a record
// changed without rerunning go generate, [CodecOf] returns a
// [StaleCodecError] and [Pipeline.Err] reports it, alone, for every record
// the pipeline uses (as a collection, key, accumulator or inside one):
//
//	weir: fraud.Txn changed since weir_gen.go was generated (field Country is new); run "go generate ./..."
//
// # Who calls it
//
// User code and connectors (io/*) import sdk. The sdk never imports the
// runner: a runner registers itself with [RegisterRunner], as database/sql
// drivers do, and reads the graph through [Pipeline.Graph].
//
// # Goroutines
//
// Building a pipeline is single-goroutine. The registries are safe for use
// from init functions and concurrent readers.
package sdk
