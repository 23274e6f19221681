package filecommit

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/weirflow/weir/sdk"
)

// Rolling is the file-handling half of a file sink's committing writer:
// one buffered in-progress file open at a time, finished (footer, flush,
// fsync, close) when the format says it is full or at PreCommit, then staged
// and committed through [Files]. A sink's writer embeds it and adds only its
// encoding; PreCommit, Commit, Abort and Close have the signatures of
// [sdk.CommittingSink].
type Rolling struct {
	files *Files
	name  string // connector name for errors: "jsonl", "parquet"
	size  int    // buffer size
	f     *os.File
	bw    *bufio.Writer
	// Footer, if set, is called before a file is flushed and closed, to
	// write what the format needs at the end (a Parquet footer).
	Footer func() error
}

// NewRolling returns the rolling files of task in dir with extension ext,
// buffered by bufSize bytes; name prefixes its errors.
func NewRolling(name, dir string, task int, ext string, bufSize int) (*Rolling, error) {
	files, err := Open(dir, task, ext)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", name, dir, err)
	}
	return &Rolling{files: files, name: name, size: bufSize}, nil
}

// File returns the writer of the current in-progress file, creating the
// next one if none is open; fresh is true for a new file.
func (r *Rolling) File() (w io.Writer, fresh bool, err error) {
	if r.f != nil {
		return r.bw, false, nil
	}
	f, err := os.Create(r.files.Next())
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", r.name, err)
	}
	r.f = f
	if r.bw == nil {
		r.bw = bufio.NewWriterSize(f, r.size)
	} else {
		r.bw.Reset(f)
	}
	return r.bw, true, nil
}

// Current is the path of the file being written, or "".
func (r *Rolling) Current() string { return r.files.Current() }

// Finish writes the footer, flushes, syncs and closes the current file and
// rolls it, to be staged by the next PreCommit. Without an open file it
// does nothing.
func (r *Rolling) Finish() error {
	if r.f == nil {
		return nil
	}
	p := r.files.Current()
	var err error
	if r.Footer != nil {
		err = r.Footer()
	}
	if err == nil {
		err = r.bw.Flush()
	}
	if err == nil {
		err = r.f.Sync()
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	r.f = nil
	if err != nil {
		return fmt.Errorf("%s: finish %s: %w", r.name, p, err)
	}
	r.files.Roll()
	return nil
}

// PreCommit finishes the current file and stages it, with any rolled ones, under id.
func (r *Rolling) PreCommit(id sdk.CheckpointID) error {
	if err := r.Finish(); err != nil {
		return err
	}
	if err := r.files.PreCommit(uint64(id)); err != nil {
		return fmt.Errorf("%s: pre-commit %d: %w", r.name, id, err)
	}
	return nil
}

// Commit makes the files staged under ids <= id visible; idempotent.
func (r *Rolling) Commit(id sdk.CheckpointID) error {
	if err := r.files.Commit(uint64(id)); err != nil {
		return fmt.Errorf("%s: commit %d: %w", r.name, id, err)
	}
	return nil
}

// Abort removes the files staged under id.
func (r *Rolling) Abort(id sdk.CheckpointID) error {
	if err := r.files.Abort(uint64(id)); err != nil {
		return fmt.Errorf("%s: abort %d: %w", r.name, id, err)
	}
	return nil
}

// Close discards output not pre-committed.
func (r *Rolling) Close() error {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	if err := r.files.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", r.name, err)
	}
	return nil
}
