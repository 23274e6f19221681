package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestKernelsInline builds examples/fraud with -gcflags=-m and checks that
// each generated kernel inlines the user function it loops over ("inlining
// call to Large" inside weirFilterLarge). A function the compiler cannot
// inline anywhere (its own cost is over the budget) is reported in the log
// rather than failed: the kernel is not what stops it.
func TestKernelsInline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/fraud")
	}
	root := filepath.Join("..", "..")
	const pkg = module + "/examples/fraud"
	cmd := exec.Command("go", "build", "-o", "/dev/null", "-gcflags="+pkg+"=-m", "./examples/fraud")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// Line ranges of the kernels in weir_gen.go.
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(root, "examples/fraud/weir_gen.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	type kernel struct {
		name, fn   string
		start, end int
	}
	var kernels []kernel
	kernelName := regexp.MustCompile(`^weir(Filter|Map|FlatMap)([A-Z]\w*)$`)
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		if m := kernelName.FindStringSubmatch(fd.Name.Name); m != nil {
			kernels = append(kernels, kernel{fd.Name.Name, m[2], fset.Position(fd.Pos()).Line, fset.Position(fd.End()).Line})
		}
	}
	want := map[string]bool{"Large": false, "UserOf": false, "ToUserTotal": false}
	for _, k := range kernels {
		if _, ok := want[k.fn]; ok {
			want[k.fn] = true
		}
	}
	for fn, found := range want {
		if !found {
			t.Errorf("no kernel for %s in examples/fraud/weir_gen.go", fn)
		}
	}

	inlined := regexp.MustCompile(`(?m)^(?:\./)?(?:examples/fraud/)?weir_gen\.go:(\d+):\d+: inlining call to (\w+)$`)
	calls := map[string][]int{} // function -> lines in weir_gen.go
	for _, m := range inlined.FindAllStringSubmatch(string(out), -1) {
		line, _ := strconv.Atoi(m[1])
		calls[m[2]] = append(calls[m[2]], line)
	}
	for _, k := range kernels {
		ok := false
		for _, line := range calls[k.fn] {
			if line >= k.start && line <= k.end {
				ok = true
			}
		}
		switch {
		case ok:
		case strings.Contains(string(out), "cannot inline "+k.fn+": function too complex"),
			tooComplex(t, root, pkg, k.fn):
			t.Logf("%s: %s is too complex to inline anywhere; the kernel still calls it directly", k.name, k.fn)
		default:
			t.Errorf("%s (weir_gen.go:%d-%d) does not inline %s", k.name, k.start, k.end, k.fn)
		}
	}
}

// tooComplex asks the compiler (-m=2) whether fn is over the inlining budget.
func tooComplex(t *testing.T, root, pkg, fn string) bool {
	cmd := exec.Command("go", "build", "-o", "/dev/null", "-gcflags="+pkg+"=-m=2", "./examples/fraud")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build -m=2: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`cannot inline ` + regexp.QuoteMeta(fn) + `: function too complex: (cost \d+ exceeds budget \d+)`)
	if m := re.FindStringSubmatch(string(out)); m != nil {
		t.Logf("%s: %s", fn, m[1])
		return true
	}
	return false
}
