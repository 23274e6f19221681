package job_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirflow/weir/job"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

func identity(t time.Time) time.Time { return t }
func hourOf(t time.Time) string      { return t.UTC().Format("15h") }

// hours is a job that reads times and writes the hour of each.
func hours(j *job.Job) error {
	times := sdk.Read(j.Pipeline(), job.Input[time.Time](j), sdk.Timestamps(identity))
	sdk.Write(sdk.Map(times, hourOf), job.Output[string](j, ""), sdk.Named("hours"))
	return nil
}

func run(t *testing.T, ctx context.Context, p job.Program, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = p.Run(ctx, args, &out, &errs)
	for _, s := range []string{out.String(), errs.String()} {
		if strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
			t.Errorf("output shows a crash: %q", s)
		}
	}
	return code, out.String(), errs.String()
}

func TestRunJSONL(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	data := "\"2024-01-01T10:15:00Z\"\n\"2024-01-01T11:00:00Z\"\nnot json\n"
	if err := os.WriteFile(in, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := run(t, context.Background(), job.Program{Name: "hours", Build: hours},
		"run", "--in=jsonl:"+in, "--out=jsonl:"+out, "--progress=always")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q", stdout)
	}
	if !strings.HasPrefix(stderr, "hours: done: rows in 3, rows out 2, late 0, dead-lettered 1, ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q, want one summary line", stderr)
	}
	got, _ := filepath.Glob(filepath.Join(out, "*.jsonl"))
	var lines []string
	for _, f := range got {
		b, _ := os.ReadFile(f)
		lines = append(lines, strings.Fields(string(b))...)
	}
	if strings.Join(lines, " ") != `"10h" "11h"` {
		t.Errorf("output %q", lines)
	}
	dead, _ := filepath.Glob(filepath.Join(out, "dead-letter", "*.jsonl"))
	if len(dead) != 1 {
		t.Fatalf("dead-letter files %v", dead)
	}
	b, _ := os.ReadFile(dead[0])
	if !strings.Contains(string(b), "in.jsonl line 3") {
		t.Errorf("dead letter %q does not name the line", b)
	}
}

// TestJobAccessors: the build function sees the job's name, its input
// files and its output directories.
func TestJobAccessors(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, n := range []string{"b.jsonl", "a.jsonl"} {
		f := filepath.Join(dir, "in", n)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("\"2024-01-01T10:15:00Z\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	var name string
	var inputs []string
	var late string
	build := func(j *job.Job) error {
		name, inputs, late = j.Name(), j.InputFiles(), j.OutputDir("late")
		return hours(j)
	}
	out := filepath.Join(dir, "out")
	code, _, stderr := run(t, context.Background(), job.Program{Name: "hours", Build: build},
		"run", "--in=jsonl:"+filepath.Join(dir, "in"), "--out=jsonl:"+out, "--name=nightly", "--progress=never")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if name != "nightly" {
		t.Errorf("Name() = %q, want nightly", name)
	}
	if want := []string{files[1], files[0]}; strings.Join(inputs, ",") != strings.Join(want, ",") {
		t.Errorf("InputFiles() = %q, want %q (sorted)", inputs, want)
	}
	if late != filepath.Join(out, "late") {
		t.Errorf("OutputDir(late) = %q", late)
	}
}

func TestBuildFailures(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte("\"2024-01-01T10:15:00Z\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--in=jsonl:" + in, "--out=jsonl:" + filepath.Join(dir, "out")}
	for _, tc := range []struct {
		name  string
		build func(*job.Job) error
		want  string
	}{
		{"error", func(*job.Job) error { return errors.New("no config\nsecond line") }, "x: no config; second line\n"},
		{"panic", func(*job.Job) error { panic("boom\nmore") }, "x: internal error: boom; more; please report it\n"},
		{"bad pipeline", func(j *job.Job) error {
			sdk.Write(sdk.Map(sdk.Read(j.Pipeline(), job.Input[time.Time](j)), hourOf), job.Output[string](j, ""))
			return nil
		}, `x: Read "Read": type time.Time has no event time`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, context.Background(), job.Program{Name: "x", Build: tc.build}, args...)
			if code != 1 || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 1 and one line starting %q", code, stderr, tc.want)
			}
		})
	}
}

// endless is a build function over an endless in-memory source; started
// is closed once reading has begun.
func endless(sink *runnertest.Sink[string], started chan struct{}) func(*job.Job) error {
	var once sync.Once
	src := &runnertest.Source[time.Time]{Endless: true, ReadSize: 10, Data: [][]time.Time{{time.Unix(0, 0), time.Unix(3600, 0)}},
		ReadErr: func(string, int) error {
			once.Do(func() { close(started) })
			return nil
		}}
	return func(j *job.Job) error {
		times := sdk.Read(j.Pipeline(), src, sdk.Timestamps(identity))
		sdk.Write(sdk.Map(times, hourOf), sink)
		return nil
	}
}

// TestStop stops and cancels endless jobs: a stream job stops gracefully
// and commits; a batch job and a cancelled one commit nothing, and say so;
// a job cancelled after checkpoints committed says up to which.
func TestStop(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join(dir, "ck")
	for _, tc := range []struct {
		name      string
		mode      string
		cancel    bool // cancel the context instead of closing Stop
		afterCkpt bool // once a checkpoint has committed
		flags     []string
		code      int
		want      string
		committed bool
	}{
		{"stream stop", "stream", false, false, nil, 0, "x: stopped: output committed: rows in ", true},
		{"batch stop", "batch", false, false, nil, 130, "x: aborted: nothing committed (without --checkpoint-dir a batch job is rerun whole): rows in ", false},
		{"stream cancel", "stream", true, false, nil, 130, "x: aborted: nothing committed: rows in ", false},
		{"cancel after checkpoints", "stream", true, true, []string{"--checkpoint-dir=" + ck, "--checkpoint-interval=1ms"}, 130,
			"x: aborted: output up to checkpoint ", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stop := make(chan struct{})
			started := make(chan struct{})
			sink := &runnertest.Sink[string]{}
			go func() {
				<-started
				if tc.afterCkpt {
					deadline := time.Now().Add(time.Minute)
					for _, _, commits, _ := sink.Counts(); commits == 0 && time.Now().Before(deadline); _, _, commits, _ = sink.Counts() {
						runtime.Gosched()
					}
				}
				if tc.cancel {
					cancel()
				} else {
					close(stop)
				}
			}()
			p := job.Program{Name: "x", Build: endless(sink, started), Stop: stop}
			args := append([]string{"run", "--mode=" + tc.mode, "--in=jsonl:" + dir,
				"--out=jsonl:" + filepath.Join(dir, "out"), "--progress=never"}, tc.flags...)
			code, _, stderr := run(t, ctx, p, args...)
			if code != tc.code || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want %d and one line starting %q", code, stderr, tc.code, tc.want)
			}
			if tc.afterCkpt && !strings.Contains(stderr, " is committed; the rest is not (rerun with --checkpoint-dir="+ck+" to resume): rows in ") {
				t.Errorf("stderr %q does not say how to resume", stderr)
			}
			if got := len(sink.Values()) > 0; got != tc.committed {
				t.Errorf("%d rows committed", len(sink.Values()))
			}
		})
	}
}

// TestStopBeforeStart: a stop that comes while the job is set up ends it
// at once: nothing read, nothing committed, no savepoint, exit 0.
func TestStopBeforeStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	close(stop)
	sink := &runnertest.Sink[string]{}
	p := job.Program{Name: "x", Build: endless(sink, make(chan struct{})), Stop: stop}
	code, _, stderr := run(t, context.Background(), p, "run", "--mode=stream", "--in=jsonl:"+dir,
		"--out=jsonl:"+filepath.Join(dir, "out"), "--savepoint-dir="+filepath.Join(dir, "sp"), "--progress=never", "--name=nightly")
	want := "x: stopped before it started: nothing read, nothing committed, no savepoint written: rows in 0, "
	if code != 0 || !strings.HasPrefix(stderr, want) || !strings.HasSuffix(stderr, "; job nightly\n") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want 0 and one line starting %q", code, stderr, want)
	}
	if opened, _, _, _ := sink.Counts(); opened != 0 {
		t.Errorf("%d writers opened", opened)
	}
}

func TestCommands(t *testing.T) {
	p := job.Program{Name: "x", Build: hours, Commands: []job.Command{{
		Name: "hello", Short: "say hello",
		Run: func(_ context.Context, args []string, stdout, _ io.Writer) int {
			fmt.Fprintln(stdout, "hello", strings.Join(args, " "))
			return 3
		},
	}}}
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"hello", "a", "b"}, 3, "hello a b\n", ""},
		{[]string{"help"}, 0, "usage: x <command> [flags]", ""},
		{nil, 2, "", "usage: x <command> [flags]"},
		{[]string{"bye"}, 2, "", "x: unknown command \"bye\" (see x help)\n"},
		{[]string{"run", "--bogus"}, 2, "", "x: unknown flag --bogus (see x run -h)\n"},
	} {
		code, stdout, stderr := run(t, context.Background(), p, tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tc.args, code, stdout, stderr)
		}
	}
	if _, stdout, _ := run(t, context.Background(), p, "help"); !strings.Contains(stdout, "hello    say hello") {
		t.Errorf("help does not list the command: %q", stdout)
	}
}
