package blobs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/weirflow/weir/coordinator/api"
)

// Errors a Store marks its failures with; test them with errors.Is.
var (
	// ErrTooLarge: the content is longer than the limit given to Put.
	ErrTooLarge = errors.New("blobs: binary is larger than the limit")
	// ErrMismatch: PutExpect read content whose SHA-256 is not the one
	// expected.
	ErrMismatch = errors.New("blobs: content does not match its SHA-256")
	// ErrAltered: Verify found a stored binary whose bytes changed.
	ErrAltered = errors.New("blobs: binary altered on disk")
	// ErrBadSHA: a SHA-256 that is not 64 lowercase hex digits.
	ErrBadSHA = errors.New("blobs: not a SHA-256 in lowercase hex")
)

// tmpPrefix starts the names of files being written; Open removes those a
// crash left behind.
const tmpPrefix = ".tmp-"

// Store is a directory of binaries, each named by its SHA-256. It is safe
// for concurrent use: every write goes to its own temporary file, renamed
// into place once complete and synced, so a reader sees a whole binary or
// none.
type Store struct {
	dir string
}

// Open opens the store in dir, creating dir 0700 if needed, and removes
// temporary files a crash left behind.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return nil, fmt.Errorf("blobs: remove a partial write: %w", err)
			}
		}
	}
	return &Store{dir: dir}, nil
}

// Put stores what r yields and returns its SHA-256 and size. More than
// limit bytes (when limit > 0) fail with [ErrTooLarge] and leave nothing
// behind. Storing a binary the store holds already replaces it with the
// same bytes.
func (s *Store) Put(r io.Reader, limit int64) (api.Binary, error) {
	return s.put(r, "", limit)
}

// PutExpect is Put for content whose SHA-256 is known: content with
// another hash fails with [ErrMismatch] and leaves nothing behind.
func (s *Store) PutExpect(r io.Reader, sha string, limit int64) error {
	if !IsSHA(sha) {
		return fmt.Errorf("%w: %q", ErrBadSHA, sha)
	}
	_, err := s.put(r, sha, limit)
	return err
}

func (s *Store) put(r io.Reader, want string, limit int64) (b api.Binary, err error) {
	f, err := os.CreateTemp(s.dir, tmpPrefix+"*")
	if err != nil {
		return b, fmt.Errorf("blobs: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if limit > 0 {
		r = io.LimitReader(r, limit+1)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return b, fmt.Errorf("blobs: receive: %w", err)
	}
	if limit > 0 && n > limit {
		return b, &markedError{msg: fmt.Sprintf("%v of %d bytes", ErrTooLarge, limit), mark: ErrTooLarge}
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		return b, &markedError{msg: fmt.Sprintf("%v: got %s, want %s", ErrMismatch, got, want), mark: ErrMismatch}
	}
	if err := f.Chmod(0o700); err != nil {
		return b, fmt.Errorf("blobs: %w", err)
	}
	if err := f.Sync(); err != nil {
		return b, fmt.Errorf("blobs: sync: %w", err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return b, fmt.Errorf("blobs: %w", err)
	}
	if err := os.Rename(tmp, s.path(got)); err != nil {
		return b, fmt.Errorf("blobs: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return b, err
	}
	return api.Binary{SHA256: got, Size: n}, nil
}

// Has reports whether the store holds a binary with this SHA-256.
func (s *Store) Has(sha string) bool {
	if !IsSHA(sha) {
		return false
	}
	fi, err := os.Stat(s.path(sha))
	return err == nil && fi.Mode().IsRegular()
}

// Path is where the binary with this SHA-256 is (or would be) stored. A
// string that is not a SHA-256 in lowercase hex gets a path that never
// exists.
func (s *Store) Path(sha string) string {
	if !IsSHA(sha) {
		return filepath.Join(s.dir, tmpPrefix+"invalid")
	}
	return s.path(sha)
}

func (s *Store) path(sha string) string { return filepath.Join(s.dir, sha) }

// Remove deletes the binary with this SHA-256 if it was last written
// before cutoff (a copy stored since, by an upload racing the removal,
// stays) and reports whether it did.
func (s *Store) Remove(sha string, cutoff time.Time) (bool, error) {
	if !IsSHA(sha) {
		return false, fmt.Errorf("%w: %q", ErrBadSHA, sha)
	}
	fi, err := os.Stat(s.path(sha))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blobs: %w", err)
	}
	if !fi.ModTime().Before(cutoff) {
		return false, nil
	}
	if err := os.Remove(s.path(sha)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("blobs: %w", err)
	}
	return true, nil
}

// Open opens the binary with this SHA-256 for reading and returns its
// size. A binary the store does not hold gives an error that
// errors.Is(err, fs.ErrNotExist). Open does not verify the bytes; see
// [Store.Verify].
func (s *Store) Open(sha string) (*os.File, int64, error) {
	if !IsSHA(sha) {
		return nil, 0, fmt.Errorf("%w: %q", ErrBadSHA, sha)
	}
	f, err := os.Open(s.path(sha))
	if err != nil {
		return nil, 0, fmt.Errorf("blobs: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("blobs: %w", err)
	}
	return f, fi.Size(), nil
}

// Verify hashes the stored binary again: [ErrAltered] when its bytes no
// longer have its SHA-256, an fs.ErrNotExist error when it is missing.
func (s *Store) Verify(sha string) error {
	f, _, err := s.Open(sha)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("blobs: verify %s: %w", sha, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return &markedError{msg: fmt.Sprintf("blobs: binary %s altered on disk (its SHA-256 is now %s)", sha, got), mark: ErrAltered}
	}
	return nil
}

// IsSHA reports whether s is a SHA-256 in lowercase hex.
func IsSHA(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("blobs: sync %s: %w", dir, err)
	}
	return nil
}

// markedError is a message of its own that errors.Is matches to a
// sentinel.
type markedError struct {
	msg  string
	mark error
}

func (e *markedError) Error() string { return e.msg }
func (e *markedError) Unwrap() error { return e.mark }
