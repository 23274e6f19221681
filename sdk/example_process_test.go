package sdk_test

import (
	"fmt"
	"time"

	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// Payment is the record of the fraud example.
type Payment struct {
	User   string
	Amount int64
	At     time.Time
}

func paymentTime(p Payment) time.Time { return p.At }
func payer(p Payment) string          { return p.User }

// largeBurst flags a user who makes three payments over 500 within one
// minute. It keeps the times of the user's recent large payments in a list
// and drops them with an event-time timer one minute later.
type largeBurst struct {
	recent sdk.ListState[time.Time]
}

func (f *largeBurst) ProcessElement(ctx *sdk.ProcessContext[string, string], p Payment) error {
	if p.Amount <= 500 {
		return nil
	}
	times, err := f.recent.Get(ctx)
	if err != nil {
		return err
	}
	var kept []time.Time
	for _, t := range times {
		if p.At.Sub(t) < time.Minute {
			kept = append(kept, t)
		}
	}
	kept = append(kept, p.At)
	if len(kept) == 3 {
		ctx.Emit(fmt.Sprintf("%s: 3 payments over 500 from %s to %s",
			ctx.Key(), kept[0].Format("15:04:05"), p.At.Format("15:04:05")))
	}
	if err := f.recent.Update(ctx, kept); err != nil {
		return err
	}
	return ctx.RegisterEventTimeTimer(ctx.Timestamp().Add(time.Minute))
}

func (f *largeBurst) OnTimer(ctx *sdk.ProcessContext[string, string], t sdk.TimerInfo) error {
	times, err := f.recent.Get(ctx)
	if err != nil {
		return err
	}
	var kept []time.Time
	for _, at := range times {
		if sdk.TimestampOf(at).Add(time.Minute) > t.Time {
			kept = append(kept, at)
		}
	}
	return f.recent.Update(ctx, kept)
}

// Process runs a function with keyed state and timers for each record of a
// key: here, a fraud rule over a user's recent payments.
func ExampleProcess() {
	at := func(min, sec int) time.Time {
		return t0.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
	}
	src := &runnertest.Source[Payment]{Data: [][]Payment{{
		{"ann", 900, at(0, 0)},
		{"bob", 700, at(0, 5)},
		{"ann", 600, at(0, 30)},
		{"ann", 20, at(0, 40)},
		{"bob", 800, at(1, 10)}, // more than a minute after bob's first
		{"ann", 750, at(0, 50)}, // third within a minute: flagged
		{"bob", 990, at(1, 20)},
		{"ann", 510, at(3, 0)},
	}}}
	p := sdk.NewPipeline()
	pays := sdk.Read(p, src, sdk.Timestamps(paymentTime))
	fn := &largeBurst{recent: sdk.NewListState[time.Time]("recent")}
	alerts := sdk.Process(sdk.KeyBy(pays, payer), fn)
	out := &runnertest.Sink[string]{}
	sdk.Write(alerts, out)
	run(p, out)
	// Output:
	// ann: 3 payments over 500 from 12:00:00 to 12:00:50
}

// A process function built from two funcs: count a user's clicks and,
// once the user has been idle for five minutes of event time, emit the
// count. Each click moves the user's idle timer. A click may arrive before
// the watermark passes the idle time of the clicks before it (the
// watermark trails the largest time read): the function then closes the
// earlier run itself.
func ExampleProcessFuncs() {
	count := sdk.NewValueState[int64]("count")
	idleAt := sdk.NewValueState[int64]("idleAt")
	report := func(ctx *sdk.ProcessContext[string, string], at sdk.Timestamp) error {
		n, _, err := count.Get(ctx)
		if err != nil {
			return err
		}
		ctx.EmitAt(at, fmt.Sprintf("%s: %d clicks, idle at %s", ctx.Key(), n, at.Time().Format("15:04:05")))
		if err := count.Clear(ctx); err != nil {
			return err
		}
		return idleAt.Clear(ctx)
	}
	fn := sdk.ProcessFuncs[string, Click, string]{
		ElementFn: func(ctx *sdk.ProcessContext[string, string], c Click) error {
			if old, ok, err := idleAt.Get(ctx); err != nil {
				return err
			} else if ok {
				if err := ctx.DeleteEventTimeTimer(sdk.Timestamp(old)); err != nil {
					return err
				}
				if sdk.Timestamp(old) <= ctx.Timestamp() {
					if err := report(ctx, sdk.Timestamp(old)); err != nil {
						return err
					}
				}
			}
			n, _, err := count.Get(ctx)
			if err != nil {
				return err
			}
			if err := count.Put(ctx, n+1); err != nil {
				return err
			}
			next := ctx.Timestamp().Add(5 * time.Minute)
			if err := idleAt.Put(ctx, int64(next)); err != nil {
				return err
			}
			return ctx.RegisterEventTimeTimer(next)
		},
		TimerFn: func(ctx *sdk.ProcessContext[string, string], t sdk.TimerInfo) error {
			return report(ctx, t.Time)
		},
	}
	p := sdk.NewPipeline()
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.Process(sdk.KeyBy(read(p), userOf), fn), out)
	run(p, out)
	// Output:
	// ann: 1 clicks, idle at 12:17:00
	// ann: 3 clicks, idle at 12:06:30
	// bob: 2 clicks, idle at 12:09:00
}

// A value state with a time-to-live drops duplicates: the first visit of
// each user to each page within an hour (of processing time) passes.
func ExampleTTL() {
	seen := sdk.NewValueState[bool]("seen", sdk.TTL(time.Hour))
	firstVisits := sdk.ProcessFuncs[string, Click, string]{
		ElementFn: func(ctx *sdk.ProcessContext[string, string], c Click) error {
			if _, dup, err := seen.Get(ctx); err != nil || dup {
				return err
			}
			ctx.Emit(ctx.Key())
			return seen.Put(ctx, true)
		},
	}
	p := sdk.NewPipeline()
	visits := sdk.KeyBy(read(p), func(c Click) string { return c.User + " " + c.Page })
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.Process(visits, firstVisits), out)
	run(p, out)
	// Output:
	// ann /cart
	// ann /home
	// ann /pay
	// bob /help
	// bob /home
}
