package iotest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/weirflow/weir/sdk"
)

// TestSinkRecover runs the recovery conformance suite of a sink that
// implements [sdk.RecoverableSink] and stages its output under checkpoint
// ids the way file sinks do. The case is as for [TestSink].
//
// It crashes runs of the sink (writers abandoned without Close, as by
// kill -9) and checks that Recover, called before the next run's writers
// open, commits what every task of the crashed run staged under ids <= the
// restored checkpoint and discards the rest, whatever the crashed run's
// parallelism (2 → 3 → 1 tasks); that running Recover twice changes
// nothing; that the new run's files never collide with the old run's
// (every record is read back exactly once); that a fresh start
// (checkpoint 0) discards everything a crashed run left uncommitted; and
// that a fresh start into committed output of an earlier run is refused
// with an [*sdk.OutputExistsError] (nothing changed), appended to, or
// overwritten (the old output visible until the first commit, replaced by
// it, also across a crash before it), while a resumed run keeps its own
// output whatever RecoverContext.Existing says.
func TestSinkRecover[T any](t *testing.T, c SinkCase[T]) {
	t.Helper()
	if len(c.Records) < 8 {
		t.Fatalf("iotest: SinkCase needs at least 8 records, got %d", len(c.Records))
	}
	eq := c.Equal
	if eq == nil {
		eq = func(a, b T) bool { return reflect.DeepEqual(a, b) }
	}
	n := len(c.Records)
	var p [8][]T
	for i := range p {
		p[i] = c.Records[n*i/8 : n*(i+1)/8]
	}
	cat := func(idx ...int) []T {
		var out []T
		for _, i := range idx {
			out = append(out, p[i]...)
		}
		return out
	}
	recoverable := func(t *testing.T, s sdk.Sink[T]) sdk.RecoverableSink {
		t.Helper()
		r, ok := s.(sdk.RecoverableSink)
		if !ok {
			t.Fatalf("iotest: %T does not implement sdk.RecoverableSink", s)
		}
		return r
	}
	recoverWith := func(t *testing.T, s sdk.Sink[T], ckpt sdk.CheckpointID, tasks int, e sdk.ExistingOutput) {
		t.Helper()
		rc := sdk.RecoverContext{Job: "iotest", Node: "sink", Checkpoint: ckpt, Tasks: tasks, Existing: e}
		if err := recoverable(t, s).Recover(context.Background(), rc); err != nil {
			t.Fatalf("Recover(%d, %v): %v", ckpt, e, err)
		}
	}
	recoverAt := func(t *testing.T, s sdk.Sink[T], ckpt sdk.CheckpointID, tasks int) {
		t.Helper()
		recoverWith(t, s, ckpt, tasks, sdk.RefuseExisting)
	}
	check := func(t *testing.T, read func() ([]T, error), step string, want []T) {
		t.Helper()
		got, err := read()
		if err != nil {
			t.Fatalf("%s: read output: %v", step, err)
		}
		if !sameMultiset(got, want, eq) {
			t.Fatalf("%s: %d records visible, want %d", step, len(got), len(want))
		}
	}

	t.Run("Rescale", func(t *testing.T) {
		sink, read := c.NewSink(t)
		recoverAt(t, sink, 0, 2)

		// Run A, 2 tasks: checkpoint 1 completes and is committed;
		// checkpoint 2 completes but only task 0 learns it; task 0 has
		// written more when the run dies.
		a0, a1 := openSink(t, sink, 0, 2), openSink(t, sink, 1, 2)
		write(t, a0, p[0])
		write(t, a1, p[1])
		must(t, "A PreCommit(1)", a0.PreCommit(1))
		must(t, "A PreCommit(1)", a1.PreCommit(1))
		must(t, "A Commit(1)", a0.Commit(1))
		must(t, "A Commit(1)", a1.Commit(1))
		write(t, a0, p[2])
		write(t, a1, p[3])
		must(t, "A PreCommit(2)", a0.PreCommit(2))
		must(t, "A PreCommit(2)", a1.PreCommit(2))
		must(t, "A Commit(2)", a0.Commit(2))
		write(t, a0, p[4]) // never pre-committed
		check(t, read, "after run A crashed", cat(0, 1, 2))

		// Run B, 3 tasks, restored from 2.
		recoverAt(t, sink, 2, 3)
		check(t, read, "after Recover(2)", cat(0, 1, 2, 3))
		recoverAt(t, sink, 2, 3)
		check(t, read, "after Recover(2) again", cat(0, 1, 2, 3))
		b := []sdk.CommittingSink[T]{openSink(t, sink, 0, 3), openSink(t, sink, 1, 3), openSink(t, sink, 2, 3)}
		for i, w := range b {
			write(t, w, p[4+i])
			must(t, "B PreCommit(3)", w.PreCommit(3))
		}
		must(t, "B Commit(3)", b[1].Commit(3))
		must(t, "B Commit(3)", b[2].Commit(3))
		write(t, b[1], p[7])
		must(t, "B PreCommit(4)", b[1].PreCommit(4)) // 4 never completes
		write(t, b[2], p[0])                         // never pre-committed
		check(t, read, "after run B crashed", cat(0, 1, 2, 3, 5, 6))

		// Run C, 1 task, restored from 3.
		recoverAt(t, sink, 3, 1)
		check(t, read, "after Recover(3)", cat(0, 1, 2, 3, 4, 5, 6))
		w := openSink(t, sink, 0, 1)
		write(t, w, p[7])
		must(t, "C PreCommit(4)", w.PreCommit(4))
		must(t, "C Commit(4)", w.Commit(4))
		must(t, "C Close", w.Close())
		check(t, read, "after run C", cat(0, 1, 2, 3, 4, 5, 6, 7))
		recoverAt(t, sink, 4, 1)
		check(t, read, "after Recover(4)", cat(0, 1, 2, 3, 4, 5, 6, 7))
	})

	t.Run("FreshStart", func(t *testing.T) {
		sink, read := c.NewSink(t)
		a0, a1 := openSink(t, sink, 0, 2), openSink(t, sink, 1, 2)
		write(t, a0, p[0])
		write(t, a1, p[1])
		must(t, "PreCommit(1)", a0.PreCommit(1))
		must(t, "PreCommit(1)", a1.PreCommit(1))
		write(t, a0, p[2])

		recoverAt(t, sink, 0, 1)
		check(t, read, "after Recover(0)", nil)
		w := openSink(t, sink, 0, 1)
		write(t, w, p[3])
		must(t, "PreCommit(1)", w.PreCommit(1))
		must(t, "Commit(1)", w.Commit(1))
		must(t, "Close", w.Close())
		recoverAt(t, sink, 1, 1)
		check(t, read, "after a new run", p[3])
	})

	t.Run("ExistingOutput", func(t *testing.T) {
		sink, read := c.NewSink(t)
		// Run A commits p0 and p1.
		recoverAt(t, sink, 0, 2)
		a0, a1 := openSink(t, sink, 0, 2), openSink(t, sink, 1, 2)
		write(t, a0, p[0])
		write(t, a1, p[1])
		for _, w := range []sdk.CommittingSink[T]{a0, a1} {
			must(t, "A PreCommit(1)", w.PreCommit(1))
			must(t, "A Commit(1)", w.Commit(1))
			must(t, "A Close", w.Close())
		}

		// A fresh start is refused, and changes nothing.
		rc := sdk.RecoverContext{Job: "iotest", Node: "sink", Tasks: 1}
		err := recoverable(t, sink).Recover(context.Background(), rc)
		var oe *sdk.OutputExistsError
		if !errors.As(err, &oe) {
			t.Fatalf("fresh Recover into committed output: %v, want an *sdk.OutputExistsError", err)
		}
		check(t, read, "after a refused start", cat(0, 1))

		// Run B appends p2.
		recoverWith(t, sink, 0, 1, sdk.AppendExisting)
		b := openSink(t, sink, 0, 1)
		write(t, b, p[2])
		must(t, "B PreCommit(1)", b.PreCommit(1))
		must(t, "B Commit(1)", b.Commit(1))
		must(t, "B Close", b.Close())
		check(t, read, "after run B appended", cat(0, 1, 2))

		// Run C overwrites: the old output stays until checkpoint 1
		// commits; C crashes after it completed, before any commit.
		recoverWith(t, sink, 0, 2, sdk.OverwriteExisting)
		c0, c1 := openSink(t, sink, 0, 2), openSink(t, sink, 1, 2)
		write(t, c0, p[3])
		write(t, c1, p[4])
		must(t, "C PreCommit(1)", c0.PreCommit(1))
		must(t, "C PreCommit(1)", c1.PreCommit(1))
		check(t, read, "before run C committed", cat(0, 1, 2))

		// Run D resumes C from 1 with overwrite still on: C's output
		// replaces the old one, and D's is added to it.
		recoverWith(t, sink, 1, 1, sdk.OverwriteExisting)
		check(t, read, "after run D recovered", cat(3, 4))
		d := openSink(t, sink, 0, 1)
		write(t, d, p[5])
		must(t, "D PreCommit(2)", d.PreCommit(2))
		must(t, "D Commit(2)", d.Commit(2))
		must(t, "D Close", d.Close())
		recoverWith(t, sink, 2, 1, sdk.OverwriteExisting)
		check(t, read, "after run D", cat(3, 4, 5))

		// Run E overwrites with two writers: the first commit replaces
		// the old output, the second adds to the new.
		recoverWith(t, sink, 0, 2, sdk.OverwriteExisting)
		e0, e1 := openSink(t, sink, 0, 2), openSink(t, sink, 1, 2)
		write(t, e0, p[6])
		write(t, e1, p[7])
		must(t, "E PreCommit(1)", e0.PreCommit(1))
		must(t, "E PreCommit(1)", e1.PreCommit(1))
		must(t, "E Commit(1)", e0.Commit(1))
		check(t, read, "after run E's first commit", cat(6))
		must(t, "E Commit(1)", e1.Commit(1))
		must(t, "E Close", e0.Close())
		must(t, "E Close", e1.Close())
		check(t, read, "after run E", cat(6, 7))
	})
}
