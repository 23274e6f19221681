// Package enrichgen generates inputs for the enrichment pipeline (package
// enrich) and computes its expected outputs: clicks spread over partitions
// with disorder within a bound and a few late ones, and a changelog of
// profile versions (each user's first version at a random time, so that
// some clicks come before any profile, then changes) interleaved with the
// clicks in event time. [Expected] is the naive reference the tests compare
// weir with: lateness judged per partition, each click joined with the
// newest on-time version of its user at or before its time, metrics by
// nested loops.
package enrichgen
