package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pq "github.com/parquet-go/parquet-go"

	"github.com/weirflow/weir/examples/fraud"
)

// TestCrashBatchParquet is TestCrashBatch with Parquet output: the
// committed files are whole Parquet files holding exactly the expected
// rows.
func TestCrashBatchParquet(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the job many times")
	}
	c, _, out, want := crashBatchJobTo(t, *crashSeed+300, "parquet", readParquetTotals)
	c.runToEnd()
	exactRows(t, "committed Parquet output", readParquetTotals(t, out), want)
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() && !strings.HasSuffix(e.Name(), ".parquet") {
			t.Errorf("uncommitted file left in the output: %s", e.Name())
		}
	}
	late, _ := filepath.Glob(filepath.Join(out, "late", "*.parquet"))
	for _, f := range late {
		rows, err := pq.ReadFile[fraud.Txn](f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(rows) > 0 {
			t.Errorf("%s: %d late rows, want none", f, len(rows))
		}
	}
}

// readParquetTotals returns the sorted totals of the committed Parquet
// files in dir (*.parquet: in-progress and staged files are not matched).
func readParquetTotals(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		rows, err := pq.ReadFile[fraud.UserTotal](f)
		if err != nil {
			t.Fatalf("committed file %s: %v", f, err)
		}
		for _, r := range rows {
			got = append(got, totalString(r))
		}
	}
	slices.Sort(got)
	return got
}
