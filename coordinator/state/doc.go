// Package state is the coordinators' replicated state machine: the Raft
// FSM that holds coordinators, binaries, workers and jobs, the scheduler
// that places jobs on workers as a function of that state, and the tick
// counted failure detector the leader uses to find dead workers. It does
// no I/O, reads no clock and starts no goroutine, so all of it is tested
// with tables and no network, in the spirit of etcd raft's RawNode.
//
// # What it owns
//
// A [State] changes only through [State.Apply] of a [Command], the entry
// of the Raft log ([Encode], [Decode]). The leader builds each command,
// sets its Time, and proposes it; every coordinator applies the same
// commands in the same order and reaches the same state.
// [State.Snapshot] and [State.Restore] give the FSM's snapshots (JSON,
// sorted, so equal states give equal bytes).
//
// A job's life (api.JobState):
//
//	submit_job      -> queued
//	assign          queued|restarting -> running      (attempt+1; restarts+1 from restarting)
//	job_exited      cancelling -> cancelled (any code)
//	                code 0: stopping -> stopped, else -> finished
//	                code 2 or Permanent -> failed
//	                other -> restarting, or failed after MaxRestarts restarts
//	                with no newer checkpoint complete on disk in between
//	worker_dead     running|stopping -> restarting, cancelling -> cancelled
//	register_worker of a worker still alive: as worker_dead
//	cancel_job      queued|restarting -> cancelled, running|stopping -> cancelling
//	stop_job        running -> stopping
//	complete_checkpoint  running -> stopping when a stop is still asked for
//	                (its attempt failed or its worker died): the next
//	                attempt stops once it has recorded a checkpoint
//	request_savepoint    running: counted; answered by a checkpoint
//	                     reported with a savepoint
//
// A savepoint reported with a checkpoint sets Savepoint (SavepointDir)
// and SavepointID; a stop whose attempt exits 0 without one (it stopped
// while being set up) ends stopped with a Reason saying so. An assignment
// carries the job's FromSavepoint until a report says a checkpoint of the
// job's directory is complete on disk (CheckpointRequest.Complete): a
// checkpoint is reported before its metadata is written, so one recorded
// here may not be on disk.
//
// Attempts fence stale reports: an exit or a checkpoint counts only for
// the job's current attempt on its current worker, and an assign only
// with the next attempt. Worker losses do not count towards MaxRestarts:
// only the job's own failed exits do.
//
// Refusals are errors matching [ErrNotFound], [ErrStale], [ErrConflict]
// or [ErrInvalid] (errors.Is), each with a one-line message for the
// user; a refused command changes nothing.
//
// # Scheduling
//
// [Schedule] places jobs in FIFO order of submission and returns the
// assign commands for the leader to propose: whole on one worker when one
// has the slots (best fit), else spread over the fewest workers that can
// hold it, one process each ([Shares]: task k on process k·n/parallelism,
// the runner's placement). A job that fits nowhere waits without blocking
// later ones; [Waiting] says why, for status. The master of a spread
// attempt (process 0, Job.Worker) decides its end; another process's
// failure, or the loss of any of its workers, restarts it.
//
// # Who calls it
//
// The coordinator server: its Raft FSM adapter applies decoded log
// entries, its HTTP handlers read the views ([State.Jobs],
// [State.Workers], [State.Assignments], ...), and its leader loop runs
// [Schedule] and a [Detector].
//
// # Goroutines and locks
//
// None. State and Detector are not safe for concurrent use: the caller
// holds its own lock around Apply, Restore and the views (the Raft FSM
// goroutine applies while HTTP handlers read). Views return copies.
package state
