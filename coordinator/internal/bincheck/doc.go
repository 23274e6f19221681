// Package bincheck decides whether an uploaded file is a weir job a
// worker of this cluster can run, and asks the job what its flags mean,
// before a coordinator accepts it.
//
// # What it checks
//
// [Check] reads the file: an ELF executable for this GOOS/GOARCH (the
// machine, class, type and, on Linux, the OS ABI; other platforms' formats
// are not checked), then its Go build information (debug/buildinfo):
// github.com/weirflow/weir must be its main module or a dependency.
// Refusals are one line for the person who submitted the file, marked
// [ErrNotExecutable] or [ErrNotWeirJob]:
//
//	not an executable for linux/amd64: it is a text file
//	a Go program, but not a weir job (it does not link github.com/weirflow/weir)
//
// [Validate] runs the hidden `BINARY validate ARGS...` of a job binary
// (package job), which parses the flags of run and builds the pipeline
// without opening anything, and reads the [api.Validation] it prints as
// its last line on stdout. When it exits non-zero, its last non-empty
// line on stderr (a flag error, or the stale generated code message) is
// the error, marked [ErrInvalid]. The child does not get WEIR_JOB_ID or
// WEIR_ATTEMPT, and ctx bounds it.
//
// # Who calls it
//
// The coordinator server: Check on an upload, before the binary is
// pushed to other coordinators; Validate on a submit, before the job is
// proposed to Raft.
//
// # Goroutines
//
// None of its own; Validate's child process is waited for before it
// returns (os/exec copies its output on two goroutines it owns).
package bincheck
