// Package benchmarks holds weir's workloads, measured against a
// hand-written Go loop: baseline/ is that loop for the fraud backfill and
// cmd/bench is the harness `make bench` runs (figures in RESULTS.md).
//
// # Status
//
// The fraud backfill and the micro-benchmarks are built; Nexmark and the
// comparison with other stream processors are not built yet. This package
// itself has no code.
package benchmarks
