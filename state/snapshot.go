package state

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// File is one file of a snapshot.
type File struct {
	Name string // base name inside the snapshot directory
	Size int64
}

// Handle describes a snapshot: a Pebble checkpoint directory and its files.
type Handle struct {
	Dir   string
	Files []File // sorted by name
}

// IsTable reports whether the file is an immutable SST, which keeps its
// name and contents across snapshots of the same instance.
func (f File) IsTable() bool { return strings.HasSuffix(f.Name, ".sst") }

// NewSince returns the files of h that an upload must copy when prev has
// already been uploaded: SSTs whose name (and size) prev lacks, and every
// other file (MANIFEST, OPTIONS, WAL, markers), which changes each time.
func (h Handle) NewSince(prev Handle) []File {
	old := make(map[string]int64, len(prev.Files))
	for _, f := range prev.Files {
		old[f.Name] = f.Size
	}
	var out []File
	for _, f := range h.Files {
		if sz, ok := old[f.Name]; f.IsTable() && ok && sz == f.Size {
			continue
		}
		out = append(out, f)
	}
	return out
}

// Snapshot writes a consistent copy of the state to dir, which must not
// exist: it flushes the cache and pending writes, flushes Pebble's memtable
// (so the copy is mostly SSTs shared with earlier snapshots rather than a
// large WAL), then checkpoints with the WAL synced. SSTs are hard-linked on
// a real file system. This is the synchronous part of a checkpoint; the
// caller uploads the files (see Handle.NewSince) asynchronously.
func (b *Backend) Snapshot(dir string) (Handle, error) {
	if err := b.Flush(); err != nil {
		return Handle{}, err
	}
	if err := b.db.Flush(); err != nil {
		return Handle{}, fmt.Errorf("state: snapshot %s: flush memtable: %w", dir, err)
	}
	if err := b.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return Handle{}, fmt.Errorf("state: snapshot %s: %w", dir, err)
	}
	return listHandle(b.opts.FS, dir)
}

func listHandle(fs vfs.FS, dir string) (Handle, error) {
	names, err := fs.List(dir)
	if err != nil {
		return Handle{}, fmt.Errorf("state: list snapshot %s: %w", dir, err)
	}
	slices.Sort(names)
	h := Handle{Dir: dir}
	for _, n := range names {
		st, err := fs.Stat(fs.PathJoin(dir, n))
		if err != nil {
			return Handle{}, fmt.Errorf("state: list snapshot %s: %w", dir, err)
		}
		if st.IsDir() {
			continue
		}
		h.Files = append(h.Files, File{Name: n, Size: st.Size()})
	}
	return h, nil
}

// Restore opens a backend in opts.Dir (which must not exist or be empty)
// holding the state of key groups opts.KeyGroups from the snapshot
// directories dirs (on opts.FS).
//
// With one snapshot, Restore links (or copies) its files into opts.Dir,
// opens it and deletes, with range tombstones, the key groups outside
// opts.KeyGroups: recovery at unchanged parallelism costs no rewrite.
//
// With several (rescaling), it opens each snapshot read-only and copies the
// keys in opts.KeyGroups into the new instance in batches, renumbering
// state ids by name since each old task numbered its states on its own.
// Faster approaches, not built: ingest the old SSTs whole and excise the
// spans outside the range (DB.IngestAndExcise / DB.Excise), or restrict
// the copy to SSTs overlapping the range (WithRestrictToSpans at snapshot
// time).
func Restore(opts Options, dirs []string) (*Backend, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("state: restore %s: no snapshot directories; pass at least one", opts.Dir)
	}
	if names, err := opts.FS.List(opts.Dir); err == nil && len(names) > 0 {
		return nil, fmt.Errorf("state: restore into %s: directory is not empty; restore into a fresh directory", opts.Dir)
	}
	if len(dirs) == 1 {
		return restoreOne(opts, dirs[0])
	}
	b, err := open(opts)
	if err != nil {
		return nil, err
	}
	oldLists := false
	for _, d := range dirs {
		ver, err := b.copyFrom(d)
		if err != nil {
			b.Close()
			return nil, err
		}
		oldLists = oldLists || ver < formatV2
	}
	if oldLists {
		if err := b.upgradeLists(); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

func restoreOne(opts Options, dir string) (*Backend, error) {
	fs := opts.FS
	h, err := listHandle(fs, dir)
	if err != nil {
		return nil, err
	}
	if err := fs.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: restore into %s: %w", opts.Dir, err)
	}
	for _, f := range h.Files {
		if err := vfs.LinkOrCopy(fs, fs.PathJoin(dir, f.Name), fs.PathJoin(opts.Dir, f.Name)); err != nil {
			return nil, fmt.Errorf("state: restore %s: %w", dir, err)
		}
	}
	b, err := open(opts)
	if err != nil {
		return nil, err
	}
	kr := opts.KeyGroups
	if kr.Start > 0 {
		err = b.db.DeleteRange([]byte{0, 0}, []byte{byte(kr.Start >> 8), byte(kr.Start)}, pebble.NoSync)
	}
	if err == nil {
		err = b.db.DeleteRange([]byte{byte(kr.End >> 8), byte(kr.End)}, metaPrefix[:2], pebble.NoSync)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("state: restore %s: drop key groups outside [%d, %d): %w", dir, kr.Start, kr.End, err)
	}
	return b, nil
}

// copyFrom writes the keys of b's key groups held in snapshot dir into b,
// as they are, and returns the snapshot's layout version.
func (b *Backend) copyFrom(dir string) (int, error) {
	src, err := pebble.Open(dir, &pebble.Options{FS: b.opts.FS, Logger: quietLogger{}, ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("state: restore %s: %w", dir, err)
	}
	defer src.Close()
	if err := checkMaxPar(src, nil, dir, b.opts.MaxParallelism); err != nil {
		return 0, err
	}
	ver, err := readFormat(src, dir)
	if err != nil {
		return 0, err
	}
	infos, err := readMeta(src)
	if err != nil {
		return 0, fmt.Errorf("state: restore %s: %w", dir, err)
	}
	remap := map[uint16]uint16{}
	for _, in := range infos {
		n, err := b.register(in.name, in.kind)
		if err != nil {
			return 0, fmt.Errorf("state: restore %s: %w", dir, err)
		}
		remap[in.id] = n.id
	}
	kr := b.opts.KeyGroups
	var key []byte
	err = scanReader(src, appendKGID(nil, kr.Start, 0), appendKGID(nil, kr.End, 0), func(k, v []byte) error {
		if len(k) < 4 {
			return fmt.Errorf("corrupt key %q", k)
		}
		old := uint16(k[2])<<8 | uint16(k[3])
		id, ok := remap[old]
		if !ok {
			return fmt.Errorf("key %q has unknown state id %d", k, old)
		}
		key = append(append(key[:0], k[0], k[1], byte(id>>8), byte(id)), k[4:]...)
		if err := b.wb.Set(key, v, nil); err != nil {
			return err
		}
		if b.wb.Len() > 4<<20 {
			return b.commitWB()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("state: restore %s: %w", dir, err)
	}
	return ver, b.commitWB()
}

func scanReader(r pebble.Reader, lo, hi []byte, fn func(k, v []byte) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = fn(it.Key(), v)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}
