package state

import (
	"fmt"
	"reflect"
	"testing"
)

func TestSchedule(t *testing.T) {
	tests := []struct {
		name string
		cmds []Command
		want []Command
		why  map[string]string // Waiting per job
	}{
		{"nothing to do", []Command{bin(), reg("w1", 2)}, nil, nil},
		{"no worker", []Command{bin(), sub("j1", 1, 1)}, nil,
			map[string]string{"j1": "needs 1 slot on one worker; no worker is alive"}},
		{"fifo by submitted", []Command{bin(), reg("w1", 2), sub("b", 2, 2), sub("a", 2, 3), sub("c", 2, 1)},
			[]Command{asg("c", "w1", 1)},
			map[string]string{"c": "", "b": "needs 2 slots on one worker; the largest free is 0 (1 alive worker)",
				"a": "needs 2 slots on one worker; the largest free is 0 (1 alive worker)"}},
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
		{"a job of 4 on two workers of 2 waits", []Command{bin(), reg("w1", 2), reg("w2", 2), sub("big", 4, 1), sub("small", 1, 2)},
			[]Command{asg("small", "w1", 1)},
			map[string]string{
				"big":   "needs 4 slots on one worker; the largest free is 2 (2 alive workers); tasks are not yet spread over workers",
				"small": "",
			}},
		{"busy, not too small", []Command{bin(), reg("w1", 4), sub("j1", 3, 1), asg("j1", "w1", 1), sub("j2", 2, 2)}, nil,
			map[string]string{"j2": "needs 2 slots on one worker; the largest free is 1 (1 alive worker)", "j1": ""}},
		{"taken by an earlier job this round", []Command{bin(), reg("w1", 2), sub("j1", 2, 1), sub("j2", 2, 2)},
			[]Command{asg("j1", "w1", 1)},
			map[string]string{"j2": "needs 2 slots on one worker; the largest free is 0 (1 alive worker)"}},
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
