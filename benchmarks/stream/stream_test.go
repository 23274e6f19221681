package stream

import (
	"context"
	"testing"
	"time"

	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/internal/devbroker"
)

func broker(tb testing.TB) []string {
	tb.Helper()
	b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	return b.Brokers()
}

// TestThroughputSmall runs both sides of the throughput figure on 40,000
// transactions and checks that they read all of them and that weir wrote
// the expected number of rows.
func TestThroughputSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a broker and a job; skipped under -short")
	}
	ctx := context.Background()
	brokers := broker(t)
	parts := fraudgen.Generate(fraudgen.Options{Rows: 40_000, Users: 500, Partitions: 4, Span: time.Hour, Disorder: 20 * time.Second, Seed: 1})
	want, late := fraudgen.Expected(parts, 5*time.Minute, 30*time.Second)
	if late != 0 {
		t.Fatalf("%d late rows", late)
	}
	if _, err := Prefill(ctx, brokers, "txns", parts); err != nil {
		t.Fatal(err)
	}
	f, err := RunFranz(ctx, brokers, "txns")
	if err != nil || f.Records != 40_000 {
		t.Fatalf("franz-go: %+v, %v", f, err)
	}
	w, err := RunWeir(ctx, brokers, "txns", "out", 2)
	if err != nil || w.Records != 40_000 || w.Rows != int64(len(want)) {
		t.Fatalf("weir: %+v, %v; want 40000 records, %d rows", w, err, len(want))
	}
}

// TestLatencySmall runs the latency figure scaled down (5,000/s for 3 s,
// 200 ms windows, 1 s bound) and checks that rows of passed windows were
// read with plausible latencies.
func TestLatencySmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a broker and a job for seconds; skipped under -short")
	}
	brokers := broker(t)
	r, err := Latency(context.Background(), brokers, "lat", LatencyOptions{
		Rate: 5000, Duration: 3 * time.Second, Window: 200 * time.Millisecond, Bound: time.Second, Users: 200, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("produced %d (%.0f/s), %d windows (%d missing), %d rows, %d unmatched; row p50 %v p99 %v; window p50 %v p99 %v; to sink p50 %v",
		r.Produced, r.Rate, r.Windows, r.Missing, r.Rows, r.Unmatched,
		Quantile(r.PerRow, .5), Quantile(r.PerRow, .99), Quantile(r.PerWindow, .5), Quantile(r.PerWindow, .99), Quantile(r.ToSink, .5))
	if r.Windows < 5 || r.Missing != 0 || r.Unmatched > 0 {
		t.Errorf("windows %d, missing %d, unmatched %d", r.Windows, r.Missing, r.Unmatched)
	}
	if len(r.ToSink) != r.Windows || r.ToSink[len(r.ToSink)-1] > r.PerWindow[len(r.PerWindow)-1] {
		t.Errorf("to-sink times: %d for %d windows, longest %dµs, longest latency %dµs", len(r.ToSink), r.Windows, r.ToSink[len(r.ToSink)-1], r.PerWindow[len(r.PerWindow)-1])
	}
	if r.PerRow[0] < 0 {
		t.Errorf("a row was read %v before its window could fire", time.Duration(r.PerRow[0])*time.Microsecond)
	}
}
