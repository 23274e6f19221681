// Command bench runs the fraud backfill benchmark and the Go
// micro-benchmarks; `make bench` runs it from the repository root:
//
//	go run ./benchmarks/cmd/bench [flags]
//
// It generates the input once into a cache directory (5,000,000
// transactions in Parquet by default), builds the hand-written baseline and
// the fraud binary, runs the two baselines (GenericReader rows, and a
// column reader) at GOMAXPROCS=1, weir at GOMAXPROCS=1
// parallelism 1 and weir at GOMAXPROCS=2 parallelism 2, several rounds each,
// checks every output against fraudgen.Expected, and prints rows/s, peak
// RSS, the ratios and the command lines as Markdown. Then it runs the
// codec, kernel and Parquet micro-benchmarks with -count and summarizes
// them with benchstat. Unless -skip-stream, it also measures the fraud job
// in stream mode against Kafka (an in-process broker): throughput against
// a franz-go decode loop, and end-to-end latency at a steady input rate
// (see package benchmarks/stream). It exits 1 if any run failed or gave
// wrong rows.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
)

// benchstatPkg is run with `go run`; it is never added to go.mod.
const benchstatPkg = "golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"

type config struct {
	rows, files, rowsPerGroup, users int
	span, disorder, window, bound    time.Duration
	seed                             uint64
	runs                             int
	dataDir, resultsDir, fraudBin    string
	skipWeir, skipMicro              bool
	runStream                        bool // the Kafka figures (false in tests)
	stream                           streamConfig
	count                            int
	benchtime                        string
	timeout                          time.Duration
}

func main() {
	var c config
	flag.IntVar(&c.rows, "rows", 5_000_000, "transactions to generate")
	flag.IntVar(&c.files, "files", 4, "Parquet files (partitions)")
	flag.IntVar(&c.rowsPerGroup, "rows-per-group", 100_000, "rows per Parquet row group")
	flag.IntVar(&c.users, "users", 10_000, "distinct users")
	flag.DurationVar(&c.span, "span", 24*time.Hour, "event time covered by each file")
	flag.DurationVar(&c.disorder, "disorder", 20*time.Second, "out-of-orderness inside a file (≤ the 30s bound)")
	flag.Uint64Var(&c.seed, "seed", 1, "generator seed")
	flag.IntVar(&c.runs, "runs", 3, "rounds of the end-to-end runs")
	flag.StringVar(&c.dataDir, "data", filepath.Join(os.TempDir(), "weir-bench"), "cache directory for generated input")
	flag.StringVar(&c.resultsDir, "results", "", "directory for logs and raw results (default: a new one under -data)")
	flag.StringVar(&c.fraudBin, "fraud", "", "prebuilt fraud binary (default: build ./examples/fraud/cmd/fraud)")
	flag.BoolVar(&c.skipWeir, "skip-weir", false, "run the baseline only")
	flag.BoolVar(&c.skipMicro, "skip-micro", false, "skip the Go micro-benchmarks")
	flag.IntVar(&c.count, "count", 10, "micro-benchmark -count")
	flag.StringVar(&c.benchtime, "benchtime", "200ms", "micro-benchmark -benchtime")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "limit of one end-to-end run")
	skipStream := flag.Bool("skip-stream", false, "skip the Kafka stream figures (throughput and latency)")
	c.stream.flags()
	measure := flag.String("measure", "", "internal: run the command after -- and write its measurements to this file")
	flag.Parse()
	if *measure != "" {
		os.Exit(measureMain(*measure, c.timeout, flag.Args()))
	}
	c.window, c.bound = 5*time.Minute, 30*time.Second
	c.runStream = !*skipStream
	ok, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(c config) (ok bool, err error) {
	root, err := moduleRoot()
	if err != nil {
		return false, err
	}
	if c.resultsDir == "" {
		c.resultsDir = filepath.Join(c.dataDir, "results", time.Now().UTC().Format("20060102T150405Z"))
	}
	if err := os.MkdirAll(c.resultsDir, 0o755); err != nil {
		return false, err
	}
	var report strings.Builder
	fmt.Fprintf(&report, "## fraud backfill, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&report, "Machine: %d CPUs, %s/%s, %s. Raw logs: %s\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, goVersion(), c.resultsDir)

	data, expected, err := prepareData(c)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(&report, "Input: %d transactions, %d Parquet files, %d rows per row group, %d users, %v per file, disorder %v, seed %d (%s); %d expected output rows.\n\n",
		c.rows, c.files, c.rowsPerGroup, c.users, c.span, c.disorder, c.seed, data, len(expected))

	bins := filepath.Join(c.resultsDir, "bin")
	baselineBin := filepath.Join(bins, "baseline")
	if err := goBuild(root, baselineBin, "./benchmarks/cmd/baseline"); err != nil {
		return false, err
	}
	glob := filepath.Join(data, "*.parquet")
	cases := []runCase{{
		name: "baseline (GenericReader rows)", procs: 1, bin: baselineBin,
		args: []string{"--in=" + glob, "--out=OUT", "--reader=generic"},
	}, {
		name: "baseline (column reader)", procs: 1, bin: baselineBin,
		args: []string{"--in=" + glob, "--out=OUT", "--reader=columns"},
	}}
	ok = true
	if !c.skipWeir {
		fraudBin := c.fraudBin
		if fraudBin == "" {
			fraudBin = filepath.Join(bins, "fraud")
			if err := goBuild(root, fraudBin, "./examples/fraud/cmd/fraud"); err != nil {
				fmt.Fprintf(os.Stderr, "bench: weir: FAILED: the fraud binary does not build, so weir is not measured:\n%v\n", err)
				fmt.Fprintf(&report, "weir: not measured, ./examples/fraud/cmd/fraud does not build.\n\n")
				fraudBin, ok = "", false
			}
		}
		if fraudBin != "" {
			for _, p := range []int{1, 2} {
				cases = append(cases, runCase{
					name: fmt.Sprintf("weir, parallelism %d", p), procs: p, bin: fraudBin,
					args: []string{"run", "--mode=batch", "--in=parquet:" + glob, "--out=jsonl:OUT",
						fmt.Sprintf("--parallelism=%d", p), "--progress=never"},
				})
			}
		}
	}
	if !runCases(c, cases, expected, &report) {
		ok = false
	}
	if c.runStream && !streamStep(c, &report) {
		ok = false
	}
	if !c.skipMicro {
		micro(c, root, &report)
	}
	out := report.String()
	fmt.Println()
	fmt.Print(out)
	if err := os.WriteFile(filepath.Join(c.resultsDir, "report.md"), []byte(out), 0o644); err != nil {
		return false, err
	}
	return ok, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run bench inside the weir module, e.g. `go run ./benchmarks/cmd/bench` from the repository root")
	}
	return filepath.Dir(mod), nil
}

func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}

func goBuild(root, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, bytes.TrimSpace(b))
	}
	return nil
}

// prepareData generates the input and expected output once per parameter
// set; expected.jsonl is written last and marks a complete directory.
func prepareData(c config) (dir string, expected []string, err error) {
	name := fmt.Sprintf("fraud-v2-%dr-%df-%dg-%du-%v-%v-s%d", c.rows, c.files, c.rowsPerGroup, c.users, c.span, c.disorder, c.seed)
	dir = filepath.Join(c.dataDir, name)
	exp := filepath.Join(dir, "expected.jsonl")
	if rows, err := readRows([]string{exp}); err == nil {
		fmt.Fprintf(os.Stderr, "bench: reusing %s\n", dir)
		return dir, rows, nil
	}
	if c.disorder > c.bound {
		return "", nil, fmt.Errorf("-disorder=%v exceeds the pipeline's %v bound; late rows would make outputs differ", c.disorder, c.bound)
	}
	fmt.Fprintf(os.Stderr, "bench: generating %d rows into %s\n", c.rows, dir)
	begin := time.Now()
	if err := os.RemoveAll(dir); err != nil {
		return "", nil, err
	}
	parts := fraudgen.Generate(fraudgen.Options{
		Rows: c.rows, Users: c.users, Partitions: c.files, Span: c.span, Disorder: c.disorder, Seed: c.seed,
	})
	if _, err := fraudgen.WriteParquet(dir, parts, c.rowsPerGroup); err != nil {
		return "", nil, err
	}
	want, late := fraudgen.Expected(parts, c.window, c.bound)
	if late != 0 {
		return "", nil, fmt.Errorf("generated input has %d late rows", late)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := range want {
		if err := enc.Encode(&want[i]); err != nil {
			return "", nil, err
		}
	}
	tmp := exp + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return "", nil, err
	}
	if err := os.Rename(tmp, exp); err != nil {
		return "", nil, err
	}
	fmt.Fprintf(os.Stderr, "bench: generated in %v\n", time.Since(begin).Round(time.Millisecond))
	rows, err := readRows([]string{exp})
	return dir, rows, err
}

// readRows reads UserTotal JSON lines from paths and returns them in a
// canonical, sorted text form, so that formatting differences (time zone
// spelling, field order) do not count as different rows.
func readRows(paths []string) ([]string, error) {
	var rows []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		line := 0
		for sc.Scan() {
			line++
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var r fraud.UserTotal
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s line %d: %w", p, line, err)
			}
			rows = append(rows, fmt.Sprintf("%s %d %d total=%d count=%d",
				r.UserID, r.WindowStart.UnixMicro(), r.WindowEnd.UnixMicro(), r.Total, r.Count))
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	slices.Sort(rows)
	return rows, nil
}

// compareRows describes the first difference between got and want, or
// returns "".
func compareRows(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("row %d of %d: got %q, want %q", i, len(want), got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("got %d rows, want %d", len(got), len(want))
	}
	return ""
}
