package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/sdk"
)

// Sink writes records of type T as JSON values to one Kafka topic.
//
// Delivery is at-least-once: [CommittingSink.PreCommit] waits until every
// record written so far is acknowledged by the broker, so a checkpoint
// never covers a lost record, but records written after the last
// checkpoint are written again after a restore. Commit and Abort do
// nothing yet; exactly-once delivery with Kafka transactions (a
// transactional producer per task, committed in Commit) is not built.
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
		w.cl.Produce(w.ctx, r, w.promise)
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
	if err := w.cl.Flush(w.ctx); err != nil {
		return fmt.Errorf("kafka: flush to %s for checkpoint %d: %w", w.topic, id, err)
	}
	return w.failed()
}

// Commit does nothing: PreCommit already made the records visible
// (at-least-once). It becomes a transaction commit with exactly-once.
func (w *writer[T]) Commit(sdk.CheckpointID) error { return nil }

// Abort does nothing: written records cannot be taken back without
// transactions; a restore writes them again.
func (w *writer[T]) Abort(sdk.CheckpointID) error { return nil }

// Close closes the producer; records not yet acknowledged may be lost,
// which a restore from the last checkpoint repairs.
func (w *writer[T]) Close() error {
	w.cl.Close()
	return nil
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
