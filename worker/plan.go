package worker

import (
	"cmp"
	"slices"

	"github.com/weirflow/weir/coordinator/api"
)

// Phase is where a child is in its life.
type Phase int

// The phases of a child.
const (
	// Launching: its binary is being fetched and verified; no process yet.
	Launching Phase = iota
	// Running: its process runs.
	Running
	// Exited: its process ended (or never started); its exit is reported
	// until the coordinator acknowledges it.
	Exited
)

func (p Phase) String() string {
	switch p {
	case Launching:
		return "launching"
	case Running:
		return "running"
	case Exited:
		return "exited"
	}
	return "phase?"
}

// Child is what [Plan] needs to know of one child: one attempt of a job
// that this worker started.
type Child struct {
	Job     string
	Attempt uint64
	Phase   Phase
	Termed  bool // SIGTERM sent
	Killed  bool // SIGKILL sent (or its launch cancelled)
	Acked   bool // Exited, and the coordinator acknowledged the exit
}

// ActionKind says what to do with a child.
type ActionKind int

// The actions of a [Plan].
const (
	// Start launches the assignment: fetch its binary, verify it, exec.
	Start ActionKind = iota
	// Term sends SIGTERM once: the job writes a savepoint and exits 0.
	Term
	// Kill sends SIGKILL (or cancels a launch): the attempt is no longer
	// assigned to this worker.
	Kill
	// Forget drops an exited child whose exit was acknowledged and which
	// is no longer assigned.
	Forget
)

func (k ActionKind) String() string {
	switch k {
	case Start:
		return "start"
	case Term:
		return "term"
	case Kill:
		return "kill"
	case Forget:
		return "forget"
	}
	return "action?"
}

// Action is one step of a [Plan]. Assignment is set for Start.
type Action struct {
	Kind       ActionKind
	Job        string
	Attempt    uint64
	Assignment api.Assignment
}

// key names one attempt of a job.
type key struct {
	job     string
	attempt uint64
}

// Plan is the worker's decision, a pure function: given what the leader
// assigns and the children this worker has, what to start, terminate,
// kill and forget. The actions come sorted by job, then attempt.
//
//   - An assignment with no child: Start (also when Stop is set: the job
//     then starts and is terminated once it runs, which writes its
//     savepoint), once no other attempt of the same job is alive here: two
//     attempts of one job never run at once on a worker.
//   - An assigned Running child with Stop set, not yet terminated or
//     killed: Term. A Launching one waits until it runs.
//   - A Launching or Running child that is not assigned and not yet
//     killed: Kill.
//   - An Exited child is never started again under the same attempt; once
//     its exit is acknowledged and it is no longer assigned: Forget.
func Plan(assigned []api.Assignment, children []Child) []Action {
	have := make(map[key]Child, len(children))
	alive := map[string]bool{} // jobs with an attempt not yet exited
	for _, c := range children {
		have[key{c.Job, c.Attempt}] = c
		alive[c.Job] = alive[c.Job] || c.Phase != Exited
	}
	want := make(map[key]bool, len(assigned))
	var out []Action
	for _, a := range assigned {
		k := key{a.Job, a.Attempt}
		if want[k] {
			continue // listed twice: act once
		}
		want[k] = true
		c, ok := have[k]
		switch {
		case !ok && alive[a.Job]:
			// An older attempt is still alive: it is killed below; start
			// this one after its exit.
		case !ok:
			out = append(out, Action{Kind: Start, Job: a.Job, Attempt: a.Attempt, Assignment: a})
		case a.Stop && c.Phase == Running && !c.Termed && !c.Killed:
			out = append(out, Action{Kind: Term, Job: a.Job, Attempt: a.Attempt})
		}
	}
	for _, c := range children {
		if want[key{c.Job, c.Attempt}] {
			continue
		}
		switch {
		case c.Phase != Exited && !c.Killed:
			out = append(out, Action{Kind: Kill, Job: c.Job, Attempt: c.Attempt})
		case c.Phase == Exited && c.Acked:
			out = append(out, Action{Kind: Forget, Job: c.Job, Attempt: c.Attempt})
		}
	}
	slices.SortStableFunc(out, func(x, y Action) int {
		return cmp.Or(cmp.Compare(x.Job, y.Job), cmp.Compare(x.Attempt, y.Attempt), cmp.Compare(x.Kind, y.Kind))
	})
	return out
}
