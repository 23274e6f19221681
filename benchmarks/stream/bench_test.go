package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/weirflow/weir/examples/fraud/fraudgen"
)

// BenchmarkStreamThroughput is the quick form of the throughput figure:
// 200,000 transactions in 4 partitions of an in-process broker, read by
// the fraud job in stream mode at parallelism 2 and by the franz-go decode
// loop. Compare the rec/s metrics of the two sub-benchmarks.
//
//	go test -run=NONE -bench=StreamThroughput -count=5 ./benchmarks/stream
func BenchmarkStreamThroughput(b *testing.B) {
	const rows = 200_000
	ctx := context.Background()
	brokers := broker(b)
	parts := fraudgen.Generate(fraudgen.Options{Rows: rows, Users: 10_000, Partitions: 4, Span: 24 * time.Hour, Disorder: 20 * time.Second, Seed: 1})
	if _, err := Prefill(ctx, brokers, "txns", parts); err != nil {
		b.Fatal(err)
	}
	report := func(b *testing.B, recs int64) {
		b.ReportMetric(float64(recs)/b.Elapsed().Seconds(), "rec/s")
	}
	b.Run("franz-go", func(b *testing.B) {
		var n int64
		for range b.N {
			r, err := RunFranz(ctx, brokers, "txns")
			if err != nil {
				b.Fatal(err)
			}
			n += r.Records
		}
		report(b, n)
	})
	out := 0
	b.Run("weir", func(b *testing.B) {
		var n int64
		for range b.N {
			out++
			r, err := RunWeir(ctx, brokers, "txns", fmt.Sprintf("out-%d", out), 2)
			if err != nil {
				b.Fatal(err)
			}
			n += r.Records
		}
		report(b, n)
	})
}
