package state

import (
	"slices"
	"testing"
)

func TestDetector(t *testing.T) {
	// Each step: heartbeats, then a tick over alive (or a Reset), and
	// the dead reported.
	type step struct {
		beats []string
		alive []string
		reset bool
		dead  []string
	}
	ab := []string{"a", "b"}
	tests := []struct {
		name    string
		timeout int
		steps   []step
	}{
		{"timeout 3", 3, []step{
			{alive: ab}, {alive: ab}, {alive: ab, dead: ab},
		}},
		{"heartbeats keep alive", 2, []step{
			{alive: ab}, {beats: []string{"a"}, alive: ab, dead: []string{"b"}}, {alive: ab, dead: []string{"a"}},
			{beats: ab, alive: ab}, {beats: []string{"b"}, alive: ab, dead: []string{"a"}},
		}},
		{"reported once per timeout", 2, []step{
			{alive: ab}, {alive: ab, dead: ab}, {alive: []string{"a"}}, {alive: []string{"a"}, dead: []string{"a"}},
		}},
		{"not alive is forgotten", 2, []step{
			{alive: ab}, {alive: []string{"a"}, dead: []string{"a"}}, {alive: ab}, {alive: ab, dead: ab},
		}},
		{"reset gives a full timeout", 3, []step{
			{alive: ab}, {alive: ab}, {reset: true}, {alive: ab}, {alive: ab}, {alive: ab, dead: ab},
		}},
		{"timeout below 1 is 1", 0, []step{
			{alive: []string{"b", "a", "a"}, dead: ab},
		}},
		{"sorted", 1, []step{
			{alive: []string{"z", "c", "m"}, dead: []string{"c", "m", "z"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDetector(tt.timeout)
			for i, st := range tt.steps {
				for _, w := range st.beats {
					d.Heartbeat(w)
				}
				if st.reset {
					d.Reset()
					continue
				}
				if got := d.Tick(st.alive); !slices.Equal(got, st.dead) {
					t.Fatalf("step %d: dead = %v, want %v", i, got, st.dead)
				}
			}
		})
	}
}
