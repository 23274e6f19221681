package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSavepointRescale stops the fraud backfill with SIGTERM and
// --savepoint-dir at parallelism 2, resumes it from the savepoint at 3 and
// stops it again, then finishes it at 1: the committed output is exact.
func TestSavepointRescale(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the backfill three times")
	}
	in, want := batchInput()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	from := ""
	for i, par := range []string{"2", "3", "1"} {
		args := []string{"run", "--mode=batch", "--in=jsonl:" + in + "/*.jsonl", "--out=jsonl:" + out,
			"--parallelism=" + par, "--progress=never"}
		if from != "" {
			args = append(args, "--from-savepoint="+from)
		}
		sp := filepath.Join(dir, "sp"+par)
		last := i == 2
		if !last {
			args = append(args, "--savepoint-dir="+sp)
		}
		cmd := exec.Command(fraudBin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if !last {
			// Stop it part-way: the first run reads about a third of the
			// input by then, the second less of what is left.
			time.Sleep([]time.Duration{250 * time.Millisecond, 120 * time.Millisecond}[i])
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}
		err := cmd.Wait()
		t.Logf("run %d at parallelism %s: %v\n%s", i, par, err, strings.TrimSpace(stderr.String()))
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if !last && i > 0 && strings.Contains(stderr.String(), "fraud: done:") {
			// The machine was fast enough to finish before the signal:
			// the output is still checked, the last rescale is not.
			t.Logf("run %d finished before SIGTERM", i)
			break
		}
		if !last {
			if !strings.Contains(stderr.String(), "stopped: output committed; savepoint in "+sp) {
				t.Fatalf("run %d: no savepoint line", i)
			}
			if m, _ := filepath.Glob(filepath.Join(sp, "chk-*", "_metadata")); len(m) != 1 {
				t.Fatalf("run %d: savepoint directory holds %d savepoints, want 1", i, len(m))
			}
			if _, err := os.Stat(filepath.Join(sp, "shared")); err == nil {
				t.Errorf("run %d: the savepoint shares files; it must be self-contained", i)
			}
		}
		if i > 0 && !strings.Contains(stderr.String(), "resuming from savepoint") {
			t.Errorf("run %d did not resume from the savepoint", i)
		}
		from = sp
	}
	checkBatchOutput(t, out, want)
}
