package runnertest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/sdk"
)

// Source is an in-memory sdk.Source: Data[i] is the content of split i,
// whose ID is "split-000", "split-001", ...
type Source[T any] struct {
	Data [][]T
	// EventTime, with Stats, gives the splits statistics: Rows and
	// MinEventTime (the smallest EventTime of the split's good records).
	EventTime func(T) time.Time
	Stats     bool
	// Bad, when set, rejects a record with a non-empty reason: it is
	// returned as a dead letter from "split-000 row 3".
	Bad func(T) string
	// ReadSize caps the records returned per read (default: as many as
	// asked).
	ReadSize int
	// Endless makes every split start over at its end, forever.
	Endless bool
	// ReadErr, when set, is called before each read; an error fails it.
	ReadErr func(split string, row int) error
	// Pause, when set, is called before each read (after ReadErr); true
	// makes the read return no records, as an unbounded split with
	// nothing new does, so a test can hold a source back while its task
	// goes on answering checkpoints.
	Pause func(split string, row int) bool
}

type split struct{ id string }

func (s split) ID() string { return s.id }

type statSplit struct {
	split
	rows   int64
	min    base.Timestamp
	hasMin bool
}

func (s statSplit) Rows() int64 { return s.rows }

func (s statSplit) MinEventTime() (base.Timestamp, bool) { return s.min, s.hasMin }

func splitID(i int) string { return fmt.Sprintf("split-%03d", i) }

// Splits lists one split per element of Data.
func (s *Source[T]) Splits(context.Context) ([]sdk.Split, error) {
	out := make([]sdk.Split, len(s.Data))
	for i, d := range s.Data {
		sp := split{splitID(i)}
		if !s.Stats {
			out[i] = sp
			continue
		}
		st := statSplit{split: sp, rows: int64(len(d))}
		for _, v := range d {
			if s.EventTime == nil || (s.Bad != nil && s.Bad(v) != "") {
				continue
			}
			t := s.EventTime(v)
			if t.IsZero() {
				continue
			}
			if ts := base.FromTime(t); !st.hasMin || ts < st.min {
				st.min, st.hasMin = ts, true
			}
		}
		out[i] = st
	}
	return out, nil
}

// Open reads split sp from pos, a row number.
func (s *Source[T]) Open(_ context.Context, sp sdk.Split, pos []byte) (sdk.SplitReader[T], error) {
	for i := range s.Data {
		if splitID(i) != sp.ID() {
			continue
		}
		r := &reader[T]{src: s, id: sp.ID(), data: s.Data[i]}
		if pos != nil {
			n, err := strconv.Atoi(string(pos))
			if err != nil || n < 0 || n > len(r.data) {
				return nil, fmt.Errorf("runnertest: bad position %q", pos)
			}
			r.row = n
		}
		return r, nil
	}
	return nil, fmt.Errorf("runnertest: no split %s", sp.ID())
}

type reader[T any] struct {
	src    *Source[T]
	id     string
	data   []T
	row    int
	closed bool
}

func (r *reader[T]) ReadBatch(ctx context.Context, b *sdk.Batch[T], max int) ([]sdk.DeadLetter, error) {
	if r.closed {
		return nil, errors.New("runnertest: read after close")
	}
	if f := r.src.ReadErr; f != nil {
		if err := f(r.id, r.row); err != nil {
			return nil, err
		}
	}
	if f := r.src.Pause; f != nil && f(r.id, r.row) {
		return nil, nil
	}
	if n := r.src.ReadSize; n > 0 && n < max {
		max = n
	}
	if r.src.Bad == nil && !r.src.Endless {
		n := min(max, len(r.data)-r.row)
		b.Values = append(b.Values, r.data[r.row:r.row+n]...)
		r.row += n
		if r.row == len(r.data) {
			return nil, sdk.ErrEndOfSplit
		}
		return nil, nil
	}
	var dead []sdk.DeadLetter
	for k := 0; k < max; k++ {
		if r.row == len(r.data) {
			if !r.src.Endless || len(r.data) == 0 {
				return dead, sdk.ErrEndOfSplit
			}
			r.row = 0
		}
		v := r.data[r.row]
		if r.src.Bad != nil {
			if reason := r.src.Bad(v); reason != "" {
				dead = append(dead, sdk.DeadLetter{
					Record: fmt.Appendf(nil, "%v", v),
					Reason: reason,
					Source: fmt.Sprintf("%s row %d", r.id, r.row),
				})
				r.row++
				continue
			}
		}
		b.Values = append(b.Values, v)
		r.row++
	}
	if r.row == len(r.data) && !r.src.Endless {
		return dead, sdk.ErrEndOfSplit
	}
	return dead, nil
}

func (r *reader[T]) Position() []byte { return strconv.AppendInt(nil, int64(r.row), 10) }

func (r *reader[T]) Close() error {
	r.closed = true
	return nil
}
