package runner

import (
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// splitWatermark is the watermark generator of one split: max event time
// seen - bound - 1µs, so that a record at most bound behind the largest
// seen is never late. Before the first record it holds at hold.
type splitWatermark struct {
	bound int64 // µs, plus the 1µs
	hold  base.Timestamp
	max   base.Timestamp
	seen  bool
}

func newSplitWatermark(spec graph.WatermarkSpec, s graph.Split) splitWatermark {
	g := splitWatermark{bound: spec.Bound.Microseconds() + 1, hold: base.MinTimestamp, max: base.MinTimestamp}
	if ss, ok := s.(graph.SplitStats); ok {
		if min, ok := ss.MinEventTime(); ok {
			g.hold = min.AddMicros(-g.bound)
		}
	}
	return g
}

func (g *splitWatermark) observe(maxTime base.Timestamp) {
	if maxTime == base.MinTimestamp {
		return
	}
	g.seen = true
	g.max = base.Max(g.max, maxTime)
}

func (g *splitWatermark) current() base.Timestamp {
	if !g.seen {
		return g.hold
	}
	return base.Max(g.hold, g.max.AddMicros(-g.bound))
}

type splitState uint8

const (
	splitPending splitState = iota
	splitReading
	splitDone
)

// sourceValve is the watermark of a source task over its splits. Finished
// splits do not count; a pending split holds the watermark at its hold
// (from its statistics, else -∞); a split being read counts through its
// generator unless it is idle: no record for spec.Idle of processing time,
// or (for a split added at run time) no record yet. The emitted watermark
// never decreases and is +∞ once every split is done, unless more splits
// may still come (more). In perfect mode nothing is emitted before the end.
type sourceValve struct {
	idle    time.Duration
	spec    graph.WatermarkSpec
	clock   nower
	perfect bool
	more    bool // splits may still be added: all done is idle, not +∞
	gens    []splitWatermark
	state   []splitState
	fresh   []bool      // added at run time: idle until its first record
	active  []time.Time // last time the split produced a record (or started)
	emitted base.Timestamp
}

// nower is the part of a Clock the valves need.
type nower interface{ Now() time.Time }

func newSourceValve(spec graph.WatermarkSpec, splits []graph.Split, clock nower, perfect bool) *sourceValve {
	v := &sourceValve{idle: spec.Idle, spec: spec, clock: clock, perfect: perfect, emitted: base.MinTimestamp}
	for _, s := range splits {
		v.add(s, false)
	}
	return v
}

// add appends a pending split and returns its index. A fresh split (found
// by discovery) is idle until its first record, so that a new partition
// that never receives data does not stall the watermark at -∞.
func (v *sourceValve) add(s graph.Split, fresh bool) int {
	v.gens = append(v.gens, newSplitWatermark(v.spec, s))
	v.state = append(v.state, splitPending)
	v.fresh = append(v.fresh, fresh)
	v.active = append(v.active, time.Time{})
	return len(v.gens) - 1
}

// start marks split i as being read.
func (v *sourceValve) start(i int) {
	v.state[i] = splitReading
	v.active[i] = v.clock.Now()
}

// observe records a read of n records with largest event time maxTime from
// split i.
func (v *sourceValve) observe(i, n int, maxTime base.Timestamp) {
	if n == 0 {
		return
	}
	v.gens[i].observe(maxTime)
	v.active[i] = v.clock.Now()
}

// seed sets split i's largest event time seen, for a split resumed from a
// checkpoint.
func (v *sourceValve) seed(i int, max base.Timestamp) { v.gens[i].observe(max) }

// finish marks split i as done.
func (v *sourceValve) finish(i int) { v.state[i] = splitDone }

// compute returns the watermark over live splits; ok is false when every
// live split is idle (the watermark is then not advanced and the task is
// idle).
func (v *sourceValve) compute() (wm base.Timestamp, ok bool) {
	wm, live := base.MaxTimestamp, false
	var now time.Time
	for i, st := range v.state {
		switch st {
		case splitDone:
			continue
		case splitReading:
			if v.fresh[i] && !v.gens[i].seen {
				continue
			}
			if v.idle > 0 {
				if now.IsZero() {
					now = v.clock.Now()
				}
				if now.Sub(v.active[i]) >= v.idle {
					continue
				}
			}
		}
		live = true
		wm = base.Min(wm, v.gens[i].current())
	}
	if !live && (v.more || !v.allDone()) {
		return 0, false
	}
	return wm, true
}

func (v *sourceValve) allDone() bool {
	for _, st := range v.state {
		if st != splitDone {
			return false
		}
	}
	return true
}

// advance returns the new watermark to emit, if it increased.
func (v *sourceValve) advance() (base.Timestamp, bool) {
	if v.perfect && !v.allDone() {
		return 0, false
	}
	wm, ok := v.compute()
	if !ok || wm <= v.emitted {
		return 0, false
	}
	v.emitted = wm
	return wm, true
}

// isIdle reports whether every live split is idle (and more may come, or
// some are not done).
func (v *sourceValve) isIdle() bool {
	_, ok := v.compute()
	return !ok
}

// inputValve is the watermark of a task fed by exchanges: the minimum over
// its input channels, an ended channel counting as +∞, following Flink's
// StatusWatermarkValve for stream status:
//   - an idle channel does not count;
//   - a channel that becomes active again counts only once its watermark has
//     caught up with the task's emitted watermark (it is "aligned"), so the
//     task's watermark never goes backwards; records it sends meanwhile may
//     be late;
//   - when every open channel is idle the task is idle: its watermark stays
//     where it is (Flink may also emit the largest channel watermark then;
//     we do not) and the idle status goes downstream;
//   - a channel stopped gracefully (msgStop) keeps its last watermark and
//     status: it never implies +∞.
//
// Channel watermarks and the output never decrease.
//
// A keyed stage's task has one channel per upstream task, so the valve
// keeps counts rather than scanning its channels for every message: a
// channel "counts" when it is active and aligned (an ended one counts at
// +∞), and every counting channel is at or above the emitted watermark, so
// while one of them is at it ("holds" it) the watermark cannot advance.
// Only when the last holder moves does advance scan the channels, and then
// it emits a new watermark (work of the order of sending it on).
type inputValve struct {
	wms     []base.Timestamp
	ended   []bool
	stopped []bool
	idle    []bool
	aligned []bool
	live    int
	emitted base.Timestamp

	counting int // channels that are active and aligned
	holding  int // of which at the emitted watermark
	idleOpen int // channels idle and not ended
}

func newInputValve(channels int) *inputValve {
	v := &inputValve{
		wms: make([]base.Timestamp, channels), ended: make([]bool, channels),
		stopped: make([]bool, channels), idle: make([]bool, channels),
		aligned: make([]bool, channels), live: channels, emitted: base.MinTimestamp,
		counting: channels, holding: channels,
	}
	for i := range v.wms {
		v.wms[i] = base.MinTimestamp
		v.aligned[i] = true
	}
	return v
}

// counts reports whether channel ch counts toward the watermark, and
// whether it holds it at the emitted watermark.
func (v *inputValve) counts(ch int) (counting, holding bool) {
	counting = !v.idle[ch] && v.aligned[ch]
	return counting, counting && v.wms[ch] == v.emitted
}

// recount updates the counts after channel ch changed; c0, h0 and i0 are
// what counts and idleOpen said of it before.
func (v *inputValve) recount(ch int, c0, h0, i0 bool) {
	c1, h1 := v.counts(ch)
	v.counting += b2i(c1) - b2i(c0)
	v.holding += b2i(h1) - b2i(h0)
	v.idleOpen += b2i(v.idle[ch] && !v.ended[ch]) - b2i(i0)
}

func (v *inputValve) before(ch int) (c0, h0, i0 bool) {
	c0, h0 = v.counts(ch)
	return c0, h0, v.idle[ch] && !v.ended[ch]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// watermark records wm on channel ch and returns the task's new watermark
// if it increased.
func (v *inputValve) watermark(ch int, wm base.Timestamp) (base.Timestamp, bool) {
	c0, h0, i0 := v.before(ch)
	if wm > v.wms[ch] {
		v.wms[ch] = wm
	}
	if !v.idle[ch] && !v.aligned[ch] && v.wms[ch] >= v.emitted {
		v.aligned[ch] = true
	}
	v.recount(ch, c0, h0, i0)
	return v.advance()
}

// status records that channel ch became idle or active again.
func (v *inputValve) status(ch int, idle bool) (base.Timestamp, bool) {
	if v.ended[ch] || v.idle[ch] == idle {
		return 0, false
	}
	c0, h0, i0 := v.before(ch)
	v.idle[ch] = idle
	v.aligned[ch] = !idle && v.wms[ch] >= v.emitted
	v.recount(ch, c0, h0, i0)
	return v.advance()
}

// end records the end of channel ch.
func (v *inputValve) end(ch int) (base.Timestamp, bool) {
	c0, h0, i0 := v.before(ch)
	if !v.ended[ch] {
		v.ended[ch] = true
		v.live--
	}
	v.wms[ch] = base.MaxTimestamp
	v.idle[ch], v.aligned[ch] = false, true
	v.recount(ch, c0, h0, i0)
	return v.advance()
}

// stop records the graceful stop of channel ch: it ends without +∞.
func (v *inputValve) stop(ch int) {
	if !v.ended[ch] {
		c0, h0, i0 := v.before(ch)
		v.ended[ch] = true
		v.stopped[ch] = true
		v.live--
		v.recount(ch, c0, h0, i0)
	}
}

// done reports whether every channel has ended or stopped.
func (v *inputValve) done() bool { return v.live == 0 }

// anyStopped reports whether some channel was stopped rather than ended.
func (v *inputValve) anyStopped() bool {
	for _, s := range v.stopped {
		if s {
			return true
		}
	}
	return false
}

// isIdle reports whether every channel still open is idle (and one is).
func (v *inputValve) isIdle() bool { return v.live > 0 && v.idleOpen == v.live }

// advance emits the minimum watermark of the counting channels if it is
// above the emitted one: only possible once no counting channel holds the
// emitted watermark.
func (v *inputValve) advance() (base.Timestamp, bool) {
	if v.counting == 0 || v.holding > 0 {
		return 0, false
	}
	wm, n := base.MaxTimestamp, 0
	for ch, w := range v.wms {
		if v.idle[ch] || !v.aligned[ch] {
			continue
		}
		switch {
		case w < wm:
			wm, n = w, 1
		case w == wm:
			n++
		}
	}
	if n == 0 || wm <= v.emitted {
		return 0, false
	}
	v.emitted, v.holding = wm, n
	return wm, true
}
