package dirlock

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestAcquireRelease(t *testing.T) {
	dir := t.TempDir()
	l, stale, err := Acquire(dir, "job a")
	if err != nil || stale != nil {
		t.Fatalf("Acquire: %v, stale %v", err, stale)
	}
	// A second open file description is excluded, in this process too.
	_, _, err = Acquire(dir, "job b")
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second Acquire: %v, want a *HeldError", err)
	}
	if held.Holder.PID != os.Getpid() || held.Holder.What != "job a" {
		t.Errorf("holder %+v", held.Holder)
	}
	if msg := err.Error(); !strings.Contains(msg, "is in use by pid") || !strings.Contains(msg, "(job a)") {
		t.Errorf("message %q", msg)
	}
	if locked, _, err := Locked(dir); err != nil || !locked {
		t.Errorf("Locked = %v, %v; want true", locked, err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	// Released properly: no stale holder.
	l, stale, err = Acquire(dir, "job b")
	if err != nil || stale != nil {
		t.Fatalf("Acquire after Release: %v, stale %v", err, stale)
	}
	l.Release()
	if locked, _, err := Locked(t.TempDir()); err != nil || locked {
		t.Errorf("Locked of a directory without a lock file = %v, %v", locked, err)
	}
	if st, err := os.Stat(dir + "/" + FileName); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v, mode %v", err, st.Mode())
	}
}

// TestHelperHolder is the child process of TestStaleHolder: it takes the
// lock, says so, and waits to be killed.
func TestHelperHolder(t *testing.T) {
	dir := os.Getenv("DIRLOCK_HOLD")
	if dir == "" {
		t.Skip("child process of TestStaleHolder")
	}
	if _, _, err := Acquire(dir, "child"); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	time.Sleep(time.Hour)
}

// A process killed with SIGKILL releases its lock; the next one takes it
// over and learns who held it.
func TestStaleHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHolder$")
	cmd.Env = append(os.Environ(), "DIRLOCK_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	_, _, err = Acquire(dir, "parent")
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.PID != cmd.Process.Pid || held.Holder.What != "child" {
		t.Fatalf("Acquire while the child holds it: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, stale, err := Acquire(dir, "parent")
	if err != nil {
		t.Fatalf("Acquire after the child died: %v", err)
	}
	defer l.Release()
	if stale == nil || stale.PID != cmd.Process.Pid || stale.What != "child" || stale.Since.IsZero() {
		t.Errorf("stale holder %+v, want the child's", stale)
	}
}
