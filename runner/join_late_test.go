package runner

import (
	"slices"
	"testing"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// withLate makes about one row in 30 of every split of d (after its first
// 40) late: behind the largest time before it in its split by more than
// the bound. It returns the data and the late rows of each side.
func withLate(d joinData) (out joinData, lateLeft, lateRight []string) {
	mark := func(splits [][]ev) (late []string) {
		for _, s := range splits {
			var maxSeen base.Timestamp
			for i := range s {
				ts := base.FromTime(s[i].At)
				if i >= 40 && i%30 == 7 {
					ts = maxSeen - base.Timestamp(d.bound.Microseconds()) - 1 - base.Timestamp(i%5)
					s[i].At = ts.Time()
				}
				if i > 0 && ts <= maxSeen-base.Timestamp(d.bound.Microseconds())-1 {
					late = append(late, s[i].String())
				}
				if i == 0 || ts > maxSeen {
					maxSeen = ts
				}
			}
		}
		slices.Sort(late)
		return late
	}
	lateLeft, lateRight = mark(d.left), mark(d.right)
	return d, lateLeft, lateRight
}

// onTime is d without the rows named in late.
func onTime(d joinData, lateLeft, lateRight []string) joinData {
	keep := func(splits [][]ev, late []string) [][]ev {
		var out [][]ev
		for _, s := range splits {
			var k []ev
			for _, x := range s {
				if _, found := slices.BinarySearch(late, x.String()); !found {
					k = append(k, x)
				}
			}
			out = append(out, k)
		}
		return out
	}
	return joinData{left: keep(d.left, lateLeft), right: keep(d.right, lateRight), bound: d.bound}
}

// TestJoinLateRows: rows later than the bound within their own split are
// late for both joins whatever the parallelism, the mode and the batch
// size: the main output is the reference's over the on-time rows, and the
// side outputs LateLeft and LateRight hold exactly the late rows of each
// side.
func TestJoinLateRows(t *testing.T) {
	d, lateLeft, lateRight := withLate(genJoinData(17, 3, 400, 6))
	if len(lateLeft) < 10 || len(lateRight) < 10 {
		t.Fatalf("%d and %d late rows: too few", len(lateLeft), len(lateRight))
	}
	clean := onTime(d, lateLeft, lateRight)
	for _, kind := range []joinKind{intervalJoin, temporalJoin} {
		t.Run(kind.String(), func(t *testing.T) {
			want := refIntervalJoin(clean, joinLower, joinUpper)
			if kind == temporalJoin {
				want = refTemporalJoin(clean)
			}
			for _, o := range []Options{
				{Parallelism: 1},
				{Parallelism: 2, BatchSize: 16},
				{Parallelism: 4, Mode: Stream, BatchSize: 8},
			} {
				out := &runnertest.Sink[string]{}
				ll, lr := &runnertest.Sink[ev]{}, &runnertest.Sink[ev]{}
				st := mustRun(t, lateJob(kind, d, out, ll, lr), o)
				if got := stamped(out); !slices.Equal(got, want) {
					sameResults(t, got, want)
					t.Fatalf("%+v: same rows, other order?", o)
				}
				if got := sortedStrings(ll.Values()); !slices.Equal(got, lateLeft) {
					t.Errorf("%+v: late left %v, want %v", o, got, lateLeft)
				}
				if got := sortedStrings(lr.Values()); !slices.Equal(got, lateRight) {
					t.Errorf("%+v: late right %v, want %v", o, got, lateRight)
				}
				if want := int64(len(lateLeft) + len(lateRight)); st.Late != want {
					t.Errorf("%+v: %d late, want %d", o, st.Late, want)
				}
			}
		})
	}
}

// lateJob is joinJob with the late rows of each side written to ll and lr.
func lateJob(kind joinKind, d joinData, out *runnertest.Sink[string], ll, lr *runnertest.Sink[ev]) *sdk.Pipeline {
	p, joined := joinPipeline(kind, d, out, nil)
	sdk.Write(sdk.SideOutput(joined, sdk.LateLeft[ev]()), ll, sdk.Named("late-left"))
	sdk.Write(sdk.SideOutput(joined, sdk.LateRight[ev]()), lr, sdk.Named("late-right"))
	return p
}
