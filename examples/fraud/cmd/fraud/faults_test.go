package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/internal/dirlock"
)

// The fault hunt's operator mistakes, through the binary: a kill right
// after a checkpoint with dead letters pending, a rerun of a job started
// from a savepoint, two jobs on one checkpoint directory, local state left
// by killed runs, and who may read a checkpoint.

// proc is a fraud job running as a child process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr syncBuffer
	done   chan error
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(fraudBin, args...), done: make(chan error, 1)}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// waitUntil waits for cond, polling every 2 ms; it fails t if the process
// exits first or two minutes pass.
func (p *proc) waitUntil(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		select {
		case err := <-p.done:
			p.done <- err
			p.t.Fatalf("the job exited (%v) before %s; stderr:\n%s", err, what, tail(p.stderr.String()))
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s; stderr:\n%s", what, tail(p.stderr.String()))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// wait waits for the process to exit (two minutes at most) and returns its
// result.
func (p *proc) wait() result {
	p.t.Helper()
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			p.t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		_ = p.cmd.Process.Kill()
		p.t.Fatalf("still running after 2 minutes; stderr:\n%s", tail(p.stderr.String()))
	}
	r := result{code: p.cmd.ProcessState.ExitCode(), stderr: p.stderr.String()}
	checkClean(p.t, r)
	return r
}

func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// badLines are three records that cannot be decoded, put at the top of
// the input files so that the first checkpoint covers them.
var badLines = []string{`{"user_id":"u1","amount":"lots"`, `not json at all`, `{"user_id":"u2","amount":"many","merchant":"m"}`}

// deadLetterInput writes a JSON Lines input with the three bad lines and
// returns its directory and the expected totals.
func deadLetterInput(t *testing.T) (string, []string) {
	t.Helper()
	o := fraudgen.Options{Rows: 400_000, Users: 5_000, Partitions: 2, Disorder: 20 * time.Second, Seed: 81}
	dir := t.TempDir()
	paths, err := fraudgen.WriteJSONL(dir, fraudgen.Generate(o))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var head string
		for k := i; k < len(badLines); k += len(paths) {
			head += badLines[k] + "\n"
		}
		if err := os.WriteFile(p, append([]byte(head), b...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, expectedTotals(t, o)
}

// TestFaultDeadLettersKilledAfterCheckpoint: killed with SIGKILL as soon as
// its first checkpoint completes (before or after the dead letters of that
// checkpoint are renamed into place), then rerun: every dead letter is
// there, once, and the output is exact. (Issue: 0 of 3, six times out of
// six.)
func TestFaultDeadLettersKilledAfterCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the job")
	}
	in, want := deadLetterInput(t)
	for i := range 3 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			dir := t.TempDir()
			out, ckpt := filepath.Join(dir, "out"), filepath.Join(dir, "ckpt")
			args := []string{"run", "--mode=batch", "--in=jsonl:" + in, "--out=jsonl:" + out, "--parallelism=2",
				"--checkpoint-dir=" + ckpt, "--checkpoint-interval=20ms", "--progress=never"}
			p := startProc(t, args...)
			p.waitUntil("the first checkpoint", func() bool { return newestCheckpoint(ckpt) >= 1 })
			_ = p.cmd.Process.Kill()
			p.wait()
			r := execCLI(t, args...)
			if r.code != 0 {
				t.Fatalf("rerun: exit %d; stderr:\n%s", r.code, tail(r.stderr))
			}
			exactRows(t, "committed output", readTotals(t, out), want)
			checkDeadLetters(t, filepath.Join(out, "dead-letter"), len(badLines), "line 1")
		})
	}
}

// TestFaultSavepointRerun: a job started from a savepoint with a
// checkpoint directory, stopped, and started again with the same command
// line resumes from its checkpoint, not the savepoint: nothing is written
// twice. (Issue: 24,677 duplicate rows.)
func TestFaultSavepointRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the backfill several times")
	}
	in, want := batchInput()
	dir := t.TempDir()
	out, sp := filepath.Join(dir, "out"), filepath.Join(dir, "sp")
	ck1, ck2 := filepath.Join(dir, "ck1"), filepath.Join(dir, "ck2")
	common := []string{"run", "--mode=batch", "--in=jsonl:" + in + "/*.jsonl", "--out=jsonl:" + out,
		"--parallelism=2", "--checkpoint-interval=50ms", "--progress=never"}

	// The first deployment, stopped with a savepoint.
	p := startProc(t, append(common, "--checkpoint-dir="+ck1, "--savepoint-dir="+sp)...)
	p.waitUntil("a checkpoint", func() bool { return newestCheckpoint(ck1) >= 1 })
	p.signal(syscall.SIGTERM)
	if r := p.wait(); r.code != 0 || !strings.Contains(r.stderr, "savepoint in "+sp) {
		t.Fatalf("stop with a savepoint: exit %d; stderr:\n%s", r.code, tail(r.stderr))
	}
	spID := newestCheckpoint(sp)

	// The second, started from it, stopped after some checkpoints of its
	// own, then started again with the very same command line.
	second := append(common, "--checkpoint-dir="+ck2, "--from-savepoint="+sp)
	committed := func() int { m, _ := filepath.Glob(filepath.Join(out, "*.jsonl")); return len(m) }
	before := committed()
	p = startProc(t, second...)
	p.waitUntil("output committed after the savepoint", func() bool { return committed() > before })
	p.signal(syscall.SIGTERM)
	if r := p.wait(); r.code != 0 {
		t.Fatalf("second run: exit %d; stderr:\n%s", r.code, tail(r.stderr))
	}
	r := execCLI(t, second...)
	if r.code != 0 {
		t.Fatalf("rerun: exit %d; stderr:\n%s", r.code, tail(r.stderr))
	}
	oneLine(t, "the note that the checkpoint wins", firstLine(r.stderr, "not the savepoint"),
		fmt.Sprintf("savepoint %d", spID), "resuming from the checkpoint, not the savepoint")
	checkBatchOutput(t, out, want)
}

// firstLine returns the first line of s containing sub, with its newline,
// or "".
func firstLine(s, sub string) string {
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// TestFaultTwoJobsOneCheckpointDir: a second job on a checkpoint directory
// a running job holds is refused with one line naming the holder; the
// first finishes with exact output. A lock left by a killed job is taken
// over, with a note.
func TestFaultTwoJobsOneCheckpointDir(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the backfill several times")
	}
	in, want := batchInput()
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "ckpt")
	args := func(out string) []string {
		return []string{"run", "--mode=batch", "--in=jsonl:" + in + "/*.jsonl", "--out=jsonl:" + filepath.Join(dir, out),
			"--parallelism=2", "--checkpoint-dir=" + ckpt, "--checkpoint-interval=50ms", "--progress=never"}
	}
	p := startProc(t, args("out")...)
	p.waitUntil("the job to lock its checkpoint directory", func() bool { l, _, _ := dirlock.Locked(ckpt); return l })
	r := execCLI(t, args("out2")...)
	if r.code != 1 {
		t.Errorf("second job: exit %d, want 1", r.code)
	}
	oneLine(t, "second job", r.stderr, "checkpoint directory", "is in use by pid "+strconv.Itoa(p.cmd.Process.Pid), "stop that job first")
	if r := p.wait(); r.code != 0 {
		t.Fatalf("first job: exit %d; stderr:\n%s", r.code, tail(r.stderr))
	}
	checkBatchOutput(t, filepath.Join(dir, "out"), want)
	if _, err := os.Stat(filepath.Join(dir, "out2")); err == nil {
		if files, _ := filepath.Glob(filepath.Join(dir, "out2", "*.jsonl")); len(files) > 0 {
			t.Errorf("the refused job wrote %v", files)
		}
	}

	// Killed: its lock is taken over by the next run, which says so.
	ckpt = filepath.Join(dir, "ckpt3")
	p = startProc(t, args("out3")...)
	p.waitUntil("a checkpoint", func() bool { return newestCheckpoint(ckpt) >= 1 })
	killed := p.cmd.Process.Pid
	_ = p.cmd.Process.Kill()
	p.wait()
	r = execCLI(t, args("out3")...)
	if r.code != 0 {
		t.Fatalf("run after the kill: exit %d; stderr:\n%s", r.code, tail(r.stderr))
	}
	oneLine(t, "lock note", firstLine(r.stderr, "taking it over"), "locked by pid "+strconv.Itoa(killed), "ended without releasing it")
	checkBatchOutput(t, filepath.Join(dir, "out3"), want)
}

// TestFaultLocalStateLeftBehind: each SIGKILL leaves the local state of
// the killed run; the next run removes it, and a finished run leaves
// nothing. Checkpoints and savepoints are readable by their owner only.
func TestFaultLocalStateLeftBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the job")
	}
	in, want := batchInput()
	dir := t.TempDir()
	out, ckpt, sp, state := filepath.Join(dir, "out"), filepath.Join(dir, "ckpt"), filepath.Join(dir, "sp"), filepath.Join(dir, "state")
	args := []string{"run", "--mode=batch", "--in=jsonl:" + in + "/*.jsonl", "--out=jsonl:" + out, "--parallelism=2",
		"--checkpoint-dir=" + ckpt, "--checkpoint-interval=50ms", "--state-dir=" + state, "--progress=never"}
	stateDirs := func() []string {
		m, _ := filepath.Glob(filepath.Join(state, "weir-state-*"))
		return m
	}
	for kill := range 2 {
		p := startProc(t, args...)
		base := newestCheckpoint(ckpt)
		p.waitUntil("a checkpoint", func() bool { return newestCheckpoint(ckpt) > base })
		_ = p.cmd.Process.Kill()
		p.wait()
		if n := len(stateDirs()); n != 1 {
			t.Fatalf("after kill %d: %d local state directories, want the killed run's one", kill+1, n)
		}
	}
	// Stopped with a savepoint, then finished.
	p := startProc(t, append(args, "--savepoint-dir="+sp)...)
	p.waitUntil("its state directory", func() bool { return len(stateDirs()) == 1 && strings.Contains(p.stderr.String(), "resuming") })
	base := newestCheckpoint(ckpt)
	p.waitUntil("a checkpoint", func() bool { return newestCheckpoint(ckpt) > base })
	p.signal(syscall.SIGTERM)
	r := p.wait()
	if r.code != 0 {
		t.Fatalf("stop: exit %d; stderr:\n%s", r.code, tail(r.stderr))
	}
	oneLine(t, "clean-up note", firstLine(r.stderr, "local state"), "removed 1 local state directory", state)
	r = execCLI(t, args...)
	if r.code != 0 {
		t.Fatalf("last run: exit %d; stderr:\n%s", r.code, tail(r.stderr))
	}
	checkBatchOutput(t, out, want)
	if d := stateDirs(); len(d) != 0 {
		t.Errorf("local state left after the job finished: %v", d)
	}

	for _, root := range []string{ckpt, sp} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			st, err := d.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if st.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
