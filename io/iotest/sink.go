package iotest

import (
	"context"
	"reflect"
	"testing"

	"github.com/weirflow/weir/sdk"
)

// SinkCase describes a sink under test.
type SinkCase[T any] struct {
	// Sink is the sink under test; each run of the suite needs an empty
	// output, so NewSink is called once per subtest.
	NewSink func(t *testing.T) (sdk.Sink[T], func() ([]T, error))
	// Records are written by the suite; at least 8.
	Records []T
	// Equal compares records; nil means reflect.DeepEqual.
	Equal func(a, b T) bool
}

// TestSink runs the sink conformance suite. NewSink returns the sink and a
// function that reads everything a reader of the output sees (committed
// output only); that function must fail on a partial or corrupt file, so
// that "no partial file is ever visible" is checked at every step.
//
// It checks: nothing is visible before Commit and everything after;
// Commit is idempotent; Abort discards; Close discards uncommitted output;
// a writer opened after a crash commits what the crashed one pre-committed
// under a completed checkpoint and discards what it staged under one that
// never completed; two tasks write side by side.
func TestSink[T any](t *testing.T, c SinkCase[T]) {
	t.Helper()
	if len(c.Records) < 8 {
		t.Fatalf("iotest: SinkCase needs at least 8 records, got %d", len(c.Records))
	}
	eq := c.Equal
	if eq == nil {
		eq = func(a, b T) bool { return reflect.DeepEqual(a, b) }
	}
	n := len(c.Records)
	q := [][]T{c.Records[:n/4], c.Records[n/4 : n/2], c.Records[n/2 : 3*n/4], c.Records[3*n/4:]}
	cat := func(parts ...[]T) []T {
		var out []T
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	t.Run("CommitProtocol", func(t *testing.T) {
		sink, read := c.NewSink(t)
		w := openSink(t, sink, 0, 1)
		check := func(step string, want []T) {
			t.Helper()
			got, err := read()
			if err != nil {
				t.Fatalf("%s: read output: %v", step, err)
			}
			if !sameMultiset(got, want, eq) {
				t.Fatalf("%s: %d records visible, want %d", step, len(got), len(want))
			}
		}
		write(t, w, q[0])
		check("after Write", nil)
		must(t, "PreCommit(1)", w.PreCommit(1))
		check("after PreCommit(1)", nil)
		must(t, "Commit(1)", w.Commit(1))
		check("after Commit(1)", q[0])
		must(t, "Commit(1) again", w.Commit(1))
		check("after Commit(1) again", q[0])

		write(t, w, q[1])
		must(t, "PreCommit(2)", w.PreCommit(2))
		must(t, "Abort(2)", w.Abort(2))
		must(t, "Commit(2)", w.Commit(2))
		check("after Abort(2), Commit(2)", q[0])

		// Checkpoint 3 completes but the task dies before Commit.
		write(t, w, q[2])
		must(t, "PreCommit(3)", w.PreCommit(3))
		must(t, "Close", w.Close())
		check("after crash", q[0])

		// Restore from 3: the new writer commits 3, then checkpoint 4 is
		// pre-committed and the task dies again before 4 completes.
		w = openSink(t, sink, 0, 1)
		must(t, "Commit(3) after restart", w.Commit(3))
		check("after Commit(3) by a new writer", cat(q[0], q[2]))
		write(t, w, q[3])
		must(t, "PreCommit(4)", w.PreCommit(4))
		write(t, w, q[1]) // written after 4, never pre-committed
		must(t, "Close", w.Close())

		// Restore from 3 again: 4 never completed, its output must go.
		w = openSink(t, sink, 0, 1)
		must(t, "Commit(3) after second restart", w.Commit(3))
		check("after second restart", cat(q[0], q[2]))
		write(t, w, q[3])
		must(t, "PreCommit(4)", w.PreCommit(4))
		must(t, "PreCommit(5)", w.PreCommit(5)) // nothing new: no empty file
		must(t, "Commit(5)", w.Commit(5))
		check("after Commit(5)", cat(q[0], q[2], q[3]))
		write(t, w, q[1])
		must(t, "Close", w.Close())
		check("after Close with uncommitted output", cat(q[0], q[2], q[3]))
	})

	t.Run("TwoTasks", func(t *testing.T) {
		sink, read := c.NewSink(t)
		w0 := openSink(t, sink, 0, 2)
		w1 := openSink(t, sink, 1, 2)
		write(t, w0, q[0])
		write(t, w1, q[1])
		must(t, "PreCommit", w0.PreCommit(1))
		must(t, "PreCommit", w1.PreCommit(1))
		must(t, "Commit", w1.Commit(1))
		write(t, w0, q[2])
		must(t, "Commit", w0.Commit(1))
		must(t, "PreCommit", w0.PreCommit(2))
		must(t, "Commit", w0.Commit(2))
		must(t, "Close", w0.Close())
		must(t, "Close", w1.Close())
		got, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if want := cat(q[0], q[1], q[2]); !sameMultiset(got, want, eq) {
			t.Fatalf("%d records visible, want %d", len(got), len(want))
		}
	})
}

func openSink[T any](t *testing.T, s sdk.Sink[T], task, tasks int) sdk.CommittingSink[T] {
	t.Helper()
	w, err := s.Open(sdk.SinkContext{Context: context.Background(), Job: "iotest", Node: "sink", Task: task, Tasks: tasks})
	if err != nil {
		t.Fatalf("open sink task %d: %v", task, err)
	}
	return w
}

// write writes rows in batches of 3 so that writes cross batch boundaries.
func write[T any](t *testing.T, w sdk.CommittingSink[T], rows []T) {
	t.Helper()
	for i := 0; i < len(rows); i += 3 {
		j := min(i+3, len(rows))
		b := sdk.NewBatch[T](j - i)
		b.Values = append(b.Values, rows[i:j]...)
		b.Times = append(b.Times, make([]sdk.Timestamp, j-i)...)
		if err := w.Write(context.Background(), b); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sameMultiset reports whether a and b hold the same records, in any order.
func sameMultiset[T any](a, b []T, eq func(a, b T) bool) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
outer:
	for _, x := range a {
		for j, y := range b {
			if !used[j] && eq(x, y) {
				used[j] = true
				continue outer
			}
		}
		return false
	}
	return true
}
