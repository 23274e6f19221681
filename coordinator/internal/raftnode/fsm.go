package raftnode

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
)

// applyResult is what fsmAdapter.Apply hands back through Raft's future
// for Node.Apply to unwrap.
type applyResult struct {
	v   any
	err error
}

// fsmAdapter adapts an FSM to raft.FSM: commands go to Apply, snapshots
// are the FSM's bytes as they are.
type fsmAdapter struct{ fsm FSM }

func (a fsmAdapter) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	v, err := a.fsm.Apply(l.Data)
	return applyResult{v: v, err: err}
}

func (a fsmAdapter) Snapshot() (raft.FSMSnapshot, error) {
	b, err := a.fsm.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("raftnode: snapshot: %w", err)
	}
	return snapshot(b), nil
}

func (a fsmAdapter) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("raftnode: read snapshot: %w", err)
	}
	if err := a.fsm.Restore(b); err != nil {
		return fmt.Errorf("raftnode: restore snapshot: %w", err)
	}
	return nil
}

// snapshot is an FSM's bytes, written out by Raft's snapshot goroutine.
type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return fmt.Errorf("raftnode: write snapshot: %w", err)
	}
	return sink.Close()
}

func (snapshot) Release() {}

// privateSnapshots is Raft's file snapshot store with what it writes made
// private: it creates snapshot directories 0755 and files 0644, and each
// completed snapshot is set to 0700 and 0600 once it is closed.
type privateSnapshots struct {
	raft.SnapshotStore
	dir string
}

func (p privateSnapshots) Create(version raft.SnapshotVersion, index, term uint64,
	configuration raft.Configuration, configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	s, err := p.SnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	return privateSink{SnapshotSink: s, dir: p.dir}, nil
}

type privateSink struct {
	raft.SnapshotSink
	dir string
}

func (s privateSink) Close() error {
	if err := s.SnapshotSink.Close(); err != nil {
		return err
	}
	dir := filepath.Join(s.dir, s.ID())
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("raftnode: snapshot %s: %w", s.ID(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("raftnode: snapshot %s: %w", s.ID(), err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := os.Chmod(filepath.Join(dir, e.Name()), 0o600); err != nil {
				return fmt.Errorf("raftnode: snapshot %s: %w", s.ID(), err)
			}
		}
	}
	return nil
}
