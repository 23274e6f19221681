package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/weirflow/weir/internal/testcert"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weirflow/weir/coordinator/api"
)

// jobScript is the job binary of these tests: it records its arguments,
// environment and pid in its --checkpoint-dir, then does what its first
// job argument says.
const jobScript = `#!/bin/sh
cp=""
for a in "$@"; do
  case "$a" in --checkpoint-dir=*) cp="${a#--checkpoint-dir=}" ;; esac
done
mkdir -p "$cp"
printf '%s\n' "$@" > "$cp/args"
env | grep '^WEIR_' | sort > "$cp/env"
echo "$$" > "$cp/pid"
echo x >> "$cp/starts"
echo "hello on stdout"
case "$2" in
exit3) echo "first line" >&2; echo "boom: something failed" >&2; exit 3 ;;
exit0) exit 0 ;;
sleep)
  trap 'echo "got TERM" >&2; exit 0' TERM
  echo ready > "$cp/ready"
  while :; do sleep 0.02; done ;;
esac
echo "unknown mode $2" >&2
exit 2
`

const testToken = "s3cret-token"

// fake is a coordinator that answers register, heartbeat and binaries,
// and records what the worker sent.
type fake struct {
	srv *httptest.Server

	mu          sync.Mutex
	blobs       map[string][]byte
	assignments []api.Assignment
	ack         bool // acknowledge the exits reported
	down        bool // answer 503 to everything
	unknownOnce bool // answer Unknown to the next heartbeat
	replaced    bool // answer Replaced to every heartbeat
	registers   []api.RegisterRequest
	beats       []api.HeartbeatRequest
	acked       map[key]int // exit -> index of the beat that acknowledged it
	lease       int64
}

func newFake(t *testing.T) *fake {
	f := &fake{blobs: map[string][]byte{}, acked: map[key]int{}, lease: 10_000}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/workers/register", func(w http.ResponseWriter, r *http.Request) {
		var req api.RegisterRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.mu.Lock()
		f.registers = append(f.registers, req)
		lease := f.lease
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(api.RegisterResponse{HeartbeatMillis: 20, LeaseMillis: lease})
	})
	mux.HandleFunc("POST /v1/workers/{id}/heartbeat", func(w http.ResponseWriter, r *http.Request) {
		var req api.HeartbeatRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.beats = append(f.beats, req)
		var resp api.HeartbeatResponse
		if f.replaced {
			resp.Unknown, resp.Replaced = true, true
		} else if f.unknownOnce {
			f.unknownOnce = false
			resp.Unknown = true
		} else {
			resp.Assignments = append([]api.Assignment(nil), f.assignments...)
		}
		if f.ack {
			for _, e := range req.Exited {
				resp.Acked = append(resp.Acked, api.Attempt{Job: e.Job, Attempt: e.Attempt})
				if _, ok := f.acked[key{e.Job, e.Attempt}]; !ok {
					f.acked[key{e.Job, e.Attempt}] = len(f.beats) - 1
				}
			}
		}
		_ = json.NewEncoder(w).Encode(resp)
	})
	mux.HandleFunc("GET /v1/binaries/{sha}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		b, ok := f.blobs[r.PathValue("sha")]
		f.mu.Unlock()
		if !ok {
			http.Error(w, `{"error":"no such binary"}`, 404)
			return
		}
		_, _ = w.Write(b)
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		down := f.down
		f.mu.Unlock()
		if down {
			http.Error(w, `{"error":"no leader"}`, http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get(api.TokenHeader) != "Bearer "+testToken {
			http.Error(w, `{"error":"no valid bearer token"}`, http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) addBlob(b []byte) string {
	s := sha256.Sum256(b)
	sha := hex.EncodeToString(s[:])
	f.mu.Lock()
	f.blobs[sha] = b
	f.mu.Unlock()
	return sha
}

func (f *fake) assign(as ...api.Assignment) {
	f.mu.Lock()
	f.assignments = as
	f.mu.Unlock()
}

func (f *fake) set(fn func(f *fake)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

// exitIn returns the exit of (job, attempt) in beat i.
func exitIn(b api.HeartbeatRequest, job string, attempt uint64) (api.Exit, bool) {
	for _, e := range b.Exited {
		if e.Job == job && e.Attempt == attempt {
			return e, true
		}
	}
	return api.Exit{}, false
}

// waitExit waits for a beat that reports the exit of (job, attempt).
func (f *fake) waitExit(t *testing.T, job string, attempt uint64) api.Exit {
	t.Helper()
	var e api.Exit
	waitFor(t, fmt.Sprintf("the exit of %s/%d in a heartbeat", job, attempt), func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, b := range f.beats {
			if x, ok := exitIn(b, job, attempt); ok {
				e = x
				return true
			}
		}
		return false
	})
	return e
}

// waitFor polls cond until it holds, or fails the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer collects the worker's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	f       *fake
	w       *Worker
	data    string
	dir     string // job dirs live here
	sha     string
	token   string // token file
	log     *syncBuffer
	stopped chan error
	cancel  context.CancelFunc
	once    sync.Once
}

// start runs a worker against a fake coordinator holding the job script.
func start(t *testing.T, lease time.Duration) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("runs child processes")
	}
	e := &env{f: newFake(t), data: t.TempDir(), dir: t.TempDir(), log: &syncBuffer{}, stopped: make(chan error, 1)}
	e.f.lease = lease.Milliseconds()
	e.sha = e.f.addBlob([]byte(jobScript))
	e.token = filepath.Join(e.dir, "token")
	if err := os.WriteFile(e.token, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := New(Config{Coordinators: []string{e.f.srv.URL}, TokenFile: e.token, Slots: 2, DataDir: e.data, Log: e.log})
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.stopped <- w.Run(ctx) }()
	t.Cleanup(func() {
		e.stop(t)
		if t.Failed() {
			t.Logf("worker log:\n%s", e.log.String())
		}
	})
	return e
}

func (e *env) stop(t *testing.T) {
	e.once.Do(func() {
		e.cancel()
		select {
		case err := <-e.stopped:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("Run did not return after its context was cancelled")
		}
	})
}

func (e *env) assignment(job string, attempt uint64, mode string) api.Assignment {
	return api.Assignment{
		Job: job, Attempt: attempt, Name: "fraud", Binary: e.sha, Args: []string{mode, "--x=1"}, Slots: 1,
		CheckpointDir: filepath.Join(e.dir, job, "checkpoints"),
		SavepointDir:  filepath.Join(e.dir, job, "savepoints"),
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func TestJobRunsAndItsExitIsReportedUntilAcked(t *testing.T) {
	e := start(t, 10*time.Second)
	a := e.assignment("fraud-00000001", 1, "exit3")
	a.FromSavepoint = filepath.Join(e.dir, "sp")
	e.f.assign(a)

	// Reported in every heartbeat while it is not acknowledged.
	var first int
	waitFor(t, "the exit in 3 heartbeats", func() bool {
		e.f.mu.Lock()
		defer e.f.mu.Unlock()
		n := 0
		for i, b := range e.f.beats {
			if _, ok := exitIn(b, a.Job, 1); ok {
				if n == 0 {
					first = i
				}
				n++
			}
		}
		return n >= 3
	})
	e.f.mu.Lock()
	for i, b := range e.f.beats[first:] {
		got, ok := exitIn(b, a.Job, 1)
		want := api.Exit{Job: a.Job, Attempt: 1, Code: 3, Reason: "boom: something failed"}
		if !ok || got != want {
			t.Errorf("beat %d after the exit: exit %+v (%v), want %+v", i, got, ok, want)
		}
		for _, r := range b.Running {
			if r.Job == a.Job {
				t.Errorf("beat %d after the exit lists %s as running", i, a.Job)
			}
		}
	}
	e.f.mu.Unlock()

	cp := a.CheckpointDir
	wantArgs := []string{"run", "exit3", "--x=1", "--name=fraud", "--checkpoint-dir=" + cp,
		"--savepoint-dir=" + a.SavepointDir, "--from-savepoint=" + a.FromSavepoint, "--progress=never"}
	if got := readFile(t, filepath.Join(cp, "args")); got != strings.Join(wantArgs, "\n")+"\n" {
		t.Errorf("args:\n%s\nwant:\n%s", got, strings.Join(wantArgs, "\n"))
	}
	wantEnv := fmt.Sprintf("WEIR_ATTEMPT=1\nWEIR_COORDINATORS=%s\nWEIR_JOB_ID=%s\nWEIR_TOKEN_FILE=%s\n", e.f.srv.URL, a.Job, e.token)
	if got := readFile(t, filepath.Join(cp, "env")); got != wantEnv {
		t.Errorf("env:\n%s\nwant:\n%s", got, wantEnv)
	}

	// Acknowledged: never reported again; still assigned: not restarted.
	e.f.set(func(f *fake) { f.ack = true })
	var acked int
	waitFor(t, "the ack", func() bool {
		e.f.mu.Lock()
		defer e.f.mu.Unlock()
		i, ok := e.f.acked[key{a.Job, 1}]
		acked = i
		return ok
	})
	waitFor(t, "3 more heartbeats", func() bool {
		e.f.mu.Lock()
		defer e.f.mu.Unlock()
		return len(e.f.beats) >= acked+4
	})
	e.f.mu.Lock()
	for i, b := range e.f.beats[acked+1:] {
		if _, ok := exitIn(b, a.Job, 1); ok {
			t.Errorf("beat %d after the ack still reports the exit", i)
		}
	}
	e.f.mu.Unlock()
	if got := readFile(t, filepath.Join(cp, "starts")); got != "x\n" {
		t.Errorf("started %d times, want once", strings.Count(got, "x"))
	}

	// The log, on disk and over HTTP with the token only.
	logPath := filepath.Join(e.data, "logs", a.Job+".log")
	log := readFile(t, logPath)
	if !regexp.MustCompile(`(?m)^--- attempt 1 started \S+\n`).MatchString(log) ||
		!strings.Contains(log, "hello on stdout\n") || !strings.Contains(log, "boom: something failed\n") {
		t.Errorf("log:\n%s", log)
	}
	if fi, err := os.Stat(logPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode: %v %v", fi.Mode(), err)
	}
	for _, c := range []struct {
		job, token string
		code       int
	}{
		{a.Job, api.LogToken(testToken), 200},
		{a.Job, testToken, 401}, // the cluster's token never goes to a log server
		{a.Job, "", 401},
		{a.Job, "wrong", 401},
		{"nothing-here", api.LogToken(testToken), 404},
		{"bad%20id", api.LogToken(testToken), 400},
	} {
		req, _ := http.NewRequest("GET", e.w.URL()+"/v1/logs/"+c.job, nil)
		if c.token != "" {
			req.Header.Set(api.TokenHeader, "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("GET logs/%s with token %q: %d %s, want %d", c.job, c.token, resp.StatusCode, body, c.code)
		}
		if c.code == 200 && string(body) != log {
			t.Errorf("GET logs/%s: %q, want the log file", c.job, body)
		}
	}

	// It registered with its URL and slots.
	e.f.mu.Lock()
	reg := e.f.registers[0]
	e.f.mu.Unlock()
	if reg.ID != e.w.ID() || reg.URL != e.w.URL() || reg.Slots != 2 || !regexp.MustCompile(`^w-[0-9a-f]{8}$`).MatchString(reg.ID) {
		t.Errorf("registered %+v (worker %s at %s)", reg, e.w.ID(), e.w.URL())
	}
}

func waitReady(t *testing.T, a api.Assignment) int {
	t.Helper()
	waitFor(t, a.Job+" ready", func() bool { return exists(filepath.Join(a.CheckpointDir, "ready")) })
	var pid int
	if _, err := fmt.Sscan(readFile(t, filepath.Join(a.CheckpointDir, "pid")), &pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// gone reports whether the process has ended and been reaped.
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

func TestStopSendsSIGTERM(t *testing.T) {
	e := start(t, 10*time.Second)
	a := e.assignment("fraud-00000002", 1, "sleep")
	e.f.assign(a)
	waitReady(t, a)
	waitFor(t, "a heartbeat listing it as running", func() bool {
		e.f.mu.Lock()
		defer e.f.mu.Unlock()
		b := e.f.beats[len(e.f.beats)-1]
		return len(b.Running) == 1 && b.Running[0] == api.Attempt{Job: a.Job, Attempt: 1}
	})
	a.Stop = true
	e.f.assign(a)
	got := e.f.waitExit(t, a.Job, 1)
	if want := (api.Exit{Job: a.Job, Attempt: 1, Code: 0, Reason: "got TERM"}); got != want {
		t.Errorf("exit %+v, want %+v", got, want)
	}
}

func TestUnassignedIsKilled(t *testing.T) {
	e := start(t, 10*time.Second)
	a := e.assignment("fraud-00000003", 1, "sleep")
	e.f.assign(a)
	pid := waitReady(t, a)
	e.f.assign() // the leader moved it elsewhere
	got := e.f.waitExit(t, a.Job, 1)
	if want := (api.Exit{Job: a.Job, Attempt: 1, Code: -1, Reason: ReasonUnassigned}); got != want {
		t.Errorf("exit %+v, want %+v", got, want)
	}
	waitFor(t, "the child gone", func() bool { return gone(pid) })
}

func TestAlteredBinaryIsRefused(t *testing.T) {
	e := start(t, 10*time.Second)
	a := e.assignment("fraud-00000004", 1, "exit0")
	e.f.assign(a)
	if got := e.f.waitExit(t, a.Job, 1); got.Code != 0 || got.Permanent {
		t.Fatalf("attempt 1: exit %+v, want code 0", got)
	}
	bin := filepath.Join(e.data, "binaries", e.sha)
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("binary on disk: %v %v", fi, err)
	}
	altered := []byte(jobScript + "# altered\n")
	if err := os.WriteFile(bin, altered, 0o700); err != nil {
		t.Fatal(err)
	}
	now := sha256.Sum256(altered)
	a.Attempt = 2
	e.f.assign(a)
	got := e.f.waitExit(t, a.Job, 2)
	want := api.Exit{Job: a.Job, Attempt: 2, Code: -1, Permanent: true,
		Reason: fmt.Sprintf("binary %s altered on disk (sha256 now %s)", e.sha[:12], hex.EncodeToString(now[:])[:12])}
	if got != want {
		t.Errorf("exit %+v, want %+v", got, want)
	}
	if got := readFile(t, filepath.Join(a.CheckpointDir, "starts")); got != "x\n" {
		t.Errorf("started %d times, want once (the altered binary must not run)", strings.Count(got, "x"))
	}
	if log := readFile(t, filepath.Join(e.data, "logs", a.Job+".log")); !strings.Contains(log, "--- attempt 2 not started") {
		t.Errorf("log does not say attempt 2 did not start:\n%s", log)
	}
}

func TestFetchedBinaryIsVerified(t *testing.T) {
	e := start(t, 10*time.Second)
	bad := strings.Repeat("ab", 32)
	e.f.set(func(f *fake) { f.blobs[bad] = []byte(jobScript) })
	a := e.assignment("fraud-00000005", 1, "exit0")
	a.Binary = bad
	e.f.assign(a)
	got := e.f.waitExit(t, a.Job, 1)
	if got.Code != -1 || !strings.Contains(got.Reason, "the coordinator sent one whose sha256 is "+e.sha[:12]) {
		t.Errorf("exit %+v, want a hash mismatch", got)
	}
	if exists(filepath.Join(e.data, "binaries", bad)) {
		t.Errorf("the mismatching binary was kept")
	}
	if exists(a.CheckpointDir) {
		t.Errorf("the mismatching binary ran")
	}
}

func TestLostLeaseKillsChildren(t *testing.T) {
	e := start(t, 400*time.Millisecond)
	a := e.assignment("fraud-00000006", 1, "sleep")
	e.f.assign(a)
	pid := waitReady(t, a)
	e.f.set(func(f *fake) { f.down = true })
	waitFor(t, "the child killed for the lost lease", func() bool { return gone(pid) })
	e.f.set(func(f *fake) { f.down = false })
	got := e.f.waitExit(t, a.Job, 1)
	if want := (api.Exit{Job: a.Job, Attempt: 1, Code: -1, Reason: ReasonLeaseLost}); got != want {
		t.Errorf("exit %+v, want %+v", got, want)
	}
	if got := readFile(t, filepath.Join(a.CheckpointDir, "starts")); got != "x\n" {
		t.Errorf("started %d times, want once", strings.Count(got, "x"))
	}
}

func TestUnknownRegistersAgain(t *testing.T) {
	e := start(t, 10*time.Second)
	waitFor(t, "a heartbeat", func() bool {
		e.f.mu.Lock()
		defer e.f.mu.Unlock()
		return len(e.f.beats) > 0
	})
	e.f.set(func(f *fake) { f.unknownOnce = true })
	waitFor(t, "a second registration", func() bool {
		e.f.mu.Lock()
		defer e.f.mu.Unlock()
		return len(e.f.registers) == 2
	})
}

// TestReplacedStops: told that another process took its id, a worker
// kills its children and stops with one line, instead of taking the id
// back (which would restart every job on each heartbeat).
func TestReplacedStops(t *testing.T) {
	e := start(t, 10*time.Second)
	a := e.assignment("fraud-00000009", 1, "sleep")
	e.f.assign(a)
	pid := waitReady(t, a)
	e.f.set(func(f *fake) { f.replaced = true })
	var err error
	select {
	case err = <-e.stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("the replaced worker did not stop")
	}
	e.once.Do(e.cancel) // stopped already
	if err == nil || !strings.Contains(err.Error(), "another process registered as worker") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Run = %v", err)
	}
	waitFor(t, "the child gone", func() bool { return gone(pid) })
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if n := len(e.f.registers); n != 1 {
		t.Errorf("%d registrations, want 1 (a replaced worker does not register again)", n)
	}
}

func TestStopKillsChildren(t *testing.T) {
	e := start(t, 10*time.Second)
	a := e.assignment("fraud-00000007", 1, "sleep")
	e.f.assign(a)
	pid := waitReady(t, a)
	e.stop(t)
	if !gone(pid) {
		t.Errorf("child %d still runs after Run returned", pid)
	}
}

func TestLoadID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	id, err := LoadID(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^w-[0-9a-f]{8}$`).MatchString(id) {
		t.Errorf("id %q", id)
	}
	again, err := LoadID(dir)
	if err != nil || again != id {
		t.Errorf("second LoadID = %q, %v; want %q", again, err, id)
	}
	if fi, err := os.Stat(filepath.Join(dir, "worker-id")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("worker-id: %v %v", fi, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "worker-id"), []byte("../x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadID(dir); err == nil {
		t.Errorf("a bad id was accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Coordinators: []string{"http://a:1"}, TokenFile: "t", DataDir: "d"}
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no coordinators", func(c *Config) { c.Coordinators = nil }, "no coordinator URL"},
		{"no token file", func(c *Config) { c.TokenFile = "" }, "no token file"},
		{"no data", func(c *Config) { c.DataDir = "" }, "no data directory"},
		{"bad slots", func(c *Config) { c.Slots = -1 }, "slots must be at least 1"},
		{"bad id", func(c *Config) { c.ID = "a/b" }, "bad worker id"},
	} {
		cfg := ok
		c.edit(&cfg)
		cfg.EnsureDefaults()
		err := cfg.Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Validate = %v, want %q", c.name, err, c.want)
		}
	}
}

func openTemp(t *testing.T) (*os.File, error) {
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err == nil {
		t.Cleanup(func() { f.Close() })
	}
	return f, err
}

// TestDataDirInUse: a second worker on the data directory of a running one
// is refused with one line (it would be the same worker id twice).
func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Coordinators: []string{"http://127.0.0.1:1"}, TokenFile: token, Slots: 1, DataDir: filepath.Join(dir, "w"), HTTPAddr: "127.0.0.1:0"}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg)
	if err == nil || !strings.Contains(err.Error(), "is in use by pid") || !strings.Contains(err.Error(), "give each worker its own --data") ||
		strings.Contains(err.Error(), "\n") {
		t.Fatalf("second worker on %s: %v", cfg.DataDir, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	w2, err := New(cfg) // released by Run
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	w2.lock.Release()
	w2.ln.Close()
}

// TestLogServerTLS: with --tls-cert and --tls-key the log server speaks
// HTTPS only, and its URL says so.
func TestLogServerTLS(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key, pool := testcert.Write(t, dir)
	w, err := New(Config{Coordinators: []string{"http://127.0.0.1:1"}, TokenFile: token, Slots: 1,
		DataDir: filepath.Join(dir, "w"), TLSCert: cert, TLSKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %s, want https", w.URL())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	req, _ := http.NewRequest("GET", w.URL()+"/v1/logs/nothing-here", nil)
	req.Header.Set(api.TokenHeader, "Bearer "+api.LogToken("t"))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET over TLS: %d, want 404 (no such log)", resp.StatusCode)
	}
	plain, _ := http.NewRequest("GET", "http"+strings.TrimPrefix(w.URL(), "https")+"/v1/logs/nothing-here", nil)
	if resp, err := http.DefaultClient.Do(plain); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Error("plain HTTP was served")
		}
	}
}
