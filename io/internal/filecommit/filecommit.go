package filecommit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const (
	inProgress = ".inprogress"
	staged     = ".staged-"
)

// Files is one task's output files in a directory.
type Files struct {
	dir    string
	prefix string // "part-00003-"
	ext    string // ".parquet"
	seq    int
	cur    string   // in-progress file being written; "" if none
	rolled []string // closed in-progress files not yet staged
	fresh  bool     // no Commit or PreCommit yet
	// replaced is set once the first Commit has applied the replace
	// manifest, if any.
	replaced bool
}

// Open prepares task's files in dir (created if missing) and removes the
// task's in-progress files left by an earlier writer.
func Open(dir string, task int, ext string) (*Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	f := &Files{dir: dir, prefix: fmt.Sprintf("part-%05d-", task), ext: ext, fresh: true}
	names, err := f.list()
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		seq, kind, _, ok := f.parse(n)
		if !ok {
			continue
		}
		if seq >= f.seq {
			f.seq = seq + 1
		}
		if kind == inProgress {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("remove stale %s: %w", n, err)
			}
		}
	}
	// Names to be replaced may already be gone (another writer's first
	// Commit): new names stay above them too, so a writer applying the
	// manifest late never removes a new file.
	old, _, err := readManifest(dir, ext)
	if err != nil {
		return nil, err
	}
	for _, n := range old {
		if seq, _, _, ok := f.parse(n); ok && seq >= f.seq {
			f.seq = seq + 1
		}
	}
	return f, nil
}

// Next starts a new in-progress file and returns its path; the caller
// creates and writes it, closes it and then calls [Files.Roll].
func (f *Files) Next() string {
	f.cur = filepath.Join(f.dir, fmt.Sprintf("%s%06d%s%s", f.prefix, f.seq, f.ext, inProgress))
	f.seq++
	return f.cur
}

// Current is the in-progress file being written, or "".
func (f *Files) Current() string { return f.cur }

// Roll marks the current file as finished (closed by the caller); it is
// staged by the next PreCommit.
func (f *Files) Roll() {
	if f.cur != "" {
		f.rolled = append(f.rolled, f.cur)
		f.cur = ""
	}
}

// PreCommit stages every rolled file under id. The current file, if any,
// must have been rolled first.
func (f *Files) PreCommit(id uint64) error {
	if f.fresh {
		f.fresh = false
		if err := f.removeStaged(func(sid uint64) bool { return sid >= id }); err != nil {
			return err
		}
	}
	for len(f.rolled) > 0 {
		p := f.rolled[0]
		final := strings.TrimSuffix(p, inProgress)
		if err := os.Rename(p, final+staged+strconv.FormatUint(id, 10)); err != nil {
			return fmt.Errorf("stage %s: %w", filepath.Base(p), err)
		}
		f.rolled = f.rolled[1:]
	}
	return syncDir(f.dir)
}

// Commit renames every staged file of the task with an id <= id to its
// final name. It is idempotent. The first Commit of a writer first
// removes the earlier run's files listed in the directory's replace
// manifest, and the manifest (see [Recover]).
func (f *Files) Commit(id uint64) error {
	if f.fresh {
		f.fresh = false
		if err := f.removeStaged(func(sid uint64) bool { return sid > id }); err != nil {
			return err
		}
	}
	if !f.replaced {
		if err := applyManifest(f.dir, f.ext); err != nil {
			return err
		}
		f.replaced = true
	}
	names, err := f.list()
	if err != nil {
		return err
	}
	for _, n := range names {
		_, kind, sid, ok := f.parse(n)
		if !ok || kind != staged || sid > id {
			continue
		}
		final := n[:strings.LastIndex(n, staged)]
		err := os.Rename(filepath.Join(f.dir, n), filepath.Join(f.dir, final))
		if err != nil && !(errors.Is(err, fs.ErrNotExist) && exists(filepath.Join(f.dir, final))) {
			return fmt.Errorf("commit %s: %w", final, err)
		}
	}
	return syncDir(f.dir)
}

// Abort removes the files staged under id.
func (f *Files) Abort(id uint64) error {
	return f.removeStaged(func(sid uint64) bool { return sid == id })
}

// Close removes the task's in-progress files: the current one (already
// closed by the caller) and rolled ones not yet staged. Staged files stay:
// a writer opened after a restart may still commit them.
func (f *Files) Close() error {
	var first error
	for _, p := range append(f.rolled, f.cur) {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = fmt.Errorf("remove %s: %w", filepath.Base(p), err)
		}
	}
	f.rolled, f.cur = nil, ""
	return first
}

func (f *Files) removeStaged(match func(id uint64) bool) error {
	names, err := f.list()
	if err != nil {
		return err
	}
	for _, n := range names {
		_, kind, sid, ok := f.parse(n)
		if !ok || kind != staged || !match(sid) {
			continue
		}
		if err := os.Remove(filepath.Join(f.dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove staged %s: %w", n, err)
		}
	}
	return nil
}

// list returns the sorted names in dir that belong to the task.
func (f *Files) list() ([]string, error) {
	ents, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, fmt.Errorf("list output directory: %w", err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasPrefix(e.Name(), f.prefix) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// parse splits a task file name into its sequence number, kind ("" for a
// committed file, inProgress or staged) and staged id.
func (f *Files) parse(name string) (seq int, kind string, id uint64, ok bool) {
	rest, found := strings.CutPrefix(name, f.prefix)
	if !found {
		return 0, "", 0, false
	}
	i := strings.Index(rest, f.ext)
	if i <= 0 {
		return 0, "", 0, false
	}
	seq, err := strconv.Atoi(rest[:i])
	if err != nil {
		return 0, "", 0, false
	}
	switch suffix := rest[i+len(f.ext):]; {
	case suffix == "":
		return seq, "", 0, true
	case suffix == inProgress:
		return seq, inProgress, 0, true
	case strings.HasPrefix(suffix, staged):
		id, err := strconv.ParseUint(suffix[len(staged):], 10, 64)
		if err != nil {
			return 0, "", 0, false
		}
		return seq, staged, id, true
	}
	return 0, "", 0, false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync output directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync output directory: %w", err)
	}
	return nil
}
