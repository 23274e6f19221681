//go:build linux

package coordinator

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/coordinator/internal/raftnode"
	"github.com/weirflow/weir/coordinator/state"
)

// BenchmarkClusterScale is the cluster's scale harness: three coordinator
// nodes (one Raft group, fsync on) in this process, W simulated workers of
// 8 slots that register and heartbeat every 500 ms over HTTP like real
// ones (reporting what they were assigned as running), and jobs of
// parallelism 8 (whole-job placement: one worker each) on 95% of the
// workers. It measures how long placing them takes, one checkpoint round
// (every job reports a checkpoint at once: the Raft log entries and their
// bytes, wall and CPU time), the heartbeat load, and the time from a
// worker's last heartbeat to its job running elsewhere. CPU times are this
// process's (servers and simulated workers together).
//
//	go test -run=NONE -bench=ClusterScale -benchtime=1x ./coordinator
func BenchmarkClusterScale(b *testing.B) {
	if testing.Short() {
		b.Skip("runs a three-node cluster with hundreds of simulated workers")
	}
	for _, w := range []int{50, 200} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			var r simResult
			for range b.N {
				r = simulate(b, w)
			}
			b.ReportMetric(r.place.Seconds(), "place-s")
			b.ReportMetric(float64(r.round.Milliseconds()), "round-ms")
			b.ReportMetric(float64(r.roundCPU.Milliseconds()), "round-cpu-ms")
			b.ReportMetric(float64(r.roundBytes), "raft-bytes/round")
			b.ReportMetric(float64(r.hbCPU.Microseconds()), "cpu-µs/heartbeat")
			b.ReportMetric(r.recovery.Seconds(), "recovery-s")
			b.Logf("%d workers × 8 slots, %d jobs of 8 tasks (%d tasks): submitted in %v (16 at a time), all running after %v; checkpoint round %v wall, %v CPU, %d Raft bytes (%d per job); "+
				"heartbeats %.0f/s at %v CPU each (%.0f%% of a core); worker death to its job running elsewhere %v",
				w, r.jobs, 8*r.jobs, r.submit.Round(time.Millisecond), r.place.Round(time.Millisecond), r.round.Round(time.Millisecond), r.roundCPU.Round(time.Millisecond),
				r.roundBytes, r.roundBytes/r.jobs, r.hbRate, r.hbCPU.Round(time.Microsecond), 100*r.hbRate*r.hbCPU.Seconds(), r.recovery.Round(time.Millisecond))
		})
	}
}

type simResult struct {
	jobs                 int
	place, submit, round time.Duration
	roundCPU             time.Duration
	roundBytes           int
	hbRate               float64
	hbCPU, recovery      time.Duration
}

// cpuTime is the CPU time this process used so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// simWorker heartbeats like a worker until stopped, reporting what it was
// assigned as running.
type simWorker struct {
	id      string
	stop    chan struct{}
	stopped sync.Once
}

// sim is a cluster of three coordinators and simulated workers.
type sim struct {
	c     *api.Client
	sha   string
	sims  []*simWorker
	beats atomic.Int64
	wg    sync.WaitGroup
}

// kill stops the heartbeats of worker id.
func (s *sim) kill(id string) {
	for _, w := range s.sims {
		if w.id == id {
			w.stopped.Do(func() { close(w.stop) })
		}
	}
}

func (s *sim) close() {
	for _, w := range s.sims {
		w.stopped.Do(func() { close(w.stop) })
	}
	s.wg.Wait()
}

// startSim starts three coordinators and the given number of simulated
// workers of 8 slots, with the fake job binary uploaded.
func startSim(b *testing.B, workers int) *sim {
	ctx := context.Background()
	addrs := freeAddrs(b, 3)
	var peers []raftnode.Peer
	for i, a := range addrs {
		peers = append(peers, raftnode.Peer{ID: fmt.Sprintf("c%d", i+1), Addr: a})
	}
	var servers []*Server
	for _, p := range peers {
		cfg := testConfig(b, p.ID, nil)
		cfg.RaftAddr, cfg.Peers = p.Addr, peers
		servers = append(servers, start(b, cfg))
	}
	leaderOf(b, servers...)
	c := client(servers...)
	c.HTTP = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512}}
	path, sha := writeBinary(b, "fake job binary")
	if _, err := c.UploadBinary(ctx, path); err != nil {
		b.Fatal(err)
	}

	// Workers register, then heartbeat every 500 ms, spread over the
	// interval.
	s := &sim{c: c, sha: sha, sims: make([]*simWorker, workers)}
	sims, beats, wg := s.sims, &s.beats, &s.wg
	for i := range sims {
		w := &simWorker{id: fmt.Sprintf("w%03d", i), stop: make(chan struct{})}
		sims[i] = w
		if _, err := c.Register(ctx, api.RegisterRequest{ID: w.id, URL: "http://127.0.0.1:1", Slots: 8}); err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func(offset time.Duration) {
			defer wg.Done()
			select {
			case <-time.After(offset):
			case <-w.stop:
				return
			}
			tick := time.NewTicker(heartbeatMillis * time.Millisecond)
			defer tick.Stop()
			running := []api.Attempt{}
			for {
				resp, err := c.Heartbeat(ctx, w.id, api.HeartbeatRequest{Running: running})
				beats.Add(1)
				if err == nil {
					running = running[:0]
					for _, a := range resp.Assignments {
						running = append(running, api.Attempt{Job: a.Job, Attempt: a.Attempt})
					}
				}
				select {
				case <-tick.C:
				case <-w.stop:
					return
				}
			}
		}(time.Duration(i) * heartbeatMillis * time.Millisecond / time.Duration(workers))
	}
	return s
}

func simulate(b *testing.B, workers int) simResult {
	b.StopTimer()
	ctx := context.Background()
	s := startSim(b, workers)
	defer s.close()
	c, sha, beats := s.c, s.sha, &s.beats

	// Jobs of 8 tasks on 95% of the workers.
	jobs := workers * 95 / 100
	b.StartTimer()
	t0 := time.Now()
	ids := make([]string, jobs)
	parallel(b, jobs, 16, func(i int) error {
		sub, err := c.Submit(ctx, api.SubmitRequest{Binary: sha, Args: []string{"--parallelism=8"}})
		ids[i] = sub.ID
		return err
	})
	submitted := time.Since(t0)
	running := func() (n int, all []api.Job) {
		all, err := c.Jobs(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, j := range all {
			if j.State == api.Running {
				n++
			}
		}
		return n, all
	}
	waitFor(b, "every job running", func() bool { n, _ := running(); return n == jobs })
	var r simResult
	r.jobs = jobs
	r.place, r.submit = time.Since(t0), submitted

	// The heartbeat load, over 3 s of nothing else.
	cpu0, n0, w0 := cpuTime(b), beats.Load(), time.Now()
	time.Sleep(3 * time.Second)
	cpu1, n1 := cpuTime(b), beats.Load()
	r.hbRate = float64(n1-n0) / time.Since(w0).Seconds()
	r.hbCPU = (cpu1 - cpu0) / time.Duration(max(n1-n0, 1))

	// A checkpoint round: every job reports one at once.
	_, all := running()
	for _, j := range all {
		cmd := state.Command{Kind: state.CompleteCheckpoint, Time: time.Now(), JobID: j.ID, Attempt: j.Attempt,
			Checkpoint: &api.CheckpointRequest{Attempt: j.Attempt, ID: 1, Path: filepath.Join(j.CheckpointDir, "chk-1"), Watermark: time.Now()}}
		e, err := state.Encode(cmd)
		if err != nil {
			b.Fatal(err)
		}
		r.roundBytes += len(e)
	}
	cpu0, w0 = cpuTime(b), time.Now()
	parallel(b, len(all), 64, func(i int) error {
		j := all[i]
		_, err := c.ReportCheckpoint(ctx, j.ID, api.CheckpointRequest{Attempt: j.Attempt, ID: 1,
			Path: filepath.Join(j.CheckpointDir, "chk-1"), Watermark: time.Now()})
		return err
	})
	r.round, r.roundCPU = time.Since(w0), cpuTime(b)-cpu0

	// A worker dies (its heartbeats stop): its job runs elsewhere.
	victim := all[0]
	s.kill(victim.Worker)
	w0 = time.Now()
	waitFor(b, "the victim's job running elsewhere", func() bool {
		j, err := c.Job(ctx, victim.ID)
		return err == nil && j.State == api.Running && j.Attempt > victim.Attempt
	})
	r.recovery = time.Since(w0)
	b.StopTimer()
	return r
}

// parallel runs fn(0..n-1) on at most k goroutines, failing b on an error.
func parallel(b *testing.B, n, k int, fn func(i int) error) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, k)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkClusterScaleBigJob places one job of 1,000 tasks on 200
// simulated workers of 8 slots: no worker holds it, so it spreads over
// 125 of them, one process each. It measures the time from submit to
// the job running, the heartbeat CPU while it runs (each of its workers'
// assignments names its process), the Raft bytes of one checkpoint of
// it, and the time from the last heartbeat of one of its workers (not the
// master's) to the job running again over the workers left.
//
//	go test -run=NONE -bench=ClusterScaleBigJob -benchtime=1x ./coordinator
func BenchmarkClusterScaleBigJob(b *testing.B) {
	if testing.Short() {
		b.Skip("runs a three-node cluster with hundreds of simulated workers")
	}
	const workers, tasks = 200, 1000
	for range b.N {
		b.StopTimer()
		ctx := context.Background()
		s := startSim(b, workers)
		b.StartTimer()
		t0 := time.Now()
		sub, err := s.c.Submit(ctx, api.SubmitRequest{Binary: s.sha, Args: []string{fmt.Sprintf("--parallelism=%d", tasks)}})
		if err != nil {
			b.Fatal(err)
		}
		var j api.Job
		waitFor(b, "the job running", func() bool {
			j, err = s.c.Job(ctx, sub.ID)
			return err == nil && j.State == api.Running
		})
		place := time.Since(t0)
		if len(j.Workers) != tasks/8 {
			b.Fatalf("the job of %d tasks spread over %d workers, want %d", tasks, len(j.Workers), tasks/8)
		}

		cpu0, n0, w0 := cpuTime(b), s.beats.Load(), time.Now()
		time.Sleep(3 * time.Second)
		cpu1, n1 := cpuTime(b), s.beats.Load()
		hbCPU := (cpu1 - cpu0) / time.Duration(max(n1-n0, 1))
		rate := float64(n1-n0) / time.Since(w0).Seconds()

		req := api.CheckpointRequest{Attempt: j.Attempt, ID: 1, Path: filepath.Join(j.CheckpointDir, "chk-1"), Watermark: time.Now()}
		e, err := state.Encode(state.Command{Kind: state.CompleteCheckpoint, Time: time.Now(), JobID: j.ID, Attempt: j.Attempt, Checkpoint: &req})
		if err != nil {
			b.Fatal(err)
		}
		w0 = time.Now()
		if _, err := s.c.ReportCheckpoint(ctx, j.ID, req); err != nil {
			b.Fatal(err)
		}
		report := time.Since(w0)

		s.kill(j.Workers[len(j.Workers)/2])
		w0 = time.Now()
		waitFor(b, "the job running again", func() bool {
			x, err := s.c.Job(ctx, j.ID)
			return err == nil && x.State == api.Running && x.Attempt > j.Attempt
		})
		recovery := time.Since(w0)
		b.StopTimer()
		s.close()
		b.ReportMetric(place.Seconds(), "place-s")
		b.ReportMetric(float64(hbCPU.Microseconds()), "cpu-µs/heartbeat")
		b.ReportMetric(recovery.Seconds(), "recovery-s")
		b.Logf("%d workers × 8 slots, one job of %d tasks over %d workers: running %v after submit; heartbeats %.0f/s at %v CPU each; "+
			"a checkpoint report %v, %d Raft bytes; a worker's last heartbeat to the job running again %v",
			workers, tasks, len(j.Workers), place.Round(time.Millisecond), rate, hbCPU.Round(time.Microsecond),
			report.Round(time.Millisecond), len(e), recovery.Round(time.Millisecond))
	}
}
