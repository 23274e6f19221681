// Package filecommit is the two-phase commit protocol of the file sinks
// (io/parquet, io/jsonl): one task's output files, their names, rolling,
// staging under a checkpoint id and commit by rename.
//
// # What it owns
//
// The names of one task's files in the output directory:
//
//	part-<task>-<seq><ext>.inprogress   being written, never visible
//	part-<task>-<seq><ext>.staged-<id>  closed and pre-committed under checkpoint id
//	part-<task>-<seq><ext>              committed, visible
//
// A reader globbing *<ext> sees committed files only, and a committed file is
// always complete because it appears by an atomic rename. Sequence numbers
// continue after the largest one found in the directory, so names are
// deterministic and never reused.
//
// # Restarts
//
// Staged files carry their checkpoint id in their name, so a writer opened
// after a crash can commit what an earlier writer staged: Commit(id) renames
// every staged file of the task with an id <= id. The first Commit or
// PreCommit of a writer also removes staged files left by an earlier writer
// that can no longer be part of a completed checkpoint: on Commit(id) those
// staged under ids > id, on PreCommit(id) those staged under ids >= id. The
// runner should therefore call Commit(restored) on a writer opened after a
// restore, before its first PreCommit. In-progress files of the task left by
// an earlier writer are removed by Open.
//
// # Who calls it
//
// The sink writers of io/parquet and io/jsonl, from their task's goroutine.
// A Files is not safe for concurrent use.
package filecommit
