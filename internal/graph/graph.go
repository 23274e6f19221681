package graph

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirflow/weir/internal/base"
)

// ErrEndOfSplit is returned by a Reader when its split has no more records.
// Records returned together with it are valid.
var ErrEndOfSplit = errors.New("graph: end of split")

// Graph is a logical pipeline: nodes in the order they were added, which is
// a topological order since a node's inputs exist before it.
type Graph struct {
	Nodes []*Node
	errs  []error
	names map[string]int
}

// Add appends n, assigning its ID and making its name unique by suffixing
// "#2", "#3" (Beam-style stable names, unique within the graph).
func (g *Graph) Add(n *Node) *Node {
	if g.names == nil {
		g.names = map[string]int{}
	}
	n.ID = len(g.Nodes)
	g.names[n.Name]++
	if c := g.names[n.Name]; c > 1 {
		n.Name = fmt.Sprintf("%s#%d", n.Name, c)
	}
	g.Nodes = append(g.Nodes, n)
	return n
}

// AddError records a construction error; the runner refuses to run a graph
// with errors and reports all of them.
func (g *Graph) AddError(err error) { g.errs = append(g.errs, err) }

// Err returns every construction error joined, or nil.
func (g *Graph) Err() error { return errors.Join(g.errs...) }

// Consumers returns the edges that read from n, with the consuming node.
func (g *Graph) Consumers(n *Node) []Consumer {
	var out []Consumer
	for _, c := range g.Nodes {
		for i, e := range c.Inputs {
			if e.From == n {
				out = append(out, Consumer{Node: c, Input: i, Edge: e})
			}
		}
	}
	return out
}

// Consumer is a node reading from another through one of its inputs.
type Consumer struct {
	Node  *Node
	Input int // index into Node.Inputs
	Edge  Edge
}

// Node is one transform of the pipeline.
type Node struct {
	ID   int
	Name string
	// Inputs are the edges this node reads; empty for sources.
	Inputs []Edge
	// Outputs is the number of output ports (0 for sinks). Port 0 is the main
	// output; further ports are side outputs such as late data.
	Outputs int
	// Source is set for source nodes.
	Source Source
	// NewOperator is set for operators and sinks: it makes a fresh instance
	// for one task.
	NewOperator func() Operator
	// Sink marks a node whose operator implements Committer and ends a path.
	Sink bool
	// Stateful marks keyed operators (windows); they must read a keyed shuffle.
	Stateful bool
	// Recover, on sink nodes, settles staged output when a job starts.
	Recover Recover
	// CheckRecover, on sink nodes whose sink has one, tells without
	// changing anything that Recover would refuse to start; the runner
	// calls it on every sink before Recover on any.
	CheckRecover Recover
	// TypeName names the element type of port 0, for messages.
	TypeName string
}

// Edge connects an output port of From to an input of the owning node.
type Edge struct {
	From *Node
	Port int
	// Partitioner is set when the edge is a keyed shuffle; nil means the
	// edge is forward (chainable when the parallelism matches).
	Partitioner Partitioner
	// Codec encodes the edge's batches for the network exchange; nil when
	// the element type has no codec (the edge cannot cross processes).
	Codec BatchCodec
}

// BatchCodec encodes the batches of one element type T (*base.Batch[T]:
// values, times and marks) for the network exchange, with the generated
// record codec of T.
type BatchCodec interface {
	// AppendBatch appends the encoding of batch to dst.
	AppendBatch(dst []byte, batch any) []byte
	// DecodeBatch decodes a whole batch encoded by AppendBatch.
	DecodeBatch(src []byte) (any, error)
}

// Split is one independently readable part of a source: a Parquet row-group
// range, a JSONL file, a Kafka partition. ID is stable and sortable.
type Split interface {
	ID() string
}

// SplitStats is implemented by splits that know their size and event-time
// range without being read (Parquet footers).
type SplitStats interface {
	// Rows is the number of records in the split, or -1 if unknown.
	Rows() int64
	// MinEventTime is the smallest event time in the split, if known.
	MinEventTime() (base.Timestamp, bool)
}

// WatermarkSpec is a source's watermark strategy.
type WatermarkSpec struct {
	// Bound is the bounded out-of-orderness: a split's watermark is
	// max event time seen - Bound - 1µs.
	Bound time.Duration
	// Idle is the idle timeout after which a silent split stops holding the
	// watermark back; 0 disables it.
	Idle time.Duration
}

// Source produces splits and opens readers for them.
type Source interface {
	Splits(ctx context.Context) ([]Split, error)
	// Open opens split s at pos (nil for its start).
	Open(ctx context.Context, s Split, pos []byte) (Reader, error)
	Watermarks() WatermarkSpec
}

// Discoverer is implemented by sources whose splits can grow while a job
// runs (Kafka partitions added to a topic). In stream mode the runner calls
// Discover periodically and starts reading the splits whose IDs are new.
type Discoverer interface {
	Discover(ctx context.Context) ([]Split, error)
}

// ReadResult is what one Reader.Read returns.
type ReadResult struct {
	// Batch is a *base.Batch[T] with Times and Marks set (the sdk source
	// adapter marks every row); nil or empty when nothing was read.
	Batch any
	// N is the number of rows in Batch.
	N int
	// MaxTime is the largest event time in Batch (MinTimestamp if empty).
	MaxTime base.Timestamp
	// Dead are bad records met while reading this batch.
	Dead []base.DeadLetter
}

// Reader reads one split in batches.
type Reader interface {
	// Read returns up to max rows. At the end it returns ErrEndOfSplit,
	// possibly together with a last non-empty result.
	Read(ctx context.Context, max int) (ReadResult, error)
	// Position is where a reader opened with it would resume: after every
	// row returned so far.
	Position() []byte
	Close() error
}

// PositionCommitter is implemented by a reader that tells the system it
// reads from how far a completed checkpoint has read (Flink's
// notifyCheckpointComplete; sdk.PositionCommitter): the Kafka source
// commits the offsets to its consumer group. The runner calls
// CommitPosition on the reader's own goroutine with a position the reader
// returned from Position for a checkpoint that has completed since.
type PositionCommitter interface {
	CommitPosition(pos []byte)
}

// Partitioner routes the rows of a batch to target tasks by key group.
type Partitioner interface {
	// NewBatch returns an empty *base.Batch[T] with room for n rows.
	NewBatch(n int) any
	// Split appends each row of batch to outs[target], where target is the
	// task owning the row's key group among len(outs) tasks. A nil
	// outs[target] is first set to NewBatch(size) and target appended to
	// made, which Split returns: a caller keeps buffers only for the
	// targets that have rows.
	Split(batch any, outs []any, maxParallelism, size int, made []int) []int
	// Len returns the number of rows of a batch made by NewBatch.
	Len(batch any) int
}

// Output is where an operator emits batches on one of its ports.
type Output interface {
	// Emit passes a batch downstream. For chained operators the batch is
	// borrowed and may be reused by the caller once Emit returns.
	Emit(batch any) error
}

// OpContext is what an operator instance learns about its task.
type OpContext struct {
	Context        context.Context
	Task, Tasks    int
	MaxParallelism int
	Metrics        *Metrics
	// DeadLetter routes a bad record according to the job's error policy;
	// it returns an error only when the policy is to fail.
	DeadLetter func(base.DeadLetter) error
	// State is the task's keyed state, names namespaced for this operator;
	// set for operators that implement Stateful, nil otherwise.
	State StateBackend
	// Restored is the checkpoint the task was restored from; 0 on a fresh
	// start.
	Restored base.CheckpointID
	// Now is processing time (the runner's clock).
	Now func() base.Timestamp
	// StateMemory is this operator's budget of in-memory state in bytes
	// (the job's --state-memory shared among its stateful operators); 0
	// means unlimited. Past it, a Stateful operator writes state back to
	// State and drops it from memory.
	StateMemory int64
}

// Operator is one instance of a node's transform, owned by one task.
type Operator interface {
	// Open wires the outputs, one per port.
	Open(ctx OpContext, outs []Output) error
	// Process handles a batch that arrived on input index in.
	Process(in int, batch any) error
	// Watermark tells the operator that its input watermark advanced to wm.
	// The runner forwards wm downstream after it returns.
	Watermark(wm base.Timestamp) error
	// Finish is called once after the final watermark of bounded input.
	Finish() error
	// Close releases resources; it is called even after an error.
	Close() error
}

// InputWatermarker is implemented by an operator of several inputs that
// also wants each input's own watermark: the minimum over that input's
// channels alone, under the same rules of idleness and alignment as the
// operator's watermark (the minimum over all inputs), which it is never
// below. The runner calls InputWatermark when an input's watermark
// advances, before the Watermark call the same message may cause; an
// input that ends is at +∞. A temporal join uses it to join a record as
// soon as the versions input has passed the record's time.
type InputWatermarker interface {
	InputWatermark(in int, wm base.Timestamp) error
}

// Committer is implemented by sink operators: two-phase commit of output.
type Committer interface {
	// PreCommit closes the output written since the last checkpoint and
	// stages it under id.
	PreCommit(id base.CheckpointID) error
	// Commit makes everything staged under ids <= id visible; idempotent.
	Commit(id base.CheckpointID) error
}

// Metrics are a job's counters, shared by its tasks.
type Metrics struct {
	RowsIn             atomic.Int64 // records read by sources
	RowsOut            atomic.Int64 // records written by sinks (excluding dead letters)
	Late               atomic.Int64 // records later than allowed lateness
	DeadLettered       atomic.Int64 // bad records sent to the dead-letter output
	Skipped            atomic.Int64 // bad records dropped under --on-error=skip
	RowsTotal          atomic.Int64 // records expected from split statistics (-1 unknown)
	Checkpoints        atomic.Int64 // checkpoints completed
	CheckpointsFailed  atomic.Int64 // checkpoints that failed (the job went on)
	CheckpointsStarted atomic.Int64 // checkpoints started: in flight, completed or failed
	NetworkBytes       atomic.Int64 // bytes of messages sent through the network exchange

	mu    sync.Mutex
	sinks map[string]*atomic.Int64
}

// SinkRows returns the counter of rows written by the sink named node.
func (m *Metrics) SinkRows(node string) *atomic.Int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sinks == nil {
		m.sinks = map[string]*atomic.Int64{}
	}
	c := m.sinks[node]
	if c == nil {
		c = new(atomic.Int64)
		m.sinks[node] = c
	}
	return c
}

// SinkNames returns the names of the sinks that have counters, sorted.
func (m *Metrics) SinkNames() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.sinks))
	for n := range m.sinks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Recover is set on sink nodes whose sink implements sdk.RecoverableSink.
// The runner calls it once per job start, before any writer opens.
type Recover func(ctx context.Context, rc RecoverContext) error

// RecoverContext is what a sink learns when a job starts (sdk.RecoverContext).
type RecoverContext struct {
	Job, Node string
	// Checkpoint is the checkpoint the job resumes from; 0 on a fresh start.
	Checkpoint base.CheckpointID
	// Committables are what the writers returned from Committable after
	// pre-committing Checkpoint, one entry per task of the run that took it
	// (nil for a writer that returned nothing).
	Committables [][]byte
	// Tasks is the number of writers of this run.
	Tasks int
	// Existing is what a fresh start does with output an earlier run
	// committed (sdk.RecoverContext.Existing).
	Existing base.ExistingOutput
}

// CommittableCommitter is a Committer whose pre-committed output the
// runner must record in the checkpoint so that a restarted job can commit
// it (a Kafka transaction's id, producer id and epoch).
type CommittableCommitter interface {
	Committer
	// Committable is called right after PreCommit(id).
	Committable(id base.CheckpointID) ([]byte, error)
}

// Stateful is implemented by operators that keep keyed state in the task's
// StateBackend (OpContext.State). At a checkpoint barrier, after every
// record and watermark before it, the runner calls Snapshot, then
// snapshots the backend: Snapshot must write into the backend every piece
// of in-memory state the operator needs after a restore (dirty cache
// entries, its set of timers). An operator opened with OpContext.Restored
// != 0 rebuilds its in-memory indexes from the backend in Open.
type Stateful interface {
	Snapshot(id base.CheckpointID) error
}

// ProcessingTimer is implemented by operators with processing-time timers
// (the Process transform). In stream mode the runner calls
// OnProcessingTime between steps, at least every few tens of milliseconds
// while the task runs, so timers fire even when no input arrives.
type ProcessingTimer interface {
	OnProcessingTime() error
}

// StateBackend is a task's keyed state (the runner's state.Backend), with
// state names namespaced per operator. Keys are bytes; every call takes the
// key's key group, which the task must own. It is owned by the task
// goroutine. See package state for the semantics of each kind.
type StateBackend interface {
	Value(name string) (ValueState, error)
	List(name string) (ListState, error)
	Map(name string) (MapState, error)
	Timers(name string) (TimerState, error)
	// KeyGroups is the task's range of key groups [start, end).
	KeyGroups() (start, end uint16)
}

// ValueState is one value per key.
type ValueState interface {
	Get(kg uint16, key []byte) ([]byte, bool, error)
	Put(kg uint16, key, val []byte) error
	Delete(kg uint16, key []byte) error
}

// ListState is a list per key: appends, reads of the whole list, clear.
type ListState interface {
	Len(kg uint16, key []byte) (int, error)
	Append(kg uint16, key, elem []byte) error
	Iterate(kg uint16, key []byte, fn func(elem []byte) error) error
	Clear(kg uint16, key []byte) error
}

// MapState is a map of byte keys to byte values per key.
type MapState interface {
	Get(kg uint16, key, mk []byte) ([]byte, bool, error)
	Put(kg uint16, key, mk, val []byte) error
	Delete(kg uint16, key, mk []byte) error
	Iterate(kg uint16, key []byte, fn func(mk, val []byte) error) error
	// IterateRange is Iterate over the entries with map keys in [from, to)
	// (nil from: from the first; nil to: to the last), seeking to from.
	IterateRange(kg uint16, key, from, to []byte, fn func(mk, val []byte) error) error
	// Clear deletes every entry of key's map at once (one range deletion,
	// no iteration).
	Clear(kg uint16, key []byte) error
	// IsEmpty reports whether key's map has no entries.
	IsEmpty(kg uint16, key []byte) (bool, error)
}

// TimerState is a set of (key group, timestamp, key) timers.
type TimerState interface {
	Register(kg uint16, ts int64, key []byte) error
	Delete(kg uint16, ts int64, key []byte) error
	// PopUpTo calls fn for every timer with timestamp <= ts, in timestamp
	// order, deleting those fn handled; it returns how many it handled.
	PopUpTo(ts int64, fn func(kg uint16, ts int64, key []byte) error) (int, error)
}
