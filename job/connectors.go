package job

import (
	"fmt"

	"github.com/weirflow/weir/io/jsonl"
	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/io/parquet"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/sdk"
)

// Input is the source --in names, reading records of type T: a Parquet
// source for parquet:GLOB, a JSON Lines source for jsonl:GLOB, and for
// kafka://HOST:PORT/TOPIC the topic from its --start position (earliest by
// default), up to the
// offsets at the start in batch mode (or with --bounded) and without end in
// stream mode.
func Input[T any](j *Job) sdk.Source[T] {
	switch in := j.cfg.in; in.Scheme {
	case Kafka:
		return kafka.NewSource[T](kafka.SourceOptions{
			Brokers: []string{in.Broker()},
			Topics:  []string{in.Topic()},
			Bounded: j.cfg.mode == runner.Batch || j.cfg.bounded,
			Start:   j.cfg.start,
		})
	case Parquet:
		return parquet.NewSource[T](j.glob, parquet.SourceOptions{})
	case JSONL:
		return jsonl.NewSource[T](j.glob, jsonl.SourceOptions{})
	}
	j.errs = append(j.errs, fmt.Errorf("--in=%s: unsupported input", j.cfg.in))
	return nil
}

// Output is the sink --out names, writing records of type T. sub names a
// side output ("late"): a sub-directory of the --out directory, or the
// topic TOPIC-sub for kafka://HOST:PORT/TOPIC; "" is the main output.
// With --checkpoint-dir every output is exactly once across crashes: Kafka
// through transactions committed with each checkpoint (read it with
// isolation level read_committed), files by rename. Without, a Kafka
// output is at-least-once (JSON values without keys), and exact only
// across a stop with a savepoint. --out-key=FIELD keys the records of the
// main output (sub "") by that field.
func Output[T any](j *Job, sub string) sdk.Sink[T] {
	dir := j.OutputDir(sub)
	switch out := j.cfg.out; out.Scheme {
	case Kafka:
		topic := out.Topic()
		if sub != "" {
			topic += "-" + sub
		}
		o := kafka.SinkOptions[T]{Brokers: []string{out.Broker()}, Topic: topic,
			ExactlyOnce: j.cfg.checkpointDir != ""}
		if sub == "" && j.cfg.outKey != "" { // side outputs carry other types
			key, err := fieldKey[T](j.cfg.outKey)
			if err != nil {
				j.errs = append(j.errs, err)
			}
			o.Key = key
		}
		return kafka.NewSink[T](o)
	case Parquet:
		return parquet.NewSink[T](dir, parquet.SinkOptions{})
	case JSONL:
		return jsonl.NewSink[T](dir, jsonl.SinkOptions{})
	}
	j.errs = append(j.errs, fmt.Errorf("--out=%s: unsupported output", j.cfg.out))
	return nil
}

func deadLetterSink(dir string) sdk.Sink[sdk.DeadLetter] {
	return jsonl.DeadLetterSink(dir, jsonl.SinkOptions{})
}
