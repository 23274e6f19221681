package datadriven

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	src := "# comment\n\nadd a=1 b=(2,3) flag\nline one\n----\n6\n\necho\n----\n"
	blocks, tail, err := parse("f", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || len(tail) != 0 {
		t.Fatalf("got %d blocks, tail %q", len(blocks), tail)
	}
	d := blocks[0].d
	wantArgs := []Arg{{"a", []string{"1"}}, {"b", []string{"2", "3"}}, {"flag", nil}}
	if d.Cmd != "add" || !reflect.DeepEqual(d.Args, wantArgs) || d.Input != "line one\n" || d.Expected != "6\n" || d.Pos != "f:3" {
		t.Fatalf("block 0 = %+v", d)
	}
	if blocks[1].d.Cmd != "echo" || blocks[1].d.Expected != "" {
		t.Fatalf("block 1 = %+v", blocks[1].d)
	}
}

func TestRunTestRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "script")
	os.WriteFile(path, []byte("# sum\nsum x=(1,2)\n----\nwrong\n\nsum x=(4)\n----\n4\n"), 0o644)
	*rewrite = true
	defer func() { *rewrite = false }()
	run := func(t *testing.T, d *TestData) string {
		v, _ := d.Arg("x")
		n := 0
		for _, s := range v {
			n += int(s[0] - '0')
		}
		return string(rune('0' + n))
	}
	RunTest(t, path, run)
	got, _ := os.ReadFile(path)
	if want := "# sum\nsum x=(1,2)\n----\n3\n\nsum x=(4)\n----\n4\n"; string(got) != want {
		t.Fatalf("rewritten:\n%s\nwant:\n%s", got, want)
	}
	*rewrite = false
	RunTest(t, path, run)
}
