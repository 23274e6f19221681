package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/runner/checkpoint"
	"github.com/weirflow/weir/state"
)

// taskState is a stateful task's keyed state: one Pebble instance for the
// task's key groups, in its own local directory.
type taskState struct {
	backend  *state.Backend
	stateDir string

	upMu      sync.Mutex
	uploaders map[*checkpoint.Store]*checkpoint.Uploader
}

// openState opens the task's backend if one of its operators keeps keyed
// state: restored from the checkpoint the job resumes from (from every old
// task whose key groups overlap this task's, when the parallelism
// changed), or empty.
func (t *rawTask) openState() error {
	if t.stateful == 0 {
		return nil
	}
	j := t.job
	t.stateDir = filepath.Join(j.stateRoot, fmt.Sprintf("s%d-t%d", t.st.id, t.index))
	if err := os.MkdirAll(t.stateDir, 0o700); err != nil {
		return fmt.Errorf("runner: state directory: %w", err)
	}
	kgs, kge := base.KeyGroupRange(t.index, j.opts.Parallelism, j.opts.MaxParallelism)
	opts := state.Options{
		Dir:            filepath.Join(t.stateDir, "db"),
		KeyGroups:      state.KeyGroupRange{Start: uint16(kgs), End: uint16(kge)},
		MaxParallelism: j.opts.MaxParallelism,
	}
	if j.stateMemory > 0 {
		// The operators cache their hot state themselves; the backend's
		// own cache only batches their write-backs and reads of spilled
		// entries.
		opts.CacheBytes = max(1<<20, min(state.DefaultCacheBytes, j.stateMemory/4))
		opts.BlockCacheBytes = max(8<<20, min(state.DefaultBlockCacheBytes, j.stateMemory/4))
	}
	var dirs []string
	if m := j.restore; m != nil {
		for i, ts := range m.State[t.st.head.Name] {
			if ts.State == nil || ts.KeyGroupEnd <= int(kgs) || ts.KeyGroupStart >= int(kge) {
				continue
			}
			dir := filepath.Join(t.stateDir, fmt.Sprintf("restore-%d", i))
			if err := j.restoreStore.Materialize(*ts.State, dir); err != nil {
				return fmt.Errorf("restore %q from checkpoint %d: %w", t.st.head.Name, m.ID, err)
			}
			dirs = append(dirs, dir)
		}
	}
	var err error
	if len(dirs) > 0 {
		t.backend, err = state.Restore(opts, dirs)
	} else {
		t.backend, err = state.Open(opts)
	}
	for _, d := range dirs {
		removeAll(d)
	}
	if err != nil {
		return fmt.Errorf("keyed state of %q: %w", t.st.head.Name, err)
	}
	return nil
}

// uploader returns the task's uploader to store s; its snapshots share
// files with the ones it uploaded before (incremental checkpoints).
func (t *rawTask) uploader(s *checkpoint.Store) *checkpoint.Uploader {
	t.upMu.Lock()
	defer t.upMu.Unlock()
	if t.uploaders == nil {
		t.uploaders = map[*checkpoint.Store]*checkpoint.Uploader{}
	}
	u := t.uploaders[s]
	if u == nil {
		u = s.NewUploader(fmt.Sprintf("s%d-t%d-%s", t.st.id, t.index, t.job.runID))
		t.uploaders[s] = u
	}
	return u
}

// closeState closes the backend and removes its local directory.
func (t *rawTask) closeState() error {
	if t.backend == nil {
		return nil
	}
	err := t.backend.Close()
	t.backend = nil
	removeAll(t.stateDir)
	if err != nil {
		return fmt.Errorf("close keyed state of %q: %w", t.st.head.Name, err)
	}
	return nil
}
