// Package baseline is the hand-written Go program weir's fraud backfill is
// measured against: one loop over Parquet rows that filters, keys and sums,
// with no framework in between.
//
// # What it owns
//
// [Run] reads Parquet files of [fraud.Txn] with parquet-go's
// GenericReader in batches of 1,024 rows, keeps amounts over
// [fraud.Threshold], sums and counts them per user and tumbling window in a
// Go map, and writes one JSONL file of [fraud.UserTotal] rows in map order
// (weir's output is not sorted either; compare outputs sorted). It has no watermark: for inputs with no late data
// (see examples/fraud/fraudgen) its rows are exactly the pipeline's.
// [RunColumns] computes the same rows from the three columns it needs,
// decoded directly, with interned user ids.
//
// # Who calls it
//
// benchmarks/cmd/baseline, which benchmarks/cmd/bench runs as a child
// process beside the fraud binary; the package test checks it against
// fraudgen.Expected.
//
// # Goroutines
//
// None: Run is one loop on the caller's goroutine.
package baseline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/weirflow/weir/examples/fraud"
)

// BatchSize is the number of rows read per call, as weir's sources do.
const BatchSize = 1024

// Stats are what one Run saw.
type Stats struct {
	Rows    int64 // rows read
	Kept    int64 // rows over the threshold
	Outputs int64 // rows written
}

type key struct {
	user  string
	start int64 // window start, µs since the epoch
}

// Run computes the fraud pipeline's output over the Parquet files in paths
// with tumbling windows of size window and writes it to out as JSONL.
func Run(paths []string, window time.Duration, out io.Writer) (Stats, error) {
	var st Stats
	size := window.Microseconds()
	if size <= 0 {
		return st, fmt.Errorf("baseline: window must be at least 1µs, got %v", window)
	}
	acc := make(map[key]*fraud.SumCount)
	buf := make([]fraud.Txn, BatchSize)
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return st, fmt.Errorf("baseline: %w", err)
		}
		r := pq.NewGenericReader[fraud.Txn](f)
		for {
			n, err := r.Read(buf)
			for _, t := range buf[:n] {
				if t.Amount <= fraud.Threshold {
					continue
				}
				ts := t.At.UnixMicro()
				start := ts / size * size
				if ts%size != 0 && ts < 0 {
					start -= size
				}
				k := key{t.UserID, start}
				sc := acc[k]
				if sc == nil {
					sc = new(fraud.SumCount)
					acc[k] = sc
				}
				sc.Total += t.Amount
				sc.Count++
				st.Kept++
			}
			st.Rows += int64(n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				f.Close()
				return st, fmt.Errorf("baseline: read %s: %w", path, err)
			}
		}
		r.Close()
		f.Close()
	}
	w := bufio.NewWriterSize(out, 1<<16)
	var line []byte
	for k, sc := range acc {
		line = appendRow(line[:0], k.user, k.start, k.start+size, sc.Total, sc.Count)
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

// appendRow appends one UserTotal as a JSON line. User ids are written
// with strconv.Quote's escaping, which is valid JSON for the printable
// ASCII ids the generator makes.
func appendRow(b []byte, user string, start, end, total, count int64) []byte {
	b = append(b, `{"user_id":`...)
	b = strconv.AppendQuote(b, user)
	b = append(b, `,"window_start":"`...)
	b = time.UnixMicro(start).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","window_end":"`...)
	b = time.UnixMicro(end).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","total":`...)
	b = strconv.AppendInt(b, total, 10)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, count, 10)
	return append(b, "}\n"...)
}
