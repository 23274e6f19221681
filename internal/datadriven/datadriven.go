// Package datadriven runs test scripts: a testdata file of commands, each
// followed by its expected output, like cockroachdb/datadriven (the format
// is a subset of it). A test turns each command into output; a mismatch
// fails the test, and -rewrite writes the actual output back into the file
// for review as a diff.
//
// The format, one block per command:
//
//	# a comment
//	command arg1 key=value key2=(a,b)
//	optional input lines
//	----
//	expected output lines
//	(a blank line ends the block)
//
// # Who calls it
//
// Tests of state machines (watermarks, window firing, scheduling).
//
// # Goroutines
//
// None; RunTest runs the blocks of a file in order on the test goroutine.
package datadriven

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite datadriven test files with the actual output")

// Arg is one argument of a command: "key", "key=value" or "key=(v1,v2)".
type Arg struct {
	Key  string
	Vals []string
}

// TestData is one block of a script.
type TestData struct {
	Pos      string // file:line of the command
	Cmd      string
	Args     []Arg
	Input    string
	Expected string
}

// Arg returns the values of argument key.
func (d *TestData) Arg(key string) ([]string, bool) {
	for _, a := range d.Args {
		if a.Key == key {
			return a.Vals, true
		}
	}
	return nil, false
}

// ScanArg returns the single value of key, or def when it is missing.
func (d *TestData) ScanArg(key, def string) string {
	if v, ok := d.Arg(key); ok && len(v) > 0 {
		return v[0]
	}
	return def
}

// Fatalf fails the test naming the block's position.
func (d *TestData) Fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Fatalf("%s: %s: %s", d.Pos, d.Cmd, fmt.Sprintf(format, args...))
}

type block struct {
	lead []string // comments and blank lines before the command
	d    TestData
	raw  string // command line and input
}

// RunTest runs every block of the file at path through f and compares its
// result with the expected output.
func RunTest(t *testing.T, path string, f func(t *testing.T, d *TestData) string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("datadriven: %v", err)
	}
	blocks, tail, err := parse(path, string(data))
	if err != nil {
		t.Fatalf("datadriven: %v", err)
	}
	var out strings.Builder
	for i := range blocks {
		b := &blocks[i]
		got := f(t, &b.d)
		if got != "" && !strings.HasSuffix(got, "\n") {
			got += "\n"
		}
		for _, l := range b.lead {
			out.WriteString(l + "\n")
		}
		out.WriteString(b.raw + "----\n" + got)
		if i < len(blocks)-1 || len(tail) > 0 {
			out.WriteString("\n")
		}
		if *rewrite {
			continue
		}
		if got != b.d.Expected {
			t.Fatalf("%s: %s\ngot:\n%swant:\n%s", b.d.Pos, b.raw, got, b.d.Expected)
		}
	}
	if *rewrite {
		for _, l := range tail {
			out.WriteString(l + "\n")
		}
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatalf("datadriven: %v", err)
		}
	}
}

func parse(path, s string) (blocks []block, tail []string, err error) {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	var lead []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			lead = append(lead, l)
			continue
		}
		b := block{lead: lead, d: TestData{Pos: fmt.Sprintf("%s:%d", path, i+1)}}
		lead = nil
		b.d.Cmd, b.d.Args, err = parseCmd(l)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", b.d.Pos, err)
		}
		raw := l + "\n"
		var input strings.Builder
		for i++; i < len(lines) && lines[i] != "----"; i++ {
			raw += lines[i] + "\n"
			input.WriteString(lines[i] + "\n")
		}
		if i == len(lines) {
			return nil, nil, fmt.Errorf("%s: no ---- after the command", b.d.Pos)
		}
		b.raw, b.d.Input = raw, input.String()
		var exp strings.Builder
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			exp.WriteString(lines[i] + "\n")
		}
		b.d.Expected = exp.String()
		blocks = append(blocks, b)
	}
	return blocks, lead, nil
}

func parseCmd(l string) (string, []Arg, error) {
	fields := strings.Fields(l)
	var args []Arg
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		a := Arg{Key: k}
		if ok {
			if strings.HasPrefix(v, "(") {
				if !strings.HasSuffix(v, ")") {
					return "", nil, fmt.Errorf("unterminated list in %q", f)
				}
				v = strings.TrimSuffix(strings.TrimPrefix(v, "("), ")")
				if v != "" {
					a.Vals = strings.Split(v, ",")
				}
			} else {
				a.Vals = []string{v}
			}
		}
		args = append(args, a)
	}
	return fields[0], args, nil
}
