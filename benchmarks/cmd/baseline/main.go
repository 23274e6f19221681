// Command baseline is the hand-written fraud backfill weir is measured
// against (see benchmarks/baseline):
//
//	baseline --in='DIR/*.parquet' --out=OUTDIR [--window=5m] [--reader=generic|columns]
//
// --reader=generic (the default) reads rows with parquet-go's
// GenericReader (baseline.Run); --reader=columns decodes the three needed
// columns directly (baseline.RunColumns).
// It writes OUTDIR/part-0.jsonl and prints one line of counts and rate to
// standard error.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/weirflow/weir/benchmarks/baseline"
)

func main() {
	in := flag.String("in", "", "glob of the Parquet files to read")
	out := flag.String("out", "", "directory to write part-0.jsonl into")
	window := flag.Duration("window", 5*time.Minute, "tumbling window size")
	reader := flag.String("reader", "generic", "generic (GenericReader rows) or columns (column values)")
	flag.Parse()
	if err := run(*in, *out, *window, *reader); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(in, out string, window time.Duration, reader string) error {
	if in == "" || out == "" {
		return fmt.Errorf("--in and --out are required, e.g. --in='data/*.parquet' --out=out/")
	}
	runFn := baseline.Run
	switch reader {
	case "generic":
	case "columns":
		runFn = baseline.RunColumns
	default:
		return fmt.Errorf("unknown --reader=%s; use generic or columns", reader)
	}
	paths, err := filepath.Glob(in)
	if err != nil {
		return fmt.Errorf("bad --in glob %q: %v", in, err)
	}
	if len(paths) == 0 {
		return fmt.Errorf("--in=%s matches no files", in)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, "part-0.jsonl"))
	if err != nil {
		return err
	}
	begin := time.Now()
	st, err := runFn(paths, window, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	d := time.Since(begin)
	fmt.Fprintf(os.Stderr, "baseline (%s): %d rows, %d kept, %d outputs in %v (%.2f M rows/s)\n",
		reader, st.Rows, st.Kept, st.Outputs, d.Round(time.Millisecond), float64(st.Rows)/d.Seconds()/1e6)
	return nil
}
