package kafka_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/sdk"
)

// TestSinkExactlyOnceBoundedProducers: while checkpoints fail in a row
// with records flowing, a writer keeps at most two producers open (the
// transaction staged for the checkpoint in flight and the one receiving
// records after its barrier); older staged transactions stay open on the
// broker without a producer. The next completed checkpoint commits every
// record once, through Commit or, after a crash, through Recover from a
// checkpoint in the middle of the run, which commits exactly what that
// checkpoint covers.
func TestSinkExactlyOnceBoundedProducers(t *testing.T) {
	const failed = 6
	for _, bv := range brokerVersions {
		for _, crashAt := range []int{0, 1, 4, failed + 1} {
			t.Run(fmt.Sprintf("%s/crash-restoring=%d", bv.name, crashAt), func(t *testing.T) {
				brokers := eoCluster(t, bv.max)
				s := eoSink(brokers)
				eoRecover(t, s, 0, 1)
				w := eoOpen(t, s, 0, 1)
				var cs [][]byte
				// Checkpoints 1..failed fail; failed+1 completes.
				for n := 1; n <= failed+1; n++ {
					eoWrite(t, w, 10*(n-1), 10*n)
					if c := kafka.TxnClients(w); c > 2 {
						t.Fatalf("checkpoint %d: %d producers open, want at most 2", n, c)
					}
					ok(t, fmt.Sprintf("PreCommit(%d)", n), w.PreCommit(sdk.CheckpointID(n)))
					c := committable(t, w, sdk.CheckpointID(n))
					wantCommittables(t, c, n)
					cs = append(cs, c)
				}
				eoWrite(t, w, 1000, 1010) // after the last barrier: never committed
				if c := kafka.TxnClients(w); c > 2 {
					t.Fatalf("%d producers open, want at most 2", c)
				}
				// Two producers up front, then one per checkpoint that
				// found both busy.
				if d := kafka.TxnDials(w); d > failed+2 {
					t.Errorf("%d producers dialed, want at most %d", d, failed+2)
				}
				if crashAt == 0 {
					ok(t, "Commit", w.Commit(failed+1))
					ok(t, "Commit again", w.Commit(failed+1))
					// Back to normal: after two checkpoints, which move
					// back to slots 0 and 1, no producer is dialed any
					// more (on brokers without KIP-890 part 2, the one
					// that begins a transaction is re-initialized).
					var dials int
					for n := failed + 2; n <= failed+7; n++ {
						if n == failed+4 {
							dials = kafka.TxnDials(w)
						}
						id := sdk.CheckpointID(n)
						ok(t, "PreCommit", w.PreCommit(id))
						ok(t, "Commit", w.Commit(id))
						eoWrite(t, w, 1000+10*(n-failed-1), 1010+10*(n-failed-1))
					}
					if d := kafka.TxnDials(w) - dials; bv.max == nil && d != 0 || d > 4 {
						t.Errorf("%d producers dialed in 4 normal checkpoints", d)
					}
					if c := kafka.TxnClients(w); c > 2 {
						t.Errorf("%d producers open, want at most 2", c)
					}
					ok(t, "Close", w.Close())
					wantCommitted(t, brokers, seq([2]int{0, 10 * (failed + 1)}, [2]int{1000, 1000 + 10*6}))
					return
				}
				// Checkpoint crashAt completed, the job crashed before
				// any Commit: restore from it.
				ok(t, "crash", kafka.Crash(w))
				s = eoSink(brokers)
				eoRecover(t, s, sdk.CheckpointID(crashAt), 1, cs[crashAt-1])
				want := seq([2]int{0, 10 * crashAt})
				wantCommitted(t, brokers, want)
				w = eoOpen(t, s, 0, 1)
				eoWrite(t, w, 2000, 2010)
				ok(t, "PreCommit", w.PreCommit(failed+2))
				ok(t, "Commit", w.Commit(failed+2))
				ok(t, "Close", w.Close())
				wantCommitted(t, brokers, append(want, seq([2]int{2000, 2010})...))
			})
		}
	}
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestSinkExactlyOnceOutage: while checkpoints complete, transactions
// never grow old; when they stop completing, the writer fails the job
// with one line once its oldest open transaction reaches the transaction
// timeout less a tenth, before the broker would abort it, and a restart
// from the last completed checkpoint commits exactly its output.
func TestSinkExactlyOnceOutage(t *testing.T) {
	const want = "kafka: checkpoints have not completed for 54s; the open transaction of topic out would be aborted by the broker at its 1m transaction timeout: stopping the job (rerun with the same flags to resume from the last completed checkpoint)"
	for _, inWrite := range []bool{false, true} {
		t.Run(fmt.Sprintf("in-write=%v", inWrite), func(t *testing.T) {
			brokers := cluster(t, 1, "out")
			clock := &fakeClock{now: time.Unix(1e9, 0)}
			opts := kafka.SinkOptions[txn]{Brokers: brokers, Topic: "out", ExactlyOnce: true,
				ConnectTimeout: 5 * time.Second, TransactionTimeout: time.Minute, Clock: clock}
			s := kafka.NewSink(opts)
			eoRecover(t, s, 0, 1)
			w := eoOpen(t, s, 0, 1)
			// Checkpoints every 20 s for 10 minutes, each completing.
			n := 0
			for ; n < 30; n++ {
				eoWrite(t, w, 10*n, 10*n+10)
				clock.Add(20 * time.Second)
				id := sdk.CheckpointID(n + 1)
				ok(t, "PreCommit", w.PreCommit(id))
				ok(t, "Commit", w.Commit(id))
			}
			c := committable(t, w, sdk.CheckpointID(n))
			last := n
			// Then checkpoints stop completing: 53 s after the first
			// record of the oldest open transaction, all is well.
			eoWrite(t, w, 10*n, 10*n+10)
			clock.Add(20 * time.Second)
			n++
			ok(t, "PreCommit (fails)", w.PreCommit(sdk.CheckpointID(n)))
			eoWrite(t, w, 10*n, 10*n+10)
			clock.Add(20 * time.Second)
			n++
			ok(t, "PreCommit (fails)", w.PreCommit(sdk.CheckpointID(n)))
			eoWrite(t, w, 10*n, 10*n+5)
			clock.Add(13 * time.Second)
			eoWrite(t, w, 10*n+5, 10*n+10)
			clock.Add(time.Second)
			var err error
			if inWrite {
				b := sdk.NewBatch[txn](1)
				b.Append(mkTxn(9999), 0)
				err = w.Write(t.Context(), b)
			} else {
				err = w.PreCommit(sdk.CheckpointID(n + 1))
			}
			if got := errString(err); got != want {
				t.Fatalf("after 54 s without a completed checkpoint: %q, want %q", got, want)
			}
			ok(t, "Close", w.Close())
			// Rerun: resume from the last completed checkpoint.
			s = kafka.NewSink(opts)
			eoRecover(t, s, sdk.CheckpointID(last), 1, c)
			wantCommitted(t, brokers, seq([2]int{0, 10 * last}))
		})
	}
}
