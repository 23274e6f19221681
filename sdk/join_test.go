package sdk

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/keyed"
	"github.com/weirflow/weir/state"
)

// joinHarness drives the operator of a join built on two string inputs
// ("key:name" records) by hand: records at given times on either input,
// watermarks, and a look at what each side keeps in state.
type joinHarness struct {
	t       *testing.T
	op      graph.Operator
	view    keyed.View
	out     *sdkCollect
	metrics *graph.Metrics
}

func newJoinHarness(t *testing.T, build func(l, r Keyed[string, string]) PCollection[string]) *joinHarness {
	p := NewPipeline()
	key := func(v string) string { k, _, _ := strings.Cut(v, ":"); return k }
	ts := Timestamps(func(string) time.Time { return time.Time{} })
	l := KeyBy(Read[string](p, nullSource[string]{}, ts), key)
	r := KeyBy(Read[string](p, nullSource[string]{}, ts), key)
	build(l, r)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	node := p.Graph().Nodes[2]
	if !node.Stateful || len(node.Inputs) != 2 || node.Inputs[0].Partitioner == nil || node.Inputs[1].Partitioner == nil {
		t.Fatalf("join node %s: stateful %v, %d inputs", node.Name, node.Stateful, len(node.Inputs))
	}
	b, err := state.Open(state.Options{Dir: "db", FS: vfs.NewMem(), MaxParallelism: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	h := &joinHarness{t: t, op: node.NewOperator(), view: keyed.NewView(b, node.Name), out: &sdkCollect{}, metrics: &graph.Metrics{}}
	if err := h.op.Open(graph.OpContext{MaxParallelism: 16, State: h.view, Metrics: h.metrics}, []graph.Output{h.out}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.op.Close() })
	return h
}

// run executes a script: "L key:name@ts" and "R key:name@ts" send a record
// on the left or right input (with " mark=ts", in a batch that carries
// marks: the watermark of the record's split before it), "W ts" advances the watermark, "out a, b"
// expects exactly those outputs (sorted, "value@time") since the last
// "out", "late n" the late count, "state key name=n ..." the number of
// entries (time buckets) of the join's map states for key.
func (h *joinHarness) run(script string) {
	t := h.t
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(script), "\n") {
		line = strings.TrimSpace(line)
		cmd, arg, _ := strings.Cut(line, " ")
		switch cmd {
		case "L", "R":
			arg, markArg, marked := strings.Cut(arg, " mark=")
			v, at, _ := strings.Cut(arg, "@")
			ts, err := strconv.ParseInt(at, 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			in := base.NewBatch[string](1)
			if marked {
				mark, err := strconv.ParseInt(markArg, 10, 64)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				in.AppendMarked(v, base.Timestamp(ts), base.Timestamp(mark))
			} else {
				in.Append(v, base.Timestamp(ts))
			}
			if err := h.op.Process(map[string]int{"L": 0, "R": 1}[cmd], in); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
		case "W":
			ts, err := strconv.ParseInt(arg, 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if err := h.op.Watermark(base.Timestamp(ts)); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
		case "out":
			var want []string
			for w := range strings.SplitSeq(arg, ",") {
				if w = strings.TrimSpace(w); w != "" {
					want = append(want, w)
				}
			}
			got := h.out.rows
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: emitted %q", line, got)
			}
			h.out.rows = nil
		case "late":
			if got := strconv.FormatInt(h.metrics.Late.Load(), 10); got != arg {
				t.Fatalf("%s: %s late", line, got)
			}
		case "state":
			f := strings.Fields(arg)
			for _, kv := range f[1:] {
				name, n, _ := strings.Cut(kv, "=")
				if got := strconv.Itoa(h.buckets(f[0], name)); got != n {
					t.Fatalf("%s: %s has %s entries", line, name, got)
				}
			}
		default:
			t.Fatalf("bad script line %q", line)
		}
	}
}

// buckets counts the entries of the map state name for key.
//
// The temporal join keeps a list and a value: "pending" counts the
// records waiting, "versions" the versions waiting plus the current one.
func (h *joinHarness) buckets(key, name string) int {
	h.t.Helper()
	kg := uint16(base.KeyGroupOf(base.BuiltinHash[string]()(key), 16))
	kc, _ := CodecOf[string]()
	k := kc.AppendKey(nil, &key)
	if name == "pending" || name == "versions" {
		// Stored elements and values start with the process operator's
		// tag byte (no TTL: 0), then the join's.
		want := tagRow
		if name == "versions" {
			want = tagVersion
		}
		l, err := h.view.List("state/waiting")
		if err != nil {
			h.t.Fatal(err)
		}
		n := 0
		if err := l.Iterate(kg, k, func(e []byte) error {
			if len(e) > 1 && e[1] == want {
				n++
			}
			return nil
		}); err != nil {
			h.t.Fatal(err)
		}
		if name == "versions" {
			v, err := h.view.Value("state/meta")
			if err != nil {
				h.t.Fatal(err)
			}
			if raw, ok, err := v.Get(kg, k); err != nil {
				h.t.Fatal(err)
			} else if ok && len(raw) > 1 && raw[1]&metaCurrent != 0 {
				n++
			}
		}
		return n
	}
	m, err := h.view.Map("state/" + name)
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	if err := m.Iterate(kg, k, func(_, _ []byte) error { n++; return nil }); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestIntervalJoinOperator(t *testing.T) {
	join := func(l, r Keyed[string, string]) PCollection[string] {
		// Right records within [l.ts-25, l.ts+30].
		return IntervalJoin(l, r, -25*time.Microsecond, 30*time.Microsecond, func(a, b string) string { return a + "+" + b })
	}
	for _, tc := range []struct{ name, script string }{
		{"both orders, at the later time", `
			L k:a@100
			R k:b@90
			R j:x@95
			R k:c@131
			R k:d@130
			out k:a+k:b@100, k:a+k:d@130
			L k:e@105
			out k:e+k:b@105, k:e+k:d@130, k:e+k:c@131
			state k left=2 right=3`},
		{"a right record is kept until the watermark passes ts-lower", `
			R k:r@100
			W 124
			state k right=1
			L k:l@125
			out k:l+k:r@125
			W 125
			state k left=1 right=0
			L k:m@126
			out`},
		{"a left record is kept until the watermark passes ts+upper", `
			L k:l@100
			W 129
			state k left=1
			R k:r@130
			out k:l+k:r@130
			W 130
			state k left=0 right=1
			R k:s@131
			out
			W 155
			state k left=0 right=1
			W 156
			state k left=0 right=0`},
		{"late records are counted and dropped", `
			R k:r@100
			W 120
			L k:late@120
			R k:late@119
			out
			late 2
			L k:l@121
			out k:l+k:r@121
			late 2`},
		{"both bounds are inclusive", `
			W 150
			R k:r@201
			L k:l@226
			L k:m@171
			L k:n@227
			L k:o@170
			out k:l+k:r@226, k:m+k:r@201
			state k left=4 right=1`},
	} {
		t.Run(tc.name, func(t *testing.T) { newJoinHarness(t, join).run(tc.script) })
	}
}

func TestTemporalJoinOperator(t *testing.T) {
	join := func(l, r Keyed[string, string]) PCollection[string] {
		return TemporalJoin(l, r, func(a, v string, ok bool) string {
			if !ok {
				return a + "+none"
			}
			return a + "+" + v
		})
	}
	for _, tc := range []struct{ name, script string }{
		{"the version current at the row's time, once the watermark passes it", `
			L k:a@100
			R k:v1@90
			R k:v3@101
			L k:b@101
			R k:v2@100
			W 99
			out
			W 100
			out k:a+k:v2@100
			W 101
			out k:b+k:v3@101`},
		{"no version yet: a left join", `
			R k:v@60
			L k:a@50
			L j:b@70
			W 70
			out k:a+none@50, j:b+none@70`},
		{"versions older than the newest behind the watermark are dropped", `
			R k:v1@10
			R k:v2@20
			R k:v3@30
			R k:v4@40
			W 25
			R k:v5@50
			state k versions=4
			W 35
			R k:v6@60
			state k versions=4 pending=0
			L k:a@36
			W 40
			out k:a+k:v3@36
			state k versions=3 pending=0
			R k:v7@70
			state k versions=4
			W 100
			state k versions=1`},
		{"a round of timers keeps the versions its later rows need", `
			R k:v4@4
			R k:v9@9
			L k:a@5
			L k:b@8
			W 10
			out k:a+k:v4@5, k:b+k:v4@8`},
		{"a late row and a late version are counted and dropped", `
			W 100
			L k:late@100
			L k:a@110
			R k:v@95
			W 110
			out k:a+none@110
			late 2`},
		{"lateness is judged by a record's own split's mark", `
			W 100
			L k:a@110 mark=115
			R k:v@105 mark=105
			R k:w@108 mark=90
			L k:b@120 mark=90
			W 200
			out k:b+k:w@120
			late 2`},
		{"the last of two versions at one time wins", `
			R k:v1@10
			R k:v2@10
			L k:a@10
			W 10
			out k:a+k:v2@10`},
	} {
		t.Run(tc.name, func(t *testing.T) { newJoinHarness(t, join).run(tc.script) })
	}
}

func TestJoinConstructionErrors(t *testing.T) {
	p := NewPipeline()
	ts := Timestamps(func(noCodec) time.Time { return time.Time{} })
	l := KeyBy(Read[noCodec](p, nullSource[noCodec]{}, ts), idOf)
	r := KeyBy(Read[string](p, nullSource[string]{}, Timestamps(func(string) time.Time { return time.Time{} })), func(s string) string { return s })
	IntervalJoin(l, r, time.Second, -time.Second, func(noCodec, string) int { return 0 }, Named("ij"))
	TemporalJoin[string, noCodec, string, int](l, r, nil, Named("tj"))
	other := KeyBy(Read[string](NewPipeline(), nullSource[string]{}, Timestamps(func(string) time.Time { return time.Time{} })), func(s string) string { return s })
	CoProcess(r, other, CoProcessFuncs[string, string, string, int]{}, Named("cp"))
	CoGroup(l, r, Tumbling(time.Second), Named("cg"))
	WindowJoin[string, string, string, int](r, r, Tumbling(time.Second), JoinType(7), nil, Named("wj"))
	want := []string{
		`sdk: IntervalJoin "ij": lower bound 1s above upper bound -1s`,
		`sdk: IntervalJoin "ij": sdk: type sdk.noCodec has no codec`,
		`sdk: TemporalJoin "tj": nil join function`,
		`sdk: TemporalJoin "tj": sdk: type sdk.noCodec has no codec`,
		`sdk: CoProcess "cp": collections from different pipelines`,
		`sdk: CoProcess "cp": nil process function`,
		`sdk: CoGroup "cg": sdk: type sdk.noCodec has no codec`,
		`sdk: WindowJoin "wj": nil join function`,
		`sdk: WindowJoin "wj": unknown join type 7`,
	}
	wantErrors(t, p.Err(), want)
}

var (
	joinKeys = flag.Int("join-keys", 20, "TestJoinStateBounded: keys")
	joinRate = flag.Int("join-rate", 100, "TestJoinStateBounded: records per second of event time, each input")
)

// TestJoinStateBounded streams ten minutes of event time through each
// join (two inputs of 100 records/s each over 20 keys, disordered within
// the bound, the watermark trailing by the bound) and counts what the
// join keeps in state at the end of each minute: once the watermark
// moves, the count stays flat instead of growing with the input.
//
// -join-keys and -join-rate scale it (the figure in benchmarks/RESULTS.md:
// -join-keys=2000 -join-rate=10000, 20k events/s).
func TestJoinStateBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("ten minutes of event time through each join; -short skips it")
	}
	keys, perSec := *joinKeys, int64(*joinRate)
	const bound = 2000 // ms of disorder, and of the watermark's lag
	for _, tc := range []struct {
		name   string
		states []string
		build  func(l, r Keyed[string, string]) PCollection[string]
	}{
		{"interval", []string{"left", "right"}, func(l, r Keyed[string, string]) PCollection[string] {
			return IntervalJoin(l, r, -time.Second, time.Second, func(a, b string) string { return "" })
		}},
		{"temporal", []string{"pending", "versions"}, func(l, r Keyed[string, string]) PCollection[string] {
			return TemporalJoin(l, r, func(a, b string, ok bool) string { return "" })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newJoinHarness(t, tc.build)
			h.out = &sdkCollect{}
			rnd := rand.New(rand.NewPCG(1, 2))
			step := int64(time.Second) / perSec / 1000 // µs between records of a side
			var counts []int
			maxTS := int64(0)
			in := [2]*base.Batch[string]{base.NewBatch[string](64), base.NewBatch[string](64)}
			for i := int64(1); i <= 10*60*perSec; i++ {
				for side := range 2 {
					ts := i*step - rnd.Int64N(bound*1000/2) // disorder within the bound (ms → µs)
					in[side].Append(fmt.Sprintf("k%d:x", rnd.IntN(keys)), base.Timestamp(max(ts, 0)))
					maxTS = max(maxTS, ts)
				}
				if i%64 == 0 {
					for side := range 2 {
						if err := h.op.Process(side, in[side]); err != nil {
							t.Fatal(err)
						}
						in[side].Reset()
					}
					if err := h.op.Watermark(base.Timestamp(maxTS - bound*1000 - 1)); err != nil {
						t.Fatal(err)
					}
					h.out.rows = h.out.rows[:0]
				}
				if i%(60*perSec) == 0 {
					n := 0
					for k := range keys {
						for _, s := range tc.states {
							n += h.buckets(fmt.Sprintf("k%d", k), s)
						}
					}
					counts = append(counts, n)
				}
			}
			t.Logf("entries in state at the end of each minute: %v; late %d", counts, h.metrics.Late.Load())
			if h.metrics.Late.Load() != 0 {
				t.Fatalf("%d records late", h.metrics.Late.Load())
			}
			lo, hi := slices.Min(counts[1:]), slices.Max(counts[1:])
			if lo == 0 || float64(hi) > 1.25*float64(lo) {
				t.Fatalf("state not flat: %v", counts)
			}
		})
	}
}

// wantErrors checks that err (a pipeline's build error) holds every
// message of want.
func wantErrors(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
