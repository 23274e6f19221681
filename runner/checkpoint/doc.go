// Package checkpoint is the runner's checkpoint store on a local file
// system directory (--checkpoint-dir): Flink's CheckpointStorage and
// CompletedCheckpointStore in one. It stores the keyed-state snapshots of
// tasks (state.Backend.Snapshot) incrementally, records each completed
// checkpoint's metadata durably, lists the completed checkpoints for a
// restart, copies snapshots back for state.Restore, and deletes what no
// retained checkpoint needs.
//
// # Usage
//
//	s, err := checkpoint.Open(dir, checkpoint.Options{Retain: 3})
//	ms, skipped, err := s.Completed() // restart: newest first; log skipped
//	id := s.NextID()
//	// per task, off the task goroutine, after Backend.Snapshot(snapDir):
//	u := s.NewUploader("window-3-" + runID) // once per task per run
//	h, n, err := u.Upload(id, snapHandle)
//	// once every task acknowledged and every upload returned:
//	err = s.Complete(&checkpoint.Metadata{ID: id, State: ..., ...})
//	// or, on failure: s.Abort(id)
//	// restore: s.Materialize(*ts.State, restoreDir), then state.Restore.
//
// # On-disk layout
//
//	<dir>/
//	  .weir-store                             the kind of store: "checkpoints" or "savepoints"
//	  .weir.lock                              the running job's lock (internal/dirlock; the runner's)
//	  shared/<instance>/<NNNNNN>.sst          SSTs, uploaded once per instance, shared by checkpoints
//	  chk-<id>/_metadata                      present (and valid) = checkpoint <id> is complete
//	  chk-<id>/<instance>/MANIFEST-*, OPTIONS-*, *.log, marker.*
//	                                          the snapshot's other files, copied every time
//	  chk-<id>/<instance>/<NNNNNN>.sst        SSTs too, in a self-contained store (savepoints)
//	  ...<name>.tmp-<random>                  a file being written; renamed into place when whole
//
// <instance> names one Pebble instance of one task in one run (the caller
// makes it unique, e.g. "<stage>-<task>-<random>"); SST file numbers are
// unique only within an instance. <id> is decimal without leading zeros.
//
// _metadata is one line of JSON:
//
//	{"format":"weir-checkpoint-v1","crc32c":<CRC-32C of the metadata bytes>,"metadata":{...Metadata...}}
//
// The checksum covers the exact bytes of the "metadata" value, so a torn,
// truncated or altered file is detected. Each [FileRef] in the metadata
// records the file's path relative to <dir> (slash-separated), its size
// and its CRC-32C. Paths are relative, so a store directory can be moved;
// in a self-contained store every path is under chk-<id>/, so that
// directory alone, copied into another directory, is a store holding one
// restorable checkpoint.
//
// # Kinds, owners and permissions
//
// A store records its kind in .weir-store when it first opens a
// directory, and refuses a directory of the other kind (a *KindError): a
// checkpoint store and a savepoint store never share a directory, so
// neither collects the other's files as garbage. A directory written before
// kinds were recorded holds savepoints if one of its checkpoints is a
// savepoint. Options.ReadOnly opens a store only to restore from it (a
// savepoint, or another job's checkpoints): nothing is written, checked
// or deleted. Files are written 0600 and directories 0700: keyed state
// holds user data.
//
// # Durability and validity
//
// Uploaded files are written under a temporary name, fsynced, renamed,
// and their directories fsynced. Complete writes _metadata the same way
// and fsyncs chk-<id> and <dir>: a checkpoint counts from the rename of
// its _metadata on. [Store.Completed] reads the directory: a chk-<id>
// without _metadata, with a torn or mismatching one, or referencing a
// missing file or one of the wrong size is skipped, and a *CorruptError
// says why. Contents are verified (CRC-32C) by [Store.Materialize], which
// names the file that does not match (and by [Store.Verify]). The runner
// refuses a completed checkpoint that does not verify rather than fall
// back to an older one, whose output may since have been committed; a
// directory without metadata never completed and is simply skipped.
//
// # Garbage collection
//
// After each Complete the store keeps the newest Options.Retain completed
// checkpoints and deletes every other chk-* directory, every file in a
// retained chk-* directory that its metadata does not reference, and
// every shared file no retained checkpoint references — except what
// in-flight uploads (checkpoint ids above the newest completed one,
// registered in memory by Upload before it writes) use. Leftovers of a
// crashed run (uploads of ids that never completed, temporary files,
// SSTs of dead instances) are in no retained checkpoint and no in-flight
// upload of this run, so the first Complete after a restart deletes them;
// a new upload of a leftover id overwrites its files. Abort deletes an
// unfinished checkpoint's directory and the shared files only it used.
//
// # Who calls it
//
// The runner's checkpoint coordinator (Open, Completed, NextID, Complete,
// Abort) and its tasks' background uploads (NewUploader, Upload); on
// restore, the tasks (Materialize). It imports state (for state.Handle)
// and the standard library only.
//
// # Goroutines and locks
//
// None of its own. A Store is safe for concurrent use. Store.completeMu
// serializes Complete and Abort; Store.mu (taken after completeMu) guards
// the in-memory index: the newest completed id, the retained metadata,
// the paths of in-flight uploads and the shared files known to be whole.
// Upload takes mu twice, briefly: to register its paths (and find SSTs
// already stored) and to record what it wrote; it copies without a lock.
// Garbage collection holds mu while it deletes, so an upload never reuses
// a file being deleted. Complete writes and fsyncs _metadata without mu.
package checkpoint
