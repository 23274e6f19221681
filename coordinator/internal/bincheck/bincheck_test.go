package bincheck

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirflow/weir/coordinator/api"
)

func writeFile(t *testing.T, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// otherMachine copies an ELF file and rewrites its e_machine to another
// architecture's.
func otherMachine(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	other := elf.EM_AARCH64
	if runtime.GOARCH == "arm64" {
		other = elf.EM_X86_64
	}
	order := binary.ByteOrder(binary.LittleEndian)
	if elf.Data(b[elf.EI_DATA]) == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	order.PutUint16(b[18:], uint16(other)) // e_machine
	return writeFile(t, "other-arch", b, 0o700)
}

// goBuild builds the main package in dir (run from dir) to a file in a
// temporary directory.
func goBuild(t *testing.T, dir, pkg string, env ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bin")
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// repoRoot is the weir module's root, three levels up.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	return root
}

var fraud struct {
	once sync.Once
	path string
	err  error
}

// fraudBinary builds ./examples/fraud/cmd/fraud once per test run.
func fraudBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the fraud job: skipped under -short")
	}
	root := repoRoot(t)
	fraud.once.Do(func() {
		dir, err := os.MkdirTemp("", "bincheck-fraud-")
		if err != nil {
			fraud.err = err
			return
		}
		fraud.path = filepath.Join(dir, "fraud")
		cmd := exec.Command("go", "build", "-o", fraud.path, "./examples/fraud/cmd/fraud")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			fraud.err = errors.New(string(b))
		}
	})
	if fraud.err != nil {
		t.Fatalf("go build fraud: %v", fraud.err)
	}
	return fraud.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fraud.path != "" {
		os.RemoveAll(filepath.Dir(fraud.path))
	}
	os.Exit(code)
}

func TestCheck(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the fixtures are ELF files")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		path    func(t *testing.T) string
		wantErr error
		want    string // in the message
	}{
		{"text file", func(t *testing.T) string {
			return writeFile(t, "notes.txt", []byte("just some notes\nnothing to run — ünïcode\n"), 0o700)
		}, ErrNotExecutable, "not an executable for " + platform + ": it is a text file"},
		{"script", func(t *testing.T) string {
			return writeFile(t, "job.sh", []byte("#!/bin/sh\necho hi\n"), 0o700)
		}, ErrNotExecutable, "it is a script"},
		{"empty", func(t *testing.T) string { return writeFile(t, "empty", nil, 0o700) }, ErrNotExecutable, "it is empty"},
		{"not ELF", func(t *testing.T) string {
			return writeFile(t, "blob", []byte{0xca, 0xfe, 0xba, 0xbe, 0, 1, 2, 3, 0xff}, 0o700)
		}, ErrNotExecutable, "it is not an ELF file"},
		{"damaged ELF", func(t *testing.T) string {
			return writeFile(t, "half", []byte(elf.ELFMAG+"\x02\x01\x01garbage"), 0o700)
		}, ErrNotExecutable, "damaged ELF"},
		{"ELF of another arch", func(t *testing.T) string { return otherMachine(t, self) }, ErrNotExecutable, "another machine"},
		{"ELF, not Go", func(t *testing.T) string {
			p, err := exec.LookPath("true")
			if err != nil {
				t.Skip("no true(1) to check")
			}
			if _, err := elf.Open(p); err != nil {
				t.Skip("true(1) is not ELF here")
			}
			return p
		}, ErrNotWeirJob, "not a Go program"},
		{"Go, not weir", func(t *testing.T) string {
			if testing.Short() {
				t.Skip("builds a Go program: skipped under -short")
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"hello\") }\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return goBuild(t, dir, ".", "GOWORK=off", "GOTOOLCHAIN=local")
		}, ErrNotWeirJob, "a Go program, but not a weir job (it does not link github.com/weirflow/weir)"},
		{"this test binary links weir", func(*testing.T) string { return self }, nil, ""},
		{"weir job", fraudBinary, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.path(t))
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("Check: %v, want %v", err, tc.wantErr)
			}
			if err != nil && (!strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")) {
				t.Fatalf("Check: %q, want one line with %q", err, tc.want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		err := Check(filepath.Join(t.TempDir(), "nothing"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Check: %v, want not exist", err)
		}
	})
}

// fakeJob is a script standing in for a job binary's validate: its
// first argument after "validate" picks what it does.
const fakeJob = `#!/bin/sh
[ "$1" = validate ] || { echo "want validate, got $1" >&2; exit 3; }
case "$2" in
ok)      echo '{"weir":1,"program":"fake","name":"'"$3"'","mode":"stream","parallelism":4}' ;;
chatty)  echo "building the pipeline"; echo; echo '{"weir":1,"program":"fake","name":"c","mode":"batch","parallelism":1}'; echo ;;
env)     echo '{"weir":1,"program":"fake","name":"job-'"$WEIR_JOB_ID"'","mode":"batch","parallelism":1}' ;;
notweir) echo '{"weir":0,"program":"fake"}' ;;
nojson)  echo 'all good' ;;
silent)  ;;
usage)   echo "warming up" >&2; echo "fake: unknown flag --bogus (see fake run -h)" >&2; echo >&2; exit 2 ;;
stale)   echo "fake: generated code is stale: run go generate ./..." >&2; exit 1 ;;
mute)    exit 1 ;;
hang)    exec sleep 30 ;;
esac
`

func TestValidate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake job is a shell script")
	}
	t.Setenv(api.EnvJobID, "from-the-coordinator")
	bin := writeFile(t, "fake", []byte(fakeJob), 0o700)
	for _, tc := range []struct {
		name    string
		args    []string
		timeout time.Duration
		want    api.Validation
		wantErr error
		errLine string // the error's message, when it is exactly known
		errHas  string
	}{
		{name: "ok", args: []string{"ok", "n1"}, want: api.Validation{Weir: 1, Program: "fake", Name: "n1", Mode: "stream", Parallelism: 4}},
		{name: "last line counts", args: []string{"chatty"}, want: api.Validation{Weir: 1, Program: "fake", Name: "c", Mode: "batch", Parallelism: 1}},
		{name: "no worker env", args: []string{"env"}, want: api.Validation{Weir: 1, Program: "fake", Name: "job-", Mode: "batch", Parallelism: 1}},
		{name: "not weir", args: []string{"notweir"}, wantErr: ErrInvalid, errHas: "no weir validation line"},
		{name: "not JSON", args: []string{"nojson"}, wantErr: ErrInvalid, errHas: "no weir validation line"},
		{name: "nothing printed", args: []string{"silent"}, wantErr: ErrInvalid, errHas: "no weir validation line"},
		{name: "usage error", args: []string{"usage"}, wantErr: ErrInvalid, errLine: "fake: unknown flag --bogus (see fake run -h)"},
		{name: "stale code", args: []string{"stale"}, wantErr: ErrInvalid, errLine: "fake: generated code is stale: run go generate ./..."},
		{name: "exit without a word", args: []string{"mute"}, wantErr: ErrInvalid, errHas: "exit status 1"},
		{name: "timeout", args: []string{"hang"}, timeout: 200 * time.Millisecond, wantErr: context.DeadlineExceeded, errHas: "did not finish in time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			v, err := Validate(ctx, bin, tc.args)
			if tc.wantErr == nil {
				if err != nil || v != tc.want {
					t.Fatalf("Validate = %+v, %v; want %+v", v, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Validate: %v, want %v", err, tc.wantErr)
			}
			if tc.errLine != "" && err.Error() != tc.errLine {
				t.Fatalf("Validate: %q, want %q", err, tc.errLine)
			}
			if !strings.Contains(err.Error(), tc.errHas) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Validate: %q, want one line with %q", err, tc.errHas)
			}
			if d := time.Since(start); d > timeout+5*time.Second {
				t.Fatalf("Validate took %v with a timeout of %v", d, timeout)
			}
		})
	}
	t.Run("not executable", func(t *testing.T) {
		p := writeFile(t, "data", []byte("x"), 0o600)
		if _, err := Validate(context.Background(), p, nil); err == nil || errors.Is(err, ErrInvalid) {
			t.Fatalf("Validate of a file that cannot run: %v", err)
		}
	})
}

// TestValidateFraud runs the real job binary's validate.
func TestValidateFraud(t *testing.T) {
	bin := fraudBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := Validate(ctx, bin, []string{"--in=jsonl:/nonexistent/*.jsonl", "--out=jsonl:/nonexistent/out", "--mode=stream", "--parallelism=3", "--name=t1"})
	want := api.Validation{Weir: 1, Program: "fraud", Name: "t1", Mode: "stream", Parallelism: 3}
	if err != nil || v != want {
		t.Fatalf("Validate = %+v, %v; want %+v", v, err, want)
	}
	_, err = Validate(ctx, bin, []string{"--bogus"})
	if !errors.Is(err, ErrInvalid) || err.Error() != "fraud: unknown flag --bogus (see fraud run -h)" {
		t.Fatalf("Validate with a bad flag: %v", err)
	}
}
