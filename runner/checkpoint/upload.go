package checkpoint

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/weirflow/weir/state"
)

// copyBufSize is the buffer of one file copy.
const copyBufSize = 256 << 10

// Uploader uploads successive snapshots of one Pebble instance (one task
// in one run) into a Store. It holds no state besides its instance name:
// which SSTs are already uploaded is the store's knowledge, so an Uploader
// is cheap and may be recreated.
type Uploader struct {
	s        *Store
	instance string
}

// NewUploader returns an uploader for the Pebble instance named instance,
// which must be one path element unique to the task and the run (for
// example "<stage>-<task>-<random>"): SST names are only unique within one
// instance, so two instances sharing a name would overwrite each other's
// files.
func (s *Store) NewUploader(instance string) *Uploader {
	return &Uploader{s: s, instance: instance}
}

// Instance returns the uploader's instance name.
func (u *Uploader) Instance() string { return u.instance }

// Upload copies the files of snapshot h for checkpoint id and returns the
// handle to record in the checkpoint's metadata and the number of bytes
// written.
//
// SSTs (state.File.IsTable) go to shared/<instance>/<name> unless the store
// is self-contained, and only once: a later upload that finds an SST of
// the same name and size already stored references it without copying
// (incremental checkpoints). Every other file goes to
// chk-<id>/<instance>/<name>. Files are written to a temporary name,
// fsynced and renamed, so a file in place is whole; their size and CRC-32C
// are computed while copying.
//
// id must be newer than the newest completed checkpoint (ErrSubsumed
// otherwise). Upload is safe to call from background goroutines,
// concurrently with other uploaders, Complete and Abort. Uploading the
// same id again (a retry) overwrites.
func (u *Uploader) Upload(id uint64, h state.Handle) (StateHandle, int64, error) {
	sh, n, err := u.upload(id, h)
	if err != nil {
		return StateHandle{}, n, fmt.Errorf("checkpoint: upload %s for checkpoint %d: %w", u.instance, id, err)
	}
	return sh, n, nil
}

func (u *Uploader) upload(id uint64, h state.Handle) (StateHandle, int64, error) {
	s := u.s
	if s.opts.ReadOnly {
		return StateHandle{}, 0, ErrReadOnly
	}
	if !validName(u.instance) || strings.HasPrefix(u.instance, ".") {
		return StateHandle{}, 0, fmt.Errorf("instance name %q is not one path element; use letters, digits, '-' and '_'", u.instance)
	}
	if id == 0 {
		return StateHandle{}, 0, errors.New("checkpoint id 0; ids start at 1")
	}
	type job struct {
		i   int // index in out.Files
		src string
	}
	out := StateHandle{Files: make([]FileRef, len(h.Files))}
	var jobs []job

	// Register every path before writing anything, so that garbage
	// collection spares them.
	s.mu.Lock()
	if id <= s.mu.newest {
		newest := s.mu.newest
		s.mu.Unlock()
		return StateHandle{}, 0, fmt.Errorf("checkpoint %d is complete: %w", newest, ErrSubsumed)
	}
	p := s.mu.pending[id]
	if p == nil {
		p = &inflight{paths: map[string]struct{}{}}
		s.mu.pending[id] = p
	}
	for i, f := range h.Files {
		if !validName(f.Name) {
			s.mu.Unlock()
			return StateHandle{}, 0, fmt.Errorf("snapshot file name %q is not a plain file name", f.Name)
		}
		ref := FileRef{Name: f.Name, Size: f.Size}
		if f.IsTable() && !s.opts.SelfContained {
			ref.Path = sharedDir + "/" + u.instance + "/" + f.Name
			if sum, ok := s.mu.shared[ref.Path]; ok && sum.size == f.Size {
				ref.CRC = sum.crc
			} else {
				jobs = append(jobs, job{i, filepath.Join(h.Dir, f.Name)})
			}
		} else {
			ref.Path = chkDir(id) + "/" + u.instance + "/" + f.Name
			jobs = append(jobs, job{i, filepath.Join(h.Dir, f.Name)})
		}
		p.paths[ref.Path] = struct{}{}
		out.Files[i] = ref
	}
	s.mu.Unlock()

	buf := make([]byte, copyBufSize)
	var written int64
	dirs := map[string]bool{}
	for _, j := range jobs {
		ref := &out.Files[j.i]
		dst := s.abs(ref.Path)
		dir := filepath.Dir(dst)
		if !dirs[dir] {
			if err := os.MkdirAll(dir, dirPerm); err != nil {
				return StateHandle{}, written, err
			}
			dirs[dir] = true
		}
		size, crc, err := copyFile(dst, j.src, buf)
		written += size
		if err != nil {
			return StateHandle{}, written, err
		}
		if size != ref.Size {
			return StateHandle{}, written, fmt.Errorf("%s: %d bytes, the snapshot handle says %d", j.src, size, ref.Size)
		}
		ref.CRC = crc
	}
	// Make the new names durable: each directory written and its parent
	// (which may have just got it).
	synced := map[string]bool{}
	for dir := range dirs {
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if synced[d] {
				continue
			}
			synced[d] = true
			if err := syncDir(d); err != nil {
				return StateHandle{}, written, err
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.pending[id] != p {
		return StateHandle{}, written, fmt.Errorf("checkpoint %d was aborted or subsumed during the upload", id)
	}
	for _, j := range jobs {
		ref := out.Files[j.i]
		if strings.HasPrefix(ref.Path, sharedDir+"/") {
			s.mu.shared[ref.Path] = fileSum{ref.Size, ref.CRC}
		}
	}
	return out, written, nil
}

// Materialize copies the files of h into dir (created if missing) under
// their Pebble names, verifying each one's size and CRC-32C; then
// state.Restore can open dir (or several such directories, to rescale).
// Files are copied, never hard-linked: the restored instance writes into
// its directory. A file that is missing or does not match is a
// *CorruptError naming it. Do not run it concurrently with a Complete that
// may collect h's checkpoint.
func (s *Store) Materialize(h StateHandle, dir string) error {
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return fmt.Errorf("checkpoint: materialize into %s: %w", dir, err)
	}
	buf := make([]byte, copyBufSize)
	for _, f := range h.Files {
		if err := checkRef(f); err != nil {
			return &CorruptError{Path: f.Path, Reason: err.Error()}
		}
		src := s.abs(f.Path)
		dst := filepath.Join(dir, f.Name)
		size, crc, err := copyTo(dst, src, buf, false)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !fileExists(src):
			return &CorruptError{Path: f.Path, Reason: "missing"}
		case err != nil:
			return fmt.Errorf("checkpoint: materialize %s into %s: %w", f.Path, dir, err)
		}
		if r := mismatch(f, size, crc); r != "" {
			return &CorruptError{Path: f.Path, Reason: r}
		}
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// copyFile copies src to dst through a temporary file in dst's directory,
// fsynced and renamed into place. It returns the bytes copied and their
// CRC-32C.
func copyFile(dst, src string, buf []byte) (int64, uint32, error) {
	tmp := dst + tempMark + strconv.FormatUint(rand.Uint64(), 36)
	n, crc, err := copyTo(tmp, src, buf, true)
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return n, 0, err
	}
	return n, crc, nil
}

// copyTo copies src to a new file dst (which it truncates if present),
// fsyncing it if sync is set.
func copyTo(dst, src string, buf []byte, sync bool) (n int64, crc uint32, err error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return 0, 0, err
	}
	n, crc, err = copyCRC(out, in, buf)
	if err == nil && sync {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, 0, err
	}
	return n, crc, nil
}

// copyCRC copies r to w through buf and returns the bytes copied and their
// CRC-32C.
func copyCRC(w io.Writer, r io.Reader, buf []byte) (n int64, crc uint32, err error) {
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			crc = crc32.Update(crc, castagnoli, buf[:k])
			if _, err := w.Write(buf[:k]); err != nil {
				return n, 0, err
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, crc, nil
		}
		if rerr != nil {
			return n, 0, rerr
		}
	}
}

// tempMark separates a final name from the random suffix of its
// temporary file.
const tempMark = ".tmp-"

// stripTemp returns the final path of a temporary file's path (p itself
// for other paths).
func stripTemp(p string) string {
	if i := strings.LastIndex(p, tempMark); i > strings.LastIndexByte(p, '/') {
		return p[:i]
	}
	return p
}

// writeFileSync writes b to path through a fsynced temporary file renamed
// into place.
func writeFileSync(path string, b []byte) error {
	tmp := path + tempMark + strconv.FormatUint(rand.Uint64(), 36)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// syncDir fsyncs a directory, making the names in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Verify reads every file of m's state handles and checks its size and
// CRC-32C, so that a damaged checkpoint is found before anything acts on it
// (a restore that commits a checkpoint's output cannot fall back to an
// older one afterwards). A mismatch is a *CorruptError naming the file.
func (s *Store) Verify(m *Metadata) error {
	buf := make([]byte, copyBufSize)
	var bad error
	m.refs(func(f FileRef) {
		if bad != nil {
			return
		}
		if err := checkRef(f); err != nil {
			bad = &CorruptError{ID: m.ID, Path: f.Path, Reason: err.Error()}
			return
		}
		size, crc, err := checksum(s.abs(f.Path), buf)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			bad = &CorruptError{ID: m.ID, Path: f.Path, Reason: "missing"}
		case err != nil:
			bad = fmt.Errorf("checkpoint: verify %s: %w", f.Path, err)
		default:
			if r := mismatch(f, size, crc); r != "" {
				bad = &CorruptError{ID: m.ID, Path: f.Path, Reason: r}
			}
		}
	})
	return bad
}

// mismatch says how a file of size bytes and CRC-32C crc differs from f,
// or returns "" if it matches.
func mismatch(f FileRef, size int64, crc uint32) string {
	switch {
	case size != f.Size:
		return fmt.Sprintf("%d bytes, metadata says %d", size, f.Size)
	case crc != f.CRC:
		return fmt.Sprintf("crc32c %08x, metadata says %08x", crc, f.CRC)
	}
	return ""
}

// checksum returns the size and CRC-32C of the file at p.
func checksum(p string, buf []byte) (n int64, crc uint32, err error) {
	in, err := os.Open(p)
	if err != nil {
		return 0, 0, err
	}
	defer in.Close()
	return copyCRC(io.Discard, in, buf)
}

// Adopt records h, uploaded for checkpoint id by another process's Store
// on the same directory (the processes of one run, runner.Cluster), as
// if an Uploader of s had uploaded it: Complete then accepts its files
// and Abort deletes them. Every file must be in place with its size; a
// missing or short one is a *CorruptError.
func (s *Store) Adopt(id uint64, h StateHandle) error {
	for _, f := range h.Files {
		if err := checkRef(f); err != nil {
			return fmt.Errorf("checkpoint: adopt %d: %w", id, err)
		}
		fi, err := os.Stat(s.abs(f.Path))
		if err != nil || fi.Size() != f.Size {
			return &CorruptError{ID: id, Path: f.Path, Reason: fmt.Sprintf("adopted from another process, it is missing or not of its %d bytes", f.Size)}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id <= s.mu.newest {
		return fmt.Errorf("checkpoint: adopt %d: checkpoint %d is complete: %w", id, s.mu.newest, ErrSubsumed)
	}
	p := s.mu.pending[id]
	if p == nil {
		p = &inflight{paths: map[string]struct{}{}}
		s.mu.pending[id] = p
	}
	for _, f := range h.Files {
		p.paths[f.Path] = struct{}{}
		if strings.HasPrefix(f.Path, sharedDir+"/") {
			s.mu.shared[f.Path] = fileSum{f.Size, f.CRC}
		}
	}
	return nil
}

// CompletedElsewhere tells s, a Store on the directory of another
// process's (the master of a runner.Cluster run), that the other
// completed checkpoint id: s forgets its uploads for id and older ones
// (their files belong to that checkpoint now, or to the other's garbage)
// and refuses uploads for them, as if it had completed id itself.
func (s *Store) CompletedElsewhere(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id > s.mu.newest {
		s.mu.newest = id
	}
	for p := range s.mu.pending {
		if p <= id {
			delete(s.mu.pending, p)
		}
	}
}
