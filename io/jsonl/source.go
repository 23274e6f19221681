package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/weirflow/weir/sdk"
)

// DefaultMaxLineSize is the longest line a source reads when
// [SourceOptions.MaxLineSize] is zero.
const DefaultMaxLineSize = 16 << 20

// SourceOptions configure a [Source]; the zero value works.
type SourceOptions struct {
	// MaxLineSize is the longest line read, in bytes; a longer line becomes
	// a dead letter. Zero means [DefaultMaxLineSize].
	MaxLineSize int
}

// Source reads JSON Lines files, one JSON object a line, one split a file.
type Source[T any] struct {
	pattern string
	opts    SourceOptions
}

// NewSource returns a source of the files matching pattern (a path or a
// filepath.Match glob such as "data/*.jsonl"). Records are decoded with the
// registered codec of T (or the built-in one of [sdk.DeadLetter]).
func NewSource[T any](pattern string, opts SourceOptions) *Source[T] {
	if opts.MaxLineSize <= 0 {
		opts.MaxLineSize = DefaultMaxLineSize
	}
	return &Source[T]{pattern: pattern, opts: opts}
}

// Split is one file of a [Source]. Its ID is the path.
type Split struct {
	Path string
}

// ID returns the file's path.
func (s *Split) ID() string { return s.Path }

// Splits lists the matching files, sorted by path.
func (s *Source[T]) Splits(ctx context.Context) ([]sdk.Split, error) {
	if _, err := codecFor[T](); err != nil {
		return nil, err
	}
	paths, err := match(s.pattern)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.Split, len(paths))
	for i, p := range paths {
		out[i] = &Split{Path: p}
	}
	return out, nil
}

func match(pattern string) ([]string, error) {
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("jsonl: bad pattern %q: %w", pattern, err)
	}
	var files []string
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("jsonl: no files match %q", pattern)
	}
	sort.Strings(files)
	return files, nil
}

// Open starts reading split sp at pos (nil for the beginning).
func (s *Source[T]) Open(ctx context.Context, sp sdk.Split, pos []byte) (sdk.SplitReader[T], error) {
	c, err := codecFor[T]()
	if err != nil {
		return nil, err
	}
	path := sp.ID()
	if x, ok := sp.(*Split); ok {
		path = x.Path
	}
	off, line, err := decodePos(pos)
	if err != nil {
		return nil, fmt.Errorf("jsonl: %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("jsonl: %w", err)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("jsonl: seek %s: %w", path, err)
	}
	return &reader[T]{
		path: path, f: f, br: bufio.NewReaderSize(f, 256<<10),
		decode: c.decode, off: off, line: line, maxLine: s.opts.MaxLineSize,
	}, nil
}

// Position encodes a byte offset and the number of lines before it.
func encodePos(off, line int64) []byte {
	b := binary.AppendUvarint(nil, uint64(off))
	return binary.AppendUvarint(b, uint64(line))
}

func decodePos(pos []byte) (off, line int64, err error) {
	if len(pos) == 0 {
		return 0, 0, nil
	}
	o, n := binary.Uvarint(pos)
	if n <= 0 {
		return 0, 0, errors.New("bad position")
	}
	l, m := binary.Uvarint(pos[n:])
	if m <= 0 || n+m != len(pos) {
		return 0, 0, errors.New("bad position")
	}
	return int64(o), int64(l), nil
}

type reader[T any] struct {
	path    string
	f       *os.File
	br      *bufio.Reader
	decode  func([]byte, *T) error
	off     int64 // offset after the last line returned
	line    int64 // lines consumed
	maxLine int
	long    []byte // accumulates a line longer than the buffer
	eof     bool
	got     []lineRef // the lines of the values the last ReadBatch appended
}

// lineRef is where a record's line is in the file.
type lineRef struct {
	off, line int64
	size      int
}

// ReadBatch appends up to max decoded lines to b.Values.
func (r *reader[T]) ReadBatch(ctx context.Context, b *sdk.Batch[T], max int) ([]sdk.DeadLetter, error) {
	if max <= 0 {
		max = 1
	}
	var dead []sdk.DeadLetter
	r.got = r.got[:0]
	for n := 0; n < max; {
		if r.eof {
			return dead, sdk.ErrEndOfSplit
		}
		text, tooLong, size, err := r.readLine()
		if err != nil {
			return dead, fmt.Errorf("jsonl: read %s: %w", r.path, err)
		}
		if size == 0 {
			r.eof = true
			continue
		}
		r.off += size
		r.line++
		if tooLong {
			dead = append(dead, sdk.DeadLetter{
				Record: bytes.Clone(text),
				Reason: fmt.Sprintf("json: line longer than %d bytes", r.maxLine),
				Source: fmt.Sprintf("%s line %d", r.path, r.line),
			})
			n++
			continue
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		var zero T
		b.Values = append(b.Values, zero)
		if err := r.decode(text, &b.Values[len(b.Values)-1]); err != nil {
			b.Values = b.Values[:len(b.Values)-1]
			dead = append(dead, sdk.DeadLetter{
				Record: bytes.Clone(text),
				Reason: "json: " + err.Error(),
				Source: fmt.Sprintf("%s line %d", r.path, r.line),
			})
		} else {
			r.got = append(r.got, lineRef{off: r.off - size, line: r.line, size: int(size)})
		}
		n++
	}
	return dead, nil
}

// readLine returns the next line without its newline and the bytes it took
// in the file (0 at the end). A line longer than maxLine is consumed whole
// and returned cut to 1 KiB with tooLong set. The returned text is valid
// until the next call.
func (r *reader[T]) readLine() (text []byte, tooLong bool, size int64, err error) {
	r.long = r.long[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		size += int64(len(chunk))
		if !tooLong {
			if len(r.long)+len(chunk) > r.maxLine+1 { // +1: the newline
				tooLong = true
				r.long = append(r.long, chunk[:min(len(chunk), max(0, 1024-len(r.long)))]...)
				if len(r.long) > 1024 {
					r.long = r.long[:1024]
				}
			} else if err == nil && len(r.long) == 0 {
				return bytes.TrimSuffix(chunk, []byte{'\n'}), false, size, nil
			} else {
				r.long = append(r.long, chunk...)
			}
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(r.long, []byte{'\n'}), tooLong, size, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return bytes.TrimSuffix(r.long, []byte{'\n'}), tooLong, size, nil
		default:
			return nil, false, 0, err
		}
	}
}

// DescribeRecord returns the line of the i-th value the last ReadBatch
// appended and "path line N", for the dead letters the runner makes (a
// missing event time). The line is read again from the file.
func (r *reader[T]) DescribeRecord(i int, _ *T) ([]byte, string) {
	if i < 0 || i >= len(r.got) {
		return nil, r.path
	}
	g := r.got[i]
	src := fmt.Sprintf("%s line %d", r.path, g.line)
	buf := make([]byte, g.size)
	n, err := r.f.ReadAt(buf, g.off)
	if n < g.size && err != nil {
		return nil, src
	}
	return bytes.TrimSpace(buf), src
}

// Position is the byte offset and line number after the last line returned.
func (r *reader[T]) Position() []byte { return encodePos(r.off, r.line) }

// Close closes the file.
func (r *reader[T]) Close() error { return r.f.Close() }

var (
	_ sdk.Source[struct{}] = (*Source[struct{}])(nil)
	_ sdk.Sink[struct{}]   = (*Sink[struct{}])(nil)
)

// Validate reports at graph-build time that T has no JSON codec.
func (s *Source[T]) Validate() error {
	_, err := codecFor[T]()
	return err
}
