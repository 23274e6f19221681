package jsonl

import (
	"context"
	"fmt"

	"github.com/weirflow/weir/io/internal/filecommit"
	"github.com/weirflow/weir/sdk"
)

// DefaultTargetFileSize is the size at which a sink rolls to a new file when
// [SinkOptions.TargetFileSize] is zero.
const DefaultTargetFileSize = 128 << 20

// SinkOptions configure a [Sink]; the zero value works.
type SinkOptions struct {
	// TargetFileSize is the size in bytes after which a writer starts a new
	// file; zero means [DefaultTargetFileSize].
	TargetFileSize int64
}

// Sink writes JSON Lines files into a directory with exactly-once commit:
// each task writes part-<task>-<seq>.jsonl.inprogress, pre-commits it on a
// checkpoint and renames it to part-<task>-<seq>.jsonl when the checkpoint
// completes, so a reader of *.jsonl never sees partial or uncommitted output.
type Sink[T any] struct {
	dir  string
	opts SinkOptions
}

// NewSink returns a sink writing into dir (created if missing). Records are
// encoded with the registered codec of T (or the built-in one of
// [sdk.DeadLetter]).
func NewSink[T any](dir string, opts SinkOptions) *Sink[T] {
	if opts.TargetFileSize <= 0 {
		opts.TargetFileSize = DefaultTargetFileSize
	}
	return &Sink[T]{dir: dir, opts: opts}
}

// DeadLetterSink returns a sink of dead letters as JSON Lines, one
// {"record": "...", "reason": "...", "source": "..."} object a line.
func DeadLetterSink(dir string, opts SinkOptions) *Sink[sdk.DeadLetter] {
	return NewSink[sdk.DeadLetter](dir, opts)
}

// Open opens the writer of task ctx.Task.
func (s *Sink[T]) Open(ctx sdk.SinkContext) (sdk.CommittingSink[T], error) {
	c, err := codecFor[T]()
	if err != nil {
		return nil, err
	}
	r, err := filecommit.NewRolling("jsonl", s.dir, ctx.Task, ".jsonl", 256<<10)
	if err != nil {
		return nil, err
	}
	return &writer[T]{Rolling: r, append: c.appendJSON, target: s.opts.TargetFileSize}, nil
}

type writer[T any] struct {
	*filecommit.Rolling
	append func([]byte, *T) []byte
	target int64
	size   int64 // bytes in the current file
	buf    []byte
}

// Write appends the batch's records, one line each, rolling to a new file
// when the current one reaches the target size.
func (w *writer[T]) Write(ctx context.Context, b *sdk.Batch[T]) error {
	for i := range b.Values {
		f, fresh, err := w.File()
		if err != nil {
			return err
		}
		if fresh {
			w.size = 0
		}
		w.buf = append(w.append(w.buf[:0], &b.Values[i]), '\n')
		if _, err := f.Write(w.buf); err != nil {
			return fmt.Errorf("jsonl: write %s: %w", w.Current(), err)
		}
		w.size += int64(len(w.buf))
		if w.size >= w.target {
			if err := w.Finish(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Recover settles the files an earlier run of the job left in the
// directory, before any writer opens (sdk.RecoverableSink): files of any
// task staged under checkpoint ids <= rc.Checkpoint are committed, files
// staged under later ids and in-progress files are removed. On a fresh
// start (Checkpoint 0) everything not committed is removed, and files an
// earlier run committed are refused (an [*sdk.OutputExistsError], nothing
// changed), replaced at the first commit or appended to, as rc.Existing
// says. It is idempotent, and works whatever the earlier run's
// parallelism was.
func (s *Sink[T]) Recover(_ context.Context, rc sdk.RecoverContext) error {
	if err := filecommit.Recover(s.dir, ".jsonl", uint64(rc.Checkpoint), rc.Existing); err != nil {
		return fmt.Errorf("jsonl: recover %s at checkpoint %d: %w", s.dir, rc.Checkpoint, err)
	}
	return nil
}

// CheckRecover tells, changing nothing, that Recover would refuse the
// directory (sdk.RecoverChecker).
func (s *Sink[T]) CheckRecover(_ context.Context, rc sdk.RecoverContext) error {
	if err := filecommit.Check(s.dir, ".jsonl", uint64(rc.Checkpoint), rc.Existing); err != nil {
		return fmt.Errorf("jsonl: recover %s at checkpoint %d: %w", s.dir, rc.Checkpoint, err)
	}
	return nil
}

// Validate reports at graph-build time that T has no JSON codec.
func (s *Sink[T]) Validate() error {
	_, err := codecFor[T]()
	return err
}
