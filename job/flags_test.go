package job

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/runner/checkpoint"
	"github.com/weirflow/weir/state"
)

func TestParseRunFlags(t *testing.T) {
	base := []string{"--in=parquet:data/*.parquet", "--out=jsonl:out/"}
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, c config)
		err   string // substring of the usage error; "" for success
	}{
		{
			name: "defaults",
			args: base,
			check: func(t *testing.T, c config) {
				want := config{
					mode:           runner.Batch,
					in:             Location{Parquet, "data/*.parquet"},
					out:            Location{JSONL, "out/"},
					ins:            []port{{loc: Location{Parquet, "data/*.parquet"}}},
					outs:           []port{{loc: Location{JSONL, "out/"}}},
					dead:           Location{JSONL, filepath.Join("out", "dead-letter")},
					parallelism:    1,
					maxParallelism: runner.DefaultMaxParallelism,
					onError:        runner.DeadLetter,
					bound:          30 * time.Second,
					progress:       "auto",
					interval:       runner.DefaultCheckpointInterval,
					retain:         runner.DefaultCheckpointRetain,
				}
				if !defaultName.MatchString(c.name) {
					t.Errorf("name %q, want fraud-HASH", c.name)
				}
				c.name = ""
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got  %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "everything",
			args: []string{"-mode=stream", "--in=jsonl:a.jsonl", "--out=parquet:o", "--parallelism", "4",
				"--max-parallelism=64", "--on-error=fail", "--dead-letter=jsonl:dl", "--bound=1m",
				"--allowed-lateness=10s", "--progress=never"},
			check: func(t *testing.T, c config) {
				want := config{
					mode:           runner.Stream,
					in:             Location{JSONL, "a.jsonl"},
					out:            Location{Parquet, "o"},
					ins:            []port{{loc: Location{JSONL, "a.jsonl"}}},
					outs:           []port{{loc: Location{Parquet, "o"}}},
					dead:           Location{JSONL, "dl"},
					parallelism:    4,
					maxParallelism: 64,
					onError:        runner.Fail,
					bound:          time.Minute,
					lateness:       10 * time.Second,
					progress:       "never",
					interval:       runner.DefaultCheckpointInterval,
					retain:         runner.DefaultCheckpointRetain,
				}
				if !defaultName.MatchString(c.name) {
					t.Errorf("name %q, want fraud-HASH", c.name)
				}
				c.name = ""
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got  %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "checkpoints",
			args: append(base, "--checkpoint-dir=ck", "--checkpoint-interval=2s", "--checkpoint-retain=5",
				"--savepoint-dir=sp", "--from-savepoint=sp0", "--state-dir=st", "--state-memory=512MB"),
			check: func(t *testing.T, c config) {
				if c.checkpointDir != "ck" || c.interval != 2*time.Second || c.retain != 5 || c.savepointDir != "sp" ||
					c.fromSavepoint != "sp0" || c.stateDir != "st" || c.stateMemory != 512<<20 {
					t.Errorf("got %+v", c)
				}
			},
		},
		{name: "bad state memory", args: append(base, "--state-memory=lots"), err: "--state-memory=lots"},
		{name: "bad checkpoint interval", args: append(base, "--checkpoint-interval=0s"), err: "--checkpoint-interval=0s"},
		{
			name: "perfect watermark",
			args: append(base, "--perfect-watermark", "--on-error=skip"),
			check: func(t *testing.T, c config) {
				if !c.perfect || c.onError != runner.Skip {
					t.Errorf("got %+v", c)
				}
			},
		},
		{name: "unknown flag", args: append(base, "--bogus=1"), err: "unknown flag --bogus"},
		{name: "bad mode", args: append(base, "--mode=fast"), err: "--mode=fast: use batch or stream"},
		{name: "missing in", args: []string{"--out=jsonl:o"}, err: "--in is required"},
		{name: "missing out", args: []string{"--in=jsonl:x"}, err: "--out is required"},
		{name: "bad scheme", args: []string{"--in=csv:x", "--out=jsonl:o"}, err: `unknown scheme "csv"`},
		{name: "no scheme", args: []string{"--in=data/x.parquet", "--out=jsonl:o"}, err: "has no scheme"},
		{name: "no path", args: []string{"--in=parquet:", "--out=jsonl:o"}, err: "has no path"},
		{
			name: "kafka",
			args: []string{"--mode=stream", "--in=kafka://127.0.0.1:9092/txns", "--out=kafka://127.0.0.1:9092/alerts", "--on-error=skip"},
			check: func(t *testing.T, c config) {
				if c.in != (Location{Kafka, "127.0.0.1:9092/txns"}) || c.out != (Location{Kafka, "127.0.0.1:9092/alerts"}) || c.dead != (Location{}) {
					t.Errorf("got %+v", c)
				}
				if c.in.Broker() != "127.0.0.1:9092" || c.in.Topic() != "txns" || c.out.String() != "kafka://127.0.0.1:9092/alerts" {
					t.Errorf("broker %q topic %q string %q", c.in.Broker(), c.in.Topic(), c.out)
				}
			},
		},
		{
			name: "kafka batch to files",
			args: []string{"--in=kafka://h:1/txns", "--out=jsonl:o"},
			check: func(t *testing.T, c config) {
				if c.dead != (Location{JSONL, filepath.Join("o", "dead-letter")}) {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "kafka stream to its end",
			args: []string{"--mode=stream", "--in=kafka://h:1/txns", "--out=jsonl:o", "--bounded", "--idle-timeout=30s", "--checkpoint-dir=ck"},
			check: func(t *testing.T, c config) {
				if !c.bounded || c.idle != 30*time.Second || c.checkpointDir != "ck" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{name: "bounded files", args: append(base, "--bounded"), err: "--bounded is for a Kafka input"},
		{
			name: "kafka start positions",
			args: []string{"--mode=stream", "--in=kafka://h:1/txns", "--out=jsonl:o", "--start=committed:fraud"},
			check: func(t *testing.T, c config) {
				if c.start != kafka.Committed("fraud") {
					t.Errorf("start %+v", c.start)
				}
			},
		},
		{
			name: "kafka start at the group's offsets, else latest",
			args: []string{"--mode=stream", "--in=kafka://h:1/txns", "--out=jsonl:o", "--start=committed:fraud", "--reset=latest"},
			check: func(t *testing.T, c config) {
				if c.start != kafka.CommittedOr("fraud", kafka.ResetLatest) {
					t.Errorf("start %+v", c.start)
				}
			},
		},
		{
			name: "kafka start at a time",
			args: []string{"--mode=stream", "--in=kafka://h:1/txns", "--out=jsonl:o", "--start=time:2024-01-01T00:00:00Z"},
			check: func(t *testing.T, c config) {
				if c.start != kafka.AtTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("start %+v", c.start)
				}
			},
		},
		{
			name: "kafka start latest",
			args: []string{"--in=kafka://h:1/txns", "--out=jsonl:o", "--start=latest"},
			check: func(t *testing.T, c config) {
				if c.start != kafka.Latest() {
					t.Errorf("start %+v", c.start)
				}
			},
		},
		{name: "start bad time", args: []string{"--in=kafka://h:1/txns", "--out=jsonl:o", "--start=time:yesterday"}, err: "the time must be RFC 3339"},
		{name: "start unknown", args: []string{"--in=kafka://h:1/txns", "--out=jsonl:o", "--start=newest"}, err: "use earliest, latest, committed:GROUP or time:RFC3339"},
		{name: "start files", args: append(base, "--start=latest"), err: "--start is for a Kafka input"},
		{name: "out key files", args: append(base, "--out-key=user_id"), err: "--out-key is for a Kafka output"},
		{name: "reset unknown", args: []string{"--in=kafka://h:1/txns", "--out=jsonl:o", "--start=committed:g", "--reset=oldest"}, err: "--reset=oldest: use earliest, latest or none"},
		{name: "reset without a group", args: []string{"--in=kafka://h:1/txns", "--out=jsonl:o", "--reset=none"}, err: "--reset is for --start=committed:GROUP"},
		{name: "negative idle", args: append(base, "--idle-timeout=-1s"), err: "--idle-timeout=-1s: must not be negative"},
		{name: "kafka no topic", args: []string{"--in=kafka://127.0.0.1:9092", "--out=jsonl:o"}, err: "write kafka://HOST:PORT/TOPIC"},
		{name: "kafka out dead letters", args: []string{"--in=jsonl:x", "--out=kafka://h:1/t"}, err: "no directory for dead letters"},
		{name: "out glob", args: []string{"--in=jsonl:x", "--out=jsonl:o/*"}, err: "not a pattern"},
		{name: "parquet dead letters", args: append(base, "--dead-letter=parquet:d"), err: "dead letters are written as jsonl:DIR"},
		{name: "zero parallelism", args: append(base, "--parallelism=0"), err: "--parallelism=0: out of range; use 1 to 32768"},
		{name: "parallelism over max", args: append(base, "--parallelism=8", "--max-parallelism=4"), err: "exceeds --max-parallelism=4"},
		{name: "bad number", args: append(base, "--parallelism=two"), err: "--parallelism=two: use a whole number from 1 to 32768"},
		{name: "bad duration", args: append(base, "--bound=soon"), err: "--bound=soon: not a duration; use a number with a unit, as in 500ms, 30s or 5m"},
		{name: "negative bound", args: append(base, "--bound=-1s"), err: "must not be negative"},
		{name: "missing value", args: append(base, "--mode"), err: "flag --mode needs a value"},
		{name: "bad on-error", args: append(base, "--on-error=ignore"), err: "use dead-letter, skip or fail"},
		{name: "perfect stream", args: append(base, "--mode=stream", "--perfect-watermark"), err: "for --mode=batch only"},
		{name: "bad progress", args: append(base, "--progress=maybe"), err: "use auto, always or never"},
		{name: "positional", args: append(base, "extra"), err: `unexpected argument "extra"`},

		// Every flag's bad values, each refused on one line naming the flag.
		{name: "parallelism huge", args: append(base, "--parallelism=100000", "--max-parallelism=100000"), err: "--parallelism=100000: out of range; use 1 to 32768"},
		{name: "parallelism negative", args: append(base, "--parallelism=-4"), err: "--parallelism=-4: out of range; use 1 to 32768"},
		{name: "parallelism too big for int", args: append(base, "--parallelism=99999999999999999999"), err: "--parallelism=99999999999999999999: use a whole number from 1 to 32768"},
		{name: "parallelism float", args: append(base, "--parallelism=1.5"), err: "--parallelism=1.5: use a whole number from 1 to 32768"},
		{name: "max parallelism over the key groups", args: append(base, "--max-parallelism=40000"), err: "--max-parallelism=40000: out of range; use 1 to 32768"},
		{name: "max parallelism zero", args: append(base, "--max-parallelism=0"), err: "--max-parallelism=0: out of range; use 1 to 32768"},
		{name: "max parallelism word", args: append(base, "--max-parallelism=lots"), err: "--max-parallelism=lots: use a whole number from 1 to 32768"},
		{name: "negative lateness", args: append(base, "--allowed-lateness=-1m"), err: "--allowed-lateness=-1m0s: must not be negative"},
		{name: "bad lateness", args: append(base, "--allowed-lateness=1y"), err: "--allowed-lateness=1y: not a duration"},
		{name: "bad idle timeout", args: append(base, "--idle-timeout=NaN"), err: "--idle-timeout=NaN: not a duration"},
		{name: "overflowing duration", args: append(base, "--bound=9999999999h"), err: "--bound=9999999999h: not a duration"},
		{name: "negative checkpoint interval", args: append(base, "--checkpoint-interval=-5s"), err: "--checkpoint-interval=-5s: must be at least 1ms"},
		{name: "tiny checkpoint interval", args: append(base, "--checkpoint-interval=1ns"), err: "--checkpoint-interval=1ns: must be at least 1ms"},
		{name: "zero retain", args: append(base, "--checkpoint-retain=0"), err: "--checkpoint-retain=0: must be at least 1"},
		{name: "word retain", args: append(base, "--checkpoint-retain=all"), err: "--checkpoint-retain=all: use a whole number of at least 1"},
		{name: "bool with a value", args: append(base, "--perfect-watermark=maybe"), err: "--perfect-watermark=maybe: use true or false"},
		{name: "state memory NaN", args: append(base, "--state-memory=NaN"), err: "--state-memory=NaN: not a size; use a number with B, KB, MB or GB"},
		{name: "state memory Inf", args: append(base, "--state-memory=Inf"), err: "--state-memory=Inf: not a size"},
		{name: "state memory negative", args: append(base, "--state-memory=-1"), err: "--state-memory=-1: not a size"},
		{name: "state memory exponent", args: append(base, "--state-memory=1e30"), err: "--state-memory=1e30: not a size"},
		{name: "state memory unknown unit", args: append(base, "--state-memory=12XB"), err: "--state-memory=12XB: not a size"},
		{name: "state memory hex", args: append(base, "--state-memory=0x10"), err: "--state-memory=0x10: not a size"},
		{name: "state memory huge", args: append(base, "--state-memory=100000TB"), err: "--state-memory=100000TB: too large"},
		{name: "state memory empty", args: append(base, "--state-memory="), err: "--state-memory=: not a size"},
		{name: "savepoint dir is the checkpoint dir", args: append(base, "--checkpoint-dir=ck", "--savepoint-dir=ck"), err: "--savepoint-dir=ck and --checkpoint-dir=ck overlap; use two separate directories"},
		{name: "savepoint dir inside the checkpoint dir", args: append(base, "--checkpoint-dir=ck", "--savepoint-dir=ck/sp"), err: "overlap"},
		{name: "checkpoint dir inside the savepoint dir", args: append(base, "--checkpoint-dir=./sp/ck/", "--savepoint-dir=sp"), err: "overlap"},
		{name: "savepoint dir the same, spelled otherwise", args: append(base, "--checkpoint-dir=a/../ck", "--savepoint-dir=ck/."), err: "overlap"},
		{name: "name with a space", args: append(base, "--name=my job"), err: `--name=my job: ' ' is not allowed; use letters, digits, '.', '_' and '-'`},
		{name: "name with a slash", args: append(base, "--name=a/b"), err: "--name=a/b: '/' is not allowed"},
		{name: "name too long", args: append(base, "--name="+strings.Repeat("x", 101)), err: "use 1 to 100 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newRunFlags("fraud").parse(tc.args)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				return
			}
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q, want one line containing %q", err, tc.err)
			}
		})
	}
}

// defaultName is the shape of a derived job name.
var defaultName = regexp.MustCompile(`^fraud-[0-9a-f]{8}$`)

// TestFlagDefaultsFromConstants: the defaults -h shows are the named
// constants of the packages that own them.
func TestFlagDefaultsFromConstants(t *testing.T) {
	fs := newRunFlags("fraud").fs
	for flag, want := range map[string]string{
		"parallelism":         strconv.Itoa(runner.DefaultParallelism),
		"max-parallelism":     strconv.Itoa(runner.DefaultMaxParallelism),
		"checkpoint-interval": runner.DefaultCheckpointInterval.String(),
		"checkpoint-retain":   strconv.Itoa(runner.DefaultCheckpointRetain),
		"bound":               DefaultBound.String(),
		"mode":                runner.Batch.String(),
		"on-error":            runner.DeadLetter.String(),
	} {
		if got := fs.Lookup(flag).DefValue; got != want {
			t.Errorf("--%s default %s, want %s", flag, got, want)
		}
	}
	if runner.MaxParallelismLimit != state.MaxKeyGroups || runner.DefaultCheckpointRetain != checkpoint.DefaultRetain {
		t.Errorf("runner's limits differ from the packages that own them")
	}
}

// TestFlagsAgreeWithRunner: whatever the flags accept, runner.Options
// accepts too, at the edges of every range.
func TestFlagsAgreeWithRunner(t *testing.T) {
	base := []string{"--in=parquet:data/*.parquet", "--out=jsonl:out/"}
	for _, extra := range [][]string{
		{"--parallelism=32768", "--max-parallelism=32768"},
		{"--max-parallelism=1"},
		{"--checkpoint-interval=1ms", "--checkpoint-retain=1", "--checkpoint-dir=ck", "--savepoint-dir=sp"},
		{"--state-memory=1024TB"},
	} {
		c, err := newRunFlags("fraud").parse(append(base, extra...))
		if err != nil {
			t.Errorf("%v: %v", extra, err)
			continue
		}
		o := runner.Options{Parallelism: c.parallelism, MaxParallelism: c.maxParallelism, Mode: c.mode, OnError: c.onError,
			CheckpointDir: c.checkpointDir, CheckpointInterval: c.interval, CheckpointRetain: c.retain,
			SavepointDir: c.savepointDir, StateMemory: c.stateMemory}
		o.EnsureDefaults()
		if err := o.Validate(); err != nil {
			t.Errorf("%v: flags accept it, runner.Options.Validate says %v", extra, err)
		}
	}
}

// TestJobName: the derived name is the same for reruns of a job and
// differs between jobs that write to different places.
func TestJobName(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	name := func(args ...string) string {
		t.Helper()
		c, err := newRunFlags("fraud").parse(append([]string{"--in=jsonl:x"}, args...))
		if err != nil {
			t.Fatal(err)
		}
		return c.name
	}
	ck1 := name("--out=jsonl:o1", "--checkpoint-dir=ck1")
	if !defaultName.MatchString(ck1) {
		t.Fatalf("name %q, want fraud-HASH", ck1)
	}
	for _, tc := range []struct {
		what string
		a, b string
		same bool
	}{
		{"rerun", ck1, name("--out=jsonl:o1", "--checkpoint-dir=ck1"), true},
		{"the checkpoint dir spelled otherwise", ck1, name("--out=jsonl:o2", "--checkpoint-dir="+filepath.Join(dir, "x", "..", "ck1")), true},
		{"another checkpoint dir", ck1, name("--out=jsonl:o1", "--checkpoint-dir=ck2"), false},
		{"outputs without checkpoints", name("--out=jsonl:o1"), name("--out=jsonl:o2"), false},
		{"the same output", name("--out=jsonl:o1"), name("--out=jsonl:./o1/"), true},
		{"kafka topics", name("--out=kafka://h:1/a", "--on-error=skip"), name("--out=kafka://h:1/b", "--on-error=skip"), false},
		{"kafka brokers", name("--out=kafka://h:1/a", "--on-error=skip"), name("--out=kafka://h:2/a", "--on-error=skip"), false},
		{"given", name("--out=jsonl:o1", "--name=nightly.fraud_v2-1"), "nightly.fraud_v2-1", true},
	} {
		if (tc.a == tc.b) != tc.same {
			t.Errorf("%s: %q and %q, want same=%v", tc.what, tc.a, tc.b, tc.same)
		}
	}
	c, err := newRunFlags("my job!").parse([]string{"--in=jsonl:x", "--out=jsonl:o"})
	if err != nil || validName(c.name) != nil {
		t.Errorf("binary with odd characters: name %q, %v", c.name, err)
	}
}

// TestCheckDirs: a directory flag that names a file is refused up front.
func TestCheckDirs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, fl := range []string{"checkpoint-dir", "savepoint-dir", "from-savepoint", "state-dir"} {
		_, err := newRunFlags("fraud").parse([]string{"--in=jsonl:x", "--out=jsonl:o", "--" + fl + "=" + file})
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--"+fl+"="+file+" is a file, not a directory") {
			t.Errorf("--%s=FILE: %v", fl, err)
		}
	}
	// A symbolic link to the checkpoint directory is the same directory.
	ck := filepath.Join(dir, "ck")
	if err := os.Mkdir(ck, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ck, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	_, err := newRunFlags("fraud").parse([]string{"--in=jsonl:x", "--out=jsonl:o", "--checkpoint-dir=" + ck, "--savepoint-dir=" + filepath.Join(dir, "link", "sp")})
	if err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("savepoint dir inside a link to the checkpoint dir: %v", err)
	}
}

func TestParseHelp(t *testing.T) {
	if _, err := newRunFlags("fraud").parse([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("err = %v, want flag.ErrHelp", err)
	}
}

// TestNamedStart: --start=NAME=POSITION sets one Kafka input's start, a
// plain --start every other's, and --reset applies to committed starts.
func TestNamedStart(t *testing.T) {
	c, err := newRunFlags("enrich").parse([]string{"--in=clicks=kafka://h:1/clicks", "--in=profiles=kafka://h:1/profiles",
		"--out=jsonl:o", "--start=latest", "--start=profiles=committed:g", "--reset=none"})
	if err != nil {
		t.Fatal(err)
	}
	if c.start != kafka.Latest() || c.ins[0].start != nil {
		t.Errorf("clicks: job start %+v, own %v; want latest, none", c.start, c.ins[0].start)
	}
	if c.ins[1].start == nil || *c.ins[1].start != kafka.CommittedOr("g", kafka.ResetNone) {
		t.Errorf("profiles: start %v, want committed:g with reset none", c.ins[1].start)
	}
	for _, args := range [][]string{
		{"--start=latest", "--start=earliest"},
		{"--start=profiles=latest", "--start=profiles=earliest"},
		{"--start=latest", "--reset=latest"},
	} {
		if _, err := newRunFlags("enrich").parse(append([]string{"--in=clicks=kafka://h:1/clicks", "--in=profiles=kafka://h:1/profiles", "--out=jsonl:o"}, args...)); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
