package filecommit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/weirflow/weir/sdk"
)

// replaceManifest lists, one name a line, the committed files of an
// earlier run that the first commit into the directory removes
// (sdk.OverwriteExisting).
const replaceManifest = ".weir-replace"

// outputExts are the extensions of the committed files of the sinks that
// use this package: with the sink's own, what counts as the output of an
// earlier run.
var outputExts = []string{".jsonl", ".parquet"}

// settleExisting applies existing, on a fresh start, to the committed
// files in dir (listed in ents): it refuses them, lists them in the
// replace manifest for the first commit to remove, or leaves them. A
// manifest left by an earlier fresh run that never committed is replaced
// or, when there is nothing to replace or the run appends, removed.
func settleExisting(dir, ext string, ents []fs.DirEntry, existing sdk.ExistingOutput) error {
	old := committedFiles(ents, ext)
	switch existing {
	case sdk.RefuseExisting:
		if len(old) > 0 {
			return &sdk.OutputExistsError{Path: dir, Files: len(old)}
		}
		return removeManifest(dir)
	case sdk.OverwriteExisting:
		if len(old) == 0 {
			return removeManifest(dir)
		}
		return writeManifest(dir, old)
	case sdk.AppendExisting:
		return removeManifest(dir)
	}
	return fmt.Errorf("unknown existing-output mode %v", existing)
}

// committedFiles returns the names of the committed sink files in ents.
func committedFiles(ents []fs.DirEntry, ext string) []string {
	var names []string
	for _, e := range ents {
		if !e.IsDir() && isOutputFile(e.Name(), ext) {
			names = append(names, e.Name())
		}
	}
	return names
}

// isOutputFile reports whether name is a committed file of any task of a
// sink using this package, or with extension ext.
func isOutputFile(name, ext string) bool {
	if kind, _, ok := parseAny(name, ext); ok && kind == "" {
		return true
	}
	for _, e := range outputExts {
		if kind, _, ok := parseAny(name, e); ok && kind == "" {
			return true
		}
	}
	return false
}

// writeManifest atomically replaces the manifest of dir by names.
func writeManifest(dir string, names []string) error {
	var b bytes.Buffer
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	p := filepath.Join(dir, replaceManifest)
	tmp := p + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", replaceManifest, err)
	}
	_, err = f.Write(b.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", replaceManifest, err)
	}
	return syncDir(dir)
}

// readManifest returns the names the manifest of dir lists; found is
// false without one. ext is the reading sink's extension.
func readManifest(dir, ext string) (names []string, found bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, replaceManifest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", replaceManifest, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		n := sc.Text()
		if strings.ContainsAny(n, `/\`) || !isOutputFile(n, ext) {
			return nil, false, fmt.Errorf("%s lists %q, which is not an output file; it was not written by weir", replaceManifest, n)
		}
		names = append(names, n)
	}
	return names, true, nil
}

// applyManifest removes the files the manifest of dir lists, then the
// manifest. Several writers may apply it at once, and a crash in between
// is repaired by applying it again: a file or manifest already removed is
// not an error.
func applyManifest(dir, ext string) error {
	names, found, err := readManifest(dir, ext)
	if err != nil || !found {
		return err
	}
	for _, n := range names {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("replace %s: %w", n, err)
		}
	}
	// The removals are durable before the manifest goes: a crash never
	// brings back old files without the manifest that removes them.
	if err := syncDir(dir); err != nil {
		return err
	}
	return removeManifest(dir)
}

// removeManifest removes the manifest of dir, if any.
func removeManifest(dir string) error {
	err := os.Remove(filepath.Join(dir, replaceManifest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", replaceManifest, err)
	}
	return syncDir(dir)
}
