package runner

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

type testSplit struct {
	id  string
	min base.Timestamp // MinTimestamp: no statistics
}

func (s testSplit) ID() string  { return s.id }
func (s testSplit) Rows() int64 { return -1 }
func (s testSplit) MinEventTime() (base.Timestamp, bool) {
	return s.min, s.min != base.MinTimestamp
}

// TestSourceValve runs scripts against a source task's watermark valve.
// Each step is "start i", "read i max", "finish i", "tick d" or "idle"; after
// each step the test checks the emitted watermark ("-" for none).
func TestSourceValve(t *testing.T) {
	none := base.MinTimestamp
	type step struct {
		do   string
		want string
	}
	for _, tc := range []struct {
		name    string
		bound   time.Duration
		idle    time.Duration
		perfect bool
		mins    []base.Timestamp
		steps   []step
	}{
		{"bound and 1µs", 10 * time.Microsecond, 0, false, []base.Timestamp{none}, []step{
			{"advance", "-"}, // an unstarted split without statistics holds at -∞
			{"start 0", "-"},
			{"read 0 100", "89"},
			{"read 0 50", "-"}, // the max seen does not go back
			{"read 0 120", "109"},
			{"finish 0", "+inf"},
		}},
		{"zero bound", 0, 0, false, []base.Timestamp{none}, []step{
			{"start 0", "-"},
			{"read 0 100", "99"},
		}},
		{"min over splits and holds from statistics", 10 * time.Microsecond, 0, false, []base.Timestamp{50, 200}, []step{
			{"advance", "39"}, // min of 50-11 and 200-11
			{"start 0", "-"},
			{"read 0 300", "189"}, // split 1 holds at its statistic
			{"finish 0", "-"},
			{"start 1", "-"},
			{"read 1 250", "239"},
			{"finish 1", "+inf"},
		}},
		{"unknown pending split holds at -inf", 0, 0, false, []base.Timestamp{10, none}, []step{
			{"start 0", "-"},
			{"read 0 300", "-"},
			{"finish 0", "-"},
			{"start 1", "-"},
			{"read 1 5", "4"},
			{"finish 1", "+inf"},
		}},
		{"never decreases", 0, 0, false, []base.Timestamp{none, 100}, []step{
			{"start 0", "-"},
			{"read 0 1000", "99"},
			{"finish 0", "-"},
			{"start 1", "-"},
			{"read 1 50", "-"},
			{"read 1 500", "499"},
		}},
		{"idle split stops holding", 0, 5 * time.Second, false, []base.Timestamp{none, 500}, []step{
			{"start 0", "-"},
			{"read 0 100", "99"},
			{"tick 4s", "-"},
			{"tick 1s", "499"},  // split 0 idle: only split 1's hold counts
			{"read 0 200", "-"}, // active again, but the watermark stays
			{"finish 0", "-"},
			{"start 1", "-"},
			{"tick 5s", "-"}, // every live split idle: no advance
			{"read 1 800", "799"},
		}},
		{"empty reads do not reset idleness", 0, time.Second, false, []base.Timestamp{none, 50}, []step{
			{"start 0", "-"},
			{"read 0 10", "9"},
			{"tick 500ms", "-"},
			{"empty 0", "-"},
			{"tick 500ms", "49"},
		}},
		{"perfect", 0, 0, true, []base.Timestamp{10, none}, []step{
			{"advance", "-"},
			{"start 0", "-"},
			{"read 0 300", "-"},
			{"finish 0", "-"},
			{"start 1", "-"},
			{"read 1 5", "-"},
			{"finish 1", "+inf"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1000, 0)}
			var splits []graph.Split
			for i, m := range tc.mins {
				splits = append(splits, testSplit{fmt.Sprint(i), m})
			}
			v := newSourceValve(graph.WatermarkSpec{Bound: tc.bound, Idle: tc.idle}, splits, clock, tc.perfect)
			for _, s := range tc.steps {
				var i int
				var arg string
				f := strings.Fields(s.do)
				if len(f) > 1 {
					fmt.Sscan(f[1], &i)
					arg = f[1]
				}
				switch f[0] {
				case "start":
					v.start(i)
				case "read":
					var max int64
					fmt.Sscan(f[2], &max)
					v.observe(i, 1, base.Timestamp(max))
				case "empty":
					v.observe(i, 0, base.MinTimestamp)
				case "finish":
					v.finish(i)
				case "tick":
					d, err := time.ParseDuration(arg)
					if err != nil {
						t.Fatal(err)
					}
					clock.advance(d)
				case "advance":
				default:
					t.Fatalf("unknown step %q", s.do)
				}
				got := "-"
				if wm, ok := v.advance(); ok {
					got = fmt.Sprint(int64(wm))
					if wm == base.MaxTimestamp {
						got = "+inf"
					}
				}
				if got != s.want {
					t.Fatalf("after %q: watermark %s, want %s", s.do, got, s.want)
				}
			}
		})
	}
}

func TestInputValve(t *testing.T) {
	v := newInputValve(3)
	type step struct {
		end  bool
		ch   int
		wm   int64
		want int64 // math.MinInt64: no new watermark
	}
	const no = math.MinInt64
	for i, s := range []step{
		{false, 0, 10, no},
		{false, 1, 20, no},
		{false, 2, 5, 5},
		{false, 2, 30, 10},
		{false, 0, 8, no}, // a channel never goes back
		{true, 0, 0, 20},
		{false, 1, 15, no},
		{true, 1, 0, 30},
		{true, 2, 0, math.MaxInt64},
	} {
		var wm base.Timestamp
		var ok bool
		if s.end {
			wm, ok = v.end(s.ch)
		} else {
			wm, ok = v.watermark(s.ch, base.Timestamp(s.wm))
		}
		got := int64(no)
		if ok {
			got = int64(wm)
		}
		if got != s.want {
			t.Fatalf("step %d %+v: got %d, want %d", i, s, got, s.want)
		}
	}
	if !v.done() {
		t.Fatal("valve not done after every channel ended")
	}
}

// TestWatermarksThroughTask checks the exact sequence a chained operator
// sees in a source task: watermarks after each batch, holds from split
// statistics, the final +∞ before Finish.
func TestWatermarksThroughTask(t *testing.T) {
	data := [][]ev{
		{e("a", 0, 100), e("a", 0, 90), e("a", 0, 130)},
		{e("b", 0, 50), e("b", 0, 300)},
	}
	for _, tc := range []struct {
		name  string
		opts  Options
		stats bool
		want  []string
	}{
		// Split 0 (min 90) is read first; split 1 (min 50) holds the
		// watermark at 50-10-1 while pending, or at -∞ without statistics.
		{"stats", Options{}, true, []string{
			"0: wm 39", "0: batch 2", "0: batch 1", "0: batch 2", "0: wm 9223372036854775807", "0: finish"}},
		{"no stats", Options{}, false, []string{
			"0: batch 2", "0: batch 1", "0: batch 2", "0: wm 9223372036854775807", "0: finish"}},
		// Two tasks: each reads one split; the chained operator of task 0
		// sees split 0's generator (max 100 after the first batch).
		{"two tasks", Options{Parallelism: 2}, true, []string{
			"0: wm 79", "0: batch 2", "0: wm 89", "0: batch 1", "0: wm 9223372036854775807", "0: finish"}},
		{"perfect", Options{PerfectWatermark: true}, true, []string{
			"0: batch 2", "0: batch 1", "0: batch 2", "0: wm 9223372036854775807", "0: finish"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := sdk.NewPipeline()
			in := read(p, &runnertest.Source[ev]{Data: data, Stats: tc.stats, ReadSize: 2}, sdk.BoundedOutOfOrderness(10*time.Microsecond))
			log := &recLog{}
			n := addNode[ev](p, "Rec", newRecorder[ev](log, nil), nil, graph.Edge{From: nodeOf(p, in.Name())})
			writeNode[ev](p, n, &runnertest.Sink[ev]{})
			mustRun(t, p, tc.opts)
			var got []string
			for _, ev := range log.snapshot() {
				if strings.HasPrefix(ev, "0: ") {
					got = append(got, ev)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
