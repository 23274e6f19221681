package bincheck

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weirflow/weir/coordinator/api"
)

// Module is the module a weir job links.
const Module = "github.com/weirflow/weir"

// Errors Check and Validate mark their refusals with; test them with
// errors.Is. Their messages are one line for a person.
var (
	// ErrNotExecutable: not an executable for this platform.
	ErrNotExecutable = errors.New("bincheck: not an executable for this platform")
	// ErrNotWeirJob: an executable, but not a Go program linking weir.
	ErrNotWeirJob = errors.New("bincheck: not a weir job")
	// ErrInvalid: the binary's validate refused its arguments (or
	// printed no validation line).
	ErrInvalid = errors.New("bincheck: the job refused its arguments")
)

// platform is what Check's messages call this platform.
var platform = runtime.GOOS + "/" + runtime.GOARCH

// machines maps GOARCH to its ELF machine and class.
var machines = map[string]struct {
	m     elf.Machine
	class elf.Class
}{
	"386":      {elf.EM_386, elf.ELFCLASS32},
	"amd64":    {elf.EM_X86_64, elf.ELFCLASS64},
	"arm":      {elf.EM_ARM, elf.ELFCLASS32},
	"arm64":    {elf.EM_AARCH64, elf.ELFCLASS64},
	"loong64":  {elf.EM_LOONGARCH, elf.ELFCLASS64},
	"mips64le": {elf.EM_MIPS, elf.ELFCLASS64},
	"ppc64le":  {elf.EM_PPC64, elf.ELFCLASS64},
	"riscv64":  {elf.EM_RISCV, elf.ELFCLASS64},
	"s390x":    {elf.EM_S390, elf.ELFCLASS64},
}

// usesELF reports whether executables of this GOOS are ELF files.
func usesELF() bool {
	switch runtime.GOOS {
	case "darwin", "ios", "windows", "plan9", "js", "wasip1", "aix":
		return false
	}
	return true
}

// Check tells whether the file at path is a weir job this machine can
// run: an ELF executable for runtime.GOOS/GOARCH (on platforms whose
// executables are ELF) built by Go with github.com/weirflow/weir as its
// main module or one of its dependencies. A refusal is one line marked
// with [ErrNotExecutable] or [ErrNotWeirJob].
func Check(path string) error {
	if usesELF() {
		if reason, err := elfReason(path); err != nil {
			return err
		} else if reason != "" {
			return &marked{msg: "not an executable for " + platform + ": " + reason, mark: ErrNotExecutable}
		}
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return &marked{msg: "an executable, but not a Go program: a weir job is a Go program built with go build", mark: ErrNotWeirJob}
	}
	if bi.Main.Path == Module {
		return nil
	}
	for _, d := range bi.Deps {
		if d.Path == Module {
			return nil
		}
	}
	return &marked{msg: "a Go program, but not a weir job (it does not link " + Module + ")", mark: ErrNotWeirJob}
}

// elfReason says why path is not an ELF executable for this platform, or
// "" when it is one.
func elfReason(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("bincheck: %w", err)
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("bincheck: read %s: %w", path, err)
	}
	head = head[:n]
	switch {
	case n == 0:
		return "it is empty", nil
	case bytes.HasPrefix(head, []byte("#!")):
		return "it is a script", nil
	case !bytes.HasPrefix(head, []byte(elf.ELFMAG)):
		if bytes.IndexByte(head, 0) < 0 && utf8.Valid(trimPartialRune(head)) {
			return "it is a text file", nil
		}
		return "it is not an ELF file", nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return "it is a damaged ELF file", nil
	}
	defer ef.Close()
	want, known := machines[runtime.GOARCH]
	if known && (ef.Machine != want.m || ef.Class != want.class) {
		return fmt.Sprintf("it is for another machine (%v, %v)", ef.Machine, ef.Class), nil
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return fmt.Sprintf("it is an ELF file of type %v, not an executable", ef.Type), nil
	}
	if runtime.GOOS == "linux" && ef.OSABI != elf.ELFOSABI_NONE && ef.OSABI != elf.ELFOSABI_LINUX {
		return fmt.Sprintf("it is for another system (%v)", ef.OSABI), nil
	}
	return "", nil
}

// trimPartialRune drops an incomplete UTF-8 sequence cut off at the end.
func trimPartialRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if r, _ := utf8.DecodeLastRune(b); r != utf8.RuneError {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}

// Bounds on what Validate keeps of the child's output.
const (
	maxStdout = 1 << 20
	maxStderr = 64 << 10
	waitDelay = time.Second
)

// Validate runs `path validate ARGS...`, bounded by ctx, and returns the
// api.Validation it prints as its last line on stdout. A non-zero exit
// is an [ErrInvalid] error whose message is the child's last non-empty
// line on stderr (the flag error, or the stale generated code message).
// The child does not inherit WEIR_JOB_ID or WEIR_ATTEMPT, so it never
// takes itself for a worker's child.
func Validate(ctx context.Context, path string, args []string) (api.Validation, error) {
	var v api.Validation
	cmd := exec.CommandContext(ctx, path, append([]string{"validate"}, args...)...)
	cmd.Env = childEnv()
	stdout := &capped{max: maxStdout}
	stderr := &capped{max: maxStderr, tail: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if ctx.Err() != nil {
		return v, fmt.Errorf("bincheck: the job's validate did not finish in time: %w", ctx.Err())
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		if line := lastLine(stderr.Bytes()); line != "" {
			return v, &marked{msg: line, mark: ErrInvalid}
		}
		return v, &marked{msg: fmt.Sprintf("the job's validate ended with %s and printed nothing on stderr", exit.ProcessState), mark: ErrInvalid}
	case err != nil:
		return v, fmt.Errorf("bincheck: run the job's validate: %w", err)
	}
	line := lastLine(stdout.Bytes())
	if err := json.Unmarshal([]byte(line), &v); err != nil || v.Weir != 1 {
		return api.Validation{}, &marked{msg: "the job's validate printed no weir validation line (is it a weir job built with this weir?)", mark: ErrInvalid}
	}
	return v, nil
}

// childEnv is this process's environment without the variables that put
// a job binary in worker mode.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, api.EnvJobID+"=") || strings.HasPrefix(kv, api.EnvAttempt+"=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// lastLine is the last non-empty line of b, trimmed.
func lastLine(b []byte) string {
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}

// capped keeps up to max bytes of what is written to it: the first ones,
// or with tail the last ones.
type capped struct {
	buf  []byte
	max  int
	tail bool
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	if c.tail {
		c.buf = append(c.buf, p...)
		if over := len(c.buf) - c.max; over > 0 {
			c.buf = append(c.buf[:0], c.buf[over:]...)
		}
		return n, nil
	}
	if room := c.max - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	return n, nil
}

func (c *capped) Bytes() []byte { return c.buf }

// marked is a one-line message of its own that errors.Is matches to a
// sentinel.
type marked struct {
	msg  string
	mark error
}

func (e *marked) Error() string { return e.msg }
func (e *marked) Unwrap() error { return e.mark }
