package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/coordinator/internal/blobs"
	"github.com/weirflow/weir/coordinator/state"
	"github.com/weirflow/weir/internal/msg"
)

// handleHealth is GET /v1/health: this node's view, with or without a
// leader.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := api.Health{
		ID:       s.cfg.ID,
		IsLeader: s.node.IsLeader(),
		Term:     s.node.Term(),
		Applied:  s.node.Applied(),
	}
	h.Leader, _ = s.node.Leader()
	var announced []api.Node
	s.fsm.read(func(st *state.State) { announced = st.Nodes() })
	// Every peer is listed; HTTP stays empty until it announced itself.
	byID := map[string]api.Node{}
	for _, p := range s.cfg.Peers {
		byID[p.ID] = api.Node{ID: p.ID, Raft: p.Addr}
	}
	for _, n := range announced {
		byID[n.ID] = n
	}
	for _, n := range byID {
		h.Nodes = append(h.Nodes, n)
	}
	slices.SortFunc(h.Nodes, func(a, b api.Node) int { return strings.Compare(a.ID, b.ID) })
	if h.Leader != "" {
		h.LeaderURL = byID[h.Leader].HTTP
		if h.Leader == s.cfg.ID {
			h.LeaderURL = s.url
		}
	}
	writeJSON(w, http.StatusOK, h)
}

// handleJobs is GET /v1/jobs.
func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	var jobs []api.Job
	s.fsm.read(func(st *state.State) {
		jobs = st.Jobs()
		for i := range jobs {
			explain(st, &jobs[i])
		}
	})
	writeJSON(w, http.StatusOK, jobs)
}

// explain sets the Reason of a queued job: why it waits.
func explain(st *state.State, j *api.Job) {
	if j.State == api.Queued && j.Reason == "" {
		j.Reason = state.Waiting(st, j.ID)
	}
}

// handleJob is GET /v1/jobs/{id}.
func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	j, err := s.job(r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

// job returns a job with its wait reason, or a 404 error.
func (s *Server) job(id string) (api.Job, error) {
	var (
		j  api.Job
		ok bool
	)
	s.fsm.read(func(st *state.State) {
		if j, ok = st.Job(id); ok {
			explain(st, &j)
		}
	})
	if !ok {
		return j, errorf(http.StatusNotFound, "no job %s", id)
	}
	return j, nil
}

// jobName is what a job name may be: it becomes part of the job id and of
// its directories.
var jobName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// clusterFlags are set by the worker on every child; a job's Args must not.
var clusterFlags = []string{"checkpoint-dir", "savepoint-dir", "from-savepoint", "progress"}

// handleSubmit is POST /v1/jobs: validate the job with its own binary,
// make its directories, record it.
func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var req api.SubmitRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, err)
		return
	}
	resp, err := s.submit(r.Context(), req)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) submit(ctx context.Context, req api.SubmitRequest) (api.SubmitResponse, error) {
	var out api.SubmitResponse
	if !blobs.IsSHA(req.Binary) {
		return out, errorf(http.StatusBadRequest, "binary %q is not a SHA-256 in lowercase hex: upload the binary first", req.Binary)
	}
	for _, a := range req.Args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && slices.Contains(clusterFlags, name) {
			if name == "from-savepoint" {
				return out, errorf(http.StatusBadRequest, "--from-savepoint is not a job flag on a cluster: give it to submit (SubmitRequest.FromSavepoint)")
			}
			return out, errorf(http.StatusBadRequest, "--%s is set by the cluster for each job: remove it from the job's flags", name)
		}
	}
	if req.Name != "" && !jobName.MatchString(req.Name) {
		return out, errorf(http.StatusBadRequest, "job name %q: use up to 100 letters, digits, '.', '_' and '-'", req.Name)
	}
	if req.FromSavepoint != "" {
		if !filepath.IsAbs(req.FromSavepoint) {
			return out, errorf(http.StatusBadRequest, "savepoint %s: give an absolute path every worker can reach", req.FromSavepoint)
		}
		if fi, err := os.Stat(req.FromSavepoint); err != nil || !fi.IsDir() {
			return out, errorf(http.StatusBadRequest, "savepoint %s is not a directory this coordinator can reach", req.FromSavepoint)
		}
	}
	// A retry of a submission already recorded (its answer was lost to a
	// leader change or a timeout): the same job, not a second one.
	var prev api.Job
	var retry bool
	s.fsm.read(func(st *state.State) { prev, retry = st.JobByRequest(req.RequestID) })
	if retry {
		out.ID = prev.ID
		return out, nil
	}
	if _, err := s.ensureBinary(ctx, req.Binary); err != nil {
		return out, err
	}
	vctx, cancel := context.WithTimeout(ctx, validateTimeout)
	v, err := s.cfg.validate(vctx, s.blobs.Path(req.Binary), req.Args)
	cancel()
	if err != nil {
		return out, errorf(http.StatusBadRequest, "%s", msg.Line(err))
	}
	name := req.Name
	if name == "" {
		name = v.Name
	}
	if !jobName.MatchString(name) {
		return out, errorf(http.StatusBadRequest, "job name %q (from the binary): give --name with up to 100 letters, digits, '.', '_' and '-'", name)
	}
	if v.Parallelism < 1 {
		return out, errorf(http.StatusBadRequest, "the binary reports parallelism %d: want 1 or more", v.Parallelism)
	}
	for try := 0; ; try++ {
		id, err := newJobID(name)
		if err != nil {
			return out, err
		}
		dir := filepath.Join(s.cfg.CheckpointRoot, id)
		j := api.Job{
			ID:            id,
			Name:          name,
			Binary:        req.Binary,
			Args:          slices.Clone(req.Args),
			FromSavepoint: req.FromSavepoint,
			Mode:          v.Mode,
			Parallelism:   v.Parallelism,
			CheckpointDir: filepath.Join(dir, "checkpoints"),
			SavepointDir:  filepath.Join(dir, "savepoints"),
		}
		if j.Args == nil {
			j.Args = []string{}
		}
		// Only a directory this call made is removed again: with an id
		// that collides, dir is another job's.
		_, serr := os.Stat(dir)
		made := errors.Is(serr, os.ErrNotExist)
		removeDir := func() {
			if made {
				os.RemoveAll(dir)
			}
		}
		for _, d := range []string{j.CheckpointDir, j.SavepointDir} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				removeDir()
				return out, fmt.Errorf("job directory: %w", err)
			}
		}
		res, err := s.apply(ctx, state.Command{Kind: state.SubmitJob, Job: &j, RequestID: req.RequestID})
		if errors.Is(err, state.ErrConflict) && try < 3 {
			removeDir()
			continue // the random id was taken
		}
		if err != nil {
			if refused(err) {
				removeDir()
			} // else the command may still commit (a leader change): keep its directories
			return out, err
		}
		if rj, ok := res.(api.Job); ok && rj.ID != id {
			// A retry of this submission was recorded meanwhile.
			removeDir()
			out.ID = rj.ID
			return out, nil
		}
		s.log.Printf("job %s submitted: binary %s, %s, parallelism %d", id, req.Binary[:12], j.Mode, j.Parallelism)
		out.ID = id
		return out, nil
	}
}

// refused reports whether the FSM refused a command: then it is known not
// to be in the log (an error of Raft may still commit).
func refused(err error) bool {
	return errors.Is(err, state.ErrConflict) || errors.Is(err, state.ErrInvalid) ||
		errors.Is(err, state.ErrNotFound) || errors.Is(err, state.ErrStale)
}

// newJobID is "<name>-<8 hex>".
func newJobID(name string) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("job id: %w", err)
	}
	return name + "-" + hex.EncodeToString(b[:]), nil
}

// handleCancel is POST /v1/jobs/{id}/cancel.
func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	s.jobCommand(w, r, state.Command{Kind: state.CancelJob, JobID: r.PathValue("id")}, "cancel")
}

// handleSavepoint is POST /v1/jobs/{id}/savepoint: a stop with savepoint,
// or a savepoint the running job takes with its next checkpoint.
func (s *Server) handleSavepoint(w http.ResponseWriter, r *http.Request) {
	var req api.SavepointRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, err)
		return
	}
	if !req.Stop {
		s.jobCommand(w, r, state.Command{Kind: state.RequestSavepoint, JobID: r.PathValue("id")}, "savepoint")
		return
	}
	s.jobCommand(w, r, state.Command{Kind: state.StopJob, JobID: r.PathValue("id")}, "stop with savepoint")
}

// jobCommand applies a command on one job and answers the job after it.
func (s *Server) jobCommand(w http.ResponseWriter, r *http.Request, c state.Command, what string) {
	if _, err := s.job(c.JobID); err != nil {
		s.fail(w, err)
		return
	}
	res, err := s.apply(r.Context(), c)
	if err != nil {
		s.fail(w, err)
		return
	}
	j, ok := res.(api.Job)
	if !ok {
		if j, err = s.job(c.JobID); err != nil {
			s.fail(w, err)
			return
		}
	}
	s.log.Printf("job %s: %s requested: now %s", j.ID, what, j.State)
	writeJSON(w, http.StatusOK, j)
}

// handleCheckpoint is POST /v1/jobs/{id}/checkpoints: a job's attempt
// asks to complete a checkpoint; 200 once it is in the Raft log, 409 when
// the attempt is stale.
func (s *Server) handleCheckpoint(w http.ResponseWriter, r *http.Request) {
	var req api.CheckpointRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, err)
		return
	}
	id := r.PathValue("id")
	if _, err := s.job(id); err != nil {
		s.fail(w, err)
		return
	}
	res, err := s.apply(r.Context(), state.Command{Kind: state.CompleteCheckpoint, JobID: id, Attempt: req.Attempt, Checkpoint: &req})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// handleLogs is GET /v1/jobs/{id}/logs: the log of the job's current or
// last attempt, read from the worker that ran it.
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	j, err := s.job(r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if j.Attempt == 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("job %s has not run yet: no log", j.ID))
		return
	}
	// The worker of the current attempt, then the one this node last placed
	// the job on, then every other worker (after a failover the new leader
	// does not know where an ended job ran).
	var order []string
	if j.Worker != "" {
		order = append(order, j.Worker)
	}
	s.mu.Lock()
	if id := s.mu.lastWorker[j.ID]; id != "" {
		order = append(order, id)
	}
	s.mu.Unlock()
	urls := map[string]string{}
	s.fsm.read(func(st *state.State) {
		for _, wk := range st.Workers() {
			urls[wk.ID] = wk.URL
			order = append(order, wk.ID)
		}
	})
	tried := map[string]bool{}
	var last error
	for _, id := range order {
		if tried[id] || urls[id] == "" {
			continue
		}
		tried[id] = true
		resp, err := s.callAs(r.Context(), api.LogToken(s.cfg.Token), http.MethodGet, strings.TrimRight(urls[id], "/")+"/"+api.Version+"/logs/"+url.PathEscape(j.ID), nil, 0)
		if err != nil {
			last = err
			continue
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		copyFlush(w, resp.Body)
		resp.Body.Close()
		return
	}
	m := fmt.Sprintf("no log of job %s: no worker has it", j.ID)
	if last != nil {
		m += " (last: " + msg.Line(last) + ")"
	}
	writeError(w, http.StatusNotFound, m)
}

// copyFlush copies a streamed body, flushing as it goes.
func copyFlush(w http.ResponseWriter, r io.Reader) {
	f, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if f != nil {
				f.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

// handleWorkers is GET /v1/workers.
func (s *Server) handleWorkers(w http.ResponseWriter, r *http.Request) {
	var ws []api.Worker
	s.fsm.read(func(st *state.State) { ws = st.Workers() })
	s.mu.Lock()
	for i := range ws {
		ws[i].LastSeen = s.mu.lastSeen[ws[i].ID]
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, ws)
}

// handleRegister is POST /v1/workers/register.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var req api.RegisterRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, err)
		return
	}
	if !jobName.MatchString(req.ID) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("worker id %q: use up to 100 letters, digits, '.', '_' and '-'", req.ID))
		return
	}
	if u, err := url.Parse(req.URL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("worker %s: URL %q: want http://HOST:PORT", req.ID, req.URL))
		return
	}
	if req.Slots < 1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("worker %s offers %d slots: want 1 or more", req.ID, req.Slots))
		return
	}
	if _, err := s.apply(r.Context(), state.Command{Kind: state.RegisterWorker, Worker: &req}); err != nil {
		s.fail(w, err)
		return
	}
	s.seen(req.ID)
	s.log.Printf("worker %s registered: %s, %d slots", req.ID, req.URL, req.Slots)
	writeJSON(w, http.StatusOK, api.RegisterResponse{HeartbeatMillis: heartbeatMillis, LeaseMillis: leaseMillis})
}

// seen records a sign of life of a worker.
func (s *Server) seen(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.detector.Heartbeat(id)
	s.mu.lastSeen[id] = time.Now()
}

// handleHeartbeat is POST /v1/workers/{id}/heartbeat: record the exits,
// answer what the worker must run.
func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req api.HeartbeatRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, err)
		return
	}
	var alive, replaced bool
	s.fsm.read(func(st *state.State) { alive, replaced = st.WorkerAlive(id, req.Incarnation) })
	s.mu.Lock()
	alive = alive && !s.mu.dying[id]
	s.mu.Unlock()
	if replaced {
		s.log.Printf("worker %s: a heartbeat of a process it replaced: that process stops", id)
		writeJSON(w, http.StatusOK, api.HeartbeatResponse{Assignments: []api.Assignment{}, Unknown: true, Replaced: true})
		return
	}
	if !alive {
		// Unknown, declared dead, or replaced by another process with its
		// id: its jobs went elsewhere; it kills what it runs and
		// registers again.
		writeJSON(w, http.StatusOK, api.HeartbeatResponse{Assignments: []api.Assignment{}, Unknown: true})
		return
	}
	s.seen(id)
	resp := api.HeartbeatResponse{}
	for _, e := range req.Exited {
		ex := e
		res, err := s.apply(r.Context(), state.Command{Kind: state.JobExited, WorkerID: id, JobID: e.Job, Attempt: e.Attempt, Exit: &ex})
		switch {
		case err == nil:
			if j, ok := res.(api.Job); ok {
				s.log.Printf("job %s attempt %d exited on worker %s with code %d: now %s%s", e.Job, e.Attempt, id, e.Code, j.State, reasonSuffix(j))
			}
		case errors.Is(err, state.ErrStale), errors.Is(err, state.ErrNotFound):
			// Already recorded, or an attempt the log has moved past.
		default:
			s.fail(w, err)
			return
		}
		resp.Acked = append(resp.Acked, api.Attempt{Job: e.Job, Attempt: e.Attempt})
	}
	s.fsm.read(func(st *state.State) {
		if alive, _ = st.WorkerAlive(id, req.Incarnation); alive {
			resp.Assignments = st.Assignments(id)
		}
	})
	s.mu.Lock()
	alive = alive && !s.mu.dying[id]
	s.mu.Unlock()
	if !alive {
		// Declared dead while this heartbeat was handled: its jobs go
		// elsewhere.
		writeJSON(w, http.StatusOK, api.HeartbeatResponse{Assignments: []api.Assignment{}, Acked: resp.Acked, Unknown: true})
		return
	}
	if resp.Assignments == nil {
		resp.Assignments = []api.Assignment{}
	}
	writeJSON(w, http.StatusOK, resp)
}

func reasonSuffix(j api.Job) string {
	if j.Reason == "" {
		return ""
	}
	return " (" + j.Reason + ")"
}

// handleAnnounce is POST /v1/internal/nodes: a coordinator announces its
// HTTP URL through the leader.
func (s *Server) handleAnnounce(w http.ResponseWriter, r *http.Request) {
	var n api.Node
	if err := decode(w, r, &n); err != nil {
		s.fail(w, err)
		return
	}
	if n.ID == "" || n.HTTP == "" {
		writeError(w, http.StatusBadRequest, "announce: want a node id and its HTTP URL")
		return
	}
	res, err := s.apply(r.Context(), state.Command{Kind: state.SetNode, Node: &n})
	if err != nil {
		s.fail(w, err)
		return
	}
	s.log.Printf("coordinator %s announced %s", n.ID, n.HTTP)
	writeJSON(w, http.StatusOK, res)
}

// peerTable is where the processes of one attempt of a job spread over
// workers listen: the leader's memory, not replicated. A process repeats
// its address in every request, so a new leader learns the table again.
type peerTable struct {
	attempt uint64
	addrs   []string
}

// handlePeers is POST /v1/jobs/{id}/peers: the rendezvous of the
// processes of a job's attempt (docs/api.md). 409 for an attempt that is
// not the job's current one, or a job not spread over workers.
func (s *Server) handlePeers(w http.ResponseWriter, r *http.Request) {
	var req api.PeersRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, err)
		return
	}
	j, err := s.job(r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	switch {
	case req.Attempt != j.Attempt || (j.State != api.Running && j.State != api.Stopping):
		s.fail(w, errorf(http.StatusConflict, "job %s is %s at attempt %d: attempt %d is stale", j.ID, j.State, j.Attempt, req.Attempt))
		return
	case len(j.Workers) < 2:
		s.fail(w, errorf(http.StatusConflict, "job %s runs in one process: it has no peers", j.ID))
		return
	case req.Process < 0 || req.Process >= len(j.Workers):
		s.fail(w, errorf(http.StatusBadRequest, "job %s has %d processes: no process %d", j.ID, len(j.Workers), req.Process))
		return
	case req.Addr == "":
		s.fail(w, errorf(http.StatusBadRequest, "a peers request without an address"))
		return
	}
	s.mu.Lock()
	t := s.mu.peers[j.ID]
	if t == nil || t.attempt != j.Attempt {
		t = &peerTable{attempt: j.Attempt, addrs: make([]string, len(j.Workers))}
		s.mu.peers[j.ID] = t
	}
	t.addrs[req.Process] = req.Addr
	out := api.PeersResponse{Peers: slices.Clone(t.addrs)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
