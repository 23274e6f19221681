package job_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/job"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/sdk"
)

// twoInputs reads times from the inputs "am" and "pm", writes the hour of
// each to "hours" and the count of records per input to "counts"; its own
// flag --suffix is appended to every hour.
func twoInputs(suffix *string, mode *runner.Mode) func(j *job.Job) error {
	return func(j *job.Job) error {
		*mode = j.Mode()
		am := sdk.Read(j.Pipeline(), job.NamedInput[time.Time](j, "am"), sdk.Timestamps(identity), sdk.Named("am"))
		pm := sdk.Read(j.Pipeline(), job.NamedInput[time.Time](j, "pm"), sdk.Timestamps(identity), sdk.Named("pm"))
		all := sdk.Flatten(am, pm)
		sdk.Write(sdk.Map(all, func(t time.Time) string { return hourOf(t) + *suffix }),
			job.NamedOutput[string](j, "hours"), sdk.Named("hours"))
		sdk.Write(sdk.Map(pm, func(t time.Time) string { return "pm " + hourOf(t) }),
			job.NamedOutput[string](j, "pm"), sdk.Named("pm-out"))
		return nil
	}
}

func TestNamedInputsAndOutputs(t *testing.T) {
	dir := t.TempDir()
	am, pm := filepath.Join(dir, "am.jsonl"), filepath.Join(dir, "pm.jsonl")
	os.WriteFile(am, []byte("\"2024-01-01T09:15:00Z\"\n\"2024-01-01T10:00:00Z\"\n"), 0o644)
	os.WriteFile(pm, []byte("\"2024-01-01T13:15:00Z\"\nbad\n"), 0o644)
	var suffix string
	var mode runner.Mode
	p := job.Program{Name: "two", Build: twoInputs(&suffix, &mode), Flags: func(fs *flag.FlagSet) {
		fs.StringVar(&suffix, "suffix", "", "append `TEXT` to every hour")
	}}
	hours, pmOut, dead := filepath.Join(dir, "hours"), filepath.Join(dir, "pm-out"), filepath.Join(dir, "dl")
	code, _, stderr := run(t, context.Background(), p, "run", "--in=am=jsonl:"+am, "--in=pm=jsonl:"+pm,
		"--out=hours=jsonl:"+hours, "--out=pm=jsonl:"+pmOut, "--dead-letter=jsonl:"+dead, "--suffix=!", "--progress=never")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if mode != runner.Batch {
		t.Errorf("Mode() = %v", mode)
	}
	if got := readLines(t, hours); strings.Join(got, " ") != `"09h!" "10h!" "13h!"` {
		t.Errorf("hours %q", got)
	}
	if got := readLines(t, pmOut); strings.Join(got, " ") != `"pm 13h"` {
		t.Errorf("pm %q", got)
	}
	if got := readLines(t, dead); len(got) != 1 || !strings.Contains(got[0], "pm.jsonl line 2") {
		t.Errorf("dead letters %q: want the bad line of pm.jsonl", got)
	}

	// -h lists the pipeline's flags apart.
	code, stdout, _ := run(t, context.Background(), p, "run", "-h")
	if code != 0 || !strings.Contains(stdout, "flags of the two pipeline:\n  --suffix=TEXT") {
		t.Errorf("-h: exit %d:\n%s", code, stdout)
	}
}

// TestNamedInputMismatch: inputs and outputs the pipeline names and those
// the command line gives must agree; each mismatch is one line, exit 2,
// before anything runs.
func TestNamedInputMismatch(t *testing.T) {
	dir := t.TempDir()
	am := filepath.Join(dir, "am.jsonl")
	os.WriteFile(am, []byte("\"2024-01-01T09:15:00Z\"\n"), 0o644)
	var suffix string
	var mode runner.Mode
	named := job.Program{Name: "two", Build: twoInputs(&suffix, &mode)}
	single := job.Program{Name: "hours", Build: hours}
	outs := []string{"--out=hours=jsonl:" + filepath.Join(dir, "h"), "--out=pm=jsonl:" + filepath.Join(dir, "p"), "--on-error=skip"}
	for _, tc := range []struct {
		name string
		p    job.Program
		args []string
		want string
	}{
		{"missing input", named, append([]string{"--in=am=jsonl:" + am}, outs...),
			`the pipeline reads or writes the input "pm": add --in=pm=LOCATION`},
		{"unknown input", named, append([]string{"--in=am=jsonl:" + am, "--in=pm=jsonl:" + am, "--in=eve=jsonl:" + am}, outs...),
			`--in=eve=jsonl:` + am + `: this pipeline has no input named "eve"; its inputs are am, pm`},
		{"unnamed for named", named, append([]string{"--in=jsonl:" + am}, outs...),
			"this pipeline names its inputs: give --in=am=LOCATION"},
		{"named for unnamed", single, []string{"--in=x=jsonl:" + am, "--out=jsonl:" + filepath.Join(dir, "o")},
			"this pipeline has one input: give it as --in=LOCATION, without a name"},
		{"two unnamed", single, []string{"--in=jsonl:" + am, "--in=jsonl:" + am, "--out=jsonl:" + filepath.Join(dir, "o")},
			"with several --in, name each: --in=NAME=jsonl:"},
		{"twice", named, append([]string{"--in=am=jsonl:" + am, "--in=am=jsonl:" + am}, outs...),
			`input "am" is given twice`},
		{"dead letters of several outputs", named, []string{"--in=am=jsonl:" + am, "--in=pm=jsonl:" + am,
			"--out=hours=jsonl:" + filepath.Join(dir, "h"), "--out=pm=jsonl:" + filepath.Join(dir, "p")},
			"with several --out, say where dead letters go"},
		{"out-key of a file output", named, append([]string{"--in=am=jsonl:" + am, "--in=pm=jsonl:" + am, "--out-key=hours=x"}, outs...),
			"--out-key is for a Kafka output"},
		{"out-key of no output", named, append([]string{"--in=am=jsonl:" + am, "--in=pm=jsonl:" + am, "--out-key=day=x"}, outs...),
			"--out-key=day=x: there is no --out=day=..."},
		{"two outputs in one folder", named, []string{"--in=am=jsonl:" + am, "--in=pm=jsonl:" + am,
			"--out=hours=jsonl:" + filepath.Join(dir, "h"), "--out=pm=jsonl:" + filepath.Join(dir, "h") + "/", "--on-error=skip"},
			"--out=hours=jsonl:" + filepath.Join(dir, "h") + " and --out=pm=jsonl:" + filepath.Join(dir, "h") + "/ write to the same folder"},
		{"dead letters in an output's folder", single, []string{"--in=jsonl:" + am, "--out=jsonl:" + filepath.Join(dir, "o"),
			"--dead-letter=jsonl:" + filepath.Join(dir, "o")}, "write to the same folder"},
		{"start of a file input", named, append([]string{"--in=am=jsonl:" + am, "--in=pm=jsonl:" + am, "--start=pm=latest"}, outs...),
			"--start=pm=latest: --in=pm=jsonl:" + am + " is not a Kafka input"},
		{"start of no input", named, append([]string{"--in=am=jsonl:" + am, "--in=pm=jsonl:" + am, "--start=eve=latest"}, outs...),
			"--start=eve=latest: there is no --in=eve=..."},
		{"pipeline flag unknown", single, []string{"--in=jsonl:" + am, "--out=jsonl:" + filepath.Join(dir, "o"), "--suffix=x"},
			"unknown flag --suffix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, context.Background(), tc.p, append([]string{"run", "--progress=never"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 2 and one line with %q", code, stderr, tc.want)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("refused runs left %d entries in %s, want only the input", len(entries), dir)
	}
}

// TestPipelineFlagClash: a pipeline flag with the name of one of run's is
// a programming error, one line and exit 1.
func TestPipelineFlagClash(t *testing.T) {
	p := job.Program{Name: "hours", Build: hours, Flags: func(fs *flag.FlagSet) { fs.Int("parallelism", 1, "") }}
	code, _, stderr := run(t, context.Background(), p, "run", "--in=jsonl:x", "--out=jsonl:o")
	if code != 1 || !strings.Contains(stderr, "Program.Flags: ") || !strings.Contains(stderr, "parallelism") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func readLines(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	var lines []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	slices.Sort(lines)
	return lines
}
