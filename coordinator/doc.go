// Package coordinator will be the cluster brain: 1, 3 or 5 `weir
// coordinator` nodes replicating jobs, binaries, workers, task and split
// assignments and completed checkpoints through Raft; the leader schedules,
// triggers checkpoints, detects dead workers and restarts jobs from their
// last completed checkpoint.
//
// # Status
//
// Not built yet. Jobs run embedded in one process through the local runner
// (package runner); `weir coordinator`, `worker`, `submit` and the other
// cluster commands say so and exit.
package coordinator
