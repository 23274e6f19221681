// Command joinbench measures weir's joins on generated Parquet input: the
// temporal join at parallelism 1 against a hand-written Go loop
// (GOMAXPROCS=1 for both), and the interval and window joins at
// parallelism 2 with the peak size of their state on disk. See
// benchmarks/join, and RESULTS.md ("Joins") for the figures.
//
//	go run ./benchmarks/cmd/joinbench [-clicks=5000000] [-runs=3] [-cpuprofile=DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/weirflow/weir/benchmarks/join"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/sdk"
)

func main() {
	var (
		cfg      join.Config
		data     = flag.String("data", filepath.Join(os.TempDir(), "weir-bench", "join"), "where the generated input is cached")
		runs     = flag.Int("runs", 3, "rounds of the temporal join figure (baseline and weir alternate)")
		cases    = flag.String("cases", "temporal,interval,window", "which figures to run")
		interval = flag.Duration("interval", time.Minute, "the interval join's bound: versions within this of a click, either way")
		window   = flag.Duration("window", time.Minute, "the window join's tumbling window")
		profDir  = flag.String("cpuprofile", "", "write a CPU profile of each weir run to this directory")
	)
	flag.IntVar(&cfg.Clicks, "clicks", 5_000_000, "clicks to generate")
	flag.IntVar(&cfg.Versions, "versions", 100_000, "profile versions to generate")
	flag.IntVar(&cfg.Users, "users", 20_000, "users")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "generator seed")
	flag.DurationVar(&cfg.Span, "span", 24*time.Hour, "event time the input spans")
	flag.Parse()
	log.SetFlags(0)
	b := &bench{profDir: *profDir, data: *data}

	start := time.Now()
	f, cached, err := join.Generate(*data, cfg)
	if err != nil {
		log.Fatal(err)
	}
	how := "generated in " + time.Since(start).Round(time.Millisecond).String()
	if cached {
		how = "cached"
	}
	fmt.Printf("input: %d clicks, %d profile versions, %d users over %s (seed %d), %s: %s\n",
		cfg.Clicks, cfg.Versions, cfg.Users, cfg.Span, cfg.Seed, how, filepath.Dir(f.Clicks))
	fmt.Printf("machine: %d CPUs, %s/%s, %s\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	input := int64(cfg.Clicks + cfg.Versions)

	if strings.Contains(*cases, "temporal") {
		// Each round runs the loop, then weir with the watermark the
		// splits give (it advances as the input is read, so the join's
		// timers fire all along), then weir with PerfectWatermark (at -∞
		// until the end of input: every key's records wait in state and
		// are joined in one timer per key at the end).
		runtime.GOMAXPROCS(1)
		var base, weir, perf []time.Duration
		for r := range *runs {
			t0 := time.Now()
			want, err := join.Baseline(f)
			if err != nil {
				log.Fatal(err)
			}
			base = append(base, time.Since(t0))
			for _, pw := range []bool{false, true} {
				runtime.GC()
				c := join.NewCounter(join.AddEnriched)
				b.perfect = pw
				st, err := b.run(fmt.Sprintf("temporal-%d-perfect=%v", r, pw), join.Temporal(f, c), 1)
				if err != nil {
					log.Fatal(err)
				}
				if got := c.Sum(); got != want {
					log.Fatalf("temporal join (PerfectWatermark %v): weir emitted %+v, the loop %+v", pw, got, want)
				}
				if pw {
					perf = append(perf, st.wall)
				} else {
					weir = append(weir, st.wall)
				}
				fmt.Printf("round %d: PerfectWatermark=%v: weir %s, peak state on disk %s\n", r+1, pw, st.wall.Round(time.Millisecond), mib(st.peakDisk))
			}
			fmt.Printf("round %d: loop %s (%d rows, %d with a profile; weir's rows have the same count and checksum)\n",
				r+1, base[r].Round(time.Millisecond), want.Rows, want.Matched)
			runtime.GC()
		}
		row := func(name string, d []time.Duration) {
			fmt.Printf("| %s | %s rows/s (%s) | %s rows/s (%s) | %.2f× | %.2f× |\n", name,
				rate(input, best(d)), best(d).Round(time.Millisecond), rate(input, median(d)), median(d).Round(time.Millisecond),
				best(base).Seconds()/best(d).Seconds(), median(base).Seconds()/median(d).Seconds())
		}
		fmt.Printf("\n| temporal join, GOMAXPROCS=1, parallelism 1, %d input rows | best | median | / loop, best | / loop, median |\n| --- | --- | --- | --- | --- |\n", input)
		row("hand-written loop (parquet-go GenericReader, sort, map)", base)
		row("weir: sdk.TemporalJoin, batch mode", weir)
		row("weir: the same with PerfectWatermark", perf)
		fmt.Println()
	}

	runtime.GOMAXPROCS(runtime.NumCPU())
	b.perfect = false
	for _, tc := range []struct {
		name  string
		build func(sdk.Sink[join.Enriched]) *sdk.Pipeline
	}{
		{"interval", func(s sdk.Sink[join.Enriched]) *sdk.Pipeline { return join.Interval(f, *interval, s) }},
		{"window", func(s sdk.Sink[join.Enriched]) *sdk.Pipeline { return join.Window(f, *window, s) }},
	} {
		if !strings.Contains(*cases, tc.name) {
			continue
		}
		c := join.NewCounter[join.Enriched](nil)
		st, err := b.run(tc.name, tc.build(c), 2)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s join, parallelism 2, GOMAXPROCS=%d: %s input rows/s (%s), %d rows out, peak state on disk %s\n",
			tc.name, runtime.GOMAXPROCS(0), rate(input, st.wall), st.wall.Round(time.Millisecond), c.Sum().Rows, mib(st.peakDisk))
	}
}

type bench struct {
	profDir, data string
	perfect       bool
}

type stats struct {
	wall     time.Duration
	peakDisk int64
}

// run runs p in batch mode at parallelism par with its state under a
// fresh directory, sampling the directory's size every 50 ms.
func (b *bench) run(name string, p *sdk.Pipeline, par int) (stats, error) {
	dir, err := os.MkdirTemp(b.data, "state-")
	if err != nil {
		return stats{}, err
	}
	defer os.RemoveAll(dir)
	var (
		peak int64
		mu   sync.Mutex
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			n := du(dir)
			mu.Lock()
			peak = max(peak, n)
			mu.Unlock()
		}
	}()
	if b.profDir != "" {
		pf, err := os.Create(filepath.Join(b.profDir, "join-"+name+".pprof"))
		if err != nil {
			return stats{}, err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return stats{}, err
		}
		defer pprof.StopCPUProfile()
	}
	t0 := time.Now()
	_, err = runner.Run(context.Background(), p, runner.Options{Parallelism: par, Mode: runner.Batch, StateDir: dir, PerfectWatermark: b.perfect})
	wall := time.Since(t0)
	close(done)
	wg.Wait()
	return stats{wall: wall, peakDisk: peak}, err
}

// du is the size of the files under dir.
func du(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func rate(n int64, d time.Duration) string {
	r := float64(n) / d.Seconds()
	if r >= 1e6 {
		return fmt.Sprintf("%.2f M", r/1e6)
	}
	return fmt.Sprintf("%.0f k", r/1e3)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func best(d []time.Duration) time.Duration { return slices.Min(d) }

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
