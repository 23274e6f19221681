package runner

import (
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// Generous: under a cold CI build (compilers and test binaries sharing
	// 2 cores) a Kafka client's retry after a new partition has been seen
	// to take more than 20 s. A condition that holds returns at once.
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// runAsync runs p in a goroutine; the returned func waits for its result
// (at most 20s).
func runAsync(t *testing.T, p *sdk.Pipeline, opts Options) func() (Stats, error) {
	t.Helper()
	type result struct {
		st  Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := Run(t.Context(), p, opts)
		done <- result{st, err}
	}()
	return func() (Stats, error) {
		t.Helper()
		select {
		case r := <-done:
			return r.st, r.err
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return")
			return Stats{}, nil
		}
	}
}

// streamWindow builds Read(src) → KeyBy(Key) → Tumbling(width) → Sum(V).
func streamWindow(src sdk.Source[ev], bound, idle, width time.Duration) (*sdk.Pipeline, *runnertest.Sink[sdk.Result[string, int]]) {
	p := sdk.NewPipeline()
	in := sdk.Read[ev](p, src, sdk.Timestamps(evTime), sdk.BoundedOutOfOrderness(bound), sdk.IdleTimeout(idle))
	out := &runnertest.Sink[sdk.Result[string, int]]{}
	sdk.Write(sdk.Aggregate(sdk.WindowInto(sdk.KeyBy(in, keyOf), sdk.Tumbling(width)), sdk.Sum(valueOf)), out)
	return p, out
}

// TestStreamReadsSplitsInTurn: in stream mode one task reads a batch of
// each split in turn; in batch mode one split after another.
func TestStreamReadsSplitsInTurn(t *testing.T) {
	var data [][]ev
	for s := range 2 {
		var split []ev
		for i := range 6 {
			split = append(split, e(fmt.Sprintf("s%d", s), i, int64(i)))
		}
		data = append(data, split)
	}
	for _, tc := range []struct {
		mode Mode
		want string
	}{
		{Stream, "[s0/0 s0/1 s1/0 s1/1 s0/2 s0/3 s1/2 s1/3 s0/4 s0/5 s1/4 s1/5]"},
		{Batch, "[s0/0 s0/1 s0/2 s0/3 s0/4 s0/5 s1/0 s1/1 s1/2 s1/3 s1/4 s1/5]"},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			src := runnertest.NewStream[ev](2)
			for i, d := range data {
				src.Append(i, d...)
			}
			src.EndAll()
			p := sdk.NewPipeline()
			out := &runnertest.Sink[ev]{}
			sdk.Write(sdk.Read[ev](p, src, sdk.Timestamps(evTime)), out)
			mustRun(t, p, Options{Mode: tc.mode, BatchSize: 2})
			var got []string
			for _, v := range out.Values() {
				got = append(got, fmt.Sprintf("%s/%d", v.Key, v.V))
			}
			if s := fmt.Sprint(got); s != tc.want {
				t.Errorf("read order\n got %s\nwant %s", s, tc.want)
			}
		})
	}
}

// TestStreamBatchParity: the same events in K splits, each within the
// bound of disorder inside its split, give the same windows read in turn
// by a stream job (whose splits then end) as read by a batch job.
func TestStreamBatchParity(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	const bound = 50
	var data [][]ev
	for s := range 5 {
		var split []ev
		ts := int64(rnd.Intn(200))
		for i := range 200 + 40*s {
			ts += int64(rnd.Intn(10))
			split = append(split, e(fmt.Sprintf("k%d", rnd.Intn(7)), s*1000+i, ts-int64(rnd.Intn(bound+1))))
		}
		data = append(data, split)
	}
	want, late, _ := runWindow(t, data, bound*µs, sdk.Tumbling(40*µs), 0, Options{Parallelism: 2})
	if len(late) != 0 || len(want) == 0 {
		t.Fatalf("batch: %d results, %d late", len(want), len(late))
	}
	for _, par := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("parallelism ", par), func(t *testing.T) {
			src := runnertest.NewStream[ev](len(data))
			for i, d := range data {
				src.Append(i, d...)
			}
			src.EndAll()
			p, out := streamWindow(src, bound*µs, 0, 40*µs)
			st := mustRun(t, p, Options{Parallelism: par, Mode: ModeStream, BatchSize: 7, DiscoveryInterval: time.Millisecond})
			if got := results(out); !slices.Equal(got, want) {
				t.Errorf("stream: %d results differ from batch's %d", len(got), len(want))
			}
			if st.Late != 0 {
				t.Errorf("stream: %d late", st.Late)
			}
		})
	}
}

// TestStreamIdleSplit: a split that never gets a record, or stops getting
// them, holds the watermark unless the idle timeout is set, whether it
// shares the task of the busy split (parallelism 1: source valve) or has
// its own (parallelism 2: idle status to the window task). A graceful stop
// then commits what fired and fires nothing more.
func TestStreamIdleSplit(t *testing.T) {
	silent := []string{"a [0,10) 3 @9", "a [10,20) 12 @19"}
	stopped := []string{"a [0,10) 3 @9", "a [10,20) 12 @19", "b [0,10) 3 @9"}
	for _, tc := range []struct {
		par    int
		idle   time.Duration
		split1 []ev
		want   []string
	}{
		{1, time.Second, nil, silent},
		{2, time.Second, nil, silent},
		{1, 0, nil, nil},
		{2, 0, nil, nil},
		{1, time.Second, []ev{e("b", 3, 3)}, stopped},
		{2, time.Second, []ev{e("b", 3, 3)}, stopped},
		{2, 0, []ev{e("b", 3, 3)}, nil},
	} {
		t.Run(fmt.Sprintf("parallelism %d idle %v split1 %d", tc.par, tc.idle, len(tc.split1)), func(t *testing.T) {
			src := runnertest.NewStream[ev](2)
			src.Append(0, e("a", 1, 1), e("a", 2, 2), e("a", 12, 12), e("a", 25, 25))
			src.Append(1, tc.split1...)
			p, out := streamWindow(src, 0, tc.idle, 10*µs)
			clock := runnertest.NewClock(time.Unix(1000, 0))
			stop := make(chan struct{})
			wait := runAsync(t, p, Options{Parallelism: tc.par, Mode: Stream, Clock: clock, Stop: stop, DiscoveryInterval: -1})
			// Both splits open (their idleness counts from then) and read.
			waitFor(t, "the first records read", func() bool {
				return src.Read(0) == 4 && src.Read(1) == len(tc.split1) && src.Polled(1) > 0
			})
			// Split 1 has been silent for 2s; split 0 speaks again.
			clock.Advance(2 * time.Second)
			src.Append(0, e("a", 26, 26))
			waitFor(t, "the last record read", func() bool { return src.Read(0) == 5 })
			if tc.want != nil {
				waitFor(t, "windows written", func() bool { _, _, _, n := out.Counts(); return n == len(tc.want) })
			}
			close(stop)
			if _, err := wait(); err != nil {
				t.Fatalf("Run after stop: %v", err)
			}
			// Window [20,30) is never fired by a final watermark.
			if got := results(out); !slices.Equal(got, tc.want) {
				t.Errorf("results %q, want %q", got, tc.want)
			}
			if _, closed, commits, _ := out.Counts(); closed != tc.par || commits != tc.par {
				t.Errorf("sink closed %d, commits %d, want %d", closed, commits, tc.par)
			}
		})
	}
}

// TestStreamDiscovery: a split added while the job runs is found, handed
// to the task with the fewest splits and read; its rows appear.
func TestStreamDiscovery(t *testing.T) {
	skipArrivalOrder(t)
	first := []ev{e("a", 1, 1), e("b", 2, 5), e("a", 3, 14)}
	added := []ev{e("a", 10, 21), e("b", 20, 33), e("c", 30, 35)}
	want, _, _ := runWindow(t, [][]ev{first, added}, 0, sdk.Tumbling(10*µs), 0, Options{})
	src := runnertest.NewStream[ev](1)
	src.Append(0, first...)
	p, out := streamWindow(src, 0, 0, 10*µs)
	wait := runAsync(t, p, Options{Parallelism: 2, Mode: Stream, DiscoveryInterval: time.Millisecond})
	waitFor(t, "split 0 read", func() bool { return src.Read(0) == len(first) })
	i := src.AddSplit(added...)
	waitFor(t, "the added split read", func() bool { return src.Read(i) == len(added) })
	src.EndAll()
	st, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	if got := results(out); !slices.Equal(got, want) {
		t.Errorf("results\n got %q\nwant %q", got, want)
	}
	if st.RowsIn != 6 {
		t.Errorf("RowsIn = %d, want 6", st.RowsIn)
	}
}

func TestSplitQueue(t *testing.T) {
	sp := func(id string) graph.Split { return testSplit{id: id} }
	q := newSplitQueue([][]graph.Split{{sp("a"), sp("b")}, {sp("c")}, nil}, nil, nil)
	for _, tc := range []struct {
		id   string
		want int
	}{
		{"d", 2}, // fewest splits
		{"e", 1}, // tie of 1 and 2: lowest index
		{"a", -1},
		{"f", 2},
	} {
		if got := q.add(sp(tc.id)); got != tc.want {
			t.Errorf("add %s: task %d, want %d", tc.id, got, tc.want)
		}
	}
	ids := func(ss []graph.Split) (out []string) {
		for _, s := range ss {
			out = append(out, s.ID())
		}
		return out
	}
	if got := fmt.Sprint(ids(q.take(2)), ids(q.take(2))); got != "[d f] []" {
		t.Errorf("take(2) = %s", got)
	}
	for _, k := range []int{0, 0, 1, 1, 2} {
		q.ended(k)
	}
	if q.isOver() {
		t.Fatal("over with a split live")
	}
	q.ended(2)
	if !q.isOver() {
		t.Fatal("not over once every split ended")
	}
	if got := q.add(sp("g")); got != -1 {
		t.Errorf("add after the end: task %d", got)
	}
	if !newSplitQueue([][]graph.Split{nil, nil}, nil, nil).isOver() {
		t.Error("a stage without splits is not over")
	}
}

// TestStopPromptly: a stop while a read waits (for an hour) returns nil at
// once and commits what was written.
func TestStopPromptly(t *testing.T) {
	for _, mode := range []Mode{Stream, Batch} {
		t.Run(mode.String(), func(t *testing.T) {
			src := runnertest.NewStream[ev](2)
			src.PollTimeout = time.Hour
			src.Append(0, e("a", 1, 1), e("b", 2, 2))
			src.End(0)
			src.Append(1, e("c", 3, 3))
			p := sdk.NewPipeline()
			out := &runnertest.Sink[ev]{}
			sdk.Write(sdk.Read[ev](p, src, sdk.Timestamps(evTime)), out)
			stop := make(chan struct{})
			wait := runAsync(t, p, Options{Mode: mode, Stop: stop})
			waitFor(t, "3 rows written", func() bool { _, _, _, n := out.Counts(); return n == 3 })
			start := time.Now()
			close(stop)
			if _, err := wait(); err != nil {
				t.Fatalf("Run after stop: %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Run took %v after stop", d)
			}
			if got := sortedStrings(out.Values()); fmt.Sprint(got) != "[a/1@1 b/2@2 c/3@3]" {
				t.Errorf("committed %v", got)
			}
		})
	}
}

// TestStopBatchEndless: a stop ends a batch job reading endless splits;
// what was written is committed and no window fires at +∞.
func TestStopBatchEndless(t *testing.T) {
	p := sdk.NewPipeline()
	stop := make(chan struct{})
	var once sync.Once
	rows := &runnertest.Sink[ev]{OnWrite: func(n int) {
		if n >= 5000 {
			once.Do(func() { close(stop) })
		}
	}}
	in := read(p, &runnertest.Source[ev]{Data: genData(3, 2, 100), Endless: true})
	sdk.Write(in, rows)
	wins := &runnertest.Sink[sdk.Result[string, int]]{}
	sdk.Write(sdk.Aggregate(sdk.WindowInto(sdk.KeyBy(in, keyOf), sdk.Global()), sdk.Sum(valueOf)), wins)
	st, err := Run(t.Context(), p, Options{Parallelism: 2, Stop: stop})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rows.Rows()); n < 5000 || int64(n) != st.Sinks["Write"] {
		t.Errorf("committed %d rows, sink stats %v", n, st.Sinks)
	}
	if n := len(wins.Rows()); n != 0 {
		t.Errorf("%d global windows fired on stop", n)
	}
}
