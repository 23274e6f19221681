package parquet_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/weirflow/weir/io/parquet"
	"github.com/weirflow/weir/sdk"
)

func ExampleNewSource() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	type Txn struct {
		UserID string    `parquet:"user_id"`
		Amount int64     `parquet:"amount"`
		At     time.Time `parquet:"ts,timestamp(microsecond)" weir:"eventtime"`
	}
	start := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	var rows []Txn
	for i := range 5 {
		rows = append(rows, Txn{UserID: "u1", Amount: int64(i), At: start.Add(time.Duration(4-i) * time.Minute)})
	}
	if err := parquet.WriteFile(filepath.Join(dir, "txns.parquet"), rows, 2); err != nil {
		fmt.Println(err)
		return
	}

	src := parquet.NewSource[Txn](filepath.Join(dir, "*.parquet"), parquet.SourceOptions{})
	splits, err := src.Splits(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range splits {
		st := s.(sdk.SplitStats)
		min, _ := st.MinEventTime()
		fmt.Println(filepath.Base(s.ID()), st.Rows(), min)
	}
	// Output:
	// txns.parquet#rg0000 2 2024-05-01T12:03:00Z
	// txns.parquet#rg0001 2 2024-05-01T12:01:00Z
	// txns.parquet#rg0002 1 2024-05-01T12:00:00Z
}
