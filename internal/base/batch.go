package base

import "time"

// DefaultBatchSize is the number of rows a source reads per batch.
const DefaultBatchSize = 1024

// Batch is the unit of data movement: values with their event timestamps
// beside them. Times[i] is the event time of Values[i]; the two slices always
// have the same length.
//
// A batch handed to a chained operator is borrowed: the callee must copy what
// it keeps. A batch sent through an exchange is owned by the receiver.
type Batch[T any] struct {
	Values []T
	Times  []Timestamp
}

// NewBatch returns an empty batch with room for n rows.
func NewBatch[T any](n int) *Batch[T] {
	return &Batch[T]{Values: make([]T, 0, n), Times: make([]Timestamp, 0, n)}
}

// Len returns the number of rows in b.
func (b *Batch[T]) Len() int { return len(b.Values) }

// Append adds one row.
func (b *Batch[T]) Append(v T, ts Timestamp) {
	b.Values = append(b.Values, v)
	b.Times = append(b.Times, ts)
}

// Reset empties b, keeping its capacity.
func (b *Batch[T]) Reset() {
	clear(b.Values) // drop references held by the old rows
	b.Values = b.Values[:0]
	b.Times = b.Times[:0]
}

// DeadLetter is a record that could not be processed, with the reason and
// where it came from. Dead letters are values routed to a side output and
// counted; they never fail a job unless the error policy says so.
type DeadLetter struct {
	// Record is the raw record as far as it could be read (JSON line, Kafka
	// value, or a description of the Parquet row); may be empty.
	Record []byte `json:"record,omitempty"`
	// Reason says what was wrong, in one line.
	Reason string `json:"reason"`
	// Source names where the record came from: "data/a.parquet row 1234",
	// "in.jsonl line 7", "kafka txns/3 offset 99".
	Source string `json:"source"`
}

// Window is an event-time interval [Start, End).
type Window struct {
	Start Timestamp
	End   Timestamp
}

// MaxTimestamp is the last timestamp inside w: End-1µs. A window fires when
// the watermark reaches it.
func (w Window) MaxTimestamp() Timestamp {
	if w.End == MaxTimestamp {
		return MaxTimestamp
	}
	return w.End - 1
}

// StartTime returns Start as a time.Time.
func (w Window) StartTime() time.Time { return w.Start.Time() }

// EndTime returns End as a time.Time.
func (w Window) EndTime() time.Time { return w.End.Time() }

// Intersects reports whether w and o overlap or touch (used to merge sessions).
func (w Window) Intersects(o Window) bool { return w.Start <= o.End && o.Start <= w.End }

// Cover returns the smallest window containing w and o.
func (w Window) Cover(o Window) Window { return Window{Min(w.Start, o.Start), Max(w.End, o.End)} }

// String formats w as [start, end).
func (w Window) String() string { return "[" + w.Start.String() + ", " + w.End.String() + ")" }

// Result is the output of a keyed, windowed aggregation: one row per key,
// window and firing.
type Result[K comparable, V any] struct {
	Key    K
	Window Window
	Value  V
	Pane   Pane
}

// Pane describes which firing of a window produced a Result.
type Pane struct {
	// Index counts the firings of this key and window, from 0.
	Index int
	// Late is true for a re-firing caused by late data within the allowed lateness.
	Late bool
}
