package state

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// entryOverhead approximates the memory of an entry beyond its key and
// value bytes: the struct (104 bytes), the map slot and the string header.
const entryOverhead = 128

// entry is one cached key. deleted entries are cached absences (a read
// that found nothing, or a Delete not yet written back).
type entry struct {
	key     string
	val     []byte
	deleted bool
	dirty   bool
	// For a list (ListState): merge says that a write-back appends
	// val[base:] to the list Pebble holds (a Pebble merge) instead of
	// setting the value to val; partial says that val holds only elements
	// appended on top of a stored list not read (then merge is set and
	// base is 0). They fit in the padding after dirty.
	merge, partial bool
	base           int32

	prev, next *entry
	// m is the map-state map the entry belongs to (nil for other state);
	// mprev and mnext link m's cached entries, dprev and dnext its dirty
	// ones.
	m            *mapEntries
	mprev, mnext *entry
	dprev, dnext *entry
}

// mapEntries lists the cached entries of one map-state map (one key's
// map), so MapState.Clear drops them without scanning the cache and
// MapState.Iterate knows whether the map has dirty entries.
type mapEntries struct {
	prefix string // the map's key prefix: kg | id | uvarint(len(key)) | key
	head   *entry
	n      int    // entries listed
	dirty  int    // dirty entries among them
	dhead  *entry // the dirty ones (MapState.IterateRange copies those in its range)
}

func (e *entry) size() int64 { return entryOverhead + int64(len(e.key)+cap(e.val)) }

// cache is the write-back LRU cache of point state (values, map entries,
// list lengths). head is the most recently used entry.
type cache struct {
	m          map[string]*entry
	head, tail *entry
	bytes      int64
	limit      int64
	dirty      []*entry // entries that became dirty since the last writeDirty
	ndirty     int
	maps       map[string]*mapEntries // map-state prefix -> its cached entries
	evictions  int64
	writebacks int64
	// last is the most recently looked-up entry: a read-modify-write
	// finds it again without a second map lookup.
	last *entry
}

func (c *cache) init(limit int64) {
	c.m = map[string]*entry{}
	c.maps = map[string]*mapEntries{}
	c.limit = limit
}

func (c *cache) lookup(key []byte) *entry {
	if e := c.last; e != nil && e.key == string(key) {
		return e // already at the front
	}
	e := c.m[string(key)]
	if e != nil {
		c.moveToFront(e)
		c.last = e
	}
	return e
}

func (c *cache) moveToFront(e *entry) {
	if c.head == e {
		return
	}
	c.unlink(e)
	c.pushFront(e)
}

func (c *cache) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		c.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		c.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (c *cache) pushFront(e *entry) {
	e.next = c.head
	if c.head != nil {
		c.head.prev = e
	}
	c.head = e
	if c.tail == nil {
		c.tail = e
	}
}

// linkMap adds e to the list of its map's entries; mapPrefix is the
// length of the map's prefix of e.key (0: e is not a map entry).
func (c *cache) linkMap(e *entry, mapPrefix int) {
	if mapPrefix == 0 || e.m != nil {
		return
	}
	p := e.key[:mapPrefix]
	m := c.maps[p]
	if m == nil {
		m = &mapEntries{prefix: p}
		c.maps[p] = m
	}
	e.m, e.mnext = m, m.head
	if m.head != nil {
		m.head.mprev = e
	}
	m.head = e
	m.n++
}

// unlinkMap removes e, which must be clean, from its map's list.
func (c *cache) unlinkMap(e *entry) {
	m := e.m
	if m == nil {
		return
	}
	if e.mprev != nil {
		e.mprev.mnext = e.mnext
	} else {
		m.head = e.mnext
	}
	if e.mnext != nil {
		e.mnext.mprev = e.mprev
	}
	e.m, e.mprev, e.mnext = nil, nil, nil
	if m.n--; m.n == 0 {
		delete(c.maps, m.prefix)
	}
}

// dropMap removes every cached entry of the map with prefix p, dirty ones
// included, without writing them back. It costs O(the map's cached
// entries).
func (c *cache) dropMap(p []byte) {
	m := c.maps[string(p)]
	for m != nil && m.head != nil {
		e := m.head
		c.markClean(e)
		c.remove(e) // deletes m from c.maps with its last entry
	}
}

func (c *cache) insertCleanEntry(key, val []byte, deleted bool, mapPrefix int) *entry {
	e := &entry{key: string(key), deleted: deleted}
	if !deleted {
		e.val = append([]byte(nil), val...)
	}
	c.m[e.key] = e
	c.pushFront(e)
	c.linkMap(e, mapPrefix)
	c.bytes += e.size()
	c.last = e
	return e
}

func (c *cache) insertClean(b *Backend, key, val []byte, deleted bool, mapPrefix int) error {
	c.insertCleanEntry(key, val, deleted, mapPrefix)
	return c.maybeEvict(b)
}

func (c *cache) markDirty(e *entry) {
	if e.dirty {
		return
	}
	e.dirty = true
	c.ndirty++
	c.dirty = append(c.dirty, e)
	if m := e.m; m != nil {
		m.dirty++
		e.dnext = m.dhead
		if m.dhead != nil {
			m.dhead.dprev = e
		}
		m.dhead = e
	}
}

func (c *cache) markClean(e *entry) {
	if !e.dirty {
		return
	}
	e.dirty = false
	c.ndirty--
	if m := e.m; m != nil {
		m.dirty--
		if e.dprev != nil {
			e.dprev.dnext = e.dnext
		} else {
			m.dhead = e.dnext
		}
		if e.dnext != nil {
			e.dnext.dprev = e.dprev
		}
		e.dprev, e.dnext = nil, nil
	}
}

// put writes val (or a deletion) for key and marks it dirty.
func (c *cache) put(key, val []byte, deleted bool, mapPrefix int) {
	e := c.last
	if e == nil || e.key != string(key) {
		e = c.m[string(key)]
	}
	if e == nil {
		e = &entry{key: string(key)}
		c.m[e.key] = e
		c.pushFront(e)
	} else {
		c.bytes -= e.size()
		c.moveToFront(e)
	}
	c.linkMap(e, mapPrefix)
	e.deleted = deleted
	if deleted {
		e.val = e.val[:0]
	} else {
		e.val = append(e.val[:0], val...)
	}
	c.bytes += e.size()
	c.markDirty(e)
	c.last = e
}

// drop removes key from the cache without writing it back.
func (c *cache) drop(key []byte) {
	if e := c.m[string(key)]; e != nil {
		c.markClean(e)
		c.remove(e)
	}
}

func (c *cache) remove(e *entry) {
	if c.last == e {
		c.last = nil
	}
	c.unlink(e)
	c.unlinkMap(e)
	delete(c.m, e.key)
	c.bytes -= e.size()
}

func writeEntry(wb *pebble.Batch, e *entry) error {
	// Deferred ops copy the string key into the batch without converting
	// it to a []byte first.
	var op *pebble.DeferredBatchOp
	switch {
	case e.deleted:
		op = wb.DeleteDeferred(len(e.key))
	case e.merge:
		tail := e.val[e.base:]
		op = wb.MergeDeferred(len(e.key), len(tail))
		copy(op.Value, tail)
	default:
		op = wb.SetDeferred(len(e.key), len(e.val))
		copy(op.Value, e.val)
	}
	copy(op.Key, e.key)
	if err := op.Finish(); err != nil {
		return fmt.Errorf("state: write back: %w", err)
	}
	return nil
}

// maybeEvict drops least recently used entries until the cache is under
// 7/8 of its budget, writing the dirty ones back in one batch.
func (c *cache) maybeEvict(b *Backend) error {
	if c.bytes <= c.limit {
		return nil
	}
	target := c.limit - c.limit/8
	wrote := false
	for c.bytes > target && c.tail != nil {
		e := c.tail
		if e.dirty {
			if err := writeEntry(b.wb, e); err != nil {
				return err
			}
			c.markClean(e)
			c.writebacks++
			wrote = true
		}
		c.remove(e)
		c.evictions++
	}
	if len(c.dirty) > 2*c.ndirty+64 {
		live := c.dirty[:0]
		for _, e := range c.dirty {
			if e.dirty {
				live = append(live, e)
			}
		}
		clear(c.dirty[len(live):])
		c.dirty = live
	}
	if wrote {
		return b.commitWB()
	}
	return nil
}

// writeDirty adds every dirty entry to wb and marks it clean.
func (c *cache) writeDirty(wb *pebble.Batch) error {
	for _, e := range c.dirty {
		if !e.dirty {
			continue
		}
		if err := writeEntry(wb, e); err != nil {
			return err
		}
		c.markClean(e)
		c.writebacks++
		if e.partial {
			// Pebble holds the whole list now; the entry knows none of it.
			c.remove(e)
		}
		e.merge = false
	}
	clear(c.dirty)
	c.dirty = c.dirty[:0]
	return nil
}

// listAppend appends elem, as uvarint(len) | elem, to the list cached
// under key, caching it as a partial list (the appended elements only)
// when it is not cached.
func (c *cache) listAppend(key, elem []byte) {
	e := c.lookup(key)
	if e == nil {
		e = &entry{key: string(key), merge: true, partial: true}
		c.m[e.key] = e
		c.pushFront(e)
		c.last = e
	} else {
		c.bytes -= e.size()
		if !e.dirty {
			// Pebble holds e.val (nothing, if deleted): write back only
			// what follows.
			e.merge = !e.deleted && len(e.val) <= math.MaxInt32
			e.base = int32(len(e.val))
		}
		e.deleted = false
	}
	// Appending never writes into e.val[:len(e.val)], which an Iterate
	// may be reading.
	e.val = binary.AppendUvarint(e.val, uint64(len(elem)))
	e.val = append(e.val, elem...)
	c.bytes += e.size()
	c.markDirty(e)
}

// listClear empties the list cached under key (caching the deletion).
func (c *cache) listClear(key []byte) {
	e := c.lookup(key)
	if e == nil {
		e = &entry{key: string(key)}
		c.m[e.key] = e
		c.pushFront(e)
		c.last = e
	} else {
		c.bytes -= e.size()
	}
	// A new array, not e.val[:0]: an Iterate may be reading the old one.
	e.val, e.deleted, e.merge, e.partial = nil, true, false, false
	c.bytes += e.size()
	c.markDirty(e)
}

// listComplete puts the list Pebble holds, stored (nil when absent),
// before the elements appended in the partial entry e.
func (c *cache) listComplete(e *entry, stored []byte) {
	c.bytes -= e.size()
	v := make([]byte, len(stored), len(stored)+len(e.val))
	copy(v, stored)
	e.val = append(v, e.val...)
	e.partial = false
	// e is dirty: the appended elements are still to be written back.
	e.merge = len(stored) <= math.MaxInt32
	e.base = int32(len(stored))
	c.bytes += e.size()
}

// CacheStats describes the write-back cache.
type CacheStats struct {
	Entries    int
	Bytes      int64
	Dirty      int
	Evictions  int64 // entries dropped to stay under the budget
	WriteBacks int64 // dirty entries written to Pebble
}

// CacheStats returns the current cache statistics.
func (b *Backend) CacheStats() CacheStats {
	c := &b.cache
	return CacheStats{Entries: len(c.m), Bytes: c.bytes, Dirty: c.ndirty, Evictions: c.evictions, WriteBacks: c.writebacks}
}
