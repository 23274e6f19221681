package fraud

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// The pipeline of package sdk's documentation, run over a few
// transactions: internal/lint checks that sdk/doc.go shows these lines.
func Example_pipeline() {
	t0 := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	src := &runnertest.Source[Txn]{Data: [][]Txn{{
		{UserID: "ann", Amount: 1500, Merchant: "m1", At: t0},
		{UserID: "ann", Amount: 900, Merchant: "m2", At: t0.Add(time.Minute)},
		{UserID: "bob", Amount: 2500, Merchant: "m1", At: t0.Add(2 * time.Minute)},
		{UserID: "ann", Amount: 3000, Merchant: "m3", At: t0.Add(4 * time.Minute)},
		{UserID: "ann", Amount: 1200, Merchant: "m1", At: t0.Add(6 * time.Minute)},
	}}}
	sink := &runnertest.Sink[UserTotal]{}

	p := sdk.NewPipeline()
	txns := sdk.Read(p, src, sdk.BoundedOutOfOrderness(30*time.Second))
	large := sdk.Filter(txns, Large)
	byUser := sdk.KeyBy(large, UserOf)
	win := sdk.WindowInto(byUser, sdk.Tumbling(5*time.Minute))
	totals := sdk.Aggregate(win, sdk.Combiner[Txn, SumCount, SumCount](SumAndCount{}))
	sdk.Write(sdk.Map(totals, ToUserTotal), sink)

	if _, err := runner.Run(context.Background(), p, runner.Options{}); err != nil {
		fmt.Println(err)
		return
	}
	var rows []string
	for _, r := range sink.Values() {
		rows = append(rows, fmt.Sprintf("%s %s-%s total %d count %d", r.UserID,
			r.WindowStart.Format("15:04"), r.WindowEnd.Format("15:04"), r.Total, r.Count))
	}
	slices.Sort(rows)
	for _, r := range rows {
		fmt.Println(r)
	}
	// Output:
	// ann 12:00-12:05 total 4500 count 2
	// ann 12:05-12:10 total 1200 count 1
	// bob 12:00-12:05 total 2500 count 1
}
