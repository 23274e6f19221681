package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/weirflow/weir/coordinator/api"
)

// binaries keeps fetched job binaries in a directory, each named by its
// SHA-256. It has no state of its own: concurrent fetches of one binary
// each write a temporary file and rename it into place.
type binaries struct {
	dir    string
	client *api.Client
}

func (b *binaries) path(sha string) string { return filepath.Join(b.dir, sha) }

// ensure returns the path of the binary, fetching it when it is not there
// yet: into a temporary file, verified against sha, synced, mode 0700,
// renamed into place.
func (b *binaries) ensure(ctx context.Context, sha string) (string, error) {
	if !validSHA(sha) {
		return "", fmt.Errorf("worker: bad binary hash %q", sha)
	}
	path := b.path(sha)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("worker: binary %s: %w", api.ShortSHA(sha), err)
	}
	f, err := os.CreateTemp(b.dir, sha+".fetch-*")
	if err != nil {
		return "", fmt.Errorf("worker: fetch binary %s: %w", api.ShortSHA(sha), err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, a no-op that fails
	h := sha256.New()
	err = b.client.FetchBinary(ctx, sha, io.MultiWriter(f, h))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("worker: fetch binary %s: %w", api.ShortSHA(sha), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return "", fmt.Errorf("worker: fetch binary %s: the coordinator sent one whose sha256 is %s", api.ShortSHA(sha), api.ShortSHA(got))
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return "", fmt.Errorf("worker: fetch binary %s: %w", api.ShortSHA(sha), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("worker: fetch binary %s: %w", api.ShortSHA(sha), err)
	}
	return path, nil
}

// alteredError is a binary whose content no longer has its hash.
type alteredError struct {
	sha, now string
}

func (e *alteredError) Error() string {
	return fmt.Sprintf("binary %s altered on disk (sha256 now %s)", api.ShortSHA(e.sha), api.ShortSHA(e.now))
}

// verify re-hashes the file at path; a mismatch is an *alteredError.
func verify(path, sha string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("worker: verify binary %s: %w", api.ShortSHA(sha), err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("worker: verify binary %s: %w", api.ShortSHA(sha), err)
	}
	if now := hex.EncodeToString(h.Sum(nil)); now != sha {
		return &alteredError{sha: sha, now: now}
	}
	return nil
}

func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
