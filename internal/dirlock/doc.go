// Package dirlock gives one process at a time a directory: a checkpoint
// folder, a savepoint folder, a job's local state.
//
// # How
//
// The lock is an advisory lock (flock) on a file in the directory,
// [FileName], held for as long as the process keeps the [Lock]. The kernel
// releases it when the process exits, however it exits (kill -9 included),
// so a lock is never left held by a dead process. The file also records
// who holds it (pid, host, what and since when): a second process that
// cannot take the lock reports the holder in one line, and a process that
// takes a lock whose file still names an earlier holder knows that holder
// ended without releasing it (it crashed) and can say so.
//
// The lock file stays in the directory after [Lock.Release] (emptied):
// removing it would let two processes lock two different files of the
// same name.
//
// # Who calls it
//
// The runner, when a job opens its checkpoint and savepoint folders and its
// local state folder. A Lock is owned by one goroutine.
package dirlock
