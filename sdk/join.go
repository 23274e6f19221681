package sdk

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/ops"
)

// The joins keep each side's records in map state of the key, under the
// record's event time encoded so that byte order is time order (map
// iteration is in byte order): a bucket per time holds that time's records,
// each a uvarint length and the record's binary encoding, in arrival order.
// The temporal join keeps a list and a value per key instead
// (temporalJoin).

// timeKey encodes ts so that byte order is numeric order.
func timeKey(dst []byte, ts base.Timestamp) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ts)^(1<<63))
}

func timeOfKey(mk []byte) (base.Timestamp, error) {
	if len(mk) != 8 {
		return 0, fmt.Errorf("join: bad time key of %d bytes", len(mk))
	}
	return base.Timestamp(binary.BigEndian.Uint64(mk) ^ (1 << 63)), nil
}

// bucketState is one side of a join: records of type T by event time.
type bucketState[T any] struct {
	spec  *ops.StateSpec
	codec *RecordCodec[T]
}

func newBucketState[T any](name string) (bucketState[T], error) {
	c, err := CodecOf[T]()
	if err != nil {
		return bucketState[T]{}, err
	}
	return bucketState[T]{spec: &ops.StateSpec{Name: name, Kind: ops.MapKind}, codec: c}, nil
}

// add appends v to the bucket of ts.
func (s bucketState[T]) add(st *ops.KeyedState, ts base.Timestamp, v *T) error {
	kb, vb := st.Scratch()
	*kb = timeKey((*kb)[:0], ts)
	old, _, err := st.GetMap(s.spec, *kb)
	if err != nil {
		return err
	}
	// old is only valid until the next call on st: copy it first.
	*vb = appendRecord(append((*vb)[:0], old...), s.codec, v)
	return st.PutMap(s.spec, *kb, *vb)
}

// appendRecord appends v's binary encoding to dst, preceded by its length
// as a uvarint.
func appendRecord[T any](dst []byte, c *RecordCodec[T], v *T) []byte {
	const room = 5 // a uvarint of up to 2^35
	start := len(dst)
	dst = c.AppendBinary(append(dst, make([]byte, room)...), v)
	var hdr [binary.MaxVarintLen64]byte
	w := binary.PutUvarint(hdr[:], uint64(len(dst)-start-room))
	copy(dst[start+w:], dst[start+room:])
	copy(dst[start:], hdr[:w])
	return dst[:len(dst)-room+w]
}

// decodeBucket calls fn with each record of a bucket's payload.
func (s bucketState[T]) decodeBucket(payload []byte, fn func(v *T) error) error {
	var v T
	for len(payload) > 0 {
		n, w := binary.Uvarint(payload)
		if w <= 0 || uint64(len(payload)-w) < n {
			return fmt.Errorf("join: state %q: corrupt bucket", s.spec.Name)
		}
		rec := payload[w : w+int(n)]
		payload = payload[w+int(n):]
		v = *new(T)
		if _, err := s.codec.DecodeBinary(rec, &v); err != nil {
			return fmt.Errorf("join: state %q: decode %s: %w", s.spec.Name, s.codec.Name, err)
		}
		if err := fn(&v); err != nil {
			return err
		}
	}
	return nil
}

// scan calls fn with the records of the buckets with times in [lo, hi], in
// time order. It reads only those buckets: one seek to lo's key.
func (s bucketState[T]) scan(st *ops.KeyedState, lo, hi base.Timestamp, fn func(ts base.Timestamp, v *T) error) error {
	if lo > hi {
		return nil
	}
	var kb [16]byte
	from := timeKey(kb[:0], lo)
	var to []byte // nil: no bucket is after hi
	if hi < base.MaxTimestamp {
		to = timeKey(kb[8:8], hi+1)
	}
	return st.IterateMapRange(s.spec, from, to, func(mk, payload []byte) error {
		ts, err := timeOfKey(mk)
		if err != nil {
			return err
		}
		return s.decodeBucket(payload, func(v *T) error { return fn(ts, v) })
	})
}

// drop deletes the bucket of ts.
func (s bucketState[T]) drop(st *ops.KeyedState, ts base.Timestamp) error {
	kb, _ := st.Scratch()
	*kb = timeKey((*kb)[:0], ts)
	return st.DeleteMap(s.spec, *kb)
}

// IntervalJoin joins each record a of the first collection with each
// record b of the second with an equal key whose event time lies in
// [a.ts+lower, a.ts+upper] (Flink's intervalJoin ... between(lower,
// upper)), emitting fn(a, b) at the later of the two times as soon as both
// are there. A record is kept in state only while the other side can still
// bring a partner: a's until the watermark passes a.ts+upper, b's until it
// passes b.ts−lower. A record at or behind the watermark of its own split
// when it arrives (as windows judge lateness) is late: it is counted in the
// job's late records and dropped, as in Flink, or written to the side
// outputs [LateLeft] and [LateRight] when a [SideOutput] reads them.
//
// A and B need codecs (they are kept in state), as does K. The result does
// not depend on arrival order, so batch and stream mode give the same rows
// when nothing is late.
func IntervalJoin[K comparable, A, B, O any](a Keyed[K, A], b Keyed[K, B], lower, upper time.Duration, fn func(A, B) O, opts ...Option) PCollection[O] {
	p := a.in.p
	name := transformName("IntervalJoin", opts)
	j := &intervalJoin[K, A, B, O]{lower: base.Timestamp(lower.Microseconds()), upper: base.Timestamp(upper.Microseconds()), fn: fn}
	if lower > upper {
		p.addErr(errorf("IntervalJoin %q: lower bound %v above upper bound %v", name, lower, upper))
	}
	if fn == nil {
		p.addErr(errorf("IntervalJoin %q: nil join function", name))
	}
	var err error
	if j.left, err = newBucketState[A]("left"); err != nil {
		p.addErr(errorf("IntervalJoin %q: %v", name, err))
	}
	if j.right, err = newBucketState[B]("right"); err != nil {
		p.addErr(errorf("IntervalJoin %q: %v", name, err))
	}
	out := CoProcess[K, A, B, O](a, b, CoProcessFuncs[K, A, B, O]{
		Element1Fn: j.onLeft,
		Element2Fn: j.onRight,
		TimerFn:    j.onTimer,
	}, Named(name))
	declareLate[A, B](out)
	return out
}

type intervalJoin[K comparable, A, B, O any] struct {
	lower, upper base.Timestamp
	fn           func(A, B) O
	left         bucketState[A]
	right        bucketState[B]
}

func (j *intervalJoin[K, A, B, O]) onLeft(ctx *ProcessContext[K, O], v A) error {
	ts, wm := ctx.Timestamp(), ctx.CurrentWatermark()
	if ctx.late() {
		ctx.c.CountLate()
		Output(ctx, LateLeft[A](), v)
		return nil
	}
	st := ctx.keyedState()
	err := j.right.scan(st, ts+j.lower, ts+j.upper, func(bts base.Timestamp, r *B) error {
		ctx.EmitAt(max(ts, bts), j.fn(v, *r))
		return nil
	})
	if err != nil {
		return err
	}
	cleanup := ts + j.upper
	if cleanup <= wm {
		return nil // no right record still to come can match v
	}
	if err := j.left.add(st, ts, &v); err != nil {
		return err
	}
	return ctx.RegisterEventTimeTimer(cleanup)
}

func (j *intervalJoin[K, A, B, O]) onRight(ctx *ProcessContext[K, O], v B) error {
	ts, wm := ctx.Timestamp(), ctx.CurrentWatermark()
	if ctx.late() {
		ctx.c.CountLate()
		Output(ctx, LateRight[B](), v)
		return nil
	}
	st := ctx.keyedState()
	err := j.left.scan(st, ts-j.upper, ts-j.lower, func(ats base.Timestamp, l *A) error {
		ctx.EmitAt(max(ts, ats), j.fn(*l, v))
		return nil
	})
	if err != nil {
		return err
	}
	cleanup := ts - j.lower
	if cleanup <= wm {
		return nil
	}
	if err := j.right.add(st, ts, &v); err != nil {
		return err
	}
	return ctx.RegisterEventTimeTimer(cleanup)
}

// onTimer drops what can no longer match: left records with ts+upper == t
// and right records with ts−lower == t. Older ones are gone already: each
// stored bucket set a timer at its cleanup time, and a key's timers fire in
// time order, so no scan is needed.
func (j *intervalJoin[K, A, B, O]) onTimer(ctx *ProcessContext[K, O], t TimerInfo) error {
	if t.Domain != EventTime {
		return nil
	}
	st := ctx.keyedState()
	if err := j.left.drop(st, t.Time-j.upper); err != nil {
		return err
	}
	return j.right.drop(st, t.Time+j.lower)
}

// TemporalJoin joins each record a of the first collection with the
// version of its key that was current at a's event time: the record of
// versions with the largest event time <= a.ts (Flink's event-time
// temporal join, FOR SYSTEM_TIME AS OF). fn gets ok=false, and a zero B,
// when the key had no version yet: a left join. The result for a is
// emitted at a.ts once the versions input's own watermark has passed
// a.ts: at once when a arrives after it (the versions input is ahead, or
// a bounded one has been read to its end), else once the watermark of
// both inputs passes a.ts. Either way every version at or before a.ts
// that is not late has arrived, so the answer does not depend on the
// order records arrive in; a bounded versions input (a snapshot) is read
// to its end before any record at a later time is joined. (A versions
// split that is idle does not hold that watermark back, as it does not
// hold any: what it sends later, behind the others, may miss records
// already joined, and is late if it is behind that watermark.)
//
// State: a record that cannot be joined at once waits in state until the
// watermark passes its time; a version waits until the watermark passes
// its time and then replaces the key's current version, so a key keeps
// one version at or behind the watermark and every later one. Everything
// is per-key state that stays in the write-back cache for a hot key: a
// list of the records and versions waiting, and a value holding the
// current version, the time of the key's one timer (the earliest time
// waiting) and the earliest time of a version waiting. A record joined at
// once costs a read of that value (and of the list when a version waiting
// is at or before its time); one that waits costs an append and that
// read; each time the watermark passes a key's earliest time, its waiting
// list is read whole and rewritten without what was joined (so a key with
// many records waiting far ahead of the watermark is read again at each
// such step). A record or a version at or behind the watermark of its own
// split when it arrives (as windows judge lateness) is late: counted and
// dropped (or written to the side outputs [LateLeft] and [LateRight], when
// a [SideOutput] reads them), so that no answer depends on how the two
// inputs interleaved. Two versions of a key at the same time: the one that
// arrives last wins.
func TemporalJoin[K comparable, A, B, O any](a Keyed[K, A], versions Keyed[K, B], fn func(a A, v B, ok bool) O, opts ...Option) PCollection[O] {
	p := a.in.p
	name := transformName("TemporalJoin", opts)
	j := &temporalJoin[K, A, B, O]{fn: fn,
		waiting: &ops.StateSpec{Name: "waiting", Kind: ops.ListKind},
		meta:    &ops.StateSpec{Name: "meta", Kind: ops.ValueKind}}
	if fn == nil {
		p.addErr(errorf("TemporalJoin %q: nil join function", name))
	}
	var err error
	if j.rows, err = CodecOf[A](); err != nil {
		p.addErr(errorf("TemporalJoin %q: %v", name, err))
	}
	if j.versions, err = CodecOf[B](); err != nil {
		p.addErr(errorf("TemporalJoin %q: %v", name, err))
	}
	out := CoProcess[K, A, B, O](a, versions, CoProcessFuncs[K, A, B, O]{
		Element1Fn: j.onRow,
		Element2Fn: j.onVersion,
		TimerFn:    j.onTimer,
	}, Named(name))
	declareLate[A, B](out)
	return out
}

type temporalJoin[K comparable, A, B, O any] struct {
	fn       func(A, B, bool) O
	rows     *RecordCodec[A]
	versions *RecordCodec[B]
	// waiting is the list of the key's records and versions after the
	// watermark, each element a tag (tagVersion, tagRow), timeKey(ts) and
	// the encoding. meta is the key's timer and current version (metaOf):
	// one read per record, which the list's append does not need.
	waiting, meta *ops.StateSpec
}

// Tags of the elements of a temporal join's waiting list: a version sorts
// before a record of the same time, which it applies to.
const (
	tagVersion byte = 0
	tagRow     byte = 1
)

// joinMeta is a temporal join's value state of a key:
//
//	flags (1 byte: metaArmed, metaCurrent, metaTracked, metaVersions) | timeKey(timer)
//	| timeKey(vmin), with metaVersions | current version's encoding
//
// The key has one timer that matters, at the earliest time in its waiting
// list; the current version is the newest at or behind the watermark.
// vmin is the earliest time of a version in the waiting list: a record
// joined as it arrives (see onRow) reads the list only when one is at or
// before its time. tracked says vmin is kept (state written before it was
// may have versions waiting that vmin does not show: its records wait).
type joinMeta struct {
	armed    bool
	timer    base.Timestamp
	tracked  bool
	versions bool // a version is waiting, the earliest at vmin
	vmin     base.Timestamp
	current  []byte // nil: no version yet
}

const (
	metaArmed    byte = 1
	metaCurrent  byte = 2
	metaTracked  byte = 4
	metaVersions byte = 8
)

func metaOf(raw []byte) (joinMeta, error) {
	if len(raw) < 9 || raw[0]&metaVersions != 0 && len(raw) < 17 {
		return joinMeta{}, fmt.Errorf("join: corrupt state %q", "meta")
	}
	ts, _ := timeOfKey(raw[1:9])
	m := joinMeta{armed: raw[0]&metaArmed != 0, timer: ts, tracked: raw[0]&metaTracked != 0}
	rest := raw[9:]
	if raw[0]&metaVersions != 0 {
		m.versions = true
		m.vmin, _ = timeOfKey(rest[:8])
		rest = rest[8:]
	}
	if raw[0]&metaCurrent != 0 {
		m.current = rest
	}
	return m, nil
}

func (m joinMeta) append(dst []byte) []byte {
	var f byte
	if m.tracked {
		f |= metaTracked
	}
	if m.armed {
		f |= metaArmed
	}
	if m.current != nil {
		f |= metaCurrent
	}
	if m.versions {
		f |= metaVersions
	}
	dst = timeKey(append(dst, f), m.timer)
	if m.versions {
		dst = timeKey(dst, m.vmin)
	}
	return append(dst, m.current...)
}

func (j *temporalJoin[K, A, B, O]) onRow(ctx *ProcessContext[K, O], v A) error {
	if ctx.late() {
		ctx.c.CountLate()
		Output(ctx, LateLeft[A](), v)
		return nil
	}
	st := ctx.keyedState()
	if ts := ctx.Timestamp(); ctx.c.InputWatermark(1) > ts {
		joined, err := j.joinNow(ctx, st, ts, v)
		if joined || err != nil {
			return err
		}
	}
	_, vb := st.Scratch()
	*vb = j.rows.AppendBinary(timeKey(append((*vb)[:0], tagRow), ctx.Timestamp()), &v)
	return j.wait(ctx, st, *vb, false)
}

// joinNow joins a record at ts that arrives after the versions input's
// own watermark has passed ts: every version at or before ts that is not
// late has arrived (a later one would be at or behind the mark of its
// split, which is at or above that watermark), so the answer is the one
// the record would get by waiting for the watermark of both inputs, and it
// is emitted at once, with no state written. joined is false when the
// key's state predates the tracking of waiting versions: the record then
// waits.
func (j *temporalJoin[K, A, B, O]) joinNow(ctx *ProcessContext[K, O], st *ops.KeyedState, ts base.Timestamp, a A) (joined bool, err error) {
	raw, ok, err := st.GetValue(j.meta)
	if err != nil {
		return false, err
	}
	m := joinMeta{tracked: true} // a new key: nothing waits, no version
	if ok {
		if m, err = metaOf(raw); err != nil || !m.tracked {
			return false, err
		}
	}
	cur := m.current
	if m.versions && m.vmin <= ts {
		if cur, err = j.versionAt(st, ts, cur); err != nil {
			return false, err
		}
	}
	var v B
	if cur != nil {
		if _, err := j.versions.DecodeBinary(cur, &v); err != nil {
			return false, fmt.Errorf("join: state %q: decode %s: %w", j.meta.Name, j.versions.Name, err)
		}
	}
	ctx.Emit(j.fn(a, v, cur != nil))
	return true, nil
}

// versionAt returns the encoding of the newest version at or before ts in
// the key's waiting list (of two at the same time, the later in the list),
// or cur when there is none.
func (j *temporalJoin[K, A, B, O]) versionAt(st *ops.KeyedState, ts base.Timestamp, cur []byte) ([]byte, error) {
	var (
		best  []byte
		bestT base.Timestamp
		found bool
	)
	err := st.IterateList(j.waiting, func(p []byte) error {
		if len(p) < 9 || p[0] > tagRow {
			return fmt.Errorf("join: state %q: corrupt element", j.waiting.Name)
		}
		if p[0] != tagVersion {
			return nil
		}
		t, _ := timeOfKey(p[1:9])
		if t <= ts && (!found || t >= bestT) {
			best, bestT, found = append(best[:0], p[9:]...), t, true
		}
		return nil
	})
	if err != nil || !found {
		return cur, err
	}
	if best == nil {
		best = []byte{} // an empty encoding is a version all the same
	}
	return best, nil
}

func (j *temporalJoin[K, A, B, O]) onVersion(ctx *ProcessContext[K, O], v B) error {
	if ctx.late() || ctx.Timestamp() <= ctx.c.InputWatermark(1) {
		// Records at its time may have been joined already, or not,
		// depending on how the inputs interleaved: drop it, so that the
		// answer never does. Behind the versions input's own watermark
		// is late too (records after it may have been joined at once):
		// for a version of a split that is read it is behind its mark
		// already; this also judges a version without a mark (a window's
		// result) and one of a split back from idleness.
		ctx.c.CountLate()
		Output(ctx, LateRight[B](), v)
		return nil
	}
	st := ctx.keyedState()
	_, vb := st.Scratch()
	*vb = j.versions.AppendBinary(timeKey(append((*vb)[:0], tagVersion), ctx.Timestamp()), &v)
	return j.wait(ctx, st, *vb, true)
}

// wait appends elem (a version or a record) to the key's waiting list and
// makes sure the key's timer is at the element's time or before (a timer
// set earlier for a later time finds nothing due when it fires).
func (j *temporalJoin[K, A, B, O]) wait(ctx *ProcessContext[K, O], st *ops.KeyedState, elem []byte, version bool) error {
	if err := st.AppendList(j.waiting, elem); err != nil {
		return err
	}
	ts := ctx.Timestamp()
	raw, ok, err := st.GetValue(j.meta)
	if err != nil {
		return err
	}
	m := joinMeta{tracked: true} // a new key: nothing waits
	if ok {
		if m, err = metaOf(raw); err != nil {
			return err
		}
	}
	newMin := version && m.tracked && (!m.versions || ts < m.vmin)
	if m.armed && m.timer <= ts && !newMin {
		return nil
	}
	if newMin {
		m.versions, m.vmin = true, ts
	}
	if m.armed && m.timer <= ts {
		kb, _ := st.Scratch()
		*kb = m.append((*kb)[:0])
		return st.PutValue(j.meta, *kb)
	}
	m.armed, m.timer = true, ts
	// raw (m.current) is valid until the next write: encode first.
	kb, _ := st.Scratch()
	*kb = m.append((*kb)[:0])
	if err := st.PutValue(j.meta, *kb); err != nil {
		return err
	}
	return ctx.RegisterEventTimeTimer(ts)
}

// onTimer joins every record waiting at or before the watermark with the
// version current at its time, merging them in time order with the
// versions waiting at or before the watermark (the newest of which becomes
// the key's current version), and sets the key's timer at the earliest
// time still waiting. Versions that are not late come after the watermark,
// so none at or before it is still to come.
func (j *temporalJoin[K, A, B, O]) onTimer(ctx *ProcessContext[K, O], t TimerInfo) error {
	if t.Domain != EventTime {
		return nil
	}
	st := ctx.keyedState()
	upTo := ctx.CurrentWatermark()
	raw, ok, err := st.GetValue(j.meta)
	if err != nil || !ok {
		return err
	}
	m, err := metaOf(raw)
	if err != nil || !m.armed || m.timer > upTo {
		return err // nothing due: the key's timer is later
	}
	m.current = slices.Clone(m.current) // raw is valid until the next write; nil stays nil
	w, err := takeDue(st, j.waiting, upTo)
	if err != nil {
		return err
	}
	due := w.due
	var (
		v       B
		decoded bool
	)
	for _, e := range due {
		if e.tag == tagVersion {
			m.current, decoded = e.rec, false
			continue
		}
		if m.current != nil && !decoded {
			v = *new(B)
			if _, err := j.versions.DecodeBinary(m.current, &v); err != nil {
				return fmt.Errorf("join: state %q: decode %s: %w", j.waiting.Name, j.versions.Name, err)
			}
			decoded = true
		}
		var a A
		if _, err := j.rows.DecodeBinary(e.rec, &a); err != nil {
			return fmt.Errorf("join: state %q: decode %s: %w", j.waiting.Name, j.rows.Name, err)
		}
		ctx.EmitAt(e.ts, j.fn(a, v, m.current != nil))
	}
	m.armed, m.timer = w.more, w.next
	// takeDue read the whole list: vmin is known now, even for state
	// written before it was kept.
	m.tracked, m.versions, m.vmin = true, w.versions, w.vmin
	if !w.more && m.current == nil {
		return st.ClearValue(j.meta)
	}
	if err := st.PutValue(j.meta, m.append(nil)); err != nil {
		return err
	}
	if !w.more {
		return nil
	}
	return ctx.RegisterEventTimeTimer(w.next)
}

// timedRec is an element of a temporal join's waiting list.
type timedRec struct {
	tag byte
	ts  base.Timestamp
	rec []byte
}

// taken is what takeDue took from a waiting list and what it left.
type taken struct {
	due      []timedRec
	next     base.Timestamp // the earliest time left, if more
	more     bool           // the list is not empty
	vmin     base.Timestamp // the earliest time of a version left, if versions
	versions bool
}

// takeDue removes the elements at or before upTo from the list of spec
// and returns them in time order, versions before records of the same
// time, in arrival order otherwise; with the earliest time left in the
// list, and the earliest of a version.
func takeDue(st *ops.KeyedState, spec *ops.StateSpec, upTo base.Timestamp) (w taken, err error) {
	var rest [][]byte
	err = st.IterateList(spec, func(p []byte) error {
		if len(p) < 9 || p[0] > tagRow {
			return fmt.Errorf("join: state %q: corrupt element", spec.Name)
		}
		ts, _ := timeOfKey(p[1:9])
		if ts <= upTo {
			// Clone keeps an empty encoding non-nil: a version all the same.
			w.due = append(w.due, timedRec{p[0], ts, slices.Clone(p[9:])})
			return nil
		}
		rest = append(rest, append([]byte(nil), p...))
		if !w.more || ts < w.next {
			w.next, w.more = ts, true
		}
		if p[0] == tagVersion && (!w.versions || ts < w.vmin) {
			w.vmin, w.versions = ts, true
		}
		return nil
	})
	if err != nil {
		return taken{}, err
	}
	if len(w.due) == 0 {
		return w, nil
	}
	if err := st.ClearList(spec); err != nil {
		return taken{}, err
	}
	for _, p := range rest {
		if err := st.AppendList(spec, p); err != nil {
			return taken{}, err
		}
	}
	slices.SortStableFunc(w.due, func(a, b timedRec) int {
		if c := cmp.Compare(a.ts, b.ts); c != 0 {
			return c
		}
		return cmp.Compare(a.tag, b.tag)
	})
	return w, nil
}

// LateLeft is the tag of the late records of a join's first input
// (IntervalJoin, TemporalJoin): sdk.SideOutput(joined, sdk.LateLeft[A]())
// is the collection of them. Without it they are counted and dropped.
func LateLeft[A any]() OutputTag[A] { return OutputTag[A]{name: "late-left"} }

// LateRight is the tag of the late records of a join's second input.
func LateRight[B any]() OutputTag[B] { return OutputTag[B]{name: "late-right"} }

// declareLate records the types of a join's late outputs, so that a
// SideOutput of another type is refused when the pipeline is built.
func declareLate[A, B any, O any](out PCollection[O]) {
	if s := out.p.sides[out.node]; s != nil {
		s.declare(LateLeft[A]().name, typeOf[A]())
		s.declare(LateRight[B]().name, typeOf[B]())
	}
}
