package job_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/internal/devbroker"
	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/job"
	"github.com/weirflow/weir/sdk"
)

// TestKafkaDecoder: job.KafkaDecoder gives a Kafka input's decoder the
// record's headers (here the event time travels in a header, the value is
// empty); a record it refuses is a dead letter.
func TestKafkaDecoder(t *testing.T) {
	b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := devbroker.CreateTopic(ctx, b.Brokers(), "times", 1); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec := func(at string) *kgo.Record {
		r := &kgo.Record{Topic: "times", Value: []byte{}}
		if at != "" {
			r.Headers = []kgo.RecordHeader{{Key: "at", Value: []byte(at)}}
		}
		return r
	}
	if err := cl.ProduceSync(ctx, rec("2024-01-01T10:15:00Z"), rec(""), rec("2024-01-01T11:00:00Z")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	build := func(j *job.Job) error {
		in := job.Input(j, job.KafkaDecoder(func(r *kafka.Record, v *time.Time) error {
			h, ok := r.Header("at")
			if !ok {
				return errors.New("no at header")
			}
			var err error
			*v, err = time.Parse(time.RFC3339, string(h))
			return err
		}))
		times := sdk.Read(j.Pipeline(), in, sdk.Timestamps(identity))
		sdk.Write(sdk.Map(times, hourOf), job.Output[string](j, ""), sdk.Named("hours"))
		return nil
	}
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := run(t, context.Background(), job.Program{Name: "hours", Build: build},
		"run", "--in=kafka://"+b.Addr()+"/times", "--out=jsonl:"+out, "--progress=never")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := readLines(t, out); strings.Join(got, " ") != `"10h" "11h"` {
		t.Errorf("output %q", got)
	}
	if dead := readLines(t, filepath.Join(out, "dead-letter")); len(dead) != 1 || !strings.Contains(dead[0], "decode: no at header") {
		t.Errorf("dead letters %q", dead)
	}
}
