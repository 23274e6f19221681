package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// microBench is one `go test -bench` invocation.
type microBench struct {
	name, pkg, pattern string
}

var micros = []microBench{
	{"generated codec (fraud.Txn)", "./examples/fraud/", "Codec"},
	{"filter+map: generated kernel vs generic path", "./runner/", "FilterMap"},
	{"Parquet read", "./io/parquet/", "."},
	{"baseline building blocks", "./benchmarks/...", "."},
}

// micro runs the micro-benchmarks and appends their benchstat summaries
// (or raw output when benchstat is unavailable) to report.
func micro(c config, root string, report *strings.Builder) {
	fmt.Fprintf(report, "## micro-benchmarks\n\n")
	for _, mb := range micros {
		args := []string{"test", "-run=^$", "-bench=" + mb.pattern, "-benchmem",
			fmt.Sprintf("-count=%d", c.count), "-benchtime=" + c.benchtime, mb.pkg}
		cmdline := "go " + strings.Join(args, " ")
		fmt.Fprintf(os.Stderr, "bench: %s\n", cmdline)
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		out, err := cmd.CombinedOutput()
		rawName := "micro-" + strings.Trim(strings.NewReplacer("/", "-", ".", "").Replace(mb.pkg), "-") + ".txt"
		raw := filepath.Join(c.resultsDir, rawName)
		os.WriteFile(raw, out, 0o644)
		fmt.Fprintf(report, "### %s\n\n`GOMAXPROCS=1 %s`\n\n", mb.name, cmdline)
		if err != nil || !bytes.Contains(out, []byte("\nBenchmark")) {
			why := "no benchmarks"
			if err != nil {
				why = err.Error()
			}
			fmt.Fprintf(report, "Not available (%s): %s\n\n", why, lastLine(out))
			continue
		}
		summary := benchstat(c.resultsDir, rawName)
		if summary == "" {
			summary = benchLines(out)
		}
		fmt.Fprintf(report, "```\n%s\n```\n\n", strings.TrimSpace(summary))
	}
}

// benchstat summarizes the raw result file name in dir (time, rows/s and
// allocations; the raw file has everything), or returns "" if benchstat
// cannot be run (it is fetched through the module cache, never go.mod).
func benchstat(dir, name string) string {
	cmd := exec.Command("go", "run", benchstatPkg, "-filter", ".unit:(sec/op OR sec/row OR rows/s OR allocs/op)", name)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func benchLines(out []byte) string {
	var b strings.Builder
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
