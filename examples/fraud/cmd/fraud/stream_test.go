package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/internal/devbroker"
)

// The tests in this file compare batch runs over Parquet files with stream
// runs over the same events in Kafka: partition i of the topic holds
// exactly the events of file i, in the file's order.

// startBroker starts an in-process development broker on a free port.
func startBroker(t testing.TB) *devbroker.Broker {
	t.Helper()
	b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// createTopics creates each topic with n partitions.
func createTopics(t testing.TB, b *devbroker.Broker, n int, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, topic := range topics {
		if err := devbroker.CreateTopic(ctx, b.Brokers(), topic, n); err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}
}

// produceParts produces parts[i] to partition first+i of topic, in order,
// as JSON values. A nil record in a part stands for a value that is not
// JSON (a poison record).
func produceParts(t testing.TB, b *devbroker.Broker, topic string, first int, parts [][]fraud.Txn, poison map[int]int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Brokers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p, part := range parts {
		for i, tx := range part {
			if at, ok := poison[p]; ok && at == i {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(first + p), Value: []byte("{not json")})
			}
			v, err := json.Marshal(tx)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(first + p), Value: v})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// parityCase is one comparison of batch over files with stream over Kafka.
type parityCase struct {
	gen         fraudgen.Options
	parallelism int
	emptyParts  int         // extra partitions with no events
	poison      map[int]int // partition → index of a poison record before it
	extra       []string    // extra flags of both runs
}

// runParity runs the batch and the stream job and returns their outputs.
func runParity(t *testing.T, c parityCase) (batch, stream string) {
	t.Helper()
	parts := fraudgen.Generate(c.gen)
	dir := t.TempDir()
	files := filepath.Join(dir, "txns")
	// One row group per file: the batch reader sees each file's events in
	// order, as a Kafka reader sees its partition's.
	if _, err := fraudgen.WriteParquet(files, parts, c.gen.Rows+1); err != nil {
		t.Fatal(err)
	}
	b := startBroker(t)
	createTopics(t, b, len(parts)+c.emptyParts, "txns")
	produceParts(t, b, "txns", 0, parts, c.poison)

	batch, stream = filepath.Join(dir, "batch"), filepath.Join(dir, "stream")
	par := fmt.Sprintf("--parallelism=%d", c.parallelism)
	r := runCLI(t, append([]string{"run", "--mode=batch", "--in=parquet:" + files + "/*.parquet", "--out=jsonl:" + batch, par, "--progress=never"}, c.extra...)...)
	if r.code != 0 {
		t.Fatalf("batch: exit %d: %s", r.code, r.stderr)
	}
	r = runCLI(t, append([]string{"run", "--mode=stream", "--bounded", "--in=kafka://" + b.Addr() + "/txns", "--out=jsonl:" + stream, par, "--progress=never"}, c.extra...)...)
	if r.code != 0 {
		t.Fatalf("stream: exit %d: %s", r.code, r.stderr)
	}
	return batch, stream
}

// TestStreamParity: the same events give the same windows in batch mode
// over Parquet files and in stream mode over a Kafka topic read to its end.
func TestStreamParity(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four jobs")
	}
	gen := fraudgen.Options{Rows: 8_000, Users: 200, Partitions: 4, Disorder: 20 * time.Second, Seed: 31}
	for _, tc := range []struct {
		name string
		c    parityCase
	}{
		{"2 tasks over 4 partitions", parityCase{gen: gen, parallelism: 2}},
		{"4 tasks over 4 partitions", parityCase{gen: gen, parallelism: 4}},
		// A fifth partition never has an event. Read to its end, it ends at
		// once; the idle timeout changes nothing (TestStreamIdlePartition
		// covers an unbounded read).
		{"an empty partition", parityCase{gen: gen, parallelism: 2, emptyParts: 1, extra: []string{"--idle-timeout=30s"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batch, stream := runParity(t, tc.c)
			want := readTotals(t, batch)
			if len(want) == 0 {
				t.Fatal("the batch run wrote no rows")
			}
			sameRows(t, readTotals(t, stream), want)
		})
	}
}

// TestStreamParityLate: events later than the bound go to the late side
// output in both modes, the same events in each. Lateness is decided per
// record against the watermark of the record's own split (base.Batch
// marks), so how the splits interleave in a task does not matter.
func TestStreamParityLate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four jobs")
	}
	// LateLag 1: a late event is LateBy behind the event just before it, so
	// whether it is late depends on its own split's watermark alone; with
	// the watermark of all splits it would depend on the interleaving.
	gen := fraudgen.Options{Rows: 8_000, Users: 200, Partitions: 4, Disorder: 20 * time.Second,
		LateFraction: 0.005, LateBy: 6 * time.Minute, LateLag: 1, Seed: 32}
	for _, par := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("%d tasks", par), func(t *testing.T) {
			batch, stream := runParity(t, parityCase{gen: gen, parallelism: par})
			sameRows(t, readTotals(t, stream), readTotals(t, batch))
			bl, sl := readLines(t, filepath.Join(batch, "late")), readLines(t, filepath.Join(stream, "late"))
			slices.Sort(bl)
			slices.Sort(sl)
			if _, late := fraudgen.Expected(fraudgen.Generate(gen), 5*time.Minute, 30*time.Second); len(bl) != late || late == 0 {
				t.Errorf("%d late rows in the batch run, want %d (not 0)", len(bl), late)
			}
			if !slices.Equal(bl, sl) {
				t.Errorf("late rows differ: batch %d, stream %d", len(bl), len(sl))
			}
		})
	}
}

// TestStreamPoisonRecord: a value that is not JSON is dead-lettered with
// its topic, partition and offset, and the rest is read as in batch mode.
func TestStreamPoisonRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two jobs")
	}
	gen := fraudgen.Options{Rows: 4_000, Users: 100, Partitions: 2, Disorder: 20 * time.Second, Seed: 33}
	// Before event 100 of partition 1, so at offset 100.
	batch, stream := runParity(t, parityCase{gen: gen, parallelism: 2, poison: map[int]int{1: 100}})
	sameRows(t, readTotals(t, stream), readTotals(t, batch))
	checkDeadLetters(t, filepath.Join(stream, "dead-letter"), 1, "txns/1", "offset 100")
}

// TestStreamBrokerUnreachable: a job whose broker cannot be reached retries
// for a bounded time, then says so on one line and exits 1.
func TestStreamBrokerUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the connect timeout")
	}
	b := startBroker(t)
	addr := b.Addr()
	b.Close() // a port that was free a moment ago, with nobody listening
	start := time.Now()
	r := execCLI(t, "run", "--mode=stream", "--in=kafka://"+addr+"/txns", "--out=jsonl:"+t.TempDir(), "--progress=never")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	oneLine(t, "unreachable", r.stderr, "cannot reach brokers "+addr, "is the broker running?")
	if d := time.Since(start); d > time.Minute {
		t.Errorf("gave up after %v, want well under a minute", d)
	}
}

// TestStreamSignal runs the built binary from Kafka to Kafka, waits until
// every window the watermark passed is in the output topic, then sends
// SIGTERM or SIGINT: the job exits 0 within seconds and the topic holds
// exactly those windows, whole.
func TestStreamSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary against a broker")
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) { testStreamSignal(t, sig) })
	}
}

func testStreamSignal(t *testing.T, sig syscall.Signal) {
	gen := fraudgen.Options{Rows: 6_000, Users: 150, Partitions: 3, Disorder: 20 * time.Second, Seed: 34}
	parts := fraudgen.Generate(gen)
	b := startBroker(t)
	createTopics(t, b, len(parts), "txns")
	createTopics(t, b, 1, "totals", "totals-late")
	produceParts(t, b, "txns", 0, parts, nil)

	want := closedWindows(t, parts, 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	cmd := exec.CommandContext(ctx, fraudBin, "run", "--mode=stream", "--in=kafka://"+b.Addr()+"/txns",
		"--out=kafka://"+b.Addr()+"/totals", "--on-error=skip", "--checkpoint-dir="+ckpt, "--checkpoint-interval=200ms",
		"--parallelism=2", "--progress=never")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	}()

	// Follow the output until every closed window arrived.
	cctx, ccancel := context.WithTimeout(ctx, 90*time.Second)
	w := &rowWatcher{want: want, got: map[string]bool{}, done: ccancel}
	if _, err := devbroker.Consume(cctx, b.Brokers(), "totals", w, devbroker.ConsumeOptions{FromStart: true, Follow: true}); err != nil {
		t.Errorf("consume: %v", err)
	}
	ccancel()
	if w.seen != len(want) {
		t.Fatalf("only %d of %d closed windows arrived in 90s; stderr: %s", w.seen, len(want), stderr.String())
	}

	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after %v: %v, want exit 0; stderr: %s", sig, err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10s after %v; stderr: %s", sig, stderr.String())
	}
	r := result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
	checkClean(t, r)
	if !strings.Contains(r.stderr, "fraud: stopped: output committed; rerun with --checkpoint-dir="+ckpt+" to resume: rows in 6000") {
		t.Errorf("stderr %q: want the stopped line with every row read", r.stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(ckpt, "chk-*", "_metadata")); len(m) == 0 {
		t.Errorf("--checkpoint-dir=%s holds no completed checkpoint", ckpt)
	}

	// The topic holds exactly the closed windows, each once and whole: no
	// window fired at the stop.
	sameRows(t, readTopic(t, b), sortedKeys(want))
}

// closedWindows are the rows of the windows a stream job fires once it has
// read parts and waits for more: every partition's watermark is its largest
// event time - bound - 1µs, and a window [s, e) fires when the smallest
// reaches e - 1µs. Some windows, not all, must be closed.
func closedWindows(t *testing.T, parts [][]fraud.Txn, bound time.Duration) map[string]bool {
	t.Helper()
	var wm time.Time
	for i, p := range parts {
		last := slices.MaxFunc(p, func(a, b fraud.Txn) int { return a.At.Compare(b.At) }).At
		if i == 0 || last.Before(wm) {
			wm = last
		}
	}
	wm = wm.Add(-bound)
	all, late := fraudgen.Expected(parts, 5*time.Minute, bound)
	if late != 0 {
		t.Fatalf("%d late events in on-time data", late)
	}
	want := map[string]bool{}
	for _, r := range all {
		if !r.WindowEnd.After(wm) {
			want[totalString(r)] = true
		}
	}
	if len(want) == 0 || len(want) == len(all) {
		t.Fatalf("%d of %d windows closed: want some, not all", len(want), len(all))
	}
	return want
}

// readTopic returns the sorted rows of the topic "totals".
func readTopic(t *testing.T, b *devbroker.Broker) []string {
	t.Helper()
	var buf bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := devbroker.Consume(ctx, b.Brokers(), "totals", &buf, devbroker.ConsumeOptions{FromStart: true}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var u fraud.UserTotal
		if err := json.Unmarshal([]byte(l), &u); err != nil {
			t.Fatalf("output %q: %v", l, err)
		}
		got = append(got, totalString(u))
	}
	slices.Sort(got)
	return got
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestStreamIdlePartition: an unbounded stream job over four partitions
// with events and one that never has any fires the windows the four
// watermarks passed, because the idle timeout keeps the empty partition
// from holding the watermark back. The timeout must exceed the time a
// partition takes to deliver its first records: a partition marked idle
// before then lets the others move the watermark past its events, which
// are then late (as in Flink). 200ms loses events here; 10s leaves room
// for a loaded machine.
func TestStreamIdlePartition(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a stream job")
	}
	gen := fraudgen.Options{Rows: 6_000, Users: 150, Partitions: 4, Disorder: 20 * time.Second, Seed: 36}
	parts := fraudgen.Generate(gen)
	b := startBroker(t)
	createTopics(t, b, len(parts)+1, "txns")
	createTopics(t, b, 1, "totals", "totals-late")
	produceParts(t, b, "txns", 0, parts, nil)
	want := closedWindows(t, parts, 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		var out, errs bytes.Buffer
		p := programForTest()
		p.Stop = stop
		code := p.Run(ctx, []string{"run", "--mode=stream", "--in=kafka://" + b.Addr() + "/txns",
			"--out=kafka://" + b.Addr() + "/totals", "--on-error=skip", "--idle-timeout=10s", "--parallelism=2", "--progress=never"}, &out, &errs)
		done <- result{code, out.String(), errs.String()}
	}()
	cctx, ccancel := context.WithTimeout(ctx, 90*time.Second)
	w := &rowWatcher{want: want, got: map[string]bool{}, done: ccancel}
	devbroker.Consume(cctx, b.Brokers(), "totals", w, devbroker.ConsumeOptions{FromStart: true, Follow: true})
	ccancel()
	close(stop)
	r := <-done
	checkClean(t, r)
	if r.code != 0 {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if w.seen != len(want) {
		t.Fatalf("only %d of %d closed windows arrived in 90s", w.seen, len(want))
	}
	sameRows(t, readTopic(t, b), sortedKeys(want))
	if !strings.Contains(r.stderr, "late 0,") {
		t.Errorf("stderr %q: want no late records", r.stderr)
	}
}

// TestStreamPartitionAdded: a partition added to the input topic while a
// stream job runs is found and read; with the idle timeout, its events
// move the watermark alone and their windows fire.
func TestStreamPartitionAdded(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for split discovery (10s)")
	}
	gen := fraudgen.Options{Rows: 2_000, Users: 50, Partitions: 2, Disorder: 20 * time.Second, Seed: 35}
	parts := fraudgen.Generate(gen)
	b := startBroker(t)
	createTopics(t, b, len(parts), "txns")
	createTopics(t, b, 1, "totals", "totals-late")
	produceParts(t, b, "txns", 0, parts, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		var out, errs bytes.Buffer
		p := programForTest()
		p.Stop = stop
		code := p.Run(ctx, []string{"run", "--mode=stream", "--in=kafka://" + b.Addr() + "/txns",
			"--out=kafka://" + b.Addr() + "/totals", "--on-error=skip", "--idle-timeout=200ms", "--progress=never"}, &out, &errs)
		done <- result{code, out.String(), errs.String()}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
	}()

	// Wait for a first window, so the job runs with two partitions.
	first := &lineWatcher{match: func(string) bool { return true }}
	follow(t, ctx, b, first)

	// Add a third partition holding one user's large transactions after
	// everything else, and an event later still to close their window.
	adm := kadm.NewClient(mustClient(t, b))
	defer adm.Close()
	if _, err := adm.CreatePartitions(ctx, 3, "txns"); err != nil {
		t.Fatal(err)
	}
	var end time.Time
	for _, p := range parts {
		for _, tx := range p {
			if tx.At.After(end) {
				end = tx.At
			}
		}
	}
	start := end.Truncate(5 * time.Minute).Add(10 * time.Minute)
	added := []fraud.Txn{
		{Merchant: "m", UserID: "u-added", Amount: fraud.Threshold + 1, At: start.Add(time.Minute)},
		{Merchant: "m", UserID: "u-added", Amount: fraud.Threshold + 2, At: start.Add(2 * time.Minute)},
		{Merchant: "m", UserID: "u-added", Amount: 1, At: start.Add(30 * time.Minute)},
	}
	produceParts(t, b, "txns", 2, [][]fraud.Txn{added}, nil)
	wantRow := totalString(fraud.UserTotal{UserID: "u-added", WindowStart: start, WindowEnd: start.Add(5 * time.Minute),
		Total: 2*fraud.Threshold + 3, Count: 2})
	found := &lineWatcher{match: func(l string) bool { return l == wantRow }}
	follow(t, ctx, b, found)

	close(stop)
	r := <-done
	checkClean(t, r)
	if r.code != 0 {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("rows in %d", gen.Rows+len(added))) {
		t.Errorf("stderr %q: want rows in %d", r.stderr, gen.Rows+len(added))
	}
}

// follow reads the topic "totals" from the start until w matched a row or
// a minute passed.
func follow(t *testing.T, ctx context.Context, b *devbroker.Broker, w *lineWatcher) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	w.done = cancel
	devbroker.Consume(cctx, b.Brokers(), "totals", w, devbroker.ConsumeOptions{FromStart: true, Follow: true})
	if !w.matched {
		t.Fatal("no matching output row within a minute")
	}
}

// lineWatcher calls done at the first output row that matches.
type lineWatcher struct {
	match   func(row string) bool
	matched bool
	partial []byte
	done    func()
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		var r fraud.UserTotal
		if json.Unmarshal(w.partial[:i], &r) == nil && !w.matched && w.match(totalString(r)) {
			w.matched = true
			w.done()
		}
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func mustClient(t *testing.T, b *devbroker.Broker) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// syncBuffer is a bytes.Buffer safe for a child process's output copier
// and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestStreamBrokerLate: a job whose first connection to the broker fails
// retries, and reads the topic once the broker is back.
func TestStreamBrokerLate(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a broker")
	}
	gen := fraudgen.Options{Rows: 2_000, Users: 50, Partitions: 2, Disorder: 20 * time.Second, Seed: 37}
	parts := fraudgen.Generate(gen)
	data := t.TempDir()
	b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0", DataDir: data, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	createTopics(t, b, len(parts), "txns")
	produceParts(t, b, "txns", 0, parts, nil)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// Something that is not a broker holds the port: it takes the job's
	// first connection and drops it, so the job must retry.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := filepath.Join(dir, "out")
	cmd := exec.CommandContext(ctx, fraudBin, "run", "--mode=stream", "--bounded", "--in=kafka://"+addr+"/txns",
		"--out=jsonl:"+out, "--progress=never")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the job did not connect in 30s: %v", err)
	}
	conn.Close()
	ln.Close()
	// The job's first attempt failed; bring the broker back.
	b, err = devbroker.Start(devbroker.Options{Addr: addr, DataDir: data, Partitions: 1})
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	defer b.Close()
	err = cmd.Wait()
	r := result{cmd.ProcessState.ExitCode(), "", stderr.String()}
	checkClean(t, r)
	if err != nil {
		t.Fatalf("%v: %s", err, r.stderr)
	}
	rows, _ := fraudgen.Expected(parts, 5*time.Minute, 30*time.Second)
	want := rowsOf(rows)
	slices.Sort(want)
	sameRows(t, readTotals(t, out), want)
}

// TestStreamOutKey: --out-key=user_id keys every result record by its
// user, so that a user's results share a partition; the rows are those of
// a run without keys.
func TestStreamOutKey(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a job against a broker")
	}
	parts := fraudgen.Generate(fraudgen.Options{Rows: 4_000, Users: 50, Partitions: 2, Disorder: 20 * time.Second, Seed: 5})
	b := startBroker(t)
	createTopics(t, b, 2, "txns")
	createTopics(t, b, 3, "totals", "totals-late")
	produceParts(t, b, "txns", 0, parts, nil)
	r := runCLI(t, "run", "--mode=stream", "--bounded", "--in=kafka://"+b.Addr()+"/txns", "--out=kafka://"+b.Addr()+"/totals",
		"--out-key=user_id", "--parallelism=2", "--on-error=fail", "--progress=never")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Brokers()...), kgo.ConsumeTopics("totals"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := readTopic(t, b)
	if len(want) == 0 {
		t.Fatal("no results")
	}
	partOf := map[string]int32{}
	for n := 0; n < len(want); {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v", n, len(want), ctx.Err())
		}
		fs.EachRecord(func(rec *kgo.Record) {
			n++
			var u fraud.UserTotal
			if err := json.Unmarshal(rec.Value, &u); err != nil {
				t.Fatalf("%q: %v", rec.Value, err)
			}
			if string(rec.Key) != u.UserID {
				t.Errorf("record of %s keyed %q", u.UserID, rec.Key)
			}
			if p, ok := partOf[u.UserID]; ok && p != rec.Partition {
				t.Errorf("results of %s in partitions %d and %d", u.UserID, p, rec.Partition)
			}
			partOf[u.UserID] = rec.Partition
		})
	}
	if r := runCLI(t, "run", "--mode=stream", "--bounded", "--in=kafka://"+b.Addr()+"/txns", "--out=jsonl:"+t.TempDir(),
		"--out-key=user_id"); r.code != 2 || !strings.Contains(r.stderr, "--out-key is for a Kafka output") {
		t.Errorf("--out-key with a file output: exit %d: %s", r.code, r.stderr)
	}
	if r := runCLI(t, "run", "--mode=stream", "--bounded", "--in=kafka://"+b.Addr()+"/txns", "--out=kafka://"+b.Addr()+"/other",
		"--out-key=user", "--on-error=fail"); r.code != 2 && r.code != 1 || !strings.Contains(r.stderr, "has no field user; its fields are") {
		t.Errorf("--out-key naming no field: exit %d: %s", r.code, r.stderr)
	}
}
