package stream

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/internal/devbroker"
	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/sdk"
)

// LatencyOptions configure [Latency]; the zero value is the figure:
// 50,000 transactions/s for 60 s over 4 partitions, 1 s tumbling windows,
// a 30 s bound, parallelism 2.
type LatencyOptions struct {
	Rate        int           // transactions per second (default 50,000)
	Duration    time.Duration // how long the producer runs (default 60 s)
	Window      time.Duration // tumbling window (default 1 s)
	Bound       time.Duration // out-of-orderness bound (default 30 s)
	Partitions  int           // of the input topic (default 4)
	Parallelism int           // of the job (default 2)
	Users       int           // distinct users (default 10,000)
	Seed        uint64        // of users and amounts
	// Linger is the producer's linger (0: none, each record is sent as
	// soon as the client can).
	Linger time.Duration
}

func (o *LatencyOptions) ensureDefaults() {
	if o.Rate <= 0 {
		o.Rate = 50_000
	}
	if o.Duration <= 0 {
		o.Duration = 60 * time.Second
	}
	if o.Window <= 0 {
		o.Window = time.Second
	}
	if o.Bound <= 0 {
		o.Bound = 30 * time.Second
	}
	if o.Partitions <= 0 {
		o.Partitions = 4
	}
	if o.Parallelism <= 0 {
		o.Parallelism = 2
	}
	if o.Users <= 0 {
		o.Users = 10_000
	}
}

// LatencyResult is what [Latency] measured.
type LatencyResult struct {
	Produced int64 // transactions produced
	Rate     float64
	Rows     int     // result rows of measured windows
	Windows  int     // windows the watermark passed during the run (the first, partial one left out)
	Missing  int     // of those, windows of which no row was read
	PerRow   []int64 // latency of every row, µs, sorted
	// PerWindow is the latency of each window's last row, µs, sorted: when
	// the whole result of the window is readable.
	PerWindow []int64
	// ToSink is, per window, when the job handed the window's last row to
	// its sink's Write minus the window's instant, µs, sorted: the part of
	// the latency spent before the sink (reading, watermarks, firing).
	ToSink []int64
	// GCs and MaxGCPause are the collections of this process during the
	// run and the longest stop-the-world pause among them.
	GCs        int64
	MaxGCPause time.Duration
	// Unmatched counts rows of windows the watermark had not passed at the
	// producer: a window that fired too early (a bug).
	Unmatched int
}

// Quantile is the q-quantile (nearest rank) of sorted µs latencies.
func Quantile(sorted []int64, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = min(max(i, 0), len(sorted)-1)
	return time.Duration(sorted[i]) * time.Microsecond
}

// Latency measures end-to-end latency. Transactions are produced at
// o.Rate, round robin over the partitions of a new input topic, in ticks
// of 1 ms, each with event time = the wall clock when it is handed to the
// producer (so event times are in order in every partition). The fraud
// pipeline (o.Window tumbling, o.Bound) runs in stream mode from the
// start, writing to a new output topic that a consumer reads
// (read_committed) from its start.
//
// "The watermark passes window end E": a split's watermark is its largest
// event time − bound − 1µs and a window fires when the watermark reaches
// E − 1µs, so partition p lets window [S, E) fire from the moment the
// producer hands it the first transaction with event time ≥ E + bound.
// The instant of window E is the latest of those moments over all
// partitions: the earliest time the job's watermark can pass E. A row's
// latency is the wall time at which the output consumer's poll returned it
// minus that instant. This includes the producer's send, the broker, the
// source's fetch, the pipeline, the sink's produce and the consumer's
// fetch; everything runs in this process.
//
// After the producer stops, Latency waits until the rows of the last
// window it passed are readable (at most 10 s), then stops the job
// gracefully.
func Latency(ctx context.Context, brokers []string, topic string, o LatencyOptions) (LatencyResult, error) {
	o.ensureDefaults()
	in, out := topic, topic+"-out"
	if err := devbroker.CreateTopic(ctx, brokers, in, o.Partitions); err != nil {
		return LatencyResult{}, err
	}
	if err := devbroker.CreateTopic(ctx, brokers, out, 4); err != nil {
		return LatencyResult{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The output consumer.
	type seen struct {
		end int64 // window end, µs
		at  time.Time
	}
	var mu sync.Mutex
	var rows []seen
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(out),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return LatencyResult{}, err
	}
	defer cons.Close()
	codec, err := sdk.CodecOf[fraud.UserTotal]()
	if err != nil {
		return LatencyResult{}, err
	}
	consDone := make(chan error, 1)
	go func() {
		var u fraud.UserTotal
		for {
			fs := cons.PollFetches(ctx)
			now := time.Now()
			if ctx.Err() != nil {
				consDone <- nil
				return
			}
			var bad error
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if err := codec.DecodeJSON(r.Value, &u); err != nil {
					bad = err
					return
				}
				rows = append(rows, seen{u.WindowEnd.UnixMicro(), now})
			})
			mu.Unlock()
			if bad != nil {
				consDone <- fmt.Errorf("stream: output row: %w", bad)
				return
			}
		}
	}()

	// The job.
	p := sdk.NewPipeline()
	src := kafka.NewSource[fraud.Txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{in}})
	var sink sdk.Sink[fraud.UserTotal] = kafka.NewSink[fraud.UserTotal](kafka.SinkOptions[fraud.UserTotal]{Brokers: brokers, Topic: out})
	timed := &timingSink{inner: sink, last: map[int64]time.Time{}}
	sink = timed
	var gc0 debug.GCStats
	debug.ReadGCStats(&gc0)
	fraud.Build(p, src, sink, nil, fraud.Options{Window: o.Window, Bound: o.Bound})
	stop := make(chan struct{})
	jobDone := make(chan error, 1)
	var stats runner.Stats
	go func() {
		st, err := runner.Run(ctx, p, runner.Options{Mode: runner.ModeStream, Parallelism: o.Parallelism, Stop: stop})
		stats = st
		jobDone <- err
	}()

	// The producer, in this goroutine.
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(in),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(o.Linger))
	if err != nil {
		return LatencyResult{}, err
	}
	defer prod.Close()
	txc, err := sdk.CodecOf[fraud.Txn]()
	if err != nil {
		return LatencyResult{}, err
	}
	var first error
	var fmu sync.Mutex
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			fmu.Lock()
			if first == nil {
				first = err
			}
			fmu.Unlock()
		}
	}
	rnd := rand.New(rand.NewPCG(o.Seed, 7))
	users := make([]string, o.Users)
	for i := range users {
		users[i] = fraudgen.UserID(i)
	}
	merchants := []string{"grocer", "fuel", "airline", "hotel", "bookshop", "electro"}
	win, bound := o.Window.Microseconds(), o.Bound.Microseconds()
	start := time.Now()
	// cross[E][p]: when partition p let window end E fire; next[p]: the
	// next window end partition p has not yet passed.
	cross := map[int64][]time.Time{}
	next := make([]int64, o.Partitions)
	firstEnd := (start.UnixMicro()/win + 1) * win
	for p := range next {
		next[p] = firstEnd
	}
	var produced int64
	tick := time.NewTicker(time.Millisecond)
	for {
		now := time.Now()
		el := now.Sub(start)
		if el >= o.Duration {
			break
		}
		due := int64(el.Seconds()*float64(o.Rate)) + 1
		for ; produced < due; produced++ {
			part := int(produced % int64(o.Partitions))
			ts := time.Now().Truncate(time.Microsecond)
			us := ts.UnixMicro()
			for next[part]+bound <= us {
				c := cross[next[part]]
				if c == nil {
					c = make([]time.Time, o.Partitions)
					cross[next[part]] = c
				}
				c[part] = ts
				next[part] += win
			}
			t := fraud.Txn{UserID: users[rnd.IntN(len(users))], Amount: amount(rnd), Merchant: merchants[rnd.IntN(len(merchants))], At: ts}
			prod.Produce(ctx, &kgo.Record{Partition: int32(part), Value: txc.AppendJSON(nil, &t)}, promise)
		}
		select {
		case <-tick.C:
		case err := <-jobDone:
			return LatencyResult{}, fmt.Errorf("stream: the job ended while producing: %v", err)
		case <-ctx.Done():
			return LatencyResult{}, ctx.Err()
		}
	}
	tick.Stop()
	prodEnd := time.Since(start)
	if err := prod.Flush(ctx); err != nil {
		return LatencyResult{}, err
	}
	fmu.Lock()
	perr := first
	fmu.Unlock()
	if perr != nil {
		return LatencyResult{}, fmt.Errorf("stream: produce: %w", perr)
	}
	// instant[E]: when every partition had passed E.
	instant := map[int64]time.Time{}
	var last int64
	for e, c := range cross {
		if slices.ContainsFunc(c, time.Time.IsZero) {
			continue
		}
		instant[e] = slices.MaxFunc(c, time.Time.Compare)
		last = max(last, e)
	}
	// Wait for the rows of the last passed window, then a quiet 500 ms.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		got := slices.ContainsFunc(rows, func(s seen) bool { return s.end == last })
		var lastAt time.Time
		if len(rows) > 0 {
			lastAt = rows[len(rows)-1].at
		}
		mu.Unlock()
		if got && time.Since(lastAt) > 500*time.Millisecond {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	if err := <-jobDone; err != nil {
		return LatencyResult{}, fmt.Errorf("stream: the job: %w", err)
	}
	cancel()
	if err := <-consDone; err != nil {
		return LatencyResult{}, err
	}
	if stats.Late != 0 {
		return LatencyResult{}, fmt.Errorf("stream: %d late transactions; event times are in order, so none should be", stats.Late)
	}

	res := LatencyResult{Produced: produced, Rate: float64(produced) / prodEnd.Seconds()}
	lastRow := map[int64]time.Time{}
	for _, s := range rows {
		if s.end == firstEnd {
			continue // the window the producer started in: not measured
		}
		at, ok := instant[s.end]
		if !ok {
			res.Unmatched++
			continue
		}
		res.Rows++
		res.PerRow = append(res.PerRow, s.at.Sub(at).Microseconds())
		if s.at.After(lastRow[s.end]) {
			lastRow[s.end] = s.at
		}
	}
	for e, t := range lastRow {
		res.PerWindow = append(res.PerWindow, t.Sub(instant[e]).Microseconds())
	}
	for e := range instant {
		if e == firstEnd {
			continue
		}
		res.Windows++
		if _, ok := lastRow[e]; !ok {
			res.Missing++
		}
	}
	timed.mu.Lock()
	for e, t := range timed.last {
		if _, ok := lastRow[e]; ok {
			res.ToSink = append(res.ToSink, t.Sub(instant[e]).Microseconds())
		}
	}
	timed.mu.Unlock()
	slices.Sort(res.ToSink)
	var gc1 debug.GCStats
	gc1.PauseQuantiles = make([]time.Duration, 0)
	debug.ReadGCStats(&gc1)
	res.GCs = gc1.NumGC - gc0.NumGC
	for i := range min(int(res.GCs), len(gc1.Pause)) {
		res.MaxGCPause = max(res.MaxGCPause, gc1.Pause[i])
	}
	slices.Sort(res.PerRow)
	slices.Sort(res.PerWindow)
	if res.Rows == 0 {
		return res, errors.New("stream: no result row of a passed window was read")
	}
	return res, nil
}

// amount draws like fraudgen: log-normal, median 400, σ 1.1 (about 20% of
// the amounts exceed fraud.Threshold).
func amount(r *rand.Rand) int64 {
	return max(int64(math.Exp(math.Log(400)+1.1*r.NormFloat64())), 1)
}

// timingSink records, per window end, the last time a row of the window
// was handed to the inner sink's Write.
type timingSink struct {
	inner sdk.Sink[fraud.UserTotal]
	mu    sync.Mutex
	last  map[int64]time.Time
}

func (s *timingSink) Open(ctx sdk.SinkContext) (sdk.CommittingSink[fraud.UserTotal], error) {
	w, err := s.inner.Open(ctx)
	if err != nil {
		return nil, err
	}
	return timingWriter{w, s}, nil
}

type timingWriter struct {
	sdk.CommittingSink[fraud.UserTotal]
	s *timingSink
}

func (w timingWriter) Write(ctx context.Context, b *sdk.Batch[fraud.UserTotal]) error {
	now := time.Now()
	w.s.mu.Lock()
	for i := range b.Values {
		w.s.last[b.Values[i].WindowEnd.UnixMicro()] = now
	}
	w.s.mu.Unlock()
	return w.CommittingSink.Write(ctx, b)
}
