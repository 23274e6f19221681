package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// runCase is one end-to-end command; OUT in args is replaced by a fresh
// output directory per run.
type runCase struct {
	name  string
	procs int // GOMAXPROCS
	bin   string
	args  []string
}

type measurement struct {
	wall    time.Duration
	cpu     time.Duration // user + system
	maxRSS  int64         // bytes; 0 if unknown
	failure string        // "" when the run succeeded with the right rows
}

type summary struct {
	c    runCase
	runs []measurement
}

func (s *summary) ok() bool {
	for _, m := range s.runs {
		if m.failure != "" {
			return false
		}
	}
	return len(s.runs) > 0
}

func (s *summary) medianWall() time.Duration {
	w := make([]time.Duration, len(s.runs))
	for i, m := range s.runs {
		w[i] = m.wall
	}
	slices.Sort(w)
	return w[len(w)/2]
}

func (s *summary) rate(rows int) (median, lo, hi float64) {
	lo, hi = 1e18, 0
	for _, m := range s.runs {
		r := float64(rows) / m.wall.Seconds()
		lo, hi = min(lo, r), max(hi, r)
	}
	return float64(rows) / s.medianWall().Seconds(), lo, hi
}

func (s *summary) peakRSS() int64 {
	var p int64
	for _, m := range s.runs {
		p = max(p, m.maxRSS)
	}
	return p
}

// runCases runs every case c.runs times, interleaved so that drift on a
// shared machine spreads over all cases, and appends the table and ratios
// to report. It reports whether every run produced the expected rows.
func runCases(c config, cases []runCase, expected []string, report *strings.Builder) bool {
	loadBefore := loadAvg()
	sums := make([]*summary, len(cases))
	for i := range cases {
		sums[i] = &summary{c: cases[i]}
	}
	for round := range c.runs {
		for i, rc := range cases {
			if round > 0 && !sums[i].ok() {
				continue // one failure is enough to report
			}
			m := runOnce(c, rc, round, expected)
			status := "ok"
			if m.failure != "" {
				status = "FAILED: " + m.failure
			}
			fmt.Fprintf(os.Stderr, "bench: %-30s run %d: %6.2fs, %5.2f M rows/s, peak RSS %s, %s\n",
				rc.name, round+1, m.wall.Seconds(), float64(c.rows)/m.wall.Seconds()/1e6, mib(m.maxRSS), status)
			sums[i].runs = append(sums[i].runs, m)
		}
	}

	ok := true
	fmt.Fprintf(report, "| run | GOMAXPROCS | M rows/s: best | median | worst (%d runs) | CPU (least) | M rows per CPU-second | peak RSS | output |\n", c.runs)
	fmt.Fprintf(report, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range sums {
		if !s.ok() {
			ok = false
			fmt.Fprintf(report, "| %s | %d | – | – | – | – | – | – | FAILED: %s |\n", s.c.name, s.c.procs, strings.ReplaceAll(lastFailure(s), "|", "/"))
			continue
		}
		med, lo, hi := s.rate(c.rows)
		cpu := minCPU(s).Seconds()
		fmt.Fprintf(report, "| %s | %d | %.2f | %.2f | %.2f | %.2fs | %.2f | %s | identical |\n",
			s.c.name, s.c.procs, hi/1e6, med/1e6, lo/1e6, cpu, float64(c.rows)/cpu/1e6, mib(s.peakRSS()))
	}
	fmt.Fprintln(report)
	find := func(prefix string) *summary {
		for _, s := range sums {
			if strings.HasPrefix(s.c.name, prefix) && s.ok() {
				return s
			}
		}
		return nil
	}
	base, cols := find("baseline (GenericReader"), find("baseline (column")
	w1, w2 := find("weir, parallelism 1"), find("weir, parallelism 2")
	ratio := func(label string, a, b *summary, cpu bool) {
		if a == nil || b == nil {
			fmt.Fprintf(report, "- %s: not measured\n", label)
			return
		}
		amed, _, ahi := a.rate(c.rows)
		bmed, _, bhi := b.rate(c.rows)
		fmt.Fprintf(report, "- %s: %.2f× (best runs), %.2f× (medians)", label, ahi/bhi, amed/bmed)
		if cpu {
			fmt.Fprintf(report, ", %.2f× (rows per CPU-second)", minCPU(b).Seconds()/minCPU(a).Seconds())
		}
		fmt.Fprintln(report)
	}
	ratio("weir (1 core) / baseline with GenericReader (1 core), rows/s", w1, base, true)
	ratio("weir (1 core) / baseline with column reader (1 core), rows/s", w1, cols, true)
	ratio("weir (2 cores) / weir (1 core), rows/s", w2, w1, false)
	if base != nil && w1 != nil {
		fmt.Fprintf(report, "- peak RSS: baseline (GenericReader) %s", mib(base.peakRSS()))
		if cols != nil {
			fmt.Fprintf(report, ", baseline (column reader) %s", mib(cols.peakRSS()))
		}
		fmt.Fprintf(report, ", weir (1 core) %s", mib(w1.peakRSS()))
		if w2 != nil {
			fmt.Fprintf(report, ", weir (2 cores) %s", mib(w2.peakRSS()))
		}
		fmt.Fprintln(report)
	}
	fmt.Fprintf(report, "- load average before / after the runs: %s / %s (other work on the machine slows the wall-clock figures; CPU time is less affected)\n", loadBefore, loadAvg())
	fmt.Fprintf(report, "\nCommands (OUT is a fresh directory per run; rows/s is input rows over the wall time of the whole process, including start-up and writing the output):\n\n```\n")
	for _, s := range sums {
		fmt.Fprintf(report, "GOMAXPROCS=%d %s %s\n", s.c.procs, filepath.Base(s.c.bin), strings.Join(quoteArgs(s.c.args), " "))
	}
	fmt.Fprintf(report, "```\n\n")
	return ok
}

func lastFailure(s *summary) string {
	for _, m := range slices.Backward(s.runs) {
		if m.failure != "" {
			return m.failure
		}
	}
	return "no runs"
}

// minCPU is the CPU time of the least disturbed run.
func minCPU(s *summary) time.Duration {
	m := s.runs[0].cpu
	for _, r := range s.runs {
		m = min(m, r.cpu)
	}
	return m
}

// loadAvg returns the 1-minute load average, or "?" where /proc is missing.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func quoteArgs(args []string) []string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "*? ") {
			a = "'" + a + "'"
		}
		q[i] = a
	}
	return q
}

func mib(b int64) string {
	if b <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// runOnce runs rc as a child process with GOMAXPROCS set, then checks its
// output rows against expected.
func runOnce(c config, rc runCase, round int, expected []string) measurement {
	slug := strings.NewReplacer(" ", "", ",", "-", "(", "", ")", "").Replace(rc.name)
	out := filepath.Join(c.resultsDir, fmt.Sprintf("out-%s-%d", slug, round+1))
	os.RemoveAll(out)
	defer os.RemoveAll(out)
	args := make([]string, len(rc.args))
	for i, a := range rc.args {
		args[i] = strings.ReplaceAll(a, "OUT", out)
	}
	logPath := filepath.Join(c.resultsDir, fmt.Sprintf("log-%s-%d.txt", slug, round+1))
	logf, err := os.Create(logPath)
	if err != nil {
		return measurement{failure: err.Error()}
	}
	defer logf.Close()

	self, err := os.Executable()
	if err != nil {
		return measurement{failure: err.Error()}
	}
	mfile := filepath.Join(c.resultsDir, fmt.Sprintf("measure-%s-%d.json", slug, round+1))
	cmd := exec.Command(self, append([]string{"-measure=" + mfile, "-timeout=" + c.timeout.String(), "--", rc.bin}, args...)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", rc.procs))
	cmd.Stdout, cmd.Stderr = logf, logf
	runErr := cmd.Run()
	var mm measured
	b, err := os.ReadFile(mfile)
	if err == nil {
		err = json.Unmarshal(b, &mm)
	}
	if err != nil {
		return measurement{failure: fmt.Sprintf("no measurements (%v): %v (log: %s: %s)", runErr, err, logPath, tail(logPath))}
	}
	m := measurement{wall: mm.Wall, cpu: mm.CPU, maxRSS: mm.MaxRSS}
	if mm.Err != "" {
		m.failure = fmt.Sprintf("%s (log: %s: %s)", mm.Err, logPath, tail(logPath))
		return m
	}
	paths, _ := filepath.Glob(filepath.Join(out, "*.jsonl"))
	got, err := readRows(paths)
	if err != nil {
		m.failure = "reading output: " + err.Error()
		return m
	}
	if d := compareRows(got, expected); d != "" {
		m.failure = fmt.Sprintf("wrong output in %s: %s", out, d)
		keep := out + ".wrong"
		os.RemoveAll(keep)
		if os.Rename(out, keep) == nil {
			m.failure = fmt.Sprintf("wrong output (kept in %s): %s", keep, d)
		}
	}
	return m
}

// tail returns the last non-empty line of the file at path.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
