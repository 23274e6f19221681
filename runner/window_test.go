package runner

import (
	"flag"
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

var seedFlag = flag.Int64("seed", 0, "seed of randomized tests (0: time-based)")

func valueOf(x ev) int { return x.V }

const µs = time.Microsecond

type sumRow = runnertest.Row[sdk.Result[string, int]]

func fmtResult(r sumRow) string {
	v := r.Value
	s := fmt.Sprintf("%s [%d,%d) %d", v.Key, int64(v.Window.Start), int64(v.Window.End), v.Value)
	if v.Pane.Index > 0 || v.Pane.Late {
		s += fmt.Sprintf(" pane %d", v.Pane.Index)
	}
	if v.Pane.Late {
		s += " late"
	}
	return s + fmt.Sprintf(" @%d", int64(r.Time))
}

func results(s *runnertest.Sink[sdk.Result[string, int]]) []string {
	var out []string
	for _, r := range s.Rows() {
		out = append(out, fmtResult(r))
	}
	slices.Sort(out)
	return out
}

// runWindow runs data through KeyBy(Key) → WindowInto(fn) → Sum(V) and
// returns the sorted results and the sorted late records.
func runWindow(t *testing.T, data [][]ev, bound time.Duration, fn sdk.WindowFn, lateness time.Duration, opts Options) (res, late []string, st Stats) {
	t.Helper()
	p := sdk.NewPipeline()
	src := &runnertest.Source[ev]{Data: data, ReadSize: 1, Stats: true}
	win := sdk.WindowInto(sdk.KeyBy(read(p, src, sdk.BoundedOutOfOrderness(bound)), keyOf), fn, sdk.AllowedLateness(lateness))
	out := &runnertest.Sink[sdk.Result[string, int]]{}
	lateSink := &runnertest.Sink[ev]{}
	sdk.Write(sdk.Aggregate(win, sdk.Sum(valueOf)), out)
	sdk.Write(sdk.LateData(win), lateSink, sdk.Named("Late"))
	st = mustRun(t, p, opts)
	return results(out), sortedStrings(lateSink.Values()), st
}

func TestWindows(t *testing.T) {
	min, max := int64(sdk.MinTimestamp), int64(sdk.MaxTimestamp)
	for _, tc := range []struct {
		name     string
		data     [][]ev
		bound    time.Duration
		fn       sdk.WindowFn
		lateness time.Duration
		want     []string
		late     []string
	}{
		{
			name: "tumbling edges and before 1970",
			data: [][]ev{{e("a", 1, -11), e("a", 2, -10), e("a", 4, -1), e("a", 8, 0), e("a", 16, 9), e("a", 32, 10), e("a", 64, 19)}, {e("b", 1, 0)}},
			fn:   sdk.Tumbling(10 * µs),
			want: []string{
				"a [-20,-10) 1 @-11", "a [-10,0) 6 @-1", "a [0,10) 24 @9", "a [10,20) 96 @19", "b [0,10) 1 @9",
			},
		},
		{
			name: "tumbling with offset",
			data: [][]ev{{e("a", 1, 2), e("a", 2, 3), e("a", 4, 12)}},
			fn:   sdk.Tumbling(10 * µs).WithOffset(3 * µs),
			want: []string{"a [-7,3) 1 @2", "a [3,13) 6 @12"},
		},
		{
			name: "sliding",
			data: [][]ev{{e("a", 1, 0), e("a", 2, 4), e("a", 4, 5), e("a", 8, 12)}},
			fn:   sdk.Sliding(10*µs, 5*µs),
			want: []string{"a [-5,5) 3 @4", "a [0,10) 7 @9", "a [10,20) 8 @19", "a [5,15) 12 @14"},
		},
		{
			name:  "session merge bridging two sessions out of order",
			data:  [][]ev{{e("a", 1, 0), e("a", 2, 5), e("a", 4, 30), e("a", 8, 38), e("a", 16, 100)}, {e("b", 1, 0), e("b", 2, 18), e("b", 4, 9)}},
			bound: 20 * µs,
			fn:    sdk.Session(10 * µs),
			want:  []string{"a [0,15) 3 @14", "a [100,110) 16 @109", "a [30,48) 12 @47", "b [0,28) 7 @27"},
		},
		{
			name: "global",
			data: [][]ev{{e("a", 1, -5), e("a", 2, 1_000_000)}, {e("a", 4, 0), e("b", 8, 7)}},
			fn:   sdk.Global(),
			want: []string{fmt.Sprintf("a [%d,%d) 7 @%d", min, max, max), fmt.Sprintf("b [%d,%d) 8 @%d", min, max, max)},
		},
		{
			name:     "late within and beyond allowed lateness",
			data:     [][]ev{{e("a", 1, 0), e("a", 2, 5), e("a", 4, 12), e("a", 8, 3), e("a", 16, 15), e("a", 32, 7)}},
			fn:       sdk.Tumbling(10 * µs),
			lateness: 5 * µs,
			want:     []string{"a [0,10) 11 pane 1 late @9", "a [0,10) 3 @9", "a [10,20) 20 @19"},
			late:     []string{"a/32@7"},
		},
		{
			name: "late without allowed lateness",
			data: [][]ev{{e("a", 1, 0), e("a", 2, 10), e("a", 4, 9), e("a", 8, 11)}},
			fn:   sdk.Tumbling(10 * µs),
			want: []string{"a [0,10) 1 @9", "a [10,20) 10 @19"},
			late: []string{"a/4@9"},
		},
		{
			name:  "disorder within the bound is on time",
			data:  [][]ev{{e("a", 1, 0), e("a", 2, 10), e("a", 4, 9), e("a", 8, 11)}},
			bound: 1 * µs,
			fn:    sdk.Tumbling(10 * µs),
			want:  []string{"a [0,10) 5 @9", "a [10,20) 10 @19"},
		},
	} {
		pars := []int{1, 3}
		if tc.late != nil {
			// Whether a record is late depends on the watermark its
			// operator has seen, the minimum over every source task: with
			// several tasks that depends on how far each got.
			pars = pars[:1]
		}
		for _, par := range pars {
			t.Run(fmt.Sprintf("%s/p%d", tc.name, par), func(t *testing.T) {
				got, late, st := runWindow(t, tc.data, tc.bound, tc.fn, tc.lateness, Options{Parallelism: par})
				slices.Sort(tc.want)
				if !slices.Equal(got, tc.want) {
					t.Errorf("results\n got  %q\n want %q", got, tc.want)
				}
				if !slices.Equal(late, tc.late) {
					t.Errorf("late\n got  %q\n want %q", late, tc.late)
				}
				if st.Late != int64(len(tc.late)) {
					t.Errorf("Late metric %d, want %d", st.Late, len(tc.late))
				}
			})
		}
	}
}

// TestWindowParity: the same events, each within the bound of disorder
// inside its split, give the same results at any parallelism and with a
// perfect watermark.
func TestWindowParity(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	rnd := rand.New(rand.NewSource(seed))
	const bound = 50
	var data [][]ev
	for s := range 6 {
		var split []ev
		ts := int64(rnd.Intn(200)) - 100
		for i := range 300 {
			ts += int64(rnd.Intn(10))
			jitter := int64(rnd.Intn(bound + 1)) // never more than bound behind the max
			split = append(split, e(fmt.Sprintf("k%d", rnd.Intn(7)), s*1000+i, ts-jitter))
		}
		data = append(data, split)
	}
	for _, fn := range []sdk.WindowFn{sdk.Tumbling(40 * µs), sdk.Sliding(60*µs, 20*µs), sdk.Session(15 * µs)} {
		t.Run(fn.String(), func(t *testing.T) {
			want, late, _ := runWindow(t, data, bound*µs, fn, 0, Options{PerfectWatermark: true})
			if len(late) != 0 {
				t.Fatalf("perfect watermark made %d records late", len(late))
			}
			for _, o := range []Options{
				{Parallelism: 1},
				{Parallelism: 4, BatchSize: 16},
				{Parallelism: 3, Mode: Stream},
			} {
				got, late, _ := runWindow(t, data, bound*µs, fn, 0, o)
				if len(late) != 0 {
					t.Fatalf("%+v: %d records late, first %s", o, len(late), late[0])
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%+v: %d results differ from the perfect watermark's %d", o, len(got), len(want))
				}
			}
		})
	}
}

// TestLateDataBeforeAggregate: LateData called before Aggregate puts the
// late node ahead of its input in the graph's slice.
func TestLateDataBeforeAggregate(t *testing.T) {
	p := sdk.NewPipeline()
	data := [][]ev{{e("a", 1, 0), e("a", 2, 10), e("a", 4, 9)}}
	win := sdk.WindowInto(sdk.KeyBy(read(p, &runnertest.Source[ev]{Data: data, ReadSize: 1}), keyOf), sdk.Tumbling(10*µs))
	lateSink := &runnertest.Sink[ev]{}
	sdk.Write(sdk.LateData(win), lateSink, sdk.Named("Late"))
	out := &runnertest.Sink[sdk.Result[string, int]]{}
	sdk.Write(sdk.Aggregate(win, sdk.Sum(valueOf)), out)
	sdk.Write(sdk.Aggregate(win, sdk.Sum(func(x ev) int { return 100 * x.V }), sdk.Named("Hundreds")), out)
	st := mustRun(t, p, Options{})
	if got, want := results(out), []string{"a [0,10) 1 @9", "a [0,10) 100 @9", "a [10,20) 2 @19", "a [10,20) 200 @19"}; !slices.Equal(got, want) {
		t.Errorf("results %q, want %q", got, want)
	}
	// Each aggregation sends the late record to the one LateData output.
	if got, want := sortedStrings(lateSink.Values()), []string{"a/4@9", "a/4@9"}; !slices.Equal(got, want) {
		t.Errorf("late %q, want %q", got, want)
	}
	if st.Late != 2 {
		t.Errorf("Late = %d, want 2", st.Late)
	}
}
