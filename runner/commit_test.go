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
	"testing"
	"time"

	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/runnertest"
)

// commitCall is one call of Options.CommitCheckpoint.
type commitCall struct {
	id        uint64
	path      string
	wm        time.Time
	savepoint string
}

func (c commitCall) String() string {
	s := fmt.Sprintf("%d %s %s", c.id, filepath.Base(c.path), c.wm.Format(time.RFC3339Nano))
	if c.savepoint != "" {
		s += " savepoint " + filepath.Base(filepath.Dir(c.savepoint)) + "/" + filepath.Base(c.savepoint)
	}
	return s
}

// commitLog records the calls of Options.CommitCheckpoint and fails those
// of the ids in fail.
type commitLog struct {
	fail []uint64
	dir  string

	mu    sync.Mutex
	calls []commitCall
}

var errRefused = errors.New("refused by the test")

func (l *commitLog) commit(_ context.Context, r CheckpointReport) error {
	id, path, wm := r.ID, r.Path, r.Watermark
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, commitCall{id, path, wm, r.Savepoint})
	if r.Complete >= id {
		return fmt.Errorf("checkpoint %d reported with %d complete", id, r.Complete)
	}
	if r.Complete > 0 {
		if _, err := os.Stat(filepath.Join(filepath.Dir(path), fmt.Sprintf("chk-%d", r.Complete), "_metadata")); err != nil {
			return fmt.Errorf("checkpoint %d reported with %d complete: %v", id, r.Complete, err)
		}
	}
	// The data is durable, the checkpoint is not complete yet.
	if _, err := os.Stat(filepath.Join(path, "_metadata")); err == nil {
		return fmt.Errorf("checkpoint %d already has its metadata", id)
	}
	if filepath.Dir(path) != l.dir {
		return fmt.Errorf("checkpoint %d: path %s is not in %s", id, path, l.dir)
	}
	if slices.Contains(l.fail, id) {
		return errRefused
	}
	return nil
}

func (l *commitLog) log() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.calls))
	for i, c := range l.calls {
		out[i] = c.String()
	}
	return out
}

// completed lists the checkpoints of dir that have their metadata.
func completed(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "_metadata")); err == nil {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestCommitCheckpoint: Options.CommitCheckpoint is asked once per
// checkpoint, after its data is durable and before its metadata; a refusal
// fails the checkpoint like a failed write (no metadata, no committed
// output, the job goes on) and a later checkpoint commits what the refused
// one staged. A refused last checkpoint fails Run and commits nothing.
func TestCommitCheckpoint(t *testing.T) {
	wm := at(11).UTC().Format(time.RFC3339Nano) // a@12 is the latest record of split 0, bound 0
	want := []string{"a [0,10) 3 @9", "b [0,10) 3 @9"}
	for _, tc := range []struct {
		name     string
		fail     []uint64
		periodic int // checkpoints triggered by the interval before the stop
		calls    []string
		complete []string // checkpoints with metadata after Run
		err      bool
	}{
		{name: "refused then accepted", fail: []uint64{1}, periodic: 2,
			calls: []string{"1 chk-1 " + wm, "2 chk-2 " + wm, "3 chk-3 " + wm}, complete: []string{"chk-2", "chk-3"}},
		{name: "all accepted", periodic: 1,
			calls: []string{"1 chk-1 " + wm, "2 chk-2 " + wm}, complete: []string{"chk-1", "chk-2"}},
		{name: "last refused", fail: []uint64{1},
			calls: []string{"1 chk-1 " + wm}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := runnertest.NewStream[ev](2)
			src.Append(0, e("a", 1, 1), e("a", 2, 2), e("a", 12, 12))
			src.Append(1, e("b", 3, 3), e("b", 15, 15))
			p, out := streamWindow(src, 0, 0, 10*µs)
			dir := t.TempDir()
			cl := &commitLog{fail: tc.fail, dir: dir}
			clock := runnertest.NewClock(time.Unix(1e9, 0))
			m := new(graph.Metrics)
			stop := make(chan struct{})
			wait := runAsync(t, p, Options{Parallelism: 2, Mode: Stream, Clock: clock, Stop: stop, DiscoveryInterval: -1,
				Metrics: m, CheckpointDir: dir, CheckpointInterval: time.Second, Logf: quietLogf(t), CommitCheckpoint: cl.commit})
			waitFor(t, "the windows written", func() bool { _, _, _, n := out.Counts(); return n == len(want) })
			waitFor(t, "the checkpoint ticker", func() bool { return clock.Tickers() > 0 })
			for i := range tc.periodic {
				clock.Advance(time.Second)
				waitFor(t, fmt.Sprintf("checkpoint %d settled", i+1), func() bool {
					return m.Checkpoints.Load()+m.CheckpointsFailed.Load() == int64(i+1)
				})
				if m.CheckpointsFailed.Load() == int64(i+1) {
					// Refused: nothing complete, nothing committed.
					if got := completed(t, dir); len(got) > 0 {
						t.Fatalf("after refused checkpoint %d: completed %v, want none", i+1, got)
					}
					if got := results(out); len(got) > 0 {
						t.Fatalf("after refused checkpoint %d: committed %v, want nothing", i+1, got)
					}
					continue
				}
				waitFor(t, "the output committed", func() bool { return len(out.Rows()) == len(want) })
			}
			close(stop)
			_, err := wait()
			if tc.err {
				if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "commit checkpoint 1") {
					t.Fatalf("Run = %v, want the refusal of checkpoint 1", err)
				}
			} else if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := cl.log(); !slices.Equal(got, tc.calls) {
				t.Errorf("CommitCheckpoint calls\n got %q\nwant %q", got, tc.calls)
			}
			if got := completed(t, dir); !slices.Equal(got, tc.complete) {
				t.Errorf("completed checkpoints %q, want %q", got, tc.complete)
			}
			wantOut := want
			if tc.err {
				wantOut = nil
			}
			if got := results(out); !slices.Equal(got, wantOut) {
				t.Errorf("committed %q, want %q", got, wantOut)
			}
		})
	}
}

// TestSavepointWhileRunning: a request on Options.Savepoint makes the next
// checkpoint also a savepoint (written before the checkpoint is reported,
// and reported with it), and the job goes on: the next checkpoint is a
// plain one, and a stop still writes its own savepoint.
func TestSavepointWhileRunning(t *testing.T) {
	wm := at(11).UTC().Format(time.RFC3339Nano)
	src := runnertest.NewStream[ev](2)
	src.Append(0, e("a", 1, 1), e("a", 2, 2), e("a", 12, 12))
	src.Append(1, e("b", 3, 3), e("b", 15, 15))
	p, out := streamWindow(src, 0, 0, 10*µs)
	dir, sp := filepath.Join(t.TempDir(), "ck"), filepath.Join(t.TempDir(), "sp")
	cl := &commitLog{dir: dir}
	clock := runnertest.NewClock(time.Unix(1e9, 0))
	m := new(graph.Metrics)
	stop, savepoint := make(chan struct{}), make(chan struct{}, 1)
	var logged syncLines
	wait := runAsync(t, p, Options{Parallelism: 2, Mode: Stream, Clock: clock, Stop: stop, DiscoveryInterval: -1,
		Metrics: m, CheckpointDir: dir, SavepointDir: sp, CheckpointInterval: time.Hour, Logf: logged.logf,
		CommitCheckpoint: cl.commit, Savepoint: savepoint})
	waitFor(t, "the windows written", func() bool { _, _, _, n := out.Counts(); return n == 2 })
	waitFor(t, "the checkpoint ticker", func() bool { return clock.Tickers() > 0 })

	savepoint <- struct{}{} // no tick: it starts at once
	waitFor(t, "the savepoint", func() bool { return m.Checkpoints.Load() == 1 })
	if got := completed(t, sp); !slices.Equal(got, []string{"chk-1"}) {
		t.Errorf("savepoints %q, want chk-1", got)
	}
	if !strings.Contains(logged.String(), "savepoint 1 written to "+filepath.Join(sp, "chk-1")+"; the job goes on") {
		t.Errorf("log:\n%s", logged.String())
	}
	clock.Advance(time.Hour)
	waitFor(t, "a plain checkpoint", func() bool { return m.Checkpoints.Load() == 2 })
	if got := completed(t, sp); !slices.Equal(got, []string{"chk-1"}) {
		t.Errorf("savepoints after a plain checkpoint %q, want chk-1", got)
	}
	close(stop)
	if _, err := wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{"1 chk-1 " + wm + " savepoint sp/chk-1", "2 chk-2 " + wm, "3 chk-3 " + wm + " savepoint sp/chk-3"}
	if got := cl.log(); !slices.Equal(got, want) {
		t.Errorf("CommitCheckpoint calls\n got %q\nwant %q", got, want)
	}
	if got := completed(t, sp); !slices.Equal(got, []string{"chk-1", "chk-3"}) {
		t.Errorf("savepoints after the stop %q, want chk-1 and chk-3", got)
	}
}

// syncLines collects log lines from any goroutine.
type syncLines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
}

func (l *syncLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
