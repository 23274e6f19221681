// Package lint holds repository-wide checks that run as tests.
package lint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/weirflow/weir"

// pkg is what the import check needs of `go list -json`.
type pkg struct {
	ImportPath   string
	Standard     bool
	Imports      []string // direct, non-test
	Deps         []string // transitive, non-test
	TestImports  []string
	XTestImports []string
}

// rule forbids packages under from to depend (transitively, through non-test
// imports) on packages under any of deny. "std!" in deny forbids every
// package that is neither in the standard library nor in this module.
type rule struct {
	from string
	deny []string
	why  string
}

var rules = []rule{
	{"sdk", []string{"runner", "io", "state", "coordinator", "gen", "std!"}, "sdk imports the standard library only; runners register themselves"},
	{"io", []string{"runner", "coordinator", "state"}, "connectors implement sdk interfaces and know nothing of the engine"},
	{"state", []string{"runner", "sdk"}, "the state backend knows nothing of the engine or the SDK"},
	{"gen", []string{"runner", "state", "coordinator", "io"}, "the generator needs only sdk, x/tools and jennifer"},
	{"runner", []string{"coordinator", "gen"}, "the coordinator imports runner plan types, not the reverse"},
	// No exceptions. Tests are not checked (only non-test imports are):
	// internal/ops's tests encode values with sdk/codec.
	{"internal", []string{"sdk", "runner", "io", "job", "gen", "coordinator", "cmd", "examples", "benchmarks"},
		"internal packages are shared by sdk, runner and io, and import none of them (the key hash lives in internal/base)"},
	// A job binary (job, the connectors, an example's main) is shipped to
	// workers: the generator and what it links stay in cmd/weir.
	{"job", []string{"gen"}, noGen},
	{"io", []string{"gen"}, noGen},
	{"examples", []string{"gen"}, noGen},
}

const noGen = "a job binary never links the generator (gen pulls in x/tools and jennifer); only cmd/weir does"

// under reports whether the module-relative path rel is dir or inside it.
func under(rel, dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }

// rel returns path relative to the module, or ok=false outside it.
func rel(path string) (string, bool) {
	if path == module {
		return "", true
	}
	r, ok := strings.CutPrefix(path, module+"/")
	return r, ok
}

// violations lists the forbidden edges among pkgs, sorted.
func violations(pkgs []pkg) []string {
	std := map[string]bool{}
	for _, p := range pkgs {
		if p.Standard {
			std[p.ImportPath] = true
		}
	}
	isStd := func(path string) bool {
		// go list -deps marks standard packages; fall back on the rule that
		// standard import paths have no dot in their first element.
		if std[path] {
			return true
		}
		first, _, _ := strings.Cut(path, "/")
		return !strings.Contains(first, ".")
	}
	var out []string
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		for _, r := range rules {
			if !under(from, r.from) {
				continue
			}
			for _, d := range p.Deps {
				to, inModule := rel(d)
				for _, deny := range r.deny {
					bad := false
					if deny == "std!" {
						bad = !inModule && !isStd(d)
					} else {
						bad = inModule && under(to, deny)
					}
					if bad {
						out = append(out, fmt.Sprintf("%s -> %s: %s", p.ImportPath, d, r.why))
					}
				}
			}
		}
		// Nothing imports cmd/ or benchmarks/; examples/ are imported only
		// from their own tree, from benchmarks/ and from tests.
		for _, d := range p.Imports {
			to, inModule := rel(d)
			if !inModule {
				continue
			}
			switch {
			case under(to, "cmd") && !under(from, "cmd"):
				out = append(out, fmt.Sprintf("%s -> %s: nothing imports cmd/", p.ImportPath, d))
			case under(to, "benchmarks") && !under(from, "benchmarks"):
				out = append(out, fmt.Sprintf("%s -> %s: nothing imports benchmarks/", p.ImportPath, d))
			case under(to, "examples") && !under(from, "benchmarks") && !sameExample(from, to):
				out = append(out, fmt.Sprintf("%s -> %s: examples are imported only by their own packages, benchmarks and tests", p.ImportPath, d))
			}
		}
		for _, d := range slices.Concat(p.TestImports, p.XTestImports) {
			if to, ok := rel(d); ok && (under(to, "cmd") && !under(from, "cmd") || under(to, "benchmarks") && !under(from, "benchmarks")) {
				out = append(out, fmt.Sprintf("%s (test) -> %s: nothing imports cmd/ or benchmarks/", p.ImportPath, d))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sameExample reports whether from and to are in the same examples/<name> tree.
func sameExample(from, to string) bool {
	parts := strings.SplitN(to, "/", 3)
	if len(parts) < 2 {
		return false
	}
	return under(from, parts[0]+"/"+parts[1])
}

func goList(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-deps", "-test=false",
		"-json=ImportPath,Standard,Imports,Deps,TestImports,XTestImports", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestForbiddenImports enforces the import arrows of rules, which are the
// layering of the folders in README.md's Layout table: user code depends on
// sdk and io, sdk never on the runner, internal on none of them.
func TestForbiddenImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	pkgs := goList(t)
	found := false
	for _, p := range pkgs {
		if p.ImportPath == module+"/sdk" {
			found = true
		}
	}
	if !found {
		t.Fatalf("go list did not list %s/sdk", module)
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestViolationsFinds checks that the checker is not vacuous.
func TestViolationsFinds(t *testing.T) {
	m := func(s string) string { return module + "/" + s }
	pkgs := []pkg{
		{ImportPath: "fmt", Standard: true},
		{ImportPath: m("sdk"), Deps: []string{"fmt", m("internal/ops"), "example.com/dep"}},
		{ImportPath: m("sdk/codec"), Deps: []string{m("runner")}},
		{ImportPath: m("io/jsonl"), Deps: []string{m("sdk"), m("state")}},
		{ImportPath: m("state"), Deps: []string{m("sdk")}},
		{ImportPath: m("runner"), Imports: []string{m("examples/fraud"), m("cmd/weir")}},
		{ImportPath: m("examples/fraud/sub"), Imports: []string{m("examples/fraud")}},
		{ImportPath: m("benchmarks/fraud"), Imports: []string{m("examples/fraud")}},
		{ImportPath: m("examples/other"), Imports: []string{m("examples/fraud")}, XTestImports: []string{m("benchmarks")}},
		{ImportPath: m("internal/ops"), Deps: []string{m("internal/base"), m("sdk/codec")}, TestImports: []string{m("sdk/codec")}},
		{ImportPath: m("internal/graph"), Deps: []string{m("internal/base")}, TestImports: []string{m("sdk")}},
		{ImportPath: m("job"), Deps: []string{m("runner"), m("gen")}},
		{ImportPath: m("examples/fraud/cmd/fraud"), Deps: []string{m("job"), m("gen/internal/x")}},
	}
	got := violations(pkgs)
	want := []string{
		m("examples/other") + " (test) -> " + m("benchmarks") + ": nothing imports cmd/ or benchmarks/",
		m("examples/other") + " -> " + m("examples/fraud") + ": examples are imported only by their own packages, benchmarks and tests",
		m("io/jsonl") + " -> " + m("state") + ": " + rules[1].why,
		m("runner") + " -> " + m("cmd/weir") + ": nothing imports cmd/",
		m("runner") + " -> " + m("examples/fraud") + ": examples are imported only by their own packages, benchmarks and tests",
		m("sdk") + " -> example.com/dep: " + rules[0].why,
		m("sdk/codec") + " -> " + m("runner") + ": " + rules[0].why,
		m("state") + " -> " + m("sdk") + ": " + rules[2].why,
		m("internal/ops") + " -> " + m("sdk/codec") + ": " + rules[5].why,
		m("job") + " -> " + m("gen") + ": " + noGen,
		m("examples/fraud/cmd/fraud") + " -> " + m("gen/internal/x") + ": " + noGen,
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
