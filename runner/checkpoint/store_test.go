package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/weirflow/weir/state"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func open(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	s, err := Open(dir, opts)
	must(t, err)
	return s
}

// snap writes files (name -> contents) into a new directory under t's
// temporary directory and returns them as a snapshot handle.
func snap(t testing.TB, files map[string]string) state.Handle {
	t.Helper()
	dir, err := os.MkdirTemp(t.TempDir(), "snap")
	must(t, err)
	h := state.Handle{Dir: dir}
	for name, body := range files {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
		h.Files = append(h.Files, state.File{Name: name, Size: int64(len(body))})
	}
	slices.SortFunc(h.Files, func(a, b state.File) int { return strings.Compare(a.Name, b.Name) })
	return h
}

// meta returns metadata for id holding one stage "s" with the given
// task states.
func meta(id uint64, hs ...StateHandle) *Metadata {
	m := &Metadata{ID: id, Job: "test", Parallelism: len(hs), MaxParallelism: 128,
		Sources: map[string]map[string]SplitState{"src": {"p0": {Pos: []byte{byte(id)}}}},
		Sinks:   map[string][][]byte{"sink": {[]byte("txn")}},
		State:   map[string][]TaskState{}}
	for i := range hs {
		m.State["s"] = append(m.State["s"], TaskState{KeyGroupStart: i, KeyGroupEnd: i + 1, State: &hs[i]})
	}
	return m
}

// files lists the regular files under dir, relative, slash-separated.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() != kindFile {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	}))
	slices.Sort(out)
	return out
}

func ids(ms []*Metadata) []uint64 {
	var out []uint64
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func completedIDs(t testing.TB, s *Store) ([]uint64, []error) {
	t.Helper()
	ms, skipped, err := s.Completed()
	must(t, err)
	return ids(ms), skipped
}

// fill writes keys [from, to) of value state "v", each in key group
// i%128, with values derived from tag.
func fill(t testing.TB, b *state.Backend, from, to int, tag string) {
	t.Helper()
	v, err := b.Value("v")
	must(t, err)
	rng := rand.New(rand.NewPCG(uint64(from), uint64(to)))
	val := make([]byte, 200)
	for i := from; i < to; i++ {
		for j := range val {
			val[j] = byte(rng.Uint32())
		}
		copy(val, fmt.Sprintf("%s-%08d-", tag, i))
		must(t, v.Put(uint16(i%128), fmt.Appendf(nil, "key-%08d", i), val))
	}
}

func checkValue(t testing.TB, b *state.Backend, i int, tag string) {
	t.Helper()
	v, err := b.Value("v")
	must(t, err)
	got, ok, err := v.Get(uint16(i%128), fmt.Appendf(nil, "key-%08d", i))
	must(t, err)
	if want := fmt.Sprintf("%s-%08d-", tag, i); !ok || !strings.HasPrefix(string(got), want) {
		t.Fatalf("key %d = %q, %v; want prefix %q", i, got, ok, want)
	}
}

// restore materializes h and opens it as a backend.
func restore(t testing.TB, s *Store, h StateHandle) *state.Backend {
	t.Helper()
	tmp := t.TempDir()
	mat := filepath.Join(tmp, "mat")
	must(t, s.Materialize(h, mat))
	b, err := state.Restore(state.Options{Dir: filepath.Join(tmp, "db")}, []string{mat})
	must(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

func TestIncrementalUploadAndRestore(t *testing.T) {
	work := t.TempDir()
	b, err := state.Open(state.Options{Dir: filepath.Join(work, "db")})
	must(t, err)
	defer b.Close()
	s := open(t, filepath.Join(work, "ckpt"), Options{})
	u := s.NewUploader("stage-0-abc")

	const n = 20000
	fill(t, b, 0, n, "one")
	h1, err := b.Snapshot(filepath.Join(work, "snap-1"))
	must(t, err)
	sh1, n1, err := u.Upload(1, h1)
	must(t, err)
	must(t, s.Complete(meta(1, sh1)))

	fill(t, b, 100, 110, "two") // a few changes
	h2, err := b.Snapshot(filepath.Join(work, "snap-2"))
	must(t, err)
	sh2, n2, err := u.Upload(2, h2)
	must(t, err)
	must(t, s.Complete(meta(2, sh2)))

	var newBytes int64
	for _, f := range h2.NewSince(h1) {
		newBytes += f.Size
	}
	t.Logf("first upload %d bytes, second %d bytes (new since first: %d)", n1, n2, newBytes)
	if n1 < n*100 || n2*10 > n1 || n2 != newBytes {
		t.Fatalf("uploads wrote %d then %d bytes; want the second far smaller and equal to the %d new bytes", n1, n2, newBytes)
	}
	if len(sh2.Files) != len(h2.Files) {
		t.Fatalf("second handle has %d files, the snapshot %d", len(sh2.Files), len(h2.Files))
	}
	var shared int64
	for _, f := range sh1.Files {
		if f.Name != "" && strings.HasSuffix(f.Name, ".sst") && slices.Contains(sh2.Files, f) {
			shared += f.Size
		}
	}
	if shared < n*200 {
		t.Fatalf("second handle shares %d bytes of SSTs with the first; want the %d bytes of values", shared, n*200)
	}
	for _, f := range sh2.Files {
		if strings.HasSuffix(f.Name, ".sst") != strings.HasPrefix(f.Path, "shared/stage-0-abc/") {
			t.Errorf("%s stored at %s", f.Name, f.Path)
		}
	}

	got, skipped := completedIDs(t, s)
	if !slices.Equal(got, []uint64{2, 1}) || len(skipped) != 0 {
		t.Fatalf("Completed = %v (skipped %v), want [2 1]", got, skipped)
	}
	// A store reopened on the directory (a restart) sees the same.
	s2 := open(t, s.Dir(), Options{})
	if s2.NextID() != 3 {
		t.Fatalf("NextID after reopen = %d, want 3", s2.NextID())
	}
	ms, _, err := s2.Completed()
	must(t, err)
	r := restore(t, s2, *ms[0].State["s"][0].State)
	for _, i := range []int{0, 99, 100, 109, 110, n - 1} {
		tag := "one"
		if i >= 100 && i < 110 {
			tag = "two"
		}
		checkValue(t, r, i, tag)
	}
	r1 := restore(t, s2, *ms[1].State["s"][0].State)
	checkValue(t, r1, 105, "one")
}

func TestRetainAndGC(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{Retain: 2})
	u := s.NewUploader("a")
	// Checkpoint i has the base SST 000001.sst, its own 00000<i+1>.sst and
	// a MANIFEST.
	snapOf := func(i int) state.Handle {
		return snap(t, map[string]string{
			"000001.sst":                 "base",
			fmt.Sprintf("%06d.sst", i+1): fmt.Sprint("table ", i),
			"MANIFEST-000001":            fmt.Sprint("manifest ", i),
		})
	}
	handles := map[uint64]StateHandle{}
	upload := func(id uint64) {
		t.Helper()
		h, _, err := u.Upload(id, snapOf(int(id)))
		must(t, err)
		handles[id] = h
	}
	for id := uint64(1); id <= 3; id++ {
		upload(id)
		must(t, s.Complete(meta(id, handles[id])))
	}
	want := []string{
		"chk-2/_metadata", "chk-2/a/MANIFEST-000001",
		"chk-3/_metadata", "chk-3/a/MANIFEST-000001",
		"shared/a/000001.sst", "shared/a/000003.sst", "shared/a/000004.sst",
	}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after completing 1..3 with Retain 2:\n got %v\nwant %v", got, want)
	}

	// Two checkpoints in flight, and the leftovers of a crashed run.
	upload(4)
	upload(5)
	for _, junk := range []string{
		"shared/dead/000009.sst", "chk-9/dead/MANIFEST-000001", "chk-3/dead/OPTIONS-000003",
		"shared/a/000002.sst.tmp-xyz", "chk-3/_metadata.tmp-1",
	} {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, junk)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, junk), []byte("junk"), 0o644))
	}
	must(t, s.Complete(meta(4, handles[4])))
	want = []string{
		"chk-3/_metadata", "chk-3/a/MANIFEST-000001",
		"chk-4/_metadata", "chk-4/a/MANIFEST-000001",
		"chk-5/a/MANIFEST-000001", // in flight
		"shared/a/000001.sst", "shared/a/000004.sst", "shared/a/000005.sst",
		"shared/a/000006.sst", // in flight
	}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after completing 4 with 5 in flight:\n got %v\nwant %v", got, want)
	}
	must(t, s.Complete(meta(5, handles[5])))
	if got, skipped := completedIDs(t, s); !slices.Equal(got, []uint64{5, 4}) || len(skipped) != 0 {
		t.Fatalf("Completed = %v (skipped %v), want [5 4]", got, skipped)
	}
	restore(t, s, handles[5])
	if _, err := os.Stat(filepath.Join(dir, "shared/a/000004.sst")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("000004.sst (only checkpoint 3's) not collected: %v", err)
	}

	// An upload for a completed id is refused.
	if _, _, err := u.Upload(5, snapOf(5)); !errors.Is(err, ErrSubsumed) {
		t.Fatalf("Upload(5) after Complete(5) = %v, want ErrSubsumed", err)
	}
	// Completing out of order is refused.
	if err := s.Complete(meta(3, handles[3])); err == nil || !strings.Contains(err.Error(), "already completed") {
		t.Fatalf("Complete(3) after 5 = %v", err)
	}
}

func TestRetainNegativeKeepsAll(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{Retain: -1})
	u := s.NewUploader("a")
	for id := uint64(1); id <= 5; id++ {
		h, _, err := u.Upload(id, snap(t, map[string]string{fmt.Sprintf("%06d.sst", id): "t", "MANIFEST-000001": "m"}))
		must(t, err)
		must(t, s.Complete(meta(id, h)))
	}
	if got, _ := completedIDs(t, s); !slices.Equal(got, []uint64{5, 4, 3, 2, 1}) {
		t.Fatalf("Completed = %v", got)
	}
}

func TestCarryOverRetainedState(t *testing.T) {
	// A task whose state did not change (a finished task) may record the
	// handle of an earlier checkpoint; its files must outlive that
	// checkpoint's retention.
	dir := t.TempDir()
	s := open(t, dir, Options{Retain: 1})
	u := s.NewUploader("a")
	h, _, err := u.Upload(1, snap(t, map[string]string{"000001.sst": "t", "MANIFEST-000001": "m"}))
	must(t, err)
	must(t, s.Complete(meta(1, h)))
	must(t, s.Complete(meta(2, h)))
	want := []string{"chk-1/a/MANIFEST-000001", "chk-2/_metadata", "shared/a/000001.sst"}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	if got, skipped := completedIDs(t, s); !slices.Equal(got, []uint64{2}) {
		t.Fatalf("Completed = %v (%v)", got, skipped)
	}
	must(t, s.Materialize(h, t.TempDir()))

	// A file that was neither uploaded for the checkpoint nor retained is
	// refused.
	bad := StateHandle{Files: []FileRef{{Name: "000007.sst", Path: "shared/a/000007.sst"}}}
	if err := s.Complete(meta(3, bad)); err == nil || !strings.Contains(err.Error(), "not uploaded") {
		t.Fatalf("Complete with a foreign file = %v", err)
	}
	bad = StateHandle{Files: []FileRef{{Name: "x", Path: "../x"}}}
	if err := s.Complete(meta(3, bad)); err == nil || !strings.Contains(err.Error(), "not a clean path") {
		t.Fatalf("Complete with ../x = %v", err)
	}
}

func TestAbort(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	u := s.NewUploader("a")
	base := map[string]string{"000001.sst": "base", "MANIFEST-000001": "m1"}
	h1, _, err := u.Upload(1, snap(t, base))
	must(t, err)
	must(t, s.Complete(meta(1, h1)))

	// 2 and 3 both use the new 000002.sst (uploaded by 2, reused by 3).
	next := map[string]string{"000001.sst": "base", "000002.sst": "new", "MANIFEST-000001": "m2"}
	_, n2, err := u.Upload(2, snap(t, next))
	must(t, err)
	h3, n3, err := u.Upload(3, snap(t, next))
	must(t, err)
	if n2 != int64(len("new")+len("m2")) || n3 != int64(len("m2")) {
		t.Fatalf("uploads wrote %d and %d bytes", n2, n3)
	}
	must(t, s.Abort(2))
	want := []string{"chk-1/_metadata", "chk-1/a/MANIFEST-000001", "chk-3/a/MANIFEST-000001",
		"shared/a/000001.sst", "shared/a/000002.sst"}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after Abort(2) with 3 in flight:\n got %v\nwant %v", got, want)
	}
	must(t, s.Abort(3))
	want = []string{"chk-1/_metadata", "chk-1/a/MANIFEST-000001", "shared/a/000001.sst"}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after Abort(3):\n got %v\nwant %v", got, want)
	}
	// Completing an aborted checkpoint is refused.
	if err := s.Complete(meta(3, h3)); err == nil {
		t.Fatal("Complete of an aborted checkpoint succeeded")
	}
	// Aborting a completed one deletes nothing.
	if err := s.Abort(1); err == nil {
		t.Fatal("Abort(1) of a completed checkpoint succeeded")
	}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after Abort(1):\n got %v\nwant %v", got, want)
	}
	// The next upload copies the aborted SST again.
	h4, n4, err := u.Upload(4, snap(t, next))
	must(t, err)
	if n4 != int64(len("new")+len("m2")) {
		t.Fatalf("upload after abort wrote %d bytes", n4)
	}
	must(t, s.Complete(meta(4, h4)))
	if got, skipped := completedIDs(t, s); !slices.Equal(got, []uint64{4, 1}) || len(skipped) != 0 {
		t.Fatalf("Completed = %v (%v)", got, skipped)
	}
	must(t, s.Materialize(h4, t.TempDir()))
}

func TestCorruption(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, dir string)
		skipped string // substring of the reason chk-2 is skipped; "" means listed
		mat     string // substring of Materialize's error for chk-2
	}{
		{name: "truncated sst", damage: truncate("shared/a/000002.sst", 3), skipped: "shared/a/000002.sst: 3 bytes, metadata says"},
		{name: "missing sst", damage: remove("shared/a/000002.sst"), skipped: "shared/a/000002.sst: missing"},
		{name: "missing manifest", damage: remove("chk-2/a/MANIFEST-000001"), skipped: "chk-2/a/MANIFEST-000001: missing"},
		{name: "flipped byte in sst", damage: flip("shared/a/000002.sst", 1), mat: "shared/a/000002.sst: crc32c"},
		{name: "truncated metadata", damage: truncate("chk-2/_metadata", 40), skipped: "not valid JSON"},
		{name: "empty metadata", damage: truncate("chk-2/_metadata", 0), skipped: "not valid JSON"},
		{name: "altered metadata", damage: replace("chk-2/_metadata", `"job":"test"`, `"job":"tesT"`), skipped: "checksum mismatch"},
		{name: "no metadata", damage: remove("chk-2/_metadata"), skipped: "chk-2/_metadata: missing"},
		{name: "metadata of another id", damage: copyFrom("chk-1/_metadata", "chk-2/_metadata"), skipped: "records checkpoint 1"},
		{name: "metadata of another format", damage: replace("chk-2/_metadata", metadataFormat, "v0"), skipped: `format "v0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, Options{})
			u := s.NewUploader("a")
			h1, _, err := u.Upload(1, snap(t, map[string]string{"000001.sst": "base table", "MANIFEST-000001": "m1"}))
			must(t, err)
			must(t, s.Complete(meta(1, h1)))
			h2, _, err := u.Upload(2, snap(t, map[string]string{"000001.sst": "base table", "000002.sst": "new table", "MANIFEST-000001": "m2"}))
			must(t, err)
			must(t, s.Complete(meta(2, h2)))

			tc.damage(t, dir)
			ms, skipped, err := s.Completed()
			must(t, err)
			if tc.skipped != "" {
				if !slices.Equal(ids(ms), []uint64{1}) || len(skipped) != 1 {
					t.Fatalf("Completed = %v, skipped %v; want [1] and chk-2 skipped", ids(ms), skipped)
				}
				var ce *CorruptError
				if !errors.As(skipped[0], &ce) || ce.ID != 2 || !errors.Is(skipped[0], ErrCorrupt) ||
					!strings.Contains(skipped[0].Error(), tc.skipped) || strings.Contains(skipped[0].Error(), "\n") {
					t.Fatalf("skipped %v, want a one-line CorruptError for chk-2 containing %q", skipped[0], tc.skipped)
				}
				// A restart continues at 2 and overwrites the leftovers.
				s2 := open(t, dir, Options{})
				if got := s2.NextID(); got != 2 {
					t.Fatalf("NextID = %d, want 2", got)
				}
				h, _, err := s2.NewUploader("b").Upload(2, snap(t, map[string]string{"000003.sst": "again", "MANIFEST-000001": "m"}))
				must(t, err)
				must(t, s2.Complete(meta(2, h)))
				ms, skipped, err = s2.Completed()
				must(t, err)
				if !slices.Equal(ids(ms), []uint64{2, 1}) || len(skipped) != 0 {
					t.Fatalf("after redoing 2: Completed = %v, skipped %v", ids(ms), skipped)
				}
				must(t, s2.Materialize(*ms[0].State["s"][0].State, t.TempDir()))
			} else {
				if !slices.Equal(ids(ms), []uint64{2, 1}) {
					t.Fatalf("Completed = %v, skipped %v; want [2 1]", ids(ms), skipped)
				}
				err := s.Materialize(*ms[0].State["s"][0].State, t.TempDir())
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.mat) {
					t.Fatalf("Materialize = %v, want a CorruptError containing %q", err, tc.mat)
				}
			}
			// The older checkpoint still restores.
			must(t, s.Materialize(*ms[len(ms)-1].State["s"][0].State, t.TempDir()))
		})
	}
}

func truncate(rel string, size int64) func(*testing.T, string) {
	return func(t *testing.T, dir string) { must(t, os.Truncate(filepath.Join(dir, rel), size)) }
}

func remove(rel string) func(*testing.T, string) {
	return func(t *testing.T, dir string) { must(t, os.Remove(filepath.Join(dir, rel))) }
}

func flip(rel string, at int) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		p := filepath.Join(dir, rel)
		b, err := os.ReadFile(p)
		must(t, err)
		b[at] ^= 0x20
		must(t, os.WriteFile(p, b, 0o644))
	}
}

func replace(rel, old, new string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		p := filepath.Join(dir, rel)
		b, err := os.ReadFile(p)
		must(t, err)
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s lacks %q: %s", rel, old, b)
		}
		must(t, os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644))
	}
}

func copyFrom(src, dst string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		b, err := os.ReadFile(filepath.Join(dir, src))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, dst), b, 0o644))
	}
}

func TestUnwritable(t *testing.T) {
	for _, tc := range []struct {
		name          string
		root          bool // works as root
		brk, fix      func(t *testing.T, dir string)
		completeFails bool
	}{
		{
			name: "read-only store directory",
			brk: func(t *testing.T, dir string) {
				must(t, os.Chmod(filepath.Join(dir, "shared"), 0o555))
				must(t, os.Chmod(dir, 0o555))
			},
			fix: func(t *testing.T, dir string) {
				must(t, os.Chmod(dir, 0o755))
				must(t, os.Chmod(filepath.Join(dir, "shared"), 0o755))
			},
			completeFails: true,
		},
		{
			name: "a file where chk-2 goes",
			root: true,
			brk: func(t *testing.T, dir string) {
				must(t, os.WriteFile(filepath.Join(dir, "chk-2"), nil, 0o644))
			},
			fix:           func(t *testing.T, dir string) { must(t, os.Remove(filepath.Join(dir, "chk-2"))) },
			completeFails: true,
		},
		{
			name: "a file where shared/ goes",
			root: true,
			brk: func(t *testing.T, dir string) {
				must(t, os.Rename(filepath.Join(dir, "shared"), filepath.Join(dir, "aside")))
				must(t, os.WriteFile(filepath.Join(dir, "shared"), nil, 0o644))
			},
			fix: func(t *testing.T, dir string) {
				must(t, os.Remove(filepath.Join(dir, "shared")))
				must(t, os.Rename(filepath.Join(dir, "aside"), filepath.Join(dir, "shared")))
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.root && os.Geteuid() == 0 {
				t.Skip("root ignores permissions")
			}
			dir := t.TempDir()
			s := open(t, dir, Options{})
			u := s.NewUploader("a")
			h1, _, err := u.Upload(1, snap(t, map[string]string{"000001.sst": "base", "MANIFEST-000001": "m1"}))
			must(t, err)
			must(t, s.Complete(meta(1, h1)))
			sn := snap(t, map[string]string{"000001.sst": "base", "000002.sst": "new", "MANIFEST-000001": "m2"})

			tc.brk(t, dir)
			broken := true
			defer func() {
				if broken {
					tc.fix(t, dir)
				}
			}()
			_, _, err = u.Upload(2, sn)
			if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "checkpoint: upload a for checkpoint 2: ") {
				t.Fatalf("Upload into a broken store = %v, want a one-line error", err)
			}
			t.Logf("upload: %v", err)
			err = s.Complete(meta(2))
			if tc.completeFails && (err == nil || strings.Contains(err.Error(), "\n")) {
				t.Fatalf("Complete into a broken store = %v, want a one-line error", err)
			}
			t.Logf("complete: %v", err)
			tc.fix(t, dir)
			broken = false

			id := s.NextID()
			h, _, err := u.Upload(id, sn)
			must(t, err)
			must(t, s.Complete(meta(id, h)))
			ms, skipped, err := s.Completed()
			must(t, err)
			if ms[0].ID != id || len(skipped) != 0 {
				t.Fatalf("Completed = %v, skipped %v", ids(ms), skipped)
			}
			r := t.TempDir()
			must(t, s.Materialize(*ms[0].State["s"][0].State, r))
			if got := files(t, r); !slices.Equal(got, []string{"000001.sst", "000002.sst", "MANIFEST-000001"}) {
				t.Fatalf("materialized %v", got)
			}
		})
	}
}

func TestSelfContained(t *testing.T) {
	work := t.TempDir()
	b, err := state.Open(state.Options{Dir: filepath.Join(work, "db")})
	must(t, err)
	defer b.Close()
	s := open(t, filepath.Join(work, "savepoints"), Options{SelfContained: true, Retain: -1})
	u := s.NewUploader("stage-1-x")

	fill(t, b, 0, 5000, "one")
	h1, err := b.Snapshot(filepath.Join(work, "snap-1"))
	must(t, err)
	sh1, n1, err := u.Upload(1, h1)
	must(t, err)
	must(t, s.Complete(meta(1, sh1)))
	fill(t, b, 0, 10, "two")
	h2, err := b.Snapshot(filepath.Join(work, "snap-2"))
	must(t, err)
	sh2, n2, err := u.Upload(2, h2)
	must(t, err)
	m := meta(2, sh2)
	m.Savepoint = true
	must(t, s.Complete(m))
	if n2 < n1 {
		t.Fatalf("self-contained uploads wrote %d then %d bytes; the second must copy everything", n1, n2)
	}
	for _, f := range sh2.Files {
		if !strings.HasPrefix(f.Path, "chk-2/stage-1-x/") {
			t.Fatalf("%s stored at %s", f.Name, f.Path)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "shared")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("self-contained store has a shared directory: %v", err)
	}
	// Referencing an earlier checkpoint's files is refused.
	if err := s.Complete(meta(3, sh1)); err == nil || !strings.Contains(err.Error(), "self-contained") {
		t.Fatalf("Complete(3) with checkpoint 1's files = %v", err)
	}

	// chk-2 alone, elsewhere, restores.
	other := filepath.Join(work, "elsewhere")
	copyTree(t, filepath.Join(s.Dir(), "chk-2"), filepath.Join(other, "chk-2"))
	s2 := open(t, other, Options{ReadOnly: true})
	ms, skipped, err := s2.Completed()
	must(t, err)
	if !slices.Equal(ids(ms), []uint64{2}) || len(skipped) != 0 || !ms[0].Savepoint {
		t.Fatalf("Completed = %v, skipped %v", ids(ms), skipped)
	}
	r := restore(t, s2, *ms[0].State["s"][0].State)
	checkValue(t, r, 5, "two")
	checkValue(t, r, 4999, "one")
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	must(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	}))
}

func TestBadNames(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	h := snap(t, map[string]string{"000001.sst": "t"})
	for _, inst := range []string{"", ".", "..", "a/b", ".hidden"} {
		if _, _, err := s.NewUploader(inst).Upload(1, h); err == nil || !strings.Contains(err.Error(), "instance name") {
			t.Errorf("Upload with instance %q = %v", inst, err)
		}
	}
	if _, _, err := s.NewUploader("a").Upload(0, h); err == nil {
		t.Error("Upload of checkpoint 0 succeeded")
	}
	if err := s.Materialize(StateHandle{Files: []FileRef{{Name: "x", Path: "/etc/passwd"}}}, t.TempDir()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Materialize of an absolute path = %v", err)
	}
	if _, err := Open("", Options{}); err == nil {
		t.Error("Open(\"\") succeeded")
	}
}

// TestConcurrent runs the runner's pattern: the tasks' uploads of
// checkpoint id run while checkpoint id-1 completes. Run with -race.
func TestConcurrent(t *testing.T) {
	const tasks, rounds = 4, 12
	dir := t.TempDir()
	s := open(t, dir, Options{Retain: 2})
	rng := rand.New(rand.NewPCG(1, 2))
	// Each task's snapshot i keeps SSTs from earlier rounds at random and
	// adds one.
	snaps := make([][]state.Handle, tasks)
	for k := range tasks {
		live := map[string]string{}
		for i := range rounds {
			for name := range live {
				if strings.HasSuffix(name, ".sst") && rng.IntN(3) == 0 {
					delete(live, name)
				}
			}
			live[fmt.Sprintf("%06d.sst", i+1)] = fmt.Sprintf("task %d table %d %d", k, i, rng.Int())
			live["MANIFEST-000001"] = fmt.Sprint("manifest ", i)
			snaps[k] = append(snaps[k], snap(t, live))
		}
	}
	ups := make([]*Uploader, tasks)
	for k := range ups {
		ups[k] = s.NewUploader(fmt.Sprintf("s-%d-run", k))
	}
	var prev []StateHandle
	for i := range rounds + 1 {
		id := uint64(i + 1)
		cur := make([]StateHandle, tasks)
		var wg sync.WaitGroup
		errs := make([]error, tasks+1)
		if i < rounds {
			for k := range tasks {
				wg.Go(func() { cur[k], _, errs[k] = ups[k].Upload(id, snaps[k][i]) })
			}
		}
		if prev != nil {
			wg.Go(func() { errs[tasks] = s.Complete(meta(id-1, prev...)) })
		}
		wg.Wait()
		must(t, errors.Join(errs...))
		prev = cur
	}
	ms, skipped, err := s.Completed()
	must(t, err)
	if !slices.Equal(ids(ms), []uint64{rounds, rounds - 1}) || len(skipped) != 0 {
		t.Fatalf("Completed = %v, skipped %v", ids(ms), skipped)
	}
	for _, m := range ms {
		for k, ts := range m.State["s"] {
			r := t.TempDir()
			must(t, s.Materialize(*ts.State, r))
			want := snaps[k][m.ID-1]
			for _, f := range want.Files {
				a, err := os.ReadFile(filepath.Join(want.Dir, f.Name))
				must(t, err)
				b, err := os.ReadFile(filepath.Join(r, f.Name))
				must(t, err)
				if string(a) != string(b) {
					t.Fatalf("checkpoint %d task %d: %s differs", m.ID, k, f.Name)
				}
			}
		}
	}
	// Nothing else is left: shared files are exactly the referenced ones.
	refs := map[string]bool{}
	for _, m := range ms {
		m.refs(func(f FileRef) { refs[f.Path] = true })
	}
	for _, f := range files(t, dir) {
		if !refs[f] && !strings.HasSuffix(f, "/_metadata") {
			t.Errorf("garbage left: %s", f)
		}
	}
}

// A checkpoint store and a savepoint store never share a directory: each
// records its kind, and opening the other kind there is refused, so
// neither collects the other's files as garbage.
func TestStoreKinds(t *testing.T) {
	work := t.TempDir()
	ckpt := filepath.Join(work, "ckpt")
	s := open(t, ckpt, Options{})
	u := s.NewUploader("a")
	sh, _, err := u.Upload(1, snap(t, map[string]string{"000001.sst": "one", "MANIFEST-000001": "m"}))
	must(t, err)
	must(t, s.Complete(meta(1, sh)))

	_, err = Open(ckpt, Options{SelfContained: true})
	var ke *KindError
	if !errors.As(err, &ke) || ke.Have != "checkpoints" || ke.Want != "savepoints" {
		t.Fatalf("savepoint store in a checkpoint directory: %v", err)
	}
	// Reading it (to restore) is fine, and writes nothing.
	before := files(t, ckpt)
	r := open(t, ckpt, Options{SelfContained: true, ReadOnly: true})
	if ms, _, err := r.Completed(); err != nil || !slices.Equal(ids(ms), []uint64{1}) {
		t.Fatalf("read-only Completed = %v, %v", ids(ms), err)
	}
	if err := r.Complete(meta(2)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only Complete = %v", err)
	}
	if err := r.Abort(1); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only Abort = %v", err)
	}
	if _, _, err := r.NewUploader("b").Upload(2, snap(t, map[string]string{"x": "y"})); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only Upload = %v", err)
	}
	if got := files(t, ckpt); !slices.Equal(got, before) {
		t.Errorf("read-only store changed files: %v, want %v", got, before)
	}
	if _, err := Open(filepath.Join(work, "missing"), Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only Open of a missing directory = %v", err)
	}

	// A savepoint directory written before kinds were recorded is known by
	// its metadata.
	sp := filepath.Join(work, "sp")
	p := open(t, sp, Options{SelfContained: true})
	su := p.NewUploader("a")
	sh, _, err = su.Upload(1, snap(t, map[string]string{"000001.sst": "one"}))
	must(t, err)
	m := meta(1, sh)
	m.Savepoint = true
	must(t, p.Complete(m))
	must(t, os.Remove(filepath.Join(sp, kindFile)))
	if _, err := Open(sp, Options{}); !errors.As(err, &ke) || ke.Have != "savepoints" {
		t.Fatalf("checkpoint store in an old savepoint directory: %v", err)
	}
	open(t, sp, Options{SelfContained: true})
	if b, err := os.ReadFile(filepath.Join(sp, kindFile)); err != nil || string(b) != "savepoints\n" {
		t.Errorf("kind file %q, %v", b, err)
	}
}

// Checkpoints hold user data: only their owner may read them.
func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	s := open(t, dir, Options{})
	sh, _, err := s.NewUploader("a").Upload(1, snap(t, map[string]string{"000001.sst": "one", "MANIFEST-000001": "m"}))
	must(t, err)
	must(t, s.Complete(meta(1, sh)))
	mat := filepath.Join(t.TempDir(), "mat")
	must(t, s.Materialize(sh, mat))
	for _, root := range []string{dir, mat} {
		must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			st, err := d.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(filePerm)
			if d.IsDir() {
				want = dirPerm
			}
			if st.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
			}
			return nil
		}))
	}
}
