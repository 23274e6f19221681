package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// parMemEnv makes TestParallelismMemoryChild run its pipeline: "P" or
// "P/splits".
const parMemEnv = "WEIR_PARMEM_CHILD"

// BenchmarkParallelismMemory measures the peak memory of a tiny keyed
// pipeline (source → keyed pass-through → discard, 8 rows per split) at
// growing parallelism, each run in a child process so that peak RSS is its
// own. Memory linear in parallelism doubles when the parallelism doubles.
// The runs are long and large: run it alone, once.
//
//	go test ./runner -run '^$' -bench BenchmarkParallelismMemory -benchtime=1x
func BenchmarkParallelismMemory(b *testing.B) {
	for _, par := range []int{100, 1000, 2000, 4000} {
		for _, splits := range []int{1, par} {
			b.Run(fmt.Sprintf("p%d/splits%d", par, splits), func(b *testing.B) {
				for b.Loop() {
					cmd := exec.Command(os.Args[0], "-test.run=^TestParallelismMemoryChild$", "-test.v")
					cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d/%d", parMemEnv, par, splits))
					out, err := cmd.CombinedOutput()
					if err != nil {
						b.Fatalf("child: %v\n%s", err, out)
					}
					var rss, heap int64
					for _, l := range strings.Split(string(out), "\n") {
						if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "parmem: "); ok {
							if _, err := fmt.Sscanf(rest, "maxrss=%d heapsys=%d", &rss, &heap); err != nil {
								b.Fatalf("child said %q: %v", l, err)
							}
						}
					}
					if rss == 0 {
						b.Fatalf("child printed no figures:\n%s", out)
					}
					b.ReportMetric(float64(rss)/(1<<20), "MiB-rss")
					b.ReportMetric(float64(heap)/(1<<20), "MiB-heapsys")
				}
			})
		}
	}
}

// passThrough is a stateless operator that forwards its input.
type passThrough struct{ out graph.Output }

func (o *passThrough) Open(_ graph.OpContext, outs []graph.Output) error {
	o.out = outs[0]
	return nil
}
func (o *passThrough) Process(_ int, batch any) error { return o.out.Emit(batch) }
func (o *passThrough) Watermark(base.Timestamp) error { return nil }
func (o *passThrough) Finish() error                  { return nil }
func (o *passThrough) Close() error                   { return nil }

// TestParallelismMemoryChild is the child of BenchmarkParallelismMemory:
// it runs the pipeline and prints its peak RSS and the Go heap's size.
func TestParallelismMemoryChild(t *testing.T) {
	env := os.Getenv(parMemEnv)
	if env == "" {
		t.Skip("run by BenchmarkParallelismMemory")
	}
	ps, ss, _ := strings.Cut(env, "/")
	par, err1 := strconv.Atoi(ps)
	splits, err2 := strconv.Atoi(ss)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s=%q: want P/SPLITS", parMemEnv, env)
	}
	data := make([][]ev, splits)
	for s := range data {
		for i := range 8 {
			data[s] = append(data[s], e(fmt.Sprintf("k%d-%d", s, i), i, int64(s*8+i)))
		}
	}
	p := sdk.NewPipeline()
	in := read(p, &runnertest.Source[ev]{Data: data})
	pass := addNode[ev](p, "Pass", func() graph.Operator { return &passThrough{} }, func(x ev) string { return x.Key },
		graph.Edge{From: nodeOf(p, in.Name())})
	writeNode(p, pass, runnertest.Discard[ev]{})
	if _, err := Run(context.Background(), p, Options{Parallelism: par, MaxParallelism: max(par, base.DefaultMaxParallelism)}); err != nil {
		t.Fatal(err)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("parmem: maxrss=%d heapsys=%d\n", ru.Maxrss*1024, ms.HeapSys)
}
