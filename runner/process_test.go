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
// operator.
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
	go func() {
		_, err := Run(context.Background(), p, Options{Mode: Stream, Stop: stop, DiscoveryInterval: -1})
		done <- err
	}()
	select {
	case <-fired:
	case err := <-done:
		t.Fatalf("job ended before the timer fired: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the processing-time timer did not fire within 30 s without input")
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.Values(); len(got) != 1 || got[0] != "timeout a" {
		t.Fatalf("output %q, want [timeout a]", got)
	}
}
