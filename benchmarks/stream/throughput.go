package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/internal/devbroker"
	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/sdk"
)

// Prefill creates topic with one partition per element of parts and
// writes parts[p] to partition p as JSON (the generated codec), returning
// the bytes of values written once all are acknowledged.
func Prefill(ctx context.Context, brokers []string, topic string, parts [][]fraud.Txn) (int64, error) {
	if err := devbroker.CreateTopic(ctx, brokers, topic, len(parts)); err != nil {
		return 0, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(1<<20),
		kgo.MaxBufferedRecords(1<<16))
	if err != nil {
		return 0, fmt.Errorf("stream: prefill %s: %w", topic, err)
	}
	defer cl.Close()
	codec, err := sdk.CodecOf[fraud.Txn]()
	if err != nil {
		return 0, err
	}
	var size int64
	var first error
	promise := func(_ *kgo.Record, err error) {
		if err != nil && first == nil {
			first = err // promises run serially in one goroutine
		}
	}
	const chunk = 4096
	for p, rows := range parts {
		for lo := 0; lo < len(rows); lo += chunk {
			hi := min(lo+chunk, len(rows))
			var arena []byte
			offs := make([]int, 0, hi-lo+1)
			for i := lo; i < hi; i++ {
				offs = append(offs, len(arena))
				arena = codec.AppendJSON(arena, &rows[i])
			}
			offs = append(offs, len(arena))
			size += int64(len(arena))
			for i := range hi - lo {
				cl.Produce(ctx, &kgo.Record{Partition: int32(p), Value: arena[offs[i]:offs[i+1]:offs[i+1]]}, promise)
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, fmt.Errorf("stream: prefill %s: %w", topic, err)
	}
	if first != nil {
		return 0, fmt.Errorf("stream: prefill %s: %w", topic, first)
	}
	return size, nil
}

// Run is one timed read of a prefilled topic.
type Run struct {
	Records int64         // records read
	Rows    int64         // rows written by the job (0 for the baseline)
	Elapsed time.Duration // from the start of the job to its end
}

// PerSecond is Records per second of Elapsed.
func (r Run) PerSecond() float64 { return float64(r.Records) / r.Elapsed.Seconds() }

// RunWeir runs fraud.Build (5-minute windows, 30 s bound) in stream mode at
// the given parallelism, reading topic with a bounded Kafka source (the
// job ends at the end offsets seen at its start) and writing its rows to
// outTopic, which it creates. Rows counts the records in outTopic after
// the job; the sink is at-least-once, so it may exceed the job's rows only
// if a produce was retried.
func RunWeir(ctx context.Context, brokers []string, topic, outTopic string, parallelism int) (Run, error) {
	if err := devbroker.CreateTopic(ctx, brokers, outTopic, 4); err != nil {
		return Run{}, err
	}
	p := sdk.NewPipeline()
	src := kafka.NewSource[fraud.Txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{topic}, Bounded: true})
	sink := kafka.NewSink[fraud.UserTotal](kafka.SinkOptions[fraud.UserTotal]{Brokers: brokers, Topic: outTopic})
	fraud.Build(p, src, sink, nil, fraud.Options{})
	begin := time.Now()
	st, err := runner.Run(ctx, p, runner.Options{Mode: runner.ModeStream, Parallelism: parallelism})
	elapsed := time.Since(begin)
	if err != nil {
		return Run{}, fmt.Errorf("stream: weir over %s: %w", topic, err)
	}
	if st.Late != 0 || st.DeadLettered != 0 {
		return Run{}, fmt.Errorf("stream: weir over %s: %d late and %d bad records; the input has none", topic, st.Late, st.DeadLettered)
	}
	n, err := count(ctx, brokers, outTopic)
	if err != nil {
		return Run{}, err
	}
	return Run{Records: st.RowsIn, Rows: n, Elapsed: elapsed}, nil
}

// count is the number of records in topic (the sum of its end offsets;
// the topic was empty when created and nothing is deleted).
func count(ctx context.Context, brokers []string, topic string) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("stream: end offsets of %s: %w", topic, err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
}

// endOffsets are the end offsets of topic's partitions.
func endOffsets(ctx context.Context, brokers []string, topic string) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("stream: end offsets of %s: %w", topic, err)
	}
	m := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
	return m, nil
}

// RunFranz is the baseline: one franz-go client consuming every partition
// of topic from offset 0 (read_committed, direct assignment, franz-go's
// default fetch sizes) and one goroutine polling it that decodes every
// value into a fraud.Txn with the generated JSON codec, until the end
// offsets listed at its start are reached.
func RunFranz(ctx context.Context, brokers []string, topic string) (Run, error) {
	begin := time.Now()
	ends, err := endOffsets(ctx, brokers, topic)
	if err != nil {
		return Run{}, err
	}
	var want int64
	offs := map[int32]kgo.Offset{}
	for p, e := range ends {
		want += e
		offs[p] = kgo.NewOffset().At(0)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return Run{}, err
	}
	defer cl.Close()
	codec, err := sdk.CodecOf[fraud.Txn]()
	if err != nil {
		return Run{}, err
	}
	decode := codec.DecodeJSON
	var n int64
	var t fraud.Txn
	var bad error
	for n < want {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return Run{}, fmt.Errorf("stream: franz-go over %s: %d of %d records: %w", topic, n, want, err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			if err := decode(r.Value, &t); err != nil && bad == nil {
				bad = err
			}
			n++
		})
	}
	if bad != nil {
		return Run{}, fmt.Errorf("stream: franz-go over %s: decode: %w", topic, bad)
	}
	return Run{Records: n, Elapsed: time.Since(begin)}, nil
}
