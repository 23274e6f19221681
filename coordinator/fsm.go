package coordinator

import (
	"sync"
	"time"

	"github.com/weirflow/weir/coordinator/state"
)

// fsm adapts the pure state machine to raftnode.FSM. Raft's FSM goroutine
// is the only writer (Apply, Restore) and takes the write lock; HTTP
// handlers and the leader loop read under the read lock.
type fsm struct {
	mu sync.RWMutex
	st *state.State
	// removed, when set, is told of each binary remove_binary forgot (on
	// every node, after the apply): its file goes too.
	removed func(sha string, before time.Time)
}

func newFSM() *fsm { return &fsm{st: state.New()} }

// Apply decodes a state.Command and applies it.
func (f *fsm) Apply(data []byte) (any, error) {
	c, err := state.Decode(data)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	res, err := f.st.Apply(c)
	f.mu.Unlock()
	if err == nil && c.Kind == state.RemoveBinary && f.removed != nil {
		f.removed(c.Binary.SHA256, c.Before)
	}
	return res, err
}

// Snapshot returns the state's JSON.
func (f *fsm) Snapshot() ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.Snapshot()
}

// Restore replaces the state with a snapshot.
func (f *fsm) Restore(data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.Restore(data)
}

// read runs fn with the state under the read lock; fn must not keep it.
func (f *fsm) read(fn func(st *state.State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.st)
}
