package state

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// Timers holds timers (key group, timestamp, key) ordered by timestamp.
// Each timer is one Pebble key: kg | id | timestamp (8 bytes, sign-flipped
// big-endian) | key, with an empty value. Timer writes bypass the cache
// and go to the pending batch.
//
// Each timer set also keeps, in memory, the first timers of each key group
// (see timerHeads): PopUpTo takes due timers from there and reads Pebble
// only to refill a key group whose cached head ran out, seeking past the
// timers popped earlier (whose tombstones stay in Pebble until a
// compaction).
type Timers struct {
	b  *Backend
	id uint16
	h  *timerHeads
}

// Timers returns the timer set called name, registering it on first use.
func (b *Backend) Timers(name string) (*Timers, error) {
	in, err := b.register(name, kindTimers)
	if err != nil {
		return nil, err
	}
	if in.timers == nil {
		in.timers = newTimerHeads(b.opts.KeyGroups, b.opts.CacheBytes)
	}
	return &Timers{b: b, id: in.id, h: in.timers}, nil
}

// A timer set caches at most CacheBytes/headBytesPerTimer timers over all
// its key groups (64 K under the default budget, a few MiB), and at least
// minHead and at most maxHead per key group. This memory is outside the
// cache budget.
const (
	headBytesPerTimer = 1024
	minHead           = 8
	maxHead           = 1024
)

// timerHeads caches, per key group, a prefix of the key group's timers in
// (time, key) order, as Pebble key suffixes (timestamp | key). For key
// group kg at i = kg - start, when known[i] is set, head[i] holds exactly
// the timers of kg whose suffix is below bound[i] (all of them if
// all[i]); when it is not (a new index after Open or Restore, or after an
// error), nothing is known and the next pop reads kg from Pebble. min is a
// lower bound on every timer's time (MinInt64 if unknown); none is set
// when no key group holds a timer.
type timerHeads struct {
	start uint16
	max   int // entries cached per key group
	known []bool
	all   []bool
	head  [][]string
	bound []string
	min   int64
	none  bool
}

func newTimerHeads(kr KeyGroupRange, cacheBytes int64) *timerHeads {
	n := int64(kr.End - kr.Start)
	x := &timerHeads{
		start: kr.Start,
		max:   int(min(max(cacheBytes/headBytesPerTimer/n, minHead), maxHead)),
		known: make([]bool, n),
		all:   make([]bool, n),
		head:  make([][]string, n),
		bound: make([]string, n),
	}
	x.reset()
	return x
}

// reset forgets everything.
func (x *timerHeads) reset() {
	clear(x.known)
	clear(x.head)
	x.min, x.none = math.MinInt64, false
}

// covers reports whether key group i's cached head decides suffix s.
func (x *timerHeads) covers(i int, s []byte) bool {
	return x.known[i] && (x.all[i] || string(s) < x.bound[i])
}

// add notes a timer of key group kg with suffix s (timestamp | key).
func (x *timerHeads) add(kg uint16, s []byte) {
	i := int(kg - x.start)
	ts := decodeTimestamp(s[:8])
	if x.none || ts < x.min {
		x.min, x.none = ts, false
	}
	if !x.covers(i, s) {
		return
	}
	h := x.head[i]
	var (
		j     int
		found bool
	)
	if n := len(h); n == 0 || string(s) > h[n-1] {
		j = n // timers set in time order: no search
	} else if j, found = slices.BinarySearch(h, string(s)); found {
		return
	}
	if len(h) == x.max && j == len(h) {
		// It would be the last entry: leave it to Pebble.
		x.bound[i], x.all[i] = string(s), false
		return
	}
	h = slices.Insert(h, j, string(s))
	if len(h) > x.max {
		x.bound[i], x.all[i] = h[len(h)-1], false
		h = h[:len(h)-1]
	}
	x.head[i] = h
}

// remove notes that the timer of key group kg with suffix s is gone.
func (x *timerHeads) remove(kg uint16, s []byte) {
	i := int(kg - x.start)
	if !x.covers(i, s) {
		return
	}
	if j, found := slices.BinarySearch(x.head[i], string(s)); found {
		x.head[i] = slices.Delete(x.head[i], j, j+1)
	}
}

// least returns a lower bound on the times of key group i's timers, or
// false if it has none.
func (x *timerHeads) least(i int) (int64, bool) {
	switch {
	case !x.known[i]:
		return math.MinInt64, true
	case len(x.head[i]) > 0:
		return decodeTimestamp([]byte(x.head[i][0][:8])), true
	case x.all[i]:
		return 0, false
	}
	return decodeTimestamp([]byte(x.bound[i][:8])), true
}

func (t *Timers) timerKey(kg uint16, ts int64, key []byte) []byte {
	b := t.b
	b.kbuf = append(appendTimestamp(appendKGID(b.kbuf[:0], kg, t.id), ts), key...)
	return b.kbuf
}

// Register sets a timer; registering the same (kg, ts, key) twice keeps
// one timer.
func (t *Timers) Register(kg uint16, ts int64, key []byte) error {
	if err := t.b.checkKG(kg); err != nil {
		return err
	}
	k := t.timerKey(kg, ts, key)
	if err := t.b.wb.Set(k, nil, nil); err != nil {
		return fmt.Errorf("state: register timer: %w", err)
	}
	t.h.add(kg, k[4:])
	return t.b.maybeCommitWB()
}

// Delete cancels a timer; cancelling a missing timer is not an error.
func (t *Timers) Delete(kg uint16, ts int64, key []byte) error {
	if err := t.b.checkKG(kg); err != nil {
		return err
	}
	k := t.timerKey(kg, ts, key)
	if err := t.b.wb.Delete(k, nil); err != nil {
		return fmt.Errorf("state: delete timer: %w", err)
	}
	t.h.remove(kg, k[4:])
	return t.b.maybeCommitWB()
}

// Timer is one popped timer.
type Timer struct {
	KeyGroup uint16
	Time     int64
	Key      []byte
}

// PopUpTo removes every timer with time ≤ ts and calls fn with each in
// order of (time, key group, key), returning how many fn handled. Timers
// fn registers are not popped by this call even if their time is ≤ ts
// (call again to pop them); a timer fn re-registers survives. If fn
// returns an error, PopUpTo returns it and the timers fn did not handle,
// the failing one included, stay registered.
//
// Due timers come from the in-memory heads; Pebble is read (one seek per
// key group, then sequentially) only for key groups whose head ran out
// before ts, and not at all when nothing is due.
func (t *Timers) PopUpTo(ts int64, fn func(Timer) error) (int, error) {
	b, x := t.b, t.h
	if b.closed {
		return 0, errClosed
	}
	if x.none || x.min > ts {
		return 0, nil
	}
	due, err := t.collect(ts)
	if err != nil {
		x.reset() // the heads may be wrong; the popped timers' deletes are pending
		return 0, fmt.Errorf("state: pop timers: %w", err)
	}
	slices.SortFunc(due, func(a, c Timer) int {
		if r := cmp.Compare(a.Time, c.Time); r != 0 {
			return r
		}
		if r := cmp.Compare(a.KeyGroup, c.KeyGroup); r != 0 {
			return r
		}
		return bytes.Compare(a.Key, c.Key)
	})
	for i, tm := range due {
		if err := fn(tm); err != nil {
			// Put back the timers fn did not handle, the failing one too.
			for _, rest := range due[i:] {
				k := t.timerKey(rest.KeyGroup, rest.Time, rest.Key)
				if werr := b.wb.Set(k, nil, nil); werr != nil {
					x.reset()
					return i, fmt.Errorf("state: pop timers: restore unhandled timers: %w", werr)
				}
				x.add(rest.KeyGroup, k[4:])
			}
			return i, err
		}
	}
	return len(due), b.maybeCommitWB()
}

// collect takes the timers with time ≤ ts out of the heads, refilling
// them from Pebble as they run out, and adds their deletion to the
// pending batch.
func (t *Timers) collect(ts int64) ([]Timer, error) {
	b, x := t.b, t.h
	kr := b.opts.KeyGroups
	var (
		due   []Timer
		keys  []byte // the due timers' keys, back to back
		it    *pebble.Iterator
		err   error
		least = int64(math.MaxInt64)
		some  = false
	)
	// end is the suffix of the first timestamp after ts ("" if none).
	var end string
	if ts < math.MaxInt64 {
		end = string(appendTimestamp(nil, ts+1))
	}
	isDue := func(s string) bool { return end == "" || s < end }
	for i := range x.known {
		kg := kr.Start + uint16(i)
		if lo, ok := x.least(i); !ok || lo > ts {
			if ok {
				least, some = min(least, lo), true
			}
			continue
		}
		for {
			h := x.head[i]
			n := 0
			for n < len(h) && isDue(h[n]) {
				s := h[n]
				off := len(keys)
				keys = append(keys, s[8:]...)
				due = append(due, Timer{KeyGroup: kg, Time: decodeTimestamp([]byte(s[:8])), Key: keys[off:len(keys):len(keys)]})
				b.kbuf = append(appendKGID(b.kbuf[:0], kg, t.id), s...)
				if err = b.wb.Delete(b.kbuf, nil); err != nil {
					break
				}
				n++
			}
			x.head[i] = slices.Delete(h, 0, n) // keeps no popped string alive
			if err != nil || n < len(h) || x.known[i] && (x.all[i] || !isDue(x.bound[i])) {
				break
			}
			// The head ran out before ts: read the next timers from Pebble.
			if it == nil {
				if err = b.commitWB(); err != nil {
					break
				}
				if it, err = b.db.NewIter(&pebble.IterOptions{
					LowerBound: appendKGID(nil, kr.Start, 0),
					UpperBound: appendKGID(nil, kr.End, 0),
				}); err != nil {
					break
				}
			}
			t.refill(it, i, kg)
		}
		if err != nil {
			break
		}
		if lo, ok := x.least(i); ok {
			least, some = min(least, lo), true
		}
	}
	if it != nil {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return nil, err
	}
	x.min, x.none = least, !some
	return due, nil
}

// refill reads key group i's next timers from Pebble into its empty head:
// from the start if nothing is known, else from its bound.
func (t *Timers) refill(it *pebble.Iterator, i int, kg uint16) {
	x := t.h
	p := appendKGID(nil, kg, t.id)
	seek := p
	if x.known[i] {
		seek = append(p[:4:4], x.bound[i]...)
	}
	h := x.head[i][:0]
	x.known[i], x.all[i] = true, true
	for it.SeekGE(seek); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) < 12 || !bytes.Equal(k[:4], p) {
			break
		}
		if len(h) == x.max {
			x.bound[i], x.all[i] = string(k[4:]), false
			break
		}
		h = append(h, string(k[4:]))
	}
	x.head[i] = h
}
