// Package fraud is weir's seed pipeline: keep transactions over 1000, key
// them by user, and sum and count them per user in 5-minute tumbling
// event-time windows. Totals saturate at math.MaxInt64 instead of wrapping
// around (see [SumAndCount]).
//
// The same [Build] runs as a Parquet or JSONL backfill and as a Kafka
// stream; cmd/fraud is the binary (`fraud run --mode=batch ...`). Records and
// transforms are annotated for `weir gen`, which writes weir_gen.go: codecs,
// event-time accessors and batch kernels.
package fraud
