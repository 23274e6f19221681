package kafka

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/sdk"
)

// reader reads one split through its Source's shared consumer. It is used
// by one goroutine at a time.
type reader[T any] struct {
	src    *Source[T]
	c      *consumer
	p      *partition
	tp     Split
	decode func(*kgo.Record, *T) error
	reason string // the dead-letter reason's prefix: "json: " or "decode: "
	next   int64  // offset after the last record returned
	end    int64  // bounded end offset, or -1
	where  string
	recs   []*kgo.Record // scratch for take
	got    []*kgo.Record // the records of the values the last ReadBatch appended
	idle   uint64        // the consumer's idleGen when ReadBatch last returned
	closed bool
}

// ReadBatch appends what is buffered for the split, up to max records
// (dead letters included). With nothing buffered it waits at most
// PollTimeout, less if records arrive for other splits of the source, and
// not at all if a poll of the source found nothing for a whole PollTimeout
// since this split was last read; then it returns no records and no error. A bounded split returns
// sdk.ErrEndOfSplit once its end offset is reached.
func (r *reader[T]) ReadBatch(ctx context.Context, b *sdk.Batch[T], max int) ([]sdk.DeadLetter, error) {
	if r.closed {
		return nil, errors.New("kafka: read of a closed split")
	}
	if r.end >= 0 && r.next >= r.end {
		return nil, sdk.ErrEndOfSplit
	}
	if max <= 0 {
		return nil, nil
	}
	defer func() { r.idle = r.c.idleGen() }()
	deadline := time.Now().Add(r.c.opts.PollTimeout)
	var atEnd, last bool
	for {
		var err error
		r.recs, atEnd, err = r.c.take(r.tp, r.p, r.recs[:0], max, r.end)
		if err != nil {
			return nil, err
		}
		if len(r.recs) > 0 || atEnd {
			break
		}
		if last || r.c.idleGen() != r.idle {
			// Someone waited a whole PollTimeout in vain since this split
			// was last read: a task going round its idle splits waits
			// once per round, not once per split.
			return nil, nil
		}
		res, err := r.c.wait(ctx, r.p, deadline)
		if err != nil {
			return nil, err
		}
		switch res {
		case waitTimeout:
			return nil, nil
		case waitOther:
			// Other splits have records now: let the caller read them
			// rather than wait here.
			last = true
		}
	}
	var dead []sdk.DeadLetter
	clear(r.got)
	r.got = r.got[:0]
	for i, rec := range r.recs {
		r.recs[i] = nil
		r.next = rec.Offset + 1
		if rec.Attrs.IsControl() {
			continue
		}
		var zero T
		b.Values = append(b.Values, zero)
		if err := r.decode(rec, &b.Values[len(b.Values)-1]); err != nil {
			b.Values = b.Values[:len(b.Values)-1]
			dead = append(dead, sdk.DeadLetter{
				Record: rec.Value,
				Reason: r.reason + err.Error(),
				Source: r.where + strconv.FormatInt(rec.Offset, 10),
			})
		} else {
			r.got = append(r.got, rec)
		}
	}
	if atEnd {
		// Nothing below the end is left: the offsets in between were
		// aborted or compacted away.
		r.next = max64(r.next, r.end)
	}
	if r.end >= 0 && r.next >= r.end {
		return dead, sdk.ErrEndOfSplit
	}
	return dead, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// DescribeRecord returns the value and "kafka topic/partition offset N"
// of the i-th value the last ReadBatch appended, for the dead letters the
// runner makes (a missing event time).
func (r *reader[T]) DescribeRecord(i int, _ *T) ([]byte, string) {
	if i < 0 || i >= len(r.got) {
		return nil, strings.TrimSuffix(r.where, " offset ")
	}
	return r.got[i].Value, r.where + strconv.FormatInt(r.got[i].Offset, 10)
}

// Position is the next offset to read (and the end of a bounded split).
func (r *reader[T]) Position() []byte { return encodePos(r.next, r.end, r.end >= 0) }

// CommitPosition commits the offset pos (a completed checkpoint's) resumes
// from to the source's consumer group, if it has one.
func (r *reader[T]) CommitPosition(pos []byte) {
	if next, _, _, err := decodePos(pos); err == nil && !r.closed {
		r.c.commitCheckpointed(r.tp, next)
	}
}

// Close stops reading the split; the shared client closes with the last
// open split of its Source.
func (r *reader[T]) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.c.unassign(r.tp, r.end >= 0 && r.next >= r.end)
	r.src.release(r.c)
	return nil
}
