package devbroker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/internal/devbroker"
)

func start(t *testing.T, opts devbroker.Options) *devbroker.Broker {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	b, err := devbroker.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func jsonl(from, to int) string {
	var sb strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&sb, "{\"user_id\": \"u%d\", \"amount\": %d}\n", i%3, i)
		if i%4 == 0 {
			sb.WriteString("\n") // blank lines are skipped
		}
	}
	return sb.String()
}

func compact(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, strings.ReplaceAll(l, " ", ""))
		}
	}
	slices.Sort(out)
	return out
}

func consume(t *testing.T, brokers []string, topic string, opts devbroker.ConsumeOptions) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	n, err := devbroker.Consume(ctx, brokers, topic, &out, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := compact(out.String())
	if len(got) != n {
		t.Errorf("Consume said %d records, wrote %d lines", n, len(got))
	}
	return got
}

func TestProduceConsumeRestart(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	b := start(t, devbroker.Options{DataDir: dir, Log: &log})
	if !strings.Contains(log.String(), "broker on "+b.Addr()) || !strings.Contains(log.String(), "data in "+dir) {
		t.Errorf("log %q", log.String())
	}
	ctx := context.Background()
	if err := devbroker.CreateTopic(ctx, b.Brokers(), "txns", 2); err != nil {
		t.Fatal(err)
	}
	if err := devbroker.CreateTopic(ctx, b.Brokers(), "txns", 2); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Errorf("second create: %v", err)
	}
	in := jsonl(0, 20)
	n, err := devbroker.ProduceJSONL(ctx, b.Brokers(), "txns", strings.NewReader(in), "user_id")
	if err != nil || n != 20 {
		t.Fatalf("ProduceJSONL: %d, %v", n, err)
	}
	want := compact(in)
	if got := consume(t, b.Brokers(), "txns", devbroker.ConsumeOptions{FromStart: true}); !slices.Equal(got, want) {
		t.Errorf("consumed\n%v\nwant\n%v", got, want)
	}
	if got := consume(t, b.Brokers(), "txns", devbroker.ConsumeOptions{FromStart: true, Max: 3}); len(got) != 3 {
		t.Errorf("Max 3: got %d", len(got))
	}
	if got := consume(t, b.Brokers(), "txns", devbroker.ConsumeOptions{}); len(got) != 0 {
		t.Errorf("not from start, not following: got %v", got)
	}
	checkKeys(t, b.Brokers(), "txns", 20)

	// Restart on the same data directory: the records are still there.
	b.Close()
	b = start(t, devbroker.Options{DataDir: dir})
	if got := consume(t, b.Brokers(), "txns", devbroker.ConsumeOptions{FromStart: true}); !slices.Equal(got, want) {
		t.Errorf("after restart consumed %d records, want %d", len(got), len(want))
	}
}

// checkKeys reads topic with a plain client: every key is the user_id and
// equal keys share a partition.
func checkKeys(t *testing.T, brokers []string, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	part := map[string]int32{}
	for seen := 0; seen < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d records, want %d", seen, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			if !bytes.Contains(r.Value, []byte(`"user_id": "`+string(r.Key)+`"`)) {
				t.Errorf("key %q of %s", r.Key, r.Value)
			}
			if p, ok := part[string(r.Key)]; ok && p != r.Partition {
				t.Errorf("key %q in partitions %d and %d", r.Key, p, r.Partition)
			}
			part[string(r.Key)] = r.Partition
		})
	}
}

func TestAutoCreateAndFollow(t *testing.T) {
	b := start(t, devbroker.Options{Partitions: 1})
	ctx := context.Background()
	// Producing to an unknown topic creates it.
	if n, err := devbroker.ProduceJSONL(ctx, b.Brokers(), "auto", strings.NewReader(jsonl(0, 5)), ""); err != nil || n != 5 {
		t.Fatalf("ProduceJSONL: %d, %v", n, err)
	}
	type result struct {
		n   int
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var out bytes.Buffer
		n, err := devbroker.Consume(ctx, b.Brokers(), "auto", &out, devbroker.ConsumeOptions{FromStart: true, Follow: true, Max: 8})
		done <- result{n, out.String(), err}
	}()
	if _, err := devbroker.ProduceJSONL(ctx, b.Brokers(), "auto", strings.NewReader(jsonl(5, 8)), ""); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		// One partition: the order is the order written.
		if r.err != nil || r.n != 8 || r.out != strings.ReplaceAll(strings.ReplaceAll(jsonl(0, 8), "\n\n", "\n"), " ", "") {
			t.Errorf("follow: %d records, %v:\n%s", r.n, r.err, r.out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Consume with Follow did not return after Max records")
	}

	// Follow ends without error when ctx is cancelled.
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		n, err := devbroker.Consume(cctx, b.Brokers(), "auto", new(bytes.Buffer), devbroker.ConsumeOptions{Follow: true})
		done <- result{n: n, err: err}
	}()
	cancel()
	select {
	case r := <-done:
		if r.err != nil {
			t.Errorf("cancelled follow: %v", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled Consume did not return")
	}
}

func TestErrors(t *testing.T) {
	b := start(t, devbroker.Options{})
	ctx := context.Background()
	if _, err := devbroker.Start(devbroker.Options{Addr: b.Addr()}); err == nil || !strings.Contains(err.Error(), "is in use") {
		t.Errorf("second broker on %s: %v", b.Addr(), err)
	}
	_, err := devbroker.ProduceJSONL(ctx, b.Brokers(), "t", strings.NewReader("{\"a\":1}\n{bad\n"), "")
	if err == nil || err.Error() != "devbroker: line 2 is not valid JSON" {
		t.Errorf("bad line: %v", err)
	}
	_, err = devbroker.ProduceJSONL(ctx, b.Brokers(), "t", strings.NewReader(`{"a":1}`), "user_id")
	if err == nil || !strings.Contains(err.Error(), `line 1: no key field "user_id"`) {
		t.Errorf("missing key: %v", err)
	}
	if _, err := devbroker.Consume(ctx, b.Brokers(), "nope", new(bytes.Buffer), devbroker.ConsumeOptions{}); err == nil || !strings.Contains(err.Error(), `topic "nope" does not exist`) {
		t.Errorf("missing topic: %v", err)
	}
}
