package runner

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

type benchRec struct {
	User   int64
	Amount int64
	At     int64 // µs
}

type benchOut struct {
	User  int64
	Cents int64
}

func benchLarge(r benchRec) bool                   { return r.Amount > 500 }
func benchCents(r benchRec) benchOut               { return benchOut{r.User, r.Amount * 100} }
func benchTime(r *benchRec) (base.Timestamp, bool) { return base.Timestamp(r.At), true }

// Hand-written stand-ins for what `weir gen` emits: a loop over the batch
// that calls the function directly, so the compiler can inline it.
func init() {
	sdk.RegisterRecord(sdk.RecordCodec[benchRec]{Name: "runner.benchRec", EventTime: benchTime, EventTimeField: "At"})
	sdk.RegisterFilter(benchLarge, func(in, out *sdk.Batch[benchRec]) {
		for i := range in.Values {
			if benchLarge(in.Values[i]) {
				out.Values = append(out.Values, in.Values[i])
				out.Times = append(out.Times, in.Times[i])
			}
		}
	})
	sdk.RegisterMap(benchCents, func(in *sdk.Batch[benchRec], out *sdk.Batch[benchOut]) {
		for i := range in.Values {
			out.Values = append(out.Values, benchCents(in.Values[i]))
		}
		out.Times = append(out.Times, in.Times...)
	})
}

func benchData(splits, rows int) [][]benchRec {
	out := make([][]benchRec, splits)
	for i := range rows {
		s := i % splits
		out[s] = append(out[s], benchRec{User: int64(i % 1000), Amount: int64(i*7919) % 1000, At: int64(i)})
	}
	return out
}

// BenchmarkRunnerFilterMap runs source → Filter → Map → discard through the
// runner with 1,024-row batches: generated-style kernels against the
// generic per-row path, and a plain Go loop over the same rows as the floor.
func BenchmarkRunnerFilterMap(b *testing.B) {
	const rows = 1 << 20
	data := benchData(4, rows)
	for _, par := range []int{1, 2} {
		for _, generic := range []bool{false, true} {
			name := fmt.Sprintf("kernel/p%d", par)
			var popts []sdk.PipelineOption
			if generic {
				name = fmt.Sprintf("generic/p%d", par)
				popts = append(popts, sdk.GenericKernels())
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(rows * 24)
				for b.Loop() {
					p := sdk.NewPipeline(popts...)
					in := sdk.Read[benchRec](p, &runnertest.Source[benchRec]{Data: data})
					sdk.Write(sdk.Map(sdk.Filter(in, benchLarge), benchCents), runnertest.Discard[benchOut]{})
					if _, err := Run(b.Context(), p, Options{Parallelism: par, BatchSize: 1024}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
			})
		}
	}
	b.Run("loop", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(rows * 24)
		var sink int64
		start := time.Now()
		for b.Loop() {
			for _, s := range data {
				for _, r := range s {
					if benchLarge(r) {
						sink += benchCents(r).Cents
					}
				}
			}
		}
		_ = sink
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/rows, "ns/row")
	})
}

// TestKernelParity: generated-style kernels and the generic path give the
// same rows.
func TestKernelParity(t *testing.T) {
	data := benchData(3, 5000)
	var outs [2][]benchOut
	for i, generic := range []bool{false, true} {
		var popts []sdk.PipelineOption
		if generic {
			popts = append(popts, sdk.GenericKernels())
		}
		p := sdk.NewPipeline(popts...)
		sink := &runnertest.Sink[benchOut]{}
		sdk.Write(sdk.Map(sdk.Filter(sdk.Read[benchRec](p, &runnertest.Source[benchRec]{Data: data}), benchLarge), benchCents), sink)
		mustRun(t, p, Options{Parallelism: 2})
		outs[i] = sink.Values()
		slices.SortFunc(outs[i], func(a, b benchOut) int { return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Cents, b.Cents)) })
	}
	if len(outs[0]) == 0 || !slices.Equal(outs[0], outs[1]) {
		t.Fatalf("kernel gave %d rows, generic %d, or they differ", len(outs[0]), len(outs[1]))
	}
	if !sdk.HasKernel(benchLarge) || !sdk.HasKernel(benchCents) {
		t.Fatal("kernels not registered")
	}
}
