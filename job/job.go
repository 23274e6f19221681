package job

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/weirflow/weir/internal/msg"
	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/job/internal/progress"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/sdk"
)

// Job is one run of a job binary: the pipeline being built and the
// command line it was started with. The build function passed to [Main]
// receives it and adds the pipeline's transforms with [Input] and [Output].
type Job struct {
	name            string
	p               *sdk.Pipeline
	cfg             config
	in              []string          // input files, resolved from every --in
	globs           map[string]string // the pattern handed to each file input's source, by name
	usedIn, usedOut map[string]bool   // the inputs and outputs the pipeline asked for, by name
	errs            []error
}

// Pipeline is the pipeline to add transforms to.
func (j *Job) Pipeline() *sdk.Pipeline { return j.p }

// Name is the job's identity (--name, by default derived from
// --checkpoint-dir or --out): the pipeline's name, which Kafka
// transactional ids and checkpoints carry.
func (j *Job) Name() string { return j.name }

// Bound is the bounded out-of-orderness of event time (--bound, default
// [DefaultBound]).
func (j *Job) Bound() time.Duration { return j.cfg.bound }

// AllowedLateness is how long a fired window still accepts late records
// (--allowed-lateness, default 0).
func (j *Job) AllowedLateness() time.Duration { return j.cfg.lateness }

// IdleTimeout is how long an input split may produce nothing before it
// stops holding the watermark back (--idle-timeout, default 0: never), for
// sdk.IdleTimeout.
func (j *Job) IdleTimeout() time.Duration { return j.cfg.idle }

// InputFiles are the files --in matched, sorted (none for Kafka); with
// named inputs, those of each in command-line order.
func (j *Job) InputFiles() []string { return j.in }

// Mode is the mode the job runs in (--mode): runner.Batch, where every
// input is bounded, or runner.Stream.
func (j *Job) Mode() runner.Mode { return j.cfg.mode }

// Start is where a Kafka input starts when the job has nothing to resume
// from (--start and --reset; earliest by default).
func (j *Job) Start() kafka.Start { return j.cfg.start }

// glob is the pattern for the source of file input in.
func (j *Job) glob(in port) string {
	if g, ok := j.globs[in.name]; ok {
		return g
	}
	return in.loc.Path
}

// OutputDir is the directory of the output named sub (see [Output]), or
// "" for Kafka output. With named outputs, it is that of the first.
func (j *Job) OutputDir(sub string) string {
	if j.cfg.out.Scheme == Kafka {
		return ""
	}
	if sub == "" {
		return j.cfg.out.Path
	}
	return filepath.Join(j.cfg.out.Path, sub)
}

// Command is an extra subcommand of a job binary, such as `fraud gen`.
type Command struct {
	Name  string
	Short string // one line for the help listing
	// Run runs the command with the arguments after its name and returns
	// the exit code.
	Run func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// Program is a job binary's command line: `NAME run [flags]` runs the
// pipeline that Build adds, and Commands are extra subcommands.
type Program struct {
	Name  string
	Build func(*Job) error
	// Flags, when not nil, declares the pipeline's own flags of run (and
	// submit, and validate) on fs, beside run's: -h lists them apart.
	// Build reads the values it bound; a name run has already is refused.
	Flags    func(fs *flag.FlagSet)
	Commands []Command
	// Terminal reports whether w is a terminal, for the progress bar
	// (default: a file descriptor that is a terminal).
	Terminal func(w io.Writer) bool
	// Stop, when closed, stops a run: a stream job gracefully (what it
	// wrote is committed, windows not yet fired stay unfired), a batch job
	// by aborting it (nothing committed: a backfill is rerun whole). [Main]
	// closes it on the first SIGINT or SIGTERM and cancels the run on the
	// second. Nil never stops.
	Stop <-chan struct{}
	// Savepoint asks the running job for a savepoint each time a value
	// arrives: with --savepoint-dir, the next checkpoint (at once when none
	// is in flight) is also written there and the job goes on. [Main]
	// sends one on each SIGUSR1 (where the platform has it). Nil: none.
	Savepoint <-chan struct{}
}

// Main runs the command line of a job binary and exits:
//
//	func main() { job.Main("fraud", build) }
func Main(name string, build func(*Job) error, cmds ...Command) {
	Program{Name: name, Build: build, Commands: cmds}.Main()
}

// Main runs the program with the process's arguments and exits with its
// code. The first SIGINT or SIGTERM closes [Program.Stop]; the second
// cancels the run.
func (p Program) Main() {
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		close(stop)
		<-sigs
		cancel()
	}()
	p.Stop = stop
	if len(savepointSignals) > 0 {
		savepoint := make(chan struct{}, 1)
		usr := make(chan os.Signal, 1)
		signal.Notify(usr, savepointSignals...)
		go func() {
			for range usr {
				select {
				case savepoint <- struct{}{}:
				default: // one is asked for already
				}
			}
		}()
		p.Savepoint = savepoint
	}
	code := p.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(sigs)
	cancel()
	os.Exit(code)
}

// Run runs the program with args (without the program name) and returns
// the exit code: 0 success, 1 the job failed, 2 a bad command line.
func (p Program) Run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	if p.Name == "" {
		p.Name = "weir"
	}
	if p.Build == nil {
		p.Build = func(*Job) error { return errors.New("this program has no pipeline: Program.Build is nil") }
	}
	defer func() {
		if v := recover(); v != nil {
			p.say(stderr, "internal error: "+msg.Text(fmt.Sprint(v))+"; please report it")
			code = 1
		}
	}()
	if len(args) == 0 {
		p.usage(stderr)
		return 2
	}
	switch cmd := args[0]; cmd {
	case "run":
		return p.run(ctx, args[1:], stdout, stderr)
	case "submit":
		return p.submit(ctx, args[1:], stdout, stderr)
	case "validate": // hidden: what a coordinator runs before it accepts the binary
		return p.validate(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		p.usage(stdout)
		return 0
	default:
		for _, c := range p.Commands {
			if c.Name == cmd {
				return c.Run(ctx, args[1:], stdout, stderr)
			}
		}
		fmt.Fprintf(stderr, "%s: unknown command %q (see %s help)\n", p.Name, cmd, p.Name)
		return 2
	}
}

func (p Program) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", p.Name)
	fmt.Fprintf(w, "  %-8s %s\n", "run", "run the pipeline (see "+p.Name+" run -h)")
	fmt.Fprintf(w, "  %-8s %s\n", "submit", "submit this job to a cluster (see "+p.Name+" submit -h)")
	for _, c := range p.Commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.Name, c.Short)
	}
	fmt.Fprintf(w, "  %-8s %s\n", "help", "show this help")
}

func (p Program) run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newRunFlags(p.Name, p.Flags)
	cfg, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "usage: %s run --in=[NAME=]parquet:GLOB|jsonl:GLOB|kafka://HOST:PORT/TOPIC --out=[NAME=]jsonl:DIR|parquet:DIR|kafka://HOST:PORT/TOPIC [flags]\n\nflags:\n", p.Name)
		printDefaults(stdout, f.fs)
		if own := f.pipelineFlags(); len(own) > 0 {
			fmt.Fprintf(stdout, "\nflags of the %s pipeline:\n", p.Name)
			printFlags(stdout, f.fs, own)
		}
		return 0
	}
	if err != nil {
		return p.fail(stderr, err)
	}
	j, err := p.build(cfg)
	if err != nil {
		return p.fail(stderr, err)
	}
	opts := p.options(cfg, stderr)
	w, err := workerFromEnv(os.Getenv)
	if err != nil {
		return p.fail(stderr, err)
	}
	var savepoint chan struct{} // what the runner watches for savepoint requests
	if w != nil || p.Savepoint != nil {
		savepoint = make(chan struct{}, 1)
		opts.Savepoint = savepoint
	}
	if p.Savepoint != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case <-p.Savepoint:
					select {
					case savepoint <- struct{}{}:
					default: // one is asked for already
					}
				case <-done:
					return
				}
			}
		}()
	}
	if w != nil {
		// Worker mode: every checkpoint is recorded by the cluster's
		// leader before it counts; a newer attempt fences this one; a
		// savepoint asked of the cluster comes with a checkpoint's answer.
		var fence context.CancelCauseFunc
		ctx, fence = context.WithCancelCause(ctx)
		defer fence(nil)
		opts.CommitCheckpoint = w.commit(fence, savepoint)
		if opts.Cluster, err = w.cluster(ctx); err != nil {
			if errors.Is(err, errFenced) {
				p.say(stderr, strings.TrimPrefix(err.Error(), errFenced.Error()+": "))
				return 1
			}
			return p.fail(stderr, err)
		}
	}
	runCtx, cancel, graceful := p.stopControl(ctx, cfg, &opts)
	defer cancel()
	rep := progress.New(stderr, opts.Metrics, progress.Options{Name: p.Name, Job: cfg.name, Mode: p.progressMode(cfg, stderr), Columns: columns(stderr)})
	rep.Start()
	stats, err := runner.Run(runCtx, j.p, opts)
	rep.Stop()
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, errFenced) {
		p.say(stderr, strings.TrimPrefix(cause.Error(), errFenced.Error()+": "))
		return 1
	}
	return p.report(stderr, cfg, rep, stats, err, runErr{ctx: ctx, runCtx: runCtx, graceful: graceful, stopped: isClosed(p.Stop)})
}

// build resolves the inputs, builds the pipeline and makes the output
// directories.
func (p Program) build(cfg config) (*Job, error) {
	globs := map[string]string{}
	var files []string
	for _, in := range cfg.ins {
		if in.loc.Scheme == Kafka {
			continue
		}
		glob, matched, err := resolveInput(in)
		if err != nil {
			return nil, err
		}
		globs[in.name] = glob
		files = append(files, matched...)
	}
	// The pipeline first: it opens nothing, so a pipeline that refuses
	// the command line leaves no directory behind.
	j, err := p.pipeline(cfg, globs, files)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, out := range cfg.outs {
		if out.loc.Scheme != Kafka {
			dirs = append(dirs, out.loc.Path)
		}
	}
	if cfg.onError == runner.DeadLetter {
		dirs = append(dirs, cfg.dead.Path)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create output directory %s: %w", d, unwrapPath(err))
		}
	}
	return j, nil
}

// pipeline builds the job's pipeline with Program.Build: globs and files
// are the resolved inputs (nil: each --in's path as given). It opens
// nothing, so `validate` uses it alone.
func (p Program) pipeline(cfg config, globs map[string]string, files []string) (*Job, error) {
	j := &Job{name: cfg.name, p: sdk.NewPipeline(sdk.JobName(cfg.name)), cfg: cfg, in: files, globs: globs,
		usedIn: map[string]bool{}, usedOut: map[string]bool{}}
	if err := p.Build(j); err != nil {
		return nil, err
	}
	if err := errors.Join(j.errs...); err != nil {
		return nil, err
	}
	if err := j.unused(); err != nil {
		return nil, err
	}
	if err := j.p.Err(); err != nil {
		return nil, err
	}
	return j, nil
}

// options maps the command line onto the runner's options; the runner's
// notes become lines on stderr.
func (p Program) options(cfg config, stderr io.Writer) runner.Options {
	opts := runner.Options{
		Parallelism:      cfg.parallelism,
		MaxParallelism:   cfg.maxParallelism,
		Mode:             cfg.mode,
		PerfectWatermark: cfg.perfect,
		OnError:          cfg.onError,
		Metrics:          new(runner.Metrics),

		CheckpointDir:      cfg.checkpointDir,
		CheckpointInterval: cfg.interval,
		CheckpointRetain:   cfg.retain,
		SavepointDir:       cfg.savepointDir,
		FromSavepoint:      cfg.fromSavepoint,
		StateDir:           cfg.stateDir,
		StateMemory:        cfg.stateMemory,
		ExistingOutput:     cfg.existing,
		Logf: func(format string, args ...any) {
			p.say(stderr, msg.Text(fmt.Sprintf(format, args...)))
		},
	}
	if cfg.onError == runner.DeadLetter {
		opts.DeadLetters = deadLetterSink(cfg.dead.Path)
	}
	return opts
}

// stopControl wires Program.Stop to the run. A stop ends a stream job, or
// a job that can resume, gracefully (opts.Stop); it aborts a batch job
// without checkpoints (rerun whole) by cancelling the returned context.
func (p Program) stopControl(ctx context.Context, cfg config, opts *runner.Options) (runCtx context.Context, cancel func(), graceful bool) {
	graceful = cfg.mode == runner.Stream || cfg.checkpointDir != "" || cfg.savepointDir != ""
	runCtx, cancelRun := context.WithCancel(ctx)
	stopped := p.Stop
	switch {
	case stopped == nil:
	case graceful:
		opts.Stop = stopped
	case isClosed(stopped):
		cancelRun()
	default:
		finished := make(chan struct{})
		go func() {
			select {
			case <-stopped:
				cancelRun()
			case <-finished:
			}
		}()
		return runCtx, func() { close(finished); cancelRun() }, graceful
	}
	return runCtx, cancelRun, graceful
}

// runErr is how a run ended, for report.
type runErr struct {
	ctx, runCtx       context.Context // the program's, and the run's
	graceful, stopped bool            // a stop ends it gracefully; a stop was asked for
}

// report prints how the run ended and returns the exit code.
func (p Program) report(stderr io.Writer, cfg config, rep *progress.Reporter, stats runner.Stats, err error, e runErr) int {
	counts := strings.TrimPrefix(rep.Line(), p.Name+": done: ")
	var exists *sdk.OutputExistsError
	switch {
	case err != nil && e.runCtx.Err() != nil && e.ctx.Err() == nil && e.stopped:
		// The first signal aborts a batch job that cannot resume.
		p.say(stderr, abortLine(cfg, stats, true, true)+": "+counts)
		return 130
	case err != nil && e.ctx.Err() != nil:
		p.say(stderr, abortLine(cfg, stats, e.stopped, false)+": "+counts)
		return 130
	case errors.As(err, &exists):
		p.say(stderr, existingMessage(cfg, exists))
		return 2
	case err != nil:
		return p.fail(stderr, err)
	case stats.AlreadyFinished:
		return 0
	case stats.StoppedBeforeStart:
		what := "nothing read, nothing committed"
		if cfg.savepointDir != "" {
			what += ", no savepoint written"
		}
		p.say(stderr, "stopped before it started: "+what+": "+counts)
		return 0
	case e.stopped && e.graceful:
		where := ""
		switch {
		case cfg.savepointDir != "":
			where = fmt.Sprintf("; savepoint in %s (resume with --from-savepoint=%s)", cfg.savepointDir, cfg.savepointDir)
		case cfg.checkpointDir != "":
			where = fmt.Sprintf("; rerun with --checkpoint-dir=%s to resume", cfg.checkpointDir)
		}
		p.say(stderr, "stopped: output committed"+where+": "+counts)
		return 0
	}
	rep.Summary()
	if cfg.checkpointDir != "" {
		p.say(stderr, checkpointSummary(stats))
	}
	return 0
}

// say prints one line, led by the program's name.
func (p Program) say(w io.Writer, line string) { fmt.Fprintf(w, "%s: %s\n", p.Name, line) }

// abortLine says what an aborted run leaves committed. Checkpoints that
// completed in this run committed the output up to them (a rerun finishes
// committing the last one); one restored from committed its output in an
// earlier run. stopping: a graceful stop was under way, so a checkpoint
// completed without a store is the stop's savepoint. backfill: the first
// signal aborted a batch job without checkpoints.
func abortLine(cfg config, st runner.Stats, stopping, backfill bool) string {
	var last uint64
	for _, c := range st.Checkpoints {
		last = max(last, uint64(c.ID))
	}
	restored := uint64(st.RestoredFrom)
	switch {
	case last != 0 && cfg.checkpointDir != "":
		return fmt.Sprintf("aborted: output up to checkpoint %d is committed; the rest is not (rerun with --checkpoint-dir=%s to resume)", last, cfg.checkpointDir)
	case last != 0 && cfg.savepointDir != "" && stopping:
		return fmt.Sprintf("aborted: output up to savepoint %d is committed; the rest is not (resume with --from-savepoint=%s)", last, cfg.savepointDir)
	case last != 0:
		// Without a store, the one checkpoint is the commit at the end.
		return "aborted while committing the output at the end: part of it may be committed"
	case restored != 0 && cfg.fromSavepoint != "":
		return fmt.Sprintf("aborted: nothing committed since savepoint %d (rerun with --from-savepoint=%s)", restored, cfg.fromSavepoint)
	case restored != 0:
		return fmt.Sprintf("aborted: output up to checkpoint %d is committed; the rest is not (rerun with --checkpoint-dir=%s to resume)", restored, cfg.checkpointDir)
	case backfill:
		return "aborted: nothing committed (without --checkpoint-dir a batch job is rerun whole)"
	}
	return "aborted: nothing committed"
}

// checkpointSummary is one line about the run's checkpoints.
func checkpointSummary(st runner.Stats) string {
	n := len(st.Checkpoints)
	var sync, async, total time.Duration
	var bytes int64
	for _, c := range st.Checkpoints {
		sync, async, total = max(sync, c.Sync), max(async, c.Async), max(total, c.Total)
		bytes += c.Bytes
	}
	from := ""
	if st.RestoredFrom != 0 {
		from = fmt.Sprintf("resumed from %d, ", st.RestoredFrom)
	}
	return fmt.Sprintf("checkpoints: %s%d completed, %d failed; longest sync part %v, upload %v, total %v; %s uploaded",
		from, n, st.CheckpointsFailed, sync.Round(time.Millisecond), async.Round(time.Millisecond),
		total.Round(time.Millisecond), byteSize(bytes))
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (p Program) progressMode(cfg config, w io.Writer) progress.Mode {
	switch cfg.progress {
	case "never":
		return progress.Off
	case "always":
		return progress.Bar
	}
	isTerm := p.Terminal
	if isTerm == nil {
		isTerm = fdTerminal
	}
	if isTerm(w) {
		return progress.Bar
	}
	return progress.Lines
}

// columns is the width of the terminal w, or 0.
func columns(w io.Writer) int {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return 0
	}
	c, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return c
}

func fdTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// fail prints err on one line and returns its exit code.
func (p Program) fail(stderr io.Writer, err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		p.say(stderr, fmt.Sprintf("%s (see %s run -h)", msg.Text(ue.msg), p.Name))
		return 2
	}
	line := msg.Line(err)
	var bad *runner.BadRecordError
	if errors.As(err, &bad) {
		line += " (--on-error=dead-letter sets bad records aside)"
	}
	p.say(stderr, line)
	return 1
}

// resolveInput expands --in into the pattern for the source and the sorted
// list of files it names. A directory stands for the files in it with the
// scheme's extension.
func resolveInput(p port) (glob string, files []string, err error) {
	in := p.loc
	pattern := in.Path
	if st, err := os.Stat(pattern); err == nil && st.IsDir() {
		pattern = filepath.Join(pattern, "*."+string(in.Scheme))
	}
	// Glob ignores directories it cannot read (no matches): say why.
	if dir := globDir(pattern); dir != "" {
		if err := listDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("cannot read %s: %w; check --in", dir, unwrapPath(err))
		}
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return "", nil, usagef("--in=%s: bad pattern: %v", p, err)
	}
	for _, f := range matches {
		st, err := os.Stat(f)
		if err != nil {
			return "", nil, fmt.Errorf("cannot read %s: %w", f, unwrapPath(err))
		}
		if st.IsDir() {
			continue
		}
		r, err := os.Open(f)
		if err != nil {
			return "", nil, fmt.Errorf("cannot read %s: %w", f, unwrapPath(err))
		}
		r.Close()
		files = append(files, f)
	}
	if len(files) == 0 {
		if !hasMeta(in.Path) {
			if _, err := os.Stat(in.Path); err != nil {
				return "", nil, fmt.Errorf("cannot read %s: %w; check --in", in.Path, unwrapPath(err))
			}
		}
		return "", nil, fmt.Errorf("no files match --in=%s; check the path", p)
	}
	return pattern, files, nil
}

// globDir is the directory a glob pattern lists first: its longest prefix
// of directories without wildcards ("" when the pattern has none).
func globDir(pattern string) string {
	if !hasMeta(pattern) {
		return ""
	}
	dir := filepath.Dir(pattern)
	for hasMeta(dir) {
		dir = filepath.Dir(dir)
	}
	return dir
}

// listDir reads one name of directory dir, to find out whether it can be
// listed. A variable so that tests can make it fail: they may run as root,
// which permission bits do not stop.
var listDir = func(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != nil && err != io.EOF {
		return err
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// byteSize prints n bytes with a binary unit.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
