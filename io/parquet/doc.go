// Package parquet reads and writes Parquet files through parquet-go.
//
// # What it owns
//
// [Source] lists one split per row group of every file matching a glob,
// sorted by path then row group ("data/a.parquet#rg0003"). Each split knows
// its row count and minimum event time from the footer (the statistics of
// the column of T's weir:"eventtime" field; timestamp units are converted to
// microseconds), which the runner uses to hold the watermark for splits not
// yet started. A reader decodes only the columns of T and its position is
// the row offset in the row group, so a restored job resumes mid-row-group
// through the page index.
//
// When T is a flat struct of strings, byte slices, integers, floats, bools
// and time.Time timestamps, a column decoder fills the fields straight from
// each column's pages (3-4x the rows/s of parquet-go's GenericReader and a
// sixth of its memory on the fraud record); other types, and files whose columns are repeated, go through
// GenericReader. A null timestamp reads as the zero time.Time (missing event
// time) in the column decoder; GenericReader turns it into the epoch.
//
// Bad input is a dead letter, never a panic or a job failure: a file whose
// footer cannot be read gives one split with one dead letter (source: the
// path); a file missing a column of T or with another physical type gives a
// dead letter per row group naming the column; unreadable pages give a dead
// letter naming the lost rows of the row group, and reading goes on with the
// next split. An empty glob is an error from Splits.
//
// [Sink] writes part-<task>-<seq>.parquet files with two-phase commit:
// files are written as .inprogress, roll at a target size, are staged on
// PreCommit and renamed into place on Commit, so readers of *.parquet see
// committed, complete files only (see io/internal/filecommit for the
// protocol and restarts). A fresh start into a directory that holds
// committed files of an earlier run is refused, or replaces or adds to
// them, as sdk.RecoverContext.Existing says. [WriteFile] writes a slice to a file, for tests
// and demos.
//
// # Who calls it
//
// User pipelines through sdk.Read and sdk.Write; benchmarks and the demo
// through WriteFile.
//
// # Goroutines
//
// None: parquet-go is used in its synchronous read mode. A reader or writer
// is used by one task goroutine at a time.
package parquet
