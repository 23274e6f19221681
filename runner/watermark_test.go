package runner

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

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

// TestSourceValve runs testdata/source_valve: a source task's watermark
// valve over its splits. Commands:
//
//	new bound=<dur> idle=<dur> perfect mins=(<µs>|none,...)
//	start <i> | read <i> max=<µs> | empty <i> | finish <i> | tick <dur> | advance
//
// Each prints the watermark emitted after it, or "-" when none is.
func TestSourceValve(t *testing.T) {
	var v *sourceValve
	var clock *fakeClock
	datadriven.RunTest(t, "testdata/source_valve", func(t *testing.T, d *datadriven.TestData) string {
		dur := func(key string) time.Duration {
			x, err := time.ParseDuration(argOr(d, key, "0s"))
			if err != nil {
				d.Fatalf(t, "%v", err)
			}
			return x
		}
		split := func() int {
			if len(d.CmdArgs) == 0 {
				d.Fatalf(t, "no split index")
			}
			var i int
			fmt.Sscan(d.CmdArgs[0].Key, &i)
			return i
		}
		switch d.Cmd {
		case "new":
			clock = &fakeClock{t: time.Unix(1000, 0)}
			mins, _ := d.Arg("mins")
			var splits []graph.Split
			for i, m := range mins.Vals {
				min := base.MinTimestamp
				if m != "none" {
					var us int64
					fmt.Sscan(m, &us)
					min = base.Timestamp(us)
				}
				splits = append(splits, testSplit{fmt.Sprint(i), min})
			}
			perfect := d.HasArg("perfect")
			v = newSourceValve(graph.WatermarkSpec{Bound: dur("bound"), Idle: dur("idle")}, splits, clock, perfect)
		case "start":
			v.start(split())
		case "read":
			var max int64
			fmt.Sscan(argOr(d, "max", "0"), &max)
			v.observe(split(), 1, base.Timestamp(max))
		case "empty":
			v.observe(split(), 0, base.MinTimestamp)
		case "finish":
			v.finish(split())
		case "tick":
			x, err := time.ParseDuration(d.CmdArgs[0].Key)
			if err != nil {
				d.Fatalf(t, "%v", err)
			}
			clock.advance(x)
		case "advance":
		default:
			d.Fatalf(t, "unknown command")
		}
		if wm, ok := v.advance(); ok {
			return "wm " + fmtWM(wm)
		}
		return "wm -"
	})
}

// argOr returns the first value of argument key of d, or def.
func argOr(d *datadriven.TestData, key, def string) string {
	if a, ok := d.Arg(key); ok && len(a.Vals) > 0 {
		return a.Vals[0]
	}
	return def
}

func fmtWM(wm base.Timestamp) string {
	switch wm {
	case base.MaxTimestamp:
		return "+inf"
	case base.MinTimestamp:
		return "-inf"
	}
	return fmt.Sprint(int64(wm))
}

// TestInputValve runs testdata/input_valve: the minimum over input channels.
//
//	new channels=<n> | wm <ch> ts=<µs> | end <ch>
func TestInputValve(t *testing.T) {
	var v *inputValve
	datadriven.RunTest(t, "testdata/input_valve", func(t *testing.T, d *datadriven.TestData) string {
		var ch int
		if len(d.CmdArgs) > 0 {
			fmt.Sscan(d.CmdArgs[0].Key, &ch)
		}
		var wm base.Timestamp
		var ok bool
		switch d.Cmd {
		case "new":
			var n int
			fmt.Sscan(argOr(d, "channels", "1"), &n)
			v = newInputValve(n)
			return ""
		case "wm":
			var ts int64
			fmt.Sscan(argOr(d, "ts", "0"), &ts)
			wm, ok = v.watermark(ch, base.Timestamp(ts))
		case "end":
			wm, ok = v.end(ch)
		case "idle":
			wm, ok = v.status(ch, true)
		case "active":
			wm, ok = v.status(ch, false)
		case "stop":
			v.stop(ch)
		default:
			d.Fatalf(t, "unknown command")
		}
		out := "wm -"
		if ok {
			out = "wm " + fmtWM(wm)
		}
		if v.isIdle() {
			out += "\nidle"
		}
		if v.done() {
			out += "\ndone"
			if v.anyStopped() {
				out += " (stopped)"
			}
		}
		return out
	})
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
		// With statistics, splits are read in order of their minimum event
		// time: split 1 (min 50) first. Pending, the splits hold the
		// watermark at 50-10-1 and 90-10-1; reading split 1 (max 300) leaves
		// split 0's hold; reading split 0 raises its own generator.
		{"stats", Options{}, true, []string{
			"0: wm 39", "0: batch 2", "0: wm 79", "0: batch 2", "0: wm 89", "0: batch 1", "0: wm 9223372036854775807", "0: finish"}},
		// Without statistics, by ID: split 0 first; split 1 holds at -∞.
		{"no stats", Options{}, false, []string{
			"0: batch 2", "0: batch 1", "0: batch 2", "0: wm 9223372036854775807", "0: finish"}},
		// Two tasks: task 0 gets the first split in read order, split 1,
		// and reads it in one batch.
		{"two tasks", Options{Parallelism: 2}, true, []string{
			"0: wm 39", "0: batch 2", "0: wm 9223372036854775807", "0: finish"}},
		{"perfect", Options{PerfectWatermark: true}, true, []string{
			"0: batch 2", "0: batch 2", "0: batch 1", "0: wm 9223372036854775807", "0: finish"}},
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
