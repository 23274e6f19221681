package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/sdk"
)

// Sink writes records of type T as JSON values to one Kafka topic.
//
// By default delivery is at-least-once: [CommittingSink.PreCommit] waits
// until every record written so far is acknowledged by the broker, so a
// checkpoint never covers a lost record, but records written after the
// last checkpoint are written again after a restore.
//
// With [SinkOptions.ExactlyOnce] delivery is exactly-once for consumers
// reading with isolation level read_committed, as with Flink's KafkaSink
// EXACTLY_ONCE. Each task writes through transactional producers with ids
// <prefix>-<task>-<slot> (prefix "weir-<job>-<node>", so that jobs with
// different names never fence each other), stable across restarts.
// Records after a checkpoint barrier go to the transaction of the lowest
// free slot, begun with the first record; PreCommit(n) flushes it and
// waits for every acknowledgement, leaving it open and staged under n,
// and later records go to another free slot. Commit(n) commits every
// transaction staged under an id <= n, oldest first, once checkpoint n is
// complete, and Abort(n) aborts the one staged under n. Slots 0 and 1
// suffice while every checkpoint is committed before the next PreCommit.
// A checkpoint that fails (the runner neither commits nor aborts it)
// leaves its transaction staged, to be committed by the next checkpoint
// that completes: the records of a staged transaction can be neither
// committed early nor written into a later transaction, so each failed
// checkpoint in a row keeps one more transaction open, under slot 2, 3,
// and so on. The writer keeps at most two producers open, though: before
// it opens one for a further slot it closes the producer of the oldest
// staged transaction, which stays open on the broker and is later ended
// with a raw EndTxn through another producer. Committable(n) lists the
// id, producer id and epoch of every transaction staged under an id <= n,
// so that a restore from n commits the transactions of the failed
// checkpoints before it too. A checkpoint with no records stages nothing,
// and its committable is nil unless an earlier failed one left a
// transaction staged. On brokers without KIP-890 part 2 (Kafka before 4,
// or transaction.version below 2), which keep the producer epoch across
// transactions, a slot's producer is re-initialized before it is reused,
// so that no committable of an older checkpoint names a later
// transaction.
//
// The broker aborts a transaction open longer than
// [SinkOptions.TransactionTimeout]. While checkpoints fail, the records of
// the open transactions exist nowhere else (the source replays them only
// when the job restarts from its last completed checkpoint), so the
// writer fails the job, with one line from Write or PreCommit, once its
// oldest open transaction is nine tenths of the transaction timeout old
// (by [SinkOptions.Clock]); rerunning the job resumes from the last
// completed checkpoint, whose Recover aborts those transactions, and the
// source reads their records again.
//
// Close aborts the transaction of records written since the last
// PreCommit and leaves pre-committed ones to [Sink.Recover], which the
// runner calls when a job starts, before any writer opens: it checks that
// the topic exists (and, exactly-once, that the brokers support
// transactions), commits the transactions of the restored checkpoint and
// aborts every other open transaction of the sink. Opening a writer
// re-initializes its ids, so a writer of an older run that goes on
// writing fails with "fenced by a newer writer". Uncommitted output is
// invisible to read_committed consumers; read_uncommitted consumers see
// aborted records too. The committed output of a checkpoint is lost only
// if the broker aborts its transaction first, after
// [SinkOptions.TransactionTimeout], which must therefore exceed the time
// from a PreCommit until a later checkpoint completes plus the restart
// time; Commit or Recover then fails and says so. While checkpoints
// complete, a transaction is open for about a checkpoint interval plus
// the time a checkpoint takes.
type Sink[T any] struct {
	opts SinkOptions[T]
}

// NewSink returns a sink writing to opts.Topic. Nothing connects until a
// task opens it.
func NewSink[T any](opts SinkOptions[T]) *Sink[T] {
	if len(opts.Brokers) == 0 {
		opts.Brokers = DefaultBrokers
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.TransactionTimeout <= 0 {
		opts.TransactionTimeout = DefaultTransactionTimeout
	}
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	return &Sink[T]{opts: opts}
}

// Open starts one task's writer with its own producer client.
func (s *Sink[T]) Open(sc sdk.SinkContext) (sdk.CommittingSink[T], error) {
	if s.opts.Topic == "" {
		return nil, errors.New("kafka: sink has no topic; set SinkOptions.Topic")
	}
	codec, err := sdk.CodecOf[T]()
	if err != nil {
		return nil, err
	}
	ctx := sc.Context
	if ctx == nil {
		ctx = context.Background()
	}
	o := &s.opts
	if o.ExactlyOnce {
		ts, err := s.openTxn(ctx, sc)
		if err != nil {
			return nil, err
		}
		w := &txnWriter[T]{writer: writer[T]{ctx: ctx, topic: o.Topic, key: o.Key, codec: codec, txn: ts, closeTimeout: o.ConnectTimeout}}
		w.promise = w.done
		return w, nil
	}
	cl, err := kgo.NewClient(append(clientOpts(o.Brokers, o.TLS, o.SASL, o.ConnectTimeout),
		kgo.DefaultProduceTopic(o.Topic),
		kgo.ProduceRequestTimeout(o.ConnectTimeout),
		kgo.ProducerLinger(o.Linger),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if err := ping(ctx, cl, o.Brokers, o.ConnectTimeout); err != nil {
		cl.Close()
		return nil, err
	}
	w := &writer[T]{ctx: ctx, cl: cl, topic: o.Topic, key: o.Key, codec: codec}
	w.promise = w.done
	return w, nil
}

// writer is one task's producer. Write and PreCommit are called by the
// task goroutine; acknowledgements arrive on the client's goroutines and
// only touch mu.
type writer[T any] struct {
	ctx     context.Context
	cl      *kgo.Client
	topic   string
	key     func(*T) []byte
	codec   *sdk.RecordCodec[T]
	promise func(*kgo.Record, error)
	// txn, if set, holds the transactional producers of an exactly-once
	// writer; cl is then unused.
	txn          *txnState
	closeTimeout time.Duration

	mu struct {
		sync.Mutex
		err error // the first failed produce
	}
}

func (w *writer[T]) done(_ *kgo.Record, err error) {
	if err == nil {
		return
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		err = fmt.Errorf("topic %q does not exist; create it first: %w", w.topic, err)
	}
	err = fenced(err)
	w.mu.Lock()
	if w.mu.err == nil {
		w.mu.err = fmt.Errorf("kafka: write to %s: %w", w.topic, err)
	}
	w.mu.Unlock()
}

func (w *writer[T]) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.err
}

// Write hands the batch to the producer; it blocks only when the client's
// buffer is full. A produce that failed earlier fails this call.
func (w *writer[T]) Write(ctx context.Context, b *sdk.Batch[T]) error {
	if err := w.failed(); err != nil {
		return err
	}
	cl := w.cl
	if w.txn != nil {
		if err := w.txn.checkAge(); err != nil {
			return err
		}
		var err error
		if cl, err = w.txn.client(w.ctx); err != nil {
			return err
		}
	}
	// One arena per batch holds every value and header; the records
	// reference it until they are acknowledged.
	var arena []byte
	offs := make([]int, 0, 2*len(b.Values)+1)
	for i := range b.Values {
		offs = append(offs, len(arena))
		arena = w.codec.AppendJSON(arena, &b.Values[i])
		offs = append(offs, len(arena))
		arena = w.appendTime(arena, b, i)
	}
	offs = append(offs, len(arena))
	recs := make([]kgo.Record, len(b.Values))
	for i := range b.Values {
		r := &recs[i]
		r.Topic = w.topic
		r.Value = arena[offs[2*i]:offs[2*i+1]:offs[2*i+1]]
		if t := arena[offs[2*i+1]:offs[2*i+2]:offs[2*i+2]]; len(t) > 0 {
			r.Headers = []kgo.RecordHeader{{Key: EventTimeHeader, Value: t}}
		}
		if ts, ok := w.eventTime(b, i); ok {
			r.Timestamp = ts.Time()
		}
		if w.key != nil {
			r.Key = w.key(&b.Values[i])
		}
		cl.Produce(w.ctx, r, w.promise)
	}
	return w.failed()
}

func (w *writer[T]) eventTime(b *sdk.Batch[T], i int) (sdk.Timestamp, bool) {
	if i < len(b.Times) {
		return b.Times[i], true
	}
	if w.codec.EventTime != nil {
		return w.codec.EventTime(&b.Values[i])
	}
	return 0, false
}

func (w *writer[T]) appendTime(dst []byte, b *sdk.Batch[T], i int) []byte {
	ts, ok := w.eventTime(b, i)
	if !ok || ts == sdk.MinTimestamp || ts == sdk.MaxTimestamp {
		return dst
	}
	return ts.Time().AppendFormat(dst, eventTimeLayout)
}

// PreCommit waits until every record written so far is acknowledged.
func (w *writer[T]) PreCommit(id sdk.CheckpointID) error {
	if w.txn != nil {
		if err := w.failed(); err != nil {
			return err
		}
		if err := w.txn.checkAge(); err != nil {
			return err
		}
		return w.txn.preCommit(w.ctx, id, w.failed)
	}
	if err := w.cl.Flush(w.ctx); err != nil {
		return fmt.Errorf("kafka: flush to %s for checkpoint %d: %w", w.topic, id, err)
	}
	return w.failed()
}

// Commit does nothing at-least-once: PreCommit already made the records
// visible. Exactly-once, it commits the transactions pre-committed under
// ids <= id; it is idempotent.
func (w *writer[T]) Commit(id sdk.CheckpointID) error {
	if w.txn != nil {
		return w.txn.end(w.ctx, id, true)
	}
	return nil
}

// Abort does nothing at-least-once: written records cannot be taken back
// without transactions; a restore writes them again. Exactly-once, it
// aborts the transaction pre-committed under id.
func (w *writer[T]) Abort(id sdk.CheckpointID) error {
	if w.txn != nil {
		return w.txn.end(w.ctx, id, false)
	}
	return nil
}

// Close closes the producer; records not yet acknowledged may be lost,
// which a restore from the last checkpoint repairs. Exactly-once, it
// aborts the transaction of records written since the last PreCommit and
// leaves pre-committed ones to the sink's Recover.
func (w *writer[T]) Close() error {
	if w.txn != nil {
		w.txn.close(w.ctx, w.closeTimeout)
		return nil
	}
	w.cl.Close()
	return nil
}

// txnWriter is an exactly-once writer: a writer that also returns the
// committable of each pre-committed transaction (sdk.CommittableWriter).
type txnWriter[T any] struct {
	writer[T]
}

// Committable returns, for the sink's Recover, every transaction still
// pre-committed under an id <= id as a JSON array of
// {"txn": id, "producer": id, "epoch": n}, oldest first: checkpoint id's
// and those of earlier checkpoints that failed (neither committed nor
// aborted), which a restore from id must commit too. It is nil if there
// is none, as when no record was written for checkpoint id.
func (w *txnWriter[T]) Committable(id sdk.CheckpointID) ([]byte, error) {
	return w.txn.committable(id)
}

// Validate reports at graph-build time a missing topic or a record type
// without a generated JSON codec.
func (s *Sink[T]) Validate() error {
	if s.opts.Topic == "" {
		return errors.New("kafka: sink has no topic; set SinkOptions.Topic")
	}
	_, err := sdk.CodecOf[T]()
	return err
}
