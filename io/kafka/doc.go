// Package kafka reads and writes Kafka topics of JSON records with
// franz-go (imported as kgo, kadm).
//
// # What it owns
//
// [Source] implements sdk.Source: one [Split] per topic-partition, ID
// "topic/00003" so that IDs sort like the splits. A reader's position is the
// next offset to read (and, for a bounded source, the end offset), so a
// restored job resumes with no record lost or read twice. Without a saved
// position a split starts where [SourceOptions.Start] says: [Earliest] (the
// default), [Latest], [Committed] or [AtTime], resolved once per topic.
// Records are read with isolation level read_committed, so records of
// aborted or open transactions are never seen. Values are decoded with the
// registered codec of the record type; a value that does not decode is a
// dead letter ("kafka txns/3 offset 99") and reading goes on. A bounded
// source fixes its splits and stops each at the last stable offset seen
// when it first lists them. [Source.Discover] lists the splits again,
// including partitions added since the start, for a runner to open.
//
// [Sink] implements sdk.Sink: values as JSON from the generated AppendJSON,
// the key from [SinkOptions.Key] (records with equal keys share a
// partition: franz-go's default partitioner hashes keys), the event time
// as the Kafka timestamp and in the header [EventTimeHeader]. Delivery is
// at-least-once by default: PreCommit waits for every acknowledgement, and
// records written after the last checkpoint are written again after a
// restore. With [SinkOptions.ExactlyOnce] it is exactly-once for
// read_committed consumers: each task writes through transactional
// producers with stable ids <prefix>-<task>-<slot> (prefix
// "weir-<job>-<node>"), one transaction per checkpoint; PreCommit(n)
// flushes the open transaction and stages it, Committable(n) returns the
// id, producer id and epoch (a JSON array) of every transaction staged
// under an id <= n, and Commit(n) commits them. Two slots suffice while
// checkpoints complete; a failed checkpoint (not committed nor aborted)
// leaves its transaction staged for the next completed checkpoint, and
// the writer uses further slots meanwhile, but keeps at most two
// producers open: older staged transactions stay open on the broker
// without one and are ended by producer id and epoch. Once its oldest
// open transaction is nine tenths of [SinkOptions.TransactionTimeout]
// old, the writer fails the job rather than let the broker abort it.
// [Sink.Recover] (sdk.RecoverableSink), called once when a job starts and
// before any writer opens or input is read, refuses a missing topic (and,
// exactly-once, brokers without transactions), commits the transactions
// of the restored checkpoint with a raw EndTxn (re-initializing the
// producer would abort them) and then re-initializes the sink's other
// transactional ids, never those of another job name, which aborts open
// transactions at once and fences zombie writers of older runs. A
// transaction already committed counts as committed, so Recover can run
// again; one the broker aborted (the transaction timeout expired while
// the job was down) fails Recover with a message saying that output was
// lost.
//
// # Who calls it
//
// User pipelines through sdk.Read and sdk.Write, and the runner, which
// reads many splits of one source from one task: ReadBatch returns what is
// buffered now and waits at most [SourceOptions.PollTimeout] when nothing
// is, returning no records and no error so that the task can serve other
// splits and advance idle timers. The wait ends early when the poll brings
// records for other splits of the same source, and is skipped when a poll
// already waited a whole PollTimeout in vain since the split was last read,
// so a task going round many idle splits waits about once per round.
//
// # Goroutines and ownership
//
// All open splits of one Source share one kgo client with direct partition
// assignment (no consumer group membership): opening a split adds its
// partition at its offset, closing removes it, and the client closes with
// the last open split. The client runs its own goroutines (connections,
// fetches, metadata). Each reader is owned by one goroutine at a time. The
// reader whose buffer is empty polls the client for everyone, holding the
// source's poll lock, and files the records into per-partition buffers
// under its mutex; readers that find the poll lock taken wait for their
// buffer to fill or for that poll to end. A partition whose buffer holds
// [SourceOptions.MaxBufferedBytes] is paused until its reader drains half.
// Lock order: Source.mu, then the poll lock, then the buffer mutex. With
// [SourceOptions.Group] set, the polling reader also commits read offsets
// to the group for monitoring, until a checkpoint completes: from then on
// the readers hand the offsets of each completed checkpoint
// (sdk.PositionCommitter) to one short-lived goroutine of the consumer
// that commits them, the newest winning, and that the client's close
// waits for.
//
// A sink writer is owned by its task goroutine; one kgo client per writer
// (exactly-once, one per transactional id in use, at most two)
// produces asynchronously and its acknowledgement callbacks only record
// the first error, under the writer's mutex. Recover uses a short-lived
// client of its own.
package kafka
