package kafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/io/iotest"
	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/sdk"
)

// txn is the test record; its codec is iotest's, over encoding/json.
type txn struct {
	UserID   string    `json:"user_id"`
	Amount   int64     `json:"amount"`
	Merchant string    `json:"merchant"`
	At       time.Time `json:"ts"`
}

func init() {
	sdk.RegisterRecord(iotest.JSONCodec("ts", func(v *txn) time.Time { return v.At }))
}

func mkTxn(i int) txn {
	return txn{
		UserID:   fmt.Sprintf("u%d", i%7),
		Amount:   int64(i * 10),
		Merchant: "m" + fmt.Sprint(i%3),
		At:       time.UnixMicro(int64(1_700_000_000_000_000 + i)).UTC(),
	}
}

func js(v txn) []byte {
	b, _ := json.Marshal(v)
	return b
}

// cluster starts a one-broker kfake cluster with the given topics.
func cluster(t testing.TB, partitions int32, topics ...string) []string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// producer returns a client that writes to the partition set on each record.
func producer(t testing.TB, brokers []string, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(t testing.TB, cl *kgo.Client, topic string, part int32, values ...[]byte) {
	t.Helper()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Partition: part, Value: v}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readUntil reads r until it has n records, or fails at a deadline.
func readUntil(t *testing.T, r sdk.SplitReader[txn], n int) ([]txn, []sdk.DeadLetter) {
	t.Helper()
	ctx := context.Background()
	b := sdk.NewBatch[txn](n)
	var dead []sdk.DeadLetter
	deadline := time.Now().Add(10 * time.Second)
	for len(b.Values) < n {
		if time.Now().After(deadline) {
			t.Fatalf("read %d records, want %d", len(b.Values), n)
		}
		d, err := r.ReadBatch(ctx, b, n-len(b.Values))
		dead = append(dead, d...)
		if err != nil && !errors.Is(err, sdk.ErrEndOfSplit) {
			t.Fatal(err)
		}
	}
	return b.Values, dead
}

func TestConformanceBounded(t *testing.T) {
	brokers := cluster(t, 3, "txns")
	cl := producer(t, brokers)
	var want []txn
	for p := range int32(3) {
		var vals [][]byte
		for i := range 20 + int(p)*7 {
			v := mkTxn(int(p)*1000 + i)
			want = append(want, v)
			vals = append(vals, js(v))
			if p == 1 && i == 5 {
				vals = append(vals, []byte(`{"user_id": "bad`))
			}
		}
		produce(t, cl, "txns", p, vals...)
	}
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}, Bounded: true})
	iotest.TestSource(t, iotest.SourceCase[txn]{
		Source:   src,
		Want:     want,
		WantDead: 1,
		Equal:    func(a, b txn) bool { return a == b },
	})
}

func TestSplitIDs(t *testing.T) {
	brokers := cluster(t, 12, "b", "a")
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"b", "a"}})
	splits, err := src.Splits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(splits) != 24 {
		t.Fatalf("got %d splits, want 24", len(splits))
	}
	for i, want := range map[int]string{0: "a/00000", 11: "a/00011", 12: "b/00000", 23: "b/00011"} {
		if got := splits[i].ID(); got != want {
			t.Errorf("split %d: ID %q, want %q", i, got, want)
		}
		s, err := kafka.ParseSplitID(want)
		if err != nil || s.ID() != want {
			t.Errorf("ParseSplitID(%q) = %v, %v", want, s, err)
		}
	}
}

// TestInterleavedExactlyOnce reads four partitions from one goroutine
// through one source, as a runner task does, while more records arrive.
func TestInterleavedExactlyOnce(t *testing.T) {
	const parts, per = 4, 300
	brokers := cluster(t, parts, "txns")
	cl := producer(t, brokers)
	ctx := context.Background()
	send := func(round int) {
		for p := range int32(parts) {
			var vals [][]byte
			for i := range per {
				vals = append(vals, js(mkTxn(round*100000+int(p)*1000+i)))
			}
			produce(t, cl, "txns", p, vals...)
		}
	}
	send(0)
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}, MaxBufferedBytes: 64 * 100})
	splits, err := src.Splits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var readers []sdk.SplitReader[txn]
	for _, s := range splits {
		r, err := src.Open(ctx, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		readers = append(readers, r)
	}
	seen := map[txn]int{}
	b := sdk.NewBatch[txn](50)
	readAll := func(n int) {
		deadline := time.Now().Add(10 * time.Second)
		for len(seen) < n {
			if time.Now().After(deadline) {
				t.Fatalf("read %d distinct records, want %d", len(seen), n)
			}
			for _, r := range readers {
				b.Reset()
				dead, err := r.ReadBatch(ctx, b, 50)
				if err != nil || len(dead) > 0 {
					t.Fatalf("ReadBatch: %v, dead %v", err, dead)
				}
				for _, v := range b.Values {
					seen[v]++
				}
			}
		}
	}
	readAll(parts * per)
	send(1)
	readAll(2 * parts * per)
	for v, n := range seen {
		if n != 1 {
			t.Errorf("%+v read %d times", v, n)
		}
	}
	// Idle: nothing more arrives, ReadBatch returns empty within PollTimeout.
	start := time.Now()
	b.Reset()
	if _, err := readers[0].ReadBatch(ctx, b, 10); err != nil || b.Len() != 0 {
		t.Fatalf("idle ReadBatch: %d records, %v", b.Len(), err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("idle ReadBatch took %v", d)
	}
}

func TestResumeUnbounded(t *testing.T) {
	brokers := cluster(t, 1, "txns")
	cl := producer(t, brokers)
	var vals [][]byte
	for i := range 100 {
		vals = append(vals, js(mkTxn(i)))
	}
	produce(t, cl, "txns", 0, vals...)
	opts := kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}}
	ctx := context.Background()
	split := &kafka.Split{Topic: "txns", Partition: 0}

	src := kafka.NewSource[txn](opts)
	r, err := src.Open(ctx, split, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := readUntil(t, r, 37)
	pos := r.Position()
	r.Close()

	// A new source, as after a restore, resumes at the position.
	r, err = kafka.NewSource[txn](opts).Open(ctx, split, pos)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rest, _ := readUntil(t, r, 63)
	got := append(first, rest...)
	for i, v := range got {
		if v != mkTxn(i) {
			t.Fatalf("record %d: got %+v, want %+v", i, v, mkTxn(i))
		}
	}
	// Nothing more.
	b := sdk.NewBatch[txn](10)
	if _, err := r.ReadBatch(ctx, b, 10); err != nil || b.Len() != 0 {
		t.Fatalf("extra read: %d records, %v", b.Len(), err)
	}
}

func TestBoundedEnd(t *testing.T) {
	brokers := cluster(t, 2, "txns")
	cl := producer(t, brokers)
	for i := range 10 {
		produce(t, cl, "txns", 0, js(mkTxn(i)))
	}
	ctx := context.Background()
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}, Bounded: true})
	splits, err := src.Splits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Records written after the splits were listed are not read.
	for i := range 5 {
		produce(t, cl, "txns", 0, js(mkTxn(100+i)))
		produce(t, cl, "txns", 1, js(mkTxn(100+i)))
	}
	chunks := map[string]int{}
	for _, s := range splits {
		rows, _, _, err := iotest.ReadSplit(ctx, src, s, nil, 4)
		if err != nil {
			t.Fatal(err)
		}
		chunks[s.ID()] = len(rows)
	}
	if chunks["txns/00000"] != 10 || chunks["txns/00001"] != 0 {
		t.Errorf("bounded read %v, want 10 and 0 records", chunks)
	}
	// The empty partition ends at once, without waiting for a poll.
	r, err := src.Open(ctx, splits[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.ReadBatch(ctx, sdk.NewBatch[txn](1), 1); !errors.Is(err, sdk.ErrEndOfSplit) {
		t.Errorf("empty bounded split: %v, want end of split", err)
	}
}

func TestPoisonRecord(t *testing.T) {
	brokers := cluster(t, 4, "txns")
	cl := producer(t, brokers)
	produce(t, cl, "txns", 3, js(mkTxn(1)), []byte("not json"), []byte(`{"user_id":"x"}`), js(mkTxn(2)))
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}})
	r, err := src.Open(context.Background(), &kafka.Split{Topic: "txns", Partition: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, dead := readUntil(t, r, 2)
	if got[0] != mkTxn(1) || got[1] != mkTxn(2) {
		t.Errorf("got %+v", got)
	}
	if len(dead) != 2 {
		t.Fatalf("got %d dead letters, want 2: %+v", len(dead), dead)
	}
	if d := dead[0]; string(d.Record) != "not json" || d.Source != "kafka txns/3 offset 1" || !strings.HasPrefix(d.Reason, "json: ") {
		t.Errorf("dead letter %+v", d)
	}
	if d := dead[1]; d.Source != "kafka txns/3 offset 2" || !strings.Contains(d.Reason, "missing event time field ts") {
		t.Errorf("dead letter %+v", d)
	}
}

// TestDescribeRecord: the runner's dead letters for a record the reader
// returned (a missing event time) get its value and offset.
func TestDescribeRecord(t *testing.T) {
	brokers := cluster(t, 4, "txns")
	cl := producer(t, brokers)
	zero := txn{UserID: "z"} // decodes, but has no event time
	vals := [][]byte{js(mkTxn(1)), []byte("not json"), js(zero), js(mkTxn(2))}
	produce(t, cl, "txns", 3, vals...)
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}})
	r, err := src.Open(context.Background(), &kafka.Split{Topic: "txns", Partition: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d, ok := r.(interface {
		DescribeRecord(i int, v *txn) ([]byte, string)
	})
	if !ok {
		t.Fatal("the reader does not describe its records")
	}
	offsets := []int64{0, 2, 3} // of the values returned
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; n < len(offsets); {
		if time.Now().After(deadline) {
			t.Fatalf("read %d records, want %d", n, len(offsets))
		}
		b := sdk.NewBatch[txn](2)
		if _, err := r.ReadBatch(context.Background(), b, 2); err != nil {
			t.Fatal(err)
		}
		for i := range b.Values {
			off := offsets[n+i]
			rec, source := d.DescribeRecord(i, &b.Values[i])
			if string(rec) != string(vals[off]) || source != fmt.Sprintf("kafka txns/3 offset %d", off) {
				t.Errorf("value %d: %s %q, want %s offset %d", n+i, rec, source, vals[off], off)
			}
		}
		n += len(b.Values)
	}
}

func TestUnreachableBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a closed port: connections are refused

	start := time.Now()
	src := kafka.NewSource[txn](kafka.SourceOptions{
		Brokers:        []string{addr},
		Topics:         []string{"txns"},
		ConnectTimeout: 300 * time.Millisecond,
	})
	_, err = src.Splits(context.Background())
	if err == nil {
		t.Fatal("Splits of an unreachable broker succeeded")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "kafka: cannot reach brokers "+addr+": ") || !strings.HasSuffix(msg, "; is the broker running?") || strings.Contains(msg, "\n") {
		t.Errorf("error %q", msg)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	t.Log(msg)

	// A cancelled context ends the retries at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src = kafka.NewSource[txn](kafka.SourceOptions{Brokers: []string{addr}, Topics: []string{"txns"}})
	if _, err := src.Open(ctx, &kafka.Split{Topic: "txns"}, nil); err == nil {
		t.Error("Open with a cancelled context succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestMissingTopic(t *testing.T) {
	brokers := cluster(t, 1, "txns")
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"nope"}})
	_, err := src.Splits(context.Background())
	if err == nil || !strings.Contains(err.Error(), `topic "nope" does not exist`) {
		t.Errorf("got %v", err)
	}
}

func TestDiscoverAddedPartition(t *testing.T) {
	brokers := cluster(t, 2, "txns")
	ctx := context.Background()
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}})
	splits, err := src.Splits(ctx)
	if err != nil || len(splits) != 2 {
		t.Fatalf("Splits: %v, %v", splits, err)
	}
	cl := producer(t, brokers)
	if _, err := kadm.NewClient(cl).CreatePartitions(ctx, 1, "txns"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(splits) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("Discover found %d splits, want 3", len(splits))
		}
		if splits, err = src.Discover(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if id := splits[2].ID(); id != "txns/00002" {
		t.Fatalf("new split %q", id)
	}
	produce(t, cl, "txns", 2, js(mkTxn(7)))
	r, err := src.Open(ctx, splits[2], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := readUntil(t, r, 1); got[0] != mkTxn(7) {
		t.Errorf("got %+v", got[0])
	}
}

func TestStartLatestAndCommitted(t *testing.T) {
	brokers := cluster(t, 1, "txns")
	cl := producer(t, brokers)
	ctx := context.Background()
	split := &kafka.Split{Topic: "txns"}
	produce(t, cl, "txns", 0, js(mkTxn(0)), js(mkTxn(1)))

	// Latest: only what is written after the start.
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}, Start: kafka.Latest(), Group: "g"})
	r, err := src.Open(ctx, split, nil)
	if err != nil {
		t.Fatal(err)
	}
	produce(t, cl, "txns", 0, js(mkTxn(2)), js(mkTxn(3)), js(mkTxn(4)))
	if got, _ := readUntil(t, r, 2); got[0] != mkTxn(2) || got[1] != mkTxn(3) {
		t.Fatalf("latest: got %+v", got)
	}
	r.Close() // commits offset 4 to group g

	// Committed(g): continue where the group's commit says.
	src = kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}, Start: kafka.Committed("g")})
	r, err = src.Open(ctx, split, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := readUntil(t, r, 1); got[0] != mkTxn(4) {
		t.Fatalf("committed: got %+v", got)
	}

	// AtTime: records stamped at or after t.
	at := time.UnixMilli(1_800_000_000_000)
	tcl := producer(t, brokers)
	for i := range 3 {
		rec := &kgo.Record{Topic: "txns", Value: js(mkTxn(10 + i)), Timestamp: at.Add(time.Duration(i-1) * time.Second)}
		if err := tcl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	src = kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}, Start: kafka.AtTime(at), Bounded: true})
	rows, _, _, err := iotest.ReadSplit(ctx, src, split, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0] != mkTxn(11) {
		t.Errorf("at time: got %+v", rows)
	}
}

// A group without committed offsets: its partitions start where the reset
// policy says, or the start is refused with the partitions named.
func TestStartCommittedReset(t *testing.T) {
	brokers := cluster(t, 2, "txns")
	cl := producer(t, brokers)
	ctx := context.Background()
	produce(t, cl, "txns", 0, js(mkTxn(0)), js(mkTxn(1)))
	produce(t, cl, "txns", 1, js(mkTxn(2)))
	for _, tc := range []struct {
		reset kafka.Reset
		want  int // rows of partition 0 a bounded read gets
	}{{kafka.ResetEarliest, 2}, {kafka.ResetLatest, 0}} {
		src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"},
			Start: kafka.CommittedOr("nobody", tc.reset), Bounded: true})
		rows, _, _, err := iotest.ReadSplit(ctx, src, &kafka.Split{Topic: "txns"}, nil, 10)
		if err != nil || len(rows) != tc.want {
			t.Errorf("reset %s: %d rows, %v; want %d", tc.reset, len(rows), err, tc.want)
		}
	}
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"},
		Start: kafka.CommittedOr("nobody", kafka.ResetNone)})
	_, err := src.Open(ctx, &kafka.Split{Topic: "txns"}, nil)
	if err == nil || err.Error() != "kafka: group nobody has no committed offset for partitions [0 1] of txns, and its reset policy is none" {
		t.Fatalf("reset none: %v", err)
	}
	if got := kafka.CommittedOr("g", kafka.ResetLatest).String(); got != "committed(g, else latest)" {
		t.Errorf("String: %q", got)
	}
}

// TestReadCommitted: records of an aborted transaction are never read and
// a bounded read ends after the transaction markers.
func TestReadCommitted(t *testing.T) {
	brokers := cluster(t, 1, "txns")
	ctx := context.Background()
	tx := producer(t, brokers, kgo.TransactionalID("tx"))
	run := func(commit bool, vals ...[]byte) {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produce(t, tx, "txns", 0, vals...)
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	run(true, js(mkTxn(0)), js(mkTxn(1)))
	run(false, js(mkTxn(100)), js(mkTxn(101)))
	run(true, js(mkTxn(2)))
	run(false, js(mkTxn(102)))

	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}, Bounded: true})
	rows, dead, _, err := iotest.ReadSplit(ctx, src, &kafka.Split{Topic: "txns"}, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0] != mkTxn(0) || rows[2] != mkTxn(2) || len(dead) != 0 {
		t.Errorf("got %+v, dead %v", rows, dead)
	}
}

// TestConcurrentReaders reads the splits of one source from one goroutine
// each, as parallel tasks sharing a source do.
func TestConcurrentReaders(t *testing.T) {
	const parts, per = 4, 500
	brokers := cluster(t, parts, "txns")
	cl := producer(t, brokers)
	for p := range int32(parts) {
		var vals [][]byte
		for i := range per {
			vals = append(vals, js(mkTxn(int(p)*1000+i)))
		}
		produce(t, cl, "txns", p, vals...)
	}
	ctx := context.Background()
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}, Bounded: true, MaxBufferedBytes: 100 * 100})
	splits, err := src.Splits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		rows []txn
		err  error
	}
	results := make(chan result, parts)
	for _, s := range splits {
		go func() {
			rows, _, _, err := iotest.ReadSplit(ctx, src, s, nil, 64)
			results <- result{rows, err}
		}()
	}
	seen := map[txn]bool{}
	for range parts {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		for _, v := range r.rows {
			if seen[v] {
				t.Errorf("duplicate %+v", v)
			}
			seen[v] = true
		}
	}
	if len(seen) != parts*per {
		t.Errorf("read %d records, want %d", len(seen), parts*per)
	}
}

// TestGroupCommit: with a Group, read offsets show up in the group while
// the split is open.
func TestGroupCommit(t *testing.T) {
	brokers := cluster(t, 1, "txns")
	cl := producer(t, brokers)
	var vals [][]byte
	for i := range 10 {
		vals = append(vals, js(mkTxn(i)))
	}
	produce(t, cl, "txns", 0, vals...)
	ctx := context.Background()
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}, Group: "mon", CommitInterval: time.Millisecond})
	r, err := src.Open(ctx, &kafka.Split{Topic: "txns"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	readUntil(t, r, 10)
	adm := kadm.NewClient(cl)
	b := sdk.NewBatch[txn](1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Polling (which finds nothing new) commits the offsets read.
		if _, err := r.ReadBatch(ctx, b, 1); err != nil {
			t.Fatal(err)
		}
		os, err := adm.FetchOffsets(ctx, "mon")
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := os.Lookup("txns", 0); ok && o.At == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group offsets %v, want txns/0 at 10", os)
		}
	}
}

// TestIdleRound: a task going round many idle splits waits about one
// PollTimeout per round, not one per split.
func TestIdleRound(t *testing.T) {
	const parts = 10
	poll := 300 * time.Millisecond
	brokers := cluster(t, parts, "txns")
	ctx := context.Background()
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}, PollTimeout: poll})
	splits, err := src.Splits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var readers []sdk.SplitReader[txn]
	for _, s := range splits {
		r, err := src.Open(ctx, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		readers = append(readers, r)
	}
	b := sdk.NewBatch[txn](8)
	start := time.Now()
	const rounds = 3
	for range rounds {
		for _, r := range readers {
			if _, err := r.ReadBatch(ctx, b, 8); err != nil || b.Len() != 0 {
				t.Fatalf("idle ReadBatch: %d records, %v", b.Len(), err)
			}
		}
	}
	// Waiting per split would take rounds*parts*poll = 9 s.
	if d := time.Since(start); d > rounds*parts*poll/3 {
		t.Errorf("%d rounds over %d idle splits took %v", rounds, parts, d)
	}
	// A record arriving is still read on the next round.
	produce(t, producer(t, brokers), "txns", 7, js(mkTxn(1)))
	deadline := time.Now().Add(10 * time.Second)
	for b.Len() == 0 && time.Now().Before(deadline) {
		for _, r := range readers {
			if _, err := r.ReadBatch(ctx, b, 8); err != nil {
				t.Fatal(err)
			}
		}
	}
	if b.Len() != 1 || b.Values[0] != mkTxn(1) {
		t.Errorf("got %+v", b.Values)
	}
}
