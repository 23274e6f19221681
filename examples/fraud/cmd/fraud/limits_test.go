package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/internal/devbroker"
)

// TestParallelismCapped: a parallelism beyond what the state backend's
// key groups allow is refused before anything runs, on one line naming
// the flag and the range (it used to grow past 9 GB and ignore signals).
func TestParallelismCapped(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--parallelism=100000", "--max-parallelism=100000"},
		{"--parallelism=100000"},
	} {
		r := execCLI(t, append([]string{"run", "--in=jsonl:" + dir, "--out=jsonl:" + filepath.Join(dir, "out")}, args...)...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2", args, r.code)
		}
		oneLine(t, strings.Join(args, " "), r.stderr, "fraud: --parallelism=100000: out of range; use 1 to 32768 (see fraud run -h)")
	}
	r := execCLI(t, "run", "--in=jsonl:"+dir, "--out=jsonl:"+filepath.Join(dir, "out"), "--max-parallelism=40000")
	if r.code != 2 {
		t.Errorf("--max-parallelism=40000: exit %d, want 2", r.code)
	}
	oneLine(t, "max-parallelism", r.stderr, "fraud: --max-parallelism=40000: out of range; use 1 to 32768")
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Errorf("a refused command line made its output directory")
	}
}

// TestSignalDuringSetUp runs a batch job at the largest parallelism there
// is and sends SIGTERM once it is setting up (its state directory
// appears): it must abort within seconds, not set up 100,000 tasks first.
func TestSignalDuringSetUp(t *testing.T) {
	dir := t.TempDir()
	if r := execCLI(t, "gen", "--rows=200", "--out=jsonl:"+filepath.Join(dir, "in")); r.code != 0 {
		t.Fatalf("gen: exit %d: %s", r.code, r.stderr)
	}
	stateDir := filepath.Join(dir, "state")
	p := startProc(t, "run", "--in=jsonl:"+filepath.Join(dir, "in"), "--out=jsonl:"+filepath.Join(dir, "out"),
		"--parallelism=32768", "--max-parallelism=32768", "--state-dir="+stateDir, "--progress=never")
	// The state directory is made during set-up, after the signal handler
	// is in place.
	p.waitUntil("the state directory", func() bool {
		m, _ := filepath.Glob(filepath.Join(stateDir, "weir-state-*"))
		return len(m) > 0
	})
	p.signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30s after SIGTERM; stderr: %s", p.stderr.String())
	}
	r := p.wait()
	if r.code != 130 {
		t.Errorf("exit %d, want 130", r.code)
	}
	oneLine(t, "aborted", r.stderr, "fraud: aborted: nothing committed (without --checkpoint-dir a batch job is rerun whole): rows in ", "; job fraud-")
}

// TestTwoJobsOneBroker runs two different jobs of the fraud binary with
// exactly-once Kafka output on one broker: a stream job, and while it
// runs a backfill into another topic with its own checkpoint directory;
// then the stream job gets more input and must commit its windows. Their
// transactional ids derive from their names, which differ, so the
// backfill does not fence the stream job. (With ids made of the binary's
// name alone, the stream job's next commit failed.)
func TestTwoJobsOneBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two jobs against a broker")
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	gen := fraudgen.Options{Rows: 3_000, Users: 100, Partitions: 2, Start: start, Disorder: 10 * time.Second, Seed: 61}
	b := startBroker(t)
	createTopics(t, b, gen.Partitions, "txns")
	createTopics(t, b, 1, "a", "a-late", "b", "b-late")
	produceParts(t, b, "txns", 0, fraudgen.Generate(gen), nil)
	dir := t.TempDir()
	ckA, ckB := filepath.Join(dir, "ck-a"), filepath.Join(dir, "ck-b")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	p := programForTest()
	p.Stop = stop
	type res struct {
		code   int
		stderr string
	}
	var a res
	done := make(chan struct{})
	go func() {
		defer close(done)
		var out, errs syncBuffer
		code := p.Run(ctx, []string{"run", "--mode=stream", "--in=kafka://" + b.Addr() + "/txns", "--out=kafka://" + b.Addr() + "/a",
			"--on-error=skip", "--checkpoint-dir=" + ckA, "--checkpoint-interval=50ms", "--progress=never"}, &out, &errs)
		a = res{code, errs.String()}
	}()
	// The stream job writes its first windows.
	firstLine := func(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
	follow := func(after time.Time) {
		t.Helper()
		cctx, ccancel := context.WithTimeout(ctx, 90*time.Second)
		defer ccancel()
		go func() {
			select {
			case <-done: // the job ended: nothing more will come
				ccancel()
			case <-cctx.Done():
			}
		}()
		w := &windowWatcher{after: after, done: ccancel}
		if _, err := devbroker.Consume(cctx, b.Brokers(), "a", w, devbroker.ConsumeOptions{FromStart: true, Follow: true}); err != nil {
			t.Fatal(err)
		}
		if !w.seen {
			select {
			case <-done:
				t.Fatalf("the stream job ended: exit %d: %s", a.code, a.stderr)
			default:
				t.Fatalf("the stream job committed no window ending after %v in 90s", after)
			}
		}
	}
	follow(start)

	r := execCLI(t, "run", "--in=kafka://"+b.Addr()+"/txns", "--out=kafka://"+b.Addr()+"/b", "--on-error=skip", "--checkpoint-dir="+ckB, "--progress=never")
	if r.code != 0 {
		t.Fatalf("backfill: exit %d: %s", r.code, r.stderr)
	}

	// More input: the stream job commits new windows.
	later := start.Add(2 * time.Hour)
	gen.Start, gen.Seed = later, 62
	produceParts(t, b, "txns", 0, fraudgen.Generate(gen), nil)
	follow(later)

	close(stop)
	<-done
	if a.code != 0 {
		t.Fatalf("stream job: exit %d: %s", a.code, a.stderr)
	}
	if !strings.Contains(a.stderr, "fraud: stopped: output committed") {
		t.Errorf("stream job stderr %q", a.stderr)
	}
	nameOf := func(stderr string) string {
		_, n, _ := strings.Cut(firstLine(stderr), "; job ")
		return n
	}
	if na, nb := nameOf(a.stderr), nameOf(r.stderr); na == "" || na == nb {
		t.Errorf("job names %q and %q, want two different ones", na, nb)
	}
}

// windowWatcher calls done once a window ending after after arrives.
type windowWatcher struct {
	after   time.Time
	done    func()
	seen    bool
	partial []byte
}

func (w *windowWatcher) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		var r fraud.UserTotal
		if json.Unmarshal(w.partial[:i], &r) == nil && r.WindowEnd.After(w.after) && !w.seen {
			w.seen = true
			w.done()
		}
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}
