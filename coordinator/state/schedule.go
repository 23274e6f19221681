package state

import (
	"fmt"
	"slices"
	"strings"

	"github.com/weirflow/weir/coordinator/api"
)

// Schedule returns the assign commands that place the queued and
// restarting jobs, each with its attempt (the job's + 1), in job order
// (Submitted, then ID). Time is left for the leader to set. A job goes
// whole to one alive worker when one has Parallelism free slots, the best
// fit (the fewest free slots that are enough, then the lowest ID): its
// tasks then pass batches by pointer. Otherwise its tasks spread over the
// fewest workers that can hold them, one process each (task k on process
// k·n/Parallelism, [Shares]), the workers with the most free slots first.
// A job that fits nowhere is skipped and later jobs are still placed;
// [Waiting] says why it waits. Schedule does not change s.
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
		for _, sl := range alive {
			sl.free -= j.slotsOn(sl.id)
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
		if best != nil {
			best.free -= j.Parallelism
			cmds = append(cmds, Command{Kind: Assign, JobID: j.ID, WorkerID: best.id, Attempt: j.Attempt + 1})
			continue
		}
		spread := spreadOver(j.Parallelism, alive)
		if spread == nil {
			if j.ID == explain {
				return cmds, waitReason(j.Parallelism, alive)
			}
			continue
		}
		ids := make([]string, len(spread))
		shares := Shares(j.Parallelism, len(spread))
		for p, sl := range spread {
			sl.free -= shares[p]
			ids[p] = sl.id
		}
		cmds = append(cmds, Command{Kind: Assign, JobID: j.ID, WorkerID: ids[0], WorkerIDs: ids, Attempt: j.Attempt + 1})
	}
	return cmds, ""
}

// spreadOver returns the fewest workers that can hold par tasks spread
// over them, by process index, or nil: the n with the most free slots
// (then the lowest ID), the largest shares on the freest.
func spreadOver(par int, alive []*slot) []*slot {
	byFree := slices.Clone(alive)
	slices.SortStableFunc(byFree, func(a, b *slot) int { return b.free - a.free }) // alive is sorted by ID
	for n := 2; n <= min(par, len(byFree)); n++ {
		shares := Shares(par, n)
		// Processes by share, largest first (shares differ by one at
		// most and do not come in order: Shares(7, 5) is 2 1 2 1 1).
		procs := make([]int, n)
		for p := range procs {
			procs[p] = p
		}
		slices.SortStableFunc(procs, func(a, b int) int { return shares[b] - shares[a] })
		out := make([]*slot, n)
		ok := true
		for i, p := range procs {
			if byFree[i].free < shares[p] {
				ok = false
				break
			}
			out[p] = byFree[i]
		}
		if ok {
			return out
		}
	}
	return nil
}

// slot is a worker's capacity during a round.
type slot struct {
	id          string
	slots, free int
}

func waitReason(need int, alive []*slot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "needs %d slot%s; ", need, plural(need))
	if len(alive) == 0 {
		b.WriteString("no worker is alive")
		return b.String()
	}
	free := 0
	for _, w := range alive {
		free += max(w.free, 0)
	}
	fmt.Fprintf(&b, "%d free on %d alive worker%s", free, len(alive), plural(len(alive)))
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
