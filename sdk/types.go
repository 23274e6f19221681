package sdk

import (
	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// Timestamp is an event time in microseconds since the Unix epoch (UTC).
type Timestamp = base.Timestamp

// Batch is a group of rows with their event times, the unit data moves in.
type Batch[T any] = base.Batch[T]

// NewBatch returns an empty batch with room for n rows.
func NewBatch[T any](n int) *Batch[T] { return base.NewBatch[T](n) }

// DeadLetter is a bad record with the reason and its source position.
type DeadLetter = base.DeadLetter

// Window is an event-time interval [Start, End).
type Window = base.Window

// CheckpointID numbers the checkpoints of a job.
type CheckpointID = base.CheckpointID

// Split is an independently readable part of a source.
type Split = graph.Split

// SplitStats is implemented by splits that know their row count and minimum
// event time without being read (Parquet footers). The runner uses it for
// progress and to hold the watermark for splits not yet started.
type SplitStats = graph.SplitStats

// ErrEndOfSplit is returned by a [SplitReader] at the end of its split.
var ErrEndOfSplit = graph.ErrEndOfSplit

// MinTimestamp and MaxTimestamp bound event time.
const (
	MinTimestamp = base.MinTimestamp
	MaxTimestamp = base.MaxTimestamp
)

// Result is the output of a keyed, windowed aggregation: one row per key,
// window and firing. Its event time is the window's last microsecond.
type Result[K comparable, V any] = base.Result[K, V]

// Pane describes which firing of a window produced a [Result]: Index counts
// firings from 0, Late marks a re-firing caused by late data.
type Pane = base.Pane
