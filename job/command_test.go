package job

import (
	"bytes"
	"flag"
	"testing"
)

// TestParseCommandFlags: -h lists the flags and ends with 0; a bad flag,
// a bad value or a stray argument is one line naming the command, 2.
func TestParseCommandFlags(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		code         int
		ok           bool
		stdout, line string
	}{
		{[]string{"--rows=3"}, 0, true, "", ""},
		{[]string{"-h"}, 0, false, "usage: demo gen [flags]\n\nflags:\n  --rows             rows to write (default 10)\n", ""},
		{[]string{"--frob"}, 2, false, "", "demo: unknown flag --frob (see demo gen -h)\n"},
		{[]string{"--rows=x"}, 2, false, "", "demo: --rows=x: use a whole number (see demo gen -h)\n"},
		{[]string{"extra"}, 2, false, "", "demo: unexpected argument \"extra\"; flags only (see demo gen -h)\n"},
	} {
		fs := flag.NewFlagSet("demo gen", flag.ContinueOnError)
		fs.Int("rows", 10, "rows to write")
		var out, errs bytes.Buffer
		code, ok := ParseCommandFlags("demo", "gen", "demo gen [flags]", fs, tc.args, &out, &errs)
		if code != tc.code || ok != tc.ok || out.String() != tc.stdout || errs.String() != tc.line {
			t.Errorf("%q: %d %v, stdout %q, stderr %q; want %d %v, %q, %q", tc.args, code, ok, out.String(), errs.String(), tc.code, tc.ok, tc.stdout, tc.line)
		}
	}
}
