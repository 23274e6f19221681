package runner

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// bare is a record without a codec.
type bare struct {
	Key string
	At  time.Time
}

func TestNetworkNeedsCodecs(t *testing.T) {
	p := sdk.NewPipeline()
	src := &runnertest.Source[bare]{Data: [][]bare{{{"a", at(1)}}}, EventTime: func(b bare) time.Time { return b.At }}
	in := sdk.Read[bare](p, src, sdk.Timestamps(func(b bare) time.Time { return b.At }))
	sdk.Write(sdk.Aggregate(sdk.WindowInto(sdk.KeyBy(in, func(b bare) string { return b.Key }), sdk.Tumbling(time.Second)),
		sdk.Count[bare]()), &runnertest.Sink[sdk.Result[string, int64]]{})
	// One worker: nothing crosses, no codec needed.
	if _, err := Run(t.Context(), p, Options{Parallelism: 2, NetworkWorkers: 1}); err != nil {
		t.Fatalf("one worker: %v", err)
	}
	_, err := Run(t.Context(), p, Options{Parallelism: 2, NetworkWorkers: 2})
	if err == nil || !strings.Contains(err.Error(), "runner.bare, which has no codec, across workers") {
		t.Fatalf("a keyed edge without a codec across workers: %v", err)
	}
	if _, err := Run(t.Context(), p, Options{Parallelism: 2, NetworkWorkers: 3}); err == nil || !strings.Contains(err.Error(), "NetworkWorkers 3 out of range") {
		t.Fatalf("more workers than tasks: %v", err)
	}
}

// Every placement of 4 tasks over 2, 3 and 4 workers gives the rows of
// one place, and sends bytes only when tasks are on several workers.
func TestNetworkPlacements(t *testing.T) {
	data := genData(5, 4, 4000)
	var want []string
	for _, w := range []int{1, 2, 3, 4} {
		t.Run(fmt.Sprint("workers=", w), func(t *testing.T) {
			p, out := streamWindow(&runnertest.Source[ev]{Data: data, ReadSize: 100, EventTime: evTime}, 0, 0, 1000*µs)
			m := new(Metrics)
			if _, err := Run(t.Context(), p, Options{Parallelism: 4, NetworkWorkers: w, Metrics: m, BatchSize: 64}); err != nil {
				t.Fatal(err)
			}
			got := results(out)
			if w == 1 {
				if want = got; len(want) < 10 {
					t.Fatalf("only %d rows", len(want))
				}
				if m.NetworkBytes.Load() != 0 {
					t.Error("bytes sent through the network exchange with one worker")
				}
				return
			}
			if !slices.Equal(got, want) {
				t.Errorf("%d rows differ from the %d of one place", len(got), len(want))
			}
			if m.NetworkBytes.Load() == 0 {
				t.Error("nothing went through the network exchange")
			}
		})
	}
}

// A connection between workers that fails while the job runs fails the
// job (it would restart from its last checkpoint): no hang, nothing
// committed.
func TestNetworkConnectionLoss(t *testing.T) {
	nets := make(chan *network, 1)
	testHookNetwork = func(n *network) { nets <- n }
	defer func() { testHookNetwork = nil }()
	src := runnertest.NewStream[ev](2)
	for i := range 50 {
		src.Append(i%2, e(fmt.Sprintf("k%d", i%7), i, int64(i)))
	}
	p, out := streamWindow(src, 0, 0, 10*µs)
	m := new(Metrics)
	wait := runAsync(t, p, Options{Parallelism: 2, NetworkWorkers: 2, Mode: Stream, Metrics: m, DiscoveryInterval: -1})
	n := <-nets
	waitFor(t, "rows across workers", func() bool { return m.NetworkBytes.Load() > 0 })
	n.conns[0][1].Close()
	_, err := wait()
	if err == nil || !strings.Contains(err.Error(), "network exchange") {
		t.Fatalf("Run after the connection closed: %v, want the network exchange's error", err)
	}
	if _, _, commits, _ := out.Counts(); commits != 0 {
		t.Errorf("%d sink commits after a failure, want 0", commits)
	}
}
