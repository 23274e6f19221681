package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// The driver does not start measured programs itself: on Linux a child
// started from a process with a large heap (the driver holds the expected
// rows) reports the parent's peak RSS as its own, because exec records the
// high-water mark of the address space it replaces. So the driver re-runs
// itself as a small wrapper, `bench -measure=FILE -timeout=D -- PROG
// ARGS...`, which starts PROG, waits, and writes a [measured] to FILE.

type measured struct {
	Wall   time.Duration
	CPU    time.Duration
	MaxRSS int64
	Err    string
}

// measureMain is the wrapper's main; it returns the process exit code.
func measureMain(file string, timeout time.Duration, argv []string) int {
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "bench: -measure needs a command after --")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	begin := time.Now()
	err := cmd.Run()
	m := measured{Wall: time.Since(begin)}
	if ps := cmd.ProcessState; ps != nil {
		m.CPU = ps.UserTime() + ps.SystemTime()
		m.MaxRSS = maxRSS(ps)
	}
	code := 0
	if err != nil {
		m.Err = err.Error()
		if ctx.Err() != nil {
			m.Err = fmt.Sprintf("killed after the %v timeout", timeout)
		}
		code = 1
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			code = ee.ExitCode()
		}
	}
	b, _ := json.Marshal(m)
	if werr := os.WriteFile(file, b, 0o644); werr != nil {
		fmt.Fprintln(os.Stderr, "bench:", werr)
		return 2
	}
	return code
}
