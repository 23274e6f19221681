package fraud_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/io/jsonl"
	"github.com/weirflow/weir/io/parquet"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/sdk"
)

// BenchmarkNetworkShuffle is the network shuffle figure: the fraud
// backfill (1 M transactions from Parquet) at parallelism 4 with its tasks
// in one place (batches by pointer), then over 2 workers joined by the
// network exchange (every batch between tasks on different workers
// encoded, sent over loopback TCP with credit-based flow control and
// decoded). The second reports x-local: its rows/s over the first's, both
// run by this process. The fraud job shuffles only the large transactions
// (a fifth of the rows); "all" is the same job without the filter, so
// that every row is shuffled and half of them cross workers.
//
//	go test -run=NONE -bench=NetworkShuffle -benchtime=3x ./examples/fraud
func BenchmarkNetworkShuffle(b *testing.B) {
	const rows = 1_000_000
	parts := fraudgen.Generate(fraudgen.Options{Rows: rows, Users: 20_000, Partitions: 4, Span: 4 * time.Hour,
		Disorder: 20 * time.Second, Seed: 3})
	in := b.TempDir()
	if _, err := fraudgen.WriteParquet(in, parts, 50_000); err != nil {
		b.Fatal(err)
	}
	glob := filepath.Join(in, "*.parquet")
	for _, job := range []string{"fraud", "all"} {
		var local float64
		for _, workers := range []int{0, 2} {
			name := job + "/local"
			if workers > 1 {
				name = fmt.Sprintf("%s/workers=%d", job, workers)
			}
			b.Run(name, func(b *testing.B) {
				var sent int64
				for b.Loop() {
					out := b.TempDir()
					p := sdk.NewPipeline(sdk.JobName("fraud"))
					src := parquet.NewSource[fraud.Txn](glob, parquet.SourceOptions{})
					if job == "fraud" {
						fraud.Build(p, src,
							jsonl.NewSink[fraud.UserTotal](out, jsonl.SinkOptions{}),
							jsonl.NewSink[fraud.Txn](filepath.Join(out, "late"), jsonl.SinkOptions{}),
							fraud.Options{})
					} else {
						buildAll(p, src, jsonl.NewSink[fraud.UserTotal](out, jsonl.SinkOptions{}))
					}
					m := new(runner.Metrics)
					st, err := runner.Run(context.Background(), p, runner.Options{Parallelism: 4, NetworkWorkers: workers, Metrics: m})
					if err != nil {
						b.Fatal(err)
					}
					if st.RowsIn != rows {
						b.Fatalf("read %d rows, want %d", st.RowsIn, rows)
					}
					sent += m.NetworkBytes.Load()
				}
				b.ReportMetric(float64(sent)/float64(b.N)/1e6, "net-MB/op")
				rate := float64(rows) * float64(b.N) / b.Elapsed().Seconds()
				b.ReportMetric(rate, "rows/s")
				if workers == 0 {
					local = rate
				} else if local > 0 {
					b.ReportMetric(rate/local, "x-local")
				}
			})
		}
	}
}

// buildAll is the fraud pipeline without its filter: every transaction
// goes through the keyed shuffle.
func buildAll(p *sdk.Pipeline, in sdk.Source[fraud.Txn], out sdk.Sink[fraud.UserTotal]) {
	txns := sdk.Read(p, in, sdk.Named("txns"), sdk.BoundedOutOfOrderness(30*time.Second))
	win := sdk.WindowInto(sdk.KeyBy(txns, fraud.UserOf), sdk.Tumbling(5*time.Minute), sdk.Named("5m"))
	totals := sdk.Aggregate(win, sdk.Combiner[fraud.Txn, fraud.SumCount, fraud.SumCount](fraud.SumAndCount{}))
	sdk.Write(sdk.Map(totals, fraud.ToUserTotal), out, sdk.Named("results"))
}
