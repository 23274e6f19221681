package iotest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/weirflow/weir/sdk"
)

// SourceCase describes a source under test and what it must yield.
type SourceCase[T any] struct {
	// Source is the source under test.
	Source sdk.Source[T]
	// Want is every good record, in split order then record order.
	Want []T
	// WantDead is the number of dead letters the whole source yields.
	WantDead int
	// Equal compares records; nil means reflect.DeepEqual.
	Equal func(a, b T) bool
	// BatchSize is the max passed to ReadBatch; 0 means 7 (small, so that
	// batches end mid-page and mid-split).
	BatchSize int
}

// Chunk is what one split yielded.
type Chunk[T any] struct {
	Split sdk.Split
	Rows  []T
	Dead  []sdk.DeadLetter
}

// ReadAll reads every split of src from the beginning, max records per call.
func ReadAll[T any](ctx context.Context, src sdk.Source[T], max int) ([]Chunk[T], error) {
	splits, err := src.Splits(ctx)
	if err != nil {
		return nil, err
	}
	var out []Chunk[T]
	for _, s := range splits {
		rows, dead, _, err := ReadSplit(ctx, src, s, nil, max)
		if err != nil {
			return nil, err
		}
		out = append(out, Chunk[T]{Split: s, Rows: rows, Dead: dead})
	}
	return out, nil
}

// ReadSplit reads split s from pos to its end, max records per ReadBatch.
// positions holds the reader's Position before the first ReadBatch and after
// every ReadBatch but the last, with the counts of rows and dead letters
// returned by then.
func ReadSplit[T any](ctx context.Context, src sdk.Source[T], s sdk.Split, pos []byte, max int) (rows []T, dead []sdk.DeadLetter, positions []Position, err error) {
	r, err := src.Open(ctx, s, pos)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open %s: %w", s.ID(), err)
	}
	defer r.Close()
	b := sdk.NewBatch[T](max)
	positions = append(positions, Position{0, 0, slices.Clone(r.Position())})
	for i := 0; ; i++ {
		if i > 1<<24 {
			return nil, nil, nil, fmt.Errorf("split %s: no end after %d batches", s.ID(), i)
		}
		b.Reset()
		d, err := r.ReadBatch(ctx, b, max)
		if len(b.Values) > max {
			return nil, nil, nil, fmt.Errorf("split %s: ReadBatch returned %d records, max %d", s.ID(), len(b.Values), max)
		}
		rows = append(rows, b.Values...)
		dead = append(dead, d...)
		end := errors.Is(err, sdk.ErrEndOfSplit)
		if err != nil && !end {
			return nil, nil, nil, fmt.Errorf("split %s: %w", s.ID(), err)
		}
		if end {
			return rows, dead, positions, nil
		}
		positions = append(positions, Position{len(rows), len(dead), slices.Clone(r.Position())})
	}
}

// Position is a reader position saved after Rows records and Dead dead
// letters of a split were returned.
type Position struct {
	Rows, Dead int
	Pos        []byte
}

// TestSource runs the source conformance suite: every split read in full
// gives exactly Want and WantDead dead letters; splits are listed stably
// with unique IDs; resuming from any saved position gives exactly the rest
// of the split; dead letters name a reason and a source.
func TestSource[T any](t *testing.T, c SourceCase[T]) {
	t.Helper()
	ctx := context.Background()
	max := c.BatchSize
	if max <= 0 {
		max = 7
	}
	eq := c.Equal
	if eq == nil {
		eq = func(a, b T) bool { return reflect.DeepEqual(a, b) }
	}
	t.Run("ReadAll", func(t *testing.T) {
		chunks, err := ReadAll(ctx, c.Source, max)
		if err != nil {
			t.Fatal(err)
		}
		var got []T
		var dead []sdk.DeadLetter
		for _, ch := range chunks {
			got = append(got, ch.Rows...)
			dead = append(dead, ch.Dead...)
		}
		diffRows(t, got, c.Want, eq)
		if len(dead) != c.WantDead {
			t.Errorf("got %d dead letters, want %d: %v", len(dead), c.WantDead, dead)
		}
		for _, d := range dead {
			if d.Reason == "" || d.Source == "" {
				t.Errorf("dead letter without reason or source: %+v", d)
			}
		}
	})
	t.Run("StableSplits", func(t *testing.T) {
		a, err := c.Source.Splits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Source.Splits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		if len(a) != len(b) {
			t.Fatalf("Splits gave %d then %d splits", len(a), len(b))
		}
		for i := range a {
			if a[i].ID() != b[i].ID() {
				t.Errorf("split %d: ID %q then %q", i, a[i].ID(), b[i].ID())
			}
			if seen[a[i].ID()] {
				t.Errorf("duplicate split ID %q", a[i].ID())
			}
			seen[a[i].ID()] = true
		}
	})
	t.Run("Resume", func(t *testing.T) {
		splits, err := c.Source.Splits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range splits {
			rows, dead, positions, err := ReadSplit(ctx, c.Source, s, nil, max)
			if err != nil {
				t.Fatal(err)
			}
			// Every saved position, but at most ~20 per split.
			step := max1(len(positions) / 20)
			for i := 0; i < len(positions); i += step {
				p := positions[i]
				rest, restDead, _, err := ReadSplit(ctx, c.Source, s, p.Pos, max)
				if err != nil {
					t.Fatalf("resume %s at %d rows: %v", s.ID(), p.Rows, err)
				}
				if !sameRows(rest, rows[p.Rows:], eq) {
					t.Errorf("resume %s after %d rows: got %d rows, want the %d that follow", s.ID(), p.Rows, len(rest), len(rows)-p.Rows)
				}
				if len(restDead) != len(dead)-p.Dead {
					t.Errorf("resume %s after %d rows: got %d dead letters, want %d", s.ID(), p.Rows, len(restDead), len(dead)-p.Dead)
				}
			}
		}
	})
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

func sameRows[T any](a, b []T, eq func(a, b T) bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !eq(a[i], b[i]) {
			return false
		}
	}
	return true
}

func diffRows[T any](t *testing.T, got, want []T, eq func(a, b T) bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d records, want %d", len(got), len(want))
	}
	bad := 0
	for i := range min(len(got), len(want)) {
		if !eq(got[i], want[i]) {
			t.Errorf("record %d: got %+v, want %+v", i, got[i], want[i])
			if bad++; bad >= 5 {
				return
			}
		}
	}
}
