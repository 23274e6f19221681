package main

import (
	"fmt"
	"io"
)

// Placeholders until the cluster client commands land.

func notYet(name string) func(args []string, stdout, stderr io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		fmt.Fprintf(stderr, "weir: %s is not available yet\n", name)
		return 2
	}
}

var (
	runSubmit    = notYet("submit")
	runJobs      = notYet("jobs")
	runStatus    = notYet("status")
	runCancel    = notYet("cancel")
	runSavepoint = notYet("savepoint")
	runLogs      = notYet("logs")
	runWorkers   = notYet("workers")
)
