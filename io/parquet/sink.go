package parquet

import (
	"bufio"
	"context"
	"fmt"
	"os"

	pq "github.com/parquet-go/parquet-go"

	"github.com/weirflow/weir/io/internal/filecommit"
	"github.com/weirflow/weir/sdk"
)

// Defaults of [SinkOptions].
const (
	DefaultTargetFileSize = 128 << 20
	DefaultRowGroupRows   = 1 << 20
)

// SinkOptions configure a [Sink]; the zero value works.
type SinkOptions struct {
	// TargetFileSize is the estimated size in bytes after which a writer
	// starts a new file; zero means [DefaultTargetFileSize].
	TargetFileSize int64
	// RowGroupRows is the most rows in a row group (a split when the
	// output is read back); zero means [DefaultRowGroupRows].
	RowGroupRows int64
}

func (o *SinkOptions) ensureDefaults() {
	if o.TargetFileSize <= 0 {
		o.TargetFileSize = DefaultTargetFileSize
	}
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = DefaultRowGroupRows
	}
}

// Sink writes Snappy-compressed Parquet files into a directory with
// exactly-once commit: each task writes part-<task>-<seq>.parquet.inprogress,
// pre-commits it on a checkpoint and renames it to part-<task>-<seq>.parquet
// when the checkpoint completes, so a reader of *.parquet never sees partial
// or uncommitted output.
type Sink[T any] struct {
	dir  string
	opts SinkOptions
	rec  *recordInfo
}

// NewSink returns a sink of records of type T (a struct with parquet tags)
// writing into dir, created if missing.
func NewSink[T any](dir string, opts SinkOptions) *Sink[T] {
	opts.ensureDefaults()
	return &Sink[T]{dir: dir, opts: opts, rec: recordOf[T]()}
}

// Open opens the writer of task ctx.Task.
func (s *Sink[T]) Open(ctx sdk.SinkContext) (sdk.CommittingSink[T], error) {
	if s.rec.err != nil {
		return nil, s.rec.err
	}
	r, err := filecommit.NewRolling("parquet", s.dir, ctx.Task, ".parquet", 1<<20)
	if err != nil {
		return nil, err
	}
	w := &writer[T]{Rolling: r, opts: s.opts, dir: s.dir}
	for _, l := range s.rec.times {
		if l.unitNanos == 1 {
			w.nanos = append(w.nanos, l)
		}
	}
	r.Footer = func() error { return protect(w.pw.Close) }
	return w, nil
}

type writer[T any] struct {
	*filecommit.Rolling
	opts SinkOptions
	dir  string
	pw   *pq.GenericWriter[T]
	// T's times in timestamp(nanosecond) columns, which hold 1677-2262
	// only: checked before parquet-go writes another time.
	nanos []timeLeaf
}

func writerOptions(rowGroupRows int64) []pq.WriterOption {
	return []pq.WriterOption{pq.Compression(&pq.Snappy), pq.MaxRowsPerRowGroup(rowGroupRows)}
}

// Write appends the batch's records to the current file, rolling to a new
// one when it reaches the target size.
func (w *writer[T]) Write(ctx context.Context, b *sdk.Batch[T]) error {
	if len(b.Values) == 0 {
		return nil
	}
	if len(w.nanos) > 0 {
		for i := range b.Values {
			if err := checkNanos(w.nanos, &b.Values[i]); err != nil {
				return fmt.Errorf("parquet: write %s: %w", w.dir, err)
			}
		}
	}
	f, fresh, err := w.File()
	if err != nil {
		return err
	}
	if fresh {
		if w.pw == nil {
			if err := protect(func() error {
				w.pw = pq.NewGenericWriter[T](f, writerOptions(w.opts.RowGroupRows)...)
				return nil
			}); err != nil {
				return fmt.Errorf("parquet: %s: %v", w.Current(), err)
			}
		} else {
			w.pw.Reset(f)
		}
	}
	if err := protect(func() error { _, err := w.pw.Write(b.Values); return err }); err != nil {
		return fmt.Errorf("parquet: write %s: %w", w.Current(), err)
	}
	if w.pw.Size() >= w.opts.TargetFileSize {
		return w.Finish()
	}
	return nil
}

// WriteFile writes rows to a new Parquet file at path with at most
// rowsPerGroup rows in a row group (all in one if rowsPerGroup <= 0). It is
// for tests, benchmarks and demos; pipelines write through [Sink].
func WriteFile[T any](path string, rows []T, rowsPerGroup int) (err error) {
	if rowsPerGroup <= 0 {
		rowsPerGroup = max(len(rows), 1)
	}
	if rec := recordOf[T](); rec.err == nil {
		for _, l := range rec.times {
			if l.unitNanos != 1 {
				continue
			}
			for i := range rows {
				if err := checkNanos([]timeLeaf{l}, &rows[i]); err != nil {
					return fmt.Errorf("parquet: write %s: row %d: %w", path, i, err)
				}
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("parquet: close %s: %w", path, cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	var pw *pq.GenericWriter[T]
	if err := protect(func() error {
		pw = pq.NewGenericWriter[T](bw, writerOptions(int64(rowsPerGroup))...)
		return nil
	}); err != nil {
		return fmt.Errorf("parquet: %s: %v", path, err)
	}
	for i := 0; i < len(rows); i += rowsPerGroup {
		if _, err := pw.Write(rows[i:min(i+rowsPerGroup, len(rows))]); err != nil {
			return fmt.Errorf("parquet: write %s: %w", path, err)
		}
		if err := pw.Flush(); err != nil {
			return fmt.Errorf("parquet: write %s: %w", path, err)
		}
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("parquet: write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("parquet: write %s: %w", path, err)
	}
	return nil
}

// Validate reports at graph-build time a record type that cannot be
// written as Parquet.
func (s *Sink[T]) Validate() error { return s.rec.err }
