// Package state will be weir's keyed state backend: one Pebble instance per
// task, keys prefixed by key group so state can be split or merged when
// parallelism changes, and snapshots as incremental Pebble checkpoints.
//
// # Status
//
// Not built yet. Today the windowed aggregation keeps its state in memory
// (internal/ops), which is enough for batch backfills; streaming jobs with
// checkpoints need this package.
package state
