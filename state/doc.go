// Package state is weir's keyed state backend: one Pebble instance per task,
// behind an in-memory write-back cache of hot keys, with snapshots taken as
// Pebble checkpoints that share SST files so uploads can be incremental.
//
// # What it owns
//
// A Backend (Open, Restore) owns one Pebble directory and the cache in front
// of it. State is named; each name has one kind, fixed at first use:
//
//   - ValueState (Backend.Value): one value per key. (Time-to-live is the
//     process operator's, internal/ops: it keeps the expiry in the value.)
//   - ListState (Backend.List): a list per key: Append, Iterate, Clear.
//   - MapState (Backend.Map): a map of byte keys to byte values per key.
//   - Timers (Backend.Timers): (key group, timestamp, key) triples popped in
//     timestamp order up to a watermark (PopUpTo).
//
// Keys and values are bytes; codecs belong to the caller. Every call takes
// the key group of the key (hash(key) mod MaxParallelism, computed by the
// caller) and fails if the backend does not own it.
//
// # Key layout
//
// Every Pebble key starts with the key group, so a task's state is one
// contiguous key range and can be split or merged when parallelism changes:
//
//	kg (2 bytes, big-endian) | id (2 bytes, big-endian) | rest
//
// id numbers the state name (1, 2, ... in order of first use; ids are
// per instance and Restore renumbers them by name). rest depends on the kind:
//
//	value:      uvarint(len(key)) | key
//	list:       uvarint(len(key)) | key | 0x02                  -> the elements, each uvarint(len) | bytes
//	map:        uvarint(len(key)) | key | mapKey
//	timers:     ts (8 bytes) | key                              -> empty value
//
// The length prefix makes the set of a key's prefixes prefix-free, so a
// key's list or map is exactly one key range. Timestamps are int64 encoded
// as 8 big-endian bytes with the sign bit flipped, so byte order is numeric
// order, negatives included. Window namespaces are part of the caller's key
// (key | window) or map key. A stored value-state value is a tag byte 0x00
// followed by the value (0x01 followed by an 8-byte expiry and the value
// was written by the removed PutTTL; it reads as the value). Metadata lives
// under 0xFF 0xFF, which no key group reaches (MaxParallelism is at most
// 32768): 0xFF 0xFF 's' | name -> kind (1 byte) | id (2 bytes), 0xFF 0xFF
// 'p' -> MaxParallelism (4 bytes big-endian), checked on Open and Restore,
// and 0xFF 0xFF 'f' -> the layout version (1 byte, format.go).
//
// # Layout versions
//
// Version 1 (no 'f' key) stored a list as a count key (suffix 0x00) and
// one key per element (0x01 | seq), and cleared it with a range deletion:
// a rule rewriting a list per record left a range tombstone per record in
// the memtable, which every later read fragmented again (time grew with
// the square of the input). Version 2 stores a list as one value. Open
// converts the lists of a version-1 instance (a checkpoint written by an
// earlier weir) in one pass, and Restore does after copying from
// version-1 snapshots; an instance of a newer version is refused.
//
// # Cache
//
// Point state (values, map entries, whole lists) goes through an LRU
// write-back cache of CacheBytes: reads hit the cache first and cache what
// they find (absences too), writes stay in the cache marked dirty. When the
// cache exceeds its budget, least recently used entries are dropped down to
// 7/8 of it, the dirty ones written back in one Pebble batch (no fsync).
// Flush writes every dirty entry in one batch; Snapshot calls it. A list
// is one entry, so reading and rewriting a key's list per record costs no
// Pebble access while it stays cached. Append reads nothing: on a miss it
// caches the new elements alone, and a list's write-back after appends
// adds only the appended elements to the stored value with a Pebble merge
// (Pebble's default merger concatenates), so a long list that grows is not
// rewritten whole at each checkpoint; after a Clear it is a Set, or a point
// deletion. Timers skip the cache: they go to a pending batch committed at
// the next Flush, eviction, timer pop or when it passes
// min(CacheBytes/4, 1 MiB). MapState.Iterate flushes first when the map has
// dirty entries; MapState.IterateRange flushes nothing: it copies the map's
// dirty entries in its range and merges them with a Pebble iterator
// bounded by the range (one seek, not a walk from the map's start over the
// tombstones of deleted entries). MapState.PutThrough is the bulk path for a caller that
// keeps its own cache of the values (the window operator's write-back): it
// skips the cache, appending to the pending batch (dropping any cached copy
// of the key), which is then committed when it passes 16 MiB (above
// Pebble's large-batch threshold: sorted whole and flushed as one table,
// which for bulk writes beats many small memtable commits that stall on
// flushes), and before any read of point state that misses the cache. The
// cache
// links the cached entries of each map (one key's map) in a list, so
// MapState.Clear, a single Pebble range deletion, drops them in time
// proportional to their number; until the range deletion is committed,
// cache misses on a cleared map answer "absent" without reading Pebble.
//
// # Timers
//
// Timers live in Pebble (writes go to the pending batch), and each timer
// set also caches in memory the first timers of each key group in (time,
// key) order: CacheBytes/1024 timers over all key groups (64 K by
// default), at least 8 and at most 1024 per key group, with the bound
// below which each key group's cache is exact; this memory is beyond
// CacheBytes. Register and Delete keep the cache exact; PopUpTo takes due
// timers from it and reads Pebble (one seek, then sequentially) only for a
// key group whose cached timers ran out before the watermark, seeking past
// the timers popped earlier, whose tombstones stay until a compaction. A
// pop with nothing due returns without touching Pebble. After Open or
// Restore nothing is cached; the first pop reads each key group from its
// start. The pending batch is committed before it reaches 1 MiB: Pebble
// handles a batch over half its memtable as a "flushable batch", sorted
// whole and flushed at once.
//
// # Reads that miss the cache
//
// Pebble keeps a block cache of Options.BlockCacheBytes (64 MiB by
// default) of uncompressed table blocks, and every
// table has a Bloom filter (10 bits per key), so a miss for an absent key
// (common: the window operator looks up keys that never spilled) skips
// the tables without reading their index and data blocks.
//
// # Snapshots and rescaling
//
// Snapshot(dir) is the synchronous part of a checkpoint: Flush, a Pebble
// memtable flush, then a Pebble checkpoint (SSTs hard-linked). The Handle
// lists the files; Handle.NewSince names those an incremental upload must
// copy. Restore opens a backend from one snapshot, or for a new key-group
// range from several old ones.
//
// # Who calls it
//
// The runner: each stateful task opens one Backend for its key-group range
// and restores it from the last checkpoint's snapshots. Nothing here knows
// about the runner or the SDK; this package imports only the standard
// library and Pebble.
//
// # Goroutines
//
// None of its own (Pebble runs its own flush and compaction goroutines). A
// Backend is not safe for concurrent use: the task goroutine that opened it
// owns it, and the hot path takes no locks. Slices returned by Get alias the
// cache and are valid until the next write to the backend; slices passed to
// iteration callbacks are valid only during the call.
package state
