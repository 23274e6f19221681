package kafka_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/sdk"
)

func TestSinkKeyedJSON(t *testing.T) {
	brokers := cluster(t, 3, "out")
	ctx := context.Background()
	sink := kafka.NewSink(kafka.SinkOptions[txn]{
		Brokers: brokers,
		Topic:   "out",
		Key:     func(v *txn) []byte { return []byte(v.UserID) },
	})
	w, err := sink.Open(sdk.SinkContext{Context: ctx, Job: "j", Node: "out", Tasks: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const n = 200
	b := sdk.NewBatch[txn](n)
	for i := range n {
		v := mkTxn(i)
		b.Append(v, sdk.Timestamp(v.At.UnixMicro()))
	}
	if err := w.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := w.PreCommit(1); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(1); err != nil {
		t.Fatal(err)
	}

	// After PreCommit everything is visible to a read_committed consumer.
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics("out"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	partOf := map[string]int32{}
	got := map[txn]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n {
		pctx, cancel := context.WithDeadline(ctx, deadline)
		fs := cl.PollFetches(pctx)
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("read %d records, want %d", len(got), n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var v txn
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("value %q: %v", r.Value, err)
			}
			if string(r.Key) != v.UserID {
				t.Errorf("key %q, want %q", r.Key, v.UserID)
			}
			if p, ok := partOf[v.UserID]; ok && p != r.Partition {
				t.Errorf("key %s in partitions %d and %d", v.UserID, p, r.Partition)
			}
			partOf[v.UserID] = r.Partition
			if len(r.Headers) != 1 || r.Headers[0].Key != kafka.EventTimeHeader {
				t.Fatalf("headers %v", r.Headers)
			}
			want := v.At.Format("2006-01-02T15:04:05.000000Z07:00")
			if h := string(r.Headers[0].Value); h != want || !strings.HasSuffix(h, "Z") {
				t.Errorf("event time header %q, want %q", h, want)
			}
			if !r.Timestamp.Equal(v.At.Truncate(time.Millisecond)) {
				t.Errorf("timestamp %v, want %v", r.Timestamp, v.At)
			}
			if got[v] {
				t.Errorf("duplicate %+v", v)
			}
			got[v] = true
		})
	}
	used := map[int32]bool{}
	for _, p := range partOf {
		used[p] = true
	}
	if len(used) < 2 {
		t.Errorf("7 keys went to %d partitions, want them spread", len(used))
	}
}

func TestSinkErrors(t *testing.T) {
	if _, err := kafka.NewSink(kafka.SinkOptions[txn]{}).Open(sdk.SinkContext{}); err == nil || !strings.Contains(err.Error(), "no topic") {
		t.Errorf("no topic: %v", err)
	}
	type nocodec struct{}
	if _, err := kafka.NewSink(kafka.SinkOptions[nocodec]{Topic: "x"}).Open(sdk.SinkContext{}); err == nil || !strings.Contains(err.Error(), "has no codec") {
		t.Errorf("no codec: %v", err)
	}
}

func TestSinkMissingTopic(t *testing.T) {
	brokers := cluster(t, 1, "out")
	w, err := kafka.NewSink(kafka.SinkOptions[txn]{Brokers: brokers, Topic: "nope", ConnectTimeout: time.Second}).Open(sdk.SinkContext{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	b := sdk.NewBatch[txn](1)
	b.Append(mkTxn(1), 1)
	start := time.Now()
	err = w.Write(context.Background(), b)
	if err == nil {
		err = w.PreCommit(1)
	}
	if err == nil || !strings.HasPrefix(err.Error(), `kafka: write to nope: topic "nope" does not exist; create it first: `) {
		t.Errorf("got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}
