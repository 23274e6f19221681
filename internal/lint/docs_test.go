package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Code shown in the documentation is code that compiles and runs: each
// snippet checked here is an excerpt of a file that the build and the tests
// cover, so a change there that the snippet does not follow fails.

// TestReadmePipelineSnippets checks the two Go blocks of README.md's
// "A pipeline" section: every line of the first is a line of
// examples/fraud/fraud.go, every line of the second one of
// examples/fraud/cmd/fraud/main.go, in the same order (the snippets may
// leave lines out, such as doc comments, but change none).
func TestReadmePipelineSnippets(t *testing.T) {
	root := filepath.Join("..", "..")
	readme := readFile(t, filepath.Join(root, "README.md"))
	section, ok := between(readme, "\n## A pipeline\n", "\n## ")
	if !ok {
		t.Fatal(`README.md has no "## A pipeline" section`)
	}
	blocks := goBlocks(section)
	if len(blocks) < 2 {
		t.Fatalf("README.md's A pipeline section has %d Go blocks, want the pipeline and its main", len(blocks))
	}
	for i, file := range []string{"examples/fraud/fraud.go", "examples/fraud/cmd/fraud/main.go"} {
		if line, ok := excerpt(blocks[i], readFile(t, filepath.Join(root, file)), false); !ok {
			t.Errorf("README.md, A pipeline, Go block %d: line %q is not in %s (in this order); copy the code again", i+1, line, file)
		}
	}
}

// TestSDKDocExample checks that the pipeline in sdk's package
// documentation is, line for line, the one examples/fraud's
// Example_pipeline builds and runs.
func TestSDKDocExample(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	doc, err := parser.ParseFile(fset, filepath.Join(root, "sdk", "doc.go"), nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	for _, l := range strings.Split(doc.Doc.Text(), "\n") {
		if strings.HasPrefix(l, "\t") {
			block = append(block, l)
		} else if len(block) > 0 {
			break
		}
	}
	if len(block) == 0 {
		t.Fatal("sdk/doc.go shows no code")
	}
	path := filepath.Join(root, "examples", "fraud", "example_test.go")
	src := readFile(t, path)
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var body string
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "Example_pipeline" {
			body = src[fset.Position(fd.Body.Pos()).Offset:fset.Position(fd.Body.End()).Offset]
		}
	}
	if body == "" {
		t.Fatalf("%s has no Example_pipeline", path)
	}
	if line, ok := excerpt(strings.Join(block, "\n"), body, true); !ok {
		t.Errorf("sdk/doc.go shows %q, which Example_pipeline in %s does not run there; keep the two the same", line, path)
	}
}

// TestExcerpt checks the checker.
func TestExcerpt(t *testing.T) {
	file := "a\n\t// doc\n\tb := 1\n\nc()\n"
	for _, tc := range []struct {
		snippet    string
		contiguous bool
		ok         bool
	}{
		{"a\nb := 1\nc()", false, true},
		{"a\n\nc()", false, true},
		{"a\nb := 1\nc()", true, false},
		{"b := 1\nc()", true, true},
		{"c()\na", false, false},
		{"b := 2", false, false},
	} {
		if _, ok := excerpt(tc.snippet, file, tc.contiguous); ok != tc.ok {
			t.Errorf("excerpt(%q, contiguous %v) = %v, want %v", tc.snippet, tc.contiguous, ok, tc.ok)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// between returns the text after start up to the next end.
func between(s, start, end string) (string, bool) {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return "", false
	}
	if i := strings.Index(rest, end); i >= 0 {
		rest = rest[:i]
	}
	return rest, true
}

// goBlocks returns the contents of the ```go fences of a Markdown text.
func goBlocks(md string) []string {
	var blocks []string
	for {
		_, rest, ok := strings.Cut(md, "```go\n")
		if !ok {
			return blocks
		}
		block, after, ok := strings.Cut(rest, "\n```")
		if !ok {
			return blocks
		}
		blocks = append(blocks, block)
		md = after
	}
}

// excerpt reports whether the non-blank lines of snippet are lines of file
// in the same order, compared without indentation; contiguous asks for them
// to be consecutive lines of file (blank lines aside). Otherwise it returns
// the first line that does not match.
func excerpt(snippet, file string, contiguous bool) (string, bool) {
	trimmed := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	want, have := trimmed(snippet), trimmed(file)
	if len(want) == 0 {
		return "", true
	}
	best := 0 // the most lines of want matched from one start
	for start := range have {
		if have[start] != want[0] {
			continue
		}
		i := 1
		for j := start + 1; i < len(want) && j < len(have); j++ {
			if have[j] == want[i] {
				i++
			} else if contiguous {
				break
			}
		}
		if i == len(want) {
			return "", true
		}
		best = max(best, i)
	}
	return want[best], false
}
