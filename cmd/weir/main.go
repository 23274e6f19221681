package main

import (
	"fmt"
	"io"
	"os"

	"github.com/weirflow/weir/gen"
)

type command struct {
	name, short string
	run         func(args []string, stdout, stderr io.Writer) int
}

// clusterCommands are the commands that come with the cluster.
var clusterCommands = []struct{ name, short string }{
	{"coordinator", "run a coordinator node"},
	{"worker", "run a worker that hosts tasks"},
	{"submit", "submit a job binary to a cluster"},
	{"jobs", "list a cluster's jobs"},
	{"cancel", "cancel a job"},
	{"savepoint", "take a savepoint of a job"},
}

func commands() []command {
	cmds := []command{
		{name: "gen", short: "generate codecs and batch kernels for //weir: annotations (-check: fail if stale)", run: gen.Main},
		{name: "dev", short: "run a development Kafka-protocol broker (coordinator and worker: not yet)", run: runDev},
		{name: "topic", short: "create, produce JSON Lines to, or consume a Kafka topic", run: runTopic},
	}
	for _, c := range clusterCommands {
		name := c.name
		cmds = append(cmds, command{name: name, short: c.short + " (not available yet)", run: func(_ []string, _, stderr io.Writer) int {
			fmt.Fprintf(stderr, "weir: %s is not available yet (coming with the cluster)\n", name)
			return 2
		}})
	}
	return cmds
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "weir: unknown command %q (see weir help)\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: weir <command> [arguments]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "  %-12s %s\n", "help", "show this help")
}
