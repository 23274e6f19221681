package sdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/ops"
)

// The joins keep each side's records in map state of the key, under the
// record's event time encoded so that byte order is time order (map
// iteration is in byte order): a bucket per time holds that time's records,
// each a uvarint length and the record's binary encoding, in arrival order.
// The temporal join's versions are keyed the other way round (versionKey),
// so that one seek finds the newest version at or before a time.

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

// versionKey encodes ts so that byte order is reverse numeric order (the
// complement of timeKey): a scan from versionKey(t) meets the versions at
// or before t, newest first.
func versionKey(dst []byte, ts base.Timestamp) []byte {
	return binary.BigEndian.AppendUint64(dst, ^(uint64(ts) ^ (1 << 63)))
}

// errStopIteration ends a map iteration early.
var errStopIteration = errors.New("sdk: stop iteration")

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
// job's late records and dropped, as in Flink.
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
	return CoProcess[K, A, B, O](a, b, CoProcessFuncs[K, A, B, O]{
		Element1Fn: j.onLeft,
		Element2Fn: j.onRight,
		TimerFn:    j.onTimer,
	}, Named(name))
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
// emitted at a.ts once the watermark — the minimum of both inputs' — has
// passed a.ts, so it does not depend on the order records arrive in; a
// bounded versions input (a snapshot) is read to its end before any record
// at a later time is joined.
//
// State: a record of the first collection waits in state until the
// watermark passes its time. Each version stays until the watermark passes
// the time of a later version of its key: when it does, the versions older
// than the newest at or behind that time are dropped, so a key keeps that
// newest one and every later one. A record or a version at or behind the
// watermark of its own split when it arrives (as windows judge lateness)
// is late: counted and dropped, so that no answer depends on how the two
// inputs interleaved. Two versions of a key at the same time: the one that
// arrives last wins.
func TemporalJoin[K comparable, A, B, O any](a Keyed[K, A], versions Keyed[K, B], fn func(a A, v B, ok bool) O, opts ...Option) PCollection[O] {
	p := a.in.p
	name := transformName("TemporalJoin", opts)
	j := &temporalJoin[K, A, B, O]{fn: fn}
	if fn == nil {
		p.addErr(errorf("TemporalJoin %q: nil join function", name))
	}
	var err error
	if j.pending, err = newBucketState[A]("pending"); err != nil {
		p.addErr(errorf("TemporalJoin %q: %v", name, err))
	}
	if j.versions, err = newBucketState[B]("versions"); err != nil {
		p.addErr(errorf("TemporalJoin %q: %v", name, err))
	}
	return CoProcess[K, A, B, O](a, versions, CoProcessFuncs[K, A, B, O]{
		Element1Fn: j.onRow,
		Element2Fn: j.onVersion,
		TimerFn:    j.onTimer,
	}, Named(name))
}

type temporalJoin[K comparable, A, B, O any] struct {
	fn       func(A, B, bool) O
	pending  bucketState[A]
	versions bucketState[B]
}

func (j *temporalJoin[K, A, B, O]) onRow(ctx *ProcessContext[K, O], v A) error {
	ts := ctx.Timestamp()
	if ctx.late() {
		ctx.c.CountLate()
		return nil
	}
	if err := j.pending.add(ctx.keyedState(), ts, &v); err != nil {
		return err
	}
	return ctx.RegisterEventTimeTimer(ts)
}

func (j *temporalJoin[K, A, B, O]) onVersion(ctx *ProcessContext[K, O], v B) error {
	if ctx.late() {
		// Records at its time may have been joined already, or not,
		// depending on how the inputs interleaved: drop it, so that the
		// answer never does.
		ctx.c.CountLate()
		return nil
	}
	st := ctx.keyedState()
	kb, vb := st.Scratch()
	*kb = versionKey((*kb)[:0], ctx.Timestamp())
	*vb = appendRecord((*vb)[:0], j.versions.codec, &v)
	if err := st.PutMap(j.versions.spec, *kb, *vb); err != nil {
		return err
	}
	// At this time the older versions go (onTimer): pruning costs one scan
	// per version, when the watermark has passed it, not one per record.
	return ctx.RegisterEventTimeTimer(ctx.Timestamp())
}

// onTimer joins the records waiting at t with the version current at t,
// found with one seek, and drops them. If a version has time t, the
// versions older than it are dropped: no record can need them any more,
// records waiting at later times needing the newest version <= t or a
// later one. (Records waiting at earlier times went at their own timers:
// a key's timers fire in time order.)
func (j *temporalJoin[K, A, B, O]) onTimer(ctx *ProcessContext[K, O], t TimerInfo) error {
	if t.Domain != EventTime {
		return nil
	}
	st := ctx.keyedState()
	var (
		kb    [8]byte
		cur   B
		have  bool
		stale [][]byte
	)
	at := versionKey(kb[:0], t.Time)
	err := st.IterateMapRange(j.versions.spec, at, nil, func(mk, payload []byte) error {
		if have {
			stale = append(stale, append([]byte(nil), mk...))
			return nil
		}
		if err := j.versions.decodeBucket(payload, func(v *B) error { cur, have = *v, true; return nil }); err != nil {
			return err
		}
		if have && !bytes.Equal(mk, at) {
			return errStopIteration // no version at t: nothing to drop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopIteration) {
		return err
	}
	pk, _ := st.Scratch()
	*pk = timeKey((*pk)[:0], t.Time)
	payload, ok, err := st.GetMap(j.pending.spec, *pk)
	if err != nil {
		return err
	}
	if ok {
		err := j.pending.decodeBucket(payload, func(v *A) error {
			ctx.EmitAt(t.Time, j.fn(*v, cur, have))
			return nil
		})
		if err == nil {
			*pk = timeKey((*pk)[:0], t.Time)
			err = st.DeleteMap(j.pending.spec, *pk)
		}
		if err != nil {
			return err
		}
	}
	for _, mk := range stale {
		if err := st.DeleteMap(j.versions.spec, mk); err != nil {
			return err
		}
	}
	return nil
}
