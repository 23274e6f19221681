package filecommit

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/weirflow/weir/sdk"
)

// oldRun is the output a finished earlier run left: committed files of two
// tasks and of the other file sink, and files that are not output.
var oldRun = []string{
	"part-00000-000000.jsonl",
	"part-00000-000001.jsonl",
	"part-00001-000000.jsonl",
	"part-00002-000000.parquet",
	"notes.txt",
}

func setup(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		touch(t, filepath.Join(dir, n))
	}
	if err := os.Mkdir(filepath.Join(dir, "late"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// stage opens task's writer, writes one file and pre-commits it under id.
func stage(t *testing.T, dir string, task int, id uint64) *Files {
	t.Helper()
	f, err := Open(dir, task, ".jsonl")
	if err != nil {
		t.Fatal(err)
	}
	touch(t, f.Next())
	f.Roll()
	if err := f.PreCommit(id); err != nil {
		t.Fatal(err)
	}
	return f
}

func recoverAt(t *testing.T, dir string, ckpt uint64, e sdk.ExistingOutput) {
	t.Helper()
	if err := Recover(dir, ".jsonl", ckpt, e); err != nil {
		t.Fatalf("Recover(%d, %v): %v", ckpt, e, err)
	}
}

func commit(t *testing.T, f *Files, id uint64) {
	t.Helper()
	if err := f.Commit(id); err != nil {
		t.Fatalf("Commit(%d): %v", id, err)
	}
}

func wantFiles(t *testing.T, step, dir string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := ls(t, dir); !slices.Equal(got, want) {
		t.Errorf("%s: files %v, want %v", step, got, want)
	}
}

func TestExistingRefuse(t *testing.T) {
	dir := setup(t, append(oldRun,
		"part-00000-000002.jsonl.staged-4", // left by a crashed run
		"part-00001-000001.jsonl.inprogress")...)
	before := ls(t, dir)
	for range 2 {
		err := Recover(dir, ".jsonl", 0, sdk.RefuseExisting)
		var oe *sdk.OutputExistsError
		if !errors.As(err, &oe) || oe.Path != dir || oe.Files != 4 {
			t.Fatalf("Recover on a used directory: %v, want an OutputExistsError for %s with 4 files", err, dir)
		}
		wantFiles(t, "after a refusal", dir, before...)
	}

	// Uncommitted files of a crashed run are no earlier output: removed.
	dir = setup(t, "part-00000-000000.jsonl.staged-1", "part-00001-000000.jsonl.inprogress", "notes.txt")
	recoverAt(t, dir, 0, sdk.RefuseExisting)
	wantFiles(t, "fresh start over uncommitted files", dir, "late", "notes.txt")
	if err := Recover(filepath.Join(dir, "missing"), ".jsonl", 0, sdk.RefuseExisting); err != nil {
		t.Errorf("missing directory: %v", err)
	}
}

// Check refuses what Recover refuses, and changes nothing.
func TestExistingCheck(t *testing.T) {
	dir := setup(t, append(oldRun, "part-00000-000002.jsonl.staged-4", "part-00001-000001.jsonl.inprogress")...)
	before := ls(t, dir)
	var oe *sdk.OutputExistsError
	if err := Check(dir, ".jsonl", 0, sdk.RefuseExisting); !errors.As(err, &oe) || oe.Files != 4 {
		t.Errorf("Check on a used directory: %v, want an OutputExistsError with 4 files", err)
	}
	for _, c := range []struct {
		ckpt uint64
		e    sdk.ExistingOutput
	}{{0, sdk.OverwriteExisting}, {0, sdk.AppendExisting}, {3, sdk.RefuseExisting}} {
		if err := Check(dir, ".jsonl", c.ckpt, c.e); err != nil {
			t.Errorf("Check(%d, %v) = %v", c.ckpt, c.e, err)
		}
	}
	wantFiles(t, "after the checks", dir, before...)
	empty := setup(t, "part-00000-000000.jsonl.staged-1", "notes.txt")
	if err := Check(empty, ".jsonl", 0, sdk.RefuseExisting); err != nil {
		t.Errorf("Check of a directory with uncommitted files only: %v", err)
	}
	if err := Check(filepath.Join(dir, "missing"), ".jsonl", 0, sdk.RefuseExisting); err != nil {
		t.Errorf("Check of a missing directory: %v", err)
	}
}

func TestExistingAppend(t *testing.T) {
	dir := setup(t, oldRun...)
	recoverAt(t, dir, 0, sdk.AppendExisting)
	f := stage(t, dir, 0, 1)
	commit(t, f, 1)
	wantFiles(t, "after appending", dir, append(oldRun, "late", "part-00000-000002.jsonl")...)
}

// TestExistingOverwrite: several writers, the old output stays visible
// until the first commit, which replaces it; the other writers' commits
// and later restarts with the flag still on remove nothing more.
func TestExistingOverwrite(t *testing.T) {
	dir := setup(t, oldRun...)
	for range 2 { // idempotent
		recoverAt(t, dir, 0, sdk.OverwriteExisting)
	}
	w0, w1 := stage(t, dir, 0, 1), stage(t, dir, 1, 1)
	wantFiles(t, "before the first commit", dir, append(oldRun, "late", replaceManifest,
		"part-00000-000002.jsonl.staged-1", "part-00001-000001.jsonl.staged-1")...)
	commit(t, w0, 1)
	wantFiles(t, "after the first commit", dir, "late", "notes.txt",
		"part-00000-000002.jsonl", "part-00001-000001.jsonl.staged-1")
	commit(t, w1, 1)
	commit(t, w1, 1)
	want := []string{"late", "notes.txt", "part-00000-000002.jsonl", "part-00001-000001.jsonl"}
	wantFiles(t, "after every commit", dir, want...)

	// A restart resuming from checkpoint 1 with the option left on keeps
	// the job's own output, and so do its writers' commits.
	recoverAt(t, dir, 1, sdk.OverwriteExisting)
	w0 = stage(t, dir, 0, 2)
	commit(t, w0, 2)
	wantFiles(t, "after a resume", dir, append(want, "part-00000-000003.jsonl")...)
}

// TestExistingOverwriteCrash crashes a fresh overwriting run at each step
// and checks what the next run, fresh or resumed, makes of it.
func TestExistingOverwriteCrash(t *testing.T) {
	newOut := []string{"late", "notes.txt", "part-00000-000002.jsonl", "part-00001-000001.jsonl"}
	for _, c := range []struct {
		name string
		// crash runs the fresh overwriting run up to its crash.
		crash func(t *testing.T, dir string)
		// next restarts: the checkpoint it resumes from and its option.
		ckpt     uint64
		existing sdk.ExistingOutput
		refused  bool
		want     []string // files after the restarted run committed checkpoint ckpt+1
	}{
		{
			name:  "before any commit, rerun overwriting",
			crash: func(t *testing.T, dir string) { stage(t, dir, 0, 1); stage(t, dir, 1, 1) },
			ckpt:  0, existing: sdk.OverwriteExisting,
			// Staged output of the crashed run is discarded; its
			// manifest is written again.
			want: newOut,
		},
		{
			name:  "before any commit, rerun refusing",
			crash: func(t *testing.T, dir string) { stage(t, dir, 0, 1) },
			ckpt:  0, existing: sdk.RefuseExisting, refused: true,
		},
		{
			name:  "before any commit, rerun appending",
			crash: func(t *testing.T, dir string) { stage(t, dir, 0, 1) },
			ckpt:  0, existing: sdk.AppendExisting,
			want: append(slices.Clone(oldRun), "late", "part-00000-000002.jsonl", "part-00001-000001.jsonl"),
		},
		{
			name:  "checkpoint 1 complete, nothing committed, resume",
			crash: func(t *testing.T, dir string) { stage(t, dir, 0, 1); stage(t, dir, 1, 1) },
			ckpt:  1, existing: sdk.OverwriteExisting,
			want: append(slices.Clone(newOut), "part-00000-000003.jsonl", "part-00001-000002.jsonl"),
		},
		{
			name: "halfway through removing the old files, resume",
			crash: func(t *testing.T, dir string) {
				stage(t, dir, 0, 1)
				stage(t, dir, 1, 1)
				os.Remove(filepath.Join(dir, oldRun[0]))
				os.Remove(filepath.Join(dir, oldRun[3]))
			},
			ckpt: 1, existing: sdk.RefuseExisting,
			want: append(slices.Clone(newOut), "part-00000-000003.jsonl", "part-00001-000002.jsonl"),
		},
		{
			name: "one writer committed, resume",
			crash: func(t *testing.T, dir string) {
				w0 := stage(t, dir, 0, 1)
				stage(t, dir, 1, 1)
				commit(t, w0, 1)
			},
			ckpt: 1, existing: sdk.OverwriteExisting,
			want: append(slices.Clone(newOut), "part-00000-000003.jsonl", "part-00001-000002.jsonl"),
		},
		{
			name: "one writer committed, rerun overwriting",
			crash: func(t *testing.T, dir string) {
				w0 := stage(t, dir, 0, 1)
				stage(t, dir, 1, 1)
				commit(t, w0, 1)
			},
			ckpt: 0, existing: sdk.OverwriteExisting,
			// The crashed run's committed part is replaced in turn.
			want: []string{"late", "notes.txt", "part-00000-000003.jsonl", "part-00001-000000.jsonl"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := setup(t, oldRun...)
			recoverAt(t, dir, 0, sdk.OverwriteExisting)
			c.crash(t, dir)
			before := ls(t, dir)
			err := Recover(dir, ".jsonl", c.ckpt, c.existing)
			var oe *sdk.OutputExistsError
			if c.refused {
				if !errors.As(err, &oe) {
					t.Fatalf("Recover: %v, want a refusal", err)
				}
				wantFiles(t, "after the refusal", dir, before...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w0, w1 := stage(t, dir, 0, c.ckpt+1), stage(t, dir, 1, c.ckpt+1)
			commit(t, w0, c.ckpt+1)
			commit(t, w1, c.ckpt+1)
			wantFiles(t, "after the next run", dir, c.want...)
		})
	}
}

// TestExistingLateWriter: a writer that opens after another writer's first
// commit removed the old files still numbers its files above them, so
// applying the manifest late never removes new output.
func TestExistingLateWriter(t *testing.T) {
	dir := setup(t, "part-00001-000007.jsonl")
	recoverAt(t, dir, 0, sdk.OverwriteExisting)
	names, _, err := readManifest(dir, ".jsonl")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "part-00001-000007.jsonl")) // a first commit, halfway
	f, err := Open(dir, 1, ".jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if p := f.Next(); filepath.Base(p) != "part-00001-000008.jsonl.inprogress" {
		t.Errorf("Next with a manifest of %v: %s", names, p)
	}
}

func TestExistingBadManifest(t *testing.T) {
	dir := setup(t, "part-00000-000000.jsonl.staged-1")
	if err := os.WriteFile(filepath.Join(dir, replaceManifest), []byte("part-00000-000000.jsonl\n../x.jsonl\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Recover(dir, ".jsonl", 1, sdk.RefuseExisting); err == nil {
		t.Error("Recover applied a manifest that names a file outside the directory")
	}
	if _, err := Open(dir, 0, ".jsonl"); err == nil {
		t.Error("Open accepted a manifest that names a file outside the directory")
	}
}
