// Package runnertest holds test doubles for pipelines run by the runner: an
// in-memory [Source] of records divided into splits (with optional split
// statistics and bad records) and a [Sink] that collects what was
// committed, like net/http/httptest.
//
// # Who calls it
//
// Tests of the runner and of pipelines built with the sdk.
//
// # Goroutines
//
// A Source's readers and a Sink's writers are each used by one task; the
// Sink guards its collected rows with a mutex, so tests may read them
// while a job runs.
package runnertest
