package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// DefaultRetain is the number of completed checkpoints kept when
// Options.Retain is zero.
const DefaultRetain = 3

// sharedDir holds the SSTs shared between checkpoints.
const sharedDir = "shared"

// ErrSubsumed is returned by Upload for a checkpoint id that is not newer
// than the newest completed checkpoint: its files would be garbage.
var ErrSubsumed = errors.New("checkpoint: checkpoint id not newer than the last completed one")

// Options configures a Store. The zero value works.
type Options struct {
	// Retain is the number of completed checkpoints kept; zero means 3,
	// negative means every one (a savepoint directory).
	Retain int
	// SelfContained copies every file under the checkpoint's own
	// directory and shares nothing, so chk-<id> alone restores the job
	// (savepoints). Uploads are then never incremental.
	SelfContained bool
	// ReadOnly opens an existing store to restore from it (a savepoint, or
	// the checkpoints of another job): Open writes nothing, and Upload,
	// Complete and Abort fail. A read-only store never deletes anything.
	ReadOnly bool
	// Logf reports problems that fail nothing: a garbage collection that
	// could not delete a file (it is retried at the next Complete). Nil
	// means log.Printf.
	Logf func(format string, args ...any)
}

// File and directory permissions of a store: checkpoints hold keyed state,
// which holds user data, so only the owner reads them.
const (
	filePerm = 0o600
	dirPerm  = 0o700
)

// kindFile records in a store directory which kind of store writes it:
// "checkpoints" or "savepoints". A store collects garbage only in a
// directory of its own kind, so a checkpoint store and a savepoint store
// never delete each other's files.
const kindFile = ".weir-store"

func (o *Options) kind() string {
	if o.SelfContained {
		return "savepoints"
	}
	return "checkpoints"
}

// ErrReadOnly is returned by the writing methods of a store opened with
// Options.ReadOnly.
var ErrReadOnly = errors.New("checkpoint: store opened read-only")

// KindError is returned by Open for a directory that holds the other kind
// of store (savepoints where checkpoints are asked for, or the reverse).
type KindError struct {
	Dir        string
	Want, Have string // "checkpoints" or "savepoints"
}

func (e *KindError) Error() string {
	return fmt.Sprintf("checkpoint: %s holds %s, not %s; use another directory for the %s", e.Dir, e.Have, e.Want, e.Want)
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Retain == 0 {
		o.Retain = DefaultRetain
	}
	if o.Logf == nil {
		o.Logf = log.Printf
	}
}

// Store is a checkpoint store in one local directory. Its methods are safe
// for concurrent use.
type Store struct {
	dir  string
	opts Options

	// completeMu serializes Complete and Abort (and so garbage
	// collection); taken before mu.
	completeMu sync.Mutex

	mu struct {
		sync.Mutex
		// newest is the id of the newest completed checkpoint, 0 if none.
		newest uint64
		// completed are the retained completed checkpoints, newest first.
		completed []*Metadata
		// pending holds, per checkpoint id newer than newest, every path
		// its uploads reference (written or reused).
		pending map[uint64]*inflight
		// shared are the shared files known to exist whole.
		shared map[string]fileSum
	}
}

type inflight struct {
	paths map[string]struct{}
}

type fileSum struct {
	size int64
	crc  uint32
}

// Open opens the store in dir, creating it if missing, and reads the
// completed checkpoints in it (see Completed). It deletes nothing: garbage
// from an earlier run is collected at the first Complete.
func Open(dir string, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if dir == "" {
		return nil, errors.New("checkpoint: open: empty directory name; pass the checkpoint directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: open %s: %w", dir, err)
	}
	if opts.ReadOnly {
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("checkpoint: open %s: %w", dir, err)
		}
	} else if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("checkpoint: open %s: %w", dir, err)
	}
	s := &Store{dir: abs, opts: opts}
	s.mu.pending = map[uint64]*inflight{}
	s.mu.shared = map[string]fileSum{}
	ms, _, err := s.Completed()
	if err != nil {
		return nil, err
	}
	if !opts.ReadOnly {
		if err := s.claim(ms); err != nil {
			return nil, err
		}
	}
	s.mu.completed = ms
	if len(ms) > 0 {
		s.mu.newest = ms[0].ID
	}
	for _, m := range ms {
		m.refs(func(f FileRef) {
			if strings.HasPrefix(f.Path, sharedDir+"/") {
				s.mu.shared[f.Path] = fileSum{f.Size, f.CRC}
			}
		})
	}
	return s, nil
}

// claim checks that the directory is a store of this kind and records the
// kind if it is not recorded yet. A directory written before kinds were
// recorded holds savepoints if one of its checkpoints is a savepoint.
func (s *Store) claim(ms []*Metadata) error {
	want := s.opts.kind()
	p := filepath.Join(s.dir, kindFile)
	b, err := os.ReadFile(p)
	switch {
	case err == nil:
		have := strings.TrimSpace(string(b))
		if have != want {
			return &KindError{Dir: s.dir, Want: want, Have: have}
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("checkpoint: open %s: %w", s.dir, err)
	}
	for _, m := range ms {
		if have := (&Options{SelfContained: m.Savepoint}).kind(); have != want {
			return &KindError{Dir: s.dir, Want: want, Have: have}
		}
	}
	if err := writeFileSync(p, []byte(want+"\n")); err != nil {
		return fmt.Errorf("checkpoint: open %s: %w", s.dir, err)
	}
	return nil
}

// Dir returns the store's directory (absolute).
func (s *Store) Dir() string { return s.dir }

// NextID returns the id the next checkpoint should take: one more than the
// newest completed checkpoint's (1 for an empty store). Leftovers of
// higher, never completed ids from a crashed run are overwritten by the
// new uploads and collected as garbage.
func (s *Store) NextID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.newest + 1
}

func chkDir(id uint64) string { return "chk-" + strconv.FormatUint(id, 10) }

// parseChk returns the id of a chk-<id> directory name.
func parseChk(name string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, "chk-")
	if !ok || rest == "" || rest[0] == '0' {
		return 0, false
	}
	id, err := strconv.ParseUint(rest, 10, 64)
	return id, err == nil
}

func (s *Store) abs(rel string) string { return filepath.Join(s.dir, filepath.FromSlash(rel)) }

// Completed lists the completed checkpoints in the directory, newest first,
// read from disk. A chk-<id> directory whose _metadata is missing, torn,
// fails its checksum, names another id, or references a file that is
// missing or has the wrong size is skipped; skipped says why, one
// *CorruptError per directory, newest first. The error is for a directory
// that cannot be read at all.
func (s *Store) Completed() (ms []*Metadata, skipped []error, err error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: list %s: %w", s.dir, err)
	}
	var ids []uint64
	for _, e := range entries {
		if id, ok := parseChk(e.Name()); ok && e.IsDir() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	for _, id := range ids {
		m, err := s.read(id)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		ms = append(ms, m)
	}
	return ms, skipped, nil
}

// read reads and verifies chk-<id>/_metadata.
func (s *Store) read(id uint64) (*Metadata, error) {
	rel := chkDir(id) + "/" + metadataName
	b, err := os.ReadFile(s.abs(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &CorruptError{ID: id, Path: rel, Reason: "missing: the checkpoint never completed (in flight, failed or crashed)"}
	}
	if err != nil {
		return nil, &CorruptError{ID: id, Path: rel, Reason: err.Error()}
	}
	m, err := decodeMetadata(b)
	if err != nil {
		return nil, &CorruptError{ID: id, Path: rel, Reason: err.Error()}
	}
	if m.ID != id {
		return nil, &CorruptError{ID: id, Path: rel, Reason: fmt.Sprintf("records checkpoint %d", m.ID)}
	}
	var bad error
	m.refs(func(f FileRef) {
		if bad != nil {
			return
		}
		if err := checkRef(f); err != nil {
			bad = &CorruptError{ID: id, Path: rel, Reason: err.Error()}
			return
		}
		st, err := os.Stat(s.abs(f.Path))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			bad = &CorruptError{ID: id, Path: f.Path, Reason: "missing"}
		case err != nil:
			bad = &CorruptError{ID: id, Path: f.Path, Reason: err.Error()}
		case !st.Mode().IsRegular():
			bad = &CorruptError{ID: id, Path: f.Path, Reason: "not a regular file"}
		case st.Size() != f.Size:
			bad = &CorruptError{ID: id, Path: f.Path, Reason: fmt.Sprintf("%d bytes, metadata says %d", st.Size(), f.Size)}
		}
	})
	if bad != nil {
		return nil, bad
	}
	return m, nil
}

// Complete makes checkpoint m.ID durable and visible. Every file m
// references must have been uploaded for m.ID (by uploads that have
// returned) or be referenced by a retained completed checkpoint, and m.ID
// must be newer than every completed checkpoint. It writes
// chk-<id>/_metadata to a temporary file, fsyncs it, renames it into place
// and fsyncs the directories: only then does the checkpoint count.
//
// Then it collects garbage: it keeps the newest Retain completed
// checkpoints, deletes the other chk-* directories except those of
// checkpoints still being uploaded (ids above m.ID), and deletes every
// file no retained checkpoint references and no in-flight upload wrote.
// Failures to delete are reported through Options.Logf and retried next
// time; they do not fail the checkpoint.
func (s *Store) Complete(m *Metadata) error {
	if m == nil || m.ID == 0 {
		return errors.New("checkpoint: complete: metadata without a checkpoint id")
	}
	if s.opts.ReadOnly {
		return ErrReadOnly
	}
	s.completeMu.Lock()
	defer s.completeMu.Unlock()
	if err := s.checkComplete(m); err != nil {
		return err
	}
	b, err := encodeMetadata(m)
	if err != nil {
		return fmt.Errorf("checkpoint: complete %d: encode metadata: %w", m.ID, err)
	}
	dir := chkDir(m.ID)
	if err := os.MkdirAll(s.abs(dir), dirPerm); err != nil {
		return fmt.Errorf("checkpoint: complete %d: %w", m.ID, err)
	}
	if err := writeFileSync(s.abs(dir+"/"+metadataName), b); err != nil {
		return fmt.Errorf("checkpoint: complete %d: %w", m.ID, err)
	}
	if err := syncDir(s.abs(dir)); err != nil {
		return fmt.Errorf("checkpoint: complete %d: %w", m.ID, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("checkpoint: complete %d: %w", m.ID, err)
	}
	// A private copy, so the caller may reuse m.
	kept, err := decodeMetadata(b)
	if err != nil {
		return fmt.Errorf("checkpoint: complete %d: %w", m.ID, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.newest = m.ID
	s.mu.completed = append([]*Metadata{kept}, s.mu.completed...)
	if r := s.opts.Retain; r > 0 && len(s.mu.completed) > r {
		s.mu.completed = s.mu.completed[:r]
	}
	for id := range s.mu.pending {
		if id <= m.ID {
			delete(s.mu.pending, id)
		}
	}
	if err := s.collectLocked(); err != nil {
		s.opts.Logf("checkpoint: garbage collection after checkpoint %d (retried next time): %v", m.ID, err)
	}
	return nil
}

// checkComplete verifies that m may complete now.
func (s *Store) checkComplete(m *Metadata) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.ID <= s.mu.newest {
		return fmt.Errorf("checkpoint: complete %d: checkpoint %d already completed; ids must increase (use NextID)",
			m.ID, s.mu.newest)
	}
	own := chkDir(m.ID) + "/"
	var pend map[string]struct{}
	if p := s.mu.pending[m.ID]; p != nil {
		pend = p.paths
	}
	refs := s.refsLocked()
	var bad error
	m.refs(func(f FileRef) {
		if bad != nil {
			return
		}
		if err := checkRef(f); err != nil {
			bad = fmt.Errorf("checkpoint: complete %d: %w", m.ID, err)
			return
		}
		if s.opts.SelfContained && !strings.HasPrefix(f.Path, own) {
			bad = fmt.Errorf("checkpoint: complete %d: %s is outside %s in a self-contained store; upload it for this checkpoint", m.ID, f.Path, own)
			return
		}
		_, uploaded := pend[f.Path]
		_, retained := refs[f.Path]
		if !uploaded && !retained {
			bad = fmt.Errorf("checkpoint: complete %d: %s was not uploaded for this checkpoint and no retained checkpoint holds it", m.ID, f.Path)
		}
	})
	return bad
}

// Abort deletes what was uploaded for checkpoint id, which failed or was
// given up: its chk-<id> directory and the shared files only its uploads
// referenced. Shared files that a retained checkpoint or another
// in-flight checkpoint references stay. Call it once the uploads for id
// have returned; an upload still running gets an error. Aborting a
// completed checkpoint is an error and deletes nothing.
func (s *Store) Abort(id uint64) error {
	if s.opts.ReadOnly {
		return ErrReadOnly
	}
	s.completeMu.Lock()
	defer s.completeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.mu.completed {
		if m.ID == id {
			return fmt.Errorf("checkpoint: abort %d: the checkpoint is complete; nothing deleted", id)
		}
	}
	p := s.mu.pending[id]
	delete(s.mu.pending, id)
	var errs []error
	if p != nil {
		keep := s.refsLocked()
		for _, o := range s.mu.pending {
			for q := range o.paths {
				keep[q] = struct{}{}
			}
		}
		for q := range p.paths {
			if _, ok := keep[q]; ok || !strings.HasPrefix(q, sharedDir+"/") {
				continue
			}
			delete(s.mu.shared, q)
			if err := os.Remove(s.abs(q)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if err := os.RemoveAll(s.abs(chkDir(id))); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("checkpoint: abort %d: %w", id, err)
	}
	return nil
}

// refsLocked returns the paths the retained checkpoints reference.
func (s *Store) refsLocked() map[string]struct{} {
	refs := map[string]struct{}{}
	for _, m := range s.mu.completed {
		m.refs(func(f FileRef) { refs[f.Path] = struct{}{} })
	}
	return refs
}

// collectLocked deletes garbage (see Complete). It holds mu throughout,
// so no upload can start to reuse a file it is deleting.
func (s *Store) collectLocked() error {
	refs := s.refsLocked()
	busy := map[string]struct{}{}    // paths in-flight uploads reference
	busyDir := map[string]struct{}{} // and their directories
	for _, p := range s.mu.pending {
		for q := range p.paths {
			busy[q] = struct{}{}
			busyDir[slashDir(q)] = struct{}{}
		}
	}
	retained := map[uint64]bool{}
	for _, m := range s.mu.completed {
		retained[m.ID] = true
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		if name == sharedDir {
			errs = append(errs, s.prune(name,
				func(p string) bool {
					_, r := refs[p]
					_, b := busy[stripTemp(p)]
					return r || b
				},
				func(p string) bool {
					_, b := busyDir[p]
					return p == sharedDir || b
				}))
			continue
		}
		id, ok := parseChk(name)
		switch {
		case !ok:
			// Not ours.
		case retained[id]:
			meta := name + "/" + metadataName
			errs = append(errs, s.prune(name,
				func(p string) bool { _, r := refs[p]; return r || p == meta },
				func(p string) bool { return p == name }))
		case s.mu.pending[id] != nil:
			// Uploads in flight.
		default:
			errs = append(errs, s.prune(name,
				func(p string) bool { _, r := refs[p]; return r },
				func(string) bool { return false }))
		}
	}
	for p := range s.mu.shared {
		_, r := refs[p]
		_, b := busy[p]
		if !r && !b {
			delete(s.mu.shared, p)
		}
	}
	return errors.Join(errs...)
}

// slashDir is path.Dir for the store's slash paths.
func slashDir(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return "."
}

// prune deletes, under the store-relative directory rel, every file keep
// rejects, then every directory (rel included) left empty that keepDir
// rejects.
func (s *Store) prune(rel string, keep, keepDir func(string) bool) error {
	_, err := s.pruneDir(rel, keep, keepDir)
	return err
}

func (s *Store) pruneDir(rel string, keep, keepDir func(string) bool) (gone bool, err error) {
	entries, err := os.ReadDir(s.abs(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	var errs []error
	left := 0
	for _, e := range entries {
		p := rel + "/" + e.Name()
		if e.IsDir() {
			gone, err := s.pruneDir(p, keep, keepDir)
			if err != nil {
				errs = append(errs, err)
			}
			if !gone {
				left++
			}
			continue
		}
		if keep(p) {
			left++
			continue
		}
		if err := os.Remove(s.abs(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			left++
		}
	}
	if left > 0 || keepDir(rel) {
		return false, errors.Join(errs...)
	}
	if err := os.Remove(s.abs(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
		return false, errors.Join(errs...)
	}
	return true, errors.Join(errs...)
}
