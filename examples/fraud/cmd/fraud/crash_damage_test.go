package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirflow/weir/runner/checkpoint"
)

// TestCrashBatchDamagedCheckpoint kills the backfill, damages its newest
// completed checkpoint N (a state file only N references is truncated, or
// N's _metadata) and restarts it. Resuming from the checkpoint before, M,
// is exact only if the sinks had not committed N's output yet, which the
// restart cannot tell in general (Kafka), so two outcomes are right: the
// job refuses to start, exit 1, naming chk-N, or it resumes from M and
// ends with exact output.
//
// The cases "state file" and "metadata" damage N once its output is
// committed, preferably with rows that M does not cover (so a fallback
// would write them twice; the error then counts them). The case "staged"
// damages N while its output is still staged (the kill came between N's
// completion and the sinks' commit); if the job refuses, the test does
// what the message says, moves chk-N away, and the job must then end with
// exact output. It skips if no kill landed in that window.
func TestCrashBatchDamagedCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the job many times")
	}
	for _, tc := range []struct {
		name             string
		metadata, staged bool
		seed             uint64
	}{
		{"state file", false, false, 100},
		{"metadata", true, false, 101},
		{"staged", false, true, 102},
	} {
		t.Run(tc.name, func(t *testing.T) { testDamagedCheckpoint(t, tc.metadata, tc.staged, *crashSeed+tc.seed) })
	}
}

func testDamagedCheckpoint(t *testing.T, metadata, staged bool, seed uint64) {
	c, dir, out, want := crashBatchJob(t, seed)
	ckpt := c.ckpt
	if staged {
		c.kinds = []killKind{killAfterCheckpoint}
	}
	var (
		damaged, older uint64 // checkpoints N and M
		afterKill      int    // the kill after which N was damaged
		atRisk         []string
		riskRows       int
	)
	c.more = func() bool { return damaged == 0 }
	c.afterKill = func(n int) {
		if damaged != 0 || n < 2 {
			return
		}
		done := completedCheckpoints(t, ckpt)
		if len(done) < 2 {
			t.Logf("kill %d: not damaging: %d completed checkpoints", n, len(done))
			return
		}
		N, M := done[0], done[1]
		files, rows := committedAfter(t, out, filepath.Join(ckpt, fmt.Sprintf("chk-%d", M.ID), "_metadata"))
		pending := stagedUnder(t, out, N.ID)
		switch {
		case staged && len(pending) == 0:
			t.Logf("kill %d: not damaging checkpoint %d: its output is committed", n, N.ID)
			return
		case !staged && len(pending) > 0:
			t.Logf("kill %d: not damaging checkpoint %d: its output is not committed yet (%s)", n, N.ID, strings.Join(pending, ", "))
			return
		case !staged && rows == 0 && n < minKills:
			t.Logf("kill %d: not damaging checkpoint %d yet: no output committed since checkpoint %d", n, N.ID, M.ID)
			return
		}
		if !damageCheckpoint(t, ckpt, done, metadata) {
			return
		}
		damaged, older, afterKill, atRisk, riskRows = N.ID, M.ID, n, files, rows
		if staged {
			t.Logf("kill %d: checkpoint %d damaged while its output is staged: %s", n, N.ID, strings.Join(pending, ", "))
		} else {
			t.Logf("kill %d: checkpoint %d damaged; output committed after checkpoint %d completed: %d rows in %v",
				n, N.ID, M.ID, rows, files)
		}
	}
	c.acceptFailure = func(r result) bool {
		return damaged != 0 && r.code == 1 && strings.Contains(r.stderr, fmt.Sprintf("chk-%d", damaged))
	}
	r := c.runToEnd()
	if damaged == 0 {
		if staged {
			checkBatchOutput(t, out, want)
			t.Skip("no kill landed between a checkpoint's completion and its commit; nothing was damaged")
		}
		t.Fatal("no kill left two completed checkpoints, the newest with its output committed; nothing was damaged")
	}
	if r.code != 0 {
		t.Logf("the restart after damaging checkpoint %d refused to start: %s", damaged, strings.TrimSpace(tail(r.stderr)))
		if d := duplicates(readTotals(t, out)); d > 0 {
			t.Errorf("%d duplicate rows committed before the refusal", d)
		}
		if !staged {
			return
		}
		// Its output was not committed: resuming from M is safe. Do what
		// the message says and go on.
		moved := filepath.Join(dir, fmt.Sprintf("chk-%d.damaged", damaged))
		if err := os.Rename(filepath.Join(ckpt, fmt.Sprintf("chk-%d", damaged)), moved); err != nil {
			t.Fatal(err)
		}
		c.acceptFailure = nil
		afterKill = len(c.stderrs)
		c.runToEnd()
	}
	after := c.stderrs[afterKill] // the run that resumed after the damage
	if !strings.Contains(after, fmt.Sprintf("resuming from checkpoint %d ", older)) {
		t.Errorf("the run after damaging checkpoint %d did not resume from checkpoint %d; stderr:\n%s", damaged, older, tail(after))
	}
	got := readTotals(t, out)
	checkBatchOutput(t, out, want)
	if d := duplicates(got); d > 0 && !staged {
		t.Errorf("the job skipped damaged checkpoint %d and resumed from %d, but the output of %d had been committed "+
			"(%d rows in %v, committed after checkpoint %d completed): replaying from %d wrote %d duplicate rows; "+
			"a restart should refuse when the newest completed checkpoint is damaged",
			damaged, older, damaged, riskRows, atRisk, older, older, d)
	}
}

// completedCheckpoints returns the completed checkpoints in dir, newest
// first, as the runner's checkpoint store reads them.
func completedCheckpoints(t *testing.T, dir string) []*checkpoint.Metadata {
	t.Helper()
	s, err := checkpoint.Open(dir, checkpoint.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	done, _, err := s.Completed()
	if err != nil {
		t.Fatal(err)
	}
	return done
}

// damageCheckpoint truncates to half either the _metadata of the newest
// checkpoint of done (if metadata is set), or its largest state file that
// no older checkpoint of done references. It reports whether it damaged
// anything.
func damageCheckpoint(t *testing.T, dir string, done []*checkpoint.Metadata, metadata bool) bool {
	t.Helper()
	newest := done[0]
	target := fmt.Sprintf("chk-%d/_metadata", newest.ID)
	if !metadata {
		older := map[string]bool{}
		for _, m := range done[1:] {
			for _, f := range stateFiles(m) {
				older[f.Path] = true
			}
		}
		var best checkpoint.FileRef
		for _, f := range stateFiles(newest) {
			if !older[f.Path] && f.Size > best.Size {
				best = f
			}
		}
		if best.Path == "" {
			t.Logf("not damaging checkpoint %d: every file of it is shared with an older checkpoint", newest.ID)
			return false
		}
		target = best.Path
	}
	path := filepath.Join(dir, filepath.FromSlash(target))
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	t.Logf("damaged checkpoint %d (older: %d): truncated %s from %d to %d bytes",
		newest.ID, done[1].ID, target, st.Size(), st.Size()/2)
	return true
}

func stateFiles(m *checkpoint.Metadata) []checkpoint.FileRef {
	var fs []checkpoint.FileRef
	for _, tasks := range m.State {
		for _, ts := range tasks {
			if ts.State != nil {
				fs = append(fs, ts.State.Files...)
			}
		}
	}
	return fs
}

// stagedUnder returns the files of dir staged under checkpoint id; none
// means the sinks committed its output (or it had none).
func stagedUnder(t *testing.T, dir string, id uint64) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var staged []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), fmt.Sprintf(".staged-%d", id)) {
			staged = append(staged, e.Name())
		}
	}
	return staged
}

// committedAfter returns the committed output files of dir last written
// after the file mark was, and their number of rows. With mark the
// _metadata of checkpoint M, they are output of later checkpoints: a file
// is finished at a checkpoint's pre-commit, before that checkpoint's
// _metadata is written.
func committedAfter(t *testing.T, dir, mark string) (files []string, rows int) {
	t.Helper()
	ms, err := os.Stat(mark)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".jsonl") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !st.ModTime().After(ms.ModTime()) {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "\n"); n > 0 {
			files = append(files, e.Name())
			rows += n
		}
	}
	return files, rows
}

// duplicates returns the number of rows of sorted rows equal to the one
// before: every expected row is distinct, so each is a duplicate.
func duplicates(rows []string) int {
	d := 0
	for i := 1; i < len(rows); i++ {
		if rows[i] == rows[i-1] {
			d++
		}
	}
	return d
}
