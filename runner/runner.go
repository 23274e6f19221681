package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
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
	inboxes   [][]inbox // per stage, per task; nil for source stages
	gate      *gate
	dead      *deadWriter

	// readCtx is given to readers and Discover: cancelled on a graceful
	// stop (so that a waiting read returns at once) and with ctx.
	readCtx context.Context
	stop    <-chan struct{} // Options.Stop
	queues  []*splitQueue   // per stage; set for source stages with discovery
}

// stopped reports whether a graceful stop was asked for.
func (j *job) stopped() bool { return closed(j.stop) }

func runGraph(ctx context.Context, name string, g *graph.Graph, opts Options) (stats Stats, err error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return Stats{}, err
	}
	start := opts.Clock.Now()
	m := opts.Metrics
	defer func() {
		stats = Stats{
			RowsIn: m.RowsIn.Load(), RowsOut: m.RowsOut.Load(), Late: m.Late.Load(),
			DeadLettered: m.DeadLettered.Load(), Skipped: m.Skipped.Load(),
			Sinks: map[string]int64{}, Duration: opts.Clock.Now().Sub(start),
		}
		for _, s := range m.SinkNames() {
			stats.Sinks[s] = m.SinkRows(s).Load()
		}
	}()
	if err := g.Err(); err != nil {
		return Stats{}, err
	}
	pl, err := newPlan(g, opts.Parallelism)
	if err != nil {
		return Stats{}, err
	}
	total, err := pl.assignSplits(ctx, opts.Parallelism)
	if err != nil {
		return Stats{}, err
	}
	m.RowsTotal.Store(total)

	eg, gctx := errgroup.WithContext(ctx)
	readCtx, cancelRead := context.WithCancel(gctx)
	defer cancelRead()
	j := &job{ctx: gctx, name: name, opts: opts, plan: pl, consumers: map[*graph.Node][]graph.Consumer{},
		readCtx: readCtx, stop: opts.Stop}
	if opts.Stop != nil {
		watched := make(chan struct{})
		defer close(watched)
		go func() {
			select {
			case <-opts.Stop:
				cancelRead()
			case <-watched:
			}
		}()
	}
	j.queues = make([]*splitQueue, len(pl.stages))
	for _, n := range pl.order {
		j.consumers[n] = g.Consumers(n)
	}
	j.inboxes = make([][]inbox, len(pl.stages))
	for _, st := range pl.stages {
		if st.isSource() {
			continue
		}
		j.inboxes[st.id] = make([]inbox, opts.Parallelism)
		for k := range j.inboxes[st.id] {
			j.inboxes[st.id][k] = make(inbox, 4+2*len(st.chanEdge))
		}
	}
	var tasks []*rawTask
	for _, st := range pl.stages {
		for k := range opts.Parallelism {
			t := newRawTask(j, st, k)
			if err := t.wire(); err != nil {
				return Stats{}, err
			}
			tasks = append(tasks, t)
		}
	}
	j.gate = newGate(len(tasks), func() error {
		if j.dead != nil {
			return j.dead.preCommit()
		}
		return nil
	})
	if opts.OnError == DeadLetter && opts.DeadLetters != nil {
		j.dead, err = openDeadWriter(gctx, name, opts.DeadLetters)
		if err != nil {
			return Stats{}, err
		}
	}
	for _, st := range pl.stages {
		d, ok := st.head.Source.(graph.Discoverer)
		if !st.isSource() || !ok || opts.Mode != Stream || opts.DiscoveryInterval < 0 {
			continue
		}
		q := newSplitQueue(st.splits)
		j.queues[st.id] = q
		eg.Go(func() error { return q.enumerate(readCtx, opts.Stop, st.head, d, opts.DiscoveryInterval) })
	}
	for _, t := range tasks {
		if t.st.isSource() {
			eg.Go(func() error { return t.runSource(gctx) })
		} else {
			in := j.inboxes[t.st.id][t.index]
			eg.Go(func() error { return t.run(gctx, in) })
		}
	}
	err = eg.Wait()
	if j.dead != nil {
		err = errors.Join(err, j.dead.finish(err == nil))
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return Stats{}, cerr
		}
		return Stats{}, err
	}
	return Stats{}, nil
}

// gate opens when every task of the job has finished its input and
// pre-committed: the end-of-job checkpoint is complete and sinks commit.
type gate struct {
	mu struct {
		sync.Mutex
		remaining int
	}
	onAll func() error
	err   error
	open  chan struct{}
}

func newGate(n int, onAll func() error) *gate {
	g := &gate{onAll: onAll, open: make(chan struct{})}
	g.mu.remaining = n
	if n == 0 {
		close(g.open)
	}
	return g
}

func (g *gate) arrive() {
	g.mu.Lock()
	g.mu.remaining--
	last := g.mu.remaining == 0
	g.mu.Unlock()
	if last {
		g.err = g.onAll() // published to waiters by close
		close(g.open)
	}
}

func (g *gate) wait(ctx context.Context) error {
	select {
	case <-g.open:
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// deadWriter is the job's one dead-letter writer, shared by its tasks.
type deadWriter struct {
	mu struct {
		sync.Mutex
		w     sdk.CommittingSink[sdk.DeadLetter]
		batch *sdk.Batch[sdk.DeadLetter]
	}
}

func openDeadWriter(ctx context.Context, job string, s sdk.Sink[sdk.DeadLetter]) (*deadWriter, error) {
	w, err := s.Open(sdk.SinkContext{Context: ctx, Job: job, Node: "DeadLetters", Task: 0, Tasks: 1})
	if err != nil {
		return nil, fmt.Errorf("weir: open dead-letter output: %w", err)
	}
	d := &deadWriter{}
	d.mu.w, d.mu.batch = w, base.NewBatch[sdk.DeadLetter](1)
	return d, nil
}

func (d *deadWriter) write(ctx context.Context, l sdk.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mu.batch.Reset()
	d.mu.batch.Append(l, 0)
	if err := d.mu.w.Write(ctx, d.mu.batch); err != nil {
		return fmt.Errorf("weir: write dead letter: %w", err)
	}
	return nil
}

func (d *deadWriter) preCommit() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.mu.w.PreCommit(1); err != nil {
		return fmt.Errorf("weir: pre-commit dead letters: %w", err)
	}
	return nil
}

// finish commits (when ok) and closes the writer.
func (d *deadWriter) finish(ok bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	if ok {
		if cerr := d.mu.w.Commit(1); cerr != nil {
			err = fmt.Errorf("weir: commit dead letters: %w", cerr)
		}
	}
	if cerr := d.mu.w.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("weir: close dead-letter output: %w", cerr)
	}
	return err
}
