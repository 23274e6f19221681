package main

import (
	"fmt"
	"io"
)

// runCoordinator is `weir coordinator`. Placeholder until the coordinator lands.
func runCoordinator(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "weir: coordinator is not available yet")
	return 2
}
