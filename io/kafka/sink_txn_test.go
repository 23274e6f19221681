package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/sdk"
)

const eoJob, eoNode = "job", "out"

func eoSink(brokers []string) *kafka.Sink[txn] {
	return kafka.NewSink(kafka.SinkOptions[txn]{
		Brokers:            brokers,
		Topic:              "out",
		ExactlyOnce:        true,
		ConnectTimeout:     5 * time.Second,
		TransactionTimeout: time.Minute,
	})
}

func eoOpen(t *testing.T, s *kafka.Sink[txn], task, tasks int) sdk.CommittingSink[txn] {
	t.Helper()
	w, err := s.Open(sdk.SinkContext{Context: context.Background(), Job: eoJob, Node: eoNode, Task: task, Tasks: tasks})
	if err != nil {
		t.Fatalf("open task %d: %v", task, err)
	}
	return w
}

func eoRecover(t *testing.T, s *kafka.Sink[txn], ckpt sdk.CheckpointID, tasks int, cs ...[]byte) {
	t.Helper()
	err := s.Recover(context.Background(), sdk.RecoverContext{Job: eoJob, Node: eoNode, Checkpoint: ckpt, Committables: cs, Tasks: tasks})
	if err != nil {
		t.Fatalf("recover %d: %v", ckpt, err)
	}
}

// eoWrite writes mkTxn(i) for i in [from, to).
func eoWrite(t *testing.T, w sdk.CommittingSink[txn], from, to int) {
	t.Helper()
	b := sdk.NewBatch[txn](to - from)
	for i := from; i < to; i++ {
		v := mkTxn(i)
		b.Append(v, sdk.Timestamp(v.At.UnixMicro()))
	}
	if err := w.Write(context.Background(), b); err != nil {
		t.Fatalf("write %d..%d: %v", from, to, err)
	}
}

func committable(t *testing.T, w sdk.CommittingSink[txn], id sdk.CheckpointID) []byte {
	t.Helper()
	cw, ok := w.(sdk.CommittableWriter)
	if !ok {
		t.Fatal("exactly-once writer is not an sdk.CommittableWriter")
	}
	b, err := cw.Committable(id)
	if err != nil {
		t.Fatalf("committable %d: %v", id, err)
	}
	return b
}

func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func seq(ranges ...[2]int) []int {
	var out []int
	for _, r := range ranges {
		for i := r[0]; i < r[1]; i++ {
			out = append(out, i)
		}
	}
	return out
}

var sentinels atomic.Int64

// readCommitted returns the indexes of the records a read_committed
// consumer sees in topic out, sorted, failing on a duplicate. It first
// appends a sentinel record outside any transaction to each of the
// topic's partitions (1 unless given) and reads until it has seen them
// all, so it also fails when an open transaction holds the last stable
// offset of a partition back.
func readCommitted(t *testing.T, brokers []string, partitions ...int32) []int {
	t.Helper()
	ctx := context.Background()
	mark := fmt.Sprintf("sentinel-%d", sentinels.Add(1))
	parts := int32(1)
	if len(partitions) > 0 {
		parts = partitions[0]
	}
	p := producer(t, brokers)
	for part := range parts {
		produce(t, p, "out", part, js(txn{UserID: mark}))
	}
	marks := int32(0)
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics("out"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []int
	seen := map[int]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for marks < parts {
		pctx, cancel := context.WithDeadline(ctx, deadline)
		fs := cl.PollFetches(pctx)
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("sentinel not visible after 10 s (an open transaction holds read_committed back?); read %v", got)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var v txn
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("value %q: %v", r.Value, err)
			}
			if strings.HasPrefix(v.UserID, "sentinel-") {
				if v.UserID == mark {
					marks++
				}
				return
			}
			i := int(v.Amount / 10)
			if seen[i] {
				t.Errorf("record %d read twice", i)
			}
			seen[i] = true
			got = append(got, i)
		})
	}
	slices.Sort(got)
	return got
}

func wantCommitted(t *testing.T, brokers []string, want []int) {
	t.Helper()
	if got := readCommitted(t, brokers); !slices.Equal(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}
}

// TestSinkExactlyOnceRestore crashes a writer after checkpoint 2 was
// pre-committed (and, in one case, committed) with records of checkpoint
// 3 in an open transaction, restores from 2, crashes again before 3
// completes, and restores from 2 once more.
func TestSinkExactlyOnceRestore(t *testing.T) {
	for _, committed := range []bool{false, true} {
		t.Run(fmt.Sprintf("committed=%v", committed), func(t *testing.T) {
			brokers := cluster(t, 1, "out")
			s := eoSink(brokers)
			eoRecover(t, s, 0, 1)
			w := eoOpen(t, s, 0, 1)
			eoWrite(t, w, 0, 10)
			ok(t, "PreCommit(1)", w.PreCommit(1))
			if c := committable(t, w, 1); len(c) == 0 {
				t.Fatal("no committable for checkpoint 1")
			}
			ok(t, "Commit(1)", w.Commit(1))
			wantCommitted(t, brokers, seq([2]int{0, 10}))

			eoWrite(t, w, 10, 20)
			ok(t, "PreCommit(2)", w.PreCommit(2))
			c2 := committable(t, w, 2)
			if committed {
				ok(t, "Commit(2)", w.Commit(2))
			}
			eoWrite(t, w, 20, 30) // checkpoint 3's transaction, never pre-committed
			ok(t, "crash", kafka.Crash(w))

			// Restart from 2 in a new process: commit 2, abort 3.
			s = eoSink(brokers)
			eoRecover(t, s, 2, 1, c2)
			wantCommitted(t, brokers, seq([2]int{0, 20}))
			eoRecover(t, s, 2, 1, c2) // a crash during Recover: run again
			wantCommitted(t, brokers, seq([2]int{0, 20}))

			// The new run pre-commits 3 and crashes before it completes.
			w = eoOpen(t, s, 0, 1)
			ok(t, "Commit(2) after restart", w.Commit(2))
			eoWrite(t, w, 30, 40)
			ok(t, "PreCommit(3)", w.PreCommit(3))
			_ = committable(t, w, 3)
			eoWrite(t, w, 40, 45)
			ok(t, "crash", kafka.Crash(w))

			// Restore from 2 again: its transaction was committed and
			// the id re-initialized since; Recover must accept that.
			s = eoSink(brokers)
			eoRecover(t, s, 2, 1, c2)
			wantCommitted(t, brokers, seq([2]int{0, 20}))
			w = eoOpen(t, s, 0, 1)
			eoWrite(t, w, 30, 40)
			ok(t, "PreCommit(3)", w.PreCommit(3))
			ok(t, "Commit(3)", w.Commit(3))
			ok(t, "Close", w.Close())
			wantCommitted(t, brokers, seq([2]int{0, 20}, [2]int{30, 40}))
		})
	}
}

// TestSinkExactlyOncePartitions: one transaction spans the partitions
// that keyed records go to.
func TestSinkExactlyOncePartitions(t *testing.T) {
	brokers := cluster(t, 3, "out")
	s := kafka.NewSink(kafka.SinkOptions[txn]{
		Brokers:     brokers,
		Topic:       "out",
		Key:         func(v *txn) []byte { return []byte(v.UserID) },
		ExactlyOnce: true,
	})
	eoRecover(t, s, 0, 1)
	w := eoOpen(t, s, 0, 1)
	eoWrite(t, w, 0, 100)
	ok(t, "PreCommit(1)", w.PreCommit(1))
	ok(t, "Commit(1)", w.Commit(1))
	eoWrite(t, w, 100, 200)
	ok(t, "PreCommit(2)", w.PreCommit(2))
	c2 := committable(t, w, 2)
	eoWrite(t, w, 200, 300)
	ok(t, "crash", kafka.Crash(w))
	s = kafka.NewSink(kafka.SinkOptions[txn]{Brokers: brokers, Topic: "out", ExactlyOnce: true})
	eoRecover(t, s, 2, 1, c2)
	if got, want := readCommitted(t, brokers, 3), seq([2]int{0, 200}); !slices.Equal(got, want) {
		t.Fatalf("read_committed sees %d records, want %d", len(got), len(want))
	}
}

// TestSinkExactlyOnceFreshStart: a job started without a checkpoint
// aborts whatever a crashed run left open.
func TestSinkExactlyOnceFreshStart(t *testing.T) {
	brokers := cluster(t, 1, "out")
	s := eoSink(brokers)
	w := eoOpen(t, s, 0, 1)
	eoWrite(t, w, 0, 10)
	ok(t, "PreCommit(1)", w.PreCommit(1))
	eoWrite(t, w, 10, 20)
	ok(t, "crash", kafka.Crash(w))

	s = eoSink(brokers)
	eoRecover(t, s, 0, 1)
	wantCommitted(t, brokers, nil)
}

// TestSinkExactlyOnceRescale restores a checkpoint taken with 3 writers
// into a run of 1, after a crashed run of 6 left a transaction open.
func TestSinkExactlyOnceRescale(t *testing.T) {
	brokers := cluster(t, 1, "out")
	s := eoSink(brokers)
	eoRecover(t, s, 0, 3)
	var cs [][]byte
	var ws []sdk.CommittingSink[txn]
	for task := range 3 {
		w := eoOpen(t, s, task, 3)
		ws = append(ws, w)
		eoWrite(t, w, 100*task, 100*task+10)
		ok(t, "PreCommit(1)", w.PreCommit(1))
		cs = append(cs, committable(t, w, 1))
		eoWrite(t, w, 100*task+10, 100*task+20)
	}
	cs[1] = nil // a writer that wrote nothing for the checkpoint
	for _, w := range ws {
		ok(t, "crash", kafka.Crash(w))
	}
	// A run with 6 writers, restored from the same checkpoint, crashed
	// before its first checkpoint; its task 5 had a transaction open.
	w := eoOpen(t, s, 5, 6)
	eoWrite(t, w, 500, 510)
	ok(t, "crash", kafka.Crash(w))

	s = eoSink(brokers)
	eoRecover(t, s, 1, 1, cs...)
	wantCommitted(t, brokers, seq([2]int{0, 10}, [2]int{200, 210}))
}

// TestSinkExactlyOnceZombie: a writer of an older run that goes on
// writing after a newer run started is fenced.
func TestSinkExactlyOnceZombie(t *testing.T) {
	brokers := cluster(t, 1, "out")
	s := eoSink(brokers)
	old := eoOpen(t, s, 0, 1)
	defer old.Close()
	eoWrite(t, old, 0, 10)
	ok(t, "PreCommit(1)", old.PreCommit(1))
	c1 := committable(t, old, 1)
	ok(t, "Commit(1)", old.Commit(1))

	s2 := eoSink(brokers)
	eoRecover(t, s2, 1, 1, c1)
	w := eoOpen(t, s2, 0, 1)
	defer w.Close()

	b := sdk.NewBatch[txn](1)
	b.Append(mkTxn(10), 1)
	err := old.Write(context.Background(), b)
	if err == nil {
		err = old.PreCommit(2)
	}
	if err == nil {
		err = old.Commit(2)
	}
	if err == nil || !strings.Contains(err.Error(), "fenced by a newer writer") {
		t.Fatalf("zombie write: %v, want fenced", err)
	}
	eoWrite(t, w, 20, 30)
	ok(t, "PreCommit(2)", w.PreCommit(2))
	ok(t, "Commit(2)", w.Commit(2))
	wantCommitted(t, brokers, seq([2]int{0, 10}, [2]int{20, 30}))
}

// TestSinkExactlyOnceProtocol: empty checkpoints, Abort, Close and a
// PreCommit before the previous checkpoint was committed.
func TestSinkExactlyOnceProtocol(t *testing.T) {
	brokers := cluster(t, 1, "out")
	s := eoSink(brokers)
	eoRecover(t, s, 0, 1)
	w := eoOpen(t, s, 0, 1)
	ok(t, "PreCommit(1) with nothing written", w.PreCommit(1))
	if c := committable(t, w, 1); c != nil {
		t.Errorf("committable of an empty checkpoint: %s", c)
	}
	ok(t, "Commit(1)", w.Commit(1))
	ok(t, "Commit(1) again", w.Commit(1))

	eoWrite(t, w, 0, 5)
	ok(t, "PreCommit(2)", w.PreCommit(2))
	ok(t, "Abort(2)", w.Abort(2))
	eoWrite(t, w, 5, 10)
	ok(t, "PreCommit(3)", w.PreCommit(3))
	eoWrite(t, w, 10, 15)
	ok(t, "PreCommit(4) before Commit(3)", w.PreCommit(4))
	ok(t, "Commit(3)", w.Commit(3))
	ok(t, "Commit(3) again", w.Commit(3))
	ok(t, "Commit(4)", w.Commit(4))
	ok(t, "Commit(4) again", w.Commit(4))
	eoWrite(t, w, 15, 20) // aborted by Close
	ok(t, "Close", w.Close())
	wantCommitted(t, brokers, seq([2]int{5, 15}))
}

// brokerVersions are the broker generations the failed-checkpoint tests
// run against: Kafka 4 with KIP-890 part 2 (the epoch is bumped with
// every transaction) and Kafka 3.9 (EndTxn v4: the epoch stays).
var brokerVersions = []struct {
	name string
	max  *kversion.Versions
}{
	{"kip890", nil},
	{"kafka3.9", kversion.V3_9_0()},
}

// eoCluster starts a one-broker kfake cluster with topic out (1
// partition), speaking at most the given versions if max is not nil.
func eoCluster(t *testing.T, max *kversion.Versions) []string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, "out")}
	if max != nil {
		opts = append(opts, kfake.MaxVersions(max))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// wantCommittables checks that committable c lists n transactions.
func wantCommittables(t *testing.T, c []byte, n int) {
	t.Helper()
	var cs []map[string]any
	if err := json.Unmarshal(c, &cs); err != nil {
		t.Fatalf("committable %s: %v", c, err)
	}
	if len(cs) != n {
		t.Fatalf("committable lists %d transactions, want %d: %s", len(cs), n, c)
	}
}

// TestSinkExactlyOnceFailedCheckpoints: checkpoints whose completion
// fails are neither committed nor aborted; the writer goes on, opening
// further producer slots while transactions stay staged, and the next
// checkpoint that completes commits them all, through Commit or, after a
// crash, through Recover with that checkpoint's committables.
func TestSinkExactlyOnceFailedCheckpoints(t *testing.T) {
	for _, bv := range brokerVersions {
		for _, failed := range []int{1, 3} {
			for _, crash := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/failed=%d/crash=%v", bv.name, failed, crash), func(t *testing.T) {
					brokers := eoCluster(t, bv.max)
					s := eoSink(brokers)
					eoRecover(t, s, 0, 1)
					w := eoOpen(t, s, 0, 1)
					// Checkpoints 1..failed fail: no Commit, no Abort.
					for n := 1; n <= failed; n++ {
						eoWrite(t, w, 10*(n-1), 10*n)
						id := sdk.CheckpointID(n)
						ok(t, fmt.Sprintf("PreCommit(%d)", n), w.PreCommit(id))
						wantCommittables(t, committable(t, w, id), n)
					}
					last := sdk.CheckpointID(failed + 1)
					eoWrite(t, w, 10*failed, 10*(failed+1))
					ok(t, "PreCommit(last)", w.PreCommit(last))
					if got, want := kafka.TxnSlots(w), max(2, failed+1); got != want {
						t.Errorf("%d producer slots, want %d", got, want)
					}
					c := committable(t, w, last)
					wantCommittables(t, c, failed+1)
					all := seq([2]int{0, 10 * (failed + 1)})
					if crash {
						// Records after the last barrier sit in an
						// open transaction of a further slot.
						eoWrite(t, w, 1000, 1010)
						ok(t, "crash", kafka.Crash(w))
						s = eoSink(brokers)
						eoRecover(t, s, last, 1, c)
						wantCommitted(t, brokers, all)
						eoRecover(t, s, last, 1, c) // again: commits nothing twice
						wantCommitted(t, brokers, all)
						w = eoOpen(t, s, 0, 1)
					} else {
						ok(t, "Commit(last)", w.Commit(last))
						ok(t, "Commit(last) again", w.Commit(last))
						wantCommitted(t, brokers, all)
					}
					// Back to normal: settled slots are reused.
					slots := kafka.TxnSlots(w)
					for n := last + 1; n <= last+3; n++ {
						eoWrite(t, w, 2000+10*int(n), 2010+10*int(n))
						ok(t, "PreCommit", w.PreCommit(n))
						wantCommittables(t, committable(t, w, n), 1)
						ok(t, "Commit", w.Commit(n))
					}
					if got := kafka.TxnSlots(w); got != slots {
						t.Errorf("%d producer slots after normal checkpoints, want %d", got, slots)
					}
					ok(t, "Close", w.Close())
					wantCommitted(t, brokers, append(all, seq([2]int{2000 + 10*int(last+1), 2010 + 10*int(last+3)})...))
				})
			}
		}
	}
}

// TestSinkExactlyOnceFailedThenAbort: Abort(n) aborts only n; what an
// earlier failed checkpoint staged is committed by the next Commit.
func TestSinkExactlyOnceFailedThenAbort(t *testing.T) {
	brokers := cluster(t, 1, "out")
	s := eoSink(brokers)
	eoRecover(t, s, 0, 1)
	w := eoOpen(t, s, 0, 1)
	eoWrite(t, w, 0, 10)
	ok(t, "PreCommit(1)", w.PreCommit(1)) // fails
	eoWrite(t, w, 10, 20)
	ok(t, "PreCommit(2)", w.PreCommit(2))
	ok(t, "Abort(2)", w.Abort(2))
	eoWrite(t, w, 20, 30)
	ok(t, "PreCommit(3)", w.PreCommit(3))
	wantCommittables(t, committable(t, w, 3), 2)
	ok(t, "Commit(3)", w.Commit(3))
	ok(t, "Close", w.Close())
	wantCommitted(t, brokers, seq([2]int{0, 10}, [2]int{20, 30}))
}

// TestSinkExactlyOnceStaleCommittable: a restore from an older checkpoint
// must not commit a later transaction of a reused producer slot, also on
// brokers that keep the producer epoch across transactions.
func TestSinkExactlyOnceStaleCommittable(t *testing.T) {
	for _, bv := range brokerVersions {
		t.Run(bv.name, func(t *testing.T) {
			brokers, w := eoFirstCheckpoint(t, bv.max)
			c1 := committable(t, w, 1)
			ok(t, "Commit(1)", w.Commit(1))
			eoWrite(t, w, 10, 20) // slot 0 again, after checkpoint 1's transaction
			ok(t, "PreCommit(2)", w.PreCommit(2))
			eoWrite(t, w, 20, 30) // slot 1
			ok(t, "crash", kafka.Crash(w))
			// Checkpoint 2 never completed: restore from 1.
			s := eoSink(brokers)
			eoRecover(t, s, 1, 1, c1)
			wantCommitted(t, brokers, seq([2]int{0, 10}))
		})
	}
}

// TestSinkRecoverCommittableForms: Recover accepts the single-object
// committable of earlier versions as well as the array.
func TestSinkRecoverCommittableForms(t *testing.T) {
	for _, single := range []bool{false, true} {
		t.Run(fmt.Sprintf("single=%v", single), func(t *testing.T) {
			brokers := cluster(t, 1, "out")
			s := eoSink(brokers)
			eoRecover(t, s, 0, 1)
			w := eoOpen(t, s, 0, 1)
			eoWrite(t, w, 0, 10)
			ok(t, "PreCommit(1)", w.PreCommit(1))
			c := committable(t, w, 1)
			if single {
				var cs []json.RawMessage
				ok(t, "unmarshal", json.Unmarshal(c, &cs))
				c = cs[0]
			}
			eoWrite(t, w, 10, 20)
			ok(t, "crash", kafka.Crash(w))
			s = eoSink(brokers)
			eoRecover(t, s, 1, 1, c)
			wantCommitted(t, brokers, seq([2]int{0, 10}))
		})
	}
	s := eoSink([]string{"127.0.0.1:1"})
	for _, bad := range []string{`{"producer":1}`, `[{"txn":"a"},{"epoch":1}]`, `[`} {
		err := s.Recover(context.Background(), sdk.RecoverContext{Job: eoJob, Node: eoNode, Checkpoint: 1, Committables: [][]byte{[]byte(bad)}, Tasks: 1})
		if err == nil || !strings.Contains(err.Error(), "committable of task 0") {
			t.Errorf("Recover with committable %s: %v", bad, err)
		}
	}
}

// TestSinkCommitChecksTxnEnded: when the producer's EndTransaction
// returns success without ending the transaction on the broker (franz-go
// does so when it believes nothing was added to it, which happened under
// load to a transaction PreCommit had flushed), Commit finds it still
// open and commits it by producer id and epoch. Before, the slot's next
// transaction re-initialized the producer, which aborted it: the
// checkpoint's output was lost without an error.
func TestSinkCommitChecksTxnEnded(t *testing.T) {
	for _, bv := range brokerVersions {
		t.Run(bv.name, func(t *testing.T) {
			brokers, w := eoFirstCheckpoint(t, bv.max)
			kafka.SkipNextEndTxn(w)
			ok(t, "Commit(1)", w.Commit(1))
			for n := 2; n <= 4; n++ {
				eoWrite(t, w, 10*(n-1), 10*n)
				ok(t, "PreCommit", w.PreCommit(sdk.CheckpointID(n)))
				ok(t, "Commit", w.Commit(sdk.CheckpointID(n)))
			}
			ok(t, "Close", w.Close())
			wantCommitted(t, brokers, seq([2]int{0, 40}))
		})
	}
}

// eoFirstCheckpoint starts a cluster (eoCluster) and an exactly-once
// writer of task 0 of 1 on it, writes records 0..9 and pre-commits them
// under checkpoint 1.
func eoFirstCheckpoint(t *testing.T, max *kversion.Versions) ([]string, sdk.CommittingSink[txn]) {
	t.Helper()
	brokers := eoCluster(t, max)
	s := eoSink(brokers)
	eoRecover(t, s, 0, 1)
	w := eoOpen(t, s, 0, 1)
	eoWrite(t, w, 0, 10)
	ok(t, "PreCommit(1)", w.PreCommit(1))
	return brokers, w
}
