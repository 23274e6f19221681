package job

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolveInputUnreadable: a folder that cannot be listed is named,
// with the reason, instead of "no files match" (filepath.Glob ignores
// errors). Tests may run as root, which permission bits do not stop, so
// the directory reader is replaced; the real thing is checked too when not
// root.
func TestResolveInputUnreadable(t *testing.T) {
	dir := t.TempDir()
	txns := filepath.Join(dir, "txns")
	if err := os.Mkdir(txns, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(txns, "a.jsonl"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	orig := listDir
	t.Cleanup(func() { listDir = orig })
	listDir = func(d string) error {
		if d == txns {
			return &fs.PathError{Op: "open", Path: d, Err: fs.ErrPermission}
		}
		return orig(d)
	}
	want := "cannot read " + txns + ": permission denied; check --in"
	for _, in := range []Location{{JSONL, txns}, {JSONL, filepath.Join(txns, "*.jsonl")}, {JSONL, filepath.Join(txns, "a.*")}} {
		if _, _, err := resolveInput(port{loc: in}); err == nil || err.Error() != want {
			t.Errorf("resolveInput(%s) = %v, want %q", in, err, want)
		}
	}
	// With a wildcard folder, the folder above it is the one listed.
	listDir = func(d string) error {
		if d == dir {
			return &fs.PathError{Op: "open", Path: d, Err: fs.ErrPermission}
		}
		return orig(d)
	}
	if _, _, err := resolveInput(port{loc: Location{JSONL, filepath.Join(dir, "*", "*.jsonl")}}); err == nil || !strings.HasPrefix(err.Error(), "cannot read "+dir+": permission denied") {
		t.Errorf("wildcard folder: %v", err)
	}
	listDir = orig
	if _, files, err := resolveInput(port{loc: Location{JSONL, txns}}); err != nil || len(files) != 1 {
		t.Fatalf("readable folder: %v, %v", files, err)
	}

	if os.Geteuid() == 0 {
		return // root reads a folder whatever its mode
	}
	if err := os.Chmod(txns, 0o300); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(txns, 0o755) })
	if _, _, err := resolveInput(port{loc: Location{JSONL, txns}}); err == nil || err.Error() != want {
		t.Errorf("folder without read permission: %v, want %q", err, want)
	}
}

func TestGlobDir(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{"data/txns/*.parquet", "data/txns"},
		{"data/*/x.parquet", "data"},
		{"*.parquet", "."},
		{"data/x.parquet", ""},
		{"/a/b[0-9]/c/*.jsonl", "/a"},
	} {
		if got := globDir(tc.pattern); got != tc.want {
			t.Errorf("globDir(%q) = %q, want %q", tc.pattern, got, tc.want)
		}
	}
}
