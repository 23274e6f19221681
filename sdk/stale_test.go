package sdk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// order is a record whose generated code is up to date; changedOrder one
// that gained a field (Country) after weir gen ran. Their codecs are
// registered as weir gen would, with the shape it saw.
type order struct {
	User  string `json:"user"`
	Cents int64  `json:"cents"`
}

type changedOrder struct {
	User    string `json:"user"`
	Cents   int64  `json:"cents"`
	Country string `json:"country"`
}

func init() {
	sdk.RegisterRecord(sdk.RecordCodec[order]{
		Name:  "sdk_test.order",
		Shape: []string{`order.User string json:"user"`, `order.Cents int64 json:"cents"`},
	})
	sdk.RegisterRecord(sdk.RecordCodec[changedOrder]{
		Name:  "sdk_test.changedOrder",
		Shape: []string{`changedOrder.User string json:"user"`, `changedOrder.Cents int64 json:"cents"`},
	})
}

const staleLine = `sdk: sdk_test.changedOrder changed since weir_gen.go was generated (field Country is new); run "go generate ./..."`

func toChanged(o order) changedOrder { return changedOrder{User: o.User, Cents: o.Cents} }
func userOfOrder(o order) string     { return o.User }
func changedKey(c Click) changedOrder {
	return changedOrder{User: c.User}
}

// A pipeline that uses a record changed since its code was generated, in
// any role, refuses to run with one line naming the type, the change and
// the fix; the runner runs nothing.
func TestStaleRecordRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(p *sdk.Pipeline)
	}{
		{"source", func(p *sdk.Pipeline) {
			// No Timestamps option and no codec: Read's own error is hidden
			// behind the stale one.
			in := sdk.Read(p, &runnertest.Source[changedOrder]{})
			sdk.Write(in, &runnertest.Sink[changedOrder]{})
		}},
		{"map output", func(p *sdk.Pipeline) {
			sdk.Write(sdk.Map(readOrders(p), toChanged), &runnertest.Sink[changedOrder]{})
		}},
		{"inside a result", func(p *sdk.Pipeline) {
			win := sdk.WindowInto(sdk.KeyBy(readOrders(p), userOfOrder), sdk.Global())
			sdk.Write(sdk.Aggregate(win, sdk.CombineFuncs[order, int64, changedOrder]{
				AddFn:    func(a int64, o order) int64 { return a + o.Cents },
				MergeFn:  func(a, b int64) int64 { return a + b },
				ResultFn: func(a int64) changedOrder { return changedOrder{Cents: a} },
			}), &runnertest.Sink[sdk.Result[string, changedOrder]]{})
		}},
		{"accumulator", func(p *sdk.Pipeline) {
			win := sdk.WindowInto(sdk.KeyBy(readOrders(p), userOfOrder), sdk.Global())
			sdk.Write(sdk.Aggregate(win, sdk.CombineFuncs[order, changedOrder, int64]{
				AddFn:    func(a changedOrder, o order) changedOrder { a.Cents += o.Cents; return a },
				MergeFn:  func(a, b changedOrder) changedOrder { a.Cents += b.Cents; return a },
				ResultFn: func(a changedOrder) int64 { return a.Cents },
			}), &runnertest.Sink[sdk.Result[string, int64]]{})
		}},
		{"key", func(p *sdk.Pipeline) {
			win := sdk.WindowInto(sdk.KeyBy(read(p), changedKey), sdk.Global())
			sdk.Write(sdk.Map(sdk.Aggregate(win, sdk.Count[Click]()), func(r sdk.Result[changedOrder, int64]) int64 { return r.Value }),
				&runnertest.Sink[int64]{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := sdk.NewPipeline()
			tc.build(p)
			if err := p.Err(); err == nil || err.Error() != staleLine {
				t.Errorf("Err() = %v\nwant %s", err, staleLine)
			}
			_, err := runner.Run(context.Background(), p, runner.Options{})
			var se sdk.StaleCodecError
			if !errors.As(err, &se) || err.Error() != staleLine {
				t.Errorf("runner.Run = %v\nwant %s", err, staleLine)
			}
		})
	}
}

func readOrders(p *sdk.Pipeline) sdk.PCollection[order] {
	src := &runnertest.Source[order]{Data: [][]order{{{"ann", 5}, {"bob", 7}, {"ann", 1}}}}
	return sdk.Read(p, src, sdk.Timestamps(func(order) time.Time { return t0 }))
}

// The same pipeline over a record whose generated code is fresh runs.
func TestFreshRecordRuns(t *testing.T) {
	p := sdk.NewPipeline()
	win := sdk.WindowInto(sdk.KeyBy(readOrders(p), userOfOrder), sdk.Global())
	out := &runnertest.Sink[sdk.Result[string, int64]]{}
	sdk.Write(sdk.Aggregate(win, sdk.Sum(func(o order) int64 { return o.Cents })), out)
	if _, err := runner.Run(context.Background(), p, runner.Options{}); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range out.Values() {
		got[r.Key] = r.Value
	}
	if len(got) != 2 || got["ann"] != 6 || got["bob"] != 7 {
		t.Errorf("sums = %v, want ann 6, bob 7", got)
	}
}
