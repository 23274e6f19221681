// Package benchmarks measures weir against a hand-written Go program and
// records the figures in RESULTS.md. It has no code of its own: the work is
// in its sub-packages, driven by `make bench`.
//
// # What it owns
//
//   - baseline: the fraud pipeline as one plain Go loop over parquet-go's
//     GenericReader (filter, key, sum per tumbling window in a map), the
//     baseline weir must reach at least half the speed of.
//   - cmd/baseline: that loop as a binary with the fraud CLI's --in/--out.
//   - cmd/bench: the driver. It generates 5,000,000 transactions with
//     examples/fraud/fraudgen into a cache directory, builds the baseline and
//     examples/fraud/cmd/fraud, runs the baseline at GOMAXPROCS=1, weir at
//     GOMAXPROCS=1 parallelism 1 and at GOMAXPROCS=2 parallelism 2 (rounds
//     interleaved), checks every output against fraudgen.Expected, and
//     prints rows/s, CPU time, peak RSS and the ratios as Markdown; then it
//     runs the codec, kernel and Parquet micro-benchmarks and summarizes them
//     with benchstat (fetched by `go run`, never added to go.mod).
//
// # Who calls it
//
// `make bench` at the repository root runs `make -C benchmarks`, which runs
// `go run ./benchmarks/cmd/bench $(ARGS)`; `make -C benchmarks quick` is a
// small check of the harness. Plain `go test ./...` only runs fast tests
// here; benchmarks run with -bench.
//
// # Goroutines and processes
//
// The driver runs one measured program at a time, each as a grandchild: it
// re-runs itself as a small wrapper (-measure) that starts the program and
// reports wall time, CPU time and peak RSS, because on Linux a child exec'd
// straight from the driver would report the driver's own peak RSS.
package benchmarks
