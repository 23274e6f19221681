package kafka

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirflow/weir/sdk"
)

// txnSlots is the number of transactional producers an exactly-once
// writer opens up front, the most it keeps open at once, and the number
// of slots per task that Recover probes when the broker cannot list
// transactions: the transaction of the checkpoint being completed and the
// one receiving records after its barrier. While checkpoints fail, a
// writer uses further transactional ids, one per staged transaction, but
// closes the producers of older staged transactions ("parks" them) and
// ends those with a raw EndTxn through another producer.
const txnSlots = 2

// recoverProbeTasks is how many task indexes Recover fences when the
// broker cannot list transactions, so that open transactions of a crashed
// run with a larger parallelism are aborted too.
const recoverProbeTasks = 64

// committable describes one pre-committed transaction: what a restarted
// job must commit without re-initializing its producer (which would abort
// it). An exactly-once writer's Committable is a JSON array of them.
type committable struct {
	TxnID    string `json:"txn"`
	Producer int64  `json:"producer"`
	Epoch    int16  `json:"epoch"`
}

// txnSlot is one transactional id of a writer, with its producer unless
// the slot is parked (cl nil while a staged transaction waits for its
// checkpoint: its committable suffices to end it).
type txnSlot struct {
	id     string // transactional id
	cl     *kgo.Client
	open   bool             // a transaction is begun and not ended
	began  time.Time        // when the open transaction began
	staged sdk.CheckpointID // pre-committed under this checkpoint; 0 if not
	commit committable      // the committable of staged
	// reinit is set when a transaction ended without the broker bumping
	// the producer epoch (brokers without KIP-890 part 2): the producer
	// is re-initialized before its next transaction, so that no two
	// transactions share a producer id and epoch and a committable
	// restored from an older checkpoint cannot commit a later one.
	reinit bool
}

// txnState is an exactly-once writer's transactional producers. Records
// go to slots[cur]; cur is -1 until the first record after a PreCommit
// picks a free slot. Slots 0 and 1 are opened with the writer; while
// checkpoints fail (neither Commit nor Abort settles what PreCommit
// staged), further slots 2, 3, ... hold one staged transaction each, and
// free slots are reused lowest first. At most txnSlots slots have a
// producer: before a slot dials one, the producer of another free slot,
// else of the oldest staged transaction, is closed.
type txnState struct {
	slots []*txnSlot
	cur   int
	// dial creates the producer of transactional id id and loads its
	// producer id, which fences earlier producers of id and aborts their
	// open transaction.
	dial   func(ctx context.Context, id string) (*kgo.Client, error)
	dials  int // producers dialed, for tests
	prefix string
	task   int
	topic  string
	// now is the clock that ages open transactions; timeout is the
	// transaction timeout; reqTimeout bounds the retries of a raw EndTxn.
	now                 func() time.Time
	timeout, reqTimeout time.Duration
	// describe: the brokers answer DescribeTransactions (Kafka 3.0+),
	// so that a commit can check the transaction ended.
	describe bool
	// testSkipEnd makes the next end of a transaction with a producer
	// send nothing (tests).
	testSkipEnd bool
}

// txnPrefix is the prefix of the transactional ids of a sink node.
func (o *SinkOptions[T]) txnPrefix(job, node string) string {
	if o.TransactionalIDPrefix != "" {
		return o.TransactionalIDPrefix
	}
	return "weir-" + job + "-" + node
}

// txnID is the transactional id of a task's producer slot.
func txnID(prefix string, task, slot int) string {
	return prefix + "-" + strconv.Itoa(task) + "-" + strconv.Itoa(slot)
}

// openTxn starts the first two transactional producers of task sc.Task.
// Loading their producer ids fences every earlier producer of the same
// ids and aborts its open transaction, so the sink's Recover must have
// run first.
func (s *Sink[T]) openTxn(ctx context.Context, sc sdk.SinkContext) (*txnState, error) {
	o := &s.opts
	ts := &txnState{cur: -1, prefix: o.txnPrefix(sc.Job, sc.Node), task: sc.Task, topic: o.Topic,
		now: o.Clock.Now, timeout: o.TransactionTimeout, reqTimeout: o.ConnectTimeout}
	ts.dial = func(ctx context.Context, id string) (*kgo.Client, error) {
		cl, err := kgo.NewClient(append(clientOpts(o.Brokers, o.TLS, o.SASL, o.ConnectTimeout),
			kgo.DefaultProduceTopic(o.Topic),
			kgo.ProduceRequestTimeout(o.ConnectTimeout),
			kgo.ProducerLinger(o.Linger),
			kgo.TransactionalID(id),
			kgo.TransactionTimeout(o.TransactionTimeout),
		)...)
		if err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		if err := ping(ctx, cl, o.Brokers, o.ConnectTimeout); err != nil {
			cl.Close()
			return nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
		_, _, err = cl.ProducerID(pctx)
		cancel()
		if err != nil {
			cl.Close()
			return nil, fmt.Errorf("kafka: init transactional id %s: %w", id, err)
		}
		return cl, nil
	}
	for i := range txnSlots {
		ts.slots = append(ts.slots, &txnSlot{id: txnID(ts.prefix, ts.task, i)})
		if err := ts.connect(ctx, ts.slots[i]); err != nil {
			ts.closeClients()
			return nil, err
		}
	}
	actx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	vs, err := kadm.NewClient(ts.slots[0].cl).ApiVersions(actx)
	if err != nil {
		ts.closeClients()
		return nil, fmt.Errorf("kafka: api versions of %s: %w", strings.Join(o.Brokers, ","), err)
	}
	ts.describe = true
	for _, v := range vs.Sorted() {
		if _, ok := v.KeyMaxVersion(kmsg.DescribeTransactions.Int16()); v.Err != nil || !ok {
			ts.describe = false
		}
	}
	return ts, nil
}

// txnOngoing reports whether the broker still has the transaction of c
// open: the state of its transactional id is Ongoing under c's producer
// id and epoch (DescribeTransactions).
func txnOngoing(ctx context.Context, cl *kgo.Client, c committable, timeout time.Duration) (ongoing bool, err error) {
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{c.TxnID}
	err = retry(ctx, timeout, func(ctx context.Context) error {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, st := range resp.TransactionStates {
			if st.TransactionalID != c.TxnID {
				continue
			}
			if err := kerr.ErrorForCode(st.ErrorCode); err != nil {
				return err
			}
			ongoing = st.State == "Ongoing" && st.ProducerID == c.Producer && st.ProducerEpoch == c.Epoch
		}
		return nil
	})
	return ongoing, err
}

// connect dials the producer of slot s, which holds no transaction,
// closing its old producer first. When txnSlots producers are open and s
// has none, it first closes one: that of another free slot, else that of
// the oldest staged transaction (park).
func (ts *txnState) connect(ctx context.Context, s *txnSlot) error {
	if s.cl != nil {
		s.cl.Close()
		s.cl = nil
	} else if ts.clients() >= txnSlots {
		ts.release()
	}
	cl, err := ts.dial(ctx, s.id)
	if err != nil {
		return err
	}
	ts.dials++
	s.cl, s.reinit = cl, false
	return nil
}

// clients returns how many slots have a producer.
func (ts *txnState) clients() int {
	n := 0
	for _, s := range ts.slots {
		if s.cl != nil {
			n++
		}
	}
	return n
}

// release closes one producer: that of a free slot if there is one, else
// that of the oldest staged transaction, which is parked: it stays open
// on the broker (PreCommit flushed it), and its committable is all that
// Commit, Abort or a later Recover needs to end it.
func (ts *txnState) release() {
	var free, oldest *txnSlot
	for _, s := range ts.slots {
		switch {
		case s.cl == nil:
		case s.staged == 0 && !s.open:
			free = s
		case s.staged != 0 && (oldest == nil || s.staged < oldest.staged):
			oldest = s
		}
	}
	if free == nil {
		free = oldest
	}
	if free != nil {
		free.cl.Close()
		free.cl = nil
	}
}

// freeSlot returns the lowest slot that holds no transaction, a further
// slot if every one does, with its producer connected.
func (ts *txnState) freeSlot(ctx context.Context) (int, error) {
	pick := slices.IndexFunc(ts.slots, func(s *txnSlot) bool { return s.staged == 0 && !s.open })
	if pick < 0 {
		pick = len(ts.slots)
		ts.slots = append(ts.slots, &txnSlot{id: txnID(ts.prefix, ts.task, pick)})
	}
	if s := ts.slots[pick]; s.cl == nil || s.reinit {
		if err := ts.connect(ctx, s); err != nil {
			return 0, err
		}
	}
	return pick, nil
}

// client returns the producer receiving records now, picking a free slot
// and beginning its transaction on the first record after a checkpoint.
func (ts *txnState) client(ctx context.Context) (*kgo.Client, error) {
	if ts.cur < 0 {
		i, err := ts.freeSlot(ctx)
		if err != nil {
			return nil, err
		}
		ts.cur = i
	}
	s := ts.slots[ts.cur]
	if !s.open {
		if err := s.cl.BeginTransaction(); err != nil {
			return nil, fmt.Errorf("kafka: begin txn %s: %w", s.id, err)
		}
		s.open, s.began = true, ts.now()
	}
	return s.cl, nil
}

// checkAge fails once the oldest open transaction has been open for the
// transaction timeout less a tenth: checkpoints have not completed for
// that long, and the broker would soon abort a transaction whose records
// the running job cannot write again (only a restart from the last
// completed checkpoint replays them).
func (ts *txnState) checkAge() error {
	var oldest time.Time
	for _, s := range ts.slots {
		if s.open && (oldest.IsZero() || s.began.Before(oldest)) {
			oldest = s.began
		}
	}
	if oldest.IsZero() {
		return nil
	}
	age := ts.now().Sub(oldest)
	if age < ts.timeout-ts.timeout/10 {
		return nil
	}
	return fmt.Errorf("kafka: checkpoints have not completed for %s; the open transaction of topic %s would be aborted by the broker at its %s transaction timeout: stopping the job (rerun with the same flags to resume from the last completed checkpoint)",
		shortDuration(age.Round(time.Second)), ts.topic, shortDuration(ts.timeout))
}

// shortDuration formats d without trailing zero units: "1m", not "1m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// preCommit flushes the open transaction and stages it under id with its
// committable; the next record picks another slot. A checkpoint with no
// records stages nothing. Transactions staged under earlier checkpoints
// that were neither committed nor aborted (failed checkpoints) stay
// staged, for the next Commit.
func (ts *txnState) preCommit(ctx context.Context, id sdk.CheckpointID, failed func() error) error {
	if ts.cur < 0 {
		return nil
	}
	s := ts.slots[ts.cur]
	if !s.open {
		return nil
	}
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("kafka: flush txn %s for checkpoint %d: %w", s.id, id, err)
	}
	if err := failed(); err != nil {
		return err
	}
	pid, epoch, err := s.cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("kafka: producer id of txn %s for checkpoint %d: %w", s.id, id, fenced(err))
	}
	s.staged, s.commit = id, committable{TxnID: s.id, Producer: pid, Epoch: epoch}
	ts.cur = -1
	return nil
}

// anyClient returns a producer to send raw requests through: the current
// slot's, else any open one; nil if none is open.
func (ts *txnState) anyClient() *kgo.Client {
	if ts.cur >= 0 && ts.slots[ts.cur].cl != nil {
		return ts.slots[ts.cur].cl
	}
	for _, s := range ts.slots {
		if s.cl != nil {
			return s.cl
		}
	}
	return nil
}

// stagedUpTo returns the slots staged under ids <= id, oldest first.
func (ts *txnState) stagedUpTo(id sdk.CheckpointID) []*txnSlot {
	var out []*txnSlot
	for _, s := range ts.slots {
		if s.staged != 0 && s.staged <= id {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *txnSlot) int { return cmp.Compare(a.staged, b.staged) })
	return out
}

// committable returns the committables of every transaction staged under
// an id <= id (that of checkpoint id and those of earlier checkpoints
// that failed), oldest first, as a JSON array; nil if there is none.
func (ts *txnState) committable(id sdk.CheckpointID) ([]byte, error) {
	staged := ts.stagedUpTo(id)
	if len(staged) == 0 {
		return nil, nil
	}
	cs := make([]committable, len(staged))
	for i, s := range staged {
		cs[i] = s.commit
	}
	b, err := json.Marshal(cs)
	if err != nil {
		return nil, fmt.Errorf("kafka: committable of checkpoint %d: %w", id, err)
	}
	return b, nil
}

// end commits the transactions staged under ids <= id, oldest first
// (commit), or aborts the one staged under id (abort).
func (ts *txnState) end(ctx context.Context, id sdk.CheckpointID, commit bool) error {
	for _, s := range ts.stagedUpTo(id) {
		if !commit && s.staged != id {
			continue
		}
		what, try := "commit", kgo.TryCommit
		if !commit {
			what, try = "abort", kgo.TryAbort
		}
		if s.cl == nil {
			// Parked: end it by its producer id and epoch. The slot
			// dials a new producer (a new epoch) before its next
			// transaction.
			cl := ts.anyClient()
			if cl == nil {
				return fmt.Errorf("kafka: %s txn %s of checkpoint %d: no open producer to send it through", what, s.id, s.staged)
			}
			if err := endRaw(ctx, cl, s.commit, commit, ts.reqTimeout); err != nil {
				return fmt.Errorf("kafka: %s txn %s of checkpoint %d: %w", what, s.id, s.staged, fenced(err))
			}
			s.open, s.began, s.staged, s.commit = false, time.Time{}, 0, committable{}
			continue
		}
		endTxn := (*kgo.Client).EndTransaction
		if ts.testSkipEnd {
			// As franz-go does when it believes nothing was added.
			endTxn, ts.testSkipEnd = func(*kgo.Client, context.Context, kgo.TransactionEndTry) error { return nil }, false
		}
		if err := endTxn(s.cl, ctx, try); err != nil {
			return fmt.Errorf("kafka: %s txn %s of checkpoint %d: %w", what, s.id, s.staged, fenced(err))
		}
		if commit && ts.describe {
			// franz-go ends a transaction without an EndTxn when it
			// believes no partition was added to it, and under load it
			// has done so for a transaction whose records PreCommit had
			// flushed: the broker then kept it open, and the producer's
			// next re-initialization aborted it, losing a checkpoint's
			// output without an error. Ask the broker, and commit by
			// producer id and epoch if it is still open.
			ongoing, err := txnOngoing(ctx, s.cl, s.commit, ts.reqTimeout)
			if err != nil {
				return fmt.Errorf("kafka: commit txn %s of checkpoint %d: check it ended: %w", s.id, s.staged, err)
			}
			if ongoing {
				if err := endRaw(ctx, s.cl, s.commit, true, ts.reqTimeout); err != nil {
					return fmt.Errorf("kafka: commit txn %s of checkpoint %d: %w", s.id, s.staged, fenced(err))
				}
				// The producer does not know of this end: a new one
				// takes the slot's next transaction.
				s.open, s.began, s.staged, s.commit, s.reinit = false, time.Time{}, 0, committable{}, true
				continue
			}
		}
		// Under KIP-890 part 2 the broker bumped the epoch and the
		// client took the new one over; otherwise the next transaction
		// would reuse the epoch of this one.
		_, epoch, err := s.cl.ProducerID(ctx)
		s.reinit = err != nil || epoch == s.commit.Epoch
		s.open, s.began, s.staged, s.commit = false, time.Time{}, 0, committable{}
	}
	return nil
}

// close aborts the transaction of records written after the last
// checkpoint (a restore discards them anyway, and an open transaction
// would hold back read_committed consumers until it times out), keeps
// pre-committed ones for Recover to settle, and closes the producers.
func (ts *txnState) close(ctx context.Context, timeout time.Duration) {
	if ts.cur >= 0 {
		if s := ts.slots[ts.cur]; s.cl != nil && s.open && s.staged == 0 {
			actx, cancel := context.WithTimeout(ctx, timeout)
			// Best effort: on failure the next Recover or the
			// transaction timeout aborts it.
			if err := s.cl.AbortBufferedRecords(actx); err == nil {
				_ = s.cl.EndTransaction(actx, kgo.TryAbort)
			}
			cancel()
		}
	}
	ts.closeClients()
}

func (ts *txnState) closeClients() {
	for _, s := range ts.slots {
		if s.cl != nil {
			s.cl.Close()
			s.cl = nil
		}
	}
}

// fenced explains a fencing error: another producer with the same
// transactional id (a newer run of the job) has taken over.
func fenced(err error) error {
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) {
		return fmt.Errorf("fenced by a newer writer with the same transactional id (another run of this job, or another job with the same name, took over; this writer must stop): %w", err)
	}
	return err
}

// Recover checks the sink and settles the transactions a crashed or
// stopped run left open, once per job start and before any writer opens
// or any input is read (sdk.RecoverableSink):
//
//   - It refuses to start, with one line, when the topic does not exist
//     (naming the command that creates it) or, with
//     [SinkOptions.ExactlyOnce], when a broker does not list the
//     transaction requests (InitProducerId, AddPartitionsToTxn, EndTxn) in
//     its ApiVersions. Otherwise the missing topic would only be found
//     when the first checkpoint pre-commits, after reading input, and
//     at-least-once output of other sinks would already be visible.
//   - Every transaction in rc.Committables is committed with a raw EndTxn
//     carrying its producer id and epoch, as Flink's KafkaSink does,
//     without re-initializing the producer (which would abort it). A
//     writer's committable lists every transaction it had staged under
//     the restored checkpoint or an earlier one that failed, oldest first;
//     the single-object form of earlier versions is accepted too. A
//     transaction that was already committed counts as committed: the
//     broker accepts the repeated commit, or, when a later producer or
//     epoch has since taken the transactional id over (a previous Recover
//     followed by new writers, or a later transaction of the same
//     writer), answers PRODUCER_FENCED. A transaction the broker aborted
//     (INVALID_TXN_STATE, for example after the transaction timeout
//     expired while the job was down) fails Recover: the output of the
//     checkpoint is lost.
//   - With [SinkOptions.ExactlyOnce], the transactional ids of this sink
//     node (by default "weir-<rc.Job>-<rc.Node>-<task>-<slot>") are then re-initialized,
//     which aborts their open transactions at once and fences zombie
//     writers: slots 0 and 1 of tasks below max(rc.Tasks,
//     len(rc.Committables)), the ids with this prefix named in the
//     committables, and any id with the prefix the broker lists as
//     ongoing (ListTransactions), which includes the further slots (2, 3,
//     ...) writers use while checkpoints fail. Ids of other jobs are never
//     re-initialized, also when the restored checkpoint was taken under
//     another job name and its committables name that job's ids (they are
//     committed, nothing more): that job may still be running. If the
//     broker cannot list transactions, slots 0 and 1 of tasks below 64
//     are probed instead; an open transaction of a further slot is then
//     aborted only when a writer reopens that slot, or by the broker after
//     [SinkOptions.TransactionTimeout], and holds read_committed
//     consumers of its partitions back until then.
//
// Recover is idempotent: running it again (after a crash during Recover
// or before the next checkpoint) commits nothing twice.
func (s *Sink[T]) Recover(ctx context.Context, rc sdk.RecoverContext) error {
	o := &s.opts
	var cs []committable
	for i, b := range rc.Committables {
		c, err := parseCommittable(b)
		if err != nil {
			return fmt.Errorf("kafka: recover checkpoint %d: committable of task %d: %w", rc.Checkpoint, i, err)
		}
		cs = append(cs, c...)
	}
	cl, err := s.checkedClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	for _, c := range cs {
		if err := commitRecovered(ctx, cl, c, o.ConnectTimeout); err != nil {
			return fmt.Errorf("kafka: recover checkpoint %d: commit txn %s: %w", rc.Checkpoint, c.TxnID, err)
		}
	}
	if !o.ExactlyOnce {
		return nil
	}
	prefix := o.txnPrefix(rc.Job, rc.Node)
	ids := map[string]bool{}
	tasks := max(rc.Tasks, len(rc.Committables))
	listed, err := listOngoing(ctx, cl, prefix)
	if err != nil {
		tasks = max(tasks, recoverProbeTasks)
	}
	for _, id := range listed {
		ids[id] = true
	}
	own := ownIDs(prefix)
	for _, c := range cs {
		// A checkpoint taken under another job name names that job's
		// ids: committed above, but never re-initialized here, which
		// would abort what that job, if it still runs, has open.
		if own.MatchString(c.TxnID) {
			ids[c.TxnID] = true
		}
	}
	for task := range tasks {
		for slot := range txnSlots {
			ids[txnID(prefix, task, slot)] = true
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	timeoutMs := int32(o.TransactionTimeout.Milliseconds())
	for _, id := range sorted {
		if err := fence(ctx, cl, id, timeoutMs, o.ConnectTimeout); err != nil {
			return fmt.Errorf("kafka: recover checkpoint %d: abort txn %s: %w", rc.Checkpoint, id, err)
		}
	}
	return nil
}

// parseCommittable decodes what a writer's Committable returned: a JSON
// array of transactions, or the single object of earlier versions.
func parseCommittable(b []byte) ([]committable, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, nil
	}
	var cs []committable
	var err error
	if b[0] == '[' {
		err = json.Unmarshal(b, &cs)
	} else {
		var c committable
		err = json.Unmarshal(b, &c)
		cs = []committable{c}
	}
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.TxnID == "" {
			return nil, errors.New("no transactional id")
		}
	}
	return cs, nil
}

// endRaw ends the transaction of c with a commit or an abort, by its
// producer id and epoch, retrying retriable errors for up to timeout.
func endRaw(ctx context.Context, cl *kgo.Client, c committable, commit bool, timeout time.Duration) error {
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID = c.TxnID
	req.ProducerID = c.Producer
	req.ProducerEpoch = c.Epoch
	req.Commit = commit
	return retry(ctx, timeout, func(ctx context.Context) error {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
}

// commitRecovered commits the transaction of c for Recover, counting a
// transaction that has moved on as committed.
func commitRecovered(ctx context.Context, cl *kgo.Client, c committable, timeout time.Duration) error {
	err := endRaw(ctx, cl, c, true, timeout)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.InvalidProducerEpoch):
		// The epoch has moved on: the transaction was ended and the id
		// re-initialized since, which Recover does only after committing.
		return nil
	case errors.Is(err, kerr.InvalidTxnState):
		return fmt.Errorf("the broker aborted it (did the transaction timeout expire while the job was down?); the output of this checkpoint is lost: %w", err)
	case errors.Is(err, kerr.InvalidProducerIDMapping):
		return fmt.Errorf("the broker no longer knows the transaction (transactional id expired, or broker state lost); the output of this checkpoint is lost: %w", err)
	}
	return err
}

// fence re-initializes transactional id id, which aborts its open
// transaction (if any) and fences its earlier producers.
func fence(ctx context.Context, cl *kgo.Client, id string, timeoutMs int32, timeout time.Duration) error {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &id
	req.TransactionTimeoutMillis = timeoutMs
	req.ProducerID = -1
	req.ProducerEpoch = -1
	return retry(ctx, timeout, func(ctx context.Context) error {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
}

// listOngoing lists the ongoing transactional ids that look like this
// sink's: prefix-<task>-<slot>.
func listOngoing(ctx context.Context, cl *kgo.Client, prefix string) ([]string, error) {
	re := ownIDs(prefix)
	pat := re.String()
	req := kmsg.NewPtrListTransactionsRequest()
	req.StateFilters = []string{"Ongoing"}
	req.TransactionalIDPattern = &pat
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, t := range resp.TransactionStates {
		if re.MatchString(t.TransactionalID) {
			ids = append(ids, t.TransactionalID)
		}
	}
	return ids, nil
}

// ownIDs matches the transactional ids of a sink node with prefix
// prefix: prefix-<task>-<slot>.
func ownIDs(prefix string) *regexp.Regexp {
	return regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + `-[0-9]+-[0-9]+$`)
}

// retry runs f until it succeeds, fails with a non-retriable error, or
// timeout passes; transaction coordinators answer CONCURRENT_TRANSACTIONS
// while they write the markers of a transaction that is ending.
func retry(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		err := f(ctx)
		var ke *kerr.Error
		if err == nil || !errors.As(err, &ke) || !ke.Retriable {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}
