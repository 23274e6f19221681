package runner

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/runner/checkpoint"
	"github.com/weirflow/weir/runner/coord"
	"github.com/weirflow/weir/runner/netx"
)

// Cluster places one run over several processes (Options.Cluster): each
// runs the same job with the same options, and hosts the tasks of its
// index, task k of every stage on process k·len(Peers)/Parallelism (Flink's
// slot sharing). Process 0 is the job's master: it settles the sinks at
// the start and is the checkpoint coordinator (its CommitCheckpoint is the
// only one called); the others report to it over the connection they
// share. The run fails in every process when one of them fails.
//
// Each process enumerates the splits of discovering sources itself and
// reads those of its tasks (a new split goes to task hash(ID) mod
// Parallelism). A process whose splits have all ended (or that had none)
// keeps looking: it reports itself idle to the master with the number of
// splits it knows, and the master ends the stage in every process once
// all are idle knowing as many, as one process ends it once all its
// splits have ended.
type Cluster struct {
	// Index is this process's place in Peers.
	Index int
	// Peers are the data addresses of every process of the run, by
	// index, this one's included (the address of Listener).
	Peers []string
	// Listener accepts the connections of the processes after this one
	// in Peers; this process dials those before it. The run closes it.
	Listener net.Listener
	// Token is shared by the processes of this run and no other (the
	// job's attempt, say): a connection that does not present it is
	// refused.
	Token string
	// Dial, when set, dials a peer (TLS, say); default net.Dialer.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// ConnectTimeout bounds the wait for every peer to connect (default
	// one minute): processes of one run start at different times.
	ConnectTimeout time.Duration
}

func (c *Cluster) validate(par int) error {
	switch {
	case len(c.Peers) < 1 || len(c.Peers) > par:
		return fmt.Errorf("runner: Cluster has %d peers; use 1 to Parallelism (%d)", len(c.Peers), par)
	case c.Index < 0 || c.Index >= len(c.Peers):
		return fmt.Errorf("runner: Cluster.Index %d out of range for %d peers", c.Index, len(c.Peers))
	case c.Listener == nil && c.Index < len(c.Peers)-1:
		return errors.New("runner: Cluster.Listener is needed by every process but the last")
	}
	return nil
}

// ctlStream is the stream of the control messages between the master and
// another process, on their connection: out of the range of streamID.
const ctlStream = 1 << 63

// ctlMsg is one control message, JSON in one frame. From a process to the
// master: ack, finished, uploaded, stop, savepoint and bye. From the
// master: start, trigger, upload, abort, commit, stop and finish.
type ctlMsg struct {
	Kind string `json:"kind"`

	ID      uint64                           `json:"id,omitempty"`
	Task    int                              `json:"task,omitempty"`
	Tasks   []int                            `json:"tasks,omitempty"`
	Splits  map[string]checkpoint.SplitState `json:"splits,omitempty"`
	Sinks   map[string][]byte                `json:"sinks,omitempty"`
	Upload  bool                             `json:"upload,omitempty"`
	Sync    time.Duration                    `json:"sync,omitempty"`
	Stopped bool                             `json:"stopped,omitempty"`
	WM      base.Timestamp                   `json:"wm,omitempty"`
	Stores  []coord.Store                    `json:"stores,omitempty"`
	Store   coord.Store                      `json:"store,omitempty"`
	Handle  *checkpoint.StateHandle          `json:"handle,omitempty"`
	Bytes   int64                            `json:"bytes,omitempty"`
	Took    time.Duration                    `json:"took,omitempty"`
	Final   bool                             `json:"final,omitempty"`
	Err     string                           `json:"err,omitempty"`

	// stage: a process's discovering source stage is idle (or busy
	// again), knowing Known splits; over: the master ended the stage.
	Stage int  `json:"stage,omitempty"`
	Known int  `json:"known,omitempty"`
	Idle  bool `json:"idle,omitempty"`

	// start: the checkpoint the master resumes from (0: none), whether
	// it is of a finished job, whether the job begins (not: a stop came
	// before the start), and a digest of the splits each task reads.
	Restored base.CheckpointID `json:"restored,omitempty"`
	Finished bool              `json:"finished,omitempty"`
	Begun    bool              `json:"begun,omitempty"` // false: a stop came first
	Digest   string            `json:"digest,omitempty"`

	from int // the sender's index, set on receipt
}

// ctlEvent carries a control message from another process to the
// checkpointer's loop.
type ctlEvent struct{ m ctlMsg }

// stageEvent is what this process's split queue of a discovering source
// stage reports in a Cluster run: whether every split of its tasks has
// ended (idle), and how many splits it knows.
type stageEvent struct {
	stage, known int
	idle         bool
}

// stageReport, on the master, records what process p reports of a
// discovering source stage, and ends the stage in every process once all
// of them are idle knowing as many splits: none has a split left, and
// none knows one that another has not read.
func (c *checkpointer) stageReport(ctx context.Context, p int, se stageEvent) {
	if c.stages == nil {
		c.stages = map[int][]*stageEvent{}
	}
	st, ok := c.stages[se.stage]
	if !ok {
		st = make([]*stageEvent, len(c.j.cl.c.Peers))
		c.stages[se.stage] = st
	}
	if st == nil || se.stage < 0 || se.stage >= len(c.j.queues) || c.j.queues[se.stage] == nil {
		return // over already, or not a discovering stage
	}
	st[p] = &se
	for _, r := range st {
		if r == nil || !r.idle || r.known != st[0].known {
			return
		}
	}
	c.stages[se.stage] = nil
	c.j.queues[se.stage].finish()
	c.tellAll(ctx, ctlMsg{Kind: "over", Stage: se.stage})
}

// clusterRun is this process's side of a Cluster run: its connections to
// the other processes and their control streams.
type clusterRun struct {
	c     *Cluster
	conns []*netx.Conn // by process; nil for this one
	ctl   []*netx.Stream
	mu    []sync.Mutex // one sender at a time per control stream
}

func (r *clusterRun) master() bool { return r.c.Index == 0 }

// connect connects this process with every other of the run: it accepts
// the connections of those after it and dials those before it, each
// connection opening with the dialer's index (4 bytes) and then netx's
// handshake with the run's token.
func connect(ctx context.Context, c *Cluster) (*clusterRun, error) {
	n := len(c.Peers)
	r := &clusterRun{c: c, conns: make([]*netx.Conn, n), ctl: make([]*netx.Stream, n), mu: make([]sync.Mutex, n)}
	timeout := c.ConnectTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opts := netx.Options{Window: networkWindow, Token: c.Token}
	type res struct {
		from int
		conn *netx.Conn
		err  error
	}
	results := make(chan res)
	deliver := func(x res) {
		select {
		case results <- x:
		case <-ctx.Done():
			if x.conn != nil {
				x.conn.Close()
			}
		}
	}
	var wg sync.WaitGroup
	if c.Listener != nil {
		go func() {
			<-ctx.Done()
			c.Listener.Close()
		}()
		wg.Go(func() {
			for {
				nc, err := c.Listener.Accept()
				if err != nil {
					return // closed when connect returns
				}
				// Each in its own goroutine: a stray connection that
				// says nothing must not hold up the peers.
				wg.Go(func() {
					var hdr [4]byte
					nc.SetReadDeadline(time.Now().Add(10 * time.Second))
					if _, err := io.ReadFull(nc, hdr[:]); err != nil {
						nc.Close()
						return
					}
					nc.SetReadDeadline(time.Time{})
					from := int(binary.BigEndian.Uint32(hdr[:]))
					if from <= c.Index || from >= n {
						nc.Close()
						return
					}
					conn, err := netx.New(nc, opts)
					if err != nil {
						return // a stray or stale connection: the token decides
					}
					deliver(res{from, conn, nil})
				})
			}
		})
	}
	for b := range c.Index {
		wg.Go(func() {
			conn, err := dialPeer(ctx, c, b, opts)
			deliver(res{b, conn, err})
		})
	}
	var err error
	for missing := n - 1; missing > 0 && err == nil; {
		select {
		case x := <-results:
			switch {
			case x.err != nil:
				err = x.err
			case r.conns[x.from] != nil:
				// The peer dialed again (it gave up on the first):
				// the newest connection is the one it uses.
				r.conns[x.from].Close()
				r.conns[x.from], r.ctl[x.from] = x.conn, x.conn.Stream(ctlStream)
			default:
				r.conns[x.from], r.ctl[x.from] = x.conn, x.conn.Stream(ctlStream)
				missing--
			}
		case <-ctx.Done():
			if ctx.Err() != context.DeadlineExceeded {
				err = ctx.Err()
				break
			}
			var absent []string
			for i, conn := range r.conns {
				if conn == nil && i != c.Index {
					absent = append(absent, fmt.Sprintf("%d (%s)", i, c.Peers[i]))
				}
			}
			err = fmt.Errorf("not every process of the run connected within %v: missing %s", timeout, strings.Join(absent, ", "))
		}
	}
	cancel()
	if c.Listener != nil {
		c.Listener.Close()
	}
	wg.Wait()
	if err != nil {
		r.close()
		return nil, fmt.Errorf("runner: cluster: %w", err)
	}
	return r, nil
}

// dialPeer dials process b until it answers or ctx is done: b may not
// listen yet.
func dialPeer(ctx context.Context, c *Cluster, b int, opts netx.Options) (*netx.Conn, error) {
	dial := c.Dial
	if dial == nil {
		var d net.Dialer
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	wait := 50 * time.Millisecond
	for {
		nc, err := dial(ctx, c.Peers[b])
		if err == nil {
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(c.Index))
			if _, err = nc.Write(hdr[:]); err == nil {
				var conn *netx.Conn
				if conn, err = netx.New(nc, opts); err == nil {
					return conn, nil
				}
			} else {
				nc.Close()
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("process %d at %s: %w", b, c.Peers[b], err)
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func (r *clusterRun) close() {
	for _, c := range r.conns {
		if c != nil {
			c.Close()
		}
	}
}

// send sends m to process to.
func (r *clusterRun) send(ctx context.Context, to int, m ctlMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("runner: cluster: encode %s: %w", m.Kind, err)
	}
	r.mu[to].Lock()
	defer r.mu[to].Unlock()
	if err := r.conns[to].Send(ctx, ctlStream, b); err != nil {
		return fmt.Errorf("runner: cluster: send %s to process %d: %w", m.Kind, to, err)
	}
	return nil
}

// broadcast sends m to every other process.
func (r *clusterRun) broadcast(ctx context.Context, m ctlMsg) error {
	var errs []error
	for to, c := range r.conns {
		if c != nil {
			errs = append(errs, r.send(ctx, to, m))
		}
	}
	return errors.Join(errs...)
}

// recv returns the next control message from process from.
func (r *clusterRun) recv(ctx context.Context, from int) (ctlMsg, error) {
	f, err := r.ctl[from].Recv(ctx)
	if err != nil {
		return ctlMsg{}, err
	}
	var m ctlMsg
	err = json.Unmarshal(f, &m)
	netx.Free(f)
	if err != nil {
		return ctlMsg{}, fmt.Errorf("runner: cluster: a bad control message from process %d: %w", from, err)
	}
	m.from = from
	return m, nil
}

// listen pushes the control messages of every other process into q until
// their connections end; a failed connection is pushed as a "lost"
// message. It returns at once; the goroutines end with the connections.
func (r *clusterRun) listen(ctx context.Context, q *eventQueue) {
	for from, c := range r.conns {
		if c == nil {
			continue
		}
		go func() {
			for {
				m, err := r.recv(ctx, from)
				if err != nil {
					q.push(ctlEvent{ctlMsg{Kind: "lost", Err: err.Error(), from: from}})
					return
				}
				q.push(ctlEvent{m})
				if m.Kind == "bye" {
					return
				}
			}
		}()
	}
}

// processOf returns the process of task index k.
func (r *clusterRun) processOf(k, par int) int { return k * len(r.c.Peers) / par }

// tell sends m to process p; a failure stops the run.
func (c *checkpointer) tell(ctx context.Context, p int, m ctlMsg) {
	if err := c.j.cl.send(ctx, p, m); err != nil && c.fatal == nil && ctx.Err() == nil {
		c.fatal = err
	}
}

// tellAll sends m to every other process.
func (c *checkpointer) tellAll(ctx context.Context, m ctlMsg) {
	if err := c.j.cl.broadcast(ctx, m); err != nil && c.fatal == nil && ctx.Err() == nil {
		c.fatal = err
	}
}

// stopping, on the master of a Cluster run, stops this process's sources
// and tells the other processes to stop theirs; the caller then feeds
// the machine StopRequested. It does nothing more the second time.
func (c *checkpointer) stopping(ctx context.Context) {
	if c.j.cl == nil || closed(c.j.stop) {
		return
	}
	c.j.closeStop()
	c.tellAll(ctx, ctlMsg{Kind: "stop"})
}

// stopRequested handles a graceful stop asked of this process.
func (c *checkpointer) stopRequested(ctx context.Context) {
	c.stopping(ctx)
	c.step(ctx, coord.StopRequested{})
}

// fromPeer turns a control message of another process into the master's
// event for the machine, or handles it and returns nil.
func (c *checkpointer) fromPeer(ctx context.Context, m ctlMsg) coord.Event {
	switch m.Kind {
	case "ack":
		return ackEvent{Ack: coord.Ack{Task: m.Task, ID: m.ID, Splits: m.Splits, Sinks: m.Sinks, Upload: m.Upload,
			Sync: m.Sync, Stopped: m.Stopped}, wm: m.WM}
	case "finished":
		return coord.TaskFinished{Task: m.Task, Stopped: m.Stopped}
	case "uploaded":
		u := coord.Uploaded{Task: m.Task, ID: m.ID, Store: m.Store, Handle: m.Handle, Bytes: m.Bytes, Took: m.Took}
		switch {
		case m.Err != "":
			u.Err = fmt.Errorf("process %d: %s", m.from, m.Err)
		case m.Handle == nil:
			u.Err = fmt.Errorf("process %d uploaded no snapshot", m.from)
		default:
			// The master's store completes the checkpoint: it learns
			// the files another process's store wrote.
			if err := c.store(m.Store).Adopt(m.ID, *m.Handle); err != nil {
				u.Err, u.Handle = fmt.Errorf("process %d: %w", m.from, err), nil
			}
		}
		return u
	case "stop":
		if closed(c.j.stop) {
			return nil
		}
		c.stopping(ctx)
		return coord.StopRequested{}
	case "savepoint":
		return coord.SavepointRequested{}
	case "stage":
		c.stageReport(ctx, m.from, stageEvent{stage: m.Stage, known: m.Known, idle: m.Idle})
	case "bye":
		c.byes[m.from] = true
		if m.Err != "" && c.fatal == nil {
			c.fatal = fmt.Errorf("runner: process %d of the run failed: %s", m.from, m.Err)
		}
	case "lost":
		if !c.byes[m.from] && c.fatal == nil {
			c.fatal = fmt.Errorf("runner: lost process %d of the run: %s", m.from, m.Err)
		}
	default:
		if c.fatal == nil {
			c.fatal = fmt.Errorf("runner: cluster: an unexpected %q from process %d", m.Kind, m.from)
		}
	}
	return nil
}

// awaitByes, on the master once the job's last checkpoint has settled,
// waits for every other process to say bye: they have committed the last
// checkpoint's output and closed their tasks.
func (c *checkpointer) awaitByes(ctx context.Context) error {
	for len(c.byes) < len(c.j.cl.c.Peers)-1 && c.fatal == nil {
		select {
		case <-c.q.wake:
			for _, ev := range c.q.drain() {
				if ce, ok := ev.(ctlEvent); ok {
					c.fromPeer(ctx, ce.m)
				}
			}
		case <-ctx.Done():
			return nil
		}
	}
	if c.err != nil {
		return c.err
	}
	return c.fatal
}

// relay is the checkpointer of a process other than the master of a
// Cluster run: it sends the master what its tasks report (acks, finished
// inputs, uploads, stop and savepoint requests) and carries out what the
// master decides for them, until the master's finish.
func (c *checkpointer) relay(ctx context.Context) error {
	stop, savepoint := c.j.opts.Stop, c.j.opts.Savepoint
	for !c.over && c.fatal == nil {
		select {
		case <-stop:
			stop = nil
			c.tell(ctx, 0, ctlMsg{Kind: "stop"})
		case <-savepoint:
			c.tell(ctx, 0, ctlMsg{Kind: "savepoint"})
		case <-c.q.wake:
			for _, ev := range c.q.drain() {
				c.relayEvent(ctx, ev)
			}
		case <-ctx.Done():
			return nil
		}
	}
	if c.fatal != nil {
		return c.fatal
	}
	return c.err
}

func (c *checkpointer) relayEvent(ctx context.Context, ev any) {
	switch ev := ev.(type) {
	case ackEvent:
		if ev.a.upload != nil || ev.a.done != nil {
			c.pending[ackKey{ev.ID, ev.Task}] = ev.a
		}
		c.tell(ctx, 0, ctlMsg{Kind: "ack", Task: ev.Task, ID: ev.ID, Splits: ev.Splits, Sinks: ev.Sinks,
			Upload: ev.Upload, Sync: ev.Sync, Stopped: ev.Stopped, WM: ev.wm})
	case coord.TaskFinished:
		c.tell(ctx, 0, ctlMsg{Kind: "finished", Task: ev.Task, Stopped: ev.Stopped})
	case stageEvent:
		c.tell(ctx, 0, ctlMsg{Kind: "stage", Stage: ev.stage, Known: ev.known, Idle: ev.idle})
	case coord.Uploaded:
		m := ctlMsg{Kind: "uploaded", Task: ev.Task, ID: ev.ID, Store: ev.Store, Handle: ev.Handle, Bytes: ev.Bytes, Took: ev.Took}
		if ev.Err != nil {
			m.Err = ev.Err.Error()
		}
		c.tell(ctx, 0, m)
	case ctlEvent:
		c.fromMaster(ev.m)
	}
}

// fromMaster carries out a decision of the master.
func (c *checkpointer) fromMaster(m ctlMsg) {
	switch m.Kind {
	case "trigger":
		if m.ID > c.started {
			c.started = m.ID
			c.j.opts.Metrics.CheckpointsStarted.Add(1)
		}
		for _, i := range m.Tasks {
			if i >= 0 && i < len(c.tasks) && c.tasks[i] != nil {
				c.tasks[i].mb.post(func(mb *mailbox) { mb.trigger = base.CheckpointID(m.ID) })
			}
		}
	case "upload":
		k := ackKey{m.ID, m.Task}
		ta := c.pending[k]
		delete(c.pending, k)
		c.upload(coord.Upload{ID: m.ID, Task: m.Task, Stores: m.Stores}, ta)
	case "abort":
		for _, s := range m.Stores {
			if st := c.store(s); st != nil {
				_ = st.Abort(m.ID) // what it uploaded: the master deleted it
			}
		}
	case "commit":
		for _, st := range []*checkpoint.Store{c.j.store, c.j.savepoints} {
			if st != nil {
				st.CompletedElsewhere(m.ID)
			}
		}
		c.j.opts.Metrics.Checkpoints.Add(1)
		c.mu.Lock()
		c.mu.completed = append(c.mu.completed, CheckpointStats{ID: base.CheckpointID(m.ID)})
		c.mu.Unlock()
		c.postCommit(m.ID, m.Final)
	case "stop":
		c.j.closeStop()
	case "over":
		if m.Stage >= 0 && m.Stage < len(c.j.queues) && c.j.queues[m.Stage] != nil {
			c.j.queues[m.Stage].finish()
		}
	case "finish":
		c.over = true
		if m.Err != "" {
			c.err = fmt.Errorf("runner: the run's master: %s", m.Err)
		}
	case "lost":
		if m.from == 0 {
			c.fatal = fmt.Errorf("runner: lost the run's master: %s", m.Err)
		} else {
			c.fatal = fmt.Errorf("runner: lost process %d of the run: %s", m.from, m.Err)
		}
	default:
		c.fatal = fmt.Errorf("runner: cluster: an unexpected %q from the master", m.Kind)
	}
}

// prepareFollower is prepare in a process other than the master of a
// Cluster run: it opens the stores (the master holds their locks), waits
// for the master's start (the sinks are settled) and resumes from the
// checkpoint the master resumes from.
func (j *job) prepareFollower(ctx context.Context) (Stats, bool, error) {
	if err := j.openStores(); err != nil {
		return Stats{}, true, err
	}
	m, err := j.cl.recv(ctx, 0)
	if err != nil {
		return Stats{}, true, fmt.Errorf("runner: cluster: waiting for the run's master to start: %w", err)
	}
	if m.Kind != "start" {
		return Stats{}, true, fmt.Errorf("runner: cluster: the run's master sent %q before start", m.Kind)
	}
	switch {
	case m.Finished:
		return Stats{AlreadyFinished: true}, true, nil
	case !m.Begun:
		return Stats{StoppedBeforeStart: true}, true, nil
	}
	// From here on a stop is the master's to decide (relay sends it).
	j.setUpStop = nil
	if err := j.loadRestore(); err != nil {
		return Stats{}, true, err
	}
	if j.restored != m.Restored {
		return Stats{}, true, fmt.Errorf("runner: cluster: the run's master resumes from checkpoint %d, this process from %d: the processes must share the checkpoint directory (%s)",
			m.Restored, j.restored, j.opts.CheckpointDir)
	}
	total, err := j.plan.assignSplits(ctx, j.opts.Parallelism, j.restore)
	if err != nil {
		return Stats{}, true, err
	}
	j.opts.Metrics.RowsTotal.Store(total)
	if d := j.plan.splitDigest(); d != m.Digest {
		return Stats{}, true, errors.New("runner: cluster: this process lists other splits than the run's master (the input changed while the processes started?); the run restarts")
	}
	return Stats{}, false, nil
}

// startOthers, on the master of a Cluster run, tells the other processes
// how the run starts (a start message with m's fields): it has settled
// the sinks. From then on a stop is the checkpointer's. It does nothing
// in another run.
func (j *job) startOthers(ctx context.Context, m ctlMsg) error {
	if j.cl == nil || !j.cl.master() {
		return nil
	}
	m.Kind = "start"
	j.setUpStop = nil
	return j.cl.broadcast(ctx, m)
}

// splitDigest is a digest of the splits every source task reads (their
// IDs, in order): equal in every process of a Cluster run that listed
// the same splits.
func (p *plan) splitDigest() string {
	h := sha256.New()
	for _, st := range p.stages {
		for k, splits := range st.splits {
			fmt.Fprintf(h, "%d/%d:", st.id, k)
			for _, s := range splits {
				fmt.Fprintf(h, "%q,", s.ID())
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// sayBye, in a process other than the master of a Cluster run, tells the
// master that its tasks have ended (err: how) and waits, a while, for the
// master to close the connection, so that the bye is read before it is.
func (j *job) sayBye(ctx context.Context, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), byeTimeout)
	defer cancel()
	m := ctlMsg{Kind: "bye"}
	if err != nil {
		m.Err = err.Error()
	}
	if j.cl.send(ctx, 0, m) != nil {
		return
	}
	select {
	case <-j.cl.conns[0].Done():
	case <-ctx.Done():
	}
}

// byeTimeout bounds a process's wait for the master after its bye.
const byeTimeout = 10 * time.Second
