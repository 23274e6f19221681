package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestParallelismCapped: a parallelism beyond what the state backend's
// key groups allow is refused before anything runs, on one line naming
// the flag and the range (it used to grow past 9 GB and ignore signals).
func TestParallelismCapped(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--parallelism=100000", "--max-parallelism=100000"},
		{"--parallelism=100000"},
	} {
		r := execCLI(t, append([]string{"run", "--in=jsonl:" + dir, "--out=jsonl:" + filepath.Join(dir, "out")}, args...)...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2", args, r.code)
		}
		oneLine(t, strings.Join(args, " "), r.stderr, "fraud: --parallelism=100000: out of range; use 1 to 32768 (see fraud run -h)")
	}
	r := execCLI(t, "run", "--in=jsonl:"+dir, "--out=jsonl:"+filepath.Join(dir, "out"), "--max-parallelism=40000")
	if r.code != 2 {
		t.Errorf("--max-parallelism=40000: exit %d, want 2", r.code)
	}
	oneLine(t, "max-parallelism", r.stderr, "fraud: --max-parallelism=40000: out of range; use 1 to 32768")
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Errorf("a refused command line made its output directory")
	}
}

// TestSignalDuringSetUp runs a batch job at the largest parallelism there
// is and sends SIGTERM once it is setting up (its state directory
// appears): it must abort within seconds, not set up 100,000 tasks first.
func TestSignalDuringSetUp(t *testing.T) {
	dir := t.TempDir()
	if r := execCLI(t, "gen", "--rows=200", "--out=jsonl:"+filepath.Join(dir, "in")); r.code != 0 {
		t.Fatalf("gen: exit %d: %s", r.code, r.stderr)
	}
	stateDir := filepath.Join(dir, "state")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fraudBin, "run", "--in=jsonl:"+filepath.Join(dir, "in"), "--out=jsonl:"+filepath.Join(dir, "out"),
		"--parallelism=32768", "--max-parallelism=32768", "--state-dir="+stateDir, "--progress=never")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	}()

	// The state directory is made during set-up, after the signal handler
	// is in place.
	deadline := time.Now().Add(time.Minute)
	for {
		if m, _ := filepath.Glob(filepath.Join(stateDir, "weir-state-*")); len(m) > 0 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("exited before set-up: %v; stderr: %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no state directory after a minute; stderr: %s", stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30s after SIGTERM; stderr: %s", stderr.String())
	}
	r := result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
	checkClean(t, r)
	if r.code != 130 {
		t.Errorf("exit %d, want 130", r.code)
	}
	oneLine(t, "aborted", r.stderr, "fraud: aborted: nothing committed (without --checkpoint-dir a batch job is rerun whole): rows in ", "; job fraud-")
}
