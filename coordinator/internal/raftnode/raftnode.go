package raftnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// ErrNotLeader is returned by [Node.Apply] and [Node.Barrier] on a node
// that is not the leader, that lost leadership before the command
// committed, or that is shut down. The command may still commit when
// leadership was lost while it was in flight.
var ErrNotLeader = errors.New("raftnode: not the leader")

// FSM is the replicated state machine. Raft's FSM goroutine calls Apply
// and Restore, one at a time and in log order; Snapshot is called from
// that goroutine too, and its bytes are written out on another.
type FSM interface {
	// Apply applies one committed command. Its result, or its error, is
	// what [Node.Apply] returns on the leader that proposed it.
	Apply(data []byte) (any, error)
	// Snapshot returns the whole state as bytes Restore accepts.
	Snapshot() ([]byte, error)
	// Restore replaces the whole state with a snapshot's bytes.
	Restore(data []byte) error
}

// Peer is one member of the cluster.
type Peer struct {
	ID   string // stable across restarts
	Addr string // Raft address host:port
}

// Config says how to open a [Node].
type Config struct {
	ID   string // this node's ID (required)
	Addr string // host:port to listen on for Raft (required)
	// Dir holds raft.db (the log and stable store) and snapshots/. It is
	// created 0700 if it does not exist.
	Dir string
	// Peers is the whole cluster, this node included, used to bootstrap
	// when Dir has no Raft state. Empty: a one-node cluster of this node.
	Peers []Peer
	// Logger receives Raft's log lines; nil discards them.
	Logger io.Writer
	// Join says the cluster exists already (etcd's
	// --initial-cluster-state=existing): a Dir without Raft state is
	// not bootstrapped; the node waits for the leader, which has it among
	// its peers, to bring it in with the log or a snapshot. For a node
	// whose folder was lost or replaced: bootstrapping it would start a
	// second cluster history that, with a majority of such nodes, wins.
	Join bool

	// tune, in tests, changes the Raft configuration before it is used.
	tune func(*raft.Config)
}

// Timing and retention, tuned for a few nodes on a LAN or loopback.
const (
	heartbeatTimeout   = 300 * time.Millisecond
	electionTimeout    = 300 * time.Millisecond
	leaderLeaseTimeout = 200 * time.Millisecond
	commitTimeout      = 20 * time.Millisecond
	snapshotThreshold  = 1024
	snapshotInterval   = 30 * time.Second
	snapshotsRetained  = 2
	transportPool      = 3
	transportTimeout   = 10 * time.Second
	logCacheSize       = 512
	boltOpenTimeout    = time.Second
)

// Node is one member of a Raft cluster driving an [FSM].
// Started says how Open found the node's Dir: "bootstrapped" (no Raft
// state: a new cluster of Peers), "joining" (no state, Join: waiting for
// the leader) or "restarted" (its own state).
func (n *Node) Started() string {
	switch {
	case n.bootstrapped:
		return "bootstrapped"
	case n.joining:
		return "joining"
	}
	return "restarted"
}

type Node struct {
	raft      *raft.Raft
	transport *raft.NetworkTransport
	store     *raftboltdb.BoltStore
	// bootstrapped: Open found no state in Dir and bootstrapped the
	// cluster from Peers; joining: it found none and waits to be joined.
	bootstrapped, joining bool

	shutdownOnce sync.Once
	shutdownErr  error
}

// Open opens (or creates) the node's state in cfg.Dir, starts Raft on
// cfg.Addr, and bootstraps the cluster from cfg.Peers (or this node
// alone) when Dir holds no Raft state yet. A node with state ignores
// cfg.Peers: the membership is in its log.
func Open(cfg Config, fsm FSM) (*Node, error) {
	if cfg.ID == "" || cfg.Addr == "" || cfg.Dir == "" {
		return nil, errors.New("raftnode: ID, Addr and Dir are required")
	}
	if fsm == nil {
		return nil, errors.New("raftnode: no FSM")
	}
	peers := cfg.Peers
	if len(peers) == 0 {
		peers = []Peer{{ID: cfg.ID, Addr: cfg.Addr}}
	}
	var self *Peer
	for i := range peers {
		if peers[i].ID == cfg.ID {
			self = &peers[i]
		}
	}
	if self == nil {
		return nil, fmt.Errorf("raftnode: the peers do not include this node %s", cfg.ID)
	}

	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	// Raft's snapshot store creates its directories 0755 and files 0644;
	// creating snapshots/ first keeps its MkdirAll from doing so, and
	// privateSnapshots tightens what it writes.
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "snapshots"), 0o700); err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}

	logger := hclog.NewNullLogger()
	if cfg.Logger != nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Output: cfg.Logger, Level: hclog.Info})
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.HeartbeatTimeout = heartbeatTimeout
	rc.ElectionTimeout = electionTimeout
	rc.LeaderLeaseTimeout = leaderLeaseTimeout
	rc.CommitTimeout = commitTimeout
	rc.SnapshotThreshold = snapshotThreshold
	rc.SnapshotInterval = snapshotInterval
	rc.Logger = logger
	if cfg.tune != nil {
		cfg.tune(rc)
	}
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}

	dbPath := filepath.Join(cfg.Dir, "raft.db")
	store, err := raftboltdb.New(raftboltdb.Options{
		Path:        dbPath,
		BoltOptions: &bbolt.Options{Timeout: boltOpenTimeout},
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("raftnode: %s is in use by another process", dbPath)
		}
		return nil, fmt.Errorf("raftnode: open %s: %w", dbPath, err)
	}
	logs, err := raft.NewLogCache(logCacheSize, store)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	fss, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, snapshotsRetained, logger.Named("snapshot"))
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("raftnode: snapshots in %s: %w", cfg.Dir, err)
	}
	snaps := privateSnapshots{SnapshotStore: fss, dir: filepath.Join(cfg.Dir, "snapshots")}

	var advertise net.Addr
	if a, err := net.ResolveTCPAddr("tcp", self.Addr); err == nil && !a.IP.IsUnspecified() && a.IP != nil {
		advertise = a
	}
	transport, err := raft.NewTCPTransportWithLogger(cfg.Addr, advertise, transportPool, transportTimeout, logger.Named("transport"))
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("raftnode: listen on %s: %w", cfg.Addr, err)
	}

	existing, err := raft.HasExistingState(logs, store, snaps)
	if err != nil {
		transport.Close()
		store.Close()
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	if !existing && cfg.Join && len(peers) < 2 {
		transport.Close()
		store.Close()
		return nil, errors.New("raftnode: join: a one-node cluster has no one to join; give every node in Peers")
	}
	if !existing && !cfg.Join {
		var conf raft.Configuration
		for _, p := range peers {
			conf.Servers = append(conf.Servers, raft.Server{
				Suffrage: raft.Voter,
				ID:       raft.ServerID(p.ID),
				Address:  raft.ServerAddress(p.Addr),
			})
		}
		if err := raft.BootstrapCluster(rc, logs, store, snaps, transport, conf); err != nil {
			transport.Close()
			store.Close()
			return nil, fmt.Errorf("raftnode: bootstrap: %w", err)
		}
	}

	r, err := raft.NewRaft(rc, fsmAdapter{fsm}, logs, store, snaps, transport)
	if err != nil {
		transport.Close()
		store.Close()
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	n := &Node{raft: r, transport: transport, store: store, bootstrapped: !existing && !cfg.Join, joining: !existing && cfg.Join}
	if existing {
		// The peers given must be the cluster this node's state belongs
		// to: other peers would be ignored by Raft but not by the callers
		// (quorums, where to push).
		if err := n.checkPeers(peers); err != nil {
			n.Shutdown()
			return nil, fmt.Errorf("raftnode: %s: %w", cfg.Dir, err)
		}
	}
	return n, nil
}

// checkPeers compares peers with the configuration in the node's state:
// the same ids and Raft addresses (a one-node cluster may change its
// address).
func (n *Node) checkPeers(peers []Peer) error {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	var have []string
	for _, s := range f.Configuration().Servers {
		have = append(have, string(s.ID)+"@"+string(s.Address))
	}
	var want []string
	for _, p := range peers {
		want = append(want, p.ID+"@"+p.Addr)
	}
	slices.Sort(have)
	slices.Sort(want)
	idOf := func(s string) string { id, _, _ := strings.Cut(s, "@"); return id }
	if len(have) == 1 && len(want) == 1 && idOf(have[0]) == idOf(want[0]) {
		return nil
	}
	if !slices.Equal(have, want) {
		return fmt.Errorf("it holds the state of the cluster %s, not of the peers given (%s); start the node with the --peers it was bootstrapped with (changing a cluster's members is not supported)",
			strings.Join(have, ","), strings.Join(want, ","))
	}
	return nil
}

// Apply proposes data, waits until it is committed and applied, and
// returns the FSM's result and error. It returns [ErrNotLeader] on a
// follower or when leadership is lost, and ctx's error when ctx ends
// first (the command may still commit then).
func (n *Node) Apply(ctx context.Context, data []byte) (any, error) {
	f := n.raft.Apply(data, enqueueTimeout(ctx))
	if err := wait(ctx, f); err != nil {
		return nil, err
	}
	res, ok := f.Response().(applyResult)
	if !ok {
		return nil, fmt.Errorf("raftnode: unexpected FSM response %T", f.Response())
	}
	return res.v, res.err
}

// Barrier waits until every command committed before it is applied to
// this node's FSM: a new leader calls it before it reads its state.
func (n *Node) Barrier(ctx context.Context) error {
	return wait(ctx, n.raft.Barrier(enqueueTimeout(ctx)))
}

// IsLeader reports whether this node is the leader now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the ID and Raft address of the leader this node knows
// of, or "" when it knows none.
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// LeaderCh delivers true when this node becomes the leader and false
// when it stops being one. It has one receiver; a slow receiver misses
// intermediate transitions and sees the latest.
func (n *Node) LeaderCh() <-chan bool { return n.raft.LeaderCh() }

// Term is the current Raft term.
func (n *Node) Term() uint64 { return n.raft.CurrentTerm() }

// Applied is the index of the last log entry applied to the FSM.
func (n *Node) Applied() uint64 { return n.raft.AppliedIndex() }

// Shutdown stops Raft and closes the transport and the store. It is safe
// to call more than once.
func (n *Node) Shutdown() error {
	n.shutdownOnce.Do(func() {
		err := n.raft.Shutdown().Error()
		err = errors.Join(err, n.transport.Close(), n.store.Close())
		if err != nil {
			n.shutdownErr = fmt.Errorf("raftnode: shutdown: %w", err)
		}
	})
	return n.shutdownErr
}

// enqueueTimeout is how long Raft may take to accept a command: until
// ctx's deadline, or unbounded (0).
func enqueueTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		if t := time.Until(d); t > 0 {
			return t
		}
		return time.Nanosecond
	}
	return 0
}

// wait waits for f or ctx, and maps Raft's errors onto ours.
func wait(ctx context.Context, f raft.Future) error {
	if ctx.Done() == nil {
		return mapErr(f.Error())
	}
	done := make(chan error, 1)
	go func() { done <- f.Error() }() // ends when Raft resolves f: committed, lost, or shut down
	select {
	case err := <-done:
		return mapErr(err)
	case <-ctx.Done():
		return fmt.Errorf("raftnode: %w", ctx.Err())
	}
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return ErrNotLeader
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w (shut down)", ErrNotLeader)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("raftnode: %w", context.DeadlineExceeded)
	}
	return fmt.Errorf("raftnode: %w", err)
}
