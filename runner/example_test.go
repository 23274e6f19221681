package runner_test

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

type click struct {
	User string
	At   time.Time
}

func clickTime(c click) time.Time { return c.At }
func userOf(c click) string       { return c.User }

func ExampleRun() {
	t0 := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	src := &runnertest.Source[click]{Data: [][]click{
		{{"ann", t0}, {"bob", t0.Add(time.Minute)}, {"ann", t0.Add(2 * time.Minute)}},
		{{"bob", t0.Add(30 * time.Second)}, {"ann", t0.Add(6 * time.Minute)}},
	}}
	out := &runnertest.Sink[sdk.Result[string, int64]]{}

	p := sdk.NewPipeline()
	clicks := sdk.Read[click](p, src, sdk.Timestamps(clickTime), sdk.BoundedOutOfOrderness(time.Minute))
	win := sdk.WindowInto(sdk.KeyBy(clicks, userOf), sdk.Tumbling(5*time.Minute))
	sdk.Write(sdk.Aggregate(win, sdk.Count[click]()), out)

	stats, err := runner.Run(context.Background(), p, runner.Options{Parallelism: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	var lines []string
	for _, r := range out.Values() {
		lines = append(lines, fmt.Sprintf("%s %s-%s %d", r.Key, r.Window.StartTime().Format("15:04"), r.Window.EndTime().Format("15:04"), r.Value))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	fmt.Println("rows in:", stats.RowsIn, "rows out:", stats.RowsOut)
	// Output:
	// ann 12:00-12:05 2
	// ann 12:05-12:10 1
	// bob 12:00-12:05 2
	// rows in: 5 rows out: 3
}
