package sdk_test

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// A process function writes each user's first click to the main output
// and every later one to a side output.
func ExampleSideOutput() {
	repeats := sdk.NewOutputTag[Click]("repeats")
	seen := sdk.NewValueState[bool]("seen")
	p := sdk.NewPipeline()
	first := sdk.Process(sdk.KeyBy(read(p), userOf), sdk.ProcessFuncs[string, Click, string]{
		ElementFn: func(ctx *sdk.ProcessContext[string, string], c Click) error {
			_, was, err := seen.Get(ctx)
			if err != nil {
				return err
			}
			if was {
				sdk.Output(ctx, repeats, c)
				return nil
			}
			ctx.Emit("first " + c.User + " " + c.Page)
			return seen.Put(ctx, true)
		},
	})
	firstOut, repeatOut := &runnertest.Sink[string]{}, &runnertest.Sink[string]{}
	sdk.Write(first, firstOut)
	sdk.Write(sdk.Map(sdk.SideOutput(first, repeats), func(c Click) string { return "again " + c.User + " " + c.Page }), repeatOut)
	run(p, firstOut)
	run2(repeatOut)
	// Output:
	// first ann /home
	// first bob /home
	// again ann /cart
	// again ann /home
	// again ann /pay
	// again bob /help
}

// run2 prints the rows of a second sink of a pipeline run already.
func run2[T any](out *runnertest.Sink[T]) {
	var lines []string
	for _, v := range out.Values() {
		lines = append(lines, fmt.Sprint(v))
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
}

// The clicks a temporal join found late, from its side output.
func ExampleLateLeft() {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	clicks := &runnertest.Source[Click]{Data: [][]Click{{
		{"ann", "/home", at(10)},
		{"ann", "/old", at(1)}, // 9 minutes behind: later than the 5-minute bound
		{"ann", "/pay", at(11)},
	}}}
	profiles := &runnertest.Source[Profile]{Data: [][]Profile{{{"ann", "regular", at(0)}}}}
	p := sdk.NewPipeline()
	c := sdk.Read(p, clicks, sdk.Timestamps(clickTime), sdk.BoundedOutOfOrderness(5*time.Minute))
	pr := sdk.Read(p, profiles, sdk.Timestamps(func(p Profile) time.Time { return p.At }))
	enriched := sdk.TemporalJoin(sdk.KeyBy(c, userOf), sdk.KeyBy(pr, func(p Profile) string { return p.User }),
		func(c Click, p Profile, ok bool) string { return c.Page + " " + p.Segment })
	out, late := &runnertest.Sink[string]{}, &runnertest.Sink[string]{}
	sdk.Write(enriched, out)
	sdk.Write(sdk.Map(sdk.SideOutput(enriched, sdk.LateLeft[Click]()), func(c Click) string { return "late " + c.Page }), late)
	run(p, out)
	run2(late)
	// Output:
	// /home regular
	// /pay regular
	// late /old
}
