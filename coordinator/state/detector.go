package state

import "slices"

// Detector is the leader's failure detector for workers, counted in
// ticks rather than read from a clock: the leader calls [Detector.Tick]
// every heartbeat interval and [Detector.Heartbeat] whenever a worker's
// heartbeat arrives. It is not replicated; a new leader calls
// [Detector.Reset]. It is not safe for concurrent use.
type Detector struct {
	timeout int
	missed  map[string]int // ticks since the worker's last heartbeat
}

// NewDetector returns a detector that reports a worker after
// timeoutTicks ticks without a heartbeat (at least 1).
func NewDetector(timeoutTicks int) *Detector {
	return &Detector{timeout: max(timeoutTicks, 1), missed: map[string]int{}}
}

// Heartbeat records a heartbeat of worker: its count starts again.
func (d *Detector) Heartbeat(worker string) {
	d.missed[worker] = 0
}

// Tick advances one tick for every worker in alive (the workers the
// state holds alive) and returns, sorted, those that reached the timeout.
// A reported worker's count starts again, so it is reported once per
// timeout: if it is still listed as alive a full timeout later (applying
// worker_dead failed), it is reported again. Workers not in alive are
// forgotten; one that comes back starts with a full timeout.
func (d *Detector) Tick(alive []string) (dead []string) {
	seen := make(map[string]bool, len(alive))
	for _, w := range alive {
		if seen[w] {
			continue
		}
		seen[w] = true
		d.missed[w]++
		if d.missed[w] >= d.timeout {
			dead = append(dead, w)
			d.missed[w] = 0
		}
	}
	for w := range d.missed {
		if !seen[w] {
			delete(d.missed, w)
		}
	}
	slices.Sort(dead)
	return dead
}

// Reset gives every worker a full timeout again, as a new leader must:
// it has not been receiving their heartbeats.
func (d *Detector) Reset() {
	clear(d.missed)
}
