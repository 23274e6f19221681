package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/coordinator/internal/raftnode"
)

// Config is one coordinator node. ID, RaftAddr, HTTPAddr, DataDir,
// CheckpointRoot and Token are required; the rest may stay zero.
type Config struct {
	// ID names the node in the cluster (c1, c2, ...); it must appear in
	// Peers when Peers is given.
	ID string
	// RaftAddr is host:port of the Raft transport. A port of 0 is allowed
	// for a one-node cluster: a free port is picked.
	RaftAddr string
	// HTTPAddr is host:port of the API (port 0: any free port; see
	// [Server.URL]).
	HTTPAddr string
	// DataDir holds the Raft log and snapshots (DataDir/raft) and the
	// uploaded binaries (DataDir/blobs). Created 0700.
	DataDir string
	// Peers are every node of the cluster, this one included, the same on
	// every node. Empty, or this node alone, is a one-node cluster.
	Peers []raftnode.Peer
	// Join: the cluster exists and this node's DataDir may be new (lost,
	// replaced): it waits to be brought in by the leader instead of
	// bootstrapping (raftnode.Config.Join).
	Join bool
	// CheckpointRoot is the directory every process of the cluster
	// reaches: a job's checkpoints and savepoints go under
	// CheckpointRoot/<job id>/. Created 0700.
	CheckpointRoot string
	// Token is the bearer token every /v1/ request must carry.
	Token string
	// TLSCert and TLSKey are PEM files; given both, the API is served over
	// HTTPS, and the certificate is also trusted when this node calls the
	// other coordinators and the workers.
	TLSCert, TLSKey string
	// Logger receives one line per notable event (nil: discarded).
	Logger io.Writer
	// RaftLogger receives the Raft library's own log (nil: discarded).
	RaftLogger io.Writer
	// MaxBinarySize bounds an uploaded binary (0: api.MaxBinarySize).
	MaxBinarySize int64
	// KeepBinaries is how long a binary no job that can still run uses
	// is kept after its last upload or submission (0: DefaultKeepBinaries);
	// the leader looks every 10 minutes.
	KeepBinaries time.Duration

	// Test hooks (nil: the real bincheck.Check and bincheck.Validate).
	check    func(path string) error
	validate func(ctx context.Context, path string, args []string) (api.Validation, error)
}

// DefaultKeepBinaries is Config.KeepBinaries when zero.
const DefaultKeepBinaries = 7 * 24 * time.Hour

// Timings of the leader; the worker side gets them in RegisterResponse.
const (
	tickInterval    = 100 * time.Millisecond // leader loop
	deadTicks       = 45                     // 4.5 s without a heartbeat: the worker is dead
	heartbeatMillis = 500                    // how often workers heartbeat
	leaseMillis     = 3000                   // how long a worker keeps running without a leader
	validateTimeout = 20 * time.Second       // BINARY validate ARGS
	applyTimeout    = 10 * time.Second       // one Raft Apply
	maxJSONBody     = 1 << 20                // request bodies other than binaries
	pushTimeout     = 10 * time.Minute       // one blob pushed to a peer
	sweepTicks      = 6000                   // 10 min: binaries to forget (KeepBinaries)
)

// A worker cut off from the coordinators kills its children once its
// lease has run out since the last heartbeat it sent that succeeded,
// checked each heartbeat interval; the leader gives their jobs to other
// workers once deadTicks have passed since that heartbeat arrived. The
// kill must come first, by a margin, or two attempts of one job would run
// at once: leaseMillis + heartbeatMillis + 1 s <= deadTicks × tickInterval
// (TestTimings). The lease still outlasts a leader election (about a
// second with raftnode's timeouts), so a leader's death stops no job.

// Validate names the first bad field of c; [Start] calls it.
func (c Config) Validate() error {
	return checkConfig(c)
}

// validateConfig checks cfg and returns it with defaults filled.
func validateConfig(cfg Config) (Config, error) {
	if err := checkConfig(cfg); err != nil {
		return cfg, err
	}
	var err error
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return cfg, fmt.Errorf("coordinator: data directory: %w", err)
	}
	if cfg.CheckpointRoot, err = filepath.Abs(cfg.CheckpointRoot); err != nil {
		return cfg, fmt.Errorf("coordinator: checkpoint directory: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = io.Discard
	}
	if cfg.KeepBinaries <= 0 {
		cfg.KeepBinaries = DefaultKeepBinaries
	}
	if cfg.MaxBinarySize <= 0 {
		cfg.MaxBinarySize = api.MaxBinarySize
	}
	if _, port, _ := net.SplitHostPort(cfg.RaftAddr); port == "0" {
		addr, err := freeAddr(cfg.RaftAddr)
		if err != nil {
			return cfg, err
		}
		cfg.RaftAddr = addr
		cfg.Peers = nil
	}
	if len(cfg.Peers) == 0 {
		cfg.Peers = []raftnode.Peer{{ID: cfg.ID, Addr: cfg.RaftAddr}}
	}
	return cfg, nil
}

// checkConfig checks the fields, without side effects.
func checkConfig(cfg Config) error {
	switch {
	case cfg.ID == "":
		return errors.New("coordinator: no node id (--id)")
	case strings.ContainsAny(cfg.ID, "@,/ \t\n"):
		return fmt.Errorf("coordinator: node id %q: use letters, digits, '.', '_' and '-'", cfg.ID)
	case cfg.RaftAddr == "":
		return errors.New("coordinator: no Raft address (--raft=HOST:PORT)")
	case cfg.HTTPAddr == "":
		return errors.New("coordinator: no HTTP address (--http=HOST:PORT)")
	case cfg.DataDir == "":
		return errors.New("coordinator: no data directory (--data=DIR)")
	case cfg.CheckpointRoot == "":
		return errors.New("coordinator: no checkpoint directory (--checkpoints=DIR)")
	case cfg.Token == "":
		return errors.New("coordinator: no token (--token-file=FILE)")
	case (cfg.TLSCert == "") != (cfg.TLSKey == ""):
		return errors.New("coordinator: give both --tls-cert and --tls-key, or neither")
	}
	if _, _, err := net.SplitHostPort(cfg.RaftAddr); err != nil {
		return fmt.Errorf("coordinator: Raft address %q: want HOST:PORT", cfg.RaftAddr)
	}
	if _, _, err := net.SplitHostPort(cfg.HTTPAddr); err != nil {
		return fmt.Errorf("coordinator: HTTP address %q: want HOST:PORT", cfg.HTTPAddr)
	}
	seen := map[string]bool{}
	self := false
	for _, p := range cfg.Peers {
		if p.ID == "" || p.Addr == "" {
			return fmt.Errorf("coordinator: peer %q@%q: want ID@HOST:PORT", p.ID, p.Addr)
		}
		if seen[p.ID] {
			return fmt.Errorf("coordinator: peer %s listed twice", p.ID)
		}
		seen[p.ID] = true
		if p.ID == cfg.ID {
			self = true
			if p.Addr != cfg.RaftAddr {
				return fmt.Errorf("coordinator: peer %s has Raft address %s but --raft is %s", p.ID, p.Addr, cfg.RaftAddr)
			}
		}
	}
	if len(cfg.Peers) > 0 && !self {
		return fmt.Errorf("coordinator: node %s is not among the peers", cfg.ID)
	}
	if _, port, _ := net.SplitHostPort(cfg.RaftAddr); port == "0" && len(cfg.Peers) > 1 {
		return errors.New("coordinator: Raft port 0 works only for a one-node cluster")
	}
	return nil
}

// ParsePeers parses --peers: ID@HOST:PORT entries separated by commas.
func ParsePeers(s string) ([]raftnode.Peer, error) {
	var out []raftnode.Peer
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		id, addr, ok := strings.Cut(e, "@")
		if !ok || id == "" {
			return nil, fmt.Errorf("peer %q: want ID@HOST:PORT", e)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("peer %q: want ID@HOST:PORT", e)
		}
		out = append(out, raftnode.Peer{ID: id, Addr: addr})
	}
	return out, nil
}

// freeAddr returns host:port with a port free now on host.
func freeAddr(hostport string) (string, error) {
	host, _, _ := net.SplitHostPort(hostport)
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("coordinator: pick a Raft port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
