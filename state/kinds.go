package state

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Value tags: the first byte of every stored ValueState value.
const (
	tagPlain byte = 0 // tag | value
	tagTTL   byte = 1 // tag | expiry (8 bytes, sign-flipped big-endian) | value
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
	return decodeValue(v, b.now)
}

func decodeValue(v []byte, now int64) ([]byte, bool, error) {
	if len(v) == 0 {
		return nil, false, fmt.Errorf("state: corrupt value: empty")
	}
	switch v[0] {
	case tagPlain:
		return v[1:], true, nil
	case tagTTL:
		if len(v) < 9 {
			return nil, false, fmt.Errorf("state: corrupt value: short expiry")
		}
		if decodeTimestamp(v[1:9]) <= now {
			return nil, false, nil
		}
		return v[9:], true, nil
	}
	return nil, false, fmt.Errorf("state: corrupt value: tag %d", v[0])
}

// Put sets the value of key; it never expires.
func (s *ValueState) Put(kg uint16, key, val []byte) error {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return err
	}
	b.kbuf = appendPrefix(b.kbuf[:0], kg, s.id, key)
	b.vbuf = append(append(b.vbuf[:0], tagPlain), val...)
	return b.set(b.kbuf, b.vbuf, false, 0)
}

// PutTTL sets the value of key until expiry: once the backend's time
// (SetTime) reaches expiry, reads see nothing, and ExpireBefore deletes it.
func (s *ValueState) PutTTL(kg uint16, key, val []byte, expiry int64) error {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return err
	}
	b.kbuf = appendPrefix(b.kbuf[:0], kg, s.id, key)
	b.vbuf = appendTimestamp(append(b.vbuf[:0], tagTTL), expiry)
	b.vbuf = append(b.vbuf, val...)
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

// ExpireBefore deletes every value-state entry whose expiry is at or before
// ts and returns how many it deleted. It flushes the cache first.
func (b *Backend) ExpireBefore(ts int64) (int, error) {
	if err := b.Flush(); err != nil {
		return 0, err
	}
	kr := b.opts.KeyGroups
	it, err := b.db.NewIter(&pebble.IterOptions{
		LowerBound: appendKGID(nil, kr.Start, 0),
		UpperBound: appendKGID(nil, kr.End, 0),
	})
	if err != nil {
		return 0, fmt.Errorf("state: expire: %w", err)
	}
	n := 0
	for _, in := range b.states {
		if in.kind != kindValue {
			continue
		}
		for kg := kr.Start; kg < kr.End; kg++ {
			p := appendKGID(b.kbuf[:0], kg, in.id)
			b.kbuf = p
			for it.SeekGE(p); it.Valid() && bytes.HasPrefix(it.Key(), p); it.Next() {
				v := it.Value()
				if len(v) >= 9 && v[0] == tagTTL && decodeTimestamp(v[1:9]) <= ts {
					if err := b.wb.Delete(it.Key(), nil); err != nil {
						it.Close()
						return n, fmt.Errorf("state: expire: %w", err)
					}
					b.cache.drop(it.Key())
					n++
				}
			}
		}
	}
	if err := it.Close(); err != nil {
		return n, fmt.Errorf("state: expire: %w", err)
	}
	return n, b.commitWB()
}

// ListState holds an append-only list of byte elements per (key group,
// key). Under the key's prefix, suffix 0x00 holds the next sequence number
// (through the cache) and suffix 0x01 | seq (8 bytes big-endian) holds each
// element (written straight to the pending batch, never cached).
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

// Len returns the number of elements in key's list.
func (s *ListState) Len(kg uint16, key []byte) (int, error) {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return 0, err
	}
	b.kbuf = append(appendPrefix(b.kbuf[:0], kg, s.id, key), 0x00)
	v, ok, err := b.get(b.kbuf)
	if err != nil || !ok {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("state: corrupt list length")
	}
	return int(binary.BigEndian.Uint64(v)), nil
}

// Append adds elem to the end of key's list.
func (s *ListState) Append(kg uint16, key, elem []byte) error {
	b := s.b
	n, err := s.Len(kg, key)
	if err != nil {
		return err
	}
	// b.kbuf holds the length key after Len.
	b.vbuf = binary.BigEndian.AppendUint64(b.vbuf[:0], uint64(n+1))
	if err := b.set(b.kbuf, b.vbuf, false, 0); err != nil {
		return err
	}
	b.kbuf = binary.BigEndian.AppendUint64(append(appendPrefix(b.kbuf[:0], kg, s.id, key), 0x01), uint64(n))
	if err := b.wb.Set(b.kbuf, elem, nil); err != nil {
		return fmt.Errorf("state: list append: %w", err)
	}
	return b.maybeCommitWB()
}

// Iterate calls fn with each element of key's list in append order; elem
// is valid only during the call.
func (s *ListState) Iterate(kg uint16, key []byte, fn func(elem []byte) error) error {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return err
	}
	if err := b.commitWB(); err != nil {
		return err
	}
	p := append(appendPrefix(nil, kg, s.id, key), 0x01)
	return b.scan(p, prefixEnd(p), func(k, v []byte) error { return fn(v) })
}

// Clear empties key's list.
func (s *ListState) Clear(kg uint16, key []byte) error {
	b := s.b
	if err := b.checkKG(kg); err != nil {
		return err
	}
	p := appendPrefix(nil, kg, s.id, key)
	if err := b.wb.DeleteRange(append(p, 0x01), append(p[:len(p):len(p)], 0x02), nil); err != nil {
		return fmt.Errorf("state: list clear: %w", err)
	}
	return b.set(append(p, 0x00), nil, true, 0)
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
