package gen

import (
	"fmt"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
)

// Error is one problem found in the user's code, at a position.
type Error struct {
	Pos string // file:line, the file relative to Options.Dir
	Msg string

	file string // for sorting
	line int
}

func (e *Error) Error() string {
	if e.Pos == "" {
		return e.Msg
	}
	return e.Pos + ": " + e.Msg
}

// ErrorList is every problem found by one run, in source order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// errorCollector gathers errors instead of stopping at the first.
type errorCollector struct {
	dir  string // positions are made relative to it
	errs ErrorList
}

func (c *errorCollector) pos(fset *token.FileSet, p token.Pos) string {
	if !p.IsValid() {
		return ""
	}
	pos := fset.Position(p)
	name := pos.Filename
	if rel, err := filepath.Rel(c.dir, name); err == nil {
		name = filepath.ToSlash(rel)
	}
	return fmt.Sprintf("%s:%d", name, pos.Line)
}

func (c *errorCollector) add(fset *token.FileSet, p token.Pos, format string, args ...any) {
	e := &Error{Pos: c.pos(fset, p), Msg: fmt.Sprintf(format, args...)}
	if p.IsValid() {
		pos := fset.Position(p)
		e.file, e.line = pos.Filename, pos.Line
	}
	c.errs = append(c.errs, e)
}

func (c *errorCollector) addPos(pos string, msg string) {
	c.errs = append(c.errs, &Error{Pos: pos, Msg: msg})
}

// err returns the errors sorted by file and line, or nil.
func (c *errorCollector) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	sort.SliceStable(c.errs, func(i, j int) bool {
		a, b := c.errs[i], c.errs[j]
		if a.file != b.file {
			return a.file < b.file
		}
		return a.line < b.line
	})
	return c.errs
}
