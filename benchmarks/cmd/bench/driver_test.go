package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDriverBaselineOnly runs the whole driver on a tiny input: generation,
// the cache, building the baseline, the measuring wrapper and the checks.
func TestDriverBaselineOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries; skipped under -short")
	}
	dir := t.TempDir()
	c := config{
		rows: 3000, files: 2, rowsPerGroup: 1000, users: 50, span: time.Hour, disorder: 10 * time.Second,
		seed: 1, runs: 1, dataDir: dir, resultsDir: filepath.Join(dir, "results"),
		skipWeir: true, skipMicro: true, timeout: time.Minute,
		window: 5 * time.Minute, bound: 30 * time.Second,
	}
	// The wrapper re-runs the driver binary; under go test that is the test
	// binary, whose TestMain handles -measure.
	for range 2 { // the second round reuses the cached input
		ok, err := run(c)
		if err != nil || !ok {
			t.Fatalf("run: ok=%v err=%v", ok, err)
		}
	}
	report, err := os.ReadFile(filepath.Join(c.resultsDir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| baseline (GenericReader rows) | 1 |", "| baseline (column reader) | 1 |", "identical"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}
