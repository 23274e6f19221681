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

func commands() []command {
	return []command{
		{name: "gen", short: "generate codecs and batch kernels for //weir: annotations (-check: fail if stale)", run: gen.Main},
		{name: "dev", short: "run a development cluster: a Kafka-protocol broker, a coordinator and a worker", run: runDev},
		{name: "topic", short: "create, produce JSON Lines to, or consume a Kafka topic", run: runTopic},
		{name: "coordinator", short: "run a coordinator node", run: runCoordinator},
		{name: "worker", short: "run a worker that hosts tasks", run: runWorker},
		{name: "submit", short: "submit a job binary to a cluster", run: runSubmit},
		{name: "jobs", short: "list a cluster's jobs", run: runJobs},
		{name: "status", short: "show a job's state, tasks, watermark and last checkpoint", run: runStatus},
		{name: "cancel", short: "cancel a job", run: runCancel},
		{name: "savepoint", short: "take a savepoint of a job, or stop it with one (--stop)", run: runSavepoint},
		{name: "logs", short: "print a job's log", run: runLogs},
		{name: "workers", short: "list a cluster's workers", run: runWorkers},
	}
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
