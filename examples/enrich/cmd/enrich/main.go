// Command enrich is the enrichment pipeline's job binary: `enrich run`
// joins clicks with the profile version current at each click's time and
// counts clicks, users and the top page per segment and minute, as a
// backfill of files or as a stream from Kafka; `enrich gen` writes sample
// inputs to try it on.
//
//	enrich gen --clicks=200000 --users=5000 --files=2 --out=parquet:data
//	enrich run --in=clicks=parquet:data/clicks --in=profiles=parquet:data/profiles \
//	           --out=enriched=jsonl:out/enriched --out=metrics=jsonl:out/metrics \
//	           --dead-letter=jsonl:out/dead-letter --parallelism=2
//	enrich run --mode=stream --in=clicks=kafka://127.0.0.1:9092/clicks \
//	           --in=profiles=kafka://127.0.0.1:9092/profiles \
//	           --out=enriched=kafka://127.0.0.1:9092/enriched \
//	           --out=metrics=kafka://127.0.0.1:9092/metrics --on-error=skip
//
// See package job for every flag of run; --window is the pipeline's own.
package main

import (
	"flag"
	"time"

	"github.com/weirflow/weir/examples/enrich"
	"github.com/weirflow/weir/job"
)

// window is --window, the metrics' window.
var window time.Duration

func main() {
	job.Program{Name: "enrich", Build: build, Flags: flags, Commands: []job.Command{genCommand}}.Main()
}

func flags(fs *flag.FlagSet) {
	fs.DurationVar(&window, "window", time.Minute, "count the metrics per segment in tumbling windows of `DURATION`")
}

// build adds the enrichment pipeline to the job: --in=clicks and
// --in=profiles → enrich.Build → --out=enriched and --out=metrics.
func build(j *job.Job) error {
	if window <= 0 {
		return job.UsageError("--window=%v: must be positive", window)
	}
	bound := j.Bound()
	if bound == 0 {
		bound = -1 // --bound=0: no disorder, not the default
	}
	enrich.Build(j.Pipeline(),
		enrich.Inputs{
			Clicks:   job.NamedInput[enrich.Click](j, "clicks"),
			Profiles: job.NamedInput[enrich.Profile](j, "profiles"),
		},
		enrich.Outputs{
			Enriched: job.NamedOutput[enrich.Enriched](j, "enriched"),
			Metrics:  job.NamedOutput[enrich.SegmentMetrics](j, "metrics"),
		},
		enrich.Options{Window: window, Bound: bound, Idle: j.IdleTimeout()})
	return nil
}
