package runner

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/paths"
	"github.com/weirflow/weir/runner/checkpoint"
	"github.com/weirflow/weir/sdk"
	"github.com/weirflow/weir/state"
)

// Mode says whether a job is a bounded backfill or a streaming job.
type Mode uint8

const (
	// Batch reads bounded inputs and ends with a final +∞ watermark.
	Batch Mode = iota
	// Stream makes no end-of-input assumption for unbounded sources and
	// never uses a perfect watermark. Bounded sources still end.
	Stream
)

// ModeBatch and ModeStream are other names of Batch and Stream.
const (
	ModeBatch  = Batch
	ModeStream = Stream
)

// DefaultDiscoveryInterval is how often a stream job looks for new splits.
const DefaultDiscoveryInterval = 10 * time.Second

func (m Mode) String() string {
	switch m {
	case Batch:
		return "batch"
	case Stream:
		return "stream"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ErrorPolicy says what happens to a bad record.
type ErrorPolicy uint8

const (
	// DeadLetter counts the record and writes it to Options.DeadLetters
	// (counted only when DeadLetters is nil).
	DeadLetter ErrorPolicy = iota
	// Skip counts the record and drops it.
	Skip
	// Fail stops the job with a *BadRecordError naming the record's source.
	Fail
)

func (p ErrorPolicy) String() string {
	switch p {
	case DeadLetter:
		return "dead-letter"
	case Skip:
		return "skip"
	case Fail:
		return "fail"
	}
	return fmt.Sprintf("ErrorPolicy(%d)", uint8(p))
}

// Clock is the runner's processing time: the checkpoint interval, split
// discovery, processing-time timers, idleness, durations. Every wall-clock
// use of the runner goes through it, so a test can drive time with a fake
// one (runnertest.Clock) rather than wait for it.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker that ticks every d, like time.NewTicker.
	NewTicker(d time.Duration) Ticker
}

// Ticker is a Clock's time.Ticker. (An alias of an unnamed interface, so
// that a fake clock need not import this package.)
type Ticker = interface {
	C() <-chan time.Time
	Stop()
}

type wallClock struct{}

func (wallClock) Now() time.Time                   { return time.Now() }
func (wallClock) NewTicker(d time.Duration) Ticker { return wallTicker{time.NewTicker(d)} }

type wallTicker struct{ t *time.Ticker }

func (w wallTicker) C() <-chan time.Time { return w.t.C }
func (w wallTicker) Stop()               { w.t.Stop() }

// Metrics are a job's counters (rows in and out, late records, dead
// letters, checkpoints...), updated atomically while it runs: make one
// with new(runner.Metrics), pass it in Options.Metrics and read it at any
// time.
type Metrics = graph.Metrics

// Options configure one run. The zero value runs a batch job with one task
// per stage and bad records counted as dead letters.
type Options struct {
	// Parallelism is the number of tasks of every stage (default 1).
	Parallelism int
	// MaxParallelism is the number of key groups (default 128, at most
	// MaxParallelismLimit). It bounds Parallelism.
	MaxParallelism int
	// Mode is Batch (default) or Stream.
	Mode Mode
	// PerfectWatermark holds every watermark at -∞ until the end of input,
	// then jumps to +∞: every record is on time. Batch mode only.
	PerfectWatermark bool
	// OnError is the bad-record policy (default DeadLetter).
	OnError ErrorPolicy
	// DeadLetters receives bad records under the DeadLetter policy. The
	// runner opens one writer for the job, serializes writes to it and
	// commits it when the job succeeds. Nil means bad records are counted
	// only.
	DeadLetters sdk.Sink[sdk.DeadLetter]
	// BatchSize is the number of rows a source reads at once and the size
	// at which exchange buffers are sent (default 1024).
	BatchSize int
	// NetworkWorkers, when above 1, places the tasks over that many
	// workers as a cluster would (task k of every stage on worker
	// k·NetworkWorkers/Parallelism: Flink's slot sharing) and sends every
	// batch, watermark, status, barrier and end between tasks on different
	// workers through the network exchange: one loopback TCP connection
	// per pair of workers, batches encoded with the generated codecs,
	// credit-based flow control (runner/netx). The workers are all in this
	// process, which stays the checkpoint coordinator. At most
	// Parallelism; 0 or 1 passes every batch by pointer.
	NetworkWorkers int
	// Cluster, when set, runs only this process's share of the job, over
	// several processes that connect to each other (see Cluster); every
	// process of the run gets the same options but for Cluster.Index and
	// Cluster.Listener. NetworkWorkers must be 0.
	Cluster *Cluster
	// Metrics receives the job's counters; callers may poll it while the
	// job runs. Nil means the runner makes its own.
	Metrics *Metrics
	// Clock is processing time (default the wall clock).
	Clock Clock
	// Stop, when closed, stops the job gracefully: sources close their
	// readers, what is in flight is processed, no final +∞ watermark is
	// given (windows not yet fired stay unfired), sinks commit everything
	// written so far, and Run returns nil. Closed while the job is being
	// set up (before any task starts), it ends Run at once with
	// Stats.StoppedBeforeStart: nothing read, nothing committed, no
	// savepoint. Cancelling Run's context instead aborts: nothing is
	// committed. Nil never stops.
	Stop <-chan struct{}
	// DiscoveryInterval is how often, in stream mode, the runner asks a
	// source that implements sdk.SplitDiscoverer for new splits (0 means
	// DefaultDiscoveryInterval; negative disables discovery).
	DiscoveryInterval time.Duration

	// CheckpointDir is the checkpoint store. When set, the job takes a
	// checkpoint every CheckpointInterval (barriers from the sources,
	// aligned at every task; keyed state snapshotted and uploaded
	// incrementally; sinks pre-committed, then committed when the
	// checkpoint is complete), and a job started with a completed
	// checkpoint in it resumes from the latest one. Empty: no checkpoints;
	// sinks commit once, at the end of the job (or on a graceful stop).
	CheckpointDir string
	// CheckpointInterval is the time between checkpoints (default 10 s).
	CheckpointInterval time.Duration
	// CheckpointRetain is how many completed checkpoints are kept
	// (default 3).
	CheckpointRetain int
	// SavepointDir, when set, makes a graceful stop (Options.Stop) write a
	// self-contained savepoint of the stopped job there, and so does each
	// request of Options.Savepoint. It must not be CheckpointDir, nor
	// inside it or around it.
	SavepointDir string
	// FromSavepoint restores the job from the savepoint in this directory
	// instead of from the latest checkpoint; the parallelism may differ
	// from the savepoint's (state is redistributed by key group).
	FromSavepoint string
	// ExistingOutput is what a job that starts fresh (nothing restored)
	// does with output an earlier run committed where its sinks write
	// (file directories; a Kafka topic is always appended to): by default
	// it refuses to start, with an *sdk.OutputExistsError, before
	// anything runs; sdk.OverwriteExisting replaces that output at the
	// job's first commit; sdk.AppendExisting adds to it. A job that
	// resumes writes on into its own output whatever this says.
	ExistingOutput sdk.ExistingOutput
	// StateDir holds the tasks' local state (Pebble instances); default a
	// fresh temporary directory, removed at the end.
	StateDir string
	// StateMemory is the job's budget of in-memory keyed state in bytes,
	// shared among its stateful operators; past it state is written back
	// to the (on-disk) state backend. 0 means unlimited.
	StateMemory int64
	// Logf receives one-line notes (checkpoint failures, restores); nil
	// means the standard logger.
	Logf func(format string, args ...any)
	// CommitCheckpoint, when set, is asked to accept each checkpoint of
	// CheckpointDir once its data is durable (every task acknowledged it
	// and every upload returned) and before its metadata is written, so
	// before it counts as complete in the store and before any sink
	// commits. An error fails the checkpoint exactly like a failed
	// metadata write: nothing is marked complete, no sink commits, the
	// failure is counted and logged, and the next checkpoint is tried (for
	// the job's last checkpoint, Run fails). Called from the
	// checkpointer's goroutine, one checkpoint at a time; ctx ends when
	// the job does. A savepoint is reported with the checkpoint it was
	// taken with (CheckpointReport.Savepoint); its metadata is written
	// just before the call. A cluster's job in worker mode uses it to have
	// the coordinator record the checkpoint before it counts.
	CommitCheckpoint func(ctx context.Context, r CheckpointReport) error
	// Savepoint asks for a savepoint of the running job each time a value
	// arrives: the next checkpoint (at once when none is in flight) is
	// also written, self-contained, to SavepointDir, and the job goes on
	// (Flink's savepoint without stop). Without SavepointDir, or once the
	// input has ended, a request is logged and ignored. Nil: none.
	Savepoint <-chan struct{}
}

// CheckpointReport is a checkpoint given to Options.CommitCheckpoint.
type CheckpointReport struct {
	// ID is the checkpoint's id, Path its directory in the checkpoint
	// store (CheckpointDir/chk-<id>).
	ID   uint64
	Path string
	// Watermark is the job's event time at the checkpoint: the lowest
	// watermark of the tasks when they took it (zero when unknown: no
	// watermark yet, or every input ended).
	Watermark time.Time
	// Savepoint is the directory of the savepoint taken with this
	// checkpoint (SavepointDir/chk-<id>: a stop's, or one asked for with
	// Options.Savepoint), or "".
	Savepoint string
	// Complete is the newest checkpoint of CheckpointDir known to be
	// complete (its metadata written) when this one is reported: the one
	// the job resumed from, or one this run completed; 0 for none. ID
	// itself is not complete yet when it is reported.
	Complete uint64
}

// Defaults and limits of Options, for the command lines that map flags
// onto them.
const (
	// DefaultParallelism is the number of tasks per stage when
	// Options.Parallelism is zero.
	DefaultParallelism = 1
	// DefaultMaxParallelism is the number of key groups when
	// Options.MaxParallelism is zero.
	DefaultMaxParallelism = base.DefaultMaxParallelism
	// MaxParallelismLimit is the largest MaxParallelism, and so
	// Parallelism, a job can have: the keyed state backend numbers key
	// groups in two bytes.
	MaxParallelismLimit = state.MaxKeyGroups
	// DefaultCheckpointInterval is the time between checkpoints.
	DefaultCheckpointInterval = 10 * time.Second
	// DefaultCheckpointRetain is the number of completed checkpoints kept.
	DefaultCheckpointRetain = checkpoint.DefaultRetain
)

// EnsureDefaults fills the zero fields of o with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Parallelism == 0 {
		o.Parallelism = DefaultParallelism
	}
	if o.MaxParallelism == 0 {
		o.MaxParallelism = DefaultMaxParallelism
	}
	if o.BatchSize == 0 {
		o.BatchSize = base.DefaultBatchSize
	}
	if o.Metrics == nil {
		o.Metrics = new(Metrics)
	}
	if o.Clock == nil {
		o.Clock = wallClock{}
	}
	if o.DiscoveryInterval == 0 {
		o.DiscoveryInterval = DefaultDiscoveryInterval
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.CheckpointRetain == 0 {
		o.CheckpointRetain = DefaultCheckpointRetain
	}
	if o.Logf == nil {
		o.Logf = log.Printf
	}
}

// Validate names the first bad field of o (after EnsureDefaults).
func (o *Options) Validate() error {
	switch {
	case o.Parallelism < 1:
		return fmt.Errorf("runner: Parallelism must be at least 1, got %d", o.Parallelism)
	case o.MaxParallelism < 1 || o.MaxParallelism > MaxParallelismLimit:
		return fmt.Errorf("runner: MaxParallelism %d out of range; use 1 to %d", o.MaxParallelism, MaxParallelismLimit)
	case o.Parallelism > o.MaxParallelism:
		return fmt.Errorf("runner: Parallelism %d exceeds MaxParallelism %d; lower Parallelism or raise MaxParallelism", o.Parallelism, o.MaxParallelism)
	case o.Mode != Batch && o.Mode != Stream:
		return fmt.Errorf("runner: unknown Mode %d", o.Mode)
	case o.PerfectWatermark && o.Mode != Batch:
		return fmt.Errorf("runner: PerfectWatermark is for batch mode only")
	case o.OnError > Fail:
		return fmt.Errorf("runner: unknown OnError policy %d", o.OnError)
	case o.BatchSize < 1:
		return fmt.Errorf("runner: BatchSize must be at least 1, got %d", o.BatchSize)
	case o.CheckpointInterval < 0:
		return fmt.Errorf("runner: CheckpointInterval must be positive, got %v", o.CheckpointInterval)
	case o.CheckpointRetain < 1:
		return fmt.Errorf("runner: CheckpointRetain must be at least 1, got %d", o.CheckpointRetain)
	case o.ExistingOutput > sdk.AppendExisting:
		return fmt.Errorf("runner: unknown ExistingOutput %d", o.ExistingOutput)
	case o.StateMemory < 0:
		return fmt.Errorf("runner: StateMemory must not be negative, got %d", o.StateMemory)
	case o.NetworkWorkers < 0 || o.NetworkWorkers > o.Parallelism:
		return fmt.Errorf("runner: NetworkWorkers %d out of range; use 0 to Parallelism (%d)", o.NetworkWorkers, o.Parallelism)
	case o.Cluster != nil && o.NetworkWorkers > 0:
		return fmt.Errorf("runner: NetworkWorkers and Cluster do not go together")
	}
	if o.Cluster != nil {
		if err := o.Cluster.validate(o.Parallelism); err != nil {
			return err
		}
	}
	if o.SavepointDir != "" && o.CheckpointDir != "" {
		if same, err := paths.Overlap(o.SavepointDir, o.CheckpointDir); err != nil {
			return fmt.Errorf("runner: SavepointDir %s: %w", o.SavepointDir, err)
		} else if same {
			return fmt.Errorf("runner: SavepointDir %s overlaps CheckpointDir %s; use two separate directories",
				o.SavepointDir, o.CheckpointDir)
		}
	}
	return nil
}
