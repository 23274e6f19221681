package ops

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/keyed"
	"github.com/weirflow/weir/state"
)

// cpuTime returns the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

type discard struct{ n int }

func (d *discard) Emit(b any) error { d.n++; return nil }

// BenchmarkAgg measures the window aggregation per record: 1-second
// tumbling windows, 10 µs between records, 10,000 keys (about 10 updates
// per key and window), batches of 1,024, a watermark after each batch.
// "memory" has no backend; "backend" keeps state in a Pebble backend that
// never spills; "backend-ckptN" also snapshots the operator every N
// records (the write-back of a checkpoint's sync part, not the Pebble
// checkpoint); "spill-half" and "spill-tenth" have a budget of about half
// and a tenth of the state (about 1.2 MB estimated), with keys drawn
// uniformly or by a Zipf law; "-disk" keeps the backend on a real
// directory rather than in memory.
func BenchmarkAgg(b *testing.B) {
	const nkeys = 10000
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%05d", i)
	}
	// Key draws: uniform, or Zipf (s=1.1) as real key popularity often is.
	const ndraws = 1 << 20
	r := rand.New(rand.NewPCG(1, 2))
	uniform, zipf := make([]int32, ndraws), make([]int32, ndraws)
	z := rand.NewZipf(r, 1.1, 1, nkeys-1)
	for i := range uniform {
		uniform[i] = int32(r.IntN(nkeys))
		zipf[i] = int32(z.Uint64())
	}
	for _, bc := range []struct {
		name    string
		backend bool
		memory  int64
		ckpt    int
		draws   []int32
		disk    bool // the backend on a real directory, not in memory
	}{
		{"memory", false, 0, 0, uniform, false},
		{"backend", true, 0, 0, uniform, false},
		{"backend-ckpt100k", true, 0, 100000, uniform, false},
		{"backend-ckpt1m", true, 0, 1000000, uniform, false},
		{"spill-half", true, 600 << 10, 0, uniform, false},
		{"spill-tenth", true, 120 << 10, 0, uniform, false},
		{"spill-half-zipf", true, 600 << 10, 0, zipf, false},
		{"spill-tenth-zipf", true, 120 << 10, 0, zipf, false},
		{"spill-tenth-disk", true, 120 << 10, 0, uniform, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := AggConfig[string, kv, int64, int64]{Spec: WindowSpec{Kind: WindowTumbling, Size: 1e6, Slide: 1e6},
				Key: keyOf, Comb: sumComb{}, Hash: BuiltinHash[string](), KeyCodec: stringCodec,
				AccCodec: int64Codec, StateMemory: bc.memory}
			op := NewWindowAgg(cfg)()
			ctx := graph.OpContext{MaxParallelism: 128}
			if bc.backend {
				opts := state.Options{Dir: "db", FS: vfs.NewMem()}
				if bc.disk {
					opts = state.Options{Dir: filepath.Join(b.TempDir(), "db")}
				}
				be, err := state.Open(opts)
				if err != nil {
					b.Fatal(err)
				}
				defer be.Close()
				ctx.State = keyed.NewView(be, "agg")
			}
			out := &discard{}
			if err := op.Open(ctx, []graph.Output{out, out}); err != nil {
				b.Fatal(err)
			}
			defer op.Close()
			batch := base.NewBatch[kv](1024)
			var ckpt base.CheckpointID
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; {
				batch.Reset()
				for j := 0; j < 1024 && i < b.N; j++ {
					batch.Append(kv{K: keys[bc.draws[i%ndraws]], V: 1}, base.Timestamp(int64(i)*10))
					i++
				}
				if err := op.Process(0, batch); err != nil {
					b.Fatal(err)
				}
				if err := op.Watermark(base.Timestamp(int64(i)*10 - 1000)); err != nil {
					b.Fatal(err)
				}
				if bc.ckpt > 0 && i/bc.ckpt != (i-batch.Len())/bc.ckpt {
					ckpt++
					if err := op.(graph.Stateful).Snapshot(ckpt); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			// Process CPU time (GC and Pebble included) is steadier than
			// wall time on a shared machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			if st := op.(*aggOp[string, kv, int64, int64]).st; st != nil {
				b.ReportMetric(float64(st.stats.evicted)/float64(b.N), "evicted/op")
			}
		})
	}
}

// fatComb keeps a per-key accumulator of a fixed size: Add replaces it
// with one of two fillers of the key, so every update changes the value
// and the bytes do not compress.
type fatComb struct{ fill map[string][2]string }

func (fatComb) Create() string              { return "" }
func (c fatComb) Add(a string, r kv) string { return c.fill[r.K][r.V&1] }
func (fatComb) Merge(a, b string) string    { return b }
func (fatComb) Result(a string) string      { return a }
func randomString(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return string(b)
}

// BenchmarkAggSnapshot measures the synchronous part of a checkpoint of a
// window aggregation whose every entry is dirty: the operator's Snapshot
// (the write-back) and the backend's Snapshot (flush and Pebble
// checkpoint) on a real directory, per entry written back. Entries are
// 100,000 keys of one global-like window, with an 8-byte sum or a
// 1000-byte accumulator.
func BenchmarkAggSnapshot(b *testing.B) {
	const nkeys = 100000
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%07d", i)
	}
	for _, size := range []int{8, 1000} {
		b.Run(fmt.Sprintf("acc%dB", size), func(b *testing.B) {
			dir := b.TempDir()
			be, err := state.Open(state.Options{Dir: filepath.Join(dir, "db")})
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			ctx := graph.OpContext{MaxParallelism: 128, State: keyed.NewView(be, "agg")}
			spec := WindowSpec{Kind: WindowTumbling, Size: 1 << 60, Slide: 1 << 60}
			var op graph.Operator
			if size == 8 {
				op = NewWindowAgg(AggConfig[string, kv, int64, int64]{Spec: spec, Key: keyOf, Comb: sumComb{},
					Hash: BuiltinHash[string](), KeyCodec: stringCodec, AccCodec: int64Codec})()
			} else {
				r := rand.New(rand.NewPCG(3, 4))
				fill := make(map[string][2]string, nkeys)
				for _, k := range keys {
					fill[k] = [2]string{randomString(r, size), randomString(r, size)}
				}
				op = NewWindowAgg(AggConfig[string, kv, string, string]{Spec: spec, Key: keyOf, Comb: fatComb{fill},
					Hash: BuiltinHash[string](), KeyCodec: stringCodec, AccCodec: stringCodec})()
			}
			out := &discard{}
			if err := op.Open(ctx, []graph.Output{out, out}); err != nil {
				b.Fatal(err)
			}
			defer op.Close()
			batch := base.NewBatch[kv](1024)
			touchAll := func(round int) {
				for i := 0; i < nkeys; {
					batch.Reset()
					for j := 0; j < 1024 && i < nkeys; j++ {
						batch.Append(kv{K: keys[i], V: int64(round)}, 1)
						i++
					}
					if err := op.Process(0, batch); err != nil {
						b.Fatal(err)
					}
				}
			}
			var wall, opWall time.Duration
			var cpu int64
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				touchAll(i)
				runtime.GC()
				b.StartTimer()
				t0, c0 := time.Now(), cpuTime()
				if err := op.(graph.Stateful).Snapshot(base.CheckpointID(i + 1)); err != nil {
					b.Fatal(err)
				}
				opWall += time.Since(t0)
				if _, err := be.Snapshot(filepath.Join(dir, fmt.Sprintf("snap%d", i))); err != nil {
					b.Fatal(err)
				}
				wall += time.Since(t0)
				cpu += cpuTime() - c0
			}
			b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N*nkeys), "ns/entry")
			b.ReportMetric(float64(cpu)/float64(b.N*nkeys), "cpu-ns/entry")
			b.ReportMetric(float64(opWall.Nanoseconds())/float64(b.N*nkeys), "op-ns/entry")
		})
	}
}

// BenchmarkAggSpillFat is figure 3 of benchmarks/state in small: a global
// window over nkeys keys with 500-byte accumulators, two records per key
// (each pass over the keys in a new order), StateMemory a fifth of the
// state, the backend on a real directory (CacheBytes a quarter of
// StateMemory, as the runner sets it). One op is one record.
func BenchmarkAggSpillFat(b *testing.B) {
	const nkeys, budget = 200000, 24 << 20
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%07d", i)
	}
	r := rand.New(rand.NewPCG(5, 6))
	order := make([]int32, 0, 2*nkeys)
	for range 2 {
		for _, i := range r.Perm(nkeys) {
			order = append(order, int32(i))
		}
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	evicted, loaded := 0, 0
	for b.Loop() {
		b.StopTimer()
		be, err := state.Open(state.Options{Dir: filepath.Join(b.TempDir(), "db"), CacheBytes: budget / 4})
		if err != nil {
			b.Fatal(err)
		}
		op := NewWindowAgg(AggConfig[string, kv, string, string]{
			Spec: WindowSpec{Kind: WindowTumbling, Size: 1 << 60, Slide: 1 << 60}, Key: keyOf, Comb: padComb{},
			Hash: BuiltinHash[string](), KeyCodec: stringCodec, AccCodec: stringCodec, StateMemory: budget})()
		out := &discard{}
		if err := op.Open(graph.OpContext{MaxParallelism: 128, State: keyed.NewView(be, "agg")}, []graph.Output{out, out}); err != nil {
			b.Fatal(err)
		}
		batch := base.NewBatch[kv](1024)
		b.StartTimer()
		for i := 0; i < len(order); {
			batch.Reset()
			for j := 0; j < 1024 && i < len(order); j++ {
				batch.Append(kv{K: keys[order[i]]}, 1)
				i++
			}
			if err := op.Process(0, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		st := op.(*aggOp[string, kv, string, string]).st
		evicted += st.stats.evicted
		loaded += st.stats.loaded
		op.Close()
		be.Close()
		b.StartTimer()
	}
	n := float64(b.N * len(order))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/record")
	b.ReportMetric(float64(cpuTime()-cpu0)/n, "cpu-ns/record")
	b.ReportMetric(float64(evicted)/n, "evicted/record")
	b.ReportMetric(float64(loaded)/n, "loaded/record")
}
