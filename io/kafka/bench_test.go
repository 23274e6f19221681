package kafka_test

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/sdk"
)

// BenchmarkKafkaSource reads benchRecords fraud-like JSON records from four
// partitions of an in-process kfake broker, through the Source (one
// goroutine reading all splits in turn, as a runner task does) and through
// a plain franz-go poll loop that only decodes them with the same codec.
// The rec/s metrics of the two sub-benchmarks give the Source's overhead.
//
//	go test -run=NONE -bench=KafkaSource -count=10 ./io/kafka
func BenchmarkKafkaSource(b *testing.B) {
	const parts, benchRecords = 4, 200_000
	brokers := cluster(b, parts, "bench")
	cl := producer(b, brokers, kgo.ProducerBatchMaxBytes(1<<20))
	var size int64
	for p := range int32(parts) {
		recs := make([]*kgo.Record, 0, benchRecords/parts)
		for i := range benchRecords / parts {
			v := js(mkTxn(int(p)*benchRecords + i))
			size += int64(len(v))
			recs = append(recs, &kgo.Record{Topic: "bench", Partition: p, Value: v})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("json/source", func(b *testing.B) { benchSource[txn](b, brokers, benchRecords, size) })
	b.Run("json/franz-go", func(b *testing.B) { benchFranz[txn](b, brokers, parts, benchRecords, size) })
	// raw does not decode: the cost of the read path alone.
	b.Run("raw/source", func(b *testing.B) { benchSource[raw](b, brokers, benchRecords, size) })
	b.Run("raw/franz-go", func(b *testing.B) { benchFranz[raw](b, brokers, parts, benchRecords, size) })
}

// raw keeps the value bytes without decoding them.
type raw struct{ b []byte }

func init() {
	sdk.RegisterRecord(sdk.RecordCodec[raw]{
		Name:       "kafka_test.raw",
		DecodeJSON: func(src []byte, v *raw) error { v.b = src; return nil },
	})
}

func report(b *testing.B, n int) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rec/s")
}

func benchSource[T any](b *testing.B, brokers []string, want int, size int64) {
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(size)
	for range b.N {
		src := kafka.NewSource[T](kafka.SourceOptions{Brokers: brokers, Topics: []string{"bench"}, Bounded: true})
		splits, err := src.Splits(ctx)
		if err != nil {
			b.Fatal(err)
		}
		var readers []sdk.SplitReader[T]
		for _, s := range splits {
			r, err := src.Open(ctx, s, nil)
			if err != nil {
				b.Fatal(err)
			}
			readers = append(readers, r)
		}
		batch := sdk.NewBatch[T](1024)
		n := 0
		for len(readers) > 0 {
			for i := 0; i < len(readers); i++ {
				batch.Reset()
				_, err := readers[i].ReadBatch(ctx, batch, 1024)
				n += batch.Len()
				if errors.Is(err, sdk.ErrEndOfSplit) {
					readers[i].Close()
					readers = append(readers[:i], readers[i+1:]...)
					i--
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
		if n != want {
			b.Fatalf("read %d records, want %d", n, want)
		}
	}
	report(b, want)
}

func benchFranz[T any](b *testing.B, brokers []string, parts int32, want int, size int64) {
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(size)
	codec, err := sdk.CodecOf[T]()
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		assign := map[int32]kgo.Offset{}
		for p := range parts {
			assign[p] = kgo.NewOffset().AtStart()
		}
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(brokers...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"bench": assign}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		)
		if err != nil {
			b.Fatal(err)
		}
		batch := sdk.NewBatch[T](1024)
		n := 0
		for n < want {
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				b.Fatal(err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if batch.Len() == 1024 {
					batch.Reset()
				}
				var zero T
				batch.Values = append(batch.Values, zero)
				if err := codec.DecodeJSON(r.Value, &batch.Values[batch.Len()-1]); err != nil {
					b.Fatal(err)
				}
				n++
			})
		}
		cl.Close()
	}
	report(b, want)
}
