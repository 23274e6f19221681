package runner

import (
	"context"
	"testing"
	"time"

	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// TestProcessingTimeTimerWithoutInput: in stream mode a processing-time
// timer fires while no record arrives, because the runner ticks the
// operator. The test moves a fake clock until it has.
func TestProcessingTimeTimerWithoutInput(t *testing.T) {
	src := runnertest.NewStream[ev](1)
	src.Append(0, e("a", 1, 10))
	p := sdk.NewPipeline()
	in := sdk.Read[ev](p, src, sdk.Timestamps(evTime))
	fn := sdk.ProcessFuncs[string, ev, string]{
		ElementFn: func(ctx *sdk.ProcessContext[string, string], v ev) error {
			return ctx.RegisterProcessingTimeTimer(ctx.CurrentProcessingTime().Add(30 * time.Millisecond))
		},
		TimerFn: func(ctx *sdk.ProcessContext[string, string], ti sdk.TimerInfo) error {
			ctx.Emit("timeout " + ctx.Key())
			return nil
		},
	}
	out := &runnertest.Sink[string]{}
	fired := make(chan struct{})
	out.OnWrite = func(n int) {
		if n == 1 {
			close(fired)
		}
	}
	sdk.Write(sdk.Process(sdk.KeyBy(in, func(x ev) string { return x.Key }), fn), out)
	stop := make(chan struct{})
	done := make(chan error, 1)
	clock := runnertest.NewClock(time.Unix(1e9, 0))
	go func() {
		_, err := Run(context.Background(), p, Options{Mode: Stream, Stop: stop, DiscoveryInterval: -1, Clock: clock})
		done <- err
	}()
	waitFor(t, "the record read", func() bool { return src.Read(0) == 1 })
	// Not before its time: 20 ms on, nothing.
	clock.Advance(20 * time.Millisecond)
	select {
	case <-fired:
		t.Fatal("the timer fired 20 ms after the record, want 30 ms")
	case <-time.After(50 * time.Millisecond):
	}
	waitFor(t, "the timer to fire", func() bool {
		select {
		case <-fired:
			return true
		case err := <-done:
			t.Fatalf("job ended before the timer fired: %v", err)
		default:
		}
		clock.Advance(5 * time.Millisecond)
		return false
	})
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.Values(); len(got) != 1 || got[0] != "timeout a" {
		t.Fatalf("output %q, want [timeout a]", got)
	}
}
