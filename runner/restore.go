package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/dirlock"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/checkpoint"
)

// openStores opens the checkpoint store and the savepoint store, if the
// job has them, and locks their directories for this run: a second job on
// the same directory is refused, since the two would collect each other's
// files. A lock left by a process that died is taken over, with a note.
func (j *job) openStores() (err error) {
	o := &j.opts
	if o.CheckpointDir != "" {
		if j.store, err = checkpoint.Open(o.CheckpointDir, checkpoint.Options{Retain: o.CheckpointRetain, Logf: o.Logf}); err != nil {
			return fmt.Errorf("checkpoint directory: %w", err)
		}
		if j.cl != nil && !j.cl.master() {
			// The master of the Cluster run holds the lock.
		} else if err := j.lock(j.store.Dir(), "checkpoint"); err != nil {
			return err
		}
	}
	if o.SavepointDir != "" {
		if j.savepoints, err = checkpoint.Open(o.SavepointDir, checkpoint.Options{SelfContained: true, Retain: -1, Logf: o.Logf}); err != nil {
			return fmt.Errorf("savepoint directory: %w", err)
		}
		if j.cl != nil && !j.cl.master() {
			// The master of the Cluster run holds the lock.
		} else if err := j.lock(j.savepoints.Dir(), "savepoint"); err != nil {
			return err
		}
	}
	return nil
}

// lock takes the lock of a store directory for the rest of the run.
func (j *job) lock(dir, what string) error {
	l, stale, err := dirlock.Acquire(dir, "job "+j.name)
	var held *dirlock.HeldError
	if errors.As(err, &held) {
		return fmt.Errorf("runner: %s directory %s is in use by %s; stop that job first, or use another %s directory",
			what, dir, held.Holder, what)
	}
	if err != nil {
		return fmt.Errorf("%s directory: %w", what, err)
	}
	if stale != nil {
		j.opts.Logf("runner: %s directory %s was locked by %s, which ended without releasing it; taking it over", what, dir, *stale)
	}
	j.locks = append(j.locks, l)
	return nil
}

// unlock releases the directories the run locked.
func (j *job) unlock() {
	for _, l := range j.locks {
		if err := l.Release(); err != nil {
			j.opts.Logf("%v", err)
		}
	}
	j.locks = nil
}

// loadRestore finds the checkpoint the job resumes from, and sets
// j.restore (nil: a fresh start).
//
// Without Options.FromSavepoint it is the latest completed checkpoint of
// the store. With it, it is the savepoint, unless the store holds a
// checkpoint newer than the savepoint: such a checkpoint was taken after
// the job started from that savepoint (the savepoint is only where a job
// starts that has no checkpoints of its own yet, as in Flink), and
// resuming from the savepoint again would write again every result
// committed since. So the job resumes from the checkpoint and says so; if
// the newer checkpoint does not descend from the savepoint (another
// history used the directory), it refuses.
//
// A checkpoint directory without metadata never completed (the run
// crashed or the checkpoint failed): it is not a checkpoint, and an older
// one is used. A damaged latest checkpoint (a file missing, truncated or
// not matching its checksum) is an error, never a silent fallback.
func (j *job) loadRestore() error {
	store := j.store
	var latest *checkpoint.Metadata
	var latestErr error // the store's newest checkpoint is damaged
	var newestID uint64
	if store != nil {
		var dmg *damagedError
		latest, latestErr = newestCheckpoint(store, "checkpoint")
		switch {
		case errors.As(latestErr, &dmg):
			newestID = dmg.id
		case latestErr != nil:
			return latestErr
		case latest != nil:
			newestID = latest.ID
		}
	}
	if j.opts.FromSavepoint == "" {
		if latestErr != nil {
			return latestErr
		}
		if latest != nil {
			return j.restoreFrom(latest, store, "checkpoint")
		}
		return nil
	}

	if _, err := os.Stat(j.opts.FromSavepoint); err != nil {
		return fmt.Errorf("runner: savepoint: %w", err)
	}
	sps, err := checkpoint.Open(j.opts.FromSavepoint, checkpoint.Options{SelfContained: true, ReadOnly: true, Logf: j.opts.Logf})
	if err != nil {
		return fmt.Errorf("savepoint %s: %w", j.opts.FromSavepoint, err)
	}
	sp, err := newestCheckpoint(sps, "savepoint")
	if err != nil {
		return err
	}
	if sp == nil {
		return fmt.Errorf("runner: no savepoint in %s", j.opts.FromSavepoint)
	}
	if newestID <= sp.ID {
		// The checkpoints are older: those of the run that took the
		// savepoint, say. Start from the savepoint.
		return j.restoreFrom(sp, sps, "savepoint")
	}
	if latestErr != nil {
		return latestErr
	}
	if sp.UID == "" || latest.Base != sp.UID {
		return fmt.Errorf("runner: checkpoint directory %s holds checkpoint %d, newer than savepoint %d of %s and not started from it: "+
			"starting from the savepoint would write again what those checkpoints committed; resume from checkpoint %d without the savepoint, or use an empty checkpoint directory",
			store.Dir(), latest.ID, sp.ID, j.opts.FromSavepoint, latest.ID)
	}
	j.opts.Logf("runner: checkpoint %d in %s was taken after this job started from savepoint %d of %s: resuming from the checkpoint, not the savepoint",
		latest.ID, store.Dir(), sp.ID, j.opts.FromSavepoint)
	return j.restoreFrom(latest, store, "checkpoint")
}

// damagedError is a store's newest completed checkpoint that does not
// verify.
type damagedError struct {
	id  uint64
	err error
}

func (e *damagedError) Error() string { return e.err.Error() }
func (e *damagedError) Unwrap() error { return e.err }

// newestCheckpoint returns the newest completed checkpoint of src that
// verifies, nil if it has none, or a *damagedError if the newest one that
// completed is damaged: its output may already be committed, so resuming
// from an older one could write rows twice.
func newestCheckpoint(src *checkpoint.Store, what string) (*checkpoint.Metadata, error) {
	done, bad, err := src.Completed()
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", what, err)
	}
	damaged := func(id uint64, err error) error {
		return &damagedError{id: id, err: fmt.Errorf("runner: %s %d in %s is damaged (%v); its output may already be committed, so resuming from an older one could write rows twice: move it away to resume from the previous %s anyway",
			what, id, src.Dir(), err, what)}
	}
	var damagedID uint64
	var damagedErr error
	for _, e := range bad {
		var ce *checkpoint.CorruptError
		if errors.As(e, &ce) && ce.ID != 0 {
			// Without metadata it never completed: not a checkpoint.
			if _, err := os.Stat(filepath.Join(src.Dir(), fmt.Sprintf("chk-%d", ce.ID), "_metadata")); err != nil {
				continue
			}
			if ce.ID > damagedID {
				damagedID, damagedErr = ce.ID, e
			}
		}
	}
	if damagedErr != nil && (len(done) == 0 || damagedID > done[0].ID) {
		return nil, damaged(damagedID, damagedErr)
	}
	if len(done) == 0 {
		return nil, nil
	}
	m := done[0]
	if err := src.Verify(m); err != nil {
		return nil, damaged(m.ID, err)
	}
	return m, nil
}

// restoreFrom makes m, of src, the checkpoint the job resumes from.
func (j *job) restoreFrom(m *checkpoint.Metadata, src *checkpoint.Store, what string) error {
	if m.MaxParallelism != j.opts.MaxParallelism {
		return fmt.Errorf("runner: %s %d was taken with max parallelism %d, the job has %d; they must match (state is split in that many key groups)",
			what, m.ID, m.MaxParallelism, j.opts.MaxParallelism)
	}
	if m.Job != j.name {
		j.opts.Logf("runner: resuming job %q from a %s of job %q", j.name, what, m.Job)
	}
	j.restore, j.restoreStore, j.restored = m, src, base.CheckpointID(m.ID)
	j.nextID = j.restored + 1
	// The history goes on: a run from a savepoint starts one.
	j.base = m.Base
	if what == "savepoint" {
		j.base = m.UID
	}
	if st := j.store; st != nil && src != st {
		// Checkpoint ids continue above both the savepoint's and the
		// store's, so a new checkpoint never reuses an old id.
		if d, _, err := st.Completed(); err == nil && len(d) > 0 && base.CheckpointID(d[0].ID) >= j.nextID {
			j.nextID = base.CheckpointID(d[0].ID) + 1
		}
	}
	if !m.Finished {
		j.opts.Logf("runner: resuming from %s %d (parallelism %d, now %d)", what, m.ID, m.Parallelism, j.opts.Parallelism)
	}
	return nil
}

// recoverSinks settles, before anything runs, what sinks (and the
// dead-letter output) staged in earlier runs: the output of the restored
// checkpoint is committed, anything later discarded. On a fresh start,
// committed output of an earlier run is refused, overwritten or appended
// to (Options.ExistingOutput). Every sink that can tell checks first that
// it would not refuse to start, so a start refused by one sink discards
// nothing another staged for a resume.
func (j *job) recoverSinks(ctx context.Context) error {
	rs := j.recoverables()
	for _, r := range rs {
		if r.check == nil {
			continue
		}
		if err := r.check(ctx); err != nil {
			return fmt.Errorf("recover %s: %w", r.what, err)
		}
	}
	for _, r := range rs {
		if err := r.recover(ctx); err != nil {
			return fmt.Errorf("recover %s: %w", r.what, err)
		}
	}
	return nil
}

// recoverable is one output to settle at the start of a job.
type recoverable struct {
	what           string // for messages: `sink "late"`, "dead letters"
	check, recover func(context.Context) error
}

// recoverables lists the job's outputs that settle at its start, in plan
// order, the dead-letter output last.
func (j *job) recoverables() []recoverable {
	var rs []recoverable
	for _, n := range j.plan.order {
		if n.Recover == nil {
			continue
		}
		rc := graph.RecoverContext{Job: j.name, Node: n.Name, Tasks: j.opts.Parallelism, Existing: j.opts.ExistingOutput}
		if j.restore != nil {
			rc.Checkpoint = base.CheckpointID(j.restore.ID)
			rc.Committables = j.restore.Sinks[n.Name]
		}
		r := recoverable{what: fmt.Sprintf("sink %q", n.Name), recover: func(ctx context.Context) error { return n.Recover(ctx, rc) }}
		if n.CheckRecover != nil {
			r.check = func(ctx context.Context) error { return n.CheckRecover(ctx, rc) }
		}
		rs = append(rs, r)
	}
	if r, ok := j.deadLetterRecoverable(); ok {
		rs = append(rs, r)
	}
	return rs
}

// statePrefix begins the name of a run's local state directory.
const statePrefix = "weir-state-"

// staleAge is how old a local state directory without a lock file must be
// to count as left behind: younger, it may be one another job has just
// made and not locked yet.
const staleAge = time.Minute

// openStateRoot makes the directory of the tasks' local state, a new
// weir-state-* directory in Options.StateDir (default the temporary
// directory), readable by the owner only, and locks it for the run. It
// first removes the weir-state-* directories there that no running
// process holds: those of jobs killed before they could remove them.
func (j *job) openStateRoot() error {
	dir := j.opts.StateDir
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("runner: state directory: %w", err)
		}
	}
	parent := dir
	if parent == "" {
		parent = os.TempDir()
	}
	if n := removeStaleState(parent, j.opts.Clock.Now()); n > 0 {
		j.opts.Logf("runner: removed %d local state %s left in %s by jobs that are no longer running",
			n, plural(n, "directory", "directories"), parent)
	}
	for attempt := 0; ; attempt++ {
		d, err := os.MkdirTemp(dir, statePrefix)
		if err != nil {
			return fmt.Errorf("runner: state directory: %w", err)
		}
		l, _, err := dirlock.Acquire(d, "job "+j.name)
		var held *dirlock.HeldError
		if errors.As(err, &held) && attempt < 3 {
			// Another job's clean-up took the directory between its
			// creation and its lock: make another.
			removeAll(d)
			continue
		}
		if err != nil {
			removeAll(d)
			return fmt.Errorf("state directory: %w", err)
		}
		j.stateRoot, j.stateLock = d, l
		return nil
	}
}

// closeStateRoot unlocks and removes the local state directory.
func (j *job) closeStateRoot() {
	if j.stateRoot == "" {
		return
	}
	_ = j.stateLock.Release()
	removeAll(j.stateRoot)
	j.stateRoot, j.stateLock = "", nil
}

// removeStaleState removes the local state directories in parent whose
// lock no process holds, and returns how many it removed.
func removeStaleState(parent string, now time.Time) int {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), statePrefix) {
			continue
		}
		d := filepath.Join(parent, e.Name())
		if _, err := os.Stat(filepath.Join(d, dirlock.FileName)); err != nil {
			// Not locked yet (or made before locks): only if old.
			st, err := e.Info()
			if err != nil || now.Sub(st.ModTime()) < staleAge {
				continue
			}
		}
		l, _, err := dirlock.Acquire(d, "removing")
		if err != nil {
			continue // held by a running job, or not ours to read
		}
		_ = l.Release()
		if os.RemoveAll(d) == nil {
			n++
		}
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// newRunID names one run of a job, for the names of its uploaded files.
func newRunID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newUID identifies one checkpoint (Metadata.UID).
func newUID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
