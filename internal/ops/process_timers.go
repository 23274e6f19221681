package ops

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// TimeDomain says which clock a timer follows.
type TimeDomain uint8

const (
	// EventTime timers fire when the operator's watermark reaches them.
	EventTime TimeDomain = iota
	// ProcessingTime timers fire when the operator's clock reaches them.
	ProcessingTime
)

// String returns "event-time" or "processing-time".
func (d TimeDomain) String() string {
	if d == ProcessingTime {
		return "processing-time"
	}
	return "event-time"
}

// ProcessTimer is a timer that fires: its time and domain.
type ProcessTimer struct {
	Time   base.Timestamp
	Domain TimeDomain
}

// procTimerQueue is one domain's timers: stored in the backend, and while
// firing, the due ones in memory so that timers deleted or set during the
// round behave as if the round read the store one timer at a time.
type procTimerQueue struct {
	ts     graph.TimerState
	idx    *timeIndex // the times of the stored timers
	firing bool
	upTo   int64
	// pending holds the ids of due timers not yet fired nor deleted.
	pending map[string]struct{}
	heap    minHeap[procDueTimer]
	id      []byte
}

type procDueTimer struct {
	ts  int64
	kg  uint16
	key []byte
}

func (q *procTimerQueue) idOf(kg uint16, ts int64, key []byte) []byte {
	q.id = binary.BigEndian.AppendUint16(q.id[:0], kg)
	q.id = binary.BigEndian.AppendUint64(q.id, uint64(ts))
	q.id = append(q.id, key...)
	return q.id
}

func (q *procTimerQueue) register(kg uint16, ts int64, key []byte) error {
	if q.firing && ts <= q.upTo {
		id := q.idOf(kg, ts, key)
		if _, ok := q.pending[string(id)]; ok {
			return nil
		}
		q.pending[string(id)] = struct{}{}
		q.heap.push(procDueTimer{ts: ts, kg: kg, key: append([]byte(nil), key...)})
		return nil
	}
	return q.store(kg, ts, key)
}

// store writes a timer to the backend, indexing its time.
func (q *procTimerQueue) store(kg uint16, ts int64, key []byte) error {
	q.idx.add(ts)
	return q.ts.Register(kg, ts, key)
}

func (q *procTimerQueue) delete(kg uint16, ts int64, key []byte) error {
	if q.firing && ts <= q.upTo {
		// Every stored timer at or before upTo was popped into pending.
		delete(q.pending, string(q.idOf(kg, ts, key)))
		return nil
	}
	return q.ts.Delete(kg, ts, key)
}

// fire pops every timer at or before upTo and calls fn for each in order,
// along with those set at or before upTo meanwhile; it returns how many
// fired. On an error the timers not fired are stored again.
func (q *procTimerQueue) fire(upTo int64, fn func(kg uint16, ts int64, key []byte) error) (int, error) {
	if q.pending == nil {
		q.pending = map[string]struct{}{}
	}
	q.heap.reset()
	_, err := q.ts.PopUpTo(upTo, func(kg uint16, ts int64, key []byte) error {
		// PopUpTo calls in (time, key group, key) order: the slice stays a heap.
		q.heap.items = append(q.heap.items, procDueTimer{ts: ts, kg: kg, key: append([]byte(nil), key...)})
		q.pending[string(q.idOf(kg, ts, key))] = struct{}{}
		return nil
	})
	if err != nil {
		clear(q.pending)
		return 0, fmt.Errorf("process: pop timers: %w", err)
	}
	q.firing, q.upTo = true, upTo
	n := 0
	for q.heap.len() > 0 {
		t := q.heap.pop()
		id := q.idOf(t.kg, t.ts, t.key)
		if _, ok := q.pending[string(id)]; !ok {
			continue // deleted, or a duplicate of one fired already
		}
		delete(q.pending, string(id))
		if err := fn(t.kg, t.ts, t.key); err != nil {
			q.firing = false
			q.pending[string(q.idOf(t.kg, t.ts, t.key))] = struct{}{} // the failing timer stays set
			q.heap.push(t)
			return n, errors.Join(err, q.storeBack())
		}
		n++
	}
	q.firing = false
	return n, nil
}

// storeBack writes the timers still pending back to the store.
func (q *procTimerQueue) storeBack() error {
	for _, t := range q.heap.items {
		if _, ok := q.pending[string(q.idOf(t.kg, t.ts, t.key))]; ok {
			if err := q.store(t.kg, t.ts, t.key); err != nil {
				return fmt.Errorf("process: store unfired timers: %w", err)
			}
		}
	}
	clear(q.pending)
	q.heap.reset()
	return nil
}

// less orders due timers by (time, key group, key), as PopUpTo calls
// them.
func (t procDueTimer) less(o *procDueTimer) bool {
	if t.ts != o.ts {
		return t.ts < o.ts
	}
	if t.kg != o.kg {
		return t.kg < o.kg
	}
	return bytes.Compare(t.key, o.key) < 0
}

// indexedTimers is a timer set whose distinct times are indexed in memory.
type indexedTimers struct {
	ts  graph.TimerState
	idx *timeIndex
}

func (t indexedTimers) register(kg uint16, ts int64, key []byte) error {
	t.idx.add(ts)
	return t.ts.Register(kg, ts, key)
}

// load indexes the timers stored in the backend (after a restore): it pops
// them all and sets them again.
func (t indexedTimers) load() error {
	var all []procDueTimer
	_, err := t.ts.PopUpTo(int64(base.MaxTimestamp), func(kg uint16, ts int64, key []byte) error {
		all = append(all, procDueTimer{ts: ts, kg: kg, key: append([]byte(nil), key...)})
		return nil
	})
	for i := 0; err == nil && i < len(all); i++ {
		err = t.register(all[i].kg, all[i].ts, all[i].key)
	}
	if err != nil {
		return fmt.Errorf("process: load timers: %w", err)
	}
	return nil
}

// timeIndexGranularity is the width of a timeIndex bucket, µs.
const timeIndexGranularity = 1000

// timeIndex is a min-heap of the distinct buckets (milliseconds) holding
// timer times. A bucket stays until a pop covers all of it, even if every
// timer in it was deleted (a check then finds nothing due: harmless).
type timeIndex struct {
	set map[int64]struct{}
	h   minHeap[bucket]
}

// bucket is the start of a timeIndex bucket, µs.
type bucket int64

func (b bucket) less(o *bucket) bool { return b < *o }

func newTimeIndex() *timeIndex { return &timeIndex{set: map[int64]struct{}{}} }

func bucketOf(ts int64) int64 {
	if ts < math.MinInt64+timeIndexGranularity {
		return math.MinInt64
	}
	return base.FloorDiv(ts, timeIndexGranularity) * timeIndexGranularity
}

func (x *timeIndex) add(ts int64) {
	b := bucketOf(ts)
	if _, ok := x.set[b]; ok {
		return
	}
	x.set[b] = struct{}{}
	x.h.push(bucket(b))
}

// due reports whether some timer may be at or before now.
func (x *timeIndex) due(now int64) bool { return x.h.len() > 0 && int64(*x.h.min()) <= now }

// covered reports whether bucket b ends at or before now.
func covered(b, now int64) bool {
	return now == math.MaxInt64 || b <= math.MaxInt64-timeIndexGranularity && b+timeIndexGranularity-1 <= now
}

// popUpTo drops the buckets that end at or before now.
func (x *timeIndex) popUpTo(now int64) {
	for x.h.len() > 0 && covered(int64(*x.h.min()), now) {
		delete(x.set, int64(x.h.pop()))
	}
}
