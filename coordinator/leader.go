package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/coordinator/internal/raftnode"
	"github.com/weirflow/weir/coordinator/state"
	"github.com/weirflow/weir/internal/msg"
)

// run is the node's one loop, every tickInterval: while the node leads,
// the failure detector and the scheduler; on every node, the announcement
// of its HTTP URL until the replicated state has it.
func (s *Server) run() {
	defer s.wg.Done()
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	leading := false
	var term uint64  // of the lead
	var ticks uint64 // as leader
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		switch is := s.node.IsLeader(); {
		case is && (!leading || s.node.Term() != term):
			// Elected, or elected again in a later term between two ticks.
			term = s.node.Term()
			leading = s.lead()
			s.leading.Store(leading)
		case !is && leading:
			leading = false
			s.leading.Store(false)
			s.log.Printf("no longer the leader")
		}
		if leading {
			s.tick()
			if ticks++; ticks%sweepTicks == 1 {
				s.sweepBinaries(time.Now())
			}
		}
		s.announce()
	}
}

// lead starts a term as leader: every entry of earlier terms is applied
// first (Barrier), and every worker gets a full timeout.
func (s *Server) lead() bool {
	ctx, cancel := context.WithTimeout(s.ctx, applyTimeout)
	defer cancel()
	if err := s.node.Barrier(ctx); err != nil {
		if s.ctx.Err() == nil {
			s.log.Printf("leader, but the barrier failed: %s", msg.Line(err))
		}
		return false
	}
	s.mu.Lock()
	s.mu.detector.Reset()
	s.mu.Unlock()
	s.log.Printf("leader elected: %s (term %d)", s.cfg.ID, s.node.Term())
	return true
}

// tick declares the workers that missed their heartbeats dead, then
// places the jobs that wait.
func (s *Server) tick() {
	var alive []string
	s.fsm.read(func(st *state.State) {
		for _, w := range st.Workers() {
			if w.Alive {
				alive = append(alive, w.ID)
			}
		}
	})
	s.mu.Lock()
	ticked := time.Now()
	dead := s.mu.detector.Tick(alive)
	s.mu.Unlock()
	reason := fmt.Sprintf("no heartbeat for %v", deadTicks*tickInterval)
	for _, id := range dead {
		s.mu.Lock()
		late := s.mu.lastSeen[id].After(ticked)
		if !late {
			// From now until the command is applied, its heartbeats are
			// answered Unknown: none may renew its lease or take back
			// jobs about to go elsewhere.
			s.mu.dying[id] = true
		}
		s.mu.Unlock()
		if late {
			continue // its heartbeat arrived since the tick: alive after all
		}
		_, err := s.apply(s.ctx, state.Command{Kind: state.WorkerDead, WorkerID: id, Reason: reason})
		s.mu.Lock()
		delete(s.mu.dying, id)
		s.mu.Unlock()
		if err != nil {
			s.logApply("worker "+id+" dead", err)
			return
		}
		s.log.Printf("worker %s dead: %s", id, reason)
	}
	var cmds []state.Command
	s.fsm.read(func(st *state.State) { cmds = state.Schedule(st) })
	for _, c := range cmds {
		if _, err := s.apply(s.ctx, c); err != nil {
			s.logApply("assign job "+c.JobID, err)
			if errors.Is(err, raftnode.ErrNotLeader) {
				return
			}
			continue
		}
		s.mu.Lock()
		s.mu.lastWorker[c.JobID] = c.WorkerID
		s.mu.Unlock()
		j, _ := s.job(c.JobID)
		if len(c.WorkerIDs) > 1 {
			s.log.Printf("job %s attempt %d assigned to worker %s, spread over workers %s (%d slots)", c.JobID, c.Attempt, c.WorkerID, strings.Join(c.WorkerIDs, ", "), j.Parallelism)
		} else {
			s.log.Printf("job %s attempt %d assigned to worker %s (%d slots)", c.JobID, c.Attempt, c.WorkerID, j.Parallelism)
		}
	}
}

// logApply logs a failed command of the loop, unless the node is closing
// or lost the lead (the loop notices on its next tick).
func (s *Server) logApply(what string, err error) {
	if s.ctx.Err() != nil || errors.Is(err, raftnode.ErrNotLeader) {
		return
	}
	s.log.Printf("%s: %s", what, msg.Line(err))
}

// announce records this node's HTTP URL in the replicated state: directly
// on the leader, through the leader elsewhere. It does nothing once the
// state has it.
func (s *Server) announce() {
	self := api.Node{ID: s.cfg.ID, Raft: s.cfg.RaftAddr, HTTP: s.url}
	done := false
	s.fsm.read(func(st *state.State) {
		for _, n := range st.Nodes() {
			if n == self {
				done = true
			}
		}
	})
	if done {
		return
	}
	if s.node.IsLeader() {
		if _, err := s.apply(s.ctx, state.Command{Kind: state.SetNode, Node: &self}); err != nil {
			s.logApply("announce", err)
			return
		}
		s.log.Printf("announced %s", s.url)
		return
	}
	leader := s.leaderURL()
	if leader == "" {
		return // no leader yet, or it has not announced itself yet
	}
	b, _ := json.Marshal(self)
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	resp, err := s.call(ctx, http.MethodPost, leader+"/"+api.Version+"/internal/nodes", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return // tried again next tick
	}
	resp.Body.Close()
}
