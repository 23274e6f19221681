package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirflow/weir/coordinator/api"
)

// t0 is the fake clock's time in these tests.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// fakeCluster answers the client commands' calls with fixed jobs and
// workers, checks the token and records what it was asked to change.
type fakeCluster struct {
	token string

	mu       sync.Mutex
	calls    []string // "METHOD PATH"
	uploaded []string // sha256 of uploads
	submits  []api.SubmitRequest
	savepts  []api.SavepointRequest
}

var (
	fakeJobs = []api.Job{
		{ID: "fraud-0a1b2c3d", Name: "fraud", Mode: "stream", Parallelism: 4, State: api.Running, Attempt: 3, Restarts: 2,
			Reason: "", Worker: "w1", Workers: []string{"w1", "w2"},
			Tasks:      []api.Task{{Index: 2, Worker: "w2"}, {Index: 0, Worker: "w1"}, {Index: 1, Worker: "w1"}, {Index: 3, Worker: "w2"}},
			Checkpoint: &api.Ckpt{ID: 12, Path: "/ck/fraud-0a1b2c3d/checkpoints/chk-12", Watermark: t0.Add(-time.Minute), Attempt: 3, Completed: t0.Add(-3 * time.Second)},
			Submitted:  t0.Add(-90 * time.Minute)},
		{ID: "backfill-99887766", Name: "backfill", Mode: "batch", Parallelism: 8, State: api.Queued,
			Reason:    "needs 8 slots; 2 free on 2 alive workers",
			Submitted: t0.Add(-time.Minute)},
	}
	fakeWorkers = []api.Worker{
		{ID: "w1", URL: "http://127.0.0.1:9001", Slots: 4, Used: 4, Alive: true, Jobs: []string{"fraud-0a1b2c3d"}, LastSeen: t0.Add(-500 * time.Millisecond)},
		{ID: "w2", URL: "http://127.0.0.1:9002", Slots: 2, Used: 0, Alive: false},
	}
)

func (f *fakeCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	if r.Header.Get(api.TokenHeader) != "Bearer "+f.token {
		reply(http.StatusUnauthorized, api.Error{Error: "missing or wrong bearer token"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	job := func(id string) (api.Job, bool) {
		for _, j := range fakeJobs {
			if j.ID == id {
				return j, true
			}
		}
		reply(http.StatusNotFound, api.Error{Error: "job " + id + " not found"})
		return api.Job{}, false
	}
	p := strings.TrimPrefix(r.URL.Path, "/v1")
	switch {
	case r.Method == "POST" && p == "/binaries":
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		sum := hex.EncodeToString(h.Sum(nil))
		f.uploaded = append(f.uploaded, sum)
		reply(200, api.Binary{SHA256: sum, Size: n, Holders: []string{"c1", "c2"}})
	case r.Method == "POST" && p == "/jobs":
		var req api.SubmitRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.submits = append(f.submits, req)
		if slices.Contains(req.Args, "--no-such-flag") {
			reply(http.StatusBadRequest, api.Error{Error: "fraud: unknown flag --no-such-flag (see fraud run -h)"})
			return
		}
		reply(200, api.SubmitResponse{ID: "fraud-feedf00d"})
	case r.Method == "GET" && p == "/jobs":
		reply(200, fakeJobs)
	case r.Method == "GET" && strings.HasPrefix(p, "/jobs/") && strings.HasSuffix(p, "/logs"):
		if _, ok := job(strings.TrimSuffix(strings.TrimPrefix(p, "/jobs/"), "/logs")); ok {
			io.WriteString(w, "line 1\nline 2\n")
		}
	case r.Method == "GET" && strings.HasPrefix(p, "/jobs/"):
		if j, ok := job(strings.TrimPrefix(p, "/jobs/")); ok {
			reply(200, j)
		}
	case r.Method == "POST" && strings.HasSuffix(p, "/cancel"):
		if j, ok := job(strings.TrimSuffix(strings.TrimPrefix(p, "/jobs/"), "/cancel")); ok {
			j.State = api.Cancelling
			reply(200, j)
		}
	case r.Method == "POST" && strings.HasSuffix(p, "/savepoint"):
		if j, ok := job(strings.TrimSuffix(strings.TrimPrefix(p, "/jobs/"), "/savepoint")); ok {
			var req api.SavepointRequest
			json.NewDecoder(r.Body).Decode(&req)
			f.savepts = append(f.savepts, req)
			j.SavepointDir = "/ck/" + j.ID + "/savepoints"
			if req.Stop {
				j.State = api.Stopping
			} else { // taken at once
				j.SavepointRequested, j.SavepointTaken, j.SavepointID, j.Savepoint = 1, 1, 9, j.SavepointDir
			}
			reply(200, j)
		}
	case r.Method == "GET" && p == "/workers":
		reply(200, fakeWorkers)
	default:
		reply(http.StatusNotFound, api.Error{Error: "no route " + r.Method + " " + r.URL.Path})
	}
}

func TestClusterCommands(t *testing.T) {
	now = func() time.Time { return t0 }
	clientRetry = 200 * time.Millisecond
	t.Cleanup(func() { now, clientRetry = time.Now, 0 })
	fake := &fakeCluster{token: "s3cret"}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	token, wrong := write("token", "s3cret\n"), write("wrong", "nope\n")
	bin := write("fraud", "not really a binary")
	binSum := sha256.Sum256([]byte("not really a binary"))
	sha := hex.EncodeToString(binSum[:])
	statusOut := `job:             fraud-0a1b2c3d
name:            fraud
state:           running
mode:            stream
parallelism:     4
attempt:         3 (2 restarts)
workers:         w1, w2 (one process each; w1's completes checkpoints)
tasks 0-1:       w1
tasks 2-3:       w2
checkpoint:      12 of attempt 3, completed 3s ago, watermark 2024-05-01T11:59:00Z
checkpoint path: /ck/fraud-0a1b2c3d/checkpoints/chk-12
submitted:       2024-05-01T10:30:00Z (1h30m ago)
`
	for _, tc := range []struct {
		name   string
		env    bool // WEIR_COORDINATORS and WEIR_TOKEN_FILE set to the fake
		args   []string
		code   int
		stdout string // exact when it does not start with "~", else a substring
		stderr string // a substring, which must be the one line on stderr
		calls  []string
	}{
		{name: "jobs", env: true, args: []string{"jobs"}, stdout: `ID                 NAME      STATE    P  WORKER  CHECKPOINT
fraud-0a1b2c3d     fraud     running  4  w1      12 (3s ago)
backfill-99887766  backfill  queued   8  -       -
`, calls: []string{"GET /v1/jobs"}},
		{name: "jobs flags", args: []string{"jobs", "--coordinators=" + srv.URL, "--token-file=" + token}, stdout: "~fraud-0a1b2c3d     fraud"},
		{name: "jobs json", env: true, args: []string{"jobs", "--json"}, stdout: "~\"reason\": \"needs 8 slots; 2 free"},
		{name: "status", env: true, args: []string{"status", "fraud-0a1b2c3d"}, stdout: statusOut, calls: []string{"GET /v1/jobs/fraud-0a1b2c3d"}},
		{name: "status queued", env: true, args: []string{"status", "backfill-99887766"},
			stdout: "~reason:      needs 8 slots; 2 free on 2 alive workers\n"},
		{name: "status json", env: true, args: []string{"status", "fraud-0a1b2c3d", "--json"}, stdout: "~\"path\": \"/ck/fraud-0a1b2c3d/checkpoints/chk-12\""},
		{name: "status unknown", env: true, args: []string{"status", "nope"}, code: 1, stderr: "weir status: job nope not found\n"},
		{name: "status no job", env: true, args: []string{"status"}, code: 2, stderr: "weir status: name one job: weir status"},
		{name: "status two jobs", env: true, args: []string{"status", "a", "b"}, code: 2, stderr: `weir status: unexpected argument "b": name one job (see weir status -h)`},
		{name: "cancel", env: true, args: []string{"cancel", "fraud-0a1b2c3d"}, stdout: "job fraud-0a1b2c3d: cancelling\n",
			calls: []string{"POST /v1/jobs/fraud-0a1b2c3d/cancel"}},
		{name: "savepoint stop", env: true, args: []string{"savepoint", "fraud-0a1b2c3d", "--stop"},
			stdout: "job fraud-0a1b2c3d: stopping; its savepoint goes to /ck/fraud-0a1b2c3d/savepoints\n",
			calls:  []string{"POST /v1/jobs/fraud-0a1b2c3d/savepoint"}},
		{name: "savepoint no stop", env: true, args: []string{"savepoint", "fraud-0a1b2c3d"},
			stdout: "job fraud-0a1b2c3d: savepoint 9 in /ck/fraud-0a1b2c3d/savepoints (resume with --from-savepoint=/ck/fraud-0a1b2c3d/savepoints); the job goes on\n",
			calls:  []string{"POST /v1/jobs/fraud-0a1b2c3d/savepoint"}},
		{name: "logs", env: true, args: []string{"logs", "fraud-0a1b2c3d"}, stdout: "line 1\nline 2\n"},
		{name: "workers", env: true, args: []string{"workers"}, stdout: `ID  STATE  SLOTS  USED  JOBS            SEEN       URL
w1  alive  4      4     fraud-0a1b2c3d  500ms ago  http://127.0.0.1:9001
w2  dead   2      0     -               -          http://127.0.0.1:9002
`},
		{name: "workers json", env: true, args: []string{"workers", "--json"}, stdout: "~\"url\": \"http://127.0.0.1:9002\""},
		{name: "submit", env: true, args: []string{"submit", "--name=nightly", bin, "--", "--mode=stream", "--parallelism=4"},
			stdout: "uploading fraud (19 B)\nuploaded sha256:" + sha[:12] + ", held by c1,c2\nsubmitted job fraud-feedf00d\nfraud-feedf00d\n",
			calls:  []string{"POST /v1/binaries", "POST /v1/jobs"}},
		{name: "submit refused", env: true, args: []string{"submit", bin, "--", "--no-such-flag"}, code: 1,
			stdout: "~uploaded sha256:", stderr: "weir submit: submit: fraud: unknown flag --no-such-flag (see fraud run -h)\n"},
		{name: "submit no binary", env: true, args: []string{"submit"}, code: 2, stderr: "weir submit: name the job binary"},
		{name: "submit flags without --", env: true, args: []string{"submit", bin, "--mode=stream"}, code: 2, stderr: "weir submit: unknown flag --mode"},
		{name: "submit missing binary", env: true, args: []string{"submit", filepath.Join(dir, "nope"), "--"}, code: 1,
			stderr: "weir submit: binary: stat " + filepath.Join(dir, "nope") + ": no such file or directory\n"},
		{name: "no coordinators", args: []string{"jobs"}, code: 2,
			stderr: "weir jobs: no coordinators: pass --coordinators=URLS or set WEIR_COORDINATORS (see weir jobs -h)\n"},
		{name: "bad coordinators", args: []string{"jobs", "--coordinators=ftp://x"}, code: 2, stderr: "weir jobs: --coordinators: bad coordinator URL"},
		{name: "bad flag", env: true, args: []string{"workers", "--bogus"}, code: 2, stderr: "weir workers: unknown flag --bogus (see weir workers -h)\n"},
		{name: "unreachable", args: []string{"jobs", "--coordinators=http://127.0.0.1:1"}, code: 1,
			stderr: "weir jobs: no coordinator answers at http://127.0.0.1:1 after 200ms"},
		{name: "wrong token", args: []string{"status", "--coordinators=" + srv.URL, "--token-file=" + wrong, "fraud-0a1b2c3d"}, code: 1,
			stderr: "weir status: 401 unauthorized: missing or wrong bearer token; check --token-file or WEIR_TOKEN_FILE\n"},
		{name: "no token", args: []string{"jobs", "--coordinators=" + srv.URL}, code: 1, stderr: "weir jobs: 401 unauthorized"},
		{name: "token file missing", args: []string{"jobs", "--coordinators=" + srv.URL, "--token-file=" + filepath.Join(dir, "none")}, code: 1,
			stderr: "weir jobs: token file: open "},
		{name: "help", args: []string{"status", "-h"}, stdout: "~usage: weir status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env {
				t.Setenv(api.EnvCoordinators, srv.URL)
				t.Setenv(api.EnvTokenFile, token)
			} else {
				t.Setenv(api.EnvCoordinators, "")
				t.Setenv(api.EnvTokenFile, "")
			}
			fake.mu.Lock()
			fake.calls = nil
			fake.mu.Unlock()
			var out, errs bytes.Buffer
			code := run(tc.args, &out, &errs)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errs.String())
			}
			if want, ok := strings.CutPrefix(tc.stdout, "~"); ok {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout %q, want it to contain %q", out.String(), want)
				}
			} else if out.String() != tc.stdout {
				t.Errorf("stdout\n%s\nwant\n%s", out.String(), tc.stdout)
			}
			if tc.stderr == "" && errs.Len() > 0 {
				t.Errorf("stderr %q", errs.String())
			}
			if tc.stderr != "" && (!strings.Contains(errs.String(), tc.stderr) || strings.Count(errs.String(), "\n") != 1) {
				t.Errorf("stderr %q, want one line with %q", errs.String(), tc.stderr)
			}
			if tc.calls != nil {
				fake.mu.Lock()
				calls := fake.calls
				fake.mu.Unlock()
				if !slices.Equal(calls, tc.calls) {
					t.Errorf("calls %q, want %q", calls, tc.calls)
				}
			}
		})
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.submits) < 1 || fake.submits[0].Name != "nightly" || fake.submits[0].Binary != sha ||
		!slices.Equal(fake.submits[0].Args, []string{"--mode=stream", "--parallelism=4"}) {
		t.Errorf("submitted %+v", fake.submits)
	}
	if len(fake.savepts) != 2 || !fake.savepts[0].Stop || fake.savepts[1].Stop {
		t.Errorf("savepoint requests %+v, want one with Stop, one without", fake.savepts)
	}
}
