package runner

import (
	"fmt"
	"math/rand"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// The broadcast tests: rules (ev{Key: "rule", V: threshold}) change a
// threshold over event time; events pass when their value is above the
// threshold current at their time. The function holds each event in state
// until the watermark passes it, then looks the threshold up among the
// rules in broadcast state (keyed by time), so the result does not depend
// on how the inputs interleave.

var (
	rulesByTime = sdk.NewBroadcastState[int64, int]("thresholds")
	heldEvents  = sdk.NewListState[ev]("held")
)

func thresholdJob(events, rules [][]ev, out *runnertest.Sink[string], hook func(string, int) error) *sdk.Pipeline {
	p := sdk.NewPipeline(sdk.JobName("broadcast"))
	es := &runnertest.Source[ev]{Data: events, ReadSize: 8, ReadErr: hook}
	rs := &runnertest.Source[ev]{Data: rules, ReadSize: 2, ReadErr: hook}
	keyed := sdk.KeyBy(read(p, es, sdk.BoundedOutOfOrderness(40*µs)), func(x ev) string { return x.Key })
	passed := sdk.BroadcastProcess(keyed, read(p, rs), sdk.BroadcastProcessFuncs[string, ev, ev, string]{
		ElementFn: func(ctx *sdk.ProcessContext[string, string], x ev) error {
			if err := heldEvents.Add(ctx, x); err != nil {
				return err
			}
			return ctx.RegisterEventTimeTimer(base.FromTime(x.At))
		},
		BroadcastFn: func(ctx *sdk.BroadcastContext[string, string], r ev) error {
			return rulesByTime.Put(ctx, int64(base.FromTime(r.At)), r.V)
		},
		TimerFn: func(ctx *sdk.ProcessContext[string, string], ti sdk.TimerInfo) error {
			// The threshold current at the timer: the newest rule at or
			// before it (0 before any).
			threshold, newest := 0, int64(base.MinTimestamp)
			err := rulesByTime.Range(ctx, func(at int64, v int) error {
				if base.Timestamp(at) <= ti.Time && at > newest {
					threshold, newest = v, at
				}
				return nil
			})
			if err != nil {
				return err
			}
			var keep []ev
			err = heldEvents.Iterate(ctx, func(x ev) error {
				switch {
				case base.FromTime(x.At) > ti.Time:
					keep = append(keep, x)
				case x.V%1000 > threshold:
					ctx.Emit(fmt.Sprintf("%s %d passes %d", x.Key, x.V, threshold))
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := heldEvents.Clear(ctx); err != nil {
				return err
			}
			for _, x := range keep {
				if err := heldEvents.Add(ctx, x); err != nil {
					return err
				}
			}
			return nil
		},
	})
	sdk.Write(passed, out)
	return p
}

// thresholdData makes events in splits over keys, and rules in one split:
// a threshold in [0, 1000) every 60µs of event time, in order.
func thresholdData(seed int64, splits, rows int) (events, rules [][]ev, want []string) {
	rnd := rand.New(rand.NewSource(seed))
	var last int64
	for s := range splits {
		var d []ev
		ts := int64(100)
		for i := range rows {
			ts += int64(rnd.Intn(6))
			d = append(d, e(fmt.Sprintf("k%d", rnd.Intn(7)), s*100000+i*1000+rnd.Intn(1000), ts-int64(rnd.Intn(30))))
		}
		last = max(last, ts)
		events = append(events, d)
	}
	var rs []ev
	for ts := int64(50); ts < last+100; ts += 60 {
		rs = append(rs, e("rule", rnd.Intn(1000), ts))
	}
	rules = [][]ev{rs}
	for _, s := range events {
		for _, x := range s {
			threshold := 0
			for _, r := range rs {
				if !r.At.After(x.At) {
					threshold = r.V
				}
			}
			if x.V%1000 > threshold {
				want = append(want, fmt.Sprintf("%s %d passes %d", x.Key, x.V, threshold))
			}
		}
	}
	slices.Sort(want)
	return events, rules, want
}

// TestBroadcastProcess: every task sees every rule, at parallelism 1 to 4,
// in batch and stream mode: the events that pass are the reference's.
func TestBroadcastProcess(t *testing.T) {
	events, rules, want := thresholdData(3, 3, 500)
	if len(want) < 200 || len(want) > 1400 {
		t.Fatalf("%d of 1500 events pass: the data does not exercise the rules", len(want))
	}
	for _, o := range []Options{
		{Parallelism: 1},
		{Parallelism: 2, BatchSize: 16},
		{Parallelism: 4},
		{Parallelism: 3, Mode: Stream, BatchSize: 8},
	} {
		out := &runnertest.Sink[string]{}
		mustRun(t, thresholdJob(events, rules, out, nil), o)
		got := out.Values()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			sameResults(t, got, want)
			t.Fatalf("%+v: same rows, other order?", o)
		}
	}
}

// TestBroadcastStateRescale stops the job with a savepoint twice, after
// the rules were read, and resumes it at another parallelism each time:
// the broadcast state is restored to every task (the rules are not read
// again), and the output equals the reference, none missing, none twice.
func TestBroadcastStateRescale(t *testing.T) {
	events, rules, want := thresholdData(5, 3, 600)
	out := &runnertest.Sink[string]{}
	var hook atomic.Pointer[func(string, int) error]
	p := thresholdJob(events, rules, out, func(split string, row int) error {
		if f := hook.Load(); f != nil {
			return (*f)(split, row)
		}
		return nil
	})
	stopWithSavepoints(t, p, &hook, []int{2, 4, 1}, 20, func() int { return len(out.Rows()) })
	got := out.Values()
	slices.Sort(got)
	sameResults(t, got, want)
}
