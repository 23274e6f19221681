package state

import (
	"context"
	"fmt"
	"sync"

	"github.com/weirflow/weir/sdk"
)

// Collector is an sdk.Sink of per-key results for keys 0..n-1: committed
// results land in Values[key]; a key committed twice is counted in Dups.
// Writers stage rows at PreCommit and apply them at Commit, so only
// committed output is seen.
type Collector[R any] struct {
	mu     sync.Mutex
	values []R
	seen   []bool
	dups   int
	bad    int // keys outside 0..n-1
}

// NewCollector returns a Collector for keys 0..keys-1.
func NewCollector[R any](keys int64) *Collector[R] {
	return &Collector[R]{values: make([]R, keys), seen: make([]bool, keys)}
}

// Open opens a writer.
func (c *Collector[R]) Open(sdk.SinkContext) (sdk.CommittingSink[sdk.Result[int64, R]], error) {
	return &collectWriter[R]{c: c, staged: map[sdk.CheckpointID][]sdk.Result[int64, R]{}}, nil
}

// Results returns the committed values, whether each key was seen, and
// the number of duplicated and out-of-range keys.
func (c *Collector[R]) Results() (values []R, seen []bool, dups, bad int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.values, c.seen, c.dups, c.bad
}

type collectWriter[R any] struct {
	c       *Collector[R]
	pending []sdk.Result[int64, R]
	staged  map[sdk.CheckpointID][]sdk.Result[int64, R]
}

func (w *collectWriter[R]) Write(_ context.Context, b *sdk.Batch[sdk.Result[int64, R]]) error {
	w.pending = append(w.pending, b.Values...)
	return nil
}

func (w *collectWriter[R]) PreCommit(id sdk.CheckpointID) error {
	w.staged[id] = append(w.staged[id], w.pending...)
	w.pending = nil
	return nil
}

func (w *collectWriter[R]) Commit(id sdk.CheckpointID) error {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for sid, rs := range w.staged {
		if sid > id {
			continue
		}
		for _, r := range rs {
			switch {
			case r.Key < 0 || r.Key >= int64(len(c.values)):
				c.bad++
			case c.seen[r.Key]:
				c.dups++
			default:
				c.seen[r.Key] = true
				c.values[r.Key] = r.Value
			}
		}
		delete(w.staged, sid)
	}
	return nil
}

func (w *collectWriter[R]) Abort(id sdk.CheckpointID) error {
	delete(w.staged, id)
	return nil
}

func (w *collectWriter[R]) Close() error { return nil }

// checkSums compares a Collector of sums with the expected sums: nil, or
// one line naming the first difference.
func checkSums(c *Collector[int64], want []int64) error {
	got, seen, dups, bad := c.Results()
	missing, wrong, first := 0, 0, int64(-1)
	for k, w := range want {
		switch {
		case w == 0 && !seen[k]:
		case !seen[k]:
			missing++
		case got[k] != w:
			wrong++
			if first < 0 {
				first = int64(k)
			}
		}
	}
	if missing+wrong+dups+bad > 0 {
		msg := fmt.Sprintf("output differs from the independent computation: %d keys missing, %d wrong, %d duplicated, %d unknown", missing, wrong, dups, bad)
		if first >= 0 {
			msg += fmt.Sprintf(" (key %d: %d, want %d)", first, got[first], want[first])
		}
		return fmt.Errorf("state bench: %s", msg)
	}
	return nil
}

// checkFat compares a Collector of Fat results with the expected sums and
// counts.
func checkFat(c *Collector[FatOut], sum, count []int64) error {
	got, seen, dups, bad := c.Results()
	missing, wrong, corrupt, first := 0, 0, 0, int64(-1)
	for k := range sum {
		switch {
		case count[k] == 0 && !seen[k]:
		case !seen[k]:
			missing++
		case !got[k].OK:
			corrupt++
		case got[k].Sum != sum[k] || got[k].Count != count[k]:
			wrong++
			if first < 0 {
				first = int64(k)
			}
		}
	}
	if missing+wrong+corrupt+dups+bad > 0 {
		msg := fmt.Sprintf("output differs from the independent computation: %d keys missing, %d wrong, %d with a corrupt value, %d duplicated, %d unknown", missing, wrong, corrupt, dups, bad)
		if first >= 0 {
			msg += fmt.Sprintf(" (key %d: sum %d count %d, want %d %d)", first, got[first].Sum, got[first].Count, sum[first], count[first])
		}
		return fmt.Errorf("state bench: %s", msg)
	}
	return nil
}
