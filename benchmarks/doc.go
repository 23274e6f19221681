// Package benchmarks holds weir's workloads, measured against a
// hand-written Go loop or the same job without the feature measured:
// baseline/ is that loop for the fraud backfill and cmd/bench is the
// harness `make bench` runs; stream/ holds the Kafka throughput and latency
// workloads; state/ and cmd/statebench are the keyed-state and checkpoint
// figures `make bench-state` runs; join/ and cmd/joinbench are the joins'
// figures `make -C benchmarks join` runs (figures of all in RESULTS.md).
//
// # Status
//
// The fraud backfill, stream, keyed-state, join and micro-benchmarks are built;
// Nexmark and the comparison with other stream processors are not built
// yet. This package itself has no code.
package benchmarks
