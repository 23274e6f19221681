package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/internal/devbroker"
)

// The crash harness of issue 4: the fraud job runs as a child process with
// --checkpoint-dir, is killed with SIGKILL at seeded random moments and
// restarted with the same flags until it finishes; the committed output
// must then equal the independent computation (fraudgen.Expected) with no
// row duplicated and none missing.

var crashSeed = flag.Uint64("crash-seed", 4, "seed of the crash harness's kill moments")

// minKills is the number of SIGKILLs every crash run must survive.
const minKills = 5

// killKind is when a run is killed.
type killKind int

const (
	killAtTime          killKind = iota // after a random delay from the start
	killAfterCheckpoint                 // right after the n-th checkpoint of the run completes
	killDuringUpload                    // while a checkpoint is being written (chk-<id> without _metadata)
)

func (k killKind) String() string {
	return [...]string{"at a random time", "right after a checkpoint", "during a checkpoint upload"}[k]
}

// killPlan says when to kill one run.
type killPlan struct {
	kind  killKind
	delay time.Duration // killAtTime: when; killDuringUpload: the earliest kill (the latest is delay+limit)
	n     int           // killAfterCheckpoint: checkpoints of this run to wait for
}

// crashJob runs the fraud job as a child process again and again with the
// same flags until it finishes, killing it as its plans say.
type crashJob struct {
	t    *testing.T
	args []string // the flags of `fraud run`
	ckpt string   // its --checkpoint-dir
	rng  *rand.Rand

	kills     int
	stderrs   []string      // of every run, in order
	afterKill func(n int)   // called after the n-th kill (from 1), if set
	afterRun  func() string // called after every run, if set; what it returns is logged with the run
	// acceptFailure, if set, says whether a run that exited non-zero
	// failed as expected; runToEnd then returns its result.
	acceptFailure func(r result) bool
	limit         time.Duration // a checkpoint-driven kill happens at the latest this long after the run's start
	kinds         []killKind    // the kinds of kill to draw from; all if empty
	// more, if set, asks for kills beyond minKills while it returns true.
	more func() bool
}

func newCrashJob(t *testing.T, seed uint64, ckpt string, args ...string) *crashJob {
	t.Logf("crash seed %d (rerun with -args -crash-seed=N to vary)", seed)
	return &crashJob{t: t, args: append([]string{"run"}, args...), ckpt: ckpt,
		rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), limit: 3 * time.Second}
}

// plan draws the next kill: a third at a uniform delay in [150ms, 900ms], a
// third right after 1-3 checkpoints of the run, a third while a checkpoint
// is in flight (at the earliest after a uniform delay in [100ms, 600ms]).
// A run makes about 300 ms of progress before its kill, so with inputs that
// take a few seconds the job is killed minKills times before it ends.
func (c *crashJob) plan() killPlan {
	k := killKind(c.rng.IntN(3))
	if len(c.kinds) > 0 {
		k = c.kinds[c.rng.IntN(len(c.kinds))]
	}
	switch k {
	case killAtTime:
		return killPlan{kind: k, delay: 150*time.Millisecond + time.Duration(c.rng.Int64N(int64(750*time.Millisecond)))}
	case killAfterCheckpoint:
		return killPlan{kind: k, n: 1 + c.rng.IntN(3)}
	default:
		return killPlan{kind: k, delay: 100*time.Millisecond + time.Duration(c.rng.Int64N(int64(500*time.Millisecond)))}
	}
}

// runToEnd kills runs until minKills of them were killed, then lets the
// next one finish and returns its result. It fails t if the job fails or
// finishes before it was killed minKills times.
func (c *crashJob) runToEnd() result {
	t := c.t
	t.Helper()
	for attempt := 0; ; attempt++ {
		if attempt > minKills+20 {
			t.Fatalf("the job did not finish in %d runs", len(c.stderrs))
		}
		var p *killPlan
		if c.kills < minKills || c.more != nil && c.more() {
			pl := c.plan()
			p = &pl
		}
		r, killed := c.runOnce(p)
		if killed {
			c.kills++
			if c.afterKill != nil {
				c.afterKill(c.kills)
			}
			continue
		}
		if r.code != 0 && c.acceptFailure != nil && c.acceptFailure(r) {
			return r
		}
		if r.code != 0 {
			t.Fatalf("run %d: exit %d; stderr:\n%s", len(c.stderrs), r.code, tail(r.stderr))
		}
		if c.kills < minKills {
			t.Fatalf("the job finished after only %d of %d kills (plan: %s, %v; checkpoints %d): make the input larger; stderr:\n%s",
				c.kills, minKills, p.kind, p.delay, newestCheckpoint(c.ckpt), tail(r.stderr))
		}
		note := ""
		if c.afterRun != nil {
			note = "; " + c.afterRun()
		}
		t.Logf("run %d finished after %d kills: %s%s", len(c.stderrs), c.kills, firstLines(r.stderr, "resuming from", "done:"), note)
		return r
	}
}

// runOnce starts the job and kills it as p says (never if p is nil). It
// returns the run's result and whether it was killed.
func (c *crashJob) runOnce(p *killPlan) (result, bool) {
	t := c.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := newestCheckpoint(c.ckpt)
	cmd := exec.CommandContext(ctx, fraudBin, c.args...)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var why string
	var waitErr error
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case waitErr = <-exited:
			break wait
		case <-tick.C:
		}
		if p == nil {
			continue
		}
		since := time.Since(start)
		switch p.kind {
		case killAtTime:
			if since >= p.delay {
				why = fmt.Sprintf("after %v", p.delay.Round(time.Millisecond))
			}
		case killAfterCheckpoint:
			if n := newestCheckpoint(c.ckpt); n >= base+uint64(p.n) {
				why = fmt.Sprintf("checkpoint %d completed (%d of this run)", n, n-base)
			} else if since >= c.limit {
				why = fmt.Sprintf("after %v without %d checkpoints", c.limit, p.n)
			}
		case killDuringUpload:
			if since < p.delay {
				break
			}
			if id, ok := inFlightCheckpoint(c.ckpt); ok {
				why = fmt.Sprintf("checkpoint %d in flight, after %v", id, since.Round(time.Millisecond))
			} else if since >= p.delay+c.limit {
				why = fmt.Sprintf("after %v without seeing a checkpoint in flight", since.Round(time.Millisecond))
			}
		}
		if why != "" {
			// Kill fails only if the process has exited: then Wait tells.
			_ = cmd.Process.Kill()
			waitErr = <-exited
			break
		}
	}
	run := len(c.stderrs) + 1
	c.stderrs = append(c.stderrs, stderr.String())
	r := result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("run %d: still running after 2 minutes; stderr:\n%s", run, tail(r.stderr))
	}
	checkClean(t, r)
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		t.Fatalf("run %d: %v", run, waitErr)
	}
	killed := why != "" && r.code == -1 // -1: ended by a signal
	if killed {
		note := ""
		if c.afterRun != nil {
			note = "; " + c.afterRun()
		}
		t.Logf("run %d: kill %d %s (%s) at %v: checkpoints %d → %d; %s%s", run, c.kills+1, p.kind, why,
			time.Since(start).Round(time.Millisecond), base, newestCheckpoint(c.ckpt), firstLines(r.stderr, "resuming from", "skipping"), note)
	}
	return r, killed
}

// newestCheckpoint returns the id of the newest chk-<id> directory of dir
// holding _metadata (a completed checkpoint, as far as the name goes), 0 if
// none.
func newestCheckpoint(dir string) uint64 {
	var newest uint64
	for _, id := range chkIDs(dir) {
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("chk-%d", id), "_metadata")); err == nil {
			newest = max(newest, id)
		}
	}
	return newest
}

// inFlightCheckpoint returns the id of a chk-<id> directory of dir newer
// than every completed checkpoint and without _metadata: one being
// written.
func inFlightCheckpoint(dir string) (uint64, bool) {
	newest := newestCheckpoint(dir)
	for _, id := range chkIDs(dir) {
		if id <= newest {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("chk-%d", id), "_metadata")); errors.Is(err, fs.ErrNotExist) {
			return id, true
		}
	}
	return 0, false
}

func chkIDs(dir string) []uint64 {
	entries, _ := os.ReadDir(dir)
	var ids []uint64
	for _, e := range entries {
		if rest, ok := strings.CutPrefix(e.Name(), "chk-"); ok && e.IsDir() {
			if id, err := strconv.ParseUint(rest, 10, 64); err == nil {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// tail returns the last lines of a child's stderr, for failure messages.
func tail(s string) string {
	const maxLines, maxBytes = 30, 4000
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > maxLines {
		lines = append([]string{fmt.Sprintf("[... %d lines]", len(lines)-maxLines)}, lines[len(lines)-maxLines:]...)
	}
	out := strings.Join(lines, "\n")
	if len(out) > maxBytes {
		out = "[...]" + out[len(out)-maxBytes:]
	}
	return out
}

// firstLines returns the lines of s that contain one of subs, joined by
// " | ", or "no note" when there are none.
func firstLines(s string, subs ...string) string {
	var got []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				got = append(got, strings.TrimSpace(l))
				break
			}
		}
	}
	if len(got) == 0 {
		return "no note"
	}
	return strings.Join(got, " | ")
}

// exactRows fails t unless got and want are the same multiset of rows,
// counting the duplicated and the missing ones.
func exactRows(t testing.TB, what string, got, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, r := range want {
		count[r]++
	}
	for _, r := range got {
		count[r]--
	}
	var dup, miss []string
	dups, misses := 0, 0
	for r, n := range count {
		switch {
		case n < 0:
			dup = append(dup, r)
			dups -= n
		case n > 0:
			miss = append(miss, r)
			misses += n
		}
	}
	if dups+misses == 0 {
		t.Logf("%s: %d rows, exactly the %d expected", what, len(got), len(want))
		return
	}
	slices.Sort(dup)
	slices.Sort(miss)
	t.Errorf("%s: %d rows, want %d: %d duplicate rows (%d distinct, e.g. %q), %d missing (e.g. %q)",
		what, len(got), len(want), dups, len(dup), dup[:min(3, len(dup))], misses, miss[:min(3, len(miss))])
}

// crashData generates the input of a crash run and the expected totals.
func crashData(t testing.TB, o fraudgen.Options) ([][]fraud.Txn, []string) {
	t.Helper()
	parts := fraudgen.Generate(o)
	want := expectedTotals(t, o)
	if len(want) == 0 {
		t.Fatal("no expected rows")
	}
	return parts, want
}

// crashBatchOptions is the input of the batch crash runs: one
// uninterrupted run with checkpoints every 100ms takes about 4 s on 2
// cores.
var crashBatchOptions = fraudgen.Options{Rows: 2_000_000, Users: 20_000, Partitions: 4, Disorder: 20 * time.Second, Seed: 41}

// batchInput is the input of the batch crash runs, written once as JSON
// Lines beside the test binary (TestMain removes it), and the expected
// totals.
var batchInput = sync.OnceValues(func() (string, []string) {
	dir := filepath.Join(filepath.Dir(fraudBin), "crash-input")
	o := crashBatchOptions
	rows, late := fraudgen.Expected(fraudgen.Generate(o), 5*time.Minute, 30*time.Second)
	if late != 0 {
		panic(fmt.Sprintf("%d late events in on-time data", late))
	}
	want := make([]string, len(rows))
	for i, r := range rows {
		want[i] = totalString(r)
	}
	slices.Sort(want)
	if _, err := fraudgen.WriteJSONL(dir, fraudgen.Generate(o)); err != nil {
		panic(err)
	}
	return dir, want
})

// crashBatchJob returns a batch crash job reading batchInput, writing
// JSON Lines to dir/out with checkpoints in dir/ckpt, and the expected
// totals.
func crashBatchJob(t *testing.T, seed uint64) (c *crashJob, dir, out string, want []string) {
	t.Helper()
	return crashBatchJobTo(t, seed, "jsonl", readTotals)
}

// crashBatchJobTo is crashBatchJob with output in format (jsonl or
// parquet), read by read.
func crashBatchJobTo(t *testing.T, seed uint64, format string, read func(*testing.T, string) []string) (c *crashJob, dir, out string, want []string) {
	t.Helper()
	start := time.Now()
	in, want := batchInput()
	t.Logf("input: %d transactions, %d expected rows (%v)", crashBatchOptions.Rows, len(want), time.Since(start).Round(time.Millisecond))
	dir = t.TempDir()
	out, ckpt := filepath.Join(dir, "out"), filepath.Join(dir, "ckpt")
	c = newCrashJob(t, seed, ckpt, "--mode=batch", "--in=jsonl:"+in+"/*.jsonl", "--out="+format+":"+out,
		"--parallelism=2", "--checkpoint-dir="+ckpt, "--checkpoint-interval=100ms", "--progress=never")
	c.afterRun = func() string { return committedSoFar(read(t, out)) }
	return c, dir, out, want
}

// TestCrashBatch kills a JSONL → JSONL backfill at least five times and
// resumes it from its checkpoints: the committed output is exact.
func TestCrashBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the job many times")
	}
	c, _, out, want := crashBatchJob(t, *crashSeed)
	c.runToEnd()
	checkBatchOutput(t, out, want)

	// Run again: the job is finished, nothing changes.
	r := execCLI(t, c.args...)
	if r.code != 0 {
		t.Errorf("run after the end: exit %d; stderr:\n%s", r.code, tail(r.stderr))
	}
	t.Logf("run after the end: %s", strings.TrimSpace(r.stderr))
	exactRows(t, "output after one more run", readTotals(t, out), want)
}

// checkBatchOutput compares the committed totals in out with want and
// checks that nothing was late or dead-lettered.
func checkBatchOutput(t *testing.T, out string, want []string) {
	t.Helper()
	exactRows(t, "committed output", readTotals(t, out), want)
	if late := readLines(t, filepath.Join(out, "late")); len(late) != 0 {
		t.Errorf("%d late rows, want none: e.g. %s", len(late), late[0])
	}
	if dead := readLines(t, filepath.Join(out, "dead-letter")); len(dead) != 0 {
		t.Errorf("%d dead letters, want none: e.g. %s", len(dead), dead[0])
	}
	// Every file left in the output directory is committed: no in-progress
	// or staged file stays after the final run.
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if !e.IsDir() && !strings.HasSuffix(e.Name(), ".jsonl") {
			t.Errorf("uncommitted file left in the output: %s", e.Name())
		}
	}
}

// crashStreamOptions is the input of the stream crash run.
var crashStreamOptions = fraudgen.Options{Rows: 2_000_000, Users: 10_000, Partitions: 4, Disorder: 20 * time.Second, Seed: 42}

// TestCrashStream kills a bounded Kafka → Kafka stream job at least five
// times and resumes it from its checkpoints: the output topic, read with
// read_committed, holds exactly the expected rows.
func TestCrashStream(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the job many times")
	}
	parts, want := crashData(t, crashStreamOptions)
	b := startBroker(t) // outlives every run of the job
	createTopics(t, b, len(parts), "txns")
	createTopics(t, b, 2, "totals", "totals-late")
	start := time.Now()
	produceParts(t, b, "txns", 0, parts, nil)
	t.Logf("produced %d transactions in %v", crashStreamOptions.Rows, time.Since(start).Round(time.Millisecond))
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	c := newCrashJob(t, *crashSeed+200, ckpt, "--mode=stream", "--bounded", "--in=kafka://"+b.Addr()+"/txns",
		"--out=kafka://"+b.Addr()+"/totals", "--on-error=fail", "--parallelism=2",
		"--checkpoint-dir="+ckpt, "--checkpoint-interval=100ms", "--progress=never")
	c.runToEnd()
	got := readCommitted(t, b, "totals")
	t.Logf("the topic holds %d records, of which %d committed (the rest written by killed runs, aborted)",
		countRecords(t, b, "totals"), len(got))
	exactRows(t, "committed output topic", got, want)
	if late := readCommitted(t, b, "totals-late"); len(late) != 0 {
		t.Errorf("%d late rows, want none: e.g. %s", len(late), late[0])
	}

	// Run again: the job is finished, nothing is written.
	r := execCLI(t, c.args...)
	if r.code != 0 {
		t.Errorf("run after the end: exit %d; stderr:\n%s", r.code, tail(r.stderr))
	}
	exactRows(t, "output topic after one more run", readCommitted(t, b, "totals"), want)
}

// readCommitted returns the sorted rows of the committed records of topic,
// read with a read_committed consumer up to the last stable offsets.
func readCommitted(t testing.TB, b *devbroker.Broker, topic string) []string {
	t.Helper()
	var buf bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := devbroker.Consume(ctx, b.Brokers(), topic, &buf, devbroker.ConsumeOptions{FromStart: true}); err != nil {
		t.Fatalf("consume %s: %v", topic, err)
	}
	var got []string
	for _, l := range strings.Split(buf.String(), "\n") {
		if l == "" {
			continue
		}
		var u fraud.UserTotal
		if err := json.Unmarshal([]byte(l), &u); err != nil {
			t.Fatalf("%s: %q: %v", topic, l, err)
		}
		got = append(got, totalString(u))
	}
	slices.Sort(got)
	return got
}

// countRecords returns the number of data records in topic, committed,
// aborted or open: read_uncommitted, up to the high watermarks.
func countRecords(t *testing.T, b *devbroker.Broker, topic string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(mustClient(t, b))
	ends, err := adm.ListEndOffsets(ctx, topic)
	adm.Close()
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	left := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
			from[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(left) == 0 {
		return 0
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Brokers()...), kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.KeepControlRecords(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("count %s: %v (%d partitions not read to their end)", topic, ctx.Err(), len(left))
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				n++
			}
			if r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		})
	}
	return n
}

// committedSoFar describes the committed output rows (sorted): their
// number, and how many of them are duplicates (every expected row is
// distinct, so a row seen twice is one).
func committedSoFar(rows []string) string {
	dups := duplicates(rows)
	return fmt.Sprintf("%d rows committed, %d of them duplicates", len(rows), dups)
}
