package job

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/internal/msg"
	"github.com/weirflow/weir/runner"
)

// validate is the hidden `validate` command a coordinator runs before it
// accepts a submitted binary: it parses the flags of `run` as run does,
// builds the pipeline without resolving the input, creating a directory or
// opening anything, and prints one api.Validation JSON line on stdout.
// A bad flag exits 2 and stale generated code (or any other build error)
// exits 1, each with one line on stderr.
func (p Program) validate(args []string, stdout, stderr io.Writer) int {
	cfg, err := newRunFlags(p.Name, p.Flags).parse(args)
	if errors.Is(err, flag.ErrHelp) {
		err = usagef("validate takes the flags of run")
	}
	if err != nil {
		return p.fail(stderr, err)
	}
	if _, err := p.pipeline(cfg, nil, nil); err != nil {
		return p.fail(stderr, err)
	}
	b, err := json.Marshal(api.Validation{Weir: 1, Program: p.Name, Name: cfg.name, Mode: cfg.mode.String(), Parallelism: cfg.parallelism})
	if err != nil {
		return p.fail(stderr, err)
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}

// submitFlags are the flags of `submit` itself; every other argument is a
// flag of run, handed to the job.
var submitFlags = []string{"coordinators", "token-file", "name", "from-savepoint", "h", "help"}

// clusterSetFlags are flags of run that the cluster's worker sets on every
// attempt; a submitted job must not.
var clusterSetFlags = []string{"checkpoint-dir", "savepoint-dir", "progress"}

// submitUsage is the command line of submit.
func (p Program) submitUsage() string {
	return p.Name + " submit --coordinators=URLS [--token-file=FILE] [--name=NAME] [--from-savepoint=DIR] RUN-FLAGS..."
}

// submit is `NAME submit`: it checks the flags of run here, uploads this
// very executable to the cluster and submits it with them. It prints
// progress lines on stdout and the job id alone on its last line; an error
// is one line on stderr.
func (p Program) submit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	own, runArgs := splitSubmitArgs(args)
	fs := flag.NewFlagSet(p.Name+" submit", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cf api.ClientFlags
	cf.Register(fs, nil)
	name := fs.String("name", "", "name the job `NAME` on the cluster (default: the name run derives)")
	from := fs.String("from-savepoint", "", "start the job from the savepoint in `DIR`, which every worker can reach")
	bad := func(format string, a ...any) int {
		p.say(stderr, fmt.Sprintf(format, a...)+" (see "+p.Name+" submit -h)")
		return 2
	}
	if err := fs.Parse(own); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: %s\n\nsubmits this job binary to a cluster; RUN-FLAGS are those of %s run -h, less --checkpoint-dir, --savepoint-dir and --progress, which the cluster sets\n\nflags:\n", p.submitUsage(), p.Name)
			fs.VisitAll(func(f *flag.Flag) {
				n, usage := flag.UnquoteUsage(f)
				fmt.Fprintf(stdout, "  %-28s %s\n", "--"+f.Name+"="+strings.ToUpper(n), usage)
			})
			return 0
		}
		return bad("%s", flagError(err, fs))
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q; flags only", fs.Arg(0))
	}
	for _, a := range runArgs {
		if n, ok := flagName(a); ok && slices.Contains(clusterSetFlags, n) {
			return bad("--%s is set by the cluster for each job; remove it", n)
		}
	}
	if *name != "" {
		if err := validName(*name); err != nil {
			return bad("--name=%s: %v", *name, err)
		}
	}
	// The job's own checks first: a bad flag or stale generated code is
	// found here, before anything is uploaded.
	cfg, err := newRunFlags(p.Name, p.Flags).parse(runArgs)
	if errors.Is(err, flag.ErrHelp) {
		return bad("-h among the job's flags; see %s run -h", p.Name)
	}
	if err != nil {
		return p.fail(stderr, err)
	}
	if _, err := p.pipeline(cfg, nil, nil); err != nil {
		return p.fail(stderr, err)
	}
	client, err := cf.Client()
	var ue *api.UsageError
	if errors.As(err, &ue) {
		return bad("%s", ue.Msg)
	}
	if err != nil {
		p.say(stderr, msg.Line(err))
		return 1
	}
	fromDir := *from
	if fromDir != "" {
		if fromDir, err = filepath.Abs(fromDir); err != nil {
			return bad("--from-savepoint=%s: %v", *from, err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		p.say(stderr, "cannot find this program's executable: "+msg.Line(err))
		return 1
	}
	resp, err := client.SubmitFile(ctx, exe, api.SubmitRequest{Name: *name, Args: runArgs, FromSavepoint: fromDir},
		func(line string) { p.say(stdout, line) })
	if err != nil {
		p.say(stderr, api.ErrorLine(err))
		return 1
	}
	fmt.Fprintln(stdout, resp.ID)
	return 0
}

// splitSubmitArgs separates the flags of submit from those of run. After
// "--" everything is run's.
func splitSubmitArgs(args []string) (own, run []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return own, append(run, args[i+1:]...)
		}
		n, ok := flagName(a)
		if !ok || !slices.Contains(submitFlags, n) {
			run = append(run, a)
			continue
		}
		own = append(own, a)
		if !strings.Contains(a, "=") && n != "h" && n != "help" && i+1 < len(args) {
			i++
			own = append(own, args[i])
		}
	}
	return own, run
}

// flagName is the name of the flag a is ("--in=x" → "in"), if it is one.
func flagName(a string) (string, bool) {
	if len(a) < 2 || a[0] != '-' || a == "--" {
		return "", false
	}
	n := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	n, _, _ = strings.Cut(n, "=")
	return n, n != ""
}

// worker is what a job needs in worker mode: a child that a cluster's
// worker started for one attempt of a job (env api.EnvJobID set).
type worker struct {
	job     string
	attempt uint64
	client  *api.Client
	// asked is the Job.SavepointRequested this attempt last passed on to
	// the runner (touched by commit only, on the checkpointer's goroutine).
	asked uint64
	// A process of an attempt spread over workers (processes > 1): its
	// number, the host its data port listens on, and the cluster's token.
	process, processes int
	dataHost, token    string
	dataListen         string // where the data port listens, if not on dataHost
	tlsCert, tlsKey    string // the worker's, for the data port; "" without
}

// errFenced is the cause of a run cancelled because a newer attempt of the
// job runs.
var errFenced = errors.New("job: fenced")

// workerFromEnv reads the worker-mode environment: nil without
// api.EnvJobID.
func workerFromEnv(getenv func(string) string) (*worker, error) {
	id := getenv(api.EnvJobID)
	if id == "" {
		return nil, nil
	}
	attempt, err := strconv.ParseUint(getenv(api.EnvAttempt), 10, 64)
	if err != nil {
		return nil, usagef("%s=%q: not an attempt number (the worker sets it)", api.EnvAttempt, getenv(api.EnvAttempt))
	}
	cf := api.ClientFlags{Coordinators: getenv(api.EnvCoordinators), TokenFile: getenv(api.EnvTokenFile)}
	c, err := cf.Client()
	var ue *api.UsageError
	if errors.As(err, &ue) {
		return nil, usagef("worker mode (%s=%s): %s", api.EnvJobID, id, ue.Msg)
	}
	if err != nil {
		return nil, fmt.Errorf("worker mode: %w", err)
	}
	w := &worker{job: id, attempt: attempt, client: c}
	if v := getenv(api.EnvProcesses); v != "" {
		n, err1 := strconv.Atoi(v)
		k, err2 := strconv.Atoi(getenv(api.EnvProcess))
		if err1 != nil || err2 != nil || n < 1 || k < 0 || k >= n {
			return nil, usagef("%s=%q, %s=%q: not a process of a job spread over workers (the worker sets them)",
				api.EnvProcess, getenv(api.EnvProcess), api.EnvProcesses, v)
		}
		b, err := os.ReadFile(getenv(api.EnvTokenFile))
		if err != nil {
			return nil, fmt.Errorf("worker mode: %w", err)
		}
		w.process, w.processes, w.dataHost, w.token = k, n, getenv(api.EnvDataHost), strings.TrimSpace(string(b))
		w.tlsCert, w.tlsKey = getenv(api.EnvTLSCert), getenv(api.EnvTLSKey)
		w.dataListen = getenv(api.EnvDataListen)
		if w.dataHost == "" {
			w.dataHost = "127.0.0.1"
		}
	}
	return w, nil
}

// listenData opens a process's data port on host, and returns it with how
// to dial the others': over TLS when the worker gave its certificate and
// key (the peers' certificates are checked against roots, nil: the
// system's, which SSL_CERT_FILE extends), plain TCP otherwise. Either
// way a connection then proves it belongs to the attempt with a token
// (runner/netx's handshake), inside TLS when there is TLS.
func listenData(host, certFile, keyFile string, roots *x509.CertPool) (net.Listener, func(context.Context, string) (net.Conn, error), error) {
	var conf *tls.Config
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("data port: TLS: %w", err)
		}
		conf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, nil, fmt.Errorf("data port: %w", err)
	}
	if conf == nil {
		return ln, nil, nil
	}
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		name, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		d := tls.Dialer{Config: &tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12}}
		return d.DialContext(ctx, "tcp", addr)
	}
	return tls.NewListener(ln, conf), dial, nil
}

// rendezvousTimeout bounds the wait for every process of an attempt to
// say where it listens: one that never does (its worker died before it
// started it) fails the attempt, which restarts.
const rendezvousTimeout = time.Minute

// cluster, for a process of an attempt spread over workers, opens its
// data port and learns the others' from the leader (POST
// /v1/jobs/{id}/peers, repeated until every process has said): the
// runner.Cluster of this process. Nil for an attempt in one process.
func (w *worker) cluster(ctx context.Context) (*runner.Cluster, error) {
	if w.processes < 2 {
		return nil, nil
	}
	listen := w.dataHost
	if w.dataListen != "" {
		listen = w.dataListen
	}
	ln, dial, err := listenData(listen, w.tlsCert, w.tlsKey, nil)
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx, cancel := context.WithTimeout(ctx, rendezvousTimeout)
	defer cancel()
	req := api.PeersRequest{Attempt: w.attempt, Process: w.process, Addr: net.JoinHostPort(w.dataHost, port)}
	for {
		res, err := w.client.Peers(ctx, w.job, req)
		if api.IsStatus(err, 409) {
			ln.Close()
			return nil, fmt.Errorf("%w: %s", errFenced, api.ErrorLine(err))
		}
		if err == nil && len(res.Peers) == w.processes && !slices.Contains(res.Peers, "") {
			// The token of this attempt's connections: the cluster's,
			// bound to the job and the attempt.
			sum := sha256.Sum256([]byte(w.token + "\x00" + w.job + "\x00" + strconv.FormatUint(w.attempt, 10)))
			return &runner.Cluster{Index: w.process, Peers: res.Peers, Listener: ln, Dial: dial, Token: hex.EncodeToString(sum[:])}, nil
		}
		select {
		case <-ctx.Done():
			ln.Close()
			why := "not every process of the attempt said where it listens"
			if err != nil {
				why = api.ErrorLine(err)
			}
			return nil, fmt.Errorf("process %d of %d: rendezvous within %v: %s", w.process, w.processes, rendezvousTimeout, why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// commit is runner.Options.CommitCheckpoint in worker mode: the leader
// records the checkpoint in the Raft log before it counts. A 409 means a
// newer attempt runs: this one stops (fence), its output uncommitted. The
// answer says whether a savepoint was asked for since: then one is asked
// of the runner on savepoint (it goes with the next checkpoint).
func (w *worker) commit(fence context.CancelCauseFunc, savepoint chan<- struct{}) func(context.Context, runner.CheckpointReport) error {
	return func(ctx context.Context, r runner.CheckpointReport) error {
		req := api.CheckpointRequest{Attempt: w.attempt, ID: r.ID, Path: r.Path, Watermark: r.Watermark, Complete: r.Complete}
		if r.Savepoint != "" {
			req.Savepoint, req.SavepointFor = r.Savepoint, w.asked
		}
		j, err := w.client.ReportCheckpoint(ctx, w.job, req)
		if api.IsStatus(err, 409) {
			fence(fmt.Errorf("%w: the coordinator refused checkpoint %d of attempt %d of job %s: %s; a newer attempt runs, so this one stops",
				errFenced, r.ID, w.attempt, w.job, api.ErrorLine(err)))
		}
		if err != nil {
			return fmt.Errorf("report to the coordinator: %s", api.ErrorLine(err))
		}
		// A request not answered yet: asked of the runner again unless this
		// report carries the savepoint (a savepoint that failed is retried
		// with the next checkpoint; the runner merges repeated requests).
		if n := j.SavepointRequested; n > j.SavepointTaken && r.Savepoint == "" {
			w.asked = n
			select {
			case savepoint <- struct{}{}:
			default: // one is asked for already
			}
		}
		return nil
	}
}
