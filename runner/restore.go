package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/checkpoint"
)

// openStores opens the checkpoint store, if the job has one.
func (j *job) openStores() (*checkpoint.Store, error) {
	if j.opts.CheckpointDir == "" {
		return nil, nil
	}
	s, err := checkpoint.Open(j.opts.CheckpointDir, checkpoint.Options{Retain: j.opts.CheckpointRetain})
	if err != nil {
		return nil, fmt.Errorf("weir: checkpoint directory: %w", err)
	}
	return s, nil
}

// loadRestore finds the checkpoint the job resumes from: the savepoint of
// Options.FromSavepoint, else the latest completed checkpoint of the store
// (a half-written one, whose metadata was never written, does not count).
// None: a fresh start. A damaged latest checkpoint (a file missing,
// truncated or not matching its checksum) is an error, never a silent
// fallback.
func (j *job) loadRestore(store *checkpoint.Store) error {
	src, what := store, "checkpoint"
	if j.opts.FromSavepoint != "" {
		if _, err := os.Stat(j.opts.FromSavepoint); err != nil {
			return fmt.Errorf("weir: savepoint: %w", err)
		}
		s, err := checkpoint.Open(j.opts.FromSavepoint, checkpoint.Options{SelfContained: true, Retain: 1 << 30})
		if err != nil {
			return fmt.Errorf("weir: savepoint %s: %w", j.opts.FromSavepoint, err)
		}
		src, what = s, "savepoint"
	}
	if src == nil {
		return nil
	}
	done, bad, err := src.Completed()
	if err != nil {
		return fmt.Errorf("weir: list %ss: %w", what, err)
	}
	// A checkpoint directory without metadata never completed (the run
	// crashed or the checkpoint failed): it is simply not a checkpoint,
	// and an older one is used. One with metadata that does not verify
	// was completed, and sinks may already have committed its output:
	// resuming from an older checkpoint would write those rows again, so
	// the job refuses and says how to go on.
	newestDamaged := func(err error) error {
		return fmt.Errorf("weir: %s is damaged (%v); its output may already be committed, so resuming from an older one could write rows twice: move it away to resume from the previous %s anyway",
			what, err, what)
	}
	var damagedID uint64
	var damaged error
	for _, e := range bad {
		var ce *checkpoint.CorruptError
		if errors.As(e, &ce) && ce.ID != 0 {
			if _, err := os.Stat(filepath.Join(src.Dir(), fmt.Sprintf("chk-%d", ce.ID), "_metadata")); err != nil {
				continue
			}
			if ce.ID > damagedID {
				damagedID, damaged = ce.ID, e
			}
		}
	}
	if damaged != nil && (len(done) == 0 || damagedID > done[0].ID) {
		return newestDamaged(damaged)
	}
	if len(done) == 0 {
		if j.opts.FromSavepoint != "" {
			return fmt.Errorf("weir: no savepoint in %s", j.opts.FromSavepoint)
		}
		return nil
	}
	m := done[0]
	if err := src.Verify(m); err != nil {
		return newestDamaged(err)
	}
	if m.MaxParallelism != j.opts.MaxParallelism {
		return fmt.Errorf("weir: %s %d was taken with max parallelism %d, the job has %d; they must match (state is split in that many key groups)",
			what, m.ID, m.MaxParallelism, j.opts.MaxParallelism)
	}
	if m.Job != j.name {
		j.opts.Logf("weir: resuming job %q from a %s of job %q", j.name, what, m.Job)
	}
	j.restore, j.restoreStore, j.restored = m, src, base.CheckpointID(m.ID)
	j.nextID = j.restored + 1
	if store != nil && src != store {
		// Checkpoint ids continue above both the savepoint's and the
		// store's, so a new checkpoint never reuses an old id.
		if d, _, err := store.Completed(); err == nil && len(d) > 0 && base.CheckpointID(d[0].ID) >= j.nextID {
			j.nextID = base.CheckpointID(d[0].ID) + 1
		}
	}
	j.opts.Logf("weir: resuming from %s %d (parallelism %d, now %d)", what, m.ID, m.Parallelism, j.opts.Parallelism)
	return nil
}

// recoverSinks settles, before anything runs, what sinks staged in earlier
// runs: the output of the restored checkpoint is committed, anything later
// discarded. On a fresh start, committed output of an earlier run is
// refused, overwritten or appended to (Options.ExistingOutput).
func (j *job) recoverSinks(ctx context.Context) error {
	for _, n := range j.plan.order {
		if n.Recover == nil {
			continue
		}
		rc := graph.RecoverContext{Job: j.name, Node: n.Name, Tasks: j.opts.Parallelism, Existing: j.opts.ExistingOutput}
		if j.restore != nil {
			rc.Checkpoint = base.CheckpointID(j.restore.ID)
			rc.Committables = j.restore.Sinks[n.Name]
		}
		if err := n.Recover(ctx, rc); err != nil {
			return fmt.Errorf("weir: recover sink %q: %w", n.Name, err)
		}
	}
	return nil
}

// stateRoot makes the directory of the tasks' local state.
func stateRoot(dir string) (string, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("weir: state directory: %w", err)
		}
	}
	d, err := os.MkdirTemp(dir, "weir-state-")
	if err != nil {
		return "", fmt.Errorf("weir: state directory: %w", err)
	}
	return d, nil
}

// newRunID names one run of a job, for the names of its uploaded files.
func newRunID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
