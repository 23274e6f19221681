package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/weirflow/weir/coordinator/api"
)

// The client commands of a cluster: submit, jobs, status, cancel,
// savepoint, logs, workers. Each talks to the coordinators given by
// --coordinators (or WEIR_COORDINATORS) with the token of --token-file (or
// WEIR_TOKEN_FILE) through api.Client, which tries every coordinator and
// retries for a bounded time. Exit codes: 0 ok, 1 the call failed (one
// line on stderr: the client's error), 2 a bad command line.

// clientRetry bounds how long a command retries when no coordinator
// answers (0: the client's default, 10 s). Tests shorten it.
var clientRetry time.Duration

// clusterContext is what stops a client command: SIGINT or SIGTERM.
var clusterContext = signalContext

// now is the clock ages are shown against (tests fix it).
var now = time.Now

// clientCmd is the command line of one client command.
type clientCmd struct {
	name  string // "weir jobs"
	usage string
	fs    *flag.FlagSet
	cf    api.ClientFlags
	json  bool
}

func newClientCmd(name, usage string, withJSON bool) *clientCmd {
	c := &clientCmd{name: "weir " + name, usage: usage, fs: flagSet("weir " + name)}
	c.cf.Register(c.fs, nil)
	if withJSON {
		c.fs.BoolVar(&c.json, "json", false, "print the cluster's answer as JSON")
	}
	return c
}

// parse parses args, flags anywhere before a "--": it returns the other
// arguments before "--" and those after it (dash: there was a "--"), or
// an exit code >= 0 when the command must end.
func (c *clientCmd) parse(args []string, stdout, stderr io.Writer) (pos, rest []string, dash bool, code int) {
	before := args
	if i := slices.Index(args, "--"); i >= 0 {
		before, rest, dash = args[:i], args[i+1:], true
	}
	for {
		if code := parseFlags(c.fs, before, c.usage, stdout, stderr); code >= 0 {
			return nil, nil, false, code
		}
		if c.fs.NArg() == 0 {
			return pos, rest, dash, -1
		}
		pos = append(pos, c.fs.Arg(0))
		before = c.fs.Args()[1:]
	}
}

// bad reports a bad command line and returns 2.
func (c *clientCmd) bad(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "%s: %s (see %s -h)\n", c.name, fmt.Sprintf(format, a...), c.name)
	return 2
}

// failed reports a failed call and returns 1.
func (c *clientCmd) failed(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "%s: %s\n", c.name, api.ErrorLine(err))
	return 1
}

// client returns the client, or the exit code of a bad command line or an
// unreadable token file.
func (c *clientCmd) client(stderr io.Writer) (*api.Client, int) {
	c.cf.Retry = clientRetry
	cl, err := c.cf.Client()
	var ue *api.UsageError
	if errors.As(err, &ue) {
		return nil, c.bad(stderr, "%s", ue.Msg)
	}
	if err != nil {
		return nil, c.failed(stderr, err)
	}
	return cl, -1
}

// oneJob parses a command that takes one JOB argument and returns its
// client and the job id.
func (c *clientCmd) oneJob(args []string, stdout, stderr io.Writer) (*api.Client, string, int) {
	pos, _, dash, code := c.parse(args, stdout, stderr)
	if code >= 0 {
		return nil, "", code
	}
	switch {
	case dash:
		return nil, "", c.bad(stderr, "unexpected --")
	case len(pos) == 0:
		return nil, "", c.bad(stderr, "name one job: %s", c.usage)
	case len(pos) > 1:
		return nil, "", c.bad(stderr, "unexpected argument %q: name one job", pos[1])
	}
	cl, code := c.client(stderr)
	return cl, pos[0], code
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runSubmit is `weir submit [flags] BINARY -- JOB-FLAGS...`: it uploads the
// binary, submits it and prints progress and, alone on the last line, the
// job id.
func runSubmit(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("submit", "weir submit [--coordinators=URLS] [--token-file=FILE] [--name=NAME] [--from-savepoint=DIR] BINARY -- JOB-FLAGS...", false)
	name := c.fs.String("name", "", "name the job `NAME` (default: what the binary derives from its flags)")
	from := c.fs.String("from-savepoint", "", "start the job from the savepoint in `DIR`, which every worker can reach")
	pos, jobArgs, _, code := c.parse(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	switch {
	case len(pos) == 0:
		return c.bad(stderr, "name the job binary: %s", c.usage)
	case len(pos) > 1:
		return c.bad(stderr, "unexpected argument %q: the job's flags go after --", pos[1])
	}
	fromDir := *from
	if fromDir != "" {
		var err error
		if fromDir, err = filepath.Abs(fromDir); err != nil {
			return c.bad(stderr, "--from-savepoint=%s: %v", *from, err)
		}
	}
	cl, code := c.client(stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := clusterContext()
	defer stop()
	if jobArgs == nil {
		jobArgs = []string{}
	}
	resp, err := cl.SubmitFile(ctx, pos[0], api.SubmitRequest{Name: *name, Args: jobArgs, FromSavepoint: fromDir},
		func(line string) { fmt.Fprintln(stdout, line) })
	if err != nil {
		return c.failed(stderr, err)
	}
	fmt.Fprintln(stdout, resp.ID)
	return 0
}

// runJobs is `weir jobs`: a table of the cluster's jobs, oldest first.
func runJobs(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("jobs", "weir jobs [--coordinators=URLS] [--token-file=FILE] [--json]", true)
	pos, _, dash, code := c.parse(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 || dash {
		return c.bad(stderr, "weir jobs takes no arguments")
	}
	cl, code := c.client(stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := clusterContext()
	defer stop()
	jobs, err := cl.Jobs(ctx)
	if err != nil {
		return c.failed(stderr, err)
	}
	if c.json {
		if jobs == nil {
			jobs = []api.Job{}
		}
		if err := printJSON(stdout, jobs); err != nil {
			return c.failed(stderr, err)
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATE\tP\tWORKER\tCHECKPOINT")
	for _, j := range jobs {
		ck := "-"
		if j.Checkpoint != nil {
			ck = fmt.Sprintf("%d (%s)", j.Checkpoint.ID, age(j.Checkpoint.Completed))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.Name, j.State, j.Parallelism, dashIfEmpty(j.Worker), ck)
	}
	tw.Flush()
	return 0
}

// runStatus is `weir status JOB`.
func runStatus(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("status", "weir status [--coordinators=URLS] [--token-file=FILE] [--json] JOB", true)
	cl, id, code := c.oneJob(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := clusterContext()
	defer stop()
	j, err := cl.Job(ctx, id)
	if err != nil {
		return c.failed(stderr, err)
	}
	if c.json {
		if err := printJSON(stdout, j); err != nil {
			return c.failed(stderr, err)
		}
		return 0
	}
	printStatus(stdout, j)
	return 0
}

// printStatus writes a job's status, one "key: value" line each.
func printStatus(w io.Writer, j api.Job) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	line := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s:\t%s\n", k, fmt.Sprintf(format, a...)) }
	line("job", "%s", j.ID)
	line("name", "%s", j.Name)
	line("state", "%s", j.State)
	if j.Reason != "" {
		line("reason", "%s", j.Reason)
	}
	line("mode", "%s", j.Mode)
	line("parallelism", "%d", j.Parallelism)
	line("attempt", "%d (%d %s)", j.Attempt, j.Restarts, plural(j.Restarts, "restart", "restarts"))
	switch {
	case len(j.Workers) > 1:
		line("workers", "%s (one process each; %s's completes checkpoints)", strings.Join(j.Workers, ", "), j.Workers[0])
	case j.Worker != "":
		line("worker", "%s", j.Worker)
	}
	for _, g := range taskGroups(j.Tasks) {
		line(g.tasks, "%s", g.worker)
	}
	if ck := j.Checkpoint; ck != nil {
		wm := "none yet"
		if !ck.Watermark.IsZero() {
			wm = ck.Watermark.UTC().Format(time.RFC3339Nano)
		}
		line("checkpoint", "%d of attempt %d, completed %s, watermark %s", ck.ID, ck.Attempt, age(ck.Completed), wm)
		line("checkpoint path", "%s", ck.Path)
	} else {
		line("checkpoint", "none completed yet")
	}
	switch {
	case j.Savepoint != "" && j.SavepointID != 0:
		line("savepoint", "%d in %s", j.SavepointID, j.Savepoint)
	case j.Savepoint != "":
		line("savepoint", "%s", j.Savepoint)
	}
	if j.SavepointRequested > j.SavepointTaken && !j.State.Final() {
		line("savepoint asked", "taken with the job's next checkpoint")
	}
	if j.FromSavepoint != "" {
		line("from savepoint", "%s", j.FromSavepoint)
	}
	if !j.Submitted.IsZero() {
		line("submitted", "%s (%s)", j.Submitted.UTC().Format(time.RFC3339), age(j.Submitted))
	}
	tw.Flush()
}

// taskGroup is a run of consecutive tasks on one worker.
type taskGroup struct{ tasks, worker string }

func taskGroups(ts []api.Task) []taskGroup {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b api.Task) int { return a.Index - b.Index })
	var out []taskGroup
	for i := 0; i < len(ts); {
		k := i
		for k+1 < len(ts) && ts[k+1].Worker == ts[i].Worker && ts[k+1].Index == ts[k].Index+1 {
			k++
		}
		name := fmt.Sprintf("task %d", ts[i].Index)
		if k > i {
			name = fmt.Sprintf("tasks %d-%d", ts[i].Index, ts[k].Index)
		}
		out = append(out, taskGroup{name, ts[i].Worker})
		i = k + 1
	}
	return out
}

// runCancel is `weir cancel JOB`.
func runCancel(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("cancel", "weir cancel [--coordinators=URLS] [--token-file=FILE] JOB", false)
	cl, id, code := c.oneJob(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := clusterContext()
	defer stop()
	j, err := cl.Cancel(ctx, id)
	if err != nil {
		return c.failed(stderr, err)
	}
	fmt.Fprintf(stdout, "job %s: %s\n", j.ID, j.State)
	return 0
}

// runSavepoint is `weir savepoint JOB [--stop]`: a stop with savepoint, or
// a savepoint the running job takes with its next checkpoint, waited for.
func runSavepoint(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("savepoint", "weir savepoint [--coordinators=URLS] [--token-file=FILE] [--stop] [--timeout=DURATION] JOB", false)
	stopJob := c.fs.Bool("stop", false, "stop the job once its savepoint is written (without: the job goes on)")
	timeout := c.fs.Duration("timeout", 10*time.Minute, "without --stop, how long to wait for the savepoint (it is taken with the job's next checkpoint)")
	cl, id, code := c.oneJob(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if *timeout <= 0 {
		return c.bad(stderr, "--timeout must be positive, not %v", *timeout)
	}
	ctx, stop := clusterContext()
	defer stop()
	j, err := cl.Savepoint(ctx, id, api.SavepointRequest{Stop: *stopJob})
	if err != nil {
		return c.failed(stderr, err)
	}
	if *stopJob {
		where := ""
		if j.SavepointDir != "" {
			where = "; its savepoint goes to " + j.SavepointDir
		}
		fmt.Fprintf(stdout, "job %s: %s%s\n", j.ID, j.State, where)
		return 0
	}
	want := j.SavepointRequested
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for j.SavepointTaken < want {
		if j.State != api.Running {
			return c.failed(stderr, fmt.Errorf("job %s is %s: no savepoint taken (%s)", j.ID, j.State, orNone(j.Reason)))
		}
		select {
		case <-ctx.Done():
			return c.failed(stderr, fmt.Errorf("job %s took no savepoint within %v; the request stands: it is taken with the job's next checkpoint (weir status %s)", j.ID, *timeout, j.ID))
		case <-tick.C:
		}
		nj, err := cl.Job(ctx, id)
		switch {
		case err == nil:
			j = nj
		case ctx.Err() == nil:
			return c.failed(stderr, err)
		}
	}
	fmt.Fprintf(stdout, "job %s: savepoint %d in %s (resume with --from-savepoint=%s); the job goes on\n", j.ID, j.SavepointID, j.Savepoint, j.Savepoint)
	return 0
}

func orNone(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// runLogs is `weir logs JOB`: the log of the job's current or last attempt.
func runLogs(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("logs", "weir logs [--coordinators=URLS] [--token-file=FILE] JOB", false)
	cl, id, code := c.oneJob(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := clusterContext()
	defer stop()
	if err := cl.Logs(ctx, id, stdout); err != nil {
		return c.failed(stderr, err)
	}
	return 0
}

// runWorkers is `weir workers`: a table of the workers the leader knows.
func runWorkers(args []string, stdout, stderr io.Writer) int {
	c := newClientCmd("workers", "weir workers [--coordinators=URLS] [--token-file=FILE] [--json]", true)
	pos, _, dash, code := c.parse(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 || dash {
		return c.bad(stderr, "weir workers takes no arguments")
	}
	cl, code := c.client(stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := clusterContext()
	defer stop()
	ws, err := cl.Workers(ctx)
	if err != nil {
		return c.failed(stderr, err)
	}
	if c.json {
		if ws == nil {
			ws = []api.Worker{}
		}
		if err := printJSON(stdout, ws); err != nil {
			return c.failed(stderr, err)
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSLOTS\tUSED\tJOBS\tSEEN\tURL")
	for _, w := range ws {
		st := "dead"
		if w.Alive {
			st = "alive"
		}
		seen := "-"
		if !w.LastSeen.IsZero() {
			seen = age(w.LastSeen)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", w.ID, st, w.Slots, w.Used, dashIfEmpty(strings.Join(w.Jobs, ",")), seen, w.URL)
	}
	tw.Flush()
	return 0
}

// age says how long ago t was, rounded for a person.
func age(t time.Time) string {
	d := now().Sub(t)
	switch {
	case t.IsZero():
		return "-"
	case d < 0:
		return "just now"
	case d < time.Second:
		return fmt.Sprintf("%dms ago", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds ago", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
