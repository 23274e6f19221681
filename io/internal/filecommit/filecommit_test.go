package filecommit

import (
	"os"
	"slices"
	"testing"

	"github.com/weirflow/weir/sdk"
)

func ls(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func touch(t *testing.T, p string) {
	t.Helper()
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{
		"part-00001-000000.x",            // committed
		"part-00001-000001.x.staged-3",   // staged under a completed checkpoint
		"part-00001-000002.x.staged-4",   // staged under one that never completed
		"part-00001-000003.x.inprogress", // never staged
		"part-00002-000009.x.inprogress", // another task's
		"other.x",
	} {
		touch(t, dir+"/"+n)
	}
	f, err := Open(dir, 1, ".x")
	if err != nil {
		t.Fatal(err)
	}
	if p := f.Next(); p != dir+"/part-00001-000004.x.inprogress" {
		t.Errorf("Next after restart: %s", p)
	}
	touch(t, f.Current())
	f.Roll()
	// Ids are reused after a restore from 3: PreCommit(4) comes first and
	// must drop the stale staged-4 file.
	if err := f.PreCommit(4); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(4); err != nil {
		t.Fatal(err)
	}
	want := []string{"other.x", "part-00001-000000.x", "part-00001-000001.x", "part-00001-000004.x", "part-00002-000009.x.inprogress"}
	if got := ls(t, dir); !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
}

func TestParse(t *testing.T) {
	f := &Files{prefix: "part-00001-", ext: ".parquet"}
	for _, c := range []struct {
		name string
		seq  int
		kind string
		id   uint64
		ok   bool
	}{
		{"part-00001-000007.parquet", 7, "", 0, true},
		{"part-00001-000007.parquet.inprogress", 7, inProgress, 0, true},
		{"part-00001-000007.parquet.staged-12", 7, staged, 12, true},
		{"part-00001-000007.parquet.staged-x", 0, "", 0, false},
		{"part-00001-000007.parquet.tmp", 0, "", 0, false},
		{"part-00002-000007.parquet", 0, "", 0, false},
		{"part-00001-.parquet", 0, "", 0, false},
	} {
		seq, kind, id, ok := f.parse(c.name)
		if seq != c.seq || kind != c.kind || id != c.id || ok != c.ok {
			t.Errorf("parse(%q) = %d %q %d %v, want %d %q %d %v", c.name, seq, kind, id, ok, c.seq, c.kind, c.id, c.ok)
		}
	}
}

func TestRecover(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{
		"part-00000-000000.x",            // committed
		"part-00000-000001.x.staged-2",   // staged under the restored checkpoint
		"part-00000-000002.x.staged-3",   // staged after it
		"part-00000-000003.x.inprogress", // never staged
		"part-00001-000000.x.staged-1",   // another task's, under an earlier checkpoint
		"part-00002-000004.x.inprogress", // a task the new run does not have
		"part-00007-000000.x.staged-9",   // a task of a larger crashed run
		"part-100000-000000.x.staged-2",  // more than five digits of task
		"part-0000a-000000.x.staged-1",   // not a sink file
		"part-00001-000000.y.staged-1",   // another extension
		"part-00001-000009.x.staged-bad", // not a staged id
		"other.x",
	} {
		touch(t, dir+"/"+n)
	}
	want := []string{
		"other.x",
		"part-00000-000000.x",
		"part-00000-000001.x",
		"part-00001-000000.x",
		"part-00001-000000.y.staged-1",
		"part-00001-000009.x.staged-bad",
		"part-0000a-000000.x.staged-1",
		"part-100000-000000.x",
	}
	for run := range 2 { // idempotent
		if err := Recover(dir, ".x", 2, sdk.RefuseExisting); err != nil {
			t.Fatal(err)
		}
		if got := ls(t, dir); !slices.Equal(got, want) {
			t.Errorf("run %d: files %v, want %v", run, got, want)
		}
	}
	// A new writer of task 0 continues after the largest sequence number.
	f, err := Open(dir, 0, ".x")
	if err != nil {
		t.Fatal(err)
	}
	if p := f.Next(); p != dir+"/part-00000-000002.x.inprogress" {
		t.Errorf("Next after Recover: %s", p)
	}
	if err := Recover(dir+"/missing", ".x", 1, sdk.RefuseExisting); err != nil {
		t.Errorf("missing dir: %v", err)
	}
}
