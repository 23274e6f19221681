package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/dirlock"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/checkpoint"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// badEv marks every record whose event time is a multiple of 211 µs bad.
func badEv(x ev) string {
	if x.At.UnixMicro()%211 == 0 {
		return "a bad record"
	}
	return ""
}

// crashAfter makes the next run of j crash (cancel) once m counts n
// completed checkpoints. Reading is paced, at most 10 reads per completed
// checkpoint, so the run cannot reach the end of its input before: the
// test does not depend on how fast the machine is.
func (j *ckJob) crashAfter(m *graph.Metrics, n int64, cancel func()) {
	var reads atomic.Int64
	pause := func() bool {
		c := m.Checkpoints.Load()
		if c >= n {
			cancel()
		}
		if reads.Load() >= 10*(c+1) {
			time.Sleep(100 * time.Microsecond) // let the checkpoint come
			return true
		}
		reads.Add(1)
		return false
	}
	j.slow.Store(nil)
	j.pause.Store(&pause)
}

// TestDeadLettersExactlyOnce crashes a job with bad records again and
// again and resumes it: every bad record is dead-lettered exactly once,
// since each task stages its dead letters with its checkpoints and a
// restore settles what earlier runs staged.
func TestDeadLettersExactlyOnce(t *testing.T) {
	for _, par := range []int{1, 2} {
		t.Run(fmt.Sprintf("p%d", par), func(t *testing.T) {
			var wantDead []string
			ref := newCkJob(6, 4000, 40)
			ref.src.Bad = badEv
			for s, d := range ref.src.Data {
				for r, x := range d {
					if badEv(x) != "" {
						wantDead = append(wantDead, fmt.Sprintf("split-%03d row %d", s, r))
					}
				}
			}
			if _, err := Run(context.Background(), ref.p, Options{Parallelism: par}); err != nil {
				t.Fatal(err)
			}
			want := ref.results()

			j := newCkJob(6, 4000, 40)
			j.src.Bad = badEv
			dead := &runnertest.Sink[sdk.DeadLetter]{}
			dir := t.TempDir()
			crashes := 0
			for attempt := 0; ; attempt++ {
				if attempt > 20 {
					t.Fatal("the job did not finish in 20 attempts")
				}
				ctx, cancel := context.WithCancel(context.Background())
				m := new(graph.Metrics)
				if attempt < 5 {
					// Crash once this run has completed one or two
					// checkpoints: between a checkpoint's completion
					// and its commit, or after.
					j.crashAfter(m, int64(1+attempt%2), cancel)
				} else {
					j.pause.Store(nil)
				}
				_, err := Run(ctx, j.p, Options{Parallelism: par, Metrics: m, DeadLetters: dead,
					CheckpointDir: dir, CheckpointInterval: 3 * time.Millisecond, Logf: quietLogf(t)})
				crashed := ctx.Err() != nil
				cancel()
				if err == nil {
					break
				}
				if !crashed {
					t.Fatalf("attempt %d: %v", attempt, err)
				}
				crashes++
			}
			if crashes < 3 {
				t.Fatalf("only %d crashes", crashes)
			}
			sameResults(t, j.results(), want)
			var got []string
			for _, d := range dead.Values() {
				got = append(got, d.Source)
			}
			slices.Sort(got)
			slices.Sort(wantDead)
			sameResults(t, got, wantDead)
		})
	}
}

// TestDeadLettersPerTask: each task writes its own dead letters, under a
// writer index of its own, and they commit with the job.
func TestDeadLettersPerTask(t *testing.T) {
	j := newCkJob(4, 500, 10)
	j.src.Bad = badEv
	dead := &runnertest.Sink[sdk.DeadLetter]{}
	st, err := Run(context.Background(), j.p, Options{Parallelism: 2, DeadLetters: dead, Logf: quietLogf(t)})
	if err != nil {
		t.Fatal(err)
	}
	rows := dead.Rows()
	if int64(len(rows)) != st.DeadLettered || len(rows) == 0 {
		t.Fatalf("%d dead letters committed, %d counted", len(rows), st.DeadLettered)
	}
	tasks := map[int]bool{}
	for _, r := range rows {
		tasks[r.Task] = true
	}
	if len(tasks) != 2 { // the two source tasks
		t.Errorf("dead letters written by tasks %v, want two", tasks)
	}
	if rec := dead.Recovered(); !slices.Equal(rec, []sdk.CheckpointID{0}) {
		t.Errorf("Recover calls %v, want one fresh start", rec)
	}
}

// TestCheckpointDirInUse: a second job on a checkpoint (or savepoint)
// directory that a running job holds is refused with one line naming the
// holder; once the first has ended, it runs.
func TestCheckpointDirInUse(t *testing.T) {
	dir := t.TempDir()
	ckpt, sp := filepath.Join(dir, "ckpt"), filepath.Join(dir, "sp")
	s := runnertest.NewStream[ev](1)
	s.Append(0, e("a", 1, 10))
	stream := sdk.NewPipeline(sdk.JobName("first"))
	sdk.Write(sdk.Read[ev](stream, s, sdk.Timestamps(evTime)), runnertest.Discard[ev]{})
	p := sdk.NewPipeline(sdk.JobName("second"))
	sdk.Write(read(p, &runnertest.Source[ev]{Data: [][]ev{{e("a", 1, 1)}}}), runnertest.Discard[ev]{})

	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), stream, Options{Mode: Stream, Stop: stop, CheckpointDir: ckpt, SavepointDir: sp,
			CheckpointInterval: time.Hour, Logf: quietLogf(t)})
		done <- err
	}()
	waitFor(t, "the first job to lock its directories", func() bool {
		l1, _, _ := dirlock.Locked(ckpt)
		l2, _, _ := dirlock.Locked(sp)
		return l1 && l2
	})
	for _, o := range []Options{{CheckpointDir: ckpt}, {SavepointDir: sp}} {
		o.Logf = quietLogf(t)
		_, err := Run(context.Background(), p, o)
		if err == nil || !strings.Contains(err.Error(), "is in use by pid") || !strings.Contains(err.Error(), `job first`) ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("second job on a held directory: %v", err)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), p, Options{CheckpointDir: ckpt, Logf: quietLogf(t)}); err != nil {
		t.Errorf("after the first job ended: %v", err)
	}
}

// TestSavepointDirOverlap: a savepoint directory that is the checkpoint
// directory, or inside it, or the reverse, is refused before anything runs.
func TestSavepointDirOverlap(t *testing.T) {
	dir := t.TempDir()
	p := sdk.NewPipeline()
	sdk.Write(read(p, &runnertest.Source[ev]{Data: [][]ev{{e("a", 1, 1)}}}), runnertest.Discard[ev]{})
	if err := os.Symlink(filepath.Join(dir, "ckpt"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ ckpt, sp string }{
		{"ckpt", "ckpt"}, {"ckpt", "ckpt/sp"}, {"ckpt/x/..", "ckpt"}, {"all/ckpt", "all"}, {"ckpt", "link"}, {"link/sp", "ckpt"},
	} {
		_, err := Run(context.Background(), p, Options{CheckpointDir: filepath.Join(dir, c.ckpt), SavepointDir: filepath.Join(dir, c.sp)})
		if err == nil || !strings.Contains(err.Error(), "overlap") {
			t.Errorf("checkpoints in %s, savepoints in %s: %v", c.ckpt, c.sp, err)
		}
	}
	if _, err := Run(context.Background(), p, Options{CheckpointDir: filepath.Join(dir, "ckpt2"), SavepointDir: filepath.Join(dir, "ckpt2-sp"), Logf: quietLogf(t)}); err != nil {
		t.Errorf("side by side: %v", err)
	}
}

// TestSavepointThenCheckpoints: a job started from a savepoint with a
// checkpoint directory, crashed, and started again with the same options
// resumes from its newer checkpoint, not the savepoint, so nothing is
// written twice. A checkpoint directory holding newer checkpoints of
// another history is refused.
func TestSavepointThenCheckpoints(t *testing.T) {
	ref := newCkJob(6, 4000, 40)
	if _, err := Run(context.Background(), ref.p, Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	want := ref.results()

	j := newCkJob(6, 4000, 40)
	dir := t.TempDir()
	sp, ckpt := filepath.Join(dir, "sp"), filepath.Join(dir, "ckpt")
	// Run 1: stopped with a savepoint.
	stop := make(chan struct{})
	var once sync.Once
	var rows atomic.Int64
	slow := func(string, int) error {
		time.Sleep(50 * time.Microsecond)
		if rows.Add(1) > 30 {
			once.Do(func() { close(stop) })
		}
		return nil
	}
	j.slow.Store(&slow)
	if _, err := Run(context.Background(), j.p, Options{Parallelism: 2, Stop: stop, SavepointDir: sp, Logf: quietLogf(t)}); err != nil {
		t.Fatal(err)
	}
	spID := newestID(t, sp)

	// Run 2: from the savepoint, crashed after two checkpoints.
	var mu sync.Mutex
	var notes []string
	logf := func(f string, args ...any) {
		mu.Lock()
		notes = append(notes, fmt.Sprintf(f, args...))
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := new(graph.Metrics)
	j.crashAfter(m, 2, cancel)
	o := Options{Parallelism: 2, FromSavepoint: sp, CheckpointDir: ckpt, CheckpointInterval: 3 * time.Millisecond, Logf: logf}
	o.Metrics = m
	if _, err := Run(ctx, j.p, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("run 2: %v, want it crashed", err)
	}
	cancel()
	newest := newestID(t, ckpt)
	if newest <= spID {
		t.Fatalf("run 2 completed no checkpoint above the savepoint's %d", spID)
	}

	// The newer checkpoints of another history (a run not started from
	// the savepoint) are refused along with the savepoint.
	other := filepath.Join(dir, "other")
	k := newCkJob(6, 4000, 40)
	ctx, cancel = context.WithCancel(context.Background())
	km := new(graph.Metrics)
	k.crashAfter(km, 3, cancel)
	if _, err := Run(ctx, k.p, Options{Parallelism: 2, Metrics: km, CheckpointDir: other, CheckpointInterval: 3 * time.Millisecond, Logf: quietLogf(t)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("other run: %v, want it crashed", err)
	}
	cancel()
	if id := newestID(t, other); id <= spID {
		t.Fatalf("the other history's newest checkpoint %d is not newer than the savepoint's %d", id, spID)
	}
	o2 := o
	o2.Metrics, o2.CheckpointDir = nil, other
	if _, err := Run(context.Background(), j.p, o2); err == nil || !strings.Contains(err.Error(), "not started from it") || strings.Contains(err.Error(), "\n") {
		t.Errorf("savepoint with another history's newer checkpoints: %v", err)
	}

	// Run 3: the same options again.
	j.pause.Store(nil)
	mu.Lock()
	notes = nil
	mu.Unlock()
	o.Metrics = nil
	st, err := Run(context.Background(), j.p, o)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(st.RestoredFrom) != newest {
		t.Errorf("run 3 restored from %d, want checkpoint %d (the savepoint is %d)", st.RestoredFrom, newest, spID)
	}
	if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "resuming from the checkpoint, not the savepoint") }) {
		t.Errorf("no note says the checkpoint wins over the savepoint: %q", notes)
	}
	sameResults(t, j.results(), want)
}

func newestID(t *testing.T, dir string) uint64 {
	t.Helper()
	s, err := checkpoint.Open(dir, checkpoint.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ms, _, err := s.Completed()
	if err != nil || len(ms) == 0 {
		t.Fatalf("no checkpoint in %s: %v", dir, err)
	}
	return ms[0].ID
}

// TestStaleStateDirs: local state directories left by killed jobs are
// removed at the next start; those of running jobs, and new ones not yet
// locked, are not.
func TestStaleStateDirs(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, lockFile string, age time.Duration) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Join(d, "s1-t0", "db"), 0o700); err != nil {
			t.Fatal(err)
		}
		if lockFile != "" {
			if err := os.WriteFile(filepath.Join(d, dirlock.FileName), []byte(lockFile), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
		return d
	}
	killed := mk("weir-state-killed", "pid 1\nhost h\n", time.Second)
	ancient := mk("weir-state-ancient", "", time.Hour)
	fresh := mk("weir-state-fresh", "", 0)
	held := mk("weir-state-held", "", time.Hour)
	other := mk("not-weir-state", "", time.Hour)
	l, _, err := dirlock.Acquire(held, "a running job")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()

	var notes []string
	j := newCkJob(2, 100, 5)
	_, err = Run(context.Background(), j.p, Options{StateDir: dir, CheckpointDir: filepath.Join(t.TempDir(), "ck"),
		Logf: func(f string, args ...any) { notes = append(notes, fmt.Sprintf(f, args...)) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{killed, ancient} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: left behind (%v)", filepath.Base(d), err)
		}
	}
	for _, d := range []string{fresh, held, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s: %v, want it kept", filepath.Base(d), err)
		}
	}
	if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "removed 2 local state directories") }) {
		t.Errorf("notes %q: want one about the 2 removed directories", notes)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("state directory holds %d entries after the run, want the 3 kept", len(ents))
	}
}

// TestCheckpointFailureNotes: checkpoints that keep failing are noted on
// one line each, the first at once and the next ones at most every
// minute; a note says when they complete again. The test drives the
// clock: every read moves it on by one checkpoint interval, or by two
// minutes.
func TestCheckpointFailureNotes(t *testing.T) {
	for _, tc := range []struct {
		name string
		step time.Duration
		all  bool // every failure noted
	}{{"within a minute", time.Millisecond, false}, {"minutes apart", 2 * time.Minute, true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// A file where the store keeps shared files: every
			// checkpoint with state fails, even for root.
			if err := os.WriteFile(filepath.Join(dir, "shared"), []byte("in the way"), 0o600); err != nil {
				t.Fatal(err)
			}
			j := newCkJob(2, 600, 10)
			clock := runnertest.NewClock(time.Unix(1e9, 0))
			m := new(graph.Metrics)
			slow := checkpointPerRead(t, clock, m, tc.step)
			j.slow.Store(&slow)
			var mu sync.Mutex
			var notes []string
			st, err := Run(context.Background(), j.p, Options{CheckpointDir: dir, CheckpointInterval: time.Millisecond, Clock: clock, Metrics: m,
				Logf: func(f string, args ...any) {
					mu.Lock()
					notes = append(notes, fmt.Sprintf(f, args...))
					mu.Unlock()
				}})
			if err != nil {
				t.Fatal(err) // the job's last checkpoint has no state to write: it completes
			}
			failures := 0
			for _, n := range notes {
				if strings.Contains(n, "\n") {
					t.Errorf("a note of more than one line: %q", n)
				}
				if strings.Contains(n, " failed (") {
					failures++
				}
			}
			if st.CheckpointsFailed < 3 {
				t.Fatalf("%d checkpoints failed; the test needs at least 3", st.CheckpointsFailed)
			}
			switch {
			case tc.all && failures != st.CheckpointsFailed:
				t.Errorf("%d failure notes for %d failed checkpoints, want one each: %q", failures, st.CheckpointsFailed, notes)
			case !tc.all && failures != 1:
				t.Errorf("%d failure notes for %d failed checkpoints within a minute, want 1: %q", failures, st.CheckpointsFailed, notes)
			}
			if !slices.ContainsFunc(notes, func(n string) bool {
				return strings.Contains(n, fmt.Sprintf("completed, after %d failed checkpoints", st.CheckpointsFailed))
			}) {
				t.Errorf("no note says checkpoints complete again: %q", notes)
			}
		})
	}
}

// checkpointPerRead returns a read hook for a job with one source task and
// a fake clock: each read waits for the checkpoint in flight to settle
// (its barrier went out at the source's last poll), moves the clock on by
// step (at least the checkpoint interval) and waits for the next
// checkpoint to start, so the source takes it right after this read.
// Checkpoints then follow the reads, however fast the machine is.
func checkpointPerRead(t *testing.T, clock *runnertest.Clock, m *graph.Metrics, step time.Duration) func(string, int) error {
	return func(string, int) error {
		settled := func() bool { return m.Checkpoints.Load()+m.CheckpointsFailed.Load() == m.CheckpointsStarted.Load() }
		waitFor(t, "the checkpoint in flight to settle", func() bool { return settled() && clock.Tickers() > 0 })
		n := m.CheckpointsStarted.Load()
		clock.Advance(step)
		waitFor(t, "a checkpoint to start", func() bool { return m.CheckpointsStarted.Load() > n })
		return nil
	}
}
