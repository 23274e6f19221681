package ops

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// Reader is the typed split reader a connector provides (sdk.SplitReader).
type Reader[T any] interface {
	ReadBatch(ctx context.Context, b *base.Batch[T], max int) ([]base.DeadLetter, error)
	Position() []byte
	Close() error
}

// SourceConfig is everything the typed source adapter needs.
type SourceConfig[T any] struct {
	Splits func(ctx context.Context) ([]graph.Split, error)
	Open   func(ctx context.Context, s graph.Split, pos []byte) (Reader[T], error)
	// EventTime reads a record's event time; ok=false means it is missing.
	EventTime func(v *T) (base.Timestamp, bool)
	// TimeField names the event-time field in dead-letter reasons.
	TimeField  string
	Watermarks graph.WatermarkSpec
	// Discover, when set, lists the current splits including new ones; the
	// source then implements graph.Discoverer.
	Discover func(ctx context.Context) ([]graph.Split, error)
}

type source[T any] struct{ cfg SourceConfig[T] }

// discoverSource is a source whose splits can grow.
type discoverSource[T any] struct{ *source[T] }

func (s discoverSource[T]) Discover(ctx context.Context) ([]graph.Split, error) {
	return s.cfg.Discover(ctx)
}

// NewSource adapts a typed source to graph.Source. With cfg.Discover set the
// result also implements graph.Discoverer.
func NewSource[T any](cfg SourceConfig[T]) graph.Source {
	s := &source[T]{cfg}
	if cfg.Discover != nil {
		return discoverSource[T]{s}
	}
	return s
}

func (s *source[T]) Splits(ctx context.Context) ([]graph.Split, error) {
	if s.cfg.Splits == nil {
		return nil, errors.New("ops: source has no splits function")
	}
	return s.cfg.Splits(ctx)
}

func (s *source[T]) Watermarks() graph.WatermarkSpec { return s.cfg.Watermarks }

// Open opens split sp at pos, a value earlier returned by the reader's
// Position (nil for the start). The position carries, besides the
// connector's own, the largest event time seen in the split and the number
// of records read, so marks and dead-letter positions continue exactly
// where they were.
func (s *source[T]) Open(ctx context.Context, sp graph.Split, pos []byte) (graph.Reader, error) {
	max, n, inner := base.MinTimestamp, int64(0), []byte(nil)
	if pos != nil {
		var err error
		if max, n, inner, err = decodePosition(pos); err != nil {
			return nil, fmt.Errorf("split %s: %w", sp.ID(), err)
		}
	}
	r, err := s.cfg.Open(ctx, sp, inner)
	if err != nil {
		return nil, err
	}
	rd := &reader[T]{r: r, cfg: &s.cfg, split: sp.ID(), buf: base.NewBatch[T](base.DefaultBatchSize),
		bound: s.cfg.Watermarks.Bound.Microseconds() + 1, max: base.MinTimestamp, mark: base.MinTimestamp, n: n}
	if max != base.MinTimestamp {
		rd.max = max
		rd.mark = markAfter(max, rd.bound)
	}
	return rd, nil
}

// positionVersion starts every position the adapter returns.
const positionVersion = 1

// encodePosition wraps a connector's position with the split's largest
// event time so far and its count of records.
func encodePosition(max base.Timestamp, n int64, inner []byte) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(inner))
	b = append(b, positionVersion)
	b = binary.AppendVarint(b, int64(max))
	b = binary.AppendUvarint(b, uint64(n))
	return append(b, inner...)
}

func decodePosition(pos []byte) (max base.Timestamp, n int64, inner []byte, err error) {
	if len(pos) == 0 || pos[0] != positionVersion {
		return 0, 0, nil, fmt.Errorf("bad saved position %x", pos)
	}
	m, k := binary.Varint(pos[1:])
	if k <= 0 {
		return 0, 0, nil, fmt.Errorf("bad saved position %x", pos)
	}
	c, k2 := binary.Uvarint(pos[1+k:])
	if k2 <= 0 {
		return 0, 0, nil, fmt.Errorf("bad saved position %x", pos)
	}
	inner = pos[1+k+k2:]
	if len(inner) == 0 {
		inner = nil
	}
	return base.Timestamp(m), int64(c), inner, nil
}

// markAfter is the mark of the record after one at max: max − bound,
// saturating at the ends.
func markAfter(max base.Timestamp, bound int64) base.Timestamp {
	if max < base.MinTimestamp+base.Timestamp(bound) || max == base.MaxTimestamp {
		return max.AddMicros(-bound)
	}
	return max - base.Timestamp(bound)
}

// recordDescriber is implemented by a split reader that can describe a
// record it returned, for the dead letters the adapter makes itself (a
// missing or out-of-range event time): i indexes the values the last
// ReadBatch appended and v is that value; record is the raw record (the
// JSON line, the Kafka value, a JSON rendering of a Parquet row) and
// source its position ("in.jsonl line 7"), as in the reader's own dead
// letters. It is called before the next ReadBatch.
type recordDescriber[T any] interface {
	DescribeRecord(i int, v *T) (record []byte, source string)
}

// deadRecord is the dead letter of record i of the last batch.
func (r *reader[T]) deadRecord(i int, v *T, reason string) base.DeadLetter {
	if d, ok := r.r.(recordDescriber[T]); ok {
		rec, src := d.DescribeRecord(i, v)
		return base.DeadLetter{Record: rec, Reason: reason, Source: src}
	}
	return base.DeadLetter{Reason: reason, Source: fmt.Sprintf("%s record %d", r.split, r.n+int64(i))}
}

// reader adapts one split's typed reader. It stamps every record with its
// event time and its mark: the split's watermark just before it (max event
// time seen earlier in the split − bound − 1µs, MinTimestamp for the
// first), see base.Batch.
type reader[T any] struct {
	r     Reader[T]
	cfg   *SourceConfig[T]
	split string
	buf   *base.Batch[T]
	n     int64          // records returned so far, for dead-letter positions
	bound int64          // µs, plus the 1µs
	max   base.Timestamp // largest event time returned so far
	mark  base.Timestamp // max − bound (saturating): the next record's mark
}

func (r *reader[T]) Read(ctx context.Context, max int) (graph.ReadResult, error) {
	b := r.buf
	b.Reset()
	dead, err := r.r.ReadBatch(ctx, b, max)
	if err != nil && !errors.Is(err, graph.ErrEndOfSplit) {
		return graph.ReadResult{}, err
	}
	res := graph.ReadResult{Dead: dead, MaxTime: base.MinTimestamp}
	et := r.cfg.EventTime
	n := len(b.Values)
	// Columns written by index, not appended: this loop is per row.
	times := slices.Grow(b.Times[:0], n)[:n]
	marks := slices.Grow(b.Marks[:0], n)[:n]
	seen, mark, bmax := r.max, r.mark, base.MinTimestamp
	bound := base.Timestamp(r.bound)
	lo := base.MinTimestamp + bound // below it, ts − bound would wrap
	keep := 0
	for i := range b.Values {
		ts, ok := et(&b.Values[i])
		if !ok || ts < base.MinEventTime || ts > base.MaxEventTime {
			reason := fmt.Sprintf("missing event time (%s)", r.cfg.TimeField)
			if ok {
				reason = fmt.Sprintf("event time (%s) %s is outside %s", r.cfg.TimeField, eventTimeString(ts), base.EventTimeRange)
			}
			res.Dead = append(res.Dead, r.deadRecord(i, &b.Values[i], reason))
			continue
		}
		if keep != i {
			b.Values[keep] = b.Values[i]
		}
		times[keep], marks[keep] = ts, mark
		if ts > seen {
			seen, mark = ts, ts-bound
			if ts < lo || ts == base.MaxTimestamp {
				mark = ts.AddMicros(-r.bound) // saturate
			}
		}
		if ts > bmax {
			bmax = ts
		}
		keep++
	}
	r.max, r.mark, res.MaxTime = seen, mark, bmax
	r.n += int64(n)
	clear(b.Values[keep:])
	b.Values, b.Times, b.Marks = b.Values[:keep], times[:keep], marks[:keep]
	res.Batch, res.N = b, keep
	return res, err
}

// Position is the connector's position wrapped with the split's largest
// event time and record count (see Open).
func (r *reader[T]) Position() []byte { return encodePosition(r.max, r.n, r.r.Position()) }

// MaxEventTime is the largest event time read from the split so far,
// restored positions included; the runner seeds the split's watermark
// with it.
func (r *reader[T]) MaxEventTime() (base.Timestamp, bool) {
	return r.max, r.max != base.MinTimestamp
}
func (r *reader[T]) Close() error { return r.r.Close() }

// CommitPosition hands the connector's part of pos to its reader, when
// the reader commits positions (graph.PositionCommitter).
func (r *reader[T]) CommitPosition(pos []byte) {
	pc, ok := r.r.(graph.PositionCommitter)
	if !ok {
		return
	}
	if _, _, inner, err := decodePosition(pos); err == nil {
		pc.CommitPosition(inner)
	}
}

// eventTimeString formats an out-of-range event time: RFC 3339, with the
// year's sign and digits as they come.
func eventTimeString(ts base.Timestamp) string {
	switch ts {
	case base.MinTimestamp, base.MaxTimestamp:
		return "beyond ±292,000 years"
	}
	return ts.Time().Format("2006-01-02T15:04:05.999999Z07:00")
}
