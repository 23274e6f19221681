package state

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/coordinator/api"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

const sha = "aa11"

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func bin() Command {
	return Command{Kind: AddBinary, Binary: &api.Binary{SHA256: sha, Size: 10, Holders: []string{"c1", "c2"}}}
}

func sub(id string, p int, sec int) Command {
	return Command{Kind: SubmitJob, Time: at(sec), Job: &api.Job{
		ID: id, Name: "n-" + id, Binary: sha, Args: []string{"--mode=stream"}, Mode: "stream",
		Parallelism: p, FromSavepoint: "/sp/" + id, CheckpointDir: "/ck/" + id + "/checkpoints",
		SavepointDir: "/ck/" + id + "/savepoints",
	}}
}

func reg(id string, slots int) Command {
	return Command{Kind: RegisterWorker, Worker: &api.RegisterRequest{ID: id, URL: "http://" + id, Slots: slots}}
}

func asg(job, w string, attempt uint64) Command {
	return Command{Kind: Assign, JobID: job, WorkerID: w, Attempt: attempt}
}

func exit(job, w string, attempt uint64, code int, perm bool) Command {
	return Command{Kind: JobExited, JobID: job, WorkerID: w, Attempt: attempt,
		Exit: &api.Exit{Job: job, Attempt: attempt, Code: code, Reason: "boom", Permanent: perm}}
}

func ckpt(job string, attempt, id uint64, sec int) Command {
	return Command{Kind: CompleteCheckpoint, JobID: job, Attempt: attempt, Time: at(sec),
		Checkpoint: &api.CheckpointRequest{Attempt: attempt, ID: id, Path: "/ck/" + job + "/x", Watermark: at(-100)}}
}

func dead(w string) Command {
	return Command{Kind: WorkerDead, WorkerID: w, Reason: "no heartbeat for 5s"}
}

func cancel(job string) Command { return Command{Kind: CancelJob, JobID: job} }

// complete says, in a checkpoint report, that checkpoint id is complete on
// disk.
func complete(c Command, id uint64) Command {
	ck := *c.Checkpoint
	ck.Complete = id
	c.Checkpoint = &ck
	return c
}
func stop(job string) Command { return Command{Kind: StopJob, JobID: job} }
func savepoint(job string) Command {
	return Command{Kind: RequestSavepoint, JobID: job}
}

// build applies cmds, failing the test on any error.
func build(t *testing.T, cmds ...Command) *State {
	t.Helper()
	s := New()
	for i, c := range cmds {
		// Through the log encoding, as the Raft adapter does.
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(d); err != nil {
			t.Fatalf("setup step %d (%s): %v", i, c.Kind, err)
		}
	}
	return s
}

func seq(parts ...[]Command) []Command { return slices.Concat(parts...) }

var (
	queued     = []Command{bin(), reg("w1", 4), reg("w2", 1), sub("j1", 2, 1)}
	running    = seq(queued, []Command{asg("j1", "w1", 1)})
	restarting = seq(running, []Command{exit("j1", "w1", 1, 1, false)})
	stopping   = seq(running, []Command{stop("j1")})
	cancelling = seq(running, []Command{cancel("j1")})
	finished   = seq(running, []Command{exit("j1", "w1", 1, 0, false)})
	failed     = seq(running, []Command{exit("j1", "w1", 1, 2, false)})
	cancelled  = seq(queued, []Command{cancel("j1")})
	stopped    = seq(stopping, []Command{exit("j1", "w1", 1, 0, false)})
)

func TestApply(t *testing.T) {
	type want struct {
		state    api.JobState
		reason   string // substring
		attempt  uint64
		restarts int
		worker   string
	}
	tests := []struct {
		name  string
		setup []Command
		cmd   Command
		err   error // a sentinel, or nil
		want  *want // j1 afterwards, when err is nil
	}{
		// submit_job
		{"submit", []Command{bin()}, sub("j1", 2, 1), nil, &want{state: api.Queued}},
		{"submit duplicate", queued, sub("j1", 1, 2), ErrConflict, nil},
		{"submit unknown binary", nil, sub("j1", 1, 1), ErrNotFound, nil},
		{"submit parallelism 0", []Command{bin()}, sub("j1", 0, 1), ErrInvalid, nil},
		{"submit no job", nil, Command{Kind: SubmitJob}, ErrInvalid, nil},
		{"unknown kind", nil, Command{Kind: "frob"}, ErrInvalid, nil},

		// assign
		{"assign", queued, asg("j1", "w1", 1), nil, &want{state: api.Running, attempt: 1, worker: "w1"}},
		{"assign from restarting", restarting, asg("j1", "w1", 2), nil, &want{state: api.Running, attempt: 2, restarts: 1, worker: "w1"}},
		{"assign stale attempt", restarting, asg("j1", "w1", 1), ErrStale, nil},
		{"assign skipped attempt", queued, asg("j1", "w1", 2), ErrStale, nil},
		{"assign running job", running, asg("j1", "w1", 2), ErrStale, nil},
		{"assign final job", cancelled, asg("j1", "w1", 1), ErrStale, nil},
		{"assign dead worker", seq(queued, []Command{dead("w1")}), asg("j1", "w1", 1), ErrConflict, nil},
		{"assign too small worker", queued, asg("j1", "w2", 1), ErrConflict, nil},
		{"assign full worker", seq(queued, []Command{sub("j2", 3, 2), asg("j2", "w1", 1)}), asg("j1", "w1", 1), ErrConflict, nil},
		{"assign unknown worker", queued, asg("j1", "w9", 1), ErrNotFound, nil},
		{"assign unknown job", queued, asg("j9", "w1", 1), ErrNotFound, nil},

		// job_exited
		{"exit 0 stream", running, exit("j1", "w1", 1, 0, false), nil, &want{state: api.Finished, attempt: 1}},
		{"exit 1", running, exit("j1", "w1", 1, 1, false), nil,
			&want{state: api.Restarting, reason: "attempt 1 exited with code 1: boom", attempt: 1}},
		{"exit -1 killed", running, exit("j1", "w1", 1, -1, false), nil,
			&want{state: api.Restarting, reason: "attempt 1 exited with code -1: boom", attempt: 1}},
		{"exit 2", running, exit("j1", "w1", 1, 2, false), nil, &want{state: api.Failed, reason: "boom", attempt: 1}},
		{"exit 1 permanent", running, exit("j1", "w1", 1, 1, true), nil, &want{state: api.Failed, reason: "boom", attempt: 1}},
		{"exit 0 stopping", stopping, exit("j1", "w1", 1, 0, false), nil,
			&want{state: api.Stopped, reason: "stopped before it started: the stop wrote no savepoint", attempt: 1}},
		{"exit 1 stopping", stopping, exit("j1", "w1", 1, 1, false), nil,
			&want{state: api.Restarting, reason: "stop with savepoint failed: attempt 1 exited with code 1", attempt: 1}},
		{"exit 0 cancelling", cancelling, exit("j1", "w1", 1, 0, false), nil, &want{state: api.Cancelled, attempt: 1}},
		{"exit 1 cancelling", cancelling, exit("j1", "w1", 1, 1, false), nil, &want{state: api.Cancelled, attempt: 1}},
		{"exit -1 cancelling", cancelling, exit("j1", "w1", 1, -1, true), nil, &want{state: api.Cancelled, attempt: 1}},
		{"exit stale attempt", seq(restarting, []Command{asg("j1", "w1", 2)}), exit("j1", "w1", 1, 1, false), ErrStale, nil},
		{"exit other worker", running, exit("j1", "w2", 1, 1, false), ErrStale, nil},
		{"exit twice", restarting, exit("j1", "w1", 1, 1, false), ErrStale, nil},
		{"exit of queued job", queued, exit("j1", "", 0, 1, false), ErrStale, nil},
		{"exit without exit", running, Command{Kind: JobExited, JobID: "j1", WorkerID: "w1", Attempt: 1}, ErrInvalid, nil},

		// worker_dead and register_worker
		{"dead running", running, dead("w1"), nil,
			&want{state: api.Restarting, reason: "worker w1 lost: no heartbeat for 5s", attempt: 1}},
		{"dead stopping", stopping, dead("w1"), nil,
			&want{state: api.Restarting, reason: "worker w1 lost: no heartbeat for 5s during stop with savepoint; the next attempt stops once it runs", attempt: 1}},
		{"dead cancelling", cancelling, dead("w1"), nil, &want{state: api.Cancelled, attempt: 1}},
		{"dead other worker", running, dead("w2"), nil, &want{state: api.Running, attempt: 1, worker: "w1"}},
		{"dead twice", seq(running, []Command{dead("w1")}), dead("w1"), nil,
			&want{state: api.Restarting, reason: "worker w1 lost", attempt: 1}},
		{"dead unknown", running, dead("w9"), ErrNotFound, nil},
		{"register again while alive", running, reg("w1", 4), nil,
			&want{state: api.Restarting, reason: "worker w1 registered again", attempt: 1}},
		{"register again after death", seq(running, []Command{dead("w1")}), reg("w1", 4), nil,
			&want{state: api.Restarting, reason: "worker w1 lost", attempt: 1}},
		{"register negative slots", nil, reg("w1", -1), ErrInvalid, nil},

		// complete_checkpoint
		{"checkpoint", running, ckpt("j1", 1, 7, 9), nil, &want{state: api.Running, attempt: 1, worker: "w1"}},
		{"checkpoint stopping", stopping, ckpt("j1", 1, 7, 9), nil, &want{state: api.Stopping, attempt: 1, worker: "w1"}},
		{"checkpoint again", seq(running, []Command{ckpt("j1", 1, 7, 9)}), ckpt("j1", 1, 7, 10), nil,
			&want{state: api.Running, attempt: 1, worker: "w1"}},
		{"checkpoint older", seq(running, []Command{ckpt("j1", 1, 7, 9)}), ckpt("j1", 1, 6, 10), ErrStale, nil},
		{"checkpoint stale attempt", seq(restarting, []Command{asg("j1", "w1", 2)}), ckpt("j1", 1, 7, 9), ErrStale, nil},
		{"checkpoint restarting", restarting, ckpt("j1", 1, 7, 9), ErrStale, nil},
		{"checkpoint cancelling", cancelling, ckpt("j1", 1, 7, 9), ErrStale, nil},
		{"checkpoint queued", queued, ckpt("j1", 0, 7, 9), ErrStale, nil},
		{"checkpoint unknown job", running, ckpt("j9", 1, 7, 9), ErrNotFound, nil},

		// cancel_job
		{"cancel queued", queued, cancel("j1"), nil, &want{state: api.Cancelled}},
		{"cancel restarting", restarting, cancel("j1"), nil, &want{state: api.Cancelled, reason: "attempt 1", attempt: 1}},
		{"cancel running", running, cancel("j1"), nil, &want{state: api.Cancelling, attempt: 1, worker: "w1"}},
		{"cancel stopping", stopping, cancel("j1"), nil, &want{state: api.Cancelling, attempt: 1, worker: "w1"}},
		{"cancel cancelling", cancelling, cancel("j1"), nil, &want{state: api.Cancelling, attempt: 1, worker: "w1"}},
		{"cancel finished", finished, cancel("j1"), ErrConflict, nil},
		{"cancel failed", failed, cancel("j1"), ErrConflict, nil},
		{"cancel cancelled", cancelled, cancel("j1"), ErrConflict, nil},
		{"cancel stopped", stopped, cancel("j1"), ErrConflict, nil},
		{"cancel unknown", queued, cancel("j9"), ErrNotFound, nil},

		// stop_job
		{"stop running", running, stop("j1"), nil, &want{state: api.Stopping, attempt: 1, worker: "w1"}},
		{"stop queued", queued, stop("j1"), ErrConflict, nil},
		{"stop restarting", restarting, stop("j1"), ErrConflict, nil},
		{"stop stopping", stopping, stop("j1"), ErrConflict, nil},
		{"stop cancelling", cancelling, stop("j1"), ErrConflict, nil},
		{"stop finished", finished, stop("j1"), ErrConflict, nil},
		{"stop unknown", queued, stop("j9"), ErrNotFound, nil},

		// request_savepoint
		{"savepoint running", running, savepoint("j1"), nil, &want{state: api.Running, attempt: 1, worker: "w1"}},
		{"savepoint queued", queued, savepoint("j1"), ErrConflict, nil},
		{"savepoint restarting", restarting, savepoint("j1"), ErrConflict, nil},
		{"savepoint stopping", stopping, savepoint("j1"), ErrConflict, nil},
		{"savepoint finished", finished, savepoint("j1"), ErrConflict, nil},
		{"savepoint unknown", running, savepoint("j9"), ErrNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := build(t, tt.setup...)
			before, err := s.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Apply(tt.cmd)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if strings.Contains(err.Error(), "\n") || strings.HasPrefix(err.Error(), "state:") {
					t.Errorf("err %q: want one line for the user", err)
				}
				after, _ := s.Snapshot()
				if !bytes.Equal(before, after) {
					t.Errorf("a refused command changed the state:\n%s\n%s", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if res == nil {
				t.Fatal("no result")
			}
			if tt.want == nil {
				return
			}
			j, ok := s.Job("j1")
			if !ok {
				t.Fatal("no job j1")
			}
			w := tt.want
			if j.State != w.state || j.Attempt != w.attempt || j.Restarts != w.restarts || j.Worker != w.worker ||
				!strings.Contains(j.Reason, w.reason) || (w.reason == "" && j.Reason != "" && j.State != api.Failed) {
				t.Errorf("job = state %s attempt %d restarts %d worker %q reason %q, want %+v",
					j.State, j.Attempt, j.Restarts, j.Worker, j.Reason, *w)
			}
			if w.worker == "" && j.Tasks != nil {
				t.Errorf("tasks = %v, want none", j.Tasks)
			}
			if w.worker != "" && len(j.Tasks) != j.Parallelism {
				t.Errorf("tasks = %v, want %d on %s", j.Tasks, j.Parallelism, w.worker)
			}
			for i, task := range j.Tasks {
				if task.Index != i || task.Worker != w.worker {
					t.Errorf("task %d = %+v", i, task)
				}
			}
		})
	}
}

// TestSavepointRequests: a request counts; a checkpoint that carries a
// savepoint answers the requests its attempt had seen, never more than
// were made, and records where the savepoint is.
func TestSavepointRequests(t *testing.T) {
	withSavepoint := func(id, seen uint64) Command {
		c := ckpt("j1", 1, id, int(id))
		c.Checkpoint.Savepoint, c.Checkpoint.SavepointFor = "/sp/j1/chk-"+strconv.FormatUint(id, 10), seen
		return c
	}
	type counts struct{ requested, taken, id uint64 }
	for _, tt := range []struct {
		name string
		cmds []Command
		want counts
	}{
		{"asked", seq(running, []Command{savepoint("j1"), savepoint("j1")}), counts{2, 0, 0}},
		{"plain checkpoint answers nothing", seq(running, []Command{savepoint("j1"), ckpt("j1", 1, 3, 3)}), counts{1, 0, 0}},
		{"answered", seq(running, []Command{savepoint("j1"), withSavepoint(3, 1)}), counts{1, 1, 3}},
		{"answers only what it saw", seq(running, []Command{savepoint("j1"), savepoint("j1"), withSavepoint(3, 1)}), counts{2, 1, 3}},
		{"never more than asked", seq(running, []Command{savepoint("j1"), withSavepoint(3, 7)}), counts{1, 1, 3}},
		{"a stop's savepoint answers none", seq(running, []Command{savepoint("j1"), withSavepoint(4, 0)}), counts{1, 0, 4}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j, _ := build(t, tt.cmds...).Job("j1")
			if got := (counts{j.SavepointRequested, j.SavepointTaken, j.SavepointID}); got != tt.want {
				t.Errorf("requested, taken, id = %v, want %v", got, tt.want)
			}
			if tt.want.id != 0 && j.Savepoint != j.SavepointDir {
				t.Errorf("savepoint %q, want the job's savepoint directory %q", j.Savepoint, j.SavepointDir)
			}
		})
	}
}

// TestSubmitRetried: a submit_job with a request id already recorded
// answers the job it made and adds none, whatever job id the retry chose.
func TestSubmitRetried(t *testing.T) {
	first, retry := sub("j1", 1, 1), sub("j2", 1, 2)
	first.RequestID, retry.RequestID = "r1", "r1"
	s := build(t, bin(), first)
	res, err := s.Apply(retry)
	if err != nil {
		t.Fatal(err)
	}
	if j := res.(api.Job); j.ID != "j1" {
		t.Errorf("retry answered %s, want j1", j.ID)
	}
	if n := len(s.Jobs()); n != 1 {
		t.Errorf("%d jobs, want 1", n)
	}
	other := sub("j3", 1, 3)
	other.RequestID = "r2"
	if _, err := s.Apply(other); err != nil || len(s.Jobs()) != 2 {
		t.Errorf("another request: %v, %d jobs", err, len(s.Jobs()))
	}
}

// TestRegisterIncarnation: a registration repeated by the same worker
// process changes nothing; one from another process with the worker's id
// restarts what it ran, and only the newest incarnation is alive.
func TestRegisterIncarnation(t *testing.T) {
	regAs := func(inc string) Command {
		c := reg("w1", 4)
		c.Worker.Incarnation = inc
		return c
	}
	base := []Command{bin(), regAs("a"), sub("j1", 2, 1), asg("j1", "w1", 1)}
	s := build(t, seq(base, []Command{regAs("a")})...)
	if j, _ := s.Job("j1"); j.State != api.Running || j.Attempt != 1 {
		t.Errorf("after a repeated registration: %s attempt %d, want running attempt 1", j.State, j.Attempt)
	}
	alive := func(inc string) (a, r bool) { return s.WorkerAlive("w1", inc) }
	if a, _ := alive("a"); !a {
		t.Error("incarnation a should be the live one")
	}
	if a, r := alive("b"); a || !r {
		t.Errorf("incarnation b: alive %v replaced %v, want false true", a, r)
	}
	s = build(t, seq(base, []Command{regAs("b")})...)
	if j, _ := s.Job("j1"); j.State != api.Restarting {
		t.Errorf("after another process registered: %s, want restarting", j.State)
	}
	if a, r := alive("a"); a || !r {
		t.Errorf("incarnation a after b registered: alive %v replaced %v, want false true", a, r)
	}
	if a, _ := alive("b"); !a {
		t.Error("incarnation b should be the live one")
	}
}

func TestSubmitResult(t *testing.T) {
	s := build(t, bin())
	c := sub("j1", 3, 5)
	c.Job.State = api.Running // the leader's junk is ignored
	c.Job.Attempt = 9
	res, err := s.Apply(c)
	if err != nil {
		t.Fatal(err)
	}
	j := res.(api.Job)
	if j.State != api.Queued || j.Attempt != 0 || j.Restarts != 0 || !j.Submitted.Equal(at(5)) || j.Name != "n-j1" {
		t.Errorf("submitted job = %+v", j)
	}
	j.Args[0] = "changed"
	if got, _ := s.Job("j1"); got.Args[0] != "--mode=stream" {
		t.Error("the result shares Args with the state")
	}
}

func TestStoppedAndCheckpoint(t *testing.T) {
	final := ckpt("j1", 1, 8, 13)
	final.Checkpoint.Savepoint = "/ck/j1/savepoints/chk-8"
	s := build(t, seq(running, []Command{ckpt("j1", 1, 7, 9), ckpt("j1", 1, 7, 12)})...)
	j, _ := s.Job("j1")
	want := &api.Ckpt{ID: 7, Path: "/ck/j1/x", Watermark: at(-100), Attempt: 1, Completed: at(9)}
	if !reflect.DeepEqual(j.Checkpoint, want) {
		t.Errorf("checkpoint = %+v, want %+v (the repeat is a no-op)", j.Checkpoint, want)
	}
	s = build(t, seq(running, []Command{ckpt("j1", 1, 7, 9), stop("j1"), final, exit("j1", "w1", 1, 0, false)})...)
	if j, _ = s.Job("j1"); j.State != api.Stopped || j.Savepoint != "/ck/j1/savepoints" || j.SavepointID != 8 || j.Reason != "" {
		t.Errorf("job = %s savepoint %q %d reason %q", j.State, j.Savepoint, j.SavepointID, j.Reason)
	}
}

// TestFromSavepointUntilComplete: attempts start from the job's savepoint
// until a checkpoint of its own is known complete on disk; a recorded one
// is not enough (it is reported before its metadata is written).
func TestFromSavepointUntilComplete(t *testing.T) {
	s := build(t, seq(running, []Command{ckpt("j1", 1, 3, 3), exit("j1", "w1", 1, 1, false), asg("j1", "w1", 2)})...)
	if a := s.Assignments("w1"); len(a) != 1 || a[0].FromSavepoint != "/sp/j1" {
		t.Fatalf("after a recorded checkpoint: %+v, want the savepoint", a)
	}
	if _, err := s.Apply(complete(ckpt("j1", 2, 4, 4), 3)); err != nil {
		t.Fatal(err)
	}
	if a := s.Assignments("w1"); len(a) != 1 || a[0].FromSavepoint != "" {
		t.Fatalf("after checkpoint 3 is complete on disk: %+v, want no savepoint", a)
	}
}

// TestStopOutlivesAnAttempt: a stop with savepoint whose attempt fails or
// whose worker dies is not dropped: the next attempt runs, and once it has
// recorded a checkpoint (it is past its set-up) it is told to stop.
func TestStopOutlivesAnAttempt(t *testing.T) {
	for name, end := range map[string][]Command{
		"attempt failed": {exit("j1", "w1", 1, 1, false)},
		"worker died":    {dead("w1"), reg("w1", 4)},
	} {
		t.Run(name, func(t *testing.T) {
			s := build(t, seq(stopping, end, []Command{asg("j1", "w1", 2)})...)
			if j, _ := s.Job("j1"); j.State != api.Running {
				t.Fatalf("next attempt: %s, want running until it records a checkpoint", j.State)
			}
			if a := s.Assignments("w1"); len(a) != 1 || a[0].Stop {
				t.Fatalf("assignments %+v, want attempt 2 without Stop", a)
			}
			if _, err := s.Apply(ckpt("j1", 2, 3, 30)); err != nil {
				t.Fatal(err)
			}
			if j, _ := s.Job("j1"); j.State != api.Stopping {
				t.Fatalf("after its checkpoint: %s, want stopping", j.State)
			}
			if a := s.Assignments("w1"); len(a) != 1 || !a[0].Stop || a[0].Attempt != 2 {
				t.Fatalf("assignments %+v, want attempt 2 with Stop", a)
			}
		})
	}
}

func TestCheckpointNewAttemptMayGoBack(t *testing.T) {
	// A new attempt resumes from what its checkpoint directory holds,
	// which may be older than what the log recorded.
	s := build(t, seq(running, []Command{ckpt("j1", 1, 7, 9), exit("j1", "w1", 1, 1, false), asg("j1", "w1", 2), ckpt("j1", 2, 7, 20)})...)
	j, _ := s.Job("j1")
	if j.Checkpoint.Attempt != 2 || j.Checkpoint.ID != 7 || !j.Checkpoint.Completed.Equal(at(20)) {
		t.Errorf("checkpoint = %+v, want id 7 of attempt 2", j.Checkpoint)
	}
}

// failLoop returns n rounds of: the attempt exits with code 1, the next
// is assigned.
func failLoop(from uint64, n int) []Command {
	var out []Command
	for a := from; a < from+uint64(n); a++ {
		out = append(out, exit("j1", "w1", a, 1, false), asg("j1", "w1", a+1))
	}
	return out
}

func TestMaxRestarts(t *testing.T) {
	tests := []struct {
		name   string
		cmds   []Command
		state  api.JobState
		reason string
	}{
		{"10 restarts", seq(running, failLoop(1, MaxRestarts)), api.Running, ""},
		{"11th failure", seq(running, failLoop(1, MaxRestarts), []Command{exit("j1", "w1", 11, 1, false)}), api.Failed,
			"restarted 10 times without completing a checkpoint; last: attempt 11 exited with code 1: boom"},
		{"a checkpoint not known complete is not progress", seq(running, failLoop(1, 5), []Command{ckpt("j1", 6, 1, 1)}, failLoop(6, 5),
			[]Command{exit("j1", "w1", 11, 1, false)}), api.Failed, "restarted 10 times"},
		{"a checkpoint complete on disk in between", seq(running, failLoop(1, 5), []Command{ckpt("j1", 6, 1, 1), complete(ckpt("j1", 6, 2, 2), 1)}, failLoop(6, 6),
			[]Command{exit("j1", "w1", 12, 1, false)}), api.Restarting, "attempt 12 exited with code 1"},
		{"worker losses do not count", seq(running, failLoop(1, MaxRestarts),
			[]Command{dead("w1"), reg("w1", 4), asg("j1", "w1", 12)}), api.Running, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := build(t, tt.cmds...)
			j, _ := s.Job("j1")
			if j.State != tt.state || !strings.Contains(j.Reason, tt.reason) {
				t.Errorf("job = %s %q, want %s %q", j.State, j.Reason, tt.state, tt.reason)
			}
		})
	}
	s := build(t, seq(running, failLoop(1, MaxRestarts))...)
	if j, _ := s.Job("j1"); j.Restarts != MaxRestarts {
		t.Errorf("restarts = %d, want %d", j.Restarts, MaxRestarts)
	}
}

func TestAddBinary(t *testing.T) {
	s := build(t, bin(), Command{Kind: AddBinary, Binary: &api.Binary{SHA256: sha, Size: 10, Holders: []string{"c3", "c1"}}})
	b, ok := s.Binary(sha)
	if !ok || !slices.Equal(b.Holders, []string{"c1", "c2", "c3"}) {
		t.Errorf("binary = %+v %v", b, ok)
	}
	if _, err := s.Apply(Command{Kind: AddBinary, Binary: &api.Binary{SHA256: sha, Size: 11}}); !errors.Is(err, ErrConflict) {
		t.Errorf("other size: err = %v", err)
	}
	if _, err := s.Apply(Command{Kind: AddBinary}); !errors.Is(err, ErrInvalid) {
		t.Errorf("no binary: err = %v", err)
	}
	if _, ok := s.Binary("bb"); ok {
		t.Error("unknown binary found")
	}
}

func TestViews(t *testing.T) {
	s := build(t, seq(queued, []Command{
		{Kind: SetNode, Node: &api.Node{ID: "c2", Raft: "h:2", HTTP: "http://h:82"}},
		{Kind: SetNode, Node: &api.Node{ID: "c1", Raft: "h:1", HTTP: "http://h:81"}},
		sub("j0", 1, 1), // same time as j1: ordered by ID
		sub("j2", 1, 0),
		sub("j3", 1, 3),
		sub("j4", 1, 4),
		asg("j1", "w1", 1), asg("j2", "w1", 1), asg("j0", "w2", 1), asg("j3", "w1", 1),
		ckpt("j1", 1, 3, 5),
		stop("j2"),
		cancel("j3"),
	})...)
	var ids []string
	for _, j := range s.Jobs() {
		ids = append(ids, j.ID)
	}
	if want := []string{"j2", "j0", "j1", "j3", "j4"}; !slices.Equal(ids, want) {
		t.Errorf("jobs = %v, want %v", ids, want)
	}
	wantWorkers := []api.Worker{
		{ID: "w1", URL: "http://w1", Slots: 4, Used: 4, Alive: true, Jobs: []string{"j2", "j1", "j3"}},
		{ID: "w2", URL: "http://w2", Slots: 1, Used: 1, Alive: true, Jobs: []string{"j0"}},
	}
	if got := s.Workers(); !reflect.DeepEqual(got, wantWorkers) {
		t.Errorf("workers = %+v\nwant %+v", got, wantWorkers)
	}
	wantA := []api.Assignment{
		{Job: "j2", Attempt: 1, Name: "n-j2", Binary: sha, Args: []string{"--mode=stream"}, Slots: 1,
			CheckpointDir: "/ck/j2/checkpoints", SavepointDir: "/ck/j2/savepoints", FromSavepoint: "/sp/j2", Stop: true},
		{Job: "j1", Attempt: 1, Name: "n-j1", Binary: sha, Args: []string{"--mode=stream"}, Slots: 2,
			CheckpointDir: "/ck/j1/checkpoints", SavepointDir: "/ck/j1/savepoints", FromSavepoint: "/sp/j1"},
	}
	if got := s.Assignments("w1"); !reflect.DeepEqual(got, wantA) {
		t.Errorf("assignments = %+v\nwant %+v", got, wantA)
	}
	if got := s.Assignments("w9"); got != nil {
		t.Errorf("assignments of an unknown worker = %+v", got)
	}
	if n := s.Nodes(); len(n) != 2 || n[0].ID != "c1" || n[1].HTTP != "http://h:82" {
		t.Errorf("nodes = %+v", n)
	}
	if !s.WorkerKnown("w2") || s.WorkerKnown("w9") {
		t.Error("WorkerKnown")
	}
	if _, ok := s.Job("j9"); ok {
		t.Error("unknown job found")
	}
	if _, err := s.Apply(Command{Kind: SetNode, Node: &api.Node{}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("set_node without id: err = %v", err)
	}
}

func TestSnapshotRestore(t *testing.T) {
	s := build(t, seq(restarting, []Command{
		{Kind: SetNode, Node: &api.Node{ID: "c1", Raft: "h:1", HTTP: "http://h:81"}},
		sub("j2", 1, 0), sub("j3", 2, 5), asg("j2", "w2", 1), asg("j1", "w1", 2), ckpt("j1", 2, 4, 8),
		stop("j1"), dead("w2"), reg("w3", 8),
	})...)
	b, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := New()
	if err := r.Restore(b); err != nil {
		t.Fatal(err)
	}
	b2, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Errorf("snapshot after restore differs:\n%s\n%s", b, b2)
	}
	if !reflect.DeepEqual(s.Jobs(), r.Jobs()) || !reflect.DeepEqual(s.Workers(), r.Workers()) ||
		!reflect.DeepEqual(s.Nodes(), r.Nodes()) || !reflect.DeepEqual(Schedule(s), Schedule(r)) {
		t.Error("views differ after restore")
	}
	// The hidden failure count survives too: both states go on alike.
	for _, c := range []Command{exit("j1", "w1", 2, 1, false), asg("j1", "w3", 3)} {
		_, e1 := s.Apply(c)
		_, e2 := r.Apply(c)
		if (e1 == nil) != (e2 == nil) {
			t.Fatalf("%s: %v vs %v", c.Kind, e1, e2)
		}
	}
	b, _ = s.Snapshot()
	b2, _ = r.Snapshot()
	if !bytes.Equal(b, b2) {
		t.Errorf("states diverged after restore:\n%s\n%s", b, b2)
	}
	if err := r.Restore([]byte("{")); err == nil {
		t.Error("restore of bad JSON: no error")
	}
	if b3, _ := r.Snapshot(); !bytes.Equal(b2, b3) {
		t.Error("a failed restore changed the state")
	}
	empty, _ := New().Snapshot()
	e := New()
	if err := e.Restore(empty); err != nil || len(e.Jobs()) != 0 {
		t.Errorf("restore of an empty snapshot: %v", err)
	}
}

func TestEncodeDecode(t *testing.T) {
	for _, c := range []Command{bin(), sub("j1", 2, 1), reg("w1", 2), asg("j1", "w1", 1), exit("j1", "w1", 1, -1, true),
		ckpt("j1", 1, 2, 3), dead("w1"), cancel("j1"), stop("j1")} {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, d) {
			t.Errorf("%s: decoded %+v, want %+v", c.Kind, d, c)
		}
	}
	if _, err := Decode([]byte("nope")); err == nil {
		t.Error("decode of junk: no error")
	}
}

// TestRemoveBinary: a binary is forgotten only when no job that can still
// run uses it and it was not uploaded or submitted since Before.
func TestRemoveBinary(t *testing.T) {
	rm := func(before int) Command {
		return Command{Kind: RemoveBinary, Binary: &api.Binary{SHA256: sha}, Before: at(before)}
	}
	upload := bin()
	upload.Time = at(0)
	for _, tt := range []struct {
		name   string
		setup  []Command
		cmd    Command
		err    error
		unused bool // listed by UnusedBinaries(at(100)) before the command
	}{
		{"never used since", []Command{upload}, rm(100), nil, true},
		{"uploaded after", []Command{upload}, rm(-1), ErrConflict, true},
		{"submitted after", []Command{upload, sub("j1", 1, 50), cancel("j1")}, rm(40), ErrConflict, true},
		{"job of it queued", []Command{upload, sub("j1", 1, 5)}, rm(100), ErrConflict, false},
		{"job of it running", seq([]Command{upload, reg("w1", 4), sub("j1", 1, 5), asg("j1", "w1", 1)}), rm(100), ErrConflict, false},
		{"job of it ended", []Command{upload, sub("j1", 1, 5), cancel("j1")}, rm(100), nil, true},
		{"unknown", nil, rm(100), ErrNotFound, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := build(t, tt.setup...)
			if got := len(s.UnusedBinaries(at(100))) == 1; got != tt.unused {
				t.Errorf("UnusedBinaries = %v, want listed %v", s.UnusedBinaries(at(100)), tt.unused)
			}
			_, err := s.Apply(tt.cmd)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if _, ok := s.Binary(sha); ok != (tt.err != nil && tt.name != "unknown") {
				t.Errorf("binary recorded = %v after %v", ok, err)
			}
		})
	}
}
