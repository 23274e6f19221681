package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/examples/fraud/fraudgen"
)

const refusalHint = "; pass --overwrite to replace it, --append to add to it, or choose another folder"

// TestRerunIntoUsedOutput runs a backfill into an output directory that
// holds the output of an earlier run: refused without a flag (exit 2,
// nothing changed), replaced with --overwrite, added to with --append.
func TestRerunIntoUsedOutput(t *testing.T) {
	o := fraudgen.Options{Rows: 6_000, Users: 300, Partitions: 2, Disorder: 10 * time.Second, LateFraction: 0.02, Seed: 21}
	parts := fraudgen.Generate(o)
	rows, late := fraudgen.Expected(parts, 5*time.Minute, 30*time.Second)
	if late == 0 {
		t.Fatal("no late transactions: the side output is not exercised")
	}
	var want []string
	for _, r := range rows {
		want = append(want, totalString(r))
	}
	slices.Sort(want)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	if _, err := fraudgen.WriteJSONL(in, parts); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--in=jsonl:" + in, "--out=jsonl:" + out, "--parallelism=2", "--progress=never"}
	check := func(step string, copies int) {
		t.Helper()
		var w []string
		for _, r := range want {
			for range copies {
				w = append(w, r)
			}
		}
		exactRows(t, step+": output", readTotals(t, out), w)
		if got := len(readLines(t, filepath.Join(out, "late"))); got != copies*late {
			t.Errorf("%s: %d late rows, want %d", step, got, copies*late)
		}
		for _, d := range []string{out, filepath.Join(out, "late")} {
			if _, err := os.Stat(filepath.Join(d, ".weir-replace")); err == nil {
				t.Errorf("%s: %s/.weir-replace left behind", step, d)
			}
		}
	}

	r := execCLI(t, args...)
	if r.code != 0 {
		t.Fatalf("first run: exit %d: %s", r.code, r.stderr)
	}
	check("first run", 1)
	before := tree(t, out)

	r = execCLI(t, args...)
	if r.code != 2 {
		t.Errorf("rerun: exit %d, want 2; stderr %q", r.code, r.stderr)
	}
	oneLine(t, "rerun", r.stderr, "fraud: --out=jsonl:"+out+" already holds the output of an earlier run (", refusalHint)
	if after := tree(t, out); !maps.Equal(after, before) {
		t.Errorf("the refused rerun changed the output:\n before %v\n after  %v", before, after)
	}

	r = execCLI(t, append(args, "--overwrite", "--parallelism=3")...)
	if r.code != 0 {
		t.Fatalf("rerun with --overwrite: exit %d: %s", r.code, r.stderr)
	}
	check("rerun with --overwrite", 1)

	r = execCLI(t, append(args, "--append")...)
	if r.code != 0 {
		t.Fatalf("rerun with --append: exit %d: %s", r.code, r.stderr)
	}
	check("rerun with --append", 2)

	r = execCLI(t, append(args, "--overwrite", "--append")...)
	if r.code != 2 {
		t.Errorf("--overwrite --append: exit %d, want 2", r.code)
	}
	oneLine(t, "--overwrite --append", r.stderr, "fraud: --overwrite and --append exclude each other")

	// Only the side output holds earlier output: refused all the same.
	out2 := filepath.Join(dir, "out2")
	if err := os.MkdirAll(filepath.Join(out2, "late"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out2, "late", "part-00000-000000.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = execCLI(t, "run", "--in=jsonl:"+in, "--out=jsonl:"+out2, "--progress=never")
	if r.code != 2 {
		t.Errorf("run into a used side output: exit %d, want 2", r.code)
	}
	oneLine(t, "run into a used side output", r.stderr,
		"fraud: --out=jsonl:"+out2+" already holds the output of an earlier run (1 file in "+filepath.Join(out2, "late")+")", refusalHint)

	// With --checkpoint-dir, a rerun of the finished job resumes from its
	// last checkpoint: nothing to do, no refusal, output unchanged.
	out3, ckpt := filepath.Join(dir, "out3"), filepath.Join(dir, "ckpt")
	args3 := []string{"run", "--in=jsonl:" + in, "--out=jsonl:" + out3, "--checkpoint-dir=" + ckpt, "--progress=never"}
	for i := range 2 {
		if r := execCLI(t, args3...); r.code != 0 {
			t.Fatalf("run %d with --checkpoint-dir: exit %d: %s", i+1, r.code, r.stderr)
		}
		exactRows(t, fmt.Sprintf("run %d with --checkpoint-dir", i+1), readTotals(t, out3), want)
	}
}

// TestResumeWithOverwrite overwrites the output of an earlier run with a
// --checkpoint-dir backfill that is killed after its first commit, then
// resumed with --overwrite still on the command line: the resumed run
// keeps what the killed one committed, and the output is exact.
func TestResumeWithOverwrite(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the large backfill")
	}
	in, want := batchInput()
	dir := t.TempDir()
	out, ckpt := filepath.Join(dir, "out"), filepath.Join(dir, "ckpt")
	// The earlier run's output: rows the new run also writes (left in
	// place they would be duplicates) and a late row.
	for p, data := range map[string]string{
		filepath.Join(out, "part-00000-000000.jsonl"):         oldTotals(t, want[:50]),
		filepath.Join(out, "part-00007-000003.jsonl"):         oldTotals(t, want[50:60]),
		filepath.Join(out, "late", "part-00000-000000.jsonl"): "{}\n",
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"run", "--mode=batch", "--in=jsonl:" + in + "/*.jsonl", "--out=jsonl:" + out, "--parallelism=2",
		"--checkpoint-dir=" + ckpt, "--checkpoint-interval=100ms", "--overwrite", "--progress=never"}

	// Kill the run once its first commit has replaced the old output and
	// a commit has made new rows visible.
	committedNew := func() bool {
		ents, _ := os.ReadDir(out)
		for _, e := range ents {
			n := e.Name()
			if strings.HasSuffix(n, ".jsonl") && n != "part-00000-000000.jsonl" && n != "part-00007-000003.jsonl" {
				return true
			}
		}
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fraudBin, args...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for killed := false; !killed; {
		select {
		case err := <-exited:
			t.Fatalf("the run ended (%v) before its first commit was seen; stderr:\n%s", err, tail(stderr.String()))
		case <-tick.C:
		}
		if newestCheckpoint(ckpt) >= 1 && committedNew() {
			_ = cmd.Process.Kill()
			<-exited
			killed = true
		}
	}
	if cmd.ProcessState.ExitCode() != -1 {
		t.Fatalf("the run was not killed: exit %d; stderr:\n%s", cmd.ProcessState.ExitCode(), tail(stderr.String()))
	}
	if _, err := os.Stat(filepath.Join(out, ".weir-replace")); err == nil {
		t.Fatal("new output committed, but the replace manifest is still there")
	}
	first := readTotals(t, out)
	t.Logf("killed after checkpoint %d: %d rows committed, %d late", newestCheckpoint(ckpt), len(first), len(readLines(t, filepath.Join(out, "late"))))
	if len(first) == 0 || len(first) >= len(want) {
		t.Fatalf("killed with %d of %d rows committed: want a part", len(first), len(want))
	}

	r := execCLI(t, args...)
	if r.code != 0 {
		t.Fatalf("resumed run: exit %d: %s", r.code, tail(r.stderr))
	}
	if !strings.Contains(r.stderr, "resuming from checkpoint") {
		t.Errorf("the second run did not resume; stderr:\n%s", tail(r.stderr))
	}
	checkBatchOutput(t, out, want)
}

// oldTotals encodes rows (totalString form) as the job writes them.
func oldTotals(t *testing.T, rows []string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range rows {
		var user, start, end string
		var total, count int64
		if _, err := fmt.Sscanf(r, "%s %s %s %d %d", &user, &start, &end, &total, &count); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, `{"user_id":%q,"window_start":%q,"window_end":%q,"total":%d,"count":%d}`+"\n", user, start, end, total, count)
	}
	return b.String()
}

// tree returns the files under dir with a hash of their contents.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[p] = fmt.Sprintf("%x", sha256.Sum256(data))[:12]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
