package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"math"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// DefaultMaxParallelism is the number of key groups when
// Options.MaxParallelism is zero.
const DefaultMaxParallelism = 128

// DefaultCacheBytes is the write-back cache budget when Options.CacheBytes
// is zero.
const DefaultCacheBytes = 64 << 20

// MaxKeyGroups bounds MaxParallelism: key groups are two bytes and the
// prefix 0xFFFF is reserved for metadata.
const MaxKeyGroups = 1 << 15

// KeyGroupRange is the half-open range [Start, End) of key groups a backend
// owns. The zero value means every key group.
type KeyGroupRange struct {
	Start, End uint16
}

// Contains reports whether kg is in the range.
func (r KeyGroupRange) Contains(kg uint16) bool { return kg >= r.Start && kg < r.End }

// Options configures a Backend. The zero value of every field works except
// Dir, which names the directory of the Pebble instance.
type Options struct {
	// Dir is the directory of the task's Pebble instance.
	Dir string
	// FS is the file system; nil means the operating system's. Tests pass
	// vfs.NewMem().
	FS vfs.FS
	// KeyGroups is the range of key groups this task owns; the zero value
	// means [0, MaxParallelism).
	KeyGroups KeyGroupRange
	// MaxParallelism is the number of key groups; zero means 128. At most
	// 32768.
	MaxParallelism int
	// Durable makes the instance fsync what it writes (Pebble's default).
	// Off, nothing waits for the disk: right for a task's working copy,
	// which a crash replaces with the last checkpoint anyway; Close still
	// flushes everything to the files, and Snapshot's files are complete
	// once it returns (the checkpoint store syncs its own copies).
	Durable bool
	// CacheBytes is the memory budget of the write-back cache; zero means
	// 64 MiB. When the cache grows past it, least recently used entries
	// are written back to Pebble in one batch and dropped.
	CacheBytes int64
	// BlockCacheBytes is the size of Pebble's block cache (uncompressed
	// table blocks: data, index and filter blocks), which serves the reads
	// that miss the write-back cache; zero means 64 MiB. It is memory
	// beyond CacheBytes, allocated as blocks are read.
	BlockCacheBytes int64
}

// DefaultBlockCacheBytes is the block cache size when
// Options.BlockCacheBytes is zero. A spilling window aggregation
// (internal/ops BenchmarkAggSpillFat) ran 1.7× faster with a 32 MiB block
// cache than with 8 MiB, Pebble's default.
const DefaultBlockCacheBytes = 64 << 20

// l0StopWrites is the number of L0 sublevels at which Pebble stops
// writes until compactions catch up (its default is 12).
const l0StopWrites = 1000

// bloomBitsPerKey sizes the Bloom filter of every table (about 1% false
// positives): a read of an absent key, common when the window operator
// looks up a key that never spilled, skips the table without reading its
// index and data blocks.
const bloomBitsPerKey = 10

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.MaxParallelism == 0 {
		o.MaxParallelism = DefaultMaxParallelism
	}
	if o.KeyGroups == (KeyGroupRange{}) && o.MaxParallelism <= MaxKeyGroups {
		o.KeyGroups = KeyGroupRange{0, uint16(o.MaxParallelism)}
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.BlockCacheBytes == 0 {
		o.BlockCacheBytes = DefaultBlockCacheBytes
	}
}

// Validate names the first bad field.
func (o *Options) Validate() error {
	switch {
	case o.Dir == "":
		return errors.New("state: Options.Dir is empty; set it to the task's state directory")
	case o.MaxParallelism < 1 || o.MaxParallelism > MaxKeyGroups:
		return fmt.Errorf("state: Options.MaxParallelism %d out of range; use 1 to %d", o.MaxParallelism, MaxKeyGroups)
	case o.KeyGroups.Start >= o.KeyGroups.End || int(o.KeyGroups.End) > o.MaxParallelism:
		return fmt.Errorf("state: Options.KeyGroups [%d, %d) is empty or beyond MaxParallelism %d",
			o.KeyGroups.Start, o.KeyGroups.End, o.MaxParallelism)
	case o.CacheBytes < 0:
		return fmt.Errorf("state: Options.CacheBytes %d is negative", o.CacheBytes)
	case o.BlockCacheBytes < 0:
		return fmt.Errorf("state: Options.BlockCacheBytes %d is negative", o.BlockCacheBytes)
	}
	return nil
}

// kind is the type of a named state; it is stored with the name.
type kind byte

const (
	kindValue kind = 1 + iota
	kindList
	kindMap
	kindTimers
)

func (k kind) String() string {
	switch k {
	case kindValue:
		return "value"
	case kindList:
		return "list"
	case kindMap:
		return "map"
	case kindTimers:
		return "timers"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// metaPrefix starts every state-name key; no key group reaches 0xFF 0xFF.
var metaPrefix = []byte{0xFF, 0xFF, 's'}

// maxParKey holds the MaxParallelism the instance was written with (4
// bytes big-endian): key groups mean nothing under another one.
var maxParKey = []byte{0xFF, 0xFF, 'p'}

// checkMaxPar verifies (or, if write is set and the key is absent, records)
// the instance's MaxParallelism.
func checkMaxPar(r pebble.Reader, w *pebble.DB, dir string, maxPar int) error {
	v, closer, err := r.Get(maxParKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		if w == nil {
			return nil
		}
		if err := w.Set(maxParKey, binary.BigEndian.AppendUint32(nil, uint32(maxPar)), pebble.NoSync); err != nil {
			return fmt.Errorf("state: open %s: %w", dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("state: open %s: %w", dir, err)
	}
	defer closer.Close()
	if len(v) != 4 {
		return fmt.Errorf("state: open %s: corrupt MaxParallelism entry", dir)
	}
	if got := int(binary.BigEndian.Uint32(v)); got != maxPar {
		return fmt.Errorf("state: %s was written with MaxParallelism %d, not %d; key groups cannot be remapped, so keep MaxParallelism at %d",
			dir, got, maxPar, got)
	}
	return nil
}

type stateInfo struct {
	name string
	kind kind
	id   uint16
	// timers is the in-memory index of a timer set, made by the first
	// Backend.Timers call and shared by every handle on the set.
	timers *timerHeads
}

// Backend is one task's keyed state: a Pebble instance behind a write-back
// cache. It is not safe for concurrent use; the task goroutine owns it.
type Backend struct {
	opts Options
	db   *pebble.DB
	// wb holds timer writes, written-back cache entries and PutThrough
	// writes until the next commit. Keys written here are never cached,
	// except by a write-back, which commits wb at once.
	wb *pebble.Batch
	// wbPoints is set while wb holds PutThrough writes, which reads of
	// point state must see: a cache miss commits wb before reading Pebble.
	wbPoints bool
	cache    cache
	// cleared holds the prefixes of the maps MapState.Clear deleted with
	// range deletions still in wb: reads that miss the cache must not
	// look in Pebble for them until wb is committed.
	cleared map[string]struct{}
	states  map[string]*stateInfo
	nextID  uint16
	kbuf    []byte
	vbuf    []byte
	// ranges are the unused scratch of MapState.IterateRange calls.
	ranges []*rangeIter
	closed bool
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})         {}
func (quietLogger) Errorf(f string, args ...interface{}) { log.Printf("state: pebble: "+f, args...) }
func (quietLogger) Fatalf(f string, args ...interface{}) { log.Fatalf("state: pebble: "+f, args...) }

// Open opens (or creates) the Pebble instance in opts.Dir.
func Open(opts Options) (*Backend, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return open(opts)
}

func open(opts Options) (*Backend, error) {
	// No write-ahead log: a task's Pebble instance is rebuilt from the last
	// checkpoint after a crash, never from its own files, and Snapshot
	// flushes the memtable before it checkpoints. Without a WAL a
	// snapshot is SSTs (shared between checkpoints) plus a small
	// MANIFEST, instead of a multi-megabyte log copied every time.
	fs := opts.FS
	if !opts.Durable {
		fs = noSyncFS{fs}
	}
	po := &pebble.Options{FS: fs, Logger: quietLogger{}, DisableWAL: true, CacheSize: opts.BlockCacheBytes,
		// A checkpoint's bulk write-back (PutThrough) commits 16 MiB
		// batches, each flushed as its own L0 table spanning the key
		// range: with Pebble's defaults (writes stop at 12 L0 sublevels
		// and 2 queued memtables) the write-back of a 500 MB task waited
		// for L0 compactions and flushes, which now run after it instead
		// (sync part of 1 GB of state, 2 tasks: 6.7 s -> 5.2 s). Reads
		// stay cheap over many L0 tables thanks to the Bloom filters.
		L0StopWritesThreshold:       l0StopWrites,
		MemTableStopWritesThreshold: 4,
		// ListState writes appended elements back as merge operands:
		// Pebble's default merger concatenates them (and every instance
		// has always been opened with it).
		Merger: pebble.DefaultMerger,
	}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(bloomBitsPerKey)
	}
	db, err := pebble.Open(opts.Dir, po)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", opts.Dir, err)
	}
	b := &Backend{opts: opts, db: db, states: map[string]*stateInfo{}, cleared: map[string]struct{}{}, nextID: 1}
	b.cache.init(opts.CacheBytes)
	b.wb = db.NewBatch()
	if err := checkMaxPar(db, db, opts.Dir, opts.MaxParallelism); err != nil {
		db.Close()
		return nil, err
	}
	infos, err := readMeta(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	for _, in := range infos {
		b.states[in.name] = in
		if in.id >= b.nextID {
			b.nextID = in.id + 1
		}
	}
	if err := b.upgrade(); err != nil {
		db.Close()
		return nil, err
	}
	return b, nil
}

func readMeta(r pebble.Reader) ([]*stateInfo, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: metaPrefix, UpperBound: prefixEnd(metaPrefix)})
	if err != nil {
		return nil, fmt.Errorf("state: read state names: %w", err)
	}
	var out []*stateInfo
	for it.First(); it.Valid(); it.Next() {
		v := it.Value()
		if len(v) != 3 {
			it.Close()
			return nil, fmt.Errorf("state: corrupt state name entry %q", it.Key())
		}
		out = append(out, &stateInfo{
			name: string(it.Key()[len(metaPrefix):]),
			kind: kind(v[0]),
			id:   binary.BigEndian.Uint16(v[1:]),
		})
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("state: read state names: %w", err)
	}
	return out, nil
}

// register returns the id of name, assigning one on first use.
func (b *Backend) register(name string, k kind) (*stateInfo, error) {
	if b.closed {
		return nil, errClosed
	}
	if in, ok := b.states[name]; ok {
		if in.kind != k {
			return nil, fmt.Errorf("state: %q is %s state, not %s; use a different name", name, in.kind, k)
		}
		return in, nil
	}
	if b.nextID == math.MaxUint16 {
		return nil, fmt.Errorf("state: too many state names (%d)", len(b.states))
	}
	in := &stateInfo{name: name, kind: k, id: b.nextID}
	key := append(append([]byte(nil), metaPrefix...), name...)
	if err := b.db.Set(key, []byte{byte(k), byte(in.id >> 8), byte(in.id)}, pebble.NoSync); err != nil {
		return nil, fmt.Errorf("state: register %q: %w", name, err)
	}
	b.nextID++
	b.states[name] = in
	return in, nil
}

var errClosed = errors.New("state: backend is closed")

func (b *Backend) checkKG(kg uint16) error {
	if b.closed {
		return errClosed
	}
	if !b.opts.KeyGroups.Contains(kg) {
		return fmt.Errorf("state: key group %d outside this backend's range [%d, %d)",
			kg, b.opts.KeyGroups.Start, b.opts.KeyGroups.End)
	}
	return nil
}

// KeyGroups returns the range this backend owns.
func (b *Backend) KeyGroups() KeyGroupRange { return b.opts.KeyGroups }

// appendPrefix appends kg | id | uvarint(len(key)) | key to dst.
func appendPrefix(dst []byte, kg, id uint16, key []byte) []byte {
	dst = append(dst, byte(kg>>8), byte(kg), byte(id>>8), byte(id))
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	return append(dst, key...)
}

func appendKGID(dst []byte, kg, id uint16) []byte {
	return append(dst, byte(kg>>8), byte(kg), byte(id>>8), byte(id))
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// appendTimestamp appends ts as 8 big-endian bytes with the sign bit
// flipped, so byte order equals numeric order, negatives included.
func appendTimestamp(dst []byte, ts int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ts)^(1<<63))
}

func decodeTimestamp(b []byte) int64 {
	return int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
}

// get reads key from the cache, falling back to Pebble. The result aliases
// the cache and is valid until the next write to the backend.
func (b *Backend) get(key []byte) ([]byte, bool, error) { return b.getIn(key, 0) }

// getIn is get for a key of the map whose prefix is key[:mapPrefix] (0:
// not a map entry).
func (b *Backend) getIn(key []byte, mapPrefix int) ([]byte, bool, error) {
	if e := b.cache.lookup(key); e != nil {
		return e.val, !e.deleted, nil
	}
	if b.wbPoints {
		if err := b.commitWB(); err != nil {
			return nil, false, err
		}
	}
	if mapPrefix > 0 && len(b.cleared) > 0 {
		if _, ok := b.cleared[string(key[:mapPrefix])]; ok {
			return nil, false, b.cache.insertClean(b, key, nil, true, mapPrefix)
		}
	}
	v, closer, err := b.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, b.cache.insertClean(b, key, nil, true, mapPrefix)
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: get: %w", err)
	}
	e := b.cache.insertCleanEntry(key, v, false, mapPrefix)
	closer.Close()
	return e.val, true, b.cache.maybeEvict(b)
}

// set writes key through the cache; mapPrefixLen is the length of the
// map-state prefix of key (0 for other state).
func (b *Backend) set(key, val []byte, deleted bool, mapPrefixLen int) error {
	b.cache.put(key, val, deleted, mapPrefixLen)
	return b.cache.maybeEvict(b)
}

// commitWB commits the pending write batch, if any.
func (b *Backend) commitWB() error {
	if b.wb.Empty() {
		return nil
	}
	err := b.wb.Commit(pebble.NoSync)
	clear(b.cleared)
	b.wbPoints = false
	b.wb.Close()
	b.wb = b.db.NewBatch()
	if err != nil {
		return fmt.Errorf("state: write back: %w", err)
	}
	return nil
}

// maxPendingBatch bounds the pending batch below Pebble's large-batch
// threshold (half the 4 MiB default memtable): a larger batch is committed
// as a "flushable batch", which Pebble sorts whole and follows with a
// memtable flush.
const maxPendingBatch = 1 << 20

// bulkBatch is the size past which PutThrough commits the pending batch.
// Far above Pebble's large-batch threshold on purpose: a bulk write-back
// committed in 1 MiB batches went through the memtable and stalled on its
// flushes (slower than the cache path); a 16 MiB batch is sorted whole and
// flushed as one table.
const bulkBatch = 16 << 20

// maybeCommitWB bounds the memory of the pending batch to a quarter of the
// cache budget, and to maxPendingBatch.
func (b *Backend) maybeCommitWB() error {
	if n := int64(b.wb.Len()); n > b.opts.CacheBytes/4 || n > maxPendingBatch {
		return b.commitWB()
	}
	return nil
}

// setThrough writes key straight to the pending batch, dropping any
// cached copy, and commits the batch once it passes bulkBatch bytes.
func (b *Backend) setThrough(key, val []byte) error {
	if len(b.cache.m) > 0 {
		b.cache.drop(key)
	}
	op := b.wb.SetDeferred(len(key), len(val))
	copy(op.Key, key)
	copy(op.Value, val)
	if err := op.Finish(); err != nil {
		return fmt.Errorf("state: write through: %w", err)
	}
	b.wbPoints = true
	if b.wb.Len() > bulkBatch {
		return b.commitWB()
	}
	return nil
}

// Flush writes every dirty cache entry and pending write to Pebble in one
// batch (without fsync; Snapshot makes state durable).
func (b *Backend) Flush() error {
	if b.closed {
		return errClosed
	}
	if err := b.cache.writeDirty(b.wb); err != nil {
		return err
	}
	return b.commitWB()
}

// Close flushes and closes the Pebble instance.
func (b *Backend) Close() error {
	if b.closed {
		return nil
	}
	ferr := b.Flush()
	if ferr == nil {
		// Without a WAL, only flushed data survives a Close.
		if err := b.db.Flush(); err != nil {
			ferr = fmt.Errorf("state: close %s: flush memtable: %w", b.opts.Dir, err)
		}
	}
	b.closed = true
	b.wb.Close()
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("state: close %s: %w", b.opts.Dir, err)
	}
	return ferr
}
