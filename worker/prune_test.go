package worker

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestPrune: only regular files that are not kept and are older than the
// cutoff go.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := now.Add(-48 * time.Hour)
	for name, mtime := range map[string]time.Time{"old": old, "old-kept": old, "new": now} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	sub := filepath.Join(dir, "old-dir")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(sub, old, old); err != nil {
		t.Fatal(err)
	}
	removed, err := prune(dir, map[string]bool{"old-kept": true}, now.Add(-24*time.Hour))
	if err != nil || !slices.Equal(removed, []string{"old"}) {
		t.Fatalf("prune = %q, %v; want [old]", removed, err)
	}
	ents, _ := os.ReadDir(dir)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if want := []string{"new", "old-dir", "old-kept"}; !slices.Equal(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
}
