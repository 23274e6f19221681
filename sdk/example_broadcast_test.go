package sdk_test

import (
	"time"

	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
	"github.com/weirflow/weir/sdk/codec"
)

// Rule blocks a page from a time on.
type Rule struct {
	Page string
	At   time.Time
}

func init() {
	sdk.RegisterRecord(sdk.RecordCodec[Rule]{
		Name: "sdk_test.Rule",
		AppendBinary: func(dst []byte, v *Rule) []byte {
			return codec.AppendTime(codec.AppendString(dst, v.Page), v.At)
		},
		DecodeBinary: func(src []byte, v *Rule) (int, error) {
			r := codec.NewReader(src)
			v.Page, v.At = r.String(), r.Time()
			return r.Done()
		},
	})
}

// Clicks on pages a rule blocked by the click's time are dropped. Every
// task gets every rule; each click waits in state until the watermark of
// both inputs passes it, so the answer does not depend on which input was
// read first.
func ExampleBroadcastProcess() {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	rules := &runnertest.Source[Rule]{Data: [][]Rule{{{"/cart", at(0)}, {"/help", at(3)}}}}
	blocked := sdk.NewBroadcastState[string, time.Time]("blocked") // page → since
	waiting := sdk.NewListState[Click]("waiting")
	p := sdk.NewPipeline()
	r := sdk.Read(p, rules, sdk.Timestamps(func(r Rule) time.Time { return r.At }))
	allowed := sdk.BroadcastProcess(sdk.KeyBy(read(p), userOf), r, sdk.BroadcastProcessFuncs[string, Click, Rule, string]{
		BroadcastFn: func(ctx *sdk.BroadcastContext[string, string], r Rule) error {
			return blocked.Put(ctx, r.Page, r.At)
		},
		ElementFn: func(ctx *sdk.ProcessContext[string, string], c Click) error {
			if err := waiting.Add(ctx, c); err != nil {
				return err
			}
			return ctx.RegisterEventTimeTimer(sdk.TimestampOf(c.At))
		},
		TimerFn: func(ctx *sdk.ProcessContext[string, string], t sdk.TimerInfo) error {
			var later []Click
			err := waiting.Iterate(ctx, func(c Click) error {
				if sdk.TimestampOf(c.At) > t.Time {
					later = append(later, c)
					return nil
				}
				since, ok, err := blocked.Get(ctx, c.Page)
				if err == nil && !(ok && !since.After(c.At)) {
					ctx.Emit(c.User + " " + c.Page)
				}
				return err
			})
			if err != nil {
				return err
			}
			if err := waiting.Clear(ctx); err != nil {
				return err
			}
			for _, c := range later {
				if err := waiting.Add(ctx, c); err != nil {
					return err
				}
			}
			return nil
		},
	})
	out := &runnertest.Sink[string]{}
	sdk.Write(allowed, out)
	run(p, out)
	// Output:
	// ann /home
	// ann /home
	// ann /pay
	// bob /home
}
