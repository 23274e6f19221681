// Package iotest is the conformance suite every weir source and sink runs
// from its tests, like net/http/httptest for handlers.
//
// # What it owns
//
// [TestSource] reads every split of a source and compares the records and
// dead letters with what the case expects, checks that splits are listed
// stably with unique IDs, and resumes from every saved position (up to 20 a
// split) to check that the rest of the split comes back exactly: no
// duplicate, no loss. [TestSink] drives the two-phase commit protocol of a
// sink: nothing visible before Commit, everything after, Commit idempotent,
// Abort and Close discard, a writer opened after a crash commits what was
// pre-committed under a completed checkpoint and drops what was staged under
// one that never completed, and two tasks write side by side.
// [TestSinkRecover] checks a sink's Recover (sdk.RecoverableSink) across
// crashes and a change of parallelism (2 → 3 → 1): what the restored
// checkpoint staged is committed, what came after is dropped, every record
// is read back exactly once, and running Recover twice changes nothing.
//
// # Who calls it
//
// The tests of io/parquet, io/jsonl and any other connector.
//
// # Goroutines
//
// None: everything runs on the test's goroutine.
package iotest
