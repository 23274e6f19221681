package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/io/iotest"
	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// kev is ev with a JSON codec, for Kafka.
type kev struct {
	Key string    `json:"key"`
	V   int       `json:"v"`
	At  time.Time `json:"at"`
}

func init() {
	sdk.RegisterRecord(iotest.JSONCodec("at", func(v *kev) time.Time { return v.At }))
}

// kafkaCluster starts a one-broker kfake cluster with one topic and returns
// its brokers and a client producing to chosen partitions.
func kafkaCluster(t *testing.T, topic string, partitions int32) ([]string, *kgo.Client) {
	t.Helper()
	c, cl := newKafkaCluster(t, topic, partitions)
	return c.ListenAddrs(), cl
}

// newKafkaCluster is kafkaCluster, returning the cluster itself.
func newKafkaCluster(t *testing.T, topic string, partitions int32) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, cl
}

func produceEvents(t *testing.T, cl *kgo.Client, topic string, part int32, evs []ev) {
	t.Helper()
	var recs []*kgo.Record
	for _, x := range evs {
		b, _ := json.Marshal(kev(x))
		recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Value: b})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// kafkaWindow builds Read(kafka) → KeyBy → Tumbling(40µs) → Sum.
func kafkaWindow(src sdk.Source[kev], bound time.Duration) (*sdk.Pipeline, *runnertest.Sink[sdk.Result[string, int]]) {
	p := sdk.NewPipeline()
	in := sdk.Read[kev](p, src, sdk.BoundedOutOfOrderness(bound))
	out := &runnertest.Sink[sdk.Result[string, int]]{}
	keyed := sdk.KeyBy(in, func(x kev) string { return x.Key })
	sdk.Write(sdk.Aggregate(sdk.WindowInto(keyed, sdk.Tumbling(40*µs)), sdk.Sum(func(x kev) int { return x.V })), out)
	return p, out
}

// TestKafkaBoundedStreamParity: a bounded Kafka topic of 4 partitions read
// in stream mode at parallelism 2 gives the windows of a batch job over
// the same events from memory.
func TestKafkaBoundedStreamParity(t *testing.T) {
	rnd := rand.New(rand.NewSource(11))
	const bound = 30
	brokers, cl := kafkaCluster(t, "ev", 4)
	var data [][]ev
	for part := range 4 {
		var split []ev
		ts := int64(rnd.Intn(100))
		for i := range 150 {
			ts += int64(rnd.Intn(8))
			split = append(split, e(fmt.Sprintf("k%d", rnd.Intn(5)), part*1000+i, ts-int64(rnd.Intn(bound+1))))
		}
		produceEvents(t, cl, "ev", int32(part), split)
		data = append(data, split)
	}
	want, late, _ := runWindow(t, data, bound*µs, sdk.Tumbling(40*µs), 0, Options{})
	if len(late) != 0 || len(want) == 0 {
		t.Fatalf("batch: %d results, %d late", len(want), len(late))
	}
	src := kafka.NewSource[kev](kafka.SourceOptions{Brokers: brokers, Topics: []string{"ev"}, Bounded: true, PollTimeout: 20 * time.Millisecond})
	p, out := kafkaWindow(src, bound*µs)
	st := mustRun(t, p, Options{Mode: ModeStream, Parallelism: 2, BatchSize: 16, DiscoveryInterval: 10 * time.Millisecond})
	if got := results(out); !slices.Equal(got, want) {
		t.Errorf("stream from Kafka: %d results differ from batch's %d", len(got), len(want))
	}
	if st.RowsIn != 600 || st.Late != 0 {
		t.Errorf("RowsIn %d, Late %d; want 600, 0", st.RowsIn, st.Late)
	}
}

// TestKafkaNewPartition: an unbounded Kafka source in stream mode finds a
// partition added while it runs and reads it; after a stop the windows
// that fired are committed, the others are not.
func TestKafkaNewPartition(t *testing.T) {
	skipArrivalOrder(t)
	brokers, cl := kafkaCluster(t, "ev", 1)
	produceEvents(t, cl, "ev", 0, []ev{e("a", 1, 1), e("a", 2, 5)})
	src := kafka.NewSource[kev](kafka.SourceOptions{Brokers: brokers, Topics: []string{"ev"}, PollTimeout: 20 * time.Millisecond})
	// The window operator counts the records it adds: the test waits for
	// partition 1's records to reach it, not merely to be read, before it
	// moves the watermark on. A new partition is idle until its first
	// record, so a watermark of partition 0 that overtook them on the way
	// would make them late, as in Flink.
	var added atomic.Int64
	p := sdk.NewPipeline()
	in := sdk.Read[kev](p, src, sdk.BoundedOutOfOrderness(0))
	out := &runnertest.Sink[sdk.Result[string, int]]{}
	keyed := sdk.KeyBy(in, func(x kev) string { return x.Key })
	sdk.Write(sdk.Aggregate(sdk.WindowInto(keyed, sdk.Tumbling(40*µs)), sdk.Sum(func(x kev) int { added.Add(1); return x.V })), out)
	stop := make(chan struct{})
	m := new(graph.Metrics)
	wait := runAsync(t, p, Options{Mode: ModeStream, Parallelism: 2, Stop: stop, DiscoveryInterval: 10 * time.Millisecond, Metrics: m})
	waitFor(t, "partition 0 read", func() bool { return m.RowsIn.Load() == 2 })
	adm := kadm.NewClient(cl)
	if _, err := adm.CreatePartitions(context.Background(), 1, "ev"); err != nil {
		t.Fatal(err)
	}
	// The new partition's records fire window [0,40) of key b; partition 0
	// then moves the watermark past it. The producer learns of the new
	// partition from fresh metadata.
	b1, _ := json.Marshal(kev(e("b", 10, 30)))
	b2, _ := json.Marshal(kev(e("b", 20, 50)))
	waitFor(t, "a producer that knows partition 1", func() bool {
		cl.ForceMetadataRefresh()
		return cl.ProduceSync(context.Background(),
			&kgo.Record{Topic: "ev", Partition: 1, Value: b1},
			&kgo.Record{Topic: "ev", Partition: 1, Value: b2}).FirstErr() == nil
	})
	waitFor(t, "partition 1 read", func() bool { return m.RowsIn.Load() == 4 })
	waitFor(t, "partition 1 in the window operator", func() bool { return added.Load() == 4 })
	produceEvents(t, cl, "ev", 0, []ev{e("a", 3, 60)})
	waitFor(t, "two windows written", func() bool { _, _, _, n := out.Counts(); return n == 2 })
	start := time.Now()
	close(stop)
	if _, err := wait(); err != nil {
		t.Fatalf("Run after stop: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v after stop", d)
	}
	want := []string{"a [0,40) 3 @39", "b [0,40) 10 @39"}
	if got := results(out); !slices.Equal(got, want) {
		t.Errorf("results %q, want %q", got, want)
	}
}

// TestTemporalJoinCompactedTopic: the versions of a temporal join read
// from a compacted topic (a changelog keyed by the join key), after the
// broker compacted it: each key's older versions are gone, so a record
// before the newest surviving version finds none (as in Flink, a
// compacted topic is a table's latest state, not its history), and a
// tombstone, which JSON cannot decode, is a dead letter that says so.
func TestTemporalJoinCompactedTopic(t *testing.T) {
	c, cl := newKafkaCluster(t, "clicks", 1)
	ctx := context.Background()
	compact := "compact"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &compact}, "versions"); err != nil {
		t.Fatal(err)
	}
	// Each call is one batch; the broker never compacts the last one.
	batches := [][]ev{
		{e("k0", 1, 10), e("k1", 2, 10), e("k2", 3, 10)},
		{e("k0", 4, 20), e("k1", 5, 20)},
		{e("k0", 6, 30), e("k2", 7, 30)},
		{{Key: "k1"}}, // a tombstone: k1 deleted
		{e("z", 9, 50)},
	}
	for _, b := range batches {
		var recs []*kgo.Record
		for _, x := range b {
			r := &kgo.Record{Topic: "versions", Key: []byte(x.Key)}
			if !x.At.IsZero() {
				r.Value, _ = json.Marshal(kev(x))
			}
			recs = append(recs, r)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c.Compact()
	surviving := []ev{e("k0", 6, 30), e("k2", 7, 30), e("z", 9, 50)}
	var clicks []ev
	for j, at := range []int64{15, 25, 35} {
		for i, k := range []string{"k0", "k1", "k2"} {
			clicks = append(clicks, e(k, 100+10*i+j, at))
		}
	}
	clicks = append(clicks, e("z", 200, 55))
	produceEvents(t, cl, "clicks", 0, clicks)
	want := refTemporalJoin(joinData{left: [][]ev{clicks}, right: [][]ev{surviving}})

	for _, par := range []int{1, 2} {
		src := func(topic string) sdk.Source[kev] {
			return kafka.NewSource[kev](kafka.SourceOptions{Brokers: c.ListenAddrs(), Topics: []string{topic}, Bounded: true, PollTimeout: 20 * time.Millisecond})
		}
		p := sdk.NewPipeline()
		key := func(x kev) string { return x.Key }
		l := sdk.KeyBy(sdk.Read[kev](p, src("clicks"), sdk.BoundedOutOfOrderness(5*µs)), key)
		r := sdk.KeyBy(sdk.Read[kev](p, src("versions"), sdk.BoundedOutOfOrderness(5*µs)), key)
		out := &runnertest.Sink[string]{}
		sdk.Write(sdk.TemporalJoin(l, r, func(a, b kev, ok bool) string {
			return pairString(ev(a), ev(b), ok, base.FromTime(a.At))
		}), out)
		dl := &runnertest.Sink[sdk.DeadLetter]{}
		st := mustRun(t, p, Options{Mode: ModeStream, Parallelism: par, DeadLetters: dl})
		if got := stamped(out); !slices.Equal(got, want) {
			t.Errorf("P=%d: rows %q, want %q", par, got, want)
		}
		// 10 clicks, 3 versions and the tombstone: compaction removed 5.
		if st.RowsIn != 14 || st.Late != 0 {
			t.Errorf("P=%d: stats %+v, want 14 rows in, none late", par, st)
		}
		if d := dl.Values(); len(d) != 1 || !strings.Contains(d[0].Reason, "tombstone") || d[0].Input == "" {
			t.Errorf("P=%d: dead letters %+v, want the tombstone's", par, d)
		}
	}
}
