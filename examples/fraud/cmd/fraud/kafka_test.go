package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/internal/devbroker"
)

// TestKafkaBatch backfills a Kafka topic: the in-process development
// broker holds one partition's transactions spread over four partitions by
// user, and a batch run reads them up to the offsets at its start.
func TestKafkaBatch(t *testing.T) {
	b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0", Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	o := fraudgen.Options{Rows: 5_000, Users: 300, Partitions: 1, Disorder: 20 * time.Second, Seed: 21}
	parts := fraudgen.Generate(o)
	var buf bytes.Buffer
	for _, tx := range parts[0] {
		line, _ := json.Marshal(tx)
		buf.Write(append(line, '\n'))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Keyed by user, a partition's records keep their order, so their
	// disorder stays within the file's and nothing is late.
	if n, err := devbroker.ProduceJSONL(ctx, b.Brokers(), "txns", &buf, "user_id"); err != nil || n != o.Rows {
		t.Fatalf("produce: %d, %v", n, err)
	}
	out := filepath.Join(t.TempDir(), "out")
	r := runCLI(t, "run", "--mode=batch", fmt.Sprintf("--in=kafka://%s/txns", b.Addr()), "--out=jsonl:"+out, "--parallelism=2")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := expectedTotals(t, o)
	sameRows(t, readTotals(t, out), want)
	oneLine(t, "summary", r.stderr, fmt.Sprintf("rows in %d, rows out %d", o.Rows, len(want)))

}

// TestKafkaStream runs a stream job from Kafka to Kafka until it has
// written the windows the watermark closed, then stops it gracefully. One
// task reads both partitions in turn.
func TestKafkaStream(t *testing.T) {
	b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0", Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	o := fraudgen.Options{Rows: 3_000, Users: 100, Partitions: 1, Disorder: 10 * time.Second, Seed: 22}
	parts := fraudgen.Generate(o)
	var buf bytes.Buffer
	for _, tx := range parts[0] {
		line, _ := json.Marshal(tx)
		buf.Write(append(line, '\n'))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := devbroker.ProduceJSONL(ctx, b.Brokers(), "txns", &buf, "user_id"); err != nil {
		t.Fatal(err)
	}
	// Sinks do not create topics; as against a real cluster, create them.
	for _, topic := range []string{"totals", "totals-late"} {
		if err := devbroker.CreateTopic(ctx, b.Brokers(), topic, 1); err != nil {
			t.Fatal(err)
		}
	}
	// Windows that end before every partition's watermark fire in stream
	// mode; later ones wait for more data. Expect the rows of windows that
	// end 5 minutes before the last event time, at least.
	want := map[string]bool{}
	last := parts[0][len(parts[0])-1].At
	rows, _ := fraudgen.Expected(parts, 5*time.Minute, 30*time.Second)
	for _, r := range rows {
		if r.WindowEnd.Before(last.Add(-5 * time.Minute)) {
			want[totalString(r)] = true
		}
	}
	if len(want) == 0 {
		t.Fatal("no closed windows to expect")
	}

	stop := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		var out, errs bytes.Buffer
		p := programForTest()
		p.Stop = stop
		code := p.Run(ctx, []string{"run", "--mode=stream", "--in=kafka://" + b.Addr() + "/txns",
			"--out=kafka://" + b.Addr() + "/totals", "--on-error=skip", "--progress=never"}, &out, &errs)
		done <- result{code, out.String(), errs.String()}
	}()
	// Follow the output topic until every expected row arrived.
	cctx, ccancel := context.WithTimeout(ctx, 90*time.Second)
	w := &rowWatcher{want: want, got: map[string]bool{}, done: ccancel}
	if _, err := devbroker.Consume(cctx, b.Brokers(), "totals", w, devbroker.ConsumeOptions{FromStart: true, Follow: true}); err != nil {
		t.Errorf("consume: %v", err)
	}
	ccancel()
	got := w.got
	close(stop)
	r := <-done
	checkClean(t, r)
	var missing []string
	for w := range want {
		if !got[w] {
			missing = append(missing, w)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("%d of %d closed windows missing from the output topic, e.g. %s", len(missing), len(want), missing[0])
	}
	if r.code != 0 {
		t.Errorf("stopped stream job: exit %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	oneLine(t, "stopped", r.stderr, "fraud: stopped: output committed: rows in 3000")
}

// rowWatcher collects the output rows written to it, one JSON line each,
// and calls done once it has seen every wanted row.
type rowWatcher struct {
	want, got map[string]bool
	seen      int
	partial   []byte
	done      func()
}

func (w *rowWatcher) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		var r fraud.UserTotal
		if json.Unmarshal(w.partial[:i], &r) == nil {
			k := totalString(r)
			if w.want[k] && !w.got[k] {
				w.seen++
			}
			w.got[k] = true
		}
		w.partial = w.partial[i+1:]
	}
	if w.seen == len(w.want) {
		w.done()
	}
	return len(p), nil
}

// TestKafkaStreamToFiles stops a stream job from Kafka to JSON Lines files:
// the windows that fired before the stop are committed.
func TestKafkaStreamToFiles(t *testing.T) {
	b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0", Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	o := fraudgen.Options{Rows: 3_000, Users: 100, Partitions: 1, Disorder: 10 * time.Second, Seed: 23}
	parts := fraudgen.Generate(o)
	var buf bytes.Buffer
	for _, tx := range parts[0] {
		line, _ := json.Marshal(tx)
		buf.Write(append(line, '\n'))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := devbroker.ProduceJSONL(ctx, b.Brokers(), "txns", &buf, "user_id"); err != nil {
		t.Fatal(err)
	}
	all, _ := fraudgen.Expected(parts, 5*time.Minute, 30*time.Second)
	last := parts[0][len(parts[0])-1].At
	closed := map[string]bool{}
	for _, r := range all {
		if r.WindowEnd.Before(last.Add(-5 * time.Minute)) {
			closed[totalString(r)] = true
		}
	}
	// Stop once the progress bar shows every record read.
	out := filepath.Join(t.TempDir(), "out")
	stop := make(chan struct{})
	p := programForTest()
	p.Stop = stop
	errs := &stopWriter{needle: "fraud: 3,000 rows", stop: stop}
	var sout bytes.Buffer
	code := p.Run(ctx, []string{"run", "--mode=stream", "--in=kafka://" + b.Addr() + "/txns",
		"--out=jsonl:" + out, "--progress=always", "--parallelism=2"}, &sout, errs)
	stderr := errs.String()
	stderr = stderr[strings.LastIndexByte(stderr, '\r')+1:]
	r := result{code, sout.String(), stderr}
	checkClean(t, r)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	oneLine(t, "stopped", r.stderr, "fraud: stopped: output committed: rows in 3000")
	got := readTotals(t, out)
	gotSet := map[string]bool{}
	for _, g := range got {
		gotSet[g] = true
		if !closed[g] && !slices.Contains(rowsOf(all), g) {
			t.Errorf("unexpected row %s", g)
		}
	}
	for w := range closed {
		if !gotSet[w] {
			t.Errorf("closed window missing after stop: %s", w)
			break
		}
	}
}

func rowsOf(rows []fraud.UserTotal) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = totalString(r)
	}
	return out
}

// stopWriter collects a job's stderr and closes stop once needle appears.
type stopWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	needle string
	stop   chan struct{}
	once   sync.Once
}

func (w *stopWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.needle) {
		w.once.Do(func() { close(w.stop) })
	}
	return len(p), nil
}

func (w *stopWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestKafkaMissingTopic: a job whose output topic, or its -late topic,
// does not exist fails before reading any input, at least once and
// exactly once: exit 1, one line naming the topic and how to create it,
// and nothing written to any topic.
func TestKafkaMissingTopic(t *testing.T) {
	dir := t.TempDir()
	o := fraudgen.Options{Rows: 2_000, Users: 100, Partitions: 1, Disorder: 2 * time.Minute, Seed: 5}
	if _, err := fraudgen.WriteJSONL(filepath.Join(dir, "in"), fraudgen.Generate(o)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		exist   []string
		missing string
	}{
		{nil, "totals"},
		{[]string{"totals"}, "totals-late"},
	} {
		for _, ckpt := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/checkpoints=%v", c.missing, ckpt), func(t *testing.T) {
				b := startBroker(t)
				createTopics(t, b, 1, c.exist...)
				args := []string{"run", "--in=jsonl:" + dir + "/in/*.jsonl", "--out=kafka://" + b.Addr() + "/totals", "--on-error=skip", "--progress=never"}
				if ckpt {
					args = append(args, "--checkpoint-dir="+filepath.Join(t.TempDir(), "ckpt"))
				}
				r := execCLI(t, args...)
				if r.code != 1 {
					t.Errorf("exit %d, want 1: %s", r.code, r.stderr)
				}
				oneLine(t, "missing topic", r.stderr, fmt.Sprintf("kafka: topic %s does not exist on %s; create it first (weir topic create --brokers=%s %s)",
					c.missing, b.Addr(), b.Addr(), c.missing))
				// Nothing was written, and the check did not create the
				// topic either.
				adm := kadm.NewClient(mustClient(t, b))
				defer adm.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				tds, err := adm.ListTopics(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := tds.Names(); !slices.Equal(got, c.exist) && !(len(got) == 0 && len(c.exist) == 0) {
					t.Errorf("topics %v after the run, want %v", got, c.exist)
				}
				ends, err := adm.ListEndOffsets(ctx, tds.Names()...)
				if err != nil {
					t.Fatal(err)
				}
				ends.Each(func(o kadm.ListedOffset) {
					if o.Offset != 0 {
						t.Errorf("%s/%d holds %d records, want none", o.Topic, o.Partition, o.Offset)
					}
				})
			})
		}
	}
}
