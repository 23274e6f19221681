// Package state measures weir's keyed state and checkpoints: the three
// figures of the fault-tolerance issue and a list-state rule, run by
// benchmarks/cmd/statebench (`make -C benchmarks state`).
//
// # What it owns
//
//   - [Gen], a generated bounded source of [Rec] records over a fixed set
//     of int64 keys (no input held in memory), with resumable positions;
//   - [Fat], a combiner whose accumulator is a string of a chosen size
//     (sum, count and key-derived incompressible filler), to make keyed
//     state of a chosen size out of the built-in string codec;
//   - [Collector], a committing sink that keeps one result per key, to
//     check a job's output against an independent computation ([Gen.Expect]);
//   - the four measurements: [Throughput] (a running per-key Sum with and
//     without checkpoints), [Checkpoints] (checkpoint sync/async parts,
//     incremental bytes and restore time with about 1 GB of state),
//     [Spill] (state larger than Options.StateMemory) and [Burst] (a keyed
//     rule written with sdk.Process on a ListState, [BurstList], against
//     the same on a MapState, [BurstMap], at 1×, 2× and 4× the rows, its
//     alerts checked against [ExpectBursts]).
//
// # Who calls it
//
// benchmarks/cmd/statebench (the figures, one child process per case so
// that peak RSS is per case), and this package's tests and benchmarks at
// small sizes.
//
// # Goroutines
//
// Each measurement runs jobs with runner.Run (the runner's goroutines) and,
// in [Checkpoints], feeds an in-memory stream from the calling goroutine;
// everything has ended when it returns. A [Collector] is safe for
// concurrent writers.
package state
