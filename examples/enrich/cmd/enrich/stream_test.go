package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/examples/enrich"
	"github.com/weirflow/weir/examples/enrich/enrichgen"
	"github.com/weirflow/weir/internal/devbroker"
)

// startBroker starts an in-process development broker (Kafka's wire
// protocol) with the topics clicks and profiles holding parts, partition i
// of a topic exactly the records of part i in their order, and the output
// topics enriched and metrics.
func startBroker(t *testing.T, clicks [][]enrich.Click, profiles [][]enrich.Profile) *devbroker.Broker {
	t.Helper()
	b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for topic, n := range map[string]int{"clicks": len(clicks), "profiles": len(profiles), "enriched": 2, "metrics": 1} {
		if err := devbroker.CreateTopic(ctx, b.Brokers(), topic, n); err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}
	produce(t, ctx, b, "clicks", clicks)
	produce(t, ctx, b, "profiles", profiles)
	return b
}

func produce[T any](t *testing.T, ctx context.Context, b *devbroker.Broker, topic string, parts [][]T) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Brokers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p, part := range parts {
		for i := range part {
			v, err := json.Marshal(&part[i])
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Value: v})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// readTopic returns the committed records of topic (read_committed),
// decoded into T and marshalled again, sorted.
func readTopic[T any](t *testing.T, b *devbroker.Broker, topic string) []string {
	t.Helper()
	var buf bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := devbroker.Consume(ctx, b.Brokers(), topic, &buf, devbroker.ConsumeOptions{FromStart: true}); err != nil {
		t.Fatal(err)
	}
	var rows []T
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var v T
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%s: %q: %v", topic, l, err)
		}
		rows = append(rows, v)
	}
	return jsonLines(t, rows)
}

// TestStreamMatchesBatch: the same clicks and profile changes read from
// Kafka in stream mode (to the end offsets, --bounded) give exactly the
// rows of the backfill over files, late ones included: lateness is judged
// per partition, and a click waits for the watermark of both topics.
func TestStreamMatchesBatch(t *testing.T) {
	clicks, profiles := enrichgen.Generate(genOpts)
	enriched, metrics, late := enrichgen.Expected(clicks, profiles, 30*time.Second, time.Minute)
	b := startBroker(t, clicks, profiles)
	out := t.TempDir()
	code, _, stderr := runCLI(t, "run", "--mode=stream", "--bounded",
		"--in=clicks=kafka://"+b.Addr()+"/clicks", "--in=profiles=kafka://"+b.Addr()+"/profiles",
		"--out=enriched=jsonl:"+filepath.Join(out, "enriched"), "--out=metrics=jsonl:"+filepath.Join(out, "metrics"),
		"--on-error=fail", "--parallelism=2", "--progress=never", "--group=enrich-test")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameRows(t, "enriched", readRows[enrich.Enriched](t, filepath.Join(out, "enriched")), jsonLines(t, enriched))
	sameRows(t, "metrics", readRows[enrich.SegmentMetrics](t, filepath.Join(out, "metrics")), jsonLines(t, metrics))
	// --group: the consumer group holds the end of every partition read.
	groupAtEnd(t, b, "enrich-test", clicks, profiles)
	if want := fmt.Sprintf("late %d,", late); !strings.Contains(stderr, want) {
		t.Errorf("summary %q: want %q", stderr, want)
	}
}

// TestStreamProfilesSnapshot: the clicks from Kafka joined, as a stream,
// with the profiles of a Parquet snapshot (a bounded input: the join waits
// for it to be read): the rows of the backfill.
func TestStreamProfilesSnapshot(t *testing.T) {
	clicks, profiles := enrichgen.Generate(genOpts)
	enriched, metrics, _ := enrichgen.Expected(clicks, profiles, 30*time.Second, time.Minute)
	b := startBroker(t, clicks, profiles)
	dir := t.TempDir()
	if _, err := enrichgen.Write(filepath.Join(dir, "profiles"), "profiles", "parquet", profiles, 1<<30); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, _, stderr := runCLI(t, "run", "--mode=stream", "--bounded",
		"--in=clicks=kafka://"+b.Addr()+"/clicks", "--in=profiles=parquet:"+filepath.Join(dir, "profiles"),
		"--out=enriched=jsonl:"+filepath.Join(out, "enriched"), "--out=metrics=jsonl:"+filepath.Join(out, "metrics"),
		"--on-error=fail", "--parallelism=2", "--progress=never")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameRows(t, "enriched", readRows[enrich.Enriched](t, filepath.Join(out, "enriched")), jsonLines(t, enriched))
	sameRows(t, "metrics", readRows[enrich.SegmentMetrics](t, filepath.Join(out, "metrics")), jsonLines(t, metrics))
}

// groupAtEnd checks that consumer group holds the end offset of every
// partition of clicks and profiles.
func groupAtEnd(t *testing.T, b *devbroker.Broker, group string, clicks [][]enrich.Click, profiles [][]enrich.Profile) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	check := func(topic string, p, n int) {
		if o, ok := offs.Lookup(topic, int32(p)); !ok || o.At != int64(n) {
			t.Errorf("group %s: offset of %s/%d %d (found %v), want %d", group, topic, p, o.At, ok, n)
		}
	}
	for p := range clicks {
		check("clicks", p, len(clicks[p]))
	}
	for p := range profiles {
		check("profiles", p, len(profiles[p]))
	}
}

// TestCrashExactlyOnce: the stream job, Kafka to Kafka with checkpoints,
// runs as a child process killed with SIGKILL at seeded random moments and
// restarted with the same flags until it finishes; what the output topics
// hold for a read_committed reader is then exactly the reference's rows,
// none missing, none twice.
func TestCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the job several times")
	}
	o := genOpts
	o.Clicks, o.Users, o.Span = 300_000, 2000, 2*time.Hour
	clicks, profiles := enrichgen.Generate(o)
	enriched, metrics, _ := enrichgen.Expected(clicks, profiles, 30*time.Second, time.Minute)
	b := startBroker(t, clicks, profiles)
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	args := []string{"run", "--mode=stream", "--bounded",
		"--in=clicks=kafka://" + b.Addr() + "/clicks", "--in=profiles=kafka://" + b.Addr() + "/profiles",
		"--out=enriched=kafka://" + b.Addr() + "/enriched", "--out=metrics=kafka://" + b.Addr() + "/metrics",
		"--on-error=fail", "--parallelism=2", "--checkpoint-dir=" + ckpt, "--checkpoint-interval=100ms", "--progress=never",
		"--group=enrich-crash"}
	rng := rand.New(rand.NewPCG(11, 3))
	const kills = 4
	for run := 1; ; run++ {
		if run > kills+10 {
			t.Fatalf("the job did not finish in %d runs", run-1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, enrichBin, args...)
		var stderr lockedBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		killed := false
		if run <= kills {
			// Killed after it resumed and made some progress: 300 ms to
			// 1.2 s after its start.
			delay := 300*time.Millisecond + time.Duration(rng.Int64N(int64(900*time.Millisecond)))
			select {
			case err = <-done:
			case <-time.After(delay):
				_ = cmd.Process.Kill()
				err = <-done
				killed = true
			}
		} else {
			err = <-done
		}
		cancel()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("run %d: %v", run, err)
		}
		if killed && cmd.ProcessState.ExitCode() == -1 {
			t.Logf("run %d: killed; %s", run, firstLine(stderr.String(), "resuming from"))
			continue
		}
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("run %d: exit %d: %s", run, code, stderr.String())
		}
		if run <= kills {
			t.Fatalf("the job finished in run %d, before %d kills: make the input larger", run, kills)
		}
		t.Logf("run %d finished: %s", run, strings.TrimSpace(stderr.String()))
		break
	}
	sameRows(t, "enriched", readTopic[enrich.Enriched](t, b, "enriched"), jsonLines(t, enriched))
	sameRows(t, "metrics", readTopic[enrich.SegmentMetrics](t, b, "metrics"), jsonLines(t, metrics))
	groupAtEnd(t, b, "enrich-crash", clicks, profiles)
}

func firstLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, prefix) {
			return l
		}
	}
	return "(started fresh)"
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
