package main

import (
	"fmt"
	"io"
)

// runWorker is `weir worker`. Placeholder until the worker lands.
func runWorker(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "weir: worker is not available yet")
	return 2
}
