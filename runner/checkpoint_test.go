package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// ckJob is a keyed, windowed job whose sink outlives its runs, so that a
// test can crash it and resume it.
type ckJob struct {
	p    *sdk.Pipeline
	src  *runnertest.Source[ev]
	sink *runnertest.Sink[sdk.Result[string, int]]
	late *runnertest.Sink[ev]
	// slow, when set, is called before every read; pause after it, to
	// hold the source back (runnertest.Source.Pause).
	slow  atomic.Pointer[func(split string, row int) error]
	pause atomic.Pointer[func() bool]
}

func newCkJob(splits, rows, keys int) *ckJob {
	j := &ckJob{src: &runnertest.Source[ev]{Stats: true, ReadSize: 64},
		sink: &runnertest.Sink[sdk.Result[string, int]]{}, late: &runnertest.Sink[ev]{}}
	for s := range splits {
		var d []ev
		for r := range rows {
			// Mostly increasing event times, a little disorder, and
			// every 97th record far behind: late.
			ts := int64(r*10 + s)
			if r%7 == 3 {
				ts -= 25
			}
			if r%97 == 50 {
				ts -= 2000
			}
			d = append(d, e(fmt.Sprintf("k%02d", (r*31+s)%keys), r%13+1, max(ts, 0)))
		}
		j.src.Data = append(j.src.Data, d)
	}
	j.src.ReadErr = func(split string, row int) error {
		if f := j.slow.Load(); f != nil {
			return (*f)(split, row)
		}
		return nil
	}
	j.src.Pause = func(string, int) bool {
		if f := j.pause.Load(); f != nil {
			return (*f)()
		}
		return false
	}
	j.p = sdk.NewPipeline(sdk.JobName("ck"))
	in := read(j.p, j.src, sdk.BoundedOutOfOrderness(50*time.Microsecond))
	win := sdk.WindowInto(sdk.KeyBy(in, func(x ev) string { return x.Key }), sdk.Tumbling(500*time.Microsecond))
	sdk.Write(sdk.Aggregate(win, sdk.Sum(valueOf)), j.sink)
	sdk.Write(sdk.LateData(win), j.late)
	return j
}

func (j *ckJob) results() []string {
	var out []string
	for _, r := range j.sink.Values() {
		out = append(out, fmt.Sprintf("%s %d-%d %d", r.Key, r.Window.Start, r.Window.End, r.Value))
	}
	for _, v := range j.late.Values() {
		out = append(out, "late "+v.String())
	}
	slices.Sort(out)
	return out
}

// sameResults fails t unless got and want hold the same rows, naming the
// duplicates and the missing ones.
func sameResults(t *testing.T, got, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, r := range want {
		count[r]++
	}
	for _, r := range got {
		count[r]--
	}
	var dup, miss []string
	for r, n := range count {
		switch {
		case n < 0:
			dup = append(dup, r)
		case n > 0:
			miss = append(miss, r)
		}
	}
	if len(dup)+len(miss) > 0 {
		slices.Sort(dup)
		slices.Sort(miss)
		t.Fatalf("%d rows, want %d: %d duplicated (first %v), %d missing (first %v)",
			len(got), len(want), len(dup), dup[:min(3, len(dup))], len(miss), miss[:min(3, len(miss))])
	}
}

func quietLogf(t *testing.T) func(string, ...any) {
	return func(f string, args ...any) { t.Logf(f, args...) }
}

// TestCheckpointCrashResume crashes a job (its context cancelled, which
// commits nothing more) right after it completed some checkpoints, several
// times, and resumes it each time: the committed output equals that of an
// uninterrupted run, in batch and stream mode, at parallelism 1 and 2.
func TestCheckpointCrashResume(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		par  int
	}{{Batch, 1}, {Batch, 2}, {Stream, 2}} {
		t.Run(fmt.Sprintf("%v-p%d", tc.mode, tc.par), func(t *testing.T) {
			ref := newCkJob(6, 1500, 40)
			if _, err := Run(context.Background(), ref.p, Options{Parallelism: tc.par, Mode: tc.mode}); err != nil {
				t.Fatal(err)
			}
			want := ref.results()

			j := newCkJob(6, 1500, 40)
			dir := t.TempDir()
			crashes := 0
			for attempt := 0; ; attempt++ {
				if attempt > 20 {
					t.Fatal("the job did not finish in 20 attempts")
				}
				ctx, cancel := context.WithCancel(context.Background())
				m := new(graph.Metrics)
				// Crash after a number of reads that grows with the
				// attempt, so that some crashes come before the first
				// checkpoint of a run and some after several.
				crash := attempt < 4
				after := int64(10 + 12*attempt)
				var reads atomic.Int64
				slow := func(string, int) error {
					time.Sleep(500 * time.Microsecond)
					if crash && reads.Add(1) >= after {
						cancel()
					}
					return nil
				}
				j.slow.Store(&slow)
				st, err := Run(ctx, j.p, Options{Parallelism: tc.par, Mode: tc.mode, Metrics: m,
					CheckpointDir: dir, CheckpointInterval: 5 * time.Millisecond, Logf: quietLogf(t)})
				crashed := ctx.Err() != nil
				cancel()
				if err == nil {
					t.Logf("attempt %d finished: restored from %d, %d checkpoints", attempt, st.RestoredFrom, len(st.Checkpoints))
					break
				}
				if !crashed {
					t.Fatalf("attempt %d: %v", attempt, err)
				}
				crashes++
				t.Logf("attempt %d crashed after %d checkpoints", attempt, m.Checkpoints.Load())
			}
			if crashes < 3 {
				t.Fatalf("only %d crashes", crashes)
			}
			sameResults(t, j.results(), want)
			// A run after the job finished does nothing.
			st, err := Run(context.Background(), j.p, Options{Parallelism: tc.par, Mode: tc.mode,
				CheckpointDir: dir, Logf: quietLogf(t)})
			if err != nil || !st.AlreadyFinished {
				t.Fatalf("rerun of a finished job: %+v, %v", st, err)
			}
			sameResults(t, j.results(), want)
		})
	}
}

// TestSavepointRescale stops a job with a savepoint at parallelism 2,
// resumes it at 3 and stops it again, then finishes it at 1: the output
// equals an uninterrupted run.
func TestSavepointRescale(t *testing.T) {
	ref := newCkJob(6, 1500, 40)
	if _, err := Run(context.Background(), ref.p, Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	want := ref.results()

	j := newCkJob(6, 1500, 40)
	base := t.TempDir()
	from := ""
	for i, par := range []int{2, 3, 1} {
		stop := make(chan struct{})
		var once atomic.Bool
		rows := atomic.Int64{}
		slow := func(string, int) error {
			time.Sleep(20 * time.Microsecond)
			if i < 2 && rows.Add(1) > 20 && once.CompareAndSwap(false, true) {
				close(stop)
			}
			return nil
		}
		j.slow.Store(&slow)
		sp := filepath.Join(base, fmt.Sprintf("sp%d", i))
		o := Options{Parallelism: par, Stop: stop, FromSavepoint: from, Logf: quietLogf(t)}
		if i < 2 {
			o.SavepointDir = sp
		}
		st, err := Run(context.Background(), j.p, o)
		if err != nil {
			t.Fatalf("run %d at parallelism %d: %v", i, par, err)
		}
		t.Logf("run %d at parallelism %d: restored from %d, %d rows in", i, par, st.RestoredFrom, st.RowsIn)
		if i < 2 {
			if _, err := os.Stat(sp); err != nil {
				t.Fatalf("no savepoint: %v", err)
			}
		}
		from = sp
	}
	sameResults(t, j.results(), want)
}

// TestCheckpointDirUnwritable: while the checkpoint directory cannot be
// written (here: a file stands where the store keeps shared state files,
// which fails even for root), checkpoints fail, are counted and logged, and
// the job goes on; once it can be written again, checkpoints complete and
// the job's output is exact.
func TestCheckpointDirUnwritable(t *testing.T) {
	ref := newCkJob(4, 3000, 20)
	if _, err := Run(context.Background(), ref.p, Options{}); err != nil {
		t.Fatal(err)
	}
	j := newCkJob(4, 3000, 20)
	dir := t.TempDir()
	blocker := filepath.Join(dir, "shared")
	if err := os.WriteFile(blocker, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := new(graph.Metrics)
	var notes atomic.Int64
	var fixed atomic.Bool
	clock := runnertest.NewClock(time.Unix(1e9, 0))
	each := checkpointPerRead(t, clock, m, 5*time.Millisecond)
	slow := func(split string, row int) error {
		if m.CheckpointsFailed.Load() >= 2 && fixed.CompareAndSwap(false, true) {
			if err := os.Remove(blocker); err != nil {
				return err
			}
		}
		return each(split, row)
	}
	j.slow.Store(&slow)
	st, err := Run(context.Background(), j.p, Options{Metrics: m, CheckpointDir: dir, CheckpointInterval: 5 * time.Millisecond, Clock: clock,
		Logf: func(f string, args ...any) {
			notes.Add(1)
			t.Logf(f, args...)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if st.CheckpointsFailed < 2 || notes.Load() < 2 {
		t.Fatalf("%d checkpoints failed and %d notes logged, want at least 2", st.CheckpointsFailed, notes.Load())
	}
	if len(st.Checkpoints) < 2 {
		t.Fatalf("%d checkpoints completed once the directory was writable, want at least 2 (one the job's last)", len(st.Checkpoints))
	}
	sameResults(t, j.results(), ref.results())
}

// TestCheckpointDamaged: a completed checkpoint with a truncated or
// altered file is never used; since its output may be committed, the job
// refuses to resume from an older one and says why. A checkpoint whose
// metadata was never written (a crash during its upload) is skipped.
func TestCheckpointDamaged(t *testing.T) {
	for _, damage := range []string{"truncate", "flip", "no metadata"} {
		t.Run(damage, func(t *testing.T) {
			j := newCkJob(4, 3000, 20)
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			m := new(graph.Metrics)
			clock := runnertest.NewClock(time.Unix(1e9, 0))
			each := checkpointPerRead(t, clock, m, 5*time.Millisecond)
			slow := func(split string, row int) error {
				if m.Checkpoints.Load() >= 2 {
					cancel()
					return nil
				}
				return each(split, row)
			}
			j.slow.Store(&slow)
			_, err := Run(ctx, j.p, Options{Metrics: m, CheckpointDir: dir, CheckpointInterval: 5 * time.Millisecond, Clock: clock, Logf: quietLogf(t)})
			if ctx.Err() == nil {
				t.Fatalf("the job was not crashed: %v", err)
			}
			cancel()
			// The newest completed checkpoint and one of its state files.
			var newest int
			var file string
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				var id int
				if _, err := fmt.Sscanf(e.Name(), "chk-%d", &id); err != nil || id < newest {
					continue
				}
				if _, err := os.Stat(filepath.Join(dir, e.Name(), "_metadata")); err != nil {
					continue
				}
				files, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*", "MANIFEST-*"))
				if len(files) > 0 {
					newest, file = id, files[0]
				}
			}
			if file == "" {
				t.Fatal("no completed checkpoint with state")
			}
			switch damage {
			case "truncate":
				if err := os.Truncate(file, 10); err != nil {
					t.Fatal(err)
				}
			case "flip":
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)/2] ^= 0xff
				if err := os.WriteFile(file, b, 0o644); err != nil {
					t.Fatal(err)
				}
			case "no metadata":
				if err := os.Remove(filepath.Join(dir, fmt.Sprintf("chk-%d", newest), "_metadata")); err != nil {
					t.Fatal(err)
				}
			}
			st, err := Run(context.Background(), j.p, Options{CheckpointDir: dir, Logf: quietLogf(t)})
			if damage == "no metadata" {
				if err != nil {
					t.Fatal(err)
				}
				if st.RestoredFrom == 0 || int(st.RestoredFrom) >= newest {
					t.Fatalf("restored from %d, want a checkpoint older than %d", st.RestoredFrom, newest)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), fmt.Sprintf("chk-%d", newest)) {
				t.Fatalf("Run = %v, want an error naming damaged chk-%d", err, newest)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// pair is an accumulator type without a codec.
type pair struct{ n, sum int }

// TestCheckpointNeedsCodecs: with checkpoints on, an aggregation whose
// accumulator has no codec fails at the start with one line naming the
// transform, rather than at its first checkpoint; without checkpoints it
// runs in memory.
func TestCheckpointNeedsCodecs(t *testing.T) {
	build := func() *sdk.Pipeline {
		p := sdk.NewPipeline()
		src := &runnertest.Source[ev]{Data: [][]ev{{e("a", 1, 1), e("a", 2, 2)}}}
		in := read(p, src)
		win := sdk.WindowInto(sdk.KeyBy(in, func(x ev) string { return x.Key }), sdk.Tumbling(time.Second))
		comb := sdk.CombineFuncs[ev, pair, int]{
			CreateFn: func() pair { return pair{} },
			AddFn:    func(a pair, x ev) pair { return pair{a.n + 1, a.sum + x.V} },
			MergeFn:  func(a, b pair) pair { return pair{a.n + b.n, a.sum + b.sum} },
			ResultFn: func(a pair) int { return a.sum },
		}
		sdk.Write(sdk.Aggregate(win, comb), &runnertest.Sink[sdk.Result[string, int]]{})
		return p
	}
	if _, err := Run(context.Background(), build(), Options{}); err != nil {
		t.Fatalf("without checkpoints: %v", err)
	}
	_, err := Run(context.Background(), build(), Options{CheckpointDir: t.TempDir(), Logf: quietLogf(t)})
	if err == nil || !strings.Contains(err.Error(), "checkpoints need its state encoded") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("with checkpoints: %v, want one line saying the state cannot be encoded", err)
	}
	t.Log(err)
}
