package base

import "time"

// DefaultBatchSize is the number of rows a source reads per batch.
const DefaultBatchSize = 1024

// Batch is the unit of data movement: values with their event timestamps
// beside them. Times[i] is the event time of Values[i]; the two slices always
// have the same length.
//
// Marks is an optional third column: Marks[i] is the watermark of Values[i]'s
// own split just before it (max event time seen earlier in that split −
// bound − 1µs; MinTimestamp for a split's first record). Windowed operators
// judge lateness against it, so that lateness depends only on the order of
// records within a split, never on batching, parallelism or thread timing.
// Marks is either empty (marks absent: operators fall back to their own
// watermark) or as long as Values; [Batch.Marked] tells which. A
// MinTimestamp mark carries no information. Operators that keep a record's
// event time keep its mark; results of a windowed aggregation carry none.
//
// A batch handed to a chained operator is borrowed: the callee must copy what
// it keeps. A batch sent through an exchange is owned by the receiver.
type Batch[T any] struct {
	Values []T
	Times  []Timestamp
	Marks  []Timestamp
}

// NewBatch returns an empty batch with room for n rows. Marks gets its
// room on first use.
func NewBatch[T any](n int) *Batch[T] {
	return &Batch[T]{Values: make([]T, 0, n), Times: make([]Timestamp, 0, n)}
}

// Len returns the number of rows in b.
func (b *Batch[T]) Len() int { return len(b.Values) }

// Marked reports whether b carries marks (len(Marks) == len(Values); an
// empty batch counts as marked).
func (b *Batch[T]) Marked() bool { return len(b.Marks) == len(b.Values) }

// Append adds one row without a mark. If b already carries marks for
// earlier rows, the new row gets MinTimestamp (no information), so that the
// columns stay aligned.
func (b *Batch[T]) Append(v T, ts Timestamp) {
	if len(b.Marks) != 0 {
		b.Marks = append(b.Marks, MinTimestamp)
	}
	b.Values = append(b.Values, v)
	b.Times = append(b.Times, ts)
}

// AppendMarked adds one row with its mark. Earlier rows without a mark get
// MinTimestamp.
func (b *Batch[T]) AppendMarked(v T, ts, mark Timestamp) {
	b.padMarks()
	b.Values = append(b.Values, v)
	b.Times = append(b.Times, ts)
	b.Marks = append(b.Marks, mark)
}

// AppendBatch appends all rows of src, keeping the mark column aligned: if
// either side carries marks, rows without one get MinTimestamp.
func (b *Batch[T]) AppendBatch(src *Batch[T]) {
	b.Marks = AppendMarks(b.Marks, len(b.Values), src.Marks, len(src.Values))
	b.Values = append(b.Values, src.Values...)
	b.Times = append(b.Times, src.Times...)
}

// NewLike returns an empty batch of b's type with room for n rows, for code
// that copies batches without knowing their element type (the runner's
// exchanges).
func (b *Batch[T]) NewLike(n int) any { return NewBatch[T](n) }

// AppendTo appends b's rows to dst, a batch made by [Batch.NewLike], as
// [Batch.AppendBatch] does.
func (b *Batch[T]) AppendTo(dst any) { dst.(*Batch[T]).AppendBatch(b) }

// AppendMarks returns the mark column of a batch of dstRows rows (marks
// dst) after appending a batch of srcRows rows (marks src), by the rule of
// [Batch.AppendBatch]. It serves code that copies batches without knowing
// their element type.
func AppendMarks(dst []Timestamp, dstRows int, src []Timestamp, srcRows int) []Timestamp {
	switch {
	case srcRows == 0:
	case len(src) == srcRows:
		for len(dst) < dstRows {
			dst = append(dst, MinTimestamp)
		}
		dst = append(dst, src...)
	case len(dst) != 0:
		for range srcRows {
			dst = append(dst, MinTimestamp)
		}
	}
	return dst
}

// DropMarks makes marks absent, so that operators judge every row against
// their own watermark alone.
func (b *Batch[T]) DropMarks() { b.Marks = b.Marks[:0] }

// padMarks gives every row of b without a mark MinTimestamp.
func (b *Batch[T]) padMarks() {
	for len(b.Marks) < len(b.Values) {
		b.Marks = append(b.Marks, MinTimestamp)
	}
}

// Reset empties b, keeping its capacity; marks become absent until the
// next row with a mark.
func (b *Batch[T]) Reset() {
	clear(b.Values) // drop references held by the old rows
	b.Values = b.Values[:0]
	b.Times = b.Times[:0]
	b.Marks = b.Marks[:0]
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
	// Input is the name of the pipeline's input (its Read transform,
	// sdk.Named) a record that could not be read came from, so that a
	// pipeline with several inputs says which; empty for records a
	// transform refused.
	Input string `json:"input,omitempty"`
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
