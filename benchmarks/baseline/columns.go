package baseline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/weirflow/weir/examples/fraud"
)

// RunColumns is [Run] with a column reader, as a performance-minded Go
// programmer would write it without a framework: it decodes only the
// user_id, amount and ts columns, 1,024 values at a time, interns user ids
// so that map keys are small, and never builds a fraud.Txn. Its output rows
// are the same as Run's.
func RunColumns(paths []string, window time.Duration, out io.Writer) (Stats, error) {
	var st Stats
	size := window.Microseconds()
	if size <= 0 {
		return st, fmt.Errorf("baseline: window must be at least 1µs, got %v", window)
	}
	type ukey struct {
		user  int32
		start int64
	}
	userIdx := map[string]int32{}
	var users []string
	acc := map[ukey]*fraud.SumCount{}
	cols := [3]column{}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return st, fmt.Errorf("baseline: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return st, fmt.Errorf("baseline: %w", err)
		}
		pf, err := pq.OpenFile(f, fi.Size())
		if err != nil {
			f.Close()
			return st, fmt.Errorf("baseline: open %s: %w", path, err)
		}
		idx, err := columnIndexes(pf.Schema())
		if err != nil {
			f.Close()
			return st, fmt.Errorf("baseline: %s: %w", path, err)
		}
		for _, rg := range pf.RowGroups() {
			chunks := rg.ColumnChunks()
			for i := range cols {
				cols[i].reset(chunks[idx[i]].Pages())
			}
			for left := rg.NumRows(); left > 0; {
				n := int(min(left, BatchSize))
				var vals [3][]pq.Value
				for i := range cols {
					if vals[i], err = cols[i].read(n); err != nil {
						f.Close()
						return st, fmt.Errorf("baseline: read %s: %w", path, err)
					}
				}
				for j := range n {
					amount := vals[1][j].Int64()
					if amount <= fraud.Threshold {
						continue
					}
					ts := vals[2][j].Int64()
					start := ts / size * size
					if ts%size != 0 && ts < 0 {
						start -= size
					}
					b := vals[0][j].ByteArray()
					u, ok := userIdx[string(b)]
					if !ok {
						u = int32(len(users))
						users = append(users, string(b))
						userIdx[users[u]] = u
					}
					k := ukey{u, start}
					sc := acc[k]
					if sc == nil {
						sc = new(fraud.SumCount)
						acc[k] = sc
					}
					sc.Total += amount
					sc.Count++
					st.Kept++
				}
				st.Rows += int64(n)
				left -= int64(n)
			}
			for i := range cols {
				cols[i].close()
			}
		}
		f.Close()
	}
	w := bufio.NewWriterSize(out, 1<<16)
	var line []byte
	for k, sc := range acc {
		line = appendRow(line[:0], users[k.user], k.start, k.start+size, sc.Total, sc.Count)
		if _, err := w.Write(line); err != nil {
			return st, fmt.Errorf("baseline: write: %w", err)
		}
		st.Outputs++
	}
	if err := w.Flush(); err != nil {
		return st, fmt.Errorf("baseline: write: %w", err)
	}
	return st, nil
}

// columnIndexes finds the user_id, amount and ts columns and checks that ts
// holds microseconds.
func columnIndexes(s *pq.Schema) ([3]int, error) {
	var idx [3]int
	for i, name := range []string{"user_id", "amount", "ts"} {
		leaf, ok := s.Lookup(name)
		if !ok || leaf.MaxRepetitionLevel > 0 || leaf.MaxDefinitionLevel > 0 {
			return idx, fmt.Errorf("no required column %s", name)
		}
		idx[i] = leaf.ColumnIndex
	}
	leaf, _ := s.Lookup("ts")
	if lt := leaf.Node.Type().LogicalType(); lt != nil {
		if ts, ok := lt.Value.(*format.TimestampType); ok && ts.Unit.Value != nil && ts.Unit.Value.Duration() == time.Microsecond {
			return idx, nil
		}
	}
	return idx, errors.New("column ts is not timestamp(microsecond)")
}

// column reads one column chunk's values in order, n at a time.
type column struct {
	pages  pq.Pages
	page   pq.Page
	values pq.ValueReader
	buf    []pq.Value // values decoded and not yet returned: buf[off:]
	off    int
	out    []pq.Value
	done   []pq.Page // finished pages the last read's values may point into
}

func (c *column) reset(p pq.Pages) {
	c.pages, c.page, c.values = p, nil, nil
	c.buf, c.off = c.buf[:0], 0
}

// read returns the next n values; the slice and byte arrays in it are valid
// until the next call.
func (c *column) read(n int) ([]pq.Value, error) {
	c.releaseDone()
	c.out = c.out[:0]
	for len(c.out) < n {
		if c.off == len(c.buf) {
			if err := c.fill(); err != nil {
				return nil, err
			}
			continue
		}
		k := min(n-len(c.out), len(c.buf)-c.off)
		c.out = append(c.out, c.buf[c.off:c.off+k]...)
		c.off += k
	}
	return c.out, nil
}

// fill decodes the next values of the current page, moving to the next
// page at the end of one.
func (c *column) fill() error {
	if cap(c.buf) == 0 {
		c.buf = make([]pq.Value, 0, BatchSize)
	}
	for {
		if c.values == nil {
			p, err := c.pages.ReadPage()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return io.ErrUnexpectedEOF
				}
				return err
			}
			c.page, c.values = p, p.Values()
		}
		n, err := c.values.ReadValues(c.buf[:cap(c.buf)])
		c.buf, c.off = c.buf[:n], 0
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if n > 0 {
			if errors.Is(err, io.EOF) {
				c.values = eofValues{} // retire the page once these are used
			}
			return nil
		}
		if c.page != nil {
			c.done = append(c.done, c.page)
		}
		c.page, c.values = nil, nil
	}
}

func (c *column) releaseDone() {
	for _, p := range c.done {
		pq.Release(p)
	}
	clear(c.done)
	c.done = c.done[:0]
}

func (c *column) close() {
	c.releaseDone()
	if c.page != nil {
		pq.Release(c.page)
	}
	c.page, c.values = nil, nil
	if c.pages != nil {
		c.pages.Close()
	}
	c.pages = nil
}

type eofValues struct{}

func (eofValues) ReadValues([]pq.Value) (int, error) { return 0, io.EOF }
