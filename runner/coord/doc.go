// Package coord decides a job's checkpoints: when one starts, which tasks
// take it on their own, when it is complete, failed or aborted, which
// stores its metadata goes to, and when sinks commit. It is Flink's
// CheckpointCoordinator as a state machine in the style of etcd raft's
// RawNode: single-threaded, with no clock, no goroutines and no I/O.
//
// # Usage
//
// A driver owns one [Machine]. It feeds it events with [Machine.Step]
// (the time of each event is an argument: the machine never reads a
// clock) and carries out what [Machine.Ready] returns, in order:
//
//	m := coord.New(cfg)
//	for ev := range events {          // ticks, task acks, uploads done, metadata written
//		m.Step(clock.Now(), ev)
//		for _, a := range m.Ready() {
//			switch a := a.(type) {
//			case coord.Trigger:  // tell tasks a.Tasks to take checkpoint a.ID
//			case coord.Upload:   // upload task a.Task's snapshot to a.Stores, then Step Uploaded
//			case coord.Write:    // write a.Metadata to the stores, in order, then Step Written
//			case coord.Abort:    // delete what checkpoint a.ID uploaded
//			case coord.Commit:   // tell every task to commit up to a.ID
//			case coord.Note:     // log a.Text
//			case coord.Finish:   // the job's last checkpoint has settled: stop
//			}
//		}
//	}
//
// The runner's checkpointer (runner/checkpointer.go) is the driver of a
// job in one process; the cluster's coordinator replicates the same
// machine's decisions.
//
// # Rules
//
// At most one checkpoint is in flight. A Tick starts one unless one is in
// flight. Source tasks, and tasks whose input has ended, take a
// checkpoint when told to (Trigger); the others when the barriers of all
// their inputs have arrived. A checkpoint is complete when every task has
// acknowledged it, every upload has succeeded and its metadata is written
// (Written without error); only then do sinks commit (Commit). An upload
// or a write that fails fails the checkpoint: what it uploaded is aborted,
// the job goes on, and the next checkpoint commits what this one staged.
// Once every task has finished, the job's last checkpoint starts; if it
// fails, nothing more commits and the job fails ([Finish] with an error).
// An acknowledgement or upload of a checkpoint that is no longer in
// flight is ignored. A graceful stop's last checkpoint also goes to the
// savepoint store; [SavepointRequested] sends the next checkpoint there
// too (at once when none is in flight, else as soon as it settles) while
// the job goes on, and its Commit says Savepoint.
//
// # Who calls it
//
// runner/checkpointer.go, from one goroutine. A Machine is not safe for
// concurrent use.
package coord
