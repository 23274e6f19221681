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

// sourceValve is the watermark of a source task over the splits it reads
// one after another. Finished splits do not count; a pending split holds
// the watermark at its hold (from its statistics, else -∞); the split being
// read counts through its generator unless it has been idle (no record for
// spec.Idle of processing time). The emitted watermark never decreases and
// is +∞ once every split is done. In perfect mode nothing is emitted before
// the end.
type sourceValve struct {
	idle    time.Duration
	clock   Clock
	perfect bool
	gens    []splitWatermark
	state   []splitState
	active  []time.Time // last time the split produced a record (or started)
	emitted base.Timestamp
}

func newSourceValve(spec graph.WatermarkSpec, splits []graph.Split, clock Clock, perfect bool) *sourceValve {
	v := &sourceValve{
		idle: spec.Idle, clock: clock, perfect: perfect, emitted: base.MinTimestamp,
		gens:   make([]splitWatermark, len(splits)),
		state:  make([]splitState, len(splits)),
		active: make([]time.Time, len(splits)),
	}
	for i, s := range splits {
		v.gens[i] = newSplitWatermark(spec, s)
	}
	return v
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

// finish marks split i as done.
func (v *sourceValve) finish(i int) { v.state[i] = splitDone }

// compute returns the watermark over live splits; ok is false when every
// live split is idle (the watermark is then not advanced).
func (v *sourceValve) compute() (wm base.Timestamp, ok bool) {
	wm, live := base.MaxTimestamp, false
	var now time.Time
	for i, st := range v.state {
		switch st {
		case splitDone:
			continue
		case splitReading:
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
	if !live && !v.allDone() {
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

// inputValve is the watermark of a task fed by exchanges: the minimum over
// its input channels, an ended channel counting as +∞. Channel watermarks
// and the output never decrease.
type inputValve struct {
	wms     []base.Timestamp
	ended   []bool
	live    int
	emitted base.Timestamp
}

func newInputValve(channels int) *inputValve {
	v := &inputValve{wms: make([]base.Timestamp, channels), ended: make([]bool, channels), live: channels, emitted: base.MinTimestamp}
	for i := range v.wms {
		v.wms[i] = base.MinTimestamp
	}
	return v
}

// watermark records wm on channel ch and returns the task's new watermark
// if it increased.
func (v *inputValve) watermark(ch int, wm base.Timestamp) (base.Timestamp, bool) {
	if wm > v.wms[ch] {
		v.wms[ch] = wm
	}
	return v.advance()
}

// end records the end of channel ch.
func (v *inputValve) end(ch int) (base.Timestamp, bool) {
	if !v.ended[ch] {
		v.ended[ch] = true
		v.live--
	}
	v.wms[ch] = base.MaxTimestamp
	return v.advance()
}

// done reports whether every channel has ended.
func (v *inputValve) done() bool { return v.live == 0 }

func (v *inputValve) advance() (base.Timestamp, bool) {
	wm := base.MaxTimestamp
	for _, w := range v.wms {
		wm = base.Min(wm, w)
	}
	if wm <= v.emitted {
		return 0, false
	}
	v.emitted = wm
	return wm, true
}
