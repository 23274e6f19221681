package job_test

import (
	"context"
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

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/job"
	"github.com/weirflow/weir/sdk"
)

// fakeCoordinator answers the calls a job binary makes: uploads, submits
// and checkpoint reports, and records them.
type fakeCoordinator struct {
	token string
	// checkpointCode, when not 0, is the answer to checkpoint reports.
	checkpointCode int

	mu          sync.Mutex
	binaries    []api.Binary
	submits     []api.SubmitRequest
	checkpoints []api.CheckpointRequest
	reportedFor []string // job ids of the checkpoint reports
}

func (f *fakeCoordinator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(api.Error{Error: msg})
	}
	if r.Header.Get(api.TokenHeader) != "Bearer "+f.token {
		fail(http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/binaries":
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		b := api.Binary{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n, Holders: []string{"c1"}}
		f.binaries = append(f.binaries, b)
		json.NewEncoder(w).Encode(b)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/jobs":
		var req api.SubmitRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		f.submits = append(f.submits, req)
		json.NewEncoder(w).Encode(api.SubmitResponse{ID: "hours-0000abcd"})
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/checkpoints"):
		var req api.CheckpointRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		f.checkpoints = append(f.checkpoints, req)
		f.reportedFor = append(f.reportedFor, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/jobs/"), "/checkpoints"))
		if f.checkpointCode != 0 {
			fail(f.checkpointCode, "attempt is stale")
			return
		}
		w.Write([]byte("{}"))
	default:
		fail(http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path)
	}
}

// clusterEnv clears the cluster's environment variables for a test (and
// sets those given).
func clusterEnv(t *testing.T, kv ...string) {
	for _, k := range []string{api.EnvJobID, api.EnvAttempt, api.EnvCoordinators, api.EnvTokenFile} {
		t.Setenv(k, "")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

func writeToken(t *testing.T, token string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// staleBuild fails like a pipeline whose generated code is stale.
func staleBuild(*job.Job) error {
	return sdk.StaleCodecError{Type: "hours.T", Change: "field F is new"}
}

func TestValidate(t *testing.T) {
	clusterEnv(t)
	dir := t.TempDir()
	in := "--in=jsonl:" + filepath.Join(dir, "nowhere", "*.jsonl") // validate reads no input
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		name   string
		build  func(*job.Job) error
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "batch", build: hours, args: []string{in, "--out=jsonl:" + out, "--name=h1"}, code: 0,
			stdout: `{"weir":1,"program":"hours","name":"h1","mode":"batch","parallelism":1}` + "\n"},
		{name: "stream", build: hours, args: []string{"--mode=stream", "--in=kafka://127.0.0.1:1/t", "--out=kafka://127.0.0.1:1/u",
			"--on-error=skip", "--parallelism=4", "--name=h2"}, code: 0,
			stdout: `{"weir":1,"program":"hours","name":"h2","mode":"stream","parallelism":4}` + "\n"},
		{name: "unknown flag", build: hours, args: []string{in, "--out=jsonl:" + out, "--no-such-flag"}, code: 2,
			stderr: "hours: unknown flag --no-such-flag (see hours run -h)\n"},
		{name: "bad value", build: hours, args: []string{in, "--out=jsonl:" + out, "--parallelism=zero"}, code: 2,
			stderr: "hours: --parallelism=zero: use a whole number from 1 to 32768 (see hours run -h)\n"},
		{name: "stale code", build: staleBuild, args: []string{in, "--out=jsonl:" + out}, code: 1,
			stderr: "hours: hours.T changed since weir_gen.go was generated (field F is new); run \"go generate ./...\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, context.Background(), job.Program{Name: "hours", Build: tc.build},
				append([]string{"validate"}, tc.args...)...)
			if code != tc.code || stdout != tc.stdout || stderr != tc.stderr {
				t.Errorf("exit %d\nstdout %q\nstderr %q\nwant exit %d\nstdout %q\nstderr %q", code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("validate created %s", out)
			}
		})
	}
	// Hidden: not in the help.
	_, stdout, _ := run(t, context.Background(), job.Program{Name: "hours", Build: hours}, "help")
	if strings.Contains(stdout, "validate") || !strings.Contains(stdout, "submit") {
		t.Errorf("help lists validate or not submit:\n%s", stdout)
	}
}

func TestSubmit(t *testing.T) {
	fake := &fakeCoordinator{token: "s3cret"}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	token := writeToken(t, "s3cret")
	wrong := writeToken(t, "wrong")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	dir := t.TempDir()
	good := []string{"--mode=batch", "--in=jsonl:/data/*.jsonl", "--out=jsonl:/data/out", "--parallelism=2"}
	for _, tc := range []struct {
		name   string
		env    []string
		build  func(*job.Job) error
		args   []string
		code   int
		stderr string // a line of stderr
		want   *api.SubmitRequest
	}{
		{name: "flags", args: append([]string{"--coordinators=" + srv.URL, "--token-file=" + token, "--name=nightly",
			"--from-savepoint", dir}, good...), code: 0,
			want: &api.SubmitRequest{Name: "nightly", Binary: sha, Args: good, FromSavepoint: dir}},
		{name: "env and --", env: []string{api.EnvCoordinators, srv.URL, api.EnvTokenFile, token},
			args: append([]string{"--"}, good...), code: 0, want: &api.SubmitRequest{Binary: sha, Args: good}},
		{name: "no coordinators", args: good, code: 2,
			stderr: "hours: no coordinators: pass --coordinators=URLS or set WEIR_COORDINATORS (see hours submit -h)"},
		{name: "bad job flag", args: append([]string{"--coordinators=" + srv.URL, "--token-file=" + token, "--bogus"}, good...), code: 2,
			stderr: "hours: unknown flag --bogus (see hours run -h)"},
		{name: "cluster flag", args: append([]string{"--coordinators=" + srv.URL, "--checkpoint-dir=/x"}, good...), code: 2,
			stderr: "hours: --checkpoint-dir is set by the cluster for each job; remove it (see hours submit -h)"},
		{name: "stale code", build: staleBuild, args: append([]string{"--coordinators=" + srv.URL, "--token-file=" + token}, good...), code: 1,
			stderr: "hours: hours.T changed since weir_gen.go was generated"},
		{name: "wrong token", args: append([]string{"--coordinators=" + srv.URL, "--token-file=" + wrong}, good...), code: 1,
			stderr: "hours: upload " + filepath.Base(exe) + ": 401 unauthorized: missing or wrong bearer token; check --token-file or WEIR_TOKEN_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clusterEnv(t, tc.env...)
			fake.mu.Lock()
			fake.submits, fake.binaries = nil, nil
			fake.mu.Unlock()
			build := tc.build
			if build == nil {
				build = hours
			}
			code, stdout, stderr := run(t, context.Background(), job.Program{Name: "hours", Build: build}, append([]string{"submit"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout %q\nstderr %q", code, tc.code, stdout, stderr)
			}
			fake.mu.Lock()
			submits, binaries := fake.submits, fake.binaries
			fake.mu.Unlock()
			if tc.want == nil {
				if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], tc.stderr) {
					t.Errorf("stderr %q, want one line starting %q", stderr, tc.stderr)
				}
				if strings.Contains(stdout, "hours-0000abcd") || len(submits) > 0 || (code == 2 && (len(binaries) > 0 || stdout != "")) {
					t.Errorf("stdout %q, %d submits, %d uploads: want none", stdout, len(submits), len(binaries))
				}
				return
			}
			if lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n"); lines[len(lines)-1] != "hours-0000abcd" ||
				!strings.HasPrefix(lines[0], "hours: uploading ") || !slices.Contains(lines, "hours: submitted job hours-0000abcd") {
				t.Errorf("stdout %q, want progress lines and the job id alone on the last", stdout)
			}
			if stderr != "" {
				t.Errorf("stderr %q", stderr)
			}
			if len(submits) != 1 {
				t.Fatalf("%d submits, want 1", len(submits))
			}
			got := submits[0]
			if got.Name != tc.want.Name || got.Binary != tc.want.Binary || !slices.Equal(got.Args, tc.want.Args) || got.FromSavepoint != tc.want.FromSavepoint {
				t.Errorf("submitted %+v\nwant %+v", got, *tc.want)
			}
		})
	}
}

// TestWorkerMode: a child a worker started (WEIR_JOB_ID set) reports each
// checkpoint with its attempt before it counts; a refusal (409: a newer
// attempt runs) stops it with one line and nothing committed.
func TestWorkerMode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   int // the coordinator's answer to reports
		exit   int
		stderr string
	}{
		{name: "accepted", exit: 0},
		{name: "fenced", code: http.StatusConflict, exit: 1,
			stderr: "hours: the coordinator refused checkpoint 1 of attempt 3 of job hours-1: attempt is stale; a newer attempt runs, so this one stops\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeCoordinator{token: "s3cret", checkpointCode: tc.code}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			clusterEnv(t, api.EnvJobID, "hours-1", api.EnvAttempt, "3", api.EnvCoordinators, srv.URL, api.EnvTokenFile, writeToken(t, "s3cret"))
			dir := t.TempDir()
			in := filepath.Join(dir, "in.jsonl")
			if err := os.WriteFile(in, []byte("\"2024-01-01T10:15:00Z\"\n\"2024-01-01T11:00:00Z\"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, ckpt := filepath.Join(dir, "out"), filepath.Join(dir, "ckpt")
			code, _, stderr := run(t, context.Background(), job.Program{Name: "hours", Build: hours},
				"run", "--in=jsonl:"+in, "--out=jsonl:"+out, "--checkpoint-dir="+ckpt, "--progress=never")
			if code != tc.exit || (tc.stderr != "" && stderr != tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d, stderr %q", code, stderr, tc.exit, tc.stderr)
			}
			fake.mu.Lock()
			reports, jobs := fake.checkpoints, fake.reportedFor
			fake.mu.Unlock()
			if len(reports) != 1 || reports[0].Attempt != 3 || reports[0].ID != 1 || reports[0].Path != filepath.Join(ckpt, "chk-1") || jobs[0] != "hours-1" {
				t.Fatalf("reports %+v for %q, want checkpoint 1 of attempt 3 in %s for hours-1", reports, jobs, ckpt)
			}
			files, _ := filepath.Glob(filepath.Join(out, "*.jsonl"))
			_, err := os.Stat(filepath.Join(ckpt, "chk-1", "_metadata"))
			if tc.exit == 0 && (len(files) == 0 || err != nil) {
				t.Errorf("accepted: output %v, metadata: %v", files, err)
			}
			if tc.exit != 0 && (len(files) > 0 || err == nil) {
				t.Errorf("fenced: output %v committed, or checkpoint 1 completed", files)
			}
		})
	}
}
