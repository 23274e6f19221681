package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weirflow/weir/coordinator/api"
)

// Kind names a command.
type Kind string

// The commands the FSM applies.
const (
	SetNode            Kind = "set_node"            // a coordinator announces its HTTP URL (Command.Node)
	AddBinary          Kind = "add_binary"          // a binary is held by a quorum (Command.Binary)
	SubmitJob          Kind = "submit_job"          // a job is accepted (Command.Job)
	RegisterWorker     Kind = "register_worker"     // a worker (re)joins (Command.Worker)
	WorkerDead         Kind = "worker_dead"         // the leader's detector gave up on a worker (WorkerID, Reason)
	Assign             Kind = "assign"              // a job's next attempt goes to a worker (JobID, WorkerID, Attempt), or to several (WorkerIDs)
	JobExited          Kind = "job_exited"          // a worker reported an attempt's exit (JobID, WorkerID, Attempt, Exit)
	CompleteCheckpoint Kind = "complete_checkpoint" // a checkpoint is complete (JobID, Attempt, Checkpoint)
	CancelJob          Kind = "cancel_job"          // (JobID)
	StopJob            Kind = "stop_job"            // stop with savepoint (JobID)
	RequestSavepoint   Kind = "request_savepoint"   // a savepoint without stop (JobID)
	RemoveBinary       Kind = "remove_binary"       // forget a binary unused since Before (Binary.SHA256)
)

// MaxRestarts is how many times in a row a job restarts after its attempt
// exits with a failure and no checkpoint completes in between; the next
// such exit fails the job.
const MaxRestarts = 10

// Command is one entry of the Raft log. The leader fills it, Time
// included, before it proposes it; the FSM never reads a clock.
type Command struct {
	Kind     Kind                 `json:"kind"`
	Time     time.Time            `json:"time"`
	Node     *api.Node            `json:"node,omitempty"`
	Binary   *api.Binary          `json:"binary,omitempty"`
	Job      *api.Job             `json:"job,omitempty"`
	Worker   *api.RegisterRequest `json:"worker,omitempty"`
	WorkerID string               `json:"worker_id,omitempty"`
	// WorkerIDs: assign spreads the job's tasks over these workers, one
	// process each, by process index (WorkerID is then the first).
	WorkerIDs  []string               `json:"worker_ids,omitempty"`
	JobID      string                 `json:"job_id,omitempty"`
	Attempt    uint64                 `json:"attempt,omitempty"`
	Exit       *api.Exit              `json:"exit,omitempty"`
	Checkpoint *api.CheckpointRequest `json:"checkpoint,omitempty"`
	Reason     string                 `json:"reason,omitempty"`
	// RequestID is the submission's (api.SubmitRequest.RequestID):
	// submit_job with one already recorded answers that job.
	RequestID string `json:"request_id,omitempty"`
	// Before: remove_binary removes a binary only if it was not used
	// since.
	Before time.Time `json:"before,omitzero"`
}

// Encode returns the command as a Raft log entry.
func Encode(c Command) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("state: encode %s command: %w", c.Kind, err)
	}
	return b, nil
}

// Decode reads a command written by [Encode].
func Decode(b []byte) (Command, error) {
	var c Command
	if err := json.Unmarshal(b, &c); err != nil {
		return Command{}, fmt.Errorf("state: decode command: %w", err)
	}
	return c, nil
}

// Errors of [State.Apply], matched with errors.Is. The error returned
// carries a one-line message for the user (the sentinel's text is not in
// it); the server maps ErrNotFound to 404, ErrStale and ErrConflict to
// 409, ErrInvalid to 400.
var (
	// ErrNotFound: the job, worker or binary named is unknown.
	ErrNotFound = errors.New("state: not found")
	// ErrStale: the command was computed from a view the log has moved
	// past (an older attempt, a job that was placed or ended meanwhile).
	ErrStale = errors.New("state: stale")
	// ErrConflict: the command contradicts the current state (a duplicate
	// job, a worker without the slots, a job in a state that refuses it).
	ErrConflict = errors.New("state: conflict")
	// ErrInvalid: the command is malformed (unknown kind, missing field).
	// The leader builds commands, so this is a bug there.
	ErrInvalid = errors.New("state: invalid command")
)

// refusal is an error whose message is for the user and which matches
// one of the sentinels.
type refusal struct {
	kind error
	msg  string
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.kind }

func refuse(kind error, format string, args ...any) error {
	return &refusal{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// job is a job and what the FSM keeps about it beyond the API's view.
type job struct {
	api.Job
	// Failures counts the attempts that exited with a failure since the
	// last completed checkpoint (or since the job started).
	Failures int `json:"failures,omitempty"`
	// StopRequested: a stop with savepoint was asked for. It outlives a
	// failed attempt: the next one stops again once it has recorded a
	// checkpoint (it is past its set-up then, so its stop writes a
	// savepoint). StopSaved: the stop's savepoint was reported.
	StopRequested bool `json:"stop_requested,omitempty"`
	StopSaved     bool `json:"stop_saved,omitempty"`
	// RequestID is the submission that made the job, if it named one.
	RequestID string `json:"request_id,omitempty"`
	// Complete is the newest checkpoint of the job's directory an
	// attempt reported complete on disk (CheckpointRequest.Complete):
	// from then on attempts resume from the directory, not FromSavepoint,
	// and a newer one is progress (restarts counted from zero again).
	Complete uint64 `json:"complete,omitempty"`
}

// worker is what the FSM keeps about a worker.
type worker struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Slots       int    `json:"slots"`
	Alive       bool   `json:"alive"`
	Incarnation string `json:"incarnation,omitempty"`
}

// State is the replicated state of the cluster: coordinators, binaries,
// workers and jobs. It is not safe for concurrent use; the caller locks.
type State struct {
	nodes    map[string]api.Node
	binaries map[string]api.Binary
	workers  map[string]*worker
	jobs     map[string]*job
	order    []*job // jobs sorted by Submitted, then ID
}

// New returns an empty state.
func New() *State {
	return &State{
		nodes:    map[string]api.Node{},
		binaries: map[string]api.Binary{},
		workers:  map[string]*worker{},
		jobs:     map[string]*job{},
	}
}

// Apply applies one command. On success the result is the record the
// command changed (or found unchanged, for an idempotent repeat): an
// api.Job for the job commands, an api.Worker for register_worker and
// worker_dead, an api.Node or api.Binary. On error nothing changed.
func (s *State) Apply(c Command) (any, error) {
	switch c.Kind {
	case SetNode:
		return s.setNode(c)
	case AddBinary:
		return s.addBinary(c)
	case SubmitJob:
		return s.submit(c)
	case RegisterWorker:
		return s.register(c)
	case WorkerDead:
		return s.workerDead(c)
	case Assign:
		return s.assign(c)
	case JobExited:
		return s.exited(c)
	case CompleteCheckpoint:
		return s.checkpoint(c)
	case CancelJob:
		return s.cancel(c)
	case StopJob:
		return s.stop(c)
	case RequestSavepoint:
		return s.requestSavepoint(c)
	case RemoveBinary:
		return s.removeBinary(c)
	}
	return nil, refuse(ErrInvalid, "unknown command %q", c.Kind)
}

func (s *State) setNode(c Command) (any, error) {
	if c.Node == nil || c.Node.ID == "" {
		return nil, refuse(ErrInvalid, "set_node without a node id")
	}
	s.nodes[c.Node.ID] = *c.Node
	return *c.Node, nil
}

func (s *State) addBinary(c Command) (any, error) {
	if c.Binary == nil || c.Binary.SHA256 == "" {
		return nil, refuse(ErrInvalid, "add_binary without a SHA-256")
	}
	b := *c.Binary
	b.Used = c.Time
	if old, ok := s.binaries[b.SHA256]; ok {
		if old.Used.After(b.Used) {
			b.Used = old.Used
		}
		if old.Size != b.Size {
			return nil, refuse(ErrConflict, "binary %s is recorded with %d bytes, not %d", b.SHA256, old.Size, b.Size)
		}
		b.Holders = append(slices.Clone(old.Holders), b.Holders...)
	} else {
		b.Holders = slices.Clone(b.Holders)
	}
	slices.Sort(b.Holders)
	b.Holders = slices.Compact(b.Holders)
	s.binaries[b.SHA256] = b
	return cloneBinary(b), nil
}

func (s *State) submit(c Command) (any, error) {
	if c.Job == nil || c.Job.ID == "" {
		return nil, refuse(ErrInvalid, "submit_job without a job id")
	}
	if c.Job.Parallelism < 1 {
		return nil, refuse(ErrInvalid, "job %s has parallelism %d; want 1 or more", c.Job.ID, c.Job.Parallelism)
	}
	if j, ok := s.JobByRequest(c.RequestID); ok {
		return j, nil // a retry of a submission that was recorded
	}
	if _, ok := s.jobs[c.Job.ID]; ok {
		return nil, refuse(ErrConflict, "job %s exists already", c.Job.ID)
	}
	if _, ok := s.binaries[c.Job.Binary]; !ok {
		return nil, refuse(ErrNotFound, "binary %q is unknown: upload it first", c.Job.Binary)
	}
	bin := s.binaries[c.Job.Binary]
	if c.Time.After(bin.Used) {
		bin.Used = c.Time
		s.binaries[c.Job.Binary] = bin
	}
	j := &job{Job: cloneJob(*c.Job), RequestID: c.RequestID}
	j.State = api.Queued
	j.Reason = ""
	j.Attempt = 0
	j.Restarts = 0
	j.Worker, j.Workers = "", nil
	j.Tasks = nil
	j.Checkpoint = nil
	j.Savepoint, j.SavepointID = "", 0
	j.SavepointRequested, j.SavepointTaken = 0, 0
	j.Submitted = c.Time
	s.jobs[j.ID] = j
	i, _ := slices.BinarySearchFunc(s.order, j, compareJobs)
	s.order = slices.Insert(s.order, i, j)
	return cloneJob(j.Job), nil
}

// JobByRequest returns the job a submission with request id rid made
// (none for "").
func (s *State) JobByRequest(rid string) (api.Job, bool) {
	if rid == "" {
		return api.Job{}, false
	}
	for _, j := range s.order {
		if j.RequestID == rid {
			return cloneJob(j.Job), true
		}
	}
	return api.Job{}, false
}

func compareJobs(a, b *job) int {
	if c := a.Submitted.Compare(b.Submitted); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func (s *State) register(c Command) (any, error) {
	if c.Worker == nil || c.Worker.ID == "" {
		return nil, refuse(ErrInvalid, "register_worker without a worker id")
	}
	if c.Worker.Slots < 0 {
		return nil, refuse(ErrInvalid, "worker %s has %d slots", c.Worker.ID, c.Worker.Slots)
	}
	w, ok := s.workers[c.Worker.ID]
	if !ok {
		w = &worker{ID: c.Worker.ID}
		s.workers[w.ID] = w
	} else if w.Alive && (c.Worker.Incarnation == "" || c.Worker.Incarnation != w.Incarnation) {
		// It restarted before the detector noticed (or another process
		// took its id): its children are gone, or will be killed as their
		// attempts are no longer assigned to it. The same incarnation
		// again is a retry: nothing changes.
		s.lose(w.ID, "worker "+w.ID+" registered again")
	}
	w.URL = c.Worker.URL
	w.Slots = c.Worker.Slots
	w.Alive = true
	w.Incarnation = c.Worker.Incarnation
	return s.workerView(w), nil
}

func (s *State) workerDead(c Command) (any, error) {
	w, ok := s.workers[c.WorkerID]
	if !ok {
		return nil, refuse(ErrNotFound, "worker %q is unknown", c.WorkerID)
	}
	if w.Alive {
		w.Alive = false
		reason := "worker " + w.ID + " lost"
		if c.Reason != "" {
			reason += ": " + c.Reason
		}
		s.lose(w.ID, reason)
	}
	return s.workerView(w), nil
}

// WorkerAlive reports whether worker id is alive in the given incarnation
// ("" matches any): a heartbeat of another one is answered Unknown.
// replaced: it is alive in another incarnation (another process took its
// id).
func (s *State) WorkerAlive(id, incarnation string) (alive, replaced bool) {
	w, ok := s.workers[id]
	if !ok || !w.Alive {
		return false, false
	}
	if incarnation == "" || incarnation == w.Incarnation {
		return true, false
	}
	return false, w.Incarnation != ""
}

// lose ends the attempts placed on worker id: running and stopping jobs
// restart (a stopping one stops again once its next attempt runs),
// cancelling ones are cancelled.
func (s *State) lose(id, reason string) {
	for _, j := range s.order {
		if !placedOn(j, id) {
			continue
		}
		switch j.State {
		case api.Running:
			j.State = api.Restarting
			j.Reason = reason
		case api.Cancelling:
			j.State = api.Cancelled
		case api.Stopping:
			j.State = api.Restarting
			j.Reason = reason + " during stop with savepoint; the next attempt stops once it runs"
		}
		j.Worker, j.Workers = "", nil
		j.Tasks = nil
	}
}

// placedOn reports whether worker id hosts tasks of j's attempt.
func placedOn(j *job, id string) bool {
	return id != "" && (j.Worker == id || slices.Contains(j.Workers, id))
}

// processOf returns the process index of worker id in j's placement, or
// -1.
func processOf(j *job, id string) int {
	if len(j.Workers) == 0 {
		if j.Worker == id && id != "" {
			return 0
		}
		return -1
	}
	return slices.Index(j.Workers, id)
}

// Shares returns how many of par tasks each of n processes hosts: task k
// on process k·n/par (runner.Cluster's placement).
func Shares(par, n int) []int {
	out := make([]int, n)
	for k := range par {
		out[k*n/par]++
	}
	return out
}

func (s *State) assign(c Command) (any, error) {
	j, ok := s.jobs[c.JobID]
	if !ok {
		return nil, refuse(ErrNotFound, "job %q is unknown", c.JobID)
	}
	if j.State != api.Queued && j.State != api.Restarting {
		return nil, refuse(ErrStale, "job %s is %s: it has nothing to place", j.ID, j.State)
	}
	if c.Attempt != j.Attempt+1 {
		return nil, refuse(ErrStale, "job %s: attempt %d is not the next one (%d)", j.ID, c.Attempt, j.Attempt+1)
	}
	ids := c.WorkerIDs
	if len(ids) == 0 {
		ids = []string{c.WorkerID}
	}
	if len(ids) > j.Parallelism {
		return nil, refuse(ErrInvalid, "job %s has %d tasks: it cannot spread over %d workers", j.ID, j.Parallelism, len(ids))
	}
	shares := Shares(j.Parallelism, len(ids))
	for i, id := range ids {
		w, ok := s.workers[id]
		if !ok {
			return nil, refuse(ErrNotFound, "worker %q is unknown", id)
		}
		if !w.Alive {
			return nil, refuse(ErrConflict, "worker %s is not alive", w.ID)
		}
		if slices.Contains(ids[:i], id) {
			return nil, refuse(ErrInvalid, "worker %s is named twice", id)
		}
		if free := w.Slots - s.used(w.ID); free < shares[i] {
			return nil, refuse(ErrConflict, "job %s needs %d slots on worker %s, which has %d free", j.ID, shares[i], w.ID, free)
		}
	}
	if j.State == api.Restarting {
		j.Restarts++
	}
	j.State = api.Running
	j.Reason = ""
	j.Attempt = c.Attempt
	j.Worker, j.Workers = ids[0], nil
	if len(ids) > 1 {
		j.Workers = slices.Clone(ids)
	}
	j.Tasks = make([]api.Task, j.Parallelism)
	for k := range j.Tasks {
		j.Tasks[k] = api.Task{Index: k, Worker: ids[k*len(ids)/j.Parallelism]}
	}
	return cloneJob(j.Job), nil
}

// used returns the slots the jobs placed on worker id hold: a slot per
// task index (Flink's slot sharing).
func (s *State) used(id string) int {
	n := 0
	for _, j := range s.order {
		n += j.slotsOn(id)
	}
	return n
}

// slotsOn returns the slots j's attempt holds on worker id.
func (j *job) slotsOn(id string) int {
	if !placedOn(j, id) {
		return 0
	}
	if len(j.Workers) == 0 {
		return j.Parallelism
	}
	return Shares(j.Parallelism, len(j.Workers))[processOf(j, id)]
}

func (s *State) exited(c Command) (any, error) {
	j, ok := s.jobs[c.JobID]
	if !ok {
		return nil, refuse(ErrNotFound, "job %q is unknown", c.JobID)
	}
	if c.Exit == nil {
		return nil, refuse(ErrInvalid, "job_exited without an exit")
	}
	if c.Attempt != j.Attempt || !placedOn(j, c.WorkerID) {
		return nil, refuse(ErrStale, "job %s: attempt %d on worker %s is not the current one", j.ID, c.Attempt, c.WorkerID)
	}
	e := c.Exit
	if p := processOf(j, c.WorkerID); p > 0 {
		if e.Code == 0 && j.State != api.Cancelling {
			// A process other than the master ends once the master has
			// the job's last checkpoint; the master's exit decides.
			return cloneJob(j.Job), nil
		}
		e = &api.Exit{Job: e.Job, Attempt: e.Attempt, Code: e.Code, Permanent: e.Permanent,
			Reason: fmt.Sprintf("process %d (worker %s): %s", p, c.WorkerID, e.Reason)}
		if e.Reason == "" {
			e.Reason = fmt.Sprintf("process %d (worker %s) exited with code %d", p, c.WorkerID, e.Code)
		}
	}
	switch {
	case j.State == api.Cancelling:
		j.State = api.Cancelled
	case e.Code == 0 && j.State == api.Stopping:
		j.State = api.Stopped
		j.Reason = ""
		switch {
		case j.StopSaved:
		case j.Checkpoint != nil && j.Checkpoint.Attempt == j.Attempt:
			// The attempt ran, and a binary from before savepoints were
			// reported wrote its savepoint without saying so.
			j.Savepoint = j.SavepointDir
		default:
			// It stopped while it was still being set up: nothing read,
			// nothing committed, no savepoint (the newest one in the
			// savepoint directory, if any, is older).
			j.Reason = "stopped before it started: the stop wrote no savepoint"
		}
	case e.Code == 0:
		j.State = api.Finished
		j.Reason = ""
	case e.Code == 2 || e.Permanent:
		j.State = api.Failed
		j.Reason = e.Reason
		if j.Reason == "" {
			j.Reason = exitText(j.Attempt, e)
		}
	default:
		last := exitText(j.Attempt, e)
		if j.State == api.Stopping {
			last = "stop with savepoint failed: " + last
		}
		if j.Failures >= MaxRestarts {
			j.State = api.Failed
			j.Reason = fmt.Sprintf("restarted %d times without completing a checkpoint; last: %s", MaxRestarts, last)
		} else {
			j.Failures++
			j.State = api.Restarting
			j.Reason = last
		}
	}
	j.Worker, j.Workers = "", nil
	j.Tasks = nil
	return cloneJob(j.Job), nil
}

func exitText(attempt uint64, e *api.Exit) string {
	s := fmt.Sprintf("attempt %d exited with code %d", attempt, e.Code)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func (s *State) checkpoint(c Command) (any, error) {
	j, ok := s.jobs[c.JobID]
	if !ok {
		return nil, refuse(ErrNotFound, "job %q is unknown", c.JobID)
	}
	if c.Checkpoint == nil {
		return nil, refuse(ErrInvalid, "complete_checkpoint without a checkpoint")
	}
	if c.Attempt != j.Attempt || (j.State != api.Running && j.State != api.Stopping) {
		return nil, refuse(ErrStale, "job %s is %s at attempt %d: checkpoint %d of attempt %d is stale",
			j.ID, j.State, j.Attempt, c.Checkpoint.ID, c.Attempt)
	}
	if old := j.Checkpoint; old != nil && old.Attempt == c.Attempt {
		// Within an attempt checkpoint ids grow; a new attempt may resume
		// from an older one than the log recorded, and it is the truth then.
		if c.Checkpoint.ID == old.ID {
			return cloneJob(j.Job), nil
		}
		if c.Checkpoint.ID < old.ID {
			return nil, refuse(ErrStale, "job %s: checkpoint %d is older than the completed %d", j.ID, c.Checkpoint.ID, old.ID)
		}
	}
	if c.Checkpoint.Savepoint != "" {
		j.Savepoint, j.SavepointID = j.SavepointDir, c.Checkpoint.ID
		j.StopSaved = j.StopSaved || j.State == api.Stopping
		if f := min(c.Checkpoint.SavepointFor, j.SavepointRequested); f > j.SavepointTaken {
			j.SavepointTaken = f
		}
	}
	ck := &api.Ckpt{
		ID:        c.Checkpoint.ID,
		Path:      c.Checkpoint.Path,
		Watermark: c.Checkpoint.Watermark,
		Attempt:   c.Attempt,
		Completed: c.Time,
	}
	if c.Checkpoint.Complete > j.Complete {
		// A checkpoint newer than any before is complete on disk: the job
		// makes progress. (A reported one alone proves little: it is
		// reported before its metadata is written, which may still fail.)
		j.Complete = c.Checkpoint.Complete
		j.Failures = 0
	}
	j.Checkpoint = ck
	if j.StopRequested && j.State == api.Running {
		j.State = api.Stopping // a stop the last attempt did not finish
	}
	return cloneJob(j.Job), nil
}

func (s *State) cancel(c Command) (any, error) {
	j, ok := s.jobs[c.JobID]
	if !ok {
		return nil, refuse(ErrNotFound, "job %q is unknown", c.JobID)
	}
	switch j.State {
	case api.Queued, api.Restarting:
		j.State = api.Cancelled
	case api.Running, api.Stopping:
		j.State = api.Cancelling
	case api.Cancelling:
	default:
		return nil, refuse(ErrConflict, "job %s is %s: nothing to cancel", j.ID, j.State)
	}
	return cloneJob(j.Job), nil
}

func (s *State) stop(c Command) (any, error) {
	j, ok := s.jobs[c.JobID]
	if !ok {
		return nil, refuse(ErrNotFound, "job %q is unknown", c.JobID)
	}
	if j.State != api.Running {
		return nil, refuse(ErrConflict, "job %s is %s: nothing to stop", j.ID, j.State)
	}
	j.State = api.Stopping
	j.StopRequested, j.StopSaved = true, false
	return cloneJob(j.Job), nil
}

// removeBinary forgets a binary that no job that can still run uses and
// that was not uploaded or submitted since c.Before.
func (s *State) removeBinary(c Command) (any, error) {
	if c.Binary == nil {
		return nil, refuse(ErrInvalid, "remove_binary without a binary")
	}
	b, ok := s.binaries[c.Binary.SHA256]
	if !ok {
		return nil, refuse(ErrNotFound, "binary %q is unknown", c.Binary.SHA256)
	}
	if b.Used.After(c.Before) {
		return nil, refuse(ErrConflict, "binary %s was used at %s, after %s", api.ShortSHA(b.SHA256), b.Used.Format(time.RFC3339), c.Before.Format(time.RFC3339))
	}
	for _, j := range s.order {
		if j.Binary == b.SHA256 && !j.State.Final() {
			return nil, refuse(ErrConflict, "binary %s is the binary of job %s, which is %s", api.ShortSHA(b.SHA256), j.ID, j.State)
		}
	}
	delete(s.binaries, b.SHA256)
	return cloneBinary(b), nil
}

// UnusedBinaries returns the binaries that no job that can still run uses
// and that were not uploaded or submitted since before, sorted.
func (s *State) UnusedBinaries(before time.Time) []string {
	used := map[string]bool{}
	for _, j := range s.order {
		if !j.State.Final() {
			used[j.Binary] = true
		}
	}
	var out []string
	for _, sha := range sortedKeys(s.binaries) {
		// A zero Used is a record from before the field: kept.
		if b := s.binaries[sha]; !used[sha] && !b.Used.IsZero() && !b.Used.After(before) {
			out = append(out, sha)
		}
	}
	return out
}

// requestSavepoint counts a request for a savepoint of a running job; its
// attempt sees it in the answer to its next checkpoint.
func (s *State) requestSavepoint(c Command) (any, error) {
	j, ok := s.jobs[c.JobID]
	if !ok {
		return nil, refuse(ErrNotFound, "job %q is unknown", c.JobID)
	}
	if j.State != api.Running {
		return nil, refuse(ErrConflict, "job %s is %s: a savepoint is taken of a running job", j.ID, j.State)
	}
	j.SavepointRequested++
	return cloneJob(j.Job), nil
}

// snapshot is the JSON form of a State, every list sorted.
type snapshot struct {
	Nodes    []api.Node   `json:"nodes"`
	Binaries []api.Binary `json:"binaries"`
	Workers  []worker     `json:"workers"`
	Jobs     []job        `json:"jobs"`
}

// Snapshot returns the whole state as JSON; equal states give equal bytes.
func (s *State) Snapshot() ([]byte, error) {
	snap := snapshot{Nodes: s.Nodes(), Binaries: []api.Binary{}, Workers: []worker{}, Jobs: []job{}}
	for _, sha := range sortedKeys(s.binaries) {
		snap.Binaries = append(snap.Binaries, s.binaries[sha])
	}
	for _, id := range sortedKeys(s.workers) {
		snap.Workers = append(snap.Workers, *s.workers[id])
	}
	for _, j := range s.order {
		snap.Jobs = append(snap.Jobs, *j)
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("state: snapshot: %w", err)
	}
	return b, nil
}

// Restore replaces the state with a [State.Snapshot]. On error the state
// is unchanged.
func (s *State) Restore(b []byte) error {
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("state: restore: %w", err)
	}
	n := New()
	for _, x := range snap.Nodes {
		n.nodes[x.ID] = x
	}
	for _, x := range snap.Binaries {
		n.binaries[x.SHA256] = x
	}
	for _, x := range snap.Workers {
		w := x
		n.workers[w.ID] = &w
	}
	for _, x := range snap.Jobs {
		j := x
		if _, dup := n.jobs[j.ID]; dup {
			return fmt.Errorf("state: restore: job %s appears twice", j.ID)
		}
		if j.State == api.Stopping {
			j.StopRequested = true // a snapshot from before the field
		}
		n.jobs[j.ID] = &j
		n.order = append(n.order, &j)
	}
	slices.SortFunc(n.order, compareJobs)
	*s = *n
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Jobs returns every job, sorted by Submitted, then ID.
func (s *State) Jobs() []api.Job {
	out := make([]api.Job, 0, len(s.order))
	for _, j := range s.order {
		out = append(out, cloneJob(j.Job))
	}
	return out
}

// Job returns one job.
func (s *State) Job(id string) (api.Job, bool) {
	j, ok := s.jobs[id]
	if !ok {
		return api.Job{}, false
	}
	return cloneJob(j.Job), true
}

// Workers returns every worker, sorted by ID, with Used and Jobs (in job
// order) filled. LastSeen is zero: the leader's detector knows it.
func (s *State) Workers() []api.Worker {
	out := make([]api.Worker, 0, len(s.workers))
	at := make(map[string]int, len(s.workers))
	for _, id := range sortedKeys(s.workers) {
		w := s.workers[id]
		at[id] = len(out)
		out = append(out, api.Worker{ID: w.ID, URL: w.URL, Slots: w.Slots, Alive: w.Alive})
	}
	for _, j := range s.order {
		for id, i := range at {
			if n := j.slotsOn(id); n > 0 {
				out[i].Used += n
				out[i].Jobs = append(out[i].Jobs, j.ID)
			}
		}
	}
	return out
}

func (s *State) workerView(w *worker) api.Worker {
	v := api.Worker{ID: w.ID, URL: w.URL, Slots: w.Slots, Alive: w.Alive}
	for _, j := range s.order {
		if n := j.slotsOn(w.ID); n > 0 {
			v.Used += n
			v.Jobs = append(v.Jobs, j.ID)
		}
	}
	return v
}

// WorkerKnown reports whether a worker ever registered.
func (s *State) WorkerKnown(id string) bool {
	_, ok := s.workers[id]
	return ok
}

// Nodes returns the coordinators that announced themselves, sorted by ID.
func (s *State) Nodes() []api.Node {
	out := make([]api.Node, 0, len(s.nodes))
	for _, id := range sortedKeys(s.nodes) {
		out = append(out, s.nodes[id])
	}
	return out
}

// Binary returns a recorded binary.
func (s *State) Binary(sha string) (api.Binary, bool) {
	b, ok := s.binaries[sha]
	return cloneBinary(b), ok
}

// Assignments returns what worker id must run now: the running and
// stopping jobs placed on it, in job order, Stop set for stopping ones.
// Cancelling jobs are not listed: the worker kills what is not assigned.
// FromSavepoint is set only while the job has no completed checkpoint;
// after one, the child resumes from its checkpoint directory.
func (s *State) Assignments(id string) []api.Assignment {
	var out []api.Assignment
	for _, j := range s.order {
		if !placedOn(j, id) || (j.State != api.Running && j.State != api.Stopping) {
			continue
		}
		a := api.Assignment{
			Job:           j.ID,
			Attempt:       j.Attempt,
			Name:          j.Name,
			Binary:        j.Binary,
			Args:          slices.Clone(j.Args),
			Slots:         j.slotsOn(id),
			CheckpointDir: j.CheckpointDir,
			SavepointDir:  j.SavepointDir,
			Stop:          j.State == api.Stopping,
		}
		// Until a checkpoint is known complete in the job's directory: a
		// checkpoint recorded here may never have become so (it is
		// reported before its metadata is written). After, the directory
		// alone (the savepoint directory may hold newer savepoints, of
		// another job, by then).
		if j.Complete == 0 {
			a.FromSavepoint = j.FromSavepoint
		}
		if len(j.Workers) > 1 {
			a.Process, a.Processes = processOf(j, id), len(j.Workers)
		}
		out = append(out, a)
	}
	return out
}

func cloneJob(j api.Job) api.Job {
	j.Args = slices.Clone(j.Args)
	j.Tasks = slices.Clone(j.Tasks)
	j.Workers = slices.Clone(j.Workers)
	if j.Checkpoint != nil {
		c := *j.Checkpoint
		j.Checkpoint = &c
	}
	return j
}

func cloneBinary(b api.Binary) api.Binary {
	b.Holders = slices.Clone(b.Holders)
	return b
}
