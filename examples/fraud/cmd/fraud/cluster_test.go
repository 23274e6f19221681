package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/internal/devbroker"
)

// The cluster, for real: coordinators and workers are `weir` processes on
// 127.0.0.1 with ephemeral ports, the job is the fraud binary submitted with
// `weir submit`, and failures are kill -9.

// weirBin builds cmd/weir once, beside the fraud binary.
var weirBin = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(filepath.Dir(fraudBin), "weir")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	if out, err := exec.Command(goTool, "build", "-o", bin, "github.com/weirflow/weir/cmd/weir").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build weir: %v\n%s", err, out)
	}
	return bin, nil
})

// daemon is a coordinator or worker process.
type daemon struct {
	name string
	args []string
	cmd  *exec.Cmd
	log  syncBuffer
	done chan struct{}
}

// cluster is a set of coordinator and worker processes sharing a token.
type cluster struct {
	t            testing.TB
	bin, dir     string
	token        string
	coordinators []*daemon
	urls         []string // the coordinators' HTTP URLs, by index
	workers      map[string]*daemon
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// startCluster starts n coordinators (one Raft group) and no workers.
func startCluster(t testing.TB, n int) *cluster {
	t.Helper()
	bin, err := weirBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &cluster{t: t, bin: bin, dir: dir, token: filepath.Join(dir, "token"), workers: map[string]*daemon{}}
	if err := os.WriteFile(c.token, []byte("s3cret-test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 2*n)
	var peers []string
	for i := range n {
		peers = append(peers, fmt.Sprintf("c%d@127.0.0.1:%d", i+1, ports[2*i]))
		c.urls = append(c.urls, fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]))
	}
	for i := range n {
		id := fmt.Sprintf("c%d", i+1)
		d := &daemon{name: id, args: []string{"coordinator", "--id=" + id,
			fmt.Sprintf("--raft=127.0.0.1:%d", ports[2*i]), fmt.Sprintf("--http=127.0.0.1:%d", ports[2*i+1]),
			"--data=" + filepath.Join(dir, id), "--peers=" + strings.Join(peers, ","),
			"--checkpoints=" + filepath.Join(dir, "checkpoints"), "--token-file=" + c.token}}
		c.coordinators = append(c.coordinators, d)
		c.start(d)
	}
	return c
}

func (c *cluster) start(d *daemon) {
	c.t.Helper()
	d.cmd = exec.Command(c.bin, d.args...)
	d.log = syncBuffer{}
	d.cmd.Stdout, d.cmd.Stderr = &d.log, &d.log
	d.done = make(chan struct{})
	if err := d.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	c.t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if c.t.Failed() {
			c.t.Logf("log of %s:\n%s", d.name, tail(d.log.String()))
		}
	})
}

// kill kills d with SIGKILL and waits for it to be gone.
func (c *cluster) kill(d *daemon) {
	c.t.Helper()
	_ = d.cmd.Process.Kill()
	<-d.done
}

// startWorker starts a worker with the given id and slots.
func (c *cluster) startWorker(id string, slots int) *daemon {
	c.t.Helper()
	d := &daemon{name: id, args: []string{"worker", "--id=" + id, "--slots=" + strconv.Itoa(slots),
		"--data=" + filepath.Join(c.dir, id), "--coordinators=" + strings.Join(c.urls, ","), "--token-file=" + c.token}}
	c.workers[id] = d
	c.start(d)
	return d
}

// weir runs the weir command line against the cluster.
func (c *cluster) weir(args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(os.Environ(), api.EnvCoordinators+"="+strings.Join(c.urls, ","), api.EnvTokenFile+"="+c.token)
	return runCmd(c.t, cmd)
}

// submit submits the fraud binary with args and returns the job id.
func (c *cluster) submit(args ...string) string {
	c.t.Helper()
	r := c.weir(append([]string{"submit", fraudBin, "--"}, args...)...)
	if r.code != 0 {
		c.t.Fatalf("weir submit: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// status returns the job as `weir status --json` shows it.
func (c *cluster) status(id string) api.Job {
	c.t.Helper()
	r := c.weir("status", "--json", id)
	if r.code != 0 {
		c.t.Fatalf("weir status %s: exit %d: %s", id, r.code, r.stderr)
	}
	var j api.Job
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		c.t.Fatalf("weir status --json %s: %v\n%s", id, err, r.stdout)
	}
	return j
}

// waitJob polls the job until cond holds (every 50 ms, up to limit).
func (c *cluster) waitJob(id, what string, limit time.Duration, cond func(api.Job) bool) api.Job {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		j := c.status(id)
		if cond(j) {
			return j
		}
		if j.State.Final() {
			c.t.Fatalf("job %s is %s (%s) before %s", id, j.State, j.Reason, what)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s: job %s is %s (%s)", limit, what, id, j.State, j.Reason)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// health asks one coordinator for its view of the cluster.
func (c *cluster) health(i int) (api.Health, error) {
	tok, err := api.ReadToken(c.token)
	if err != nil {
		return api.Health{}, err
	}
	cl := &api.Client{URLs: []string{c.urls[i]}, Token: tok, Retry: time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return cl.Health(ctx)
}

// leader returns the index of the coordinator that says it leads, waiting
// up to limit for one among those not in skip.
func (c *cluster) leader(limit time.Duration, skip ...int) int {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for i := range c.coordinators {
			if contains(skip, i) {
				continue
			}
			if h, err := c.health(i); err == nil && h.IsLeader {
				return i
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no leader among the coordinators after %v", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// thirds splits every partition's events in three consecutive runs.
func thirds(parts [][]fraud.Txn) [3][][]fraud.Txn {
	var out [3][][]fraud.Txn
	for _, p := range parts {
		a, b := len(p)/3, 2*len(p)/3
		out[0] = append(out[0], p[:a])
		out[1] = append(out[1], p[a:b])
		out[2] = append(out[2], p[b:])
	}
	return out
}

// streamInput generates o's transactions, starts a broker with the topics
// txns (one partition per generated one), totals and totals-late, and
// produces the first of the three runs of each partition; it returns the
// runs and the expected output rows.
func streamInput(t *testing.T, o fraudgen.Options) (*devbroker.Broker, [3][][]fraud.Txn, []string) {
	t.Helper()
	parts, want := crashData(t, o)
	b := startBroker(t)
	createTopics(t, b, len(parts), "txns")
	createTopics(t, b, 2, "totals", "totals-late")
	runs := thirds(parts)
	produceParts(t, b, "txns", 0, runs[0], nil)
	return b, runs, want
}

// TestClusterStream submits the fraud stream job (Kafka → Kafka) at
// parallelism 4 to three coordinators and two workers of 2 slots (so its
// tasks spread over both, one process each), kills the leader and one of
// the job's workers with SIGKILL while the input arrives in three runs
// (a new worker joins), stops the job with a savepoint (killing one of its
// workers during the stop too, and starting another), resumes it locally
// to the end of its input, and checks the committed output topic against
// the expected rows. It also restarts the killed coordinator and checks
// that it catches up.
func TestClusterStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of processes and kills them")
	}
	b, runs, want := streamInput(t, fraudgen.Options{Rows: 600_000, Users: 5_000, Partitions: 4, Disorder: 20 * time.Second, Seed: 52})

	c := startCluster(t, 3)
	lead := c.leader(30 * time.Second)
	c.startWorker("w1", 2)
	c.startWorker("w2", 2)

	id := c.submit("--mode=stream", "--in=kafka://"+b.Addr()+"/txns", "--out=kafka://"+b.Addr()+"/totals",
		"--on-error=fail", "--parallelism=4", "--checkpoint-interval=200ms")
	j := c.waitJob(id, "a first checkpoint", time.Minute, func(j api.Job) bool {
		return j.State == api.Running && j.Checkpoint != nil
	})
	t.Logf("job %s runs on %v; checkpoint %d", id, j.Workers, j.Checkpoint.ID)
	if len(j.Workers) != 2 {
		t.Fatalf("job of 4 tasks on workers %v, want spread over the two workers of 2 slots", j.Workers)
	}

	// kill -9 the leader: a new one carries on, the job keeps running and
	// completes checkpoints.
	killed := lead
	t0 := time.Now()
	c.kill(c.coordinators[lead])
	before := j.Checkpoint.ID
	lead = c.leader(30*time.Second, killed)
	j = c.waitJob(id, "a checkpoint after the leader's death", time.Minute, func(j api.Job) bool {
		return j.Checkpoint != nil && j.Checkpoint.ID > before && j.Checkpoint.Completed.After(t0)
	})
	leaderFailover := time.Since(t0)
	t.Logf("leader c%d killed: c%d leads; checkpoint %d completed %v after the kill (attempt %d)",
		killed+1, lead+1, j.Checkpoint.ID, leaderFailover.Round(time.Millisecond), j.Attempt)
	if j.Restarts != 0 {
		t.Errorf("the job restarted %d times when the leader died, want 0 (it keeps running)", j.Restarts)
	}

	produceParts(t, b, "txns", 0, runs[1], nil)

	// kill -9 one of the job's workers (not its master's) and start a new
	// one: the job restarts over the one left and the new one from its
	// last completed checkpoint.
	host := j.Workers[1]
	attempt := j.Attempt
	t1 := time.Now()
	c.kill(c.workers[host])
	c.startWorker("w3", 2)
	j = c.waitJob(id, "the job running again after its worker's death", time.Minute, func(j api.Job) bool {
		return j.State == api.Running && j.Attempt > attempt && j.Checkpoint != nil && j.Checkpoint.Attempt == j.Attempt
	})
	workerLoss := time.Since(t1)
	t.Logf("worker %s killed: job on %v (attempt %d), checkpoint %d of the new attempt %v after the kill",
		host, j.Workers, j.Attempt, j.Checkpoint.ID, workerLoss.Round(time.Millisecond))

	// The killed coordinator comes back and catches up.
	c.start(c.coordinators[killed])
	produceParts(t, b, "txns", 0, runs[2], nil)
	j = c.waitJob(id, "a checkpoint after the last input", time.Minute, func(x api.Job) bool {
		return x.Checkpoint != nil && x.Checkpoint.ID > j.Checkpoint.ID+2
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		hl, err1 := c.health(lead)
		hk, err2 := c.health(killed)
		if err1 == nil && err2 == nil && hk.Applied >= hl.Applied-5 && hk.Leader != "" {
			t.Logf("restarted c%d applied %d of the leader's %d", killed+1, hk.Applied, hl.Applied)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted coordinator c%d did not catch up: %+v (%v) vs leader %+v (%v)", killed+1, hk, err2, hl, err1)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Stop with a savepoint on the cluster, and kill -9 the job's master's
	// worker at once: the stop is not dropped; the job restarts over
	// the worker left and a new one, and stops there once it runs. Then
	// resume locally to the end.
	if r := c.weir("savepoint", "--stop", id); r.code != 0 {
		t.Fatalf("weir savepoint --stop: exit %d: %s", r.code, r.stderr)
	}
	c.kill(c.workers[j.Worker])
	c.startWorker("w4", 2)
	j = c.waitJob(id, "the job stopped with a savepoint", time.Minute, func(j api.Job) bool { return j.State.Final() })
	if j.State != api.Stopped || j.SavepointID == 0 || j.Reason != "" {
		t.Fatalf("after a stop whose worker died: %s, savepoint %d in %q, reason %q; want stopped with a savepoint", j.State, j.SavepointID, j.Savepoint, j.Reason)
	}
	t.Logf("stopped with savepoint %d in %s (attempt %d, its worker killed during the stop)", j.SavepointID, j.Savepoint, j.Attempt)
	r := execCLI(t, "run", "--mode=stream", "--bounded", "--in=kafka://"+b.Addr()+"/txns", "--out=kafka://"+b.Addr()+"/totals",
		"--on-error=fail", "--parallelism=3", "--from-savepoint="+j.Savepoint, "--checkpoint-dir="+filepath.Join(t.TempDir(), "ckpt"),
		"--progress=never")
	if r.code != 0 {
		t.Fatalf("local resume from the cluster's savepoint: exit %d: %s", r.code, tail(r.stderr))
	}
	exactRows(t, "committed output topic", readCommitted(t, b, "totals"), want)
	if late := readCommitted(t, b, "totals-late"); len(late) != 0 {
		t.Errorf("%d late rows, want none: e.g. %s", len(late), late[0])
	}
	t.Logf("figures: leader failover %v (kill -9 to the next completed checkpoint), worker loss %v (kill -9 to a checkpoint of the restarted job)",
		leaderFailover.Round(time.Millisecond), workerLoss.Round(time.Millisecond))
}

// TestClusterSavepointFromLocal is the other way round from the end of
// TestClusterStream: a stream job run locally stops with a savepoint, is
// submitted to the cluster from it, stops there with a savepoint of its
// own and finishes locally; the committed output is exactly the expected.
func TestClusterSavepointFromLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of processes")
	}
	b, runs, want := streamInput(t, fraudgen.Options{Rows: 300_000, Users: 3_000, Partitions: 4, Disorder: 20 * time.Second, Seed: 54})
	jobFlags := []string{"--mode=stream", "--in=kafka://" + b.Addr() + "/txns", "--out=kafka://" + b.Addr() + "/totals", "--on-error=fail"}

	dir := t.TempDir()
	ck, sp := filepath.Join(dir, "ck"), filepath.Join(dir, "sp")
	p := startProc(t, append([]string{"run", "--parallelism=2", "--checkpoint-dir=" + ck, "--checkpoint-interval=100ms",
		"--savepoint-dir=" + sp, "--progress=never"}, jobFlags...)...)
	p.waitUntil("two checkpoints", func() bool { return newestCheckpoint(ck) >= 2 })
	// kill -USR1: a savepoint, and the job goes on.
	p.signal(syscall.SIGUSR1)
	p.waitUntil("a savepoint of the running job", func() bool { return strings.Contains(p.stderr.String(), "; the job goes on") })
	p.signal(syscall.SIGTERM)
	if r := p.wait(); r.code != 0 || !strings.Contains(r.stderr, "savepoint in "+sp) {
		t.Fatalf("local stop with a savepoint: exit %d; stderr:\n%s", r.code, tail(r.stderr))
	}
	produceParts(t, b, "txns", 0, runs[1], nil)

	c := startCluster(t, 1)
	c.leader(30 * time.Second)
	c.startWorker("w1", 2)
	r := c.weir(append([]string{"submit", "--from-savepoint=" + sp, fraudBin, "--", "--parallelism=1", "--checkpoint-interval=200ms"}, jobFlags...)...)
	if r.code != 0 {
		t.Fatalf("weir submit --from-savepoint: exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	id := lines[len(lines)-1]
	j := c.waitJob(id, "a checkpoint", time.Minute, func(j api.Job) bool { return j.State == api.Running && j.Checkpoint != nil })
	produceParts(t, b, "txns", 0, runs[2], nil)
	j = c.waitJob(id, "more checkpoints", time.Minute, func(x api.Job) bool { return x.Checkpoint.ID > j.Checkpoint.ID+2 })
	// A savepoint on the cluster without a stop: the job goes on.
	if r := c.weir("savepoint", id); r.code != 0 || !strings.Contains(r.stdout, "the job goes on") {
		t.Fatalf("weir savepoint: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	j = c.status(id)
	if j.State != api.Running || j.SavepointID == 0 || j.SavepointTaken != 1 {
		t.Fatalf("after weir savepoint: %+v", j)
	}
	if _, err := os.Stat(filepath.Join(j.SavepointDir, fmt.Sprintf("chk-%d", j.SavepointID), "_metadata")); err != nil {
		t.Fatalf("savepoint %d: %v", j.SavepointID, err)
	}
	if r := c.weir("savepoint", "--stop", id); r.code != 0 {
		t.Fatalf("weir savepoint --stop: exit %d: %s", r.code, r.stderr)
	}
	j = c.waitJob(id, "the job stopped with a savepoint", time.Minute, func(j api.Job) bool { return j.State == api.Stopped })
	r = execCLI(t, append([]string{"run", "--bounded", "--parallelism=2", "--from-savepoint=" + j.Savepoint,
		"--checkpoint-dir=" + filepath.Join(dir, "ck2"), "--progress=never"}, jobFlags...)...)
	if r.code != 0 {
		t.Fatalf("local resume from the cluster's savepoint: exit %d: %s", r.code, tail(r.stderr))
	}
	exactRows(t, "committed output topic", readCommitted(t, b, "totals"), want)
}

// TestClusterBatchAndBadInput runs a one-node cluster with one worker of two
// slots: a batch backfill submitted to it gives the rows of a local run, and
// every bad submission is refused with one line and changes nothing, or,
// for a job larger than any worker, is accepted and waits with a reason.
func TestClusterBatchAndBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of processes")
	}
	c := startCluster(t, 1)
	c.leader(30 * time.Second)
	c.startWorker("w1", 2)

	// A batch backfill gives the rows of the local run.
	o := fraudgen.Options{Rows: 300_000, Users: 3_000, Partitions: 2, Disorder: 20 * time.Second, Seed: 61}
	in := t.TempDir()
	if _, err := fraudgen.WriteJSONL(in, fraudgen.Generate(o)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	id := c.submit("--mode=batch", "--in=jsonl:"+in+"/*.jsonl", "--out=jsonl:"+out, "--parallelism=2", "--checkpoint-interval=200ms")
	j := c.waitJob(id, "the batch job to finish", 2*time.Minute, func(j api.Job) bool { return j.State == api.Finished })
	exactRows(t, "batch job "+j.ID+" on the cluster", readTotals(t, out), expectedTotals(t, o))
	local := filepath.Join(t.TempDir(), "local")
	if r := execCLI(t, "run", "--mode=batch", "--in=jsonl:"+in+"/*.jsonl", "--out=jsonl:"+local, "--parallelism=2", "--progress=never"); r.code != 0 {
		t.Fatalf("local run: exit %d: %s", r.code, r.stderr)
	}
	exactRows(t, "cluster output against the local run's", readTotals(t, out), readTotals(t, local))

	// jobs is the cluster's job ids and states, in its order.
	jobs := func() string {
		var list []api.Job
		if err := json.Unmarshal([]byte(c.weir("jobs", "--json").stdout), &list); err != nil {
			t.Fatalf("weir jobs --json: %v", err)
		}
		var b strings.Builder
		for _, j := range list {
			fmt.Fprintf(&b, "%s %s\n", j.ID, j.State)
		}
		return b.String()
	}
	before := jobs()
	text := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(text, []byte("not a program\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, stale := staleFraud(t)
	hello := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(hello+".go", []byte("package main\n\nfunc main() { println(\"hello\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if outb, err := exec.Command(goTool, "build", "-o", hello, hello+".go").CombinedOutput(); err != nil {
		t.Fatalf("build hello: %v\n%s", err, outb)
	}
	wrongToken := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(wrongToken, []byte("not-the-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := []string{"--mode=batch", "--in=jsonl:" + in + "/*.jsonl", "--out=jsonl:" + filepath.Join(t.TempDir(), "x")}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not an executable", append([]string{"submit", text, "--"}, good...), "not an executable"},
		{"not a weir job", append([]string{"submit", hello, "--"}, good...), "not a weir job"},
		{"stale generated code", append([]string{"submit", stale, "--"}, good...), "go generate"},
		{"unknown job flag", []string{"submit", fraudBin, "--", "--mode=batch", "--no-such-flag"}, "no-such-flag"},
		{"invalid job flag", []string{"submit", fraudBin, "--", "--mode=batch", "--in=jsonl:x", "--out=jsonl:y", "--parallelism=zero"}, "parallelism"},
		{"wrong token", []string{"jobs", "--token-file=" + wrongToken}, "401"},
		{"nobody answers", []string{"jobs", "--coordinators=http://127.0.0.1:1"}, "no coordinator answers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.weir(tc.args...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1; stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q: want one line with %q", r.stderr, tc.want)
			}
		})
	}
	if after := jobs(); after != before {
		t.Errorf("refused submissions changed the job list:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Larger than the cluster: accepted, and waits with a reason. A
	// second worker joins: the job's 4 tasks spread over the two, one
	// process each, batches crossing between them, and it gives the rows
	// of the local run.
	bigOut := filepath.Join(t.TempDir(), "big")
	big := c.submit("--mode=batch", "--in=jsonl:"+in+"/*.jsonl", "--out=jsonl:"+bigOut, "--parallelism=4", "--checkpoint-interval=200ms")
	j = c.waitJob(big, "a reason to wait", 30*time.Second, func(j api.Job) bool { return j.State == api.Queued && j.Reason != "" })
	t.Logf("job of 4 tasks on a worker of 2 slots: %s: %s", j.State, j.Reason)
	c.startWorker("w2", 2)
	j = c.waitJob(big, "spread over two workers", time.Minute, func(j api.Job) bool { return len(j.Workers) == 2 || j.State == api.Finished })
	t.Logf("job %s placed on %v", big, j.Workers)
	j = c.waitJob(big, "the spread batch job to finish", 2*time.Minute, func(j api.Job) bool { return j.State == api.Finished })
	exactRows(t, "batch job spread over two workers", readTotals(t, bigOut), readTotals(t, local))
	if r := c.weir("cancel", big); r.code == 0 {
		t.Errorf("cancel of a finished job: exit 0")
	}

	// A binary altered on the worker's disk after it was fetched: refused
	// at the start, and the job fails with the reason.
	bins, _ := filepath.Glob(filepath.Join(c.dir, "w1", "binaries", strings.Repeat("[0-9a-f]", 64)))
	if len(bins) != 1 {
		t.Fatalf("worker binaries: %q, want the fraud binary", bins)
	}
	f, err := os.OpenFile(bins[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("altered"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	altered := c.submit("--mode=batch", "--in=jsonl:"+in+"/*.jsonl", "--out=jsonl:"+filepath.Join(t.TempDir(), "altered"))
	j = c.waitJob(altered, "failed", time.Minute, func(j api.Job) bool { return j.State.Final() })
	if j.State != api.Failed || !strings.Contains(j.Reason, "altered on disk") || j.Restarts != 0 {
		t.Errorf("job of an altered binary: %s after %d restarts: %q; want failed, altered on disk", j.State, j.Restarts, j.Reason)
	}

}

// BenchmarkClusterFailover measures what a failure costs a stream job on a
// cluster of three coordinator and two worker processes: from a SIGKILL of
// the leader to the job's next completed checkpoint, and from a SIGKILL of
// the job's worker to a completed checkpoint of the job restarted
// elsewhere. The baseline, measured first on the same job, is the gap
// between two checkpoints when nothing fails (--checkpoint-interval=1s, as
// the issue sets the goal of the worker loss with). whole: the job at
// parallelism 2, whole on one worker; spread: at parallelism 4, spread
// over both workers, and a third worker starts as the job's worker dies.
//
//	go test -run=NONE -bench=ClusterFailover -benchtime=3x ./examples/fraud/cmd/fraud
func BenchmarkClusterFailover(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a cluster of processes and kills them")
	}
	b.Run("whole", func(b *testing.B) { clusterFailover(b, false) })
	b.Run("spread", func(b *testing.B) { clusterFailover(b, true) })
}

func clusterFailover(b *testing.B, spread bool) {
	o := fraudgen.Options{Rows: 100_000, Users: 2_000, Partitions: 2, Disorder: 20 * time.Second, Seed: 53}
	parts, _ := crashData(b, o)
	par := "--parallelism=2"
	if spread {
		par = "--parallelism=4"
	}
	var gap, leader, worker time.Duration
	for range b.N {
		br := startBroker(b)
		createTopics(b, br, len(parts), "txns")
		createTopics(b, br, 2, "totals", "totals-late")
		produceParts(b, br, "txns", 0, parts, nil)
		c := startCluster(b, 3)
		c.leader(30 * time.Second)
		c.startWorker("w1", 2)
		c.startWorker("w2", 2)
		id := c.submit("--mode=stream", "--in=kafka://"+br.Addr()+"/txns", "--out=kafka://"+br.Addr()+"/totals",
			"--on-error=fail", par, "--checkpoint-interval=1s")
		j := c.waitJob(id, "a first checkpoint", time.Minute, func(j api.Job) bool {
			return j.State == api.Running && j.Checkpoint != nil
		})

		// Baseline: five checkpoints with nothing failing.
		const n = 5
		t0, first := time.Now(), j.Checkpoint.ID
		j = c.waitJob(id, "more checkpoints", time.Minute, func(j api.Job) bool { return j.Checkpoint.ID >= first+n })
		gap += time.Since(t0) / time.Duration(j.Checkpoint.ID-first)

		lead := c.leader(30 * time.Second)
		t1, before := time.Now(), j.Checkpoint.ID
		c.kill(c.coordinators[lead])
		j = c.waitJob(id, "a checkpoint after the leader's death", time.Minute, func(j api.Job) bool {
			return j.Checkpoint != nil && j.Checkpoint.ID > before && j.Checkpoint.Completed.After(t1)
		})
		leader += time.Since(t1)

		attempt := j.Attempt
		t2 := time.Now()
		c.kill(c.workers[j.Worker])
		if spread {
			c.startWorker("w3", 2)
		}
		c.waitJob(id, "a checkpoint of the restarted job", time.Minute, func(j api.Job) bool {
			return j.State == api.Running && j.Attempt > attempt && j.Checkpoint != nil && j.Checkpoint.Attempt == j.Attempt
		})
		worker += time.Since(t2)
		c.weir("cancel", id)
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(per(gap), "checkpoint-gap-s")
	b.ReportMetric(per(leader), "leader-failover-s")
	b.ReportMetric(per(worker), "worker-loss-s")
	b.Logf("leader failover %.2fs = %.1f× the checkpoint gap (%.3fs); worker loss %.2fs = %.1f× the gap",
		per(leader), float64(leader)/float64(gap), per(gap), per(worker), float64(worker)/float64(gap))
}
