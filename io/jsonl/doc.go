// Package jsonl reads and writes JSON Lines files: one JSON object a line.
//
// # What it owns
//
// [Source] lists the files matching a glob, one split a file sorted by path,
// and decodes each line with the registered codec of the record type. A
// reader's position is the byte offset and line number after the last line
// returned, so a restored job resumes mid-file. A line that does not decode,
// or is longer than [SourceOptions.MaxLineSize], becomes a dead letter
// ("in.jsonl line 7") and reading goes on; blank lines are skipped and the
// last line needs no newline.
//
// [Sink] writes part-<task>-<seq>.jsonl files with two-phase commit: files
// are written as .inprogress, staged on PreCommit and renamed into place on
// Commit, so readers of *.jsonl see committed, complete files only (see
// io/internal/filecommit for the protocol and restarts). A fresh start
// into a directory that holds committed files of an earlier run is
// refused, or replaces or adds to them, as sdk.RecoverContext.Existing
// says. [DeadLetterSink]
// writes dead letters with the record as a readable string.
//
// # Who calls it
//
// User pipelines through sdk.Read and sdk.Write; the CLI for dead letters
// and debugging output.
//
// # Goroutines
//
// None. A reader or writer is used by one task goroutine at a time.
package jsonl
