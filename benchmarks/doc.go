// Package benchmarks will hold weir's workloads (Nexmark and the fraud
// pipeline) measured against a hand-written Go loop and against peers,
// driven by `make bench`, with figures recorded in RESULTS.md.
//
// # Status
//
// Not built yet.
package benchmarks
