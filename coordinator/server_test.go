package coordinator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/coordinator/internal/raftnode"
	"github.com/weirflow/weir/coordinator/state"
	"github.com/weirflow/weir/internal/testcert"
)

const testToken = "s3cret-token"

// syncBuf collects a server's log lines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testConfig is a one-node cluster on ephemeral ports, with the fake
// binary checks (any file is a job binary; see fakeValidate).
func testConfig(t testing.TB, id string, log io.Writer) Config {
	t.Helper()
	dir := t.TempDir()
	return Config{
		ID:             id,
		RaftAddr:       "127.0.0.1:0",
		HTTPAddr:       "127.0.0.1:0",
		DataDir:        filepath.Join(dir, "data"),
		CheckpointRoot: filepath.Join(dir, "checkpoints"),
		Token:          testToken,
		Logger:         log,
		check:          func(string) error { return nil },
		validate:       fakeValidate,
	}
}

// fakeValidate stands in for `BINARY validate ARGS`: --parallelism=N
// (default 2), --mode=M (default stream); any other flag is refused.
func fakeValidate(_ context.Context, _ string, args []string) (api.Validation, error) {
	v := api.Validation{Weir: 1, Program: "fake", Name: "fake", Mode: "stream", Parallelism: 2}
	for _, a := range args {
		name, value, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "parallelism":
			n, err := strconv.Atoi(value)
			if err != nil {
				return v, fmt.Errorf("fake: --parallelism=%s: not a number", value)
			}
			v.Parallelism = n
		case "mode":
			v.Mode = value
		default:
			return v, fmt.Errorf("fake: unknown flag --%s (see fake run -h)", name)
		}
	}
	return v, nil
}

func start(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func client(servers ...*Server) *api.Client {
	c := &api.Client{Token: testToken, Retry: 20 * time.Second, Wait: 50 * time.Millisecond}
	for _, s := range servers {
		c.URLs = append(c.URLs, s.URL())
	}
	return c
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeBinary writes a fake job binary and returns its path and SHA-256.
func writeBinary(t testing.TB, content string) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "job")
	if err := os.WriteFile(path, []byte(content), 0o700); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	return path, hex.EncodeToString(sum[:])
}

// leaderOf waits until every server sees the same leader and every node
// announced its URL, and returns the leader.
func leaderOf(t testing.TB, servers ...*Server) *Server {
	t.Helper()
	var leader *Server
	waitFor(t, "a leader that every node knows", func() bool {
		leader = nil
		for _, s := range servers {
			if s.IsLeader() {
				leader = s
			}
		}
		if leader == nil {
			return false
		}
		for _, s := range servers {
			if s.leaderURL() != leader.URL() {
				return false
			}
			var nodes []api.Node
			s.fsm.read(func(st *state.State) { nodes = st.Nodes() })
			for _, o := range servers {
				if !slices.Contains(nodes, api.Node{ID: o.ID(), Raft: o.RaftAddr(), HTTP: o.URL()}) {
					return false
				}
			}
		}
		return true
	})
	return leader
}

func TestUnauthorized(t *testing.T) {
	log := &syncBuf{}
	s := start(t, testConfig(t, "c1", log))
	leaderOf(t, s)
	tests := []struct {
		name, method, path, auth string
	}{
		{"health without token", "GET", "/v1/health", ""},
		{"health with a wrong token", "GET", "/v1/health", "Bearer nope"},
		{"token without Bearer", "GET", "/v1/health", testToken},
		{"submit without token", "POST", "/v1/jobs", ""},
		{"register with a longer token", "POST", "/v1/workers/register", "Bearer " + testToken + "x"},
		{"internal without token", "POST", "/v1/internal/nodes", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"id":"w1","url":"http://127.0.0.1:1","slots":2,"binary":"x"}`
			req, err := http.NewRequest(tt.method, s.URL()+tt.path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", resp.StatusCode, b)
			}
			if !strings.Contains(string(b), `"error":"missing or wrong bearer token`) {
				t.Errorf("body %s", b)
			}
			want := fmt.Sprintf("401 %s %s from 127.0.0.1:", tt.method, tt.path)
			if !strings.Contains(log.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		})
	}
	c := client(s)
	ws, err := c.Workers(context.Background())
	if err != nil || len(ws) != 0 {
		t.Fatalf("workers after refused calls: %v, %v", ws, err)
	}
	h, err := c.Health(context.Background())
	if err != nil || h.ID != "c1" || !h.IsLeader || h.LeaderURL != s.URL() || len(h.Nodes) != 1 || h.Nodes[0].HTTP != s.URL() {
		t.Fatalf("health with the token: %+v, %v", h, err)
	}
}

func TestUploadRefused(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, "c1", nil)
	cfg.check = nil // the real bincheck.Check
	cfg.MaxBinarySize = 64
	s := start(t, cfg)
	c := client(s)
	tests := []struct {
		name, content string
		code          int
		msg           string
	}{
		{"a shell script", "#!/bin/sh\necho hi\n", 400, "not an executable"},
		{"too large", strings.Repeat("x", 65), 413, "larger than the limit of 64 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, sha := writeBinary(t, tt.content)
			_, err := c.UploadBinary(ctx, path)
			if !api.IsStatus(err, tt.code) || !strings.Contains(err.Error(), tt.msg) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("upload: %v, want %d %q on one line", err, tt.code, tt.msg)
			}
			if s.blobs.Has(sha) {
				t.Errorf("the refused binary stays in the store")
			}
			if _, ok := s.binaryRecord(sha); ok {
				t.Errorf("the refused binary is recorded")
			}
		})
	}
}

func TestJobLifecycle(t *testing.T) {
	ctx := context.Background()
	log := &syncBuf{}
	s := start(t, testConfig(t, "c1", log))
	c := client(s)
	path, sha := writeBinary(t, "fake job binary")
	b, err := c.UploadBinary(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if b.SHA256 != sha || b.Size != 15 || len(b.Holders) != 1 || b.Holders[0] != "c1" {
		t.Fatalf("uploaded %+v", b)
	}
	if again, err := c.UploadBinary(ctx, path); err != nil || again.SHA256 != sha {
		t.Fatalf("upload again: %+v, %v", again, err)
	}
	var got bytes.Buffer
	if err := c.FetchBinary(ctx, sha, &got); err != nil || got.String() != "fake job binary" {
		t.Fatalf("fetch: %q, %v", got.String(), err)
	}

	refused := []struct {
		name string
		req  api.SubmitRequest
		code int
		msg  string
	}{
		{"unknown binary", api.SubmitRequest{Binary: strings.Repeat("a", 64)}, 404, "no binary aaaa"},
		{"not a sha", api.SubmitRequest{Binary: "../../etc/passwd"}, 400, "not a SHA-256"},
		{"bad flag", api.SubmitRequest{Binary: sha, Args: []string{"--nope=1"}}, 400, "fake: unknown flag --nope"},
		{"cluster flag", api.SubmitRequest{Binary: sha, Args: []string{"--checkpoint-dir=/tmp/x"}}, 400, "--checkpoint-dir is set by the cluster"},
		{"bad name", api.SubmitRequest{Binary: sha, Name: "../x"}, 400, "job name"},
		{"relative savepoint", api.SubmitRequest{Binary: sha, FromSavepoint: "sp"}, 400, "absolute path"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Submit(ctx, tt.req)
			if !api.IsStatus(err, tt.code) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("submit: %v, want %d %q", err, tt.code, tt.msg)
			}
		})
	}
	if jobs, err := c.Jobs(ctx); err != nil || len(jobs) != 0 {
		t.Fatalf("jobs after refused submits: %v, %v", jobs, err)
	}

	sub, err := c.Submit(ctx, api.SubmitRequest{Binary: sha, Args: []string{"--parallelism=2"}, RequestID: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^fake-[0-9a-f]{8}$`).MatchString(sub.ID) {
		t.Fatalf("job id %q", sub.ID)
	}
	// A retry of the same submission (its answer lost) is the same job.
	if again, err := c.Submit(ctx, api.SubmitRequest{Binary: sha, Args: []string{"--parallelism=2"}, RequestID: "req-1"}); err != nil || again.ID != sub.ID {
		t.Fatalf("retried submit: %+v, %v; want %s", again, err, sub.ID)
	}
	if jobs, _ := c.Jobs(ctx); len(jobs) != 1 {
		t.Fatalf("jobs after a retried submit: %d, want 1", len(jobs))
	}
	j, err := c.Job(ctx, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != api.Queued || j.Reason == "" || j.Parallelism != 2 || j.Mode != "stream" {
		t.Fatalf("job before any worker: %+v", j)
	}
	for _, d := range []string{j.CheckpointDir, j.SavepointDir} {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm() != 0o700 || filepath.Dir(filepath.Dir(d)) != s.cfg.CheckpointRoot {
			t.Fatalf("job directory %s: %v %v", d, fi, err)
		}
	}
	if _, err := c.Job(ctx, "nope"); !api.IsStatus(err, 404) || err.Error() != "no job nope" {
		t.Fatalf("unknown job: %v", err)
	}
	if err := c.Logs(ctx, sub.ID, io.Discard); !api.IsStatus(err, 404) {
		t.Fatalf("logs of a job that never ran: %v", err)
	}

	// A worker registers and heartbeats: the job is placed on it.
	logs := fakeWorker(t, map[string]string{sub.ID: "line 1\nline 2\n"})
	reg, err := c.Register(ctx, api.RegisterRequest{ID: "w1", URL: logs.URL, Slots: 2})
	if err != nil || reg.HeartbeatMillis != heartbeatMillis || reg.LeaseMillis != leaseMillis {
		t.Fatalf("register: %+v, %v", reg, err)
	}
	a := nextAssignment(t, c, "w1", sub.ID, 1)
	if a.Slots != 2 || a.CheckpointDir != j.CheckpointDir || a.Binary != sha || a.Stop {
		t.Fatalf("assignment %+v", a)
	}
	var out bytes.Buffer
	if err := c.Logs(ctx, sub.ID, &out); err != nil || out.String() != "line 1\nline 2\n" {
		t.Fatalf("logs: %q, %v", out.String(), err)
	}

	// Checkpoints: the current attempt completes one, a stale one gets 409.
	ck := api.CheckpointRequest{Attempt: 1, ID: 3, Path: filepath.Join(j.CheckpointDir, "3")}
	if _, err := c.ReportCheckpoint(ctx, sub.ID, ck); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReportCheckpoint(ctx, sub.ID, ck); err != nil {
		t.Fatalf("the same checkpoint again: %v", err)
	}
	ck.Attempt, ck.ID = 7, 4
	if _, err := c.ReportCheckpoint(ctx, sub.ID, ck); !api.IsStatus(err, 409) {
		t.Fatalf("stale checkpoint: %v", err)
	}
	if _, err := c.ReportCheckpoint(ctx, "nope", ck); !api.IsStatus(err, 404) {
		t.Fatalf("checkpoint of an unknown job: %v", err)
	}
	if j, _ = c.Job(ctx, sub.ID); j.Checkpoint == nil || j.Checkpoint.ID != 3 || j.State != api.Running || j.Worker != "w1" {
		t.Fatalf("job after its checkpoint: %+v", j)
	}

	// A savepoint without stop: the request is counted, the next
	// checkpoint's answer carries it, and a checkpoint with a savepoint
	// answers it.
	if j, err = c.Savepoint(ctx, sub.ID, api.SavepointRequest{}); err != nil || j.SavepointRequested != 1 || j.State != api.Running {
		t.Fatalf("savepoint without stop: %+v, %v", j, err)
	}
	ck = api.CheckpointRequest{Attempt: 1, ID: 4, Path: filepath.Join(j.CheckpointDir, "4")}
	if j, err = c.ReportCheckpoint(ctx, sub.ID, ck); err != nil || j.SavepointRequested != 1 || j.SavepointTaken != 0 {
		t.Fatalf("checkpoint after the request: %+v, %v", j, err)
	}
	ck.ID, ck.Savepoint, ck.SavepointFor = 5, filepath.Join(j.SavepointDir, "chk-5"), 1
	if j, err = c.ReportCheckpoint(ctx, sub.ID, ck); err != nil || j.SavepointTaken != 1 || j.SavepointID != 5 || j.Savepoint != j.SavepointDir {
		t.Fatalf("checkpoint with the savepoint: %+v, %v", j, err)
	}

	// The attempt fails: acked, the job restarts as attempt 2; the same
	// exit again is stale but acked too.
	exit := api.Exit{Job: sub.ID, Attempt: 1, Code: 1, Reason: "boom"}
	for range 2 {
		hb, err := c.Heartbeat(ctx, "w1", api.HeartbeatRequest{Exited: []api.Exit{exit}})
		if err != nil || len(hb.Acked) != 1 || hb.Acked[0] != (api.Attempt{Job: sub.ID, Attempt: 1}) {
			t.Fatalf("heartbeat with the exit: %+v, %v", hb, err)
		}
	}
	nextAssignment(t, c, "w1", sub.ID, 2)
	if j, _ = c.Job(ctx, sub.ID); j.Restarts != 1 || j.Attempt != 2 {
		t.Fatalf("job after the restart: %+v", j)
	}

	// Stop with a savepoint.
	if _, err := c.Savepoint(ctx, sub.ID, api.SavepointRequest{}); err != nil {
		t.Fatalf("savepoint without stop: %v", err)
	}
	if j, err = c.Savepoint(ctx, sub.ID, api.SavepointRequest{Stop: true}); err != nil || j.State != api.Stopping {
		t.Fatalf("savepoint: %+v, %v", j, err)
	}
	hb, err := c.Heartbeat(ctx, "w1", api.HeartbeatRequest{})
	if err != nil || len(hb.Assignments) != 1 || !hb.Assignments[0].Stop {
		t.Fatalf("heartbeat while stopping: %+v, %v", hb, err)
	}
	if _, err := c.Heartbeat(ctx, "w1", api.HeartbeatRequest{Exited: []api.Exit{{Job: sub.ID, Attempt: 2}}}); err != nil {
		t.Fatal(err)
	}
	if j, _ = c.Job(ctx, sub.ID); j.State != api.Stopped || j.Savepoint != j.SavepointDir {
		t.Fatalf("job after the stop: %+v", j)
	}
	if _, err := c.Cancel(ctx, sub.ID); !api.IsStatus(err, 409) {
		t.Fatalf("cancel a stopped job: %v", err)
	}
	if _, err := c.Cancel(ctx, "nope"); !api.IsStatus(err, 404) {
		t.Fatalf("cancel an unknown job: %v", err)
	}

	// A job asking for more slots than exist waits, and says why; cancel.
	big, err := c.Submit(ctx, api.SubmitRequest{Binary: sha, Name: "big", Args: []string{"--parallelism=4"}})
	if err != nil || !strings.HasPrefix(big.ID, "big-") {
		t.Fatalf("submit big: %+v, %v", big, err)
	}
	if j, _ = c.Job(ctx, big.ID); j.State != api.Queued || !strings.Contains(j.Reason, "4 slots") {
		t.Fatalf("big job: %+v", j)
	}
	if j, err = c.Cancel(ctx, big.ID); err != nil || j.State != api.Cancelled {
		t.Fatalf("cancel big: %+v, %v", j, err)
	}

	ws, err := c.Workers(ctx)
	if err != nil || len(ws) != 1 || !ws[0].Alive || ws[0].LastSeen.IsZero() || ws[0].Slots != 2 {
		t.Fatalf("workers: %+v, %v", ws, err)
	}
	for _, line := range []string{"leader elected: c1", "job " + sub.ID + " submitted", "worker w1 registered",
		"job " + sub.ID + " attempt 1 assigned to worker w1", "job " + sub.ID + " attempt 1 exited on worker w1 with code 1"} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, log)
		}
	}
}

// nextAssignment heartbeats as worker until the job's attempt is assigned
// to it.
func nextAssignment(t *testing.T, c *api.Client, worker, job string, attempt uint64) api.Assignment {
	t.Helper()
	var a api.Assignment
	waitFor(t, fmt.Sprintf("attempt %d of %s on %s", attempt, job, worker), func() bool {
		hb, err := c.Heartbeat(context.Background(), worker, api.HeartbeatRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range hb.Assignments {
			if x.Job == job && x.Attempt == attempt {
				a = x
				return true
			}
		}
		return false
	})
	return a
}

// fakeWorker serves GET /v1/logs/{id} as a worker does.
func fakeWorker(t *testing.T, logs map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+api.LogToken(testToken) {
			http.Error(w, `{"error":"no token"}`, http.StatusUnauthorized)
			return
		}
		l, ok := logs[strings.TrimPrefix(r.URL.Path, "/v1/logs/")]
		if !ok {
			http.Error(w, `{"error":"no log"}`, http.StatusNotFound)
			return
		}
		io.WriteString(w, l)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestWorkerDead(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 4.5 s heartbeat timeout")
	}
	ctx := context.Background()
	s := start(t, testConfig(t, "c1", nil))
	c := client(s)
	_, _, sub := uploadSubmit(t, c)
	if _, err := c.Register(ctx, api.RegisterRequest{ID: "w1", URL: "http://127.0.0.1:1", Slots: 2}); err != nil {
		t.Fatal(err)
	}
	nextAssignment(t, c, "w1", sub.ID, 1)
	// w1 falls silent: after 3 s it is dead and its job waits for slots.
	waitFor(t, "w1 declared dead", func() bool {
		ws, err := c.Workers(ctx)
		return err == nil && len(ws) == 1 && !ws[0].Alive
	})
	j, err := c.Job(ctx, sub.ID)
	if err != nil || j.State != api.Restarting || !strings.Contains(j.Reason, "worker w1 lost") || j.Worker != "" {
		t.Fatalf("job after its worker died: %+v, %v", j, err)
	}
	hb, err := c.Heartbeat(ctx, "w1", api.HeartbeatRequest{Exited: []api.Exit{{Job: sub.ID, Attempt: 1, Code: -1}}})
	if err != nil || !hb.Unknown || len(hb.Assignments) != 0 {
		t.Fatalf("heartbeat of a dead worker: %+v, %v", hb, err)
	}
	if hb, err := c.Heartbeat(ctx, "w9", api.HeartbeatRequest{}); err != nil || !hb.Unknown {
		t.Fatalf("heartbeat of an unknown worker: %+v, %v", hb, err)
	}
	// It registers again and gets the job back as attempt 2.
	if _, err := c.Register(ctx, api.RegisterRequest{ID: "w1", URL: "http://127.0.0.1:1", Slots: 2}); err != nil {
		t.Fatal(err)
	}
	nextAssignment(t, c, "w1", sub.ID, 2)
}

// TestRealBinary uploads and submits a real job binary with the real
// checks.
func TestRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/fraud/cmd/fraud")
	}
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "fraud")
	build := exec.Command("go", "build", "-o", bin, "../examples/fraud/cmd/fraud")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := testConfig(t, "c1", nil)
	cfg.check, cfg.validate = nil, nil
	s := start(t, cfg)
	c := client(s)
	b, err := c.UploadBinary(ctx, bin)
	if err != nil {
		t.Fatalf("upload the fraud binary: %v", err)
	}
	dir := t.TempDir()
	args := []string{"--in=jsonl:" + filepath.Join(dir, "in.jsonl"), "--out=jsonl:" + filepath.Join(dir, "out"), "--parallelism=3"}
	if out, _ := exec.Command(bin, append([]string{"validate"}, args...)...).Output(); !bytes.Contains(out, []byte(`"weir":1`)) {
		t.Skip("the job binary has no validate command yet")
	}
	if _, err := c.Submit(ctx, api.SubmitRequest{Binary: b.SHA256, Args: []string{"--no-such-flag"}}); !api.IsStatus(err, 400) {
		t.Fatalf("submit with a bad flag: %v", err)
	}
	sub, err := c.Submit(ctx, api.SubmitRequest{Binary: b.SHA256, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	j, err := c.Job(ctx, sub.ID)
	if err != nil || j.Parallelism != 3 || j.Mode != "batch" || !strings.HasPrefix(j.ID, j.Name+"-") {
		t.Fatalf("job: %+v, %v", j, err)
	}
}

// freeAddrs returns n loopback addresses with free ports.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		out = append(out, ln.Addr().String())
	}
	return out
}

func TestThreeNodes(t *testing.T) {
	ctx := context.Background()
	addrs := freeAddrs(t, 3)
	var peers []raftnode.Peer
	for i, a := range addrs {
		peers = append(peers, raftnode.Peer{ID: fmt.Sprintf("c%d", i+1), Addr: a})
	}
	var (
		servers []*Server
		configs = map[*Server]Config{}
	)
	for _, p := range peers {
		cfg := testConfig(t, p.ID, nil)
		cfg.RaftAddr, cfg.Peers = p.Addr, peers
		s := start(t, cfg)
		servers = append(servers, s)
		configs[s] = cfg
	}
	leader := leaderOf(t, servers...)
	var follower *Server
	var others []*Server
	for _, s := range servers {
		if s != leader {
			follower = s
			others = append(others, s)
		}
	}

	// Through a follower alone: it forwards to the leader.
	c := client(follower)
	path, sha := writeBinary(t, "fake job binary")
	b, err := c.UploadBinary(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Holders) < 2 {
		t.Fatalf("binary on %v, want a quorum", b.Holders)
	}
	sub, err := c.Submit(ctx, api.SubmitRequest{Binary: sha})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, api.RegisterRequest{ID: "w1", URL: "http://127.0.0.1:1", Slots: 4}); err != nil {
		t.Fatal(err)
	}
	nextAssignment(t, c, "w1", sub.ID, 1)
	h, err := c.Health(ctx)
	if err != nil || h.ID != follower.ID() || h.IsLeader || h.LeaderURL != leader.URL() || len(h.Nodes) != 3 {
		t.Fatalf("follower's health: %+v, %v", h, err)
	}
	// A client that knows every node goes to the leader once an answer
	// (forwarded by a follower) named it.
	both := client(follower, leader)
	if _, err := both.Jobs(ctx); err != nil || both.Leader() != leader.URL() {
		t.Fatalf("after a forwarded request: leader hint %q (%v), want %s", both.Leader(), err, leader.URL())
	}

	// The leader goes; the others elect one and the client goes on.
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	c = client(servers...)
	newLeader := leaderOf(t, others...)
	// The hint to the dead leader is dropped at its first failure.
	if _, err := both.Jobs(ctx); err != nil || both.Leader() == leader.URL() {
		t.Fatalf("after the leader's death: leader hint %q (%v), want it dropped", both.Leader(), err)
	}
	if _, err := c.Heartbeat(ctx, "w1", api.HeartbeatRequest{}); err != nil {
		t.Fatal(err)
	}
	if j, err := c.Job(ctx, sub.ID); err != nil || j.State != api.Running || j.Worker != "w1" {
		t.Fatalf("job after the failover: %+v, %v", j, err)
	}
	// The heartbeat keeps the assignment; a new job is placed as well.
	sub2, err := c.Submit(ctx, api.SubmitRequest{Binary: sha})
	if err != nil {
		t.Fatalf("submit after the failover (leader %s): %v", newLeader.ID(), err)
	}
	nextAssignment(t, c, "w1", sub2.ID, 1)
	var got bytes.Buffer
	if err := c.FetchBinary(ctx, sha, &got); err != nil || got.String() != "fake job binary" {
		t.Fatalf("fetch after the failover: %q, %v", got.String(), err)
	}
	if _, err := c.ReportCheckpoint(ctx, sub.ID, api.CheckpointRequest{Attempt: 1, ID: 1}); err != nil {
		t.Fatal(err)
	}

	// The old leader restarts from its data directory (on another HTTP
	// port), catches up and announces its new URL.
	back := start(t, configs[leader])
	leaderOf(t, append(others, back)...)
	waitFor(t, "the restarted node to catch up", func() bool {
		var j api.Job
		var ok bool
		back.fsm.read(func(st *state.State) { j, ok = st.Job(sub.ID) })
		return ok && j.Checkpoint != nil && j.Checkpoint.ID == 1
	})
	if jobs, err := client(back).Jobs(ctx); err != nil || len(jobs) != 2 {
		t.Fatalf("jobs through the restarted node: %v, %v", jobs, err)
	}
}

func TestTLS(t *testing.T) {
	cfg := testConfig(t, "c1", nil)
	var pool *x509.CertPool
	cfg.TLSCert, cfg.TLSKey, pool = testcert.Write(t, t.TempDir())
	s := start(t, cfg)
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %s", s.URL())
	}
	c := client(s)
	c.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	leaderOf(t, s)
	if h, err := c.Health(context.Background()); err != nil || !h.IsLeader {
		t.Fatalf("health over TLS: %+v, %v", h, err)
	}
	// A client that does not trust the certificate gets nothing.
	untrusting := client(s)
	untrusting.Retry = 100 * time.Millisecond
	if _, err := untrusting.Health(context.Background()); err == nil {
		t.Fatal("health without trusting the certificate succeeded")
	}
}

// TestTimings: a worker cut off from the cluster kills its children before
// the leader gives their jobs to another worker, with a second to spare.
func TestTimings(t *testing.T) {
	lease := time.Duration(leaseMillis+heartbeatMillis)*time.Millisecond + time.Second
	if dead := deadTicks * tickInterval; lease > dead {
		t.Errorf("lease %dms + heartbeat %dms + 1s = %v > dead after %v", leaseMillis, heartbeatMillis, lease, dead)
	}
}

// TestBinarySweep: the leader forgets, on every node, a binary that no job
// that can still run uses once KeepBinaries have passed since its last
// upload or submission; it can be uploaded again.
// uploadSubmit uploads the fake job binary and submits a job of it.
func uploadSubmit(t *testing.T, c *api.Client) (path, sha string, sub api.SubmitResponse) {
	t.Helper()
	ctx := context.Background()
	path, sha = writeBinary(t, "fake job binary")
	if _, err := c.UploadBinary(ctx, path); err != nil {
		t.Fatal(err)
	}
	sub, err := c.Submit(ctx, api.SubmitRequest{Binary: sha})
	if err != nil {
		t.Fatal(err)
	}
	return path, sha, sub
}

func TestBinarySweep(t *testing.T) {
	ctx := context.Background()
	s := start(t, testConfig(t, "c1", nil))
	leaderOf(t, s)
	c := client(s)
	path, sha, sub := uploadSubmit(t, c)
	later := time.Now().Add(s.cfg.KeepBinaries + time.Hour)
	s.sweepBinaries(later)
	if _, ok := s.binaryRecord(sha); !ok || !s.blobs.Has(sha) {
		t.Fatal("a binary of a queued job was removed")
	}
	if _, err := c.Cancel(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	s.sweepBinaries(time.Now()) // used just now: kept
	if _, ok := s.binaryRecord(sha); !ok {
		t.Fatal("a binary used just now was removed")
	}
	s.sweepBinaries(later)
	if _, ok := s.binaryRecord(sha); ok || s.blobs.Has(sha) {
		t.Fatalf("binary of ended jobs, unused for KeepBinaries: recorded %v, file %v", ok, s.blobs.Has(sha))
	}
	if _, err := c.Submit(ctx, api.SubmitRequest{Binary: sha}); !api.IsStatus(err, 404) {
		t.Fatalf("submit of a removed binary: %v, want 404", err)
	}
	if _, err := c.UploadBinary(ctx, path); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(ctx, api.SubmitRequest{Binary: sha}); err != nil {
		t.Fatalf("submit after the upload again: %v", err)
	}
}
