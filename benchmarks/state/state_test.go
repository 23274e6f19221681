package state

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func logf(t testing.TB) func(string, ...any) {
	return func(f string, a ...any) { t.Logf(f, a...) }
}

func TestGenVisitsEveryKeyOncePerPass(t *testing.T) {
	for _, keys := range []int64{1, 7, 1000, 1_000_000} {
		g := &Gen{Records: 2 * keys, Keys: keys, Parts: 3}
		for pass := range int64(2) {
			seen := make([]bool, keys)
			for i := pass * keys; i < (pass+1)*keys; i++ {
				k := g.KeyOf(i)
				if k < 0 || k >= keys || seen[k] {
					t.Fatalf("keys %d: record %d has key %d (repeated or out of range)", keys, i, k)
				}
				seen[k] = true
			}
		}
	}
}

func TestFat(t *testing.T) {
	f := Fat{Size: 100}
	a := f.Add(f.Create(), Rec{Key: 9, V: 3})
	a = f.Add(a, Rec{Key: 9, V: 4})
	if got := f.Result(a); got != (FatOut{Sum: 7, Count: 2, OK: true}) {
		t.Fatalf("Result = %+v", got)
	}
	b := f.Merge(a, f.Add("", Rec{Key: 9, V: 1}))
	if got := f.Result(b); got != (FatOut{Sum: 8, Count: 3, OK: true}) {
		t.Fatalf("Merge: %+v", got)
	}
	bad := []byte(a)
	bad[50]++
	if f.Result(string(bad)).OK {
		t.Fatal("a corrupt accumulator passes")
	}
}

// TestThroughputSmall runs the first figure at a small size: both runs'
// outputs are checked inside Throughput.
func TestThroughputSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs")
	}
	runs, err := Throughput(context.Background(), ThroughputConfig{Keys: 20_000, Records: 200_000,
		Parallelism: 2, Interval: 20 * time.Millisecond, Rounds: 1, Dir: t.TempDir(), Logf: logf(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || !runs[0].Verified || !runs[1].Verified {
		t.Fatalf("runs: %+v", runs)
	}
}

// TestSpillSmall runs the third figure at a small size: the state (2,000
// keys of 1 KiB) is about 8 times StateMemory.
func TestSpillSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs")
	}
	r, err := Spill(context.Background(), "spill", SpillConfig{Keys: 2000, ValueSize: 1024, Passes: 3,
		StateMemory: 256 << 10, Parallelism: 2, Logf: logf(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Verified {
		t.Fatalf("not verified: %+v", r)
	}
}

// TestCheckpointsSmall runs the second figure at a small size.
func TestCheckpointsSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs")
	}
	res, err := Checkpoints(context.Background(), CheckpointsConfig{Keys: 20_000, ValueSize: 200,
		Parallelism: 2, Interval: 300 * time.Millisecond, Change: 0.01, Rounds: 2, Dir: t.TempDir(), Logf: logf(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range res.Checkpoints {
		t.Logf("checkpoint %d (%s): sync %v async %v total %v, %d bytes", c.ID, res.Kinds[i], c.Sync, c.Async, c.Total, c.Bytes)
	}
	for _, r := range res.Restores {
		t.Logf("%s: %v", r.Case, r.Duration)
	}
	t.Logf("notes: %v", res.Notes)
	if len(res.Restores) != 3 || !res.Restores[2].Verified {
		t.Fatalf("restores: %+v", res.Restores)
	}
}

// BenchmarkRunningSum runs the first figure's job (200,000 keys, 4 records
// per key) per iteration, without checkpoints and with a checkpoint every
// 100 ms; rec/s is the figure to compare.
func BenchmarkRunningSum(b *testing.B) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
	}{{"no-checkpoints", 0}, {"checkpoints-100ms", 100 * time.Millisecond}} {
		b.Run(tc.name, func(b *testing.B) {
			g := &Gen{Records: 800_000, Keys: 200_000, Parts: 4}
			cfg := ThroughputConfig{Parallelism: 2, Interval: tc.interval, Dir: b.TempDir(), Logf: func(string, ...any) {}}
			var total time.Duration
			for b.Loop() {
				r, err := runSum(context.Background(), tc.name, g, cfg, tc.interval > 0)
				if err != nil {
					b.Fatal(err)
				}
				total += r.Duration
			}
			b.ReportMetric(float64(g.Records)*float64(b.N)/total.Seconds(), "rec/s")
		})
	}
}

// BenchmarkSpill runs the third figure's job (20,000 keys of 1 KiB, 3
// records per key) per iteration with StateMemory 2 MiB and unlimited.
func BenchmarkSpill(b *testing.B) {
	for _, mem := range []int64{0, 2 << 20} {
		b.Run(fmt.Sprintf("state-memory-%d", mem), func(b *testing.B) {
			cfg := SpillConfig{Keys: 20_000, ValueSize: 1024, Passes: 3, StateMemory: mem, Parallelism: 2, Logf: func(string, ...any) {}}
			var total time.Duration
			for b.Loop() {
				r, err := Spill(context.Background(), "bench", cfg)
				if err != nil {
					b.Fatal(err)
				}
				total += r.Duration
			}
			b.ReportMetric(float64(cfg.Keys)*float64(cfg.Passes)*float64(b.N)/total.Seconds(), "rec/s")
		})
	}
}

// TestBurstSmall runs the fourth figure at a small size: every run's
// alerts are checked inside Burst.
func TestBurstSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs")
	}
	runs, err := Burst(context.Background(), BurstConfig{Rows: 3000, Users: 100, Parallelism: 2, Rounds: 1, Logf: logf(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 6 {
		t.Fatalf("runs: %+v", runs)
	}
	for _, r := range runs {
		if !r.Verified {
			t.Fatalf("not verified: %+v", r)
		}
	}
}
