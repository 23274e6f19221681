package sdk

import (
	"context"
	"fmt"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// Source is a bounded or unbounded input of records of type T, divided into
// splits that can be read independently (and in parallel).
type Source[T any] interface {
	// Splits lists the splits, in a stable order.
	Splits(ctx context.Context) ([]Split, error)
	// Open starts reading split s at pos, a value earlier returned by
	// [SplitReader.Position] (nil for the beginning).
	Open(ctx context.Context, s Split, pos []byte) (SplitReader[T], error)
}

// SplitDiscoverer is implemented by sources whose splits can grow while a
// job runs, like Kafka partitions added to a topic. In stream mode the
// runner calls Discover periodically and starts reading splits whose IDs it
// has not seen. A bounded source returns its fixed list.
type SplitDiscoverer interface {
	Discover(ctx context.Context) ([]Split, error)
}

// SplitReader reads one split.
//
// A reader may also have the method
//
//	DescribeRecord(i int, v *T) (record []byte, source string)
//
// returning the raw form of v, the i-th value the last ReadBatch appended
// (the JSON line, the Kafka value...), and its position ("in.jsonl line
// 7"), as in its own dead letters. The runner then gives the dead letters
// it makes itself (a missing event time, one outside 0001-9999) the record
// and position; without it they say "split record N".
type SplitReader[T any] interface {
	// ReadBatch appends up to max records to b.Values (b.Times is filled by
	// the runner from the event-time accessor). Bad records are not errors:
	// they are returned as dead letters and reading goes on. At the end of
	// the split it returns ErrEndOfSplit; records appended by that call are
	// valid. Any other error fails the job.
	ReadBatch(ctx context.Context, b *Batch[T], max int) ([]DeadLetter, error)
	// Position is where reading would resume after everything returned so far.
	Position() []byte
	Close() error
}

// PositionCommitter is implemented by a [SplitReader] that tells the
// system it reads from how far a completed checkpoint has read (Flink's
// notifyCheckpointComplete): the Kafka source commits the offsets to its
// consumer group, so that lag tools show what the job has processed for
// good. CommitPosition is called on the reader's goroutine, between
// ReadBatch calls, with a position the reader returned from Position for
// a checkpoint that has completed since; it is best effort (no error
// return), the checkpoint being what the job restores from.
type PositionCommitter = graph.PositionCommitter

// SinkContext tells a sink which task is writing.
type SinkContext struct {
	Context context.Context
	// Job names the job; Node names the sink transform.
	Job, Node string
	// Task is this writer's index among Tasks parallel writers.
	Task, Tasks int
}

// Sink is an output of records of type T; each parallel task opens a writer.
type Sink[T any] interface {
	Open(ctx SinkContext) (CommittingSink[T], error)
}

// CommittingSink is one task's writer with two-phase commit: output written
// since the last checkpoint is staged by PreCommit and made visible by
// Commit once the checkpoint is complete. A reader of the output never sees
// uncommitted or partial data.
type CommittingSink[T any] interface {
	Write(ctx context.Context, b *Batch[T]) error
	// PreCommit finishes the output written so far and stages it under id.
	PreCommit(id CheckpointID) error
	// Commit makes everything staged under ids <= id visible. It must be
	// idempotent: after a restart it may be called again for the same id.
	Commit(id CheckpointID) error
	// Abort discards what was staged under id.
	Abort(id CheckpointID) error
	// Close releases the writer; uncommitted output is discarded.
	Close() error
}

// Validator is implemented by sources and sinks that can tell at graph-build
// time that they will not work, for example because the record type has no
// generated codec. [Read] and [Write] call it and report the error with the
// pipeline's other construction errors, before anything runs.
type Validator interface {
	Validate() error
}

// RecoverableSink is implemented by sinks whose staged output lives outside
// the job (Kafka transactions, staged files) and must be settled when a job
// starts: the runner calls Recover once per job start, before any writer
// opens. It must commit what the restored checkpoint covers (the
// Committables, and for file sinks everything staged under ids <=
// Checkpoint) and discard everything staged after it (later transactions,
// staged or in-progress files of a crashed run). On a fresh start
// (Checkpoint 0) it discards whatever a crashed run left behind, and
// treats output an earlier run committed as [RecoverContext.Existing]
// says: by default it refuses to start with an [*OutputExistsError].
// Recover is also where a sink refuses to start for other reasons: an
// output it cannot write (a missing Kafka topic, a broker without
// transactions) fails the job here, with one line, before any input is
// read.
type RecoverableSink interface {
	Recover(ctx context.Context, rc RecoverContext) error
}

// RecoverChecker is implemented by recoverable sinks that can tell,
// changing nothing, that their Recover would refuse to start (output of an
// earlier run, a missing topic). The runner calls CheckRecover on every
// sink that has it before it calls Recover on any, so a start that one
// sink refuses leaves what the others staged for a resume as it was.
type RecoverChecker interface {
	CheckRecover(ctx context.Context, rc RecoverContext) error
}

// RecoverContext is what [RecoverableSink.Recover] learns.
type RecoverContext struct {
	Job, Node string
	// Checkpoint is the checkpoint the job resumes from; 0 on a fresh start.
	Checkpoint CheckpointID
	// Committables are what the writers returned from
	// [CommittableWriter.Committable] after pre-committing Checkpoint, one
	// entry per writer of the run that took it (nil when a writer returned
	// nothing). Their number is that run's parallelism, which may differ
	// from Tasks after a rescale.
	Committables [][]byte
	// Tasks is the number of writers of this run.
	Tasks int
	// Existing is what a fresh start does with output an earlier run
	// committed where the sink writes; a resumed job (Checkpoint > 0)
	// writes on into its own output whatever it says.
	Existing ExistingOutput
}

// ExistingOutput is what a job that starts fresh does with output an
// earlier run committed where a sink writes, like Spark's save modes. It
// concerns outputs that are replaced or added to as a whole (file
// directories); a Kafka topic is always appended to.
type ExistingOutput = base.ExistingOutput

const (
	// RefuseExisting, the zero value, makes Recover fail with an
	// [*OutputExistsError], before anything runs.
	RefuseExisting = base.RefuseExisting
	// OverwriteExisting replaces the earlier output: it stays visible
	// until the new run's first commit, which removes it before making
	// the new output visible. A crash at any point never leaves old and
	// new output mixed once a later run commits.
	OverwriteExisting = base.OverwriteExisting
	// AppendExisting adds the new output to the earlier one.
	AppendExisting = base.AppendExisting
)

// OutputExistsError is returned by [RecoverableSink.Recover] on a fresh
// start into an output that holds what an earlier run committed, when
// [RecoverContext.Existing] is [RefuseExisting].
type OutputExistsError struct {
	// Path names the output (a directory).
	Path string
	// Files is the number of committed files in it.
	Files int
}

func (e *OutputExistsError) Error() string {
	return fmt.Sprintf("%s already holds the output of an earlier run (%d files); overwrite it, append to it or write elsewhere", e.Path, e.Files)
}

// CommittableWriter is implemented by writers whose pre-committed output
// can only be committed after a restart if the checkpoint records
// something about it (a Kafka transaction's id, producer id and epoch).
// The runner calls Committable right after PreCommit(id) and stores the
// bytes in the checkpoint; Recover gets them back.
type CommittableWriter interface {
	Committable(id CheckpointID) ([]byte, error)
}
