package ops

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"unsafe"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// Window state in the task's keyed state backend.
//
// The typed Go maps of agg.go stay the working copy: a write-back cache of
// hot entries, updated per record with no encoding and no backend access.
// The backend sees the state only in bulk:
//
//   - at Snapshot (graph.Stateful), every dirty entry is written back, past
//     the backend's own cache when it allows (state.MapState.PutThrough),
//     with the operator's watermark and its list of live windows;
//   - when the estimated size of the cached entries passes StateMemory,
//     entries are evicted (second chance: those untouched since the last
//     sweep first) down to 7/8 of it, the dirty ones written back.
//
// A miss in the cache consults the backend only for a window that spilled
// (some entries evicted, or restored), or for sessions once any key's
// sessions are in the backend and not in memory (counted); so a job whose
// state fits in memory never reads the backend per record.
//
// Layout (names are namespaced per operator by the runner's view):
//
//	map   "panes":    key window (16 bytes) | map key codec(K) -> uvarint(fires) | codec(A)
//	map   "sessions": key "s"               | map key codec(K) -> sessions (encodeSessions)
//	value "meta":     "wm"      -> the operator's watermark (8 bytes big-endian)
//	                  "windows" -> the live windows, 16 bytes each
//
// Every entry lives in the key group of its key K, computed from the
// shuffle's hash like the partitioner does, so state moves with its keys
// when parallelism changes. The meta values are written to every key group
// the task owns; a restore takes the union of the windows and the minimum
// watermark over its key groups. Timers are not stored: they follow from
// the live windows (and sessions) and the watermark, and are rebuilt in
// Open when OpContext.Restored is set. Accumulators are loaded lazily.

// Codec encodes values of T for the state backend. Append appends the
// encoding of *v; Decode decodes one value from the front of src and
// returns the bytes consumed. The signatures are those of the generated
// record codecs (sdk.RecordCodec's AppendBinary and DecodeBinary).
type Codec[T any] struct {
	Append func(dst []byte, v *T) []byte
	Decode func(src []byte, v *T) (int, error)
}

// Ok reports whether both functions are set.
func (c Codec[T]) Ok() bool { return c.Append != nil && c.Decode != nil }

// spilledUnknown is the spilled count of a restored window: its entries
// are all in the backend, in unknown number.
const spilledUnknown = math.MaxInt / 2

// putThrougher is a map state with a bulk write path that skips the
// backend's cache (state.MapState.PutThrough): the operator's maps are
// the cache of its state, so a checkpoint's write-back of every dirty
// entry need not fill another one (Snapshot took about twice as long
// through it, BenchmarkAggSnapshot op-ns/entry).
// Eviction still writes through the backend's cache, which then serves
// as a second level for the evicted entries: reading them back from
// Pebble instead made BenchmarkAgg/spill-tenth 3× slower.
type putThrougher interface {
	PutThrough(kg uint16, key, mk, val []byte) error
}

// aggState is an operator's handles on its keyed state.
type aggState struct {
	b            graph.StateBackend
	panes        graph.MapState
	sessions     graph.MapState
	panesPut     func(kg uint16, key, mk, val []byte) error // write-back: PutThrough, or Put
	sessionsPut  func(kg uint16, key, mk, val []byte) error
	meta         graph.ValueState
	maxPar       int
	kgStart      uint16
	kgEnd        uint16
	budget       int64 // StateMemory; 0 unbounded
	fixed        int64 // estimated bytes per cached entry, without variable parts
	encoded      int64 // running average of encoded key+value bytes
	sessSpilled  int   // keys whose sessions are in the backend but not cached
	sessEvicted  int   // sessions evicted since the map was rebuilt
	created      int   // entries created, for sampling their size
	kbuf, vbuf   []byte
	wbuf         []byte   // a window key being deleted
	mkeys, mvals [][]byte // puts (nil value: deletes) queued by eachStored's fn
	stats        aggStateStats
}

// aggStateStats counts the backend traffic of the state paths (for tests).
type aggStateStats struct {
	evicted, loaded, firedStored int
}

var (
	metaWM       = []byte("wm")
	metaWindows  = []byte("windows")
	sessionsKey  = []byte("s")
	entryOverhed = int64(64) // map slot, pointer, allocation header
)

var _ graph.Stateful = (*aggOp[int, int, int, int])(nil)

// openState wires the backend and, after a restore, rebuilds the windows,
// the watermark and the timers from it.
//
// Without a key hash or codecs the operator keeps its state in memory
// only: it runs, but Snapshot fails (so no checkpoint of the job
// completes) and a restore fails; StateError says why.
func (o *aggOp[K, T, A, R]) openState(ctx graph.OpContext) error {
	if o.stateErr = o.cfg.stateError(); o.stateErr != nil {
		if ctx.Restored != 0 {
			return o.stateErr
		}
		return nil
	}
	st := &aggState{b: ctx.State, maxPar: ctx.MaxParallelism, budget: o.cfg.StateMemory}
	if st.budget == 0 {
		st.budget = ctx.StateMemory
	}
	if st.maxPar <= 0 {
		st.maxPar = base.DefaultMaxParallelism
	}
	st.kgStart, st.kgEnd = ctx.State.KeyGroups()
	var err error
	if st.panes, err = ctx.State.Map("panes"); err != nil {
		return fmt.Errorf("window aggregation: open state: %w", err)
	}
	if st.sessions, err = ctx.State.Map("sessions"); err != nil {
		return fmt.Errorf("window aggregation: open state: %w", err)
	}
	if st.meta, err = ctx.State.Value("meta"); err != nil {
		return fmt.Errorf("window aggregation: open state: %w", err)
	}
	st.panesPut, st.sessionsPut = writeBack(st.panes), writeBack(st.sessions)
	var k K
	if o.cfg.Spec.Merging() {
		st.fixed = int64(unsafe.Sizeof(k)) + int64(unsafe.Sizeof(keySessions[A]{})) +
			int64(unsafe.Sizeof(session[A]{})) + 2*entryOverhed
	} else {
		st.fixed = int64(unsafe.Sizeof(k)) + int64(unsafe.Sizeof(entry[A]{})) + entryOverhed
	}
	o.st = st
	if ctx.Restored != 0 {
		if err := o.restore(); err != nil {
			return fmt.Errorf("window aggregation: restore from checkpoint %d: %w", ctx.Restored, err)
		}
	}
	return nil
}

// writeBack returns m's bulk write: PutThrough if it has one, else Put.
func writeBack(m graph.MapState) func(kg uint16, key, mk, val []byte) error {
	if t, ok := m.(putThrougher); ok {
		return t.PutThrough
	}
	return m.Put
}

// stateError says why the configuration cannot keep its state in a
// backend, or returns nil.
func (c *AggConfig[K, T, A, R]) stateError() error {
	switch {
	case c.Hash == nil:
		return fmt.Errorf("window aggregation: keyed state needs the key hash of %s", typeString[K]())
	case !c.KeyCodec.Ok():
		return fmt.Errorf("window aggregation: key type %s has no codec, so its state cannot be checkpointed; mark it //weir:record and run \"go generate ./...\"", typeString[K]())
	case !c.AccCodec.Ok():
		return fmt.Errorf("window aggregation: accumulator type %s has no codec, so its state cannot be checkpointed; use a //weir:record type or a basic type as the accumulator", typeString[A]())
	}
	return nil
}

// StateError reports, after Open, why the operator keeps its state in
// memory only although the runner gave it a backend (a missing codec), or
// nil. A runner with checkpoints enabled can fail the job early with it.
func (o *aggOp[K, T, A, R]) StateError() error { return o.stateErr }

func typeString[T any]() string { return reflect.TypeFor[T]().String() }

// kg returns the key group of key, as the partitioner computes it.
func (o *aggOp[K, T, A, R]) kg(key K) uint16 {
	return uint16(base.KeyGroupOf(o.cfg.Hash(key), o.st.maxPar))
}

func appendWindow(dst []byte, w base.Window) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(w.Start))
	return binary.BigEndian.AppendUint64(dst, uint64(w.End))
}

// compareWindows orders windows by start, then end.
func compareWindows(a, b base.Window) int {
	return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End))
}

func decodeWindow(b []byte) base.Window {
	return base.Window{
		Start: base.Timestamp(binary.BigEndian.Uint64(b)),
		End:   base.Timestamp(binary.BigEndian.Uint64(b[8:])),
	}
}

func (o *aggOp[K, T, A, R]) appendKey(dst []byte, key K) []byte {
	return o.cfg.KeyCodec.Append(dst, &key)
}

func (o *aggOp[K, T, A, R]) decodeKey(b []byte) (K, error) {
	var k K
	if _, err := o.cfg.KeyCodec.Decode(b, &k); err != nil {
		return k, fmt.Errorf("decode key: %w", err)
	}
	return k, nil
}

// appendEntry encodes e as uvarint(fires) | acc.
func (o *aggOp[K, T, A, R]) appendEntry(dst []byte, e *entry[A]) []byte {
	dst = binary.AppendUvarint(dst, uint64(e.fires))
	return o.cfg.AccCodec.Append(dst, &e.acc)
}

func (o *aggOp[K, T, A, R]) decodeEntry(b []byte) (*entry[A], error) {
	f, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, fmt.Errorf("decode window entry: bad fire count")
	}
	e := &entry[A]{fires: int(f)}
	if _, err := o.cfg.AccCodec.Decode(b[n:], &e.acc); err != nil {
		return nil, fmt.Errorf("decode accumulator: %w", err)
	}
	return e, nil
}

// appendSessions encodes a key's sessions: uvarint(n), then per session
// varint(start) varint(end) uvarint(fires) acc. The accumulator needs no
// length: its codec's Decode reports the bytes it consumed.
func (o *aggOp[K, T, A, R]) appendSessions(dst []byte, ss []*session[A]) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = binary.AppendVarint(dst, int64(s.w.Start))
		dst = binary.AppendVarint(dst, int64(s.w.End))
		dst = binary.AppendUvarint(dst, uint64(s.fires))
		dst = o.cfg.AccCodec.Append(dst, &s.acc)
	}
	return dst
}

func (o *aggOp[K, T, A, R]) decodeSessions(b []byte) ([]*session[A], error) {
	bad := func(what string) error { return fmt.Errorf("decode sessions: bad %s", what) }
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	sv := func() (int64, bool) {
		v, n := binary.Varint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	n, ok := uv()
	if !ok || n > uint64(len(b)) {
		return nil, bad("count")
	}
	ss := make([]*session[A], 0, n)
	for range n {
		start, ok1 := sv()
		end, ok2 := sv()
		fires, ok3 := uv()
		if !ok1 || !ok2 || !ok3 {
			return nil, bad("session")
		}
		s := &session[A]{w: base.Window{Start: base.Timestamp(start), End: base.Timestamp(end)}}
		s.fires = int(fires)
		l, err := o.cfg.AccCodec.Decode(b, &s.acc)
		if err != nil {
			return nil, fmt.Errorf("decode accumulator: %w", err)
		}
		if l < 0 || l > len(b) {
			return nil, bad("accumulator length")
		}
		b = b[l:]
		ss = append(ss, s)
	}
	return ss, nil
}

// noteEncoded folds one encoded entry's size into the running average.
func (st *aggState) noteEncoded(n int) {
	if st.encoded == 0 {
		st.encoded = int64(n)
		return
	}
	st.encoded += (int64(n) - st.encoded) / 16
}

// entryBytes is the estimated memory of one cached entry.
func (st *aggState) entryBytes() int64 { return st.fixed + st.encoded }

// The encoded size of the first sampleFirst entries cached, then of every
// sampleEvery-th, feeds the estimate, so it is right before anything is
// written back (until then it knew only the fixed part, and StateMemory
// was overshot by the size of the accumulators).
const (
	sampleFirst = 64
	sampleEvery = 1024
)

// sample reports whether the next new entry's size should be measured.
func (st *aggState) sample() bool {
	st.created++
	return st.created <= sampleFirst || st.created%sampleEvery == 0
}

// sampleEntry measures a new entry (after its first record) for the
// estimate.
func (o *aggOp[K, T, A, R]) sampleEntry(key K, e *entry[A]) {
	st := o.st
	if !st.sample() {
		return
	}
	st.kbuf = o.appendKey(st.kbuf[:0], key)
	st.vbuf = o.appendEntry(st.vbuf[:0], e)
	st.noteEncoded(len(st.kbuf) + len(st.vbuf)) // as putEntry counts
}

// sampleSessions is sampleEntry for a key's sessions.
func (o *aggOp[K, T, A, R]) sampleSessions(key K, ks *keySessions[A]) {
	st := o.st
	if !st.sample() {
		return
	}
	st.kbuf = o.appendKey(st.kbuf[:0], key)
	st.vbuf = o.appendSessions(st.vbuf[:0], ks.ss)
	st.noteEncoded(len(st.kbuf) + len(st.vbuf))
}

// loadEntry reads the entry of key in window w from the backend; nil if
// absent. A loaded entry is clean: the backend holds its value.
func (o *aggOp[K, T, A, R]) loadEntry(w base.Window, key K) (*entry[A], error) {
	st := o.st
	st.kbuf = appendWindow(st.kbuf[:0], w)
	st.vbuf = o.appendKey(st.vbuf[:0], key)
	v, ok, err := st.panes.Get(o.kg(key), st.kbuf, st.vbuf)
	if err != nil {
		return nil, fmt.Errorf("window aggregation: load window %v: %w", w, err)
	}
	if !ok {
		return nil, nil
	}
	e, err := o.decodeEntry(v)
	if err != nil {
		return nil, fmt.Errorf("window aggregation: window %v: %w", w, err)
	}
	st.stats.loaded++
	return e, nil
}

// putEntry writes e back to the backend: through the backend's cache
// (eviction), or past it (bulk, a checkpoint's write-back).
func (o *aggOp[K, T, A, R]) putEntry(w base.Window, key K, e *entry[A], bulk bool) error {
	st := o.st
	st.kbuf = appendWindow(st.kbuf[:0], w)
	n := len(st.kbuf)
	st.kbuf = o.appendKey(st.kbuf, key)
	st.vbuf = o.appendEntry(st.vbuf[:0], e)
	st.noteEncoded(len(st.kbuf) - n + len(st.vbuf))
	var err error
	if bulk {
		err = st.panesPut(o.kg(key), st.kbuf[:n], st.kbuf[n:], st.vbuf)
	} else {
		err = st.panes.Put(o.kg(key), st.kbuf[:n], st.kbuf[n:], st.vbuf)
	}
	if err != nil {
		return fmt.Errorf("window aggregation: write window %v: %w", w, err)
	}
	e.dirty = false
	return nil
}

// eachStored calls fn with every stored entry of window w, key group by
// key group; fn may not write to the backend. After each key group, the
// puts fn queued (setPut) are applied.
func (o *aggOp[K, T, A, R]) eachStored(w base.Window, fn func(kg uint16, mk, val []byte) error) error {
	st := o.st
	wk := appendWindow(nil, w)
	for kg := st.kgStart; kg < st.kgEnd; kg++ {
		st.mkeys, st.mvals = st.mkeys[:0], st.mvals[:0]
		if err := st.panes.Iterate(kg, wk, func(mk, val []byte) error { return fn(kg, mk, val) }); err != nil {
			return fmt.Errorf("window aggregation: read window %v: %w", w, err)
		}
		for i, mk := range st.mkeys {
			var err error
			if st.mvals[i] == nil {
				err = st.panes.Delete(kg, wk, mk)
			} else {
				err = st.panes.Put(kg, wk, mk, st.mvals[i])
			}
			if err != nil {
				return fmt.Errorf("window aggregation: write window %v: %w", w, err)
			}
		}
	}
	return nil
}

// fireSpilled emits the stored entries of window w that are not cached
// and never fired. Unless the window is dropped right after (cleanup),
// their fire counts are written back.
func (o *aggOp[K, T, A, R]) fireSpilled(p *pane[K, A], w base.Window, cleanup bool) error {
	st := o.st
	return o.eachStored(w, func(_ uint16, mk, val []byte) error {
		k, err := o.decodeKey(mk)
		if err != nil {
			return err
		}
		if _, ok := p.accs[k]; ok {
			return nil // the cache is authoritative
		}
		e, err := o.decodeEntry(val)
		if err != nil {
			return err
		}
		if e.fires != 0 {
			return nil
		}
		o.emit(k, w, e, false)
		st.stats.firedStored++
		if !cleanup {
			st.mkeys = append(st.mkeys, append([]byte(nil), mk...))
			st.mvals = append(st.mvals, o.appendEntry(nil, e))
		}
		return nil
	})
}

// deletePane deletes every stored entry of window w: one range deletion
// per owned key group, nothing read.
func (o *aggOp[K, T, A, R]) deletePane(w base.Window) error {
	st := o.st
	st.wbuf = appendWindow(st.wbuf[:0], w)
	for kg := st.kgStart; kg < st.kgEnd; kg++ {
		if err := st.panes.Clear(kg, st.wbuf); err != nil {
			return fmt.Errorf("window aggregation: delete window %v: %w", w, err)
		}
	}
	return nil
}

// loadSessions reads key's sessions from the backend; nil if absent.
func (o *aggOp[K, T, A, R]) loadSessions(key K) (*keySessions[A], error) {
	st := o.st
	st.vbuf = o.appendKey(st.vbuf[:0], key)
	v, ok, err := st.sessions.Get(o.kg(key), sessionsKey, st.vbuf)
	if err != nil {
		return nil, fmt.Errorf("window aggregation: load sessions: %w", err)
	}
	if !ok {
		return nil, nil
	}
	ss, err := o.decodeSessions(v)
	if err != nil {
		return nil, fmt.Errorf("window aggregation: %w", err)
	}
	st.stats.loaded++
	st.sessSpilled--
	return &keySessions[A]{ss: ss, stored: true}, nil
}

// putSessions writes a key's sessions back, like putEntry.
func (o *aggOp[K, T, A, R]) putSessions(key K, ks *keySessions[A], bulk bool) error {
	st := o.st
	st.kbuf = o.appendKey(st.kbuf[:0], key)
	st.vbuf = o.appendSessions(st.vbuf[:0], ks.ss)
	st.noteEncoded(len(st.kbuf) + len(st.vbuf))
	var err error
	if bulk {
		err = st.sessionsPut(o.kg(key), sessionsKey, st.kbuf, st.vbuf)
	} else {
		err = st.sessions.Put(o.kg(key), sessionsKey, st.kbuf, st.vbuf)
	}
	if err != nil {
		return fmt.Errorf("window aggregation: write sessions: %w", err)
	}
	ks.dirty, ks.stored = false, true
	return nil
}

func (o *aggOp[K, T, A, R]) deleteSessions(key K) error {
	st := o.st
	st.kbuf = o.appendKey(st.kbuf[:0], key)
	if err := st.sessions.Delete(o.kg(key), sessionsKey, st.kbuf); err != nil {
		return fmt.Errorf("window aggregation: delete sessions: %w", err)
	}
	return nil
}

// Snapshot writes every dirty cached entry back to the backend, then the
// watermark and the live windows to each owned key group. The runner calls
// it at a checkpoint barrier, before snapshotting the backend.
func (o *aggOp[K, T, A, R]) Snapshot(id base.CheckpointID) error {
	st := o.st
	if st == nil {
		if o.stateErr != nil {
			return fmt.Errorf("checkpoint %d: %w", id, o.stateErr)
		}
		return nil
	}
	if o.cfg.Spec.Merging() {
		for k, ks := range o.sessions {
			if ks.dirty {
				if err := o.putSessions(k, ks, true); err != nil {
					return err
				}
			}
		}
	} else {
		for w, p := range o.panes {
			for k, e := range p.accs {
				if e.dirty {
					if err := o.putEntry(w, k, e, true); err != nil {
						return err
					}
					p.stored = true
				}
			}
		}
	}
	wins := make([]base.Window, 0, len(o.panes))
	for w := range o.panes {
		wins = append(wins, w)
	}
	slices.SortFunc(wins, compareWindows)
	var wl []byte
	for _, w := range wins {
		wl = appendWindow(wl, w)
	}
	wm := binary.BigEndian.AppendUint64(nil, uint64(o.wm))
	for kg := st.kgStart; kg < st.kgEnd; kg++ {
		if err := st.meta.Put(kg, metaWM, wm); err != nil {
			return fmt.Errorf("window aggregation: checkpoint %d: %w", id, err)
		}
		if err := st.meta.Put(kg, metaWindows, wl); err != nil {
			return fmt.Errorf("window aggregation: checkpoint %d: %w", id, err)
		}
	}
	return nil
}

// restore rebuilds the watermark, the windows and the timers from the
// backend. The watermark is the least of the owned key groups' (they differ
// when the key groups come from tasks of an earlier run with another
// parallelism); windows are created spilled, sessions are left in the
// backend, and both are loaded on demand.
func (o *aggOp[K, T, A, R]) restore() error {
	st := o.st
	wins := map[base.Window]struct{}{}
	wms := map[uint16]base.Timestamp{}
	for kg := st.kgStart; kg < st.kgEnd; kg++ {
		v, ok, err := st.meta.Get(kg, metaWM)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if len(v) != 8 {
			return fmt.Errorf("corrupt watermark in key group %d", kg)
		}
		wms[kg] = base.Timestamp(binary.BigEndian.Uint64(v))
		v, ok, err = st.meta.Get(kg, metaWindows)
		if err != nil {
			return err
		}
		if !ok || len(v)%16 != 0 {
			return fmt.Errorf("corrupt window list in key group %d", kg)
		}
		for ; len(v) > 0; v = v[16:] {
			wins[decodeWindow(v)] = struct{}{}
		}
	}
	if len(wms) == 0 {
		return nil // nothing was checkpointed
	}
	o.wm = base.MaxTimestamp
	for _, wm := range wms {
		o.wm = min(o.wm, wm)
	}
	if o.cfg.Spec.Merging() {
		for kg := st.kgStart; kg < st.kgEnd; kg++ {
			wm, ok := wms[kg]
			if !ok {
				continue
			}
			err := st.sessions.Iterate(kg, sessionsKey, func(mk, val []byte) error {
				k, err := o.decodeKey(mk)
				if err != nil {
					return err
				}
				ss, err := o.decodeSessions(val)
				if err != nil {
					return err
				}
				for _, s := range ss {
					o.setTimersAt(s.w, k, wm)
				}
				st.sessSpilled++
				return nil
			})
			if err != nil {
				return fmt.Errorf("read sessions: %w", err)
			}
		}
		return nil
	}
	ws := make([]base.Window, 0, len(wins))
	for w := range wins {
		ws = append(ws, w)
	}
	slices.SortFunc(ws, compareWindows)
	var zero K
	for _, w := range ws {
		o.panes[w] = &pane[K, A]{accs: map[K]*entry[A]{}, spilled: spilledUnknown, stored: true}
		o.setTimers(w, zero)
	}
	return nil
}

// maybeEvict evicts cached entries when their estimated size passes the
// budget: down to 7/8 of it, entries untouched since the last sweep first.
func (o *aggOp[K, T, A, R]) maybeEvict() error {
	st := o.st
	if st.budget <= 0 || int64(o.cached)*st.entryBytes() <= st.budget {
		return nil
	}
	for pass := 0; pass < 2; pass++ {
		target := int(st.budget * 7 / 8 / st.entryBytes())
		if o.cached <= target {
			break
		}
		var err error
		if o.cfg.Spec.Merging() {
			err = o.evictSessions(target, pass == 1)
		} else {
			err = o.evictPanes(target, pass == 1)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (o *aggOp[K, T, A, R]) evictPanes(target int, all bool) error {
	for w, p := range o.panes {
		err := o.evictPane(w, p, target, all)
		if p.evicted > len(p.accs) {
			// Rebuild the map without its deleted slots.
			m := make(map[K]*entry[A], len(p.accs))
			for k, e := range p.accs {
				m[k] = e
			}
			p.accs, p.evicted = m, 0
		}
		if err != nil || o.cached <= target {
			return err
		}
	}
	return nil
}

func (o *aggOp[K, T, A, R]) evictPane(w base.Window, p *pane[K, A], target int, all bool) error {
	for k, e := range p.accs {
		if o.cached <= target {
			return nil
		}
		if e.hot && !all {
			e.hot = false
			continue
		}
		if e.dirty {
			if err := o.putEntry(w, k, e, false); err != nil {
				return err
			}
			p.stored = true
		}
		delete(p.accs, k)
		p.spilled++
		p.evicted++
		o.cached--
		o.st.stats.evicted++
	}
	return nil
}

func (o *aggOp[K, T, A, R]) evictSessions(target int, all bool) error {
	for k, ks := range o.sessions {
		if o.cached <= target {
			break
		}
		if ks.hot && !all {
			ks.hot = false
			continue
		}
		if ks.dirty {
			if err := o.putSessions(k, ks, false); err != nil {
				return err
			}
		}
		delete(o.sessions, k)
		o.st.sessSpilled++
		o.cached--
		o.st.stats.evicted++
		o.st.sessEvicted++
	}
	if o.st.sessEvicted > len(o.sessions) {
		// Rebuild the map without its deleted slots.
		m := make(map[K]*keySessions[A], len(o.sessions))
		for k, ks := range o.sessions {
			m[k] = ks
		}
		o.sessions, o.st.sessEvicted = m, 0
	}
	return nil
}
