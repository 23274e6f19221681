// Command statebench measures weir's keyed state and checkpoints, the
// figures of the fault-tolerance issue (package benchmarks/state), and
// prints them as Markdown:
//
//  1. a running Sum over 1,000,000 keys with checkpoints every 10 s vs the
//     same job without checkpoints, interleaved in one process;
//  2. about 1 GB of keyed state: checkpoint sync and async parts, bytes
//     written when 1% of the keys changed, time to restore;
//  3. state larger than --state-memory: output checked, throughput and
//     peak RSS against the same job with unlimited memory;
//  4. a keyed rule written with sdk.Process, a ListState and an event-time
//     timer (alert on 3 transactions over 500 within a minute) against the
//     same rule on a MapState, at 1×, 2× and 4× the rows: time per row.
//
// Each figure (and each case of the third) runs in a child process of this
// binary, so that peak RSS is per case. Run it from the repository root:
//
//	go run ./benchmarks/cmd/statebench            # all four figures
//	go run ./benchmarks/cmd/statebench -fig=1 -rounds=3
//	go run ./benchmarks/cmd/statebench -fig=4     # the list-state rule alone (about a minute)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"time"

	"github.com/weirflow/weir/benchmarks/state"
)

type config struct {
	figs     string
	dir      string
	par      int
	keys     int64
	records  int64
	target   time.Duration
	interval time.Duration
	rounds   int

	ckKeys     int64
	ckValue    int
	ckInterval time.Duration
	ckChange   float64
	ckRounds   int

	spKeys     int64
	spValue    int
	spMemMiB   int64
	spPasses   int
	spBaseline bool

	burstRows   int
	burstUsers  int
	burstRounds int

	child string
	out   string
}

func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.figs, "fig", "1,2,3,4", "figures to run (comma-separated: 1, 2, 3, 4)")
	fs.StringVar(&c.dir, "dir", filepath.Join(os.TempDir(), "weir-bench", "state"), "scratch directory (removed afterwards)")
	fs.IntVar(&c.par, "parallelism", 2, "parallelism of every job")
	fs.Int64Var(&c.keys, "keys", 1_000_000, "figure 1: distinct keys")
	fs.Int64Var(&c.records, "records", 250_000_000, "figure 1: records per run (0: calibrate to -target)")
	fs.DurationVar(&c.target, "target", 35*time.Second, "figure 1: duration of a run without checkpoints, when calibrating")
	fs.DurationVar(&c.interval, "interval", 10*time.Second, "figure 1: checkpoint interval")
	fs.IntVar(&c.rounds, "rounds", 2, "figure 1: rounds (each runs both cases)")
	fs.Int64Var(&c.ckKeys, "ck-keys", 1_000_000, "figure 2: keys")
	fs.IntVar(&c.ckValue, "ck-value", 1000, "figure 2: bytes of state per key")
	fs.DurationVar(&c.ckInterval, "ck-interval", 15*time.Second, "figure 2: checkpoint interval (longer than the load)")
	fs.Float64Var(&c.ckChange, "ck-change", 0.01, "figure 2: fraction of keys changed between checkpoints")
	fs.IntVar(&c.ckRounds, "ck-rounds", 3, "figure 2: incremental checkpoints with changes")
	fs.Int64Var(&c.spKeys, "spill-keys", 3_000_000, "figure 3: keys")
	fs.IntVar(&c.spValue, "spill-value", 500, "figure 3: bytes of state per key")
	fs.Int64Var(&c.spMemMiB, "spill-memory", 256, "figure 3: Options.StateMemory in MiB")
	fs.IntVar(&c.spPasses, "spill-passes", 2, "figure 3: records per key")
	fs.BoolVar(&c.spBaseline, "spill-baseline", true, "figure 3: also run with unlimited state memory")
	fs.IntVar(&c.burstRows, "burst-rows", 60_000, "figure 4: rows of the smallest run (then 2× and 4×)")
	fs.IntVar(&c.burstUsers, "burst-users", 1000, "figure 4: users")
	fs.IntVar(&c.burstRounds, "burst-rounds", 3, "figure 4: runs of each kind at each size")
	fs.StringVar(&c.child, "child", "", "internal: run one case in this process")
	fs.StringVar(&c.out, "out", "", "internal: where a child writes its result (JSON)")
}

// childResult is what a child process reports.
type childResult struct {
	Runs        []state.Run              `json:"runs,omitempty"`
	Checkpoints *state.CheckpointsResult `json:"checkpoints,omitempty"`
	Burst       []state.BurstRun         `json:"burst,omitempty"`
	PeakRSS     int64                    `json:"peak_rss"`
	// PeakHeap is the largest Go heap (live and not yet collected
	// objects) seen by sampling every 100 ms.
	PeakHeap int64  `json:"peak_heap"`
	Err      string `json:"err,omitempty"`
}

func main() {
	var c config
	c.flags(flag.CommandLine)
	flag.Parse()
	if c.child != "" {
		os.Exit(childMain(c))
	}
	if err := run(c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "statebench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}

func childMain(c config) int {
	ctx := context.Background()
	var res childResult
	var err error
	stopSampling := sampleHeap(&res.PeakHeap)
	switch c.child {
	case "throughput":
		res.Runs, err = state.Throughput(ctx, state.ThroughputConfig{Keys: c.keys, Records: c.records,
			Target: c.target, Parallelism: c.par, Interval: c.interval, Rounds: c.rounds, Dir: c.dir, Logf: logf})
	case "checkpoints":
		var r state.CheckpointsResult
		r, err = state.Checkpoints(ctx, state.CheckpointsConfig{Keys: c.ckKeys, ValueSize: c.ckValue,
			Parallelism: c.par, Interval: c.ckInterval, Change: c.ckChange, Rounds: c.ckRounds,
			Dir: c.dir, Logf: logf})
		res.Checkpoints = &r
	case "spill", "spill-baseline":
		mem, name := c.spMemMiB<<20, fmt.Sprintf("StateMemory %d MiB", c.spMemMiB)
		if c.child == "spill-baseline" {
			mem, name = 0, "StateMemory unlimited (baseline)"
		}
		var r state.Run
		r, err = state.Spill(ctx, name, state.SpillConfig{Keys: c.spKeys, ValueSize: c.spValue,
			Passes: c.spPasses, StateMemory: mem, Parallelism: c.par, Logf: logf})
		res.Runs = []state.Run{r}
	case "burst":
		res.Burst, err = state.Burst(ctx, state.BurstConfig{Rows: c.burstRows, Users: c.burstUsers,
			Parallelism: c.par, Rounds: c.burstRounds, Logf: logf})
	default:
		err = fmt.Errorf("unknown case %q", c.child)
	}
	if err != nil {
		res.Err = err.Error()
		logf("%s: %v", c.child, err)
	}
	stopSampling()
	res.PeakRSS = state.PeakRSS()
	b, _ := json.Marshal(res)
	if werr := os.WriteFile(c.out, b, 0o644); werr != nil {
		fmt.Fprintln(os.Stderr, "statebench:", werr)
		return 1
	}
	if err != nil {
		return 1
	}
	return 0
}

// sampleHeap records the largest heap object bytes in *peak every 100 ms
// until the returned function is called.
func sampleHeap(peak *int64) (stop func()) {
	done, ended := make(chan struct{}), make(chan struct{})
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(ended)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := int64(s[0].Value.Uint64()); v > *peak {
				*peak = v
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-ended }
}

// child runs one case in a child process and returns its result and the
// command line (for the report).
func child(c config, name string, extra ...string) (childResult, string, error) {
	var res childResult
	dir, err := os.MkdirTemp(c.dir, name+"-")
	if err != nil {
		return res, "", err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "result.json")
	args := append([]string{"-child=" + name, "-out=" + out, "-dir=" + dir,
		fmt.Sprintf("-parallelism=%d", c.par)}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	shown := "statebench " + strings.Join(slices.DeleteFunc(slices.Clone(args), func(a string) bool {
		return strings.HasPrefix(a, "-out=") || strings.HasPrefix(a, "-dir=")
	}), " ")
	logf("running %s", shown)
	runErr := cmd.Run()
	b, err := os.ReadFile(out)
	if err != nil {
		return res, shown, fmt.Errorf("%s: %v (no result: %v)", name, runErr, err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, shown, fmt.Errorf("%s: result: %w", name, err)
	}
	if res.Err != "" {
		return res, shown, errors.New(res.Err)
	}
	return res, shown, runErr
}

func run(c config, w io.Writer) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	figs := map[string]bool{}
	for _, f := range strings.Split(c.figs, ",") {
		figs[strings.TrimSpace(f)] = true
	}
	started := time.Now()
	fmt.Fprintf(w, "### keyed state and checkpoints, %s\n\n", started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "Machine: %d CPUs, %s/%s, %s. Load average before: %s. Command: `%s`\n\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), loadAvg(), commandLine())
	var failed []string
	if figs["1"] {
		res, cmd, err := child(c, "throughput", fmt.Sprintf("-keys=%d", c.keys), fmt.Sprintf("-records=%d", c.records),
			fmt.Sprintf("-target=%v", c.target), fmt.Sprintf("-interval=%v", c.interval), fmt.Sprintf("-rounds=%d", c.rounds))
		reportThroughput(w, c, res, cmd, err)
		if err != nil {
			failed = append(failed, "1")
		}
	}
	if figs["2"] {
		res, cmd, err := child(c, "checkpoints", fmt.Sprintf("-ck-keys=%d", c.ckKeys), fmt.Sprintf("-ck-value=%d", c.ckValue),
			fmt.Sprintf("-ck-interval=%v", c.ckInterval), fmt.Sprintf("-ck-change=%g", c.ckChange), fmt.Sprintf("-ck-rounds=%d", c.ckRounds))
		reportCheckpoints(w, c, res, cmd, err)
		if err != nil {
			failed = append(failed, "2")
		}
	}
	if figs["3"] {
		args := []string{fmt.Sprintf("-spill-keys=%d", c.spKeys), fmt.Sprintf("-spill-value=%d", c.spValue),
			fmt.Sprintf("-spill-memory=%d", c.spMemMiB), fmt.Sprintf("-spill-passes=%d", c.spPasses)}
		var cases []spillCase
		names := []string{"spill"}
		if c.spBaseline {
			names = append(names, "spill-baseline")
		}
		for _, n := range names {
			res, cmd, err := child(c, n, args...)
			cases = append(cases, spillCase{res, cmd, err})
			if err != nil {
				failed = append(failed, "3 ("+n+")")
			}
		}
		reportSpill(w, c, cases)
	}
	if figs["4"] {
		res, cmd, err := child(c, "burst", fmt.Sprintf("-burst-rows=%d", c.burstRows),
			fmt.Sprintf("-burst-users=%d", c.burstUsers), fmt.Sprintf("-burst-rounds=%d", c.burstRounds))
		reportBurst(w, c, res, cmd, err)
		if err != nil {
			failed = append(failed, "4")
		}
	}
	fmt.Fprintf(w, "Load average after: %s. Everything took %v.\n\n", loadAvg(), time.Since(started).Round(time.Second))
	if len(failed) > 0 {
		return fmt.Errorf("figure %s failed (see above)", strings.Join(failed, ", "))
	}
	return nil
}

func commandLine() string {
	args := slices.Clone(os.Args[1:])
	return strings.TrimSpace("statebench " + strings.Join(args, " "))
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func rss(n int64) string {
	if n == 0 {
		return "?"
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func verified(r state.Run) string {
	if r.Verified {
		return "identical"
	}
	return "NOT CHECKED"
}

func reportThroughput(w io.Writer, c config, res childResult, cmd string, err error) {
	fmt.Fprintf(w, "#### 1. Running Sum over %d keys: checkpoints every %v vs none\n\n", c.keys, c.interval)
	fmt.Fprintf(w, "Batch mode, parallelism %d, global window, `sdk.Aggregate(sdk.Sum)` per int64 key over generated records (each pass over the keys in a new order), "+
		"runs interleaved in one process (order swapped every round). Output checked against a plain loop.\n\n", c.par)
	if len(res.Runs) > 0 {
		fmt.Fprintln(w, "| run | case | records | time | M rec/s | CPU | M rec per CPU-s | checkpoints (failed) | mean sync / async / total | mean bytes | output |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	}
	var with, without, withCPU, withoutCPU []float64
	for i, r := range res.Runs {
		ckCol, meanCol, bytesCol := "-", "-", "-"
		// The last entry is the job's final checkpoint (taken at the end).
		periodic := r.Checkpoints
		if len(periodic) > 0 {
			periodic = periodic[:len(periodic)-1]
		}
		if strings.HasPrefix(r.Case, "checkpoints") {
			ckCol = fmt.Sprintf("%d + final (%d)", len(periodic), r.CheckpointsFailed)
			if len(periodic) > 0 {
				var s, a, t time.Duration
				var b int64
				for _, ck := range periodic {
					s, a, t, b = s+ck.Sync, a+ck.Async, t+ck.Total, b+ck.Bytes
				}
				n := time.Duration(len(periodic))
				meanCol = fmt.Sprintf("%s / %s / %s", ms(s/n), ms(a/n), ms(t/n))
				bytesCol = state.MiB(b / int64(len(periodic)))
			}
			with, withCPU = append(with, r.RecPerSec), append(withCPU, perCPU(r))
		} else if !strings.HasPrefix(r.Case, "calibration") {
			without, withoutCPU = append(without, r.RecPerSec), append(withoutCPU, perCPU(r))
		}
		fmt.Fprintf(w, "| %d | %s | %d | %s | %.2f | %s | %.2f | %s | %s | %s | %s |\n", i, r.Case, r.Records, ms(r.Duration),
			r.RecPerSec/1e6, ms(r.CPU), perCPU(r)/1e6, ckCol, meanCol, bytesCol, verified(r))
	}
	fmt.Fprintln(w)
	if err != nil {
		fmt.Fprintf(w, "**Failed:** `%v`\n\n", err)
	}
	if len(with) > 0 && len(with) == len(without) {
		ratios := make([]float64, len(with))
		for i := range with {
			ratios[i] = with[i] / without[i]
		}
		fmt.Fprintf(w, "- with checkpoints / without, rec/s: **%.2f×** (medians: %.2f vs %.2f M rec/s); best runs %.2f×; per round %s; goal ≥ 0.8×\n",
			median(with)/median(without), median(with)/1e6, median(without)/1e6, slices.Max(with)/slices.Max(without), fmtRatios(ratios))
		fmt.Fprintf(w, "- with checkpoints / without, records per CPU-second (less sensitive to other work on the machine): %.2f× (medians)\n",
			median(withCPU)/median(withoutCPU))
	}
	fmt.Fprintf(w, "- peak RSS of the process (all runs): %s; peak Go heap (sampled): %s\n", rss(res.PeakRSS), rss(res.PeakHeap))
	fmt.Fprintf(w, "- command: `%s`\n\n", cmd)
}

// perCPU is records per CPU-second of r (0 when CPU was not measured).
func perCPU(r state.Run) float64 {
	if r.CPU <= 0 {
		return 0
	}
	return float64(r.Records) / r.CPU.Seconds()
}

func fmtRatios(rs []float64) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = fmt.Sprintf("%.2f×", r)
	}
	return strings.Join(s, ", ")
}

func reportCheckpoints(w io.Writer, c config, res childResult, cmd string, err error) {
	raw := c.ckKeys * int64(c.ckValue)
	fmt.Fprintf(w, "#### 2. About %s of keyed state: checkpoints and restore\n\n", state.MiB(raw))
	fmt.Fprintf(w, "Stream mode, parallelism %d, a global-window aggregation whose accumulator is a %d-byte string per key "+
		"(sum, count, incompressible filler) over %d keys, fed from an in-memory stream; checkpoints every %v; "+
		"%.1f%% of the keys changed before each of %d checkpoints, then one with no change, then a stop with a savepoint.\n\n",
		c.par, c.ckValue, c.ckKeys, c.ckInterval, 100*c.ckChange, c.ckRounds)
	r := res.Checkpoints
	if r != nil && len(r.Checkpoints) > 0 {
		fmt.Fprintf(w, "Load of %d records: %s. Local Pebble state after the full checkpoint: %s; checkpoint store at the end: %s; savepoint: %s.\n\n",
			c.ckKeys, ms(r.Load), state.MiB(r.LocalBytes), state.MiB(r.StoreBytes), state.MiB(r.SavepointBytes))
		fmt.Fprintln(w, "| checkpoint | state changed since the previous | sync part | async part | total | bytes written |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
		for i, ck := range r.Checkpoints {
			kind := ""
			if i < len(r.Kinds) {
				kind = r.Kinds[i]
			}
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s |\n", ck.ID, kind, ms(ck.Sync), ms(ck.Async), ms(ck.Total), state.MiB(ck.Bytes))
		}
		fmt.Fprintf(w, "\nStop with savepoint (closing Options.Stop to Run returning): %s.\n\n", ms(r.Stop))
	}
	if r != nil && len(r.Restores) > 0 {
		fmt.Fprintln(w, "| restore run (no more input) | time (whole runner.Run) | output |")
		fmt.Fprintln(w, "| --- | --- | --- |")
		for _, x := range r.Restores {
			out := "-"
			if x.Verified {
				out = "identical"
			}
			t := ms(x.Duration)
			if n := len(x.Checkpoints); n > 0 && strings.Contains(x.Case, "final checkpoint") {
				t += fmt.Sprintf(" (of which the final checkpoint %s, %s written)", ms(x.Checkpoints[n-1].Total), state.MiB(x.Checkpoints[n-1].Bytes))
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", x.Case, t, out)
		}
		fmt.Fprintln(w)
	}
	if r != nil {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- note: %s\n", n)
		}
	}
	if err != nil {
		fmt.Fprintf(w, "**Failed:** `%v`\n\n", err)
	}
	fmt.Fprintf(w, "- peak RSS of the process: %s; peak Go heap (sampled): %s\n", rss(res.PeakRSS), rss(res.PeakHeap))
	fmt.Fprintf(w, "- command: `%s`\n\n", cmd)
}

type spillCase struct {
	res childResult
	cmd string
	err error
}

func reportSpill(w io.Writer, c config, cases []spillCase) {
	raw := c.spKeys * int64(c.spValue)
	fmt.Fprintf(w, "#### 3. %s of keyed state with StateMemory %d MiB\n\n", state.MiB(raw), c.spMemMiB)
	fmt.Fprintf(w, "Batch mode, parallelism %d, a global-window aggregation with a %d-byte string accumulator per key over %d keys, %d records per key "+
		"(%d records); one child process per case. Output (sum, count and filler of every key) checked against a plain loop. "+
		"Peak RSS includes the checking arrays (about %d MiB).\n\n",
		c.par, c.spValue, c.spKeys, c.spPasses, c.spKeys*int64(c.spPasses), c.spKeys*(8+8+8+1+16)>>20)
	fmt.Fprintln(w, "| case | records | time | M rec/s | CPU | peak RSS | peak Go heap (sampled) | output |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	var spill, base *state.Run
	for i, sc := range cases {
		for j := range sc.res.Runs {
			r := &sc.res.Runs[j]
			if r.Case == "" {
				continue
			}
			fmt.Fprintf(w, "| %s | %d | %s | %.3f | %s | %s | %s | %s |\n", r.Case, r.Records, ms(r.Duration), r.RecPerSec/1e6,
				ms(r.CPU), rss(sc.res.PeakRSS), rss(sc.res.PeakHeap), verified(*r))
			if i == 0 {
				spill = r
			} else {
				base = r
			}
		}
	}
	fmt.Fprintln(w)
	for _, sc := range cases {
		if sc.err != nil {
			fmt.Fprintf(w, "**Failed:** `%v`\n\n", sc.err)
		}
	}
	if spill != nil && base != nil && base.RecPerSec > 0 {
		fmt.Fprintf(w, "- StateMemory %d MiB / unlimited, rec/s: **%.2f×**; peak RSS %s vs %s\n", c.spMemMiB,
			spill.RecPerSec/base.RecPerSec, rss(cases[0].res.PeakRSS), rss(cases[1].res.PeakRSS))
	}
	if len(cases) > 0 && cases[0].err == nil {
		if h, budget := cases[0].res.PeakHeap, c.spMemMiB<<20; h > 2*budget+256<<20 {
			fmt.Fprintf(w, "- **StateMemory exceeded:** the spilling case's Go heap peaked at %s for a budget of %s (%s of state).\n",
				rss(h), rss(budget), state.MiB(raw))
		}
	}
	for _, sc := range cases {
		fmt.Fprintf(w, "- command: `%s`\n", sc.cmd)
	}
	fmt.Fprintln(w)
}

func reportBurst(w io.Writer, c config, res childResult, cmd string, err error) {
	fmt.Fprintf(w, "#### 4. A keyed rule on ListState vs MapState, %d, %d and %d rows\n\n", c.burstRows, 2*c.burstRows, 4*c.burstRows)
	fmt.Fprintf(w, "Batch mode, parallelism %d, `sdk.Process` keyed by user over generated transactions (%d users, %d rows per minute of event time, "+
		"in order, one split): alert when a user makes %d transactions over %d within %v. Written as a new user would: the times of the user's "+
		"recent large transactions in a `ListState` (`Get`, filter, `Update`) and an event-time timer a minute later that drops them; the "+
		"same with a `MapState` from time to count (`Iterate`, `Delete`). %d runs of each at each size, interleaved; every run's alerts checked "+
		"against a plain loop. Time is the whole `runner.Run`.\n\n",
		c.par, c.burstUsers, state.BurstRate, state.BurstCount, state.BurstAmount, state.BurstWindow, c.burstRounds)
	type key struct {
		kind string
		rows int
	}
	perRow := map[key][]float64{} // µs per row, wall
	cpuRow := map[key][]float64{} // CPU µs per row (the process's, Pebble's work included)
	for _, r := range res.Burst {
		k := key{r.Kind, r.Rows}
		perRow[k] = append(perRow[k], float64(r.Duration.Microseconds())/float64(r.Rows))
		cpuRow[k] = append(cpuRow[k], float64(r.CPU.Microseconds())/float64(r.Rows))
	}
	if len(res.Burst) > 0 {
		fmt.Fprintln(w, "| rows | µs/row ListState / MapState (wall, medians) | ListState / MapState | µs/row per CPU ListState / MapState | ListState / MapState, CPU | per row / at the smallest, ListState (wall, CPU) | per row / at the smallest, MapState (wall, CPU) | output |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	}
	med := func(m map[key][]float64, kind string, rows int) float64 { return median(m[key{kind, rows}]) }
	for _, mult := range []int{1, 2, 4} {
		rows := c.burstRows * mult
		l, m := med(perRow, "ListState", rows), med(perRow, "MapState", rows)
		lc, mc := med(cpuRow, "ListState", rows), med(cpuRow, "MapState", rows)
		l1, m1 := med(perRow, "ListState", c.burstRows), med(perRow, "MapState", c.burstRows)
		lc1, mc1 := med(cpuRow, "ListState", c.burstRows), med(cpuRow, "MapState", c.burstRows)
		if l == 0 || m == 0 || lc == 0 || mc == 0 {
			continue
		}
		out := "identical"
		for _, r := range res.Burst {
			if r.Rows == rows && !r.Verified {
				out = "NOT CHECKED"
			}
		}
		fmt.Fprintf(w, "| %d | %.1f / %.1f | **%.2f×** | %.1f / %.1f | %.2f× | %.2f×, %.2f× | %.2f×, %.2f× | %s |\n", rows, l, m, l/m, lc, mc, lc/mc,
			l/l1, lc/lc1, m/m1, mc/mc1, out)
	}
	fmt.Fprintln(w)
	if err != nil {
		fmt.Fprintf(w, "**Failed:** `%v`\n\n", err)
	}
	fmt.Fprintln(w, "- goals: ListState / MapState ≤ 2×; time per row flat from 1× to 4× the rows")
	fmt.Fprintf(w, "- peak RSS of the process: %s; peak Go heap (sampled): %s\n", rss(res.PeakRSS), rss(res.PeakHeap))
	fmt.Fprintf(w, "- command: `%s`\n\n", cmd)
}
