// Command fraud is the fraud pipeline's job binary: `fraud run` turns
// transactions into per-user 5-minute totals, as a backfill of Parquet, JSON
// Lines or Kafka, or as a stream from Kafka, and `fraud gen` writes
// deterministic sample transactions to try it on.
//
//	fraud gen --rows=500000 --files=4 --out=parquet:data/txns
//	fraud run --in='parquet:data/txns/*.parquet' --out=jsonl:out --parallelism=2
//	fraud run --mode=stream --in=kafka://127.0.0.1:9092/txns --out=kafka://127.0.0.1:9092/totals --on-error=skip
//
// Results go to the --out directory, records later than the allowed
// lateness to <out>/late and bad records to <out>/dead-letter. See package
// job for every flag of run.
package main

import (
	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/job"
)

func main() {
	job.Main("fraud", build, genCommand)
}

// build adds the fraud pipeline to the job: --in → fraud.Build → --out, with
// late transactions in <out>/late.
func build(j *job.Job) error {
	bound := j.Bound()
	if bound == 0 {
		bound = fraud.NoDisorder // --bound=0 means no disorder, not the default
	}
	fraud.Build(j.Pipeline(),
		job.Input[fraud.Txn](j),
		job.Output[fraud.UserTotal](j, ""),
		job.Output[fraud.Txn](j, "late"),
		fraud.Options{Bound: bound, Lateness: j.AllowedLateness(), Idle: j.IdleTimeout()})
	return nil
}
