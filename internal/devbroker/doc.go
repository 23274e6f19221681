// Package devbroker is the library behind `weir dev` and `weir topic`: a
// single-node Kafka-protocol broker for development, and small topic
// helpers that work against any broker.
//
// # What it owns
//
// [Start] runs franz-go's kfake broker in this process on a fixed address
// (default [DefaultAddr]), creating topics on first use and, with
// [Options.DataDir], keeping topics, committed offsets and transactions
// across restarts. It is a development broker: one node, no replication,
// no quotas. [CreateTopic], [ProduceJSONL] (one record per JSON line, keyed
// by a field) and [Consume] (one JSON value per line, committed records
// only) are what `weir topic create|produce|consume` call.
//
// # Who calls it
//
// cmd/weir, and tests or examples that want a broker without Docker.
//
// # Goroutines
//
// A [Broker] is kfake's cluster: its own run loop owns all broker state,
// with one goroutine per listener and per connection; [Broker.Close] stops
// them all and, with a DataDir, writes the state out. Each helper call
// creates its franz-go clients and closes them before returning; only the
// acknowledgement callbacks of ProduceJSONL run on other goroutines, and
// they record the first error under a mutex.
package devbroker
