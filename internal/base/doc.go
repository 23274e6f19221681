// Package base holds the leaf types every other weir package shares: event
// timestamps, watermarks, the key hash and key groups, checkpoint ids and
// the existing-output mode of sinks.
//
// # What belongs here
//
// Only small value types and pure functions on them, with no dependencies
// beyond the standard library. Anything with behaviour (operators, codecs,
// state) lives in its own package. Like pebble's internal/base, this package
// is imported by nearly everything and imports nothing of ours.
//
// # Time
//
// A [Timestamp] is an event time in microseconds since the Unix epoch, UTC.
// Microseconds match Parquet's timestamp(microsecond) and Kafka-era Flink
// semantics: a window [start, end) fires when the watermark reaches end-1µs.
// Negative timestamps (before 1970) are ordinary values.
//
// # Keys
//
// The key hash (hash.go: FNV-1a with a splitmix64 finish, [BuiltinHash] for
// basic key types) and [KeyGroupOf] decide which key group, task and
// checkpointed state a key belongs to. They live here only: sdk/codec
// exports the hash to generated code and internal/ops partitions with it.
// Their values never change (hash_test.go pins them).
package base
