package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

func big(x ev) bool     { return x.V >= 10 }
func double(x ev) ev    { x.V *= 2; return x }
func keyOf(x ev) string { return x.Key }

// genData returns n records spread over splits, keys k0..k9, times in
// shuffled order (seeded).
func genData(seed int64, splits, n int) [][]ev {
	rnd := rand.New(rand.NewSource(seed))
	out := make([][]ev, splits)
	for i := range n {
		s := rnd.Intn(splits)
		out[s] = append(out[s], e(fmt.Sprintf("k%d", rnd.Intn(10)), i%25, int64(rnd.Intn(1_000_000))))
	}
	return out
}

func TestStatelessChainParallelism(t *testing.T) {
	data := genData(1, 5, 5000)
	var want []ev
	for _, s := range data {
		for _, x := range s {
			if big(x) {
				want = append(want, double(x))
			}
		}
	}
	for _, par := range []int{1, 2, 4} {
		for _, batch := range []int{0, 7} {
			t.Run(fmt.Sprintf("p%d/batch%d", par, batch), func(t *testing.T) {
				p := sdk.NewPipeline()
				sink := &runnertest.Sink[ev]{}
				src := &runnertest.Source[ev]{Data: data, ReadSize: 100}
				sdk.Write(sdk.Map(sdk.Filter(read(p, src), big), double), sink)
				st := mustRun(t, p, Options{Parallelism: par, BatchSize: batch})
				if got, w := sortedStrings(sink.Values()), sortedStrings(want); !slices.Equal(got, w) {
					t.Fatalf("got %d rows, want %d", len(got), len(w))
				}
				if st.RowsIn != 5000 || st.RowsOut != int64(len(want)) || st.Sinks["Write"] != int64(len(want)) {
					t.Fatalf("stats %+v, want 5000 in, %d out", st, len(want))
				}
				opened, closed, commits, _ := sink.Counts()
				if opened != par || closed != par || commits != par {
					t.Fatalf("sink writers opened %d closed %d commits %d, want %d each", opened, closed, commits, par)
				}
			})
		}
	}
}

func TestFlattenAndFanOut(t *testing.T) {
	for _, par := range []int{1, 3} {
		t.Run(fmt.Sprint("p", par), func(t *testing.T) {
			p := sdk.NewPipeline()
			a := read(p, &runnertest.Source[ev]{Data: [][]ev{{e("a", 1, 1), e("a", 2, 2)}, {e("a", 3, 3)}}}, sdk.Named("A"))
			b := read(p, &runnertest.Source[ev]{Data: [][]ev{{e("b", 10, 1)}}}, sdk.Named("B"))
			all := &runnertest.Sink[ev]{}
			doubled := &runnertest.Sink[ev]{}
			raw := &runnertest.Sink[ev]{}
			sdk.Write(sdk.Flatten(a, b), all, sdk.Named("All"))
			sdk.Write(sdk.Map(a, double), doubled, sdk.Named("Doubled")) // a fans out
			sdk.Write(a, raw, sdk.Named("Raw"))
			st := mustRun(t, p, Options{Parallelism: par})
			check := func(name string, s *runnertest.Sink[ev], want ...string) {
				t.Helper()
				slices.Sort(want)
				if got := sortedStrings(s.Values()); !slices.Equal(got, want) {
					t.Errorf("%s: got %v, want %v", name, got, want)
				}
			}
			check("All", all, "a/1@1", "a/2@2", "a/3@3", "b/10@1")
			check("Doubled", doubled, "a/2@1", "a/4@2", "a/6@3")
			check("Raw", raw, "a/1@1", "a/2@2", "a/3@3")
			if want := map[string]int64{"All": 4, "Doubled": 3, "Raw": 3}; !mapsEqual(st.Sinks, want) {
				t.Errorf("sinks %v, want %v", st.Sinks, want)
			}
		})
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestKeyedShuffle(t *testing.T) {
	data := genData(2, 4, 3000)
	for _, par := range []int{1, 2, 4, 7} {
		t.Run(fmt.Sprint("p", par), func(t *testing.T) {
			p := sdk.NewPipeline()
			in := read(p, &runnertest.Source[ev]{Data: data, ReadSize: 64})
			log := &recLog{}
			n := addNode[ev](p, "Keyed", newRecorder[ev](log, keyOf), keyOf, graph.Edge{From: nodeOf(p, in.Name())})
			sink := &runnertest.Sink[ev]{}
			writeNode[ev](p, n, sink)
			mustRun(t, p, Options{Parallelism: par, BatchSize: 50})
			if got := len(sink.Rows()); got != 3000 {
				t.Fatalf("sink got %d rows, want 3000", got)
			}
			for k, tasks := range log.keys {
				if len(tasks) != 1 {
					t.Errorf("key %s reached tasks %v", k, tasks)
				}
				kg := base.KeyGroupOf(sdkHash(k), base.DefaultMaxParallelism)
				if want := base.TaskOf(kg, par, base.DefaultMaxParallelism); tasks[0] != want {
					t.Errorf("key %s reached task %d, its key group %d belongs to task %d", k, tasks[0], kg, want)
				}
			}
			if log.opened != par || log.closed != par {
				t.Errorf("opened %d closed %d, want %d", log.opened, log.closed, par)
			}
		})
	}
}

func TestTopologicalOrderNotSliceOrder(t *testing.T) {
	// Move the last nodes to the front: the runner must not rely on order.
	p := sdk.NewPipeline()
	in := read(p, &runnertest.Source[ev]{Data: [][]ev{{e("a", 1, 1), e("b", 2, 2)}}})
	log := &recLog{}
	n := addNode[ev](p, "Keyed", newRecorder[ev](log, keyOf), keyOf, graph.Edge{From: nodeOf(p, in.Name())})
	late := addNode[ev](p, "Late", newRecorder[ev](&recLog{}, nil), nil, graph.Edge{From: n}, graph.Edge{From: nodeOf(p, in.Name())})
	sink := &runnertest.Sink[ev]{}
	writeNode[ev](p, late, sink)
	g := p.Graph()
	g.Nodes = append(g.Nodes[len(g.Nodes)-2:], g.Nodes[:len(g.Nodes)-2]...)
	mustRun(t, p, Options{Parallelism: 2})
	if got := sortedStrings(sink.Values()); !slices.Equal(got, []string{"a/1@1", "a/1@1", "b/2@2", "b/2@2"}) {
		t.Fatalf("got %v", got)
	}
}

func TestRowsTotal(t *testing.T) {
	for _, stats := range []bool{false, true} {
		p := sdk.NewPipeline()
		m := new(graph.Metrics)
		seen := atomic.Int64{} // RowsTotal when the first read starts
		seen.Store(-2)
		src := &runnertest.Source[ev]{Data: genData(3, 3, 100), Stats: stats, ReadErr: func(string, int) error {
			seen.CompareAndSwap(-2, m.RowsTotal.Load())
			return nil
		}}
		sdk.Write(read(p, src), &runnertest.Sink[ev]{})
		mustRun(t, p, Options{Metrics: m})
		want := int64(-1)
		if stats {
			want = 100
		}
		if got := m.RowsTotal.Load(); got != want {
			t.Errorf("stats=%v: RowsTotal %d, want %d", stats, got, want)
		}
		if got := seen.Load(); got != want {
			t.Errorf("stats=%v: RowsTotal was %d when reading started, want %d", stats, got, want)
		}
	}
}

func negative(x ev) string {
	if x.V < 0 {
		return "negative value"
	}
	return ""
}

func TestErrorPolicies(t *testing.T) {
	data := [][]ev{{e("a", 1, 1), e("a", -1, 2), e("a", 2, 3)}, {e("b", -5, 1), {Key: "b", V: 3}}}
	build := func() (*sdk.Pipeline, *runnertest.Sink[ev]) {
		p := sdk.NewPipeline()
		sink := &runnertest.Sink[ev]{}
		sdk.Write(read(p, &runnertest.Source[ev]{Data: data, Bad: negative}), sink)
		return p, sink
	}
	t.Run("dead-letter", func(t *testing.T) {
		p, sink := build()
		dl := &runnertest.Sink[sdk.DeadLetter]{}
		st := mustRun(t, p, Options{Parallelism: 2, DeadLetters: dl})
		if st.DeadLettered != 3 || st.Skipped != 0 || st.RowsIn != 5 || st.RowsOut != 2 {
			t.Errorf("stats %+v", st)
		}
		var got []string
		for _, d := range dl.Values() {
			got = append(got, d.Source+": "+d.Reason)
		}
		slices.Sort(got)
		want := []string{
			"split-000 row 1: negative value",
			"split-001 row 0: negative value",
			// ops' source adapter numbers records among those the reader
			// returned, so the row rejected by the reader is not counted.
			"split-001 record 0: missing event time (Timestamps option)",
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("dead letters %q, want %q", got, want)
		}
		if n := len(sink.Values()); n != 2 {
			t.Errorf("sink got %d rows, want 2", n)
		}
	})
	t.Run("dead-letter-counted-only", func(t *testing.T) {
		p, _ := build()
		if st := mustRun(t, p, Options{}); st.DeadLettered != 3 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("skip", func(t *testing.T) {
		p, _ := build()
		dl := &runnertest.Sink[sdk.DeadLetter]{}
		st := mustRun(t, p, Options{OnError: Skip, DeadLetters: dl})
		if st.Skipped != 3 || st.DeadLettered != 0 || len(dl.Values()) != 0 {
			t.Errorf("stats %+v, %d dead letters written", st, len(dl.Values()))
		}
	})
	t.Run("fail", func(t *testing.T) {
		p, sink := build()
		_, err := Run(t.Context(), p, Options{OnError: Fail})
		var bad *BadRecordError
		if !errors.As(err, &bad) {
			t.Fatalf("err = %v, want a *BadRecordError", err)
		}
		if want := "runner: bad record at split-000 row 1: negative value"; err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
		if n := len(sink.Values()); n != 0 {
			t.Errorf("failed job committed %d rows", n)
		}
	})
}

func boom(x ev) ev {
	if x.V == 2 {
		panic(fmt.Sprintf("value %d\nsecond line", x.V))
	}
	return x
}

func TestPanicIsOneLineError(t *testing.T) {
	p := sdk.NewPipeline()
	sink := &runnertest.Sink[ev]{}
	sdk.Write(sdk.Map(read(p, &runnertest.Source[ev]{Data: [][]ev{{e("a", 1, 1), e("a", 2, 2)}, {e("b", 1, 1)}}}), boom), sink)
	_, err := Run(t.Context(), p, Options{Parallelism: 2})
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PanicError", err)
	}
	if want := `runner: transform "runner.boom" panicked: value 2`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	opened, closed, commits, _ := sink.Counts()
	if opened != closed || commits != 0 || len(sink.Values()) != 0 {
		t.Errorf("sink opened %d closed %d commits %d rows %d", opened, closed, commits, len(sink.Values()))
	}
}

func TestSinkErrorNamesTransform(t *testing.T) {
	p := sdk.NewPipeline()
	sink := &runnertest.Sink[ev]{WriteErr: func(x ev) error {
		if x.V == 3 {
			return errors.New("disk full")
		}
		return nil
	}}
	log := &recLog{}
	in := read(p, &runnertest.Source[ev]{Data: [][]ev{{e("a", 1, 1)}, {e("a", 3, 1)}}})
	n := addNode[ev](p, "Rec", newRecorder[ev](log, nil), nil, graph.Edge{From: nodeOf(p, in.Name())})
	writeNode[ev](p, n, sink)
	_, err := Run(t.Context(), p, Options{Parallelism: 2})
	if want := `transform "Write": disk full`; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if log.opened != log.closed {
		t.Errorf("operators opened %d, closed %d", log.opened, log.closed)
	}
	// A task the failure aborted before it opened never opens its writer.
	if opened, closed, commits, _ := sink.Counts(); opened < 1 || closed != opened || commits != 0 {
		t.Errorf("sink opened %d closed %d commits %d, want every opened one closed and none committed", opened, closed, commits)
	}
}

func TestCancelStopsPromptly(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p := sdk.NewPipeline()
	sink := &runnertest.Sink[ev]{OnWrite: func(n int) {
		if n >= 10_000 {
			cancel()
		}
	}}
	in := read(p, &runnertest.Source[ev]{Data: genData(4, 4, 1000), Endless: true})
	log := &recLog{}
	n := addNode[ev](p, "Keyed", newRecorder[ev](log, nil), keyOf, graph.Edge{From: nodeOf(p, in.Name())})
	writeNode[ev](p, n, sink)
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, p, Options{Parallelism: 4})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if log.opened != log.closed {
		t.Errorf("operators opened %d, closed %d", log.opened, log.closed)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

func TestPipelineErrorIsReturned(t *testing.T) {
	p := sdk.NewPipeline()
	sdk.Write(sdk.Read[ev](p, &runnertest.Source[ev]{}), &runnertest.Sink[ev]{}) // no event time
	_, err := Run(t.Context(), p, Options{})
	if err == nil || !strings.Contains(err.Error(), "has no event time") {
		t.Fatalf("err = %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, ""},
		{Options{Parallelism: -1}, "Parallelism"},
		{Options{Parallelism: 200}, "exceeds MaxParallelism"},
		{Options{MaxParallelism: -3}, "MaxParallelism"},
		{Options{Mode: Stream, PerfectWatermark: true}, "PerfectWatermark"},
		{Options{OnError: 9}, "OnError"},
		{Options{BatchSize: -1}, "BatchSize"},
		{Options{ExistingOutput: 7}, "ExistingOutput"},
		{Options{MaxParallelism: MaxParallelismLimit}, ""},
		{Options{MaxParallelism: MaxParallelismLimit + 1}, "MaxParallelism 32769 out of range; use 1 to 32768"},
		{Options{Parallelism: 40000, MaxParallelism: 40000}, "MaxParallelism 40000 out of range"},
		{Options{StateMemory: -1}, "StateMemory"},
		{Options{CheckpointRetain: -1}, "CheckpointRetain"},
		{Options{CheckpointDir: "ck", SavepointDir: "ck/"}, "SavepointDir ck/ overlaps CheckpointDir ck"},
		{Options{CheckpointDir: "ck", SavepointDir: "ck/sp"}, "overlaps"},
		{Options{CheckpointDir: "sp/ck", SavepointDir: "sp"}, "overlaps"},
		{Options{CheckpointDir: "ck", SavepointDir: "ck-sp"}, ""},
	} {
		tc.o.EnsureDefaults()
		err := tc.o.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.o, err, tc.want)
		}
	}
}

type panicSplits struct{ runnertest.Source[ev] }

func (*panicSplits) Splits(context.Context) ([]sdk.Split, error) { panic("no splits today") }

func TestPanicsAnywhereAreErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(p *sdk.Pipeline)
		want  string
	}{
		{"operator factory", func(p *sdk.Pipeline) {
			in := read(p, &runnertest.Source[ev]{Data: [][]ev{{e("a", 1, 1)}}})
			addNode[ev](p, "Factory", func() graph.Operator { panic("cannot make") }, nil, graph.Edge{From: nodeOf(p, in.Name())})
		}, `runner: transform "Factory" panicked: cannot make`},
		{"source read", func(p *sdk.Pipeline) {
			in := read(p, &runnertest.Source[ev]{Data: [][]ev{{e("a", 1, 1)}}, ReadErr: func(string, int) error { panic("disk on fire") }}, sdk.Named("Txns"))
			sdk.Write(in, &runnertest.Sink[ev]{})
		}, `runner: transform "Txns" panicked: disk on fire`},
		{"source splits", func(p *sdk.Pipeline) {
			sdk.Write(read(p, &runnertest.Source[ev]{}), &runnertest.Sink[ev]{})
			sdk.Write(sdk.Read[ev](p, &panicSplits{}, sdk.Timestamps(evTime), sdk.Named("Bad")), &runnertest.Sink[ev]{})
		}, `runner: transform "Bad" panicked: no splits today`},
		{"source read error", func(p *sdk.Pipeline) {
			in := read(p, &runnertest.Source[ev]{Data: [][]ev{{e("a", 1, 1)}}, ReadErr: func(string, int) error { return errors.New("EIO") }}, sdk.Named("Txns"))
			sdk.Write(in, &runnertest.Sink[ev]{})
		}, `read split split-000 of "Txns": EIO`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := sdk.NewPipeline()
			tc.build(p)
			_, err := Run(t.Context(), p, Options{Parallelism: 2})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRegisteredWithSDK(t *testing.T) {
	p := sdk.NewPipeline()
	sink := &runnertest.Sink[ev]{}
	sdk.Write(read(p, &runnertest.Source[ev]{Data: [][]ev{{e("a", 1, 1)}}}), sink)
	if err := sdk.Run(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if got := len(sink.Values()); got != 1 {
		t.Fatalf("sink got %d rows, want 1", got)
	}
}
