package runnertest

import (
	"context"
	"slices"
	"sync"

	"github.com/weirflow/weir/sdk"
)

// Row is one record a sink received, with its event time and the task that
// wrote it.
type Row[T any] struct {
	Value T
	Time  sdk.Timestamp
	Task  int
}

// Sink is an sdk.Sink that collects rows in memory. Rows become visible to
// [Sink.Rows] only when committed. Staged rows are kept by the Sink, not
// the writer, so a Sink shared by successive runs of a job behaves like a
// file sink across a crash: [Sink.Recover] commits what the restored
// checkpoint staged and drops what came after.
type Sink[T any] struct {
	// WriteErr, when set, is called for every written row; an error fails
	// the write.
	WriteErr func(T) error
	// OnWrite, when set, is called after every write with the rows written
	// so far by all writers.
	OnWrite func(written int)

	mu struct {
		sync.Mutex
		committed []Row[T]
		staged    map[sdk.CheckpointID][]Row[T]
		recovered []sdk.CheckpointID
		written   int
		opened    int
		closed    int
		commits   int
	}
}

// Open opens a writer for one task.
func (s *Sink[T]) Open(ctx sdk.SinkContext) (sdk.CommittingSink[T], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.opened++
	if s.mu.staged == nil {
		s.mu.staged = map[sdk.CheckpointID][]Row[T]{}
	}
	return &writer[T]{s: s, task: ctx.Task}, nil
}

// Recover commits the rows staged under ids up to rc.Checkpoint and drops
// the rest (sdk.RecoverableSink).
func (s *Sink[T]) Recover(_ context.Context, rc sdk.RecoverContext) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commitLocked(rc.Checkpoint)
	clear(s.mu.staged)
	s.mu.recovered = append(s.mu.recovered, rc.Checkpoint)
	return nil
}

// Recovered lists the checkpoints Recover was called with, one per run.
func (s *Sink[T]) Recovered() []sdk.CheckpointID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sdk.CheckpointID(nil), s.mu.recovered...)
}

func (s *Sink[T]) commitLocked(id sdk.CheckpointID) {
	ids := make([]sdk.CheckpointID, 0, len(s.mu.staged))
	for c := range s.mu.staged {
		if c <= id {
			ids = append(ids, c)
		}
	}
	slices.Sort(ids)
	for _, c := range ids {
		s.mu.committed = append(s.mu.committed, s.mu.staged[c]...)
		delete(s.mu.staged, c)
	}
}

// Rows returns the committed rows, in commit order.
func (s *Sink[T]) Rows() []Row[T] {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Row[T](nil), s.mu.committed...)
}

// Values returns the committed values, in commit order.
func (s *Sink[T]) Values() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]T, len(s.mu.committed))
	for i, r := range s.mu.committed {
		out[i] = r.Value
	}
	return out
}

// Counts reports how many writers were opened and closed, how many commits
// made rows visible and how many rows were written, committed or not.
func (s *Sink[T]) Counts() (opened, closed, commits, written int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.opened, s.mu.closed, s.mu.commits, s.mu.written
}

type writer[T any] struct {
	s       *Sink[T]
	task    int
	pending []Row[T]
}

func (w *writer[T]) Write(_ context.Context, b *sdk.Batch[T]) error {
	for i, v := range b.Values {
		if f := w.s.WriteErr; f != nil {
			if err := f(v); err != nil {
				return err
			}
		}
		w.pending = append(w.pending, Row[T]{Value: v, Time: b.Times[i], Task: w.task})
	}
	w.s.mu.Lock()
	w.s.mu.written += len(b.Values)
	n := w.s.mu.written
	w.s.mu.Unlock()
	if f := w.s.OnWrite; f != nil {
		f(n)
	}
	return nil
}

func (w *writer[T]) PreCommit(id sdk.CheckpointID) error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.mu.staged[id] = append(w.s.mu.staged[id], w.pending...)
	w.pending = nil
	return nil
}

func (w *writer[T]) Commit(id sdk.CheckpointID) error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.commitLocked(id)
	w.s.mu.commits++
	return nil
}

func (w *writer[T]) Abort(id sdk.CheckpointID) error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	delete(w.s.mu.staged, id)
	return nil
}

func (w *writer[T]) Close() error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.mu.closed++
	return nil
}

// Discard is an sdk.Sink that drops every row, for benchmarks.
type Discard[T any] struct{}

// Open returns a writer that drops everything.
func (Discard[T]) Open(sdk.SinkContext) (sdk.CommittingSink[T], error) { return discard[T]{}, nil }

type discard[T any] struct{}

func (discard[T]) Write(context.Context, *sdk.Batch[T]) error { return nil }
func (discard[T]) PreCommit(sdk.CheckpointID) error           { return nil }
func (discard[T]) Commit(sdk.CheckpointID) error              { return nil }
func (discard[T]) Abort(sdk.CheckpointID) error               { return nil }
func (discard[T]) Close() error                               { return nil }
