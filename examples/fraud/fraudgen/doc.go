// Package fraudgen generates deterministic sample transactions for the fraud
// pipeline and computes, in plain Go, the rows the pipeline must output for
// them.
//
// # What it owns
//
// [Generate] turns [Options] (rows, users, partitions, time span, disorder,
// late fraction, seed) into per-partition slices of [fraud.Txn] in arrival
// order. [Expected] is an independent reference implementation of the
// pipeline's semantics (filter over 1000, key by user, tumbling event-time
// windows, sum and count, per-partition bounded out-of-orderness watermark,
// zero allowed lateness) used by tests and benchmarks to check weir's output.
// [WriteParquet] and [WriteJSONL] store partitions as one file each.
//
// # Which inputs Expected is exact for
//
// Expected judges lateness per partition and per event: an event of
// partition P is late iff it passes the filter and its window's end − 1µs is
// at most (the largest event time seen before it in P) − bound − 1µs. That
// is weir's rule too: a record is late iff its own split's watermark just
// before it has passed its window's end − 1µs (plus the allowed lateness),
// whatever the batching, parallelism, mode or thread timing. So Expected's
// rows and late count are exact whenever each partition is read as one
// split, in order: one JSONL file, one Kafka partition, one Parquet file
// with one row group ([WriteParquet] with rowGroupRows ≥ the partition's
// rows). A Parquet file of several row groups is several splits, each
// starting with no event time seen, so fewer of its events may be late
// than Expected says. With LateFraction 0 and Disorder ≤ bound no event is
// late in any split layout.
//
// # Who calls it
//
// The fraud CLI's `gen` command, the fraud end-to-end tests, the demo and
// the benchmarks (benchmarks/).
//
// # Goroutines
//
// None; every function runs on the caller's goroutine.
package fraudgen
