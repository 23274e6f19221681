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
// at most (the largest event time seen before it in P) − bound − 1µs. A
// runner holds the watermark lower than that (it is the minimum over splits
// and advances per batch), so:
//
//   - With LateFraction 0 and Disorder ≤ bound, no event is late in any
//     read order, parallelism, split layout or batch size, and Expected is
//     exactly the pipeline's output in batch and stream mode.
//   - Generated late events sit LateBy (≥ window + bound) behind the largest
//     event time seen at least LateLag rows earlier in their partition, so
//     they are late whatever the batch size up to LateLag. Expected's late
//     count and rows are exact when each partition's watermark is that of
//     its own partition: one partition read as one split (one JSONL file,
//     one Kafka partition, one Parquet file with one row group). With several
//     partitions read in an unknown order a late event may arrive while
//     another partition still holds the watermark back, and is then on time.
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
