package filecommit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/weirflow/weir/sdk"
)

// Recover settles the files that every task of an earlier run left in dir
// with extension ext, whatever that run's parallelism was: files staged
// under a checkpoint id <= checkpoint are committed (renamed to their
// final names), files staged under a later id and every in-progress file
// are removed. Files that are not a sink's are left alone. A missing dir
// is not an error. Recover is idempotent, so a crash during it is
// repaired by running it again; it must run before any writer of the new
// run opens.
//
// On a fresh start (checkpoint 0), committed files of an earlier run
// (of either file sink) are first treated as existing says: refused with
// an [*sdk.OutputExistsError] before anything changes, listed in the
// replace manifest for the first commit to remove, or left. On a resume
// the job's own output is expected there and existing does not matter,
// but a replace manifest left by the fresh run that took the restored
// checkpoint is applied before its output is committed.
func Recover(dir, ext string, checkpoint uint64, existing sdk.ExistingOutput) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list output directory: %w", err)
	}
	if checkpoint == 0 {
		err = settleExisting(dir, ext, ents, existing)
	} else {
		err = applyManifest(dir, ext)
	}
	if err != nil {
		return err
	}
	changed := false
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() {
			continue
		}
		kind, id, ok := parseAny(n, ext)
		if !ok || kind == "" {
			continue
		}
		p := filepath.Join(dir, n)
		switch {
		case kind == staged && id <= checkpoint:
			final := n[:strings.LastIndex(n, staged)]
			if err := os.Rename(p, filepath.Join(dir, final)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("commit %s: %w", final, err)
			}
		default: // staged after checkpoint, or in progress
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove %s: %w", n, err)
			}
		}
		changed = true
	}
	if !changed {
		return nil
	}
	return syncDir(dir)
}

// Check tells, changing nothing, whether [Recover] with the same arguments
// would refuse to start: on a fresh start with existing
// [sdk.RefuseExisting], an [*sdk.OutputExistsError] if dir holds
// committed output of an earlier run.
func Check(dir, ext string, checkpoint uint64, existing sdk.ExistingOutput) error {
	if checkpoint != 0 || existing != sdk.RefuseExisting {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list output directory: %w", err)
	}
	if old := committedFiles(ents, ext); len(old) > 0 {
		return &sdk.OutputExistsError{Path: dir, Files: len(old)}
	}
	return nil
}

// parseAny parses the name of any task's file, part-<task>-<seq><ext>
// with an optional suffix, into its kind ("" for a committed file,
// inProgress or staged) and staged id.
func parseAny(name, ext string) (kind string, id uint64, ok bool) {
	rest, found := strings.CutPrefix(name, "part-")
	if !found {
		return "", 0, false
	}
	i := strings.IndexByte(rest, '-')
	if i <= 0 || !digits(rest[:i]) {
		return "", 0, false
	}
	f := &Files{prefix: "part-" + rest[:i+1], ext: ext}
	_, kind, id, ok = f.parse(name)
	return kind, id, ok
}

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
