// Package runner is weir's embedded local runner: it executes a pipeline's
// graph in this process, with event-time watermarks, keyed shuffles, bad
// record routing, keyed state in Pebble, barrier checkpoints and a
// two-phase commit of every sink at each checkpoint.
//
//	stats, err := runner.Run(ctx, p, runner.Options{Parallelism: 4})
//
// Importing the package registers it with the sdk as the "local" runner, so
// sdk.Run works with a blank import.
//
// # What it owns
//
// Planning (topological order, stages of chained operators), tasks (one
// goroutine each), local exchanges between tasks, watermark generation and
// propagation, the error policy for bad records, and the end-of-job commit.
// Operators themselves live in internal/ops; sources and sinks in io/*.
//
// # Who calls it
//
// The entry point of job binaries (package job) calls [Run] with [Options]
// mapped from flags; tests and library users call it directly. It reads the graph through
// sdk.Pipeline.Graph and nothing else of the sdk's internals.
//
// # Message flow
//
// A stage is a head (a source, or a node fed through exchanges: a keyed
// shuffle or several inputs) and the nodes chained behind it (one forward
// input). Every stage runs Options.Parallelism tasks. A source task reads
// its splits one after another (batch mode) or in turn, one batch each
// (stream mode), and calls its chained operators synchronously; after each
// batch it advances the watermark (minimum over its live splits, idle ones
// excepted) and forwards it, or tells its outputs that it is idle. Other tasks read one inbox of messages
// {channel, batch | watermark | end}; their watermark is the minimum over
// their input channels. Operators see a watermark in topological order and
// may emit during it; then it goes downstream. At the end of input an
// operator sees +∞, then Finish; sinks pre-commit, and commit once every
// task of the job has finished (the end-of-job checkpoint).
//
// # Stream mode and stop
//
// With Options.Mode = ModeStream, splits are read in turn; a source that
// implements sdk.SplitDiscoverer is asked for new splits every
// Options.DiscoveryInterval, and new ones are handed to the source task
// with the fewest splits. A stream job ends like a batch job once every
// split has ended, and otherwise runs until Options.Stop is closed: then
// readers close, what is in flight is processed, no final watermark fires
// anything, sinks commit what was written, and Run returns nil.
//
// # Checkpoints and restore
//
// With Options.CheckpointDir the job takes a checkpoint every
// Options.CheckpointInterval: sources record their split positions and
// inject barriers, every task aligns them, snapshots its keyed state (a
// Pebble checkpoint uploaded incrementally in the background) and
// pre-commits its sinks; once every task has acknowledged, the metadata is
// written and sinks commit. A job started with a completed checkpoint in the
// directory resumes from the latest one (sinks first settle what earlier
// runs staged), so a job killed at any moment and restarted commits every
// result exactly once. Options.SavepointDir makes a graceful stop write a
// savepoint; Options.FromSavepoint resumes from one, at any parallelism.
//
// # Over several processes
//
// With Options.Cluster a run spans processes (a cluster's workers start
// them, package job): each hosts the tasks of its index, batches between
// processes go over runner/netx with credit-based flow control, and
// process 0, the master, settles the sinks and coordinates the
// checkpoints of every task, the others relaying to it over a control
// stream. A process that fails fails the run in every process.
//
// # Goroutines and ownership
//
// One goroutine per task, the checkpointer (the driver of the checkpoint
// coordinator, a clock-free state machine in runner/coord), plus in stream
// mode one split enumerator per discovering source, all owned by an
// errgroup (and one watcher of Options.Stop that ends with Run), and the
// checkpointer's background uploads, which Run waits for: the first error cancels
// the job's context, every send and receive selects on it, and Run returns
// only when every task has returned and closed its operators. A task owns
// its operators exclusively, so they take no locks. Batches passed to a
// chained operator are borrowed; an exchange copies rows into fresh
// per-target batches, and a batch sent on a channel belongs to the receiver.
// Shared state is limited to atomic metrics, the checkpointer's event
// queue (tasks push acknowledgements and never wait on a checkpoint's I/O)
// and the tasks' mailboxes, each behind its own mutex; every wall-clock use
// goes through Options.Clock. See DESIGN.md for the file map, checkpoints
// and restore.
package runner
