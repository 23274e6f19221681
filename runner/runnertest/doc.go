// Package runnertest holds test doubles for pipelines run by the runner: an
// in-memory [Source] of records divided into splits (with optional split
// statistics and bad records), an unbounded in-memory [Stream] whose
// splits a test feeds, ends and adds to while a job runs, and a [Sink] that
// collects what was committed, like net/http/httptest.
//
// # Who calls it
//
// Tests of the runner and of pipelines built with the sdk.
//
// # Goroutines
//
// A Source's readers and a Sink's writers are each used by one task; the
// Sink guards its collected rows with a mutex, so tests may read them
// while a job runs. A Stream guards its splits with a mutex: tests append
// to it while tasks read, and a waiting read is woken by every change.
package runnertest
