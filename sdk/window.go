package sdk

import (
	"time"

	"github.com/weirflow/weir/internal/ops"
)

// WindowFn says how records are assigned to event-time windows. Make one
// with [Tumbling], [Sliding], [Session] or [Global].
type WindowFn struct{ spec ops.WindowSpec }

// Tumbling assigns each record to the one window of the given size that
// contains it: start = floor((ts - offset) / size) * size + offset.
func Tumbling(size time.Duration) WindowFn {
	return WindowFn{ops.WindowSpec{Kind: ops.WindowTumbling, Size: size.Microseconds(), Slide: size.Microseconds()}}
}

// Sliding assigns each record to the size/slide overlapping windows of the
// given size that start every slide.
func Sliding(size, slide time.Duration) WindowFn {
	return WindowFn{ops.WindowSpec{Kind: ops.WindowSliding, Size: size.Microseconds(), Slide: slide.Microseconds()}}
}

// Session groups the records of a key into sessions separated by at least
// gap of inactivity; a session is [first, last+gap) and sessions that come
// to overlap are merged.
func Session(gap time.Duration) WindowFn {
	return WindowFn{ops.WindowSpec{Kind: ops.WindowSession, Gap: gap.Microseconds()}}
}

// Global puts every record of a key in one window that fires at the end of
// bounded input.
func Global() WindowFn { return WindowFn{ops.WindowSpec{Kind: ops.WindowGlobal}} }

// WithOffset shifts tumbling or sliding window boundaries by d, for example
// to align daily windows to a time zone.
func (w WindowFn) WithOffset(d time.Duration) WindowFn {
	w.spec.Offset = d.Microseconds()
	return w
}

// String describes the window function.
func (w WindowFn) String() string { return w.spec.String() }
