package parquet

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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
			cols = planFast(s.rec.fast, s.rec.schema, f.Schema(), rg, s.rec.timeName)
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
		// GenericReader gets times outside 1677-2262 wrong: decode T's
		// time.Time fields again, and find the rows of other time
		// values it would get wrong.
		var err error
		if r.times, r.badRows, err = planTimes(s.rec.times, f.Schema(), rg, s.rec.timeName); err != nil {
			return err
		}
		for _, c := range r.times {
			if err := c.seek(row); err != nil {
				return err
			}
		}
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

// planTimes prepares, for GenericReader, the exact decoding of T's
// time.Time fields at fixed offsets (the event-time column's values
// checked), and finds the rows of its other time values that GenericReader
// would read wrong.
func planTimes(leaves []timeLeaf, file *pq.Schema, rg pq.RowGroup, event string) (cols []*fastColumn, bad map[int64]string, err error) {
	chunks := rg.ColumnChunks()
	for _, l := range leaves {
		leaf, ok := file.Lookup(l.path...)
		if !ok || leaf.Node == nil || leaf.Node.Type().Kind() != pq.Int64 || leaf.ColumnIndex >= len(chunks) {
			continue // not a split that is read (see check)
		}
		unit := timestampUnit(leaf.Node.Type().LogicalType())
		if unit == 0 {
			unit = l.unitNanos // a plain INT64 is read in T's unit
		}
		if l.direct && leaf.MaxRepetitionLevel == 0 {
			c := &fastColumn{fastField: fastField{name: l.col, offset: l.offset, kind: kTime}, unitNanos: unit,
				pages: chunks[leaf.ColumnIndex].Pages()}
			if l.col == event {
				c.event = true
				c.lo, c.hi = eventRange(unit)
			}
			cols = append(cols, c)
			continue
		}
		rows, err := scanTimes(chunks[leaf.ColumnIndex], l, unit)
		if err != nil {
			for _, c := range cols {
				c.close()
			}
			return nil, nil, err
		}
		for r, why := range rows {
			if bad == nil {
				bad = map[int64]string{}
			}
			if _, ok := bad[r]; !ok {
				bad[r] = why
			}
		}
	}
	return cols, bad, nil
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
	// With r: T's time.Time fields decoded again, exactly, and the rows
	// whose other time values r reads wrong (dead letters).
	times   []*fastColumn
	badRows map[int64]string
	row     int64 // next row in the row group
	rows    int64
	bad     string // a split that yields one dead letter and no rows
	// The rows of the values the last ReadBatch appended: first, first+1...
	// unless some were dropped, then kept.
	first   int64
	dropped bool
	kept    []int64
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
	r.first, r.dropped = r.row, false
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
	vals := b.Values[l:]
	base, stride := unsafe.Pointer(unsafe.SliceData(vals)), unsafe.Sizeof(vals[0])
	var got int
	var err error
	var bad []badRow
	if r.cols != nil {
		err = protect(func() error {
			clear(vals)
			for _, c := range r.cols {
				if err := c.decode(base, stride, n, &bad); err != nil {
					return err
				}
			}
			got = n
			return nil
		})
	} else {
		err = protect(func() error {
			var err error
			got, err = r.r.Read(vals)
			if got <= 0 || got > n {
				return err
			}
			for _, c := range r.times {
				if terr := c.decode(base, stride, got, &bad); terr != nil {
					got = 0 // their times are parquet-go's
					return terr
				}
			}
			return err
		})
	}
	if got > n || got < 0 {
		got = 0
	}
	b.Values = b.Values[:l+got]
	var dead []sdk.DeadLetter
	if len(bad) > 0 || r.badRows != nil {
		dead = r.drop(b, l, got, bad)
	}
	r.row += int64(got)
	if err != nil && !errors.Is(err, io.EOF) || err == nil && got == 0 {
		if err == nil {
			err = errors.New("no rows")
		}
		first := r.row
		r.row = r.rows
		return append(dead, sdk.DeadLetter{
			Reason: fmt.Sprintf("parquet: rows %d-%d unreadable: %v", first, r.rows-1, err),
			Source: r.source(),
		}), sdk.ErrEndOfSplit
	}
	if r.row >= r.rows {
		return dead, sdk.ErrEndOfSplit
	}
	if errors.Is(err, io.EOF) {
		// The footer promised more rows than the pages hold.
		first := r.row
		r.row = r.rows
		return append(dead, sdk.DeadLetter{
			Reason: fmt.Sprintf("parquet: rows %d-%d missing: row group ends early", first, r.rows-1),
			Source: r.source(),
		}), sdk.ErrEndOfSplit
	}
	return dead, nil
}

// drop removes from the got values at b.Values[l:] the rows of bad and of
// r.badRows, returning their dead letters.
func (r *reader[T]) drop(b *sdk.Batch[T], l, got int, bad []badRow) []sdk.DeadLetter {
	why := make(map[int]string, len(bad))
	for _, x := range bad {
		if _, ok := why[x.i]; !ok && x.i < got {
			why[x.i] = x.reason
		}
	}
	for i := range got {
		if reason, ok := r.badRows[r.row+int64(i)]; ok {
			if _, seen := why[i]; !seen {
				why[i] = reason
			}
		}
	}
	if len(why) == 0 {
		return nil
	}
	vals := b.Values[l : l+got]
	var dead []sdk.DeadLetter
	r.dropped, r.kept = true, r.kept[:0]
	keep := 0
	for i := range vals {
		if reason, ok := why[i]; ok {
			dead = append(dead, sdk.DeadLetter{Record: render(&vals[i]), Reason: reason, Source: r.rowSource(r.row + int64(i))})
			continue
		}
		vals[keep] = vals[i]
		r.kept = append(r.kept, r.row+int64(i))
		keep++
	}
	clear(vals[keep:])
	b.Values = b.Values[:l+keep]
	return dead
}

func (r *reader[T]) rowSource(row int64) string {
	return fmt.Sprintf("%s row group %d row %d", r.path, r.group, row)
}

// render is the JSON form of a row for a dead letter: with T's generated
// codec if it has one, else encoding/json, else (a time beyond year 9999)
// Go syntax.
func render[T any](v *T) []byte {
	if c, err := sdk.CodecOf[T](); err == nil && c.AppendJSON != nil {
		return c.AppendJSON(nil, v)
	}
	if b, err := json.Marshal(v); err == nil {
		return b
	}
	return fmt.Appendf(nil, "%+v", *v)
}

// DescribeRecord returns the JSON form of v, the i-th value the last
// ReadBatch appended, and "path row group G row R" (rows count from 0 in
// the row group), for the dead letters the runner makes (a missing event
// time).
func (r *reader[T]) DescribeRecord(i int, v *T) ([]byte, string) {
	row := r.first + int64(i)
	if r.dropped && i < len(r.kept) {
		row = r.kept[i]
	}
	return render(v), r.rowSource(row)
}

// Position is the row offset in the row group.
func (r *reader[T]) Position() []byte { return binary.AppendUvarint(nil, uint64(r.row)) }

// Close releases the file.
func (r *reader[T]) Close() error {
	if r.r != nil {
		protect(r.r.Close)
		r.r = nil
	}
	for _, c := range slices.Concat(r.cols, r.times) {
		protect(func() error { c.close(); return nil })
	}
	r.cols, r.times = nil, nil
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
