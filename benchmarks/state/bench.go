package state

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// Run is one measured job run.
type Run struct {
	Case     string        `json:"case"`
	Records  int64         `json:"records"`
	Duration time.Duration `json:"duration"`
	// RecPerSec is Records over Duration (the whole runner.Run call).
	RecPerSec         float64                  `json:"rec_per_sec"`
	Checkpoints       []runner.CheckpointStats `json:"checkpoints,omitempty"`
	CheckpointsFailed int                      `json:"checkpoints_failed,omitempty"`
	// CPU is the process's user+system CPU time during the run (0 when
	// not measured); less sensitive than Duration to other work on the
	// machine.
	CPU time.Duration `json:"cpu"`
	// Verified: the output equals the independent computation.
	Verified bool `json:"verified"`
}

func newRun(name string, records int64, st runner.Stats) Run {
	r := Run{Case: name, Records: records, Duration: st.Duration,
		Checkpoints: st.Checkpoints, CheckpointsFailed: st.CheckpointsFailed}
	if st.Duration > 0 {
		r.RecPerSec = float64(records) / st.Duration.Seconds()
	}
	return r
}

// SumPipeline is the state-heavy job of the first figure: a running Sum
// per key (global window) over g, written to sink.
func SumPipeline(g *Gen, sink sdk.Sink[sdk.Result[int64, int64]]) *sdk.Pipeline {
	p := sdk.NewPipeline(sdk.JobName("state-sum"))
	in := sdk.Read[Rec](p, g, sdk.Timestamps(RecTime))
	w := sdk.WindowInto(sdk.KeyBy(in, RecKey), sdk.Global())
	sdk.Write(sdk.Aggregate(w, sdk.Sum(RecValue)), sink)
	return p
}

// FatPipeline aggregates src per key with a [Fat] combiner of size bytes
// (global window), written to sink.
func FatPipeline(src sdk.Source[Rec], size int, sink sdk.Sink[sdk.Result[int64, FatOut]]) *sdk.Pipeline {
	p := sdk.NewPipeline(sdk.JobName("state-fat"))
	in := sdk.Read[Rec](p, src, sdk.Timestamps(RecTime))
	w := sdk.WindowInto(sdk.KeyBy(in, RecKey), sdk.Global())
	sdk.Write(sdk.Aggregate(w, Fat{Size: size}), sink)
	return p
}

// ThroughputConfig configures [Throughput].
type ThroughputConfig struct {
	Keys        int64
	Records     int64 // 0: calibrate to Target
	Target      time.Duration
	Parallelism int
	Interval    time.Duration // checkpoint interval
	Rounds      int
	Dir         string // scratch directory (checkpoint stores)
	Logf        func(string, ...any)
}

// Throughput runs the running per-key Sum over cfg.Records generated
// records, alternately without and with checkpoints (the order swapped
// every round), in batch mode, and checks every run's output. With
// Records 0 it first runs the job twice without checkpoints over 10×Keys
// records and sizes Records so that a run at the faster rate lasts about
// Target.
func Throughput(ctx context.Context, cfg ThroughputConfig) ([]Run, error) {
	var runs []Run
	if cfg.Records == 0 {
		// Two runs: the first also warms up (heap, page cache).
		g := &Gen{Records: 10 * cfg.Keys, Keys: cfg.Keys, Parts: 2 * cfg.Parallelism}
		var rate float64
		for range 2 {
			r, err := runSum(ctx, "calibration (no checkpoints)", g, cfg, false)
			if err != nil {
				return nil, err
			}
			runs = append(runs, r)
			rate = max(rate, r.RecPerSec)
		}
		n := int64(rate * cfg.Target.Seconds())
		cfg.Records = max(cfg.Keys, n/cfg.Keys*cfg.Keys)
		cfg.Logf("calibration: %.2f M rec/s: %d records per run", rate/1e6, cfg.Records)
	}
	g := &Gen{Records: cfg.Records, Keys: cfg.Keys, Parts: 2 * cfg.Parallelism}
	for round := range cfg.Rounds {
		for i := range 2 {
			withCk := (i+round)%2 == 1
			name := "no checkpoints"
			if withCk {
				name = fmt.Sprintf("checkpoints every %v", cfg.Interval)
			}
			r, err := runSum(ctx, name, g, cfg, withCk)
			if err != nil {
				return runs, err
			}
			runs = append(runs, r)
		}
	}
	return runs, nil
}

func runSum(ctx context.Context, name string, g *Gen, cfg ThroughputConfig, withCk bool) (Run, error) {
	sink := NewCollector[int64](g.Keys)
	opts := runner.Options{Parallelism: cfg.Parallelism, Mode: runner.Batch, Logf: cfg.Logf}
	if withCk {
		dir, err := os.MkdirTemp(cfg.Dir, "ck-")
		if err != nil {
			return Run{}, fmt.Errorf("state bench: %w", err)
		}
		defer os.RemoveAll(dir)
		opts.CheckpointDir, opts.CheckpointInterval = dir, cfg.Interval
	}
	cpu0 := cpuTime()
	st, err := runner.Run(ctx, SumPipeline(g, sink), opts)
	if err != nil {
		return Run{}, fmt.Errorf("state bench: %s: %w", name, err)
	}
	r := newRun(name, g.Records, st)
	r.CPU = cpuTime() - cpu0
	cfg.Logf("%s: %d records in %v (%.2f M rec/s), CPU %v, %d checkpoints, %d failed",
		name, g.Records, st.Duration.Round(time.Millisecond), r.RecPerSec/1e6, r.CPU.Round(time.Millisecond), len(st.Checkpoints), st.CheckpointsFailed)
	if withCk {
		for _, c := range st.Checkpoints {
			cfg.Logf("  checkpoint %d: sync %v async %v total %v, %s", c.ID, c.Sync.Round(time.Millisecond),
				c.Async.Round(time.Millisecond), c.Total.Round(time.Millisecond), MiB(c.Bytes))
		}
	}
	sum, _ := g.Expect(g.Records)
	if err := checkSums(sink, sum); err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	r.Verified = true
	return r, nil
}

// SpillConfig configures [Spill].
type SpillConfig struct {
	Keys        int64
	ValueSize   int
	Passes      int   // records = Keys × Passes
	StateMemory int64 // 0: unlimited (the in-memory baseline)
	Parallelism int
	Logf        func(string, ...any)
}

// Spill runs a [Fat] aggregation of Keys × ValueSize bytes of state in
// batch mode with cfg.StateMemory, and checks its output.
func Spill(ctx context.Context, name string, cfg SpillConfig) (Run, error) {
	g := &Gen{Records: cfg.Keys * int64(cfg.Passes), Keys: cfg.Keys, Parts: 2 * cfg.Parallelism}
	sink := NewCollector[FatOut](g.Keys)
	cpu0 := cpuTime()
	st, err := runner.Run(ctx, FatPipeline(g, cfg.ValueSize, sink), runner.Options{
		Parallelism: cfg.Parallelism, Mode: runner.Batch, StateMemory: cfg.StateMemory, Logf: cfg.Logf})
	if err != nil {
		return Run{}, fmt.Errorf("state bench: %s: %w", name, err)
	}
	r := newRun(name, g.Records, st)
	r.CPU = cpuTime() - cpu0
	cfg.Logf("%s: %d records in %v (%.2f M rec/s)", name, g.Records, st.Duration.Round(time.Millisecond), r.RecPerSec/1e6)
	sum, count := g.Expect(g.Records)
	if err := checkFat(sink, sum, count); err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	r.Verified = true
	return r, nil
}

// CheckpointsConfig configures [Checkpoints].
type CheckpointsConfig struct {
	Keys        int64
	ValueSize   int
	Parallelism int
	Interval    time.Duration
	Change      float64 // fraction of the keys changed between checkpoints
	Rounds      int     // checkpoints after changes (then one with none)
	Dir         string  // scratch directory, removed by the caller
	Logf        func(string, ...any)
	// SkipVerify skips the last run (restore in batch mode and check).
	SkipVerify bool
}

// CheckpointsResult is what [Checkpoints] measured.
type CheckpointsResult struct {
	// Load is the time to read and aggregate the initial Keys records.
	Load time.Duration `json:"load"`
	// LocalBytes is the size of the tasks' local state directories after
	// the full checkpoint; StoreBytes that of the checkpoint store, and
	// SavepointBytes of the savepoint, at the end of the stateful run.
	LocalBytes     int64 `json:"local_bytes"`
	StoreBytes     int64 `json:"store_bytes"`
	SavepointBytes int64 `json:"savepoint_bytes"`
	// Checkpoints of the stateful run, and what each held: "full",
	// "N keys changed", "no change", "savepoint", or "during load".
	Checkpoints []runner.CheckpointStats `json:"checkpoints"`
	Kinds       []string                 `json:"kinds"`
	// Stop is the time from closing Options.Stop to Run returning (the
	// savepoint is taken in it).
	Stop time.Duration `json:"stop"`
	// Restore runs: each restores the state and finds no more input.
	Restores []Run    `json:"restores"`
	Notes    []string `json:"notes,omitempty"`
}

// Checkpoints builds about Keys × ValueSize bytes of keyed state in a
// stream job (a [Fat] aggregation over an in-memory stream, global window,
// checkpoints every Interval), waits for the first checkpoint after the
// load (full), then changes Change × Keys keys before each of Rounds
// checkpoints (incremental), lets one checkpoint pass with no change, and
// stops the job with a savepoint. Then it restores three times, with no
// more input: from the savepoint without checkpoints, from the checkpoint
// directory (which ends with the job's final checkpoint), and from the
// savepoint in batch mode, which fires every key's window, and checks the
// output against the records fed.
func Checkpoints(ctx context.Context, cfg CheckpointsConfig) (CheckpointsResult, error) {
	var res CheckpointsResult
	const splits = 4
	stream := runnertest.NewStream[Rec](splits)
	sum, count := make([]int64, cfg.Keys), make([]int64, cfg.Keys)
	var fed int64
	feed := func(keys []int64) {
		parts := make([][]Rec, splits)
		for _, k := range keys {
			r := Rec{Key: k, V: fed%5 + 1, T: epochUS + fed}
			sum[k] += r.V
			count[k]++
			parts[fed%splits] = append(parts[fed%splits], r)
			fed++
		}
		for i, p := range parts {
			stream.Append(i, p...)
		}
	}
	g := &Gen{Keys: cfg.Keys}
	load := make([]int64, cfg.Keys)
	for i := range load {
		load[i] = g.KeyOf(int64(i))
	}
	ckDir, spDir := filepath.Join(cfg.Dir, "checkpoints"), filepath.Join(cfg.Dir, "savepoint")
	localDir := filepath.Join(cfg.Dir, "local")
	for _, d := range []string{ckDir, localDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return res, fmt.Errorf("state bench: %w", err)
		}
	}
	m := new(graph.Metrics)
	stop := make(chan struct{})
	opts := runner.Options{Parallelism: cfg.Parallelism, Mode: runner.Stream, Metrics: m,
		CheckpointDir: ckDir, CheckpointInterval: cfg.Interval, StateDir: localDir, DiscoveryInterval: -1,
		Stop: stop, SavepointDir: spDir, Logf: cfg.Logf}
	sink := NewCollector[FatOut](cfg.Keys)
	var (
		wg    sync.WaitGroup
		st    runner.Stats
		err   error
		ended = make(chan struct{})
	)
	start := time.Now()
	feed(load)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ended)
		st, err = runner.Run(ctx, FatPipeline(stream, cfg.ValueSize, sink), opts)
	}()
	// completions[i] is when the counter reached i+1.
	var completions []time.Time
	waitFor := func(what string, cond func() bool) error {
		deadline := time.Now().Add(10*cfg.Interval + 2*time.Minute)
		for !cond() {
			for int64(len(completions)) < m.Checkpoints.Load() {
				completions = append(completions, time.Now())
			}
			select {
			case <-ended:
				return fmt.Errorf("state bench: the job ended while waiting for %s: %v", what, err)
			case <-time.After(5 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("state bench: timed out waiting for %s", what)
			}
		}
		for int64(len(completions)) < m.Checkpoints.Load() {
			completions = append(completions, time.Now())
		}
		return nil
	}
	fail := func(e error) (CheckpointsResult, error) {
		close(stop)
		wg.Wait()
		return res, e
	}
	if e := waitFor("the load", func() bool { return m.RowsIn.Load() >= fed }); e != nil {
		return fail(e)
	}
	res.Load = time.Since(start)
	feeds := []feedEvent{{start: start, done: time.Now(), n: cfg.Keys, load: true}}
	// The first checkpoint triggered after the load holds all of it; ticks
	// come every Interval from about start.
	want := m.Checkpoints.Load() + 1
	if want > 1 || res.Load > cfg.Interval-250*time.Millisecond {
		want++ // one may have been in flight
	}
	if e := waitFor("the full checkpoint", func() bool { return m.Checkpoints.Load() >= want }); e != nil {
		return fail(e)
	}
	res.LocalBytes = dirSize(localDir)
	changed := int64(float64(cfg.Keys) * cfg.Change)
	for round := range cfg.Rounds + 1 {
		n := int64(0)
		if round < cfg.Rounds {
			n = changed
		}
		keys := make([]int64, n)
		for i := range keys {
			// Distinct keys, spread over the key space, different per round.
			keys[i] = g.KeyOf((int64(i)*cfg.Keys/max(n, 1) + int64(round)*7919) % cfg.Keys)
		}
		at := time.Now()
		feed(keys)
		if e := waitFor("the changes", func() bool { return m.RowsIn.Load() >= fed }); e != nil {
			return fail(e)
		}
		feeds = append(feeds, feedEvent{start: at, done: time.Now(), n: n})
		want++
		if e := waitFor("an incremental checkpoint", func() bool { return m.Checkpoints.Load() >= want }); e != nil {
			return fail(e)
		}
	}
	stopAt := time.Now()
	close(stop)
	wg.Wait()
	res.Stop = time.Since(stopAt)
	if err != nil {
		return res, fmt.Errorf("state bench: stateful run: %w", err)
	}
	res.Checkpoints = st.Checkpoints
	res.Kinds = labelCheckpoints(st.Checkpoints, completions, feeds, cfg.Keys)
	res.StoreBytes, res.SavepointBytes = dirSize(ckDir), dirSize(spDir)
	cfg.Logf("stateful run: %d checkpoints, local state %s, store %s, savepoint %s",
		len(st.Checkpoints), MiB(res.LocalBytes), MiB(res.StoreBytes), MiB(res.SavepointBytes))

	// Restores, with every split ended: nothing more to read.
	stream.EndAll()
	restore := func(name string, o runner.Options, p *sdk.Pipeline) error {
		o.Parallelism, o.Logf, o.DiscoveryInterval = cfg.Parallelism, cfg.Logf, -1
		rst, err := runner.Run(ctx, p, o)
		if err != nil {
			return fmt.Errorf("state bench: %s: %w", name, err)
		}
		r := newRun(name, 0, rst)
		if rst.RestoredFrom == 0 {
			return fmt.Errorf("state bench: %s: the job did not restore (RestoredFrom 0)", name)
		}
		res.Restores = append(res.Restores, r)
		cfg.Logf("%s: %v (restored from %d)", name, rst.Duration.Round(time.Millisecond), rst.RestoredFrom)
		return nil
	}
	discard := runnertest.Discard[sdk.Result[int64, FatOut]]{}
	if err := restore("restore from the savepoint (stream, no checkpoints)",
		runner.Options{Mode: runner.Stream, FromSavepoint: spDir}, FatPipeline(stream, cfg.ValueSize, discard)); err != nil {
		return res, err
	}
	if err := restore("restore from the latest checkpoint (stream; ends with a final checkpoint)",
		runner.Options{Mode: runner.Stream, CheckpointDir: ckDir}, FatPipeline(stream, cfg.ValueSize, discard)); err != nil {
		return res, err
	}
	if cfg.SkipVerify {
		return res, nil
	}
	check := NewCollector[FatOut](cfg.Keys)
	if err := restore("restore from the savepoint in batch mode, fire every key, check",
		runner.Options{Mode: runner.Batch, FromSavepoint: spDir}, FatPipeline(stream, cfg.ValueSize, check)); err != nil {
		return res, err
	}
	if err := checkFat(check, sum, count); err != nil {
		return res, err
	}
	res.Restores[len(res.Restores)-1].Verified = true
	return res, nil
}

// feedEvent is a batch of records appended to the stream at start and
// read by the sources at done.
type feedEvent struct {
	start, done time.Time
	n           int64
	load        bool
}

// labelCheckpoints says what changed in the state before each checkpoint,
// from its trigger time (observed completion minus Total) and the feeds:
// records read before a checkpoint's trigger are in it (the barrier
// follows them), those appended after it are not.
func labelCheckpoints(cks []runner.CheckpointStats, completions []time.Time, feeds []feedEvent, keys int64) []string {
	var out []string
	var prev time.Time
	full := false
	for i, ck := range cks {
		if i >= len(completions) {
			out = append(out, "savepoint (on stop)")
			continue
		}
		trig := completions[i].Add(-ck.Total)
		label, n := "", int64(0)
		for _, f := range feeds {
			switch {
			case f.start.Before(trig) && f.done.After(trig):
				label = "taken while records were being read"
				if f.load {
					label = "during the load (partial state)"
				}
			case !f.done.After(trig) && f.done.After(prev):
				if f.load {
					label, full = "first after the load: all state new", true
				} else {
					n += f.n
				}
			}
		}
		switch {
		case label != "":
		case !full:
			label = "during the load (partial state)"
		case n > 0:
			label = fmt.Sprintf("%d keys changed (%.1f%%)", n, 100*float64(n)/float64(keys))
		default:
			label = "no change"
		}
		out = append(out, label)
		prev = trig
	}
	return out
}

// dirSize is the total size of the regular files under dir (hard links
// counted once per name).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// MiB formats n bytes in MiB (or KiB when small).
func MiB(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// PeakRSS returns this process's peak resident set (VmHWM) in bytes, or 0.
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
