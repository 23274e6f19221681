package job

import (
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/runner"
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
					dead:           Location{JSONL, filepath.Join("out", "dead-letter")},
					parallelism:    1,
					maxParallelism: 128,
					onError:        runner.DeadLetter,
					bound:          30 * time.Second,
					progress:       "auto",
					interval:       10 * time.Second,
					retain:         3,
				}
				if c != want {
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
					dead:           Location{JSONL, "dl"},
					parallelism:    4,
					maxParallelism: 64,
					onError:        runner.Fail,
					bound:          time.Minute,
					lateness:       10 * time.Second,
					progress:       "never",
					interval:       10 * time.Second,
					retain:         3,
				}
				if c != want {
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
		{name: "negative idle", args: append(base, "--idle-timeout=-1s"), err: "--idle-timeout=-1s: must not be negative"},
		{name: "kafka no topic", args: []string{"--in=kafka://127.0.0.1:9092", "--out=jsonl:o"}, err: "write kafka://HOST:PORT/TOPIC"},
		{name: "kafka out dead letters", args: []string{"--in=jsonl:x", "--out=kafka://h:1/t"}, err: "no directory for dead letters"},
		{name: "out glob", args: []string{"--in=jsonl:x", "--out=jsonl:o/*"}, err: "not a pattern"},
		{name: "parquet dead letters", args: append(base, "--dead-letter=parquet:d"), err: "dead letters are written as jsonl:DIR"},
		{name: "zero parallelism", args: append(base, "--parallelism=0"), err: "--parallelism=0: must be at least 1"},
		{name: "parallelism over max", args: append(base, "--parallelism=8", "--max-parallelism=4"), err: "exceeds --max-parallelism=4"},
		{name: "bad number", args: append(base, "--parallelism=two"), err: "--parallelism=two: not a valid value"},
		{name: "bad duration", args: append(base, "--bound=soon"), err: "--bound=soon: not a valid value"},
		{name: "negative bound", args: append(base, "--bound=-1s"), err: "must not be negative"},
		{name: "missing value", args: append(base, "--mode"), err: "flag --mode needs a value"},
		{name: "bad on-error", args: append(base, "--on-error=ignore"), err: "use dead-letter, skip or fail"},
		{name: "perfect stream", args: append(base, "--mode=stream", "--perfect-watermark"), err: "for --mode=batch only"},
		{name: "bad progress", args: append(base, "--progress=maybe"), err: "use auto, always or never"},
		{name: "positional", args: append(base, "extra"), err: `unexpected argument "extra"`},
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

func TestParseHelp(t *testing.T) {
	if _, err := newRunFlags("fraud").parse([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("err = %v, want flag.ErrHelp", err)
	}
}

func TestOneLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"weir: bad record at a.parquet row 3: missing ts", "bad record at a.parquet row 3: missing ts"},
		{"weir: a\nweir: b\n", "a; b"},
		{"plain", "plain"},
	} {
		if got := oneLine(tc.in); got != tc.want {
			t.Errorf("oneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
