package raftnode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// listFSM records the commands it applied; "fail" is refused.
type listFSM struct {
	mu       sync.Mutex
	cmds     []string
	restores int
}

var errRefused = errors.New("refused")

func (f *listFSM) Apply(data []byte) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if string(data) == "fail" {
		return nil, errRefused
	}
	f.cmds = append(f.cmds, string(data))
	return len(f.cmds), nil
}

func (f *listFSM) Snapshot() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return json.Marshal(f.cmds)
}

func (f *listFSM) Restore(b []byte) error {
	var cmds []string
	if err := json.Unmarshal(b, &cmds); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = cmds
	f.restores++
	return nil
}

func (f *listFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cmds)
}

func (f *listFSM) restored() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.restores
}

// freeAddrs returns n loopback addresses whose ports were free a moment
// ago.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		out = append(out, ln.Addr().String())
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cluster is a set of nodes on loopback; a stopped node is nil.
type cluster struct {
	t     testing.TB
	cfgs  []Config
	fsms  []*listFSM
	nodes []*Node
}

func newCluster(t testing.TB, n int, tune func(*raft.Config)) *cluster {
	t.Helper()
	c := &cluster{t: t}
	addrs := freeAddrs(t, n)
	var peers []Peer
	if n > 1 {
		for i, a := range addrs {
			peers = append(peers, Peer{ID: fmt.Sprintf("n%d", i+1), Addr: a})
		}
	}
	base := t.TempDir()
	for i, a := range addrs {
		c.cfgs = append(c.cfgs, Config{
			ID:    fmt.Sprintf("n%d", i+1),
			Addr:  a,
			Dir:   filepath.Join(base, fmt.Sprintf("n%d", i+1)),
			Peers: peers,
			tune:  tune,
		})
		c.fsms = append(c.fsms, nil)
		c.nodes = append(c.nodes, nil)
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i)
		}
	})
	return c
}

// start opens node i from its Dir with a fresh FSM.
func (c *cluster) start(i int) {
	c.t.Helper()
	c.fsms[i] = &listFSM{}
	n, err := Open(c.cfgs[i], c.fsms[i])
	if err != nil {
		c.t.Fatal(err)
	}
	c.nodes[i] = n
}

func (c *cluster) stop(i int) {
	c.t.Helper()
	if c.nodes[i] == nil {
		return
	}
	if err := c.nodes[i].Shutdown(); err != nil {
		c.t.Fatal(err)
	}
	c.nodes[i] = nil
}

// leader waits for exactly one running node to lead and every running
// node to know it.
func (c *cluster) leader(within time.Duration) int {
	c.t.Helper()
	lead := -1
	eventually(c.t, within, "a leader known to all", func() bool {
		lead = -1
		for i, n := range c.nodes {
			if n != nil && n.IsLeader() {
				if lead >= 0 {
					return false
				}
				lead = i
			}
		}
		if lead < 0 {
			return false
		}
		for _, n := range c.nodes {
			if n == nil {
				continue
			}
			if id, addr := n.Leader(); id != c.cfgs[lead].ID || addr != c.cfgs[lead].Addr {
				return false
			}
		}
		return true
	})
	return lead
}

// converged waits until every running FSM holds want.
func (c *cluster) converged(within time.Duration, want []string) {
	c.t.Helper()
	eventually(c.t, within, fmt.Sprintf("all FSMs at %d commands", len(want)), func() bool {
		for i, f := range c.fsms {
			if c.nodes[i] != nil && !slices.Equal(f.list(), want) {
				return false
			}
		}
		return true
	})
}

func apply(t testing.TB, n *Node, cmd string) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := n.Apply(ctx, []byte(cmd))
	if err != nil {
		t.Fatalf("apply %q: %v", cmd, err)
	}
	return v
}

func TestSingleNode(t *testing.T) {
	c := newCluster(t, 1, nil)
	n := c.nodes[c.leader(5*time.Second)]
	if n.Term() == 0 {
		t.Fatal("term 0 after an election")
	}
	ctx := context.Background()
	for i, cmd := range []string{"a", "b", "c"} {
		if v := apply(t, n, cmd); v != i+1 {
			t.Fatalf("apply %q = %v, want %d", cmd, v, i+1)
		}
	}
	if _, err := n.Apply(ctx, []byte("fail")); !errors.Is(err, errRefused) {
		t.Fatalf("apply of a refused command: %v, want the FSM's error", err)
	}
	if err := n.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	applied := n.Applied()
	if applied < 5 { // configuration, leader's no-op, 4 commands
		t.Fatalf("applied index %d after 4 commands", applied)
	}
	if err := n.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	c.stop(0)
	if err := n.Shutdown(); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if _, err := n.Apply(ctx, []byte("d")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("apply after shutdown: %v, want ErrNotLeader", err)
	}

	// Files the node wrote are private.
	err := filepath.WalkDir(c.cfgs[0].Dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Reopened from its Dir (no bootstrap: it has state), it restores its
	// snapshot, replays the rest and leads again.
	c.start(0)
	n = c.nodes[c.leader(5*time.Second)]
	if err := n.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.fsms[0].list(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("after restart: %q", got)
	}
	if c.fsms[0].restored() != 1 {
		t.Fatalf("restored %d snapshots, want 1", c.fsms[0].restored())
	}
	if v := apply(t, n, "d"); v != 4 {
		t.Fatalf("apply after restart = %v, want 4", v)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddrs(t, 1)[0]
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no ID", Config{Addr: addr, Dir: dir}},
		{"no Addr", Config{ID: "n1", Dir: dir}},
		{"no Dir", Config{ID: "n1", Addr: addr}},
		{"not a peer", Config{ID: "n1", Addr: addr, Dir: dir, Peers: []Peer{{ID: "n2", Addr: addr}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n, err := Open(tc.cfg, &listFSM{}); err == nil {
				n.Shutdown()
				t.Fatal("opened")
			}
		})
	}

	// A Dir in use by another node.
	n, err := Open(Config{ID: "n1", Addr: addr, Dir: dir}, &listFSM{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	if n2, err := Open(Config{ID: "n1", Addr: freeAddrs(t, 1)[0], Dir: dir}, &listFSM{}); err == nil {
		n2.Shutdown()
		t.Fatal("opened a Dir in use")
	}
}

func TestCluster(t *testing.T) {
	c, lead, want := newClusterWith(t, 20)

	follower := (lead + 1) % 3
	if _, err := c.nodes[follower].Apply(context.Background(), []byte("x")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("apply on a follower: %v, want ErrNotLeader", err)
	}
	if c.nodes[follower].Term() != c.nodes[lead].Term() {
		t.Fatalf("follower's term %d, leader's %d", c.nodes[follower].Term(), c.nodes[lead].Term())
	}

	// The leader goes: the other two elect one and carry on.
	c.stop(lead)
	old := lead
	lead = c.leader(5 * time.Second)
	want = append(want, "after failover")
	apply(t, c.nodes[lead], "after failover")
	c.converged(5*time.Second, want)

	// The old leader comes back from its Dir and catches up.
	c.start(old)
	c.leader(5 * time.Second)
	c.converged(5*time.Second, want)
}

// TestCatchUpFromSnapshot restarts a follower that missed more than the
// leader keeps in its log: it restores its own snapshot from disk, then
// installs the leader's and applies the log tail.
func TestCatchUpFromSnapshot(t *testing.T) {
	c := newCluster(t, 3, func(rc *raft.Config) {
		rc.TrailingLogs = 5
		rc.SnapshotThreshold = 1 << 20 // only forced snapshots
	})
	lead := c.leader(10 * time.Second)
	var want []string
	add := func(k int) {
		for range k {
			cmd := fmt.Sprintf("cmd%d", len(want))
			apply(t, c.nodes[c.leader(5*time.Second)], cmd)
			want = append(want, cmd)
		}
	}
	add(10)
	c.converged(5*time.Second, want)
	follower := (lead + 1) % 3
	if err := c.nodes[follower].raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	c.stop(follower)

	add(50)
	if err := c.nodes[c.leader(5*time.Second)].raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	add(5) // the tail after the snapshot

	c.start(follower)
	c.converged(10*time.Second, want)
	if r := c.fsms[follower].restored(); r < 2 {
		t.Fatalf("the restarted follower restored %d snapshots, want its own and the leader's", r)
	}
}

// BenchmarkApply applies 256-byte commands one after another on a
// one-node cluster: each waits for its fsync in raft.db.
func BenchmarkApply(b *testing.B) {
	c := newCluster(b, 1, nil)
	n := c.nodes[c.leader(5*time.Second)]
	cmd := make([]byte, 256)
	ctx := context.Background()
	b.SetBytes(int64(len(cmd)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := n.Apply(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyParallel applies 256-byte commands from many goroutines:
// Raft batches them into fewer fsyncs.
func BenchmarkApplyParallel(b *testing.B) {
	c := newCluster(b, 1, nil)
	n := c.nodes[c.leader(5*time.Second)]
	cmd := make([]byte, 256)
	ctx := context.Background()
	b.SetBytes(int64(len(cmd)))
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := n.Apply(ctx, cmd); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestPeersMustMatchState: a node reopened with peers other than those of
// the cluster its state belongs to is refused with one line; a one-node
// cluster may come back on another address.
func TestPeersMustMatchState(t *testing.T) {
	dir := t.TempDir()
	addrs := freeAddrs(t, 3)
	n, err := Open(Config{ID: "n1", Addr: addrs[0], Dir: dir}, &listFSM{})
	if err != nil {
		t.Fatal(err)
	}
	n.Shutdown()
	if n, err = Open(Config{ID: "n1", Addr: addrs[1], Dir: dir}, &listFSM{}); err != nil {
		t.Fatalf("one node on another address: %v", err)
	}
	n.Shutdown()
	three := []Peer{{ID: "n1", Addr: addrs[1]}, {ID: "n2", Addr: addrs[2]}, {ID: "n3", Addr: addrs[0]}}
	n, err = Open(Config{ID: "n1", Addr: addrs[1], Dir: dir, Peers: three}, &listFSM{})
	if err == nil {
		n.Shutdown()
		t.Fatal("opened a one-node state as a three-node cluster")
	}
	if m := err.Error(); strings.Contains(m, "\n") || !strings.Contains(m, "start the node with the --peers it was bootstrapped with") {
		t.Errorf("error %q", m)
	}
	// The refusal released everything: the node opens again.
	if n, err = Open(Config{ID: "n1", Addr: addrs[1], Dir: dir}, &listFSM{}); err != nil {
		t.Fatalf("after the refusal: %v", err)
	}
	n.Shutdown()
}

// TestJoinAfterLoss: a follower whose folder is lost, and then two of
// three, come back with Join: they do not bootstrap a cluster of their
// own but are brought in by the survivor and catch up with everything
// committed. A one-node cluster has no one to join.
func TestJoinAfterLoss(t *testing.T) {
	c, lead, want := newClusterWith(t, 20)
	lost := (lead + 1) % 3
	c.stop(lost)
	if err := os.RemoveAll(c.cfgs[lost].Dir); err != nil {
		t.Fatal(err)
	}
	c.cfgs[lost].Join = true
	c.start(lost)
	apply(t, c.nodes[c.leader(5*time.Second)], "after")
	want = append(want, "after")
	c.converged(10*time.Second, want)
	if id, _ := c.nodes[lost].Leader(); id != c.cfgs[lead].ID {
		t.Errorf("the rejoined node follows %q, want %q", id, c.cfgs[lead].ID)
	}

	// A majority lost: both followers come back empty. With Join they
	// cannot form a cluster of their own (bootstrapped, they could elect
	// one another and truncate the survivor's log to nothing); the
	// survivor leads them and everything committed is kept.
	lead = c.leader(5 * time.Second)
	for _, f := range []int{(lead + 1) % 3, (lead + 2) % 3} {
		c.stop(f)
		if err := os.RemoveAll(c.cfgs[f].Dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []int{(lead + 1) % 3, (lead + 2) % 3} {
		c.cfgs[f].Join = true
		c.start(f)
	}
	apply(t, c.nodes[c.leader(10*time.Second)], "after2")
	want = append(want, "after2")
	c.converged(10*time.Second, want)

	one := Config{ID: "solo", Addr: freeAddrs(t, 1)[0], Dir: t.TempDir(), Join: true}
	if n, err := Open(one, &listFSM{}); err == nil {
		n.Shutdown()
		t.Error("a one-node cluster joined no one")
	}
}

// newClusterWith starts a cluster of three, applies n commands through
// its leader (each answered with the list's new length) and waits until
// every node holds them; it returns the leader's index and the commands.
func newClusterWith(t *testing.T, n int) (*cluster, int, []string) {
	t.Helper()
	c := newCluster(t, 3, nil)
	lead := c.leader(10 * time.Second)
	var want []string
	for i := range n {
		cmd := fmt.Sprintf("cmd%d", i)
		if v := apply(t, c.nodes[lead], cmd); v != i+1 {
			t.Fatalf("apply %q = %v, want %d", cmd, v, i+1)
		}
		want = append(want, cmd)
	}
	c.converged(5*time.Second, want)
	return c, lead, want
}
