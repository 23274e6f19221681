package runner

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// countSource is an endless stream source of one split: the times 1µs,
// 2µs, ... up to n, then nothing. Its reader commits positions
// (sdk.PositionCommitter): committed records each one, and each position
// returned, in order.
type countSource struct {
	n         int
	mu        sync.Mutex
	positions []int // every position Position returned
	committed []int
}

type countSplit struct{}

func (countSplit) ID() string { return "count" }

func (s *countSource) Splits(context.Context) ([]sdk.Split, error) {
	return []sdk.Split{countSplit{}}, nil
}

func (s *countSource) Open(_ context.Context, _ sdk.Split, pos []byte) (sdk.SplitReader[ev], error) {
	r := &countReader{s: s}
	if len(pos) == 8 {
		r.next = int(binary.BigEndian.Uint64(pos))
	}
	return r, nil
}

type countReader struct {
	s    *countSource
	next int
}

func (r *countReader) ReadBatch(_ context.Context, b *sdk.Batch[ev], max int) ([]sdk.DeadLetter, error) {
	for i := 0; i < max && r.next < r.s.n; i++ {
		r.next++
		b.Values = append(b.Values, e("k", r.next, int64(r.next)))
	}
	return nil, nil
}

func (r *countReader) Position() []byte {
	r.s.mu.Lock()
	r.s.positions = append(r.s.positions, r.next)
	r.s.mu.Unlock()
	return binary.BigEndian.AppendUint64(nil, uint64(r.next))
}

func (r *countReader) CommitPosition(pos []byte) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.s.committed = append(r.s.committed, int(binary.BigEndian.Uint64(pos)))
}

func (r *countReader) Close() error { return nil }

// TestCommitPosition: a reader that commits positions is told, once each
// checkpoint has completed, the position it gave that checkpoint: never a
// position ahead of every completed checkpoint, in order, and at a stop
// the position of the stop's checkpoint, after every record.
func TestCommitPosition(t *testing.T) {
	src := &countSource{n: 500}
	p := sdk.NewPipeline()
	out := &runnertest.Sink[ev]{}
	sdk.Write(sdk.Read[ev](p, src, sdk.Timestamps(evTime)), out)
	stop := make(chan struct{})
	var st Stats
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		st, err = Run(t.Context(), p, Options{Mode: Stream, CheckpointDir: t.TempDir(), CheckpointInterval: 5 * time.Millisecond, Stop: stop, BatchSize: 16})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		src.mu.Lock()
		n := len(src.committed)
		last := 0
		if n > 0 {
			last = src.committed[n-1]
		}
		src.mu.Unlock()
		if last == src.n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s the committed positions reach %d of %d", last, src.n)
		}
		time.Sleep(time.Millisecond) // polling a condition with a deadline
	}
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Checkpoints) < 2 {
		t.Fatalf("%d checkpoints completed", len(st.Checkpoints))
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	given := map[int]bool{}
	for _, p := range src.positions {
		given[p] = true
	}
	for i, c := range src.committed {
		if !given[c] {
			t.Errorf("committed position %d was never given to a checkpoint", c)
		}
		if i > 0 && c < src.committed[i-1] {
			t.Errorf("committed positions go back: %v", src.committed)
			break
		}
	}
	if len(out.Values()) != src.n {
		t.Errorf("%d records written, want %d", len(out.Values()), src.n)
	}
}
