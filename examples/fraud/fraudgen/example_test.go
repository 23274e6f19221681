package fraudgen_test

import (
	"fmt"
	"time"

	"github.com/weirflow/weir/examples/fraud/fraudgen"
)

func ExampleGenerate() {
	parts := fraudgen.Generate(fraudgen.Options{Rows: 200, Users: 2, Span: 10 * time.Minute, Disorder: 10 * time.Second, Seed: 1})
	for _, t := range parts[0][:3] {
		fmt.Println(t.UserID, t.Amount, t.Merchant, t.At.Format(time.RFC3339Nano))
	}
	rows, late := fraudgen.Expected(parts, 5*time.Minute, 30*time.Second)
	for _, r := range rows {
		fmt.Println(r.UserID, r.WindowStart.Format(time.TimeOnly), r.WindowEnd.Format(time.TimeOnly), r.Total, r.Count)
	}
	fmt.Println(late, "late")
	// Output:
	// u000001 230 airline 2023-12-31T23:59:50.693053Z
	// u000000 215 fuel-stop 2023-12-31T23:59:59.44755Z
	// u000000 118 cinema 2024-01-01T00:00:02.888552Z
	// u000000 00:00:00 00:05:00 19479 11
	// u000000 00:05:00 00:10:00 20462 11
	// u000001 00:00:00 00:05:00 20429 8
	// u000001 00:05:00 00:10:00 31570 9
	// 0 late
}
