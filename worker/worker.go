package worker

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/internal/dirlock"
)

// Defaults used until a registration tells the worker otherwise.
const (
	defaultHeartbeat = time.Second
	defaultLease     = 10 * time.Second
	// registerTimeout bounds one round of registering.
	registerTimeout = 10 * time.Second
	tryTimeout      = 1500 * time.Millisecond // one heartbeat or registration call to one coordinator
)

// Reasons the worker gives for the exit of a child it killed.
const (
	ReasonLeaseLost  = "worker lost its lease"
	ReasonUnassigned = "killed: the attempt is no longer assigned to this worker"
	ReasonStopped    = "killed: the worker stopped"
)

// Worker runs the job attempts the coordinators' leader assigns to it as
// child processes. Make one with [New], then call [Worker.Run] once.
type Worker struct {
	cfg       Config
	id        string
	token     string
	tokenFile string // absolute
	logDir    string
	client    *api.Client
	bins      *binaries
	ln        net.Listener
	url       string
	ran       atomic.Bool
	lock      *dirlock.Lock // on DataDir: one worker process per data directory
	// incarnation is random for this process (api.RegisterRequest).
	incarnation string
}

// New checks cfg, fills its defaults, makes DataDir/binaries and
// DataDir/logs, reads the token and the worker id, and listens on
// cfg.HTTPAddr (so [Worker.URL] is known before Run).
func New(cfg Config) (*Worker, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Worker{cfg: cfg, id: cfg.ID, token: cfg.Token}
	var inc [8]byte
	if _, err := rand.Read(inc[:]); err != nil {
		return nil, fmt.Errorf("worker: incarnation: %w", err)
	}
	w.incarnation = hex.EncodeToString(inc[:])
	var err error
	if w.tokenFile, err = filepath.Abs(cfg.TokenFile); err != nil {
		return nil, fmt.Errorf("worker: token file: %w", err)
	}
	if w.token == "" {
		if w.token, err = api.ReadToken(w.tokenFile); err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
	}
	for _, d := range []string{cfg.DataDir, filepath.Join(cfg.DataDir, "binaries"), filepath.Join(cfg.DataDir, "logs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("worker: data directory: %w", err)
		}
	}
	// Two processes on one data directory would be one worker id twice:
	// both would run the same attempts.
	if w.lock, _, err = dirlock.Acquire(cfg.DataDir, "weir worker"); err != nil {
		var held *dirlock.HeldError
		if errors.As(err, &held) {
			return nil, fmt.Errorf("worker: data directory %s is in use by %s; give each worker its own --data", cfg.DataDir, holderOf(held))
		}
		return nil, fmt.Errorf("worker: %w", err)
	}
	if w.id == "" {
		if w.id, err = LoadID(cfg.DataDir); err != nil {
			w.lock.Release()
			return nil, err
		}
	}
	w.logDir = filepath.Join(cfg.DataDir, "logs")
	w.client = &api.Client{URLs: cfg.Coordinators, Token: w.token}
	w.bins = &binaries{dir: filepath.Join(cfg.DataDir, "binaries"), client: w.client}
	var tlsConf *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			w.lock.Release()
			return nil, fmt.Errorf("worker: TLS: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if w.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		w.lock.Release()
		return nil, fmt.Errorf("worker: listen for logs: %w", err)
	}
	w.url = listenURL(w.ln)
	if tlsConf != nil {
		w.ln = tls.NewListener(w.ln, tlsConf)
		w.url = "https" + strings.TrimPrefix(w.url, "http")
	}
	return w, nil
}

// ID is the worker's id.
func (w *Worker) ID() string { return w.id }

// URL is the base URL of the worker's log server.
func (w *Worker) URL() string { return w.url }

// dataPort is how this worker's children of jobs spread over workers
// listen for their peers: on the host of the worker's own address, with
// its TLS certificate, if it has one.
func (w *Worker) dataPort() dataPort {
	host, _, err := net.SplitHostPort(w.ln.Addr().String())
	if err != nil {
		host = "127.0.0.1"
	}
	dp := dataPort{host: host}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		// Listen on every interface, as the worker does, and be reached
		// by the name its URL gives (the machine's).
		dp.listen = host
		if u, err := url.Parse(w.url); err == nil {
			dp.host = u.Hostname()
		}
	}
	if w.cfg.TLSCert != "" {
		// Checked by New: both are set, and they load.
		dp.tlsCert, _ = filepath.Abs(w.cfg.TLSCert)
		dp.tlsKey, _ = filepath.Abs(w.cfg.TLSKey)
	}
	return dp
}

// Slots is how many slots the worker offers.
func (w *Worker) Slots() int { return w.cfg.Slots }

func (w *Worker) logf(format string, args ...any) {
	fmt.Fprintf(w.cfg.Log, "worker %s: "+format+"\n", append([]any{w.id}, args...)...)
}

// Run registers with the coordinators, heartbeats and runs what is
// assigned until ctx is done; then it kills its children, waits for them
// and returns nil. It returns an error only when it cannot serve at all.
func (w *Worker) Run(ctx context.Context) error {
	if !w.ran.CompareAndSwap(false, true) {
		return errors.New("worker: Run called twice")
	}
	srv := &http.Server{Handler: w.handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(w.ln) }()
	l := &loop{
		w:        w,
		ctx:      ctx,
		children: make(map[key]*child),
		events:   make(chan event, 16),
		beats:    make(chan beat, 1),
		every:    defaultHeartbeat,
		lease:    defaultLease,
	}
	l.run()
	defer w.lock.Release()
	_ = srv.Close()
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("worker: log server: %w", err)
	}
	if l.replaced {
		return fmt.Errorf("worker: another process registered as worker %s; this one stopped (give each worker its own --id and --data)", w.id)
	}
	return nil
}

// child is the loop's record of one attempt.
type child struct {
	a          api.Assignment
	phase      Phase
	pid        int
	cancel     context.CancelFunc // kills the process group / stops the launch
	termed     bool
	killed     bool
	killReason string
	acked      bool
	exit       api.Exit
}

// beat is the outcome of one heartbeat (with a registration first when
// the worker is not registered).
type beat struct {
	sent       time.Time
	registered *api.RegisterResponse
	resp       api.HeartbeatResponse
	err        error
}

// loop owns the child table; only its goroutine touches it. Launchers
// send on events, the heartbeat goroutine (at most one at a time) on
// beats.
type loop struct {
	w        *Worker
	ctx      context.Context
	children map[key]*child
	assigned []api.Assignment
	events   chan event
	beats    chan beat
	calls    sync.WaitGroup

	lastPrune  time.Time
	replaced   bool // another process took this worker's id: stop
	inflight   bool
	registered bool
	every      time.Duration // heartbeat interval
	lease      time.Duration
	lastOK     time.Time // when the last heartbeat that succeeded was sent
	leaseLost  bool
	failing    bool // the last heartbeat failed (log once per streak)
}

func (l *loop) run() {
	ticker := time.NewTicker(l.every)
	defer ticker.Stop()
	l.beat()
	for {
		select {
		case <-l.ctx.Done():
			l.shutdown()
			return
		case now := <-ticker.C:
			l.checkLease(now)
			if now.Sub(l.lastPrune) >= pruneEvery {
				l.prune(now)
			}
			if !l.inflight {
				l.beat()
			}
		case b := <-l.beats:
			l.inflight = false
			every := l.every
			l.handle(b)
			if l.every != every {
				ticker.Reset(l.every)
			}
			if l.replaced {
				l.shutdown()
				return
			}
			if !l.registered && !l.inflight && b.err == nil {
				l.beat() // told to register again: do it now
			}
		case ev := <-l.events:
			l.onEvent(ev)
		}
		l.reconcile()
	}
}

// beat starts a heartbeat call in its own goroutine.
func (l *loop) beat() {
	req := api.HeartbeatRequest{Incarnation: l.w.incarnation, Running: []api.Attempt{}}
	for _, c := range l.sorted() {
		if c.phase == Exited {
			if !c.acked {
				req.Exited = append(req.Exited, c.exit)
			}
			continue
		}
		req.Running = append(req.Running, api.Attempt{Job: c.a.Job, Attempt: c.a.Attempt})
	}
	register := !l.registered
	timeout := l.lease
	if register {
		timeout = registerTimeout
	}
	client := *l.w.client
	client.Retry = timeout
	// Each try is short: a coordinator that hangs (rather than refusing)
	// must not use up the lease before the next one is tried.
	client.HTTP = &http.Client{Timeout: tryTimeout}
	reg := api.RegisterRequest{ID: l.w.id, URL: l.w.url, Slots: l.w.cfg.Slots, Incarnation: l.w.incarnation}
	b := beat{sent: time.Now()}
	l.inflight = true
	l.calls.Add(1)
	go func() {
		defer l.calls.Done()
		// The client gives up after timeout with its own one line; the
		// context is the backstop.
		ctx, cancel := context.WithTimeout(l.ctx, 2*timeout)
		defer cancel()
		if register {
			r, err := client.Register(ctx, reg)
			if err != nil {
				b.err = fmt.Errorf("register: %w", err)
				l.beats <- b
				return
			}
			b.registered = &r
		}
		b.resp, b.err = client.Heartbeat(ctx, reg.ID, req)
		if b.err != nil {
			b.err = fmt.Errorf("heartbeat: %w", b.err)
		}
		l.beats <- b
	}()
}

// handle takes in the outcome of a heartbeat.
func (l *loop) handle(b beat) {
	if r := b.registered; r != nil {
		l.registered = true
		if r.HeartbeatMillis > 0 {
			l.every = time.Duration(r.HeartbeatMillis) * time.Millisecond
		}
		if r.LeaseMillis > 0 {
			l.lease = time.Duration(r.LeaseMillis) * time.Millisecond
		}
		l.w.logf("registered: heartbeat every %v, lease %v", l.every, l.lease)
	}
	if b.err != nil {
		if l.ctx.Err() != nil {
			return
		}
		if api.IsStatus(b.err, http.StatusNotFound) {
			l.registered = false
		}
		if !l.failing {
			l.w.logf("%v", b.err)
			l.failing = true
		}
		return
	}
	if l.failing {
		l.w.logf("reached a coordinator again")
		l.failing = false
	}
	for _, a := range b.resp.Acked {
		if c := l.children[key{a.Job, a.Attempt}]; c != nil && c.phase == Exited {
			c.acked = true
		}
	}
	if b.resp.Replaced {
		l.w.logf("another process registered as worker %s: this one kills its children and stops (give each worker its own --id and --data)", l.w.id)
		l.assigned = nil
		l.replaced = true
		return
	}
	if b.resp.Unknown {
		// The leader declared this worker dead (or never knew it): its
		// jobs are being placed elsewhere, so its children go now, not
		// when the lease runs out.
		l.w.logf("the leader does not know this worker: killing its children and registering again")
		l.registered = false
		l.assigned = nil
		return
	}
	if time.Since(b.sent) >= l.lease {
		return // too old to renew the lease or say what to run
	}
	l.lastOK = b.sent
	if l.leaseLost {
		l.w.logf("lease renewed")
		l.leaseLost = false
	}
	l.assigned = b.resp.Assignments
}

// checkLease kills every child once no heartbeat has succeeded for a
// lease: the leader may have given their jobs to other workers.
func (l *loop) checkLease(now time.Time) {
	if l.leaseLost || l.lastOK.IsZero() || now.Sub(l.lastOK) < l.lease {
		return
	}
	l.leaseLost = true
	l.assigned = nil
	live := 0
	for _, c := range l.children {
		if c.phase != Exited {
			live++
		}
	}
	l.w.logf("lease lost: no heartbeat succeeded for %v; killing %d children", now.Sub(l.lastOK).Round(time.Millisecond), live)
}

func (l *loop) onEvent(ev event) {
	c := l.children[ev.key]
	if c == nil {
		return // cannot happen: a child is forgotten only after its exit
	}
	if ev.exit == nil {
		c.phase, c.pid = Running, ev.pid
		l.w.logf("started job %s attempt %d (pid %d)", c.a.Job, c.a.Attempt, ev.pid)
		return
	}
	c.phase, c.pid = Exited, 0
	c.exit = *ev.exit
	if c.killReason != "" {
		c.exit.Reason, c.exit.Permanent = c.killReason, false
	}
	c.cancel()
	l.w.logf("job %s attempt %d exited with code %d: %s", c.a.Job, c.a.Attempt, c.exit.Code, c.exit.Reason)
}

// states is the child table as [Plan] sees it.
func (l *loop) states() []Child {
	out := make([]Child, 0, len(l.children))
	for _, c := range l.sorted() {
		out = append(out, Child{Job: c.a.Job, Attempt: c.a.Attempt, Phase: c.phase, Termed: c.termed, Killed: c.killed, Acked: c.acked})
	}
	return out
}

func (l *loop) sorted() []*child {
	out := make([]*child, 0, len(l.children))
	for _, c := range l.children {
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y *child) int {
		return cmp.Or(cmp.Compare(x.a.Job, y.a.Job), cmp.Compare(x.a.Attempt, y.a.Attempt))
	})
	return out
}

// reconcile carries out the [Plan] for the current assignments.
func (l *loop) reconcile() {
	for _, act := range Plan(l.assigned, l.states()) {
		k := key{act.Job, act.Attempt}
		c := l.children[k]
		switch act.Kind {
		case Start:
			l.start(act.Assignment)
		case Term:
			c.termed = true
			if err := termGroup(c.pid); err != nil {
				l.w.logf("stop job %s attempt %d: %v", act.Job, act.Attempt, err)
			} else {
				l.w.logf("stopping job %s attempt %d (SIGTERM)", act.Job, act.Attempt)
			}
		case Kill:
			c.killed = true
			c.killReason = ReasonUnassigned
			if l.leaseLost {
				c.killReason = ReasonLeaseLost
			}
			l.w.logf("killing job %s attempt %d: %s", act.Job, act.Attempt, c.killReason)
			c.cancel()
		case Forget:
			delete(l.children, k)
		}
	}
}

func (l *loop) start(a api.Assignment) {
	k := key{a.Job, a.Attempt}
	c := &child{a: a, phase: Launching, cancel: func() {}}
	l.children[k] = c
	if !validName(a.Job) {
		c.phase = Exited
		c.exit = api.Exit{Job: a.Job, Attempt: a.Attempt, Code: -1, Permanent: true, Reason: fmt.Sprintf("worker: bad job id %q", a.Job)}
		return
	}
	ctx, cancel := context.WithCancel(l.ctx)
	c.cancel = cancel
	go l.w.launch(ctx, a, l.events)
}

// shutdown kills every child and waits for them and for the heartbeat
// call in flight.
func (l *loop) shutdown() {
	live := 0
	for _, c := range l.children {
		if c.phase != Exited {
			c.killed, c.killReason = true, ReasonStopped
			c.cancel()
			live++
		}
	}
	if live > 0 {
		l.w.logf("stopping: killing %d children", live)
	}
	for live > 0 {
		ev := <-l.events
		if ev.exit != nil {
			live--
		}
		l.onEvent(ev)
	}
	// The heartbeat goroutine sends on beats (capacity 1) and returns.
	l.calls.Wait()
}

// holderOf names the process holding a lock.
func holderOf(e *dirlock.HeldError) string {
	if e.Holder.PID == 0 {
		return "another process"
	}
	return e.Holder.String()
}
