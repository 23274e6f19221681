package sdk

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/keyed"
	"github.com/weirflow/weir/state"
)

func readNoCodec(p *Pipeline) PCollection[noCodec] {
	return Read[noCodec](p, nullSource[noCodec]{}, Timestamps(func(n noCodec) time.Time { return n.At }))
}

type badStateFn struct {
	ok    ValueState[int64]
	bad   ValueState[noCodec]
	bad2  *ListState[noCodec]
	bad3  MapState[noCodec, string]
	other int
}

func (badStateFn) ProcessElement(*ProcessContext[string, string], noCodec) error { return nil }
func (badStateFn) OnTimer(*ProcessContext[string, string], TimerInfo) error      { return nil }

func elementNop(*ProcessContext[string, string], noCodec) error { return nil }

func TestProcessConstructionErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(p *Pipeline)
		want  []string
	}{
		{
			name: "fine",
			build: func(p *Pipeline) {
				Process(KeyBy(readNoCodec(p), idOf), ProcessFuncs[string, noCodec, string]{ElementFn: elementNop})
			},
		},
		{
			name: "key without codec",
			build: func(p *Pipeline) {
				k := KeyBy(readNoCodec(p), func(n noCodec) int16 { return int16(len(n.ID)) })
				Process(k, ProcessFuncs[int16, noCodec, string]{
					ElementFn: func(*ProcessContext[int16, string], noCodec) error { return nil },
				}, Named("p"))
			},
			want: []string{`Process "p": key type int16 has no codec; mark it //weir:record and run "go generate ./..."`},
		},
		{
			name: "state fields without codec",
			build: func(p *Pipeline) {
				Process[string, noCodec, string](KeyBy(readNoCodec(p), idOf), &badStateFn{}, Named("p"))
			},
			want: []string{
				`Process "p": state field bad: sdk: type sdk.noCodec has no codec; mark it //weir:record`,
				`Process "p": state field bad2: sdk: type sdk.noCodec has no codec`,
				`Process "p": state field bad3: sdk: type sdk.noCodec has no codec`,
			},
		},
		{
			name: "nil functions",
			build: func(p *Pipeline) {
				k := KeyBy(readNoCodec(p), idOf)
				Process[string, noCodec, string](k, nil, Named("a"))
				Process(k, ProcessFuncs[string, noCodec, string]{}, Named("b"))
				Process[string, noCodec, string](k, (*badStateFn)(nil), Named("c"))
			},
			want: []string{`Process "a": nil process function`, `Process "b": nil process function`, `Process "c": nil process function`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPipeline()
			tc.build(p)
			err := p.Err()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Err = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Err = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Err = %v\nwant it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "field ok") || strings.Contains(err.Error(), "field other") {
				t.Errorf("Err = %v names a field with codecs", err)
			}
		})
	}
}

func TestProcessNames(t *testing.T) {
	p := NewPipeline()
	k := KeyBy(readNoCodec(p), idOf)
	a := Process(k, ProcessFuncs[string, noCodec, string]{ElementFn: elementNop})
	b := Process[string, noCodec, string](k, badStateFn{})
	c := Process[string, noCodec, string](k, &badStateFn{}, Named("mine"))
	for _, tc := range []struct{ got, want string }{
		{a.Name(), "sdk.elementNop"},
		{b.Name(), "sdk.badStateFn"},
		{c.Name(), "mine"},
	} {
		if tc.got != tc.want {
			t.Errorf("name %q, want %q", tc.got, tc.want)
		}
	}
}

// sdkCollect gathers what an operator emits.
type sdkCollect struct{ rows []string }

func (c *sdkCollect) Emit(batch any) error {
	b := batch.(*base.Batch[string])
	for i, v := range b.Values {
		c.rows = append(c.rows, fmt.Sprintf("%s@%d", v, b.Times[i]))
	}
	return nil
}

// userRecord is a struct state type with a hand-written codec, as weir gen
// would register it.
type userRecord struct {
	Name string
	N    int64
}

func init() {
	RegisterRecord(RecordCodec[userRecord]{
		Name: "sdk.userRecord",
		AppendBinary: func(dst []byte, v *userRecord) []byte {
			dst = append(dst, byte(len(v.Name)))
			dst = append(dst, v.Name...)
			return append(dst, byte(v.N))
		},
		DecodeBinary: func(src []byte, v *userRecord) (int, error) {
			n := int(src[0])
			v.Name, v.N = string(src[1:1+n]), int64(src[1+n])
			return n + 2, nil
		},
	})
}

// stateFn exercises every state kind through the typed descriptors.
type stateFn struct {
	total ValueState[userRecord]
	items ListState[string]
	count MapState[string, int64]
}

func (f *stateFn) ProcessElement(ctx *ProcessContext[string, string], v string) error {
	_, item, _ := strings.Cut(v, ":")
	if item == "clear" {
		return f.clear(ctx)
	}
	rec, _, err := f.total.Get(ctx)
	if err != nil {
		return err
	}
	rec.Name, rec.N = ctx.Key(), rec.N+1
	if err := f.total.Put(ctx, rec); err != nil {
		return err
	}
	if err := f.items.Add(ctx, item); err != nil {
		return err
	}
	n, _, err := f.count.Get(ctx, item)
	if err != nil {
		return err
	}
	if err := f.count.Put(ctx, item, n+1); err != nil {
		return err
	}
	if item == "b" {
		if err := f.count.Delete(ctx, "a"); err != nil {
			return err
		}
	}
	if err := ctx.RegisterEventTimeTimer(ctx.Timestamp() + 10); err != nil {
		return err
	}
	// Far in the future: it fires when the input ends.
	return ctx.RegisterProcessingTimeTimer(TimestampOf(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)))
}

func (f *stateFn) clear(ctx *ProcessContext[string, string]) error {
	if err := f.total.Clear(ctx); err != nil {
		return err
	}
	if err := f.items.Clear(ctx); err != nil {
		return err
	}
	return f.count.Clear(ctx)
}

func (f *stateFn) OnTimer(ctx *ProcessContext[string, string], t TimerInfo) error {
	if t.Domain == ProcessingTime {
		ctx.EmitAt(7, ctx.Key()+" processing-time")
		return nil
	}
	rec, ok, err := f.total.Get(ctx)
	if err != nil {
		return err
	}
	items, err := f.items.Get(ctx)
	if err != nil {
		return err
	}
	var counts []string
	if err := f.count.Iterate(ctx, func(k string, n int64) error {
		counts = append(counts, fmt.Sprintf("%s=%d", k, n))
		return nil
	}); err != nil {
		return err
	}
	ctx.Emit(fmt.Sprintf("%s %v/%v %v %v wm=%d", ctx.Key(), rec, ok, items, counts, ctx.CurrentWatermark()))
	return nil
}

// TestProcessOperator runs the operator Process builds over a real state
// backend, without a runner, restoring it from a snapshot midway.
func TestProcessOperator(t *testing.T) {
	fn := &stateFn{
		total: NewValueState[userRecord]("total"),
		items: NewListState[string]("items"),
		count: NewMapState[string, int64]("count"),
	}
	p := NewPipeline()
	src := Read[string](p, nullSource[string]{}, Timestamps(func(string) time.Time { return time.Time{} }))
	Process(KeyBy(src, func(v string) string { k, _, _ := strings.Cut(v, ":"); return k }), fn)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	node := p.Graph().Nodes[1]
	if !node.Stateful || node.Inputs[0].Partitioner == nil {
		t.Fatalf("Process node: Stateful %v, partitioner %v", node.Stateful, node.Inputs[0].Partitioner)
	}
	fs := vfs.NewMem()
	b, err := state.Open(state.Options{Dir: "db", FS: fs, MaxParallelism: 16})
	if err != nil {
		t.Fatal(err)
	}
	out := &sdkCollect{}
	open := func(b *state.Backend, restored base.CheckpointID) graph.Operator {
		op := node.NewOperator()
		ctx := graph.OpContext{MaxParallelism: 16, State: keyed.NewView(b, node.Name), Restored: restored}
		if err := op.Open(ctx, []graph.Output{out}); err != nil {
			t.Fatal(err)
		}
		return op
	}
	op := open(b, 0)
	process := func(ts base.Timestamp, rows ...string) {
		t.Helper()
		in := base.NewBatch[string](len(rows))
		for _, r := range rows {
			in.Append(r, ts)
		}
		if err := op.Process(0, in); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(want ...string) {
		t.Helper()
		slices.Sort(out.rows)
		slices.Sort(want)
		if !slices.Equal(out.rows, want) {
			t.Fatalf("emitted\n  %q\nwant\n  %q", out.rows, want)
		}
		out.rows = nil
	}
	process(100, "x:a", "y:a", "x:a")
	if err := op.Watermark(105); err != nil {
		t.Fatal(err)
	}
	expect()
	process(106, "x:b")
	if err := op.Watermark(110); err != nil {
		t.Fatal(err)
	}
	// x's timer at 110 (set twice, fires once) sees x:b of 106.
	expect(
		"x {x 3}/true [a a b] [b=1] wm=110@110",
		"y {y 1}/true [a] [a=1] wm=110@110",
	)
	if err := op.(graph.Stateful).Snapshot(1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Snapshot("snap"); err != nil {
		t.Fatal(err)
	}
	op.Close()
	b.Close()
	if b, err = state.Restore(state.Options{Dir: "db2", FS: fs, MaxParallelism: 16}, []string{"snap"}); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	op = open(b, 1)
	defer op.Close()
	process(111, "y:clear", "y:a")
	if err := op.Watermark(base.MaxTimestamp); err != nil {
		t.Fatal(err)
	}
	if err := op.Finish(); err != nil {
		t.Fatal(err)
	}
	// The event-time timers fire with the final watermark, the
	// processing-time timers (one per key) at Finish.
	expect(
		"x {x 3}/true [a a b] [b=1] wm=9223372036854775807@116",
		"y {y 1}/true [a] [a=1] wm=9223372036854775807@121",
		"x processing-time@7",
		"y processing-time@7",
	)
}

func TestZeroDescriptor(t *testing.T) {
	var v ValueState[int64]
	var l ListState[int64]
	var m MapState[string, int64]
	for _, err := range []error{
		func() error { _, _, err := v.Get(nil); return err }(),
		l.Add(nil, 1),
		m.Put(nil, "a", 1),
	} {
		if err != errNoDescriptor {
			t.Errorf("err = %v, want errNoDescriptor", err)
		}
	}
}
