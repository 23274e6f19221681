package state

import (
	"fmt"
	"strings"

	"github.com/weirflow/weir/coordinator/api"
)

// Schedule returns the assign commands that place the queued and
// restarting jobs, each with its attempt (the job's + 1), in job order
// (Submitted, then ID). Time is left for the leader to set. Placement is
// whole-job: all Parallelism slots on one alive worker, the best fit
// (the fewest free slots that are enough, then the lowest ID). A job that
// fits nowhere is skipped and later jobs are still placed; [Waiting] says
// why it waits. Schedule does not change s.
func Schedule(s *State) []Command {
	cmds, _ := plan(s, "")
	return cmds
}

// Waiting returns why a queued or restarting job is not placed by
// [Schedule] now, or "" when it is placed, or is in another state, or is
// unknown.
func Waiting(s *State, jobID string) string {
	_, why := plan(s, jobID)
	return why
}

// plan runs one scheduling round over a copy of the free slots; when
// explain names a job it also returns why that job stays unplaced.
func plan(s *State, explain string) (cmds []Command, why string) {
	var alive []*slot
	byID := map[string]*slot{}
	for _, id := range sortedKeys(s.workers) {
		if w := s.workers[id]; w.Alive {
			sl := &slot{id: id, slots: w.Slots, free: w.Slots}
			alive = append(alive, sl)
			byID[id] = sl
		}
	}
	for _, j := range s.order {
		if sl := byID[j.Worker]; sl != nil {
			sl.free -= j.Parallelism
		}
	}
	for _, j := range s.order {
		if j.State != api.Queued && j.State != api.Restarting {
			continue
		}
		var best *slot
		for _, sl := range alive {
			if sl.free >= j.Parallelism && (best == nil || sl.free < best.free) {
				best = sl
			}
		}
		if best == nil {
			if j.ID == explain {
				return cmds, waitReason(j.Parallelism, alive)
			}
			continue
		}
		best.free -= j.Parallelism
		cmds = append(cmds, Command{Kind: Assign, JobID: j.ID, WorkerID: best.id, Attempt: j.Attempt + 1})
	}
	return cmds, ""
}

// slot is a worker's capacity during a round.
type slot struct {
	id          string
	slots, free int
}

func waitReason(need int, alive []*slot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "needs %d slot%s on one worker; ", need, plural(need))
	if len(alive) == 0 {
		b.WriteString("no worker is alive")
		return b.String()
	}
	largest, biggest := 0, 0
	for _, w := range alive {
		largest = max(largest, w.free)
		biggest = max(biggest, w.slots)
	}
	fmt.Fprintf(&b, "the largest free is %d (%d alive worker%s)", max(largest, 0), len(alive), plural(len(alive)))
	if biggest < need {
		b.WriteString("; tasks are not yet spread over workers")
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
