package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestStaleGeneratedCode builds the fraud binary after a field was added to
// fraud.Txn without rerunning go generate (fraud.go replaced through a
// build overlay, so the tree is untouched), and runs it: the job refuses to
// start with one line naming the type, the change and the fix, exits 1, and
// writes nothing. Without the check it would run and drop Country from
// every row.
func TestStaleGeneratedCode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second fraud binary")
	}
	dir, bin := staleFraud(t)
	write := func(name string, data []byte) string { return writeFile(t, filepath.Join(dir, name), data) }
	in := write("txns.jsonl", []byte(`{"user_id":"u1","amount":2000,"merchant":"m1","country":"NL","ts":"2024-01-01T00:00:00Z"}`+"\n"))
	out := filepath.Join(dir, "out")
	cmd := exec.Command(bin, "run", "--in=jsonl:"+in, "--out=jsonl:"+out)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	const want = `fraud: fraud.Txn changed since weir_gen.go was generated (field Country is new); run "go generate ./..."` + "\n"
	if code != 1 || stderr.String() != want {
		t.Errorf("exit %d, stderr %q\nwant exit 1, %q", code, stderr.String(), want)
	}
	if parts, _ := filepath.Glob(filepath.Join(out, "*", "part-*")); len(parts) > 0 {
		t.Errorf("the refused job wrote %v", parts)
	}
	if parts, _ := filepath.Glob(filepath.Join(out, "part-*")); len(parts) > 0 {
		t.Errorf("the refused job wrote %v", parts)
	}

	// The unchanged binary (TestMain's) runs the same input.
	if r := execCLI(t, "run", "--in=jsonl:"+in, "--out=jsonl:"+filepath.Join(dir, "fresh")); r.code != 0 {
		t.Errorf("fresh binary: exit %d: %s", r.code, r.stderr)
	}
}

// staleFraud builds, in a temporary directory, the fraud binary after a
// field was added to fraud.Txn without rerunning go generate (fraud.go
// replaced through a build overlay, so the tree is untouched). It returns
// the directory and the binary.
func staleFraud(t *testing.T) (dir, bin string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "fraud.go"))
	if err != nil {
		t.Fatal(err)
	}
	const field = "\tMerchant string    `json:\"merchant\" parquet:\"merchant\"`\n"
	if !strings.Contains(string(src), field) {
		t.Fatalf("fraud.go has no line %q to add a field after", field)
	}
	changed := strings.Replace(string(src), field, field+"\tCountry  string    `json:\"country\" parquet:\"country\"`\n", 1)

	dir = t.TempDir()
	write := func(name string, data []byte) string { return writeFile(t, filepath.Join(dir, name), data) }
	orig, err := filepath.Abs(filepath.Join("..", "..", "fraud.go"))
	if err != nil {
		t.Fatal(err)
	}
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {orig: write("fraud.go", []byte(changed))}})
	bin = filepath.Join(dir, "fraud-stale")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	if out, err := exec.Command(goTool, "build", "-overlay="+write("overlay.json", overlay), "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build the changed fraud: %v\n%s", err, out)
	}

	return dir, bin
}

// writeFile writes data to path (0644) and returns path.
func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
