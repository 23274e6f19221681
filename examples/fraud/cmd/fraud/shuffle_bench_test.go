package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
)

// BenchmarkClusterShuffle measures the network shuffle between worker
// processes: the fraud backfill (Parquet, parallelism 4) submitted to a
// one-node cluster, first with one worker of 4 slots (one process, batches
// by pointer: the baseline), then with two workers of 2 slots (two
// processes, every batch between them over TCP). The rate is the rows over
// the master process's own run time, from its "done" line (so neither the
// heartbeat that hands the job out nor the process start counts);
// x-one-process is the ratio to the baseline.
//
//	go test -run=NONE -bench=ClusterShuffle -benchtime=3x ./examples/fraud/cmd/fraud
func BenchmarkClusterShuffle(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a cluster of processes")
	}
	const rows = 4_000_000
	in := b.TempDir()
	parts := fraudgen.Generate(fraudgen.Options{Rows: rows, Users: 20_000, Partitions: 4, Span: 4 * time.Hour,
		Disorder: 20 * time.Second, Seed: 3})
	if _, err := fraudgen.WriteParquet(in, parts, 50_000); err != nil {
		b.Fatal(err)
	}
	var one float64
	for _, workers := range []int{1, 2} {
		name := "one-process"
		if workers == 2 {
			name = "two-processes"
		}
		b.Run(name, func(b *testing.B) {
			c := startCluster(b, 1)
			c.leader(30 * time.Second)
			for i := range workers {
				c.startWorker(fmt.Sprintf("w%d", i+1), 4/workers)
			}
			var secs float64
			for b.Loop() {
				out := filepath.Join(b.TempDir(), "out")
				id := c.submit("--mode=batch", "--in=parquet:"+in+"/*.parquet", "--out=jsonl:"+out, "--parallelism=4")
				c.waitJob(id, "the backfill to finish", 5*time.Minute, func(j api.Job) bool {
					if workers == 2 && j.State == api.Running && len(j.Workers) != 2 {
						b.Fatalf("job %s on %v, want two workers", id, j.Workers)
					}
					return j.State == api.Finished
				})
				secs += masterSeconds(b, c, id)
			}
			rate := rows * float64(b.N) / secs
			b.ReportMetric(rate, "rows/s")
			if workers == 1 {
				one = rate
			} else if one > 0 {
				b.ReportMetric(rate/one, "x-one-process")
			}
		})
	}
}

var doneSeconds = regexp.MustCompile(`fraud: done: .*, ([0-9.]+) s, [0-9,]+ rows/s`)

// masterSeconds returns the run time in the "done" line of the job's
// master process, from `weir logs`.
func masterSeconds(b *testing.B, c *cluster, id string) float64 {
	b.Helper()
	r := c.weir("logs", id)
	if r.code != 0 {
		b.Fatalf("weir logs %s: exit %d: %s", id, r.code, r.stderr)
	}
	m := doneSeconds.FindAllStringSubmatch(r.stdout, -1)
	if len(m) == 0 {
		b.Fatalf("no done line in the log of job %s:\n%s", id, tail(r.stdout))
	}
	s, err := strconv.ParseFloat(strings.TrimSpace(m[len(m)-1][1]), 64)
	if err != nil {
		b.Fatal(err)
	}
	return s
}
