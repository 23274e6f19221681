package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSavepointRescale stops the fraud backfill with SIGTERM and
// --savepoint-dir at parallelism 2, resumes it from the savepoint at 3 and
// stops it again, then finishes it at 1: the committed output is exact.
// Each stop comes once the run has made progress (a checkpoint of its own
// completed), however fast the machine is.
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
			ckpt := filepath.Join(dir, "ck"+par)
			args = append(args, "--savepoint-dir="+sp, "--checkpoint-dir="+ckpt, "--checkpoint-interval=50ms")
			// Stop it part-way, once it has made progress.
			p := startProc(t, args...)
			p.waitUntil("a checkpoint of this run", func() bool { return newestCheckpoint(ckpt) > newestCheckpoint(from) })
			p.signal(syscall.SIGTERM)
			r := p.wait()
			t.Logf("run %d at parallelism %s: exit %d\n%s", i, par, r.code, strings.TrimSpace(r.stderr))
			if r.code != 0 {
				t.Fatalf("run %d: exit %d", i, r.code)
			}
			stopped(t, i, r.stderr, sp)
			from = sp
			continue
		}
		cmd := exec.Command(fraudBin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		t.Logf("run %d at parallelism %s: %v\n%s", i, par, err, strings.TrimSpace(stderr.String()))
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if !strings.Contains(stderr.String(), "resuming from savepoint") {
			t.Errorf("run %d did not resume from the savepoint", i)
		}
	}
	checkBatchOutput(t, out, want)
}

// stopped checks what a stop with a savepoint left: the line that says
// so, one self-contained savepoint, and a resume from the previous one.
func stopped(t *testing.T, i int, stderr, sp string) {
	t.Helper()
	if !strings.Contains(stderr, "stopped: output committed; savepoint in "+sp) {
		t.Fatalf("run %d: no savepoint line", i)
	}
	if m, _ := filepath.Glob(filepath.Join(sp, "chk-*", "_metadata")); len(m) != 1 {
		t.Fatalf("run %d: savepoint directory holds %d savepoints, want 1", i, len(m))
	}
	if _, err := os.Stat(filepath.Join(sp, "shared")); err == nil {
		t.Errorf("run %d: the savepoint shares files; it must be self-contained", i)
	}
	if i > 0 && !strings.Contains(stderr, "resuming from savepoint") {
		t.Errorf("run %d did not resume from the savepoint", i)
	}
}
