// Package stream measures the fraud job reading Kafka in stream mode: the
// two figures of the streaming issue, run by `make bench` through
// benchmarks/cmd/bench.
//
// # What it owns
//
// [Prefill] writes fraudgen transactions as JSON into a topic once.
// [RunWeir] runs the fraud pipeline (fraud.Build) in stream mode over that
// topic with a bounded Kafka source, writing its rows to a Kafka topic;
// [RunFranz] is the baseline: a plain franz-go poll loop that only decodes
// the same records with the same generated JSON codec. [Latency] produces
// transactions at a steady rate with event times equal to the wall clock,
// runs the pipeline unbounded with short tumbling windows, and measures
// the time from the watermark passing a window's end (observed at the
// producer, see [Latency]) to the window's rows being readable in the
// output topic.
//
// # Who calls it
//
// benchmarks/cmd/bench (the figures), and this package's benchmark and
// tests (small sizes; skipped under -short).
//
// # Goroutines
//
// Every function runs the job (runner goroutines), franz-go clients (their
// own goroutines) and, in [Latency], one producer and one output consumer
// goroutine; all have ended when the function returns. The broker is the
// caller's: usually an in-process internal/devbroker, so that broker, job
// and clients share the machine's cores as they do under `weir dev`.
package stream
