package runnertest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/weirflow/weir/sdk"
)

// Stream is an unbounded in-memory sdk.Source whose splits a test feeds,
// ends and adds to while a job runs. Split i has ID "stream-00i". It
// implements sdk.SplitDiscoverer: splits added with [Stream.AddSplit] are
// listed by Discover (and by Splits, for a job started later).
//
// A reader returns what was appended and not yet read; when nothing is, it
// waits up to PollTimeout for records (or ctx) and returns none, like a
// Kafka reader. After [Stream.End] it returns sdk.ErrEndOfSplit once its
// records are read.
type Stream[T any] struct {
	// PollTimeout is how long a read waits for records (default 5ms).
	PollTimeout time.Duration

	mu struct {
		sync.Mutex
		splits []*streamSplit[T]
		wake   chan struct{} // closed and replaced on every change
	}
}

type streamSplit[T any] struct {
	data  []T
	ended bool
	read  int // records returned by readers
	polls int // reads asked for
}

// NewStream returns a Stream with n empty splits.
func NewStream[T any](n int) *Stream[T] {
	s := &Stream[T]{}
	s.mu.wake = make(chan struct{})
	for range n {
		s.mu.splits = append(s.mu.splits, &streamSplit[T]{})
	}
	return s
}

func streamID(i int) string { return fmt.Sprintf("stream-%03d", i) }

// changed wakes waiting readers; s.mu is held.
func (s *Stream[T]) changed() {
	close(s.mu.wake)
	s.mu.wake = make(chan struct{})
}

// Append adds records to split i.
func (s *Stream[T]) Append(i int, vs ...T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.splits[i].data = append(s.mu.splits[i].data, vs...)
	s.changed()
}

// End marks split i as ended: its reader ends once it has read everything.
func (s *Stream[T]) End(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.splits[i].ended = true
	s.changed()
}

// EndAll ends every split.
func (s *Stream[T]) EndAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range s.mu.splits {
		sp.ended = true
	}
	s.changed()
}

// AddSplit adds a split holding vs and returns its index.
func (s *Stream[T]) AddSplit(vs ...T) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.splits = append(s.mu.splits, &streamSplit[T]{data: vs})
	s.changed()
	return len(s.mu.splits) - 1
}

// Read reports how many records of split i readers have returned.
func (s *Stream[T]) Read(i int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.splits[i].read
}

// Polled returns how many reads of split i were asked for, records or
// not: once it is positive, a reader has the split open.
func (s *Stream[T]) Polled(i int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.splits[i].polls
}

// Splits lists the current splits.
func (s *Stream[T]) Splits(context.Context) ([]sdk.Split, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]sdk.Split, len(s.mu.splits))
	for i := range out {
		out[i] = split{streamID(i)}
	}
	return out, nil
}

// Discover lists the current splits, including those added since the start.
func (s *Stream[T]) Discover(ctx context.Context) ([]sdk.Split, error) { return s.Splits(ctx) }

// Open reads split sp from pos, a record number.
func (s *Stream[T]) Open(_ context.Context, sp sdk.Split, pos []byte) (sdk.SplitReader[T], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.mu.splits {
		if streamID(i) != sp.ID() {
			continue
		}
		r := &streamReader[T]{s: s, i: i}
		if pos != nil {
			n, err := strconv.Atoi(string(pos))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("runnertest: bad position %q", pos)
			}
			r.row = n
		}
		return r, nil
	}
	return nil, fmt.Errorf("runnertest: no split %s", sp.ID())
}

type streamReader[T any] struct {
	s      *Stream[T]
	i      int
	row    int
	closed bool
}

func (r *streamReader[T]) ReadBatch(ctx context.Context, b *sdk.Batch[T], max int) ([]sdk.DeadLetter, error) {
	if r.closed {
		return nil, fmt.Errorf("runnertest: read after close")
	}
	poll := r.s.PollTimeout
	if poll <= 0 {
		poll = 5 * time.Millisecond
	}
	var timer *time.Timer
	r.s.mu.Lock()
	r.s.mu.splits[r.i].polls++
	r.s.mu.Unlock()
	for {
		r.s.mu.Lock()
		sp := r.s.mu.splits[r.i]
		if n := min(max, len(sp.data)-r.row); n > 0 {
			b.Values = append(b.Values, sp.data[r.row:r.row+n]...)
			r.row += n
			sp.read += n
			end := sp.ended && r.row == len(sp.data)
			r.s.mu.Unlock()
			if end {
				return nil, sdk.ErrEndOfSplit
			}
			return nil, nil
		}
		if sp.ended {
			r.s.mu.Unlock()
			return nil, sdk.ErrEndOfSplit
		}
		wake := r.s.mu.wake
		r.s.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(poll)
			defer timer.Stop()
		}
		select {
		case <-wake:
		case <-timer.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (r *streamReader[T]) Position() []byte { return strconv.AppendInt(nil, int64(r.row), 10) }

func (r *streamReader[T]) Close() error {
	r.closed = true
	return nil
}
