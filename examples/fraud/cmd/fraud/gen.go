package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/job"
)

var genCommand = job.Command{
	Name:  "gen",
	Short: "write sample transactions (see fraud gen -h)",
	Run:   runGen,
}

// genFlags are the flags of `fraud gen`, one-to-one onto fraudgen.Options
// plus the output and the number of bad records.
type genFlags struct {
	rows, users, files, rowsPerGroup, bad int
	seed                                  uint64
	disorder, span                        time.Duration
	lateFraction                          float64
	out                                   string
}

func newGenFlagSet(f *genFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("fraud gen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&f.rows, "rows", 100_000, "number of transactions")
	fs.IntVar(&f.users, "users", 1_000, "number of distinct users")
	fs.IntVar(&f.files, "files", 1, "number of files (partitions)")
	fs.IntVar(&f.rowsPerGroup, "rows-per-group", fraudgen.DefaultRowGroupRows, "Parquet rows per row group")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed: the same flags give the same data")
	fs.DurationVar(&f.disorder, "disorder", 0, "maximum out-of-orderness within a file; keep it within run's --bound")
	fs.DurationVar(&f.span, "span", time.Hour, "event time each file covers, from 2024-01-01T00:00:00Z")
	fs.Float64Var(&f.lateFraction, "late-fraction", 0, "fraction of transactions placed later than the bound, in [0, 1)")
	fs.IntVar(&f.bad, "bad", 0, "number of bad records to add, in extra files (bad*), read before the good ones")
	fs.StringVar(&f.out, "out", "", "output directory: parquet:DIR or jsonl:DIR")
	return fs
}

func runGen(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var f genFlags
	fs := newGenFlagSet(&f)
	usageErr := func(format string, a ...any) int {
		return job.CommandUsageError("fraud", "gen", stderr, format, a...)
	}
	if code, ok := job.ParseCommandFlags("fraud", "gen", "fraud gen --out=parquet:DIR|jsonl:DIR [flags]", fs, args, stdout, stderr); !ok {
		return code
	}
	scheme, dir, ok := strings.Cut(f.out, ":")
	switch {
	case f.out == "":
		return usageErr("--out is required, e.g. --out=parquet:data/txns")
	case !ok || (scheme != "parquet" && scheme != "jsonl") || dir == "":
		return usageErr("--out=%s: use parquet:DIR or jsonl:DIR", f.out)
	case f.bad < 0:
		return usageErr("--bad=%d: must not be negative", f.bad)
	}
	o := fraudgen.Options{
		Rows:         f.rows,
		Users:        f.users,
		Partitions:   f.files,
		Span:         f.span,
		Disorder:     f.disorder,
		LateFraction: f.lateFraction,
		Seed:         f.seed,
	}
	if err := o.Validate(); err != nil {
		return usageErr("%s", strings.TrimPrefix(err.Error(), "fraudgen: "))
	}
	if f.files < 1 || f.users < 1 || f.rowsPerGroup < 1 {
		return usageErr("--files, --users and --rows-per-group must be at least 1")
	}
	parts := fraudgen.Generate(o)
	var paths []string
	var err error
	if scheme == "parquet" {
		paths, err = fraudgen.WriteParquet(dir, parts, f.rowsPerGroup)
	} else {
		paths, err = fraudgen.WriteJSONL(dir, parts)
	}
	if err == nil && f.bad > 0 {
		var bad []string
		bad, err = writeBad(dir, scheme, f.bad)
		paths = append(paths, bad...)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fraud: %s\n", strings.TrimPrefix(err.Error(), "fraudgen: "))
		return 1
	}
	fmt.Fprintf(stdout, "fraud: wrote %d transactions", f.rows)
	if f.bad > 0 {
		fmt.Fprintf(stdout, " and %d bad records", f.bad)
	}
	fmt.Fprintf(stdout, " to %d files in %s\n", len(paths), dir)
	return 0
}

// writeBad adds n bad records to dir, cycling through the kinds of bad
// input a run dead-letters, each giving one dead letter: for jsonl a line
// without event time, a truncated line and a wrong-typed field (all in
// bad.jsonl); for parquet a file without the event-time column, a
// truncated file and a file whose amount column is a string. It returns
// the paths written. The names start with "bad" so that the files sort, and
// are read, before the txns files: a split not yet started whose event
// times are unknown holds the watermark back, and bad files read last would
// make every late transaction on time.
func writeBad(dir, scheme string, n int) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if scheme == "jsonl" {
		kinds := []string{
			`{"user_id":"u000001","amount":5000,"merchant":"acme"}`,
			`{"user_id":"u000002","amount":5000,"merchant":"acme","ts":"2024-01-01T00:1`,
			`{"user_id":"u000003","amount":"lots","merchant":"acme","ts":"2024-01-01T00:10:00Z"}`,
		}
		var data []byte
		for i := range n {
			data = append(data, kinds[i%len(kinds)]...)
			data = append(data, '\n')
		}
		path := filepath.Join(dir, "bad.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
		return []string{path}, nil
	}
	var paths []string
	for i := range n {
		var p string
		var err error
		switch i % 3 {
		case 0:
			p = filepath.Join(dir, fmt.Sprintf("bad-no-time-%04d.parquet", i/3))
			err = pq.WriteFile(p, []noTimeTxn{{UserID: "u000001", Amount: 5000, Merchant: "acme"}})
		case 1:
			p, err = writeTruncated(dir, i/3)
		case 2:
			p = filepath.Join(dir, fmt.Sprintf("bad-schema-%04d.parquet", i/3))
			err = pq.WriteFile(p, []badSchemaTxn{{UserID: "u000003", Amount: "lots", Merchant: "acme", At: fraudgen.DefaultStart}})
		}
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// noTimeTxn is fraud.Txn without its event-time column.
type noTimeTxn struct {
	UserID   string `parquet:"user_id"`
	Amount   int64  `parquet:"amount"`
	Merchant string `parquet:"merchant"`
}

// badSchemaTxn is fraud.Txn with the amount as a string.
type badSchemaTxn struct {
	UserID   string    `parquet:"user_id"`
	Amount   string    `parquet:"amount"`
	Merchant string    `parquet:"merchant"`
	At       time.Time `parquet:"ts,timestamp(microsecond)"`
}

// writeTruncated writes a Parquet file of a few transactions cut in half,
// as a crashed writer would leave it.
func writeTruncated(dir string, i int) (string, error) {
	p := filepath.Join(dir, fmt.Sprintf("bad-truncated-%04d.parquet", i))
	rows := fraudgen.Generate(fraudgen.Options{Rows: 100, Users: 10, Seed: uint64(i)})[0]
	if err := pq.WriteFile(p, rows); err != nil {
		return "", err
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if err := os.Truncate(p, st.Size()/2); err != nil {
		return "", err
	}
	return p, nil
}
