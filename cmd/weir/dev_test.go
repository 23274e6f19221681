package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/devbroker"
)

// lockedBuffer is a bytes.Buffer that runDev can write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// runDevUntilStarted runs `weir dev args...` until it has started, stops it
// as Ctrl-C would, and returns its exit code and standard error.
func runDevUntilStarted(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	old := devContext
	devContext = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	defer func() { devContext = old }()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	args = append([]string{"dev", "--http=127.0.0.1:0"}, args...)
	go func() { done <- run(args, &stdout, &stderr) }()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(stderr.String(), "Ctrl-C stops it") {
		select {
		case code := <-done:
			return code, stderr.String()
		case <-deadline:
			t.Fatalf("weir dev %v did not start: %q", args, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	select {
	case code := <-done:
		return code, stderr.String()
	case <-time.After(30 * time.Second):
		t.Fatalf("weir dev %v did not stop", args)
	}
	return 0, ""
}

// TestDevAddressWarning: an address other machines can reach gets one
// warning line; a loopback address none.
func TestDevAddressWarning(t *testing.T) {
	for _, tc := range []struct {
		addr string
		warn bool
	}{
		{"127.0.0.1:0", false},
		{"localhost:0", false},
		{":0", true},
		{"0.0.0.0:0", true},
	} {
		code, stderr := runDevUntilStarted(t, "--addr="+tc.addr)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", tc.addr, code, stderr)
		}
		warnings := 0
		for _, l := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(l, "weir: dev: warning: ") {
				warnings++
				if !strings.Contains(l, "listens on every network interface, with no authentication and topics created on first use") {
					t.Errorf("%s: warning %q", tc.addr, l)
				}
			}
		}
		if want := map[bool]int{false: 0, true: 1}[tc.warn]; warnings != want {
			t.Errorf("%s: %d warning lines, want %d:\n%s", tc.addr, warnings, want, stderr)
		}
	}
}

// TestDevSkipsBadTopic is the failure of the issue: a data directory that
// holds a topic with a 300-character name (as a broker before the topic
// rules could create) made `weir dev` refuse to start with "file name too
// long". It now starts, says what it skipped, and serves the other topics.
func TestDevSkipsBadTopic(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "kafka")
	b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := devbroker.CreateTopic(context.Background(), b.Brokers(), "txns", 1); err != nil {
		t.Fatal(err)
	}
	b.Close()
	// Add the topic to topics.json, as the broker used to persist it.
	path := filepath.Join(dir, "topics.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Version int              `json:"version"`
		Topics  []map[string]any `json:"topics"`
	}
	if err := json.Unmarshal(data, &file); err != nil || len(file.Topics) != 1 {
		t.Fatalf("topics.json: %v, %s", err, data)
	}
	long := map[string]any{}
	for k, v := range file.Topics[0] {
		long[k] = v
	}
	long["name"] = strings.Repeat("t", 300)
	file.Topics = append(file.Topics, long)
	if data, err = json.Marshal(file); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}

	code, stderr := runDevUntilStarted(t, "--addr=127.0.0.1:0", "--data-dir="+top)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "weir: dev: data in "+dir+": skipped a topic: topic name \"tttttttttt") ||
		!strings.Contains(lines[0], "is 300 characters; Kafka allows at most 249; its entry is kept in skipped/") ||
		!strings.Contains(lines[1], "Kafka-protocol broker on 127.0.0.1:") || lines[len(lines)-1] != "weir: dev: stopped" {
		t.Errorf("stderr:\n%s", stderr)
	}

	// The broker it serves has the other topic.
	b, err = devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var out, errs bytes.Buffer
	if code := run([]string{"topic", "consume", "--brokers=" + b.Addr(), "txns"}, &out, &errs); code != 0 {
		t.Errorf("consume txns: exit %d: %s", code, errs.String())
	}
}

// TestDevSameDataDirTwice: a second weir dev on the folder of a running one
// is refused with one line before its broker touches the topics, and the
// first keeps serving.
func TestDevSameDataDirTwice(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	old := devContext
	devContext = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	defer func() { devContext = old }()
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"dev", "--addr=127.0.0.1:0", "--http=127.0.0.1:0", "--data-dir=" + dir}, io.Discard, &stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "Ctrl-C stops it") {
		if time.Now().After(deadline) {
			t.Fatalf("the first weir dev did not start: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	var errs bytes.Buffer
	devContext = old
	code := run([]string{"dev", "--addr=127.0.0.1:0", "--http=127.0.0.1:0", "--data-dir=" + dir}, io.Discard, &errs)
	if code != 1 || strings.Count(errs.String(), "\n") != 1 || !strings.Contains(errs.String(), "is in use by") {
		t.Errorf("second weir dev: exit %d, stderr %q; want 1 and one line saying the folder is in use", code, errs.String())
	}
	devContext = func() (context.Context, context.CancelFunc) { return ctx, cancel }

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("first weir dev: exit %d: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first weir dev did not stop")
	}
}
