package parquet_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/weirflow/weir/io/parquet"
	"github.com/weirflow/weir/sdk"
)

// wideTxn is txn with two more columns a reader of txn must not decode.
type wideTxn struct {
	UserID   string    `parquet:"user_id"`
	Amount   int64     `parquet:"amount"`
	Merchant string    `parquet:"merchant"`
	At       time.Time `parquet:"ts,timestamp(microsecond)" weir:"eventtime"`
	Note     string    `parquet:"note"`
	Device   string    `parquet:"device"`
}

const benchRows = 1 << 20

var benchFiles struct {
	once       sync.Once
	dir        string
	narrow     string
	wide       string
	err        error
	narrowSize int64
}

// files writes the benchmark files once per process into a temporary
// directory that TestMain removes.
func files(b *testing.B) (narrow, wide string) {
	b.Helper()
	benchFiles.once.Do(func() {
		dir, err := os.MkdirTemp("", "weir-parquet-bench")
		if err != nil {
			benchFiles.err = err
			return
		}
		benchFiles.dir = dir
		rng := rand.New(rand.NewPCG(1, 1))
		rows := mkTxns(rng, 0, benchRows)
		wide := make([]wideTxn, len(rows))
		for i, r := range rows {
			wide[i] = wideTxn{r.UserID, r.Amount, r.Merchant, r.At,
				"a free-text note of some length that nobody reads in this job #" + r.UserID,
				"device-" + r.Merchant + "-" + r.UserID}
		}
		benchFiles.narrow = filepath.Join(dir, "narrow.parquet")
		benchFiles.wide = filepath.Join(dir, "wide.parquet")
		if benchFiles.err = parquet.WriteFile(benchFiles.narrow, rows, 128<<10); benchFiles.err != nil {
			return
		}
		benchFiles.err = parquet.WriteFile(benchFiles.wide, wide, 128<<10)
	})
	if benchFiles.err != nil {
		b.Fatal(benchFiles.err)
	}
	return benchFiles.narrow, benchFiles.wide
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchFiles.dir != "" {
		os.RemoveAll(benchFiles.dir)
	}
	os.Exit(code)
}

func readSource[T any](b *testing.B, path string, opts parquet.SourceOptions) int {
	ctx := context.Background()
	src := parquet.NewSource[T](path, opts)
	splits, err := src.Splits(ctx)
	if err != nil {
		b.Fatal(err)
	}
	batch := sdk.NewBatch[T](1024)
	n := 0
	for _, s := range splits {
		r, err := src.Open(ctx, s, nil)
		if err != nil {
			b.Fatal(err)
		}
		for {
			batch.Reset()
			dead, err := r.ReadBatch(ctx, batch, 1024)
			n += len(batch.Values)
			if len(dead) > 0 {
				b.Fatal(dead[0].Reason)
			}
			if errors.Is(err, sdk.ErrEndOfSplit) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
	}
	return n
}

func readRaw[T any](b *testing.B, path string) int {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := pq.NewGenericReader[T](f)
	defer r.Close()
	buf := make([]T, 1024)
	n := 0
	for {
		k, err := r.Read(buf)
		n += k
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParquetRead reads 1 Mi fraud records (8 row groups) through the
// source and through a plain parquet-go GenericReader loop; the Wide cases
// read a file with two more string columns.
func BenchmarkParquetRead(b *testing.B) {
	narrow, wide := files(b)
	for _, c := range []struct {
		name string
		read func(*testing.B) int
	}{
		{"Source", func(b *testing.B) int { return readSource[txn](b, narrow, parquet.SourceOptions{}) }},
		{"SourceGeneric", func(b *testing.B) int {
			return readSource[txn](b, narrow, parquet.SourceOptions{GenericReader: true})
		}},
		{"Raw", func(b *testing.B) int { return readRaw[txn](b, narrow) }},
		{"Wide/Source", func(b *testing.B) int { return readSource[txn](b, wide, parquet.SourceOptions{}) }},
		{"Wide/Raw", func(b *testing.B) int { return readRaw[txn](b, wide) }},
		{"Wide/RawAllColumns", func(b *testing.B) int { return readRaw[wideTxn](b, wide) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				if n := c.read(b); n != benchRows {
					b.Fatalf("read %d rows, want %d", n, benchRows)
				}
				rows += benchRows
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
