package base

import (
	"math"
	"strconv"
	"time"
)

// Timestamp is an event time in microseconds since the Unix epoch (UTC).
type Timestamp int64

const (
	// MinTimestamp is the smallest timestamp: a watermark that holds everything back.
	MinTimestamp Timestamp = math.MinInt64
	// MaxTimestamp is the largest timestamp: the final watermark of a bounded input.
	MaxTimestamp Timestamp = math.MaxInt64
)

// The range of event times a record may have: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999Z, the years RFC 3339 and the JSON codec
// write with four digits. A source dead-letters a record whose event time
// lies outside; window bounds computed from event times may lie a window
// beyond.
const (
	MinEventTime Timestamp = -62135596800_000000
	MaxEventTime Timestamp = 253402300799_999999
)

// EventTimeRange describes [MinEventTime, MaxEventTime] for error messages.
const EventTimeRange = "0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z"

// FromTime converts t to a Timestamp, truncating below a microsecond. A
// time beyond the microseconds an int64 holds (about 292,000 years from
// 1970) saturates at MinTimestamp or MaxTimestamp. The zero time.Time maps
// to MinEventTime; callers that treat the zero time as "missing" must
// check t.IsZero themselves.
func FromTime(t time.Time) Timestamp {
	s, us := t.Unix(), int64(t.Nanosecond()/1000)
	if s > math.MinInt64/1_000_000 && s < math.MaxInt64/1_000_000 {
		return Timestamp(s*1_000_000 + us)
	}
	return fromTimeEdge(s, us)
}

// fromTimeEdge is FromTime for the seconds at and beyond the ends.
//
//go:noinline
func fromTimeEdge(s, us int64) Timestamp {
	const lo, hi = math.MinInt64/1_000_000 - 1, math.MaxInt64 / 1_000_000
	switch {
	case s > hi, s == hi && us > math.MaxInt64-hi*1_000_000:
		return MaxTimestamp
	case s < lo, s == lo && us-1_000_000 < math.MinInt64-(lo+1)*1_000_000:
		return MinTimestamp
	case s == lo:
		return Timestamp((s+1)*1_000_000 + us - 1_000_000)
	}
	return Timestamp(s*1_000_000 + us)
}

// Time returns t as a UTC time.Time.
func (t Timestamp) Time() time.Time {
	us := int64(t)
	s := us / 1_000_000
	r := us % 1_000_000
	if r < 0 {
		r += 1_000_000
		s--
	}
	return time.Unix(s, r*1000).UTC()
}

// String formats t as RFC 3339 with microseconds, or as -inf/+inf.
func (t Timestamp) String() string {
	switch t {
	case MinTimestamp:
		return "-inf"
	case MaxTimestamp:
		return "+inf"
	}
	return t.Time().Format("2006-01-02T15:04:05.999999Z07:00")
}

// Add returns t+d saturating at MinTimestamp and MaxTimestamp.
func (t Timestamp) Add(d time.Duration) Timestamp {
	return t.AddMicros(d.Microseconds())
}

// AddMicros returns t+us, saturating at the bounds instead of overflowing.
func (t Timestamp) AddMicros(us int64) Timestamp {
	if t == MinTimestamp || t == MaxTimestamp {
		return t
	}
	r := int64(t) + us
	if us > 0 && r < int64(t) {
		return MaxTimestamp
	}
	if us < 0 && r > int64(t) {
		return MinTimestamp
	}
	return Timestamp(r)
}

// Min returns the smaller of a and b.
func Min(a, b Timestamp) Timestamp {
	if a < b {
		return a
	}
	return b
}

// Max returns the larger of a and b.
func Max(a, b Timestamp) Timestamp {
	if a > b {
		return a
	}
	return b
}

// FloorDiv returns floor(a/b) for b > 0, correct for negative a.
func FloorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}

// KeyGroup is the unit of keyed-state partitioning: hash(key) mod maxParallelism.
type KeyGroup uint32

// DefaultMaxParallelism is the number of key groups when none is configured.
const DefaultMaxParallelism = 128

// KeyGroupOf maps a key hash to its key group.
func KeyGroupOf(hash uint64, maxParallelism int) KeyGroup {
	return KeyGroup(hash % uint64(maxParallelism))
}

// TaskOf returns the task index in [0, parallelism) that owns key group kg.
// Key groups are assigned to tasks by contiguous ranges, as in Flink, so that
// changing parallelism moves whole ranges of state.
func TaskOf(kg KeyGroup, parallelism, maxParallelism int) int {
	return int(kg) * parallelism / maxParallelism
}

// KeyGroupRange returns the half-open range [start, end) of key groups owned
// by task of parallelism tasks.
func KeyGroupRange(task, parallelism, maxParallelism int) (start, end KeyGroup) {
	s := (task*maxParallelism + parallelism - 1) / parallelism
	e := ((task+1)*maxParallelism + parallelism - 1) / parallelism
	return KeyGroup(s), KeyGroup(e)
}

// CheckpointID numbers checkpoints of one job, starting at 1.
type CheckpointID uint64

// ExistingOutput is what a job that starts fresh (nothing restored) does
// with output an earlier run committed where it writes (sdk.ExistingOutput).
type ExistingOutput uint8

const (
	// RefuseExisting fails the start (the zero value).
	RefuseExisting ExistingOutput = iota
	// OverwriteExisting replaces the earlier output at the first commit.
	OverwriteExisting
	// AppendExisting adds to it.
	AppendExisting
)

// String is the option's name: refuse, overwrite or append.
func (e ExistingOutput) String() string {
	switch e {
	case RefuseExisting:
		return "refuse"
	case OverwriteExisting:
		return "overwrite"
	case AppendExisting:
		return "append"
	}
	return "ExistingOutput(" + strconv.Itoa(int(e)) + ")"
}
