package dirlock

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FileName is the lock file in a locked directory.
const FileName = ".weir.lock"

// Holder describes the process that holds (or held) a lock.
type Holder struct {
	PID   int
	Host  string
	What  string // what the holder uses the directory for: "job fraud-1a2b"
	Since time.Time
}

func (h Holder) String() string {
	s := fmt.Sprintf("pid %d on %s", h.PID, h.Host)
	if h.What != "" {
		s += " (" + h.What + ")"
	}
	if !h.Since.IsZero() {
		s += " since " + h.Since.UTC().Format(time.RFC3339)
	}
	return s
}

// HeldError is returned by [Acquire] when another process holds the lock.
type HeldError struct {
	Dir    string
	Holder Holder // zero if the lock file could not be read
}

func (e *HeldError) Error() string {
	if e.Holder.PID == 0 {
		return fmt.Sprintf("dirlock: %s is in use by another process", e.Dir)
	}
	return fmt.Sprintf("dirlock: %s is in use by %s", e.Dir, e.Holder)
}

// Lock is a held directory lock.
type Lock struct {
	f   *os.File
	dir string
}

// Acquire takes the lock of dir (which must exist) for this process,
// recording what it is for. If another process holds it, the error is a
// *HeldError. stale is the holder recorded in the lock file by a process
// that ended without releasing the lock (nil if there was none): the lock
// is taken over, and the caller may say so.
func Acquire(dir, what string) (l *Lock, stale *Holder, err error) {
	p := filepath.Join(dir, FileName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("dirlock: %w", err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("dirlock: lock %s: %w", p, err)
	}
	prev, _ := readHolder(f)
	if !ok {
		f.Close()
		return nil, nil, &HeldError{Dir: dir, Holder: prev}
	}
	if prev.PID != 0 {
		stale = &prev
	}
	host, _ := os.Hostname()
	me := Holder{PID: os.Getpid(), Host: host, What: what, Since: time.Now()}
	if err := writeHolder(f, me); err != nil {
		unlock(f)
		f.Close()
		return nil, nil, fmt.Errorf("dirlock: write %s: %w", p, err)
	}
	return &Lock{f: f, dir: dir}, stale, nil
}

// Dir is the locked directory.
func (l *Lock) Dir() string { return l.dir }

// Release empties the lock file and releases the lock. It is safe to call
// more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	err := f.Truncate(0)
	if uerr := unlock(f); err == nil {
		err = uerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dirlock: release %s: %w", l.dir, err)
	}
	return nil
}

// Locked reports whether another process holds the lock of dir right now
// (false if dir has no lock file). It takes and releases the lock to find
// out, so it also returns false for a lock left by a dead process.
func Locked(dir string) (bool, Holder, error) {
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, Holder{}, nil
	}
	if err != nil {
		return false, Holder{}, fmt.Errorf("dirlock: %w", err)
	}
	defer f.Close()
	ok, err := tryLock(f)
	if err != nil {
		return false, Holder{}, fmt.Errorf("dirlock: lock %s: %w", dir, err)
	}
	h, _ := readHolder(f)
	if !ok {
		return true, h, nil
	}
	unlock(f)
	return false, h, nil
}

// The lock file holds one "key value" line per field.
func writeHolder(f *os.File, h Holder) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	s := fmt.Sprintf("pid %d\nhost %s\nwhat %s\nsince %s\n", h.PID, oneLine(h.Host), oneLine(h.What), h.Since.UTC().Format(time.RFC3339))
	if _, err := f.WriteAt([]byte(s), 0); err != nil {
		return err
	}
	return f.Sync()
}

func readHolder(f *os.File) (Holder, error) {
	var h Holder
	if _, err := f.Seek(0, 0); err != nil {
		return h, err
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "pid":
			h.PID, _ = strconv.Atoi(v)
		case "host":
			h.Host = v
		case "what":
			h.What = v
		case "since":
			h.Since, _ = time.Parse(time.RFC3339, v)
		}
	}
	return h, sc.Err()
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
