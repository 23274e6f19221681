package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// Value tags: the first byte of every stored ValueState value.
const (
	tagPlain byte = 0 // tag | value
	// tagExpiry values (tag | expiry, 8 bytes | value) were written by
	// ValueState.PutTTL, removed: state TTL belongs to the process operator
	// (internal/ops), which stores its own expiry inside the value. No weir
	// job ever read them as expired (nothing set the backend's clock), so
	// they read as their value.
	tagExpiry byte = 1
)

// ValueState holds one byte value per (key group, key).
type ValueState struct {
	b  *Backend
	id uint16
}

// Value returns the value state called name, registering it on first use.
func (b *Backend) Value(name string) (*ValueState, error) {
	in, err := b.register(name, kindValue)
	if err != nil {
		return nil, err
	}
	return &ValueState{b: b, id: in.id}, nil
}

// Get returns the value of key. The slice aliases the cache: do not modify
// it, and do not use it after the next write to the backend.
func (s *ValueState) Get(kg uint16, key []byte) ([]byte, bool, error) {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return nil, false, err
	}
	b.kbuf = appendPrefix(b.kbuf[:0], kg, s.id, key)
	v, ok, err := b.get(b.kbuf)
	if err != nil || !ok {
		return nil, false, err
	}
	v, err = decodeValue(v)
	return v, err == nil, err
}

func decodeValue(v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("state: corrupt value: empty")
	}
	switch v[0] {
	case tagPlain:
		return v[1:], nil
	case tagExpiry:
		if len(v) < 9 {
			return nil, fmt.Errorf("state: corrupt value: short expiry")
		}
		return v[9:], nil
	}
	return nil, fmt.Errorf("state: corrupt value: tag %d", v[0])
}

// Put sets the value of key.
func (s *ValueState) Put(kg uint16, key, val []byte) error {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return err
	}
	b.kbuf = appendPrefix(b.kbuf[:0], kg, s.id, key)
	b.vbuf = append(append(b.vbuf[:0], tagPlain), val...)
	return b.set(b.kbuf, b.vbuf, false, 0)
}

// Delete removes the value of key.
func (s *ValueState) Delete(kg uint16, key []byte) error {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return err
	}
	b.kbuf = appendPrefix(b.kbuf[:0], kg, s.id, key)
	return b.set(b.kbuf, nil, true, 0)
}

// listSuffix ends the Pebble key of a list: prefix | listSuffix holds the
// whole list. (Format 1 used 0x00 for a count and 0x01 | seq for each
// element; Open converts them, see format.go.)
const listSuffix = 0x02

// ListState holds a list of byte elements per (key group, key), stored as
// one value under prefix | 0x02: each element as uvarint(len) | bytes.
// Lists go through the write-back cache like other point state, so a
// rule that reads and rewrites a key's list on every record works in
// memory. Append reads nothing: on a cache miss it caches only the new
// elements, and a write-back adds them to the stored list with a Pebble
// merge (concatenation); a list read from Pebble and then appended to is
// written back the same way, so a growing list is never rewritten whole.
// Clear is a point deletion: no range tombstones, which slow every later
// read until a compaction.
type ListState struct {
	b  *Backend
	id uint16
}

// List returns the list state called name, registering it on first use.
func (b *Backend) List(name string) (*ListState, error) {
	in, err := b.register(name, kindList)
	if err != nil {
		return nil, err
	}
	return &ListState{b: b, id: in.id}, nil
}

func (s *ListState) key(kg uint16, key []byte) []byte {
	s.b.kbuf = append(appendPrefix(s.b.kbuf[:0], kg, s.id, key), listSuffix)
	return s.b.kbuf
}

// Len returns the number of elements in key's list.
func (s *ListState) Len(kg uint16, key []byte) (int, error) {
	n := 0
	err := s.Iterate(kg, key, func([]byte) error { n++; return nil })
	return n, err
}

// Append adds elem to the end of key's list.
func (s *ListState) Append(kg uint16, key, elem []byte) error {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return err
	}
	b.cache.listAppend(s.key(kg, key), elem)
	return b.cache.maybeEvict(b)
}

// Iterate calls fn with each element of key's list in append order; elem
// is valid only during the call. fn may change the list: it still sees
// the elements the list had when Iterate was called.
func (s *ListState) Iterate(kg uint16, key []byte, fn func(elem []byte) error) error {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return err
	}
	e, err := b.loadList(s.key(kg, key))
	if err != nil || e.deleted {
		return err
	}
	// Nothing writes into e.val[:len(e.val)] again: appends go after it
	// and Clear drops the array.
	return iterateList(e.val, fn)
}

func iterateList(v []byte, fn func(elem []byte) error) error {
	for len(v) > 0 {
		n, w := binary.Uvarint(v)
		if w <= 0 || n > uint64(len(v)-w) {
			return fmt.Errorf("state: corrupt list")
		}
		end := w + int(n)
		if err := fn(v[w:end:end]); err != nil {
			return err
		}
		v = v[end:]
	}
	return nil
}

// Clear empties key's list.
func (s *ListState) Clear(kg uint16, key []byte) error {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return err
	}
	b.cache.listClear(s.key(kg, key))
	return b.cache.maybeEvict(b)
}

// loadList returns the cache entry of the list stored under key, complete:
// on a miss, or when the entry holds only appended elements, it reads
// Pebble.
func (b *Backend) loadList(key []byte) (*entry, error) {
	e := b.cache.lookup(key)
	if e != nil && !e.partial {
		return e, nil
	}
	v, closer, err := b.db.Get(key)
	found := err == nil
	if err != nil && !errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("state: list get: %w", err)
	}
	if e == nil {
		e = b.cache.insertCleanEntry(key, v, !found, 0)
	} else {
		b.cache.listComplete(e, v)
	}
	if found {
		closer.Close()
	}
	// Eviction may drop e (a list larger than the cache), but never
	// reuses its value.
	return e, b.cache.maybeEvict(b)
}

// scan calls fn for each key in [lo, hi) in Pebble.
func (b *Backend) scan(lo, hi []byte, fn func(k, v []byte) error) error {
	if err := scanReader(b.db, lo, hi, fn); err != nil {
		return fmt.Errorf("state: iterate: %w", err)
	}
	return nil
}

// MapState holds a map of byte keys to byte values per (key group, key).
// Each entry is one Pebble key: the state key's prefix | map key.
type MapState struct {
	b  *Backend
	id uint16
}

// Map returns the map state called name, registering it on first use.
func (b *Backend) Map(name string) (*MapState, error) {
	in, err := b.register(name, kindMap)
	if err != nil {
		return nil, err
	}
	return &MapState{b: b, id: in.id}, nil
}

func (s *MapState) entryKey(kg uint16, key, mk []byte) (k []byte, prefixLen int) {
	b := s.b
	b.kbuf = appendPrefix(b.kbuf[:0], kg, s.id, key)
	prefixLen = len(b.kbuf)
	b.kbuf = append(b.kbuf, mk...)
	return b.kbuf, prefixLen
}

// Get returns the value of map key mk under key; the slice follows the
// rules of ValueState.Get.
func (s *MapState) Get(kg uint16, key, mk []byte) ([]byte, bool, error) {
	if err := s.b.checkKG(kg); err != nil {
		return nil, false, err
	}
	k, pl := s.entryKey(kg, key, mk)
	return s.b.getIn(k, pl)
}

// Put sets map key mk under key to val.
func (s *MapState) Put(kg uint16, key, mk, val []byte) error {
	if err := s.b.checkKG(kg); err != nil {
		return err
	}
	k, pl := s.entryKey(kg, key, mk)
	return s.b.set(k, val, false, pl)
}

// PutThrough sets map key mk under key to val like Put, but for bulk
// writes of values the caller keeps elsewhere (a write-back of its own
// cache): it skips the cache, appending the entry straight to the pending
// batch and dropping any cached copy of it, so it costs no allocation.
// The batch is committed when it grows past a few MiB (bulkBatch), and
// before any later read of point state that misses the cache, so reads
// always see the value.
func (s *MapState) PutThrough(kg uint16, key, mk, val []byte) error {
	if err := s.b.checkKG(kg); err != nil {
		return err
	}
	k, _ := s.entryKey(kg, key, mk)
	return s.b.setThrough(k, val)
}

// Delete removes map key mk under key.
func (s *MapState) Delete(kg uint16, key, mk []byte) error {
	if err := s.b.checkKG(kg); err != nil {
		return err
	}
	k, pl := s.entryKey(kg, key, mk)
	return s.b.set(k, nil, true, pl)
}

// Iterate calls fn for each entry of key's map in map-key byte order; the
// slices are valid only during the call. If any entry of this map is dirty
// in the cache, the cache is flushed first.
func (s *MapState) Iterate(kg uint16, key []byte, fn func(mk, val []byte) error) error {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return err
	}
	p := appendPrefix(nil, kg, s.id, key)
	if m := b.cache.maps[string(p)]; m != nil && m.dirty > 0 {
		if err := b.Flush(); err != nil {
			return err
		}
	} else if _, ok := b.cleared[string(p)]; ok || b.wbPoints {
		if err := b.commitWB(); err != nil {
			return err
		}
	}
	return b.scan(p, prefixEnd(p), func(k, v []byte) error { return fn(k[len(p):], v) })
}

// IterateRange calls fn for each entry of key's map whose map key mk lies
// in [from, to), in map-key byte order; a nil from starts at the map's
// first entry, a nil to runs to its last. The slices are valid only during
// the call. It sees the entries present when it is called, as Iterate,
// but flushes nothing: it merges the map's dirty cached entries in the
// range (copied first, so fn may write to the map) with one Pebble
// iterator bounded by the range, which seeks straight to from instead of
// stepping from the map's start over the tombstones of deleted entries.
// Its cost is one seek, the entries in the range, and a walk over the
// map's dirty cached entries (a flush when there are more than 16).
func (s *MapState) IterateRange(kg uint16, key, from, to []byte, fn func(mk, val []byte) error) error {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return err
	}
	if to != nil && bytes.Compare(from, to) >= 0 {
		return nil
	}
	r := b.takeRange()
	defer b.putRange(r)
	r.buf = appendPrefix(r.buf[:0], kg, s.id, key)
	pl := len(r.buf)
	if _, ok := b.cleared[string(r.buf)]; ok || b.wbPoints {
		if err := b.commitWB(); err != nil {
			return err
		}
	}
	if m := b.cache.maps[string(r.buf)]; m != nil && m.dirty > maxRangeDirty {
		// Deletes of a map's old entries stay dirty until a flush: write
		// them now and then, so that the copy below stays small.
		if err := b.Flush(); err != nil {
			return err
		}
	} else if m != nil && m.dirty > 0 {
		r.snapshotDirty(m, pl, from, to)
	}
	r.buf = append(r.buf, from...)
	lo := r.buf[:len(r.buf):len(r.buf)] // prefix | from
	if to != nil {
		r.buf = append(append(r.buf, lo[:pl]...), to...)
	} else {
		r.buf = append(r.buf, prefixEnd(lo[:pl])...)
	}
	hi := r.buf[len(lo):] // prefix | to, or the end of the map's range
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("state: iterate: %w", err)
	}
	err = r.merge(it, pl, fn)
	if cerr := it.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("state: iterate: %w", cerr)
	}
	return err
}

// maxRangeDirty is the number of dirty cached entries of a map above which
// IterateRange flushes the cache instead of walking them.
const maxRangeDirty = 16

// rangeIter is the scratch of one IterateRange call: the bounds, and a
// copy of the dirty cached entries in the range, sorted.
type rangeIter struct {
	buf   []byte // prefix, then lower and upper bounds
	arena []byte // the dirty entries' map keys and values
	ents  []rangeEnt
}

type rangeEnt struct {
	mk, val int32 // offsets in arena: mk at [mk, val), the value at [val, end)
	end     int32
	deleted bool
}

// takeRange returns an unused rangeIter (fn may iterate again, nested).
func (b *Backend) takeRange() *rangeIter {
	if n := len(b.ranges); n > 0 {
		r := b.ranges[n-1]
		b.ranges = b.ranges[:n-1]
		return r
	}
	return &rangeIter{}
}

func (b *Backend) putRange(r *rangeIter) {
	if cap(r.arena) > 1<<20 {
		r.arena = nil // do not keep a large map's copy
	}
	r.arena, r.ents = r.arena[:0], r.ents[:0]
	b.ranges = append(b.ranges, r)
}

// snapshotDirty copies the dirty entries of m with map keys in [from, to)
// (pl is the length of m's prefix) and sorts them by map key.
func (r *rangeIter) snapshotDirty(m *mapEntries, pl int, from, to []byte) {
	for e := m.dhead; e != nil; e = e.dnext {
		mk := e.key[pl:]
		if mk < string(from) || to != nil && mk >= string(to) {
			continue
		}
		ent := rangeEnt{mk: int32(len(r.arena)), deleted: e.deleted}
		r.arena = append(r.arena, mk...)
		ent.val = int32(len(r.arena))
		if !e.deleted {
			r.arena = append(r.arena, e.val...)
		}
		ent.end = int32(len(r.arena))
		r.ents = append(r.ents, ent)
	}
	slices.SortFunc(r.ents, func(x, y rangeEnt) int {
		return bytes.Compare(r.arena[x.mk:x.val], r.arena[y.mk:y.val])
	})
}

// merge calls fn with the entries of it (keys with a prefix of length pl)
// and r.ents in map-key order; where both hold a map key, r.ents wins, and
// a deleted one hides it.
func (r *rangeIter) merge(it *pebble.Iterator, pl int, fn func(mk, val []byte) error) error {
	valid := it.First()
	i := 0
	for valid || i < len(r.ents) {
		c := 1 // > 0: the next entry is r.ents[i]
		if valid && i < len(r.ents) {
			e := r.ents[i]
			c = bytes.Compare(it.Key()[pl:], r.arena[e.mk:e.val])
		} else if valid {
			c = -1
		}
		if c < 0 {
			v, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("state: iterate: %w", err)
			}
			if err := fn(it.Key()[pl:], v); err != nil {
				return err
			}
			valid = it.Next()
			continue
		}
		if c == 0 {
			valid = it.Next()
		}
		e := r.ents[i]
		i++
		if e.deleted {
			continue
		}
		if err := fn(r.arena[e.mk:e.val:e.val], r.arena[e.val:e.end:e.end]); err != nil {
			return err
		}
	}
	return nil
}

// Clear deletes every entry of key's map with one Pebble range deletion
// (in the pending batch) and drops the map's cached entries, dirty ones
// unwritten. It reads nothing from Pebble: its cost is one range deletion
// plus O(the map's entries in the cache), which the cache finds through a
// per-map list. Until the pending batch is committed (at the next Flush,
// eviction, timer pop, or when it grows past CacheBytes/4), cache misses
// on the map answer "absent" without reading Pebble, and Iterate on it
// commits the batch first.
func (s *MapState) Clear(kg uint16, key []byte) error {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return err
	}
	p := appendPrefix(b.kbuf[:0], kg, s.id, key)
	b.kbuf = p
	b.cache.dropMap(p)
	if err := b.wb.DeleteRange(p, prefixEnd(p), nil); err != nil {
		return fmt.Errorf("state: map clear: %w", err)
	}
	b.cleared[string(p)] = struct{}{}
	return b.maybeCommitWB()
}

// IsEmpty reports whether key's map has no entries. A live cached entry,
// or a Clear since the last commit with no live entry cached after it,
// answers without Pebble; otherwise, after a Flush if the map has dirty
// entries (as Iterate), it looks with one Pebble seek.
func (s *MapState) IsEmpty(kg uint16, key []byte) (bool, error) {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return false, err
	}
	p := appendPrefix(b.kbuf[:0], kg, s.id, key)
	b.kbuf = p
	m := b.cache.maps[string(p)]
	if m != nil {
		for e := m.head; e != nil; e = e.mnext {
			if !e.deleted {
				return false, nil
			}
		}
	}
	if b.wbPoints {
		// A PutThrough may have written to the map.
		if err := b.commitWB(); err != nil {
			return false, err
		}
	}
	if _, ok := b.cleared[string(p)]; ok {
		// Pebble holds nothing of the map once the pending range deletion
		// is committed, and the cache holds only absences.
		return true, nil
	}
	if m != nil && m.dirty > 0 {
		if err := b.Flush(); err != nil {
			return false, err
		}
	}
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return false, fmt.Errorf("state: map is empty: %w", err)
	}
	found := it.First()
	if err := it.Close(); err != nil {
		return false, fmt.Errorf("state: map is empty: %w", err)
	}
	return !found, nil
}
