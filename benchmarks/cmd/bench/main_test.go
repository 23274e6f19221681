package main

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary act as the measuring wrapper, as the driver
// binary does: `bench.test -measure=FILE -timeout=D -- PROG ARGS...`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "-measure=") {
		fs := flag.NewFlagSet("measure", flag.ExitOnError)
		file := fs.String("measure", "", "")
		timeout := fs.Duration("timeout", time.Minute, "")
		fs.Parse(os.Args[1:])
		os.Exit(measureMain(*file, *timeout, fs.Args()))
	}
	os.Exit(m.Run())
}
