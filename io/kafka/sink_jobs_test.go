package kafka_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/sdk"
)

// jobSink is an exactly-once sink of job name job on brokers.
type jobSink struct {
	t    *testing.T
	s    *kafka.Sink[txn]
	job  string
	w    sdk.CommittingSink[txn]
	last []byte // committable of the last pre-committed checkpoint
}

func (j *jobSink) recover(ckpt sdk.CheckpointID, cs ...[]byte) {
	j.t.Helper()
	err := j.s.Recover(context.Background(), sdk.RecoverContext{Job: j.job, Node: eoNode, Checkpoint: ckpt, Committables: cs, Tasks: 1})
	ok(j.t, j.job+": Recover", err)
}

func (j *jobSink) open() {
	j.t.Helper()
	w, err := j.s.Open(sdk.SinkContext{Context: context.Background(), Job: j.job, Node: eoNode, Task: 0, Tasks: 1})
	ok(j.t, j.job+": Open", err)
	j.w = w
}

func (j *jobSink) checkpoint(id sdk.CheckpointID, from, to int, commit bool) {
	j.t.Helper()
	eoWrite(j.t, j.w, from, to)
	ok(j.t, fmt.Sprintf("%s: PreCommit(%d)", j.job, id), j.w.PreCommit(id))
	j.last = committable(j.t, j.w, id)
	if commit {
		ok(j.t, fmt.Sprintf("%s: Commit(%d)", j.job, id), j.w.Commit(id))
	}
}

// TestSinkExactlyOnceTwoJobs: two jobs with different names write
// exactly once to one broker, each starting (Recover, Open) and completing
// checkpoints while the other has transactions open, staged or parked:
// neither fences the other, and every record of both is committed once.
// A third job then resumes from a checkpoint of the first under its own
// name while the first goes on: it commits that checkpoint's transactions
// but aborts nothing of the first job.
func TestSinkExactlyOnceTwoJobs(t *testing.T) {
	for _, bv := range brokerVersions {
		t.Run(bv.name, func(t *testing.T) {
			brokers := eoCluster(t, bv.max)
			a := &jobSink{t: t, s: eoSink(brokers), job: "fraud-a"}
			b := &jobSink{t: t, s: eoSink(brokers), job: "fraud-b"}
			a.recover(0)
			a.open()
			a.checkpoint(1, 0, 10, true)
			a.checkpoint(2, 10, 20, false) // staged
			eoWrite(t, a.w, 20, 30)        // open

			b.recover(0) // must not abort a's open transactions
			b.open()
			b.checkpoint(1, 1000, 1010, false)
			a.checkpoint(3, 30, 40, false) // 2 failed: 2 and 3 staged
			eoWrite(t, a.w, 40, 50)        // a parks 2
			ok(t, "a: Commit(3)", a.w.Commit(3))
			b.checkpoint(2, 1010, 1020, true)
			a.checkpoint(4, 50, 60, true)
			wantCommitted(t, brokers, seq([2]int{0, 60}, [2]int{1000, 1020}))

			// b crashes with a transaction open and restarts from 2
			// while a has a checkpoint staged.
			eoWrite(t, b.w, 1020, 1030)
			ok(t, "b: crash", kafka.Crash(b.w))
			a.checkpoint(5, 60, 70, false)
			b = &jobSink{t: t, s: eoSink(brokers), job: "fraud-b", last: b.last}
			b.recover(2, b.last)
			b.open()
			ok(t, "a: Commit(5)", a.w.Commit(5))
			b.checkpoint(3, 1030, 1040, true)

			// c resumes from a's checkpoint 6 under its own name while
			// a goes on (a copy of a's checkpoint, say).
			a.checkpoint(6, 70, 80, false)
			c6 := a.last
			eoWrite(t, a.w, 80, 90)
			c := &jobSink{t: t, s: eoSink(brokers), job: "fraud-c"}
			c.recover(6, c6)
			c.open()
			c.checkpoint(7, 2000, 2010, true)
			ok(t, "a: Commit(6) after c committed it", a.w.Commit(6))
			a.checkpoint(7, 90, 100, true)
			for _, j := range []*jobSink{a, b, c} {
				ok(t, j.job+": Close", j.w.Close())
			}
			wantCommitted(t, brokers, seq([2]int{0, 100}, [2]int{1000, 1020}, [2]int{1030, 1040}, [2]int{2000, 2010}))
		})
	}
}
