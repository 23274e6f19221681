// Package progress renders a running job's progress and its final summary
// line from the job's [graph.Metrics].
//
// # What it owns
//
// The text a job prints on stderr: on a terminal, a progress bar redrawn in
// place a few times a second (rows read of the total known from Parquet
// footers, percent, rate, ETA); elsewhere, a plain line every so often so
// logs stay readable; and always one summary line when the job ends. The
// formatting functions are pure and tested on fixed snapshots; the
// [Reporter] only decides when to call them.
//
// # Who calls it
//
// Package job, which decides the [Mode] from the --progress flag and
// whether stderr is a terminal.
//
// # Goroutines
//
// [Reporter.Start] starts one goroutine that owns the writer until
// [Reporter.Stop] returns; Stop waits for it. The metrics are read with
// atomic loads only.
package progress
