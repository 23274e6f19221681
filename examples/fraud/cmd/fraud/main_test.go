package main

import (
	"bufio"
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

	pq "github.com/parquet-go/parquet-go"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/job"
)

// fraudBin is the fraud binary built by TestMain, for the tests that run it
// as a process.
var fraudBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fraud-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fraudBin = filepath.Join(dir, "fraud")
	if runtime.GOOS == "windows" {
		fraudBin += ".exe"
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	if out, err := exec.Command(goTool, "build", "-o", fraudBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build fraud: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is the outcome of one run of the command line.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the fraud command line in process.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var out, errs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code := programForTest().Run(ctx, args, &out, &errs)
	r := result{code, out.String(), errs.String()}
	checkClean(t, r)
	return r
}

func programForTest() job.Program {
	return job.Program{Name: "fraud", Build: build, Commands: []job.Command{genCommand}}
}

// execCLI runs the built fraud binary.
func execCLI(t testing.TB, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return runCmd(t, exec.CommandContext(ctx, fraudBin, args...))
}

// runCmd runs cmd and returns its exit code and output, failing t when
// it cannot run or its output shows a crash.
func runCmd(t testing.TB, cmd *exec.Cmd) result {
	t.Helper()
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", strings.Join(cmd.Args, " "), err)
	}
	r := result{code, out.String(), errs.String()}
	checkClean(t, r)
	return r
}

// checkClean fails on output that shows a crash.
func checkClean(t testing.TB, r result) {
	t.Helper()
	for _, s := range []string{r.stdout, r.stderr} {
		if strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
			t.Errorf("output shows a crash:\n%s", s)
		}
	}
}

// oneLine checks that s is exactly one line containing each of want.
func oneLine(t *testing.T, what, s string, want ...string) {
	t.Helper()
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		t.Errorf("%s: want one line, got %q", what, s)
	}
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s: %q does not contain %q", what, s, w)
		}
	}
}

func readLines(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

func readTotals(t *testing.T, dir string) []string {
	t.Helper()
	var rows []string
	for _, l := range readLines(t, dir) {
		var r fraud.UserTotal
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		rows = append(rows, totalString(r))
	}
	slices.Sort(rows)
	return rows
}

func totalString(r fraud.UserTotal) string {
	return fmt.Sprintf("%s %s %s %d %d", r.UserID, r.WindowStart.UTC().Format(time.RFC3339),
		r.WindowEnd.UTC().Format(time.RFC3339), r.Total, r.Count)
}

func expectedTotals(t testing.TB, o fraudgen.Options) []string {
	t.Helper()
	rows, late := fraudgen.Expected(fraudgen.Generate(o), 5*time.Minute, 30*time.Second)
	if late != 0 {
		t.Fatalf("%d late events in on-time data", late)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = totalString(r)
	}
	slices.Sort(out)
	return out
}

func sameRows(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("got %d rows, want %d", len(got), len(want))
		for i := 0; i < min(len(got), len(want)); i++ {
			if got[i] != want[i] {
				t.Errorf("first difference at %d:\n got  %s\n want %s", i, got[i], want[i])
				break
			}
		}
	}
}

// TestBinary generates data and backfills it with the built binary.
func TestBinary(t *testing.T) {
	rows := 100_000
	if testing.Short() {
		rows = 20_000
	}
	o := fraudgen.Options{Rows: rows, Users: 2_000, Partitions: 3, Disorder: 20 * time.Second, Seed: 5}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "txns"), filepath.Join(dir, "out")
	r := execCLI(t, "gen", fmt.Sprint("--rows=", rows), "--users=2000", "--files=3", "--rows-per-group=4000",
		"--disorder=20s", "--seed=5", "--out=parquet:"+in)
	if r.code != 0 {
		t.Fatalf("gen: exit %d: %s", r.code, r.stderr)
	}
	oneLine(t, "gen stdout", r.stdout, fmt.Sprintf("wrote %d transactions to 3 files", rows))
	r = execCLI(t, "run", "--mode=batch", "--in=parquet:"+in+"/*.parquet", "--out=jsonl:"+out, "--parallelism=2")
	if r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	want := expectedTotals(t, o)
	sameRows(t, readTotals(t, out), want)
	// Not a terminal: no bar, and the run is too short for a progress line.
	oneLine(t, "run stderr", r.stderr, fmt.Sprintf("fraud: done: rows in %d, rows out %d", rows, len(want)),
		"late 0, dead-lettered 0", " rows/s")
	if r.stdout != "" {
		t.Errorf("run stdout = %q, want nothing", r.stdout)
	}

	// The usage errors of the binary itself.
	r = execCLI(t, "run", "--in=parquet:"+in, "--out=jsonl:"+out, "--frobnicate")
	if r.code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", r.code)
	}
	oneLine(t, "unknown flag", r.stderr, "fraud: unknown flag --frobnicate", "fraud run -h")
}

// TestRunInputs runs the same transactions from Parquet, JSONL and a
// directory, at parallelism 1 and 4, in process.
func TestRunInputs(t *testing.T) {
	rows := 60_000
	if testing.Short() {
		rows = 10_000
	}
	o := fraudgen.Options{Rows: rows, Users: 1_500, Partitions: 4, Disorder: 25 * time.Second, Seed: 11}
	want := expectedTotals(t, o)
	dir := t.TempDir()
	parts := fraudgen.Generate(o)
	if _, err := fraudgen.WriteParquet(filepath.Join(dir, "pq"), parts, 2_000); err != nil {
		t.Fatal(err)
	}
	if _, err := fraudgen.WriteJSONL(filepath.Join(dir, "js"), parts); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct{ in, par string }{
		{"parquet:" + dir + "/pq/*.parquet", "1"},
		{"parquet:" + dir + "/pq/*.parquet", "4"},
		{"parquet:" + dir + "/pq", "2"},
		{"jsonl:" + dir + "/js/*.jsonl", "1"},
		{"jsonl:" + dir + "/js/*.jsonl", "4"},
	} {
		out := filepath.Join(dir, fmt.Sprint("out", i))
		r := runCLI(t, "run", "--in="+tc.in, "--out=jsonl:"+out, "--parallelism="+tc.par)
		if r.code != 0 {
			t.Fatalf("%s at %s: exit %d: %s", tc.in, tc.par, r.code, r.stderr)
		}
		sameRows(t, readTotals(t, out), want)
	}
}

// TestRunParquetOutput writes results as Parquet and reads them back.
func TestRunParquetOutput(t *testing.T) {
	o := fraudgen.Options{Rows: 5_000, Users: 300, Partitions: 2, Disorder: 10 * time.Second, Seed: 3}
	dir := t.TempDir()
	if _, err := fraudgen.WriteJSONL(filepath.Join(dir, "in"), fraudgen.Generate(o)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	r := runCLI(t, "run", "--in=jsonl:"+dir+"/in/*.jsonl", "--out=parquet:"+out, "--parallelism=2")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.parquet"))
	var got []string
	for _, f := range files {
		rows, err := pq.ReadFile[fraud.UserTotal](f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range rows {
			got = append(got, totalString(r))
		}
	}
	slices.Sort(got)
	sameRows(t, got, expectedTotals(t, o))
}

// badParquet writes good data plus one bad input of each kind Parquet can
// have and returns the number of dead letters to expect.
func badParquet(t *testing.T, dir string) (goodRows, dead int) {
	t.Helper()
	o := fraudgen.Options{Rows: 4_000, Users: 200, Partitions: 2, Disorder: 10 * time.Second, Seed: 8}
	if _, err := fraudgen.WriteParquet(dir, fraudgen.Generate(o), 1_000); err != nil {
		t.Fatal(err)
	}
	// Truncated file: its footer is gone; one dead letter for the file.
	if _, err := writeTruncated(dir, 0); err != nil {
		t.Fatal(err)
	}
	// Missing column: no amount.
	type noAmount struct {
		UserID   string    `parquet:"user_id"`
		Merchant string    `parquet:"merchant"`
		At       time.Time `parquet:"ts,timestamp(microsecond)"`
	}
	if err := pq.WriteFile(filepath.Join(dir, "x-missing-column.parquet"), []noAmount{{"u1", "acme", fraudgen.DefaultStart}}); err != nil {
		t.Fatal(err)
	}
	// Wrong type: amount is a string.
	if err := pq.WriteFile(filepath.Join(dir, "x-wrong-type.parquet"), []badSchemaTxn{{"u1", "lots", "acme", fraudgen.DefaultStart}}); err != nil {
		t.Fatal(err)
	}
	// Missing event time: no ts column.
	if err := pq.WriteFile(filepath.Join(dir, "x-no-time.parquet"), []noTimeTxn{{"u1", 5000, "acme"}}); err != nil {
		t.Fatal(err)
	}
	return 4_000, 4
}

func checkDeadLetters(t *testing.T, dir string, want int, reasons ...string) {
	t.Helper()
	lines := readLines(t, dir)
	if len(lines) != want {
		t.Errorf("%d dead letters in %s, want %d:\n%s", len(lines), dir, want, strings.Join(lines, "\n"))
	}
	all := strings.Join(lines, "\n")
	for _, l := range lines {
		var d struct{ Record, Reason, Source string }
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("dead letter %q: %v", l, err)
		}
		if d.Reason == "" || d.Source == "" {
			t.Errorf("dead letter %q: want a reason and a source position", l)
		}
	}
	for _, r := range reasons {
		if !strings.Contains(all, r) {
			t.Errorf("no dead letter mentions %q:\n%s", r, all)
		}
	}
}

func TestBadParquetDeadLetters(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	_, dead := badParquet(t, in)
	r := runCLI(t, "run", "--in=parquet:"+in+"/*.parquet", "--out=jsonl:"+out, "--parallelism=2")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	oneLine(t, "summary", r.stderr, fmt.Sprintf("dead-lettered %d", dead))
	checkDeadLetters(t, filepath.Join(out, "dead-letter"), dead,
		"bad-truncated-0000.parquet", `x-missing-column.parquet: column \"amount\" missing`,
		"x-wrong-type.parquet: column amount: want INT64, got BYTE_ARRAY", `x-no-time.parquet: column \"ts\" missing`)
	if len(readLines(t, out)) == 0 {
		t.Error("no results beside the dead letters")
	}
}

func TestBadJSONLDeadLetters(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	o := fraudgen.Options{Rows: 3_000, Users: 100, Partitions: 2, Seed: 4}
	if _, err := fraudgen.WriteJSONL(in, fraudgen.Generate(o)); err != nil {
		t.Fatal(err)
	}
	if _, err := writeBad(in, "jsonl", 3); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "run", "--in=jsonl:"+in+"/*.jsonl", "--out=jsonl:"+out, "--dead-letter=jsonl:"+dir+"/dl")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	oneLine(t, "summary", r.stderr, "rows in 3003", "dead-lettered 3")
	checkDeadLetters(t, filepath.Join(dir, "dl"), 3, "bad.jsonl line 1", "bad.jsonl line 2", "bad.jsonl line 3")
}

func TestOnErrorPolicies(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	badParquet(t, in)

	r := runCLI(t, "run", "--in=parquet:"+in+"/*.parquet", "--out=jsonl:"+dir+"/skip", "--on-error=skip")
	if r.code != 0 {
		t.Fatalf("skip: exit %d: %s", r.code, r.stderr)
	}
	oneLine(t, "skip summary", r.stderr, "dead-lettered 0", "skipped 4")
	if _, err := os.Stat(filepath.Join(dir, "skip", "dead-letter")); err == nil {
		t.Error("skip wrote dead letters")
	}

	r = runCLI(t, "run", "--in=parquet:"+in+"/*.parquet", "--out=jsonl:"+dir+"/fail", "--on-error=fail")
	if r.code != 1 {
		t.Fatalf("fail: exit %d, want 1: %s", r.code, r.stderr)
	}
	oneLine(t, "fail", r.stderr, "fraud: bad record at ", ".parquet")
	if lines := readLines(t, filepath.Join(dir, "fail")); len(lines) != 0 {
		t.Errorf("a failed job committed %d rows", len(lines))
	}

	// JSONL: the message names the file and line.
	js := filepath.Join(dir, "js")
	if _, err := writeBad(js, "jsonl", 1); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "run", "--in=jsonl:"+js+"/*.jsonl", "--out=jsonl:"+dir+"/jfail", "--on-error=fail")
	if r.code != 1 {
		t.Fatalf("jsonl fail: exit %d, want 1: %s", r.code, r.stderr)
	}
	oneLine(t, "jsonl fail", r.stderr, "fraud: bad record at ", "bad.jsonl line 1")
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "in")
	if _, err := fraudgen.WriteJSONL(good, fraudgen.Generate(fraudgen.Options{Rows: 10})); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked.jsonl")
	if err := os.WriteFile(locked, []byte("{}\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	canRead := func() bool { f, err := os.Open(locked); f.Close(); return err == nil }() // root reads anything
	in := "--in=jsonl:" + good + "/*.jsonl"
	out := "--out=jsonl:" + filepath.Join(dir, "out")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no command", nil, 2, []string{"usage: fraud"}},
		{"unknown command", []string{"frob"}, 2, []string{`fraud: unknown command "frob"`}},
		{"unknown flag", []string{"run", in, out, "--bogus"}, 2, []string{"fraud: unknown flag --bogus (see fraud run -h)"}},
		{"bad mode", []string{"run", in, out, "--mode=fast"}, 2, []string{"--mode=fast: use batch or stream"}},
		{"bad scheme", []string{"run", "--in=csv:x", out}, 2, []string{`unknown scheme "csv"`}},
		{"missing in", []string{"run", out}, 2, []string{"--in is required"}},
		{"missing out", []string{"run", in}, 2, []string{"--out is required"}},
		{"kafka no topic", []string{"run", "--in=kafka://127.0.0.1:9092", out}, 2, []string{"write kafka://HOST:PORT/TOPIC"}},
		{"bad on-error", []string{"run", in, out, "--on-error=maybe"}, 2, []string{"use dead-letter, skip or fail"}},
		{"no match", []string{"run", "--in=jsonl:" + dir + "/nothing/*.jsonl", out}, 1, []string{"fraud: no files match --in=jsonl:"}},
		{"missing file", []string{"run", "--in=parquet:" + dir + "/absent.parquet", out}, 1, []string{"fraud: cannot read ", "absent.parquet: no such file or directory"}},
		{"path through a file", []string{"run", "--in=jsonl:" + locked + "/x.jsonl", out}, 1, []string{"fraud: cannot read ", "locked.jsonl/x.jsonl: not a directory"}},
		{"gen unknown flag", []string{"gen", "--frob"}, 2, []string{"fraud: unknown flag --frob (see fraud gen -h)"}},
		{"gen no out", []string{"gen"}, 2, []string{"--out is required"}},
		{"gen bad out", []string{"gen", "--out=csv:x"}, 2, []string{"use parquet:DIR or jsonl:DIR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
			}
			if tc.name == "no command" {
				if !strings.Contains(r.stderr, tc.want[0]) {
					t.Errorf("stderr %q", r.stderr)
				}
				return
			}
			oneLine(t, "stderr", r.stderr, tc.want...)
		})
	}
	if !testing.Short() {
		// Nothing listens on port 1: one line after the connect timeout.
		r := runCLI(t, "run", "--in=kafka://127.0.0.1:1/txns", out, "--progress=never")
		if r.code != 1 {
			t.Errorf("unreachable broker: exit %d, want 1", r.code)
		}
		oneLine(t, "unreachable broker", r.stderr, "fraud: list splits of \"txns\": kafka: cannot reach brokers 127.0.0.1:1")
	}
	if !canRead {
		r := runCLI(t, "run", "--in=jsonl:"+locked, out)
		if r.code != 1 {
			t.Errorf("unreadable: exit %d, want 1", r.code)
		}
		oneLine(t, "unreadable", r.stderr, "fraud: cannot read ", "locked.jsonl: permission denied")
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"run", "-h"}, {"gen", "-h"}} {
		r := runCLI(t, args...)
		if r.code != 0 || r.stdout == "" || r.stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	r := runCLI(t, "run", "-h")
	for _, f := range []string{"--in", "--out", "--mode", "--parallelism", "--on-error", "--dead-letter", "--bound", "--allowed-lateness", "--perfect-watermark", "--max-parallelism", "--progress"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("run -h does not list %s", f)
		}
	}
}

// TestWatermarkFlags runs data with late transactions with a perfect
// watermark and with a bound wider than the lateness: nothing is late and
// every large transaction is counted.
func TestWatermarkFlags(t *testing.T) {
	o := fraudgen.Options{Rows: 8_000, Users: 200, Partitions: 1, Disorder: 10 * time.Second, LateFraction: 0.02, Seed: 13}
	parts := fraudgen.Generate(o)
	if _, late := fraudgen.Expected(parts, 5*time.Minute, 30*time.Second); late == 0 {
		t.Fatal("no late transactions generated")
	}
	all, late := fraudgen.Expected(parts, 5*time.Minute, 1000*time.Hour)
	if late != 0 {
		t.Fatalf("%d late with a 1000h bound", late)
	}
	var want []string
	for _, r := range all {
		want = append(want, totalString(r))
	}
	slices.Sort(want)
	dir := t.TempDir()
	if _, err := fraudgen.WriteJSONL(filepath.Join(dir, "in"), parts); err != nil {
		t.Fatal(err)
	}
	for i, flags := range [][]string{{"--perfect-watermark"}, {"--bound=2h"}} {
		out := filepath.Join(dir, fmt.Sprint("out", i))
		r := runCLI(t, append([]string{"run", "--in=jsonl:" + dir + "/in", "--out=jsonl:" + out, "--parallelism=2"}, flags...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", flags, r.code, r.stderr)
		}
		oneLine(t, fmt.Sprint(flags), r.stderr, "late 0,")
		sameRows(t, readTotals(t, out), want)
	}
	// The default bound makes some of them late.
	out := filepath.Join(dir, "default")
	r := runCLI(t, "run", "--in=jsonl:"+dir+"/in", "--out=jsonl:"+out)
	if r.code != 0 || strings.Contains(r.stderr, "late 0,") {
		t.Errorf("default bound: exit %d, stderr %q; want late transactions", r.code, r.stderr)
	}
	// --bound=0 is a bound of zero, not the default. Lateness is judged
	// against each record's own split watermark, so the late count and rows
	// are exactly the reference's at any parallelism.
	zeroRows, zeroLate := fraudgen.Expected(parts, 5*time.Minute, 0)
	var wantZero []string
	for _, r := range zeroRows {
		wantZero = append(wantZero, totalString(r))
	}
	slices.Sort(wantZero)
	for _, par := range []string{"1", "2", "4"} {
		out = filepath.Join(dir, "zero"+par)
		r = runCLI(t, "run", "--in=jsonl:"+dir+"/in", "--out=jsonl:"+out, "--bound=0", "--parallelism="+par)
		if r.code != 0 {
			t.Fatalf("--bound=0 --parallelism=%s: exit %d: %s", par, r.code, r.stderr)
		}
		oneLine(t, "--bound=0 --parallelism="+par, r.stderr, fmt.Sprintf("late %d,", zeroLate))
		sameRows(t, readTotals(t, out), wantZero)
	}
}
