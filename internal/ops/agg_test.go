package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

type kv struct {
	K string
	V int64
}

type sumComb struct{}

func (sumComb) Create() int64              { return 0 }
func (sumComb) Add(a int64, r kv) int64    { return a + r.V }
func (sumComb) Merge(a, b int64) int64     { return a + b }
func (sumComb) Result(a int64) int64       { return a }
func keyOf(r kv) string                    { return r.K }
func (c *collect[T]) Emit(batch any) error { c.emit(batch.(*base.Batch[T])); return nil }

type collect[T any] struct {
	rows []T
	ts   []base.Timestamp
}

func (c *collect[T]) emit(b *base.Batch[T]) {
	c.rows = append(c.rows, b.Values...)
	c.ts = append(c.ts, b.Times...)
}

// step is one input of an aggregation script: a row, or a watermark when
// wm is set.
type step struct {
	row  kv
	ts   int64
	wm   *int64
	mark *int64 // the row's split watermark before it; nil: no marks
}

func row(k string, v, ts int64) step { return step{row: kv{k, v}, ts: ts} }

// mrow is a row whose batch carries marks.
func mrow(k string, v, ts, mark int64) step {
	return step{row: kv{k, v}, ts: ts, mark: &mark}
}
func wm(t int64) step { return step{wm: &t} }

const inf = int64(base.MaxTimestamp)

// run drives an aggregation and returns its results and late rows as text,
// one line per firing in emission order (within one watermark, sorted).
func run(t *testing.T, spec WindowSpec, lateness int64, steps []step) string {
	t.Helper()
	op := NewWindowAgg(AggConfig[string, kv, int64, int64]{Spec: spec, Lateness: lateness, Key: keyOf, Comb: sumComb{}})()
	res, late := &collect[base.Result[string, int64]]{}, &collect[kv]{}
	m := &graph.Metrics{}
	if err := op.Open(graph.OpContext{Metrics: m}, []graph.Output{res, late}); err != nil {
		t.Fatal(err)
	}
	var out []string
	drain := func(prefix string) {
		var lines []string
		for i, r := range res.rows {
			lines = append(lines, fmt.Sprintf("%s%s %v=%d pane=%d late=%v ts=%s", prefix, r.Key, fmtWin(r.Window), r.Value, r.Pane.Index, r.Pane.Late, fmtTs(int64(res.ts[i]))))
		}
		for _, r := range late.rows {
			lines = append(lines, fmt.Sprintf("%slate %s/%d", prefix, r.K, r.V))
		}
		slices.Sort(lines)
		out = append(out, lines...)
		res.rows, res.ts, late.rows, late.ts = nil, nil, nil, nil
	}
	for _, s := range steps {
		if s.wm != nil {
			if err := op.Watermark(base.Timestamp(*s.wm)); err != nil {
				t.Fatal(err)
			}
			drain(fmt.Sprintf("wm %s: ", fmtTs(*s.wm)))
			continue
		}
		b := base.NewBatch[kv](1)
		if s.mark != nil {
			b.AppendMarked(s.row, base.Timestamp(s.ts), base.Timestamp(*s.mark))
		} else {
			b.Append(s.row, base.Timestamp(s.ts))
		}
		if err := op.Process(0, b); err != nil {
			t.Fatal(err)
		}
		drain(fmt.Sprintf("row %s/%d@%d: ", s.row.K, s.row.V, s.ts))
	}
	if err := op.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := m.Late.Load(); got != int64(strings.Count(strings.Join(out, "\n"), ": late ")) {
		t.Errorf("late metric %d does not match late rows", got)
	}
	return strings.Join(out, "\n")
}

func fmtTs(t int64) string {
	switch base.Timestamp(t) {
	case base.MaxTimestamp:
		return "+inf"
	case base.MinTimestamp:
		return "-inf"
	}
	return fmt.Sprint(t)
}

func fmtWin(w base.Window) string {
	return "[" + fmtTs(int64(w.Start)) + "," + fmtTs(int64(w.End)) + ")"
}

// aggCase is a script of an aggregation and its expected output.
type aggCase struct {
	name     string
	spec     WindowSpec
	lateness int64
	steps    []step
	want     string
}

var tumbling10 = WindowSpec{Kind: WindowTumbling, Size: 10, Slide: 10}

func TestWindowAgg(t *testing.T) {
	for _, tc := range windowAggCases {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.spec, tc.lateness, tc.steps)
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

var windowAggCases = []aggCase{
	{
		name: "tumbling fires at end-1",
		spec: tumbling10,
		steps: []step{row("a", 1, 0), row("a", 2, 9), row("b", 5, 9), row("a", 7, 10),
			wm(8), wm(9), wm(inf)},
		want: `wm 9: a [0,10)=3 pane=0 late=false ts=9
wm 9: b [0,10)=5 pane=0 late=false ts=9
wm +inf: a [10,20)=7 pane=0 late=false ts=19`,
	},
	{
		name:  "record on the last microsecond after the window fired is late",
		spec:  tumbling10,
		steps: []step{row("a", 1, 5), wm(9), row("a", 2, 9), row("a", 3, 10), wm(inf)},
		want: `wm 9: a [0,10)=1 pane=0 late=false ts=9
row a/2@9: late a/2
wm +inf: a [10,20)=3 pane=0 late=false ts=19`,
	},
	{
		name:     "allowed lateness re-fires, then drops",
		spec:     tumbling10,
		lateness: 5,
		steps: []step{row("a", 1, 5), wm(9), row("a", 2, 3), row("b", 4, 1), wm(13), row("a", 8, 0),
			wm(14), row("a", 16, 0), wm(inf)},
		want: `wm 9: a [0,10)=1 pane=0 late=false ts=9
row a/2@3: a [0,10)=3 pane=1 late=true ts=9
row b/4@1: b [0,10)=4 pane=0 late=true ts=9
row a/8@0: a [0,10)=11 pane=2 late=true ts=9
row a/16@0: late a/16`,
	},
	{
		name: "before 1970 and exactly on edges",
		spec: tumbling10,
		steps: []step{row("a", 1, -10), row("a", 2, -1), row("a", 4, 0), row("a", 8, -11),
			wm(-2), wm(-1), wm(inf)},
		want: `wm -2: a [-20,-10)=8 pane=0 late=false ts=-11
wm -1: a [-10,0)=3 pane=0 late=false ts=-1
wm +inf: a [0,10)=4 pane=0 late=false ts=9`,
	},
	{
		name:  "sliding",
		spec:  WindowSpec{Kind: WindowSliding, Size: 10, Slide: 5},
		steps: []step{row("a", 1, 3), row("a", 2, 7), wm(9), wm(inf)},
		want: `wm 9: a [-5,5)=1 pane=0 late=false ts=4
wm 9: a [0,10)=3 pane=0 late=false ts=9
wm +inf: a [5,15)=2 pane=0 late=false ts=14`,
	},
	{
		name: "sessions merge when a record bridges them",
		spec: WindowSpec{Kind: WindowSession, Gap: 10},
		steps: []step{row("a", 1, 0), row("a", 2, 5), row("a", 4, 20), row("b", 8, 3),
			row("a", 16, 12), wm(inf)},
		want: `wm +inf: a [0,30)=23 pane=0 late=false ts=29
wm +inf: b [3,13)=8 pane=0 late=false ts=12`,
	},
	{
		name:  "session gap is exclusive: touching sessions stay apart",
		spec:  WindowSpec{Kind: WindowSession, Gap: 10},
		steps: []step{row("a", 1, 0), row("a", 2, 10), wm(inf)},
		want: `wm +inf: a [0,10)=1 pane=0 late=false ts=9
wm +inf: a [10,20)=2 pane=0 late=false ts=19`,
	},
	{
		name:  "record inside a session fires once",
		spec:  WindowSpec{Kind: WindowSession, Gap: 10},
		steps: []step{row("a", 1, 0), row("a", 2, 5), row("a", 4, 3), wm(14), wm(inf)},
		want:  `wm 14: a [0,15)=7 pane=0 late=false ts=14`,
	},
	{
		name:     "late session within lateness re-fires and extends",
		spec:     WindowSpec{Kind: WindowSession, Gap: 10},
		lateness: 10,
		steps: []step{row("a", 1, 0), wm(9), row("a", 2, 4), wm(19), row("a", 4, 1),
			wm(23), row("a", 8, 2), wm(inf)},
		want: `wm 9: a [0,10)=1 pane=0 late=false ts=9
wm 19: a [0,14)=3 pane=1 late=false ts=13
row a/4@1: a [0,14)=7 pane=2 late=true ts=13
row a/8@2: late a/8`,
	},
	{
		name:     "global window fires at the end only, even with lateness",
		spec:     WindowSpec{Kind: WindowGlobal},
		lateness: 5,
		steps:    []step{row("a", 1, -100), row("a", 2, 100), wm(1000), wm(inf)},
		want:     `wm +inf: a [-inf,+inf)=3 pane=0 late=false ts=+inf`,
	},
}

// TestWindowAggMarks: with marks, a record is late iff its windows'
// end-1µs + lateness has passed its mark or the operator's watermark.
func TestWindowAggMarks(t *testing.T) {
	for _, tc := range windowAggMarkCases {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.spec, tc.lateness, tc.steps)
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

var (
	session10 = WindowSpec{Kind: WindowSession, Gap: 10}
	minTs     = int64(base.MinTimestamp)
)

var windowAggMarkCases = []aggCase{
	{
		name:  "mark at end-1 makes a record late before the operator's watermark moves",
		spec:  tumbling10,
		steps: []step{mrow("a", 1, 5, minTs), mrow("a", 2, 3, 9), mrow("a", 4, 3, 8), wm(inf)},
		want: `row a/2@3: late a/2
wm +inf: a [0,10)=5 pane=0 late=false ts=9`,
	},
	{
		name:     "mark within the allowed lateness keeps the record, no re-firing before the operator fired",
		spec:     tumbling10,
		lateness: 5,
		steps:    []step{mrow("a", 1, 5, minTs), mrow("a", 2, 3, 13), mrow("a", 4, 3, 14), wm(inf)},
		want: `row a/4@3: late a/4
wm +inf: a [0,10)=3 pane=0 late=false ts=9`,
	},
	{
		name:  "MinTimestamp mark falls back to the operator's watermark",
		spec:  tumbling10,
		steps: []step{mrow("a", 1, 5, minTs), wm(9), mrow("a", 2, 3, minTs), wm(inf)},
		want: `wm 9: a [0,10)=1 pane=0 late=false ts=9
row a/2@3: late a/2`,
	},
	{
		name:  "session: a record is judged by its own window before merging",
		spec:  session10,
		steps: []step{mrow("a", 1, 0, minTs), mrow("a", 2, 5, 14), mrow("a", 4, 5, 13), wm(inf)},
		want: `row a/2@5: late a/2
wm +inf: a [0,15)=5 pane=0 late=false ts=14`,
	},
	{
		name:  "session with marks: an expired own window is late even if it would merge",
		spec:  session10,
		steps: []step{mrow("a", 1, 0, minTs), mrow("a", 2, 8, minTs), wm(12), mrow("a", 4, 1, 12), wm(inf)},
		want: `row a/4@1: late a/4
wm +inf: a [0,18)=3 pane=0 late=false ts=17`,
	},
	{
		name:  "session without marks: a record merging into a live session is kept",
		spec:  session10,
		steps: []step{row("a", 1, 0), row("a", 2, 8), wm(12), row("a", 4, 1), wm(inf)},
		want:  `wm +inf: a [0,18)=7 pane=0 late=false ts=17`,
	},
}

// TestSourceMarksLateness: a record read in the same batch as the larger
// event time that makes it late is late, because the source adapter marks
// it; with the marks dropped (perfect watermark) it is not.
func TestSourceMarksLateness(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dropMarks bool
		want      string
	}{
		{name: "marks", want: "late a/2\na [20,30)=25"},
		{name: "no marks", dropMarks: true, want: "a [0,10)=2\na [20,30)=25"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := NewSource(SourceConfig[kv]{
				Open: func(context.Context, graph.Split, []byte) (Reader[kv], error) {
					return &sliceReader{rows: []kv{{"a", 25}, {"a", 2}}}, nil
				},
				EventTime: func(v *kv) (base.Timestamp, bool) { return base.Timestamp(v.V), true },
			})
			r, err := src.Open(context.Background(), testSplit("s0"), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Read(context.Background(), 10)
			if err != nil && !errors.Is(err, graph.ErrEndOfSplit) {
				t.Fatal(err)
			}
			b := res.Batch.(*base.Batch[kv])
			if got, want := b.Marks, []base.Timestamp{base.MinTimestamp, 24}; !slices.Equal(got, want) {
				t.Fatalf("marks %v, want %v", got, want)
			}
			if tc.dropMarks {
				b.DropMarks()
			}
			op := NewWindowAgg(AggConfig[string, kv, int64, int64]{
				Spec: WindowSpec{Kind: WindowTumbling, Size: 10, Slide: 10}, Key: keyOf, Comb: sumComb{}})()
			res2, late := &collect[base.Result[string, int64]]{}, &collect[kv]{}
			if err := op.Open(graph.OpContext{}, []graph.Output{res2, late}); err != nil {
				t.Fatal(err)
			}
			if err := op.Process(0, b); err != nil {
				t.Fatal(err)
			}
			if err := op.Watermark(base.MaxTimestamp); err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, r := range late.rows {
				lines = append(lines, fmt.Sprintf("late %s/%d", r.K, r.V))
			}
			var fired []string
			for _, r := range res2.rows {
				fired = append(fired, fmt.Sprintf("%s %v=%d", r.Key, fmtWin(r.Window), r.Value))
			}
			slices.Sort(fired)
			if got := strings.Join(append(lines, fired...), "\n"); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

type testSplit string

func (s testSplit) ID() string { return string(s) }

// sliceReader returns its rows in one batch, then the end of the split.
type sliceReader struct{ rows []kv }

func (r *sliceReader) ReadBatch(_ context.Context, b *base.Batch[kv], max int) ([]base.DeadLetter, error) {
	b.Values = append(b.Values, r.rows...)
	r.rows = nil
	return nil, graph.ErrEndOfSplit
}
func (r *sliceReader) Position() []byte { return nil }
func (r *sliceReader) Close() error     { return nil }
