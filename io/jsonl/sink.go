package jsonl

import (
	"bufio"
	"context"
	"fmt"
	"os"

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
	files, err := filecommit.Open(s.dir, ctx.Task, ".jsonl")
	if err != nil {
		return nil, fmt.Errorf("jsonl: %s: %w", s.dir, err)
	}
	return &writer[T]{files: files, append: c.appendJSON, target: s.opts.TargetFileSize}, nil
}

type writer[T any] struct {
	files  *filecommit.Files
	append func([]byte, *T) []byte
	target int64
	f      *os.File
	bw     *bufio.Writer
	size   int64
	buf    []byte
}

// Write appends the batch's records, one line each.
func (w *writer[T]) Write(ctx context.Context, b *sdk.Batch[T]) error {
	for i := range b.Values {
		if w.f == nil {
			p := w.files.Next()
			f, err := os.Create(p)
			if err != nil {
				return fmt.Errorf("jsonl: %w", err)
			}
			w.f, w.size = f, 0
			if w.bw == nil {
				w.bw = bufio.NewWriterSize(f, 256<<10)
			} else {
				w.bw.Reset(f)
			}
		}
		w.buf = append(w.append(w.buf[:0], &b.Values[i]), '\n')
		if _, err := w.bw.Write(w.buf); err != nil {
			return fmt.Errorf("jsonl: write %s: %w", w.files.Current(), err)
		}
		w.size += int64(len(w.buf))
		if w.size >= w.target {
			if err := w.finish(); err != nil {
				return err
			}
		}
	}
	return nil
}

// finish flushes, syncs and closes the current file and rolls it.
func (w *writer[T]) finish() error {
	if w.f == nil {
		return nil
	}
	p := w.files.Current()
	err := w.bw.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("jsonl: finish %s: %w", p, err)
	}
	w.files.Roll()
	return nil
}

// PreCommit closes the current file and stages it, with any rolled ones, under id.
func (w *writer[T]) PreCommit(id sdk.CheckpointID) error {
	if err := w.finish(); err != nil {
		return err
	}
	if err := w.files.PreCommit(uint64(id)); err != nil {
		return fmt.Errorf("jsonl: pre-commit %d: %w", id, err)
	}
	return nil
}

// Commit makes the files staged under ids <= id visible; idempotent.
func (w *writer[T]) Commit(id sdk.CheckpointID) error {
	if err := w.files.Commit(uint64(id)); err != nil {
		return fmt.Errorf("jsonl: commit %d: %w", id, err)
	}
	return nil
}

// Abort removes the files staged under id.
func (w *writer[T]) Abort(id sdk.CheckpointID) error {
	if err := w.files.Abort(uint64(id)); err != nil {
		return fmt.Errorf("jsonl: abort %d: %w", id, err)
	}
	return nil
}

// Close discards output not pre-committed.
func (w *writer[T]) Close() error {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if err := w.files.Close(); err != nil {
		return fmt.Errorf("jsonl: close: %w", err)
	}
	return nil
}
