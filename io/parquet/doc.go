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
// GenericReader. Timestamps in milli-, micro- and nanoseconds convert
// exactly over the whole range of each unit (parquet-go alone goes through
// nanoseconds and wraps outside 1677-2262): GenericReader's time.Time
// fields at fixed offsets are decoded again by the column decoder's code,
// and a row holding a time GenericReader would read wrong elsewhere (in a
// list, a map, behind a pointer) is a dead letter naming the column. A null
// timestamp reads as the zero time.Time (a missing event time) with both
// readers. A row whose event-time column lies outside
// 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z is a dead letter
// "path row group G row R" with the row as JSON; the reader's
// DescribeRecord gives the runner the same for the rows it returns (a
// missing event time). INT96 timestamps are not read: a file with one is a
// dead letter per row group naming the column.
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
// them, as sdk.RecoverContext.Existing says. [WriteFile] writes a slice
// to a file, for tests and demos. Both refuse, with an error naming the
// column, a time that a timestamp(nanosecond) column cannot hold (outside
// 1677-2262), which parquet-go would write as another time.
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
