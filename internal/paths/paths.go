package paths

import (
	"os"
	"path/filepath"
	"strings"
)

// Canonical is the absolute, cleaned form of path with the symbolic links
// of its longest existing prefix resolved, so that it is the same before
// and after the directory is made. A link to a directory not made yet is
// followed too.
func Canonical(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	for range 40 { // links followed, at most
		p, rest, next := abs, "", ""
		for next == "" {
			if r, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Join(r, rest), nil
			}
			if target, err := os.Readlink(p); err == nil { // a dangling link
				if !filepath.IsAbs(target) {
					target = filepath.Join(filepath.Dir(p), target)
				}
				next = filepath.Join(target, rest)
				break
			}
			parent := filepath.Dir(p)
			if parent == p {
				return abs, nil
			}
			rest = filepath.Join(filepath.Base(p), rest)
			p = parent
		}
		abs = next
	}
	return abs, nil
}

// Overlap reports whether directories a and b are the same or one is
// inside the other (compared in their [Canonical] forms).
func Overlap(a, b string) (bool, error) {
	ca, err := Canonical(a)
	if err != nil {
		return false, err
	}
	cb, err := Canonical(b)
	if err != nil {
		return false, err
	}
	return Within(ca, cb) || Within(cb, ca), nil
}

// Within reports whether path p is dir or inside it; both are canonical.
func Within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)))
}
