package coordinator

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/coordinator/internal/bincheck"
	"github.com/weirflow/weir/coordinator/internal/blobs"
	"github.com/weirflow/weir/coordinator/internal/raftnode"
	"github.com/weirflow/weir/coordinator/state"
	"github.com/weirflow/weir/internal/dirlock"
	"github.com/weirflow/weir/internal/msg"
)

// forwardedHeader marks a request a follower forwarded to the node it
// took for the leader; that node answers 503 rather than forward again.
const forwardedHeader = "X-Weir-Forwarded-By"

// Server is a running coordinator node: its Raft node, its blob store and
// its HTTP API.
type Server struct {
	cfg       Config
	log       *log.Logger
	fsm       *fsm
	node      *raftnode.Node
	blobs     *blobs.Store
	lock      *dirlock.Lock // on DataDir: one coordinator process per data directory
	srv       *http.Server
	url       string
	transport *http.Transport // to the other coordinators and the workers
	tokenSum  [32]byte
	// leading: the node leads and has applied every entry of earlier
	// terms (its run loop passed the barrier); only then does it serve.
	leading atomic.Bool

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the HTTP server, the run loop, background pushes

	mu struct {
		sync.Mutex
		detector   *state.Detector
		lastSeen   map[string]time.Time  // worker → its last heartbeat on this node
		lastWorker map[string]string     // job → the worker this node last placed it on
		dying      map[string]bool       // workers whose worker_dead is being applied
		peers      map[string]*peerTable // job → the data addresses of its attempt's processes
	}

	closeOnce sync.Once
	closeErr  error
}

// Start opens the node's Raft state under cfg.DataDir (bootstrapping the
// cluster from cfg.Peers the first time), listens on cfg.HTTPAddr and
// serves the API until [Server.Close].
func Start(cfg Config) (*Server, error) {
	cfg, err := validateConfig(cfg)
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{cfg.DataDir, cfg.CheckpointRoot} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("coordinator: %w", err)
		}
	}
	// Before anything touches the directory: a second process on it
	// would remove the first one's uploads in progress.
	lock, _, err := dirlock.Acquire(cfg.DataDir, "weir coordinator "+cfg.ID)
	if err != nil {
		var held *dirlock.HeldError
		if errors.As(err, &held) {
			who := "another process"
			if held.Holder.PID != 0 {
				who = held.Holder.String()
			}
			return nil, fmt.Errorf("coordinator: data directory %s is in use by %s; give each coordinator its own --data", cfg.DataDir, who)
		}
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	started := false
	defer func() {
		if !started {
			lock.Release()
		}
	}()
	store, err := blobs.Open(filepath.Join(cfg.DataDir, "blobs"))
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		log:      log.New(cfg.Logger, "coordinator "+cfg.ID+": ", log.LstdFlags|log.Lmsgprefix),
		fsm:      newFSM(),
		blobs:    store,
		lock:     lock,
		tokenSum: sha256.Sum256([]byte(cfg.Token)),
	}
	if s.cfg.check == nil {
		s.cfg.check = bincheck.Check
	}
	if s.cfg.validate == nil {
		s.cfg.validate = bincheck.Validate
	}
	s.fsm.removed = s.removeBlob
	s.mu.detector = state.NewDetector(deadTicks)
	s.mu.lastSeen = map[string]time.Time{}
	s.mu.lastWorker = map[string]string{}
	s.mu.dying = map[string]bool{}
	s.mu.peers = map[string]*peerTable{}

	s.transport = http.DefaultTransport.(*http.Transport).Clone()
	var serverTLS *tls.Config
	scheme := "http"
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("coordinator: TLS: %w", err)
		}
		serverTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(cfg.TLSCert)
		if err != nil {
			return nil, fmt.Errorf("coordinator: TLS: %w", err)
		}
		pool.AppendCertsFromPEM(pem)
		s.transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		scheme = "https"
	}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("coordinator: HTTP: %w", err)
	}
	if serverTLS != nil {
		ln = tls.NewListener(ln, serverTLS)
	}
	s.url = scheme + "://" + advertiseHost(ln.Addr().(*net.TCPAddr), cfg.RaftAddr)

	node, err := raftnode.Open(raftnode.Config{
		ID:     cfg.ID,
		Addr:   cfg.RaftAddr,
		Dir:    filepath.Join(cfg.DataDir, "raft"),
		Peers:  cfg.Peers,
		Logger: cfg.RaftLogger,
		Join:   cfg.Join,
	}, s.fsm)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	s.node = node
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.srv = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(ln)
	}()
	go s.run()
	s.log.Printf("started: http %s, raft %s, %d node(s), data %s", s.url, cfg.RaftAddr, len(cfg.Peers), cfg.DataDir)
	switch node.Started() {
	case "bootstrapped":
		if len(cfg.Peers) > 1 {
			s.log.Printf("no Raft state in %s: bootstrapped a new cluster of %d nodes; if this node's folder was lost while the cluster runs, stop it and start it with --join", filepath.Join(cfg.DataDir, "raft"), len(cfg.Peers))
		}
	case "joining":
		s.log.Printf("no Raft state in %s: waiting for the cluster's leader to bring this node in (--join)", filepath.Join(cfg.DataDir, "raft"))
	}
	started = true
	return s, nil
}

// advertiseHost is host:port other processes use to reach a listener:
// an unspecified address (0.0.0.0, ::) is replaced by the Raft host, or by
// the machine's name when that is unspecified too.
func advertiseHost(a *net.TCPAddr, raftAddr string) string {
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = ""
		if h, _, err := net.SplitHostPort(raftAddr); err == nil {
			if ip := net.ParseIP(h); h != "" && (ip == nil || !ip.IsUnspecified()) {
				host = h
			}
		}
		if host == "" {
			host, _ = os.Hostname()
		}
	}
	return net.JoinHostPort(host, fmt.Sprint(a.Port))
}

// URL is the node's API base URL, e.g. http://127.0.0.1:8081.
func (s *Server) URL() string { return s.url }

// RaftAddr is the node's Raft address (the port picked when it was 0).
func (s *Server) RaftAddr() string { return s.cfg.RaftAddr }

// ID is the node's id.
func (s *Server) ID() string { return s.cfg.ID }

// IsLeader reports whether the node is the Raft leader now, caught up
// with the log and serving the API.
func (s *Server) IsLeader() bool { return s.leading.Load() && s.node.IsLeader() }

// Close stops serving, stops the leader loop and shuts the Raft node
// down. A leader that closes leaves the others to elect a new one.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel() // the handlers' context: uploads and waits end
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.srv.Shutdown(ctx) // waits for the handlers
		cancel()
		_ = s.srv.Close()
		s.wg.Wait()
		err := s.node.Shutdown()
		s.transport.CloseIdleConnections()
		_ = s.lock.Release()
		if err != nil {
			s.closeErr = fmt.Errorf("coordinator: %w", err)
		}
		s.log.Printf("stopped")
	})
	return s.closeErr
}

// handler checks the token, serves /v1/health and /v1/internal/ here,
// and everything else here on the leader or forwarded to it.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health", s.handleHealth)
	mux.HandleFunc("POST /v1/binaries", s.handleUpload)
	mux.HandleFunc("GET /v1/binaries/{sha}", s.handleGetBinary)
	mux.HandleFunc("POST /v1/jobs", s.handleSubmit)
	mux.HandleFunc("GET /v1/jobs", s.handleJobs)
	mux.HandleFunc("GET /v1/jobs/{id}", s.handleJob)
	mux.HandleFunc("POST /v1/jobs/{id}/cancel", s.handleCancel)
	mux.HandleFunc("POST /v1/jobs/{id}/savepoint", s.handleSavepoint)
	mux.HandleFunc("GET /v1/jobs/{id}/logs", s.handleLogs)
	mux.HandleFunc("POST /v1/jobs/{id}/checkpoints", s.handleCheckpoint)
	mux.HandleFunc("POST /v1/jobs/{id}/peers", s.handlePeers)
	mux.HandleFunc("GET /v1/workers", s.handleWorkers)
	mux.HandleFunc("POST /v1/workers/register", s.handleRegister)
	mux.HandleFunc("POST /v1/workers/{id}/heartbeat", s.handleHeartbeat)
	mux.HandleFunc("POST /v1/internal/nodes", s.handleAnnounce)
	mux.HandleFunc("POST /v1/internal/blobs/{sha}", s.handlePutBlob)
	mux.HandleFunc("GET /v1/internal/blobs/{sha}", s.handleGetBlob)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s (see docs/api.md)", r.Method, r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if !strings.HasPrefix(p, "/"+api.Version+"/") {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s: the API is under /%s/", r.Method, p, api.Version))
			return
		}
		if !s.authorized(r) {
			s.log.Printf("401 %s %s from %s", r.Method, p, r.RemoteAddr)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token: send \"Authorization: Bearer TOKEN\" with the cluster's token")
			return
		}
		switch {
		case s.IsLeader():
			// Clients go to the leader directly next time (api.Client):
			// a follower's forwarding costs a second round trip.
			w.Header().Set(api.LeaderHeader, s.url)
			mux.ServeHTTP(w, r)
		case p == "/v1/health" || strings.HasPrefix(p, "/v1/internal/"):
			mux.ServeHTTP(w, r)
		case s.node.IsLeader():
			writeJSON(w, http.StatusServiceUnavailable, api.Error{Error: fmt.Sprintf("coordinator %s was just elected and is catching up with the log; try again", s.cfg.ID)})
		default:
			s.forward(w, r)
		}
	})
}

// authorized compares the bearer token in constant time (of the hashes,
// so not even the length leaks).
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get(api.TokenHeader)
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) == 1
}

// forward reverse-proxies a request to the leader, or answers 503 when no
// leader is known (the client retries 503).
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	if by := r.Header.Get(forwardedHeader); by != "" {
		writeJSON(w, http.StatusServiceUnavailable, api.Error{
			Error:  fmt.Sprintf("%s forwarded this request to %s, which is not the leader (an election is under way)", by, s.cfg.ID),
			Leader: s.leaderURL(),
		})
		return
	}
	leader := s.leaderURL()
	if leader == "" {
		writeJSON(w, http.StatusServiceUnavailable, api.Error{Error: fmt.Sprintf("coordinator %s knows no leader yet", s.cfg.ID)})
		return
	}
	target, err := url.Parse(leader)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, api.Error{Error: fmt.Sprintf("leader URL %q: %v", leader, err)})
		return
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Set(forwardedHeader, s.cfg.ID)
		},
		Transport:     s.transport,
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeJSON(w, http.StatusServiceUnavailable, api.Error{
				Error:  fmt.Sprintf("%s could not reach the leader at %s: %v", s.cfg.ID, leader, err),
				Leader: leader,
			})
		},
	}
	p.ServeHTTP(w, r)
}

// leaderURL is the HTTP URL of the leader as announced, "" when unknown.
func (s *Server) leaderURL() string {
	id, _ := s.node.Leader()
	if id == "" {
		return ""
	}
	return s.nodeURL(id)
}

// nodeURL is the announced HTTP URL of coordinator id.
func (s *Server) nodeURL(id string) string {
	if id == s.cfg.ID {
		return s.url
	}
	var u string
	s.fsm.read(func(st *state.State) {
		for _, n := range st.Nodes() {
			if n.ID == id {
				u = n.HTTP
			}
		}
	})
	return u
}

// apply stamps c with the leader's clock and commits it through Raft.
func (s *Server) apply(ctx context.Context, c state.Command) (any, error) {
	c.Time = time.Now().UTC()
	b, err := state.Encode(c)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	return s.node.Apply(ctx, b)
}

// httpError is an answer with its status code.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to its HTTP status.
func statusOf(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.code
	case errors.Is(err, state.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, state.ErrStale), errors.Is(err, state.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, state.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, raftnode.ErrNotLeader), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// fail answers err as an api.Error.
func (s *Server) fail(w http.ResponseWriter, err error) {
	code := statusOf(err)
	e := api.Error{Error: msg.Line(err)}
	if code == http.StatusServiceUnavailable {
		e.Leader = s.leaderURL()
		if errors.Is(err, raftnode.ErrNotLeader) {
			e.Error = fmt.Sprintf("coordinator %s is not the leader (any more); try again", s.cfg.ID)
		}
	}
	writeJSON(w, code, e)
}

func writeError(w http.ResponseWriter, code int, m string) {
	writeJSON(w, code, api.Error{Error: msg.Text(m)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(api.Error{Error: "encode answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// decode reads a JSON request body into v.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", mbe.Limit)
		}
		return errorf(http.StatusBadRequest, "bad request body for %s %s: %v", r.Method, r.URL.Path, err)
	}
	return nil
}

// call sends one request to another coordinator or a worker with the
// token and returns the 2xx response (the caller closes its body).
func (s *Server) call(ctx context.Context, method, u string, body io.Reader, size int64) (*http.Response, error) {
	return s.callAs(ctx, s.cfg.Token, method, u, body, size)
}

// callAs is call with another bearer token (a worker's log server gets
// api.LogToken, never the cluster token).
func (s *Server) callAs(ctx context.Context, token, method, u string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil && size >= 0 {
		req.ContentLength = size
	}
	req.Header.Set(api.TokenHeader, "Bearer "+token)
	resp, err := (&http.Client{Transport: s.transport}).Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e api.Error
		m := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			m = e.Error
		}
		return nil, &httpError{code: resp.StatusCode, msg: fmt.Sprintf("%s %s: %s", method, u, msg.Text(m))}
	}
	return resp, nil
}
