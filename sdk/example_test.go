package sdk_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// Click is the record of these examples: a user's click at a time.
type Click struct {
	User string
	Page string
	At   time.Time
}

var t0 = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

func at(min, sec int) time.Time {
	return t0.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
}

// clicks is a small in-order input in one split.
func clicks() *runnertest.Source[Click] {
	return &runnertest.Source[Click]{Data: [][]Click{{
		{"ann", "/home", at(0, 0)},
		{"bob", "/home", at(0, 20)},
		{"ann", "/cart", at(0, 40)},
		{"ann", "/pay", at(1, 30)},
		{"bob", "/help", at(4, 0)},
		{"ann", "/home", at(12, 0)},
	}}}
}

func clickTime(c Click) time.Time { return c.At }

// read adds the example input to p, with event times from Click.At.
func read(p *sdk.Pipeline) sdk.PCollection[Click] {
	return sdk.Read(p, clicks(), sdk.Timestamps(clickTime))
}

// run runs p with the local runner and prints the sink's rows, sorted.
func run[T any](p *sdk.Pipeline, out *runnertest.Sink[T]) {
	if _, err := runner.Run(context.Background(), p, runner.Options{}); err != nil {
		fmt.Println("error:", err)
		return
	}
	var lines []string
	for _, v := range out.Values() {
		lines = append(lines, fmt.Sprint(v))
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
}

func pageOf(c Click) string { return c.Page }
func isCart(c Click) bool   { return strings.HasPrefix(c.Page, "/cart") || c.Page == "/pay" }
func userOf(c Click) string { return c.User }
func one(Click) int         { return 1 }
func pathParts(c Click, emit func(string)) {
	for _, part := range strings.Split(strings.Trim(c.Page, "/"), "/") {
		emit(part)
	}
}

// countLine formats a per-user count of one window.
func countLine(r sdk.Result[string, int]) string {
	return fmt.Sprintf("%s %s-%s %d", r.Key, r.Window.StartTime().Format("15:04"), r.Window.EndTime().Format("15:04"), r.Value)
}

// A pipeline reads records, transforms them, and writes them to a sink;
// a runner executes it.
func Example() {
	p := sdk.NewPipeline()
	byUser := sdk.KeyBy(read(p), userOf)
	win := sdk.WindowInto(byUser, sdk.Tumbling(5*time.Minute))
	counts := sdk.Aggregate(win, sdk.Sum(one))
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.Map(counts, countLine), out)
	run(p, out)
	// Output:
	// ann 12:00-12:05 3
	// ann 12:10-12:15 1
	// bob 12:00-12:05 2
}

func ExampleMap() {
	p := sdk.NewPipeline()
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.Map(read(p), pageOf), out)
	run(p, out)
	// Output:
	// /cart
	// /help
	// /home
	// /home
	// /home
	// /pay
}

func ExampleFilter() {
	p := sdk.NewPipeline()
	out := &runnertest.Sink[Click]{}
	sdk.Write(sdk.Filter(read(p), isCart), out)
	run(p, out)
	// Output:
	// {ann /cart 2024-01-01 12:00:40 +0000 UTC}
	// {ann /pay 2024-01-01 12:01:30 +0000 UTC}
}

func ExampleFlatMap() {
	p := sdk.NewPipeline()
	src := &runnertest.Source[Click]{Data: [][]Click{{{"ann", "/shop/shoes/red", at(0, 0)}}}}
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.FlatMap(sdk.Read(p, src, sdk.Timestamps(clickTime)), pathParts), out)
	run(p, out)
	// Output:
	// red
	// shoes
	// shop
}

func ExampleFlatten() {
	p := sdk.NewPipeline()
	a := sdk.Filter(read(p), isCart)
	b := sdk.Read(p, &runnertest.Source[Click]{Data: [][]Click{{{"cy", "/pay", at(2, 0)}}}}, sdk.Timestamps(clickTime))
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.Map(sdk.Flatten(a, b), userOf), out)
	run(p, out)
	// Output:
	// ann
	// ann
	// cy
}

// KeyBy partitions records by key; windows and aggregations work per key.
func ExampleKeyBy() {
	p := sdk.NewPipeline()
	byUser := sdk.KeyBy(read(p), userOf)
	counts := sdk.Aggregate(sdk.WindowInto(byUser, sdk.Global()), sdk.Count[Click]())
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.Map(counts, func(r sdk.Result[string, int64]) string { return fmt.Sprint(r.Key, " ", r.Value) }), out)
	run(p, out)
	// Output:
	// ann 4
	// bob 2
}

// Sliding windows of 10 minutes every 5 minutes: each click counts in two.
func ExampleWindowInto() {
	p := sdk.NewPipeline()
	byUser := sdk.KeyBy(read(p), userOf)
	win := sdk.WindowInto(byUser, sdk.Sliding(10*time.Minute, 5*time.Minute))
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.Map(sdk.Aggregate(win, sdk.Sum(one)), countLine), out)
	run(p, out)
	// Output:
	// ann 11:55-12:05 3
	// ann 12:00-12:10 3
	// ann 12:05-12:15 1
	// ann 12:10-12:20 1
	// bob 11:55-12:05 2
	// bob 12:00-12:10 2
}

// Session windows close after a gap of inactivity per key.
func ExampleAggregate() {
	p := sdk.NewPipeline()
	byUser := sdk.KeyBy(read(p), userOf)
	win := sdk.WindowInto(byUser, sdk.Session(2*time.Minute))
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.Map(sdk.Aggregate(win, sdk.Sum(one)), countLine), out)
	run(p, out)
	// Output:
	// ann 12:00-12:03 3
	// ann 12:12-12:14 1
	// bob 12:00-12:02 1
	// bob 12:04-12:06 1
}

func pageLen(c Click) int                             { return len(c.Page) }
func minuteOf(c Click) int                            { return c.At.Minute() }
func valueLine[V any](r sdk.Result[string, V]) string { return fmt.Sprint(r.Key, " ", r.Value) }

// Min keeps the smallest value per key and window: here the first page of
// each user in alphabetical order.
func ExampleMin() {
	p := sdk.NewPipeline()
	win := sdk.WindowInto(sdk.KeyBy(read(p), userOf), sdk.Global())
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.Map(sdk.Aggregate(win, sdk.Min(pageOf)), valueLine[string]), out)
	run(p, out)
	// Output:
	// ann /cart
	// bob /help
}

// Max keeps the largest value per key and window: here the minute of each
// user's last click.
func ExampleMax() {
	p := sdk.NewPipeline()
	win := sdk.WindowInto(sdk.KeyBy(read(p), userOf), sdk.Global())
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.Map(sdk.Aggregate(win, sdk.Max(minuteOf)), valueLine[int]), out)
	run(p, out)
	// Output:
	// ann 12
	// bob 4
}

// Mean averages per key and window: here the length of the pages each
// user visited in 5-minute windows.
func ExampleMean() {
	p := sdk.NewPipeline()
	win := sdk.WindowInto(sdk.KeyBy(read(p), userOf), sdk.Tumbling(5*time.Minute))
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.Map(sdk.Aggregate(win, sdk.Mean(pageLen)), func(r sdk.Result[string, float64]) string {
		return fmt.Sprintf("%s %s %.2f", r.Key, r.Window.StartTime().Format("15:04"), r.Value)
	}), out)
	run(p, out)
	// Output:
	// ann 12:00 4.67
	// ann 12:10 5.00
	// bob 12:00 5.00
}

func pages(r sdk.Result[string, []Click]) string {
	var ps []string
	for _, c := range r.Value {
		ps = append(ps, c.Page)
	}
	slices.Sort(ps)
	return r.Key + " " + strings.Join(ps, ",")
}

func ExampleGroupByKey() {
	p := sdk.NewPipeline()
	byUser := sdk.KeyBy(read(p), userOf)
	groups := sdk.GroupByKey(sdk.WindowInto(byUser, sdk.Tumbling(5*time.Minute)))
	out := &runnertest.Sink[string]{}
	sdk.Write(sdk.Map(groups, pages), out)
	run(p, out)
	// Output:
	// ann /cart,/home,/pay
	// ann /home
	// bob /help,/home
}

// A record later than its window's end plus the allowed lateness goes to
// the late side output instead of being dropped silently.
func ExampleLateData() {
	p := sdk.NewPipeline()
	src := &runnertest.Source[Click]{ReadSize: 1, Data: [][]Click{{
		{"ann", "/home", at(0, 0)},
		{"ann", "/cart", at(7, 0)},
		{"ann", "/late", at(4, 0)}, // its window [12:00, 12:05) has fired
	}}}
	byUser := sdk.KeyBy(sdk.Read(p, src, sdk.Timestamps(clickTime)), userOf)
	win := sdk.WindowInto(byUser, sdk.Tumbling(5*time.Minute))
	results := &runnertest.Sink[string]{}
	late := &runnertest.Sink[string]{}
	sdk.Write(sdk.Map(sdk.Aggregate(win, sdk.Sum(one)), countLine), results)
	sdk.Write(sdk.Map(sdk.LateData(win), pageOf), late)
	run(p, results)
	fmt.Println("late:", late.Values())
	// Output:
	// ann 12:00-12:05 1
	// ann 12:05-12:10 1
	// late: [/late]
}
