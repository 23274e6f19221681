package parquet

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	pq "github.com/parquet-go/parquet-go"

	"github.com/weirflow/weir/sdk"
)

// SourceOptions configure a [Source]; the zero value works.
type SourceOptions struct {
	// Paths are read in addition to the files matching the pattern.
	Paths []string
	// EventTimeColumn names the column whose statistics give each split's
	// minimum event time. Empty means the column of T's weir:"eventtime"
	// field; "-" means none (set it when the pipeline computes event time
	// with sdk.Timestamps from something else).
	EventTimeColumn string
	// GenericReader decodes with parquet-go's GenericReader even when T is
	// a flat struct the faster column decoder can fill.
	GenericReader bool
}

// Source reads Parquet files into records of type T, one split a row group.
// T is a struct with parquet tags; its event-time field (tagged
// weir:"eventtime") gives each split's minimum event time from the footer.
type Source[T any] struct {
	pattern string
	opts    SourceOptions
	rec     *recordInfo
}

// NewSource returns a source of the files matching pattern (a path or a
// filepath.Match glob such as "data/*.parquet"), plus opts.Paths.
func NewSource[T any](pattern string, opts SourceOptions) *Source[T] {
	rec := recordOf[T]()
	switch opts.EventTimeColumn {
	case "":
	case "-":
		rec.timeName = ""
	default:
		rec.timeName = opts.EventTimeColumn
	}
	return &Source[T]{pattern: pattern, opts: opts, rec: rec}
}

// Split is one row group of one file, or a whole file whose footer cannot
// be read. It implements [sdk.SplitStats].
type Split struct {
	// Path is the file.
	Path string
	// RowGroup is the row group's index in the file; -1 for a broken file.
	RowGroup int

	rows   int64
	minTS  sdk.Timestamp
	hasMin bool
	bad    string // why the split yields no rows ("" if it is fine)
}

// ID is "path#rg0003", or "path#file" for a file whose footer is unreadable;
// IDs sort like the splits.
func (s *Split) ID() string {
	if s.RowGroup < 0 {
		return s.Path + "#file"
	}
	return fmt.Sprintf("%s#rg%04d", s.Path, s.RowGroup)
}

// Rows is the number of rows in the row group, from the footer (0 for a
// split that yields no rows).
func (s *Split) Rows() int64 {
	if s.bad != "" {
		return 0
	}
	return s.rows
}

// MinEventTime is the smallest event time of the row group, from the column
// statistics of the event-time column; ok is false if the file has none.
func (s *Split) MinEventTime() (sdk.Timestamp, bool) { return s.minTS, s.hasMin }

var _ sdk.SplitStats = (*Split)(nil)

// parseID turns an ID back into a split, for runners that keep only IDs.
func parseID(id string) (*Split, error) {
	i := strings.LastIndexByte(id, '#')
	if i < 0 {
		return nil, fmt.Errorf("parquet: bad split id %q", id)
	}
	path, rest := id[:i], id[i+1:]
	if rest == "file" {
		return &Split{Path: path, RowGroup: -1}, nil
	}
	g, err := strconv.Atoi(strings.TrimPrefix(rest, "rg"))
	if err != nil || !strings.HasPrefix(rest, "rg") {
		return nil, fmt.Errorf("parquet: bad split id %q", id)
	}
	return &Split{Path: path, RowGroup: g}, nil
}

// Splits lists one split per row group of every matching file, sorted by
// path and row group. A file whose footer cannot be read gives one split
// that yields a dead letter; no matching file at all is an error.
func (s *Source[T]) Splits(ctx context.Context) ([]sdk.Split, error) {
	if s.rec.err != nil {
		return nil, s.rec.err
	}
	paths, err := s.match()
	if err != nil {
		return nil, err
	}
	var out []sdk.Split
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		splits, err := s.fileSplits(p)
		if err != nil {
			return nil, err
		}
		out = append(out, splits...)
	}
	return out, nil
}

func (s *Source[T]) match() ([]string, error) {
	var files []string
	seen := map[string]bool{}
	add := func(p string) {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	if s.pattern != "" {
		paths, err := filepath.Glob(s.pattern)
		if err != nil {
			return nil, fmt.Errorf("parquet: bad pattern %q: %w", s.pattern, err)
		}
		for _, p := range paths {
			add(p)
		}
	}
	for _, p := range s.opts.Paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("parquet: %w", err)
		}
		add(p)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("parquet: no files match %q", s.pattern)
	}
	sort.Strings(files)
	return files, nil
}

func (s *Source[T]) fileSplits(path string) ([]sdk.Split, error) {
	osf, f, err := openFile(path, true)
	if err != nil {
		var ce corruptError
		if errors.As(err, &ce) {
			return []sdk.Split{&Split{Path: path, RowGroup: -1, bad: err.Error()}}, nil
		}
		return nil, err
	}
	defer osf.Close()
	bad := s.rec.check(path, f.Schema())
	col := -1
	var unit int64
	if bad == "" {
		col, unit = s.rec.timeColumn(f.Schema())
	}
	md := f.Metadata()
	out := make([]sdk.Split, len(md.RowGroups))
	for g := range md.RowGroups {
		rg := &md.RowGroups[g]
		sp := &Split{Path: path, RowGroup: g, rows: rg.NumRows, bad: bad}
		if col >= 0 && col < len(rg.Columns) {
			sp.minTS, sp.hasMin = minTime(&rg.Columns[col].MetaData.Statistics, rg.Columns[col].MetaData.NumValues, unit)
		}
		out[g] = sp
	}
	return out, nil
}

// corruptError marks a file parquet-go cannot read: a dead letter, not a
// job failure.
type corruptError struct{ msg string }

func (e corruptError) Error() string { return e.msg }

// openFile opens path and parses its footer, turning parquet-go errors and
// panics into corruptError. The caller closes the *os.File.
func openFile(path string, skipPageIndex bool) (osf *os.File, f *pq.File, err error) {
	osf, err = os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("parquet: %w", err)
	}
	st, err := osf.Stat()
	if err != nil {
		osf.Close()
		return nil, nil, fmt.Errorf("parquet: %w", err)
	}
	err = protect(func() error {
		var err error
		f, err = pq.OpenFile(osf, st.Size(), pq.SkipPageIndex(skipPageIndex), pq.SkipBloomFilters(true))
		return err
	})
	if err != nil {
		osf.Close()
		return nil, nil, corruptError{fmt.Sprintf("parquet: %s: unreadable file: %v", path, err)}
	}
	return osf, f, nil
}

// protect runs fn, turning a panic into an error: parquet-go may panic on
// corrupt input.
func protect(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return fn()
}

// Open starts reading split sp at pos, a row offset in the row group.
func (s *Source[T]) Open(ctx context.Context, sp sdk.Split, pos []byte) (sdk.SplitReader[T], error) {
	if s.rec.err != nil {
		return nil, s.rec.err
	}
	split, ok := sp.(*Split)
	if !ok {
		var err error
		if split, err = parseID(sp.ID()); err != nil {
			return nil, err
		}
	}
	row, err := decodePos(pos)
	if err != nil {
		return nil, fmt.Errorf("parquet: %s: %w", split.ID(), err)
	}
	r := &reader[T]{path: split.Path, group: split.RowGroup, row: row}
	if split.bad != "" {
		return r.fail(split.bad), nil
	}
	osf, f, err := openFile(split.Path, false)
	if _, corrupt := err.(corruptError); corrupt {
		// A bad page index only slows seeks down: read without it.
		osf, f, err = openFile(split.Path, true)
	}
	if err != nil {
		var ce corruptError
		if errors.As(err, &ce) {
			return r.fail(err.Error()), nil
		}
		return nil, err
	}
	r.osf = osf
	if bad := s.rec.check(split.Path, f.Schema()); bad != "" {
		return r.fail(bad), nil
	}
	if split.RowGroup < 0 || split.RowGroup >= len(f.RowGroups()) {
		return r.fail(fmt.Sprintf("parquet: %s: no row group %d", split.Path, split.RowGroup)), nil
	}
	rg := f.RowGroups()[split.RowGroup]
	r.rows = rg.NumRows()
	if row >= r.rows {
		r.row = r.rows
		return r, nil
	}
	if !s.opts.GenericReader {
		var cols []*fastColumn
		err = protect(func() error {
			cols = planFast(s.rec.fast, s.rec.schema, f.Schema(), rg)
			return nil
		})
		if err != nil {
			return r.fail(fmt.Sprintf("parquet: %s: row group %d: %v", split.Path, split.RowGroup, err)), nil
		}
		if cols != nil {
			r.cols = cols
			err = protect(func() error {
				for _, c := range cols {
					if err := c.seek(row); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return r.fail(fmt.Sprintf("parquet: %s: row group %d: %v", split.Path, split.RowGroup, err)), nil
			}
			return r, nil
		}
	}
	err = protect(func() error {
		r.r = pq.NewGenericRowGroupReader[T](rg)
		if row > 0 {
			return r.r.SeekToRow(row)
		}
		return nil
	})
	if err != nil {
		return r.fail(fmt.Sprintf("parquet: %s: row group %d: %v", split.Path, split.RowGroup, err)), nil
	}
	return r, nil
}

func decodePos(pos []byte) (int64, error) {
	if len(pos) == 0 {
		return 0, nil
	}
	v, n := binary.Uvarint(pos)
	if n != len(pos) || v > 1<<62 {
		return 0, errors.New("bad position")
	}
	return int64(v), nil
}

type reader[T any] struct {
	path  string
	group int
	osf   *os.File
	r     *pq.GenericReader[T]
	cols  []*fastColumn // the column decoder, when used instead of r
	row   int64         // next row in the row group
	rows  int64
	bad   string // a split that yields one dead letter and no rows
}

// fail turns r into a reader of one dead letter (unless pos says it was
// already returned).
func (r *reader[T]) fail(reason string) *reader[T] {
	r.bad = reason
	r.rows = 1
	if r.row > 1 {
		r.row = 1
	}
	return r
}

func (r *reader[T]) source() string {
	if r.group < 0 {
		return r.path
	}
	return fmt.Sprintf("%s row group %d", r.path, r.group)
}

// ReadBatch appends up to max rows to b.Values.
func (r *reader[T]) ReadBatch(ctx context.Context, b *sdk.Batch[T], max int) ([]sdk.DeadLetter, error) {
	if r.row >= r.rows {
		return nil, sdk.ErrEndOfSplit
	}
	if r.bad != "" {
		r.row = r.rows
		return []sdk.DeadLetter{{Reason: r.bad, Source: r.source()}}, sdk.ErrEndOfSplit
	}
	if max <= 0 {
		max = 1
	}
	n := int(min(int64(max), r.rows-r.row))
	l := len(b.Values)
	if cap(b.Values)-l < n {
		nv := make([]T, l, l+n)
		copy(nv, b.Values)
		b.Values = nv
	}
	b.Values = b.Values[:l+n]
	var got int
	var err error
	if r.cols != nil {
		err = protect(func() error {
			vals := b.Values[l:]
			clear(vals)
			base, stride := unsafe.Pointer(unsafe.SliceData(vals)), unsafe.Sizeof(vals[0])
			for _, c := range r.cols {
				if err := c.decode(base, stride, n); err != nil {
					return err
				}
			}
			got = n
			return nil
		})
	} else {
		err = protect(func() error {
			var err error
			got, err = r.r.Read(b.Values[l:])
			return err
		})
	}
	if got > n || got < 0 {
		got = 0
	}
	b.Values = b.Values[:l+got]
	r.row += int64(got)
	if err != nil && !errors.Is(err, io.EOF) || err == nil && got == 0 {
		if err == nil {
			err = errors.New("no rows")
		}
		first := r.row
		r.row = r.rows
		return []sdk.DeadLetter{{
			Reason: fmt.Sprintf("parquet: rows %d-%d unreadable: %v", first, r.rows-1, err),
			Source: r.source(),
		}}, sdk.ErrEndOfSplit
	}
	if r.row >= r.rows {
		return nil, sdk.ErrEndOfSplit
	}
	if errors.Is(err, io.EOF) {
		// The footer promised more rows than the pages hold.
		first := r.row
		r.row = r.rows
		return []sdk.DeadLetter{{
			Reason: fmt.Sprintf("parquet: rows %d-%d missing: row group ends early", first, r.rows-1),
			Source: r.source(),
		}}, sdk.ErrEndOfSplit
	}
	return nil, nil
}

// Position is the row offset in the row group.
func (r *reader[T]) Position() []byte { return binary.AppendUvarint(nil, uint64(r.row)) }

// Close releases the file.
func (r *reader[T]) Close() error {
	if r.r != nil {
		protect(r.r.Close)
		r.r = nil
	}
	for _, c := range r.cols {
		protect(func() error { c.close(); return nil })
	}
	r.cols = nil
	if r.osf != nil {
		err := r.osf.Close()
		r.osf = nil
		return err
	}
	return nil
}

var (
	_ sdk.Source[struct{}] = (*Source[struct{}])(nil)
	_ sdk.Sink[struct{}]   = (*Sink[struct{}])(nil)
)

// Validate reports at graph-build time a record type that cannot be read
// from Parquet (an unsupported field, a bad event-time tag).
func (s *Source[T]) Validate() error { return s.rec.err }
