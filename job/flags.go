package job

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weirflow/weir/internal/paths"
	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/sdk"
)

// usageError is a bad command line: the job prints it on one line with a
// hint to run -h, and exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// Scheme is the kind of an input or output location.
type Scheme string

const (
	Parquet Scheme = "parquet"
	JSONL   Scheme = "jsonl"
	Kafka   Scheme = "kafka"
)

// Location is a parsed --in or --out value: "parquet:data/*.parquet",
// "jsonl:out/", "kafka://127.0.0.1:9092/txns".
type Location struct {
	Scheme Scheme
	// Path is a glob for file inputs, a directory for file outputs, and
	// "host:port/topic" for Kafka.
	Path string
}

// Broker and Topic split a Kafka location's path "host:port/topic".
func (l Location) Broker() string { b, _, _ := strings.Cut(l.Path, "/"); return b }
func (l Location) Topic() string  { _, t, _ := strings.Cut(l.Path, "/"); return t }

func (l Location) String() string {
	if l.Scheme == Kafka {
		return "kafka://" + l.Path
	}
	return string(l.Scheme) + ":" + l.Path
}

// parseLocation parses the value of flag name ("in", "out", "dead-letter").
func parseLocation(name, v string) (Location, error) {
	if v == "" {
		return Location{}, usagef("--%s is required, e.g. --%s=%s", name, name, example(name))
	}
	if rest, ok := strings.CutPrefix(v, "kafka://"); ok {
		host, topic, _ := strings.Cut(rest, "/")
		if host == "" || topic == "" || strings.Contains(topic, "/") {
			return Location{}, usagef("--%s=%s: write kafka://HOST:PORT/TOPIC", name, v)
		}
		return Location{Scheme: Kafka, Path: rest}, nil
	}
	scheme, path, ok := strings.Cut(v, ":")
	if !ok || strings.ContainsAny(scheme, `/\.`) {
		return Location{}, usagef("--%s=%s has no scheme; write %s", name, v, example(name))
	}
	switch Scheme(scheme) {
	case Parquet, JSONL:
	default:
		return Location{}, usagef("--%s=%s: unknown scheme %q; use parquet:, jsonl: or kafka://", name, v, scheme)
	}
	if path == "" {
		return Location{}, usagef("--%s=%s has no path; write %s", name, v, example(name))
	}
	return Location{Scheme: Scheme(scheme), Path: path}, nil
}

func example(name string) string {
	if name == "in" {
		return "parquet:data/*.parquet or jsonl:data/*.jsonl"
	}
	return "jsonl:out/ or parquet:out/"
}

// port is one --in or --out: its location and the name the pipeline
// knows it by ("" for the single unnamed one of a one-input or one-output
// job), and for an output the field keying its Kafka records (--out-key).
type port struct {
	name  string
	loc   Location
	key   string
	start *kafka.Start // --start=NAME=POSITION; nil: the job's --start
}

// config is the parsed command line of `run`. Each field maps one-to-one
// onto a runner or pipeline option.
type config struct {
	mode           runner.Mode
	in, out, dead  Location // in and out: the first --in and --out
	ins, outs      []port   // every --in and --out, in command-line order
	parallelism    int
	maxParallelism int
	onError        runner.ErrorPolicy
	bound          time.Duration
	lateness       time.Duration
	perfect        bool
	progress       string
	idle           time.Duration
	bounded        bool
	start          kafka.Start
	group          string // --group: the consumer group offsets are committed to
	checkpointDir  string
	interval       time.Duration
	retain         int
	savepointDir   string
	fromSavepoint  string
	stateDir       string
	stateMemory    int64
	existing       sdk.ExistingOutput
	name           string // the job's identity: --name, or derived (see jobName)
}

// runFlags declares the flags of `run` on a new FlagSet.
type runFlags struct {
	binary                                       string
	fs                                           *flag.FlagSet
	mode, dead, onError, progress, checkpointDir string
	reset, savepointDir, fromSavepoint, stateDir string
	group                                        string
	in, out, outKey, start                       listFlag
	stateMemory, name                            string
	parallelism, maxParallelism, retain          int
	bound, lateness, idle, interval              time.Duration
	perfect, bounded, overwrite, appendOut       bool
	own                                          map[string]bool // the flags of run itself, not the pipeline's
	flagsErr                                     error           // Program.Flags declared a flag run has
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// newRunFlags declares the flags of `run`; declare, when not nil, adds the
// pipeline's own (Program.Flags).
func newRunFlags(name string, declare ...func(*flag.FlagSet)) *runFlags {
	f := &runFlags{binary: name, fs: flag.NewFlagSet(name+" run", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(io.Discard)
	fs.Var(&f.in, "in", "read the input at `LOCATION`: parquet:GLOB or jsonl:GLOB (a directory: all its files of that kind) or kafka://HOST:PORT/TOPIC; a pipeline with several inputs names each: --in=NAME=LOCATION, once per input")
	fs.Var(&f.outKey, "out-key", "with a Kafka output, key each result record by its `FIELD` (JSON name or Go name; a string, []byte, integer or bool), so that a key's records share a partition; NAME=FIELD for a named output")
	fs.Var(&f.out, "out", "write results to `LOCATION`: jsonl:DIR, parquet:DIR or kafka://HOST:PORT/TOPIC; side outputs go to DIR/late or TOPIC-late; a pipeline with several outputs names each: --out=NAME=LOCATION")
	fs.BoolVar(&f.overwrite, "overwrite", false, "when the job starts fresh, replace the output an earlier run left in the --out and dead-letter directories (at this run's first commit); without --overwrite or --append such a start is refused")
	fs.BoolVar(&f.appendOut, "append", false, "when the job starts fresh, add to the output an earlier run left in the --out and dead-letter directories")
	fs.StringVar(&f.mode, "mode", runner.Batch.String(), "run in `MODE`: batch (bounded inputs, ends when they end) or stream")
	fs.IntVar(&f.parallelism, "parallelism", runner.DefaultParallelism, fmt.Sprintf("run `N` tasks per stage (1 to %d)", runner.MaxParallelismLimit))
	fs.IntVar(&f.maxParallelism, "max-parallelism", runner.DefaultMaxParallelism, fmt.Sprintf("use `N` key groups: the most tasks a keyed stage can ever have (1 to %d)", runner.MaxParallelismLimit))
	fs.StringVar(&f.onError, "on-error", runner.DeadLetter.String(), "handle bad records by `POLICY`: dead-letter, skip or fail")
	fs.StringVar(&f.dead, "dead-letter", "", "write dead letters to `LOCATION`: jsonl:DIR (default DIR/dead-letter of --out)")
	fs.DurationVar(&f.bound, "bound", DefaultBound, "accept event times out of order by up to `DURATION`")
	fs.DurationVar(&f.lateness, "allowed-lateness", 0, "keep fired windows open to late records for `DURATION`")
	fs.BoolVar(&f.perfect, "perfect-watermark", false, "batch only: treat every record as on time")
	fs.DurationVar(&f.idle, "idle-timeout", 0, "let an input partition that produced nothing for `DURATION` stop holding the watermark back (0: never)")
	fs.BoolVar(&f.bounded, "bounded", false, "stream with a Kafka input: stop at the end offsets seen at the start and fire every window (a backfill from Kafka)")
	fs.Var(&f.start, "start", "with a Kafka input and nothing to resume from, start at `POSITION`: earliest (default), latest, committed:GROUP (the group's committed offsets) or time:RFC3339 (the first offsets at or after that time); NAME=POSITION for one named input only")
	fs.StringVar(&f.reset, "reset", "earliest", "with --start=committed:GROUP, start a partition the group has no offset for at `POLICY`: earliest, latest, or none (refuse to start)")
	fs.StringVar(&f.group, "group", "", "with a Kafka input, commit to consumer group `NAME` the offsets of each completed checkpoint (without --checkpoint-dir: the offsets read), so that lag tools show the job's progress; the job itself resumes from its checkpoints")
	fs.StringVar(&f.checkpointDir, "checkpoint-dir", "", "checkpoint to `DIR` and, when it holds a completed checkpoint, resume from the latest one; output is then exactly once across crashes (Kafka output through transactions)")
	fs.DurationVar(&f.interval, "checkpoint-interval", runner.DefaultCheckpointInterval, "take a checkpoint every `DURATION`")
	fs.IntVar(&f.retain, "checkpoint-retain", runner.DefaultCheckpointRetain, "keep the last `N` completed checkpoints")
	fs.StringVar(&f.savepointDir, "savepoint-dir", "", "on SIGTERM or SIGINT, stop with a savepoint written to `DIR`; on SIGUSR1, write one and go on (not the --checkpoint-dir, nor inside it)")
	fs.StringVar(&f.fromSavepoint, "from-savepoint", "", "start from the savepoint in `DIR` (any --parallelism: state is redistributed by key group)")
	fs.StringVar(&f.stateDir, "state-dir", "", "keep the tasks' local keyed state under `DIR` (default a temporary directory)")
	fs.StringVar(&f.stateMemory, "state-memory", "0", "keep at most `SIZE` of keyed state in memory (e.g. 512MB); the rest is spilled to the local state on disk (0: no limit)")
	fs.StringVar(&f.progress, "progress", "auto", "show progress `WHEN`: auto (a bar on terminals), always or never")
	fs.StringVar(&f.name, "name", "", "name the job `NAME` (letters, digits, '.', '_', '-'; at most 100): its Kafka transactional ids and checkpoints carry it; default "+name+"-HASH of --checkpoint-dir, else of --out")
	f.own = map[string]bool{}
	fs.VisitAll(func(fl *flag.Flag) { f.own[fl.Name] = true })
	for _, d := range declare {
		if d != nil {
			f.flagsErr = declareFlags(fs, d)
		}
	}
	return f
}

// declareFlags runs Program.Flags on fs; the flag package panics when a
// flag is declared twice, which becomes an error naming it.
func declareFlags(fs *flag.FlagSet, d func(*flag.FlagSet)) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("Program.Flags: %v; choose another name", v)
		}
	}()
	d(fs)
	return nil
}

// parse parses args into a config. -h returns flag.ErrHelp.
func (f *runFlags) parse(args []string) (config, error) {
	var c config
	if f.flagsErr != nil {
		return c, f.flagsErr
	}
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, usagef("%s", flagError(err, f.fs))
	}
	if f.fs.NArg() > 0 {
		return c, usagef("unexpected argument %q; flags only", f.fs.Arg(0))
	}
	switch f.mode {
	case "batch":
		c.mode = runner.Batch
	case "stream":
		c.mode = runner.Stream
	default:
		return c, usagef("--mode=%s: use batch or stream", f.mode)
	}
	var err error
	if c.ins, err = parsePorts("in", f.in); err != nil {
		return c, err
	}
	if c.outs, err = parsePorts("out", f.out); err != nil {
		return c, err
	}
	c.in, c.out = c.ins[0].loc, c.outs[0].loc
	for _, o := range c.outs {
		if o.loc.Scheme != Kafka && hasMeta(o.loc.Path) {
			return c, usagef("--out=%s: the output is a directory, not a pattern", o)
		}
	}
	switch {
	case f.dead == "" && len(c.outs) > 1:
		// Several outputs: no one directory is the obvious place; see
		// the on-error check.
	case f.dead == "" && c.out.Scheme == Kafka:
		// No directory to put dead letters in: see the on-error check.
	case f.dead == "":
		c.dead = Location{Scheme: JSONL, Path: filepath.Join(c.out.Path, "dead-letter")}
	default:
		if c.dead, err = parseLocation("dead-letter", f.dead); err != nil {
			return c, err
		}
		if c.dead.Scheme != JSONL {
			return c, usagef("--dead-letter=%s: dead letters are written as jsonl:DIR", f.dead)
		}
	}
	if err := distinctFolders(c); err != nil {
		return c, err
	}
	if f.parallelism < 1 || f.parallelism > runner.MaxParallelismLimit {
		return c, usagef("--parallelism=%d: out of range; use 1 to %d", f.parallelism, runner.MaxParallelismLimit)
	}
	if f.maxParallelism < 1 || f.maxParallelism > runner.MaxParallelismLimit {
		return c, usagef("--max-parallelism=%d: out of range; use 1 to %d", f.maxParallelism, runner.MaxParallelismLimit)
	}
	if f.parallelism > f.maxParallelism {
		return c, usagef("--parallelism=%d exceeds --max-parallelism=%d; lower one or raise the other", f.parallelism, f.maxParallelism)
	}
	c.parallelism, c.maxParallelism = f.parallelism, f.maxParallelism
	switch f.onError {
	case "dead-letter":
		c.onError = runner.DeadLetter
	case "skip":
		c.onError = runner.Skip
	case "fail":
		c.onError = runner.Fail
	default:
		return c, usagef("--on-error=%s: use dead-letter, skip or fail", f.onError)
	}
	if c.onError == runner.DeadLetter && c.dead.Path == "" {
		if len(c.outs) > 1 {
			return c, usagef("with several --out, say where dead letters go: add --dead-letter=jsonl:DIR or --on-error=skip|fail")
		}
		return c, usagef("--out=%s has no directory for dead letters; add --dead-letter=jsonl:DIR or --on-error=skip|fail", c.out)
	}
	switch {
	case f.overwrite && f.appendOut:
		return c, usagef("--overwrite and --append exclude each other; pass one")
	case f.overwrite && !c.writesFiles():
		return c, usagef("--overwrite: --out=%s is a topic, which a rerun appends to; there is no directory to overwrite", c.outs[0])
	case f.overwrite:
		c.existing = sdk.OverwriteExisting
	case f.appendOut:
		c.existing = sdk.AppendExisting
	}
	if f.bound < 0 {
		return c, usagef("--bound=%v: must not be negative", f.bound)
	}
	if f.lateness < 0 {
		return c, usagef("--allowed-lateness=%v: must not be negative", f.lateness)
	}
	c.bound, c.lateness = f.bound, f.lateness
	if f.perfect && c.mode != runner.Batch {
		return c, usagef("--perfect-watermark is for --mode=batch only")
	}
	c.perfect = f.perfect
	if f.idle < 0 {
		return c, usagef("--idle-timeout=%v: must not be negative", f.idle)
	}
	c.idle = f.idle
	kafkaIn := slices.ContainsFunc(c.ins, func(p port) bool { return p.loc.Scheme == Kafka })
	if f.bounded && !kafkaIn {
		return c, usagef("--bounded is for a Kafka input; files are always read to their end")
	}
	c.bounded = f.bounded
	if err := c.setOutKeys(f.outKey); err != nil {
		return c, err
	}
	if err := c.setStarts(f.start, f.reset, kafkaIn); err != nil {
		return c, err
	}
	if f.group != "" && !kafkaIn {
		return c, usagef("--group is for a Kafka input: it is the consumer group the input's offsets are committed to")
	}
	c.group = f.group
	c.checkpointDir = f.checkpointDir
	if f.interval < minCheckpointInterval {
		return c, usagef("--checkpoint-interval=%v: must be at least %v", f.interval, minCheckpointInterval)
	}
	if f.retain < 1 {
		return c, usagef("--checkpoint-retain=%d: must be at least 1", f.retain)
	}
	c.interval, c.retain = f.interval, f.retain
	c.savepointDir, c.fromSavepoint, c.stateDir = f.savepointDir, f.fromSavepoint, f.stateDir
	if err := checkDirs(c); err != nil {
		return c, err
	}
	if c.stateMemory, err = parseSize(f.stateMemory); err != nil {
		return c, usagef("--state-memory=%s: %v", f.stateMemory, err)
	}
	switch f.progress {
	case "auto", "always", "never":
		c.progress = f.progress
	default:
		return c, usagef("--progress=%s: use auto, always or never", f.progress)
	}
	if c.name, err = jobName(f.binary, f.name, c); err != nil {
		return c, err
	}
	return c, nil
}

// parsePorts parses the values of --in or --out (flag name): one unnamed
// location, or one NAME=LOCATION per input or output, names unique.
func parsePorts(name string, vals []string) ([]port, error) {
	if len(vals) == 0 {
		_, err := parseLocation(name, "")
		return nil, err
	}
	var ports []port
	seen := map[string]bool{}
	for _, v := range vals {
		n, rest, named := splitName(v)
		if !named {
			rest = v
		}
		loc, err := parseLocation(name, rest)
		if err != nil {
			return nil, err
		}
		switch {
		case !named && len(vals) > 1:
			return nil, usagef("--%s=%s: with several --%s, name each: --%s=NAME=%s", name, v, name, name, v)
		case seen[n]:
			return nil, usagef("--%s=%s: %s %q is given twice", name, v, portKind(name), n)
		}
		seen[n] = true
		ports = append(ports, port{name: n, loc: loc})
	}
	return ports, nil
}

// distinctFolders refuses two outputs (or an output and the dead letters)
// written to one folder: their sinks would each take the folder's files
// for their own, and a rerun's check of what an earlier run left there
// would mix them.
func distinctFolders(c config) error {
	type folder struct{ flag, path string }
	var fs []folder
	for _, o := range c.outs {
		if o.loc.Scheme != Kafka {
			fs = append(fs, folder{"--out=" + o.String(), o.loc.Path})
		}
	}
	if c.dead.Path != "" {
		fs = append(fs, folder{"--dead-letter=" + c.dead.String() + " (dead letters)", c.dead.Path})
	}
	seen := map[string]string{}
	for _, f := range fs {
		p, err := paths.Canonical(f.path)
		if err != nil {
			return usagef("%s: %v", f.flag, err)
		}
		if first, ok := seen[p]; ok {
			return usagef("%s and %s write to the same folder; give each its own", first, f.flag)
		}
		seen[p] = f.flag
	}
	return nil
}

// portKind is what the flag "in" or "out" gives: "input" or "output".
func portKind(flag string) string {
	if flag == "in" {
		return "input"
	}
	return "output"
}

// splitName splits NAME=REST, NAME being a name of an input or output
// (a letter, then letters, digits, '_' or '-'). A location has a ':'
// before any '=', so it is never taken for a name.
func splitName(v string) (name, rest string, ok bool) {
	name, rest, ok = strings.Cut(v, "=")
	if !ok || !portName.MatchString(name) {
		return "", v, false
	}
	return name, rest, true
}

var portName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

func (p port) String() string {
	if p.name == "" {
		return p.loc.String()
	}
	return p.name + "=" + p.loc.String()
}

// writesFiles reports whether the job writes a directory: a file output,
// or dead letters.
func (c config) writesFiles() bool {
	return c.onError == runner.DeadLetter ||
		slices.ContainsFunc(c.outs, func(p port) bool { return p.loc.Scheme != Kafka })
}

// setOutKeys applies the values of --out-key (FIELD, or NAME=FIELD for a
// named output) to the outputs they name, which must be Kafka topics.
func (c *config) setOutKeys(vals []string) error {
	for _, v := range vals {
		name, field, named := splitName(v)
		if !named {
			field = v
		}
		if field == "" {
			return usagef("--out-key=%s: name a field of the output's records", v)
		}
		i := slices.IndexFunc(c.outs, func(p port) bool { return p.name == name })
		switch {
		case i < 0 && named:
			return usagef("--out-key=%s: there is no --out=%s=...", v, name)
		case i < 0:
			return usagef("--out-key=%s: the outputs are named; write --out-key=NAME=%s", v, v)
		case c.outs[i].loc.Scheme != Kafka:
			return usagef("--out-key is for a Kafka output; files have no record keys")
		case c.outs[i].key != "":
			return usagef("--out-key=%s: the output has a key already", v)
		}
		c.outs[i].key = field
	}
	return nil
}

// setStarts applies the values of --start (POSITION for every Kafka
// input, NAME=POSITION for one) and --reset (for the committed:GROUP
// ones).
func (c *config) setStarts(vals []string, resetFlag string, kafkaIn bool) error {
	var reset kafka.Reset
	switch resetFlag {
	case "earliest":
		reset = kafka.ResetEarliest
	case "latest":
		reset = kafka.ResetLatest
	case "none":
		reset = kafka.ResetNone
	default:
		return usagef("--reset=%s: use earliest, latest or none", resetFlag)
	}
	parse := func(v string) (kafka.Start, bool, error) {
		st, err := parseStart(v)
		if err != nil {
			return st, false, err
		}
		if group, ok := strings.CutPrefix(v, "committed:"); ok {
			return kafka.CommittedOr(group, reset), true, nil
		}
		return st, false, nil
	}
	c.start = kafka.Earliest()
	committed, global := false, false
	for _, v := range vals {
		name, pos, named := splitName(v)
		if !named {
			if global {
				return usagef("--start=%s: --start is given twice; use --start=NAME=POSITION for one input", v)
			}
			global = true
			if v != "earliest" && !kafkaIn {
				return usagef("--start is for a Kafka input; files are always read from their start")
			}
			st, isCommitted, err := parse(v)
			if err != nil {
				return err
			}
			c.start, committed = st, committed || isCommitted
			continue
		}
		i := slices.IndexFunc(c.ins, func(p port) bool { return p.name == name })
		switch {
		case i < 0:
			return usagef("--start=%s: there is no --in=%s=...", v, name)
		case c.ins[i].loc.Scheme != Kafka:
			return usagef("--start=%s: --in=%s is not a Kafka input; files are always read from their start", v, c.ins[i])
		case c.ins[i].start != nil:
			return usagef("--start=%s: input %q has a start already", v, name)
		}
		st, isCommitted, err := parse(pos)
		if err != nil {
			return err
		}
		c.ins[i].start, committed = &st, committed || isCommitted
	}
	if resetFlag != "earliest" && !committed {
		return usagef("--reset is for --start=committed:GROUP: it says where a partition the group has no offset for starts")
	}
	return nil
}

// DefaultBound is the default of --bound, the bounded out-of-orderness of
// event time a job gets from [Job.Bound].
const DefaultBound = 30 * time.Second

// minCheckpointInterval is the shortest --checkpoint-interval: a
// checkpoint every few microseconds would leave no time for the job.
const minCheckpointInterval = time.Millisecond

// checkDirs refuses directory flags that cannot work together: the
// savepoint and checkpoint stores would collect each other's files if one
// directory held both, and a directory flag naming a file fails later.
func checkDirs(c config) error {
	for _, d := range []struct{ flag, dir string }{
		{"checkpoint-dir", c.checkpointDir}, {"savepoint-dir", c.savepointDir}, {"from-savepoint", c.fromSavepoint},
		{"state-dir", c.stateDir},
	} {
		if d.dir == "" {
			continue
		}
		if st, err := os.Stat(d.dir); err == nil && !st.IsDir() {
			return usagef("--%s=%s is a file, not a directory", d.flag, d.dir)
		}
	}
	if c.checkpointDir == "" || c.savepointDir == "" {
		return nil
	}
	overlap, err := paths.Overlap(c.savepointDir, c.checkpointDir)
	if err != nil {
		return usagef("--savepoint-dir=%s: %v", c.savepointDir, err)
	}
	if overlap {
		return usagef("--savepoint-dir=%s and --checkpoint-dir=%s overlap; use two separate directories", c.savepointDir, c.checkpointDir)
	}
	return nil
}

// maxNameLen is the longest --name.
const maxNameLen = 100

// jobName is the job's identity: --name when given, else one derived from
// what the job writes, so that two different jobs of one binary differ and
// reruns of the same job are equal: BINARY-HASH, HASH being 8 hex digits
// of the SHA-256 of the absolute --checkpoint-dir, or without one of the
// --out location (an absolute directory, or kafka://HOST:PORT/TOPIC).
func jobName(binary, flagName string, c config) (string, error) {
	if flagName != "" {
		if err := validName(flagName); err != nil {
			return "", usagef("--name=%s: %v", flagName, err)
		}
		return flagName, nil
	}
	what := c.out.String()
	if len(c.outs) > 1 {
		// Several outputs: all of them, as they were named.
		var parts []string
		for _, o := range c.outs {
			loc := o.loc.String()
			if o.loc.Scheme != Kafka {
				p, err := paths.Canonical(o.loc.Path)
				if err != nil {
					return "", usagef("--out=%s: %v", o, err)
				}
				loc = string(o.loc.Scheme) + ":" + p
			}
			parts = append(parts, o.name+"="+loc)
		}
		what = strings.Join(parts, "\n")
	}
	switch {
	case c.checkpointDir != "":
		p, err := paths.Canonical(c.checkpointDir)
		if err != nil {
			return "", usagef("--checkpoint-dir=%s: %v", c.checkpointDir, err)
		}
		what = "checkpoint-dir:" + p
	case c.out.Scheme != Kafka && len(c.outs) == 1:
		p, err := paths.Canonical(c.out.Path)
		if err != nil {
			return "", usagef("--out=%s: %v", c.out, err)
		}
		what = string(c.out.Scheme) + ":" + p
	}
	sum := sha256.Sum256([]byte(what))
	prefix := strings.Map(func(r rune) rune {
		if nameRune(r) {
			return r
		}
		return '-'
	}, binary)
	if prefix == "" {
		prefix = "weir"
	}
	if n := maxNameLen - 9; len(prefix) > n {
		prefix = prefix[:n]
	}
	return prefix + "-" + hex.EncodeToString(sum[:4]), nil
}

// validName checks a job name: it goes into Kafka transactional ids.
func validName(n string) error {
	if n == "" || len(n) > maxNameLen {
		return fmt.Errorf("use 1 to %d characters", maxNameLen)
	}
	for _, r := range n {
		if !nameRune(r) {
			return fmt.Errorf("%q is not allowed; use letters, digits, '.', '_' and '-'", r)
		}
	}
	return nil
}

func nameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// flagError rewrites the flag package's messages in our words.
func flagError(err error, fs *flag.FlagSet) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return fmt.Sprintf("unknown flag --%s", strings.TrimLeft(name, "-"))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return fmt.Sprintf("flag --%s needs a value", strings.TrimLeft(name, "-"))
	}
	// `invalid value "x" for flag -parallelism: parse error`, and for
	// booleans `invalid boolean value "x" for -bounded: parse error`
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		if v, f, ok := strings.Cut(rest, " for -"); ok {
			name, _, _ := strings.Cut(f, ":")
			return fmt.Sprintf("--%s=%s: %s", name, strings.Trim(v, `"`), valueHint(fs, name))
		}
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		if v, f, ok := strings.Cut(rest, " for flag -"); ok {
			name, _, _ := strings.Cut(f, ":")
			return fmt.Sprintf("--%s=%s: %s", name, strings.Trim(v, `"`), valueHint(fs, name))
		}
	}
	return strings.TrimPrefix(msg, "flag ")
}

// valueHint says what flag name takes, for a value the flag package could
// not parse.
func valueHint(fs *flag.FlagSet, name string) string {
	f := fs.Lookup(name)
	if f == nil {
		return "not a valid value"
	}
	switch f.Value.(flag.Getter).Get().(type) {
	case int:
		if r, ok := intRanges[name]; ok {
			return "use a whole number " + r
		}
		return "use a whole number"
	case time.Duration:
		return "not a duration; use a number with a unit, as in 500ms, 30s or 5m"
	case bool:
		return "use true or false"
	}
	return "not a valid value"
}

// intRanges are the allowed values of the whole-number flags, for messages.
var intRanges = map[string]string{
	"parallelism":       fmt.Sprintf("from 1 to %d", runner.MaxParallelismLimit),
	"max-parallelism":   fmt.Sprintf("from 1 to %d", runner.MaxParallelismLimit),
	"checkpoint-retain": "of at least 1",
}

// parseStart parses --start into a Kafka start position.
func parseStart(v string) (kafka.Start, error) {
	switch {
	case v == "earliest":
		return kafka.Earliest(), nil
	case v == "latest":
		return kafka.Latest(), nil
	case strings.HasPrefix(v, "committed:") && len(v) > len("committed:"):
		return kafka.Committed(strings.TrimPrefix(v, "committed:")), nil
	case strings.HasPrefix(v, "time:"):
		t, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(v, "time:"))
		if err != nil {
			return kafka.Start{}, usagef("--start=%s: the time must be RFC 3339, as in time:2024-01-01T00:00:00Z", v)
		}
		return kafka.AtTime(t), nil
	}
	return kafka.Start{}, usagef("--start=%s: use earliest, latest, committed:GROUP or time:RFC3339", v)
}

// flagOrder is the order flags are listed in by -h.
var flagOrder = []string{"in", "out", "out-key", "overwrite", "append", "name", "mode", "parallelism", "max-parallelism", "on-error", "dead-letter",
	"bound", "allowed-lateness", "perfect-watermark", "idle-timeout", "bounded", "start", "reset", "group", "checkpoint-dir", "checkpoint-interval", "checkpoint-retain",
	"savepoint-dir", "from-savepoint", "state-dir", "state-memory", "progress"}

// printDefaults writes the flags of run in fs in --name form.
func printDefaults(w io.Writer, fs *flag.FlagSet) { printFlags(w, fs, flagOrder) }

// pipelineFlags are the names of the flags Program.Flags declared, sorted.
func (f *runFlags) pipelineFlags() []string {
	var names []string
	f.fs.VisitAll(func(fl *flag.Flag) {
		if !f.own[fl.Name] {
			names = append(names, fl.Name)
		}
	})
	return names
}

// printFlags writes the flags of fs named in names, in that order.
func printFlags(w io.Writer, fs *flag.FlagSet, names []string) {
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			continue
		}
		name, usage := flag.UnquoteUsage(f)
		arg := "--" + f.Name
		if name != "" {
			arg += "=" + strings.ToUpper(name)
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  %-28s %s%s\n", arg, usage, def)
	}
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[`) }

// parseSize reads a byte size: a decimal number (digits, optionally a
// fraction) with an optional unit B, KB, MB, GB or TB (powers of 1024;
// KiB, MiB, GiB and TiB also accepted), at most maxSize. Anything else
// (NaN, Inf, a sign, an exponent, an unknown unit) is refused.
func parseSize(v string) (int64, error) {
	bad := fmt.Errorf("not a size; use a number with B, KB, MB or GB")
	m := sizeRE.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(v)))
	if m == nil {
		return 0, bad
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, bad
	}
	mult := map[string]float64{"": 1, "B": 1, "KB": 1 << 10, "KIB": 1 << 10, "MB": 1 << 20, "MIB": 1 << 20,
		"GB": 1 << 30, "GIB": 1 << 30, "TB": 1 << 40, "TIB": 1 << 40}[m[2]]
	if n*mult > maxSize {
		return 0, fmt.Errorf("too large; use at most %d TB", int64(maxSize)>>40)
	}
	return int64(n * mult), nil
}

// sizeRE is a size: a decimal number and an optional unit.
var sizeRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?|\.[0-9]+) *(B|KB|KIB|MB|MIB|GB|GIB|TB|TIB)?$`)

// maxSize is the largest size parseSize accepts: 1 PiB.
const maxSize = 1 << 50

// UsageError is an error of the command line found by a build function
// (a pipeline flag out of range): the job prints it on one line with a hint
// to run -h and exits 2, before anything runs.
func UsageError(format string, args ...any) error { return usagef(format, args...) }
