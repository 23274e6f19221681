// Package msg turns an error or a note into what a person reads after a
// program's name: one line. It is the one place weir formats messages for
// people; everything else builds errors by the convention below.
//
// # The convention
//
// An error starts with the prefix of the package it starts in
// ("runner: ", "kafka: ", "checkpoint: "), and every layer that wraps it
// adds its context with %w and no prefix of its own ("recover sink
// \"late\": kafka: topic totals-late does not exist"). [Line] joins the
// lines of joined errors with "; ", and drops the prefixes of weir's
// engine itself (runner, sdk, ops, graph, job, devbroker) where a part of
// the chain begins: the program's name leads the line in their place. The prefixes of connectors and stores
// (kafka, parquet, jsonl, checkpoint, state, ...) stay, since they say
// where the trouble is.
//
// # Who calls it
//
// The entry point of job binaries (package job) and the weir command, for
// every line they print about an error or a note.
package msg

import "strings"

// engine are the prefixes Line drops: weir's own packages, whose name
// tells a person nothing the program's name does not.
var engine = []string{"runner: ", "sdk: ", "ops: ", "graph: ", "job: ", "devbroker: "}

// Line returns err's message as one line for a person (see the package
// doc).
func Line(err error) string { return Text(err.Error()) }

// Text is [Line] for a message already made into a string (a note).
func Text(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	s = strings.Join(out, "; ")
	for _, p := range engine {
		s = strings.TrimPrefix(s, p)
		s = strings.ReplaceAll(s, ": "+p, ": ")
		s = strings.ReplaceAll(s, "; "+p, "; ")
	}
	return s
}
