package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weirflow/weir/coordinator/api"
)

// event is what a launcher goroutine tells the loop: its process started
// (pid > 0), or the attempt is over (exit != nil, always the last event).
type event struct {
	key  key
	pid  int
	exit *api.Exit
}

// waitDelay bounds how long Wait waits for a child's output pipe once the
// child itself has exited (a grandchild may hold it).
const waitDelay = 5 * time.Second

// launch runs one attempt: fetch and verify its binary, exec it, wait for
// it. It sends a started event and then exactly one exit event. Cancelling
// ctx kills the child's process group (or stops the launch).
func (w *Worker) launch(ctx context.Context, a api.Assignment, events chan<- event) {
	k := key{a.Job, a.Attempt}
	exit := func(code int, permanent bool, reason string) {
		events <- event{key: k, exit: &api.Exit{Job: a.Job, Attempt: a.Attempt, Code: code, Reason: reason, Permanent: permanent}}
	}
	log, err := os.OpenFile(filepath.Join(w.logDir, a.Job+".log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		exit(-1, false, fmt.Sprintf("worker: job log: %v", err))
		return
	}
	defer log.Close()
	notStarted := func(permanent bool, reason string) {
		fmt.Fprintf(log, "--- attempt %d not started %s: %s\n", a.Attempt, time.Now().Format(time.RFC3339), reason)
		exit(-1, permanent, reason)
	}
	path, err := w.bins.ensure(ctx, a.Binary)
	if err != nil {
		notStarted(false, err.Error())
		return
	}
	now := time.Now()
	_ = os.Chtimes(path, now, now) // its last use: it is kept a while after (prune)
	if ctx.Err() != nil {
		notStarted(false, "killed before it started")
		return
	}
	// Re-hash before every exec: a binary altered on disk never runs.
	if err := verify(path, a.Binary); err != nil {
		var ae *alteredError
		notStarted(errors.As(err, &ae), err.Error())
		return
	}
	fmt.Fprintf(log, "--- attempt %d started %s\n", a.Attempt, time.Now().Format(time.RFC3339))
	tail := &tailWriter{w: log}
	var cmd *exec.Cmd
	for try := 0; ; try++ {
		cmd = w.command(ctx, path, a, log, tail)
		err = cmd.Start()
		// ETXTBSY: another fork still held the binary's write descriptor
		// for an instant after it was written; try again.
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || try == 20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		reason := fmt.Sprintf("worker: exec %s: %v", api.ShortSHA(a.Binary), err)
		fmt.Fprintf(log, "--- attempt %d failed to start: %s\n", a.Attempt, reason)
		exit(-1, false, reason)
		return
	}
	events <- event{key: k, pid: cmd.Process.Pid}
	werr := cmd.Wait()
	ps := cmd.ProcessState
	code := -1
	reason := tail.last()
	if ps != nil {
		code = ps.ExitCode()
		if reason == "" && code != 0 {
			reason = ps.String() // "exit status 3", "signal: killed"
		}
	} else if werr != nil && reason == "" {
		reason = werr.Error()
	}
	fmt.Fprintf(log, "--- attempt %d exited %s with code %d\n", a.Attempt, time.Now().Format(time.RFC3339), code)
	exit(code, false, reason)
}

// command builds the child's command line and environment:
//
//	BINARY run ARGS... --name=NAME --checkpoint-dir=CD --savepoint-dir=SD [--from-savepoint=FS] --progress=never
func (w *Worker) command(ctx context.Context, path string, a api.Assignment, log *os.File, tail *tailWriter) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path, childArgs(a)...)
	cmd.Env = childEnv(os.Environ(), a, w.cfg.Coordinators, w.tokenFile, w.dataPort())
	cmd.Stdout = log
	cmd.Stderr = tail
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
	cmd.WaitDelay = waitDelay
	return cmd
}

// childArgs are the arguments after the binary's path.
func childArgs(a api.Assignment) []string {
	args := append([]string{"run"}, a.Args...)
	args = append(args,
		"--name="+a.Name,
		"--checkpoint-dir="+a.CheckpointDir,
		"--savepoint-dir="+a.SavepointDir)
	if a.FromSavepoint != "" {
		args = append(args, "--from-savepoint="+a.FromSavepoint)
	}
	return append(args, "--progress=never")
}

// dataPort is how the processes a worker starts for jobs spread over
// workers listen for their peers: on the worker's host, with its TLS
// certificate and key (absolute paths), if it has them.
type dataPort struct{ host, listen, tlsCert, tlsKey string }

// childEnv is the worker's environment without any WEIR_ variable of
// worker mode, plus those of this attempt: for a process of a job spread
// over workers, its number, their count and its data port's settings.
func childEnv(base []string, a api.Assignment, coordinators []string, tokenFile string, dp dataPort) []string {
	ours := []string{
		api.EnvJobID + "=" + a.Job,
		api.EnvAttempt + "=" + strconv.FormatUint(a.Attempt, 10),
		api.EnvCoordinators + "=" + joinURLs(coordinators),
		api.EnvTokenFile + "=" + tokenFile,
	}
	if a.Processes > 1 {
		ours = append(ours,
			api.EnvProcess+"="+strconv.Itoa(a.Process),
			api.EnvProcesses+"="+strconv.Itoa(a.Processes),
			api.EnvDataHost+"="+dp.host)
		if dp.listen != "" {
			ours = append(ours, api.EnvDataListen+"="+dp.listen)
		}
		if dp.tlsCert != "" {
			ours = append(ours, api.EnvTLSCert+"="+dp.tlsCert, api.EnvTLSKey+"="+dp.tlsKey)
		}
	}
	env := make([]string, 0, len(base)+len(ours))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case api.EnvJobID, api.EnvAttempt, api.EnvCoordinators, api.EnvTokenFile, api.EnvProcess, api.EnvProcesses, api.EnvDataHost,
			api.EnvDataListen, api.EnvTLSCert, api.EnvTLSKey:
			continue
		}
		env = append(env, kv)
	}
	return append(env, ours...)
}

// tailWriter passes a child's stderr on to its log and keeps the last
// non-empty line. exec's copying goroutine is its only writer; last is
// read after Wait. A failing log write does not stop the child.
type tailWriter struct {
	w       *os.File
	partial []byte
	line    string
}

// maxLine bounds the line kept for an exit's reason.
const maxLine = 1000

func (t *tailWriter) Write(p []byte) (int, error) {
	n := len(p)
	_, _ = t.w.Write(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if room := 4*maxLine - len(t.partial); room > 0 {
				t.partial = append(t.partial, p[:min(room, len(p))]...)
			}
			break
		}
		if room := 4*maxLine - len(t.partial); room > 0 {
			t.partial = append(t.partial, p[:min(room, i)]...)
		}
		if s := strings.TrimSpace(string(t.partial)); s != "" {
			t.line = s
		}
		t.partial = t.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

// last is the last non-empty line written, a final unterminated one
// included, cut to maxLine bytes.
func (t *tailWriter) last() string {
	s := t.line
	if p := strings.TrimSpace(string(t.partial)); p != "" {
		s = p
	}
	if len(s) > maxLine {
		s = s[:maxLine] + "..."
	}
	return s
}
