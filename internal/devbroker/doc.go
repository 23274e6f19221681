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
// no quotas, no authentication (an address other machines can reach gets a
// warning line). [CreateTopic], [ProduceJSONL] (one record per JSON line,
// keyed by a field) and [Consume] (one JSON value per line, committed
// records only) are what `weir topic create|produce|consume` call.
//
// # Topic rules
//
// [CheckTopicName] and [CheckPartitions] are Kafka's rules (names of 1 to
// 249 characters of [a-zA-Z0-9._-], not "." or "..") and the broker's cap of
// [MaxPartitions] partitions. `weir topic` checks them before connecting;
// the broker checks them on every CreateTopics, CreatePartitions and
// auto-creating Metadata request, whatever the client, and answers a
// topic that breaks them with Kafka's error code (guard.go: a kfake
// control installs a fault for that topic of that request only).
//
// # Persisted state
//
// kfake refuses to start when a piece of its data directory cannot be read
// (a partition directory whose name is too long for the file system, a
// damaged JSON file). Before starting it, [Start] checks the directory
// (datadir.go) and moves what would stop it, or what breaks the topic
// rules, to DataDir/skipped/STAMP/, one line in [Options.Log] each; if kfake
// still refuses, all of the data is moved there and the broker starts
// empty. Only a directory written by a newer format is an error.
//
// # Who calls it
//
// cmd/weir, and tests or examples that want a broker without Docker.
//
// # Goroutines
//
// A [Broker] is kfake's cluster: its own run loop owns all broker state,
// with one goroutine per listener and per connection; [Broker.Close] stops
// them all and, with a DataDir, writes the state out. The guard's control
// runs on a goroutine of its own while the run loop waits for it, one
// request at a time. kfake's log lines and Start's go through one mutex.
// Each helper call creates its franz-go clients and closes them before
// returning; only the acknowledgement callbacks of ProduceJSONL run on
// other goroutines, and they record the first error under a mutex.
package devbroker
