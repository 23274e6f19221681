package state

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/weirflow/weir/coordinator/api"
)

// spread is an assign command that spreads job over workers.
func spread(job string, attempt uint64, workers ...string) Command {
	return Command{Kind: Assign, JobID: job, WorkerID: workers[0], WorkerIDs: workers, Attempt: attempt}
}

func TestSchedule(t *testing.T) {
	tests := []struct {
		name string
		cmds []Command
		want []Command
		why  map[string]string // Waiting per job
	}{
		{"nothing to do", []Command{bin(), reg("w1", 2)}, nil, nil},
		{"no worker", []Command{bin(), sub("j1", 1, 1)}, nil,
			map[string]string{"j1": "needs 1 slot; no worker is alive"}},
		{"fifo by submitted", []Command{bin(), reg("w1", 2), sub("b", 2, 2), sub("a", 2, 3), sub("c", 2, 1)},
			[]Command{asg("c", "w1", 1)},
			map[string]string{"c": "", "b": "needs 2 slots; 0 free on 1 alive worker",
				"a": "needs 2 slots; 0 free on 1 alive worker"}},
		{"same time: by id", []Command{bin(), reg("w1", 1), sub("b", 1, 1), sub("a", 1, 1)},
			[]Command{asg("a", "w1", 1)}, nil},
		{"best fit", []Command{bin(), reg("w1", 8), reg("w2", 3), reg("w3", 2), reg("w4", 3), sub("j1", 3, 1), sub("j2", 2, 2), sub("j3", 4, 3)},
			[]Command{asg("j1", "w2", 1), asg("j2", "w3", 1), asg("j3", "w1", 1)}, nil},
		{"used slots count", []Command{bin(), reg("w1", 4), reg("w2", 3), sub("j1", 2, 1), asg("j1", "w1", 1), sub("j2", 2, 2)},
			[]Command{asg("j2", "w1", 1)}, nil},
		{"dead workers are skipped", []Command{bin(), reg("w1", 4), reg("w2", 4), dead("w1"), sub("j1", 4, 1)},
			[]Command{asg("j1", "w2", 1)}, nil},
		{"restarting job, next attempt", seq(running, []Command{exit("j1", "w1", 1, 1, false)}),
			[]Command{asg("j1", "w1", 2)}, nil},
		{"a job of 4 spreads over two workers of 2", []Command{bin(), reg("w1", 2), reg("w2", 2), sub("big", 4, 1), sub("small", 1, 2)},
			[]Command{spread("big", 1, "w1", "w2")},
			map[string]string{"big": "", "small": "needs 1 slot; 0 free on 2 alive workers"}},
		{"spread over the fewest, freest workers", []Command{bin(), reg("w1", 2), reg("w2", 3), reg("w3", 3), reg("w4", 1), sub("j", 7, 1)},
			[]Command{spread("j", 1, "w2", "w3", "w1")}, nil},
		{"uneven shares: the larger on the freer", []Command{bin(), reg("w1", 2), reg("w2", 3), sub("j", 5, 1)},
			[]Command{spread("j", 1, "w2", "w1")}, nil},
		{"shares out of order: 7 over 2 2 1 1 1", []Command{bin(), reg("w1", 1), reg("w2", 2), reg("w3", 1), reg("w4", 2), reg("w5", 1), sub("j", 7, 1)},
			[]Command{spread("j", 1, "w2", "w1", "w4", "w3", "w5")}, nil},
		{"spread jobs hold their shares", []Command{bin(), reg("w1", 2), reg("w2", 2), reg("w3", 2), sub("a", 4, 1), spread("a", 1, "w1", "w2"), sub("b", 3, 2)},
			nil, map[string]string{"b": "needs 3 slots; 2 free on 3 alive workers"}},
		{"not enough slots in all", []Command{bin(), reg("w1", 2), reg("w2", 1), sub("j", 4, 1)}, nil,
			map[string]string{"j": "needs 4 slots; 3 free on 2 alive workers"}},
		{"busy, not too small", []Command{bin(), reg("w1", 4), sub("j1", 3, 1), asg("j1", "w1", 1), sub("j2", 2, 2)}, nil,
			map[string]string{"j2": "needs 2 slots; 1 free on 1 alive worker", "j1": ""}},
		{"taken by an earlier job this round", []Command{bin(), reg("w1", 2), sub("j1", 2, 1), sub("j2", 2, 2)},
			[]Command{asg("j1", "w1", 1)},
			map[string]string{"j2": "needs 2 slots; 0 free on 1 alive worker"}},
		{"final and running jobs are left alone", seq(finished, []Command{sub("j2", 1, 2), asg("j2", "w1", 1)}), nil,
			map[string]string{"j1": "", "j2": "", "unknown": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := build(t, tt.cmds...)
			before, _ := s.Snapshot()
			got := Schedule(s)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Schedule = %+v\nwant %+v", got, tt.want)
			}
			for id, want := range tt.why {
				if got := Waiting(s, id); got != want {
					t.Errorf("Waiting(%s) = %q, want %q", id, got, want)
				}
			}
			after, _ := s.Snapshot()
			if string(before) != string(after) {
				t.Error("Schedule changed the state")
			}
			// Every command applies, in order, and then nothing is left.
			for _, c := range got {
				if _, err := s.Apply(c); err != nil {
					t.Fatalf("apply %+v: %v", c, err)
				}
			}
			if again := Schedule(s); again != nil {
				t.Errorf("after applying, Schedule = %+v", again)
			}
		})
	}
}

// BenchmarkSchedule is one pass of the scheduler on a cluster of 200
// workers of 8 slots with 190 queued jobs of 8 tasks (all placed), and
// the same pass once they are placed (nothing to do: what the leader pays
// every 100 ms).
//
//	go test -run=NONE -bench=Schedule ./coordinator/state
func BenchmarkSchedule(b *testing.B) {
	s := New()
	if _, err := s.Apply(bin()); err != nil {
		b.Fatal(err)
	}
	for i := range 200 {
		if _, err := s.Apply(reg(fmt.Sprintf("w%03d", i), 8)); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 190 {
		if _, err := s.Apply(sub(fmt.Sprintf("j%03d", i), 8, i)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("190 queued", func(b *testing.B) {
		for range b.N {
			if cmds := Schedule(s); len(cmds) != 190 {
				b.Fatalf("%d assigns", len(cmds))
			}
		}
	})
	for _, c := range Schedule(s) {
		if _, err := s.Apply(c); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("all placed", func(b *testing.B) {
		for range b.N {
			if cmds := Schedule(s); len(cmds) != 0 {
				b.Fatalf("%d assigns", len(cmds))
			}
		}
	})
	b.Run("assignments of a worker", func(b *testing.B) {
		for range b.N {
			if a := s.Assignments("w100"); len(a) != 1 {
				b.Fatalf("%d assignments", len(a))
			}
		}
	})
}

// A job spread over workers: each worker is assigned its process and its
// share of slots; the master's exit decides, another's failure restarts
// the job, and the loss of any of its workers restarts it.
func TestSpreadJob(t *testing.T) {
	placed := []Command{bin(), reg("w1", 2), reg("w2", 2), reg("w3", 2), sub("j", 3, 1), spread("j", 1, "w2", "w1")}
	t.Run("assignments", func(t *testing.T) {
		s := build(t, placed...)
		for _, tc := range []struct {
			w                      string
			slots, proc, processes int
		}{{"w2", 2, 0, 2}, {"w1", 1, 1, 2}} {
			a := s.Assignments(tc.w)
			if len(a) != 1 || a[0].Slots != tc.slots || a[0].Process != tc.proc || a[0].Processes != tc.processes {
				t.Errorf("Assignments(%s) = %+v, want slots %d, process %d of %d", tc.w, a, tc.slots, tc.proc, tc.processes)
			}
		}
		if a := s.Assignments("w3"); len(a) != 0 {
			t.Errorf("Assignments(w3) = %+v", a)
		}
		j, _ := s.Job("j")
		if j.Worker != "w2" || !reflect.DeepEqual(j.Workers, []string{"w2", "w1"}) || j.Tasks[0].Worker != "w2" || j.Tasks[2].Worker != "w1" {
			t.Errorf("job placed as %+v", j)
		}
		ws := s.Workers()
		if ws[0].Used != 1 || ws[1].Used != 2 || ws[2].Used != 0 {
			t.Errorf("used slots %d %d %d, want 1 2 0", ws[0].Used, ws[1].Used, ws[2].Used)
		}
	})
	for _, tc := range []struct {
		name  string
		cmds  []Command
		state api.JobState
	}{
		{"another process ends first: still running", []Command{exit("j", "w1", 1, 0, false)}, api.Running},
		{"then the master: finished", []Command{exit("j", "w1", 1, 0, false), exit("j", "w2", 1, 0, false)}, api.Finished},
		{"another process fails: restart", []Command{exit("j", "w1", 1, 1, false)}, api.Restarting},
		{"another process's bad command line: failed", []Command{exit("j", "w1", 1, 2, false)}, api.Failed},
		{"a worker of the job lost: restart", []Command{dead("w1")}, api.Restarting},
		{"a worker not of the job lost: running", []Command{dead("w3")}, api.Running},
		{"cancelled by any exit", []Command{cancel("j"), exit("j", "w1", 1, -1, false)}, api.Cancelled},
		{"stopped by the master's exit", []Command{ckpt("j", 1, 1, 2), stop("j"), exit("j", "w1", 1, 0, false), exit("j", "w2", 1, 0, false)}, api.Stopped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := build(t, seq(placed, tc.cmds)...)
			j, _ := s.Job("j")
			if j.State != tc.state {
				t.Fatalf("state %s (%s), want %s", j.State, j.Reason, tc.state)
			}
			if tc.state == api.Restarting && !strings.Contains(j.Reason, "w1") {
				t.Errorf("reason %q does not name the worker", j.Reason)
			}
			if tc.state != api.Running && (j.Worker != "" || j.Workers != nil) {
				t.Errorf("still placed on %s %v", j.Worker, j.Workers)
			}
		})
	}
	// A restart spreads again over what is left.
	s := build(t, seq(placed, []Command{dead("w1")})...)
	if got := Schedule(s); len(got) != 1 || !reflect.DeepEqual(got[0].WorkerIDs, []string{"w2", "w3"}) && !reflect.DeepEqual(got[0].WorkerIDs, []string{"w3", "w2"}) {
		t.Errorf("after the loss: %+v", got)
	}
}
