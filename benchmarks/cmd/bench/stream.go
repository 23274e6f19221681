package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/weirflow/weir/benchmarks/stream"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/internal/devbroker"
)

// streamConfig are the flags of the Kafka streaming figures.
type streamConfig struct {
	records     int
	runs        int
	latency     time.Duration
	latencyRuns int
	rate        int
	window      time.Duration
	bound       time.Duration
	skipLatency bool
	skipThruput bool
	parallelism int
	linger      time.Duration
}

func (s *streamConfig) flags() {
	flag.IntVar(&s.records, "stream-records", 4_000_000, "transactions prefilled into the Kafka topic for the stream throughput figure")
	flag.IntVar(&s.runs, "stream-runs", 5, "rounds of the stream throughput runs (weir and franz-go alternate)")
	flag.DurationVar(&s.latency, "stream-latency", 60*time.Second, "how long the paced producer of the latency figure runs")
	flag.IntVar(&s.latencyRuns, "stream-latency-runs", 2, "runs of the latency figure")
	flag.IntVar(&s.rate, "stream-rate", 50_000, "transactions per second of the latency figure")
	flag.DurationVar(&s.window, "stream-window", time.Second, "tumbling window of the latency figure")
	flag.DurationVar(&s.bound, "stream-bound", 30*time.Second, "out-of-orderness bound of the latency figure")
	flag.BoolVar(&s.skipLatency, "skip-stream-latency", false, "skip the stream latency figure")
	flag.BoolVar(&s.skipThruput, "skip-stream-throughput", false, "skip the stream throughput figure")
	flag.IntVar(&s.parallelism, "stream-parallelism", 2, "parallelism of the stream jobs")
	flag.DurationVar(&s.linger, "stream-linger", 0, "linger of the latency figure's producer")
}

// streamStep runs the two Kafka figures against a broker in this process
// and appends them to report; it returns false if a run failed.
func streamStep(c config, report *strings.Builder) bool {
	s := c.stream
	ctx := context.Background()
	fmt.Fprintf(report, "## fraud stream from Kafka, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(report, "Machine: %d CPUs, GOMAXPROCS=%d, %s/%s, %s. The broker (kfake, as `weir dev` serves it: internal/devbroker, in memory), the job, the producer and the consumers run in the bench process and share its cores, as they do on a laptop under `weir dev`.\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, goVersion())
	fmt.Fprintf(report, "Command: `go run ./benchmarks/cmd/bench %s` (`make bench` runs the same; `-skip-stream` leaves these figures out).\n\n", strings.Join(os.Args[1:], " "))
	ok := true
	// Each figure gets a fresh broker, so that the latency run's heap does
	// not hold the throughput figure's topics.
	for _, fig := range []struct {
		skip bool
		run  func(context.Context, config, []string, *strings.Builder) bool
	}{{s.skipThruput, streamThroughput}, {s.skipLatency, streamLatency}} {
		if fig.skip {
			continue
		}
		b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0"})
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: stream: %v\n", err)
			fmt.Fprintf(report, "Not measured: %v\n\n", err)
			return false
		}
		if !fig.run(ctx, c, b.Brokers(), report) {
			ok = false
		}
		b.Close()
		runtime.GC()
	}
	return ok
}

func streamThroughput(ctx context.Context, c config, brokers []string, report *strings.Builder) bool {
	s := c.stream
	opts := fraudgen.Options{Rows: s.records, Users: c.users, Partitions: 4, Span: c.span, Disorder: c.disorder, Seed: c.seed}
	fmt.Fprintf(os.Stderr, "bench: stream: generating and producing %d transactions\n", s.records)
	parts := fraudgen.Generate(opts)
	expected, late := fraudgen.Expected(parts, c.window, c.bound)
	if late != 0 {
		fmt.Fprintf(report, "Throughput: not measured: the generated input has %d late rows.\n\n", late)
		return false
	}
	begin := time.Now()
	size, err := stream.Prefill(ctx, brokers, "txns", parts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: stream: %v\n", err)
		fmt.Fprintf(report, "Throughput: not measured: %v\n\n", err)
		return false
	}
	prefill := time.Since(begin)
	parts = nil
	fmt.Fprintf(report, "### Throughput\n\n")
	fmt.Fprintf(report, "Input: %d transactions (fraudgen: %d users, %v per partition, disorder %v, seed %d) as JSON, %.1f MiB of values, in 4 partitions of topic `txns`, produced once before timing in %.1fs (%.2f M rec/s); %d expected output rows (5-minute windows, 30 s bound).\n\n",
		s.records, c.users, c.span, c.disorder, c.seed, float64(size)/(1<<20), prefill.Seconds(), float64(s.records)/prefill.Seconds()/1e6, len(expected))
	var weir, franz []float64
	ok := true
	load := loadAvg()
	for round := range s.runs {
		order := []string{"franz", "weir"}
		if round%2 == 1 {
			order = []string{"weir", "franz"}
		}
		for _, which := range order {
			runtime.GC()
			var r stream.Run
			var err error
			if which == "franz" {
				r, err = stream.RunFranz(ctx, brokers, "txns")
			} else {
				r, err = stream.RunWeir(ctx, brokers, "txns", fmt.Sprintf("out-%d", round), s.parallelism)
				if err == nil && (r.Records != int64(s.records) || r.Rows != int64(len(expected))) {
					err = fmt.Errorf("read %d of %d records, wrote %d rows, expected %d", r.Records, s.records, r.Rows, len(expected))
				}
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: stream %s run %d: FAILED: %v\n", which, round+1, err)
				fmt.Fprintf(report, "- %s run %d FAILED: %v\n", which, round+1, err)
				ok = false
				continue
			}
			fmt.Fprintf(os.Stderr, "bench: stream %-5s run %d: %6.2fs, %5.2f M rec/s\n", which, round+1, r.Elapsed.Seconds(), r.PerSecond()/1e6)
			if which == "franz" {
				franz = append(franz, r.PerSecond())
			} else {
				weir = append(weir, r.PerSecond())
			}
		}
	}
	fmt.Fprintf(report, "| run | M rec/s: best | median | worst (%d runs) |\n| --- | --- | --- | --- |\n", s.runs)
	row := func(name string, v []float64) {
		if len(v) == 0 {
			fmt.Fprintf(report, "| %s | – | – | – |\n", name)
			return
		}
		hi, med, lo := spread(v)
		fmt.Fprintf(report, "| %s | %.2f | %.2f | %.2f |\n", name, hi/1e6, med/1e6, lo/1e6)
	}
	row("franz-go poll loop, decode only (`sdk.CodecOf[fraud.Txn]().DecodeJSON`)", franz)
	row(fmt.Sprintf("weir: fraud.Build, stream mode, parallelism %d, bounded Kafka source, Kafka sink", s.parallelism), weir)
	fmt.Fprintln(report)
	if len(weir) > 0 && len(franz) > 0 {
		whi, wmed, _ := spread(weir)
		fhi, fmed, _ := spread(franz)
		fmt.Fprintf(report, "- weir / franz-go decode loop: %.2f× (best runs), %.2f× (medians); goal ≥ 0.5×\n", whi/fhi, wmed/fmed)
	}
	fmt.Fprintf(report, "- weir's output: %d rows in a fresh topic per run, counted from its end offsets, equal to fraudgen.Expected\n", len(expected))
	fmt.Fprintf(report, "- load average before / after the runs: %s / %s (the broker, job and baseline share the 2 cores with whatever else runs)\n", load, loadAvg())
	fmt.Fprintf(report, "- rec/s is records over the wall time from the start of the job (listing end offsets included) to its end (weir: runner.Run returned, sink flushed)\n\n")
	return ok
}

// spread returns the best, median and worst of v.
func spread(v []float64) (hi, med, lo float64) {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)-1], v[len(v)/2], v[0]
}

func streamLatency(ctx context.Context, c config, brokers []string, report *strings.Builder) bool {
	s := c.stream
	o := stream.LatencyOptions{Rate: s.rate, Duration: s.latency, Window: s.window, Bound: s.bound,
		Parallelism: s.parallelism, Users: c.users, Seed: c.seed, Linger: s.linger}
	fmt.Fprintf(report, "### End-to-end latency\n\n")
	fmt.Fprintf(report, "%d transactions/s (paced in 1 ms ticks, round robin over 4 partitions, event time = wall clock when handed to the producer, producer linger %v), %v per run; fraud.Build with %v tumbling windows and a %v bound, stream mode, parallelism %d, unbounded Kafka source, Kafka sink (at-least-once); a consumer reads the output topic read_committed. ",
		s.rate, s.linger, s.latency, s.window, s.bound, s.parallelism)
	fmt.Fprintf(report, "A window [S, E) can fire once every partition has a transaction with event time ≥ E + bound (watermark = max − bound − 1µs ≥ E − 1µs); its instant is the latest, over partitions, of the wall times the producer was handed that transaction. Latency = wall time the output consumer's poll returned a row of the window − that instant. Per window: its last row. To sink: per window, when the job handed the window's last row to the Kafka sink's Write (a wrapper times it) − the instant; the rest is the sink's produce, the broker and the output fetch. The window the producer started in is left out.\n\n")
	fmt.Fprintf(report, "| run | produced/s | windows (missing) | rows | rows p50 | p99 | max | windows p50 | p99 | max | to sink p50 | p99 | max | GCs, longest pause |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	ok := true
	load := loadAvg()
	defer func() { fmt.Fprintf(report, "Load average before / after: %s / %s.\n\n", load, loadAvg()) }()
	var allRows, allWins []int64
	for i := range s.latencyRuns {
		fmt.Fprintf(os.Stderr, "bench: stream latency run %d: %v at %d/s\n", i+1, s.latency, s.rate)
		r, err := stream.Latency(ctx, brokers, fmt.Sprintf("lat-%d", i), o)
		if err != nil || r.Missing > 0 || r.Unmatched > 0 {
			fmt.Fprintf(os.Stderr, "bench: stream latency run %d: FAILED: %v (missing %d, unmatched %d)\n", i+1, err, r.Missing, r.Unmatched)
			fmt.Fprintf(report, "| %d | FAILED: %v; %d windows without rows, %d rows of unpassed windows | | | | | | | | |\n", i+1, err, r.Missing, r.Unmatched)
			ok = false
			continue
		}
		q := stream.Quantile
		fmt.Fprintf(report, "| %d | %.0f | %d (%d) | %d | %v | %v | %v | %v | %v | %v | %v | %v | %v | %d, %v |\n", i+1, r.Rate, r.Windows, r.Missing, r.Rows,
			ms(q(r.PerRow, .5)), ms(q(r.PerRow, .99)), ms(q(r.PerRow, 1)), ms(q(r.PerWindow, .5)), ms(q(r.PerWindow, .99)), ms(q(r.PerWindow, 1)),
			ms(q(r.ToSink, .5)), ms(q(r.ToSink, .99)), ms(q(r.ToSink, 1)), r.GCs, ms(r.MaxGCPause))
		fmt.Fprintf(os.Stderr, "bench: stream latency run %d: rows p50 %v p99 %v, windows p50 %v p99 %v\n", i+1,
			ms(q(r.PerRow, .5)), ms(q(r.PerRow, .99)), ms(q(r.PerWindow, .5)), ms(q(r.PerWindow, .99)))
		allRows, allWins = append(allRows, r.PerRow...), append(allWins, r.PerWindow...)
	}
	if s.latencyRuns > 1 && len(allRows) > 0 {
		slices.Sort(allRows)
		slices.Sort(allWins)
		q := stream.Quantile
		fmt.Fprintf(report, "| all | | %d | %d | %v | %v | %v | %v | %v | %v | | | | |\n", len(allWins), len(allRows),
			ms(q(allRows, .5)), ms(q(allRows, .99)), ms(q(allRows, 1)), ms(q(allWins, .5)), ms(q(allWins, .99)), ms(q(allWins, 1)))
	}
	fmt.Fprintf(report, "\nGoal: p99 < 100 ms.\n\n")
	return ok
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
