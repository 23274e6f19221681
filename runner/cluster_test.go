package runner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/testcert"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// runCluster runs p as a Cluster run of n processes, each a Run in its own
// goroutine with its own listener on loopback (what `weir worker` children
// do in their own processes), and returns each one's Stats and error.
// ctxs, when given, is each process's context.
func runCluster(t *testing.T, p *sdk.Pipeline, opts Options, n int, ctxs ...context.Context) ([]Stats, []error) {
	t.Helper()
	lns, peers := listeners(t, n)
	stats, errs := make([]Stats, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		o := opts
		o.Metrics = nil
		o.Cluster = &Cluster{Index: i, Peers: peers, Listener: lns[i], Token: "test-run", ConnectTimeout: 20 * time.Second}
		ctx := t.Context()
		if i < len(ctxs) {
			ctx = ctxs[i]
		}
		wg.Go(func() { stats[i], errs[i] = Run(ctx, p, o) })
	}
	wg.Wait()
	return stats, errs
}

// listeners opens n listeners on loopback: the processes' data ports.
func listeners(t *testing.T, n int) ([]net.Listener, []string) {
	t.Helper()
	lns, peers := make([]net.Listener, n), make([]string, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i], peers[i] = ln, ln.Addr().String()
	}
	return lns, peers
}

// A job over 2 and 3 processes, batch and stream, with checkpoints, gives
// the rows of one process, with its checkpoints completed by the master
// from every process's acknowledgements.
func TestClusterRun(t *testing.T) {
	ref := newCkJob(6, 1500, 40)
	if _, err := Run(t.Context(), ref.p, Options{Parallelism: 4}); err != nil {
		t.Fatal(err)
	}
	want := ref.results()
	for _, tc := range []struct {
		mode  Mode
		procs int
	}{{Batch, 2}, {Stream, 2}, {Batch, 3}, {Stream, 4}} {
		t.Run(fmt.Sprintf("%v-%dprocs", tc.mode, tc.procs), func(t *testing.T) {
			j := newCkJob(6, 1500, 40)
			slow := func(string, int) error { time.Sleep(100 * time.Microsecond); return nil }
			j.slow.Store(&slow)
			stats, errs := runCluster(t, j.p, Options{Parallelism: 4, Mode: tc.mode, CheckpointDir: t.TempDir(),
				CheckpointInterval: 5 * time.Millisecond, DiscoveryInterval: -1, Logf: quietLogf(t)}, tc.procs)
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			sameResults(t, j.results(), want)
			if n := len(stats[0].Checkpoints); n < 2 {
				t.Errorf("the master completed %d checkpoints, want several", n)
			}
			var in int64
			for i, st := range stats {
				in += st.RowsIn
				if st.RowsIn == 0 {
					t.Errorf("process %d read nothing", i)
				}
			}
			if in != 6*1500 {
				t.Errorf("the processes read %d rows, want %d", in, 6*1500)
			}
		})
	}
}

// A process of the run that fails fails every process, commits nothing
// more, and the run resumes from its last checkpoint, over processes again
// or in one: the output is exactly once.
func TestClusterCrashResume(t *testing.T) {
	ref := newCkJob(6, 1500, 40)
	if _, err := Run(t.Context(), ref.p, Options{Parallelism: 4}); err != nil {
		t.Fatal(err)
	}
	want := ref.results()

	j := newCkJob(6, 1500, 40)
	dir := t.TempDir()
	opts := Options{Parallelism: 4, Mode: Stream, CheckpointDir: dir, CheckpointInterval: 2 * time.Millisecond,
		DiscoveryInterval: -1, Logf: quietLogf(t)}
	crashes, restored := 0, 0
	for attempt := 0; ; attempt++ {
		if attempt > 10 {
			t.Fatal("the job did not finish in 10 attempts")
		}
		// In the first attempts process `attempt%2` crashes once the
		// master has completed two checkpoints of the attempt: its
		// context is cancelled, as kill -9 would end it.
		crash := attempt < 3
		ctxs := []context.Context{t.Context(), t.Context()}
		ctx, cancel := context.WithCancel(t.Context())
		ctxs[attempt%2] = ctx
		var done atomic.Int64
		opts.CommitCheckpoint = func(context.Context, CheckpointReport) error {
			if crash && done.Add(1) == 2 {
				cancel()
			}
			return nil
		}
		slow := func(string, int) error { time.Sleep(time.Millisecond); return nil }
		j.slow.Store(&slow)
		stats, errs := runCluster(t, j.p, opts, 2, ctxs...)
		cancel()
		t.Logf("attempt %d: restored from %d; errors %v", attempt, stats[0].RestoredFrom, errs)
		if stats[0].RestoredFrom > 0 {
			restored++
		}
		if errors.Join(errs...) == nil {
			break // finished (a crash may come after the last checkpoint)
		}
		if !crash || errs[attempt%2] == nil {
			t.Fatalf("attempt %d: %v", attempt, errs)
		}
		crashes++
	}
	if crashes < 2 || restored < 1 {
		t.Errorf("%d crashes, %d restores; want several", crashes, restored)
	}
	sameResults(t, j.results(), want)
	opts.CommitCheckpoint = nil
	// Once finished, a run over processes does nothing.
	stats, errs := runCluster(t, j.p, opts, 2)
	if errors.Join(errs...) != nil || !stats[0].AlreadyFinished || !stats[1].AlreadyFinished {
		t.Fatalf("a run of a finished job: %v, %+v", errs, stats)
	}
}

// A graceful stop asked of any process stops the whole run with a
// savepoint, which resumes in one process at another parallelism.
func TestClusterSavepointStop(t *testing.T) {
	ref := newCkJob(6, 1500, 40)
	if _, err := Run(t.Context(), ref.p, Options{Parallelism: 4}); err != nil {
		t.Fatal(err)
	}
	want := ref.results()

	j := newCkJob(6, 1500, 40)
	sp := t.TempDir()
	stop := make(chan struct{})
	var reads atomic.Int64
	slow := func(string, int) error {
		time.Sleep(200 * time.Microsecond)
		if reads.Add(1) == 60 {
			close(stop)
		}
		return nil
	}
	j.slow.Store(&slow)
	opts := Options{Parallelism: 4, Mode: Stream, CheckpointDir: t.TempDir(), SavepointDir: sp,
		CheckpointInterval: 5 * time.Millisecond, DiscoveryInterval: -1, Logf: quietLogf(t)}
	// The stop goes to process 1, which is not the master.
	lns, peers := listeners(t, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		o := opts
		o.Cluster = &Cluster{Index: i, Peers: peers, Listener: lns[i], Token: "t"}
		if i == 1 {
			o.Stop = stop
		}
		wg.Go(func() { _, errs[i] = Run(t.Context(), j.p, o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got, all := len(j.results()), len(want); got >= all {
		t.Fatalf("the stopped run wrote all %d rows", got)
	}
	slow = func(string, int) error { return nil }
	j.slow.Store(&slow)
	st, err := Run(t.Context(), j.p, Options{Parallelism: 3, Mode: Stream, FromSavepoint: sp, CheckpointDir: t.TempDir(),
		DiscoveryInterval: -1, Logf: quietLogf(t)})
	if err != nil {
		t.Fatal(err)
	}
	if st.RestoredFrom == 0 {
		t.Fatal("not restored from the savepoint")
	}
	sameResults(t, j.results(), want)
}

// A peer that presents another token is not connected: the run waits for
// its processes, then fails with one line.
func TestClusterWrongToken(t *testing.T) {
	j := newCkJob(2, 10, 4)
	lns, peers := listeners(t, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		o := Options{Parallelism: 2, Cluster: &Cluster{Index: i, Peers: peers, Listener: lns[i], Token: fmt.Sprint("t", i),
			ConnectTimeout: time.Second}}
		wg.Go(func() { _, errs[i] = Run(t.Context(), j.p, o) })
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "runner: cluster:") {
			t.Errorf("process %d: %v, want the cluster's error", i, err)
		}
	}
	if len(j.results()) != 0 {
		t.Error("rows written")
	}
}

// A run whose processes connect over TLS (Cluster.Listener and Dial, as
// job binaries on workers with --tls-cert do) gives the rows of one
// process.
func TestClusterTLS(t *testing.T) {
	ref := newCkJob(4, 500, 20)
	if _, err := Run(t.Context(), ref.p, Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	cert, key, pool := testcert.Write(t, t.TempDir())
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	j := newCkJob(4, 500, 20)
	lns, peers := listeners(t, 2)
	for i, ln := range lns {
		lns[i] = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}})
	}
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		d := tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
		return d.DialContext(ctx, "tcp", addr)
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	dir := t.TempDir()
	for i := range 2 {
		o := Options{Parallelism: 2, CheckpointDir: dir, Cluster: &Cluster{Index: i, Peers: peers, Listener: lns[i], Dial: dial, Token: "t"}}
		wg.Go(func() { _, errs[i] = Run(t.Context(), j.p, o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	sameResults(t, j.results(), ref.results())
}

// A process of the run that never comes: the others give up after
// ConnectTimeout, each with one line naming it.
func TestClusterMissingPeer(t *testing.T) {
	j := newCkJob(3, 10, 4)
	lns, peers := listeners(t, 3)
	lns[2].Close() // process 2 never starts
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		o := Options{Parallelism: 3, Cluster: &Cluster{Index: i, Peers: peers, Listener: lns[i], Token: "t", ConnectTimeout: 300 * time.Millisecond}}
		wg.Go(func() { _, errs[i] = Run(t.Context(), j.p, o) })
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "missing 2 (") {
			t.Errorf("process %d: %v, want the missing process named", i, err)
		}
	}
}

// A checkpoint that fails on the master (here its report is refused) is
// aborted in every process: the others forget what they uploaded for it,
// so the next checkpoints, which share state files with it, complete.
func TestClusterCheckpointAborted(t *testing.T) {
	ref := newCkJob(6, 1500, 40)
	if _, err := Run(t.Context(), ref.p, Options{Parallelism: 4}); err != nil {
		t.Fatal(err)
	}
	j := newCkJob(6, 1500, 40)
	slow := func(string, int) error { time.Sleep(300 * time.Microsecond); return nil }
	j.slow.Store(&slow)
	var reports atomic.Int64
	stats, errs := runCluster(t, j.p, Options{Parallelism: 4, Mode: Stream, CheckpointDir: t.TempDir(),
		CheckpointInterval: 5 * time.Millisecond, DiscoveryInterval: -1, Logf: quietLogf(t),
		CommitCheckpoint: func(context.Context, CheckpointReport) error {
			if reports.Add(1) == 2 {
				return errors.New("refused")
			}
			return nil
		}}, 2)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	sameResults(t, j.results(), ref.results())
	if stats[0].CheckpointsFailed != 1 || len(stats[0].Checkpoints) < 2 {
		t.Errorf("%d checkpoints completed, %d failed; want 1 failed and several completed after it", len(stats[0].Checkpoints), stats[0].CheckpointsFailed)
	}
}

// A stop before the start is the master's to decide: stopped before the
// master starts, every process stops before starting; asked of another
// process, the run starts and then stops gracefully in every process.
func TestClusterStopBeforeStart(t *testing.T) {
	for _, who := range []int{0, 1} {
		t.Run(fmt.Sprint("process ", who), func(t *testing.T) {
			j := newCkJob(4, 200, 8)
			lns, peers := listeners(t, 2)
			stop := make(chan struct{})
			close(stop)
			dir := t.TempDir()
			stats, errs := make([]Stats, 2), make([]error, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				o := Options{Parallelism: 2, Mode: Stream, DiscoveryInterval: -1, CheckpointDir: dir,
					Cluster: &Cluster{Index: i, Peers: peers, Listener: lns[i], Token: "t"}}
				if i == who {
					o.Stop = stop
				}
				wg.Go(func() { stats[i], errs[i] = Run(t.Context(), j.p, o) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			for i, st := range stats {
				if st.StoppedBeforeStart != (who == 0) {
					t.Errorf("process %d: stopped before start %v, want %v", i, st.StoppedBeforeStart, who == 0)
				}
			}
		})
	}
}

// Splits found while a Cluster run goes on are read by the process of
// their task, also one that had none at the start or whose splits had
// all ended (it keeps looking until the master ends the stage: every
// process idle, knowing the same splits). Then the run ends as a bounded
// stream job does.
func TestClusterDiscoveredSplits(t *testing.T) {
	src := runnertest.NewStream[ev](1) // task 0, process 0: process 1 starts with none
	for i := range 20 {
		src.Append(0, e(fmt.Sprintf("k%d", i%3), 1, int64(i)))
	}
	p, out := streamWindow(src, 0, 0, 1000*µs)
	done := make(chan []error, 1)
	go func() {
		_, errs := runCluster(t, p, Options{Parallelism: 2, Mode: Stream, DiscoveryInterval: 2 * time.Millisecond}, 2)
		done <- errs
	}()
	waitFor(t, "split 0 read", func() bool { return src.Read(0) == 20 })
	var added []int
	for s := range 6 {
		var rows []ev
		for i := range 10 {
			rows = append(rows, e(fmt.Sprintf("k%d", i%3), 1, int64(100+10*s+i)))
		}
		added = append(added, src.AddSplit(rows...))
	}
	for _, i := range added {
		waitFor(t, fmt.Sprintf("split %d read", i), func() bool { return src.Read(i) == 10 })
	}
	src.EndAll()
	if err := errors.Join(<-done...); err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, r := range out.Values() {
		sum += r.Value
	}
	if sum != 20+6*10 {
		t.Errorf("the windows sum %d rows, want %d", sum, 20+6*10)
	}
}
