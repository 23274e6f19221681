package job

import (
	"fmt"

	"github.com/weirflow/weir/io/jsonl"
	"github.com/weirflow/weir/io/parquet"
	"github.com/weirflow/weir/sdk"
)

// Input is the source --in names, reading records of type T: a Parquet
// source for parquet:GLOB, a JSON Lines source for jsonl:GLOB.
func Input[T any](j *Job) sdk.Source[T] {
	switch j.cfg.in.Scheme {
	case Parquet:
		return parquet.NewSource[T](j.glob, parquet.SourceOptions{})
	case JSONL:
		return jsonl.NewSource[T](j.glob, jsonl.SourceOptions{})
	}
	j.errs = append(j.errs, fmt.Errorf("--in=%s: unsupported input", j.cfg.in))
	return nil
}

// Output is the sink --out names, writing records of type T. sub names a
// side output's sub-directory ("late"); "" is the main output, written to
// the --out directory itself.
func Output[T any](j *Job, sub string) sdk.Sink[T] {
	dir := j.OutputDir(sub)
	switch j.cfg.out.Scheme {
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
