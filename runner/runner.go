package runner

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/dirlock"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/checkpoint"
	"github.com/weirflow/weir/sdk"
)

func init() { sdk.RegisterRunner("local", localRunner{}) }

type localRunner struct{}

func (localRunner) Run(ctx context.Context, p *sdk.Pipeline) error {
	_, err := Run(ctx, p, Options{})
	return err
}

// Stats summarize a finished (or failed) run.
type Stats struct {
	RowsIn       int64 // records read by sources, bad ones included
	RowsOut      int64 // records written by sinks
	Late         int64 // records later than their window's allowed lateness
	DeadLettered int64
	Skipped      int64
	Sinks        map[string]int64 // rows written per sink transform
	Duration     time.Duration
	// RestoredFrom is the checkpoint (or savepoint) the job resumed from;
	// 0 for a fresh start.
	RestoredFrom base.CheckpointID
	// Checkpoints are the completed checkpoints of this run, the job's
	// last (which commits the sinks at its end or stop) included;
	// CheckpointsFailed counts the ones that failed.
	Checkpoints       []CheckpointStats
	CheckpointsFailed int
	// AlreadyFinished: the latest checkpoint was that of a finished job,
	// so nothing ran (its output was committed).
	AlreadyFinished bool
	// StoppedBeforeStart: Options.Stop was closed while the job was being
	// set up, so no task started: nothing was read, nothing committed and
	// no savepoint written.
	StoppedBeforeStart bool
}

// Run executes p in this process and returns when every task has finished,
// the first error has stopped the job, or ctx is done. On success every sink
// has committed its output; on error nothing is committed.
func Run(ctx context.Context, p *sdk.Pipeline, opts Options) (Stats, error) {
	if err := p.Err(); err != nil {
		return Stats{}, err
	}
	return runGraph(ctx, p.Name(), p.Graph(), opts)
}

// job is the shared, read-mostly state of one run.
type job struct {
	ctx       context.Context // cancelled on the first error
	name      string
	opts      Options
	plan      *plan
	consumers map[*graph.Node][]graph.Consumer
	inboxes   [][]inbox   // per stage, per task; nil for source stages
	targets   [][]target  // inboxes as exchange targets, shared by a stage's local senders
	net       *network    // the network exchange; nil when every task is local
	cl        *clusterRun // this process's side of a Cluster run; nil otherwise
	slots     sync.Pool   // *[]any of Parallelism nil buffers, for keyed exchanges
	ck        *checkpointer
	runID     string

	// The checkpoint and savepoint stores (nil without them) and the
	// locks of their directories, held for the run.
	store, savepoints *checkpoint.Store
	locks             []*dirlock.Lock

	// Restore: the checkpoint the job resumes from and its store.
	restore      *checkpoint.Metadata
	restoreStore *checkpoint.Store
	restored     base.CheckpointID
	nextID       base.CheckpointID // of the first checkpoint of this run
	base         string            // Metadata.Base of this run's checkpoints

	stateRoot   string // local state directories of the tasks
	stateLock   *dirlock.Lock
	stateMemory int64 // per stateful operator

	// readCtx is given to readers and Discover: cancelled on a graceful
	// stop (so that a waiting read returns at once) and with ctx.
	readCtx context.Context
	stop    <-chan struct{} // Options.Stop; in a Cluster run, closed by the checkpointer
	stopCh  chan struct{}   // stop, in a Cluster run
	// setUpStop ends set-up before the job starts: Options.Stop, but nil
	// in a Cluster run once the master has sent start (a stop is then the
	// checkpointer's, a graceful one, in every process alike).
	setUpStop <-chan struct{}
	stopped1  sync.Once
	queues    []*splitQueue // per stage; set for source stages with discovery
}

// stopped reports whether a graceful stop was asked for.
func (j *job) stopped() bool { return closed(j.stop) }

// closeStop stops the sources of this process of a Cluster run.
func (j *job) closeStop() { j.stopped1.Do(func() { close(j.stopCh) }) }

// local reports whether task index k runs in this process: always, but
// in a Cluster run.
func (j *job) local(k int) bool {
	return j.cl == nil || j.cl.processOf(k, j.opts.Parallelism) == j.cl.c.Index
}

// forceNetworkWorkers, set by the package's tests, places every job over
// that many workers (at most its parallelism) when its options leave
// NetworkWorkers 0.
var forceNetworkWorkers int

// runGraph runs the job of graph g in steps: plan, prepare (stores,
// restore, sinks), set up (inboxes, tasks, the checkpointer), execute.
func runGraph(ctx context.Context, name string, g *graph.Graph, opts Options) (stats Stats, err error) {
	opts.EnsureDefaults()
	if opts.NetworkWorkers == 0 && forceNetworkWorkers > 1 && opts.Cluster == nil {
		opts.NetworkWorkers = min(forceNetworkWorkers, opts.Parallelism)
	}
	if err := opts.Validate(); err != nil {
		return Stats{}, err
	}
	start := opts.Clock.Now()
	var j *job
	defer func() { stats = collectStats(opts, start, j, stats) }()
	if err := g.Err(); err != nil {
		return Stats{}, err
	}
	pl, err := newPlan(g, opts.Parallelism)
	if err != nil {
		return Stats{}, err
	}
	j = &job{name: name, opts: opts, plan: pl, consumers: map[*graph.Node][]graph.Consumer{},
		stop: opts.Stop, setUpStop: opts.Stop, runID: newRunID(), nextID: 1}
	for _, n := range pl.order {
		j.consumers[n] = g.Consumers(n)
	}
	defer j.unlock()
	if c := opts.Cluster; c != nil {
		cl, err := connect(ctx, c)
		if err != nil {
			return Stats{}, err
		}
		defer cl.close()
		j.cl, j.stopCh = cl, make(chan struct{})
		j.stop = j.stopCh
	}
	if st, done, err := j.prepare(ctx); done || err != nil {
		return st, err
	}
	if err := j.openStateRoot(); err != nil {
		return Stats{}, err
	}
	defer j.closeStateRoot()

	eg, gctx := errgroup.WithContext(ctx)
	readCtx, cancelRead := context.WithCancel(gctx)
	defer cancelRead()
	j.ctx, j.readCtx = gctx, readCtx
	if j.stop != nil {
		// A stop cancels the reads, so that a waiting read returns at once.
		watched := make(chan struct{})
		defer close(watched)
		go func() {
			select {
			case <-j.stop:
				cancelRead()
			case <-watched:
			}
		}()
	}
	defer j.closeNetwork()
	tasks, err := j.setUp(ctx)
	if err != nil {
		return interruptedStats(err)
	}
	return Stats{}, j.execute(ctx, eg, tasks)
}

// collectStats fills the Stats of a run from its metrics and checkpoints;
// st carries what the run itself decided.
func collectStats(opts Options, start time.Time, j *job, st Stats) Stats {
	m := opts.Metrics
	out := Stats{
		RowsIn: m.RowsIn.Load(), RowsOut: m.RowsOut.Load(), Late: m.Late.Load(),
		DeadLettered: m.DeadLettered.Load(), Skipped: m.Skipped.Load(),
		Sinks: map[string]int64{}, Duration: opts.Clock.Now().Sub(start),
		AlreadyFinished: st.AlreadyFinished, StoppedBeforeStart: st.StoppedBeforeStart,
	}
	for _, s := range m.SinkNames() {
		out.Sinks[s] = m.SinkRows(s).Load()
	}
	if j != nil {
		out.RestoredFrom = j.restored
		if j.ck != nil {
			out.Checkpoints, out.CheckpointsFailed = j.ck.stats()
		}
	}
	return out
}

// prepare opens and locks the stores, finds the checkpoint to resume from,
// settles what the sinks staged in earlier runs and assigns the splits.
// done is true when there is nothing to run: the job had finished, or a
// stop came first; st says which.
func (j *job) prepare(ctx context.Context) (st Stats, done bool, err error) {
	if j.cl != nil && !j.cl.master() {
		return j.prepareFollower(ctx)
	}
	if err := j.openStores(); err != nil {
		return Stats{}, true, err
	}
	if err := j.loadRestore(); err != nil {
		return Stats{}, true, err
	}
	if err := j.recoverSinks(ctx); err != nil {
		return Stats{}, true, err
	}
	if j.restore != nil && j.restore.Finished {
		if err := j.startOthers(ctx, ctlMsg{Finished: true}); err != nil {
			return Stats{}, true, err
		}
		j.opts.Logf("runner: checkpoint %d in %s is of a finished job: nothing to do (its output is committed; remove the checkpoint directory to run the job again)",
			j.restored, j.restoreStore.Dir())
		return Stats{AlreadyFinished: true}, true, nil
	}
	return j.assignSplits(ctx)
}

// assignSplits ends prepare: unless a stop came first, it assigns the
// splits to the source tasks (those of the checkpoint resumed from first).
func (j *job) assignSplits(ctx context.Context) (Stats, bool, error) {
	if err := setUpInterrupted(ctx, j.setUpStop); err != nil {
		if err == errStoppedBeforeStart {
			if err := j.startOthers(ctx, ctlMsg{}); err != nil {
				return Stats{}, true, err
			}
		}
		st, err := interruptedStats(err)
		return st, true, err
	}
	total, err := j.plan.assignSplits(ctx, j.opts.Parallelism, j.restore)
	if err != nil {
		return Stats{}, true, err
	}
	j.opts.Metrics.RowsTotal.Store(total)
	if err := j.startOthers(ctx, ctlMsg{Begun: true, Restored: j.restored, Digest: j.plan.splitDigest()}); err != nil {
		return Stats{}, true, err
	}
	return Stats{}, false, nil
}

// setUp makes the inboxes and the tasks (wired, not opened) and the
// checkpointer. Set-up takes time in proportion to the number of tasks: a
// signal ends it between tasks (every setUpCheck of them), with the error
// of setUpInterrupted.
func (j *job) setUp(ctx context.Context) ([]*rawTask, error) {
	opts, pl := &j.opts, j.plan
	j.queues = make([]*splitQueue, len(pl.stages))
	j.inboxes = make([][]inbox, len(pl.stages))
	j.targets = make([][]target, len(pl.stages))
	for _, st := range pl.stages {
		if st.isSource() {
			continue
		}
		j.inboxes[st.id] = make([]inbox, opts.Parallelism)
		for k := range j.inboxes[st.id] {
			if k%setUpCheck == 0 {
				if err := setUpInterrupted(ctx, j.setUpStop); err != nil {
					return nil, err
				}
			}
			if j.local(k) {
				j.inboxes[st.id][k] = make(inbox, inboxSize(len(st.chanEdge)))
			}
		}
		j.targets[st.id] = make([]target, opts.Parallelism)
		for k, in := range j.inboxes[st.id] {
			j.targets[st.id][k] = in
		}
	}
	if opts.NetworkWorkers > 1 || (j.cl != nil && len(j.cl.c.Peers) > 1) {
		net, err := newNetwork(j)
		if err != nil {
			return nil, err
		}
		j.net = net
	}
	var tasks []*rawTask
	statefulOps := 0
	gid := 0
	for _, st := range pl.stages {
		for k := range opts.Parallelism {
			if k%setUpCheck == 0 {
				if err := setUpInterrupted(ctx, j.setUpStop); err != nil {
					return nil, err
				}
			}
			gid++
			if !j.local(k) {
				continue
			}
			t := newRawTask(j, st, k)
			t.gid = gid - 1
			if err := t.wire(); err != nil {
				return nil, err
			}
			statefulOps += t.stateful
			tasks = append(tasks, t)
		}
	}
	if opts.StateMemory > 0 && statefulOps > 0 {
		j.stateMemory = max(1, opts.StateMemory/int64(statefulOps))
	}
	j.ck = newCheckpointer(j, tasks, j.nextID)
	return tasks, setUpInterrupted(ctx, j.setUpStop)
}

// execute runs the checkpointer, the split enumerators and the tasks in
// eg and waits for them all, and for the checkpointer's uploads.
func (j *job) execute(ctx context.Context, eg *errgroup.Group, tasks []*rawTask) error {
	opts := &j.opts
	// The split queues first: the checkpointer reads j.queues (a Cluster
	// run's stage reports).
	var enumerators []func() error
	for _, st := range j.plan.stages {
		d, ok := st.head.Source.(graph.Discoverer)
		if !st.isSource() || !ok || opts.Mode != Stream || opts.DiscoveryInterval < 0 {
			continue
		}
		var local func(int) bool
		var report func(int, bool)
		if j.cl != nil {
			local = j.local
			report = func(known int, idle bool) { j.ck.q.push(stageEvent{stage: st.id, known: known, idle: idle}) }
		}
		q := newSplitQueue(st.splits, local, report)
		j.queues[st.id] = q
		enumerators = append(enumerators, func() error {
			return q.enumerate(j.readCtx, j.stop, st.head, d, opts.Clock, opts.DiscoveryInterval)
		})
	}
	eg.Go(func() error { return j.ck.run(j.ctx) })
	if j.net != nil {
		for _, p := range j.net.pumps {
			eg.Go(func() error { return p.run(j.ctx) })
		}
	}
	for _, f := range enumerators {
		eg.Go(f)
	}
	for _, t := range tasks {
		if t.st.isSource() {
			eg.Go(func() error { return t.runSource(j.ctx) })
		} else {
			in := j.inboxes[t.st.id][t.index]
			eg.Go(func() error { return t.run(j.ctx, in) })
		}
	}
	err := eg.Wait()
	j.ck.uploads.Wait()
	if j.cl != nil && !j.cl.master() {
		j.sayBye(ctx, err)
	} else {
		j.ck.abortInFlight()
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return err
	}
	return nil
}

// setUpCheck is how many tasks set-up makes between two looks at the
// context and Options.Stop.
const setUpCheck = 64

// errStoppedBeforeStart ends a set-up that a graceful stop interrupted.
var errStoppedBeforeStart = errors.New("runner: stopped before the job started")

// setUpInterrupted returns ctx's error, or errStoppedBeforeStart when stop
// is closed: the job has not started, so set-up ends there.
func setUpInterrupted(ctx context.Context, stop <-chan struct{}) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if closed(stop) {
		return errStoppedBeforeStart
	}
	return nil
}

// interruptedStats is what Run returns for a set-up that err interrupted:
// a stop before the start is no error, since nothing ran.
func interruptedStats(err error) (Stats, error) {
	if err == errStoppedBeforeStart {
		return Stats{StoppedBeforeStart: true}, nil
	}
	return Stats{}, err
}

// maxInbox bounds a task's inbox. Without a bound a keyed stage's inbox
// (one channel per upstream task) would grow with the parallelism, and
// the job's inboxes with its square. A task always drains its inbox (a
// channel blocked by barrier alignment queues what it delivers), so a
// small inbox slows producers but never deadlocks them.
const maxInbox = 64

// inboxSize is the capacity of the inbox of a task with the given number
// of input channels: a few messages per channel, at most maxInbox.
func inboxSize(channels int) int { return min(4+2*channels, maxInbox) }
