package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/examples/enrich"
	"github.com/weirflow/weir/examples/enrich/enrichgen"
	"github.com/weirflow/weir/job"
)

// enrichBin is the job binary, built once for the tests that run it as a
// child process (and kill it).
var enrichBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "enrich-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	enrichBin = filepath.Join(dir, "enrich")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	if out, err := exec.Command(goTool, "build", "-o", enrichBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build enrich: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// program is the job binary's command line, run in this process.
func program() job.Program {
	return job.Program{Name: "enrich", Build: build, Flags: flags, Commands: []job.Command{genCommand}}
}

// runCLI runs the command line in this process.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = program().Run(context.Background(), args, &out, &errs)
	if s := out.String() + errs.String(); strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
		t.Errorf("output shows a crash: %q", s)
	}
	return code, out.String(), errs.String()
}

// genFiles writes the inputs of o under dir/clicks and dir/profiles, one
// row group a file (a file is then one split, read in order, as Expected
// assumes), and returns them with the expected outputs for bound.
func genFiles(t *testing.T, dir, ext string, o enrichgen.Options, bound time.Duration) (clicks [][]enrich.Click, profiles [][]enrich.Profile, enriched, metrics []string, late int) {
	t.Helper()
	clicks, profiles = enrichgen.Generate(o)
	if _, err := enrichgen.Write(filepath.Join(dir, "clicks"), "clicks", ext, clicks, o.Clicks+1); err != nil {
		t.Fatal(err)
	}
	if _, err := enrichgen.Write(filepath.Join(dir, "profiles"), "profiles", ext, profiles, 1<<30); err != nil {
		t.Fatal(err)
	}
	e, m, late := enrichgen.Expected(clicks, profiles, bound, time.Minute)
	return clicks, profiles, jsonLines(t, e), jsonLines(t, m), late
}

func jsonLines[T any](t *testing.T, rows []T) []string {
	t.Helper()
	out := make([]string, len(rows))
	for i := range rows {
		b, err := json.Marshal(rows[i])
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	slices.Sort(out)
	return out
}

// readRows reads the JSON lines of dir's files back into T and returns
// them marshalled again, sorted: the same form as jsonLines.
func readRows[T any](t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	var rows []T
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l == "" {
				continue
			}
			var v T
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("%s: %q: %v", f, l, err)
			}
			rows = append(rows, v)
		}
	}
	return jsonLines(t, rows)
}

// sameRows fails t with the first differences between got and want.
func sameRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	gotSet := map[string]int{}
	for _, g := range got {
		gotSet[g]++
	}
	var missing, extra []string
	for _, w := range want {
		if gotSet[w] > 0 {
			gotSet[w]--
		} else if len(missing) < 5 {
			missing = append(missing, w)
		}
	}
	for g, n := range gotSet {
		if n > 0 && len(extra) < 5 {
			extra = append(extra, g)
		}
	}
	t.Fatalf("%s: %d rows, want %d; missing (first 5) %q; unexpected (first 5) %q", what, len(got), len(want), missing, extra)
}

var genOpts = enrichgen.Options{Clicks: 6_000, Users: 150, Partitions: 2, ProfilePartitions: 2,
	Disorder: 10 * time.Second, LateFraction: 0.003, Seed: 5}

// TestBatchMatchesReference: the enriched clicks and the metrics of a
// backfill over Parquet files equal the naive reference's (Expected), at
// parallelism 1, 2 and 4, late clicks and profile changes included.
func TestBatchMatchesReference(t *testing.T) {
	dir := t.TempDir()
	_, _, enriched, metrics, late := genFiles(t, dir, "parquet", genOpts, 30*time.Second)
	if late == 0 || len(metrics) < 20 {
		t.Fatalf("the data has %d late records and %d metric rows: make it more varied", late, len(metrics))
	}
	noProfile := 0
	for _, e := range enriched {
		if strings.Contains(e, `"segment":""`) {
			noProfile++
		}
	}
	if noProfile == 0 || noProfile == len(enriched) {
		t.Fatalf("%d of %d clicks have no profile: want some", noProfile, len(enriched))
	}
	for _, par := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("parallelism %d", par), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			code, _, stderr := runCLI(t, "run", "--in=clicks=parquet:"+filepath.Join(dir, "clicks"),
				"--in=profiles=parquet:"+filepath.Join(dir, "profiles"),
				"--out=enriched=jsonl:"+filepath.Join(out, "enriched"), "--out=metrics=jsonl:"+filepath.Join(out, "metrics"),
				"--dead-letter=jsonl:"+filepath.Join(out, "dead-letter"), fmt.Sprintf("--parallelism=%d", par), "--progress=never")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			sameRows(t, "enriched", readRows[enrich.Enriched](t, filepath.Join(out, "enriched")), enriched)
			sameRows(t, "metrics", readRows[enrich.SegmentMetrics](t, filepath.Join(out, "metrics")), metrics)
			if want := fmt.Sprintf("late %d,", late); !strings.Contains(stderr, want) {
				t.Errorf("summary %q: want %q", stderr, want)
			}
		})
	}
}

// TestBadInput: a click or profile that does not decode goes to the
// dead-letter output naming its input (clicks, profiles), file and line;
// the rest is joined as if it were not there.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	code, stdout, stderr := runCLI(t, "gen", "--clicks=3000", "--users=100", "--files=2", "--disorder=5s", "--bad=3", "--seed=9", "--out=jsonl:"+in)
	if code != 0 || !strings.Contains(stdout, "3 bad records to each") {
		t.Fatalf("gen: exit %d: %s%s", code, stdout, stderr)
	}
	clicks, profiles := enrichgen.Generate(enrichgen.Options{Clicks: 3000, Users: 100, Partitions: 2, ProfilePartitions: 1,
		Changes: 3, Span: 10 * time.Minute, Disorder: 5 * time.Second, Seed: 9})
	enriched, metrics, _ := enrichgen.Expected(clicks, profiles, 30*time.Second, time.Minute)
	out := filepath.Join(dir, "out")
	code, _, stderr = runCLI(t, "run", "--in=clicks=jsonl:"+filepath.Join(in, "clicks"), "--in=profiles=jsonl:"+filepath.Join(in, "profiles"),
		"--out=enriched=jsonl:"+filepath.Join(out, "enriched"), "--out=metrics=jsonl:"+filepath.Join(out, "metrics"),
		"--dead-letter=jsonl:"+filepath.Join(out, "dead-letter"), "--parallelism=2", "--progress=never")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameRows(t, "enriched", readRows[enrich.Enriched](t, filepath.Join(out, "enriched")), jsonLines(t, enriched))
	sameRows(t, "metrics", readRows[enrich.SegmentMetrics](t, filepath.Join(out, "metrics")), jsonLines(t, metrics))
	files, _ := filepath.Glob(filepath.Join(out, "dead-letter", "*.jsonl"))
	var dead []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		dead = append(dead, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	var sources []string
	for _, l := range dead {
		var d struct{ Reason, Source, Input string }
		if err := json.Unmarshal([]byte(l), &d); err != nil || d.Reason == "" {
			t.Fatalf("dead letter %s: %v", l, err)
		}
		if !strings.Contains(d.Source, string(filepath.Separator)+d.Input+string(filepath.Separator)) {
			t.Errorf("dead letter %s: input %q, want that of its file", l, d.Input)
		}
		sources = append(sources, strings.TrimPrefix(d.Source, in+string(filepath.Separator)))
	}
	slices.Sort(sources)
	want := []string{"clicks/bad.jsonl line 1", "clicks/bad.jsonl line 2", "clicks/bad.jsonl line 3",
		"profiles/bad.jsonl line 1", "profiles/bad.jsonl line 2", "profiles/bad.jsonl line 3"}
	if !slices.Equal(sources, want) {
		t.Errorf("dead letters from %q, want %q", sources, want)
	}
}

// TestCommandLine: the inputs and outputs the pipeline names must be
// given, and its own flag is checked; each mistake is one line, exit 2.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ins := []string{"--in=clicks=jsonl:" + dir, "--in=profiles=jsonl:" + dir}
	outs := []string{"--out=enriched=jsonl:" + filepath.Join(dir, "e"), "--out=metrics=jsonl:" + filepath.Join(dir, "m"), "--on-error=skip"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append([]string{"--in=jsonl:" + dir}, outs...), "this pipeline names its inputs: give --in=clicks=LOCATION"},
		{append(ins[:1:1], outs...), `the pipeline reads or writes the input "profiles": add --in=profiles=LOCATION`},
		{append(append(ins, outs...), "--window=0s"), "--window=0s: must be positive"},
		{append(append(ins, outs[:1]...), "--on-error=skip"), `the pipeline reads or writes the output "metrics"`},
	} {
		code, _, stderr := runCLI(t, append([]string{"run"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	code, stdout, _ := runCLI(t, "run", "-h")
	if code != 0 || !strings.Contains(stdout, "flags of the enrich pipeline:\n  --window=DURATION") {
		t.Errorf("run -h: exit %d\n%s", code, stdout)
	}
}
