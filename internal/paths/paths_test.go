package paths

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOverlap(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("later", filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	j := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{j("a"), j("a"), true},
		{j("a"), j("a") + "/", true},
		{j("a"), j("a", "b"), true},
		{j("a", "b", ".."), j("a"), true},
		{j("a", "b"), j("a"), true},
		{j("a"), j("ab"), false},
		{j("a"), j("..a"), false},
		{j("a", "..b"), j("a"), true},
		{j("x"), j("y"), false},
		{link, real, true},                        // a link to the same directory
		{j("link", "ck"), j("real", "ck"), true},  // not made yet, under a link
		{j("link", "ck"), j("real", "sp"), false}, // siblings under a link
		{j("real", "ck", "new"), j("link", "ck"), true},
		{j("dangling"), j("later"), true},              // a link to a directory not made yet
		{j("dangling", "sp"), j("later", "sp"), true},  // and below it
		{j("dangling", "sp"), j("later", "ck"), false}, // siblings below it
	} {
		got, err := Overlap(tc.a, tc.b)
		if err != nil || got != tc.want {
			t.Errorf("Overlap(%s, %s) = %v, %v; want %v", tc.a, tc.b, got, err, tc.want)
		}
	}
}

func TestCanonicalStable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(dir, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "link", "ck")
	before, err := Canonical(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	after, err := Canonical(p)
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("Canonical changed when the directory was made: %s, then %s", before, after)
	}
}
