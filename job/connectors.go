package job

import (
	"fmt"
	"slices"
	"strings"

	"github.com/weirflow/weir/io/jsonl"
	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/io/parquet"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/sdk"
)

// Input is the source --in names, reading records of type T: a Parquet
// source for parquet:GLOB, a JSON Lines source for jsonl:GLOB, and for
// kafka://HOST:PORT/TOPIC the topic from its --start position (earliest by
// default), up to the offsets at the start in batch mode (or with
// --bounded) and without end in stream mode. A pipeline with several
// inputs reads each with [NamedInput] instead.
func Input[T any](j *Job, opts ...InputOption[T]) sdk.Source[T] {
	return input(j, "", opts)
}

// InputOption configures an input of a job: [KafkaDecoder].
type InputOption[T any] struct {
	decoder kafka.Decoder[T]
}

// KafkaDecoder makes a Kafka input decode its records with d, which sees
// each record's key, headers and position besides its value
// (kafka.Source.WithDecoder); a file input does not use it.
//
//	job.NamedInput(j, "clicks", job.KafkaDecoder(func(r *kafka.Record, c *Click) error {
//		if err := kafka.DecodeJSON(r, c); err != nil {
//			return err
//		}
//		c.UserID = string(r.Key)
//		return nil
//	}))
func KafkaDecoder[T any](d kafka.Decoder[T]) InputOption[T] { return InputOption[T]{decoder: d} }

// NamedInput is the source --in=name=LOCATION names, as [Input] reads
// the single --in. Every input the pipeline reads must be given on the
// command line and every one given must be read: the run is refused with
// one line otherwise (exit 2).
func NamedInput[T any](j *Job, name string, opts ...InputOption[T]) sdk.Source[T] {
	if name == "" || !portName.MatchString(name) {
		j.errs = append(j.errs, fmt.Errorf("job.NamedInput: %q is not a name (a letter, then letters, digits, '_' or '-')", name))
		return nil
	}
	return input(j, name, opts)
}

func input[T any](j *Job, name string, opts []InputOption[T]) sdk.Source[T] {
	in, ok := j.port("in", name, j.cfg.ins, j.usedIn)
	if !ok {
		return nil
	}
	switch in.loc.Scheme {
	case Kafka:
		start := j.cfg.start
		if in.start != nil {
			start = *in.start
		}
		src := kafka.NewSource[T](kafka.SourceOptions{
			Brokers: []string{in.loc.Broker()},
			Topics:  []string{in.loc.Topic()},
			Bounded: j.cfg.mode == runner.Batch || j.cfg.bounded,
			Start:   start,
			Group:   j.cfg.group,
		})
		for _, o := range opts {
			if o.decoder != nil {
				src.WithDecoder(o.decoder)
			}
		}
		return src
	case Parquet:
		return parquet.NewSource[T](j.glob(in), parquet.SourceOptions{})
	case JSONL:
		return jsonl.NewSource[T](j.glob(in), jsonl.SourceOptions{})
	}
	j.errs = append(j.errs, fmt.Errorf("--in=%s: unsupported input", in))
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
// main output (sub "") by that field. A pipeline with several outputs
// writes each with [NamedOutput] instead.
func Output[T any](j *Job, sub string) sdk.Sink[T] {
	out, ok := j.port("out", "", j.cfg.outs, j.usedOut)
	if !ok {
		return nil
	}
	return output[T](j, out, sub)
}

// NamedOutput is the sink --out=name=LOCATION names, as [Output] writes
// the single --out (sub "": side outputs are outputs of their own name);
// --out-key=name=FIELD keys its Kafka records. Every output the pipeline
// writes must be given on the command line and every one given must be
// written.
func NamedOutput[T any](j *Job, name string) sdk.Sink[T] {
	if name == "" || !portName.MatchString(name) {
		j.errs = append(j.errs, fmt.Errorf("job.NamedOutput: %q is not a name (a letter, then letters, digits, '_' or '-')", name))
		return nil
	}
	out, ok := j.port("out", name, j.cfg.outs, j.usedOut)
	if !ok {
		return nil
	}
	return output[T](j, out, "")
}

func output[T any](j *Job, out port, sub string) sdk.Sink[T] {
	dir := out.loc.Path
	if sub != "" {
		dir = j.OutputDir(sub)
	}
	switch out.loc.Scheme {
	case Kafka:
		topic := out.loc.Topic()
		if sub != "" {
			topic += "-" + sub
		}
		o := kafka.SinkOptions[T]{Brokers: []string{out.loc.Broker()}, Topic: topic,
			ExactlyOnce: j.cfg.checkpointDir != ""}
		if sub == "" && out.key != "" { // side outputs carry other types
			key, err := fieldKey[T](out.key)
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
	j.errs = append(j.errs, fmt.Errorf("--out=%s: unsupported output", out))
	return nil
}

// port finds the input or output (flag "in" or "out") the pipeline asks
// for by name ("" the unnamed one) among those given, and marks it used;
// a mismatch is a usage error, recorded once per name.
func (j *Job) port(flag, name string, given []port, used map[string]bool) (port, bool) {
	what := portKind(flag)
	i := slices.IndexFunc(given, func(p port) bool { return p.name == name })
	if i >= 0 {
		used[name] = true
		return given[i], true
	}
	if used[name] {
		return port{}, false // said already
	}
	used[name] = true
	var err error
	switch {
	case name == "":
		err = usagef("this pipeline has one %s: give it as --%s=LOCATION, without a name", what, flag)
	case given[0].name == "":
		err = usagef("this pipeline names its %ss: give --%s=%s=LOCATION (and one --%s=NAME=LOCATION for each other %s)", what, flag, name, flag, what)
	default:
		err = usagef("the pipeline reads or writes the %s %q: add --%s=%s=LOCATION", what, name, flag, name)
	}
	j.errs = append(j.errs, err)
	return port{}, false
}

// unused is the error for inputs and outputs given on the command line
// that the pipeline does not use, after it is built.
func (j *Job) unused() error {
	for _, c := range []struct {
		flag  string
		given []port
		used  map[string]bool
	}{{"in", j.cfg.ins, j.usedIn}, {"out", j.cfg.outs, j.usedOut}} {
		what := portKind(c.flag)
		var names []string
		for n := range c.used {
			if n != "" {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, p := range c.given {
			if c.used[p.name] || p.name == "" && len(c.used) == 0 {
				continue // a pipeline may read or write its one location its own way
			}
			if p.name == "" {
				return usagef("--%s=%s: this pipeline names its %ss: %s", c.flag, p, what, strings.Join(names, ", "))
			}
			if len(names) == 0 {
				return usagef("--%s=%s: this pipeline has no %s named %q", c.flag, p, what, p.name)
			}
			return usagef("--%s=%s: this pipeline has no %s named %q; its %ss are %s", c.flag, p, what, p.name, what, strings.Join(names, ", "))
		}
	}
	return nil
}

func deadLetterSink(dir string) sdk.Sink[sdk.DeadLetter] {
	return jsonl.DeadLetterSink(dir, jsonl.SinkOptions{})
}
