package runner

import (
	"math/rand/v2"
	"testing"

	"github.com/weirflow/weir/internal/base"
)

// naiveValve is the input valve's rule written as plainly as possible:
// every call scans every channel.
type naiveValve struct {
	wms                           []base.Timestamp
	ended, stopped, idle, aligned []bool
	emitted                       base.Timestamp
}

func newNaiveValve(n int) *naiveValve {
	v := &naiveValve{wms: make([]base.Timestamp, n), ended: make([]bool, n), stopped: make([]bool, n),
		idle: make([]bool, n), aligned: make([]bool, n), emitted: base.MinTimestamp}
	for i := range v.wms {
		v.wms[i], v.aligned[i] = base.MinTimestamp, true
	}
	return v
}

func (v *naiveValve) advance() (base.Timestamp, bool) {
	wm, any := base.MaxTimestamp, false
	for ch, w := range v.wms {
		if v.idle[ch] || !v.aligned[ch] {
			continue
		}
		any = true
		wm = base.Min(wm, w)
	}
	if !any || wm <= v.emitted {
		return 0, false
	}
	v.emitted = wm
	return wm, true
}

func (v *naiveValve) isIdle() bool {
	open := false
	for ch := range v.wms {
		if v.ended[ch] {
			continue
		}
		if !v.idle[ch] {
			return false
		}
		open = true
	}
	return open
}

// TestInputValveMatchesNaive drives the valve (which keeps counts) and the
// naive one with the same random messages: watermarks, idle and active,
// ends and stops. Their watermarks and idleness must agree at every step.
func TestInputValveMatchesNaive(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		n := 1 + r.IntN(6)
		v, w := newInputValve(n), newNaiveValve(n)
		for step := range 60 {
			ch := r.IntN(n)
			var got, want base.Timestamp
			var gok, wok bool
			op := r.IntN(10)
			switch {
			case op < 6:
				wm := base.Timestamp(r.IntN(20))
				got, gok = v.watermark(ch, wm)
				if wm > w.wms[ch] {
					w.wms[ch] = wm
				}
				if !w.idle[ch] && !w.aligned[ch] && w.wms[ch] >= w.emitted {
					w.aligned[ch] = true
				}
				want, wok = w.advance()
			case op < 8:
				idle := r.IntN(2) == 0
				got, gok = v.status(ch, idle)
				if !w.ended[ch] && w.idle[ch] != idle {
					w.idle[ch] = idle
					w.aligned[ch] = !idle && w.wms[ch] >= w.emitted
					want, wok = w.advance()
				}
			case op < 9:
				if w.ended[ch] { // a channel ends once
					continue
				}
				got, gok = v.end(ch)
				w.ended[ch] = true
				w.wms[ch] = base.MaxTimestamp
				w.idle[ch], w.aligned[ch] = false, true
				want, wok = w.advance()
			default:
				if w.ended[ch] {
					continue
				}
				v.stop(ch)
				w.ended[ch], w.stopped[ch] = true, true
			}
			if got != want || gok != wok {
				t.Fatalf("seed %d step %d: watermark %v %v, want %v %v", seed, step, got, gok, want, wok)
			}
			if v.isIdle() != w.isIdle() {
				t.Fatalf("seed %d step %d: idle %v, want %v", seed, step, v.isIdle(), w.isIdle())
			}
		}
	}
}
