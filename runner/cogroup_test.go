package runner

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// coWindow is a window kind of the co-group tests, with the naive
// assignment the reference uses.
type coWindow struct {
	fn   sdk.WindowFn
	size int64 // tumbling and sliding; the gap of a session
	step int64 // the slide; 0 for sessions
}

// refGroups is the naive co-group: key and window → the values of each
// side, sorted.
func refGroups(d joinData, w coWindow) map[string][2][]int {
	type rec struct {
		ts    int64
		v     int
		right bool
	}
	byKey := map[string][]rec{}
	for side, splits := range [][][]ev{d.left, d.right} {
		for _, x := range flat(splits) {
			byKey[x.Key] = append(byKey[x.Key], rec{int64(base.FromTime(x.At)), x.V, side == 1})
		}
	}
	groups := map[string][2][]int{}
	add := func(k string, start, end int64, r rec) {
		id := fmt.Sprintf("%s [%d,%d)", k, start, end)
		g := groups[id]
		if r.right {
			g[1] = append(g[1], r.v)
		} else {
			g[0] = append(g[0], r.v)
		}
		groups[id] = g
	}
	for k, rs := range byKey {
		if w.step == 0 { // sessions: [ts, ts+gap) merged while they overlap
			sort.Slice(rs, func(i, j int) bool { return rs[i].ts < rs[j].ts })
			for i := 0; i < len(rs); {
				start, end, j := rs[i].ts, rs[i].ts+w.size, i
				for j < len(rs) && rs[j].ts < end {
					end = max(end, rs[j].ts+w.size)
					j++
				}
				for _, r := range rs[i:j] {
					add(k, start, end, r)
				}
				i = j
			}
			continue
		}
		for _, r := range rs {
			last := base.FloorDiv(r.ts, w.step) * w.step
			for s := last; s > r.ts-w.size; s -= w.step {
				add(k, s, s+w.size, r)
			}
		}
	}
	for id, g := range groups {
		slices.Sort(g[0])
		slices.Sort(g[1])
		groups[id] = g
	}
	return groups
}

func refCoGroup(d joinData, w coWindow) []string {
	var out []string
	for id, g := range refGroups(d, w) {
		out = append(out, fmt.Sprintf("%s L%v R%v", id, g[0], g[1]))
	}
	slices.Sort(out)
	return out
}

func refWindowJoin(d joinData, w coWindow, typ sdk.JoinType) []string {
	var out []string
	for id, g := range refGroups(d, w) {
		k, _, _ := strings.Cut(id, " ")
		for _, a := range g[0] {
			for _, b := range g[1] {
				out = append(out, fmt.Sprintf("%s %d %d", k, a, b))
			}
		}
		if len(g[1]) == 0 && typ != sdk.InnerJoin {
			for _, a := range g[0] {
				out = append(out, fmt.Sprintf("%s %d -", k, a))
			}
		}
		if len(g[0]) == 0 && typ == sdk.FullOuterJoin {
			for _, b := range g[1] {
				out = append(out, fmt.Sprintf("%s - %d", k, b))
			}
		}
	}
	slices.Sort(out)
	return out
}

func coGroupString(r sdk.Result[string, sdk.CoGroupResult[ev, ev]]) string {
	var l, rr []int
	for _, x := range r.Value.Left {
		l = append(l, x.V)
	}
	for _, x := range r.Value.Right {
		rr = append(rr, x.V)
	}
	slices.Sort(l)
	slices.Sort(rr)
	return fmt.Sprintf("%s [%d,%d) L%v R%v", r.Key, r.Window.Start, r.Window.End, l, rr)
}

func joinSides(p *sdk.Pipeline, d joinData) (sdk.Keyed[string, ev], sdk.Keyed[string, ev]) {
	ls := &runnertest.Source[ev]{Data: d.left, ReadSize: 8}
	rs := &runnertest.Source[ev]{Data: d.right, ReadSize: 8}
	key := func(x ev) string { return x.Key }
	return sdk.KeyBy(read(p, ls, sdk.BoundedOutOfOrderness(d.bound)), key), sdk.KeyBy(read(p, rs, sdk.BoundedOutOfOrderness(d.bound)), key)
}

var coOptions = []Options{
	{Parallelism: 1},
	{Parallelism: 2, BatchSize: 16},
	{Parallelism: 4, Mode: Stream},
}

// TestCoGroupAgainstReference: CoGroup in tumbling, sliding and session
// windows gives the groups of a naive reference, at parallelism 1, 2 and
// 4, in batch and stream mode.
func TestCoGroupAgainstReference(t *testing.T) {
	d := genJoinData(11, 3, 300, 5)
	for _, w := range []coWindow{
		{sdk.Tumbling(50 * µs), 50, 50},
		{sdk.Sliding(60*µs, 20*µs), 60, 20},
		{sdk.Session(6 * µs), 6, 0},
	} {
		t.Run(w.fn.String(), func(t *testing.T) {
			want := refCoGroup(d, w)
			if len(want) < 50 {
				t.Fatalf("only %d reference groups", len(want))
			}
			for _, o := range coOptions {
				p := sdk.NewPipeline()
				l, r := joinSides(p, d)
				out := &runnertest.Sink[sdk.Result[string, sdk.CoGroupResult[ev, ev]]]{}
				sdk.Write(sdk.CoGroup(l, r, w.fn), out)
				if st := mustRun(t, p, o); st.Late != 0 {
					t.Fatalf("%+v: %d late", o, st.Late)
				}
				var got []string
				for _, v := range out.Values() {
					got = append(got, coGroupString(v))
				}
				slices.Sort(got)
				sameResults(t, got, want)
			}
		})
	}
}

// TestWindowJoinAgainstReference: inner, left outer and full outer window
// joins against the naive reference.
func TestWindowJoinAgainstReference(t *testing.T) {
	d := genJoinData(12, 3, 300, 8)
	w := coWindow{sdk.Tumbling(30 * µs), 30, 30}
	for _, typ := range []sdk.JoinType{sdk.InnerJoin, sdk.LeftOuterJoin, sdk.FullOuterJoin} {
		t.Run(typ.String(), func(t *testing.T) {
			want := refWindowJoin(d, w, typ)
			outer := 0
			for _, r := range want {
				if strings.Contains(r, "-") {
					outer++
				}
			}
			if len(want) < 100 || (typ != sdk.InnerJoin) != (outer > 0) {
				t.Fatalf("%d reference rows, %d without a partner: the data does not exercise the join", len(want), outer)
			}
			for _, o := range coOptions {
				p := sdk.NewPipeline()
				l, r := joinSides(p, d)
				out := &runnertest.Sink[string]{}
				sdk.Write(sdk.WindowJoin(l, r, w.fn, typ, func(a, b *ev) string {
					k, av, bv := "", "-", "-"
					if a != nil {
						k, av = a.Key, fmt.Sprint(a.V)
					}
					if b != nil {
						k, bv = b.Key, fmt.Sprint(b.V)
					}
					return k + " " + av + " " + bv
				}), out)
				mustRun(t, p, o)
				got := out.Values()
				slices.Sort(got)
				sameResults(t, got, want)
			}
		})
	}
}
